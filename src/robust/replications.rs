//! Replications: a scenario's variants (and its incident counterfactual) over seeds
//! `base, base + 1, …`, every variant with the same seeds (common random numbers). Each run is
//! reduced to a [`Record`] as soon as it finishes, so memory holds records, never reports;
//! runs are spread over rayon's pool and collected in (variant, seed) order, so every output
//! is the same bytes for any number of threads.
//!
//! Per variant: the distribution ([`Dist`]: median, quartiles, extremes, n) of the trigger,
//! the tail after it and tail ÷ trigger; verdict frequencies; the loop most often named; the
//! share of seeds with an incident (a trigger measured); and, for `[incident]`, the share of
//! seeds where the counterfactual heals (verdict `recovered` or `stable`).

use std::fmt::Write as _;

use rayon::prelude::*;

use crate::analysis::Verdict;
use crate::analysis::compare;
use crate::robust::stats::{Dist, short};
use crate::run::RunReport;
use crate::scenario::{Incident, Scenario, WITHOUT_OPERATORS};
use crate::sweep::columns::VERDICTS;

/// Most replications of one command.
pub const MAX_REPLICATIONS: u64 = 10_000;

/// What is left of one run.
#[derive(Clone, Debug, PartialEq)]
pub struct Record {
    /// The variant's name (`baseline` for the file as written).
    pub variant: String,
    /// The run's master seed.
    pub seed: u64,
    /// The run's verdict.
    pub verdict: Verdict,
    /// Trigger length (min); `None` without a measured trigger (no incident).
    pub trigger_min: Option<f64>,
    /// Tail after the trigger (min): the recovery time; `None` if it never recovered.
    pub tail_min: Option<f64>,
    /// The feedback loop named as keeping the run down (empty when none fired).
    pub loop_name: &'static str,
    /// Successful calls ÷ first tries after warm-up (all clients).
    pub success_ratio: Option<f64>,
    /// Recovery time after the trigger's end (s); `None` if it never recovered.
    pub recovery_s: Option<f64>,
    /// Events the engine processed.
    pub events: u64,
    /// Why the run stopped (`horizon`, or the limit it hit).
    pub stop: &'static str,
}

impl Record {
    /// Reduces a finished run.
    pub fn of(report: &RunReport) -> Record {
        let rows = compare::rows(std::slice::from_ref(report));
        let (a, loop_name, success_ratio) = match rows.into_iter().next() {
            Some(row) => {
                let name = row.loops.primary().map_or("", |f| f.name);
                (row.analysis, name, row.success_ratio)
            }
            None => (report.analysis(), "", None),
        };
        let trigger_min = match (a.trigger_start_s, a.trigger_end_s) {
            (Some(s), Some(e)) => Some((e - s) / 60.0),
            _ => None,
        };
        Record {
            variant: report.scenario.variant_name().to_string(),
            seed: report.seed,
            verdict: a.verdict,
            trigger_min,
            tail_min: a.recovery_s.map(|s| s / 60.0),
            loop_name,
            success_ratio,
            recovery_s: a.recovery_s,
            events: report.stats.events,
            stop: report.stats.stop.as_str(),
        }
    }

    /// Tail ÷ trigger, when both were measured and the trigger is not empty.
    pub fn ratio(&self) -> Option<f64> {
        match (self.tail_min, self.trigger_min) {
            (Some(t), Some(g)) if g > 0.0 => Some(t / g),
            _ => None,
        }
    }

    /// Healed: `recovered` or `stable`.
    pub fn healed(&self) -> bool {
        matches!(self.verdict, Verdict::Recovered | Verdict::Stable)
    }
}

/// The runs `metastable run` makes of a scenario: the chosen variants (all, or one by name),
/// then the incident counterfactual when the file as written is among them.
#[derive(Clone, Debug)]
pub struct RunSet {
    /// The scenarios to run, in order (each a validated variant).
    pub runs: Vec<Scenario>,
    /// The run standing for "without the operator actions" (`[incident] counterfactual` or
    /// [`WITHOUT_OPERATORS`]), if the set has one.
    pub counterfactual: Option<String>,
}

