//! # models
//!
//! The components of a simulated system and the closed set of events between them. A
//! [`World`] holds every component in typed vectors (dispatch by index, no `Box<dyn>`), and
//! implements [`sim_core::Model`] for the engine.
//!
//! - [`Client`]: open or closed loop, per-attempt timeout, call deadline, retries.
//! - [`Service`]: `c` servers, FIFO or LIFO queue, drop-expired, errors, degradation, outages.
//! - [`Sink`]: end-to-end outcomes. [`Dist`]: duration distributions.
//! - Timed [`Action`]s: triggers and operator actions.
//!
//! Architecture invariant: every random draw comes from a stream named after its component and
//! purpose (`"<name>/arrivals"`, `"<name>/service"`, …), so adding a component leaves every
//! other component's draws — and results — unchanged.

pub mod cache;
pub mod client;
pub mod config_push;
pub mod dist;
pub mod dns;
pub mod dns_plan;
pub mod edge;
pub mod health;
pub mod lease;
pub mod policy;
pub mod request;
pub mod retry;
pub mod service;
pub mod sink;
pub mod spec;

pub use client::{Client, Failure};
pub use dist::Dist;
pub use request::{Caller, Outcome, Request};
pub use retry::RetrySpec;
pub use service::Service;
pub use sink::Sink;
pub use spec::{
    Action, Admission, ClientSpec, CrashLoop, Degradation, Discipline, Mode, QueueControl, ReplyTo,
    ServiceSpec, SinkSpec, TimedAction, WorldSpec,
};

use cache::Fill;
use client::{Parent, TRIVIAL_SLOT};
use dns::Resolution;
use retry::{AttemptEnd, Denied, Gate};
use service::{Skip, Wait};
use sim_core::{Model, Sim, SimDuration, SimTime};

/// Every event in the simulated world.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// The next open-loop arrival of `client`, drawn under rate epoch `epoch`.
    Arrival { client: u32, epoch: u32 },
    /// Closed-loop `user` of `client` finishes thinking and starts a call.
    ThinkDone { client: u32, user: u32 },
    /// The attempt `generation` of call `slot` times out.
    AttemptTimeout {
        client: u32,
        slot: u32,
        generation: u32,
    },
    /// The backoff before the next attempt of call `slot` (generation `generation`) is over.
    RetryDue {
        client: u32,
        slot: u32,
        generation: u32,
    },
    /// Server `server` of `service` finishes its request (if its generation is still `generation`).
    ServiceDone {
        service: u32,
        server: u32,
        generation: u32,
    },
    /// Timed action number `idx` of the scenario.
    Action { idx: u32 },
    /// Crashed server `server` of `service` (generation `generation`) may try to restart.
    RestartDue {
        service: u32,
        server: u32,
        generation: u32,
    },
    /// A call of closed-loop `user` (`u32::MAX`: open loop) of `client` was a cache hit; its
    /// hit time is over.
    CacheHit { client: u32, user: u32 },
    /// A client-side rate limiter's delay before sending attempt `generation` of call `slot`
    /// is over.
    SendDue {
        client: u32,
        slot: u32,
        generation: u32,
    },
    /// An event of DNS automation `idx` (planner tick, enactor run start, apply end, retry).
    DnsPlan { idx: u32, ev: dns_plan::Ev },
    /// The timer of edge node `node` of `service` (set under `generation`): its delayed crash
    /// on a bad configuration, or the end of its reload ([`edge`]).
    Edge {
        service: u32,
        node: u32,
        generation: u32,
    },
    /// An event of config push `idx` (generate a file, deliver it, check a rollout stage).
    ConfigPush { idx: u32, ev: config_push::Ev },
    /// An event of load balancer `lb` (health checks, propagation, launches, zone holds).
    Lb { lb: u32, ev: health::Ev },
    /// A timer or job completion of lease manager `mgr`.
    Lease { mgr: u32, ev: lease::Ev },
}

const _: () = assert!(std::mem::size_of::<Event>() <= 16);

/// All components of one simulated system.
pub struct World {
    pub clients: Vec<Client>,
    pub services: Vec<Service>,
    pub sinks: Vec<Sink>,
    actions: Vec<TimedAction>,
    pub load_balancers: Vec<health::LoadBalancer>,
    live_requests: u64,
    max_live_requests: u64,
    pub dns_automations: Vec<dns_plan::Automation>,
    pub config_pushes: Vec<config_push::ConfigPush>,
    pub leases: Vec<lease::LeaseManager>,
}

