//! Autoscalers in the world ([`crate::control::autoscaler`]): sampling the scaled service's
//! signal, asking its control-plane service for launches, bringing ready instances into
//! service (cold, if the service has a cold start) and removing instances on scale-in. Server
//! counts change through [`World::set_servers`], the path a load balancer's capacity takes.

use super::*;
use crate::control::autoscaler::{Autoscaler, ControlPlane, Decision, Ev, Signal};
use crate::request_path::warmup::Warmup;

impl World {
    /// Builds the autoscalers, installs their services' cold-start state and schedules the
    /// first samples.
    pub(super) fn build_autoscalers(&mut self, spec: &WorldSpec, seed: u64, sim: &mut Sim<Event>) {
        for (i, a) in spec.autoscalers.iter().enumerate() {
            let svc = &mut self.services[a.service as usize];
            let scaler = Autoscaler::new(a, &svc.name, seed, &mut sim.rec);
            if let Some(c) = &a.cold_start {
                svc.warmup = Some(Warmup::new(c, svc.servers, &svc.name, seed));
            }
            sim.rec
                .gauge_set(scaler.m.servers, SimTime::ZERO, f64::from(svc.servers));
            sim.schedule_in(
                scaler.sample_every(),
                Event::Autoscale {
                    idx: i as u32,
                    ev: Ev::Sample,
                },
            );
            self.autoscalers.push(scaler);
        }
    }

    pub(super) fn on_autoscale(&mut self, idx: usize, ev: Ev, sim: &mut Sim<Event>) {
        match ev {
            Ev::Sample => self.autoscale_sample(idx, sim),
            Ev::Ready => {
                let a = &mut self.autoscalers[idx];
                a.ready();
                let (s, max) = (a.spec.service as usize, a.spec.max);
                sim.rec
                    .gauge_set_count(a.m.pending, sim.now(), u64::from(a.pending));
                let servers = self.services[s].servers;
                if servers < max {
                    if let Some(w) = &mut self.services[s].warmup {
                        w.cold(servers, sim.now());
                    }
                    self.set_autoscaled(idx, servers + 1, sim);
                }
            }
        }
    }

    fn autoscale_sample(&mut self, idx: usize, sim: &mut Sim<Event>) {
        let now = sim.now();
        let a = &mut self.autoscalers[idx];
        let s = a.spec.service as usize;
        sim.schedule_in(
            a.sample_every(),
            Event::Autoscale {
                idx: idx as u32,
                ev: Ev::Sample,
            },
        );
        let svc = &self.services[s];
        let n = f64::from(svc.servers.max(1));
        let value = match a.spec.signal {
            Signal::Utilisation => (f64::from(svc.busy) / n).min(1.0),
            Signal::Queue => svc.live_len() as f64 / n,
            Signal::Wait => 0.0,
        };
        if !a.add_sample(value) {
            return;
        }
        let wait_ms = if a.spec.signal == Signal::Wait {
            let w = sim.rec.counter_cumulative(svc.m.wait_ns);
            let k = sim.rec.counter_cumulative(svc.m.started);
            let (pw, pk) = std::mem::replace(&mut a.prev_wait, (w, k));
            (k > pk).then(|| (w - pw) as f64 / (k - pk) as f64 / 1e6)
        } else {
            None
        };
        let Some(signal) = a.close_interval(wait_ms) else {
            return;
        };
        let servers = svc.servers;
        match a.decide(signal, servers, now) {
            Decision::Hold => {}
            Decision::Out(k) => {
                let cp = match a.spec.control_plane {
                    Some(c) => {
                        let c = &self.services[c as usize];
                        ControlPlane {
                            fail: if c.down { 1.0 } else { c.error_rate },
                            slowdown: c.slowdown,
                        }
                    }
                    None => ControlPlane {
                        fail: 0.0,
                        slowdown: 1.0,
                    },
                };
                for _ in 0..k {
                    match a.launch(cp, now) {
                        Some(d) => {
                            sim.rec.incr(a.m.scale_outs);
                            sim.schedule_in(
                                d,
                                Event::Autoscale {
                                    idx: idx as u32,
                                    ev: Ev::Ready,
                                },
                            );
                        }
                        None => sim.rec.incr(a.m.launch_failures),
                    }
                }
                sim.rec
                    .gauge_set_count(a.m.pending, now, u64::from(a.pending));
            }
            Decision::In(k) => {
                sim.rec.add_saturating(a.m.scale_ins, u64::from(k));
                self.set_autoscaled(idx, servers.saturating_sub(k), sim);
            }
        }
    }

    /// Autoscaler `idx` sets its service's servers to `servers`.
    fn set_autoscaled(&mut self, idx: usize, servers: u32, sim: &mut Sim<Event>) {
        let a = &self.autoscalers[idx];
        let (s, g) = (a.spec.service as usize, a.m.servers);
        self.set_servers(s, servers, sim);
        sim.rec.gauge_set(g, sim.now(), f64::from(servers));
    }
}
