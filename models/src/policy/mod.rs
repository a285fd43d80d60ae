//! Client-side retry and overload policies: backoff, retry budgets, circuit breakers, adaptive
//! throttling, and named presets that reproduce what real clients and proxies do.
//!
//! Every building block here is a small, pure state machine:
//!
//! - **Time** is the simulated clock ([`sim_core::SimTime`], integer nanoseconds) passed in by the
//!   caller; nothing reads the wall clock.
//! - **Randomness** comes only from a `&mut SimRng` passed in (the caller owns the stream, named
//!   after its component and purpose, e.g. `"clients/backoff"`). Every randomized decision draws
//!   exactly one `f64`, whatever the state, so changing a parameter never shifts later draws of
//!   the same stream by a variable amount.
//! - **No allocation on the hot path.** Sliding windows are fixed-size rings of buckets; the only
//!   allocation is the circuit breaker's outcome ring, made once at construction.
//! - **No panics from parameters.** The scenario layer validates ranges, but every formula is
//!   also overflow- and NaN-safe (integers saturate, non-finite floats are clamped).
//!
//! Conventions shared by all modules:
//!
//! - Retries are numbered from 1: retry `n = 1` is the second attempt. An exponential backoff's
//!   first retry waits (up to) its *base* interval (gRPC A6, botocore, Resilience4j).
//! - A "request" is one logical call made by the application; an "attempt" is one try of it
//!   (the first try or a retry). `max_attempts` counts the first try.
//!
//! Sources and the exact definitions are in `docs/policies.md` and in the doc
//! comment of each item.

pub mod backoff;
pub mod breaker;
pub mod budget;
pub mod presets;
pub mod throttle;
mod window;

pub use backoff::{Backoff, BackoffKind, Jitter};
pub use breaker::{BreakerState, CircuitBreaker, CircuitBreakerConfig, TripRule};
pub use budget::{
    AwsQuotaConfig, AwsRetryQuota, BrookerBucket, BrookerBucketConfig, EnvoyBudget,
    EnvoyBudgetConfig, FinagleBudget, FinagleConfig, GrpcThrottle, GrpcThrottleConfig, RetryBudget,
    RetryBudgetConfig,
};
pub use presets::{PRESET_NAMES, RetryPolicy, preset};
pub use throttle::{
    Admission, AwsAdaptiveConfig, AwsAdaptiveLimiter, SreThrottle, SreThrottleConfig, Throttle,
    ThrottleConfig, ThrottleSignal,
};

/// Converts a non-negative amount given as `f64` to integer thousandths, rounding to nearest
/// and saturating (NaN and negatives map to 0). Token counts that the sources define with three
/// decimals (gRPC `tokenRatio`) are kept as integer milli-tokens so that repeated additions are
/// exact (ten deposits of 0.1 make exactly one token).
#[inline]
pub(crate) fn to_milli(x: f64) -> u64 {
    let m = x * 1000.0;
    if m.is_nan() || m <= 0.0 {
        0
    } else if m >= u64::MAX as f64 {
        u64::MAX
    } else {
        (m + 0.5) as u64
    }
}

/// Uniform draw on `[lo, hi)` as `f64` (one `f64` from `rng`), rounded to integer nanoseconds
/// and clamped to `[lo, hi]`. With `hi <= lo` it returns `lo` (after drawing, to keep the
/// one-draw-per-decision rule).
#[inline]
pub(crate) fn uniform_ns(rng: &mut sim_core::SimRng, lo: u64, hi: u64) -> u64 {
    use rand::RngExt;
    let u: f64 = rng.random();
    if hi <= lo {
        return lo;
    }
    let x = lo as f64 + (hi - lo) as f64 * u;
    sim_core::SimDuration::from_nanos_f64(x).0.clamp(lo, hi)
}

#[cfg(test)]
pub(crate) mod test_util {
    /// A fixed test stream.
    pub fn rng(name: &str) -> sim_core::SimRng {
        sim_core::stream(0x5eed, name)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn to_milli_rounds_and_saturates() {
        assert_eq!(to_milli(0.1), 100);
        assert_eq!(to_milli(10.0), 10_000);
        assert_eq!(to_milli(0.0005), 1);
        assert_eq!(to_milli(-1.0), 0);
        assert_eq!(to_milli(f64::NAN), 0);
        assert_eq!(to_milli(f64::INFINITY), u64::MAX);
    }

    #[test]
    fn uniform_ns_stays_in_range() {
        let mut r = test_util::rng("uniform");
        for _ in 0..10_000 {
            let x = uniform_ns(&mut r, 10, 20);
            assert!((10..=20).contains(&x));
        }
        assert_eq!(uniform_ns(&mut r, 7, 7), 7);
        assert_eq!(uniform_ns(&mut r, 9, 3), 9);
        // The full range: no overflow in the span or the rounding.
        let _ = uniform_ns(&mut r, 0, u64::MAX);
        let x = uniform_ns(&mut r, u64::MAX - 1, u64::MAX);
        assert!(x >= u64::MAX - 1);
    }
}