impl World {
    /// Builds the world for `spec` under master seed `seed`: registers every metric and
    /// schedules the initial events.
    pub fn build(spec: &WorldSpec, seed: u64, sim: &mut Sim<Event>) -> World {
        let clients: Vec<Client> = spec
            .clients
            .iter()
            .map(|c| Client::new(c, seed, &mut sim.rec))
            .collect();
        let services = spec
            .services
            .iter()
            .map(|s| Service::new(s, seed, &mut sim.rec))
            .collect();
        let sinks = spec
            .sinks
            .iter()
            .map(|s| Sink::new(s, &mut sim.rec))
            .collect();
        let mut world = World {
            clients,
            services,
            sinks,
            actions: spec.actions.clone(),
            live_requests: 0,
            max_live_requests: spec.max_live_requests,
            dns_automations: Vec::new(),
            config_pushes: Vec::new(),
            load_balancers: spec
                .load_balancers
                .iter()
                .map(|l| health::LoadBalancer::new(l, seed, &mut sim.rec))
                .collect(),
            leases: Vec::new(),
        };
        for (i, a) in spec.dns_automations.iter().enumerate() {
            let built = dns_plan::Automation::build(a, seed, i as u32, sim, dns_plan_event);
            world.dns_automations.push(built);
        }
        world.build_config_pushes(spec, seed, sim);
        for i in 0..world.load_balancers.len() as u32 {
            let servers = world.load_balancers[i as usize].start(i, sim);
            world.lb_capacity(i, Some(servers), sim);
        }
        for (i, l) in spec.lease_managers.iter().enumerate() {
            let m = lease::LeaseManager::new(l, i as u32, seed, sim);
            if let Some(s) = l.serves.and_then(|s| world.services.get_mut(s as usize)) {
                s.error_rate = 0.0; // every droplet holds a lease at t = 0
            }
            world.leases.push(m);
        }
        for (i, c) in world.clients.iter_mut().enumerate() {
            let client = i as u32;
            match &c.mode {
                Mode::Open { schedule } => {
                    for &(at, rate_per_s) in schedule {
                        world.actions.push(TimedAction {
                            at,
                            action: Action::SetRate { client, rate_per_s },
                        });
                    }
                }
                Mode::Downstream => {}
                Mode::Closed { users, .. } => {
                    // Users start after one think time each, so they are not synchronised.
                    for user in 0..*users {
                        let t = c.think_time();
                        sim.schedule_in(t, Event::ThinkDone { client, user });
                    }
                }
            }
        }
        // Stable sort: ties keep their order (rate schedules first, then file order).
        world.actions.sort_by_key(|a| a.at);
        for (idx, a) in world.actions.iter().enumerate() {
            sim.schedule_at(a.at, Event::Action { idx: idx as u32 });
        }
        world
    }

    pub fn live_requests(&self) -> u64 {
        self.live_requests
    }

    // ------------------------------------------------------------------ clients

    fn on_arrival(&mut self, c: usize, epoch: u32, sim: &mut Sim<Event>) {
        let cl = &mut self.clients[c];
        if epoch != cl.epoch {
            return; // drawn under a rate that has since changed
        }
        if let Some(gap) = cl.next_gap() {
            sim.schedule_in(
                gap,
                Event::Arrival {
                    client: c as u32,
                    epoch,
                },
            );
        }
        self.start_call_of(c, u32::MAX, sim);
    }

    fn on_think_done(&mut self, c: usize, user: u32, sim: &mut Sim<Event>) {
        self.start_call_of(c, user, sim);
    }

    /// Client `c` (closed-loop `user`, or `u32::MAX`) starts a call: from its cache if it has
    /// one and the key is there, else from its target.
    #[inline]
    fn start_call_of(&mut self, c: usize, user: u32, sim: &mut Sim<Event>) {
        let now = sim.now();
        let cl = &mut self.clients[c];
        let mut key = 0;
        if let Some(cache) = &mut cl.cache {
            key = cache.draw_key(&mut cl.keys_rng);
            if cache.lookup(key, now) {
                let hit_time = cache.spec.hit_time;
                if let Some(h) = cl.m.cache_hits {
                    sim.rec.incr(h);
                }
                sim.rec.incr(cl.m.first_tries);
                cl.live_calls += 1;
                sim.rec.gauge_set_count(cl.m.in_flight, now, cl.live_calls);
                sim.schedule_in(
                    hit_time,
                    Event::CacheHit {
                        client: c as u32,
                        user,
                    },
                );
                return;
            }
            if let Some(m) = cl.m.cache_misses {
                sim.rec.incr(m);
            }
        }
        if let Some(dns) = &mut cl.dns {
            let empty = self
                .services
                .get(cl.target as usize)
                .is_some_and(|s| s.record_empty);
            if dns.call(now, empty, &mut cl.hosts_rng) == Resolution::Empty {
                self.fail_at_once(c, user, sim);
                return;
            }
        }
        let cl = &mut self.clients[c];
        if cl.trivial {
            self.trivial_call(c, user, key, sim);
            return;
        }
        let slot = cl.open_call(now, user, key);
        self.first_try(c, slot, sim);
    }

    /// A call that fails before sending anything (its target's name resolved to nothing).
    fn fail_at_once(&mut self, c: usize, user: u32, sim: &mut Sim<Event>) {
        let cl = &mut self.clients[c];
        sim.rec.incr(cl.m.first_tries);
        if let Some(f) = cl.m.dns_failures {
            sim.rec.incr(f);
        }
        self.record_give_up(c, sim);
        self.user_done(c, user, sim);
    }

    /// A call of client `c` succeeded after `latency_ns`: the client's and its sink's counts.
    fn record_success(&self, c: usize, latency_ns: u64, sim: &mut Sim<Event>) {
        let cl = &self.clients[c];
        sim.rec.incr(cl.m.successes);
        sim.rec.record(cl.m.latency, latency_ns);
        if let ReplyTo::Sink(k) = cl.reply_to
            && let Some(sink) = self.sinks.get(k as usize)
        {
            sim.rec.incr(sink.completions);
            sim.rec.record(sink.latency, latency_ns);
        }
    }

    /// A call of client `c` ended without success.
    fn record_give_up(&self, c: usize, sim: &mut Sim<Event>) {
        let cl = &self.clients[c];
        sim.rec.incr(cl.m.give_ups);
        if let ReplyTo::Sink(k) = cl.reply_to
            && let Some(sink) = self.sinks.get(k as usize)
        {
            sim.rec.incr(sink.failures);
        }
    }

    /// Closed-loop `user` of client `c` finished a call and thinks before the next one
    /// (nothing for open-loop calls, whose `user` is `u32::MAX`).
    #[inline]
    fn user_done(&mut self, c: usize, user: u32, sim: &mut Sim<Event>) {
        let cl = &mut self.clients[c];
        if user < cl.users() {
            let think = cl.think_time();
            sim.schedule_in(
                think,
                Event::ThinkDone {
                    client: c as u32,
                    user,
                },
            );
        }
    }

