//! What the fluid model covers, and the model read from a validated [`Scenario`]: one client
//! tier (open or closed loop; per-attempt timeout, call deadline, retries, backoff, retry
//! budgets) into one service (`c` servers, a service-time distribution, a queue bound,
//! FIFO / LIFO / adaptive LIFO / CoDel, drop-expired, abandonment, a queue-age limit, an error
//! rate), with a client-side cache (look-aside or read-through), and the triggers that act on
//! them — or into a linear chain of such services joined by one downstream call edge each
//! ([`chain_of`]). Anything else is refused with [`OutOfScope`],
//! naming the part of the file the model does not cover — never a made-up answer.

use std::fmt;

use models::policy::{BackoffKind, Jitter, RetryBudgetConfig};
use models::{Action, Discipline, Dist, Mode, ReplyTo, TimedAction};

use super::cache::CacheModel;
use crate::scenario::Scenario;

/// A part of the scenario the fluid model does not cover.
#[derive(Clone, Debug, PartialEq)]
pub struct OutOfScope {
    /// The scenario (or variant) name.
    pub scenario: String,
    /// The part, as a field path where there is one (`clients[web].retry.breaker`).
    pub part: String,
    pub why: String,
}

impl fmt::Display for OutOfScope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{}: {}: outside the fluid model's scope: {} (docs/analytic.md lists what it covers)",
            self.scenario, self.part, self.why
        )
    }
}

/// How calls arrive.
#[derive(Clone, Debug, PartialEq)]
pub enum Load {
    /// Poisson first tries at a piecewise-constant rate `(from_s, rate_per_s)`.
    Open { schedule: Vec<(f64, f64)> },
    /// `users` users thinking `think_s` on average between calls.
    Closed { users: f64, think_s: f64 },
}

/// A retry budget reduced to what limits the long-run retry rate (docs/analytic.md §3).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Budget {
    Unlimited,
    /// Brooker's bucket: each first try deposits `fill`; a retry spends one while > 1 remains.
    Bucket {
        fill: f64,
        size: f64,
    },
    /// Finagle: retries ≤ `min_per_s` + `fraction` × first tries, over a sliding window.
    Finagle {
        fraction: f64,
        min_per_s: f64,
    },
    /// AWS quota: a retry costs `cost` (`timeout_cost` after a timeout); a success without
    /// retry refunds `refund`.
    AwsQuota {
        capacity: f64,
        cost: f64,
        timeout_cost: f64,
        refund: f64,
    },
    /// gRPC: a failed attempt takes 1 token, a success adds `ratio`; retries while tokens >
    /// `max / 2`.
    Grpc {
        max: f64,
        ratio: f64,
    },
    /// Envoy: concurrent retries ≤ max(`min_concurrency`, `fraction` × active attempts).
    Envoy {
        fraction: f64,
        min_concurrency: f64,
    },
}

/// How the service orders and sheds waiting work.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Order {
    Fifo,
    Lifo,
    /// FIFO while healthy, LIFO while congested.
    AdaptiveLifo,
    /// CoDel: work that waited longer than `target_s` while congested is shed.
    Codel {
        target_s: f64,
    },
}

/// The one-tier model the fluid analysis works on. Times in seconds, rates per second.
#[derive(Clone, Debug, PartialEq)]
pub struct Model {
    pub scenario: String,
    pub variant: String,
    pub client: String,
    pub service: String,
    pub load: Load,
    /// Per-attempt timeout (`None`: the caller waits forever and never retries a timeout).
    pub timeout_s: Option<f64>,
    /// Call deadline, retries included.
    pub deadline_s: Option<f64>,
    pub max_attempts: u32,
    /// Mean backoff before retry `n` (`backoff_s[n − 1]`), jitter included.
    pub backoff_s: Vec<f64>,
    pub budget: Budget,
    pub servers: u32,
    pub service_time: Dist,
    /// Waiting room (queue bound, including a concurrency limit's share); `None`: unbounded.
    pub queue_capacity: Option<f64>,
    pub order: Order,
    /// Queued work whose caller gave up leaves without being served (drop-expired or
    /// abandonment).
    pub expired_leave: bool,
    /// Work that waited longer than this is shed (answered "rejected").
    pub max_queue_age_s: Option<f64>,
    pub error_rate: f64,
    /// The client's cache, if it has one.
    pub cache: Option<CacheModel>,
    /// Triggers and actions on the client and service, in time order.
    pub actions: Vec<TimedAction>,
    /// Scenario horizon, warm-up and the recovery definition.
    pub duration_s: f64,
    pub warmup_s: f64,
    pub recovery_fraction: f64,
    pub sustain_s: f64,
    /// The first trigger's window, if any.
    pub trigger: Option<(f64, f64)>,
}

