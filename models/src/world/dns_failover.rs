//! DNS failover in the world: the health checker's periodic probe of a client's primary
//! endpoint, and the endpoint each call goes to ([`crate::infra::dns_failover`]).

use rand::RngExt;
use sim_core::Sim;

use super::{Event, World};
use crate::infra::dns_failover::{FailoverLog, SECONDARY};

impl World {
    /// Gives every client with DNS failover its stream and schedules its first check.
    pub(super) fn build_dns_failover(&mut self, seed: u64, sim: &mut Sim<Event>) {
        for (i, c) in self.clients.iter_mut().enumerate() {
            let name = format!("{}/dns-failover", c.name);
            if let Some(dns) = &mut c.dns
                && let Some(f) = &dns.failover
            {
                // The checker's phase is its own: the first check comes a uniform fraction of
                // an interval in, so a trigger never lines up with the checks by construction.
                let every = f.spec.check_interval.as_nanos();
                let mut rng = sim_core::stream(seed, &name);
                let first = 1 + rng.random_range(0..every.max(1));
                dns.set_answer_rng(rng);
                sim.schedule_in(
                    sim_core::SimDuration(first),
                    Event::DnsCheck { client: i as u32 },
                );
            }
        }
    }

    /// Client `c`'s health checker probes its primary: it fails while the primary is down
    /// (outage), partitioned away or has an empty record, else with the primary's error rate.
    pub(super) fn on_dns_check(&mut self, c: u32, sim: &mut Sim<Event>) {
        let now = sim.now();
        let Some(cl) = self.clients.get_mut(c as usize) else {
            return;
        };
        let (down, error_rate) = self
            .services
            .get(cl.target as usize)
            .map_or((true, 0.0), |s| {
                (
                    s.down || s.partitioned.is_some() || s.record_empty,
                    s.error_rate,
                )
            });
        let Some(dns) = &mut cl.dns else { return };
        dns.health_check(now, down, error_rate);
        if let Some(f) = &dns.failover {
            sim.schedule_in(f.spec.check_interval, Event::DnsCheck { client: c });
        }
    }

    /// The endpoint (service index) of client `c`'s call `slot`: its DNS or client-side
    /// failover's choice, else the target.
    #[inline]
    pub(super) fn target_of(&self, c: usize, slot: u32) -> usize {
        let cl = &self.clients[c];
        cl.dns
            .as_ref()
            .and_then(|d| d.failover.as_ref())
            .and_then(|f| f.slot_target.get(slot as usize).copied())
            .or_else(|| cl.endpoint_failover.as_ref()?.target_of(slot))
            .unwrap_or(cl.target) as usize
    }

    /// Each client's endpoint failover log (clients and call edges with `endpoint_failover`
    /// only), by name.
    pub fn endpoint_failover_logs(
        &self,
    ) -> Vec<(String, crate::infra::endpoint_failover::EndpointLog)> {
        self.clients
            .iter()
            .filter_map(|c| {
                let f = c.endpoint_failover.as_ref()?;
                Some((c.name.clone(), f.log.clone()))
            })
            .collect()
    }

    /// Each client's DNS failover log (clients with `dns.failover` only), by client name.
    pub fn dns_failover_logs(&self) -> Vec<(String, FailoverLog)> {
        self.clients
            .iter()
            .filter_map(|c| {
                let f = c.dns.as_ref()?.failover.as_ref()?;
                Some((c.name.clone(), f.log.clone()))
            })
            .collect()
    }
}

/// The service a call towards `endpoint` of a client with target `primary` goes to.
#[inline]
pub(super) fn endpoint_service(primary: u32, secondary: u32, endpoint: u8) -> u32 {
    if endpoint == SECONDARY {
        secondary
    } else {
        primary
    }
}
