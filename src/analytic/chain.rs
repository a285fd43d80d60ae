//! The fluid model of a downstream call chain (docs/analytic.md §10): a client into a front
//! service whose requests, after their own work, call a second service through a call edge
//! with its own timeout, retries, backoff and budget, and so on down a linear chain.
//!
//! Each tier is a one-tier [`Model`] (`tiers[0]` the client into the front, `tiers[i]` the call
//! edge of service `i − 1` into service `i`), solved by `fluid.rs` at the load the tier above
//! sends it, with two couplings:
//!
//! - a server of tier `i` is held for its own work *and* the downstream call (retries and
//!   backoff included): its holding time is `S_i + D_{i+1}`, moment-matched to a lognormal, so
//!   a slow dependency shrinks the caller's capacity `c_i / (E S_i + E D_{i+1})`;
//! - a request whose downstream call fails is answered with an error: the tier's error rate is
//!   `1 − (1 − e_i)·succ_{i+1}`, and the caller retries it — attempts multiply down the chain
//!   (`A_0 · A_1 · …`).
//!
//! Every tier is in one of two branches (healthy: below its capacity; collapsed: above it).
//! For each of the `2^k` branch vectors the loads `x_{i+1} = served_i` are found by a damped
//! fixed-point iteration; the all-healthy solution is the healthy equilibrium, every other one
//! a collapsed equilibrium.

use models::Dist;

use super::fluid::{self, Backlog, Equilibrium, LoadRange, attempts_allowed, overload_age};
use super::queueing::{Wait, late_behind, late_stationary, mean_s, scv};
use super::scope::{Load, Model};

/// Damped iterations of the loads before a branch vector is declared without a solution.
const MAX_ITER: usize = 200;

/// One tier of a solved chain.
#[derive(Clone, Debug, PartialEq)]
pub struct TierState {
    /// `client -> service` (the call edge's name for inner tiers).
    pub label: String,
    /// `healthy` or `collapsed` (above its capacity).
    pub collapsed: bool,
    /// First tries (calls) per second into this tier.
    pub calls_per_s: f64,
    /// Mean time a server of this tier is held: own work plus the downstream call.
    pub holding_s: f64,
    /// `servers / holding_s`: the tier's capacity with its dependency's state.
    pub capacity_per_s: f64,
    /// Mean duration of a call into this tier, retries and backoff included (seconds).
    pub call_s: f64,
    /// The tier's own equilibrium at that load.
    pub eq: Equilibrium,
}

/// One equilibrium of the chain.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainEquilibrium {
    pub tiers: Vec<TierState>,
}

impl ChainEquilibrium {
    /// Attempts at the last service per first try of the client: the layered amplification.
    pub fn amplification(&self) -> f64 {
        let first = self.tiers[0].eq.first_per_s;
        let last = self.tiers.last().map_or(0.0, |t| t.eq.attempts_per_s);
        if first > 0.0 { last / first } else { 1.0 }
    }

    /// The client's successful calls per second.
    pub fn goodput_per_s(&self) -> f64 {
        self.tiers[0].eq.goodput_per_s
    }

    /// The fastest-growing backlog of a collapsed tier (`(tier, per_s)`), if one grows.
    pub fn growth(&self) -> Option<(usize, f64)> {
        self.tiers
            .iter()
            .enumerate()
            .filter_map(|(i, t)| match t.eq.backlog {
                Backlog::Growing { per_s } => Some((i, per_s)),
                Backlog::Pinned { overflow_per_s, .. } if t.collapsed => Some((i, overflow_per_s)),
                _ => None,
            })
            .max_by(|a, b| a.1.total_cmp(&b.1))
    }

    /// `healthy` / `collapsed at TIER[, TIER…]`.
    pub fn name(&self) -> String {
        let c: Vec<&str> = self
            .tiers
            .iter()
            .filter(|t| t.collapsed)
            .map(|t| t.label.rsplit(" -> ").next().unwrap_or(&t.label))
            .collect();
        if c.is_empty() {
            "healthy".to_string()
        } else {
            format!("collapsed at {}", c.join(", "))
        }
    }
}

/// The chain's equilibria: the healthy one (every tier below capacity) and the collapsed ones.
#[derive(Clone, Debug, PartialEq)]
pub struct ChainEquilibria {
    pub healthy: Option<ChainEquilibrium>,
    /// Collapsed equilibria, the lowest goodput first.
    pub collapsed: Vec<ChainEquilibrium>,
}

