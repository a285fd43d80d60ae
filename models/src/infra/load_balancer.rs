//! A load balancer in front of a service: targets spread over zones, a health checker of
//! finite capacity, a network-propagation queue that new targets wait in, and automatic zone
//! failover with an optional velocity limit.
//!
//! This is the mechanism of the NLB phase of the AWS 2025-10-20 us-east-1 event: new
//! instances were brought into health checking before Network Manager had propagated their
//! network state; their checks alternated fail/pass; the flapping loaded the health-check
//! subsystem, which delayed checks; delayed checks failed healthy targets and triggered
//! automatic AZ DNS failover, which took healthy capacity out of service.
//!
//! - **Targets.** `targets` targets, round-robin over `zones`; each brings
//!   `servers_per_target` servers of the fronted service. A target is *in service* when its
//!   health state is healthy and its zone is not failed away — except that a zone below the
//!   failover threshold that is not failed away (failover off, or held back by the velocity
//!   limit) routes to all its targets (`fail_open`, the NLB behaviour). The load balancer
//!   keeps the service's server count equal to the in-service servers (the caller applies it
//!   with `World::set_servers`). A pending target serves normally once in service.
//! - **Health checks.** Every target is checked every `interval` (initial phases evenly
//!   spread). A check is a job in the checker's FIFO queue, served by `checker_workers`
//!   workers with service time `check_time`. A check whose result comes back more than
//!   `timeout` after it was due counts as failed. A target with a check still outstanding
//!   skips its tick (one outstanding check per target). `unhealthy_threshold` consecutive
//!   failures take a healthy target out; `healthy_threshold` consecutive passes bring an
//!   unhealthy one in.
//! - **Flap work.** Each health state change adds `flap_cost` checks' worth of work (DNS
//!   updates, re-checks) to the checker queue; each zone failover or return adds
//!   `failover_cost` checks' worth (DNS updates). So flapping delays checks, and
//!   delayed checks fail healthy targets: the loop is not scripted.
//! - **Network propagation.** A FIFO queue processed at `propagation_rate_per_s` items per
//!   second (deterministic). A trigger can put a backlog of other items in it; a launched
//!   target joins its tail and is *pending* until processed. A probe to a pending target gets
//!   no answer with probability `pending_fail_prob` (drawn when it is sent), even though the
//!   target is healthy: the check fails, and it holds its checker worker until the timeout.
//!   Launched targets start unhealthy and are checked at once.
//! - **Zone failover.** While enabled, a zone whose fraction of healthy targets drops below
//!   `failover_below` is failed away (its whole capacity out of service, healthy or not); it
//!   comes back once the fraction has stayed at or above the threshold for `failover_hold`.
//!   With a `velocity_limit` f, failover never holds more than f of all targets out at once.
//!   Disabling failover (an operator action) brings every failed zone back at once.

use std::collections::VecDeque;

use rand::RngExt;
use rand_distr::{Distribution, Exp1};
use sim_core::{CounterId, GaugeId, HistId, Recorder, Sim, SimDuration, SimRng, SimTime};

use crate::dist::Dist;

/// A validated load balancer (see the module docs for the meaning of each field).
#[derive(Clone, Debug, PartialEq)]
pub struct LoadBalancerSpec {
    pub name: String,
    /// Index of the fronted service in `WorldSpec::services`.
    pub service: u32,
    pub zones: u32,
    /// Targets at the start (all healthy and propagated).
    pub targets: u32,
    /// Most targets ever registered (launches beyond it are dropped and counted).
    pub max_targets: u32,
    pub servers_per_target: u32,
    pub interval: SimDuration,
    pub timeout: SimDuration,
    pub healthy_threshold: u32,
    pub unhealthy_threshold: u32,
    pub checker_workers: u32,
    pub check_time: Dist,
    /// Checks' worth of checker work per target health state change.
    pub flap_cost: f64,
    /// Checks' worth of checker work per zone that fails away or comes back (DNS updates).
    pub failover_cost: f64,
    pub pending_fail_prob: f64,
    pub propagation_rate_per_s: f64,
    /// Automatic zone failover is enabled at the start.
    pub failover: bool,
    pub failover_below: f64,
    pub failover_hold: SimDuration,
    /// Largest fraction of all targets failover may hold out of service at once.
    pub velocity_limit: Option<f64>,
    /// A zone below `failover_below` that is not failed away routes to all its targets,
    /// healthy or not (NLB "fail open").
    pub fail_open: bool,
}

