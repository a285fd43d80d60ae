//! Backoff between attempts: the un-jittered interval ([`BackoffKind`]) and how it is
//! randomized ([`Jitter`]).
//!
//! **Numbering (pinned).** Retry `n = 1` is the first retry, and an exponential backoff gives it
//! the base interval: `v_n = min(cap, base · multiplier^(n−1))`. This is the convention of
//! gRPC A6 (`initialBackoff · multiplier^(n−1)`), botocore (`2^(attempt−1)` with `attempt` the
//! attempt that just failed, 1 for the first) and Resilience4j (`IntervalFunction` attempt 1 =
//! initial interval). The AWS Architecture Blog ("Exponential Backoff And Jitter", 2015) writes
//! `min(cap, base · 2^n)`: read with `n` = retry number (1 for the first retry), every delay
//! is twice ours, i.e. the blog's `base` corresponds to our `base_ns = 2 × base`. Decorrelated
//! jitter does not depend on `n` and is the same in both readings.
//!
//! Sources: AWS blog and `aws-samples/aws-arch-backoff-simulator/src/backoff_simulator.py`
//! (full, equal and decorrelated jitter), gRFC A6, botocore `retries/standard.py`,
//! Resilience4j `IntervalFunction` (randomized exponential), see `policies.md` §1.

use rand::RngExt;
use sim_core::{SimDuration, SimRng};

use super::uniform_ns;

/// The un-jittered interval `v_n` before retry `n` (n ≥ 1).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum BackoffKind {
    /// Retry immediately: `v_n = 0`.
    None,
    /// `v_n = delay`.
    Constant { delay_ns: u64 },
    /// `v_n = min(cap, base · multiplier^(n−1))`, so `v_1 = min(cap, base)`.
    ///
    /// Computed in `f64` by exponentiation by squaring (deterministic: only IEEE multiplies),
    /// then rounded to the nearest nanosecond. Overflow saturates to `cap`; so does a NaN
    /// (e.g. a NaN multiplier), so a huge `n` never overflows or produces NaN.
    Exponential {
        base_ns: u64,
        multiplier: f64,
        cap_ns: u64,
    },
}

/// How the interval `v_n` is randomized. Draws are uniform on real numbers, rounded to whole
/// nanoseconds; every variant except [`Jitter::None`] draws exactly one `f64` per call.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Jitter {
    /// `v_n`.
    None,
    /// "Full jitter": `U(0, v_n)`. AWS SDKs (standard mode: `rand · min(2^(n−1), 20) s`),
    /// gRPC A6 (`random(0, min(initialBackoff · multiplier^(n−1), maxBackoff))`), Envoy.
    Full,
    /// "Equal jitter": `v_n/2 + U(0, v_n/2)`; guarantees at least half the interval.
    Equal,
    /// "Decorrelated jitter" (AWS blog / `backoff_simulator.py`, `ExpoBackoffDecorr`):
    /// `s_n = min(cap, U(base, 3 · s_{n−1}))` with `s_0 = base`. Stateful: the caller passes the
    /// previous sleep `s_{n−1}` as `prev_ns` (0 at the first retry, meaning `s_0 = base`; any
    /// value below `base` is raised to `base`). Ignores `n` and the multiplier; `base` and `cap`
    /// come from the kind (`Constant { delay }` gives `base = cap = delay`, `None` gives 0).
    Decorrelated,
    /// Randomized exponential (Resilience4j `IntervalFunction.ofExponentialRandomBackoff`,
    /// google-http-java-client `ExponentialBackOff`): `min(cap, base · multiplier^(n−1) ·
    /// U(1 − f, 1 + f))` with randomization factor `f` (clamped to `[0, 1]`, NaN → 0).
    ///
    /// The cap is applied *after* randomizing, as Resilience4j's 4-argument form does
    /// (`min(randomize(interval), maxInterval)`), so the delay never exceeds the cap.
    /// google-http-java-client instead randomizes the capped interval (its delays can exceed
    /// `maxInterval` by up to `f`). Resilience4j truncates the interval to whole milliseconds
    /// at every step; here the product is exact. On `Constant { delay }` this is
    /// `IntervalFunction.ofRandomized`: `delay · U(1 − f, 1 + f)`.
    Randomized { factor: f64 },
}

