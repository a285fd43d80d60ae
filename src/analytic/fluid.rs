//! The fluid (mean-field) model's equilibria: the healthy fixed point, the collapsed one, their
//! stability, the critical backlog between them, and the load range in which both exist
//! (bistability: the "hidden capacity" of Bronson et al., HotOS 2021). Equations and
//! approximations: docs/analytic.md §2–§4.
//!
//! Notation: `F` first tries per second, `a` attempts per second arriving at the service,
//! `μ = c / E[S]` its capacity, `T` the attempt timeout, `p` the probability that an attempt
//! fails (late, rejected or an error), `A(p)` attempts per call.

use models::Dist;

use super::queueing::{Wait, late_behind, late_stationary, mean_s, scv};
use super::scope::{Budget, Load, Model, Order};

/// One equilibrium of the fluid model.
#[derive(Clone, Debug, PartialEq)]
pub struct Equilibrium {
    /// Cache hit ratio (0 without a cache).
    pub hit_ratio: f64,
    /// First tries per second.
    pub first_per_s: f64,
    /// Attempts per second at the service.
    pub attempts_per_s: f64,
    /// Probability that an attempt fails.
    pub p_fail: f64,
    /// Successful calls ÷ first tries.
    pub success_ratio: f64,
    /// Successful calls per second.
    pub goodput_per_s: f64,
    /// `attempts ÷ first tries`.
    pub amplification: f64,
    /// Slope of the fixed-point map `a ↦ F·A(p(a))` at the equilibrium: stable below 1.
    pub slope: f64,
    /// What the backlog does there.
    pub backlog: Backlog,
}

/// The backlog at an equilibrium.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Backlog {
    /// Stationary queue, mean wait in seconds.
    Stationary { mean_wait_s: f64 },
    /// Grows without bound at this many requests per second (FIFO, unbounded queue).
    Growing { per_s: f64 },
    /// Held at a bound (queue capacity, expiry at the timeout, a queue-age or CoDel limit) of
    /// about `at` requests; the excess (`overflow_per_s`) is rejected, shed or expires.
    Pinned { at: f64, overflow_per_s: f64 },
}

/// Both equilibria and what lies between them.
#[derive(Clone, Debug, PartialEq)]
pub struct Equilibria {
    pub capacity_per_s: f64,
    pub healthy: Option<Equilibrium>,
    pub collapsed: Option<Equilibrium>,
    /// The smallest backlog (waiting requests) from which the system tips, if a backlog can tip
    /// it (FIFO-like order): the unstable equilibrium.
    pub critical_backlog: Option<f64>,
    /// With a cache: the hit ratio below which the misses alone exceed capacity.
    pub critical_hit_ratio: Option<f64>,
}

impl Equilibria {
    pub fn bistable(&self) -> bool {
        self.healthy.is_some() && self.collapsed.is_some()
    }

    /// `healthy`, `bistable`, `collapsed` (no healthy state: overloaded) or `none`.
    pub fn class(&self) -> &'static str {
        match (self.healthy.is_some(), self.collapsed.is_some()) {
            (true, true) => "bistable",
            (true, false) => "healthy",
            (false, true) => "collapsed",
            (false, false) => "none",
        }
    }
}

/// Attempts the deadline lets a call make when every attempt times out.
pub fn attempts_allowed(m: &Model) -> u32 {
    let (Some(d), Some(t)) = (m.deadline_s, m.timeout_s) else {
        return m.max_attempts;
    };
    let mut start = 0.0;
    let mut k = 0;
    while k < m.max_attempts && start < d {
        k += 1;
        start += t + m.backoff(k as usize);
    }
    k.max(1)
}