impl ChainEquilibria {
    pub fn bistable(&self) -> bool {
        self.healthy.is_some() && !self.collapsed.is_empty()
    }

    /// `healthy`, `bistable`, `collapsed` or `none`, as for one tier.
    pub fn class(&self) -> &'static str {
        match (self.healthy.is_some(), !self.collapsed.is_empty()) {
            (true, true) => "bistable",
            (true, false) => "healthy",
            (false, true) => "collapsed",
            (false, false) => "none",
        }
    }
}

/// What a call into a solved tier looks like to the server that makes it.
#[derive(Clone, Copy, Debug)]
struct Call {
    success: f64,
    mean_s: f64,
    var_s: f64,
}

/// Tier `m` with its servers held for the downstream call `below` and its requests failing
/// when that call fails.
fn effective(m: &Model, below: Option<Call>) -> Model {
    let Some(b) = below else {
        return m.clone();
    };
    let s = &m.service_time;
    let mean = mean_s(s) + b.mean_s;
    let var = scv(s).min(1e6) * mean_s(s).powi(2) + b.var_s;
    let mut e = m.clone();
    e.service_time = Dist::lognormal_from_mean_cv(mean * 1e9, var.max(0.0).sqrt() / mean);
    e.error_rate = 1.0 - (1.0 - m.error_rate) * b.success.clamp(0.0, 1.0);
    e
}

/// The tier at `load` (inner tiers: first tries per second; tier 0 keeps its own load) in
/// one branch.
fn solve_tier(m: &Model, load: Option<f64>, collapsed: bool) -> Option<(Model, Equilibrium)> {
    let m = match load {
        Some(x) => m.at_load(x.max(0.0)),
        None => m.clone(),
    };
    let eq = if collapsed {
        fluid::collapsed(&m)?
    } else {
        fluid::healthy(&m)?
    };
    Some((m, eq))
}

/// Requests per second the tier's servers take (and so calls per second made downstream).
fn served(m: &Model, eq: &Equilibrium, collapsed: bool) -> f64 {
    if collapsed {
        m.capacity()
    } else {
        eq.attempts_per_s
    }
}

/// A call into the solved tier `m` (effective model) at equilibrium `eq`: its success
/// probability and the mean and variance of its duration (retries and backoff included; a
/// budget caps the attempts' rate, not this duration: docs/analytic.md §10).
fn call_of(m: &Model, eq: &Equilibrium, collapsed: bool) -> Call {
    let h = mean_s(&m.service_time);
    let h_var = scv(&m.service_time).min(1e6) * h * h;
    let mu = m.capacity();
    let a = eq.attempts_per_s;
    let p = eq.p_fail.clamp(0.0, 1.0);
    // Answered in time (`z`), the response time of those (`r_ok`, `v_ok`).
    let (z, wait, wait_var) = if collapsed {
        let age = overload_age(m, mu);
        let served = (mu / a.max(1e-12)).min(1.0);
        let q = match m.timeout_s {
            Some(t) if age.is_finite() => late_behind(age, 0.0, &m.service_time, t),
            Some(_) => 1.0,
            None => 0.0,
        };
        let w = if age.is_finite() {
            age
        } else {
            m.timeout_s.unwrap_or(0.0)
        };
        (served * (1.0 - q), w, 0.0)
    } else {
        let w = Wait::stationary(a, m.servers, h, scv(&m.service_time));
        let late = match (w, m.timeout_s) {
            (Some(w), Some(t)) => late_stationary(w, &m.service_time, t),
            _ => 0.0,
        };
        let (mw, vw) = w.map_or((0.0, 0.0), |w| {
            let m1 = w.pw / w.theta;
            (m1, 2.0 * w.pw / (w.theta * w.theta) - m1 * m1)
        });
        (1.0 - late, mw, vw)
    };
    let t_out = m.timeout_s;
    let r_ok = t_out.map_or(wait + h, |t| (wait + h).min(t));
    let v_ok = wait_var + h_var;
    let t_late = t_out.unwrap_or(r_ok);
    let t_fail = if p > 1e-12 {
        (((1.0 - z) * t_late + z * m.error_rate * r_ok) / p).max(0.0)
    } else {
        t_late
    };
    // Attempts fail independently with probability `p`; backoff `b_k` before retry `k`.
    let n = attempts_allowed(m);
    let (mut e1, mut e2) = (0.0, 0.0);
    let mut reach = 1.0;
    let mut before = 0.0; // time spent on the failed attempts and backoffs so far
    for k in 1..=n {
        let ok = reach * (1.0 - p);
        let d = before + r_ok;
        e1 += ok * d;
        e2 += ok * (d * d + v_ok);
        before += t_fail;
        if k == n {
            e1 += reach * p * before;
            e2 += reach * p * before * before;
        } else {
            before += m.backoff(k as usize);
        }
        reach *= p;
    }
    Call {
        success: eq.success_ratio,
        mean_s: e1,
        var_s: (e2 - e1 * e1).max(0.0),
    }
}

