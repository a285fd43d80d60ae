//! Client-side admission control that acts on *every* attempt (first tries and retries):
//!
//! - [`SreThrottle`]: Google SRE client-side adaptive throttling (probabilistic rejection).
//! - [`AwsAdaptiveLimiter`]: the AWS SDK "adaptive" retry mode's client rate limiter (a
//!   token bucket whose rate follows CUBIC), which delays sends.
//!
//! [`Throttle`] wraps both behind one protocol: [`Throttle::admit`] before each attempt, then
//! [`Throttle::on_response`] with a [`ThrottleSignal`] when its outcome is known.

use rand::RngExt;
use sim_core::{SimDuration, SimRng, SimTime};

use super::window::SlidingWindow;

const NS_PER_S: f64 = 1e9;

// --------------------------------------------------------------------------------------------
// SRE adaptive throttling

/// Google SRE client-side adaptive throttling ("Handling Overload", *Site Reliability
/// Engineering*, 2016; `policies.md` §7). Defaults: K = 2, 2-minute window.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct SreThrottleConfig {
    /// The multiplier `K` (2 typical; 1.1 more aggressive).
    pub k: f64,
    /// The counting window (the book's "last two minutes").
    pub window_ns: u64,
}

impl Default for SreThrottleConfig {
    fn default() -> Self {
        SreThrottleConfig {
            k: 2.0,
            window_ns: 120_000_000_000,
        }
    }
}

/// Buckets of the SRE window (2 s each for the default 120 s).
const SRE_SLICES: usize = 60;
const LANE_REQUESTS: usize = 0;
const LANE_ACCEPTS: usize = 1;

/// SRE adaptive throttling: each attempt is rejected locally with probability
///
/// `P_reject = max(0, (requests − K · accepts) / (requests + 1))`
///
/// where `requests` counts attempts the application made (including locally rejected ones)
/// and `accepts` counts attempts the backend accepted, both over the sliding window (a ring
/// of 60 buckets of `window / 60`). `P` is computed from the counts *before* the current
/// attempt, which is then counted. Exactly one `f64` is drawn per attempt.
#[derive(Clone, Debug, PartialEq)]
pub struct SreThrottle {
    k: f64,
    /// Boxed (allocated once, at construction) to keep [`Throttle`] small.
    window: Box<SlidingWindow<SRE_SLICES, 2>>,
}

impl SreThrottle {
    pub fn new(cfg: &SreThrottleConfig) -> Self {
        SreThrottle {
            k: cfg.k,
            window: Box::new(SlidingWindow::new(cfg.window_ns)),
        }
    }

    /// `P_reject` now (before counting another request). NaN-safe: a NaN `K` gives 0.
    #[inline]
    pub fn reject_probability(&mut self, now: SimTime) -> f64 {
        let [requests, accepts] = self.window.totals(now);
        let requests = requests as f64;
        let p = (requests - self.k * accepts as f64) / (requests + 1.0);
        if p > 0.0 { p } else { 0.0 }
    }

    /// Counts an attempt and decides whether to reject it locally.
    #[inline]
    pub fn should_reject(&mut self, now: SimTime, rng: &mut SimRng) -> bool {
        let p = self.reject_probability(now);
        let u: f64 = rng.random();
        self.window.add(now, LANE_REQUESTS, 1);
        u < p
    }

    /// The backend accepted an attempt (any response other than an overload rejection).
    #[inline]
    pub fn on_accept(&mut self, now: SimTime) {
        self.window.add(now, LANE_ACCEPTS, 1);
    }

    /// `(requests, accepts)` in the window ending at `now`.
    pub fn counts(&mut self, now: SimTime) -> (u64, u64) {
        let [r, a] = self.window.totals(now);
        (r.max(0) as u64, a.max(0) as u64)
    }
}

// --------------------------------------------------------------------------------------------
// AWS adaptive retry mode (CUBIC token bucket)

