//! Retry budgets: client-wide limits on how many retries may be sent, whatever each request's
//! own `max_attempts` says. One enum, [`RetryBudget`], with a uniform protocol (one file of
//! about 900 lines, 580 of code and the rest their tests, because the five budgets share that
//! protocol and are tested against their published definitions side by side):
//!
//! 1. [`RetryBudget::on_request`] when a request's **first try** is sent;
//! 2. [`RetryBudget::try_acquire_retry`] before sending a **retry** — `false` means "do not
//!    retry, give up now"; `true` consumes whatever the budget charges for a retry;
//! 3. [`RetryBudget::on_success`] when an attempt **succeeds** (which ends its request), with
//!    whether the request had been retried;
//! 4. [`RetryBudget::on_failure`] when an attempt **fails** (each failed attempt, first try or
//!    retry, including the last one);
//! 5. [`RetryBudget::on_retry_finished`] when a retry attempt that was acquired **completes**
//!    (any outcome) — only the Envoy budget, which limits *concurrent* retries, uses it.
//!
//! Every method is O(1) (the Finagle window expires at most 10 buckets), allocation-free, and
//! exact: token counts that the sources define with fractions are kept as integer
//! milli-tokens or, for Finagle, in Finagle's own integer scaling.

use sim_core::SimTime;

use super::to_milli;
use super::window::SlidingWindow;

// --------------------------------------------------------------------------------------------
// AWS SDK standard-mode retry quota

/// AWS SDK standard retry mode's retry quota (botocore `retries/quota.py` and `standard.py`,
/// retry mode version 2.0; `policies.md` §2). Defaults are botocore's.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AwsQuotaConfig {
    /// Bucket size and initial content (`INITIAL_CAPACITY` 500).
    pub capacity: u32,
    /// Cost of a retry (`RETRY_COST` 5).
    pub retry_cost: u32,
    /// Cost of a retry after a connect or read timeout (`TIMEOUT_RETRY_COST` 10).
    pub timeout_retry_cost: u32,
    /// Refund for a success that needed no retry (`NO_RETRY_INCREMENT` 1).
    pub no_retry_increment: u32,
}

impl Default for AwsQuotaConfig {
    fn default() -> Self {
        AwsQuotaConfig {
            capacity: 500,
            retry_cost: 5,
            timeout_retry_cost: 10,
            no_retry_increment: 1,
        }
    }
}

/// The AWS retry quota: `available` starts at `capacity`. A retry needs and takes
/// `retry_cost` (or `timeout_retry_cost` after a timeout); without enough capacity there is
/// no retry. A successful (2xx) response refunds `no_retry_increment` if the request was not
/// retried, else the amount its last retry took; refunds are capped at `capacity`. Failures
/// refund nothing.
///
/// botocore keeps "the amount last taken" per request. [`AwsRetryQuota::on_success`] (and
/// [`RetryBudget::on_success`]) approximate it with the amount taken by the most recent retry
/// of *any* request — exact unless timeout and non-timeout retries interleave;
/// [`AwsRetryQuota::on_success_exact`] is exact for callers that remember, per request,
/// whether its last retry followed a timeout.
#[derive(Clone, Debug, PartialEq)]
pub struct AwsRetryQuota {
    cfg: AwsQuotaConfig,
    available: u32,
    last_taken: u32,
}

impl AwsRetryQuota {
    pub fn new(cfg: &AwsQuotaConfig) -> Self {
        AwsRetryQuota {
            cfg: *cfg,
            available: cfg.capacity,
            last_taken: cfg.retry_cost,
        }
    }

    /// Remaining capacity.
    pub fn available(&self) -> u32 {
        self.available
    }

    /// The cost of a retry.
    #[inline]
    pub fn cost(&self, after_timeout: bool) -> u32 {
        if after_timeout {
            self.cfg.timeout_retry_cost
        } else {
            self.cfg.retry_cost
        }
    }

    /// Takes the cost of a retry if available.
    #[inline]
    pub fn try_acquire(&mut self, after_timeout: bool) -> bool {
        let cost = self.cost(after_timeout);
        if self.available >= cost {
            self.available -= cost;
            self.last_taken = cost;
            true
        } else {
            false
        }
    }

