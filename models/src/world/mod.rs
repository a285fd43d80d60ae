//! The world: every component of one simulated system in typed vectors, the closed [`Event`]
//! enum, and the one dispatch over it ([`sim_core::Model`] for [`World`]).
//!
//! The flows between components are split by what happens, each an `impl World` block of its
//! own file: a call's life cycle (`call.rs`), serving (`serve.rs`), crash loops
//! (`crash_loop.rs`), edge nodes (`edge.rs`), timed actions (`actions.rs`) and the wiring of the
//! control planes (`control.rs`). This module owns construction ([`World::build`]) and
//! dispatch only. Nothing outside `world` may name [`World`] or [`Event`] except the crate
//! root's re-exports and the scenario layer above this crate.

mod actions;
mod autoscale;
mod call;
mod control;
mod crash_loop;
mod dns_failover;
mod edge;
mod event;
mod guard;
mod hedging;
mod operators;
mod serve;
mod split;
mod state;

#[cfg(test)]
mod lease_tests;

pub use event::Event;
pub use operators::OperatorLog;
pub use split::Measure;
pub use state::StateValue;

use crate::control::{config_push, dns_automation, lease};
use crate::infra::cache::Fill;
use crate::infra::dns::Resolution;
use crate::infra::load_balancer;
use crate::request::{Caller, Outcome, Request};
use crate::request_path::client::{Client, Failure, Mode, Parent, ReplyTo, TRIVIAL_SLOT};
use crate::request_path::retry::{AttemptEnd, Denied, Gate};
use crate::request_path::service::{Service, Skip, Wait};
use crate::request_path::sink::{Sink, SinkMirror};
use crate::spec::{Action, TimedAction, WorldSpec};
use sim_core::{Model, Sim, SimDuration, SimTime};

/// All components of one simulated system.
#[derive(Clone)]
pub struct World {
    pub clients: Vec<Client>,
    pub services: Vec<Service>,
    pub sinks: Vec<Sink>,
    actions: Vec<TimedAction>,
    pub load_balancers: Vec<load_balancer::LoadBalancer>,
    live_requests: u64,
    max_live_requests: u64,
    pub dns_automations: Vec<dns_automation::Automation>,
    pub config_pushes: Vec<config_push::ConfigPush>,
    pub leases: Vec<lease::LeaseManager>,
    operators: Vec<crate::control::operator::Operator>,
    op_prev: Vec<Vec<operators::Prev>>,
    /// Per lease manager and host: jobs finished in time at the last stuck-host check.
    lease_seen: Vec<Vec<u64>>,
    probe: Option<operators::ProbeState>,
    probe_prev: operators::Prev,
    trigger_removed_at: Option<SimTime>,
    /// Caches on call edges, stale-if-error, bulkheads, fallbacks, caller routing.
    guard: guard::Guards,
    pub autoscalers: Vec<crate::control::autoscaler::Autoscaler>,
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
        // A sink one client alone reports to mirrors that client's metrics (recorded once).
        let mut feeders: Vec<(u32, Option<usize>)> = vec![(0, None); spec.sinks.len()];
        for (i, c) in clients.iter().enumerate() {
            if let ReplyTo::Sink(k) = c.reply_to
                && let Some(f) = feeders.get_mut(k as usize)
            {
                *f = (f.0 + 1, Some(i));
            }
        }
        let sinks = spec
            .sinks
            .iter()
            .zip(&feeders)
            .map(|(s, &(n, who))| {
                let mirror = who.filter(|_| n == 1).map(|i| {
                    let m = &clients[i].m;
                    SinkMirror {
                        successes: m.successes,
                        give_ups: m.give_ups,
                        call_ok: m.call_ok,
                        call_all: m.call_all,
                    }
                });
                Sink::new(s, &mut sim.rec, mirror)
            })
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
                .map(|l| load_balancer::LoadBalancer::new(l, seed, &mut sim.rec))
                .collect(),
            leases: Vec::new(),
            operators: Vec::new(),
            op_prev: Vec::new(),
            lease_seen: Vec::new(),
            probe: None,
            probe_prev: operators::Prev::default(),
            trigger_removed_at: None,
            guard: guard::Guards::default(),
            autoscalers: Vec::new(),
        };
        for (i, a) in spec.dns_automations.iter().enumerate() {
            let built = dns_automation::Automation::build(a, seed, i as u32, sim, dns_plan_event);
            world.dns_automations.push(built);
        }
        world.build_config_pushes(spec, seed, sim);
        world.guard = guard::Guards::build(
            spec,
            &world.clients,
            &mut world.services,
            &world.sinks,
            &mut sim.rec,
        );
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
        world.build_dns_failover(seed, sim);
        world.build_operators(spec, seed, sim);
        world.build_autoscalers(spec, seed, sim);
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
            Event::Operator { idx } => self.on_operator(idx, sim),
            Event::Fallback {
                client,
                slot,
                generation,
            } => self.on_fallback_done(client as usize, slot, generation, sim),
            Event::HedgeDue {
                client,
                slot,
                generation,
            } => self.on_hedge_due(client as usize, slot, generation, sim),
            Event::Autoscale { idx, ev } => self.on_autoscale(idx as usize, ev, sim),
            Event::DnsCheck { client } => self.on_dns_check(client, sim),
        }
    }
}

fn dns_plan_event(idx: u32, ev: dns_automation::Ev) -> Event {
    Event::DnsPlan { idx, ev }
}
