//! A lease manager: the EC2 DropletWorkflow Manager (DWFM) of the AWS us-east-1 incident of
//! 2025-10-20, whose congestive collapse *emerges* from its work queue.
//!
//! **Droplets.** `N` droplets (physical hosts) each hold a lease that expires `lease_ttl` after
//! it was last granted. Every droplet has a periodic check (`check_interval`; phases random,
//! synchronised, or random with a jittered interval). At a check, a droplet without a live job
//! asks for one: a *renewal* if it holds a lease, an *establishment* if not. A droplet whose
//! lease expires asks for an establishment at once (if it has no live job), then at each check.
//! A droplet has at most one live job (queued or running), so the queues hold at most `N` jobs.
//!
//! **Manager hosts.** `H` hosts, each with `W` workers and its own work queue; droplet `d`
//! belongs to host `d mod H`. A worker takes the next job (FIFO, or LIFO: the newest first);
//! with `drop_expired`, a job that has already waited `job_timeout` or longer is dropped
//! unworked (the droplet asks again at its next check). A job's work takes `renew_time` if the
//! droplet holds a lease when the job starts, else `establish_time`.
//!
//! **Dependency.** A job needs the `depends_on` service (DynamoDB): if that service is `down`
//! or its DNS record is empty (`record_empty`) *when the job starts*, the job fails after
//! `fail_time` (fast) and the droplet retries at its next check. (No resolver cache: the lease
//! manager sees the authoritative record.)
//!
//! **Timeout and requeue.** A job that completes more than `job_timeout` after it was enqueued
//! has timed out: its work is *wasted* and it is re-enqueued at the tail with a new enqueue
//! time (DWFM's documented behaviour: "work timed out before completing; additional work was
//! queued to re-attempt"). A job that completes in time succeeds (or fails, see above); a
//! success (re)grants the lease for a fresh `lease_ttl` draw from the completion time.
//!
//! **The collapse condition.** With `Q` jobs queued at a host whose throughput is `μ` jobs/s,
//! a job enqueued at the tail waits `Q/μ`. If `Q/μ + S > D` (`D` = `job_timeout`, `S` its work)
//! it times out, is requeued at the tail, and `Q` does not shrink: every job times out and
//! goodput is 0 forever, although every worker is busy. Once every droplet has a live job
//! there is no new work either: the state is absorbing. Only an outside action leaves it —
//! flushing the queues (`restart_hosts`) *and* admitting new work no faster than it can be
//! done (`lease_throttle`), or, designed in, a queue-size admission limit (`max_queue`) or a
//! discipline that serves fresh work (LIFO).
//!
//! **Coupling to users.** With `serves`, the served service's `error_rate` is set to
//! `1 − held/N` every time the number of held leases changes (so a launch client's calls fail
//! in proportion to droplets without a lease).
//!
//! **Operator actions.** `lease_throttle` caps the rate at which *establishment* jobs are
//! admitted (token bucket, burst ten seconds' worth; renewals of held leases and requeued
//! timed-out jobs are not new work and pass); a refused droplet asks again at its next check.
//! `restart_hosts` restarts the first `k` hosts: their queued and running jobs are lost (the
//! droplets ask again at their next check), their workers are free at once.
//!
//! Events: one timer per droplet (next check or lease expiry, whichever is first; lazily
//! cancelled through `timer_at`) and one completion per running job (lazily cancelled through
//! the droplet's job generation). Per droplet: 48 bytes of state in one record, the records
//! stored in the order of the droplets' check phases so that timers, which fire in that order,
//! walk the records almost sequentially (events and host queues name a droplet by its record's
//! position; nothing observable depends on it: see [`LeaseManager::new`]).

use std::collections::VecDeque;

use sim_core::{CounterId, GaugeId, Recorder, Sim, SimDuration, SimRng, SimTime};

use crate::dist::Dist;
use crate::request_path::service::Service;

/// Order in which a manager host takes queued jobs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum LeaseDiscipline {
    Fifo,
    /// Newest first (a requeued timed-out job is newest too).
    Lifo,
}

