//! A service: `c` identical servers in front of one queue (FIFO or LIFO, bounded or not), with
//! optional deadline-aware dropping, abandonment from the queue, an error rate, overload
//! degradation, outages and capacity changes.
//!
//! Abandonment (`queue_abandonment`) is lazy deletion: when a queued request's caller gives up
//! (its attempt's timeout or patience runs out) the request is counted `expired` and `dead` at
//! once, and every count of the queue (length gauge, `queue_capacity`, concurrency limit,
//! degradation, congestion) uses the live length `queue.len() − dead`, so the slot is free
//! at that moment; the entry itself is discarded when a pop reaches it, or when dead entries
//! outnumber live ones (compaction, amortised O(1) per abandonment). Without abandonment
//! `dead` is always 0 and nothing changes.

use std::collections::VecDeque;

use rand::RngExt;
use sim_core::{CounterId, GaugeId, HistId, Recorder, SimDuration, SimRng, SimTime};

use crate::dist::Dist;
use crate::request::Request;

/// Order in which a service takes waiting work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discipline {
    Fifo,
    Lifo,
    /// FIFO while the queue is healthy, LIFO while it is congested (non-empty for longer than
    /// the interval): fresh requests, whose callers still wait, go first (Facebook, "Fail at
    /// Scale", 2015).
    AdaptiveLifo,
    /// FIFO with controlled delay (Facebook's CoDel variant): while the queue has not been
    /// empty for the last `interval`, work that waited longer than `target` is shed; otherwise
    /// work that waited longer than `interval` is.
    Codel,
}

/// Parameters of adaptive LIFO and CoDel (defaults: target 5 ms, interval 100 ms).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QueueControl {
    pub target: SimDuration,
    pub interval: SimDuration,
}

impl Default for QueueControl {
    fn default() -> Self {
        QueueControl {
            target: SimDuration::from_millis(5),
            interval: SimDuration::from_millis(100),
        }
    }
}

/// Admission control at a service (each check optional).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Admission {
    /// Token bucket: `(rate per second, burst)`; an arrival without a token is rejected.
    pub rate_limit: Option<(f64, f64)>,
    /// Most requests held at once (in service + queued); more are rejected.
    pub concurrency_limit: Option<u32>,
    /// Work that waited longer than this is shed when it reaches the head of the queue.
    pub max_queue_age: Option<SimDuration>,
}

/// Service time that grows under overload (a stand-in for GC, thrashing, lock contention):
/// factor `min(max_factor, 1 + per_queued · queue_len + per_utilisation · busy/servers)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Degradation {
    pub per_queued: f64,
    pub per_utilisation: f64,
    pub max_factor: f64,
}

#[derive(Clone, Debug)]
pub struct ServiceSpec {
    pub name: String,
    pub servers: u32,
    /// Waiting room (excluding requests in service); `None` = unbounded (still subject to the
    /// world's live-request limit).
    pub queue_capacity: Option<u32>,
    pub service_time: Dist,
    pub discipline: Discipline,
    /// Drop work whose caller's deadline has passed when it reaches the head of the queue,
    /// instead of serving it (wasted work).
    pub drop_expired: bool,
    /// Requests leave the queue (never served, counted `expired`) at the moment their caller
    /// gives up on them; work already in service is not abandoned (M/M/c+M).
    pub queue_abandonment: bool,
    /// Probability that a served request is answered with an error.
    pub error_rate: f64,
    pub degradation: Option<Degradation>,
    pub queue_control: QueueControl,
    pub admission: Admission,
    /// Downstream calls made after the local work, as indices of `Mode::Downstream` clients.
    pub calls: Vec<u32>,
    /// Make the downstream calls all at once (fan-out) instead of one after another.
    pub fanout: bool,
    /// Servers are tasks that crash on a bad configuration and restart by loading state
    /// from a backing store.
    pub crash_loop: Option<CrashLoop>,
    /// Servers are edge nodes that crash asynchronously on a bad configuration, crash under
    /// sustained overload and come back by a cold reload ([`crate::infra::edge`]).
    pub edge: Option<crate::infra::edge::EdgeSpec>,
    /// Each successful request hands load balancer `.0` `.1` network-propagation items.
    pub feeds: Option<(u32, f64)>,
}