/// What a trigger or an operator action does to a load balancer.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Op {
    /// `items` other items join the propagation queue (a backlog ahead of new targets).
    Backlog { items: u64 },
    /// `targets` new targets are launched now.
    Launch { targets: u32 },
    /// New targets are launched at `rate_per_s` (Poisson) from now on.
    LaunchRate { rate_per_s: f64 },
    /// The propagation queue is processed at `rate_per_s` from now on.
    PropagationRate { rate_per_s: f64 },
    /// Automatic zone failover on or off (off brings failed zones back at once).
    Failover { enabled: bool },
}

/// The load balancer's own events.
#[derive(Clone, Copy, Debug)]
pub enum Ev {
    /// Target `target`'s periodic health check is due.
    Tick { target: u32 },
    /// Checker worker `worker` finished its job.
    CheckDone { worker: u32 },
    /// The propagation queue finished its head item.
    Propagated,
    /// The next launch drawn under launch-rate epoch `epoch`.
    Launch { epoch: u32 },
    /// Failed zone `zone` may have passed for the hold time.
    ZoneHold { zone: u32 },
}

#[derive(Clone, Copy, Debug)]
struct Target {
    zone: u32,
    healthy: bool,
    /// Consecutive results contrary to the current state.
    streak: u32,
    pending: bool,
    /// A check of this target is queued or running.
    outstanding: bool,
}

/// A job of the health checker.
#[derive(Clone, Copy, Debug)]
enum Job {
    /// A health check of `target`, due at `due`; `unreachable`: its probe gets no answer
    /// (drawn when the probe is sent).
    Check {
        target: u32,
        due: SimTime,
        unreachable: bool,
    },
    /// `units` pieces of flap or failover work of `unit_ns` each.
    Work { units: u32, unit_ns: u64 },
}

/// An entry of the propagation queue.
#[derive(Clone, Copy, Debug)]
enum Prop {
    /// Other items (a backlog).
    Items(u64),
    Target(u32),
}

#[derive(Clone)]
struct Metrics {
    checks: CounterId,
    checks_failed: CounterId,
    checks_late: CounterId,
    flaps: CounterId,
    failovers: CounterId,
    launches_dropped: CounterId,
    in_service: GaugeId,
    healthy: GaugeId,
    pending: GaugeId,
    zones_failed: GaugeId,
    failover_removed: GaugeId,
    queue_len: GaugeId,
    busy: GaugeId,
    netmgr_backlog: GaugeId,
    /// Check latency: due → result (reported as the component's task durations, `task_ms_*`).
    latency: HistId,
}

#[derive(Clone)]
pub struct LoadBalancer {
    pub spec: LoadBalancerSpec,
    targets: Vec<Target>,
    n_pending: u32,
    next_zone: u32,
    zone_targets: Vec<u32>,
    zone_healthy: Vec<u32>,
    zone_failed: Vec<bool>,
    passing_since: Vec<Option<SimTime>>,
    failover: bool,
    queue: VecDeque<Job>,
    /// Checks plus work units waiting in the queue.
    queued: u64,
    workers: Vec<Option<Job>>,
    idle: Vec<u32>,
    busy: u32,
    check_mean_ns: f64,
    prop: VecDeque<Prop>,
    prop_len: u64,
    prop_busy: bool,
    prop_rate: f64,
    launch_rate: f64,
    launch_epoch: u32,
    /// The server count last handed to the service.
    servers: u32,
    /// Health, zone, pending or failover state changed since the last `refresh`.
    dirty: bool,
    check_rng: SimRng,
    pending_rng: SimRng,
    launch_rng: SimRng,
    m: Metrics,
}

