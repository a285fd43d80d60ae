//! Robustness of a replay to its inferred parameters: every path of `[incident] inferred` is
//! scaled by `1 − p` and `1 + p`, the file is validated again with that override (the same
//! override mechanism as a variant's `set."..."`), and all its variants and its counterfactual
//! are run over the same seeds as the unperturbed file. The *shape* of each replay is compared
//! with the unperturbed one; a change of shape within ±p is a *knife edge*.
//!
//! The shape ([`Shape`]):
//! - (a) heals by itself: more than half of the seeds' counterfactual runs are `recovered` or
//!   `stable`;
//! - (b) each variant's majority verdict (the most frequent; a tie goes to the verdict first in
//!   [`VERDICTS`] order);
//! - (c) the variants ordered by median tail, where a run's tail is its recovery time, 0 for
//!   `stable` or `no_trigger`, and ∞ when it never recovers (so no recovery ranks last);
//!   variants with equal medians share a rank;
//! - (d) the baseline's median tail — reported with its change in %, not part of a flip.
//!
//! The synthetic counterfactual run (`without-operator-actions`) is (a) only; a variant the
//! file names as its counterfactual is also a variant in (b) and (c).
//!
//! A perturbed value that does not validate is reported, never run: a TOML integer is first
//! tried as the scaled float (a float field written `80`), then rounded to the nearest integer,
//! which must differ from the original by at least 1.

use std::fmt::Write as _;

use crate::analysis::Verdict;
use crate::robust::replications::{Record, Replications, RunSet, run_all};
use crate::robust::stats::{quantile, short};
use crate::scenario::overrides::Override;
use crate::scenario::{InferredParam, Scenario, WITHOUT_OPERATORS};
use crate::sweep::columns::VERDICTS;

/// Default relative perturbation.
pub const DEFAULT_PERTURB: f64 = 0.25;
/// Default seeds per file.
pub const DEFAULT_SEEDS: u64 = 5;
/// Most seeds per file.
pub const MAX_SEEDS: u64 = 1000;

/// `"25%"` or `"0.25"` → 0.25; must lie strictly between 0 and 1.
pub fn parse_fraction(s: &str) -> Result<f64, String> {
    let t = s.trim();
    let (num, scale) = match t.strip_suffix('%') {
        Some(n) => (n.trim(), 100.0),
        None => (t, 1.0),
    };
    let p = num.parse::<f64>().map_err(|_| {
        format!("--perturb {s:?}: expected a fraction like 0.25 or a percentage like 25%")
    })? / scale;
    if !p.is_finite() || p <= 0.0 || p >= 1.0 {
        return Err(format!(
            "--perturb {s:?}: must be strictly between 0 and 1 (0 % and 100 %), got {p}"
        ));
    }
    Ok(p)
}

/// A perturbed value for the table, without float noise (0.45, not 0.44999999999999996).
fn shown(v: Option<f64>) -> String {
    v.map_or("-".to_string(), |v| format!("{}", (v * 1e9).round() / 1e9))
}

/// `p` as a percentage for labels (`25`).
pub fn pct(p: f64) -> String {
    let x = (p * 100.0 * 1e6).round() / 1e6;
    format!("{x}")
}

/// The shape of a replay over its seeds.
#[derive(Clone, Debug, PartialEq)]
pub struct Shape {
    pub heals: bool,
    /// (variant, majority verdict), in run order.
    pub verdicts: Vec<(String, Verdict)>,
    /// Variants by median tail, ascending; equal medians share a group.
    pub order: Vec<Vec<String>>,
    /// The baseline's median tail (s); ∞ when the median run never recovers.
    pub baseline_tail_s: Option<f64>,
}

/// A run's tail for ranking (s): the recovery time; 0 when stable or without a trigger; ∞ when
/// it never recovered.
fn rank_tail(r: &Record) -> f64 {
    match (r.recovery_s, r.verdict) {
        (Some(t), _) => t,
        (None, Verdict::Stable | Verdict::NoTrigger) => 0.0,
        _ => f64::INFINITY,
    }
}