/// A crude downstream call for the starting point of the iteration: a healthy tier answers at
/// once after its own work (and its dependency's), a collapsed one times out every attempt.
fn guess(tiers: &[Model], branch: &[bool]) -> Option<Call> {
    let (m, rest) = tiers.split_first()?;
    let below = guess(rest, &branch[1..]);
    let own = mean_s(&m.service_time) + below.map_or(0.0, |b| b.mean_s);
    Some(if branch[0] {
        let n = attempts_allowed(m);
        let t = m.timeout_s.unwrap_or(own * 10.0);
        let mean = (1..=n).map(|k| t + if k < n { m.backoff(k as usize) } else { 0.0 });
        Call {
            success: 0.0,
            mean_s: mean.sum(),
            var_s: 0.0,
        }
    } else {
        Call {
            success: (1.0 - m.error_rate) * below.map_or(1.0, |b| b.success),
            mean_s: own,
            var_s: own * own,
        }
    })
}

/// The chain's solution in one branch vector (`true`: that tier collapsed), if the iteration
/// of the loads converges to one (to 1e-6 relative).
pub fn solve(tiers: &[Model], branch: &[bool]) -> Option<ChainEquilibrium> {
    let k = tiers.len();
    // Starting loads: top-down, each tier with the guessed call below it.
    let mut x = vec![0.0; k];
    for i in 0..k {
        let below = guess(&tiers[i + 1..], &branch[(i + 1).min(k)..]);
        let m = effective(&tiers[i], below);
        let load = (i > 0).then_some(x[i]);
        let Some((m, eq)) = solve_tier(&m, load, branch[i]) else {
            // No such state with the guessed call: carry the load down and let the
            // iteration's scaling find a start.
            let carry = if i == 0 { tiers[0].load_knob() } else { x[i] };
            for v in x.iter_mut().skip(i + 1) {
                *v = carry;
            }
            break;
        };
        if i + 1 < k {
            x[i + 1] = served(&m, &eq, branch[i]);
        }
    }
    type States = Vec<(Model, Equilibrium, Call)>;
    // One bottom-up pass at loads `x`: every tier's state, and the loads they send down.
    let pass = |x: &[f64]| -> Option<(States, Vec<f64>, f64)> {
        let mut states: Vec<Option<(Model, Equilibrium, Call)>> = vec![None; k];
        let mut below = None;
        for i in (0..k).rev() {
            let m = effective(&tiers[i], below);
            let load = (i > 0).then_some(x[i]);
            let (m, eq) = solve_tier(&m, load, branch[i])?;
            let call = call_of(&m, &eq, branch[i]);
            below = Some(call);
            states[i] = Some((m, eq, call));
        }
        let states: States = states.into_iter().flatten().collect();
        let mut next = x.to_vec();
        let mut res: f64 = 0.0;
        for i in 1..k {
            let (m, eq, _) = &states[i - 1];
            next[i] = served(m, eq, branch[i - 1]);
            res = res.max((next[i] - x[i]).abs() / next[i].abs().max(1e-9));
        }
        (!res.is_nan()).then_some((states, next, res))
    };
    // The starting loads, scaled by 1, 2, 1/2, 4, 1/4, … until every tier's branch exists.
    let mut cur = None;
    for j in 0..40 {
        let f = 2f64.powi(if j % 2 == 0 { -(j / 2) } else { j / 2 + 1 });
        let y: Vec<f64> = x.iter().map(|v| v * f).collect();
        if let Some(c) = pass(&y) {
            x = y;
            cur = Some(c);
            break;
        }
    }
    let (mut states, mut next, mut res) = cur?;
    // Fixed-point iteration with a backtracking step: a step toward the map's image is kept
    // only if it shrinks the residual (which a stable fixed point, slope below 1, allows).
    let mut step: f64 = 1.0;
    for _ in 0..MAX_ITER {
        if res <= 1e-9 {
            break;
        }
        let mut moved = false;
        while step > 1e-9 {
            let y: Vec<f64> = x
                .iter()
                .zip(&next)
                .map(|(a, b)| a + step * (b - a))
                .collect();
            match pass(&y) {
                Some((s2, n2, r2)) if r2 < res => {
                    (x, states, next, res) = (y, s2, n2, r2);
                    step = (step * 2.0).min(1.0);
                    moved = true;
                    break;
                }
                _ => step *= 0.5,
            }
        }
        if !moved {
            break;
        }
    }
    if res > 1e-6 {
        return None;
    }
    let tiers = states
        .into_iter()
        .enumerate()
        .map(|(i, (m, eq, call))| TierState {
            label: format!("{} -> {}", m.client, m.service),
            collapsed: branch[i],
            calls_per_s: eq.first_per_s,
            holding_s: mean_s(&m.service_time),
            capacity_per_s: m.capacity(),
            call_s: call.mean_s,
            eq,
        })
        .collect();
    Some(ChainEquilibrium { tiers })
}

