//! The fluid model in time: a delay-differential system stepped at `dt`, driven by the
//! scenario's own triggers. First tries arrive at the client's rate; each attempt fails with
//! the probability its arrival state implies (behind the fluid backlog, or at the stationary
//! healthy queue); a failed attempt's retry arrives one timeout (or at once, for a rejection)
//! plus its mean backoff later; budgets hold fluid token balances. From the run come the
//! predicted recovery time once the trigger ends, and — by bisection on the first trigger's
//! duration — the shortest trigger that tips the system. docs/analytic.md §5.

use models::Action;

use super::fluid::{attempts_allowed, budget_cap, first_rate, late_behind_at};
use super::queueing::{Wait, late_stationary, mean_s, scaled, scv, survival};
use super::scope::{Budget, Load, Model, Order};

/// Longest fluid run (seconds); longer scenarios are analysed over this much.
pub const MAX_HORIZON_S: f64 = 1e6;
/// Most steps of one fluid run.
pub const MAX_STEPS: f64 = 2e6;
/// Most pending-retry slots (attempt numbers × delay slots).
pub const MAX_RING: f64 = 4e6;

/// One fluid run, reduced to 1-second windows.
#[derive(Clone, Debug, PartialEq)]
pub struct Path {
    /// Per window: (first tries, successes, backlog at the window's end).
    pub windows: Vec<(f64, f64, f64)>,
    /// Accumulated Poisson variance of the backlog (∫ (arrivals + departures) dt while the
    /// queue is non-empty): the diffusion correction's scale, requests².
    pub backlog_var: Vec<f64>,
    pub dt: f64,
}

impl Path {
    pub fn backlog_at(&self, t: f64) -> f64 {
        let i = (t.floor() as usize).min(self.windows.len().saturating_sub(1));
        self.windows.get(i).map_or(0.0, |w| w.2)
    }

    fn ratio(&self, i: usize) -> f64 {
        let (f, s, _) = self.windows[i];
        if f > 0.0 { s / f } else { 1.0 }
    }

    /// Success ratio over `[from, to)` whole windows.
    pub fn success_ratio(&self, from: f64, to: f64) -> f64 {
        let (a, b) = (
            from.max(0.0) as usize,
            (to.max(0.0) as usize).min(self.windows.len()),
        );
        let (mut f, mut s) = (0.0, 0.0);
        for w in self.windows.iter().take(b).skip(a) {
            f += w.0;
            s += w.1;
        }
        if f > 0.0 { s / f } else { 1.0 }
    }

    /// The simulator's recovery definition on fluid windows: the earliest window start
    /// `≥ from` after which every window's success ratio is ≥ `threshold`.
    pub fn recovered_at(&self, from: f64, threshold: f64) -> Option<f64> {
        let start = from.ceil() as usize;
        let mut at = None;
        for i in (start..self.windows.len()).rev() {
            if self.ratio(i) >= threshold {
                at = Some(i);
            } else {
                break;
            }
        }
        at.map(|i| i as f64)
    }
}

/// Service and client state that actions change.
#[derive(Clone, Debug)]
struct Env {
    rate: f64,
    servers: f64,
    slowdown: f64,
    error_rate: f64,
    down: bool,
    partition_until: Option<f64>,
    retries: bool,
}