impl Model {
    /// `c / E[S]`: the service's capacity in requests per second.
    pub fn capacity(&self) -> f64 {
        self.servers as f64 / crate::analytic::queueing::mean_s(&self.service_time)
    }

    /// The long-run first-try rate of an open-loop client (its schedule's last phase), or the
    /// closed loop's user count: the knob the load range is expressed in.
    pub fn load_knob(&self) -> f64 {
        match &self.load {
            Load::Open { schedule } => schedule.last().map_or(0.0, |p| p.1),
            Load::Closed { users, .. } => *users,
        }
    }

    /// The same model at another load (rate for an open loop — the whole schedule scaled —,
    /// users for a closed one).
    pub fn at_load(&self, knob: f64) -> Model {
        let mut m = self.clone();
        let base = self.load_knob();
        match &mut m.load {
            Load::Open { schedule } => {
                let k = if base > 0.0 { knob / base } else { 0.0 };
                for p in schedule.iter_mut() {
                    p.1 = if base > 0.0 { p.1 * k } else { knob };
                }
                for a in &mut m.actions {
                    if let Action::SetRate { rate_per_s, .. } = &mut a.action
                        && base > 0.0
                    {
                        *rate_per_s *= k;
                    }
                }
            }
            Load::Closed { users, .. } => *users = knob,
        }
        m
    }

    /// Mean backoff before retry `n` (1-based), 0 beyond the list.
    pub fn backoff(&self, n: usize) -> f64 {
        self.backoff_s
            .get(n.saturating_sub(1))
            .copied()
            .unwrap_or(0.0)
    }
}

fn secs(ns: u64) -> f64 {
    ns as f64 / 1e9
}

/// Reads the one-tier fluid model of `sc` (one variant), or names the first part outside the
/// scope — a downstream call edge included ([`chain_of`] reads call chains).
pub fn model_of(sc: &Scenario) -> Result<Model, OutOfScope> {
    let mut tiers = chain_of(sc)?;
    if tiers.len() > 1 {
        return Err(OutOfScope {
            scenario: format!("{} [{}]", sc.name, sc.variant_name()),
            part: format!("services[{}].calls", tiers[0].service),
            why: "a downstream call chain (the chain model answers its equilibria; the transient model covers one tier)".to_string(),
        });
    }
    Ok(tiers.remove(0))
}

/// The most tiers a call chain may have (the chain model solves `2^k` branch vectors).
pub const MAX_TIERS: usize = 4;