impl LoadBalancer {
    pub fn new(spec: &LoadBalancerSpec, seed: u64, rec: &mut Recorder) -> LoadBalancer {
        let n = &spec.name;
        let z = spec.zones.max(1) as usize;
        let mut lb = LoadBalancer {
            spec: spec.clone(),
            targets: Vec::with_capacity(spec.targets as usize),
            n_pending: 0,
            next_zone: 0,
            zone_targets: vec![0; z],
            zone_healthy: vec![0; z],
            zone_failed: vec![false; z],
            passing_since: vec![None; z],
            failover: spec.failover,
            queue: VecDeque::new(),
            queued: 0,
            workers: vec![None; spec.checker_workers as usize],
            idle: (0..spec.checker_workers).rev().collect(),
            busy: 0,
            check_mean_ns: spec.check_time.mean_ns(),
            prop: VecDeque::new(),
            prop_len: 0,
            prop_busy: false,
            prop_rate: spec.propagation_rate_per_s,
            launch_rate: 0.0,
            launch_epoch: 0,
            servers: 0,
            dirty: true,
            check_rng: sim_core::stream(seed, &format!("{n}/checks")),
            pending_rng: sim_core::stream(seed, &format!("{n}/pending")),
            launch_rng: sim_core::stream(seed, &format!("{n}/launches")),
            m: Metrics {
                checks: rec.counter(n, "checks"),
                checks_failed: rec.counter(n, "checks_failed"),
                checks_late: rec.counter(n, "checks_late"),
                flaps: rec.counter(n, "flaps"),
                failovers: rec.counter(n, "failovers"),
                launches_dropped: rec.counter(n, "launches_dropped"),
                in_service: rec.gauge(n, "targets_in_service"),
                healthy: rec.gauge(n, "targets_healthy"),
                pending: rec.gauge(n, "targets_pending"),
                zones_failed: rec.gauge(n, "zones_failed"),
                failover_removed: rec.gauge(n, "failover_removed"),
                queue_len: rec.gauge(n, "queue_len"),
                busy: rec.gauge(n, "busy"),
                netmgr_backlog: rec.gauge(n, "netmgr_backlog"),
                latency: rec.histogram(n, "task"),
            },
        };
        for t in 0..spec.targets {
            let zone = t % z as u32;
            lb.targets.push(Target {
                zone,
                healthy: true,
                streak: 0,
                pending: false,
                outstanding: false,
            });
            lb.zone_targets[zone as usize] += 1;
            lb.zone_healthy[zone as usize] += 1;
        }
        lb.next_zone = spec.targets % z as u32;
        lb
    }

    /// Schedules the first checks (phases evenly spread over one interval) and returns the
    /// service's initial server count.
    pub fn start<E: From<(u32, Ev)>>(&mut self, idx: u32, sim: &mut Sim<E>) -> u32 {
        let n = self.targets.len().max(1) as u64;
        let interval = self.spec.interval.as_nanos();
        for t in 0..self.targets.len() as u32 {
            let phase = (interval as u128 * t as u128 / n as u128) as u64;
            sim.schedule_in(SimDuration(phase), lb_event(idx, Ev::Tick { target: t }));
        }
        self.refresh(sim.now(), &mut sim.rec);
        self.servers
    }

    /// The fronted service's index.
    /// Items waiting in the network-propagation queue.
    pub fn propagation_backlog(&self) -> u64 {
        self.prop_len
    }

    pub fn service(&self) -> u32 {
        self.spec.service
    }

    /// Targets whose health state is healthy.
    pub fn healthy(&self) -> u32 {
        self.zone_healthy.iter().sum()
    }

