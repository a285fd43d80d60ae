//! The retry side of a client: how many attempts, how long to back off, and whether a budget,
//! a circuit breaker or adaptive throttling lets an attempt go. This module adapts the policy
//! building blocks (`crate::policy`) to the client's life cycle:
//!
//! ```text
//! call starts ─▶ on_first_try (budget deposit)
//! each attempt ─▶ admit: breaker.allow, then throttle.admit ─▶ CircuitOpen | Throttled | Send{delay}
//! attempt ends ─▶ on_attempt_end: breaker, throttle signal, budget success/failure, Envoy release
//! attempt failed ─▶ retry_allowed: enabled, attempts < max, budget.try_acquire_retry
//! ```

use sim_core::{SimRng, SimTime};

use crate::policy::{
    Admission, CircuitBreaker, RetryBudget, RetryBudgetConfig, Throttle, ThrottleSignal,
};

/// A client's retry configuration: the complete policy (attempts, backoff, budget, breaker,
/// throttle). Presets and their sources: [`crate::policy::presets`].
pub type RetrySpec = crate::policy::RetryPolicy;

/// Why a retry was not sent.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Denied {
    MaxAttempts,
    Budget,
}

/// Whether an attempt may go now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Gate {
    /// Send it after `delay_ns` (an adaptive rate limiter may delay it).
    Send { delay_ns: u64 },
    /// The circuit breaker is open: fail fast without sending.
    CircuitOpen,
    /// Client-side throttling rejected it locally.
    Throttled,
}

/// How an attempt ended, as the policies classify it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AttemptEnd {
    Ok,
    /// The backend answered with an error (not overload).
    Error,
    /// The backend turned it away (full queue, rate limit, shedding): an overload signal.
    Rejected,
    /// No answer in time.
    Timeout,
}

/// Runtime retry state of one client.
#[derive(Clone)]
pub struct RetryState {
    spec: RetrySpec,
    budget: RetryBudget,
    breaker: Option<CircuitBreaker>,
    throttle: Option<Throttle>,
    /// Retries can be switched off by an operator action or trigger.
    pub enabled: bool,
    /// No budget, breaker or throttle: every gate is open and every hook a no-op.
    plain: bool,
}

impl RetryState {
    pub fn new(spec: &RetrySpec) -> RetryState {
        RetryState {
            spec: spec.clone(),
            budget: RetryBudget::new(&spec.budget),
            breaker: spec.breaker.as_ref().map(CircuitBreaker::new),
            throttle: spec.throttle.as_ref().map(Throttle::new),
            enabled: true,
            plain: spec.budget == RetryBudgetConfig::Unlimited
                && spec.breaker.is_none()
                && spec.throttle.is_none(),
        }
    }

    /// The breaker's state, if the client has one, as of its last call (an open breaker
    /// turns half-open when the next call is admitted after its open time).
    pub fn breaker_state(&self) -> Option<crate::policy::breaker::BreakerState> {
        self.breaker.as_ref().map(|b| b.state())
    }

    /// The retry budget's level and its unit: AWS quota units, gRPC tokens, token-bucket
    /// tokens, Envoy retries in flight. `None` without a budget and for Finagle's (whose
    /// balance is read by expiring its window, a change of state).
    pub fn budget_level(&self) -> Option<(&'static str, f64)> {
        use crate::policy::budget::RetryBudget as B;
        match &self.budget {
            B::AwsQuota(q) => Some(("budget_quota", f64::from(q.available()))),
            B::GrpcThrottle(t) => Some(("budget_tokens", t.tokens())),
            B::TokenBucket(b) => Some(("budget_tokens", b.tokens())),
            B::Envoy(e) => Some(("budget_active_retries", e.active_retries() as f64)),
            B::Unlimited | B::Finagle(_) => None,
        }
    }

    /// One attempt per call and no policy state: the client can skip all retry bookkeeping.
    pub fn is_trivial(&self) -> bool {
        self.plain && self.spec.max_attempts <= 1
    }

    /// May an attempt be sent now? The breaker is asked first (an open breaker sends nothing,
    /// so the throttle never sees the attempt), then the throttle.
    #[inline]
    pub fn admit(&mut self, now: SimTime, rng: &mut SimRng) -> Gate {
        if self.plain {
            return Gate::Send { delay_ns: 0 };
        }
        if let Some(b) = &mut self.breaker
            && !b.allow(now)
        {
            return Gate::CircuitOpen;
        }
        match self.throttle.as_mut().map(|t| t.admit(now, rng)) {
            Some(Admission::Reject) => Gate::Throttled,
            Some(Admission::Send { delay_ns }) => Gate::Send { delay_ns },
            None => Gate::Send { delay_ns: 0 },
        }
    }

    /// A call's first try is about to be sent (budgets that deposit per request).
    #[inline]
    pub fn on_first_try(&mut self, now: SimTime) {
        if !self.plain {
            self.budget.on_request(now);
        }
    }

    /// A sent attempt ended. `was_retry`: it was not the call's first attempt.
    #[inline]
    pub fn on_attempt_end(&mut self, now: SimTime, end: AttemptEnd, was_retry: bool) {
        if self.plain {
            return;
        }
        if let Some(b) = &mut self.breaker {
            if end == AttemptEnd::Ok {
                b.on_success(now);
            } else {
                b.on_failure(now);
            }
        }
        if let Some(t) = &mut self.throttle {
            let signal = match end {
                AttemptEnd::Ok | AttemptEnd::Error => ThrottleSignal::Accepted,
                AttemptEnd::Rejected => ThrottleSignal::Throttled,
                AttemptEnd::Timeout => ThrottleSignal::NoResponse,
            };
            t.on_response(now, signal);
        }
        if end == AttemptEnd::Ok {
            self.budget.on_success(now, was_retry);
        } else {
            self.budget.on_failure(now);
        }
        if was_retry {
            self.budget.on_retry_finished();
        }
    }