    /// Adds `amount`, up to `capacity`.
    #[inline]
    pub fn release(&mut self, amount: u32) {
        self.available = self.available.saturating_add(amount).min(self.cfg.capacity);
    }

    /// A request succeeded: refund 1, or the amount last taken if it was retried.
    #[inline]
    pub fn on_success(&mut self, was_retry: bool) {
        let amount = if was_retry {
            self.last_taken
        } else {
            self.cfg.no_retry_increment
        };
        self.release(amount);
    }

    /// A request succeeded; `last_retry_after_timeout` is `None` if it was not retried, else
    /// whether its last retry followed a timeout (so the refund is that retry's exact cost).
    #[inline]
    pub fn on_success_exact(&mut self, last_retry_after_timeout: Option<bool>) {
        let amount = match last_retry_after_timeout {
            None => self.cfg.no_retry_increment,
            Some(t) => self.cost(t),
        };
        self.release(amount);
    }
}

// --------------------------------------------------------------------------------------------
// gRPC retryThrottling

/// gRPC `retryThrottling` (gRFC A6; `policies.md` §3). Defaults are the A6 example.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct GrpcThrottleConfig {
    /// `maxTokens`, in `(0, 1000]`.
    pub max_tokens: f64,
    /// `tokenRatio` (> 0, up to three decimals).
    pub token_ratio: f64,
}

impl Default for GrpcThrottleConfig {
    fn default() -> Self {
        GrpcThrottleConfig {
            max_tokens: 10.0,
            token_ratio: 0.1,
        }
    }
}

/// gRPC retry throttling: `token_count` starts at `maxTokens`; every failed attempt takes 1
/// (floor 0), every successful one adds `tokenRatio` (cap `maxTokens`); retries (and hedges)
/// are allowed only while `token_count > maxTokens / 2`. A retry itself costs nothing.
///
/// Kept in integer milli-tokens, like grpc-java (`maxTokens` and `tokenRatio` scaled by 1000,
/// here rounded to nearest rather than truncated), so `tokenRatio = 0.1` adds exactly 0.1.
#[derive(Clone, Debug, PartialEq)]
pub struct GrpcThrottle {
    max_milli: u64,
    ratio_milli: u64,
    tokens_milli: u64,
}

impl GrpcThrottle {
    pub fn new(cfg: &GrpcThrottleConfig) -> Self {
        let max_milli = to_milli(cfg.max_tokens);
        GrpcThrottle {
            max_milli,
            ratio_milli: to_milli(cfg.token_ratio),
            tokens_milli: max_milli,
        }
    }

    /// The current `token_count`.
    pub fn tokens(&self) -> f64 {
        self.tokens_milli as f64 / 1000.0
    }

    /// `token_count > maxTokens / 2`.
    #[inline]
    pub fn allows_retry(&self) -> bool {
        self.tokens_milli.saturating_mul(2) > self.max_milli
    }

    #[inline]
    pub fn on_success(&mut self) {
        self.tokens_milli = self
            .tokens_milli
            .saturating_add(self.ratio_milli)
            .min(self.max_milli);
    }

    #[inline]
    pub fn on_failure(&mut self) {
        self.tokens_milli = self.tokens_milli.saturating_sub(1000);
    }
}

// --------------------------------------------------------------------------------------------
// Finagle / Tower retry budget

/// Finagle's `RetryBudget(ttl, minRetriesPerSec, percentCanRetry)` (Tower's
/// `Budget::new(ttl, min_per_sec, retry_percent)` is the same model; `policies.md` §5).
/// Defaults are Finagle's `RetryBudget()`: 10 s, 10 retries/s, 20 %.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct FinagleConfig {
    /// How long deposits (and withdrawals) count; Finagle requires 1–60 s.
    pub ttl_ns: u64,
    /// `minRetriesPerSec`: retries always allowed per second of `ttl`, whatever the traffic.
    pub min_retries_per_sec: u32,
    /// `percentCanRetry` as a fraction (Finagle's parameter *is* a fraction despite its name:
    /// 0.2 = 20 %), in `[0, 1000]`.
    pub retry_fraction: f64,
}

impl Default for FinagleConfig {
    fn default() -> Self {
        FinagleConfig {
            ttl_ns: 10_000_000_000,
            min_retries_per_sec: 10,
            retry_fraction: 0.2,
        }
    }
}

