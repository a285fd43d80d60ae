//! One analysis per variant (equilibria, load range, the scenario's trigger through the fluid
//! model, the critical trigger) and the text `metastable analyze` prints.

use std::fmt::Write as _;

use super::fluid::{self, Backlog, Equilibria, Equilibrium, LoadRange};
use super::scope::{self, Load, Model, OutOfScope};
use super::transient::{self, Outcome};
use crate::scenario::Scenario;

/// The fluid model's answer for one variant.
#[derive(Clone, Debug, PartialEq)]
pub struct Analysis {
    pub model: Model,
    pub equilibria: Equilibria,
    pub range: LoadRange,
    /// The scenario's trigger, as written, through the fluid model.
    pub outcome: Option<Outcome>,
    /// Shortest duration of the first trigger that tips the system (searched up to
    /// `critical_search_s`).
    pub critical_trigger_s: Option<f64>,
    pub critical_search_s: f64,
}

/// Analyses one scenario (one variant).
pub fn analyze(sc: &Scenario) -> Result<Analysis, OutOfScope> {
    let model = scope::model_of(sc)?;
    let equilibria = fluid::equilibria(&model);
    let range = fluid::load_range(&model);
    let outcome = transient::outcome(&model, 0.0);
    let (critical_trigger_s, critical_search_s) = match model.trigger {
        Some((from, to)) if to - from > 0.0 && !instantaneous(&model) => {
            let max = (model.duration_s - from - 30.0).clamp(1.0, 600.0);
            // Judged this long after the trigger's end: a collapse is growing or pinned by
            // then, a slow drain is already draining (transient::tips).
            let settle = (20.0 * model.timeout_s.unwrap_or(1.0)).max(30.0);
            (transient::critical_duration(&model, max, settle), max)
        }
        _ => (None, 0.0),
    };
    Ok(Analysis {
        model,
        equilibria,
        range,
        outcome,
        critical_trigger_s,
        critical_search_s,
    })
}

/// The first trigger acts at an instant (a cache flush): its duration means nothing.
pub fn instantaneous(m: &Model) -> bool {
    let Some((from, _)) = m.trigger else {
        return false;
    };
    let at = sim_core::SimTime::from_secs_f64(from);
    m.actions
        .iter()
        .filter(|a| a.at == at)
        .all(|a| matches!(a.action, models::Action::FlushCache { .. }))
}

fn knob_unit(m: &Model) -> &'static str {
    match m.load {
        Load::Open { .. } => "/s",
        Load::Closed { .. } => " users",
    }
}

fn eq_line(e: &Equilibrium) -> String {
    let backlog = match e.backlog {
        Backlog::Stationary { mean_wait_s } => format!("mean wait {:.1} ms", mean_wait_s * 1e3),
        Backlog::Growing { per_s } => format!("backlog grows {per_s:.1}/s"),
        Backlog::Pinned { at, overflow_per_s } => {
            format!("backlog pinned near {at:.0}, {overflow_per_s:.1}/s turned away")
        }
    };
    format!(
        "{}{:.1} first tries/s, {:.1} attempts/s (×{:.2}), P(attempt fails) {:.4}, success {:.3}, goodput {:.1}/s, {}; map slope {:.3} ({})",
        if e.hit_ratio > 0.0 {
            format!("hit ratio {:.3}, ", e.hit_ratio)
        } else {
            String::new()
        },
        e.first_per_s,
        e.attempts_per_s,
        e.amplification,
        e.p_fail,
        e.success_ratio,
        e.goodput_per_s,
        backlog,
        e.slope,
        if e.slope < 1.0 { "stable" } else { "unstable" }
    )
}