/// Crash-looping tasks: while the service's configuration is bad, a task crashes on the next
/// request it takes (answering it with an error); a crashed task waits its restart delay, then
/// loads its state from the backing store through the `store` call edge; if that call fails
/// (timeout, rejection) it waits again. A task that started while the configuration is still
/// bad crashes again on its next request.
#[derive(Clone, Debug, PartialEq)]
pub struct CrashLoop {
    /// Index of the `Mode::Downstream` client that makes the startup call.
    pub store: u32,
    /// Delay before restart `n` (1 = the first after a crash).
    pub backoff: crate::policy::Backoff,
    /// Restarts allowed per second across the service (token bucket: rate, burst).
    pub restart_rate: Option<(f64, f64)>,
}

/// Progress of a server's downstream calls (services with `calls` only).
#[derive(Clone, Copy, Debug, Default)]
pub(crate) struct Wait {
    /// Calls started and not yet finished.
    pub pending: u32,
    /// Index of the next call to start (sequential mode).
    pub next: u32,
    /// Some call failed (gave up): the request is answered with an error.
    pub failed: bool,
}

/// Why queued work was not served.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Skip {
    /// Its caller's deadline had passed (`drop_expired`).
    Expired,
    /// It waited too long (CoDel or `max_queue_age_ms`): answered with a rejection.
    Shed,
}

#[derive(Clone)]
pub struct Service {
    pub name: String,
    /// Servers that may take new work (changes with `SetServers`).
    pub servers: u32,
    pub queue_capacity: Option<u32>,
    pub(crate) service_time: Dist,
    pub(crate) discipline: Discipline,
    pub(crate) drop_expired: bool,
    pub(crate) abandonment: bool,
    /// Abandoned requests still stored in `queue` (always 0 without abandonment).
    pub(crate) dead: usize,
    pub(crate) error_rate: f64,
    pub(crate) degradation: Option<Degradation>,
    pub(crate) queue_control: QueueControl,
    pub(crate) admission: Admission,
    /// Token bucket of the rate limit: tokens and when they were last refilled.
    tokens: f64,
    refilled: SimTime,
    /// When the queue last went from empty to non-empty.
    nonempty_since: SimTime,
    /// Some admission check is configured (rate or concurrency limit).
    pub(crate) admits: bool,
    /// Popped work may be skipped (drop-expired, queue-age limit or CoDel).
    pub(crate) filters: bool,
    /// Downstream call edges (client indices) and how they are made.
    pub(crate) calls: Vec<u32>,
    pub(crate) fanout: bool,
    /// Per server: progress of its downstream calls.
    pub(crate) waits: Vec<Wait>,
    pub(crate) slowdown: f64,
    pub(crate) down: bool,
    /// A network partition in front of the service: the requests sent to it meanwhile, in the
    /// order they were sent (`None`: no partition).
    pub(crate) partitioned: Option<Vec<Request>>,
    /// Its DNS record has no endpoints (clients with `dns` cannot resolve it).
    pub(crate) record_empty: bool,
    pub(crate) crash_loop: Option<crate::request_path::service::CrashLoop>,
    /// The configuration is bad: tasks crash on their next request.
    pub(crate) bad_config: bool,
    /// Per server: crashed (not serving, restarting), restarts since it last came up, and the
    /// previous restart delay (decorrelated jitter).
    pub(crate) crashed: Vec<bool>,
    pub(crate) restarts: Vec<u32>,
    pub(crate) prev_delay: Vec<u64>,
    /// The server holds a reserved restart token and is waiting for its turn.
    pub(crate) token_reserved: Vec<bool>,
    pub(crate) n_crashed: u32,
    restart_tokens: f64,
    restart_refilled: SimTime,
    pub(crate) restart_rng: SimRng,
    pub(crate) queue: VecDeque<Request>,
    /// The request each server slot is working on.
    pub(crate) in_service: Vec<Option<Request>>,
    /// Generation per server slot: an outage bumps it so completions scheduled before the
    /// outage are ignored.
    pub(crate) server_gen: Vec<u32>,
    /// Idle servers (indices < `servers`), used as a stack (deterministic order).
    pub(crate) idle: Vec<u32>,
    pub(crate) busy: u32,
    pub(crate) rng: SimRng,
    pub(crate) error_rng: SimRng,
    pub(crate) m: ServiceMetrics,
    /// Edge nodes ([`crate::infra::edge`]) and an operator's admission ramp.
    pub(crate) edge: Option<crate::infra::edge::Edge>,
    pub(crate) ramp: Option<crate::infra::edge::Ramp>,
    /// Fraction of answers degraded (a fail-open proxy whose machines hold a bad config
    /// file), and the accumulator that counts them.
    pub(crate) cfg_degraded: f64,
    pub(crate) cfg_degraded_acc: f64,
    /// See [`ServiceSpec::feeds`]; `fed` holds the fraction not yet handed over.
    pub(crate) feeds: Option<(u32, f64)>,
    pub(crate) fed: f64,
    /// Cold start of instances an autoscaler adds ([`crate::request_path::warmup`]).
    pub(crate) warmup: Option<crate::request_path::warmup::Warmup>,
}