    /// After `attempts` attempts of a call, the last one failed: may it retry? If so the
    /// budget's cost is taken. `after_timeout`: the last attempt timed out (AWS charges more);
    /// `active_calls`: the client's calls in progress (Envoy's budget is a fraction of them).
    #[inline]
    pub fn retry_allowed(
        &mut self,
        now: SimTime,
        attempts: u32,
        after_timeout: bool,
        active_calls: u64,
    ) -> Result<(), Denied> {
        if !self.enabled || attempts >= self.spec.max_attempts {
            return Err(Denied::MaxAttempts);
        }
        if !self.plain
            && !self
                .budget
                .try_acquire_retry(now, after_timeout, active_calls)
        {
            return Err(Denied::Budget);
        }
        Ok(())
    }

    /// Backoff before retry number `retry` (1-based).
    #[inline]
    pub fn backoff_ns(&mut self, retry: u32, prev_ns: u64, rng: &mut SimRng) -> u64 {
        self.spec.backoff.delay_ns(retry, prev_ns, rng)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::{
        AwsQuotaConfig, CircuitBreakerConfig, SreThrottleConfig, ThrottleConfig, TripRule, preset,
    };

    fn t(s: f64) -> SimTime {
        SimTime::from_secs_f64(s)
    }

    #[test]
    fn plain_policy_is_trivial_only_without_retries() {
        let none = RetryState::new(&RetrySpec::default());
        assert!(none.is_trivial());
        let three = RetrySpec {
            max_attempts: 3,
            ..RetrySpec::default()
        };
        let mut r = RetryState::new(&three);
        assert!(!r.is_trivial());
        assert_eq!(r.retry_allowed(t(0.0), 1, true, 1), Ok(()));
        assert_eq!(
            r.retry_allowed(t(0.0), 3, true, 1),
            Err(Denied::MaxAttempts)
        );
        r.enabled = false;
        assert_eq!(
            r.retry_allowed(t(0.0), 1, true, 1),
            Err(Denied::MaxAttempts)
        );
    }

    #[test]
    fn aws_quota_runs_dry_after_timeouts_and_refills_on_success() {
        let spec = RetrySpec {
            max_attempts: 3,
            budget: RetryBudgetConfig::AwsQuota(AwsQuotaConfig::default()),
            ..RetrySpec::default()
        };
        let mut r = RetryState::new(&spec);
        // 500 tokens, 10 per retry after a timeout: exactly 50 retries.
        for i in 0..50 {
            assert_eq!(r.retry_allowed(t(1.0), 1, true, 1), Ok(()), "retry {i}");
        }
        assert_eq!(r.retry_allowed(t(1.0), 1, true, 1), Err(Denied::Budget));
        // A first-try success refunds 1, not enough for a timeout retry (10) ...
        r.on_attempt_end(t(2.0), AttemptEnd::Ok, false);
        assert_eq!(r.retry_allowed(t(2.0), 1, true, 1), Err(Denied::Budget));
        // ... but four more make 5, enough for a non-timeout retry.
        for _ in 0..4 {
            r.on_attempt_end(t(2.0), AttemptEnd::Ok, false);
        }
        assert_eq!(r.retry_allowed(t(2.0), 1, false, 1), Ok(()));
    }

    #[test]
    fn breaker_opens_after_consecutive_failures_and_fails_fast() {
        let spec = RetrySpec {
            breaker: Some(CircuitBreakerConfig {
                trip: TripRule::ConsecutiveFailures { threshold: 3 },
                open_ns: 1_000_000_000,
                half_open_permits: 1,
            }),
            ..RetrySpec::default()
        };
        let mut r = RetryState::new(&spec);
        let mut rng = sim_core::stream(1, "t");
        for _ in 0..3 {
            assert_eq!(r.admit(t(0.0), &mut rng), Gate::Send { delay_ns: 0 });
            r.on_attempt_end(t(0.0), AttemptEnd::Timeout, false);
        }
        assert_eq!(r.admit(t(0.5), &mut rng), Gate::CircuitOpen);
        // After open_ns one probe goes; its success closes the breaker.
        assert_eq!(r.admit(t(1.0), &mut rng), Gate::Send { delay_ns: 0 });
        r.on_attempt_end(t(1.0), AttemptEnd::Ok, false);
        assert_eq!(r.admit(t(1.0), &mut rng), Gate::Send { delay_ns: 0 });
    }

    #[test]
    fn sre_throttle_rejects_when_the_backend_rejects() {
        let spec = RetrySpec {
            throttle: Some(ThrottleConfig::Sre(SreThrottleConfig::default())),
            ..RetrySpec::default()
        };
        let mut r = RetryState::new(&spec);
        let mut rng = sim_core::stream(1, "sre");
        let mut throttled = 0;
        for i in 0..2000 {
            match r.admit(t(i as f64 * 0.01), &mut rng) {
                Gate::Throttled => throttled += 1,
                Gate::Send { .. } => {
                    r.on_attempt_end(t(i as f64 * 0.01), AttemptEnd::Rejected, false)
                }
                Gate::CircuitOpen => unreachable!("no breaker configured"),
            }
        }
        // With no accepts, P_reject = requests / (requests + 1) → nearly everything is
        // rejected locally after the first few attempts.
        assert!(throttled > 1900, "throttled {throttled} of 2000");
    }

    #[test]
    fn presets_build() {
        for name in crate::policy::PRESET_NAMES {
            let p = preset(name).expect("listed preset exists");
            let _ = RetryState::new(&p);
        }
    }
}
