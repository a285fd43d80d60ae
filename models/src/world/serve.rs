//! Serving: a request arrives at a service, waits or is served, makes its downstream calls,
//! and is answered; capacity changes.

use super::*;

impl World {
    /// A request arrives at service `s`: start it, queue it, reject it, or lose it.
    #[inline]
    pub(super) fn service_arrive(&mut self, s: usize, mut req: Request, sim: &mut Sim<Event>) {
        if let Some(held) = &mut self.services[s].partitioned {
            held.push(req); // in the network until the partition heals
            return;
        }
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
                .gauge_set_count(svc.m.queue_len, now, svc.live_len() as u64);
            if svc.abandonment {
                if let Some(q) = svc.m.queued {
                    sim.rec.incr(q);
                }
                if let Some(cl) = self.clients.get_mut(req.caller.client as usize)
                    && req.caller.slot != TRIVIAL_SLOT
                {
                    cl.set_queued(req.caller.slot, req.caller.generation, true);
                }
            }
        }
    }

    /// The caller of a request queued at service `s` (with `queue_abandonment`) gave up on it:
    /// the request leaves the queue now (counted `expired`; its entry is discarded lazily).
    pub(super) fn abandon(&mut self, s: usize, sim: &mut Sim<Event>) {
        let now = sim.now();
        let svc = &mut self.services[s];
        debug_assert!(svc.abandonment && svc.dead < svc.queue.len());
        if svc.dead >= svc.queue.len() {
            return; // (cannot happen: the caller's flag says it is queued here)
        }
        svc.dead += 1;
        sim.rec.incr(svc.m.expired);
        sim.rec
            .gauge_set_count(svc.m.queue_len, now, svc.live_len() as u64);
        // Compaction when dead entries outnumber live ones: O(queue) for at least queue/2
        // abandonments since the last one, so amortised O(1), and memory stays within twice
        // the live queue (LIFO would otherwise keep dead entries at the bottom for ever).
        if svc.dead >= 64 && svc.dead * 2 > svc.queue.len() {
            let clients = &self.clients;
            let before = svc.queue.len();
            svc.queue.retain(|r| {
                clients
                    .get(r.caller.client as usize)
                    .is_none_or(|c| c.is_waiting(r.caller.slot, r.caller.generation))
            });
            let removed = before - svc.queue.len();
            debug_assert_eq!(removed, svc.dead);
            self.live_requests -= removed as u64;
            svc.dead = 0;
        }
    }

    #[inline]
    pub(super) fn start_service(
        svc: &mut Service,
        s: usize,
        server: u32,
        req: Request,
        sim: &mut Sim<Event>,
    ) {
        let now = sim.now();
        sim.rec.incr(svc.m.started);
        sim.rec
            .add_saturating(svc.m.wait_ns, now.since(req.arrived).as_nanos());
        let mut d = svc.draw_service_time();
        if let Some(w) = &svc.warmup {
            d = w.stretch(server, now, d);
        }
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
    #[inline]
    pub(super) fn serve_next(&mut self, s: usize, server: u32, sim: &mut Sim<Event>) -> bool {
        let now = sim.now();
        let svc = &self.services[s];
        if let Some(e) = &svc.edge
            && svc.live_len() > 0
            && e.overloaded(server, now)
        {
            self.edge_crash(s, server, true, sim);
            return true; // the node is not idle: it crashed
        }
        loop {
            let svc = &mut self.services[s];
            let congested = svc.is_congested(now);
            let Some(req) = svc.pop_next(now) else {
                debug_assert_eq!(svc.dead, 0);
                svc.dead = 0;
                sim.rec.gauge_set(svc.m.queue_len, now, 0.0);
                return false;
            };
            if svc.abandonment
                && req.caller.slot != TRIVIAL_SLOT
                && let Some(cl) = self.clients.get_mut(req.caller.client as usize)
            {
                // Only a timeout stops a caller waiting for a queued request, and that
                // timeout counted it dead: a caller not waiting means an abandoned entry.
                if !cl.is_waiting(req.caller.slot, req.caller.generation) {
                    svc.dead = svc.dead.saturating_sub(1);
                    self.live_requests -= 1;
                    continue;
                }
                cl.set_queued(req.caller.slot, req.caller.generation, false);
            }
            match svc.skip(&req, now, congested) {
                None if svc.bad_config => {
                    sim.rec
                        .gauge_set_count(svc.m.queue_len, now, svc.live_len() as u64);
                    self.crash(s, server, req, sim);
                    return true; // the server is not idle: it is restarting
                }
                None => {
                    Self::start_service(svc, s, server, req, sim);
                    sim.rec
                        .gauge_set_count(svc.m.queue_len, now, svc.live_len() as u64);
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
    #[inline]
    pub(super) fn on_service_done(
        &mut self,
        s: usize,
        server: u32,
        generation: u32,
        sim: &mut Sim<Event>,
    ) {
        let svc = &mut self.services[s];
        if svc.server_gen.get(server as usize) != Some(&generation) {
            return; // the work was lost to an outage
        }
        let local = (svc.warmup.as_mut()).is_some_and(|w| w.cache_hit(server, sim.now()));
        if svc.calls.is_empty() || local {
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
        self.guard_take_degraded(s, server);
        // Caller routing: the calls this request makes (all of them without routing).
        let made = |w: &World, i: u32| w.guard_next(s, server, i) == i;
        let first = self.guard_next(s, server, 0);
        if first >= n {
            self.finish_request(s, server, false, sim);
            return;
        }
        let svc = &mut self.services[s];
        if svc.fanout {
            let pending = (0..n).filter(|&i| made(self, i)).count() as u32;
            self.services[s].waits[server as usize] = Wait {
                pending,
                next: n,
                failed: false,
            };
            for i in 0..n {
                if made(self, i) {
                    let edge = self.services[s].calls[i as usize];
                    self.start_call(edge, parent, sim);
                }
            }
        } else {
            svc.waits[server as usize] = Wait {
                pending: 1,
                next: first + 1,
                failed: false,
            };
            let edge = svc.calls[first as usize];
            self.start_call(edge, parent, sim);
        }
    }

    /// A downstream call of `parent` ended (`ok`: it succeeded).
    pub(super) fn call_done(&mut self, parent: Parent, ok: bool, sim: &mut Sim<Event>) {
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
        let (failed, from) = (w.failed, w.next);
        let next = if failed {
            n
        } else {
            self.guard_next(s, parent.server, from)
        };
        if next < n {
            let svc = &mut self.services[s];
            let w = &mut svc.waits[parent.server as usize];
            w.next = next + 1;
            w.pending = 1;
            let edge = svc.calls[next as usize];
            self.start_call(edge, parent, sim);
        } else {
            self.finish_request(s, parent.server, failed, sim);
        }
    }

    /// Server `server` of service `s` answers its request (with an error if a downstream
    /// call failed) and takes more work.
    #[inline]
    pub(super) fn finish_request(
        &mut self,
        s: usize,
        server: u32,
        failed: bool,
        sim: &mut Sim<Event>,
    ) {
        let now = sim.now();
        let svc = &mut self.services[s];
        let Some(req) = svc.in_service[server as usize].take() else {
            debug_assert!(false, "request finished on an idle server");
            return;
        };
        svc.busy -= 1;
        self.live_requests -= 1;
        let degraded = self.guard_take_degraded(s, server);
        let svc = &mut self.services[s];
        sim.rec.incr(svc.m.completions);
        sim.rec
            .record(svc.m.sojourn, now.since(req.arrived).as_nanos());
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
        if outcome == Outcome::Ok
            && let Some((lb, per)) = svc.feeds
        {
            svc.fed += per;
            if svc.fed >= 1.0 {
                let items = svc.fed.floor();
                svc.fed -= items;
                self.feed_load_balancer(lb, items as u64, 0, sim);
            }
        }
        let svc = &mut self.services[s];
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
        if outcome == Outcome::Ok
            && degraded
            && let Some(d) = svc.m.degraded
        {
            sim.rec.incr(d); // a fallback answered one of its calls
        }
        if waiting {
            self.guard.reply_degraded = degraded && outcome == Outcome::Ok;
            self.on_reply(req.caller, outcome, req.arrived, req.key, sim);
            self.guard.reply_degraded = false;
        }
    }

    pub(super) fn set_servers(&mut self, s: usize, servers: u32, sim: &mut Sim<Event>) {
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