/// Reads the tiers of `sc` (one variant): `[0]` the client into the front service, `[i]` the
/// call edge of service `i − 1` into service `i` (its load is set by the chain model,
/// `chain.rs`) — a linear chain of at most [`MAX_TIERS`] services, each making at most one
/// downstream call; one tier without calls. Anything else names the first part outside.
pub fn chain_of(sc: &Scenario) -> Result<Vec<Model>, OutOfScope> {
    let out = |part: &str, why: &str| OutOfScope {
        scenario: format!("{} [{}]", sc.name, sc.variant_name()),
        part: part.to_string(),
        why: why.to_string(),
    };
    let w = &sc.world;
    let control = [
        ("dns_automation", w.dns_automations.len()),
        ("config_push", w.config_pushes.len()),
        ("load_balancers", w.load_balancers.len()),
        ("lease_manager", w.lease_managers.len()),
        ("operators", w.operators.len()),
        ("autoscaler", w.autoscalers.len()),
    ];
    for (part, n) in control {
        if n > 0 {
            return Err(out(
                part,
                "control planes, autoscalers and operators are not in the fluid model",
            ));
        }
    }
    if w.trigger_probe.is_some() {
        return Err(out(
            "incident.trigger",
            "a measured trigger belongs to a control plane",
        ));
    }
    let callers: Vec<_> = w
        .clients
        .iter()
        .filter(|c| c.mode != Mode::Downstream)
        .collect();
    if callers.len() != 1 {
        return Err(out(
            "clients",
            &format!(
                "the model covers one client tier, this scenario has {}",
                callers.len()
            ),
        ));
    }
    let cl = callers[0];
    let cp = |f: &str| format!("clients[{}].{f}", cl.name);
    if !matches!(cl.reply_to, ReplyTo::Nowhere | ReplyTo::Sink(_)) {
        return Err(out(&cp("target"), "a downstream client"));
    }
    let load = match &cl.mode {
        Mode::Open { schedule } => Load::Open {
            schedule: schedule
                .iter()
                .map(|(t, r)| (t.as_secs_f64(), *r))
                .collect(),
        },
        Mode::Closed { users, think } => Load::Closed {
            users: *users as f64,
            think_s: think.mean_ns() / 1e9,
        },
        Mode::Downstream => return Err(out(&cp("mode"), "a downstream client")),
    };
    let mut actions = Vec::new();
    for a in &w.actions {
        let ok = matches!(
            &a.action,
            Action::SetRate { .. }
                | Action::SetServers { .. }
                | Action::SetSlowdown { .. }
                | Action::SetErrorRate { .. }
                | Action::Outage { .. }
                | Action::Restore { .. }
                | Action::SetPartition { .. }
                | Action::SetRetries { .. }
                | Action::FlushCache { .. }
        );
        if !ok {
            return Err(out(
                "triggers",
                &format!(
                    "the action {:?} at {:.1} s is not in the fluid model (covered: rate, servers, slowdown, error_rate, outage, restore, partition, retries_off/on, cache_flush)",
                    a.action,
                    a.at.as_secs_f64()
                ),
            ));
        }
        actions.push(a.clone());
    }
    if !sc.operator_actions.is_empty() {
        return Err(out(
            "actions",
            "operator actions (the model answers what the design does by itself)",
        ));
    }
    let mut tiers: Vec<Model> = Vec::new();
    let (mut client, mut load) = (cl, load);
    let mut prefix = "clients".to_string();
    loop {
        let svc = &w.services[client.target as usize];
        let m = tier(sc, client, svc, load, &prefix, &actions, &out)?;
        tiers.push(m);
        let sp = |f: &str| format!("services[{}].{f}", svc.name);
        match svc.calls.as_slice() {
            [] => break,
            [edge] => {
                if tiers.len() >= MAX_TIERS {
                    return Err(out(
                        &sp("calls"),
                        &format!("a call chain deeper than {MAX_TIERS} services"),
                    ));
                }
                client = &w.clients[*edge as usize];
                load = Load::Open {
                    schedule: vec![(0.0, 0.0)],
                };
                prefix = format!("services[{}].calls", svc.name);
            }
            more => {
                return Err(out(
                    &sp("calls"),
                    &format!(
                        "a service making {} downstream calls per request (the chain model covers one)",
                        more.len()
                    ),
                ));
            }
        }
    }
    if w.services.len() != tiers.len() {
        let reached: Vec<&str> = tiers.iter().map(|t| t.service.as_str()).collect();
        let other: Vec<&str> = w
            .services
            .iter()
            .map(|s| s.name.as_str())
            .filter(|n| !reached.contains(n))
            .collect();
        return Err(out(
            "services",
            &format!(
                "the model covers the services one client's call chain reaches ({}); {} also called",
                reached.join(" -> "),
                other.join(", ")
            ),
        ));
    }
    Ok(tiers)
}