/// Parameters of the AWS SDK adaptive rate limiter; defaults are botocore's
/// (`retries/adaptive.py`, `bucket.py`, `throttling.py`; `policies.md` §2).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct AwsAdaptiveConfig {
    /// `TokenBucket._MIN_RATE` 0.5 tokens/s.
    pub min_fill_rate: f64,
    /// `CubicCalculator._BETA` 0.7.
    pub beta: f64,
    /// `CubicCalculator._SCALE_CONSTANT` (C) 0.4.
    pub scale_constant: f64,
    /// `RateClocker._DEFAULT_SMOOTHING` 0.8 (weight of the newest bucket).
    pub smoothing: f64,
    /// `RateClocker._TIME_BUCKET_RANGE` 0.5 s.
    pub rate_bucket_ns: u64,
    /// `ClientRateLimiter._MAX_RATE_ADJUST_SCALE` 2.0: the rate never exceeds 2× measured.
    pub max_rate_scale: f64,
}

impl Default for AwsAdaptiveConfig {
    fn default() -> Self {
        AwsAdaptiveConfig {
            min_fill_rate: 0.5,
            beta: 0.7,
            scale_constant: 0.4,
            smoothing: 0.8,
            rate_bucket_ns: 500_000_000,
            max_rate_scale: 2.0,
        }
    }
}

/// A rate no real client reaches; keeps every float finite.
const MAX_RATE: f64 = 1e12;

/// The AWS SDK adaptive-mode client rate limiter, following botocore (`ClientRateLimiter`,
/// `RateClocker`, `CubicCalculator`, `TokenBucket`) with time in seconds = `now / 10⁹`:
///
/// - **Measured rate** (`RateClocker.record`, on every response): `bucket = ⌊t / 0.5⌋ · 0.5`;
///   `count += 1`; if `bucket > last_bucket`: `measured = 0.8 · count / (bucket −
///   last_bucket) + 0.2 · measured`, `count = 0`, `last_bucket = bucket` (`last_bucket` starts
///   at 0, the creation time).
/// - **CUBIC** (state `w_max = 0`, `K = 0`, `last_fail = 0` initially):
///   on a throttling response `w_max = measured` (or `min(measured, fill_rate)` once
///   enabled), `K = ∛(w_max · (1 − β) / C)`, `last_fail = t`, new rate `= β · w_max`, and the
///   limiter is **enabled**; on any other response (including timeouts, as botocore's
///   `needs-retry` hook sees them) new rate `= C · (t − last_fail − K)³ + w_max`.
/// - **Bucket** (after every response): `max_rate = min(new rate, 2 · measured)`; refill at the
///   old rate up to `t`, then `fill_rate = max(max_rate, 0.5)`, `capacity = max(1, max_rate)`
///   and the content is clipped to the capacity. It starts with rate 1, capacity 1, content 0.
/// - **Send** ([`AwsAdaptiveLimiter::acquire_delay_ns`], before every attempt): nothing while
///   disabled; otherwise refill (`content = min(capacity, content + Δt · fill_rate)`) and take a
///   token; if none is available the caller waits `(1 − content) / fill_rate`.
///
/// Waiting is modelled as a reservation: the token is taken at once and the content may go
/// negative, so concurrent waiters are served FIFO at `fill_rate`. (botocore's blocked
/// threads re-check when the rate changes; here a wait is fixed when it starts.)
#[derive(Clone, Debug, PartialEq)]
pub struct AwsAdaptiveLimiter {
    cfg: AwsAdaptiveConfig,
    enabled: bool,
    // token bucket
    fill_rate: f64,
    max_capacity: f64,
    content: f64,
    last_refill_ns: u64,
    // CUBIC
    w_max: f64,
    k: f64,
    last_fail_s: f64,
    // rate clocker
    measured_rate: f64,
    last_bucket_ns: u64,
    count: u64,
}

impl AwsAdaptiveLimiter {
    pub fn new(cfg: &AwsAdaptiveConfig) -> Self {
        let mut l = AwsAdaptiveLimiter {
            cfg: *cfg,
            enabled: false,
            fill_rate: 0.0,
            max_capacity: 1.0,
            content: 0.0,
            last_refill_ns: 0,
            w_max: 0.0,
            k: 0.0,
            last_fail_s: 0.0,
            measured_rate: 0.0,
            last_bucket_ns: 0,
            count: 0,
        };
        l.set_max_rate(SimTime::ZERO, 1.0);
        l
    }