    /// A cache hit's call completes.
    fn on_cache_hit(&mut self, c: usize, user: u32, sim: &mut Sim<Event>) {
        let now = sim.now();
        let cl = &mut self.clients[c];
        let latency = cl.cache.as_ref().map_or(0, |k| k.spec.hit_time.as_nanos());
        cl.live_calls -= 1;
        sim.rec.gauge_set_count(cl.m.in_flight, now, cl.live_calls);
        self.record_success(c, latency, sim);
        self.user_done(c, user, sim);
    }

    /// A look-aside cache is filled by the caller, only when it gets the answer.
    #[inline]
    fn fill_look_aside(&mut self, c: usize, key: u32, now: SimTime) {
        if let Some(cache) = &mut self.clients[c].cache
            && cache.spec.fill == Fill::LookAside
        {
            cache.insert(key, now);
        }
    }

    /// The fast path of a client that needs no call slot: one attempt, always awaited. The
    /// request names [`TRIVIAL_SLOT`] and carries the closed-loop user as its generation.
    fn trivial_call(&mut self, c: usize, user: u32, key: u32, sim: &mut Sim<Event>) {
        let now = sim.now();
        let cl = &mut self.clients[c];
        sim.rec.incr(cl.m.first_tries);
        cl.live_calls += 1;
        sim.rec.gauge_set_count(cl.m.in_flight, now, cl.live_calls);
        let target = cl.target as usize;
        let req = Request {
            arrived: now,
            deadline: SimTime::MAX,
            caller: Caller {
                client: c as u32,
                slot: TRIVIAL_SLOT,
                generation: user,
            },
            key,
        };
        self.live_requests += 1;
        if self.live_requests > self.max_live_requests {
            sim.request_stop("live_request_limit");
        }
        self.service_arrive(target, req, sim);
    }

    /// The reply to a trivial call sent at `sent` (its only attempt).
    fn trivial_reply(
        &mut self,
        c: usize,
        user: u32,
        outcome: Outcome,
        sent: SimTime,
        key: u32,
        sim: &mut Sim<Event>,
    ) {
        let now = sim.now();
        if outcome == Outcome::Ok {
            self.fill_look_aside(c, key, now);
        }
        let cl = &mut self.clients[c];
        cl.live_calls -= 1;
        sim.rec.gauge_set_count(cl.m.in_flight, now, cl.live_calls);
        if outcome == Outcome::Ok {
            self.record_success(c, now.since(sent).as_nanos(), sim);
        } else {
            sim.rec.incr(if outcome == Outcome::Rejected {
                cl.m.rejections
            } else {
                cl.m.errors
            });
            self.record_give_up(c, sim);
        }
        self.user_done(c, user, sim);
    }

    /// Service `parent.service`'s server starts a downstream call on edge `edge`.
    fn start_call(&mut self, edge: u32, parent: Parent, sim: &mut Sim<Event>) {
        let cl = &mut self.clients[edge as usize];
        let slot = cl.open_call(sim.now(), u32::MAX, 0);
        if cl.parents.len() <= slot as usize {
            cl.parents.resize(slot as usize + 1, Parent::default());
        }
        cl.parents[slot as usize] = parent;
        self.first_try(edge as usize, slot, sim);
    }

    fn first_try(&mut self, c: usize, slot: u32, sim: &mut Sim<Event>) {
        let cl = &mut self.clients[c];
        sim.rec.incr(cl.m.first_tries);
        cl.retry.on_first_try(sim.now());
        sim.rec
            .gauge_set_count(cl.m.in_flight, sim.now(), cl.live_calls);
        self.send_attempt(c, slot, sim);
    }

    /// The next attempt of call `slot` is due: ask the breaker and the throttle, then send it
    /// now, later (an adaptive rate limiter's delay), or not at all.
    fn send_attempt(&mut self, c: usize, slot: u32, sim: &mut Sim<Event>) {
        let now = sim.now();
        let cl = &mut self.clients[c];
        match cl.retry.admit(now, &mut cl.retry_rng) {
            Gate::Send { delay_ns: 0 } => self.dispatch(c, slot, sim),
            Gate::Send { delay_ns } => {
                let call = &mut cl.calls[slot as usize];
                call.generation = call.generation.wrapping_add(1);
                let generation = call.generation;
                sim.schedule_in(
                    SimDuration(delay_ns),
                    Event::SendDue {
                        client: c as u32,
                        slot,
                        generation,
                    },
                );
            }
            Gate::CircuitOpen => {
                // Fail fast: the call ends without sending (callers see an error at once).
                sim.rec.incr(cl.m.circuit_open);
                self.give_up(c, slot, sim);
            }
            Gate::Throttled => {
                sim.rec.incr(cl.m.throttled);
                cl.calls[slot as usize].attempts += 1;
                self.attempt_failed(c, slot, Failure::Throttled, sim);
            }
        }
    }

    fn on_send_due(&mut self, c: usize, slot: u32, generation: u32, sim: &mut Sim<Event>) {
        match self.clients[c].calls.get(slot as usize) {
            Some(call) if call.generation == generation && !call.in_flight => {}
            _ => return,
        }
        self.dispatch(c, slot, sim);
    }

    /// Sends attempt number `attempts + 1` of call `slot` to the client's target.
    fn dispatch(&mut self, c: usize, slot: u32, sim: &mut Sim<Event>) {
        let now = sim.now();
        let cl = &mut self.clients[c];
        let call = &mut cl.calls[slot as usize];
        call.attempts += 1;
        call.generation = call.generation.wrapping_add(1);
        call.in_flight = true;
        let (born, generation, key) = (call.born, call.generation, call.key);
        let deadline = cl.attempt_deadline(born, now);
        if deadline <= now {
            cl.calls[slot as usize].in_flight = false;
            self.give_up(c, slot, sim);
            return;
        }
        if deadline < SimTime::MAX {
            sim.schedule_at(
                deadline,
                Event::AttemptTimeout {
                    client: c as u32,
                    slot,
                    generation,
                },
            );
        }
        let target = cl.target as usize;
        let req = Request {
            arrived: now,
            deadline,
            caller: Caller {
                client: c as u32,
                slot,
                generation,
            },
            key,
        };
        self.live_requests += 1;
        if self.live_requests > self.max_live_requests {
            sim.request_stop("live_request_limit");
        }
        self.service_arrive(target, req, sim);
    }