/// Runs the fluid model of `m` from an empty system for `horizon` seconds.
pub fn simulate(m: &Model, horizon: f64) -> Path {
    let horizon = horizon.clamp(1.0, MAX_HORIZON_S);
    let t_out = m.timeout_s.unwrap_or(0.0);
    let s_mean = mean_s(&m.service_time);
    let s_scv = scv(&m.service_time);
    let n_att = attempts_allowed(m) as usize;
    let longest = t_out + m.backoff_s.iter().cloned().fold(0.0, f64::max);
    // Limits: at most MAX_STEPS steps and MAX_RING retry slots in all (a coarser step for
    // very long horizons or backoffs).
    let dt = (t_out / 100.0)
        .clamp(0.001, 0.02)
        .max(horizon / MAX_STEPS)
        .max(longest * n_att.max(1) as f64 / MAX_RING);
    let steps = (horizon / dt).ceil() as usize;
    let max_delay = longest + dt;
    let ring_len = (max_delay / dt).ceil() as usize + 2;
    // ring[k][slot]: retries that are attempt k+1 (k ≥ 1) due at that slot.
    let mut ring = vec![vec![0.0; ring_len]; n_att.max(1)];
    let mut env = Env {
        rate: match &m.load {
            Load::Open { schedule } => schedule.first().filter(|p| p.0 <= 0.0).map_or(0.0, |p| p.1),
            Load::Closed { .. } => 0.0,
        },
        servers: m.servers as f64,
        slowdown: 1.0,
        error_rate: m.error_rate,
        down: false,
        partition_until: None,
        retries: true,
    };
    let mut schedule: Vec<(f64, f64)> = match &m.load {
        Load::Open { schedule } => schedule.clone(),
        Load::Closed { .. } => Vec::new(),
    };
    schedule.reverse();
    let mut actions: Vec<(f64, Action)> = m
        .actions
        .iter()
        .map(|a| (a.at.as_secs_f64(), a.action.clone()))
        .collect();
    actions.reverse();
    let heal_times: Vec<f64> = m
        .actions
        .iter()
        .filter(|a| matches!(a.action, Action::SetPartition { on: false, .. }))
        .map(|a| a.at.as_secs_f64())
        .collect();
    let mut backlog = 0.0_f64;
    let mut held = 0.0_f64;
    let mut var = 0.0_f64;
    let mut p_prev = 0.0_f64;
    let mut service = (m.service_time.clone(), 1.0);
    let mut tokens = match m.budget {
        Budget::Bucket { size, .. } => size,
        Budget::AwsQuota { capacity, .. } => capacity,
        Budget::Grpc { max, .. } => max,
        _ => 0.0,
    };
    let mut occ = m.cache.as_ref().map(|c| c.initial());
    let mut windows = vec![(0.0, 0.0, 0.0); horizon.ceil() as usize];
    let mut vars = vec![0.0; windows.len()];
    for step in 0..steps {
        let t = step as f64 * dt;
        while schedule.last().is_some_and(|p| p.0 <= t) {
            if let Some(p) = schedule.pop() {
                env.rate = p.1;
            }
        }
        while actions.last().is_some_and(|a| a.0 <= t) {
            let Some((_, a)) = actions.pop() else { break };
            match a {
                Action::SetRate { rate_per_s, .. } => env.rate = rate_per_s,
                Action::SetServers { servers, .. } => env.servers = servers as f64,
                Action::SetSlowdown { factor, .. } => env.slowdown = factor,
                Action::SetErrorRate { error_rate, .. } => env.error_rate = error_rate,
                Action::Outage { .. } => {
                    env.down = true;
                    backlog = 0.0;
                }
                Action::Restore { .. } => env.down = false,
                Action::SetPartition { on, .. } => {
                    if on {
                        env.partition_until = Some(
                            heal_times
                                .iter()
                                .copied()
                                .find(|&h| h > t)
                                .unwrap_or(f64::INFINITY),
                        );
                    } else {
                        env.partition_until = None;
                        backlog += held;
                        held = 0.0;
                    }
                }
                Action::SetRetries { enabled, .. } => env.retries = enabled,
                Action::FlushCache { .. } => {
                    if let Some(o) = occ.as_mut() {
                        o.iter_mut().for_each(|x| *x = 0.0);
                    }
                }
                _ => {}
            }
        }
        let slot = step % ring_len;
        let mut due = vec![0.0; n_att];
        for (k, d) in due.iter_mut().enumerate().skip(1) {
            *d = std::mem::take(&mut ring[k][slot]);
            if !env.retries {
                *d = 0.0;
            }
        }
        let mu = if env.down {
            0.0
        } else {
            env.servers / (s_mean * env.slowdown)
        };
        if service.1 != env.slowdown {
            service = (scaled(&m.service_time, env.slowdown), env.slowdown);
        }
        let svc = &service.0;
        let behind = |b: f64| late_behind_at(m, b, mu, svc);
        let first = match &m.load {
            Load::Open { .. } => env.rate,
            Load::Closed { .. } => first_rate(m, p_prev, backlog / mu.max(1e-9) + s_mean),
        };
        let hit = match (&m.cache, &occ) {
            (Some(c), Some(o)) => c.hit_ratio(o),
            _ => 0.0,
        };
        due[0] = first * (1.0 - hit);
        let a: f64 = due.iter().sum();
        // Failure probability of the attempts sent now, and how long until the client knows.
        let (p, reject, detect) = if env.down {
            (1.0, 0.0, t_out)
        } else if let Some(heal) = env.partition_until {
            let late = match m.timeout_s {
                Some(tt) => {
                    let wait = (heal - t) + (backlog + held) / mu.max(1e-9);
                    if wait > tt {
                        1.0
                    } else {
                        behind((wait * mu).max(0.0))
                    }
                }
                None => 0.0,
            };
            (late, 0.0, t_out)
        } else {
            let cap = bound(m, mu);
            let congested = backlog > 1.0;
            let over = a > mu;
            let sheds = !m.expired_leave || bound_is_shedding(m, mu);
            let reject = if backlog >= cap - 1.0 && over && sheds {
                1.0 - mu / a
            } else {
                0.0
            };
            let late = match m.timeout_s {
                None => 0.0,
                Some(tt) => match m.order {
                    Order::Lifo | Order::AdaptiveLifo if congested => {
                        let fresh = (mu / a.max(1e-12)).min(1.0);
                        1.0 - fresh * (1.0 - survival(svc, tt))
                    }
                    Order::Codel { target_s } if congested => behind(backlog.min(target_s * mu)),
                    _ if congested => behind(backlog),
                    _ => match Wait::stationary(
                        a,
                        env.servers.max(1.0) as u32,
                        s_mean * env.slowdown,
                        s_scv,
                    ) {
                        Some(w) => late_stationary(w, svc, tt),
                        None => behind(0.0),
                    },
                },
            };
            let err = env.error_rate;
            let p = reject + (1.0 - reject) * (late + (1.0 - late) * err);
            (
                p.clamp(0.0, 1.0),
                reject,
                if reject > 0.5 { 0.0 } else { t_out },
            )
        };
        p_prev = p;
        // Retries: demand per attempt number, the budget's fluid balance, the ring.
        let mut demand = 0.0;
        let first_s = due[0];
        for (k, &ak) in due.iter().enumerate() {
            if k + 1 < n_att {
                demand += ak * p;
            }
        }
        let mut allowed = if env.retries { demand } else { 0.0 };
        match m.budget {
            Budget::Unlimited => {}
            Budget::Bucket { fill, size } => {
                tokens = (tokens + fill * first_s * dt).min(size);
                if tokens <= 1.0 {
                    allowed = allowed.min(fill * first_s);
                }
                tokens = (tokens - allowed * dt).max(0.0);
            }
            Budget::AwsQuota {
                capacity,
                cost,
                timeout_cost,
                refund,
            } => {
                let c = if detect > 0.0 { timeout_cost } else { cost };
                let refill = refund * first_s * (1.0 - p);
                tokens = (tokens + refill * dt).min(capacity);
                if tokens < c {
                    allowed = allowed.min(refill / c);
                }
                tokens = (tokens - allowed * c * dt).max(0.0);
            }
            Budget::Grpc { max, ratio } => {
                tokens = (tokens + (a * (1.0 - p) * ratio - a * p) * dt).clamp(0.0, max);
                if tokens <= max / 2.0 {
                    allowed = 0.0;
                }
            }
            Budget::Finagle { .. } | Budget::Envoy { .. } => {
                let cap = budget_cap(m, p, first_s, t_out.max(s_mean)) * first_s;
                allowed = allowed.min(cap);
            }
        }
        let share = if demand > 0.0 { allowed / demand } else { 0.0 };
        for (k, &ak) in due.iter().enumerate() {
            if k + 1 < n_att && ak > 0.0 {
                let delay = detect + m.backoff(k + 1);
                let at = (step + ((delay / dt).round() as usize).max(1)) % ring_len;
                ring[k + 1][at] += ak * p * share;
            }
        }
        // The cache: misses fill their keys when answered (read-through) or successful.
        if let (Some(c), Some(o)) = (&m.cache, occ.as_mut()) {
            let misses = due[0].max(1e-12);
            // Answers come from completions: at most `μ` per second while a backlog waits,
            // shared between first tries and retries like the arrivals.
            let answered = if backlog > 0.0 {
                a.min(mu)
            } else {
                a * (1.0 - reject)
            };
            let fill = if c.read_through {
                answered / a.max(1e-12)
            } else {
                (a * (1.0 - p)).min(answered) / misses
            };
            c.step(o, first, fill, dt);
        }
        // The queue.
        let admitted = a * (1.0 - reject);
        if env.down {
            backlog = 0.0;
        } else if env.partition_until.is_some() {
            held += a * dt;
            backlog = (backlog - mu * dt).max(0.0);
        } else {
            if backlog > 0.0 || admitted > mu {
                var += (admitted + mu) * dt;
            }
            backlog = (backlog + (admitted - mu) * dt).max(0.0);
            backlog = backlog.min(bound(m, mu));
        }
        let w = (t as usize).min(windows.len().saturating_sub(1));
        windows[w].0 += first * dt;
        windows[w].1 += (a * (1.0 - p) + first * hit) * dt;
        windows[w].2 = backlog + held;
        vars[w] = var;
    }
    Path {
        windows,
        backlog_var: vars,
        dt,
    }
}