impl Shape {
    pub fn of(reps: &Replications) -> Shape {
        let heals = reps.healing().is_some_and(|h| 2 * h.healed > h.runs.max(1));
        let mut verdicts = Vec::new();
        let mut tails: Vec<(String, f64)> = Vec::new();
        for s in &reps.summaries {
            if s.variant == WITHOUT_OPERATORS {
                continue;
            }
            let mut best = 0;
            for k in 1..VERDICTS.len() {
                if s.verdicts[k] > s.verdicts[best] {
                    best = k;
                }
            }
            let v = [
                Verdict::Stable,
                Verdict::Recovered,
                Verdict::Metastable,
                Verdict::NoTrigger,
                Verdict::Recovering,
                Verdict::Undetermined,
            ]
            .into_iter()
            .find(|v| v.as_str() == VERDICTS[best])
            .unwrap_or(Verdict::Undetermined);
            verdicts.push((s.variant.clone(), v));
            let mut t: Vec<f64> = reps
                .records
                .iter()
                .filter(|r| r.variant == s.variant)
                .map(rank_tail)
                .collect();
            t.sort_by(f64::total_cmp);
            tails.push((
                s.variant.clone(),
                quantile(&t, 0.5).unwrap_or(f64::INFINITY),
            ));
        }
        let baseline_tail_s = tails
            .iter()
            .find(|(v, _)| v == crate::scenario::BASELINE)
            .map(|t| t.1);
        // A stable sort keeps the file order among equal medians.
        tails.sort_by(|a, b| a.1.total_cmp(&b.1));
        let mut order: Vec<Vec<String>> = Vec::new();
        let mut last: Option<f64> = None;
        for (v, t) in tails {
            match (last, order.last_mut()) {
                (Some(l), Some(group)) if l == t => group.push(v),
                _ => order.push(vec![v]),
            }
            last = Some(t);
        }
        Shape {
            heals,
            verdicts,
            order,
            baseline_tail_s,
        }
    }

    pub fn verdicts_text(&self) -> String {
        let v: Vec<String> = self
            .verdicts
            .iter()
            .map(|(n, v)| format!("{n}={}", v.as_str()))
            .collect();
        v.join(";")
    }

    /// `a < b = c`: by median tail, ties with `=`.
    pub fn order_text(&self) -> String {
        let g: Vec<String> = self.order.iter().map(|g| g.join(" = ")).collect();
        g.join(" < ")
    }

    /// What differs from `base`: `heals`, `verdict:<variant>` per variant, `order`.
    pub fn flips(&self, base: &Shape) -> Vec<String> {
        let mut out = Vec::new();
        if self.heals != base.heals {
            out.push("heals".to_string());
        }
        for (name, v) in &self.verdicts {
            if let Some((_, b)) = base.verdicts.iter().find(|(n, _)| n == name)
                && b != v
            {
                out.push(format!("verdict:{name}"));
            }
        }
        if self.order != base.order {
            out.push("order".to_string());
        }
        out
    }
}

/// One parameter scaled in one direction.
#[derive(Clone, Debug)]
pub struct Row {
    pub path: String,
    /// `1 − p` (false) or `1 + p` (true).
    pub up: bool,
    pub base_value: f64,
    /// The value run (as the override wrote it), when it validated.
    pub value: Option<f64>,
    /// The shape, or why the perturbed file was not run.
    pub outcome: Result<Shape, String>,
}

impl Row {
    pub fn flips(&self, base: &Shape) -> Vec<String> {
        self.outcome.as_ref().map_or(Vec::new(), |s| s.flips(base))
    }

    /// The baseline's median tail change (%) against `base`; ∞ when it stops recovering.
    pub fn tail_change_pct(&self, base: &Shape) -> Option<f64> {
        let t = self.outcome.as_ref().ok()?.baseline_tail_s?;
        let b = base.baseline_tail_s?;
        if t == b {
            Some(0.0)
        } else if b.is_finite() && b > 0.0 {
            Some(100.0 * (t - b) / b)
        } else {
            None
        }
    }
}

