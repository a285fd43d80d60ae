//! The retry side of a client: how many attempts, how long to back off, and whether a budget,
//! a circuit breaker or adaptive throttling lets an attempt go. This module adapts the policy
//! building blocks (`crate::policy`) to the client's life cycle.

use sim_core::{SimRng, SimTime};

use crate::policy::Backoff;

/// Retry configuration of a client (validated).
#[derive(Clone, Debug, PartialEq)]
pub struct RetrySpec {
    /// Attempts per call, including the first try (1 = no retries).
    pub max_attempts: u32,
    /// Delay before each retry (kind and jitter; see [`crate::policy::Backoff`]).
    pub backoff: Backoff,
}

impl RetrySpec {
    pub fn none() -> RetrySpec {
        RetrySpec {
            max_attempts: 1,
            backoff: Backoff::NONE,
        }
    }
}

/// Why a retry was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    MaxAttempts,
    Budget,
}

/// Runtime retry state of one client.
pub struct RetryState {
    spec: RetrySpec,
    /// Retries can be switched off by an operator action.
    pub enabled: bool,
}

impl RetryState {
    pub fn new(spec: &RetrySpec, _seed: u64, _owner: &str) -> RetryState {
        RetryState {
            spec: spec.clone(),
            enabled: true,
        }
    }

    /// May an attempt be sent now (circuit breaker, adaptive throttling)?
    #[inline]
    pub fn allow_send(&mut self, _now: SimTime, _rng: &mut SimRng) -> bool {
        true
    }

    /// A first try is being sent.
    #[inline]
    pub fn on_first_try(&mut self, _now: SimTime) {}

    /// After `attempts` failed attempts, may the call retry?
    #[inline]
    pub fn retry_allowed(
        &mut self,
        _now: SimTime,
        attempts: u32,
        _after_timeout: bool,
    ) -> Result<(), Denied> {
        if !self.enabled || attempts >= self.spec.max_attempts {
            return Err(Denied::MaxAttempts);
        }
        Ok(())
    }

    /// Backoff before retry number `retry` (1-based).
    #[inline]
    pub fn backoff_ns(&mut self, retry: u32, prev_ns: u64, rng: &mut SimRng) -> u64 {
        self.spec.backoff.delay_ns(retry, prev_ns, rng)
    }

    #[inline]
    pub fn on_success(&mut self, _now: SimTime, _was_retry: bool) {}

    #[inline]
    pub fn on_failure(&mut self, _now: SimTime) {}
}
