//! A client-side circuit breaker: Closed → Open → HalfOpen → Closed (or back to Open).
//!
//! - **Closed**: every call is allowed; outcomes feed the trip rule ([`TripRule`]): either `N`
//!   consecutive failures, or (Resilience4j `COUNT_BASED`) a failure rate ≥ threshold over the
//!   last `window` outcomes once at least `min(min_calls, window)` have been recorded.
//! - **Open**: calls are rejected locally for `open_ns`; outcomes of calls admitted earlier are
//!   ignored. The transition to HalfOpen happens lazily, at the first [`CircuitBreaker::allow`]
//!   at or after `opened_at + open_ns` (Resilience4j's default,
//!   `automaticTransitionFromOpenToHalfOpenEnabled = false`).
//! - **HalfOpen**: the first `K` calls are admitted as probes, later ones are rejected. `K`
//!   successes close the breaker (with an empty window); any failure reopens it for a new
//!   `open_ns`.
//!
//! Pinned choice: the HalfOpen rule is "K successes close, any failure reopens" (Nygard's
//! *Release It!*, Polly, most hand-written breakers). Resilience4j instead waits for all `K`
//! probe outcomes and reopens only if *their* failure rate reaches the threshold (so with 10
//! probes and 50 %, up to 4 failed probes still close it). As in Resilience4j, outcomes that
//! arrive in HalfOpen count as probe outcomes even if the call was admitted while Closed, and
//! calls rejected by the breaker are not recorded. Resilience4j's slow-call rate is not
//! modelled (its default threshold, 100 % of calls slower than 60 s, never fires in practice).

use sim_core::SimTime;

/// The three breaker states.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum BreakerState {
    Closed,
    Open,
    HalfOpen,
}

/// When a closed breaker opens.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum TripRule {
    /// After `threshold` consecutive failures (a success resets the count; 0 is treated as 1).
    ConsecutiveFailures { threshold: u32 },
    /// Resilience4j `COUNT_BASED` sliding window: after a call is recorded, open iff at least
    /// `min(min_calls, window)` outcomes are in the window (the last `window` calls) and
    /// `failures ≥ threshold · calls` (`threshold` is a fraction: Resilience4j's 50 % is 0.5).
    /// `window` and `min_calls` of 0 are treated as 1.
    FailureRate {
        window: u32,
        min_calls: u32,
        threshold: f64,
    },
}

/// Configuration of a [`CircuitBreaker`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct CircuitBreakerConfig {
    pub trip: TripRule,
    /// How long the breaker stays Open (`waitDurationInOpenState`).
    pub open_ns: u64,
    /// Probes admitted in HalfOpen (`permittedNumberOfCallsInHalfOpenState`); 0 is treated as 1.
    pub half_open_permits: u32,
}

impl CircuitBreakerConfig {
    /// Resilience4j's `CircuitBreakerConfig.ofDefaults()`: count-based window of 100 calls,
    /// minimum 100 calls, 50 % failure rate, 60 s open, 10 half-open probes.
    pub const RESILIENCE4J: CircuitBreakerConfig = CircuitBreakerConfig {
        trip: TripRule::FailureRate {
            window: 100,
            min_calls: 100,
            threshold: 0.5,
        },
        open_ns: 60_000_000_000,
        half_open_permits: 10,
    };
}

/// A circuit breaker (state). The count-based window is a ring of bits allocated once, at
/// construction; every method is O(1) and allocation-free.
#[derive(Clone, Debug, PartialEq)]
pub struct CircuitBreaker {
    cfg: CircuitBreakerConfig,
    state: BreakerState,
    opened_at: SimTime,
    /// Consecutive failures (ConsecutiveFailures rule).
    consecutive: u32,
    /// Outcome ring (FailureRate rule): bit set = failure.
    ring: Box<[u64]>,
    window: u32,
    pos: u32,
    filled: u32,
    failures: u32,
    /// HalfOpen bookkeeping.
    probes_admitted: u32,
    probe_successes: u32,
    times_opened: u64,
}