impl RunSet {
    /// `variant`: `None` for every variant. Error: the names the file has.
    pub fn of(sc: &Scenario, variant: Option<&str>) -> Result<RunSet, String> {
        let mut runs: Vec<Scenario> = match variant {
            None => sc.with_variants().into_iter().cloned().collect(),
            Some(name) => match sc.variant_named(name) {
                Some(one) => vec![one.clone()],
                None => {
                    let names: Vec<&str> = sc
                        .with_variants()
                        .iter()
                        .map(|s| s.variant_name())
                        .collect();
                    return Err(format!(
                        "--variant {name:?}: {} has no such variant (it has: {})",
                        sc.file,
                        names.join(", ")
                    ));
                }
            },
        };
        let historical = runs.iter().any(|s| s.variant.is_none());
        let cf_name = sc.incident.as_ref().and_then(|i| i.counterfactual.clone());
        if sc.incident.is_some() && historical && cf_name.is_none() {
            runs.extend(sc.without_operator_actions());
        }
        if let Some(name) = &cf_name
            && historical
            && !runs
                .iter()
                .any(|s| s.variant.as_deref() == Some(name.as_str()))
            && let Some(v) = sc.variants.iter().find(|v| &v.name == name)
        {
            runs.push(v.scenario.clone());
        }
        let want = cf_name.unwrap_or_else(|| WITHOUT_OPERATORS.to_string());
        let counterfactual = (sc.incident.is_some()
            && runs
                .iter()
                .any(|s| s.variant.as_deref() == Some(want.as_str())))
        .then_some(want);
        Ok(RunSet {
            runs,
            counterfactual,
        })
    }

    /// Variant names in run order.
    pub fn names(&self) -> Vec<String> {
        self.runs
            .iter()
            .map(|s| s.variant_name().to_string())
            .collect()
    }
}

/// `n` seeds from `base`; `None` past `u64::MAX`.
pub fn seeds(base: u64, n: u64) -> Option<Vec<u64>> {
    base.checked_add(n.checked_sub(1)?)?;
    Some((0..n).map(|i| base + i).collect())
}

/// Runs every (scenario, seed) pair on rayon's current pool, reducing each to its record at
/// once; the records come back in the order of `tasks`, whatever the number of threads.
pub fn run_all(tasks: &[(&Scenario, u64)]) -> Vec<Record> {
    run_all_observed(tasks, |_| |_| {})
}

/// [`run_all`], task `i` observed by `observer(i)` (see [`crate::run::run_observed`]: the
/// observer sees the simulated fraction done and cannot change a record).
pub fn run_all_observed<F, O>(tasks: &[(&Scenario, u64)], observer: F) -> Vec<Record>
where
    F: Fn(usize) -> O + Sync,
    O: FnMut(f64),
{
    tasks
        .par_iter()
        .enumerate()
        .map(|(i, &(sc, seed))| Record::of(&crate::run::run_observed(sc, seed, observer(i))))
        .collect()
}

/// One variant's distribution over the seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct VariantSummary {
    /// The variant's name.
    pub variant: String,
    /// Runs (seeds) summarised.
    pub runs: usize,
    /// Runs with a measured trigger.
    pub incidents: usize,
    /// Counts in [`VERDICTS`] order.
    pub verdicts: [usize; VERDICTS.len()],
    /// Trigger length (min) over the runs with a measured trigger.
    pub trigger_min: Option<Dist>,
    /// Tail after the trigger (min) over the runs that recovered.
    pub tail_min: Option<Dist>,
    /// Tail ÷ trigger over the runs where both were measured.
    pub ratio: Option<Dist>,
    /// Runs with a trigger and no recovery.
    pub no_recovery: usize,
    /// The loop most often named (ties: the name first in alphabetical order) and its count.
    pub top_loop: Option<(&'static str, usize)>,
    /// Runs that healed (`recovered` or `stable`).
    pub healed: usize,
}