#[derive(Clone)]
pub(crate) struct ServiceMetrics {
    pub arrivals: CounterId,
    pub rejected: CounterId,
    pub completions: CounterId,
    /// Completions whose caller was still waiting (and answered without error).
    pub goodput: CounterId,
    /// Completions nobody was waiting for any more.
    pub wasted: CounterId,
    /// Work dropped unserved because its deadline had passed.
    pub expired: CounterId,
    pub errors: CounterId,
    /// Work dropped from the queue by CoDel or the queue-age limit (answered "rejected").
    pub shed: CounterId,
    /// Task crashes and restart attempts (crash-looping services).
    pub crashes: Option<CounterId>,
    pub restarts: Option<CounterId>,
    /// Tasks down (crashed, not yet restarted).
    pub tasks_down: Option<GaugeId>,
    /// Work lost to an outage (held when it began, or arriving during it).
    pub lost: CounterId,
    pub queue_len: GaugeId,
    pub busy: GaugeId,
    /// Sojourn time at this service: arrival → completion.
    pub sojourn: HistId,
    /// Waiting time: arrival → start of service.
    /// Requests that started service, and their total waiting time (arrival → start, ns,
    /// saturating): the mean wait without a histogram on the hot path.
    pub started: CounterId,
    pub wait_ns: CounterId,
    /// Answers served degraded (fail-open config-push proxies only).
    pub degraded: Option<CounterId>,
    /// Arrivals that had to wait (found no idle server and were queued); registered only with
    /// `queue_abandonment` (not a CSV column: the theory tests read it for P(wait > 0)).
    pub queued: Option<CounterId>,
}