/// Retries per first try the budget allows in the long run, given the attempt failure
/// probability `p`, the first-try rate and the attempt rate (docs/analytic.md §3).
pub fn budget_cap(m: &Model, p: f64, first: f64, attempt_s: f64) -> f64 {
    match m.budget {
        Budget::Unlimited => f64::INFINITY,
        Budget::Bucket { fill, .. } => fill,
        Budget::Finagle {
            fraction,
            min_per_s,
        } => fraction + min_per_s / first.max(1e-12),
        Budget::AwsQuota {
            cost,
            timeout_cost,
            refund,
            ..
        } => {
            let c = if m.timeout_s.is_some() {
                timeout_cost
            } else {
                cost
            };
            refund * (1.0 - p) / c.max(1e-12)
        }
        Budget::Grpc { ratio, .. } => {
            if p <= ratio / (1.0 + ratio) {
                f64::INFINITY
            } else {
                0.0
            }
        }
        Budget::Envoy {
            fraction,
            min_concurrency,
        } => {
            let f = fraction.min(0.999);
            (f / (1.0 - f)).max(min_concurrency / (attempt_s.max(1e-9) * first.max(1e-12)))
        }
    }
}

/// Attempts per call `A(p) = 1 + min(p + … + p^(m−1), cap)`.
pub fn amplification(m: &Model, p: f64, first: f64, attempt_s: f64) -> f64 {
    let n = attempts_allowed(m);
    let mut demand = 0.0;
    let mut pk = 1.0;
    for _ in 1..n {
        pk *= p;
        demand += pk;
    }
    1.0 + demand.min(budget_cap(m, p, first, attempt_s))
}

/// First tries per second when attempts fail with probability `p` and a successful one takes
/// `ok_s` (closed loop: `N / (Z + D)`, `D` the mean call duration).
pub fn first_rate(m: &Model, p: f64, ok_s: f64) -> f64 {
    match &m.load {
        Load::Open { .. } => m.load_knob(),
        Load::Closed { users, think_s } => {
            let t = m.timeout_s.unwrap_or(ok_s);
            let n = attempts_allowed(m);
            let mut d = 0.0;
            let mut reach = 1.0;
            for k in 1..=n {
                let retry = if k < n { m.backoff(k as usize) } else { 0.0 };
                d += reach * ((1.0 - p) * ok_s + p * (t + retry));
                reach *= p;
            }
            users / (think_s + d).max(1e-9)
        }
    }
}

/// The cache's steady hit ratio when calls arrive at `first` and a miss fills its key with
/// probability `fill` (0 without a cache).
pub fn hit_ratio(m: &Model, first: f64, fill: f64) -> f64 {
    m.cache.as_ref().map_or(0.0, |c| {
        c.hit_ratio(&c.steady_occupancy(first, fill.clamp(0.0, 1.0)))
    })
}

/// Probability that a miss call fills its key: it succeeded (look-aside), or one of its
/// attempts was answered at all (read-through; `answered` per attempt).
pub fn fill_probability(m: &Model, p: f64, amp: f64, answered: f64) -> f64 {
    match &m.cache {
        Some(c) if c.read_through => 1.0 - (1.0 - answered.clamp(0.0, 1.0)).powf(amp.max(1.0)),
        _ => (amp * (1.0 - p)).clamp(0.0, 1.0),
    }
}

/// `P(late)` of an attempt at a stationary (healthy) queue with arrival rate `a`; `None` at
/// or above capacity.
fn p_healthy(m: &Model, a: f64) -> Option<(f64, f64)> {
    let s = &m.service_time;
    let w = Wait::stationary(a, m.servers, mean_s(s), scv(s))?;
    let late = m.timeout_s.map_or(0.0, |t| late_stationary(w, s, t));
    Some((late + (1.0 - late) * m.error_rate, w.mean_s()))
}

/// Age at which work is served when the service is overloaded, per discipline and bounds.
pub(crate) fn overload_age(m: &Model, mu: f64) -> f64 {
    let mut age = match m.order {
        Order::Fifo => f64::INFINITY,
        Order::Lifo | Order::AdaptiveLifo => 0.0,
        Order::Codel { target_s } => target_s,
    };
    if let Some(k) = m.queue_capacity {
        age = age.min(k / mu);
    }
    if let Some(q) = m.max_queue_age_s {
        age = age.min(q);
    }
    if m.expired_leave
        && let Some(t) = m.timeout_s
    {
        age = age.min(t);
    }
    age
}

