//! Simulated time: integer nanoseconds since the start of a run.
//!
//! Integers make runs reproducible to the bit (no float drift in the clock) and give a total
//! order on events together with the insertion sequence number.

use std::fmt;

/// An instant of simulated time, in nanoseconds since the start of the run.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct SimTime(pub u64);

/// A span of simulated time, in nanoseconds.
#[derive(Copy, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Debug)]
pub struct SimDuration(pub u64);

const NS_PER_S: f64 = 1e9;
const NS_PER_MS: f64 = 1e6;

/// Converts a non-negative number of nanoseconds given as `f64` to `u64`, rounding to nearest
/// and saturating (NaN and negatives map to 0). Inputs are validated upstream; saturation only
/// guards the engine against overflow.
#[inline]
fn ns_from_f64(ns: f64) -> u64 {
    // 2^62: below it the value fits an i64, whose conversion is a single instruction on
    // x86-64 (an f64 → u64 `as` needs extra branches). Durations that long (146 years) are
    // rare and take the general path.
    const FAST: f64 = 4.611_686_018_427_388e18;
    if ns > 0.0 && ns < FAST {
        // Round half up; `f64::round` is a libm call on baseline x86-64 (no SSE4.1), and this
        // sits on the hot path of every sampled duration.
        (ns + 0.5) as i64 as u64
    } else if ns.is_nan() || ns <= 0.0 {
        0
    } else if ns >= u64::MAX as f64 {
        u64::MAX
    } else {
        (ns + 0.5) as u64
    }
}

impl SimTime {
    pub const ZERO: SimTime = SimTime(0);
    pub const MAX: SimTime = SimTime(u64::MAX);

    pub fn from_secs_f64(s: f64) -> SimTime {
        SimTime(ns_from_f64(s * NS_PER_S))
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S
    }
    pub fn as_nanos(self) -> u64 {
        self.0
    }
    /// `self + d`, saturating at [`SimTime::MAX`] (which no event ever reaches: runs have a
    /// finite horizon).
    #[inline]
    pub fn saturating_add(self, d: SimDuration) -> SimTime {
        SimTime(self.0.saturating_add(d.0))
    }
    /// `self - earlier`, or zero if `earlier` is later.
    #[inline]
    pub fn since(self, earlier: SimTime) -> SimDuration {
        SimDuration(self.0.saturating_sub(earlier.0))
    }
}

impl SimDuration {
    pub const ZERO: SimDuration = SimDuration(0);

    pub const fn from_millis(ms: u64) -> SimDuration {
        SimDuration(ms.saturating_mul(1_000_000))
    }

    pub fn from_secs_f64(s: f64) -> SimDuration {
        SimDuration(ns_from_f64(s * NS_PER_S))
    }
    /// From a (validated, non-negative) number of nanoseconds, rounded.
    #[inline]
    pub fn from_nanos_f64(ns: f64) -> SimDuration {
        SimDuration(ns_from_f64(ns))
    }
    pub fn from_millis_f64(ms: f64) -> SimDuration {
        SimDuration(ns_from_f64(ms * NS_PER_MS))
    }
    pub fn as_secs_f64(self) -> f64 {
        self.0 as f64 / NS_PER_S
    }
    pub fn as_millis_f64(self) -> f64 {
        self.0 as f64 / NS_PER_MS
    }
    pub fn as_nanos(self) -> u64 {
        self.0
    }
}

impl fmt::Display for SimTime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}s", self.as_secs_f64())
    }
}

impl fmt::Display for SimDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:.3}ms", self.as_millis_f64())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_round_and_saturate() {
        assert_eq!(SimDuration::from_millis_f64(1.5).as_nanos(), 1_500_000);
        assert_eq!(SimTime::from_secs_f64(-3.0), SimTime::ZERO);
        assert_eq!(SimTime::from_secs_f64(f64::NAN), SimTime::ZERO);
        assert_eq!(SimTime::from_secs_f64(1e30), SimTime::MAX);
        assert_eq!(SimTime(5).since(SimTime(9)), SimDuration::ZERO);
        assert_eq!(SimTime::MAX.saturating_add(SimDuration(1)), SimTime::MAX);
    }
}
