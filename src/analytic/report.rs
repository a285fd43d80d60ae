//! One analysis per variant (equilibria, load range, the scenario's trigger through the fluid
//! model, the critical trigger) and the text `metastable analyze` prints.

use std::fmt::Write as _;

use super::chain::{self, ChainEquilibria, ChainEquilibrium};
use super::chain_transient;
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
    /// For a downstream call chain: the chain model's answer (then `model` is the client's
    /// tier with its own work only, `equilibria` the front tier's view of the chain's
    /// equilibria with the bottleneck view's tipping backlog, and the transient figures are
    /// the bottleneck view's, when the chain has one).
    pub chain: Option<ChainAnalysis>,
}

/// The chain model's answer (docs/analytic.md §10).
#[derive(Clone, Debug, PartialEq)]
pub struct ChainAnalysis {
    pub tiers: Vec<scope::Model>,
    pub equilibria: ChainEquilibria,
    pub range: LoadRange,
    /// The bottleneck view (`chain_transient.rs`) the transient figures come from, or why
    /// the chain's transient is not modelled.
    pub view: Result<Model, String>,
}

/// Analyses one scenario (one variant).
pub fn analyze(sc: &Scenario) -> Result<Analysis, OutOfScope> {
    let mut tiers = scope::chain_of(sc)?;
    if tiers.len() > 1 {
        return Ok(analyze_chain(sc, tiers));
    }
    let model = tiers.remove(0);
    let equilibria = fluid::equilibria(&model);
    let range = fluid::load_range(&model);
    let (outcome, critical_trigger_s, critical_search_s) = in_time(&model);
    Ok(Analysis {
        model,
        equilibria,
        range,
        outcome,
        critical_trigger_s,
        critical_search_s,
        chain: None,
    })
}

/// The one-tier model in time: the scenario's trigger, and the shortest tipping duration of
/// the first trigger with the horizon it was searched over.
fn in_time(model: &Model) -> (Option<Outcome>, Option<f64>, f64) {
    let outcome = transient::outcome(model, 0.0);
    let (critical_trigger_s, critical_search_s) = match model.trigger {
        Some((from, to)) if to - from > 0.0 && !instantaneous(model) => {
            let max = (model.duration_s - from - 30.0).clamp(1.0, 600.0);
            // Judged this long after the trigger's end: a collapse is growing or pinned by
            // then, a slow drain is already draining (transient::tips).
            let settle = (20.0 * model.timeout_s.unwrap_or(1.0)).max(30.0);
            (transient::critical_duration(model, max, settle), max)
        }
        _ => (None, 0.0),
    };
    (outcome, critical_trigger_s, critical_search_s)
}