impl Service {
    pub fn new(spec: &ServiceSpec, seed: u64, rec: &mut Recorder) -> Service {
        let n = &spec.name;
        let crash_servers = if spec.crash_loop.is_some() {
            spec.servers as usize
        } else {
            0
        };
        Service {
            name: spec.name.clone(),
            servers: spec.servers,
            queue_capacity: spec.queue_capacity,
            service_time: spec.service_time.clone(),
            discipline: spec.discipline,
            drop_expired: spec.drop_expired,
            abandonment: spec.queue_abandonment,
            dead: 0,
            error_rate: spec.error_rate,
            degradation: spec.degradation,
            queue_control: spec.queue_control,
            admission: spec.admission,
            tokens: spec.admission.rate_limit.map_or(0.0, |(_, burst)| burst),
            refilled: SimTime::ZERO,
            nonempty_since: SimTime::ZERO,
            admits: spec.admission.rate_limit.is_some()
                || spec.admission.concurrency_limit.is_some(),
            filters: spec.drop_expired
                || spec.admission.max_queue_age.is_some()
                || spec.discipline == Discipline::Codel,
            calls: spec.calls.clone(),
            fanout: spec.fanout,
            waits: if spec.calls.is_empty() {
                Vec::new()
            } else {
                vec![Wait::default(); spec.servers as usize]
            },
            slowdown: 1.0,
            down: false,
            partitioned: None,
            record_empty: false,
            crash_loop: spec.crash_loop.clone(),
            bad_config: false,
            // Per-server restart state exists only for crash-looping services.
            crashed: vec![false; crash_servers],
            restarts: vec![0; crash_servers],
            prev_delay: vec![0; crash_servers],
            token_reserved: vec![false; crash_servers],
            n_crashed: 0,
            restart_tokens: spec
                .crash_loop
                .as_ref()
                .and_then(|c| c.restart_rate)
                .map_or(0.0, |(_, burst)| burst),
            restart_refilled: SimTime::ZERO,
            restart_rng: sim_core::stream(seed, &format!("{n}/restarts")),
            queue: VecDeque::new(),
            in_service: vec![None; spec.servers as usize],
            server_gen: vec![0; spec.servers as usize],
            idle: (0..spec.servers).rev().collect(),
            busy: 0,
            rng: sim_core::stream(seed, &format!("{n}/service")),
            error_rng: sim_core::stream(seed, &format!("{n}/errors")),
            m: ServiceMetrics {
                arrivals: rec.counter(n, "arrivals"),
                rejected: rec.counter(n, "rejected"),
                completions: rec.counter(n, "completions"),
                goodput: rec.counter(n, "goodput"),
                wasted: rec.counter(n, "wasted"),
                expired: rec.counter(n, "expired"),
                errors: rec.counter(n, "errors"),
                shed: rec.counter(n, "shed"),
                crashes: spec.crash_loop.as_ref().map(|_| rec.counter(n, "crashes")),
                restarts: spec.crash_loop.as_ref().map(|_| rec.counter(n, "restarts")),
                tasks_down: spec.crash_loop.as_ref().map(|_| rec.gauge(n, "tasks_down")),
                lost: rec.counter(n, "lost"),
                queue_len: rec.gauge(n, "queue_len"),
                busy: rec.gauge(n, "busy"),
                sojourn: rec.histogram(n, "sojourn"),
                started: rec.counter(n, "started"),
                wait_ns: rec.counter(n, "wait_ns"),
                degraded: None,
                queued: spec.queue_abandonment.then(|| rec.counter(n, "queued")),
            },
            edge: spec
                .edge
                .as_ref()
                .map(|e| crate::infra::edge::Edge::new(e, spec.servers, n, seed, rec)),
            ramp: None,
            cfg_degraded: 0.0,
            cfg_degraded_acc: 0.0,
            feeds: spec.feeds,
            fed: 0.0,
            warmup: None,
        }
    }