/// Finagle's token retry budget, with Finagle's integer scaling
/// (`com.twitter.finagle.service.RetryBudget.apply`):
///
/// - each request deposits `D = 1000`; a retry withdraws `W = ⌊1000 / percentCanRetry⌋`
///   (`D + 1` if `percentCanRetry = 0`);
/// - deposits and withdrawals are summed over a sliding window of `ttl` (10 buckets of
///   `ttl / 10`, Finagle's `WindowedAdder`) and a constant reserve
///   `R = minRetriesPerSec · ttl · W` is added;
/// - a retry is allowed iff `R + Σ ≥ W`, and then withdraws `W`.
///
/// Equivalently: within the window, `retries (including this one) ≤ minRetriesPerSec · ttl +
/// percentCanRetry · requests`. `balance = (R + Σ) / W` is the number of retries available.
///
/// Deposits are made for every request (as in Finagle's `RetryFilter` and the original
/// `RequeueFilter`; newer `RequeueFilter`s deposit only for responses not classified as
/// failures).
#[derive(Clone, Debug, PartialEq)]
pub struct FinagleBudget {
    withdraw: i64,
    reserve: i64,
    window: SlidingWindow<10, 1>,
}

/// Finagle's `DepositAmount` (its "scale factor" allowing percentages below 1).
const FINAGLE_DEPOSIT: i64 = 1000;
/// Finagle's `RequeueFilter` limits each request to `⌈0.2 · balance⌉` requeues
/// (`Retries.MaxRequeuesPerReq`).
const FINAGLE_MAX_REQUEUES_PER_REQ: f64 = 0.2;

impl FinagleBudget {
    pub fn new(cfg: &FinagleConfig) -> Self {
        let p = cfg.retry_fraction;
        let withdraw = if p > 0.0 {
            // Truncation as in Finagle's `(scaleFactor / percentCanRetry).toInt`.
            ((FINAGLE_DEPOSIT as f64 / p) as i64).max(1)
        } else {
            FINAGLE_DEPOSIT + 1
        };
        let reserve = (cfg.min_retries_per_sec as u128)
            .saturating_mul(withdraw as u128)
            .saturating_mul(cfg.ttl_ns as u128)
            / 1_000_000_000;
        FinagleBudget {
            withdraw,
            reserve: reserve.min(i64::MAX as u128) as i64,
            window: SlidingWindow::new(cfg.ttl_ns),
        }
    }

    /// A request: deposit `D`.
    #[inline]
    pub fn deposit(&mut self, now: SimTime) {
        self.window.add(now, 0, FINAGLE_DEPOSIT);
    }

    /// A retry: withdraw `W` if `R + Σ ≥ W`.
    #[inline]
    pub fn try_withdraw(&mut self, now: SimTime) -> bool {
        let have = self.reserve.saturating_add(self.window.total(now, 0));
        if have >= self.withdraw {
            self.window.add(now, 0, -self.withdraw);
            true
        } else {
            false
        }
    }

    /// Retries currently available: `(R + Σ) / W` (Finagle's `balance`), at least 0.
    #[inline]
    pub fn balance(&mut self, now: SimTime) -> i64 {
        (self.reserve.saturating_add(self.window.total(now, 0)) / self.withdraw).max(0)
    }

    /// Finagle's per-request requeue limit, evaluated when a request starts (after its
    /// deposit): `⌈0.2 · balance⌉`.
    #[inline]
    pub fn max_retries_per_request(&mut self, now: SimTime) -> u32 {
        let b = self.balance(now) as f64;
        (FINAGLE_MAX_REQUEUES_PER_REQ * b)
            .ceil()
            .min(u32::MAX as f64) as u32
    }
}

// --------------------------------------------------------------------------------------------
// Envoy retry budget

/// Envoy cluster circuit breaker `retry_budget` (`circuit_breaker.proto`; `policies.md` §4).
/// Defaults are Envoy's: 20 %, minimum concurrency 3.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct EnvoyBudgetConfig {
    /// `budget_percent` as a fraction (Envoy's 20.0 % is 0.2).
    pub budget_fraction: f64,
    /// `min_retry_concurrency`.
    pub min_retry_concurrency: u32,
}

