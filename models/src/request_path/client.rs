//! Clients: open loop (Poisson arrivals with a rate schedule) or closed loop (N users with think
//! time), a per-attempt timeout (a constant `timeout`, or a random `patience` drawn per attempt
//! from the client's `<name>/patience` stream), an overall deadline per call, and a retry policy.
//!
//! A *call* is one unit of work the user wants done; it makes one or more *attempts* (the first
//! try, then retries). Each attempt carries a generation number; an attempt's timeout, its
//! scheduled retry and the service's reply all name that generation, and anything naming an
//! older generation is ignored when it fires (lazy cancellation).

use rand_distr::{Distribution, Exp1};
use sim_core::{CounterId, GaugeId, HistId, Recorder, SimDuration, SimRng, SimTime};

use crate::dist::Dist;
use crate::request_path::retry::{RetrySpec, RetryState};

/// The call slot named by requests of a trivial client (one that always waits).
pub(crate) const TRIVIAL_SLOT: u32 = u32::MAX;

/// The server a downstream call reports back to (its generation guards against outages).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub(crate) struct Parent {
    pub service: u32,
    pub server: u32,
    pub generation: u32,
    /// The call is a crashed task's startup load, not a downstream call of a request.
    pub restart: bool,
}

/// Where a finished call's outcome is also reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyTo {
    Nowhere,
    Sink(u32),
    /// A downstream call made by a service's server: the outcome goes back to that server.
    Parent,
}

/// How a client generates calls.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// Poisson arrivals at a piecewise-constant rate: `(from, rate_per_s)`, sorted.
    Open { schedule: Vec<(SimTime, f64)> },
    /// `users` users, each thinking for a random time between the end of one call and the
    /// start of the next.
    Closed { users: u32, think: Dist },
    /// Calls are made by a service (a downstream call edge): no arrivals of its own.
    Downstream,
}

#[derive(Clone, Debug)]
pub struct ClientSpec {
    pub name: String,
    /// Index into `WorldSpec::services`.
    pub target: u32,
    pub reply_to: ReplyTo,
    pub mode: Mode,
    /// Per-attempt timeout (`None`: wait forever).
    pub timeout: Option<SimDuration>,
    /// Per-attempt patience drawn afresh for every attempt (the random generalisation of
    /// `timeout`; the scenario layer allows at most one of the two).
    pub patience: Option<Dist>,
    /// Overall deadline of a call, retries included (`None`: none).
    pub deadline: Option<SimDuration>,
    pub retry: RetrySpec,
    /// A cache the client looks keys up in before calling its target.
    pub cache: Option<crate::infra::cache::CacheSpec>,
    /// Name resolution and connection reuse in front of the target.
    pub dns: Option<crate::infra::dns::DnsSpec>,
    /// Bulkhead, fallback and caller routing of a downstream call edge (default: none).
    pub guard: crate::request_path::guard::GuardSpec,
    /// Hedged requests ([`crate::request_path::hedge`]).
    pub hedge: Option<crate::request_path::hedge::HedgeSpec>,
    /// Client-side endpoint failover to a second endpoint after N failed calls
    /// ([`crate::infra::endpoint_failover`]).
    pub endpoint_failover: Option<crate::infra::endpoint_failover::EndpointFailoverSpec>,
}

/// Why an attempt failed, as the client sees it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Failure {
    Timeout,
    Rejected,
    Error,
    /// Rejected locally by client-side throttling (never sent).
    Throttled,
}

#[derive(Clone, Copy, Debug)]
pub(crate) struct Call {
    pub born: SimTime,
    /// Generation of the current attempt (or of the pending retry timer).
    pub generation: u32,
    /// Attempts sent so far (1 = first try in flight).
    pub attempts: u32,
    /// True while an attempt is in flight (false while backing off).
    pub in_flight: bool,
    /// Previous backoff sleep (decorrelated jitter needs it).
    pub prev_sleep_ns: u64,
    /// Closed-loop user who made the call (`u32::MAX` in open loop).
    pub user: u32,
    /// Cache key the call reads (0 without a cache).
    pub key: u32,
    /// The attempt in flight waits in the queue of a service with `queue_abandonment` (set
    /// when it is queued, cleared when it is taken from the queue or abandoned).
    pub queued: bool,
}

#[derive(Clone)]
pub(crate) struct ClientMetrics {
    pub first_tries: CounterId,
    pub retries: CounterId,
    pub successes: CounterId,
    pub give_ups: CounterId,
    pub timeouts: CounterId,
    pub rejections: CounterId,
    pub errors: CounterId,
    pub circuit_open: CounterId,
    pub budget_exhausted: CounterId,
    /// Attempts rejected locally by client-side throttling.
    pub throttled: CounterId,
    /// Registered only for clients with a cache.
    pub cache_hits: Option<CounterId>,
    pub cache_misses: Option<CounterId>,
    /// Calls failed at once because the name resolved to nothing (clients with `dns`).
    pub dns_failures: Option<CounterId>,
    pub in_flight: GaugeId,
    /// Call latency of successful calls (first try → success), retries and backoff included.
    pub call_ok: HistId,
    /// Call latency of every call: a successful one as in `call_ok`, a failed one from its
    /// first try until it gave up (last attempt's timeout or error, fail-fast, budget, DNS).
    pub call_all: HistId,
}