    /// True if an arriving request would find no idle server and no room to wait.
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.idle.is_empty()
            && self
                .queue_capacity
                .is_some_and(|cap| self.live_len() >= cap as usize)
    }

    /// Servers that serve nothing now: crashed tasks of a crash loop, or down edge nodes.
    pub fn servers_down(&self) -> u32 {
        self.edge.as_ref().map_or(self.n_crashed, |e| e.n_down)
    }

    /// Requests waiting (abandoned ones not counted).
    #[inline]
    pub fn live_len(&self) -> usize {
        self.queue.len() - self.dead
    }

    pub fn queue_len(&self) -> usize {
        self.live_len()
    }

    pub fn busy(&self) -> u32 {
        self.busy
    }

    /// Admission control for an arrival at `now` (rate limit, concurrency limit): true if it
    /// may enter.
    #[inline]
    pub(crate) fn admit(&mut self, now: SimTime) -> bool {
        if !self.admits {
            return true;
        }
        if let Some(limit) = self.admission.concurrency_limit
            && self.busy as usize + self.live_len() >= limit as usize
        {
            return false;
        }
        if let Some((rate, burst)) = self.admission.rate_limit {
            let dt = now.since(self.refilled).as_secs_f64();
            self.refilled = now;
            self.tokens = (self.tokens + dt * rate).min(burst);
            if self.tokens < 1.0 {
                return false;
            }
            self.tokens -= 1.0;
        }
        if let Some(r) = &mut self.ramp
            && !r.admit(now)
        {
            return false;
        }
        true
    }

    /// Queues `req` (arrived at `now`).
    #[inline]
    pub(crate) fn enqueue(&mut self, req: Request, now: SimTime) {
        if self.live_len() == 0 {
            self.nonempty_since = now;
        }
        self.queue.push_back(req);
    }

    /// Throttles restarts from `now` on to `rate` per second (burst: one second's worth, at
    /// least one), starting with a full bucket.
    pub(crate) fn set_restart_rate(&mut self, rate: f64, now: SimTime) {
        if let Some(c) = &mut self.crash_loop {
            let burst = rate.max(1.0);
            c.restart_rate = Some((rate, burst));
            self.restart_tokens = burst;
            self.restart_refilled = now;
        }
    }

    /// Reserves a restart token at `now` and returns how long (ns) to wait for it. The bucket
    /// may go negative: waiting restarts are served in order at `rate`, each woken once (no
    /// polling herd).
    pub(crate) fn restart_token_wait(&mut self, now: SimTime) -> u64 {
        let Some((rate, burst)) = self.crash_loop.as_ref().and_then(|c| c.restart_rate) else {
            return 0;
        };
        let dt = now.since(self.restart_refilled).as_secs_f64();
        self.restart_refilled = now;
        self.restart_tokens = (self.restart_tokens + dt * rate).min(burst) - 1.0;
        if self.restart_tokens >= 0.0 {
            0
        } else {
            SimDuration::from_secs_f64(-self.restart_tokens / rate).as_nanos()
        }
    }

    /// True while the queue has been non-empty for at least the control interval.
    #[inline]
    fn congested(&self, now: SimTime) -> bool {
        self.live_len() > 0 && now.since(self.nonempty_since) >= self.queue_control.interval
    }

    /// Takes the next request to serve, per the discipline.
    #[inline]
    pub(crate) fn pop_next(&mut self, now: SimTime) -> Option<Request> {
        match self.discipline {
            Discipline::Fifo | Discipline::Codel => self.queue.pop_front(),
            Discipline::Lifo => self.queue.pop_back(),
            Discipline::AdaptiveLifo => {
                if self.congested(now) {
                    self.queue.pop_back()
                } else {
                    self.queue.pop_front()
                }
            }
        }
    }

    /// Whether popped work `req` should be skipped instead of served at `now`. `congested`
    /// is the queue's state before the pop.
    #[inline]
    pub(crate) fn skip(&self, req: &Request, now: SimTime, congested: bool) -> Option<Skip> {
        if !self.filters {
            return None;
        }
        if self.drop_expired && req.deadline <= now {
            return Some(Skip::Expired);
        }
        let waited = now.since(req.arrived);
        if self.admission.max_queue_age.is_some_and(|a| waited > a) {
            return Some(Skip::Shed);
        }
        if self.discipline == Discipline::Codel {
            let qc = self.queue_control;
            let limit = if congested { qc.target } else { qc.interval };
            if waited > limit {
                return Some(Skip::Shed);
            }
        }
        None
    }

    /// [`Self::congested`], for callers about to pop.
    #[inline]
    pub(crate) fn is_congested(&self, now: SimTime) -> bool {
        matches!(
            self.discipline,
            Discipline::Codel | Discipline::AdaptiveLifo
        ) && self.congested(now)
    }

    /// A service time for a request starting now, with slowdown and degradation applied.
    #[inline]
    pub(crate) fn draw_service_time(&mut self) -> SimDuration {
        let d = self.service_time.sample(&mut self.rng);
        let mut factor = self.slowdown;
        if let Some(g) = self.degradation {
            let util = self.busy as f64 / self.servers.max(1) as f64;
            factor *= (1.0 + g.per_queued * self.live_len() as f64 + g.per_utilisation * util)
                .min(g.max_factor);
        }
        if factor == 1.0 {
            d
        } else {
            SimDuration::from_nanos_f64(d.as_nanos() as f64 * factor)
        }
    }

    /// Whether a served request is answered with an error.
    #[inline]
    pub(crate) fn draw_error(&mut self) -> bool {
        self.error_rate > 0.0 && self.error_rng.random::<f64>() < self.error_rate
    }

    pub(crate) fn set_gauges(&self, rec: &mut Recorder, now: SimTime) {
        rec.gauge_set(self.m.queue_len, now, self.live_len() as f64);
        rec.gauge_set(self.m.busy, now, self.busy as f64);
    }
}

impl Service {
    /// Re-seeds every random stream this component owns from its current state and `salt`
    /// (importance splitting: a cloned world's future draws made independent).
    pub(crate) fn reseed(&mut self, salt: u64) {
        sim_core::rng::reseed(&mut self.restart_rng, salt);
        sim_core::rng::reseed(&mut self.rng, salt);
        sim_core::rng::reseed(&mut self.error_rng, salt);
        if let Some(e) = &mut self.edge {
            e.reseed(salt);
        }
    }
}
