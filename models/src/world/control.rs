//! The wiring of the control-plane components into the request world: config pushes set
//! proxies' error rates, lease establishments feed load balancers, load balancers set their
//! service's server count.

use super::*;

impl World {
    /// Builds the config pushes, registers the proxies' `degraded` counters and schedules
    /// each push's first generation at t = 0.
    pub(super) fn build_config_pushes(
        &mut self,
        spec: &WorldSpec,
        seed: u64,
        sim: &mut Sim<Event>,
    ) {
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

    pub(super) fn on_config_push(&mut self, idx: usize, ev: config_push::Ev, sim: &mut Sim<Event>) {
        if self.config_pushes[idx].handle(idx as u32, ev, sim) {
            self.apply_config(idx, sim.now(), sim);
        }
    }

    /// The fraction of push `idx`'s machines holding a bad file changed: each proxy's
    /// requests fail (fail closed) or are degraded (fail open) with that probability.
    pub(super) fn apply_config(&mut self, idx: usize, now: SimTime, sim: &mut Sim<Event>) {
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
    pub(super) fn feed_load_balancer(
        &mut self,
        lb: u32,
        items: u64,
        targets: u32,
        sim: &mut Sim<Event>,
    ) {
        let ops = [
            (items > 0).then_some(load_balancer::Op::Backlog { items }),
            (targets > 0).then_some(load_balancer::Op::Launch { targets }),
        ];
        for op in ops.into_iter().flatten() {
            let servers = self.load_balancers[lb as usize].apply(lb, op, sim);
            self.lb_capacity(lb, servers, sim);
        }
    }

    /// Load balancer `lb` changed its in-service capacity to `servers` (if `Some`): its
    /// service gets that many servers.
    pub(super) fn lb_capacity(&mut self, lb: u32, servers: Option<u32>, sim: &mut Sim<Event>) {
        if let Some(servers) = servers {
            let service = self.load_balancers[lb as usize].service() as usize;
            self.set_servers(service, servers, sim);
        }
    }
}