/// When droplets check in.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Renewal {
    /// Each droplet's first check is uniform in `[0, interval)`; then every `interval`.
    RandomPhase,
    /// Every droplet checks at `interval`, `2·interval`, … (all at once).
    Synchronised,
    /// Random first check, then each interval drawn uniformly from
    /// `[(1 − fraction)·interval, (1 + fraction)·interval]`.
    Jittered { fraction: f64 },
}

/// A validated lease manager.
#[derive(Clone, Debug)]
pub struct LeaseSpec {
    pub name: String,
    pub droplets: u32,
    pub hosts: u32,
    pub workers_per_host: u32,
    pub check_interval: SimDuration,
    pub renewal: Renewal,
    /// Lifetime of a granted lease (drawn per grant).
    pub lease_ttl: Dist,
    /// Remaining lifetime of each droplet's lease at t = 0 (`None`: `U(0,1) ×` a `lease_ttl`
    /// draw, the residual life of a lease granted at a random earlier time).
    pub initial_lease_remaining: Option<Dist>,
    /// `D`: a job completing later than this after its enqueue has timed out.
    pub job_timeout: SimDuration,
    pub renew_time: Dist,
    pub establish_time: Dist,
    /// Work of a job whose dependency is unavailable (it fails fast).
    pub fail_time: Dist,
    /// Service index of the dependency.
    pub depends_on: Option<u32>,
    /// Service index whose `error_rate` tracks `1 − held/N`.
    pub serves: Option<u32>,
    /// Per host: a new or requeued job is refused while the host's queue holds this many.
    pub max_queue: Option<u32>,
    pub discipline: LeaseDiscipline,
    pub drop_expired: bool,
    /// A load balancer whose network-propagation work follows lease establishments.
    pub feeds: Option<Feed>,
}

/// Work that lease establishments hand to a load balancer: once a droplet holds a lease again,
/// launches and terminations that waited for it go ahead, and each needs its network state
/// propagated (AWS 2025-10-20: Network Manager's backlog once DWFM had its leases back), and some
/// are new targets behind the load balancer, pending until their state has propagated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Feed {
    /// Index of the load balancer.
    pub lb: u32,
    /// Propagation items per establishment (fractions accumulate).
    pub backlog_per_establishment: f64,
    /// New load-balancer targets per establishment (fractions accumulate).
    pub targets_per_establishment: f64,
}

/// A lease manager event: a droplet's timer, or the completion of a droplet's running job.
/// Packed into two words so that `Event::Lease` stays within 16 bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Ev {
    /// The droplet's record position (not its droplet number).
    droplet: u32,
    /// [`TIMER`] for a timer, else the job generation.
    generation: u32,
}

const TIMER: u32 = u32::MAX;

/// `lease_throttle`'s bucket holds this many seconds' worth of tokens: enough to absorb the
/// random arrival of check-ins (at a few per second, a one-second bucket refuses a droplet
/// whenever two arrive close together, which slows the last few percent of a rebuild).
const THROTTLE_BURST_S: f64 = 10.0;

/// What an [`Ev`] means.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EvKind {
    Timer { droplet: u32 },
    Done { droplet: u32, generation: u32 },
}

impl Ev {
    pub fn timer(droplet: u32) -> Ev {
        Ev {
            droplet,
            generation: TIMER,
        }
    }
    pub fn done(droplet: u32, generation: u32) -> Ev {
        debug_assert!(generation != TIMER);
        Ev {
            droplet,
            generation,
        }
    }
    pub fn kind(self) -> EvKind {
        if self.generation == TIMER {
            EvKind::Timer {
                droplet: self.droplet,
            }
        } else {
            EvKind::Done {
                droplet: self.droplet,
                generation: self.generation,
            }
        }
    }
}

/// A droplet's state: lease expiry (0 = no lease), next check, the pending timer's time (a
/// timer firing at another time is stale), the live job's enqueue time, generation and state,
/// and its host (`d mod H` for droplet `d`: records are stored in timer order, not by `d`).
#[derive(Clone, Copy, Debug)]
struct Droplet {
    lease_until: u64,
    next_check: u64,
    timer_at: u64,
    enqueued: u64,
    generation: u32,
    host: u32,
    job: u8,
}