impl VariantSummary {
    /// The summary of `records`, all runs of `variant`.
    pub fn of(variant: &str, records: &[&Record]) -> VariantSummary {
        let mut verdicts = [0; VERDICTS.len()];
        let mut loops: Vec<(&'static str, usize)> = Vec::new();
        for r in records {
            if let Some(k) = VERDICTS.iter().position(|v| *v == r.verdict.as_str()) {
                verdicts[k] += 1;
            }
            if !r.loop_name.is_empty() {
                match loops.iter_mut().find(|(n, _)| *n == r.loop_name) {
                    Some(e) => e.1 += 1,
                    None => loops.push((r.loop_name, 1)),
                }
            }
        }
        loops.sort_by(|a, b| b.1.cmp(&a.1).then(a.0.cmp(b.0)));
        VariantSummary {
            variant: variant.to_string(),
            runs: records.len(),
            incidents: records.iter().filter(|r| r.trigger_min.is_some()).count(),
            verdicts,
            trigger_min: Dist::of(records.iter().filter_map(|r| r.trigger_min)),
            tail_min: Dist::of(records.iter().filter_map(|r| r.tail_min)),
            ratio: Dist::of(records.iter().filter_map(|r| r.ratio())),
            no_recovery: records
                .iter()
                .filter(|r| r.trigger_min.is_some() && r.tail_min.is_none())
                .count(),
            top_loop: loops.first().copied(),
            healed: records.iter().filter(|r| r.healed()).count(),
        }
    }

    /// Runs whose verdict is `v`.
    pub fn count(&self, v: Verdict) -> usize {
        VERDICTS
            .iter()
            .position(|x| *x == v.as_str())
            .map_or(0, |k| self.verdicts[k])
    }
}

/// The records of one scenario over its seeds, and what they add up to.
#[derive(Clone, Debug)]
pub struct Replications {
    /// The scenario's name.
    pub scenario: String,
    /// `policy` or `historical` (who acted after the trigger).
    pub operators: &'static str,
    /// The scenario file, as given.
    pub file: String,
    /// The seeds, in order; every variant ran with each of them (common random numbers).
    pub seeds: Vec<u64>,
    /// Variant names in run order.
    pub variants: Vec<String>,
    /// In (variant, seed) order.
    pub records: Vec<Record>,
    /// One summary per variant, in run order.
    pub summaries: Vec<VariantSummary>,
    /// The incident the scenario replays, if any (its published figures).
    pub incident: Option<Incident>,
    /// The run standing for "without the operator actions", if any.
    pub counterfactual: Option<String>,
}

impl Replications {
    /// Runs `set` over `seeds` (see [`run_all`]), in parallel on rayon's current pool; the
    /// records come back in (variant, seed) order whatever the thread count.
    ///
    /// ```
    /// use metastable::robust::replications::{RunSet, seeds};
    /// use metastable::{Replications, Verdict};
    ///
    /// let sc = metastable::load("scenarios/hotos-retry-140.toml".as_ref()).unwrap();
    /// let set = RunSet::of(&sc, None).unwrap();
    /// let reps = Replications::run(&sc, &set, &seeds(1, 4).unwrap());
    /// let base = reps.summary("baseline").unwrap();
    /// assert_eq!(base.runs, 4);
    /// println!("recovered in {} of 4 seeds", base.count(Verdict::Recovered));
    /// println!("{}", reps.table());
    /// ```
    pub fn run(sc: &Scenario, set: &RunSet, seeds: &[u64]) -> Replications {
        Replications::run_observed(sc, set, seeds, |_| |_| {})
    }

    /// [`Replications::run`] with run `i` (in (variant, seed) order) observed by `observer(i)`.
    pub fn run_observed<F, O>(
        sc: &Scenario,
        set: &RunSet,
        seeds: &[u64],
        observer: F,
    ) -> Replications
    where
        F: Fn(usize) -> O + Sync,
        O: FnMut(f64),
    {
        let tasks: Vec<(&Scenario, u64)> = set
            .runs
            .iter()
            .flat_map(|s| seeds.iter().map(move |&seed| (s, seed)))
            .collect();
        Replications::from_records(sc, set, seeds, run_all_observed(&tasks, observer))
    }