    /// Handles one of this load balancer's events; returns the service's new server count if
    /// it changed.
    pub fn handle<E: From<(u32, Ev)>>(
        &mut self,
        idx: u32,
        ev: Ev,
        sim: &mut Sim<E>,
    ) -> Option<u32> {
        let now = sim.now();
        match ev {
            Ev::Tick { target } => {
                sim.schedule_in(self.spec.interval, lb_event(idx, ev));
                let t = &mut self.targets[target as usize];
                if t.outstanding {
                    return None; // the previous check has not come back yet
                }
                t.outstanding = true;
                self.queue.push_back(Job::Check {
                    target,
                    due: now,
                    unreachable: false,
                });
                self.queued += 1;
                self.start_workers(idx, sim);
                sim.rec.gauge_set_count(self.m.queue_len, now, self.queued);
                None
            }
            Ev::CheckDone { worker } => {
                let job = self.workers[worker as usize].take();
                self.busy -= 1;
                self.idle.push(worker);
                if let Some(Job::Check {
                    target,
                    due,
                    unreachable,
                }) = job
                {
                    self.check_result(idx, target, due, unreachable, sim);
                }
                self.start_workers(idx, sim);
                self.refresh(now, &mut sim.rec)
            }
            Ev::Propagated => {
                self.prop_busy = false;
                match self.prop.front_mut() {
                    Some(Prop::Items(n)) if *n > 1 => *n -= 1,
                    Some(Prop::Items(_)) => {
                        self.prop.pop_front();
                    }
                    Some(&mut Prop::Target(t)) => {
                        self.prop.pop_front();
                        self.targets[t as usize].pending = false;
                        self.n_pending -= 1;
                        self.dirty = true;
                    }
                    None => {}
                }
                self.prop_len = self.prop_len.saturating_sub(1);
                self.start_propagation(idx, sim);
                self.refresh(now, &mut sim.rec)
            }
            Ev::Launch { epoch } => {
                if epoch != self.launch_epoch {
                    return None; // drawn under a launch rate that has since changed
                }
                self.schedule_launch(idx, sim);
                self.launch(idx, sim);
                self.start_propagation(idx, sim);
                self.refresh(now, &mut sim.rec)
            }
            Ev::ZoneHold { zone } => {
                let z = zone as usize;
                let held = self.passing_since[z]
                    .is_some_and(|t| now >= t.saturating_add(self.spec.failover_hold));
                if self.failover && self.zone_failed[z] && held {
                    self.restore_zone(z);
                    self.evaluate_all(idx, sim);
                }
                self.refresh(now, &mut sim.rec)
            }
        }
    }

    /// Applies a trigger or operator action; returns the service's new server count if it
    /// changed.
    pub fn apply<E: From<(u32, Ev)>>(&mut self, idx: u32, op: Op, sim: &mut Sim<E>) -> Option<u32> {
        let now = sim.now();
        match op {
            Op::Backlog { items } => {
                if items > 0 {
                    match self.prop.back_mut() {
                        Some(Prop::Items(n)) => *n = n.saturating_add(items),
                        _ => self.prop.push_back(Prop::Items(items)),
                    }
                    self.prop_len = self.prop_len.saturating_add(items);
                }
            }
            Op::Launch { targets } => {
                for _ in 0..targets {
                    self.launch(idx, sim);
                }
            }
            Op::LaunchRate { rate_per_s } => {
                self.launch_rate = rate_per_s;
                self.launch_epoch = self.launch_epoch.wrapping_add(1);
                self.schedule_launch(idx, sim);
            }
            Op::PropagationRate { rate_per_s } => self.prop_rate = rate_per_s,
            Op::Failover { enabled } => {
                self.failover = enabled;
                self.dirty = true;
                if enabled {
                    self.evaluate_all(idx, sim);
                } else {
                    for z in 0..self.zone_failed.len() {
                        if self.zone_failed[z] {
                            self.restore_zone(z);
                        }
                    }
                    self.start_workers(idx, sim);
                }
            }
        }
        self.start_propagation(idx, sim);
        self.refresh(now, &mut sim.rec)
    }

    // ------------------------------------------------------------------ checker

    /// Idle workers take the next jobs.
    fn start_workers<E: From<(u32, Ev)>>(&mut self, idx: u32, sim: &mut Sim<E>) {
        while !self.idle.is_empty() {
            let job = match self.queue.front_mut() {
                None => break,
                Some(Job::Work { units, unit_ns }) if *units > 1 => {
                    *units -= 1;
                    Job::Work {
                        units: 1,
                        unit_ns: *unit_ns,
                    }
                }
                Some(_) => match self.queue.pop_front() {
                    Some(job) => job,
                    None => break,
                },
            };
            self.queued -= 1;
            let Some(worker) = self.idle.pop() else {
                break;
            };
            let (job, d) = match job {
                Job::Check { target, due, .. } => {
                    // A probe to a target whose network state has not propagated gets no
                    // answer (with probability `pending_fail_prob`) and holds its worker
                    // until the timeout.
                    let unreachable = self.targets[target as usize].pending
                        && self.pending_rng.random::<f64>() < self.spec.pending_fail_prob;
                    let mut d = self.spec.check_time.sample(&mut self.check_rng);
                    if unreachable {
                        d = d.max(self.spec.timeout);
                    }
                    let job = Job::Check {
                        target,
                        due,
                        unreachable,
                    };
                    (job, d)
                }
                Job::Work { unit_ns, .. } => (job, SimDuration(unit_ns)),
            };
            self.workers[worker as usize] = Some(job);
            self.busy += 1;
            sim.schedule_in(d, lb_event(idx, Ev::CheckDone { worker }));
        }
        let now = sim.now();
        sim.rec.gauge_set_count(self.m.queue_len, now, self.queued);
        sim.rec.gauge_set_count(self.m.busy, now, self.busy as u64);
    }

