//! DNS-based failover between two endpoints (docs/providers.md): a health checker probes the
//! primary every `check_interval`; after `unhealthy_after` consecutive failed probes it
//! changes the authoritative record to the secondary, which takes effect `propagation` later
//! (the DNS provider's API and its name servers); after `healthy_after` consecutive good
//! probes it fails back the same way. Resolvers cache the answer for the TTL and hosts keep
//! their connections for their lifetime ([`crate::infra::dns`]), so a host moves only when
//! both have run out: the failover time is detection + propagation + caching, each measured
//! (see [`FailoverLog`]), never scripted.
//!
//! Active–passive (`weight_secondary = 0`): the record names the primary while it is healthy.
//! Weighted active–active (`weight_secondary = w > 0`): while both are in the record, a fresh
//! resolution is answered with the secondary with probability `w`; a failover takes the
//! primary out of the record. The secondary is not health-checked (it is assumed healthy:
//! put it on another provider).

use rand::RngExt;
use sim_core::{SimDuration, SimRng, SimTime};

/// Endpoint the record (or a host's cached answer) names.
pub const PRIMARY: u8 = 0;
pub const SECONDARY: u8 = 1;

/// A validated failover configuration (`clients[..].dns.failover`).
#[derive(Clone, Debug, PartialEq)]
pub struct DnsFailoverSpec {
    /// The secondary endpoint (index into the world's services); the primary is the client's
    /// target.
    pub secondary: u32,
    pub check_interval: SimDuration,
    pub unhealthy_after: u32,
    pub healthy_after: u32,
    /// Record change → the new answer is served by the authoritative servers.
    pub propagation: SimDuration,
    /// Share of fresh resolutions answered with the secondary while both are in the record.
    pub weight_secondary: f64,
    /// Fail back to the primary once it is healthy again.
    pub failback: bool,
}

/// One failover (or failback): when the checker decided, when the record changed, and the
/// last call a host still sent to the old endpoint after that.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Episode {
    /// `true`: primary → secondary; `false`: back to the primary.
    pub to_secondary: bool,
    pub decided: SimTime,
    pub record_changed: SimTime,
    /// Last call started towards the endpoint the record no longer names (a host on a cached
    /// answer or a live connection); `None`: none after the change.
    pub last_old_call: Option<SimTime>,
}

/// What happened, for the report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FailoverLog {
    pub episodes: Vec<Episode>,
    pub checks: u64,
    pub checks_failed: u64,
}

/// Health-checker and record state.
#[derive(Clone, Debug)]
pub struct DnsFailover {
    pub spec: DnsFailoverSpec,
    /// What the checker has decided (the record follows after the propagation delay).
    decided_secondary: bool,
    fails: u32,
    passes: u32,
    pub log: FailoverLog,
    /// Per call slot: the endpoint its attempts go to (service index).
    pub(crate) slot_target: Vec<u32>,
}

impl DnsFailover {
    pub fn new(spec: &DnsFailoverSpec) -> DnsFailover {
        DnsFailover {
            spec: spec.clone(),
            decided_secondary: false,
            fails: 0,
            passes: 0,
            log: FailoverLog::default(),
            slot_target: Vec::new(),
        }
    }

    /// Whether the authoritative record names only the secondary at `now`.
    pub fn record_on_secondary(&self, now: SimTime) -> bool {
        match self.log.episodes.last() {
            Some(e) if now >= e.record_changed => e.to_secondary,
            Some(e) => !e.to_secondary, // the change has not propagated yet
            None => false,
        }
    }

    /// A health-check result at `now`; returns whether the checker decided a change.
    pub fn check(&mut self, now: SimTime, healthy: bool) -> bool {
        self.log.checks += 1;
        if healthy {
            self.passes += 1;
            self.fails = 0;
        } else {
            self.log.checks_failed += 1;
            self.fails += 1;
            self.passes = 0;
        }
        let change = if self.decided_secondary {
            self.spec.failback && self.passes >= self.spec.healthy_after
        } else {
            self.fails >= self.spec.unhealthy_after
        };
        if change {
            self.decided_secondary = !self.decided_secondary;
            self.fails = 0;
            self.passes = 0;
            self.log.episodes.push(Episode {
                to_secondary: self.decided_secondary,
                decided: now,
                record_changed: now.saturating_add(self.spec.propagation),
                last_old_call: None,
            });
        }
        change
    }

