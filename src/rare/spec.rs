//! What a splitting run estimates: `P(target reached before the horizon)`, with levels on a
//! progress measure. Measures are written `KIND:COMPONENT` (`backlog:api`,
//! `plan_lag:ddb-dns`, `record_empty:ddb`, `records_empty:ddb-dns`) or `live_requests`.

use models::Measure;
use sim_core::SimDuration;

use crate::scenario::Scenario;

/// Upper bound on levels, effort and replications (limits on everything).
pub const MAX_LEVELS: usize = 64;
pub const MAX_EFFORT: usize = 100_000;
pub const MAX_REPLICATIONS: usize = 10_000;
pub const MAX_CRUDE: usize = 10_000_000;

/// A validated splitting question.
#[derive(Clone, Debug)]
pub struct RareSpec {
    /// The progress measure the levels are on, and how it was written.
    pub measure: (Measure, String),
    /// Increasing levels `ℓ₁ < … < ℓ_K` on the measure.
    pub levels: Vec<f64>,
    /// The target: `target.0 ≥ target_at_least`.
    pub target: (Measure, String),
    pub target_at_least: f64,
    /// Trajectories end here (simulated time from 0).
    pub horizon: SimDuration,
    /// Trajectories per stage.
    pub effort: usize,
    /// Independent repetitions of the whole estimator (for the confidence interval).
    pub replications: usize,
    /// Crude Monte Carlo runs for the comparison (0: none).
    pub crude: usize,
}

/// Resolves `text` (`KIND:COMPONENT` or `live_requests`) against `sc`.
pub fn parse_measure(sc: &Scenario, text: &str) -> Result<Measure, String> {
    let service = |name: &str| {
        sc.world
            .services
            .iter()
            .position(|s| s.name == name)
            .map(|i| i as u32)
            .ok_or_else(|| {
                let known: Vec<&str> = sc.world.services.iter().map(|s| s.name.as_str()).collect();
                format!("no service named {name:?} (services: {})", known.join(", "))
            })
    };
    let automation = |name: &str| {
        sc.world
            .dns_automations
            .iter()
            .position(|a| a.name == name)
            .map(|i| i as u32)
            .ok_or_else(|| {
                let known: Vec<&str> = sc
                    .world
                    .dns_automations
                    .iter()
                    .map(|a| a.name.as_str())
                    .collect();
                format!(
                    "no [[dns_automation]] named {name:?} (known: {})",
                    if known.is_empty() {
                        "none".to_string()
                    } else {
                        known.join(", ")
                    }
                )
            })
    };
    let (kind, name) = match text.split_once(':') {
        Some((k, n)) => (k.trim(), Some(n.trim())),
        None => (text.trim(), None),
    };
    match (kind, name) {
        ("live_requests", None) => Ok(Measure::LiveRequests),
        ("backlog", Some(n)) => Ok(Measure::Backlog {
            service: service(n)?,
        }),
        ("record_empty", Some(n)) => Ok(Measure::RecordEmpty {
            service: service(n)?,
        }),
        ("plan_lag", Some(n)) => Ok(Measure::PlanLag {
            automation: automation(n)?,
        }),
        ("records_empty", Some(n)) => Ok(Measure::RecordsEmpty {
            automation: automation(n)?,
        }),
        _ => Err(format!(
            "unknown measure {text:?}: expected backlog:SERVICE, record_empty:SERVICE, \
             plan_lag:DNS_AUTOMATION, records_empty:DNS_AUTOMATION or live_requests"
        )),
    }
}

/// The command line's pieces, unresolved.
pub struct RareArgs<'a> {
    pub measure: &'a str,
    pub levels: &'a str,
    pub target: &'a str,
    pub horizon_s: Option<f64>,
    pub effort: usize,
    pub replications: usize,
    pub crude: usize,
}

/// Validates the command line's question against `sc`; the error names the bad argument.
pub fn resolve(sc: &Scenario, a: &RareArgs) -> Result<RareSpec, String> {
    let measure = parse_measure(sc, a.measure).map_err(|e| format!("--measure: {e}"))?;
    let mut levels = Vec::new();
    for part in a.levels.split(',').filter(|p| !p.trim().is_empty()) {
        let v: f64 = part
            .trim()
            .parse()
            .map_err(|_| format!("--levels: {part:?} is not a number"))?;
        if !v.is_finite() {
            return Err(format!("--levels: {part:?} is not finite"));
        }
        if levels.last().is_some_and(|&l| v <= l) {
            return Err("--levels: levels must increase strictly".into());
        }
        levels.push(v);
    }
    if levels.len() > MAX_LEVELS {
        return Err(format!("--levels: at most {MAX_LEVELS} levels"));
    }
    let (t_measure, t_value) = a
        .target
        .split_once(">=")
        .ok_or_else(|| format!("--target: expected MEASURE>=VALUE, got {:?}", a.target))?;
    let target = parse_measure(sc, t_measure).map_err(|e| format!("--target: {e}"))?;
    let target_at_least: f64 = t_value
        .trim()
        .parse()
        .ok()
        .filter(|v: &f64| v.is_finite())
        .ok_or_else(|| format!("--target: {:?} is not a finite number", t_value.trim()))?;
    let horizon = match a.horizon_s {
        None => sc.duration,
        Some(s) if s.is_finite() && s > 0.0 && s <= 1e9 => SimDuration::from_secs_f64(s),
        Some(s) => return Err(format!("--horizon-s: {s} is not in (0, 1e9] seconds")),
    };
    if a.effort == 0 || a.effort > MAX_EFFORT {
        return Err(format!("--effort: must be in 1..={MAX_EFFORT}"));
    }
    if a.replications < 2 || a.replications > MAX_REPLICATIONS {
        return Err(format!(
            "--replications: must be in 2..={MAX_REPLICATIONS} (the interval needs two)"
        ));
    }
    if a.crude > MAX_CRUDE {
        return Err(format!("--crude: at most {MAX_CRUDE} runs"));
    }
    Ok(RareSpec {
        measure: (measure, a.measure.trim().to_string()),
        levels,
        target: (target, t_measure.trim().to_string()),
        target_at_least,
        horizon,
        effort: a.effort,
        replications: a.replications,
        crude: a.crude,
    })
}