/// The most that can wait: the queue bound, expiry at the timeout, a queue-age or CoDel limit.
fn bound(m: &Model, mu: f64) -> f64 {
    let mut cap = m.queue_capacity.unwrap_or(f64::INFINITY);
    if m.expired_leave
        && let Some(t) = m.timeout_s
    {
        cap = cap.min(mu * t);
    }
    if let Some(q) = m.max_queue_age_s {
        cap = cap.min(mu * q);
    }
    if let Order::Codel { target_s } = m.order {
        cap = cap.min(mu * target_s.max(0.0) + 1.0);
    }
    cap
}

/// Whether the bound sheds (answers "rejected" at once) rather than letting work expire.
fn bound_is_shedding(m: &Model, mu: f64) -> bool {
    let expiry = m.timeout_s.map_or(f64::INFINITY, |t| mu * t);
    let other = {
        let mut c = m.queue_capacity.unwrap_or(f64::INFINITY);
        if let Some(q) = m.max_queue_age_s {
            c = c.min(mu * q);
        }
        if let Order::Codel { target_s } = m.order {
            c = c.min(mu * target_s);
        }
        c
    };
    other <= expiry
}

/// What happens after the scenario's trigger, as the fluid model predicts.
#[derive(Clone, Debug, PartialEq)]
pub struct Outcome {
    /// Success ratio before the trigger (the baseline).
    pub baseline_ratio: f64,
    /// Trigger end (seconds).
    pub trigger_end_s: f64,
    /// Recovery time after the trigger's end, if within the horizon.
    pub recovery_s: Option<f64>,
    /// Backlog at the trigger's end.
    pub backlog_at_end: f64,
    /// Horizon the fluid run went to.
    pub horizon_s: f64,
}

