//! Defences a service puts around its downstream calls (issue 17, "defences inside a
//! service"): a bulkhead that caps the calls outstanding to one dependency, a fallback that
//! answers degraded when a call fails, and caller routing (a call made only for requests of
//! some callers, so a service can have endpoints that depend on different things). The cache
//! on a call edge is the client cache of [`crate::infra::cache`], stale-if-error included.
//!
//! This module holds the specs and the per-edge state machine of the bulkhead; the flows
//! (when a call is admitted, fails, falls back) are in `world/guard.rs`.

use sim_core::SimDuration;

/// The defences on one call edge (all off by default: today's behaviour).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct GuardSpec {
    /// Bulkhead: at most this many calls of the edge outstanding at the dependency at once; a
    /// call beyond it is rejected at once, without being sent (it fails fast, and its
    /// fallback, if any, answers).
    pub bulkhead: Option<u32>,
    /// Fallback: when the call fails (gave up after its retries, breaker open, bulkhead full),
    /// the waiting server computes a degraded answer locally for this long and carries on as
    /// if the call had succeeded; the request's answer is counted `degraded`.
    pub fallback: Option<SimDuration>,
    /// The call is made only for requests whose caller is one of these clients (indices into
    /// `WorldSpec::clients`); `None`: for every request.
    pub callers: Option<Vec<u32>>,
}

impl GuardSpec {
    /// True if a request from client `caller` makes this call.
    #[inline]
    pub fn applies_to(&self, caller: u32) -> bool {
        self.callers.as_ref().is_none_or(|c| c.contains(&caller))
    }
}

/// A bulkhead's occupancy: which call slots hold one of its permits.
#[derive(Clone, Debug, Default)]
pub struct Bulkhead {
    pub max: u32,
    pub held: u32,
    /// Per call slot of the edge: holds a permit.
    holding: Vec<bool>,
}

impl Bulkhead {
    pub fn new(max: u32) -> Bulkhead {
        Bulkhead {
            max,
            held: 0,
            holding: Vec::new(),
        }
    }

    /// Call `slot` asks for a permit: true if it got one (it must [`Bulkhead::release`] it).
    pub fn acquire(&mut self, slot: u32) -> bool {
        if self.held >= self.max {
            return false;
        }
        let i = slot as usize;
        if self.holding.len() <= i {
            self.holding.resize(i + 1, false);
        }
        if !self.holding[i] {
            self.holding[i] = true;
            self.held += 1;
        }
        true
    }

    /// Call `slot` ends or stops waiting for the dependency: its permit, if it holds one, is
    /// free again. Releasing twice is harmless.
    pub fn release(&mut self, slot: u32) {
        if let Some(h) = self.holding.get_mut(slot as usize)
            && *h
        {
            *h = false;
            self.held -= 1;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bulkhead_admits_up_to_its_cap_and_frees_on_release() {
        let mut b = Bulkhead::new(2);
        assert!(b.acquire(0) && b.acquire(5));
        assert!(!b.acquire(1), "a third call is over the cap");
        assert_eq!(b.held, 2);
        b.release(5);
        b.release(5); // twice: no effect
        assert_eq!(b.held, 1);
        assert!(b.acquire(1));
        assert!(!b.acquire(2));
        b.release(7); // never held: no effect
        assert_eq!(b.held, 2);
    }

    #[test]
    fn callers_filter_routes_requests() {
        let all = GuardSpec::default();
        assert!(all.applies_to(0) && all.applies_to(9));
        let some = GuardSpec {
            callers: Some(vec![1, 3]),
            ..GuardSpec::default()
        };
        assert!(some.applies_to(3) && !some.applies_to(0));
    }
}