/// A droplet's job state.
const NO_JOB: u8 = 0;
const QUEUED: u8 = 1;
const RUN_RENEW: u8 = 2;
const RUN_ESTABLISH: u8 = 3;
const RUN_FAIL: u8 = 4;

#[derive(Clone)]
struct Host {
    queue: VecDeque<u32>,
    busy: u32,
    /// Jobs finished in time since the start (an operator's view of progress).
    ok: u64,
}

#[derive(Clone)]
struct Metrics {
    arrivals: CounterId,
    started: CounterId,
    wait_ns: CounterId,
    completions: CounterId,
    goodput: CounterId,
    wasted: CounterId,
    expired: CounterId,
    errors: CounterId,
    rejected: CounterId,
    throttled: CounterId,
    lost: CounterId,
    establishments: CounterId,
    renewals: CounterId,
    leases_held: GaugeId,
    lease_fraction: GaugeId,
    queue_len: GaugeId,
    busy: GaugeId,
}

/// Token bucket of `lease_throttle`.
#[derive(Clone, Copy, Debug)]
struct Bucket {
    rate_per_s: f64,
    burst: f64,
    tokens: f64,
    refilled: SimTime,
}

impl Bucket {
    fn take(&mut self, now: SimTime) -> bool {
        let dt = now.since(self.refilled).as_secs_f64();
        self.tokens = (self.tokens + dt * self.rate_per_s).min(self.burst);
        self.refilled = now;
        if self.tokens >= 1.0 {
            self.tokens -= 1.0;
            true
        } else {
            false
        }
    }
}

#[derive(Clone)]
pub struct LeaseManager {
    pub name: String,
    n: u32,
    workers: u32,
    interval: SimDuration,
    renewal: Renewal,
    lease_ttl: Dist,
    timeout: SimDuration,
    renew_time: Dist,
    establish_time: Dist,
    fail_time: Dist,
    depends_on: Option<u32>,
    serves: Option<u32>,
    max_queue: Option<u32>,
    discipline: LeaseDiscipline,
    drop_expired: bool,
    pub feed: Option<Feed>,
    /// Establishments not yet handed to the fed load balancer, as accumulated (items, targets).
    fed: (f64, f64),
    /// Per droplet, in one record (one cache line at most per timer, not one per field), stored
    /// in the order of the droplets' check phases (see [`LeaseManager::new`]); events and host
    /// queues name a droplet by its record's position.
    drops: Vec<Droplet>,
    hosts: Vec<Host>,
    held: u32,
    queued: u64,
    busy: u64,
    throttle: Option<Bucket>,
    work_rng: SimRng,
    ttl_rng: SimRng,
    check_rng: SimRng,
    m: Metrics,
}