    /// A service answers attempt `caller`, sent at `sent`.
    fn on_reply(
        &mut self,
        caller: Caller,
        outcome: Outcome,
        sent: SimTime,
        key: u32,
        sim: &mut Sim<Event>,
    ) {
        let c = caller.client as usize;
        let Some(cl) = self.clients.get_mut(c) else {
            return;
        };
        if caller.slot == TRIVIAL_SLOT {
            self.trivial_reply(c, caller.generation, outcome, sent, key, sim);
            return;
        }
        if !cl.is_waiting(caller.slot, caller.generation) {
            return; // the attempt timed out or the call ended: nobody is listening
        }
        let call = &mut cl.calls[caller.slot as usize];
        call.in_flight = false; // its timeout, when it fires, finds nothing in flight
        let was_retry = call.attempts > 1;
        let now = sim.now();
        match outcome {
            Outcome::Ok => {
                cl.retry.on_attempt_end(now, AttemptEnd::Ok, was_retry);
                self.succeed(c, caller.slot, sim)
            }
            Outcome::Rejected => {
                cl.retry
                    .on_attempt_end(now, AttemptEnd::Rejected, was_retry);
                sim.rec.incr(cl.m.rejections);
                self.attempt_failed(c, caller.slot, Failure::Rejected, sim);
            }
            Outcome::Error => {
                cl.retry.on_attempt_end(now, AttemptEnd::Error, was_retry);
                sim.rec.incr(cl.m.errors);
                self.attempt_failed(c, caller.slot, Failure::Error, sim);
            }
        }
    }

    fn on_attempt_timeout(&mut self, c: usize, slot: u32, generation: u32, sim: &mut Sim<Event>) {
        let cl = &mut self.clients[c];
        if !cl.is_waiting(slot, generation) {
            return; // answered before the timeout
        }
        let call = &mut cl.calls[slot as usize];
        call.in_flight = false;
        let was_retry = call.attempts > 1;
        cl.retry
            .on_attempt_end(sim.now(), AttemptEnd::Timeout, was_retry);
        sim.rec.incr(cl.m.timeouts);
        self.attempt_failed(c, slot, Failure::Timeout, sim);
    }

    fn attempt_failed(&mut self, c: usize, slot: u32, why: Failure, sim: &mut Sim<Event>) {
        let now = sim.now();
        let cl = &mut self.clients[c];
        let call = cl.calls[slot as usize];
        match cl
            .retry
            .retry_allowed(now, call.attempts, why == Failure::Timeout, cl.live_calls)
        {
            Ok(()) => {
                let sleep =
                    cl.retry
                        .backoff_ns(call.attempts, call.prev_sleep_ns, &mut cl.retry_rng);
                let at = now.saturating_add(SimDuration(sleep));
                let past_deadline = cl
                    .deadline
                    .is_some_and(|d| at >= call.born.saturating_add(d));
                if past_deadline {
                    self.give_up(c, slot, sim);
                    return;
                }
                let call = &mut cl.calls[slot as usize];
                call.prev_sleep_ns = sleep;
                call.generation = call.generation.wrapping_add(1);
                let generation = call.generation;
                sim.schedule_at(
                    at,
                    Event::RetryDue {
                        client: c as u32,
                        slot,
                        generation,
                    },
                );
            }
            Err(Denied::Budget) => {
                sim.rec.incr(cl.m.budget_exhausted);
                self.give_up(c, slot, sim);
            }
            Err(Denied::MaxAttempts) => self.give_up(c, slot, sim),
        }
    }

    fn on_retry_due(&mut self, c: usize, slot: u32, generation: u32, sim: &mut Sim<Event>) {
        let cl = &mut self.clients[c];
        match cl.calls.get(slot as usize) {
            Some(call) if call.generation == generation && !call.in_flight => {}
            _ => return,
        }
        sim.rec.incr(cl.m.retries);
        self.send_attempt(c, slot, sim);
    }

    fn succeed(&mut self, c: usize, slot: u32, sim: &mut Sim<Event>) {
        let now = sim.now();
        let key = self.clients[c].calls[slot as usize].key;
        self.fill_look_aside(c, key, now);
        let born = self.clients[c].calls[slot as usize].born;
        self.record_success(c, now.since(born).as_nanos(), sim);
        self.end_call(c, slot, true, sim);
    }

    fn give_up(&mut self, c: usize, slot: u32, sim: &mut Sim<Event>) {
        self.record_give_up(c, sim);
        self.end_call(c, slot, false, sim);
    }

    fn end_call(&mut self, c: usize, slot: u32, ok: bool, sim: &mut Sim<Event>) {
        let cl = &mut self.clients[c];
        let user = cl.calls[slot as usize].user;
        cl.close_call(slot);
        sim.rec
            .gauge_set_count(cl.m.in_flight, sim.now(), cl.live_calls);
        let parent = (cl.reply_to == ReplyTo::Parent).then(|| cl.parents[slot as usize]);
        self.user_done(c, user, sim);
        if let Some(parent) = parent {
            self.call_done(parent, ok, sim);
        }
    }

    // ------------------------------------------------------------------ services