    /// Summarises `records` (in (variant, seed) order of `set` and `seeds`).
    pub fn from_records(
        sc: &Scenario,
        set: &RunSet,
        seeds: &[u64],
        records: Vec<Record>,
    ) -> Replications {
        let variants = set.names();
        let summaries = variants
            .iter()
            .map(|v| {
                let mine: Vec<&Record> = records.iter().filter(|r| &r.variant == v).collect();
                VariantSummary::of(v, &mine)
            })
            .collect();
        Replications {
            scenario: sc.name.clone(),
            operators: sc.operator_mode.as_str(),
            file: sc.file.clone(),
            seeds: seeds.to_vec(),
            variants,
            records,
            summaries,
            incident: sc.incident.clone(),
            counterfactual: set.counterfactual.clone(),
        }
    }

    /// `first..=last` of the seeds.
    pub fn seed_range(&self) -> String {
        match (self.seeds.first(), self.seeds.last()) {
            (Some(a), Some(b)) => format!("{a}..={b}"),
            _ => "none".into(),
        }
    }

    /// The summary of the variant named `variant`.
    pub fn summary(&self, variant: &str) -> Option<&VariantSummary> {
        self.summaries.iter().find(|s| s.variant == variant)
    }

    /// The summary standing for the system without its operators: the counterfactual's, else
    /// the file as written's (as the single-run incident report does).
    pub fn healing(&self) -> Option<&VariantSummary> {
        self.counterfactual
            .as_deref()
            .and_then(|c| self.summary(c))
            .or_else(|| self.summary(crate::scenario::BASELINE))
    }