impl CircuitBreaker {
    pub fn new(cfg: &CircuitBreakerConfig) -> Self {
        let window = match cfg.trip {
            TripRule::FailureRate { window, .. } => window.max(1),
            TripRule::ConsecutiveFailures { .. } => 0,
        };
        CircuitBreaker {
            cfg: *cfg,
            state: BreakerState::Closed,
            opened_at: SimTime::ZERO,
            consecutive: 0,
            ring: vec![0u64; (window as usize).div_ceil(64)].into_boxed_slice(),
            window,
            pos: 0,
            filled: 0,
            failures: 0,
            probes_admitted: 0,
            probe_successes: 0,
            times_opened: 0,
        }
    }

    /// The current state, as of the last call (Open → HalfOpen happens in
    /// [`CircuitBreaker::allow`]).
    #[inline]
    pub fn state(&self) -> BreakerState {
        self.state
    }

    /// How many times the breaker has opened (Closed → Open and HalfOpen → Open).
    pub fn times_opened(&self) -> u64 {
        self.times_opened
    }

    /// The failure rate over the current window (0 when empty; always 0 for the
    /// consecutive-failures rule).
    pub fn failure_rate(&self) -> f64 {
        if self.filled == 0 {
            0.0
        } else {
            self.failures as f64 / self.filled as f64
        }
    }

    /// May a call be sent now? `false` = rejected locally because the circuit is open (or
    /// all half-open probes are out). In HalfOpen an allowed call counts as a probe.
    #[inline]
    pub fn allow(&mut self, now: SimTime) -> bool {
        match self.state {
            BreakerState::Closed => true,
            BreakerState::Open => {
                if now.0.saturating_sub(self.opened_at.0) >= self.cfg.open_ns {
                    self.state = BreakerState::HalfOpen;
                    self.probes_admitted = 1;
                    self.probe_successes = 0;
                    true
                } else {
                    false
                }
            }
            BreakerState::HalfOpen => {
                if self.probes_admitted < self.permits() {
                    self.probes_admitted += 1;
                    true
                } else {
                    false
                }
            }
        }
    }

    /// A call admitted by [`CircuitBreaker::allow`] succeeded.
    #[inline]
    pub fn on_success(&mut self, now: SimTime) {
        match self.state {
            BreakerState::Closed => {
                self.consecutive = 0;
                // A success can trip a rate rule too: when it brings the window to
                // `min_calls` with the failure rate at or above the threshold.
                if self.window > 0 && self.record(false) {
                    self.open(now);
                }
            }
            BreakerState::Open => {}
            BreakerState::HalfOpen => {
                self.probe_successes += 1;
                if self.probe_successes >= self.permits() {
                    self.close();
                }
            }
        }
    }

    /// A call admitted by [`CircuitBreaker::allow`] failed.
    #[inline]
    pub fn on_failure(&mut self, now: SimTime) {
        match self.state {
            BreakerState::Closed => {
                let trip = match self.cfg.trip {
                    TripRule::ConsecutiveFailures { threshold } => {
                        self.consecutive = self.consecutive.saturating_add(1);
                        self.consecutive >= threshold.max(1)
                    }
                    TripRule::FailureRate { .. } => self.record(true),
                };
                if trip {
                    self.open(now);
                }
            }
            BreakerState::Open => {}
            BreakerState::HalfOpen => self.open(now),
        }
    }

    #[inline]
    fn permits(&self) -> u32 {
        self.cfg.half_open_permits.max(1)
    }