/// Runs the scenario as written through the fluid model; `None` without a trigger.
pub fn outcome(m: &Model, extra_s: f64) -> Option<Outcome> {
    let (from, to) = m.trigger?;
    let horizon = m.duration_s.max(to + extra_s);
    let path = simulate(m, horizon);
    let baseline = path.success_ratio(m.warmup_s.min(from), from);
    Some(Outcome {
        baseline_ratio: baseline,
        trigger_end_s: to,
        recovery_s: path
            .recovered_at(to, m.recovery_fraction * baseline)
            .map(|r| r - to),
        backlog_at_end: path.backlog_at(to),
        horizon_s: horizon.min(MAX_HORIZON_S),
    })
}

/// The model with its first trigger lasting `d` seconds (the actions at the trigger's end are
/// moved to its start + `d`).
pub fn with_trigger_duration(m: &Model, d: f64) -> Option<Model> {
    let (from, to) = m.trigger?;
    let mut x = m.clone();
    let end = sim_core::SimTime::from_secs_f64(to);
    let new_end = sim_core::SimTime::from_secs_f64(from + d.max(0.0));
    for a in &mut x.actions {
        if a.at == end {
            a.at = new_end;
        }
    }
    x.actions.sort_by_key(|a| a.at);
    x.trigger = Some((from, from + d.max(0.0)));
    Some(x)
}

/// Does the fluid run with the first trigger lasting `d` tip the system: not recovered
/// `settle_s` after the trigger's end, and its backlog not draining over the last 10 s? (A
/// design without a collapsed equilibrium never tips: a longer trigger only takes longer to
/// drain.)
pub fn tips(m: &Model, d: f64, settle_s: f64) -> bool {
    let Some(x) = with_trigger_duration(m, d) else {
        return false;
    };
    let Some((from, to)) = x.trigger else {
        return false;
    };
    let horizon = to + settle_s;
    let path = simulate(&x, horizon);
    let baseline = path.success_ratio(x.warmup_s.min(from), from);
    let down = path
        .recovered_at(to, x.recovery_fraction * baseline)
        .is_none();
    let draining = path.backlog_at(horizon - 1.0) < path.backlog_at(horizon - 11.0) - 1.0;
    down && !draining
}

/// The shortest duration of the first trigger that tips the system (to 1 % or 0.05 s), if one
/// up to `max_s` does.
pub fn critical_duration(m: &Model, max_s: f64, settle_s: f64) -> Option<f64> {
    if super::fluid::collapsed(m).is_none() || !tips(m, max_s, settle_s) {
        return None;
    }
    let (mut lo, mut hi) = (0.0, max_s);
    while hi - lo > (0.01 * hi).max(0.05) {
        let mid = 0.5 * (lo + hi);
        if tips(m, mid, settle_s) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    Some(hi)
}