    /// A request arrives at service `s`: start it, queue it, reject it, or lose it.
    fn service_arrive(&mut self, s: usize, mut req: Request, sim: &mut Sim<Event>) {
        let now = sim.now();
        req.arrived = now;
        let svc = &mut self.services[s];
        sim.rec.incr(svc.m.arrivals);
        if svc.down {
            sim.rec.incr(svc.m.lost);
            self.live_requests -= 1;
        } else if !svc.admit(now) {
            sim.rec.incr(svc.m.rejected);
            self.live_requests -= 1;
            self.on_reply(req.caller, Outcome::Rejected, now, req.key, sim);
        } else if let Some(server) = svc.idle.pop() {
            if svc.bad_config {
                self.crash(s, server, req, sim);
                return;
            }
            if let Some(e) = &mut svc.edge {
                e.busy_since[server as usize] = now; // an idle node starts a busy period
            }
            Self::start_service(svc, s, server, req, sim);
            sim.rec.gauge_set(svc.m.busy, now, svc.busy as f64);
        } else if svc.is_full() {
            sim.rec.incr(svc.m.rejected);
            self.live_requests -= 1;
            self.on_reply(req.caller, Outcome::Rejected, now, req.key, sim);
        } else {
            svc.enqueue(req, now);
            sim.rec
                .gauge_set_count(svc.m.queue_len, now, svc.queue.len() as u64);
        }
    }

    #[inline]
    fn start_service(svc: &mut Service, s: usize, server: u32, req: Request, sim: &mut Sim<Event>) {
        let now = sim.now();
        sim.rec.incr(svc.m.started);
        sim.rec
            .add_saturating(svc.m.wait_ns, now.since(req.arrived).as_nanos());
        let d = svc.draw_service_time();
        svc.in_service[server as usize] = Some(req);
        svc.busy += 1;
        let generation = svc.server_gen[server as usize];
        sim.schedule_in(
            d,
            Event::ServiceDone {
                service: s as u32,
                server,
                generation,
            },
        );
    }

    /// Pops queued work for an idle `server`, dropping expired work and shedding old work as
    /// configured. Returns false if the queue had nothing to serve.
    fn serve_next(&mut self, s: usize, server: u32, sim: &mut Sim<Event>) -> bool {
        let now = sim.now();
        let svc = &self.services[s];
        if let Some(e) = &svc.edge
            && !svc.queue.is_empty()
            && e.overloaded(server, now)
        {
            self.edge_crash(s, server, true, sim);
            return true; // the node is not idle: it crashed
        }
        loop {
            let svc = &mut self.services[s];
            let congested = svc.is_congested(now);
            let Some(req) = svc.pop_next(now) else {
                sim.rec.gauge_set(svc.m.queue_len, now, 0.0);
                return false;
            };
            match svc.skip(&req, now, congested) {
                None if svc.bad_config => {
                    sim.rec
                        .gauge_set_count(svc.m.queue_len, now, svc.queue.len() as u64);
                    self.crash(s, server, req, sim);
                    return true; // the server is not idle: it is restarting
                }
                None => {
                    Self::start_service(svc, s, server, req, sim);
                    sim.rec
                        .gauge_set_count(svc.m.queue_len, now, svc.queue.len() as u64);
                    return true;
                }
                Some(Skip::Expired) => {
                    sim.rec.incr(svc.m.expired);
                    self.live_requests -= 1;
                }
                Some(Skip::Shed) => {
                    sim.rec.incr(svc.m.shed);
                    self.live_requests -= 1;
                    self.on_reply(req.caller, Outcome::Rejected, req.arrived, req.key, sim);
                }
            }
        }
    }

    /// Server `server` of service `s` finished its local work: make the downstream calls, or
    /// answer.
    fn on_service_done(&mut self, s: usize, server: u32, generation: u32, sim: &mut Sim<Event>) {
        let svc = &mut self.services[s];
        if svc.server_gen.get(server as usize) != Some(&generation) {
            return; // the work was lost to an outage
        }
        if svc.calls.is_empty() {
            self.finish_request(s, server, false, sim);
            return;
        }
        let parent = Parent {
            service: s as u32,
            server,
            generation,
            restart: false,
        };
        let n = svc.calls.len() as u32;
        if svc.fanout {
            svc.waits[server as usize] = Wait {
                pending: n,
                next: n,
                failed: false,
            };
            for i in 0..n as usize {
                let edge = self.services[s].calls[i];
                self.start_call(edge, parent, sim);
            }
        } else {
            svc.waits[server as usize] = Wait {
                pending: 1,
                next: 1,
                failed: false,
            };
            let edge = svc.calls[0];
            self.start_call(edge, parent, sim);
        }
    }

    /// A downstream call of `parent` ended (`ok`: it succeeded).
    fn call_done(&mut self, parent: Parent, ok: bool, sim: &mut Sim<Event>) {
        let s = parent.service as usize;
        let svc = &mut self.services[s];
        if svc.server_gen.get(parent.server as usize) != Some(&parent.generation) {
            return; // the server's work was lost to an outage meanwhile
        }
        if parent.restart {
            self.restart_done(s, parent.server, ok, sim);
            return;
        }
        let Some(w) = svc.waits.get_mut(parent.server as usize) else {
            return;
        };
        w.pending = w.pending.saturating_sub(1);
        w.failed |= !ok;
        if w.pending > 0 {
            return;
        }
        let n = svc.calls.len() as u32;
        if !w.failed && w.next < n {
            let edge = svc.calls[w.next as usize];
            w.next += 1;
            w.pending = 1;
            self.start_call(edge, parent, sim);
        } else {
            let failed = w.failed;
            self.finish_request(s, parent.server, failed, sim);
        }
    }