/// The perturbed file: `param` × `factor`, validated; the value used, or why there is none.
pub fn perturb(
    text: &str,
    file: &str,
    param: &InferredParam,
    factor: f64,
) -> Result<(f64, Scenario), String> {
    let x = param.value * factor;
    if x == param.value {
        return Err(format!("no change: {} × {factor} = {x}", param.value));
    }
    let attempt = |value: toml::Value| {
        let ov = Override {
            path: param.path.clone(),
            value,
            line: param.line,
            column: param.column,
            label: format!("robustness: {} × {factor}", param.path),
        };
        crate::scenario::parse_with(text, file, &[ov])
            .map_err(|e| e.to_string().trim().replace('\n', "; "))
    };
    match attempt(toml::Value::Float(x)) {
        Ok(sc) => Ok((x, sc)),
        Err(e) if !param.integer => Err(format!("invalid: {e}")),
        Err(_) => {
            let r = x.round();
            if (r - param.value).abs() < 1.0 || !(-9.0e18..9.0e18).contains(&r) {
                return Err(format!(
                    "no change: integer field, {} × {factor} = {x} rounds to {r}, not a change of at least 1",
                    param.value
                ));
            }
            attempt(toml::Value::Integer(r as i64))
                .map(|sc| (r, sc))
                .map_err(|e| format!("invalid: {e}"))
        }
    }
}

/// The whole assessment.
#[derive(Clone, Debug)]
pub struct Robustness {
    pub scenario: String,
    pub file: String,
    pub p: f64,
    pub seeds: Vec<u64>,
    pub base: Shape,
    pub rows: Vec<Row>,
    /// Runs made.
    pub runs: usize,
    pub events: u64,
}

impl Robustness {
    /// Runs the unperturbed file and each valid perturbation (every variant and the
    /// counterfactual, over `seeds`) in one parallel batch, results in a fixed order.
    ///
    /// `only`: run just these variants (and the baseline and the counterfactual); `None`: all.
    pub fn assess(
        sc: &Scenario,
        text: &str,
        p: f64,
        seeds: &[u64],
        only: Option<&[String]>,
    ) -> Result<Robustness, String> {
        if let Some(names) = only {
            for n in names {
                if sc.variant_named(n).is_none() {
                    let all: Vec<&str> = sc
                        .with_variants()
                        .iter()
                        .map(|s| s.variant_name())
                        .collect();
                    return Err(format!(
                        "--variants: {} has no variant {n:?} (it has: {})",
                        sc.file,
                        all.join(", ")
                    ));
                }
            }
        }
        let Some(inc) = &sc.incident else {
            return Err(format!("{}: has no [incident] table", sc.file));
        };
        if inc.inferred.is_empty() {
            return Err(format!(
                "{}: [incident] has no `inferred` list (override paths of the parameters to perturb, e.g. inferred = [\"services[db].servers\"])",
                sc.file
            ));
        }
        // (the row a perturbed file belongs to and the value it ran, or none for the
        // unperturbed file; the file).
        let mut files: Vec<(Option<(usize, f64)>, Scenario)> = vec![(None, sc.clone())];
        let mut rows = Vec::new();
        for param in &inc.inferred {
            for up in [false, true] {
                let factor = if up { 1.0 + p } else { 1.0 - p };
                let row = Row {
                    path: param.path.clone(),
                    up,
                    base_value: param.value,
                    value: None,
                    outcome: Err(String::new()),
                };
                match perturb(text, &sc.file, param, factor) {
                    Ok((x, psc)) => {
                        files.push((Some((rows.len(), x)), psc));
                        rows.push(row);
                    }
                    Err(why) => rows.push(Row {
                        outcome: Err(why),
                        ..row
                    }),
                }
            }
        }
        if let Some(names) = only {
            let cf = sc.incident.as_ref().and_then(|i| i.counterfactual.clone());
            for (_, f) in &mut files {
                f.variants
                    .retain(|v| names.contains(&v.name) || cf.as_ref() == Some(&v.name));
            }
        }
        let sets: Vec<RunSet> = files
            .iter()
            .map(|(_, f)| RunSet::of(f, None))
            .collect::<Result<_, _>>()?;
        let tasks: Vec<(&Scenario, u64)> = sets
            .iter()
            .flat_map(|set| {
                set.runs
                    .iter()
                    .flat_map(|s| seeds.iter().map(move |&seed| (s, seed)))
            })
            .collect();
        let mut records = run_all(&tasks).into_iter();
        let runs = tasks.len();
        let mut events = 0;
        let mut base = None;
        for ((at, file), set) in files.iter().zip(&sets) {
            let mine: Vec<Record> = records
                .by_ref()
                .take(set.runs.len() * seeds.len())
                .collect();
            events += mine.iter().map(|r| r.events).sum::<u64>();
            let shape = Shape::of(&Replications::from_records(file, set, seeds, mine));
            match at {
                None => base = Some(shape),
                Some((i, x)) => {
                    rows[*i].value = Some(*x);
                    rows[*i].outcome = Ok(shape);
                }
            }
        }
        let base = base.ok_or_else(|| "internal: the unperturbed file was not run".to_string())?;
        Ok(Robustness {
            scenario: sc.name.clone(),
            file: sc.file.clone(),
            p,
            seeds: seeds.to_vec(),
            base,
            rows,
            runs,
            events,
        })
    }

