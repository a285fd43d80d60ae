//! Defences inside a service, wired into the call path (issue 17): a cache on a downstream
//! call edge, stale-if-error on any cache, bulkheads on call edges, fallbacks answering
//! degraded, and caller routing of call edges. Specs and the bulkhead's state machine are in
//! [`crate::request_path::guard`]; the hooks in `call.rs` and `serve.rs` are one line each
//! and do nothing for a world without these features (`Guards::any`, `Guards::routed`).
//!
//! Accounting (what a user sees in `windows.csv` and the summary):
//! - `stale_answers` (clients and call edges with `stale_if_error`, and a sink mirroring such a
//!   client): calls whose origin failed and that a stale entry answered. They also count as
//!   `successes` (the caller got an answer), so full answers = successes − stale_answers.
//! - `degraded` (every client, call edge, service and sink once any edge has a fallback): on
//!   an edge, the fallbacks it took plus degraded answers it received; on a service, answers
//!   that used a fallback somewhere below; on a client or sink, degraded answers received.
//!   Degraded answers are a subset of `successes` / `goodput`: full goodput = goodput −
//!   degraded.
//! - `bulkhead_rejected` (edges with a bulkhead): calls refused by a full bulkhead (also
//!   counted in `first_tries` and `give_ups`, like a call failed fast by an open breaker).

use super::*;
use crate::request_path::guard::{Bulkhead, GuardSpec};
use sim_core::{CounterId, MetricRef};

/// The per-client defences and their metrics.
#[derive(Clone, Debug, Default)]
pub(super) struct ClientGuard {
    pub spec: GuardSpec,
    pub bulkhead: Option<Bulkhead>,
    pub degraded: Option<CounterId>,
    pub stale_answers: Option<CounterId>,
    pub bulkhead_rejected: Option<CounterId>,
}

/// The defences of a whole world.
#[derive(Clone, Debug, Default)]
pub(super) struct Guards {
    /// Some client has a bulkhead, a fallback or stale-if-error (else the hooks do nothing).
    pub any: bool,
    /// Some call edge is made only for some callers.
    pub routed: bool,
    pub clients: Vec<ClientGuard>,
    pub sink_degraded: Vec<Option<CounterId>>,
    /// Per service and server: a fallback answered one of the calls of its current request.
    pub degraded: Vec<Vec<bool>>,
    /// The answer `on_reply` is delivering is degraded (set by `finish_request` around it).
    pub reply_degraded: bool,
}

impl Guards {
    /// The defences of `spec`'s clients; registers their metrics (only for features in use,
    /// so a world without them records exactly what it did before).
    pub(super) fn build(
        spec: &WorldSpec,
        clients: &[Client],
        services: &mut [Service],
        sinks: &[Sink],
        rec: &mut sim_core::Recorder,
    ) -> Guards {
        let any_fallback = spec.clients.iter().any(|c| c.guard.fallback.is_some());
        let mut g = Guards {
            routed: spec.clients.iter().any(|c| c.guard.callers.is_some()),
            ..Guards::default()
        };
        for c in &spec.clients {
            let n = &c.name;
            let stale = c.cache.as_ref().is_some_and(|k| k.stale_if_error.is_some());
            g.any |= stale || c.guard.bulkhead.is_some() || c.guard.fallback.is_some();
            g.clients.push(ClientGuard {
                spec: c.guard.clone(),
                bulkhead: c.guard.bulkhead.map(Bulkhead::new),
                degraded: any_fallback.then(|| rec.counter(n, "degraded")),
                stale_answers: stale.then(|| rec.counter(n, "stale_answers")),
                bulkhead_rejected: c
                    .guard
                    .bulkhead
                    .map(|_| rec.counter(n, "bulkhead_rejected")),
            });
        }
        if any_fallback {
            for svc in services.iter_mut() {
                if svc.m.degraded.is_none() {
                    svc.m.degraded = Some(rec.counter(&svc.name, "degraded"));
                }
            }
        }
        g.degraded = services
            .iter()
            .map(|s| {
                if s.calls.is_empty() {
                    Vec::new()
                } else {
                    vec![false; s.servers as usize]
                }
            })
            .collect();
        // A sink one client alone reports to shows that client's counts; a shared sink counts
        // its own degraded answers.
        for (k, sink) in sinks.iter().enumerate() {
            let mut feeders = clients
                .iter()
                .enumerate()
                .filter(|(_, c)| c.reply_to == ReplyTo::Sink(k as u32));
            let first = feeders.next().map(|(i, _)| i);
            let only = first.filter(|_| feeders.next().is_none());
            let own = match only.and_then(|i| g.clients.get(i)) {
                Some(cg) if sink.mirror => {
                    if let Some(s) = cg.stale_answers {
                        rec.alias(&sink.name, "stale_answers", MetricRef::Counter(s));
                    }
                    if let Some(d) = cg.degraded {
                        rec.alias(&sink.name, "degraded", MetricRef::Counter(d));
                    }
                    None
                }
                _ => any_fallback.then(|| rec.counter(&sink.name, "degraded")),
            };
            g.sink_degraded.push(own);
        }
        g
    }
}