    /// `replications.csv`: one row per run, in variant order then seed order.
    pub fn csv(&self) -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "scenario",
            "variant",
            "seed",
            "verdict",
            "trigger_min",
            "tail_min",
            "tail_over_trigger",
            "loop",
            "success_ratio",
            "recovery_s",
            "events",
            "stop",
        ])?;
        let opt = |x: Option<f64>| x.map_or(String::new(), |v| v.to_string());
        for r in &self.records {
            w.write_record([
                self.scenario.as_str(),
                &r.variant,
                &r.seed.to_string(),
                r.verdict.as_str(),
                &opt(r.trigger_min),
                &opt(r.tail_min),
                &opt(r.ratio()),
                r.loop_name,
                &opt(r.success_ratio),
                &opt(r.recovery_s),
                &r.events.to_string(),
                r.stop,
            ])?;
        }
        w.into_inner().map_err(|e| e.into_error().into())
    }

    /// `incident.csv` in distribution form: per variant, the trigger, the tail and tail ÷
    /// trigger (median, quartiles, extremes over the runs with a value), the share of seeds
    /// with an incident, and the share where the counterfactual heals. The published figures
    /// stand on the file-as-written (`baseline`) rows and on the `heals_by_itself` row. `None`
    /// without `[incident]`.
    pub fn incident_csv(&self) -> Option<Result<Vec<u8>, csv::Error>> {
        let inc = self.incident.as_ref()?;
        Some(self.incident_csv_of(inc))
    }

    fn incident_csv_of(&self, inc: &Incident) -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "variant",
            "quantity",
            "seeds",
            "runs",
            "n",
            "median",
            "q1",
            "q3",
            "min",
            "max",
            "share",
            "published",
        ])?;
        let seeds = self.seed_range();
        let f = |x: f64| format!("{x:.3}");
        let opt = |x: Option<f64>| x.map_or(String::new(), f);
        let published_ratio = match (inc.tail_min, inc.trigger_min) {
            (Some(t), Some(g)) if g > 0.0 => Some(t / g),
            _ => None,
        };
        for s in &self.summaries {
            let historical = s.variant == crate::scenario::BASELINE;
            let rows = [
                ("trigger_min", s.trigger_min, inc.trigger_min),
                ("tail_min", s.tail_min, inc.tail_min),
                ("tail_over_trigger", s.ratio, published_ratio),
            ];
            for (q, d, p) in rows {
                let cells: [String; 6] = match d {
                    Some(d) => [
                        d.n.to_string(),
                        f(d.median),
                        f(d.q1),
                        f(d.q3),
                        f(d.min),
                        f(d.max),
                    ],
                    None => [
                        "0".into(),
                        "".into(),
                        "".into(),
                        "".into(),
                        "".into(),
                        "".into(),
                    ],
                };
                let published = if historical { opt(p) } else { String::new() };
                let mut row = vec![
                    s.variant.clone(),
                    q.into(),
                    seeds.clone(),
                    s.runs.to_string(),
                ];
                row.extend(cells);
                row.push(String::new());
                row.push(published);
                w.write_record(&row)?;
            }
            let share = |k: usize| f(k as f64 / s.runs.max(1) as f64);
            w.write_record([
                s.variant.as_str(),
                "incident",
                &seeds,
                &s.runs.to_string(),
                &s.incidents.to_string(),
                "",
                "",
                "",
                "",
                "",
                &share(s.incidents),
                "",
            ])?;
        }
        if let Some(h) = self.healing() {
            w.write_record([
                h.variant.as_str(),
                "heals_by_itself",
                &seeds,
                &h.runs.to_string(),
                &h.healed.to_string(),
                "",
                "",
                "",
                "",
                "",
                &f(h.healed as f64 / h.runs.max(1) as f64),
                &inc.heals_by_itself.to_string(),
            ])?;
        }
        w.into_inner().map_err(|e| e.into_error().into())
    }

    /// The ranking of replicated variants: medians, interquartile ranges and min–max over seeds.
    pub fn ranking(&self) -> crate::report::ranking::Ranking {
        let reps = self;
        let mut recovery = Vec::new();
        let mut success = Vec::new();
        let max_s = reps
            .records
            .iter()
            .filter_map(|r| r.recovery_s)
            .fold(0.0, f64::max);
        let (div, unit) = crate::report::ranking::time_unit(max_s);
        for v in &reps.variants {
            let recs: Vec<_> = reps.records.iter().filter(|r| &r.variant == v).collect();
            let n = recs.len();
            let rec = Dist::of(recs.iter().filter_map(|r| r.recovery_s.map(|s| s / div)));
            let ok = Dist::of(
                recs.iter()
                    .filter_map(|r| r.success_ratio.map(|s| 100.0 * s)),
            );
            let k = rec.as_ref().map_or(0, |d| d.n);
            recovery.push(crate::report::ranking::RankRow {
                name: v.clone(),
                // A median only when most runs recovered: else the bar would flatter.
                value: rec.as_ref().filter(|_| 2 * k > n).map(|d| d.median),
                iqr: rec.as_ref().map(|d| (d.q1, d.q3)),
                range: rec.as_ref().map(|d| (d.min, d.max)),
                note: format!("{k} of {n} recovered"),
            });
            success.push(crate::report::ranking::RankRow {
                name: v.clone(),
                value: ok.as_ref().map(|d| d.median),
                iqr: ok.as_ref().map(|d| (d.q1, d.q3)),
                range: ok.as_ref().map(|d| (d.min, d.max)),
                note: ok
                    .as_ref()
                    .map_or("no calls".into(), |d| format!("median {:.1} %", d.median)),
            });
        }
        crate::report::ranking::Ranking {
            title: format!(
                "{} · variants ranked over {} seeds",
                reps.scenario,
                reps.seeds.len()
            ),
            subtitle: format!(
                "seeds {} · bar: median · thick line: interquartile range · thin line: min–max",
                reps.seed_range()
            ),
            measures: vec![
                crate::report::ranking::Ranked {
                    title: "Time to recover after the trigger (shorter is better)".into(),
                    x_desc: format!(
                        "{} after the trigger ended",
                        crate::report::ranking::long_unit(unit)
                    ),
                    rows: crate::report::ranking::rank(recovery, true),
                },
                crate::report::ranking::Ranked {
                    title: "Success ratio over the run (higher is better)".into(),
                    x_desc: "% of first tries that succeeded".into(),
                    rows: crate::report::ranking::rank(success, false),
                },
            ],
        }
    }

    /// The printed tables: verdict frequencies and loops, the distributions, and the incident
    /// figures next to the published ones.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let n = self.seeds.len();
        let _ = writeln!(
            s,
            "replications: {} (operators: {}) · {} run(s) per variant, seeds {} (the same seeds for every variant)",
            self.scenario,
            self.operators,
            n,
            self.seed_range()
        );
        let _ = writeln!(
            s,
            "  {:<26} {:>9} {:>7} {:>9} {:>10} {:>10} {:>12} {:>10}  loop most often named",
            "variant",
            "incident",
            "stable",
            "recovered",
            "recovering",
            "metastable",
            "undetermined",
            "no_trigger"
        );
        for v in &self.summaries {
            let loop_ = v
                .top_loop
                .map_or("-".to_string(), |(l, c)| format!("{l} ({c}/{})", v.runs));
            let _ = writeln!(
                s,
                "  {:<26} {:>9} {:>7} {:>9} {:>10} {:>10} {:>12} {:>10}  {loop_}",
                v.variant,
                format!("{}/{}", v.incidents, v.runs),
                v.count(Verdict::Stable),
                v.count(Verdict::Recovered),
                v.count(Verdict::Recovering),
                v.count(Verdict::Metastable),
                v.count(Verdict::Undetermined),
                v.count(Verdict::NoTrigger),
            );
        }
        let _ = writeln!(
            s,
            "distributions over the runs with a value: median [q1–q3] min–max n=runs (type-7 quantiles)"
        );
        let _ = writeln!(
            s,
            "  {:<26} {:<34} {:<34} tail ÷ trigger",
            "variant", "trigger (min)", "tail after trigger (min)"
        );
        let show = |d: &Option<Dist>| d.as_ref().map_or("-".to_string(), Dist::show);
        for v in &self.summaries {
            let tail = match (&v.tail_min, v.no_recovery) {
                (None, k) if k > 0 => format!("never ({k}/{})", v.runs),
                (Some(_), k) if k > 0 => format!("{} +{k} never", show(&v.tail_min)),
                _ => show(&v.tail_min),
            };
            let _ = writeln!(
                s,
                "  {:<26} {:<34} {:<34} {}",
                v.variant,
                show(&v.trigger_min),
                tail,
                show(&v.ratio)
            );
        }
        if let Some(inc) = &self.incident {
            s.push_str(&self.incident_table(inc));
        }
        s
    }

    fn incident_table(&self, inc: &Incident) -> String {
        let mut s = String::new();
        let _ = writeln!(s, "incident: {} (seeds {})", inc.title, self.seed_range());
        let Some(b) = self.summary(crate::scenario::BASELINE) else {
            return s;
        };
        let med = |d: &Option<Dist>| {
            d.as_ref().map_or("-".to_string(), |d| {
                format!("{} [{}–{}]", short(d.median), short(d.q1), short(d.q3))
            })
        };
        let p = |x: Option<f64>| x.map_or("-".to_string(), short);
        let _ = writeln!(
            s,
            "  {:<28} {:>28} {:>12}",
            "", "measured median [q1–q3]", "published"
        );
        let _ = writeln!(
            s,
            "  {:<28} {:>28} {:>12}",
            "trigger (min)",
            med(&b.trigger_min),
            p(inc.trigger_min)
        );
        let never = if b.no_recovery > 0 {
            format!(" ({}/{} never)", b.no_recovery, b.runs)
        } else {
            String::new()
        };
        let _ = writeln!(
            s,
            "  {:<28} {:>28} {:>12}",
            "tail after trigger (min)",
            format!("{}{never}", med(&b.tail_min)),
            p(inc.tail_min)
        );
        let published_ratio = match (inc.tail_min, inc.trigger_min) {
            (Some(t), Some(g)) if g > 0.0 => Some(t / g),
            _ => None,
        };
        let _ = writeln!(
            s,
            "  {:<28} {:>28} {:>12}",
            "tail ÷ trigger",
            med(&b.ratio),
            p(published_ratio)
        );
        if let Some(h) = self.healing() {
            let yes = if inc.heals_by_itself { "yes" } else { "no" };
            let _ = writeln!(
                s,
                "  {:<28} {:>28} {:>12}",
                "heals w/o operator actions",
                format!("{}/{} seeds", h.healed, h.runs),
                yes
            );
            let _ = writeln!(s, "  (healing judged on the {} runs)", h.variant);
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seeds_are_consecutive_and_bounded() {
        assert_eq!(seeds(7, 3), Some(vec![7, 8, 9]));
        assert_eq!(seeds(u64::MAX, 1), Some(vec![u64::MAX]));
        assert_eq!(seeds(u64::MAX, 2), None);
        assert_eq!(seeds(0, 0), None);
    }
}