impl LeaseManager {
    /// Builds manager number `idx` (its index in `World::leases`): every droplet holds a lease
    /// at t = 0 and has its first timer scheduled.
    ///
    /// Layout: the records are stored in the order of the droplets' first checks (ties by
    /// droplet number), not by droplet number. With a fixed interval a droplet checks at its
    /// phase plus a multiple of the interval, so timers fire in record order and each one finds
    /// its record next to the previous one's (in droplet order, every timer was a cache miss
    /// on a million droplets). Nothing observable depends on where a record lives: the initial
    /// draws and timers are made in droplet order as before (same streams, same sequence
    /// numbers), a droplet's host is still `d mod H`, and the only iteration over droplets
    /// (`restart`) draws and schedules nothing.
    pub fn new<E: From<(u32, Ev)>>(
        spec: &LeaseSpec,
        idx: u32,
        seed: u64,
        sim: &mut Sim<E>,
    ) -> LeaseManager {
        let name = spec.name.as_str();
        let rec: &mut Recorder = &mut sim.rec;
        let m = Metrics {
            arrivals: rec.counter(name, "arrivals"),
            started: rec.counter(name, "started"),
            wait_ns: rec.counter(name, "wait_ns"),
            completions: rec.counter(name, "completions"),
            goodput: rec.counter(name, "goodput"),
            wasted: rec.counter(name, "wasted"),
            expired: rec.counter(name, "expired"),
            errors: rec.counter(name, "errors"),
            rejected: rec.counter(name, "rejected"),
            throttled: rec.counter(name, "throttled"),
            lost: rec.counter(name, "lost"),
            establishments: rec.counter(name, "establishments"),
            renewals: rec.counter(name, "renewals"),
            leases_held: rec.gauge(name, "leases_held"),
            lease_fraction: rec.gauge(name, "lease_fraction"),
            queue_len: rec.gauge(name, "queue_len"),
            busy: rec.gauge(name, "busy"),
        };
        let n = spec.droplets.max(1);
        let h = spec.hosts.max(1);
        let mut init_rng = sim_core::stream(seed, &format!("{name}/initial"));
        let mut check_rng = sim_core::stream(seed, &format!("{name}/checks"));
        let interval = spec.check_interval.as_nanos().max(1);
        // Per droplet number: (first check, lease expiry).
        let mut draws: Vec<(u64, u64)> = Vec::with_capacity(n as usize);
        for _ in 0..n {
            let remaining = match &spec.initial_lease_remaining {
                Some(dist) => dist.sample(&mut init_rng).as_nanos(),
                None => {
                    let ttl = spec.lease_ttl.sample(&mut init_rng).as_nanos() as f64;
                    let u: f64 = rand::RngExt::random(&mut init_rng);
                    (u * ttl) as u64
                }
            };
            let until = remaining.max(1);
            let check = match spec.renewal {
                Renewal::Synchronised => interval,
                Renewal::RandomPhase | Renewal::Jittered { .. } => {
                    rand::RngExt::random_range(&mut check_rng, 0..interval)
                }
            };
            draws.push((check, until));
        }
        // Droplet numbers in record order, and each droplet's record position.
        let mut order: Vec<u32> = (0..n).collect();
        order.sort_unstable_by_key(|&d| (draws[d as usize].0, d));
        let mut position = vec![0u32; n as usize];
        for (k, &d) in order.iter().enumerate() {
            position[d as usize] = k as u32;
        }
        let drops: Vec<Droplet> = order
            .iter()
            .map(|&d| {
                let (check, until) = draws[d as usize];
                Droplet {
                    lease_until: until,
                    next_check: check,
                    timer_at: check.min(until),
                    enqueued: 0,
                    generation: 0,
                    host: d % h,
                    job: NO_JOB,
                }
            })
            .collect();
        drop(order);
        for (d, &(check, until)) in draws.iter().enumerate() {
            let at = check.min(until);
            sim.schedule_timer_at(SimTime(at), E::from((idx, Ev::timer(position[d]))));
        }
        drop((draws, position));
        let now = sim.now();
        sim.rec.gauge_set_count(m.leases_held, now, n as u64);
        sim.rec.gauge_set(m.lease_fraction, now, 1.0);
        LeaseManager {
            name: spec.name.clone(),
            n,
            workers: spec.workers_per_host.max(1),
            interval: SimDuration(interval),
            renewal: spec.renewal,
            lease_ttl: spec.lease_ttl.clone(),
            timeout: spec.job_timeout,
            renew_time: spec.renew_time.clone(),
            establish_time: spec.establish_time.clone(),
            fail_time: spec.fail_time.clone(),
            depends_on: spec.depends_on,
            serves: spec.serves,
            max_queue: spec.max_queue,
            discipline: spec.discipline,
            drop_expired: spec.drop_expired,
            feed: spec.feeds,
            fed: (0.0, 0.0),
            drops,
            hosts: (0..h)
                .map(|_| Host {
                    queue: VecDeque::new(),
                    busy: 0,
                    ok: 0,
                })
                .collect(),
            held: n,
            queued: 0,
            busy: 0,
            throttle: None,
            work_rng: sim_core::stream(seed, &format!("{name}/work")),
            ttl_rng: sim_core::stream(seed, &format!("{name}/ttl")),
            check_rng,
            m,
        }
    }

    /// Leases held now.
    pub fn held(&self) -> u32 {
        self.held
    }

    /// Jobs queued now (all hosts).
    pub fn queued(&self) -> u64 {
        self.queued
    }