    /// Server `server` of crash-looping service `s` crashes on `req` (answered with an error)
    /// and schedules its restart.
    fn crash(&mut self, s: usize, server: u32, req: Request, sim: &mut Sim<Event>) {
        let now = sim.now();
        let svc = &mut self.services[s];
        let k = server as usize;
        svc.crashed[k] = true;
        svc.n_crashed += 1;
        svc.restarts[k] = 0;
        svc.prev_delay[k] = 0;
        if let Some(c) = svc.m.crashes {
            sim.rec.incr(c);
        }
        if let Some(g) = svc.m.tasks_down {
            sim.rec.gauge_set_count(g, now, svc.n_crashed as u64);
        }
        sim.rec.incr(svc.m.errors);
        self.live_requests -= 1;
        self.schedule_restart(s, server, sim);
        self.on_reply(req.caller, Outcome::Error, req.arrived, req.key, sim);
    }

    /// Schedules crashed server `server`'s next restart attempt after its backoff delay.
    fn schedule_restart(&mut self, s: usize, server: u32, sim: &mut Sim<Event>) {
        let svc = &mut self.services[s];
        let k = server as usize;
        let Some(cl) = &svc.crash_loop else {
            return;
        };
        svc.restarts[k] += 1;
        let delay = cl
            .backoff
            .delay_ns(svc.restarts[k], svc.prev_delay[k], &mut svc.restart_rng);
        svc.prev_delay[k] = delay;
        let generation = svc.server_gen[k];
        sim.schedule_in(
            SimDuration(delay),
            Event::RestartDue {
                service: s as u32,
                server,
                generation,
            },
        );
    }

    /// A crashed server's restart delay is over: take a restart token (or wait for one), then
    /// load state from the backing store.
    fn on_restart_due(&mut self, s: usize, server: u32, generation: u32, sim: &mut Sim<Event>) {
        let now = sim.now();
        let svc = &mut self.services[s];
        if svc.server_gen.get(server as usize) != Some(&generation)
            || !svc.crashed.get(server as usize).copied().unwrap_or(false)
        {
            return;
        }
        if !svc.token_reserved[server as usize] {
            let wait = svc.restart_token_wait(now);
            if wait > 0 {
                svc.token_reserved[server as usize] = true;
                sim.schedule_in(
                    SimDuration(wait),
                    Event::RestartDue {
                        service: s as u32,
                        server,
                        generation,
                    },
                );
                return;
            }
        }
        svc.token_reserved[server as usize] = false;
        if let Some(r) = svc.m.restarts {
            sim.rec.incr(r);
        }
        let Some(store) = svc.crash_loop.as_ref().map(|c| c.store) else {
            return;
        };
        let parent = Parent {
            service: s as u32,
            server,
            generation,
            restart: true,
        };
        self.start_call(store, parent, sim);
    }

    /// A restart's store load ended: the task is up (and takes work), or waits to retry.
    fn restart_done(&mut self, s: usize, server: u32, ok: bool, sim: &mut Sim<Event>) {
        let now = sim.now();
        if !ok {
            self.schedule_restart(s, server, sim);
            return;
        }
        let svc = &mut self.services[s];
        let k = server as usize;
        if !svc.crashed[k] {
            return;
        }
        svc.crashed[k] = false;
        svc.n_crashed -= 1;
        if let Some(g) = svc.m.tasks_down {
            sim.rec.gauge_set_count(g, now, svc.n_crashed as u64);
        }
        if server < svc.servers && !self.serve_next(s, server, sim) {
            self.services[s].idle.push(server);
        }
    }

    /// Server `server` of service `s` answers its request (with an error if a downstream
    /// call failed) and takes more work.
    fn finish_request(&mut self, s: usize, server: u32, failed: bool, sim: &mut Sim<Event>) {
        let now = sim.now();
        let svc = &mut self.services[s];
        let Some(req) = svc.in_service[server as usize].take() else {
            debug_assert!(false, "request finished on an idle server");
            return;
        };
        svc.busy -= 1;
        self.live_requests -= 1;
        sim.rec.incr(svc.m.completions);
        sim.rec
            .record(svc.m.latency, now.since(req.arrived).as_nanos());
        let outcome = if failed || svc.draw_error() {
            sim.rec.incr(svc.m.errors);
            Outcome::Error
        } else {
            Outcome::Ok
        };
        let caller = self.clients.get_mut(req.caller.client as usize);
        let waiting = caller
            .as_ref()
            .is_some_and(|c| c.is_waiting(req.caller.slot, req.caller.generation));
        // A read-through cache fills with every answer, waited for or not.
        if outcome == Outcome::Ok
            && let Some(cache) = caller.and_then(|c| c.cache.as_mut())
            && cache.spec.fill == Fill::ReadThrough
        {
            cache.insert(req.key, now);
        }
        let svc = &mut self.services[s];
        if !waiting {
            sim.rec.incr(svc.m.wasted);
        } else if outcome == Outcome::Ok {
            sim.rec.incr(svc.m.goodput);
        }
        // A fail-open proxy answers a fraction of its requests degraded (config push).
        if outcome == Outcome::Ok && svc.cfg_degraded > 0.0 {
            svc.cfg_degraded_acc += svc.cfg_degraded;
            if svc.cfg_degraded_acc >= 1.0 {
                svc.cfg_degraded_acc -= 1.0;
                if let Some(d) = svc.m.degraded {
                    sim.rec.incr(d);
                }
            }
        }
        // The freed server takes more work if it is still in service.
        if server < svc.servers && !self.serve_next(s, server, sim) {
            self.services[s].idle.push(server);
        }
        let svc = &self.services[s];
        sim.rec.gauge_set(svc.m.busy, now, svc.busy as f64);
        if waiting {
            self.on_reply(req.caller, outcome, req.arrived, req.key, sim);
        }
    }

    // ------------------------------------------------------------------ actions