    /// Whether the limiter is active (after the first throttling response).
    pub fn enabled(&self) -> bool {
        self.enabled
    }
    /// The bucket's fill rate (tokens/s): botocore's `max_rate` getter.
    pub fn fill_rate(&self) -> f64 {
        self.fill_rate
    }
    /// The smoothed measured response rate (per second).
    pub fn measured_rate(&self) -> f64 {
        self.measured_rate
    }
    /// Tokens in the bucket as of the last update (negative while sends are waiting).
    pub fn tokens(&self) -> f64 {
        self.content
    }

    #[inline]
    fn refill(&mut self, now: SimTime) {
        let dt = now.0.saturating_sub(self.last_refill_ns) as f64 / NS_PER_S;
        self.content = (self.content + dt * self.fill_rate).min(self.max_capacity);
        self.last_refill_ns = self.last_refill_ns.max(now.0);
    }

    /// botocore `TokenBucket.max_rate` setter.
    #[inline]
    fn set_max_rate(&mut self, now: SimTime, value: f64) {
        // NaN and negatives → 0, +inf → MAX_RATE, so every later product stays finite.
        let value = if value > 0.0 {
            value.min(MAX_RATE)
        } else {
            0.0
        };
        self.refill(now);
        let min_rate = if self.cfg.min_fill_rate > 0.0 {
            self.cfg.min_fill_rate.min(MAX_RATE)
        } else {
            0.0
        };
        self.fill_rate = value.max(min_rate);
        self.max_capacity = value.max(1.0);
        self.content = self.content.min(self.max_capacity);
    }

    /// botocore `RateClocker.record`: counts a response and returns the measured rate.
    #[inline]
    fn record(&mut self, now: SimTime) -> f64 {
        let width = self.cfg.rate_bucket_ns.max(1);
        let bucket = now.0 / width * width;
        self.count += 1;
        if bucket > self.last_bucket_ns {
            let span_s = (bucket - self.last_bucket_ns) as f64 / NS_PER_S;
            let current = self.count as f64 / span_s;
            let s = self.cfg.smoothing;
            let m = current * s + self.measured_rate * (1.0 - s);
            self.measured_rate = if m > 0.0 { m.min(MAX_RATE) } else { 0.0 };
            self.count = 0;
            self.last_bucket_ns = bucket;
        }
        self.measured_rate
    }

    /// How long the caller must wait before sending an attempt (0 if disabled or a token is
    /// available). Takes a token when enabled.
    #[inline]
    pub fn acquire_delay_ns(&mut self, now: SimTime) -> u64 {
        if !self.enabled {
            return 0;
        }
        self.refill(now);
        let before = self.content;
        self.content -= 1.0;
        if before >= 1.0 {
            0
        } else if self.fill_rate > 0.0 {
            SimDuration::from_secs_f64((1.0 - before) / self.fill_rate).0
        } else {
            u64::MAX
        }
    }

    /// A response (or a transport error/timeout) arrived; `throttled`: it is a throttling
    /// error (HTTP 429, `Throttling*` codes...).
    #[inline]
    pub fn on_response(&mut self, now: SimTime, throttled: bool) {
        let measured = self.record(now);
        let t = now.0 as f64 / NS_PER_S;
        let (c, beta) = (self.cfg.scale_constant, self.cfg.beta);
        let new_rate = if throttled {
            let rate_to_use = if self.enabled {
                measured.min(self.fill_rate)
            } else {
                measured
            };
            self.w_max = rate_to_use;
            self.k = (rate_to_use * (1.0 - beta) / c).cbrt();
            self.last_fail_s = t;
            self.enabled = true;
            rate_to_use * beta
        } else {
            let x = t - self.last_fail_s - self.k;
            c * x * x * x + self.w_max
        };
        self.set_max_rate(now, new_rate.min(self.cfg.max_rate_scale * measured));
    }
}

// --------------------------------------------------------------------------------------------
// The uniform wrapper

/// Configuration of a [`Throttle`].
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum ThrottleConfig {
    Sre(SreThrottleConfig),
    AwsAdaptive(AwsAdaptiveConfig),
}