    /// The whole propagation items and targets owed to the fed load balancer since the last
    /// call: `(lb, items, targets)`, or `None` if nothing whole is owed.
    pub fn take_feed(&mut self) -> Option<(u32, u64, u32)> {
        let f = self.feed?;
        let items = self.fed.0.floor();
        let targets = self.fed.1.floor();
        if items < 1.0 && targets < 1.0 {
            return None;
        }
        self.fed.0 -= items;
        self.fed.1 -= targets;
        Some((f.lb, items as u64, targets as u32))
    }

    /// Dispatches event `ev` of this manager (number `idx`).
    #[inline]
    pub fn handle<E: From<(u32, Ev)>>(
        &mut self,
        idx: u32,
        ev: Ev,
        services: &mut [Service],
        sim: &mut Sim<E>,
    ) {
        match ev.kind() {
            EvKind::Timer { droplet } => self.on_timer(idx, droplet, services, sim),
            EvKind::Done {
                droplet,
                generation,
            } => self.on_done(idx, droplet, generation, services, sim),
        }
    }

    fn schedule_timer<E: From<(u32, Ev)>>(&mut self, idx: u32, d: u32, at: u64, sim: &mut Sim<E>) {
        self.drops[d as usize].timer_at = at;
        sim.schedule_timer_at(SimTime(at), E::from((idx, Ev::timer(d))));
    }

    fn on_timer<E: From<(u32, Ev)>>(
        &mut self,
        idx: u32,
        d: u32,
        services: &mut [Service],
        sim: &mut Sim<E>,
    ) {
        let now = sim.now().0;
        let k = d as usize;
        if self.drops[k].timer_at != now {
            return; // replaced by an earlier timer
        }
        let mut wants_job = false;
        let until = self.drops[k].lease_until;
        if until != 0 && now >= until {
            self.drops[k].lease_until = 0;
            self.set_held(self.held - 1, services, sim);
            wants_job = true; // "a droplet without a lease asks for a lease-establishment job"
        }
        if now >= self.drops[k].next_check {
            let step = match self.renewal {
                Renewal::RandomPhase | Renewal::Synchronised => self.interval.as_nanos(),
                Renewal::Jittered { fraction } => {
                    let u: f64 = rand::RngExt::random(&mut self.check_rng);
                    let f = 1.0 - fraction + 2.0 * fraction * u;
                    ((self.interval.as_nanos() as f64 * f) as u64).max(1)
                }
            };
            self.drops[k].next_check = self.drops[k].next_check.saturating_add(step).max(now + 1);
            wants_job = true;
        }
        if wants_job && self.drops[k].job == NO_JOB {
            self.request(idx, d, services, sim);
        }
        let until = self.drops[k].lease_until;
        let at = if until != 0 {
            self.drops[k].next_check.min(until)
        } else {
            self.drops[k].next_check
        };
        self.schedule_timer(idx, d, at, sim);
    }

    /// Droplet `d` asks for a job (admission: throttle for establishments, queue bound).
    fn request<E: From<(u32, Ev)>>(
        &mut self,
        idx: u32,
        d: u32,
        services: &mut [Service],
        sim: &mut Sim<E>,
    ) {
        let now = sim.now();
        if self.drops[d as usize].lease_until == 0
            && let Some(b) = &mut self.throttle
            && !b.take(now)
        {
            sim.rec.incr(self.m.throttled);
            return;
        }
        if !self.admit_to_queue(d) {
            sim.rec.incr(self.m.rejected);
            return;
        }
        sim.rec.incr(self.m.arrivals);
        self.enqueue(idx, d, services, sim);
    }

    fn admit_to_queue(&self, d: u32) -> bool {
        let h = self.drops[d as usize].host as usize;
        self.max_queue
            .is_none_or(|q| self.hosts[h].queue.len() < q as usize)
    }

    fn enqueue<E: From<(u32, Ev)>>(
        &mut self,
        idx: u32,
        d: u32,
        services: &mut [Service],
        sim: &mut Sim<E>,
    ) {
        let now = sim.now();
        let k = d as usize;
        self.drops[k].job = QUEUED;
        self.drops[k].enqueued = now.0;
        let h = self.drops[k].host as usize;
        self.hosts[h].queue.push_back(d);
        self.queued += 1;
        sim.rec.gauge_set_count(self.m.queue_len, now, self.queued);
        if self.hosts[h].busy < self.workers {
            self.start_next(idx, h, services, sim);
        }
    }