    /// Pushes one outcome into the count-based ring and returns whether the rate rule now
    /// trips: `calls ≥ min(min_calls, window)`, `failures > 0` and `failures ≥ threshold ·
    /// calls`.
    #[inline]
    fn record(&mut self, failed: bool) -> bool {
        let TripRule::FailureRate {
            min_calls,
            threshold,
            ..
        } = self.cfg.trip
        else {
            return false;
        };
        let slot = &mut self.ring[(self.pos / 64) as usize];
        let bit = 1u64 << (self.pos % 64);
        if self.filled == self.window {
            if *slot & bit != 0 {
                self.failures -= 1;
            }
        } else {
            self.filled += 1;
        }
        if failed {
            *slot |= bit;
            self.failures += 1;
        } else {
            *slot &= !bit;
        }
        self.pos += 1;
        if self.pos == self.window {
            self.pos = 0;
        }
        self.filled >= min_calls.clamp(1, self.window)
            && self.failures > 0
            && self.failures as f64 >= threshold * self.filled as f64
    }

    fn open(&mut self, now: SimTime) {
        self.state = BreakerState::Open;
        self.opened_at = now;
        self.times_opened += 1;
        self.probes_admitted = 0;
        self.probe_successes = 0;
    }

    fn close(&mut self) {
        self.state = BreakerState::Closed;
        self.consecutive = 0;
        self.ring.fill(0);
        self.pos = 0;
        self.filled = 0;
        self.failures = 0;
        self.probes_admitted = 0;
        self.probe_successes = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::VecDeque;

    const S: u64 = 1_000_000_000;

    fn t(secs: f64) -> SimTime {
        SimTime::from_secs_f64(secs)
    }

    fn consecutive(n: u32, open_s: u64, k: u32) -> CircuitBreaker {
        CircuitBreaker::new(&CircuitBreakerConfig {
            trip: TripRule::ConsecutiveFailures { threshold: n },
            open_ns: open_s * S,
            half_open_permits: k,
        })
    }

    fn rate(window: u32, min_calls: u32, threshold: f64) -> CircuitBreaker {
        CircuitBreaker::new(&CircuitBreakerConfig {
            trip: TripRule::FailureRate {
                window,
                min_calls,
                threshold,
            },
            open_ns: 10 * S,
            half_open_permits: 2,
        })
    }

    #[test]
    fn consecutive_failures_trip_and_success_resets() {
        let mut b = consecutive(3, 5, 2);
        let now = t(0.0);
        for ok in [false, false, true, false, false] {
            assert!(b.allow(now));
            if ok {
                b.on_success(now)
            } else {
                b.on_failure(now)
            }
        }
        assert_eq!(b.state(), BreakerState::Closed);
        b.on_failure(t(1.0));
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.times_opened(), 1);
    }

    #[test]
    fn open_rejects_for_open_duration_then_half_open_probes() {
        let mut b = consecutive(1, 5, 2);
        b.on_failure(t(1.0));
        assert!(!b.allow(t(1.0)));
        assert!(!b.allow(t(5.999_999_999)));
        // Outcomes of calls admitted before opening are ignored.
        b.on_success(t(2.0));
        b.on_failure(t(2.0));
        assert_eq!(b.state(), BreakerState::Open);
        // At opened_at + open: HalfOpen, two probes, the third is rejected.
        assert!(b.allow(t(6.0)));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(b.allow(t(6.0)));
        assert!(!b.allow(t(6.0)));
        // K successes close it.
        b.on_success(t(6.1));
        assert_eq!(b.state(), BreakerState::HalfOpen);
        assert!(!b.allow(t(6.1)));
        b.on_success(t(6.2));
        assert_eq!(b.state(), BreakerState::Closed);
        assert!(b.allow(t(6.2)));
    }

    #[test]
    fn half_open_failure_reopens_for_a_new_period() {
        let mut b = consecutive(1, 5, 3);
        b.on_failure(t(0.0));
        assert!(b.allow(t(5.0)));
        b.on_success(t(5.5));
        b.on_failure(t(7.0)); // any failure reopens
        assert_eq!(b.state(), BreakerState::Open);
        assert_eq!(b.times_opened(), 2);
        assert!(!b.allow(t(11.9)));
        assert!(b.allow(t(12.0)));
    }

