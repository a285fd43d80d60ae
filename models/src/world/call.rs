//! A call's life cycle: arrivals and think times, cache lookups, attempts, timeouts,
//! retries and backoff, success and give-up, and the trivial fast path.

use super::*;

impl World {
    pub(super) fn on_arrival(&mut self, c: usize, epoch: u32, sim: &mut Sim<Event>) {
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

    pub(super) fn on_think_done(&mut self, c: usize, user: u32, sim: &mut Sim<Event>) {
        self.start_call_of(c, user, sim);
    }

    /// Client `c` (closed-loop `user`, or `u32::MAX`) starts a call: from its cache if it has
    /// one and the key is there, else from its target.
    #[inline]
    pub(super) fn start_call_of(&mut self, c: usize, user: u32, sim: &mut Sim<Event>) {
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
        let mut endpoint = None;
        // A client on its secondary endpoint does not resolve the primary's name.
        let to_primary = cl
            .endpoint_failover
            .as_ref()
            .is_none_or(|f| f.next_is_primary(now));
        if let Some(dns) = &mut cl.dns
            && to_primary
        {
            let empty = self
                .services
                .get(cl.target as usize)
                .is_some_and(|s| s.record_empty);
            let resolution =
                if let Some(secondary) = dns.failover.as_ref().map(|f| f.spec.secondary) {
                    let (r, e) = dns.call_endpoint(now, empty, &mut cl.hosts_rng);
                    if let Some(f) = &mut dns.failover {
                        f.note_call(now, e);
                    }
                    endpoint = Some(super::dns_failover::endpoint_service(
                        cl.target, secondary, e,
                    ));
                    r
                } else {
                    dns.call(now, empty, &mut cl.hosts_rng)
                };
            if resolution == Resolution::Empty {
                if let Some(f) = &mut cl.endpoint_failover {
                    f.failed_unsent(now);
                }
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
        if let (Some(t), Some(f)) = (endpoint, cl.dns.as_mut().and_then(|d| d.failover.as_mut())) {
            f.set_slot(slot, t);
        }
        if let Some(f) = &mut cl.endpoint_failover {
            f.choose(now, slot, cl.target);
        }
        self.first_try(c, slot, sim);
    }

    /// A call that fails before sending anything (its target's name resolved to nothing).
    pub(super) fn fail_at_once(&mut self, c: usize, user: u32, sim: &mut Sim<Event>) {
        let cl = &mut self.clients[c];
        sim.rec.incr(cl.m.first_tries);
        if let Some(f) = cl.m.dns_failures {
            sim.rec.incr(f);
        }
        self.record_give_up(c, 0, sim);
        self.user_done(c, user, sim);
    }

    /// A call of client `c` succeeded after `latency_ns`: the client's and its sink's counts,
    /// in both the successful-calls and the all-calls latency.
    #[inline]
    pub(super) fn record_success(&self, c: usize, latency_ns: u64, sim: &mut Sim<Event>) {
        let cl = &self.clients[c];
        sim.rec.incr(cl.m.successes);
        sim.rec.record(cl.m.call_ok, latency_ns);
        sim.rec.record(cl.m.call_all, latency_ns);
        if let ReplyTo::Sink(k) = cl.reply_to
            && let Some(sink) = self.sinks.get(k as usize)
            && !sink.mirror
        {
            sim.rec.incr(sink.completions);
            sim.rec.record(sink.call_ok, latency_ns);
            sim.rec.record(sink.call_all, latency_ns);
        }
    }

    /// A call of client `c` ended without success `duration_ns` after it started (its first
    /// try): counted, and its duration to give-up recorded in the all-calls latency.
    pub(super) fn record_give_up(&self, c: usize, duration_ns: u64, sim: &mut Sim<Event>) {
        let cl = &self.clients[c];
        sim.rec.incr(cl.m.give_ups);
        sim.rec.record(cl.m.call_all, duration_ns);
        if let ReplyTo::Sink(k) = cl.reply_to
            && let Some(sink) = self.sinks.get(k as usize)
            && !sink.mirror
        {
            sim.rec.incr(sink.failures);
            sim.rec.record(sink.call_all, duration_ns);
        }
    }

    /// Closed-loop `user` of client `c` finished a call and thinks before the next one
    /// (nothing for open-loop calls, whose `user` is `u32::MAX`).
    #[inline]
    pub(super) fn user_done(&mut self, c: usize, user: u32, sim: &mut Sim<Event>) {
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
    pub(super) fn on_cache_hit(&mut self, c: usize, user: u32, sim: &mut Sim<Event>) {
        if self.clients[c].reply_to == ReplyTo::Parent {
            return self.guard_edge_hit(c, user, sim); // a call edge's cache: `user` is the slot
        }
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
    pub(super) fn fill_look_aside(&mut self, c: usize, key: u32, now: SimTime) {
        if let Some(cache) = &mut self.clients[c].cache
            && cache.spec.fill == Fill::LookAside
        {
            cache.insert(key, now);
        }
    }

    /// The fast path of a client that needs no call slot: one attempt, always awaited. The
    /// request names [`TRIVIAL_SLOT`] and carries the closed-loop user as its generation.
    #[inline]
    pub(super) fn trivial_call(&mut self, c: usize, user: u32, key: u32, sim: &mut Sim<Event>) {
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
        self.send(target, req, sim);
    }

    /// The reply to a trivial call sent at `sent` (its only attempt).
    #[inline]
    pub(super) fn trivial_reply(
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
            if std::mem::take(&mut self.guard.reply_degraded) {
                self.guard_degraded_answer(c, TRIVIAL_SLOT, sim);
            }
        }
        let stale = outcome != Outcome::Ok && self.guard_stale(c, key, now, sim);
        let cl = &mut self.clients[c];
        cl.live_calls -= 1;
        sim.rec.gauge_set_count(cl.m.in_flight, now, cl.live_calls);
        if outcome == Outcome::Ok || stale {
            self.record_success(c, now.since(sent).as_nanos(), sim);
        } else {
            sim.rec.incr(if outcome == Outcome::Rejected {
                cl.m.rejections
            } else {
                cl.m.errors
            });
            self.record_give_up(c, now.since(sent).as_nanos(), sim);
        }
        self.user_done(c, user, sim);
    }

    /// Service `parent.service`'s server starts a downstream call on edge `edge`.
    pub(super) fn start_call(&mut self, edge: u32, parent: Parent, sim: &mut Sim<Event>) {
        let key = self.guard_key(edge as usize);
        let cl = &mut self.clients[edge as usize];
        let slot = cl.open_call(sim.now(), u32::MAX, key);
        if cl.parents.len() <= slot as usize {
            cl.parents.resize(slot as usize + 1, Parent::default());
        }
        cl.parents[slot as usize] = parent;
        if self.guard_admit(edge as usize, slot, sim) {
            return; // a cache hit, or refused by a full bulkhead
        }
        let cl = &mut self.clients[edge as usize];
        if let Some(f) = &mut cl.endpoint_failover {
            f.choose(sim.now(), slot, cl.target);
        }
        self.first_try(edge as usize, slot, sim);
    }

    pub(super) fn first_try(&mut self, c: usize, slot: u32, sim: &mut Sim<Event>) {
        let cl = &mut self.clients[c];
        sim.rec.incr(cl.m.first_tries);
        cl.retry.on_first_try(sim.now());
        sim.rec
            .gauge_set_count(cl.m.in_flight, sim.now(), cl.live_calls);
        self.send_attempt(c, slot, sim);
    }

    /// The next attempt of call `slot` is due: ask the breaker and the throttle, then send it
    /// now, later (an adaptive rate limiter's delay), or not at all.
    pub(super) fn send_attempt(&mut self, c: usize, slot: u32, sim: &mut Sim<Event>) {
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

    pub(super) fn on_send_due(
        &mut self,
        c: usize,
        slot: u32,
        generation: u32,
        sim: &mut Sim<Event>,
    ) {
        match self.clients[c].calls.get(slot as usize) {
            Some(call) if call.generation == generation && !call.in_flight => {}
            _ => return,
        }
        self.dispatch(c, slot, sim);
    }

    /// Sends `req` to service `target`, counted against `limits.max_live_requests` (the run
    /// stops with `live_request_limit` past it).
    #[inline]
    pub(super) fn send(&mut self, target: usize, req: Request, sim: &mut Sim<Event>) {
        self.live_requests += 1;
        if self.live_requests > self.max_live_requests {
            sim.request_stop("live_request_limit");
        }
        self.service_arrive(target, req, sim);
    }

    /// Sends attempt number `attempts + 1` of call `slot` to the client's target.
    pub(super) fn dispatch(&mut self, c: usize, slot: u32, sim: &mut Sim<Event>) {
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
            sim.schedule_timer_at(
                deadline,
                Event::AttemptTimeout {
                    client: c as u32,
                    slot,
                    generation,
                },
            );
        }
        self.hedge_arm(c, slot, generation, deadline, sim);
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
        let target = self.target_of(c, slot);
        self.send(target, req, sim);
    }

    /// A service answers attempt `caller`, sent at `sent`.
    #[inline]
    pub(super) fn on_reply(
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
        if self.hedge_answer(caller, outcome, sent, sim) {
            return; // a hedged copy failed while the other is still out
        }
        let cl = &mut self.clients[c];
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

    pub(super) fn on_attempt_timeout(
        &mut self,
        c: usize,
        slot: u32,
        generation: u32,
        sim: &mut Sim<Event>,
    ) {
        let cl = &mut self.clients[c];
        if !cl.is_waiting(slot, generation) {
            return; // answered before the timeout
        }
        let call = &mut cl.calls[slot as usize];
        call.in_flight = false;
        let queued = std::mem::take(&mut call.queued);
        let was_retry = call.attempts > 1;
        cl.retry
            .on_attempt_end(sim.now(), AttemptEnd::Timeout, was_retry);
        sim.rec.incr(cl.m.timeouts);
        if queued {
            // The attempt waits in a queue with abandonment: it leaves it now, before any
            // retry is sent.
            let target = self.target_of(c, slot);
            self.abandon(target, sim);
        }
        self.attempt_failed(c, slot, Failure::Timeout, sim);
    }

    pub(super) fn attempt_failed(
        &mut self,
        c: usize,
        slot: u32,
        why: Failure,
        sim: &mut Sim<Event>,
    ) {
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

    pub(super) fn on_retry_due(
        &mut self,
        c: usize,
        slot: u32,
        generation: u32,
        sim: &mut Sim<Event>,
    ) {
        let cl = &mut self.clients[c];
        match cl.calls.get(slot as usize) {
            Some(call) if call.generation == generation && !call.in_flight => {}
            _ => return,
        }
        sim.rec.incr(cl.m.retries);
        self.send_attempt(c, slot, sim);
    }

    pub(super) fn succeed(&mut self, c: usize, slot: u32, sim: &mut Sim<Event>) {
        if std::mem::take(&mut self.guard.reply_degraded) {
            self.guard_degraded_answer(c, slot, sim);
        }
        let now = sim.now();
        let key = self.clients[c].calls[slot as usize].key;
        self.fill_look_aside(c, key, now);
        let born = self.clients[c].calls[slot as usize].born;
        self.record_success(c, now.since(born).as_nanos(), sim);
        self.end_call(c, slot, true, sim);
    }

    /// Call `slot` ends without success now: its duration runs from its first try (`born`).
    pub(super) fn give_up(&mut self, c: usize, slot: u32, sim: &mut Sim<Event>) {
        if self.guard.any && self.guard_rescue(c, slot, sim) {
            return; // answered stale, or its fallback runs
        }
        let born = self.clients[c].calls[slot as usize].born;
        self.record_give_up(c, sim.now().since(born).as_nanos(), sim);
        self.end_call(c, slot, false, sim);
    }

    pub(super) fn end_call(&mut self, c: usize, slot: u32, ok: bool, sim: &mut Sim<Event>) {
        self.guard_release(c, slot);
        let cl = &mut self.clients[c];
        let user = cl.calls[slot as usize].user;
        if let Some(f) = &mut cl.endpoint_failover {
            f.ended(sim.now(), slot, ok, cl.target);
        }
        cl.close_call(slot);
        sim.rec
            .gauge_set_count(cl.m.in_flight, sim.now(), cl.live_calls);
        let parent = (cl.reply_to == ReplyTo::Parent).then(|| cl.parents[slot as usize]);
        self.user_done(c, user, sim);
        if let Some(parent) = parent {
            self.call_done(parent, ok, sim);
        }
    }
}
