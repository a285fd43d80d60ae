//! What importance splitting needs from a world: progress measures read from the components'
//! state, and re-seeding every random stream of a clone ([`World::reseed`]).
//!
//! A splitting run (`metastable rare`) clones a [`World`] and its engine at the moment a
//! trajectory crosses a level, re-seeds each clone with a salt derived from (seed, level,
//! trajectory index) and continues each clone on its own. This file reads and re-seeds; it
//! changes no rule of any component.

use super::World;

/// A progress measure or target quantity of a world, named by component index.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Measure {
    /// A service's backlog: requests waiting (abandoned ones not counted) plus requests in
    /// service.
    Backlog { service: u32 },
    /// A DNS automation's plan lag: the largest `newest plan − plan being applied` over its
    /// running enactors, in plan generations (0 when none runs).
    PlanLag { automation: u32 },
    /// 1 while a service's DNS record is empty, else 0.
    RecordEmpty { service: u32 },
    /// Number of a DNS automation's endpoints whose record is empty.
    RecordsEmpty { automation: u32 },
    /// Requests alive anywhere in the world (calls in flight, queued or in service).
    LiveRequests,
}

impl World {
    /// The current value of `m`; 0 for a component index the world does not have.
    pub fn measure(&self, m: Measure) -> f64 {
        match m {
            Measure::Backlog { service } => self
                .services
                .get(service as usize)
                .map_or(0.0, |s| (s.live_len() as u64 + s.busy() as u64) as f64),
            Measure::PlanLag { automation } => self
                .dns_automations
                .get(automation as usize)
                .map_or(0.0, |a| a.plan_lag() as f64),
            Measure::RecordEmpty { service } => self
                .services
                .get(service as usize)
                .map_or(0.0, |s| f64::from(u8::from(s.record_empty))),
            Measure::RecordsEmpty { automation } => self
                .dns_automations
                .get(automation as usize)
                .map_or(0.0, |a| f64::from(a.n_broken())),
            Measure::LiveRequests => self.live_requests as f64,
        }
    }

    /// Re-seeds every random stream of every component from its current state and `salt`
    /// (`sim_core::rng::reseed`). Events already scheduled stay as they are; every draw after
    /// this one comes from the new streams. The same world and salt give the same streams.
    pub fn reseed(&mut self, salt: u64) {
        for c in &mut self.clients {
            c.reseed(salt);
        }
        for s in &mut self.services {
            s.reseed(salt);
        }
        for l in &mut self.load_balancers {
            l.reseed(salt);
        }
        for a in &mut self.dns_automations {
            a.reseed(salt);
        }
        for p in &mut self.config_pushes {
            p.reseed(salt);
        }
        for m in &mut self.leases {
            m.reseed(salt);
        }
        for o in &mut self.operators {
            o.reseed(salt);
        }
    }
}
