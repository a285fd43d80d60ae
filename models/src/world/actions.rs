//! Timed actions: triggers and operator actions applied at their scheduled times.

use super::*;

impl World {
    pub(super) fn on_action(&mut self, idx: usize, sim: &mut Sim<Event>) {
        let Some(action) = self.actions.get(idx).map(|a| a.action.clone()) else {
            return;
        };
        self.apply_action(action, sim);
    }

    /// Applies `action` now (a timed action at its time, or an operator's decision).
    pub(super) fn apply_action(&mut self, action: Action, sim: &mut Sim<Event>) {
        let now = sim.now();
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
                // Abandoned entries were counted when their callers left; the live ones are
                // lost (and no longer queued for their callers' abandonment).
                let held = svc.live_len() as u64 + svc.busy as u64;
                sim.rec.add(svc.m.lost, held);
                self.live_requests -= svc.queue.len() as u64 + svc.busy as u64;
                if svc.abandonment {
                    for r in &svc.queue {
                        if let Some(cl) = self.clients.get_mut(r.caller.client as usize)
                            && r.caller.slot != TRIVIAL_SLOT
                        {
                            cl.set_queued(r.caller.slot, r.caller.generation, false);
                        }
                    }
                }
                svc.queue.clear();
                svc.dead = 0;
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
            Action::SetPartition { service, on } => {
                let s = service as usize;
                if on {
                    self.services[s].partitioned.get_or_insert_with(Vec::new);
                } else if let Some(held) = self.services[s].partitioned.take() {
                    for req in held {
                        self.service_arrive(s, req, sim);
                    }
                }
            }
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
                svc.ramp = Some(crate::infra::edge::Ramp::new(
                    now, from_per_s, to_per_s, over,
                ));
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
}