/// `P(fail)` of an attempt at an overloaded service with arrival rate `a > μ`: a fraction
/// `μ/a` is served (at the overload age), the rest is rejected, shed, expires or waits.
fn p_overload(m: &Model, a: f64, mu: f64) -> f64 {
    let served = (mu / a).min(1.0);
    let q = match m.timeout_s {
        Some(t) => {
            let age = overload_age(m, mu);
            if age.is_infinite() {
                1.0
            } else {
                late_behind(age, 0.0, &m.service_time, t)
            }
        }
        None => 0.0,
    };
    let unserved_fail = if overload_age(m, mu).is_infinite() && m.timeout_s.is_none() {
        // Unbounded FIFO and no timeout: the excess waits and is eventually served.
        0.0
    } else {
        1.0
    };
    let ok = served * (1.0 - q) * (1.0 - m.error_rate);
    let fail = 1.0 - ok - (1.0 - served) * (1.0 - unserved_fail);
    fail.clamp(0.0, 1.0)
}

fn point(first: f64, hit: f64, a: f64, p: f64, slope: f64, backlog: Backlog) -> Equilibrium {
    let misses = first * (1.0 - hit);
    let amp = if first > 0.0 { a / first } else { 1.0 };
    let per_miss = if misses > 0.0 { a / misses } else { 1.0 };
    let success = (hit + (1.0 - hit) * per_miss * (1.0 - p)).clamp(0.0, 1.0);
    Equilibrium {
        hit_ratio: hit,
        first_per_s: first,
        attempts_per_s: a,
        p_fail: p,
        success_ratio: success,
        goodput_per_s: first * success,
        amplification: amp,
        slope,
        backlog,
    }
}