impl Default for EnvoyBudgetConfig {
    fn default() -> Self {
        EnvoyBudgetConfig {
            budget_fraction: 0.2,
            min_retry_concurrency: 3,
        }
    }
}

/// Envoy's retry budget limits *concurrent* retries: a retry may start iff
/// `active_retries < max(min_retry_concurrency, ⌊budget_percent/100 · (active + pending
/// requests)⌋)` (Envoy `ResourceManagerImpl::RetryBudgetImpl::max`, which truncates the
/// product to an integer). A retry counts as active from its acquisition until it completes
/// ([`RetryBudget::on_retry_finished`]), as Envoy's `retries()` resource is held from the retry
/// decision through the retried request.
#[derive(Clone, Debug, PartialEq)]
pub struct EnvoyBudget {
    cfg: EnvoyBudgetConfig,
    active_retries: u64,
}

impl EnvoyBudget {
    pub fn new(cfg: &EnvoyBudgetConfig) -> Self {
        EnvoyBudget {
            cfg: *cfg,
            active_retries: 0,
        }
    }

    /// Retries in flight.
    pub fn active_retries(&self) -> u64 {
        self.active_retries
    }

    /// `max(min_retry_concurrency, ⌊fraction · active_requests⌋)` (the cast saturates, NaN → 0).
    #[inline]
    pub fn max_active_retries(&self, active_requests: u64) -> u64 {
        let by_budget = (self.cfg.budget_fraction * active_requests as f64) as u64;
        by_budget.max(self.cfg.min_retry_concurrency as u64)
    }

    #[inline]
    pub fn try_acquire(&mut self, active_requests: u64) -> bool {
        if self.active_retries < self.max_active_retries(active_requests) {
            self.active_retries += 1;
            true
        } else {
            false
        }
    }

    #[inline]
    pub fn on_retry_finished(&mut self) {
        self.active_retries = self.active_retries.saturating_sub(1);
    }
}

// --------------------------------------------------------------------------------------------
// Brooker's token bucket ("adaptive retries")

/// Marc Brooker's retry token bucket (`mbrooker/simulator_example/retry_sim/retry_strategy.py`
/// `AdaptiveRetryStrategy`; blog 2022-02-28; `policies.md` §8). The defaults are the blog's
/// example fill rate 0.1 with a 10-token bucket.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct BrookerBucketConfig {
    /// Tokens deposited by each request (resolution 0.001).
    pub fill_rate: f64,
    /// Bucket size and initial content (resolution 0.001).
    pub bucket_size: f64,
}

impl Default for BrookerBucketConfig {
    fn default() -> Self {
        BrookerBucketConfig {
            fill_rate: 0.1,
            bucket_size: 10.0,
        }
    }
}

/// Brooker's bucket: starts full; each request deposits `fill_rate`, up to `bucket_size`; a
/// retry is allowed iff the bucket holds **more than** one token (`if self.bucket > 1.0` in
/// the source), and spends one. Integer milli-tokens, so ten deposits of 0.1 make exactly 1.
#[derive(Clone, Debug, PartialEq)]
pub struct BrookerBucket {
    fill_milli: u64,
    size_milli: u64,
    tokens_milli: u64,
}

impl BrookerBucket {
    pub fn new(cfg: &BrookerBucketConfig) -> Self {
        let size_milli = to_milli(cfg.bucket_size);
        BrookerBucket {
            fill_milli: to_milli(cfg.fill_rate),
            size_milli,
            tokens_milli: size_milli,
        }
    }

    pub fn tokens(&self) -> f64 {
        self.tokens_milli as f64 / 1000.0
    }

    #[inline]
    pub fn deposit(&mut self) {
        self.tokens_milli = self
            .tokens_milli
            .saturating_add(self.fill_milli)
            .min(self.size_milli);
    }

    #[inline]
    pub fn try_withdraw(&mut self) -> bool {
        if self.tokens_milli > 1000 {
            self.tokens_milli -= 1000;
            true
        } else {
            false
        }
    }
}

// --------------------------------------------------------------------------------------------
// The uniform enum

/// Configuration of a [`RetryBudget`].
#[derive(Clone, Debug, PartialEq, Default)]
pub enum RetryBudgetConfig {
    /// No client-wide limit (only `max_attempts`).
    #[default]
    Unlimited,
    AwsQuota(AwsQuotaConfig),
    GrpcThrottle(GrpcThrottleConfig),
    Finagle(FinagleConfig),
    Envoy(EnvoyBudgetConfig),
    TokenBucket(BrookerBucketConfig),
}