    /// Adds `cost` checks' worth of work to the checker queue, in `ceil(cost)` equal pieces
    /// (each at most one mean check long) that any idle worker can take.
    fn add_work(&mut self, cost: f64) {
        if cost <= 0.0 {
            return;
        }
        let units = cost.ceil().min(u32::MAX as f64) as u32;
        let unit_ns = (cost * self.check_mean_ns / units as f64).round().max(1.0) as u64;
        match self.queue.back_mut() {
            Some(Job::Work {
                units: u,
                unit_ns: n,
            }) if *n == unit_ns => *u = u.saturating_add(units),
            _ => self.queue.push_back(Job::Work { units, unit_ns }),
        }
        self.queued += units as u64;
    }

    /// A check of `target` due at `due` came back now.
    fn check_result<E: From<(u32, Ev)>>(
        &mut self,
        idx: u32,
        target: u32,
        due: SimTime,
        unreachable: bool,
        sim: &mut Sim<E>,
    ) {
        let now = sim.now();
        let rec = &mut sim.rec;
        let latency = now.since(due);
        rec.incr(self.m.checks);
        rec.record(self.m.latency, latency.as_nanos());
        self.targets[target as usize].outstanding = false;
        let late = latency > self.spec.timeout;
        if late && !unreachable {
            rec.incr(self.m.checks_late);
        }
        let pass = !late && !unreachable;
        if !pass {
            rec.incr(self.m.checks_failed);
        }
        let t = &mut self.targets[target as usize];
        if pass == t.healthy {
            t.streak = 0;
            return;
        }
        t.streak += 1;
        let need = if t.healthy {
            self.spec.unhealthy_threshold
        } else {
            self.spec.healthy_threshold
        };
        if t.streak < need {
            return;
        }
        t.healthy = pass;
        t.streak = 0;
        let z = t.zone as usize;
        self.dirty = true;
        if pass {
            self.zone_healthy[z] += 1;
        } else {
            self.zone_healthy[z] -= 1;
        }
        rec.incr(self.m.flaps);
        self.add_work(self.spec.flap_cost);
        if self.evaluate_zone(z, now, rec) {
            self.schedule_hold(idx, z, sim);
        }
    }

    // ------------------------------------------------------------------ zones

    /// Targets failover holds out of service now (all targets of failed zones).
    fn removed(&self) -> u32 {
        self.zone_failed
            .iter()
            .zip(&self.zone_targets)
            .filter(|(f, _)| **f)
            .map(|(_, n)| *n)
            .sum()
    }

    /// Fails zone `z` away, or starts (or stops) its hold time towards coming back. Returns
    /// true if a failed zone began passing (a hold event is needed).
    fn evaluate_zone(&mut self, z: usize, now: SimTime, rec: &mut Recorder) -> bool {
        if !self.failover {
            return false;
        }
        let n = self.zone_targets[z];
        let passing = n == 0 || self.zone_healthy[z] as f64 >= self.spec.failover_below * n as f64;
        if !self.zone_failed[z] {
            if !passing && self.velocity_allows(z) {
                self.zone_failed[z] = true;
                self.dirty = true;
                self.passing_since[z] = None;
                rec.incr(self.m.failovers);
                self.add_work(self.spec.failover_cost);
            }
            false
        } else if passing {
            if self.passing_since[z].is_none() {
                self.passing_since[z] = Some(now);
                return true;
            }
            false
        } else {
            self.passing_since[z] = None;
            false
        }
    }

    fn velocity_allows(&self, z: usize) -> bool {
        match self.spec.velocity_limit {
            None => true,
            Some(f) => {
                let total = self.targets.len() as f64;
                (self.removed() + self.zone_targets[z]) as f64 <= f * total + 1e-9
            }
        }
    }

    fn restore_zone(&mut self, z: usize) {
        self.zone_failed[z] = false;
        self.dirty = true;
        self.passing_since[z] = None;
        self.add_work(self.spec.failover_cost);
    }