    /// A worker of host `h` is free: start the next job that is worth starting.
    fn start_next<E: From<(u32, Ev)>>(
        &mut self,
        idx: u32,
        h: usize,
        services: &[Service],
        sim: &mut Sim<E>,
    ) {
        let now = sim.now();
        loop {
            let next = match self.discipline {
                LeaseDiscipline::Fifo => self.hosts[h].queue.pop_front(),
                LeaseDiscipline::Lifo => self.hosts[h].queue.pop_back(),
            };
            let Some(d) = next else { break };
            self.queued -= 1;
            let k = d as usize;
            let waited = now.0.saturating_sub(self.drops[k].enqueued);
            if self.drop_expired && waited >= self.timeout.as_nanos() {
                self.drops[k].job = NO_JOB;
                sim.rec.incr(self.m.expired);
                continue;
            }
            let dep_ok = self.depends_on.is_none_or(|s| {
                services
                    .get(s as usize)
                    .is_none_or(|s| !s.down && !s.record_empty)
            });
            let (state, work) = if !dep_ok {
                (RUN_FAIL, self.fail_time.sample(&mut self.work_rng))
            } else if self.drops[k].lease_until != 0 {
                (RUN_RENEW, self.renew_time.sample(&mut self.work_rng))
            } else {
                (
                    RUN_ESTABLISH,
                    self.establish_time.sample(&mut self.work_rng),
                )
            };
            self.drops[k].job = state;
            self.hosts[h].busy += 1;
            self.busy += 1;
            sim.rec.incr(self.m.started);
            sim.rec.add_saturating(self.m.wait_ns, waited);
            sim.rec.gauge_set_count(self.m.busy, now, self.busy);
            let generation = self.drops[k].generation;
            sim.schedule_in(work, E::from((idx, Ev::done(d, generation))));
            break;
        }
        sim.rec.gauge_set_count(self.m.queue_len, now, self.queued);
    }

    fn on_done<E: From<(u32, Ev)>>(
        &mut self,
        idx: u32,
        d: u32,
        generation: u32,
        services: &mut [Service],
        sim: &mut Sim<E>,
    ) {
        let now = sim.now();
        let k = d as usize;
        let state = self.drops[k].job;
        if self.drops[k].generation != generation
            || !matches!(state, RUN_RENEW | RUN_ESTABLISH | RUN_FAIL)
        {
            return; // lost to a host restart
        }
        let h = self.drops[k].host as usize;
        self.hosts[h].busy -= 1;
        self.busy -= 1;
        sim.rec.gauge_set_count(self.m.busy, now, self.busy);
        sim.rec.incr(self.m.completions);
        let age = now.0.saturating_sub(self.drops[k].enqueued);
        if age > self.timeout.as_nanos() {
            // Timed out: the work is wasted and the job is queued again at the tail.
            sim.rec.incr(self.m.wasted);
            self.drops[k].job = NO_JOB;
            if self.admit_to_queue(d) {
                self.enqueue(idx, d, services, sim);
            } else {
                sim.rec.incr(self.m.rejected);
            }
        } else if state == RUN_FAIL {
            sim.rec.incr(self.m.errors);
            self.drops[k].job = NO_JOB;
        } else {
            self.drops[k].job = NO_JOB;
            self.hosts[h].ok += 1;
            sim.rec.incr(self.m.goodput);
            let ttl = self.lease_ttl.sample(&mut self.ttl_rng).as_nanos().max(1);
            let until = now.0.saturating_add(ttl);
            let was_held = self.drops[k].lease_until != 0;
            self.drops[k].lease_until = until;
            if was_held {
                sim.rec.incr(self.m.renewals);
            } else {
                sim.rec.incr(self.m.establishments);
                if let Some(f) = self.feed {
                    self.fed.0 += f.backlog_per_establishment;
                    self.fed.1 += f.targets_per_establishment;
                }
                self.set_held(self.held + 1, services, sim);
                if until < self.drops[k].timer_at {
                    self.schedule_timer(idx, d, until, sim);
                }
            }
        }
        if self.hosts[h].busy < self.workers {
            self.start_next(idx, h, services, sim);
        }
    }

