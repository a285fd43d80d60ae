//! Client-side endpoint failover (docs/providers.md): a client (or call edge) sends its calls
//! to its target, the primary; after `after_failures` consecutive calls to the primary ended
//! without success it sends them to the secondary; `probe_after` later it sends one call — a
//! probe, an ordinary call that carries real work — to the primary: if it succeeds, the client
//! is back on the primary, otherwise it stays on the secondary for another `probe_after`. No
//! health checker and no DNS: what the client's own calls tell it, nothing else, so the switch
//! comes out of the primary's failures and the calls' timeouts.
//!
//! One state per client (the client library of one process, shared by its callers). A call
//! keeps the endpoint chosen when it started for all its attempts. Calls to the secondary do
//! not count (the secondary is assumed healthy: put it on another provider).

use sim_core::{SimDuration, SimTime};

/// A validated `endpoint_failover` table.
#[derive(Clone, Debug, PartialEq)]
pub struct EndpointFailoverSpec {
    /// The secondary endpoint (index into the world's services); the primary is the target.
    pub secondary: u32,
    /// Consecutive failed calls to the primary before the switch (≥ 1).
    pub after_failures: u32,
    /// Time on the secondary before a call probes the primary (and between failed probes).
    pub probe_after: SimDuration,
}

/// One switch: `at` when the client moved, `to_secondary` which way.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Switch {
    pub at: SimTime,
    pub to_secondary: bool,
}

/// What happened, for the report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct EndpointLog {
    pub switches: Vec<Switch>,
    /// Probes sent to the primary, and those that failed.
    pub probes: u64,
    pub probes_failed: u64,
}

/// No endpoint recorded for a slot (a call not sent: a cache hit, a bulkhead refusal).
const NONE: u32 = u32::MAX;

/// The client's failover state.
#[derive(Clone, Debug)]
pub struct EndpointFailover {
    pub spec: EndpointFailoverSpec,
    on_secondary: bool,
    /// Consecutive failed calls to the primary (while on the primary).
    failures: u32,
    /// When the client last moved to the secondary or a probe failed.
    since: SimTime,
    /// The slot of the probe in flight.
    probe: Option<u32>,
    /// Per call slot: the service its attempts go to (`NONE`: not sent).
    slot_target: Vec<u32>,
    pub log: EndpointLog,
}

impl EndpointFailover {
    pub fn new(spec: &EndpointFailoverSpec) -> EndpointFailover {
        EndpointFailover {
            spec: spec.clone(),
            on_secondary: false,
            failures: 0,
            since: SimTime::ZERO,
            probe: None,
            slot_target: Vec::new(),
            log: EndpointLog::default(),
        }
    }

    /// Call `slot` of a client whose target is `primary` is about to be sent at `now`: the
    /// service it goes to (remembered for all its attempts).
    pub fn choose(&mut self, now: SimTime, slot: u32, primary: u32) -> u32 {
        let target = if !self.on_secondary {
            primary
        } else if self.probe.is_none() && now >= self.since.saturating_add(self.spec.probe_after) {
            self.probe = Some(slot);
            self.log.probes += 1;
            primary
        } else {
            self.spec.secondary
        };
        let i = slot as usize;
        if self.slot_target.len() <= i {
            self.slot_target.resize(i + 1, NONE);
        }
        self.slot_target[i] = target;
        target
    }

    /// Whether a call starting at `now` would go to the primary (on it, or a probe is due).
    pub fn next_is_primary(&self, now: SimTime) -> bool {
        !self.on_secondary
            || (self.probe.is_none() && now >= self.since.saturating_add(self.spec.probe_after))
    }

    /// A call to the primary failed at `now` before it was sent (the primary's name resolved
    /// to nothing): a failed call, or a failed probe while on the secondary.
    pub fn failed_unsent(&mut self, now: SimTime) {
        if self.on_secondary {
            self.log.probes += 1;
            self.log.probes_failed += 1;
            self.since = now;
            return;
        }
        self.failures += 1;
        if self.failures >= self.spec.after_failures {
            self.on_secondary = true;
            self.failures = 0;
            self.since = now;
            self.log.switches.push(Switch {
                at: now,
                to_secondary: true,
            });
        }
    }

    /// The service call `slot`'s attempts go to, if it was sent through [`Self::choose`].
    #[inline]
    pub fn target_of(&self, slot: u32) -> Option<u32> {
        self.slot_target
            .get(slot as usize)
            .copied()
            .filter(|&t| t != NONE)
    }

    /// Call `slot` of a client whose target is `primary` ended at `now`, `ok` if the caller
    /// got an answer (a stale or degraded one included).
    pub fn ended(&mut self, now: SimTime, slot: u32, ok: bool, primary: u32) {
        let Some(target) = self.target_of(slot) else {
            return;
        };
        self.slot_target[slot as usize] = NONE;
        if self.probe == Some(slot) {
            self.probe = None;
            if ok {
                self.on_secondary = false;
                self.failures = 0;
                self.log.switches.push(Switch {
                    at: now,
                    to_secondary: false,
                });
            } else {
                self.log.probes_failed += 1;
                self.since = now;
            }
            return;
        }
        if target != primary || self.on_secondary {
            return;
        }
        if ok {
            self.failures = 0;
        } else {
            self.failed_unsent(now);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: u64) -> SimTime {
        SimTime::ZERO.saturating_add(SimDuration::from_secs_f64(s as f64))
    }

    #[test]
    fn switches_after_n_failures_probes_and_comes_back() {
        let mut f = EndpointFailover::new(&EndpointFailoverSpec {
            secondary: 9,
            after_failures: 3,
            probe_after: SimDuration::from_secs_f64(10.0),
        });
        // Two failures and a success: the count restarts.
        for (slot, ok) in [(0, false), (1, false), (2, true)] {
            assert_eq!(f.choose(t(0), slot, 1), 1);
            f.ended(t(1), slot, ok, 1);
        }
        for slot in 0..3 {
            assert_eq!(f.choose(t(1), slot, 1), 1);
            f.ended(t(2), slot, false, 1);
        }
        assert_eq!(f.log.switches.len(), 1);
        // On the secondary until the probe is due; one probe at a time.
        assert_eq!(f.choose(t(5), 0, 1), 9);
        assert_eq!(f.choose(t(12), 1, 1), 1);
        assert_eq!(f.choose(t(12), 2, 1), 9);
        f.ended(t(13), 0, true, 1); // a call to the secondary: no effect
        f.ended(t(14), 1, false, 1); // the probe failed: another 10 s
        assert_eq!(f.choose(t(20), 3, 1), 9);
        assert_eq!(f.choose(t(24), 4, 1), 1);
        f.ended(t(25), 4, true, 1);
        assert_eq!(f.choose(t(25), 5, 1), 1);
        assert_eq!((f.log.probes, f.log.probes_failed), (2, 1));
        assert_eq!(
            f.log
                .switches
                .iter()
                .map(|s| s.to_secondary)
                .collect::<Vec<_>>(),
            vec![true, false]
        );
        // A slot never sent (a cache hit) does not count.
        f.ended(t(26), 7, false, 1);
        assert_eq!(f.target_of(7), None);
    }
}
