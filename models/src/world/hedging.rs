//! Hedged requests in the world ([`crate::request_path::hedge`]): arming the hedge timer when
//! an attempt is sent, sending the hedge copy, taking the first answer, cancelling the loser.

use super::*;
use crate::request_path::hedge::Answer;

impl World {
    /// Attempt `generation` of call `slot` of client `c` was just sent with `deadline`: if the
    /// client hedges, its hedge timer starts.
    #[inline]
    pub(super) fn hedge_arm(
        &mut self,
        c: usize,
        slot: u32,
        generation: u32,
        deadline: SimTime,
        sim: &mut Sim<Event>,
    ) {
        let Some(h) = &mut self.clients[c].hedge else {
            return;
        };
        let delay = h.on_dispatch(slot, sim.now(), deadline);
        sim.rec
            .gauge_set(h.m.delay_ms, sim.now(), delay.as_millis_f64());
        if sim.now().saturating_add(delay) < deadline {
            sim.schedule_in(
                delay,
                Event::HedgeDue {
                    client: c as u32,
                    slot,
                    generation,
                },
            );
        }
    }

    /// The hedge delay of attempt `generation` of call `slot` is over: if nobody has answered
    /// and the budget allows, a second copy goes to the same target.
    pub(super) fn on_hedge_due(
        &mut self,
        c: usize,
        slot: u32,
        generation: u32,
        sim: &mut Sim<Event>,
    ) {
        let now = sim.now();
        let cl = &mut self.clients[c];
        if !cl.is_waiting(slot, generation) {
            return; // answered, timed out or ended meanwhile
        }
        let key = cl.calls[slot as usize].key;
        let target = cl.target as usize;
        let Some(h) = &mut cl.hedge else {
            return;
        };
        if !h.try_hedge(slot, now) {
            sim.rec.incr(h.m.denied);
            return;
        }
        sim.rec.incr(h.m.hedges);
        let req = Request {
            arrived: now,
            deadline: h.deadline(slot),
            caller: Caller {
                client: c as u32,
                slot,
                generation,
            },
            key,
        };
        self.send(target, req, sim);
    }

    /// An answer to a hedging client's attempt `caller` that the client is waiting for: true
    /// if it is absorbed (a failed copy while the other is still out). A successful final
    /// answer cancels the other copy if the client cancels.
    pub(super) fn hedge_answer(
        &mut self,
        caller: Caller,
        outcome: Outcome,
        sent: SimTime,
        sim: &mut Sim<Event>,
    ) -> bool {
        let now = sim.now();
        let cl = &mut self.clients[caller.client as usize];
        let target = cl.target as usize;
        let Some(h) = &mut cl.hedge else {
            return false;
        };
        let ok = outcome == Outcome::Ok;
        match h.on_answer(caller.slot, ok, sent, now) {
            Answer::Absorbed => true,
            Answer::Final { hedge_won, sibling } => {
                if ok && hedge_won {
                    sim.rec.incr(h.m.wins);
                }
                if sibling && h.spec.cancel {
                    let cancelled = h.m.cancelled;
                    if self.cancel_copy(target, caller, sim) {
                        sim.rec.incr(cancelled);
                    }
                }
                false
            }
        }
    }

    /// Removes the request of `caller` from service `s`: out of its queue, or off its server
    /// (whose pending completion and downstream replies are voided by a generation bump, as
    /// an outage does). True if it was found. O(servers + queue): only hedge losers pay it.
    fn cancel_copy(&mut self, s: usize, caller: Caller, sim: &mut Sim<Event>) -> bool {
        let now = sim.now();
        let svc = &mut self.services[s];
        let on_server = svc
            .in_service
            .iter()
            .position(|r| r.is_some_and(|r| r.caller == caller));
        if let Some(k) = on_server {
            svc.in_service[k] = None;
            svc.server_gen[k] = svc.server_gen[k].wrapping_add(1);
            if let Some(w) = svc.waits.get_mut(k) {
                *w = Wait::default();
            }
            svc.busy -= 1;
            self.live_requests -= 1;
            let k = k as u32;
            if k < svc.servers && !self.serve_next(s, k, sim) {
                self.services[s].idle.push(k);
            }
            let svc = &self.services[s];
            sim.rec.gauge_set(svc.m.busy, now, svc.busy as f64);
            return true;
        }
        if let Some(pos) = svc.queue.iter().position(|r| r.caller == caller) {
            svc.queue.remove(pos);
            self.live_requests -= 1;
            sim.rec
                .gauge_set_count(svc.m.queue_len, now, svc.live_len() as u64);
            return true;
        }
        false
    }
}