/// A backoff policy: an interval schedule and a jitter. Stateless (decorrelated jitter's one
/// piece of state, the previous sleep, is kept by the caller), `Copy`, and cheap to evaluate.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Backoff {
    pub kind: BackoffKind,
    pub jitter: Jitter,
}

impl Default for Backoff {
    fn default() -> Self {
        Backoff::NONE
    }
}

/// `x^k` by squaring: at most 64 IEEE multiplications, bit-for-bit reproducible (unlike
/// `powi`/`powf`, whose precision Rust does not specify).
#[inline]
fn powu(mut x: f64, mut k: u32) -> f64 {
    let mut acc = 1.0;
    while k > 0 {
        if k & 1 == 1 {
            acc *= x;
        }
        k >>= 1;
        if k > 0 {
            x *= x;
        }
    }
    acc
}

/// `base · multiplier^(n−1)` as `f64` (uncapped; may be `inf` or NaN for pathological
/// parameters). `n = 0` is treated as 1.
#[inline]
fn exp_raw(base_ns: u64, multiplier: f64, retry: u32) -> f64 {
    let k = retry.saturating_sub(1);
    if k == 0 || base_ns == 0 {
        return base_ns as f64;
    }
    base_ns as f64 * powu(multiplier, k)
}

/// `min(cap, x)` rounded to nanoseconds; NaN and `+inf` saturate to `cap`, negatives give 0.
#[inline]
fn cap_f64(x: f64, cap_ns: u64) -> u64 {
    if x < cap_ns as f64 {
        SimDuration::from_nanos_f64(x).0.min(cap_ns)
    } else {
        cap_ns
    }
}

impl BackoffKind {
    /// The un-jittered interval `v_n` for retry `n` (`n = 0` is treated as 1).
    #[inline]
    pub fn interval_ns(&self, retry: u32) -> u64 {
        match *self {
            BackoffKind::None => 0,
            BackoffKind::Constant { delay_ns } => delay_ns,
            BackoffKind::Exponential {
                base_ns,
                multiplier,
                cap_ns,
            } => cap_f64(exp_raw(base_ns, multiplier, retry), cap_ns),
        }
    }

    /// `(base, cap)` for decorrelated jitter; `base ≤ cap`.
    #[inline]
    fn base_cap(&self) -> (u64, u64) {
        match *self {
            BackoffKind::None => (0, 0),
            BackoffKind::Constant { delay_ns } => (delay_ns, delay_ns),
            BackoffKind::Exponential {
                base_ns, cap_ns, ..
            } => (base_ns.min(cap_ns), cap_ns),
        }
    }

    /// The largest `v_n` over all `n`.
    fn max_interval_ns(&self) -> u64 {
        match *self {
            BackoffKind::None => 0,
            BackoffKind::Constant { delay_ns } => delay_ns,
            BackoffKind::Exponential { cap_ns, .. } => cap_ns,
        }
    }
}

/// The randomization factor clamped to `[0, 1]` (NaN → 0).
#[inline]
fn clamp_factor(f: f64) -> f64 {
    if f > 0.0 { f.min(1.0) } else { 0.0 }
}

impl Backoff {
    /// Retry immediately.
    pub const NONE: Backoff = Backoff {
        kind: BackoffKind::None,
        jitter: Jitter::None,
    };

    pub const fn new(kind: BackoffKind, jitter: Jitter) -> Backoff {
        Backoff { kind, jitter }
    }