/// One tier: `cl` (the client, or a call edge) into `svc`.
fn tier(
    sc: &Scenario,
    cl: &models::ClientSpec,
    svc: &models::ServiceSpec,
    load: Load,
    prefix: &str,
    actions: &[TimedAction],
    out: &dyn Fn(&str, &str) -> OutOfScope,
) -> Result<Model, OutOfScope> {
    let sp = |f: &str| format!("services[{}].{f}", svc.name);
    if svc.crash_loop.is_some() {
        return Err(out(&sp("crash_loop"), "crash-looping tasks"));
    }
    if svc.edge.is_some() {
        return Err(out(&sp("edge"), "edge nodes"));
    }
    if svc.degradation.is_some() {
        return Err(out(
            &sp("degradation"),
            "overload degradation (service time growing with the queue)",
        ));
    }
    if svc.admission.rate_limit.is_some() {
        return Err(out(&sp("rate_limit"), "token-bucket admission"));
    }
    let cp = |f: &str| {
        if prefix == "clients" {
            format!("clients[{}].{f}", cl.name)
        } else {
            format!("{prefix}[0].{f}")
        }
    };
    if cl.dns.is_some() {
        return Err(out(&cp("dns"), "name resolution"));
    }
    if cl.patience.is_some() {
        return Err(out(
            &cp("patience"),
            "a random per-attempt patience (a constant timeout_ms is covered)",
        ));
    }
    if cl.retry.breaker.is_some() {
        return Err(out(&cp("retry.breaker"), "circuit breakers"));
    }
    if cl.retry.throttle.is_some() {
        return Err(out(
            &cp("retry.throttle"),
            "client-side adaptive throttling",
        ));
    }
    if cl.hedge.is_some() {
        return Err(out(&cp("hedge"), "hedged requests"));
    }
    if cl.guard.bulkhead.is_some() {
        return Err(out(&cp("bulkhead"), "bulkheads on a call edge"));
    }
    if cl.guard.fallback.is_some() {
        return Err(out(&cp("fallback"), "fallbacks on a call edge"));
    }
    if cl.guard.callers.is_some() {
        return Err(out(&cp("callers"), "caller routing on a call edge"));
    }
    if prefix != "clients" && cl.cache.is_some() {
        return Err(out(&cp("cache"), "a cache on a call edge"));
    }
    let r = &cl.retry;
    let backoff_s = (1..r.max_attempts.max(1))
        .map(|n| mean_backoff(r.backoff.kind, r.backoff.jitter, n))
        .collect();
    let budget = match &r.budget {
        RetryBudgetConfig::Unlimited => Budget::Unlimited,
        RetryBudgetConfig::TokenBucket(b) => Budget::Bucket {
            fill: b.fill_rate,
            size: b.bucket_size,
        },
        RetryBudgetConfig::Finagle(f) => Budget::Finagle {
            fraction: f.retry_fraction,
            min_per_s: f.min_retries_per_sec as f64,
        },
        RetryBudgetConfig::AwsQuota(q) => Budget::AwsQuota {
            capacity: q.capacity as f64,
            cost: q.retry_cost as f64,
            timeout_cost: q.timeout_retry_cost as f64,
            refund: q.no_retry_increment as f64,
        },
        RetryBudgetConfig::GrpcThrottle(g) => Budget::Grpc {
            max: g.max_tokens,
            ratio: g.token_ratio,
        },
        RetryBudgetConfig::Envoy(e) => Budget::Envoy {
            fraction: e.budget_fraction,
            min_concurrency: e.min_retry_concurrency as f64,
        },
    };
    let order = match svc.discipline {
        Discipline::Fifo => Order::Fifo,
        Discipline::Lifo => Order::Lifo,
        Discipline::AdaptiveLifo => Order::AdaptiveLifo,
        Discipline::Codel => Order::Codel {
            target_s: secs(svc.queue_control.target.as_nanos()),
        },
    };
    let conc = svc
        .admission
        .concurrency_limit
        .map(|l| l.saturating_sub(svc.servers) as f64);
    let queue_capacity = match (svc.queue_capacity.map(|k| k as f64), conc) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    };
    Ok(Model {
        scenario: sc.name.clone(),
        variant: sc.variant_name().to_string(),
        client: cl.name.clone(),
        service: svc.name.clone(),
        load,
        timeout_s: cl.timeout.map(|t| secs(t.as_nanos())),
        deadline_s: cl.deadline.map(|t| secs(t.as_nanos())),
        max_attempts: r.max_attempts.max(1),
        backoff_s,
        budget,
        servers: svc.servers,
        service_time: svc.service_time.clone(),
        queue_capacity,
        order,
        expired_leave: svc.drop_expired || svc.queue_abandonment,
        max_queue_age_s: svc.admission.max_queue_age.map(|a| secs(a.as_nanos())),
        error_rate: svc.error_rate,
        cache: cl.cache.as_ref().map(CacheModel::from_spec),
        actions: actions.to_vec(),
        duration_s: sc.duration.as_secs_f64(),
        warmup_s: sc.warmup.as_secs_f64(),
        recovery_fraction: sc.recovery_fraction,
        sustain_s: sc.sustain.as_secs_f64(),
        trigger: sc
            .trigger_window()
            .map(|(a, b)| (a.as_secs_f64(), b.as_secs_f64())),
    })
}

/// Mean delay before retry `n` (1-based): the interval's mean under its jitter (decorrelated
/// jitter is approximated by its interval, see docs/analytic.md).
fn mean_backoff(kind: BackoffKind, jitter: Jitter, n: u32) -> f64 {
    let v = match kind {
        BackoffKind::None => 0.0,
        BackoffKind::Constant { delay_ns } => delay_ns as f64,
        BackoffKind::Exponential {
            base_ns,
            multiplier,
            cap_ns,
        } => {
            let mut x = base_ns as f64;
            for _ in 1..n.min(64) {
                x *= multiplier;
            }
            x.min(cap_ns as f64)
        }
    } / 1e9;
    match jitter {
        Jitter::None | Jitter::Randomized { .. } | Jitter::Decorrelated => v,
        Jitter::Full => v / 2.0,
        Jitter::Equal => 0.75 * v,
    }
}
