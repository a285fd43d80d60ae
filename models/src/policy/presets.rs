//! Named retry policies that reproduce real clients and proxies with their published
//! defaults. Each preset's expansion and source is documented on its constructor; the table
//! in [`preset`] summarizes them.

use super::backoff::{Backoff, BackoffKind, Jitter};
use super::breaker::CircuitBreakerConfig;
use super::budget::{
    AwsQuotaConfig, EnvoyBudgetConfig, FinagleConfig, GrpcThrottleConfig, RetryBudgetConfig,
};
use super::throttle::{AwsAdaptiveConfig, SreThrottleConfig, ThrottleConfig};

const MS: u64 = 1_000_000;
const S: u64 = 1_000_000_000;

/// A client's complete retry and overload policy (configuration only; each client builds its
/// own state: `RetryBudget::new`, `CircuitBreaker::new`, `Throttle::new`).
#[derive(Clone, Debug, PartialEq)]
pub struct RetryPolicy {
    /// Attempts per request, including the first (1 = never retry).
    pub max_attempts: u32,
    /// Delay before each retry.
    pub backoff: Backoff,
    /// Client-wide limit on retries.
    pub budget: RetryBudgetConfig,
    /// Optional circuit breaker (consulted before every attempt).
    pub breaker: Option<CircuitBreakerConfig>,
    /// Optional client-side throttle (consulted before every attempt).
    pub throttle: Option<ThrottleConfig>,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        none()
    }
}

/// Every preset name accepted by [`preset`], in documentation order.
pub const PRESET_NAMES: &[&str] = &[
    "aws-sdk-standard",
    "aws-sdk-legacy",
    "aws-sdk-adaptive",
    "grpc",
    "envoy",
    "finagle",
    "resilience4j",
    "sre-throttle",
    "none",
];

/// The preset called `name`, or `None` if there is no such preset.
///
/// | name | attempts | backoff before retry n | budget / breaker / throttle |
/// |---|---|---|---|
/// | `aws-sdk-standard` | 3 | `U(0, min(1 s · 2^(n−1), 20 s))` | AWS retry quota 500 (cost 5, 10 after timeout) |
/// | `aws-sdk-legacy` | 5 | `U(0, 1 s · 2^(n−1))` | none |
/// | `aws-sdk-adaptive` | 3 | as standard | AWS retry quota + CUBIC client rate limiter |
/// | `grpc` | 4 | `U(0, min(0.1 s · 2^(n−1), 1 s))` | retryThrottling maxTokens 10, tokenRatio 0.1 |
/// | `envoy` | 2 | `U(0, min(25 ms · 2^(n−1), 250 ms))` | retry budget 20 % of active, min 3 concurrent |
/// | `finagle` | unbounded | none (immediate) | RetryBudget 10 s ttl, 10/s minimum, 20 % |
/// | `resilience4j` | 3 | `500 ms · 1.5^(n−1) · U(0.5, 1.5)` | breaker: 50 % of last 100 calls (min 100), open 60 s, 10 probes |
/// | `sre-throttle` | 3 | none (immediate) | SRE adaptive throttling, K = 2 over 120 s |
/// | `none` | 1 | — | — |
pub fn preset(name: &str) -> Option<RetryPolicy> {
    Some(match name {
        "aws-sdk-standard" => aws_sdk_standard(),
        "aws-sdk-legacy" => aws_sdk_legacy(),
        "aws-sdk-adaptive" => aws_sdk_adaptive(),
        "grpc" => grpc(),
        "envoy" => envoy(),
        "finagle" => finagle(),
        "resilience4j" => resilience4j(),
        "sre-throttle" => sre_throttle(),
        "none" => none(),
        _ => return None,
    })
}