    fn seed_range(&self) -> String {
        match (self.seeds.first(), self.seeds.last()) {
            (Some(a), Some(b)) => format!("{a}..={b}"),
            _ => "none".into(),
        }
    }

    fn direction(&self, up: bool) -> String {
        format!("{}{}%", if up { "+" } else { "-" }, pct(self.p))
    }

    /// The rows whose shape flipped.
    pub fn knife_edges(&self) -> Vec<&Row> {
        self.rows
            .iter()
            .filter(|r| !r.flips(&self.base).is_empty())
            .collect()
    }

    /// `robustness.csv`: a `base` row (the unperturbed file), then one row per parameter and
    /// direction.
    pub fn csv(&self) -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "scenario",
            "seeds",
            "path",
            "direction",
            "base_value",
            "perturbed_value",
            "status",
            "heals_by_itself",
            "verdicts",
            "order",
            "baseline_median_tail_min",
            "tail_change_pct",
            "flipped",
            "knife_edge",
        ])?;
        let seeds = self.seed_range();
        let tail = |s: &Shape| {
            s.baseline_tail_s
                .map_or(String::new(), |t| format!("{}", t / 60.0))
        };
        let b = &self.base;
        w.write_record([
            self.scenario.as_str(),
            &seeds,
            "",
            "base",
            "",
            "",
            "ok",
            &b.heals.to_string(),
            &b.verdicts_text(),
            &b.order_text(),
            &tail(b),
            "",
            "",
            "",
        ])?;
        for r in &self.rows {
            let flips = r.flips(b);
            let (status, heals, verdicts, order, t) = match &r.outcome {
                Ok(s) => (
                    "ok".to_string(),
                    s.heals.to_string(),
                    s.verdicts_text(),
                    s.order_text(),
                    tail(s),
                ),
                Err(why) => (
                    why.clone(),
                    String::new(),
                    String::new(),
                    String::new(),
                    String::new(),
                ),
            };
            w.write_record([
                self.scenario.as_str(),
                &seeds,
                &r.path,
                &self.direction(r.up),
                &r.base_value.to_string(),
                &r.value.map_or(String::new(), |v| v.to_string()),
                &status,
                &heals,
                &verdicts,
                &order,
                &t,
                &r.tail_change_pct(b)
                    .map_or(String::new(), |x| format!("{x:.1}")),
                &flips.join(";"),
                &(r.outcome.is_ok() && !flips.is_empty()).to_string(),
            ])?;
        }
        w.into_inner().map_err(|e| e.into_error().into())
    }

    /// The printed table, ending with the knife edges.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let yes = |b: bool| if b { "yes" } else { "no" };
        let tail = |sh: &Shape| {
            sh.baseline_tail_s.map_or("-".to_string(), |t| {
                if t.is_finite() {
                    short(t / 60.0)
                } else {
                    "never".into()
                }
            })
        };
        let _ = writeln!(
            s,
            "robustness: {} · each inferred parameter × (1 ± {}) · seeds {} ({} per file, the same for every file)",
            self.scenario,
            pct(self.p) + " %",
            self.seed_range(),
            self.seeds.len()
        );
        let b = &self.base;
        let _ = writeln!(
            s,
            "  unperturbed: heals by itself {} · baseline median tail {} min\n    verdicts: {}\n    order by median tail: {}",
            yes(b.heals),
            tail(b),
            b.verdicts_text().replace(';', ", "),
            b.order_text()
        );
        let _ = writeln!(
            s,
            "  {:<44} {:>6} {:>12} {:>12} {:>6} {:>10} {:>8}  flipped",
            "parameter", "dir", "base", "perturbed", "heals", "tail min", "Δ tail"
        );
        for r in &self.rows {
            let (heals, t) = match &r.outcome {
                Ok(sh) => (yes(sh.heals).to_string(), tail(sh)),
                Err(_) => ("-".into(), "-".into()),
            };
            let change = r.tail_change_pct(b).map_or("-".to_string(), |x| {
                if x.is_finite() {
                    format!("{x:+.0} %")
                } else {
                    "never".into()
                }
            });
            let flipped = match &r.outcome {
                Ok(_) => {
                    let f = r.flips(b);
                    if f.is_empty() {
                        "-".into()
                    } else {
                        f.join(", ")
                    }
                }
                Err(why) => why.clone(),
            };
            let _ = writeln!(
                s,
                "  {:<44} {:>6} {:>12} {:>12} {:>6} {:>10} {:>8}  {flipped}",
                r.path,
                self.direction(r.up),
                r.base_value,
                shown(r.value),
                heals,
                t,
                change
            );
        }
        let edges = self.knife_edges();
        if edges.is_empty() {
            let _ = writeln!(s, "knife edges: none within ±{} %", pct(self.p));
        } else {
            let _ = writeln!(s, "knife edges within ±{} %:", pct(self.p));
            for r in edges {
                let Ok(sh) = &r.outcome else { continue };
                let mut what = Vec::new();
                if sh.heals != b.heals {
                    what.push(format!(
                        "heals by itself {} → {}",
                        yes(b.heals),
                        yes(sh.heals)
                    ));
                }
                for (name, v) in &sh.verdicts {
                    if let Some((_, was)) = b.verdicts.iter().find(|(n, _)| n == name)
                        && was != v
                    {
                        what.push(format!("{name} {} → {}", was.as_str(), v.as_str()));
                    }
                }
                if sh.order != b.order {
                    what.push(format!("order → {}", sh.order_text()));
                }
                let _ = writeln!(
                    s,
                    "  {} {} ({} → {}): {}",
                    r.path,
                    self.direction(r.up),
                    r.base_value,
                    shown(r.value),
                    what.join("; ")
                );
            }
        }
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fractions() {
        assert_eq!(parse_fraction("25%"), Ok(0.25));
        assert_eq!(parse_fraction(" 10 % "), Ok(0.1));
        assert_eq!(parse_fraction("0.25"), Ok(0.25));
        for bad in ["0", "1", "100%", "-5%", "25", "abc", "", "nan", "inf%"] {
            assert!(parse_fraction(bad).is_err(), "{bad:?} should be rejected");
        }
        assert_eq!(pct(0.25), "25");
        assert_eq!(pct(0.125), "12.5");
    }
}