    fn on_action(&mut self, idx: usize, sim: &mut Sim<Event>) {
        let now = sim.now();
        let Some(action) = self.actions.get(idx).map(|a| a.action.clone()) else {
            return;
        };
        match action {
            Action::SetRate { client, rate_per_s } => {
                let cl = &mut self.clients[client as usize];
                cl.set_rate(rate_per_s);
                cl.epoch = cl.epoch.wrapping_add(1);
                if let Some(gap) = cl.next_gap() {
                    sim.schedule_in(
                        gap,
                        Event::Arrival {
                            client,
                            epoch: cl.epoch,
                        },
                    );
                }
            }
            Action::SetServers { service, servers } => {
                self.set_servers(service as usize, servers, sim)
            }
            Action::SetSlowdown { service, factor } => {
                self.services[service as usize].slowdown = factor
            }
            Action::SetErrorRate {
                service,
                error_rate,
            } => {
                self.services[service as usize].error_rate = error_rate;
            }
            Action::Outage { service } => {
                let svc = &mut self.services[service as usize];
                if svc.down {
                    return;
                }
                svc.down = true;
                let held = svc.queue.len() as u64 + svc.busy as u64;
                sim.rec.add(svc.m.lost, held);
                self.live_requests -= held;
                svc.queue.clear();
                for (slot, g) in svc.in_service.iter_mut().zip(svc.server_gen.iter_mut()) {
                    *slot = None;
                    *g = g.wrapping_add(1);
                }
                svc.busy = 0;
                // Crashed tasks stay crashed (their restarts are voided with the generation
                // and rescheduled below).
                let crashed = &svc.crashed;
                svc.idle = (0..svc.servers)
                    .rev()
                    .filter(|&k| !crashed.get(k as usize).copied().unwrap_or(false))
                    .collect();
                let down: Vec<u32> = (0..svc.servers)
                    .filter(|&k| crashed.get(k as usize).copied().unwrap_or(false))
                    .collect();
                svc.set_gauges(&mut sim.rec, now);
                for k in down {
                    self.schedule_restart(service as usize, k, sim);
                }
            }
            Action::Restore { service } => self.services[service as usize].down = false,
            Action::SetRetries { client, enabled } => {
                self.clients[client as usize].retry.enabled = enabled
            }
            Action::SetBadConfig { service, bad } => {
                if self.services[service as usize].edge.is_some() {
                    self.edge_config(service as usize, bad, sim); // crashes asynchronously
                } else {
                    self.services[service as usize].bad_config = bad;
                }
            }
            Action::SetRecordEmpty { service, empty } => {
                self.services[service as usize].record_empty = empty;
                if !empty {
                    // The operator's repair also makes the automation's endpoints consistent.
                    for a in &mut self.dns_automations {
                        a.operator_restore(Some(service), &mut self.services, sim);
                    }
                }
            }
            Action::SetRestartRate {
                service,
                rate_per_s,
            } => self.services[service as usize].set_restart_rate(rate_per_s, now),
            Action::FlushCache { client } => {
                if let Some(cache) = &mut self.clients[client as usize].cache {
                    cache.flush();
                }
            }
            Action::SetEnactorDelay { automation, factor } => {
                self.dns_automations[automation as usize].set_delay_factor(0, factor);
            }
            Action::DnsAutomationRestore { automation } => {
                self.dns_automations[automation as usize].operator_restore(
                    None,
                    &mut self.services,
                    sim,
                );
            }
            Action::EdgeRecover { service } => self.edge_recover(service as usize, sim),
            Action::AdmitRamp {
                service,
                from_per_s,
                to_per_s,
                over,
            } => {
                let svc = &mut self.services[service as usize];
                svc.ramp = Some(edge::Ramp::new(now, from_per_s, to_per_s, over));
                svc.admits = true;
            }
            Action::StopGeneration { push } => self.config_pushes[push as usize].stop_generation(),
            Action::PushGood { push } => self.config_pushes[push as usize].push_good(push, sim),
            Action::ProxyFailOpen { service } => {
                for i in 0..self.config_pushes.len() {
                    let cp = &mut self.config_pushes[i];
                    let mut hit = false;
                    for p in cp.proxies.iter_mut().filter(|p| p.service == service) {
                        p.on_bad = config_push::OnBad::FailOpen;
                        hit = true;
                    }
                    if hit {
                        self.apply_config(i, now, sim);
                    }
                }
            }
            Action::LoadBalancer { lb, op } => {
                let servers = self.load_balancers[lb as usize].apply(lb, op, sim);
                self.lb_capacity(lb, servers, sim);
            }
            Action::LeaseThrottle {
                manager,
                rate_per_s,
            } => self.leases[manager as usize].set_throttle(rate_per_s, now),
            Action::RestartHosts { manager, hosts } => {
                self.leases[manager as usize].restart_hosts(hosts, sim)
            }
        }
    }

    // ------------------------------------------------------------------ config push

    /// Builds the config pushes, registers the proxies' `degraded` counters and schedules
    /// each push's first generation at t = 0.
    fn build_config_pushes(&mut self, spec: &WorldSpec, seed: u64, sim: &mut Sim<Event>) {
        for (i, cs) in spec.config_pushes.iter().enumerate() {
            let base: Vec<f64> = cs
                .proxies
                .iter()
                .map(|p| self.services[p.service as usize].error_rate)
                .collect();
            for p in &cs.proxies {
                let svc = &mut self.services[p.service as usize];
                if svc.m.degraded.is_none() {
                    svc.m.degraded = Some(sim.rec.counter(&svc.name, "degraded"));
                }
            }
            let cp = config_push::ConfigPush::new(cs, &base, seed, &mut sim.rec);
            cp.record(&mut sim.rec, SimTime::ZERO);
            self.config_pushes.push(cp);
            let idx = i as u32;
            sim.schedule_at(
                SimTime::ZERO,
                Event::ConfigPush {
                    idx,
                    ev: config_push::Ev::Generate,
                },
            );
        }
    }