    fn set_held<E: From<(u32, Ev)>>(
        &mut self,
        held: u32,
        services: &mut [Service],
        sim: &mut Sim<E>,
    ) {
        let now = sim.now();
        self.held = held;
        let fraction = held as f64 / self.n as f64;
        sim.rec
            .gauge_set_count(self.m.leases_held, now, held as u64);
        sim.rec.gauge_set(self.m.lease_fraction, now, fraction);
        if let Some(s) = self.serves.and_then(|s| services.get_mut(s as usize)) {
            s.error_rate = 1.0 - fraction;
        }
    }

    /// `lease_throttle`: admit at most `rate_per_s` establishment jobs per second (`None`:
    /// lift the throttle).
    pub fn set_throttle(&mut self, rate_per_s: Option<f64>, now: SimTime) {
        self.throttle = rate_per_s.map(|r| {
            let burst = (r * THROTTLE_BURST_S).max(1.0);
            Bucket {
                rate_per_s: r,
                burst,
                tokens: burst,
                refilled: now,
            }
        });
    }

    /// `restart_hosts`: the first `k` hosts restart; everything they hold is lost.
    pub fn restart_hosts<E: From<(u32, Ev)>>(&mut self, k: u32, sim: &mut Sim<E>) {
        let k = (k as usize).min(self.hosts.len());
        let hosts: Vec<usize> = (0..k).collect();
        self.restart(&hosts, sim);
    }

    /// An operator's view of each host: (jobs finished in time so far, jobs queued now).
    pub fn host_progress(&self) -> Vec<(u64, u64)> {
        self.hosts
            .iter()
            .map(|h| (h.ok, h.queue.len() as u64))
            .collect()
    }

    /// Droplets without a lease, as a share of all droplets.
    pub fn unleased_fraction(&self) -> f64 {
        1.0 - f64::from(self.held) / f64::from(self.n.max(1))
    }

    /// (jobs that timed out, jobs finished) since the start of the run.
    pub fn waste_counts(&self, rec: &sim_core::Recorder) -> (u64, u64) {
        (
            rec.counter_cumulative(self.m.wasted),
            rec.counter_cumulative(self.m.completions),
        )
    }

    /// Restarts hosts `hosts` (indices): everything they hold is lost.
    pub fn restart<E: From<(u32, Ev)>>(&mut self, hosts: &[usize], sim: &mut Sim<E>) {
        let now = sim.now();
        let n_hosts = self.hosts.len();
        let mut lost = 0u64;
        let mut restarted = vec![false; n_hosts];
        for &h in hosts.iter().filter(|&&h| h < n_hosts) {
            if std::mem::replace(&mut restarted[h], true) {
                continue; // named twice: nothing left to lose
            }
            let host = &mut self.hosts[h];
            for &d in &host.queue {
                self.drops[d as usize].job = NO_JOB;
            }
            lost += host.queue.len() as u64;
            self.queued -= host.queue.len() as u64;
            host.queue.clear();
            self.busy -= host.busy as u64;
            host.busy = 0;
        }
        // Running jobs of the restarted hosts (records are not grouped by host: one pass).
        for r in &mut self.drops {
            if restarted[r.host as usize] && matches!(r.job, RUN_RENEW | RUN_ESTABLISH | RUN_FAIL) {
                r.job = NO_JOB;
                r.generation = next_generation(r.generation);
                lost += 1;
            }
        }
        sim.rec.add(self.m.lost, lost);
        sim.rec.gauge_set_count(self.m.queue_len, now, self.queued);
        sim.rec.gauge_set_count(self.m.busy, now, self.busy);
    }
}

/// The next job generation, skipping the timer marker.
fn next_generation(g: u32) -> u32 {
    let n = g.wrapping_add(1);
    if n == TIMER { 0 } else { n }
}

impl LeaseManager {
    /// Re-seeds every random stream this component owns from its current state and `salt`
    /// (importance splitting: a cloned world's future draws made independent).
    pub(crate) fn reseed(&mut self, salt: u64) {
        sim_core::rng::reseed(&mut self.work_rng, salt);
        sim_core::rng::reseed(&mut self.ttl_rng, salt);
        sim_core::rng::reseed(&mut self.check_rng, salt);
    }
}