/// The healthy fixed point: iterate `a ← F·A(p(a))` from `a = F`; the iteration increases to
/// the smallest fixed point below capacity, or passes capacity (no healthy state).
pub fn healthy(m: &Model) -> Option<Equilibrium> {
    let mu = m.capacity();
    let s_mean = mean_s(&m.service_time);
    let map = |a: f64| -> Option<(f64, f64, f64, f64)> {
        let (p, wait) = p_healthy(m, a)?;
        let ok_s = wait + s_mean;
        let first = first_rate(m, p, ok_s);
        let att = m.timeout_s.map_or(ok_s, |t| (1.0 - p) * ok_s + p * t);
        let amp = amplification(m, p, first, att);
        let hit = hit_ratio(m, first, fill_probability(m, p, amp, 1.0));
        Some((first * (1.0 - hit) * amp, p, first, hit))
    };
    if matches!(m.load, Load::Closed { .. }) {
        // A closed loop's map falls as waits lengthen calls: the smallest crossing of the
        // diagonal, by a scan of (0, μ) and bisection.
        let g = |a: f64| map(a).map(|x| x.0 - a);
        let n = 2000;
        let mut prev = mu * 1e-6;
        let mut found = None;
        for i in 1..n {
            let x = mu * i as f64 / n as f64;
            match g(x) {
                Some(v) if v <= 0.0 => {
                    found = Some((prev, x));
                    break;
                }
                Some(_) => prev = x,
                None => return None,
            }
        }
        let (mut lo, mut hi) = found?;
        for _ in 0..100 {
            let mid = 0.5 * (lo + hi);
            if g(mid).is_some_and(|v| v > 0.0) {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        return finish(m, 0.5 * (lo + hi), &map);
    }
    let mut a = first_rate(m, 0.0, s_mean).min(mu * (1.0 - 1e-9));
    // Geometric convergence at the map's slope; near the edge of the healthy range it slows,
    // and the last iterate stands (documented limit).
    for _ in 0..5_000 {
        let (next, ..) = map(a)?;
        if next >= mu {
            return None;
        }
        if (next - a).abs() <= 1e-10 * mu.max(1.0) {
            a = next;
            break;
        }
        a = next;
    }
    finish(m, a, &map)
}

/// The healthy equilibrium at attempt rate `a`, with the map's slope there.
fn finish(
    m: &Model,
    a: f64,
    map: &dyn Fn(f64) -> Option<(f64, f64, f64, f64)>,
) -> Option<Equilibrium> {
    let mu = m.capacity();
    let (_, p, first, hit) = map(a)?;
    let h = 1e-6 * mu;
    let slope = match (map(a + h), map((a - h).max(0.0))) {
        (Some((up, ..)), Some((down, ..))) => (up - down) / (2.0 * h),
        _ => f64::INFINITY,
    };
    let (_, wait) = p_healthy(m, a)?;
    Some(point(
        first,
        hit,
        a,
        p,
        slope,
        Backlog::Stationary { mean_wait_s: wait },
    ))
}

/// The collapsed fixed point: a root of `h(a) = F·A(p_o(a)) − a` above capacity, where
/// `p_o` is the overload failure probability; `None` if the overload drains.
pub fn collapsed(m: &Model) -> Option<Equilibrium> {
    let mu = m.capacity();
    let t = m.timeout_s.unwrap_or(0.0);
    let answered: f64 = if overload_age(m, mu).is_infinite() {
        1.0
    } else {
        0.0
    };
    let map = |a: f64| {
        let p = p_overload(m, a, mu);
        let first = first_rate(m, p, t.max(mean_s(&m.service_time)));
        let amp = amplification(m, p, first, t);
        let answered = answered.max((mu / a).min(1.0));
        let hit = hit_ratio(m, first, fill_probability(m, p, amp, answered));
        (first * (1.0 - hit) * amp, p, first, hit)
    };
    let lo0 = mu * (1.0 + 1e-9);
    let (h_lo, ..) = map(lo0);
    if h_lo <= lo0 {
        return None;
    }
    // An upper end where the map is below the diagonal.
    let mut hi = lo0 * 2.0;
    let mut guard = 0;
    while map(hi).0 > hi {
        hi *= 2.0;
        guard += 1;
        if guard > 200 {
            return None;
        }
    }
    let mut lo = lo0;
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if map(mid).0 > mid {
            lo = mid;
        } else {
            hi = mid;
        }
    }
    let a = 0.5 * (lo + hi);
    let (_, p, first, hit) = map(a);
    let d = 1e-6 * a;
    let slope = (map(a + d).0 - map(a - d).0) / (2.0 * d);
    let age = overload_age(m, mu);
    let backlog = if age.is_infinite() {
        Backlog::Growing { per_s: a - mu }
    } else {
        Backlog::Pinned {
            at: age * mu,
            overflow_per_s: a - mu,
        }
    };
    Some(point(first, hit, a, p, slope, backlog))
}

/// Failure probability of an attempt that finds `b` requests waiting ahead of it (FIFO): its
/// wait is the time for `b` departures at rate `μ` (mean `b/μ`, variance `b·c_d²/μ²`).
pub fn p_behind(m: &Model, b: f64) -> f64 {
    let late = late_behind_at(m, b, m.capacity(), &m.service_time);
    late + (1.0 - late) * m.error_rate
}

/// `P(late)` behind a backlog `b` at a service of capacity `mu` whose service time is
/// `service` (a slowed or shrunk service during a trigger); 0 without a timeout.
pub fn late_behind_at(m: &Model, b: f64, mu: f64, service: &Dist) -> f64 {
    let Some(t) = m.timeout_s else {
        return 0.0;
    };
    let cd2 = if m.servers == 1 {
        scv(service).min(1e6)
    } else {
        1.0
    };
    let mu = mu.max(1e-9);
    late_behind(b / mu, (b.max(0.0) * cd2).sqrt() / mu, service, t)
}

/// The critical backlog: the smallest `B` at which attempts arriving behind it make the
/// attempt rate exceed capacity, `F·A(p(B)) ≥ μ` (FIFO-like orders only; LIFO and CoDel serve
/// fresh work first, so a backlog alone does not tip them).
pub fn critical_backlog(m: &Model) -> Option<f64> {
    if !matches!(m.order, Order::Fifo) {
        return None;
    }
    let mu = m.capacity();
    let t = m.timeout_s?;
    let s_mean = mean_s(&m.service_time);
    // The cache does not empty at once: its healthy hit ratio is held.
    let h = healthy(m);
    let hit = h.as_ref().map_or(0.0, |h| h.hit_ratio);
    // A closed loop's calls last at least the healthy queue's wait.
    let w_h = match h.map(|h| h.backlog) {
        Some(Backlog::Stationary { mean_wait_s }) => mean_wait_s,
        _ => 0.0,
    };
    let over = |b: f64| {
        let p = p_behind(m, b);
        let first = first_rate(m, p, (b / mu).max(w_h) + s_mean);
        first * (1.0 - hit) * amplification(m, p, first, t) >= mu
    };
    if over(0.0) {
        return Some(0.0);
    }
    let mut cap = m.queue_capacity.unwrap_or(f64::INFINITY);
    if m.expired_leave {
        cap = cap.min(mu * t);
    }
    if let Some(q) = m.max_queue_age_s {
        cap = cap.min(mu * q);
    }
    let mut hi = (mu * t).max(1.0);
    while !over(hi) {
        hi *= 2.0;
        if hi > 1e12 || hi > cap * 2.0 {
            break;
        }
    }
    if !over(hi) {
        return None;
    }
    let mut lo = 0.0;
    for _ in 0..100 {
        let mid = 0.5 * (lo + hi);
        if over(mid) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    (hi <= cap).then_some(hi)
}

/// Both equilibria and the critical backlog.
pub fn equilibria(m: &Model) -> Equilibria {
    Equilibria {
        capacity_per_s: m.capacity(),
        healthy: healthy(m),
        collapsed: collapsed(m),
        critical_backlog: critical_backlog(m),
        critical_hit_ratio: critical_hit_ratio(m),
    }
}

/// With a cache: the hit ratio below which the misses alone (no retries yet) exceed capacity,
/// `1 − μ/F`: a flush or a cold start that leaves the hit ratio below it builds a backlog.
pub fn critical_hit_ratio(m: &Model) -> Option<f64> {
    m.cache.as_ref()?;
    let first = first_rate(m, 0.0, mean_s(&m.service_time));
    (first > 0.0).then(|| (1.0 - m.capacity() / first).max(0.0))
}

/// The load range (in the model's load knob: rate or users) in which the design is bistable:
/// `[lower, upper]`, with `lower` the least load at which a collapsed state exists (the hidden
/// capacity) and `upper` the greatest at which a healthy one does. Searched on
/// `[0, 64 × capacity]` by bisection to 1e-6 relative.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct LoadRange {
    /// Least load with a collapsed state (`None`: none up to the search limit).
    pub collapse_from: Option<f64>,
    /// Greatest load with a healthy state.
    pub healthy_until: Option<f64>,
}

impl LoadRange {
    pub fn bistable(&self) -> Option<(f64, f64)> {
        match (self.collapse_from, self.healthy_until) {
            (Some(lo), Some(hi)) if lo < hi * (1.0 - 1e-4) => Some((lo, hi)),
            _ => None,
        }
    }
}

fn knob_limit(m: &Model) -> f64 {
    match &m.load {
        Load::Open { .. } => 64.0 * m.capacity(),
        Load::Closed { think_s, .. } => {
            64.0 * m.capacity() * (think_s + m.timeout_s.unwrap_or(1.0) * m.max_attempts as f64)
        }
    }
}

/// Bisection for the boundary of a predicate monotone in the load.
fn boundary(m: &Model, lo: f64, hi: f64, holds_above: bool, pred: &dyn Fn(&Model) -> bool) -> f64 {
    let (mut lo, mut hi) = (lo, hi);
    for _ in 0..80 {
        let mid = 0.5 * (lo + hi);
        let at = pred(&m.at_load(mid));
        if at == holds_above {
            hi = mid;
        } else {
            lo = mid;
        }
        if hi - lo <= 1e-6 * hi.max(1e-9) {
            break;
        }
    }
    0.5 * (lo + hi)
}

pub fn load_range(m: &Model) -> LoadRange {
    let top = knob_limit(m);
    let has_collapse = |x: &Model| collapsed(x).is_some();
    let has_healthy = |x: &Model| healthy(x).is_some();
    let collapse_from =
        has_collapse(&m.at_load(top)).then(|| boundary(m, 0.0, top, true, &has_collapse));
    let tiny = top * 1e-9;
    let healthy_until =
        has_healthy(&m.at_load(tiny)).then(|| boundary(m, tiny, top, false, &has_healthy));
    LoadRange {
        collapse_from,
        healthy_until,
    }
}