    /// The delay in nanoseconds before retry `retry` (1 for the first retry; 0 is treated as
    /// 1). `prev_ns` is the previous delay returned for this request (0 before the first
    /// retry); only [`Jitter::Decorrelated`] uses it. See [`BackoffKind`] and [`Jitter`] for the
    /// formulas. Never exceeds [`Backoff::max_delay_ns`].
    #[inline]
    pub fn delay_ns(&self, retry: u32, prev_ns: u64, rng: &mut SimRng) -> u64 {
        match self.jitter {
            Jitter::None => self.kind.interval_ns(retry),
            Jitter::Full => {
                let v = self.kind.interval_ns(retry);
                uniform_ns(rng, 0, v)
            }
            Jitter::Equal => {
                let v = self.kind.interval_ns(retry);
                let half = v / 2;
                // v/2 + U(0, v/2), written so that the maximum is exactly v for odd v.
                half + uniform_ns(rng, 0, v - half)
            }
            Jitter::Decorrelated => {
                let (base, cap) = self.kind.base_cap();
                let prev = prev_ns.max(base);
                uniform_ns(rng, base, prev.saturating_mul(3)).min(cap)
            }
            Jitter::Randomized { factor } => {
                let f = clamp_factor(factor);
                let u: f64 = rng.random();
                let scale = 1.0 - f + 2.0 * f * u;
                match self.kind {
                    BackoffKind::None => 0,
                    BackoffKind::Constant { delay_ns } => {
                        SimDuration::from_nanos_f64(delay_ns as f64 * scale).0
                    }
                    BackoffKind::Exponential {
                        base_ns,
                        multiplier,
                        cap_ns,
                    } => cap_f64(exp_raw(base_ns, multiplier, retry) * scale, cap_ns),
                }
            }
        }
    }