/// The long form for one variant.
pub fn describe(a: &Analysis) -> String {
    let m = &a.model;
    let e = &a.equilibria;
    let u = knob_unit(m);
    let mut s = String::new();
    let _ = writeln!(
        s,
        "{} [{}]: {} -> {} ({} servers, capacity {:.1}/s), load {:.1}{u}: {}",
        m.scenario,
        m.variant,
        m.client,
        m.service,
        m.servers,
        e.capacity_per_s,
        m.load_knob(),
        e.class()
    );
    match &e.healthy {
        Some(h) => {
            let _ = writeln!(s, "  healthy:   {}", eq_line(h));
        }
        None => {
            let _ = writeln!(
                s,
                "  healthy:   none (the retry-amplified load reaches capacity)"
            );
        }
    }
    match &e.collapsed {
        Some(c) => {
            let _ = writeln!(s, "  collapsed: {}", eq_line(c));
        }
        None => {
            let _ = writeln!(
                s,
                "  collapsed: none (an overload drains once the trigger ends)"
            );
        }
    }
    match e.critical_backlog {
        Some(b) => {
            let _ = writeln!(
                s,
                "  tipping backlog: {:.0} waiting requests ({:.2} s of work at capacity)",
                b,
                b / e.capacity_per_s
            );
        }
        None => {
            let _ = writeln!(s, "  tipping backlog: none (no backlog tips this design)");
        }
    }
    if let Some(h) = e.critical_hit_ratio {
        let warm = e.healthy.as_ref().map_or(0.0, |x| x.hit_ratio);
        let _ = writeln!(
            s,
            "  cache: hit ratio {warm:.3} when healthy; below {h:.3} the misses alone exceed capacity"
        );
    }
    let r = &a.range;
    let range = match (r.bistable(), r.collapse_from, r.healthy_until) {
        (Some((lo, hi)), ..) => {
            let share = match m.load {
                Load::Open { .. } => format!(
                    " (hidden capacity {:.0} % of {:.1}/s)",
                    100.0 * lo / e.capacity_per_s,
                    e.capacity_per_s
                ),
                Load::Closed { .. } => String::new(),
            };
            format!(
                "bistable for loads in [{lo:.1}, {hi:.1}]{u}; below {lo:.1}{u} every trigger heals{share}"
            )
        }
        (None, Some(lo), Some(hi)) => {
            format!("never bistable: healthy up to {hi:.1}{u}, overloaded from {lo:.1}{u}")
        }
        (None, None, Some(hi)) => format!(
            "never bistable: healthy up to {hi:.1}{u}, no collapsed state below 64 × capacity"
        ),
        (None, Some(lo), None) => format!("never healthy; overloaded from {lo:.1}{u}"),
        (None, None, None) => "no equilibrium found".to_string(),
    };
    let _ = writeln!(s, "  load range: {range}");
    if let Some(o) = &a.outcome {
        let rec = match o.recovery_s {
            Some(r) => format!("recovers {r:.0} s after it ends"),
            None => format!("does not recover by {:.0} s (stays collapsed)", o.horizon_s),
        };
        let _ = writeln!(
            s,
            "  the scenario's trigger: backlog {:.0} at its end ({:.1} s); {rec}",
            o.backlog_at_end, o.trigger_end_s
        );
    }
    if let Some((from, to)) = m.trigger
        && !instantaneous(m)
    {
        let crit = match a.critical_trigger_s {
            Some(d) => format!("{d:.2} s (the scenario's lasts {:.2} s)", to - from),
            None if a.equilibria.collapsed.is_none() => {
                "none: without a collapsed state every trigger heals once it ends".to_string()
            }
            None => format!("none up to {:.0} s", a.critical_search_s),
        };
        let _ = writeln!(
            s,
            "  shortest tipping duration of the first trigger: {crit}"
        );
    }
    s
}

/// The variants side by side.
pub fn table(rows: &[Result<Analysis, OutOfScope>]) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "  {:<18} {:<10} {:>9} {:>9} {:>9} {:>10} {:>10} {:>9} {:>9} {:>10}",
        "variant",
        "class",
        "load",
        "collapse≥",
        "healthy≤",
        "tip backlog",
        "collapse Δ/s",
        "goodput↓",
        "recovery",
        "tip trigger"
    );
    for r in rows {
        match r {
            Ok(a) => {
                let e = &a.equilibria;
                let f =
                    |x: Option<f64>, p: usize| x.map_or("-".to_string(), |v| format!("{v:.p$}"));
                let growth = e.collapsed.as_ref().map(|c| match c.backlog {
                    Backlog::Growing { per_s } => per_s,
                    Backlog::Pinned { overflow_per_s, .. } => overflow_per_s,
                    Backlog::Stationary { .. } => 0.0,
                });
                let rec = match &a.outcome {
                    Some(o) => o
                        .recovery_s
                        .map_or("never".to_string(), |r| format!("{r:.0} s")),
                    None => "-".to_string(),
                };
                let _ = writeln!(
                    s,
                    "  {:<18} {:<10} {:>9} {:>9} {:>9} {:>10} {:>10} {:>9} {:>9} {:>10}",
                    a.model.variant,
                    e.class(),
                    format!("{:.1}", a.model.load_knob()),
                    f(a.range.collapse_from, 1),
                    f(a.range.healthy_until, 1),
                    f(e.critical_backlog, 0),
                    f(growth, 1),
                    f(e.collapsed.as_ref().map(|c| c.goodput_per_s), 1),
                    rec,
                    a.critical_trigger_s
                        .map_or("-".to_string(), |d| format!("{d:.2} s")),
                );
            }
            Err(o) => {
                let _ = writeln!(s, "  {o}");
            }
        }
    }
    s
}