/// Every branch vector of a chain of `k` tiers (at most 4 tiers: 16 vectors).
fn branches(k: usize) -> impl Iterator<Item = Vec<bool>> {
    (0..1u32 << k).map(move |bits| (0..k).map(|i| bits >> i & 1 == 1).collect())
}

/// The healthy equilibrium and the collapsed ones.
pub fn equilibria(tiers: &[Model]) -> ChainEquilibria {
    let healthy = solve(tiers, &vec![false; tiers.len()]);
    let mut collapsed: Vec<ChainEquilibrium> = branches(tiers.len())
        .skip(1)
        .filter_map(|b| solve(tiers, &b))
        .collect();
    collapsed.sort_by(|a, b| a.goodput_per_s().total_cmp(&b.goodput_per_s()));
    ChainEquilibria { healthy, collapsed }
}

/// The chain at another load (the client's knob).
pub fn at_load(tiers: &[Model], knob: f64) -> Vec<Model> {
    let mut t = tiers.to_vec();
    t[0] = tiers[0].at_load(knob);
    t
}

fn has_collapse(tiers: &[Model]) -> bool {
    branches(tiers.len())
        .skip(1)
        .any(|b| solve(tiers, &b).is_some())
}

fn has_healthy(tiers: &[Model]) -> bool {
    solve(tiers, &vec![false; tiers.len()]).is_some()
}

/// Bisection on the client's load for the boundary of a predicate, to 1e-4 relative.
fn boundary(tiers: &[Model], lo: f64, hi: f64, pred: &dyn Fn(&[Model]) -> bool) -> f64 {
    let (mut lo, mut hi) = (lo, hi);
    let above = pred(&at_load(tiers, hi));
    for _ in 0..60 {
        let mid = 0.5 * (lo + hi);
        if pred(&at_load(tiers, mid)) == above {
            hi = mid;
        } else {
            lo = mid;
        }
        if hi - lo <= 1e-4 * hi.max(1e-9) {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// The load range in which the chain is bistable (the knob of tier 0: rate or users),
/// searched up to 64 × the last service's capacity scaled to the load knob.
pub fn load_range(tiers: &[Model]) -> LoadRange {
    let bottleneck = tiers
        .iter()
        .map(|m| m.capacity())
        .fold(f64::INFINITY, f64::min);
    let top = match &tiers[0].load {
        Load::Open { .. } => 64.0 * bottleneck,
        Load::Closed { think_s, .. } => {
            64.0 * bottleneck
                * (think_s + tiers[0].timeout_s.unwrap_or(1.0) * tiers[0].max_attempts as f64)
        }
    };
    let collapse_from =
        has_collapse(&at_load(tiers, top)).then(|| boundary(tiers, 0.0, top, &has_collapse));
    let tiny = top * 1e-9;
    let healthy_until =
        has_healthy(&at_load(tiers, tiny)).then(|| boundary(tiers, tiny, top, &has_healthy));
    LoadRange {
        collapse_from,
        healthy_until,
    }
}