    #[test]
    fn zero_parameters_are_treated_as_one() {
        let mut b = consecutive(0, 0, 0);
        b.on_failure(t(0.0));
        assert_eq!(b.state(), BreakerState::Open);
        assert!(b.allow(t(0.0))); // open 0 s: probe at once
        assert!(!b.allow(t(0.0))); // one probe
        b.on_success(t(0.0));
        assert_eq!(b.state(), BreakerState::Closed);
        let mut r = rate(0, 0, 0.5);
        r.on_failure(t(0.0));
        assert_eq!(r.state(), BreakerState::Open);
    }

    #[test]
    fn rate_rule_waits_for_minimum_calls() {
        let mut b = rate(10, 5, 0.5);
        for _ in 0..4 {
            b.on_failure(t(0.0));
        }
        assert_eq!(b.state(), BreakerState::Closed); // 4 calls < 5
        b.on_failure(t(0.0));
        assert_eq!(b.state(), BreakerState::Open);

        let mut b = rate(10, 5, 0.5);
        for ok in [true, true, true, false, false] {
            if ok {
                b.on_success(t(0.0))
            } else {
                b.on_failure(t(0.0))
            }
        }
        assert_eq!(b.state(), BreakerState::Closed); // 40 %
        b.on_failure(t(0.0)); // 3 / 6 = 50 % ≥ 50 %
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn a_success_can_trip_when_the_window_reaches_min_calls() {
        let mut b = rate(4, 4, 0.5);
        b.on_failure(t(0.0));
        b.on_failure(t(0.0));
        b.on_success(t(0.0));
        assert_eq!(b.state(), BreakerState::Closed);
        b.on_success(t(0.0)); // 2 / 4
        assert_eq!(b.state(), BreakerState::Open);
    }

    #[test]
    fn resilience4j_defaults() {
        let mut b = CircuitBreaker::new(&CircuitBreakerConfig::RESILIENCE4J);
        for _ in 0..99 {
            b.on_failure(t(0.0));
        }
        assert_eq!(b.state(), BreakerState::Closed); // 99 < minimumNumberOfCalls
        b.on_failure(t(1.0));
        assert_eq!(b.state(), BreakerState::Open);
        assert!(!b.allow(t(60.9)));
        for _ in 0..10 {
            assert!(b.allow(t(61.0)));
        }
        assert!(!b.allow(t(61.0)));

        let mut b = CircuitBreaker::new(&CircuitBreakerConfig::RESILIENCE4J);
        for i in 0..1_000 {
            // 49 % failures never trip
            if i % 100 < 49 {
                b.on_failure(t(0.0))
            } else {
                b.on_success(t(0.0))
            }
            assert_eq!(b.state(), BreakerState::Closed, "call {i}");
        }
    }

    /// Brute force: a closed rate breaker opens exactly when a recount of the last `window`
    /// outcomes says so.
    #[test]
    fn sliding_window_agrees_with_recount() {
        for (window, min_calls, threshold) in [(4, 4, 0.75), (7, 3, 0.5), (130, 100, 0.3)] {
            let mut b = rate(window, min_calls, threshold);
            let mut model: VecDeque<bool> = VecDeque::new();
            let mut x: u64 = 7;
            for i in 0..20_000 {
                x = x
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let failed = (x >> 33) % 100 < (threshold * 100.0) as u64 - 8;
                if failed {
                    b.on_failure(t(0.0))
                } else {
                    b.on_success(t(0.0))
                }
                model.push_back(failed);
                if model.len() > window as usize {
                    model.pop_front();
                }
                let f = model.iter().filter(|&&x| x).count();
                let n = model.len();
                let expect = n >= min_calls.min(window) as usize
                    && f > 0
                    && f as f64 >= threshold * n as f64;
                assert_eq!(b.state() == BreakerState::Open, expect, "{window} call {i}");
                assert_eq!(b.failure_rate(), f as f64 / n as f64);
                if expect {
                    // Close it again through HalfOpen and restart the model.
                    let later = t(1e6 * (i + 1) as f64);
                    while b.allow(later) {}
                    b.on_success(later);
                    b.on_success(later);
                    assert_eq!(b.state(), BreakerState::Closed);
                    model.clear();
                }
            }
        }
    }
}