    fn on_config_push(&mut self, idx: usize, ev: config_push::Ev, sim: &mut Sim<Event>) {
        if self.config_pushes[idx].handle(idx as u32, ev, sim) {
            self.apply_config(idx, sim.now(), sim);
        }
    }

    /// The fraction of push `idx`'s machines holding a bad file changed: each proxy's
    /// requests fail (fail closed) or are degraded (fail open) with that probability.
    fn apply_config(&mut self, idx: usize, now: SimTime, sim: &mut Sim<Event>) {
        let cp = &self.config_pushes[idx];
        cp.record(&mut sim.rec, now);
        let frac = cp.bad_servers();
        for p in &cp.proxies {
            let svc = &mut self.services[p.service as usize];
            match p.on_bad {
                config_push::OnBad::FailClosed => {
                    svc.error_rate = 1.0 - (1.0 - p.base_error) * (1.0 - frac);
                    svc.cfg_degraded = 0.0;
                    if p.error_cost > 0.0 {
                        svc.slowdown = 1.0 + p.error_cost * frac;
                    }
                }
                config_push::OnBad::FailOpen => {
                    svc.error_rate = p.base_error;
                    svc.cfg_degraded = frac;
                    if p.error_cost > 0.0 {
                        svc.slowdown = 1.0;
                    }
                }
            }
        }
    }

    /// Lease establishments hand load balancer `lb` `items` propagation items and `targets`
    /// new targets.
    fn feed_load_balancer(&mut self, lb: u32, items: u64, targets: u32, sim: &mut Sim<Event>) {
        let ops = [
            (items > 0).then_some(health::Op::Backlog { items }),
            (targets > 0).then_some(health::Op::Launch { targets }),
        ];
        for op in ops.into_iter().flatten() {
            let servers = self.load_balancers[lb as usize].apply(lb, op, sim);
            self.lb_capacity(lb, servers, sim);
        }
    }

    /// Load balancer `lb` changed its in-service capacity to `servers` (if `Some`): its
    /// service gets that many servers.
    fn lb_capacity(&mut self, lb: u32, servers: Option<u32>, sim: &mut Sim<Event>) {
        if let Some(servers) = servers {
            let service = self.load_balancers[lb as usize].service() as usize;
            self.set_servers(service, servers, sim);
        }
    }

    fn set_servers(&mut self, s: usize, servers: u32, sim: &mut Sim<Event>) {
        let now = sim.now();
        let svc = &mut self.services[s];
        let old = svc.servers;
        svc.servers = servers;
        if servers as usize > svc.in_service.len() {
            svc.in_service.resize(servers as usize, None);
            svc.server_gen.resize(servers as usize, 0);
            if !svc.calls.is_empty() {
                svc.waits.resize(servers as usize, Wait::default());
            }
            if svc.crash_loop.is_some() {
                svc.crashed.resize(servers as usize, false);
                svc.restarts.resize(servers as usize, 0);
                svc.prev_delay.resize(servers as usize, 0);
                svc.token_reserved.resize(servers as usize, false);
            }
        }
        // Idle servers beyond the new count retire at once; busy ones when they finish.
        svc.idle.retain(|&k| k < servers);
        let mut fresh: Vec<u32> = (old..servers)
            .filter(|&k| svc.in_service[k as usize].is_none())
            .collect();
        fresh.reverse();
        for k in fresh {
            if !self.serve_next(s, k, sim) {
                self.services[s].idle.push(k);
            }
        }
        let svc = &self.services[s];
        svc.set_gauges(&mut sim.rec, now);
    }
}

impl Model for World {
    type Event = Event;

    #[inline]
    fn handle(&mut self, event: Event, sim: &mut Sim<Event>) {
        match event {
            Event::Arrival { client, epoch } => self.on_arrival(client as usize, epoch, sim),
            Event::ServiceDone {
                service,
                server,
                generation,
            } => self.on_service_done(service as usize, server, generation, sim),
            Event::AttemptTimeout {
                client,
                slot,
                generation,
            } => self.on_attempt_timeout(client as usize, slot, generation, sim),
            Event::RetryDue {
                client,
                slot,
                generation,
            } => self.on_retry_due(client as usize, slot, generation, sim),
            Event::ThinkDone { client, user } => self.on_think_done(client as usize, user, sim),
            Event::Action { idx } => self.on_action(idx as usize, sim),
            Event::CacheHit { client, user } => self.on_cache_hit(client as usize, user, sim),
            Event::RestartDue {
                service,
                server,
                generation,
            } => self.on_restart_due(service as usize, server, generation, sim),
            Event::SendDue {
                client,
                slot,
                generation,
            } => self.on_send_due(client as usize, slot, generation, sim),
            Event::DnsPlan { idx, ev } => self.dns_automations[idx as usize].handle(
                idx,
                ev,
                &mut self.services,
                sim,
                dns_plan_event,
            ),
            Event::Edge {
                service,
                node,
                generation,
            } => self.on_edge_timer(service as usize, node, generation, sim),
            Event::ConfigPush { idx, ev } => self.on_config_push(idx as usize, ev, sim),
            Event::Lb { lb, ev } => {
                let servers = self.load_balancers[lb as usize].handle(lb, ev, sim);
                self.lb_capacity(lb, servers, sim);
            }
            Event::Lease { mgr, ev } => {
                let m = &mut self.leases[mgr as usize];
                m.handle(mgr, ev, &mut self.services, sim);
                if let Some((lb, items, targets)) = m.take_feed() {
                    self.feed_load_balancer(lb, items, targets, sim);
                }
            }
        }
    }
}

fn dns_plan_event(idx: u32, ev: dns_plan::Ev) -> Event {
    Event::DnsPlan { idx, ev }
}