/// A client-wide retry budget (state). See the module docs for the calling protocol and each
/// variant's type for its exact definition.
#[derive(Clone, Debug, PartialEq)]
pub enum RetryBudget {
    Unlimited,
    AwsQuota(AwsRetryQuota),
    GrpcThrottle(GrpcThrottle),
    Finagle(FinagleBudget),
    Envoy(EnvoyBudget),
    TokenBucket(BrookerBucket),
}

impl RetryBudget {
    /// A fresh budget (full, or empty window) for `cfg`; time starts at 0.
    pub fn new(cfg: &RetryBudgetConfig) -> Self {
        match cfg {
            RetryBudgetConfig::Unlimited => RetryBudget::Unlimited,
            RetryBudgetConfig::AwsQuota(c) => RetryBudget::AwsQuota(AwsRetryQuota::new(c)),
            RetryBudgetConfig::GrpcThrottle(c) => RetryBudget::GrpcThrottle(GrpcThrottle::new(c)),
            RetryBudgetConfig::Finagle(c) => RetryBudget::Finagle(FinagleBudget::new(c)),
            RetryBudgetConfig::Envoy(c) => RetryBudget::Envoy(EnvoyBudget::new(c)),
            RetryBudgetConfig::TokenBucket(c) => RetryBudget::TokenBucket(BrookerBucket::new(c)),
        }
    }

    /// A request's first try is sent. Finagle deposits `D`; Brooker's bucket deposits
    /// `fill_rate`; the others ignore it.
    #[inline]
    pub fn on_request(&mut self, now: SimTime) {
        match self {
            RetryBudget::Finagle(b) => b.deposit(now),
            RetryBudget::TokenBucket(b) => b.deposit(),
            RetryBudget::Unlimited
            | RetryBudget::AwsQuota(_)
            | RetryBudget::GrpcThrottle(_)
            | RetryBudget::Envoy(_) => {}
        }
    }

    /// May a retry be sent now? If so, its cost is taken. `after_timeout`: the failed attempt
    /// timed out (AWS charges 10 instead of 5). `active_requests`: the caller's requests in
    /// flight or pending (Envoy's budget is a fraction of it).
    #[inline]
    pub fn try_acquire_retry(
        &mut self,
        now: SimTime,
        after_timeout: bool,
        active_requests: u64,
    ) -> bool {
        match self {
            RetryBudget::Unlimited => true,
            RetryBudget::AwsQuota(q) => q.try_acquire(after_timeout),
            RetryBudget::GrpcThrottle(t) => t.allows_retry(),
            RetryBudget::Finagle(b) => b.try_withdraw(now),
            RetryBudget::Envoy(b) => b.try_acquire(active_requests),
            RetryBudget::TokenBucket(b) => b.try_withdraw(),
        }
    }

    /// An attempt succeeded (ending its request); `was_retry`: the request had been retried.
    /// AWS refunds 1 or the amount last taken; gRPC adds `tokenRatio`.
    #[inline]
    pub fn on_success(&mut self, _now: SimTime, was_retry: bool) {
        match self {
            RetryBudget::AwsQuota(q) => q.on_success(was_retry),
            RetryBudget::GrpcThrottle(t) => t.on_success(),
            RetryBudget::Unlimited
            | RetryBudget::Finagle(_)
            | RetryBudget::Envoy(_)
            | RetryBudget::TokenBucket(_) => {}
        }
    }

    /// As [`RetryBudget::on_success`], for callers that remember per request whether its last
    /// retry followed a timeout (`None`: not retried). Makes the AWS refund exact.
    #[inline]
    pub fn on_success_exact(&mut self, now: SimTime, last_retry_after_timeout: Option<bool>) {
        match self {
            RetryBudget::AwsQuota(q) => q.on_success_exact(last_retry_after_timeout),
            _ => self.on_success(now, last_retry_after_timeout.is_some()),
        }
    }

