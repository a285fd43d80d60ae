//! The incident report of a replay: trigger length, tail after the trigger, tail ÷ trigger and
//! whether the system heals without the operator actions, measured next to the published
//! figures of `[incident]`.
//!
//! Definitions:
//! - *trigger* = from the first trigger start (or `[incident] trigger_from_s`) to the last
//!   trigger end or operator action with `removes_trigger = true`;
//! - *tail* = the run's recovery time (see [`crate::analysis`]): from the trigger's end to the
//!   start of sustained recovery of the clients' success ratio; none if it never recovers;
//! - *heals by itself* = the verdict of the counterfactual run is `recovered` or `stable`: the
//!   run without the operator actions that do not remove the trigger
//!   ([`crate::Scenario::without_operator_actions`]), or the variant `[incident] counterfactual`
//!   names; with neither, the historical run's verdict.

use crate::analysis::recovery::Verdict;
use crate::run::RunReport;
use crate::scenario::Incident;
use std::fmt::Write as _;

/// Measured and published figures of one replay.
#[derive(Clone, Debug, PartialEq)]
pub struct IncidentReport {
    pub incident: Incident,
    pub seed: u64,
    pub trigger_min: Option<f64>,
    pub tail_min: Option<f64>,
    pub verdict: Verdict,
    pub heals_by_itself: bool,
    /// The counterfactual's verdict, if there was one to run.
    pub without_operators: Option<Verdict>,
    /// The scenario measures its trigger and this run's mechanism never carried it.
    pub no_incident: bool,
}

impl IncidentReport {
    /// The report of a set of runs (the file as written and its variants): the historical run
    /// is the one without a variant, the counterfactual the variant named `counterfactual`.
    /// `None` without `[incident]` or without the historical run.
    pub fn from_reports(
        reports: &[RunReport],
        counterfactual: Option<&str>,
    ) -> Option<IncidentReport> {
        let historical = reports.iter().find(|r| r.scenario.variant.is_none())?;
        let without = counterfactual.and_then(|want| {
            reports
                .iter()
                .find(|r| r.scenario.variant.as_deref() == Some(want))
        });
        IncidentReport::new(historical, without)
    }

    /// The report of `historical` (the file as written), with the counterfactual run
    /// `without` if the scenario has operator actions. `None` without `[incident]`.
    pub fn new(historical: &RunReport, without: Option<&RunReport>) -> Option<IncidentReport> {
        let incident = historical.scenario.incident.clone()?;
        let a = historical.analysis();
        let trigger_min = match (a.trigger_start_s, a.trigger_end_s) {
            (Some(s), Some(e)) => Some((e - s) / 60.0),
            _ => None,
        };
        let healed = |v: Verdict| matches!(v, Verdict::Recovered | Verdict::Stable);
        let without_operators = without.map(|w| w.analysis().verdict);
        let no_incident = historical.scenario.world.trigger_probe.is_some()
            && historical.trigger_measured.is_none();
        Some(IncidentReport {
            no_incident,
            incident,
            seed: historical.seed,
            trigger_min,
            tail_min: a.recovery_s.map(|s| s / 60.0),
            verdict: a.verdict,
            heals_by_itself: healed(without_operators.unwrap_or(a.verdict)),
            without_operators,
        })
    }

    pub fn ratio(&self) -> Option<f64> {
        match (self.tail_min, self.trigger_min) {
            (Some(t), Some(g)) if g > 0.0 => Some(t / g),
            _ => None,
        }
    }

    pub fn published_ratio(&self) -> Option<f64> {
        match (self.incident.tail_min, self.incident.trigger_min) {
            (Some(t), Some(g)) if g > 0.0 => Some(t / g),
            _ => None,
        }
    }

    /// `incident.csv`: one row per quantity, measured next to published.
    pub fn csv(&self) -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["seed", "quantity", "measured", "published"])?;
        let f = |x: Option<f64>| x.map_or(String::new(), |x| format!("{x:.1}"));
        let seed = self.seed.to_string();
        let rows = [
            (
                "trigger_min",
                f(self.trigger_min),
                f(self.incident.trigger_min),
            ),
            ("tail_min", f(self.tail_min), f(self.incident.tail_min)),
            (
                "tail_over_trigger",
                self.ratio().map_or(String::new(), |x| format!("{x:.2}")),
                self.published_ratio()
                    .map_or(String::new(), |x| format!("{x:.2}")),
            ),
            (
                "heals_by_itself",
                self.heals_by_itself.to_string(),
                self.incident.heals_by_itself.to_string(),
            ),
        ];
        for (q, m, p) in rows {
            w.write_record([seed.as_str(), q, &m, &p])?;
        }
        w.into_inner().map_err(|e| e.into_error().into())
    }

    /// The printed table.
    pub fn table(&self) -> String {
        let mut s = String::new();
        let i = &self.incident;
        let _ = writeln!(s, "incident: {} (seed {})", i.title, self.seed);
        if self.no_incident {
            let _ = writeln!(
                s,
                "  no incident in this run: the mechanism never carried the trigger (a night without it)"
            );
        }
        if !i.source.is_empty() {
            let _ = writeln!(s, "  source: {}", i.source);
        }
        let f = |x: Option<f64>, never: &str| x.map_or(never.to_string(), |x| format!("{x:.0}"));
        let yes = |b: bool| if b { "yes" } else { "no" };
        let _ = writeln!(s, "  {:<26} {:>12} {:>12}", "", "measured", "published");
        let r = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.2}"));
        let _ = writeln!(
            s,
            "  {:<26} {:>12} {:>12}",
            "trigger (min)",
            f(self.trigger_min, "-"),
            f(i.trigger_min, "-")
        );
        let never = if i.heals_by_itself {
            "-"
        } else {
            "no recovery"
        };
        let _ = writeln!(
            s,
            "  {:<26} {:>12} {:>12}",
            "tail after trigger (min)",
            f(self.tail_min, "no recovery"),
            f(i.tail_min, never)
        );
        let _ = writeln!(
            s,
            "  {:<26} {:>12} {:>12}",
            "tail ÷ trigger",
            r(self.ratio()),
            r(self.published_ratio())
        );
        let _ = writeln!(
            s,
            "  {:<26} {:>12} {:>12}",
            "heals w/o operator actions",
            yes(self.heals_by_itself),
            yes(i.heals_by_itself)
        );
        if !i.tail_to.is_empty() {
            let _ = writeln!(s, "  published tail ends: {}", i.tail_to);
        }
        if let Some(v) = self.without_operators {
            let _ = writeln!(
                s,
                "  (run without the operator actions: {}; see {}/)",
                v.as_str(),
                i.counterfactual
                    .as_deref()
                    .unwrap_or(crate::scenario::WITHOUT_OPERATORS)
            );
        }
        s
    }
}
