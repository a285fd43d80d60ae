//! The wiring of edge nodes into their service: crashes, timers and reloads, and the
//! operator's admission ramp.

use super::*;
use crate::infra::edge::{Node, Timer};

impl World {
    /// Node `k` of edge service `s` crashes: its request in service (if any) is answered with
    /// an error (the connection resets), it leaves the pool, and its reload starts if reloads
    /// are automatic.
    pub(super) fn edge_crash(&mut self, s: usize, k: u32, overload: bool, sim: &mut Sim<Event>) {
        let now = sim.now();
        let svc = &mut self.services[s];
        let Some(e) = svc.edge.as_mut() else {
            return;
        };
        if !e.is_up(k) {
            return;
        }
        let reload = e.crash(k, overload, now, &mut sim.rec);
        let i = k as usize;
        let held = svc.in_service.get_mut(i).and_then(Option::take);
        if held.is_some() {
            svc.busy -= 1;
            sim.rec.gauge_set(svc.m.busy, now, svc.busy as f64);
        } else {
            svc.idle.retain(|&j| j != k);
        }
        if let Some(g) = svc.server_gen.get_mut(i) {
            *g = g.wrapping_add(1); // its pending completion (or downstream reply) is void
        }
        if let Some((d, generation)) = reload {
            sim.schedule_in(
                d,
                Event::Edge {
                    service: s as u32,
                    node: k,
                    generation,
                },
            );
        }
        if let Some(req) = held {
            sim.rec.incr(svc.m.errors);
            self.live_requests -= 1;
            self.on_reply(req.caller, Outcome::Error, req.arrived, req.key, sim);
        }
    }

    /// A node's timer fired: its delayed crash, or the end of its reload.
    pub(super) fn on_edge_timer(
        &mut self,
        s: usize,
        k: u32,
        generation: u32,
        sim: &mut Sim<Event>,
    ) {
        let now = sim.now();
        let Some(e) = self.services[s].edge.as_mut() else {
            return;
        };
        match e.timer(k, generation) {
            Timer::Stale => {}
            Timer::Crash => self.edge_crash(s, k, false, sim),
            Timer::ReloadDone => {
                e.node_up(k, now, &mut sim.rec);
                if let Some((d, generation)) = e.load_config(k) {
                    sim.schedule_in(
                        d,
                        Event::Edge {
                            service: s as u32,
                            node: k,
                            generation,
                        },
                    );
                }
                if k < self.services[s].servers && !self.serve_next(s, k, sim) {
                    self.services[s].idle.push(k);
                }
            }
        }
    }

    /// The configuration of edge service `s` becomes bad (every serving node loads it) or
    /// good (nodes that load it from now on are fine; crashes already under way still happen).
    pub(super) fn edge_config(&mut self, s: usize, bad: bool, sim: &mut Sim<Event>) {
        let Some(e) = self.services[s].edge.as_mut() else {
            return;
        };
        e.bad = bad;
        if !bad {
            return;
        }
        for k in 0..e.state.len() as u32 {
            if let Some((d, generation)) = e.load_config(k) {
                sim.schedule_in(
                    d,
                    Event::Edge {
                        service: s as u32,
                        node: k,
                        generation,
                    },
                );
            }
        }
    }

    /// Manual node recovery: every down node starts its reload, and from now on every crashed
    /// node reloads at once.
    pub(super) fn edge_recover(&mut self, s: usize, sim: &mut Sim<Event>) {
        let Some(e) = self.services[s].edge.as_mut() else {
            return;
        };
        e.auto_reload = true;
        for k in 0..e.state.len() as u32 {
            if e.state[k as usize] == Node::Down {
                let (d, generation) = e.start_reload(k, &mut sim.rec);
                sim.schedule_in(
                    d,
                    Event::Edge {
                        service: s as u32,
                        node: k,
                        generation,
                    },
                );
            }
        }
    }
}
