//! The retry side of a client: how many attempts, how long to back off, and whether a budget,
//! a circuit breaker or adaptive throttling lets an attempt go. This module adapts the policy
//! building blocks (`crate::policy`) to the client's life cycle.

use rand::RngExt;
use sim_core::{SimRng, SimTime};

/// Retry configuration of a client (validated).
#[derive(Clone, Debug, PartialEq)]
pub struct RetrySpec {
    /// Attempts per call, including the first try (1 = no retries).
    pub max_attempts: u32,
    /// Backoff before retry n: `min(cap, base · multiplier^(n−1))`, then jitter.
    pub base_ns: u64,
    pub multiplier: f64,
    pub cap_ns: u64,
    pub jitter: JitterKind,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum JitterKind {
    None,
    Full,
    Equal,
    Decorrelated,
}

impl RetrySpec {
    pub fn none() -> RetrySpec {
        RetrySpec {
            max_attempts: 1,
            base_ns: 0,
            multiplier: 1.0,
            cap_ns: 0,
            jitter: JitterKind::None,
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
        let s = &self.spec;
        let exp = (retry.saturating_sub(1)).min(1000) as i32;
        let v = ((s.base_ns as f64) * s.multiplier.powi(exp)).min(s.cap_ns as f64);
        let u: f64 = rng.random();
        let d = match s.jitter {
            JitterKind::None => v,
            JitterKind::Full => u * v,
            JitterKind::Equal => v / 2.0 + u * v / 2.0,
            JitterKind::Decorrelated => {
                let prev = if prev_ns == 0 {
                    s.base_ns as f64
                } else {
                    prev_ns as f64
                };
                let hi = (3.0 * prev).max(s.base_ns as f64);
                (s.base_ns as f64 + u * (hi - s.base_ns as f64)).min(s.cap_ns as f64)
            }
        };
        if d.is_finite() && d > 0.0 {
            d as u64
        } else {
            0
        }
    }

    #[inline]
    pub fn on_success(&mut self, _now: SimTime, _was_retry: bool) {}

    #[inline]
    pub fn on_failure(&mut self, _now: SimTime) {}
}