#[derive(Clone)]
pub struct Client {
    pub name: String,
    pub target: u32,
    pub reply_to: ReplyTo,
    pub(crate) mode: Mode,
    pub(crate) timeout: Option<SimDuration>,
    pub(crate) patience: Option<Dist>,
    pub(crate) deadline: Option<SimDuration>,
    pub(crate) retry: RetryState,
    pub(crate) rate_per_s: f64,
    mean_gap_ns: f64,
    pub(crate) epoch: u32,
    pub(crate) calls: Vec<Call>,
    /// Per call slot of a downstream edge: the server waiting for it.
    pub(crate) parents: Vec<Parent>,
    free: Vec<u32>,
    pub(crate) live_calls: u64,
    /// No timeout, no deadline, one attempt, no policy state: calls need no slot (the fast
    /// path; replies name [`TRIVIAL_SLOT`] and carry the closed-loop user as generation).
    pub(crate) trivial: bool,
    pub(crate) cache: Option<crate::infra::cache::Cache>,
    pub(crate) keys_rng: SimRng,
    pub(crate) dns: Option<crate::infra::dns::Dns>,
    /// Client-side endpoint failover ([`crate::infra::endpoint_failover`]).
    pub(crate) endpoint_failover: Option<crate::infra::endpoint_failover::EndpointFailover>,
    pub(crate) hosts_rng: SimRng,
    arrivals_rng: SimRng,
    pub(crate) think_rng: SimRng,
    pub(crate) retry_rng: SimRng,
    /// Draws of `patience` (a stream of its own: clients without patience draw nothing).
    patience_rng: SimRng,
    pub(crate) m: ClientMetrics,
    /// Hedging state ([`crate::request_path::hedge`]).
    pub(crate) hedge: Option<crate::request_path::hedge::Hedger>,
}

impl Client {
    pub fn new(spec: &ClientSpec, seed: u64, rec: &mut Recorder) -> Client {
        let n = &spec.name;
        let mut c = Client {
            name: spec.name.clone(),
            target: spec.target,
            reply_to: spec.reply_to,
            mode: spec.mode.clone(),
            timeout: spec.timeout,
            patience: spec.patience.clone(),
            deadline: spec.deadline,
            retry: RetryState::new(&spec.retry),
            rate_per_s: 0.0,
            mean_gap_ns: f64::INFINITY,
            epoch: 0,
            calls: Vec::new(),
            parents: Vec::new(),
            free: Vec::new(),
            live_calls: 0,
            trivial: false,
            cache: spec.cache.as_ref().map(crate::infra::cache::Cache::new),
            keys_rng: sim_core::stream(seed, &format!("{n}/keys")),
            dns: spec.dns.as_ref().map(crate::infra::dns::Dns::new),
            endpoint_failover: spec
                .endpoint_failover
                .as_ref()
                .map(crate::infra::endpoint_failover::EndpointFailover::new),
            hosts_rng: sim_core::stream(seed, &format!("{n}/hosts")),
            arrivals_rng: sim_core::stream(seed, &format!("{n}/arrivals")),
            think_rng: sim_core::stream(seed, &format!("{n}/think")),
            retry_rng: sim_core::stream(seed, &format!("{n}/retry")),
            patience_rng: sim_core::stream(seed, &format!("{n}/patience")),
            m: ClientMetrics {
                first_tries: rec.counter(n, "first_tries"),
                retries: rec.counter(n, "retries"),
                successes: rec.counter(n, "successes"),
                give_ups: rec.counter(n, "give_ups"),
                timeouts: rec.counter(n, "timeouts"),
                rejections: rec.counter(n, "rejections"),
                errors: rec.counter(n, "errors"),
                circuit_open: rec.counter(n, "circuit_open"),
                budget_exhausted: rec.counter(n, "budget_exhausted"),
                throttled: rec.counter(n, "throttled"),
                cache_hits: spec.cache.as_ref().map(|_| rec.counter(n, "cache_hits")),
                cache_misses: spec.cache.as_ref().map(|_| rec.counter(n, "cache_misses")),
                dns_failures: spec.dns.as_ref().map(|_| rec.counter(n, "dns_failures")),
                in_flight: rec.gauge(n, "in_flight"),
                call_ok: rec.histogram(n, "call_ok"),
                call_all: rec.histogram(n, "call_all"),
            },
            hedge: spec
                .hedge
                .as_ref()
                .map(|h| crate::request_path::hedge::Hedger::new(h, n, rec)),
        };
        c.trivial = spec.timeout.is_none()
            && spec.patience.is_none()
            && spec.deadline.is_none()
            && c.retry.is_trivial()
            && spec.hedge.is_none()
            && spec.mode != Mode::Downstream
            && spec.dns.as_ref().is_none_or(|d| d.failover.is_none())
            && spec.endpoint_failover.is_none();
        c
    }