/// `aws-sdk-standard`: AWS SDK "standard" retry mode (botocore `retries/standard.py` and
/// `quota.py`, retry mode version 2.0; AWS SDKs and Tools reference guide, "Retry behavior").
///
/// - 3 attempts (default `max_attempts`);
/// - full-jitter exponential backoff: retry `n` waits `U(0, min(1 s · 2^(n−1), 20 s))`;
/// - retry quota: 500 tokens (initial = max); a retry costs 5, or 10 after a connect/read
///   timeout; a success refunds 1 (no retry) or the amount last taken; no capacity ⇒ no retry.
pub fn aws_sdk_standard() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        backoff: Backoff::new(
            BackoffKind::Exponential {
                base_ns: S,
                multiplier: 2.0,
                cap_ns: 20 * S,
            },
            Jitter::Full,
        ),
        budget: RetryBudgetConfig::AwsQuota(AwsQuotaConfig::default()),
        breaker: None,
        throttle: None,
    }
}

/// `aws-sdk-legacy`: botocore's "legacy" retry mode (`botocore/data/_retry.json`:
/// `max_attempts` 5, delay `base: "rand"`, `growth_factor: 2`).
///
/// - 5 attempts;
/// - retry `n` waits `rand(0, 1) · 2^(n−1)` s (full jitter, base 1 s, ×2, no cap — at most 8 s
///   within 5 attempts);
/// - no retry quota. (DynamoDB's legacy policy, 10 attempts with a fixed 50 ms base, and other
///   SDKs' legacy modes differ.)
pub fn aws_sdk_legacy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 5,
        backoff: Backoff::new(
            BackoffKind::Exponential {
                base_ns: S,
                multiplier: 2.0,
                cap_ns: u64::MAX,
            },
            Jitter::Full,
        ),
        budget: RetryBudgetConfig::Unlimited,
        breaker: None,
        throttle: None,
    }
}

/// `aws-sdk-adaptive`: AWS SDK "adaptive" retry mode (botocore `retries/adaptive.py`,
/// `bucket.py`, `throttling.py`): everything in `aws-sdk-standard`, plus a client-side rate
/// limiter applied to every attempt, enabled by the first throttling response: a token bucket
/// (minimum fill rate 0.5/s, capacity `max(1, rate)`) whose rate follows CUBIC (β = 0.7,
/// C = 0.4), capped at 2× the measured rate (EWMA 0.8 over 0.5 s buckets). AWS notes it can
/// delay first attempts and is not recommended for multi-tenant clients.
pub fn aws_sdk_adaptive() -> RetryPolicy {
    RetryPolicy {
        throttle: Some(ThrottleConfig::AwsAdaptive(AwsAdaptiveConfig::default())),
        ..aws_sdk_standard()
    }
}

/// `grpc`: the example service config of gRFC A6 "Client retries"
/// (`grpc/proposal/A6-client-retries.md`).
///
/// - `maxAttempts` 4;
/// - retry `n` waits `random(0, min(initialBackoff · backoffMultiplier^(n−1), maxBackoff))`
///   with `initialBackoff` 0.1 s, `maxBackoff` 1 s, `backoffMultiplier` 2;
/// - `retryThrottling` `maxTokens` 10, `tokenRatio` 0.1: each failed attempt −1, each success
///   +0.1, no retries while `token_count ≤ 5` (throttles above ≈ 10 % failures).
pub fn grpc() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 4,
        backoff: Backoff::new(
            BackoffKind::Exponential {
                base_ns: 100 * MS,
                multiplier: 2.0,
                cap_ns: S,
            },
            Jitter::Full,
        ),
        budget: RetryBudgetConfig::GrpcThrottle(GrpcThrottleConfig::default()),
        breaker: None,
        throttle: None,
    }
}

/// `envoy`: Envoy's route retry policy and cluster retry budget defaults
/// (`config/route/v3` `RetryPolicy`, `config/core/v3/backoff.proto`,
/// `config/cluster/v3/circuit_breaker.proto`).
///
/// - `num_retries` 1 (2 attempts);
/// - fully jittered exponential backoff, `base_interval` 25 ms, `max_interval` 250 ms
///   (10 × base): the single retry waits `U(0, 25 ms)`. (Envoy's own schedule for retry `n` is
///   `U(0, (2^n − 1) · base)`, capped — identical for the first retry; later retries here use
///   `base · 2^(n−1)`);
/// - `retry_budget`: concurrent retries `< max(3, ⌊20 % · active requests⌋)`.
pub fn envoy() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 2,
        backoff: Backoff::new(
            BackoffKind::Exponential {
                base_ns: 25 * MS,
                multiplier: 2.0,
                cap_ns: 250 * MS,
            },
            Jitter::Full,
        ),
        budget: RetryBudgetConfig::Envoy(EnvoyBudgetConfig::default()),
        breaker: None,
        throttle: None,
    }
}