/// What to do with an attempt.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Admission {
    /// Send it after `delay_ns` (0: now).
    Send { delay_ns: u64 },
    /// Reject it locally (it counts as a failed attempt of the request).
    Reject,
}

/// The outcome of an admitted attempt, as the throttles classify it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ThrottleSignal {
    /// The backend processed it (success or a non-overload error).
    Accepted,
    /// The backend rejected it for overload / throttling (HTTP 429/503, RESOURCE_EXHAUSTED).
    Throttled,
    /// No response: timeout or connection failure.
    NoResponse,
}

/// A client-side throttle (state). Call [`Throttle::admit`] before every attempt and
/// [`Throttle::on_response`] once per admitted attempt.
#[derive(Clone, Debug, PartialEq)]
pub enum Throttle {
    Sre(SreThrottle),
    AwsAdaptive(AwsAdaptiveLimiter),
}

impl Throttle {
    pub fn new(cfg: &ThrottleConfig) -> Self {
        match cfg {
            ThrottleConfig::Sre(c) => Throttle::Sre(SreThrottle::new(c)),
            ThrottleConfig::AwsAdaptive(c) => Throttle::AwsAdaptive(AwsAdaptiveLimiter::new(c)),
        }
    }

    /// SRE: reject with `P_reject` (one draw). AWS: send after the token-bucket delay (no draw).
    #[inline]
    pub fn admit(&mut self, now: SimTime, rng: &mut SimRng) -> Admission {
        match self {
            Throttle::Sre(s) => {
                if s.should_reject(now, rng) {
                    Admission::Reject
                } else {
                    Admission::Send { delay_ns: 0 }
                }
            }
            Throttle::AwsAdaptive(a) => Admission::Send {
                delay_ns: a.acquire_delay_ns(now),
            },
        }
    }