    /// Time to the next open-loop arrival at the current rate (`None` while the rate is 0).
    #[inline]
    pub(crate) fn next_gap(&mut self) -> Option<SimDuration> {
        if self.rate_per_s <= 0.0 {
            return None;
        }
        let e: f64 = Exp1.sample(&mut self.arrivals_rng);
        Some(SimDuration::from_nanos_f64(e * self.mean_gap_ns))
    }

    pub(crate) fn set_rate(&mut self, rate_per_s: f64) {
        self.rate_per_s = rate_per_s;
        self.mean_gap_ns = if rate_per_s > 0.0 {
            1e9 / rate_per_s
        } else {
            f64::INFINITY
        };
    }

    /// A think time for a closed-loop user.
    pub(crate) fn think_time(&mut self) -> SimDuration {
        match &self.mode {
            Mode::Closed { think, .. } => think.sample(&mut self.think_rng),
            Mode::Open { .. } | Mode::Downstream => SimDuration::ZERO,
        }
    }

    /// Opens a call slot; returns its index.
    pub(crate) fn open_call(&mut self, now: SimTime, user: u32, key: u32) -> u32 {
        let call = Call {
            key,
            born: now,
            generation: 0,
            attempts: 0,
            in_flight: false,
            prev_sleep_ns: 0,
            user,
            queued: false,
        };
        self.live_calls += 1;
        match self.free.pop() {
            Some(slot) => {
                let generation = self.calls[slot as usize].generation.wrapping_add(1);
                self.calls[slot as usize] = Call { generation, ..call };
                slot
            }
            None => {
                self.calls.push(call);
                (self.calls.len() - 1) as u32
            }
        }
    }

    /// Closes a call slot; bumps its generation so stale timers and replies are ignored.
    pub(crate) fn close_call(&mut self, slot: u32) {
        let c = &mut self.calls[slot as usize];
        c.generation = c.generation.wrapping_add(1);
        c.in_flight = false;
        self.free.push(slot);
        self.live_calls -= 1;
    }

    /// True if `slot` is still waiting for the reply of attempt generation `generation`.
    #[inline]
    pub fn is_waiting(&self, slot: u32, generation: u32) -> bool {
        slot == TRIVIAL_SLOT
            || self
                .calls
                .get(slot as usize)
                .is_some_and(|c| c.generation == generation && c.in_flight)
    }

    /// Marks or clears the `queued` flag of call `slot` if its attempt `generation` is the one
    /// in flight (queue abandonment).
    #[inline]
    pub(crate) fn set_queued(&mut self, slot: u32, generation: u32, queued: bool) {
        if let Some(c) = self.calls.get_mut(slot as usize)
            && c.generation == generation
            && c.in_flight
        {
            c.queued = queued;
        }
    }

    /// The per-attempt deadline for an attempt sent now: the attempt timeout (or a fresh draw
    /// of the patience, at least 1 ns), capped by the call's overall deadline.
    pub(crate) fn attempt_deadline(&mut self, born: SimTime, now: SimTime) -> SimTime {
        let timeout = match &self.patience {
            Some(p) => Some(SimDuration(
                p.sample(&mut self.patience_rng).as_nanos().max(1),
            )),
            None => self.timeout,
        };
        let by_timeout = timeout.map_or(SimTime::MAX, |t| now.saturating_add(t));
        let by_deadline = self
            .deadline
            .map_or(SimTime::MAX, |d| born.saturating_add(d));
        by_timeout.min(by_deadline)
    }

    /// Closed-loop users (0 in open loop).
    pub(crate) fn users(&self) -> u32 {
        match self.mode {
            Mode::Closed { users, .. } => users,
            Mode::Open { .. } | Mode::Downstream => 0,
        }
    }
}

impl Client {
    /// Re-seeds every random stream this component owns from its current state and `salt`
    /// (importance splitting: a cloned world's future draws made independent).
    pub(crate) fn reseed(&mut self, salt: u64) {
        sim_core::rng::reseed(&mut self.keys_rng, salt);
        sim_core::rng::reseed(&mut self.hosts_rng, salt);
        sim_core::rng::reseed(&mut self.arrivals_rng, salt);
        sim_core::rng::reseed(&mut self.think_rng, salt);
        sim_core::rng::reseed(&mut self.retry_rng, salt);
        sim_core::rng::reseed(&mut self.patience_rng, salt);
    }
}