/// `finagle`: Finagle's default client retries (`RetryBudget()`, `Retries.Budget.default`;
/// finagle blog "Retry Budgets", 2016-02-08).
///
/// - budget: deposits expire after 10 s; retries allowed up to 10/s (100 per window) plus
///   20 % of requests;
/// - backoff: none (Finagle's default requeue schedule is `Backoff.const(Duration.Zero)`);
/// - attempts: no fixed limit (`u32::MAX`): the budget bounds retries. Finagle's
///   `RequeueFilter` also caps each request at `⌈0.2 · balance⌉` retries when it starts,
///   available as `RetryBudget::request_retry_cap`.
pub fn finagle() -> RetryPolicy {
    RetryPolicy {
        max_attempts: u32::MAX,
        backoff: Backoff::NONE,
        budget: RetryBudgetConfig::Finagle(FinagleConfig::default()),
        breaker: None,
        throttle: None,
    }
}

/// `resilience4j`: Resilience4j Retry and CircuitBreaker defaults (`RetryConfig`,
/// `IntervalFunction`, `CircuitBreakerConfig.ofDefaults()`).
///
/// - `maxAttempts` 3 (including the first call);
/// - randomized exponential backoff (`IntervalFunction.ofExponentialRandomBackoff` with its
///   defaults): retry `n` waits `500 ms · 1.5^(n−1) · U(0.5, 1.5)` (`waitDuration` 500 ms is
///   the initial interval), uncapped;
/// - circuit breaker: count-based window of the last 100 calls, at least 100 calls, opens at
///   a 50 % failure rate, stays open 60 s, then admits 10 probe calls (10 successes close
///   it; here any failed probe reopens it — see `breaker` for the difference);
/// - no retry budget.
pub fn resilience4j() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        backoff: Backoff::new(
            BackoffKind::Exponential {
                base_ns: 500 * MS,
                multiplier: 1.5,
                cap_ns: u64::MAX,
            },
            Jitter::Randomized { factor: 0.5 },
        ),
        budget: RetryBudgetConfig::Unlimited,
        breaker: Some(CircuitBreakerConfig::RESILIENCE4J),
        throttle: None,
    }
}

/// `sre-throttle`: the Google SRE book's client-side adaptive throttling ("Handling
/// Overload") with its per-request retry limit ("Addressing Cascading Failures": at most 3
/// attempts).
///
/// - 3 attempts, retried immediately (the book prescribes no backoff schedule);
/// - every attempt is rejected locally with probability `max(0, (requests − 2 · accepts) /
///   (requests + 1))`, counted over the last 120 s.
pub fn sre_throttle() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 3,
        backoff: Backoff::NONE,
        budget: RetryBudgetConfig::Unlimited,
        breaker: None,
        throttle: Some(ThrottleConfig::Sre(SreThrottleConfig::default())),
    }
}