    /// An upper bound of [`Backoff::delay_ns`] over all retries: the cap (exponential), the
    /// delay (constant; `delay · (1 + f)` when randomized), or 0.
    pub fn max_delay_ns(&self) -> u64 {
        let v = self.kind.max_interval_ns();
        match (self.jitter, self.kind) {
            (Jitter::Randomized { factor }, BackoffKind::Constant { .. }) => {
                SimDuration::from_nanos_f64(v as f64 * (1.0 + clamp_factor(factor))).0
            }
            _ => v,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::test_util::rng;

    const MS: u64 = 1_000_000;
    const S: u64 = 1_000_000_000;

    fn exp(base_ns: u64, multiplier: f64, cap_ns: u64, jitter: Jitter) -> Backoff {
        Backoff::new(
            BackoffKind::Exponential {
                base_ns,
                multiplier,
                cap_ns,
            },
            jitter,
        )
    }

    #[test]
    fn exponential_formula_first_retry_is_base() {
        let b = exp(100 * MS, 2.0, S, Jitter::None);
        let mut r = rng("b");
        let got: Vec<u64> = (1..=6).map(|n| b.delay_ns(n, 0, &mut r)).collect();
        assert_eq!(got, [100 * MS, 200 * MS, 400 * MS, 800 * MS, S, S]);
        // retry 0 is treated as the first retry
        assert_eq!(b.delay_ns(0, 0, &mut r), 100 * MS);
        // non-integer multiplier: Resilience4j 500 ms × 1.5
        let b = exp(500 * MS, 1.5, u64::MAX, Jitter::None);
        assert_eq!(b.kind.interval_ns(1), 500 * MS);
        assert_eq!(b.kind.interval_ns(2), 750 * MS);
        assert_eq!(b.kind.interval_ns(3), 1125 * MS);
        assert_eq!(b.kind.interval_ns(4), 1_687_500_000);
    }

    #[test]
    fn powu_matches_repeated_multiplication() {
        for &x in &[1.5f64, 2.0, 0.5, 1.6, 3.0] {
            let mut acc = 1.0;
            for k in 0..40u32 {
                let p = powu(x, k);
                assert!((p - acc).abs() <= acc * 1e-14, "{x}^{k}: {p} vs {acc}");
                acc *= x;
            }
        }
        assert_eq!(powu(2.0, 10), 1024.0);
        assert_eq!(powu(2.0, u32::MAX), f64::INFINITY);
    }

    #[test]
    fn huge_retry_numbers_saturate_without_nan() {
        let mut r = rng("huge");
        for jitter in [
            Jitter::None,
            Jitter::Full,
            Jitter::Equal,
            Jitter::Decorrelated,
            Jitter::Randomized { factor: 0.5 },
        ] {
            for (m, cap) in [
                (2.0, 20 * S),
                (1e300, u64::MAX),
                (f64::INFINITY, 5 * S),
                (f64::NAN, 5 * S),
                (0.0, 5 * S),
                (-2.0, 5 * S),
                (0.5, 5 * S),
            ] {
                let b = exp(S, m, cap, jitter);
                for n in [1, 2, 63, 64, 65, 1_000, u32::MAX] {
                    let d = b.delay_ns(n, u64::MAX, &mut r);
                    assert!(d <= b.max_delay_ns(), "{jitter:?} m={m} n={n}: {d}");
                }
            }
        }
        let b = exp(S, 2.0, 20 * S, Jitter::None);
        assert_eq!(b.delay_ns(u32::MAX, 0, &mut r), 20 * S);
        let b = exp(S, f64::NAN, 20 * S, Jitter::None);
        assert_eq!(b.delay_ns(2, 0, &mut r), 20 * S);
        assert_eq!(b.delay_ns(1, 0, &mut r), S);
        let b = exp(u64::MAX, 2.0, u64::MAX, Jitter::None);
        assert_eq!(b.delay_ns(3, 0, &mut r), u64::MAX);
    }

    #[test]
    fn backoff_never_exceeds_cap_property() {
        let mut r = rng("cap");
        let mut params = rng("params");
        for _ in 0..2_000 {
            let base = params.random_range(0..2 * S);
            let cap = params.random_range(0..30 * S);
            let m = params.random_range(0.5..4.0);
            let f = params.random_range(0.0..1.0);
            for jitter in [
                Jitter::None,
                Jitter::Full,
                Jitter::Equal,
                Jitter::Decorrelated,
                Jitter::Randomized { factor: f },
            ] {
                let b = exp(base, m, cap, jitter);
                let mut prev = 0;
                for n in 1..40 {
                    let d = b.delay_ns(n, prev, &mut r);
                    assert!(d <= cap, "{b:?} n={n}: {d} > {cap}");
                    prev = d;
                }
            }
        }
    }

    #[test]
    fn full_and_equal_jitter_ranges_and_means() {
        let mut r = rng("jitter");
        let v = 400 * MS;
        let full = exp(100 * MS, 2.0, S, Jitter::Full);
        let equal = exp(100 * MS, 2.0, S, Jitter::Equal);
        let n = 200_000;
        let (mut sf, mut se) = (0.0, 0.0);
        for _ in 0..n {
            let f = full.delay_ns(3, 0, &mut r);
            let e = equal.delay_ns(3, 0, &mut r);
            assert!(f <= v);
            assert!((v / 2..=v).contains(&e));
            sf += f as f64;
            se += e as f64;
        }
        // Means v/2 and 3v/4; sd of the mean ≈ v/√(12n) ≈ 0.26 ms.
        assert!((sf / n as f64 - v as f64 / 2.0).abs() < 2.0 * MS as f64);
        assert!((se / n as f64 - 0.75 * v as f64).abs() < 1.0 * MS as f64);
    }

    #[test]
    fn decorrelated_follows_aws_definition() {
        // Blog sample: base 5 ms, cap 2 s.
        let b = exp(5 * MS, 2.0, 2 * S, Jitter::Decorrelated);
        let mut r = rng("decor");
        // s_0 = base: the first sleep is U(base, 3 base).
        for _ in 0..10_000 {
            let d = b.delay_ns(1, 0, &mut r);
            assert!((5 * MS..=15 * MS).contains(&d));
        }
        // s_n ∈ [base, min(cap, 3 s_{n−1})], and it reaches the cap eventually.
        let mut prev = 0;
        let mut hit_cap = false;
        for n in 1..2_000 {
            let d = b.delay_ns(n, prev, &mut r);
            let hi = (prev.max(5 * MS) * 3).min(2 * S);
            assert!(d >= 5 * MS && d <= hi, "n={n} prev={prev} d={d}");
            hit_cap |= d == 2 * S;
            prev = d;
        }
        assert!(hit_cap);
        // Same draw, same result: the multiplier and n are ignored.
        let b2 = exp(5 * MS, 7.0, 2 * S, Jitter::Decorrelated);
        let (mut r1, mut r2) = (rng("same"), rng("same"));
        assert_eq!(
            b.delay_ns(1, 40 * MS, &mut r1),
            b2.delay_ns(9, 40 * MS, &mut r2)
        );
        // Constant kind: base = cap = delay.
        let c = Backoff::new(
            BackoffKind::Constant { delay_ns: 7 * MS },
            Jitter::Decorrelated,
        );
        assert_eq!(c.delay_ns(3, 7 * MS, &mut r), 7 * MS);
    }

    #[test]
    fn randomized_exponential_resilience4j() {
        let f = 0.5;
        let b = exp(500 * MS, 1.5, u64::MAX, Jitter::Randomized { factor: f });
        let mut r = rng("r4j");
        let n = 100_000;
        let mut sum = 0.0;
        for _ in 0..n {
            let d = b.delay_ns(2, 0, &mut r);
            // interval 750 ms · U(0.5, 1.5)
            assert!((375 * MS..=1125 * MS).contains(&d), "{d}");
            sum += d as f64;
        }
        assert!((sum / n as f64 - 750.0 * MS as f64).abs() < 2.0 * MS as f64);
        // Cap after randomizing: never above the cap, and exactly the cap once the raw
        // interval · (1 − f) exceeds it.
        let capped = exp(500 * MS, 1.5, S, Jitter::Randomized { factor: f });
        for _ in 0..1_000 {
            assert_eq!(capped.delay_ns(10, 0, &mut r), S);
        }
        // Constant: ofRandomized.
        let c = Backoff::new(
            BackoffKind::Constant { delay_ns: 500 * MS },
            Jitter::Randomized { factor: 0.5 },
        );
        assert_eq!(c.max_delay_ns(), 750 * MS);
        for _ in 0..1_000 {
            let d = c.delay_ns(1, 0, &mut r);
            assert!((250 * MS..=750 * MS).contains(&d));
        }
        // factor 0 is deterministic; NaN factor is treated as 0.
        let z = exp(S, 2.0, 60 * S, Jitter::Randomized { factor: f64::NAN });
        assert_eq!(z.delay_ns(3, 0, &mut r), 4 * S);
    }

    #[test]
    fn none_and_constant() {
        let mut r = rng("const");
        assert_eq!(Backoff::NONE.delay_ns(5, 0, &mut r), 0);
        let c = Backoff::new(BackoffKind::Constant { delay_ns: 3 }, Jitter::None);
        assert_eq!(c.delay_ns(1, 0, &mut r), 3);
        assert_eq!(c.delay_ns(100, 0, &mut r), 3);
        let n = Backoff::new(BackoffKind::None, Jitter::Full);
        assert_eq!(n.delay_ns(4, 0, &mut r), 0);
    }

    #[test]
    fn jittered_variants_draw_exactly_one_value() {
        use rand::Rng;
        for jitter in [
            Jitter::Full,
            Jitter::Equal,
            Jitter::Decorrelated,
            Jitter::Randomized { factor: 0.2 },
        ] {
            for kind in [
                BackoffKind::None,
                BackoffKind::Constant { delay_ns: 5 },
                BackoffKind::Exponential {
                    base_ns: 5,
                    multiplier: 2.0,
                    cap_ns: 100,
                },
            ] {
                let (mut a, mut b) = (rng("one"), rng("one"));
                Backoff::new(kind, jitter).delay_ns(7, 20, &mut a);
                b.next_u64();
                assert_eq!(a.next_u64(), b.next_u64(), "{kind:?} {jitter:?}");
            }
        }
    }

    #[test]
    fn deterministic_for_a_seed() {
        let b = exp(S, 2.0, 20 * S, Jitter::Full);
        let (mut a, mut c) = (rng("det"), rng("det"));
        let x: Vec<u64> = (1..10).map(|n| b.delay_ns(n, 0, &mut a)).collect();
        let y: Vec<u64> = (1..10).map(|n| b.delay_ns(n, 0, &mut c)).collect();
        assert_eq!(x, y);
    }
}