impl World {
    /// The cache key a new downstream call on `edge` reads (0 without a cache on the edge).
    #[inline]
    pub(super) fn guard_key(&mut self, edge: usize) -> u32 {
        let cl = &mut self.clients[edge];
        match &cl.cache {
            Some(cache) => cache.draw_key(&mut cl.keys_rng),
            None => 0,
        }
    }

    /// Call `slot` of downstream edge `c` is about to be tried: answered from the edge's cache
    /// (after the hit time), or refused by a full bulkhead. True if it was handled here.
    #[inline]
    pub(super) fn guard_admit(&mut self, c: usize, slot: u32, sim: &mut Sim<Event>) -> bool {
        let now = sim.now();
        let cl = &mut self.clients[c];
        if let Some(cache) = &mut cl.cache {
            let key = cl.calls[slot as usize].key;
            if cache.lookup(key, now) {
                let hit_time = cache.spec.hit_time;
                if let Some(h) = cl.m.cache_hits {
                    sim.rec.incr(h);
                }
                sim.rec.incr(cl.m.first_tries);
                sim.rec.gauge_set_count(cl.m.in_flight, now, cl.live_calls);
                sim.schedule_in(
                    hit_time,
                    Event::CacheHit {
                        client: c as u32,
                        user: slot,
                    },
                );
                return true;
            }
            if let Some(m) = cl.m.cache_misses {
                sim.rec.incr(m);
            }
        }
        if !self.guard.any {
            return false;
        }
        let g = &mut self.guard.clients[c];
        if let Some(b) = &mut g.bulkhead
            && !b.acquire(slot)
        {
            if let Some(r) = g.bulkhead_rejected {
                sim.rec.incr(r);
            }
            sim.rec.incr(cl.m.first_tries);
            sim.rec.gauge_set_count(cl.m.in_flight, now, cl.live_calls);
            self.give_up(c, slot, sim);
            return true;
        }
        false
    }

    /// A downstream call `slot` of edge `c` was a cache hit; its hit time is over.
    pub(super) fn guard_edge_hit(&mut self, c: usize, slot: u32, sim: &mut Sim<Event>) {
        let latency = self.clients[c]
            .cache
            .as_ref()
            .map_or(0, |k| k.spec.hit_time.as_nanos());
        self.record_success(c, latency, sim);
        self.end_call(c, slot, true, sim);
    }

    /// Call `slot` of client `c` is about to give up: a stale cache entry answers it
    /// (stale-if-error), or its fallback starts. True if it was rescued.
    pub(super) fn guard_rescue(&mut self, c: usize, slot: u32, sim: &mut Sim<Event>) -> bool {
        let now = sim.now();
        let call = self.clients[c].calls[slot as usize];
        if self.guard_stale(c, call.key, now, sim) {
            self.guard_release(c, slot);
            self.record_success(c, now.since(call.born).as_nanos(), sim);
            self.end_call(c, slot, true, sim);
            return true;
        }
        let Some(time) = self.guard.clients[c].spec.fallback else {
            return false;
        };
        if self.clients[c].reply_to != ReplyTo::Parent {
            return false;
        }
        // The dependency call failed (counted so); the waiting server computes a degraded
        // answer and carries on.
        self.guard_release(c, slot);
        self.record_give_up(c, now.since(call.born).as_nanos(), sim);
        if let Some(d) = self.guard.clients[c].degraded {
            sim.rec.incr(d);
        }
        let call = &mut self.clients[c].calls[slot as usize];
        call.in_flight = false;
        call.generation = call.generation.wrapping_add(1);
        let generation = call.generation;
        sim.schedule_in(
            time,
            Event::Fallback {
                client: c as u32,
                slot,
                generation,
            },
        );
        true
    }