/// A call chain: equilibria and load range from the chain model; the transient figures and
/// the tipping backlog from its bottleneck view, when it has one.
fn analyze_chain(sc: &Scenario, tiers: Vec<Model>) -> Analysis {
    let equilibria = chain::equilibria(&tiers);
    let range = chain::load_range(&tiers);
    let view = chain_transient::bottleneck_view(sc, &tiers, &equilibria);
    let (outcome, critical_trigger_s, critical_search_s) =
        view.as_ref().map_or((None, None, 0.0), in_time);
    let critical_backlog = view.as_ref().ok().and_then(fluid::critical_backlog);
    let front = |e: &ChainEquilibrium| e.tiers[0].eq.clone();
    let capacity_per_s = equilibria
        .healthy
        .as_ref()
        .map_or(tiers[0].capacity(), |h| h.tiers[0].capacity_per_s);
    Analysis {
        model: tiers[0].clone(),
        equilibria: Equilibria {
            capacity_per_s,
            healthy: equilibria.healthy.as_ref().map(front),
            collapsed: equilibria.collapsed.first().map(front),
            critical_backlog,
            critical_hit_ratio: None,
        },
        range,
        outcome,
        critical_trigger_s,
        critical_search_s,
        chain: Some(ChainAnalysis {
            tiers,
            equilibria,
            range,
            view,
        }),
    }
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

fn backlog_text(b: Backlog) -> String {
    match b {
        Backlog::Stationary { mean_wait_s } => format!("mean wait {:.1} ms", mean_wait_s * 1e3),
        Backlog::Growing { per_s } => format!("backlog grows {per_s:.1}/s"),
        Backlog::Pinned { at, overflow_per_s } => {
            format!("backlog pinned near {at:.0}, {overflow_per_s:.1}/s turned away")
        }
    }
}

fn chain_eq(s: &mut String, e: &ChainEquilibrium) {
    let _ = writeln!(
        s,
        "  {}: goodput {:.1}/s (success {:.3}), {:.2} attempts at {} per first try",
        e.name(),
        e.goodput_per_s(),
        e.tiers[0].eq.success_ratio,
        e.amplification(),
        e.tiers
            .last()
            .map_or("", |t| t.label.rsplit(" -> ").next().unwrap_or(""))
    );
    for t in &e.tiers {
        let _ = writeln!(
            s,
            "    {}: {:.1} calls/s, {:.1} attempts/s (×{:.2}), P(attempt fails) {:.4}, servers held {:.1} ms (capacity {:.1}/s), {}; a call lasts {:.1} ms",
            t.label,
            t.calls_per_s,
            t.eq.attempts_per_s,
            t.eq.amplification,
            t.eq.p_fail,
            t.holding_s * 1e3,
            t.capacity_per_s,
            backlog_text(t.eq.backlog),
            t.call_s * 1e3
        );
    }
}

/// The long form for a call chain.
fn describe_chain(a: &Analysis, c: &ChainAnalysis) -> String {
    let m = &a.model;
    let u = knob_unit(m);
    let e = &c.equilibria;
    let mut s = String::new();
    let path: Vec<&str> = c.tiers.iter().map(|t| t.service.as_str()).collect();
    let _ = writeln!(
        s,
        "{} [{}]: {} -> {} (a call chain of {}), load {:.1}{u}: {}",
        m.scenario,
        m.variant,
        m.client,
        path.join(" -> "),
        c.tiers.len(),
        m.load_knob(),
        e.class()
    );
    for t in &c.tiers {
        let _ = writeln!(
            s,
            "  {} -> {}: {} servers, own work {:.1} ms ({:.1}/s on its own), timeout {}, {} attempts",
            t.client,
            t.service,
            t.servers,
            super::queueing::mean_s(&t.service_time) * 1e3,
            t.capacity(),
            t.timeout_s
                .map_or("none".to_string(), |x| format!("{:.0} ms", x * 1e3)),
            fluid::attempts_allowed(t)
        );
    }
    match &e.healthy {
        Some(h) => chain_eq(&mut s, h),
        None => {
            let _ = writeln!(
                s,
                "  healthy: none (the amplified load reaches a tier's capacity)"
            );
        }
    }
    if e.collapsed.is_empty() {
        let _ = writeln!(
            s,
            "  collapsed: none (an overload drains once the trigger ends)"
        );
    }
    for x in &e.collapsed {
        chain_eq(&mut s, x);
    }
    let bottleneck = c
        .tiers
        .iter()
        .map(|t| t.capacity())
        .fold(f64::INFINITY, f64::min);
    let mut range = range_text(m, &c.range, bottleneck);
    if c.range.collapse_from.is_none() && c.range.healthy_until.is_some() {
        range = format!(
            "healthy up to {:.1}{u}; no collapsed equilibrium found at any load (above the healthy range a dependency held at its capacity by its caller's servers is not solved: docs/analytic.md §10)",
            c.range.healthy_until.unwrap_or(0.0)
        );
    }
    let _ = writeln!(s, "  load range: {range}");
    match &c.view {
        Ok(v) => {
            let _ = writeln!(
                s,
                "  in time (the bottleneck {}'s backlog, the tiers above quasi-steady: {} attempts per first try, docs/analytic.md §10):",
                v.service, v.max_attempts
            );
            backlog_line(&mut s, a.equilibria.critical_backlog, v.capacity());
            in_time_lines(&mut s, a);
        }
        Err(why) => {
            let _ = writeln!(
                s,
                "  the scenario's trigger, recovery, tipping backlog and trigger: not modelled for this chain: {why} (docs/analytic.md §10)"
            );
        }
    }
    s
}

fn range_text(m: &Model, r: &LoadRange, capacity: f64) -> String {
    let u = knob_unit(m);
    match (r.bistable(), r.collapse_from, r.healthy_until) {
        (Some((lo, hi)), ..) => {
            let share = match m.load {
                Load::Open { .. } => format!(
                    " (hidden capacity {:.0} % of {:.1}/s)",
                    100.0 * lo / capacity,
                    capacity
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
    }
}

/// The tipping backlog (the unstable equilibrium).
fn backlog_line(s: &mut String, critical: Option<f64>, capacity: f64) {
    match critical {
        Some(b) => {
            let _ = writeln!(
                s,
                "  tipping backlog: {:.0} waiting requests ({:.2} s of work at capacity)",
                b,
                b / capacity
            );
        }
        None => {
            let _ = writeln!(s, "  tipping backlog: none (no backlog tips this design)");
        }
    }
}

/// The scenario's trigger through the fluid model and the shortest tipping trigger.
fn in_time_lines(s: &mut String, a: &Analysis) {
    let m = &a.model;
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
}

/// The long form for one variant.
pub fn describe(a: &Analysis) -> String {
    if let Some(c) = &a.chain {
        return describe_chain(a, c);
    }
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
    backlog_line(&mut s, e.critical_backlog, e.capacity_per_s);
    if let Some(h) = e.critical_hit_ratio {
        let warm = e.healthy.as_ref().map_or(0.0, |x| x.hit_ratio);
        let _ = writeln!(
            s,
            "  cache: hit ratio {warm:.3} when healthy; below {h:.3} the misses alone exceed capacity"
        );
    }
    let range = range_text(m, &a.range, e.capacity_per_s);
    let _ = writeln!(s, "  load range: {range}");
    in_time_lines(&mut s, a);
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
                let growth = match &a.chain {
                    Some(ch) => ch
                        .equilibria
                        .collapsed
                        .first()
                        .map(|c| c.growth().map_or(0.0, |g| g.1)),
                    None => e.collapsed.as_ref().map(|c| match c.backlog {
                        Backlog::Growing { per_s } => per_s,
                        Backlog::Pinned { overflow_per_s, .. } => overflow_per_s,
                        Backlog::Stationary { .. } => 0.0,
                    }),
                };
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