    /// An attempt failed. gRPC takes one token; the others ignore it.
    #[inline]
    pub fn on_failure(&mut self, _now: SimTime) {
        match self {
            RetryBudget::GrpcThrottle(t) => t.on_failure(),
            RetryBudget::Unlimited
            | RetryBudget::AwsQuota(_)
            | RetryBudget::Finagle(_)
            | RetryBudget::Envoy(_)
            | RetryBudget::TokenBucket(_) => {}
        }
    }

    /// A retry admitted by [`RetryBudget::try_acquire_retry`] has completed (any outcome).
    /// Envoy releases its concurrency slot; the others ignore it.
    #[inline]
    pub fn on_retry_finished(&mut self) {
        if let RetryBudget::Envoy(b) = self {
            b.on_retry_finished();
        }
    }

    /// A per-request retry limit that the budget imposes when a request starts, if any: only
    /// Finagle, whose `RequeueFilter` allows `⌈0.2 · balance⌉` retries per request (call after
    /// [`RetryBudget::on_request`]). `None` for the others.
    #[inline]
    pub fn request_retry_cap(&mut self, now: SimTime) -> Option<u32> {
        match self {
            RetryBudget::Finagle(b) => Some(b.max_retries_per_request(now)),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    fn t(secs: f64) -> SimTime {
        SimTime::from_secs_f64(secs)
    }

    // ---- AWS

    #[test]
    fn aws_quota_costs_and_refunds() {
        let mut b = RetryBudget::new(&RetryBudgetConfig::AwsQuota(AwsQuotaConfig::default()));
        let q = |b: &RetryBudget| match b {
            RetryBudget::AwsQuota(q) => q.available(),
            _ => unreachable!(),
        };
        assert_eq!(q(&b), 500);
        assert!(b.try_acquire_retry(t(0.0), false, 0));
        assert_eq!(q(&b), 495);
        assert!(b.try_acquire_retry(t(0.0), true, 0));
        assert_eq!(q(&b), 485);
        // success after retries refunds the amount last taken (10, the timeout retry)
        b.on_success(t(0.0), true);
        assert_eq!(q(&b), 495);
        // failure refunds nothing
        b.on_failure(t(0.0));
        assert_eq!(q(&b), 495);
        // success without retry refunds 1, capped at capacity
        for _ in 0..20 {
            b.on_success(t(0.0), false);
        }
        assert_eq!(q(&b), 500);
    }

    #[test]
    fn aws_quota_exhausts_then_refuses() {
        let mut q = AwsRetryQuota::new(&AwsQuotaConfig::default());
        let mut n = 0;
        while q.try_acquire(false) {
            n += 1;
        }
        assert_eq!(n, 100); // 500 / 5
        assert_eq!(q.available(), 0);
        // After 5 clean successes one retry is possible again.
        for _ in 0..5 {
            q.on_success(false);
        }
        assert!(!q.try_acquire(true)); // a timeout retry needs 10
        assert!(q.try_acquire(false));
        assert!(!q.try_acquire(false));
    }

    #[test]
    fn aws_quota_exact_refund() {
        let mut q = AwsRetryQuota::new(&AwsQuotaConfig::default());
        assert!(q.try_acquire(true)); // request A, after timeout: 10
        assert!(q.try_acquire(false)); // request B: 5 (now last_taken = 5)
        q.on_success_exact(Some(true)); // A succeeds: refund 10
        assert_eq!(q.available(), 495);
        q.on_success_exact(Some(false));
        assert_eq!(q.available(), 500);
        let mut q = AwsRetryQuota::new(&AwsQuotaConfig::default());
        assert!(q.try_acquire(false));
        q.on_success_exact(None);
        assert_eq!(q.available(), 496);
    }

    // ---- gRPC

    #[test]
    fn grpc_throttling_stops_retries_at_half_tokens() {
        let cfg = GrpcThrottleConfig::default(); // 10, 0.1
        let mut b = RetryBudget::new(&RetryBudgetConfig::GrpcThrottle(cfg));
        let now = t(0.0);
        // 10 → 6: retries allowed (6 > 5)
        for _ in 0..4 {
            b.on_failure(now);
        }
        assert!(b.try_acquire_retry(now, false, 0));
        // a retry costs nothing
        assert!(b.try_acquire_retry(now, false, 0));
        // 5: not > 5, retries stop
        b.on_failure(now);
        assert!(!b.try_acquire_retry(now, false, 0));
        // one success: 5.1 > 5, retries resume
        b.on_success(now, false);
        assert!(b.try_acquire_retry(now, false, 0));
    }

    #[test]
    fn grpc_tokens_floor_cap_and_exact_ratio() {
        let mut g = GrpcThrottle::new(&GrpcThrottleConfig::default());
        for _ in 0..100 {
            g.on_failure();
        }
        assert_eq!(g.tokens(), 0.0);
        assert!(!g.allows_retry());
        // 51 successes of 0.1 = exactly 5.1 (no float drift)
        for _ in 0..51 {
            g.on_success();
        }
        assert_eq!(g.tokens_milli, 5_100);
        assert!(g.allows_retry());
        for _ in 0..1_000 {
            g.on_success();
        }
        assert_eq!(g.tokens(), 10.0);
    }

    #[test]
    fn grpc_throttles_above_ten_percent_failures() {
        // A6: maxTokens 10, tokenRatio 0.1 throttles when failures exceed ≈ 10 %: with a
        // failure fraction p the drift per attempt is 0.1 (1 − p) − p, negative iff p > 1/11.
        for (fail_every, throttled) in [(20u32, false), (11, false), (8, true), (3, true)] {
            let mut g = GrpcThrottle::new(&GrpcThrottleConfig::default());
            for i in 1..=10_000u32 {
                if i % fail_every == 0 {
                    g.on_failure();
                } else {
                    g.on_success();
                }
            }
            assert_eq!(!g.allows_retry(), throttled, "1 in {fail_every}");
        }
    }

    // ---- Finagle

    #[test]
    fn finagle_scaling_matches_finagle() {
        let f = FinagleBudget::new(&FinagleConfig::default());
        assert_eq!(f.withdraw, 5_000);
        assert_eq!(f.reserve, 10 * 10 * 5_000);
        let z = FinagleBudget::new(&FinagleConfig {
            retry_fraction: 0.0,
            ..FinagleConfig::default()
        });
        assert_eq!(z.withdraw, 1_001);
    }

    #[test]
    fn finagle_min_retries_with_no_traffic() {
        // No deposits: exactly minRetriesPerSec · ttl = 100 retries per window.
        let mut b = RetryBudget::new(&RetryBudgetConfig::Finagle(FinagleConfig::default()));
        let mut n = 0;
        while b.try_acquire_retry(t(1.0), false, 0) {
            n += 1;
        }
        assert_eq!(n, 100);
        // Withdrawals expire with the window: 10 s later the reserve is whole again.
        assert!(!b.try_acquire_retry(t(10.9), false, 0));
        assert!(b.try_acquire_retry(t(11.0), false, 0));
    }

    #[test]
    fn finagle_percent_of_requests() {
        // 1000 requests in a window allow 100 (reserve) + 20 % · 1000 = 300 retries.
        let mut b = FinagleBudget::new(&FinagleConfig::default());
        for _ in 0..1_000 {
            b.deposit(t(0.5));
        }
        assert_eq!(b.balance(t(0.5)), 300);
        assert_eq!(b.max_retries_per_request(t(0.5)), 60);
        let mut n = 0;
        while b.try_withdraw(t(0.6)) {
            n += 1;
        }
        assert_eq!(n, 300);
        assert_eq!(b.balance(t(0.6)), 0);
        assert_eq!(b.max_retries_per_request(t(0.6)), 0);
    }

    #[test]
    fn finagle_agrees_with_brute_force_recount() {
        // Random traffic: a retry is accepted iff, counting everything in the window (the
        // current bucket of ttl/10 and the 9 before it), (retries + 1) ≤ min · ttl +
        // fraction · requests — i.e. (w + 1) · W ≤ R + D · d in Finagle's integers.
        let cfg = FinagleConfig {
            ttl_ns: 2 * S,
            min_retries_per_sec: 5,
            retry_fraction: 0.1,
        };
        let mut b = FinagleBudget::new(&cfg);
        assert_eq!((b.withdraw, b.reserve), (10_000, 100_000));
        let slice = cfg.ttl_ns / 10;
        let mut log: Vec<(u64, bool)> = Vec::new(); // (time, is_retry)
        let mut x: u64 = 99;
        let mut now = 0u64;
        let (mut accepted, mut refused) = (0, 0);
        for _ in 0..30_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            now += (x >> 40) % 2_000_000; // ≤ 2 ms
            if (x >> 20).is_multiple_of(3) {
                b.deposit(SimTime(now));
                log.push((now, false));
                continue;
            }
            let lo = (now / slice).saturating_sub(9) * slice;
            let (mut d, mut w) = (0i64, 0i64);
            for &(_, r) in log.iter().rev().take_while(|(ti, _)| *ti >= lo) {
                if r {
                    w += 1;
                } else {
                    d += 1;
                }
            }
            let expect = (w + 1) * 10_000 <= 100_000 + 1_000 * d;
            let got = b.try_withdraw(SimTime(now));
            assert_eq!(got, expect, "t={now} w={w} d={d}");
            if got {
                accepted += 1;
                log.push((now, true));
            } else {
                refused += 1;
            }
        }
        assert!(accepted > 500 && refused > 500, "{accepted} {refused}");
    }

    // ---- Envoy

    #[test]
    fn envoy_budget_concurrency() {
        let mut b = RetryBudget::new(&RetryBudgetConfig::Envoy(EnvoyBudgetConfig::default()));
        let now = t(0.0);
        // Few active requests: min_retry_concurrency 3 applies.
        assert!(b.try_acquire_retry(now, false, 5));
        assert!(b.try_acquire_retry(now, false, 5));
        assert!(b.try_acquire_retry(now, false, 5));
        assert!(!b.try_acquire_retry(now, false, 5));
        // 100 active: 20 % = 20 concurrent retries.
        for _ in 3..20 {
            assert!(b.try_acquire_retry(now, false, 100));
        }
        assert!(!b.try_acquire_retry(now, false, 100));
        // 24 active: ⌊4.8⌋ = 4 < 20 in flight, refused until they finish.
        b.on_retry_finished();
        assert!(!b.try_acquire_retry(now, false, 24));
        for _ in 0..16 {
            b.on_retry_finished();
        }
        // 3 in flight < max(3, 4)
        assert!(b.try_acquire_retry(now, false, 24));
        assert!(!b.try_acquire_retry(now, false, 24));
        // finishing more than acquired saturates at 0
        for _ in 0..100 {
            b.on_retry_finished();
        }
        match &b {
            RetryBudget::Envoy(e) => assert_eq!(e.active_retries(), 0),
            _ => unreachable!(),
        }
    }

    // ---- Brooker

    #[test]
    fn brooker_bucket_never_exceeds_capacity_and_needs_more_than_one() {
        let cfg = BrookerBucketConfig {
            fill_rate: 0.1,
            bucket_size: 3.0,
        };
        let mut b = BrookerBucket::new(&cfg);
        for _ in 0..1_000 {
            b.deposit();
            assert!(b.tokens() <= 3.0);
        }
        assert!(b.try_withdraw()); // 3 → 2
        assert!(b.try_withdraw()); // 2 → 1
        assert!(!b.try_withdraw()); // 1 is not > 1
        // ten deposits of 0.1 make exactly one more token: 2.0 > 1
        for _ in 0..10 {
            b.deposit();
        }
        assert_eq!(b.tokens_milli, 2_000);
        assert!(b.try_withdraw());
        assert!(!b.try_withdraw());
    }

    #[test]
    fn brooker_bucket_long_run_retry_fraction() {
        // Everything fails: retries converge on fill_rate per request.
        let mut b = RetryBudget::new(&RetryBudgetConfig::TokenBucket(
            BrookerBucketConfig::default(),
        ));
        let mut retries = 0u32;
        let now = t(0.0);
        for _ in 0..100_000 {
            b.on_request(now);
            b.on_failure(now);
            while retries < u32::MAX && b.try_acquire_retry(now, false, 0) {
                retries += 1;
                b.on_failure(now);
            }
        }
        let ratio = retries as f64 / 100_000.0;
        assert!((ratio - 0.1).abs() < 0.001, "{ratio}");
    }

    #[test]
    fn unlimited_always_allows() {
        let mut b = RetryBudget::new(&RetryBudgetConfig::Unlimited);
        for _ in 0..1_000 {
            b.on_failure(t(0.0));
            assert!(b.try_acquire_retry(t(0.0), true, 0));
        }
        assert_eq!(b.request_retry_cap(t(0.0)), None);
    }
}