    /// The fallback of call `slot` (generation `generation`) of edge `c` is computed: the
    /// waiting server carries on with a degraded answer.
    pub(super) fn on_fallback_done(
        &mut self,
        c: usize,
        slot: u32,
        generation: u32,
        sim: &mut Sim<Event>,
    ) {
        let cl = &self.clients[c];
        match cl.calls.get(slot as usize) {
            Some(call) if call.generation == generation && !call.in_flight => {}
            _ => return,
        }
        if let Some(&p) = cl.parents.get(slot as usize) {
            self.guard_mark(p);
        }
        self.end_call(c, slot, true, sim);
    }

    /// True if client `c`'s cache answers `key` stale after an origin failure (counted).
    pub(super) fn guard_stale(
        &mut self,
        c: usize,
        key: u32,
        now: SimTime,
        sim: &mut Sim<Event>,
    ) -> bool {
        if !self.guard.any {
            return false;
        }
        let cl = &mut self.clients[c];
        let Some(cache) = &mut cl.cache else {
            return false;
        };
        if !cache.lookup_stale(key, now) {
            return false;
        }
        if let Some(s) = self.guard.clients[c].stale_answers {
            sim.rec.incr(s);
        }
        true
    }

    /// Call `slot` of client `c` no longer waits for its dependency: its bulkhead permit, if
    /// any, is free.
    #[inline]
    pub(super) fn guard_release(&mut self, c: usize, slot: u32) {
        if self.guard.any
            && let Some(b) = &mut self.guard.clients[c].bulkhead
        {
            b.release(slot);
        }
    }

    /// Server `p.server` of `p.service` (if still in generation `p.generation`) got a
    /// degraded answer to one of its calls.
    fn guard_mark(&mut self, p: Parent) {
        let s = p.service as usize;
        if self.services[s].server_gen.get(p.server as usize) != Some(&p.generation) {
            return;
        }
        if let Some(row) = self.guard.degraded.get_mut(s) {
            let i = p.server as usize;
            if row.len() <= i {
                row.resize(i + 1, false);
            }
            row[i] = true;
        }
    }

    /// Takes (and clears) the degraded mark of server `server` of service `s`.
    #[inline]
    pub(super) fn guard_take_degraded(&mut self, s: usize, server: u32) -> bool {
        self.guard
            .degraded
            .get_mut(s)
            .and_then(|row| row.get_mut(server as usize))
            .is_some_and(std::mem::take)
    }

    /// Client `c` received a degraded answer to call `slot` (or [`TRIVIAL_SLOT`]): counted at
    /// the client and its sink, and passed up to the waiting server of a call edge.
    pub(super) fn guard_degraded_answer(&mut self, c: usize, slot: u32, sim: &mut Sim<Event>) {
        let cl = &self.clients[c];
        if let Some(d) = self.guard.clients.get(c).and_then(|g| g.degraded) {
            sim.rec.incr(d);
        }
        match cl.reply_to {
            ReplyTo::Sink(k) => {
                if let Some(Some(d)) = self.guard.sink_degraded.get(k as usize) {
                    sim.rec.incr(*d);
                }
            }
            ReplyTo::Parent => {
                if let Some(&p) = cl.parents.get(slot as usize) {
                    self.guard_mark(p);
                }
            }
            ReplyTo::Nowhere => {}
        }
    }

    /// The index of the first call of service `s` at or after `from` that the request on
    /// `server` makes (caller routing); the call count if none.
    #[inline]
    pub(super) fn guard_next(&self, s: usize, server: u32, from: u32) -> u32 {
        let svc = &self.services[s];
        let n = svc.calls.len() as u32;
        if !self.guard.routed {
            return from.min(n);
        }
        let caller = svc.in_service[server as usize].map_or(u32::MAX, |r| r.caller.client);
        (from..n)
            .find(|&i| {
                self.guard
                    .clients
                    .get(svc.calls[i as usize] as usize)
                    .is_none_or(|g| g.spec.applies_to(caller))
            })
            .unwrap_or(n)
    }
}