    /// Evaluates every zone (failover switched on, a zone came back) and schedules hold
    /// events for failed zones that began passing.
    fn evaluate_all<E: From<(u32, Ev)>>(&mut self, idx: u32, sim: &mut Sim<E>) {
        let now = sim.now();
        for z in 0..self.zone_failed.len() {
            if self.evaluate_zone(z, now, &mut sim.rec) {
                self.schedule_hold(idx, z, sim);
            }
        }
        self.start_workers(idx, sim);
    }

    fn schedule_hold<E: From<(u32, Ev)>>(&self, idx: u32, z: usize, sim: &mut Sim<E>) {
        sim.schedule_in(
            self.spec.failover_hold,
            lb_event(idx, Ev::ZoneHold { zone: z as u32 }),
        );
    }

    // ------------------------------------------------------------------ launches, network

    fn schedule_launch<E: From<(u32, Ev)>>(&mut self, idx: u32, sim: &mut Sim<E>) {
        if self.launch_rate > 0.0 {
            let e: f64 = Exp1.sample(&mut self.launch_rng);
            let gap = SimDuration::from_secs_f64(e / self.launch_rate);
            sim.schedule_in(
                gap,
                lb_event(
                    idx,
                    Ev::Launch {
                        epoch: self.launch_epoch,
                    },
                ),
            );
        }
    }

    /// A new target: unhealthy, pending until its network state propagates, checked at once.
    fn launch<E: From<(u32, Ev)>>(&mut self, idx: u32, sim: &mut Sim<E>) {
        if self.targets.len() >= self.spec.max_targets as usize {
            sim.rec.incr(self.m.launches_dropped);
            return;
        }
        let zone = self.next_zone;
        self.next_zone = (zone + 1) % self.zone_targets.len() as u32;
        let t = self.targets.len() as u32;
        self.targets.push(Target {
            zone,
            healthy: false,
            streak: 0,
            pending: true,
            outstanding: false,
        });
        self.n_pending += 1;
        self.dirty = true;
        self.zone_targets[zone as usize] += 1;
        self.prop.push_back(Prop::Target(t));
        self.prop_len += 1;
        sim.schedule_in(SimDuration::ZERO, lb_event(idx, Ev::Tick { target: t }));
        let now = sim.now();
        if self.evaluate_zone(zone as usize, now, &mut sim.rec) {
            self.schedule_hold(idx, zone as usize, sim);
        }
        self.start_workers(idx, sim);
    }

    fn start_propagation<E: From<(u32, Ev)>>(&mut self, idx: u32, sim: &mut Sim<E>) {
        if !self.prop_busy && self.prop_len > 0 && self.prop_rate > 0.0 {
            self.prop_busy = true;
            let d = SimDuration::from_secs_f64(1.0 / self.prop_rate);
            sim.schedule_in(d, lb_event(idx, Ev::Propagated));
        }
    }

    // ------------------------------------------------------------------ state

    /// Targets of zone `z` that take traffic: none if failed away; all if below the
    /// threshold and failing open; else the healthy ones.
    fn zone_in_service(&self, z: usize) -> u32 {
        let (n, h) = (self.zone_targets[z], self.zone_healthy[z]);
        if self.zone_failed[z] {
            0
        } else if self.spec.fail_open && (h as f64) < self.spec.failover_below * n as f64 {
            n
        } else {
            h
        }
    }

    /// Updates the gauges; returns the service's server count if it changed. O(zones) only
    /// after a state change.
    fn refresh(&mut self, now: SimTime, rec: &mut Recorder) -> Option<u32> {
        rec.gauge_set_count(self.m.netmgr_backlog, now, self.prop_len);
        if !self.dirty {
            return None;
        }
        self.dirty = false;
        let in_service: u32 = (0..self.zone_failed.len())
            .map(|z| self.zone_in_service(z))
            .sum();
        rec.gauge_set_count(self.m.in_service, now, in_service as u64);
        rec.gauge_set_count(self.m.healthy, now, self.healthy() as u64);
        rec.gauge_set_count(self.m.pending, now, self.n_pending as u64);
        let failed = self.zone_failed.iter().filter(|f| **f).count();
        rec.gauge_set_count(self.m.zones_failed, now, failed as u64);
        rec.gauge_set_count(self.m.failover_removed, now, self.removed() as u64);
        let servers = in_service.saturating_mul(self.spec.servers_per_target);
        (servers != self.servers).then(|| {
            self.servers = servers;
            servers
        })
    }
}