/// A lease manager for tests: `droplets` droplets on one host with one worker, checks every
/// 180 s at random phases, leases of U(5, 155) min, a 30 s job timeout, constant work times
/// (renewal 40 ms, establishment 1.2 s, failure 10 ms), no dependency, FIFO. Tests set over it
/// what they vary.
#[cfg(test)]
pub(crate) fn test_spec(droplets: u32) -> LeaseSpec {
    let c = |ms: u64| Dist::Constant { ns: ms * 1_000_000 };
    LeaseSpec {
        name: "dwfm".into(),
        droplets,
        hosts: 1,
        workers_per_host: 1,
        check_interval: SimDuration::from_secs_f64(180.0),
        renewal: Renewal::RandomPhase,
        lease_ttl: Dist::Uniform {
            lo_ns: 300e9,
            hi_ns: 9300e9,
        },
        initial_lease_remaining: None,
        job_timeout: SimDuration::from_secs_f64(30.0),
        renew_time: c(40),
        establish_time: c(1200),
        fail_time: c(10),
        depends_on: None,
        serves: None,
        max_queue: None,
        discipline: LeaseDiscipline::Fifo,
        drop_expired: false,
        feeds: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn event_is_small() {
        assert!(std::mem::size_of::<Ev>() == 8);
        assert!(std::mem::size_of::<Droplet>() <= 48);
    }

    /// A model that only records the lease events it is given, in order.
    struct Log(Vec<(u64, Ev)>);
    impl sim_core::Model for Log {
        type Event = (u32, Ev);
        fn handle(&mut self, (_, ev): (u32, Ev), sim: &mut Sim<(u32, Ev)>) {
            self.0.push((sim.now().0, ev));
        }
    }

    /// The records are in check-phase order, each droplet's host is still `d mod H`, and the
    /// initial timers are drawn and scheduled in droplet order: they pop in (first check,
    /// droplet) order — equal times by sequence number, the scheduling order — each naming the
    /// record of that droplet.
    #[test]
    fn records_in_phase_order_timers_in_droplet_order() {
        for renewal in [Renewal::RandomPhase, Renewal::Synchronised] {
            let (n, h) = (2_000u32, 7u32);
            let mut spec = LeaseSpec {
                hosts: h,
                renewal,
                ..test_spec(n)
            };
            spec.initial_lease_remaining = Some(Dist::Constant { ns: u64::MAX / 2 });
            let rec = Recorder::new(SimDuration::from_secs_f64(10.0), SimDuration::ZERO, 1000);
            let mut sim: Sim<(u32, Ev)> = Sim::new(rec);
            let m = LeaseManager::new(&spec, 0, 3, &mut sim);
            assert!(
                m.drops
                    .windows(2)
                    .all(|w| w[0].next_check <= w[1].next_check)
            );
            // The draws as before the layout, in droplet order: droplet d's first check.
            let mut check_rng = sim_core::stream(3, "dwfm/checks");
            let interval = spec.check_interval.as_nanos();
            let checks: Vec<u64> = (0..n)
                .map(|_| match renewal {
                    Renewal::Synchronised => interval,
                    _ => rand::RngExt::random_range(&mut check_rng, 0..interval),
                })
                .collect();
            let mut want: Vec<u32> = (0..n).collect();
            want.sort_by_key(|&d| (checks[d as usize], d));
            let mut log = Log(Vec::new());
            let limits = sim_core::Limits {
                horizon: SimTime(interval + 1),
                max_events: u64::MAX,
            };
            sim.run(&mut log, limits);
            assert_eq!(log.0.len(), n as usize);
            for (&(t, ev), &d) in log.0.iter().zip(&want) {
                let EvKind::Timer { droplet: k } = ev.kind() else {
                    panic!("only timers at first");
                };
                let r = &m.drops[k as usize];
                assert_eq!((t, r.timer_at), (checks[d as usize], t), "droplet {d}");
                assert_eq!((r.host, r.next_check), (d % h, t), "droplet {d}");
            }
        }
    }
}