    /// SRE counts `Accepted` as an accept. AWS treats `Throttled` as a throttling response and
    /// everything else (including `NoResponse`) as a non-throttling one, like botocore.
    #[inline]
    pub fn on_response(&mut self, now: SimTime, signal: ThrottleSignal) {
        match self {
            Throttle::Sre(s) => {
                if signal == ThrottleSignal::Accepted {
                    s.on_accept(now);
                }
            }
            Throttle::AwsAdaptive(a) => a.on_response(now, signal == ThrottleSignal::Throttled),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::test_util::rng;

    const MS: u64 = 1_000_000;

    fn t(secs: f64) -> SimTime {
        SimTime::from_secs_f64(secs)
    }

    // ---- SRE

    #[test]
    fn sre_probability_formula() {
        let mut s = SreThrottle::new(&SreThrottleConfig::default());
        let mut r = rng("sre");
        assert_eq!(s.reject_probability(t(0.0)), 0.0);
        for _ in 0..100 {
            s.should_reject(t(1.0), &mut r);
        }
        for _ in 0..40 {
            s.on_accept(t(1.0));
        }
        assert_eq!(s.counts(t(1.0)), (100, 40));
        let p = s.reject_probability(t(1.0));
        assert_eq!(p, (100.0 - 2.0 * 40.0) / 101.0);
        // K · accepts ≥ requests ⇒ 0
        for _ in 0..20 {
            s.on_accept(t(1.0));
        }
        assert_eq!(s.reject_probability(t(1.0)), 0.0);
        // Everything expires after the window.
        assert_eq!(s.counts(t(122.0)), (0, 0));
    }

    #[test]
    fn sre_never_rejects_a_healthy_backend() {
        let mut s = SreThrottle::new(&SreThrottleConfig::default());
        let mut r = rng("healthy");
        for i in 0..100_000u64 {
            let now = SimTime(i * MS);
            assert!(!s.should_reject(now, &mut r));
            s.on_accept(now);
        }
    }

    #[test]
    fn sre_rejects_almost_everything_when_backend_is_down() {
        let mut s = SreThrottle::new(&SreThrottleConfig::default());
        let mut r = rng("down");
        let mut rejected = 0;
        for i in 0..100_000u64 {
            if s.should_reject(SimTime(i * MS), &mut r) {
                rejected += 1;
            }
        }
        // P = n / (n + 1) → almost 1.
        assert!(rejected > 99_000, "{rejected}");
    }

    #[test]
    fn sre_sends_about_k_times_capacity() {
        // 1000 requests/s against a backend that accepts at most 100 per second; K = 2: in
        // steady state the client sends ≈ K · accepts = 200/s (P_reject ≈ 0.8).
        let mut s = SreThrottle::new(&SreThrottleConfig::default());
        let mut r = rng("cap");
        let (mut sent_late, mut accepted_this_second, mut second) = (0u64, 0u64, 0u64);
        for i in 0..600_000u64 {
            let now = SimTime(i * MS);
            if i / 1000 != second {
                second = i / 1000;
                accepted_this_second = 0;
            }
            if !s.should_reject(now, &mut r) {
                if i >= 300_000 {
                    sent_late += 1;
                }
                if accepted_this_second < 100 {
                    accepted_this_second += 1;
                    s.on_accept(now);
                }
            }
        }
        let rate = sent_late as f64 / 300.0;
        assert!((rate - 200.0).abs() < 10.0, "sent {rate}/s");
    }

    #[test]
    fn sre_draws_exactly_once_per_attempt() {
        use rand::Rng;
        let mut s = SreThrottle::new(&SreThrottleConfig::default());
        let (mut a, mut b) = (rng("one"), rng("one"));
        for _ in 0..10 {
            s.should_reject(t(0.0), &mut a);
            b.next_u64();
        }
        assert_eq!(a.next_u64(), b.next_u64());
    }

    // ---- AWS adaptive

    #[test]
    fn aws_disabled_until_first_throttle() {
        let mut a = AwsAdaptiveLimiter::new(&AwsAdaptiveConfig::default());
        for i in 0..10_000u64 {
            let now = SimTime(i * MS);
            assert_eq!(a.acquire_delay_ns(now), 0);
            a.on_response(now, false);
        }
        assert!(!a.enabled());
        a.on_response(t(10.0), true);
        assert!(a.enabled());
    }

    #[test]
    fn aws_rate_clocker_and_cubic_formulas() {
        let mut a = AwsAdaptiveLimiter::new(&AwsAdaptiveConfig::default());
        // Four responses in bucket [0, 0.5), a fifth at 0.5: 5 / 0.5 s = 10/s, EWMA 0.8 · 10.
        for x in [0.1, 0.2, 0.3, 0.4] {
            a.on_response(t(x), false);
            assert_eq!(a.measured_rate(), 0.0);
        }
        a.on_response(t(0.5), false);
        assert_eq!(a.measured_rate(), 8.0);
        // One response in [1.5, 2): 1 over 1 s, smoothed: 0.8 · 1 + 0.2 · 8.
        a.on_response(t(1.6), false);
        // (botocore's expression order: current · s + measured · (1 − s))
        let m = 1.0 * 0.8 + 8.0 * (1.0 - 0.8);
        assert_eq!(a.measured_rate(), m);
        // First throttle: w_max = measured, rate = β · w_max, capped at 2 · measured.
        a.on_response(t(1.7), true);
        assert!(a.enabled());
        assert_eq!(a.w_max, m);
        let k = (m * 0.3f64 / 0.4).cbrt();
        assert_eq!(a.k, k);
        assert_eq!(a.fill_rate(), 0.7 * m);
        assert_eq!(a.max_capacity, 1.0f64.max(0.7 * m));
        // Success: C · (t − t_fail − K)³ + w_max, and the measured rate updates first.
        a.on_response(t(2.7), false);
        let m2 = 2.0 * 0.8 + m * (1.0 - 0.8);
        assert_eq!(a.measured_rate(), m2);
        let x = 2.7 - 1.7 - k;
        let cubic = 0.4 * x * x * x + m;
        assert!((a.fill_rate() - cubic.min(2.0 * m2)).abs() < 1e-12);
        // Once enabled, a throttle uses min(measured, current rate).
        let rate_before = a.fill_rate();
        a.on_response(t(2.8), true);
        assert_eq!(a.w_max, m2.min(rate_before));
    }

    #[test]
    fn aws_minimum_fill_rate_and_capacity() {
        let mut a = AwsAdaptiveLimiter::new(&AwsAdaptiveConfig::default());
        // Throttled before any rate was measured: w_max = 0, rate floor 0.5/s, capacity 1.
        a.on_response(t(0.1), true);
        assert!(a.enabled());
        assert_eq!(a.fill_rate(), 0.5);
        assert_eq!(a.max_capacity, 1.0);
        // The bucket holds the 0.1 s of refill at the initial rate 1/s (= 0.1): the first
        // send waits (1 − 0.1) / 0.5 = 1.8 s, the next ones 2 s more each (FIFO reservations).
        let d1 = a.acquire_delay_ns(t(0.1));
        let d2 = a.acquire_delay_ns(t(0.1));
        let d3 = a.acquire_delay_ns(t(0.1));
        assert_eq!(d1, 1_800 * MS);
        assert_eq!(d2 - d1, 2_000 * MS);
        assert_eq!(d3 - d2, 2_000 * MS);
        // Long idle: the bucket refills only to its capacity (one token).
        assert_eq!(a.acquire_delay_ns(t(1_000.0)), 0);
        assert_eq!(a.acquire_delay_ns(t(1_000.0)), 2_000 * MS);
    }

    /// A client that wants 100 sends/s against a server that throttles everything beyond 20
    /// per second: after convergence the limiter keeps the send rate near the server's limit,
    /// most sends succeed, and the bucket never exceeds its capacity.
    #[test]
    fn aws_cubic_converges_near_server_limit() {
        let mut a = AwsAdaptiveLimiter::new(&AwsAdaptiveConfig::default());
        let mut now = 0u64;
        let (mut sec, mut in_sec) = (0u64, 0u32);
        let (mut sent, mut throttled) = (0u64, 0u64);
        let horizon = 600_000 * MS;
        while now < horizon {
            now += a.acquire_delay_ns(SimTime(now));
            assert!(a.content <= a.max_capacity);
            if now / 1_000_000_000 != sec {
                sec = now / 1_000_000_000;
                in_sec = 0;
            }
            in_sec += 1;
            let thr = in_sec > 20;
            a.on_response(SimTime(now), thr);
            assert!(a.content <= a.max_capacity);
            assert!(a.fill_rate().is_finite() && a.fill_rate() >= 0.5);
            if now > horizon / 2 {
                sent += 1;
                throttled += thr as u64;
            }
            now += 10 * MS;
        }
        let rate = sent as f64 / (horizon / 2) as f64 * 1e9;
        let frac = throttled as f64 / sent as f64;
        assert!(a.enabled());
        assert!(rate > 10.0 && rate < 25.0, "rate {rate}/s");
        assert!(frac < 0.25, "throttled fraction {frac}");
    }

    #[test]
    fn aws_is_nan_safe_with_degenerate_parameters() {
        let cfg = AwsAdaptiveConfig {
            scale_constant: 0.0,
            beta: f64::NAN,
            smoothing: f64::NAN,
            ..AwsAdaptiveConfig::default()
        };
        let mut a = AwsAdaptiveLimiter::new(&cfg);
        for i in 0..1_000u64 {
            let now = SimTime(i * 7 * MS);
            let _ = a.acquire_delay_ns(now);
            a.on_response(now, i % 3 == 0);
            assert!(!a.fill_rate().is_nan() && !a.content.is_nan());
        }
    }

    // ---- wrapper

    #[test]
    fn throttle_wrapper_dispatches() {
        let mut r = rng("wrap");
        let mut s = Throttle::new(&ThrottleConfig::Sre(SreThrottleConfig::default()));
        assert_eq!(s.admit(t(0.0), &mut r), Admission::Send { delay_ns: 0 });
        s.on_response(t(0.0), ThrottleSignal::Accepted);
        let mut a = Throttle::new(&ThrottleConfig::AwsAdaptive(AwsAdaptiveConfig::default()));
        a.on_response(t(0.1), ThrottleSignal::NoResponse);
        assert_eq!(a.admit(t(0.1), &mut r), Admission::Send { delay_ns: 0 });
        a.on_response(t(0.2), ThrottleSignal::Throttled);
        match a.admit(t(0.2), &mut r) {
            Admission::Send { delay_ns } => assert!(delay_ns > 0),
            Admission::Reject => panic!("AWS never rejects"),
        }
    }
}