#[inline]
fn lb_event<E: From<(u32, Ev)>>(lb: u32, ev: Ev) -> E {
    E::from((lb, ev))
}

impl LoadBalancer {
    /// Re-seeds every random stream this component owns from its current state and `salt`
    /// (importance splitting: a cloned world's future draws made independent).
    pub(crate) fn reseed(&mut self, salt: u64) {
        sim_core::rng::reseed(&mut self.check_rng, salt);
        sim_core::rng::reseed(&mut self.pending_rng, salt);
        sim_core::rng::reseed(&mut self.launch_rng, salt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::Recorder;

    fn spec() -> LoadBalancerSpec {
        LoadBalancerSpec {
            name: "lb".into(),
            service: 0,
            zones: 3,
            targets: 9,
            max_targets: 12,
            servers_per_target: 2,
            interval: SimDuration::from_secs_f64(10.0),
            timeout: SimDuration::from_secs_f64(5.0),
            healthy_threshold: 3,
            unhealthy_threshold: 2,
            checker_workers: 1,
            check_time: Dist::Constant { ns: 50_000_000 },
            flap_cost: 2.5,
            failover_cost: 0.0,
            pending_fail_prob: 0.0,
            propagation_rate_per_s: 1.0,
            failover: true,
            failover_below: 0.5,
            failover_hold: SimDuration::from_secs_f64(60.0),
            velocity_limit: None,
            fail_open: false,
        }
    }

    fn sim() -> Sim<(u32, Ev)> {
        Sim::new(Recorder::new(
            SimDuration::from_secs_f64(1.0),
            SimDuration(0),
            10,
        ))
    }

    /// A check result of target `t`: a pass, or an unanswered probe.
    fn result(lb: &mut LoadBalancer, t: u32, pass: bool, sim: &mut Sim<(u32, Ev)>) {
        lb.check_result(0, t, sim.now(), !pass, sim);
    }

    #[test]
    fn a_target_changes_state_only_after_consecutive_results() {
        let mut s = sim();
        let mut lb = LoadBalancer::new(&spec(), 1, &mut s.rec);
        assert_eq!(lb.start(0, &mut s), 18, "9 healthy targets × 2 servers");
        // One failure, then a pass: the streak resets, the target stays in.
        result(&mut lb, 0, false, &mut s);
        result(&mut lb, 0, true, &mut s);
        result(&mut lb, 0, false, &mut s);
        assert_eq!(lb.healthy(), 9);
        // Two consecutive failures: out, with flap work of 2.5 checks in 3 pieces.
        result(&mut lb, 0, false, &mut s);
        assert_eq!(lb.healthy(), 8);
        assert_eq!(lb.queued, 3);
        assert_eq!(lb.refresh(s.now(), &mut s.rec), Some(16));
        // Back in after three consecutive passes.
        for _ in 0..2 {
            result(&mut lb, 0, true, &mut s);
        }
        assert_eq!(lb.healthy(), 8);
        result(&mut lb, 0, true, &mut s);
        assert_eq!(lb.healthy(), 9);
    }

    #[test]
    fn zones_fail_away_below_the_threshold_within_the_velocity_limit() {
        let mut sp = spec();
        sp.velocity_limit = Some(0.34);
        let mut s = sim();
        let mut lb = LoadBalancer::new(&sp, 1, &mut s.rec);
        lb.start(0, &mut s);
        // Targets 0, 3, 6 are zone 0; 1, 4, 7 zone 1. Two of three out: below 50 %.
        for t in [0, 3, 1, 4] {
            result(&mut lb, t, false, &mut s);
            result(&mut lb, t, false, &mut s);
        }
        assert_eq!(lb.zone_failed, vec![true, false, false]);
        // Zone 1 is below the threshold too, but a second zone would remove 6 of 9 > 34 %.
        assert_eq!(lb.removed(), 3);
        // Without fail-open, zone 1 serves its one healthy target; zone 2 all three.
        assert_eq!(lb.refresh(s.now(), &mut s.rec), Some(8));
        lb.spec.fail_open = true;
        lb.dirty = true;
        assert_eq!(lb.refresh(s.now(), &mut s.rec), Some(12));
    }
}
