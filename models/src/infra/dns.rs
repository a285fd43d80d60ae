//! Name resolution in front of a service: an authoritative record (the service's endpoints,
//! which a trigger can empty), and client hosts, each with a resolver cache (positive TTL, and
//! negative caching of an empty answer) and one connection that is reused for its lifetime.
//!
//! A call is made from a host drawn uniformly at random. While the host's connection is alive
//! the call goes through, whatever the record says now (existing connections keep working). A
//! host without a live connection resolves: from its cache while the cached answer is fresh,
//! else from the authoritative record (the answer is then cached for `ttl`, or `negative_ttl`
//! if empty). An empty answer fails the call at once; a non-empty one opens a connection.
//!
//! This is the mechanism of the AWS 2025-10-20 DynamoDB tail: when the empty record was fixed,
//! hosts that had cached the empty answer kept failing until their negative cache expired.

use rand::RngExt;
use sim_core::{SimDuration, SimRng, SimTime};

/// A validated DNS configuration of a client.
#[derive(Clone, Debug, PartialEq)]
pub struct DnsSpec {
    /// Client hosts, each with its own resolver cache and connection.
    pub hosts: u32,
    pub ttl: SimDuration,
    pub negative_ttl: SimDuration,
    pub connection_lifetime: SimDuration,
    /// Failover of the record between the target and a secondary endpoint
    /// ([`crate::infra::dns_failover`]).
    pub failover: Option<crate::infra::dns_failover::DnsFailoverSpec>,
}

/// Resolver and connection state of a client's hosts.
#[derive(Clone)]
pub struct Dns {
    pub spec: DnsSpec,
    conn_until: Vec<SimTime>,
    cache_until: Vec<SimTime>,
    cached_empty: Vec<bool>,
    /// Per host: the endpoint its cached answer names, and the one its connection goes to
    /// (`dns_failover::PRIMARY` or `SECONDARY`).
    cached_endpoint: Vec<u8>,
    conn_endpoint: Vec<u8>,
    /// Health checker and record state, with `spec.failover`.
    pub failover: Option<crate::infra::dns_failover::DnsFailover>,
    /// Draws of weighted answers (a stream of its own).
    answer_rng: Option<SimRng>,
}

/// What a call from a host finds.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Resolution {
    /// A live connection, or a fresh resolution to a non-empty record.
    Connected,
    /// The answer (cached or fresh) was empty: the call fails at once.
    Empty,
}

impl Dns {
    pub fn new(spec: &DnsSpec) -> Dns {
        let n = spec.hosts.max(1) as usize;
        Dns {
            spec: spec.clone(),
            conn_until: vec![SimTime::ZERO; n],
            cache_until: vec![SimTime::ZERO; n],
            cached_empty: vec![false; n],
            cached_endpoint: vec![0; n],
            conn_endpoint: vec![0; n],
            failover: spec
                .failover
                .as_ref()
                .map(crate::infra::dns_failover::DnsFailover::new),
            answer_rng: None,
        }
    }

    /// Gives health checks and weighted answers their random stream (clients with failover
    /// only).
    pub fn set_answer_rng(&mut self, rng: SimRng) {
        self.answer_rng = Some(rng);
    }

    /// A health check of the primary at `now`: it fails when the primary is `down`, else with
    /// probability `error_rate`. Returns whether the checker decided a record change.
    pub fn health_check(&mut self, now: SimTime, down: bool, error_rate: f64) -> bool {
        let failed = down
            || (error_rate > 0.0
                && self
                    .answer_rng
                    .as_mut()
                    .is_some_and(|r| r.random::<f64>() < error_rate));
        self.failover
            .as_mut()
            .is_some_and(|f| f.check(now, !failed))
    }

    /// A call starts at `now` on a random host: how its name resolves, and the endpoint it goes
    /// to (`PRIMARY`, or `SECONDARY` under failover). A fresh resolution takes the record's
    /// answer now; a cached answer or a live connection keeps the endpoint it named.
    pub fn call_endpoint(
        &mut self,
        now: SimTime,
        record_empty: bool,
        rng: &mut SimRng,
    ) -> (Resolution, u8) {
        let h = rng.random_range(0..self.conn_until.len());
        if now < self.conn_until[h] {
            return (Resolution::Connected, self.conn_endpoint[h]);
        }
        if now >= self.cache_until[h] {
            self.cached_empty[h] = record_empty;
            let ttl = if record_empty {
                self.spec.negative_ttl
            } else {
                self.spec.ttl
            };
            self.cache_until[h] = now.saturating_add(ttl);
            self.cached_endpoint[h] = match (&self.failover, &mut self.answer_rng) {
                (Some(f), Some(r)) => f.answer(now, r),
                _ => crate::infra::dns_failover::PRIMARY,
            };
        }
        if self.cached_empty[h] {
            return (Resolution::Empty, self.cached_endpoint[h]);
        }
        self.conn_until[h] = now.saturating_add(self.spec.connection_lifetime);
        self.conn_endpoint[h] = self.cached_endpoint[h];
        (Resolution::Connected, self.conn_endpoint[h])
    }

    /// Hosts at `now` with a live connection, with a fresh cached non-empty answer (and no
    /// connection), and with a fresh cached empty answer (their calls fail at once).
    pub fn host_counts(&self, now: SimTime) -> (u32, u32, u32) {
        let (mut connected, mut cached_ok, mut cached_empty) = (0, 0, 0);
        for h in 0..self.conn_until.len() {
            if now < self.conn_until[h] {
                connected += 1;
            } else if now < self.cache_until[h] {
                if self.cached_empty[h] {
                    cached_empty += 1;
                } else {
                    cached_ok += 1;
                }
            }
        }
        (connected, cached_ok, cached_empty)
    }

    /// A call starts at `now` on a random host; `record_empty` is the authoritative record's
    /// state now. [`Self::call_endpoint`] without the endpoint (the same draws and state).
    #[inline]
    pub fn call(&mut self, now: SimTime, record_empty: bool, rng: &mut SimRng) -> Resolution {
        self.call_endpoint(now, record_empty, rng).0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: f64) -> SimTime {
        SimTime::from_secs_f64(s)
    }

    #[test]
    fn connections_survive_an_empty_record_and_negative_answers_are_cached() {
        let spec = DnsSpec {
            hosts: 1,
            ttl: SimDuration::from_millis(5_000),
            negative_ttl: SimDuration::from_millis(900_000),
            connection_lifetime: SimDuration::from_millis(60_000),
            failover: None,
        };
        let mut d = Dns::new(&spec);
        let mut rng = sim_core::stream(1, "dns");
        assert_eq!(d.call(t(0.0), false, &mut rng), Resolution::Connected);
        // The record empties at 10 s: the connection (until 60 s) keeps working.
        assert_eq!(d.call(t(30.0), true, &mut rng), Resolution::Connected);
        // At 60 s the connection ends; the cached positive answer expired at 5 s: resolve,
        // get the empty answer, cache it for 900 s.
        assert_eq!(d.call(t(61.0), true, &mut rng), Resolution::Empty);
        // The record is fixed at 100 s, but the negative answer is cached until 961 s.
        assert_eq!(d.call(t(200.0), false, &mut rng), Resolution::Empty);
        assert_eq!(d.call(t(960.0), false, &mut rng), Resolution::Empty);
        assert_eq!(d.call(t(961.0), false, &mut rng), Resolution::Connected);
    }
}