/// `none`: one attempt, no retries, no breaker, no throttle.
pub fn none() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 1,
        backoff: Backoff::NONE,
        budget: RetryBudgetConfig::Unlimited,
        breaker: None,
        throttle: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::policy::breaker::TripRule;
    use crate::policy::test_util::rng;
    use crate::policy::{CircuitBreaker, RetryBudget, Throttle};

    #[test]
    fn every_name_resolves_and_unknown_does_not() {
        for name in PRESET_NAMES {
            let p = preset(name).unwrap_or_else(|| panic!("{name}"));
            assert!(p.max_attempts >= 1);
            // Every part can be instantiated.
            let _ = RetryBudget::new(&p.budget);
            if let Some(b) = &p.breaker {
                let _ = CircuitBreaker::new(b);
            }
            if let Some(t) = &p.throttle {
                let _ = Throttle::new(t);
            }
        }
        assert!(preset("aws").is_none());
        assert!(preset("").is_none());
        assert_eq!(preset("none"), Some(RetryPolicy::default()));
        let mut names = PRESET_NAMES.to_vec();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), PRESET_NAMES.len());
    }

    #[test]
    fn published_first_retry_delays() {
        let mut r = rng("presets");
        let check = |name: &str, n: u32, v: u64, r: &mut sim_core::SimRng| {
            let p = preset(name).unwrap_or_else(|| panic!("{name}"));
            assert_eq!(p.backoff.kind.interval_ns(n), v, "{name} retry {n}");
            for _ in 0..100 {
                assert!(p.backoff.delay_ns(n, 0, r) <= v, "{name}");
            }
        };
        check("aws-sdk-standard", 1, S, &mut r);
        check("aws-sdk-standard", 2, 2 * S, &mut r);
        check("aws-sdk-standard", 6, 20 * S, &mut r);
        check("aws-sdk-legacy", 4, 8 * S, &mut r);
        check("grpc", 1, 100 * MS, &mut r);
        check("grpc", 3, 400 * MS, &mut r);
        check("grpc", 5, S, &mut r);
        check("envoy", 1, 25 * MS, &mut r);
        check("envoy", 5, 250 * MS, &mut r);
        let r4j = resilience4j();
        assert_eq!(r4j.backoff.kind.interval_ns(2), 750 * MS);
        for _ in 0..100 {
            let d = r4j.backoff.delay_ns(1, 0, &mut r);
            assert!((250 * MS..=750 * MS).contains(&d));
        }
        assert_eq!(finagle().backoff.delay_ns(3, 0, &mut r), 0);
    }

    #[test]
    fn preset_parameters() {
        assert_eq!(aws_sdk_standard().max_attempts, 3);
        assert_eq!(
            aws_sdk_standard().budget,
            RetryBudgetConfig::AwsQuota(AwsQuotaConfig {
                capacity: 500,
                retry_cost: 5,
                timeout_retry_cost: 10,
                no_retry_increment: 1
            })
        );
        let adaptive = aws_sdk_adaptive();
        assert_eq!(
            RetryPolicy {
                throttle: None,
                ..adaptive.clone()
            },
            aws_sdk_standard()
        );
        assert!(matches!(
            adaptive.throttle,
            Some(ThrottleConfig::AwsAdaptive(_))
        ));
        assert_eq!(aws_sdk_legacy().max_attempts, 5);
        assert_eq!(aws_sdk_legacy().budget, RetryBudgetConfig::Unlimited);
        assert_eq!(grpc().max_attempts, 4);
        assert_eq!(
            grpc().budget,
            RetryBudgetConfig::GrpcThrottle(GrpcThrottleConfig {
                max_tokens: 10.0,
                token_ratio: 0.1
            })
        );
        assert_eq!(envoy().max_attempts, 2);
        assert_eq!(
            envoy().budget,
            RetryBudgetConfig::Envoy(EnvoyBudgetConfig {
                budget_fraction: 0.2,
                min_retry_concurrency: 3
            })
        );
        assert_eq!(
            finagle().budget,
            RetryBudgetConfig::Finagle(FinagleConfig {
                ttl_ns: 10 * S,
                min_retries_per_sec: 10,
                retry_fraction: 0.2
            })
        );
        let b = resilience4j().breaker.expect("breaker");
        assert_eq!(
            b.trip,
            TripRule::FailureRate {
                window: 100,
                min_calls: 100,
                threshold: 0.5
            }
        );
        assert_eq!((b.open_ns, b.half_open_permits), (60 * S, 10));
        assert_eq!(
            sre_throttle().throttle,
            Some(ThrottleConfig::Sre(SreThrottleConfig {
                k: 2.0,
                window_ns: 120 * S
            }))
        );
        assert_eq!(none().max_attempts, 1);
    }
}