    /// The authoritative answer to a fresh resolution at `now`.
    pub fn answer(&self, now: SimTime, rng: &mut SimRng) -> u8 {
        // The weighted draw only when the record holds both (the same draws as before).
        if self.record_on_secondary(now)
            || (self.spec.weight_secondary > 0.0
                && rng.random::<f64>() < self.spec.weight_secondary)
        {
            SECONDARY
        } else {
            PRIMARY
        }
    }

    /// A call starts at `now` towards endpoint `to`: remember it if the record has moved away.
    pub fn note_call(&mut self, now: SimTime, to: u8) {
        if let Some(e) = self.log.episodes.last_mut()
            && now >= e.record_changed
            && (to == SECONDARY) != e.to_secondary
        {
            // Active–active failback: both are in the record again, nothing is "old".
            if !e.to_secondary && self.spec.weight_secondary > 0.0 {
                return;
            }
            e.last_old_call = Some(now);
        }
    }

    /// Remember that call `slot` goes to service `target`.
    pub(crate) fn set_slot(&mut self, slot: u32, target: u32) {
        let i = slot as usize;
        if self.slot_target.len() <= i {
            self.slot_target.resize(i + 1, target);
        }
        self.slot_target[i] = target;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> DnsFailoverSpec {
        DnsFailoverSpec {
            secondary: 1,
            check_interval: SimDuration::from_millis(10_000),
            unhealthy_after: 3,
            healthy_after: 2,
            propagation: SimDuration::from_millis(60_000),
            weight_secondary: 0.0,
            failback: true,
        }
    }

    fn t(s: f64) -> SimTime {
        SimTime::from_secs_f64(s)
    }

    #[test]
    fn fails_over_after_the_threshold_and_the_propagation_delay() {
        let mut f = DnsFailover::new(&spec());
        let mut rng = sim_core::stream(1, "t");
        assert!(!f.check(t(10.0), false));
        assert!(!f.check(t(20.0), true)); // a pass resets the count
        assert!(!f.check(t(30.0), false));
        assert!(!f.check(t(40.0), false));
        assert!(f.check(t(50.0), false)); // third consecutive failure: decided at 50 s
        assert_eq!(f.log.episodes[0].record_changed, t(110.0));
        assert_eq!(f.answer(t(109.0), &mut rng), PRIMARY);
        assert_eq!(f.answer(t(110.0), &mut rng), SECONDARY);
        f.note_call(t(100.0), PRIMARY); // before the change: not late
        assert_eq!(f.log.episodes[0].last_old_call, None);
        f.note_call(t(130.0), PRIMARY);
        f.note_call(t(131.0), SECONDARY);
        assert_eq!(f.log.episodes[0].last_old_call, Some(t(130.0)));
        // Failback after two good checks, again after the propagation delay.
        assert!(!f.check(t(200.0), true));
        assert!(f.check(t(210.0), true));
        assert!(f.record_on_secondary(t(269.0)));
        assert!(!f.record_on_secondary(t(270.0)));
        assert_eq!(f.log.checks, 7);
        assert_eq!(f.log.checks_failed, 4);
    }

    #[test]
    fn without_failback_it_stays_on_the_secondary() {
        let mut f = DnsFailover::new(&DnsFailoverSpec {
            failback: false,
            ..spec()
        });
        for i in 0..3 {
            f.check(t(i as f64), false);
        }
        for i in 3..20 {
            assert!(!f.check(t(i as f64), true));
        }
        assert!(f.record_on_secondary(t(1000.0)));
    }

    #[test]
    fn weighted_answers_split_by_the_weight() {
        let f = DnsFailover::new(&DnsFailoverSpec {
            weight_secondary: 0.3,
            ..spec()
        });
        let mut rng = sim_core::stream(7, "w");
        let n = 100_000;
        let sec = (0..n)
            .filter(|_| f.answer(t(1.0), &mut rng) == SECONDARY)
            .count();
        // Binomial(1e5, 0.3): sd = 145; 5 sd = 725.
        assert!((sec as i64 - 30_000).abs() < 725, "{sec}");
    }
}
