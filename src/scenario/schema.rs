//! The scenario file schema: serde structs mirroring the TOML, unknown keys rejected. The
//! control-plane tables have their schemas beside their validation (`lease.rs`, …); the
//! shared pieces (actions, distributions) are in `common.rs`.

use serde::Deserialize;

use super::common::*;

// ---------------------------------------------------------------------------------------------
// File schema
// ---------------------------------------------------------------------------------------------

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ScenarioFile {
    pub scenario: MetaFile,
    #[serde(default)]
    pub limits: LimitsFile,
    #[serde(default)]
    pub sources: Vec<ClientFile>,
    #[serde(default)]
    pub clients: Vec<ClientFile>,
    #[serde(default)]
    pub services: Vec<ServiceFile>,
    #[serde(default)]
    pub sinks: Vec<SinkFile>,
    #[serde(default)]
    pub triggers: Vec<TriggerFile>,
    #[serde(default)]
    pub actions: Vec<ActionFile>,
    #[serde(default)]
    pub analysis: AnalysisFile,
    /// Design variants: the same scenario with some fields changed, run with the same seeds.
    #[serde(default)]
    pub variants: Vec<VariantFile>,
    /// A replay of a published incident: its published figures, reported next to the run's.
    pub incident: Option<IncidentFile>,
    /// DNS automations: planner + enactors driving services' DNS records.
    #[serde(default)]
    pub dns_automation: Vec<super::dns_automation::DnsAutomationFile>,
    /// Generated configuration files pushed to proxies (`src/config_push_file.rs`).
    #[serde(default)]
    pub config_push: Vec<super::config_push::ConfigPushFile>,
    /// Load balancers with health checks and zone failover (`src/load_balancer_file.rs`).
    #[serde(default)]
    pub load_balancer: Vec<super::load_balancer::LoadBalancerFile>,
    /// Lease managers (EC2 DWFM-like): see `lease_file`.
    #[serde(default)]
    pub lease_manager: Vec<super::lease::LeaseManagerFile>,
    /// On-call teams as policies: alarms, a diagnosis delay, actions on what they observe.
    #[serde(default)]
    pub operators: Vec<super::operator::OperatorFile>,
    /// Autoscalers: target tracking on a service's signal (`autoscaler.rs`).
    #[serde(default)]
    pub autoscaler: Vec<super::autoscaler::AutoscalerFile>,
    /// Providers (clouds, CDNs, DDoS protection) services belong to, and which provider each
    /// sits behind (`src/scenario/providers.rs`).
    #[serde(default)]
    pub providers: Vec<super::providers::ProviderFile>,
}

/// `[incident]`: what was published about the incident this scenario replays.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct IncidentFile {
    pub title: String,
    #[serde(default)]
    pub source: String,
    /// The wall-clock time of simulated time 0 in the incident's time zone, RFC 3339
    /// (`2025-10-19T23:18:00-07:00`): figures label their time axis with it.
    pub start_clock: Option<String>,
    /// The zone's name for those labels (`PDT`); default `UTC±HH:MM` from the offset.
    pub time_zone: Option<String>,
    /// When the trigger started to act, as published (e.g. the first bad file reaching the
    /// proxies); default: the earliest trigger start.
    pub trigger_from_s: Option<f64>,
    /// The variant that stands for the system without the operator actions, when taking the
    /// `[[actions]]` out is not enough (e.g. nodes that must then restart by themselves).
    /// Default: the file without its actions that do not remove the trigger.
    pub counterfactual: Option<String>,
    /// How the run measures the trigger from the mechanism that carries it (the interval in
    /// which the record is empty, bad files are served, the configuration is bad).
    pub trigger: Option<super::operator::ProbeFile>,
    pub published: PublishedFile,
    /// Parameters that were inferred rather than published: override paths (the syntax of a
    /// variant's `set."..."`) to numeric fields, which `metastable robustness` perturbs.
    #[serde(default)]
    pub inferred: Vec<String>,
}

/// Published figures, in minutes (durations computed from the vendor's timeline).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct PublishedFile {
    /// Absent when not published (e.g. a textbook case).
    pub trigger_min: Option<f64>,
    pub tail_min: Option<f64>,
    pub heals_by_itself: bool,
    /// What the published tail is measured to (e.g. "EC2 fully recovered 13:50 PDT").
    #[serde(default)]
    pub tail_to: String,
}

/// `[[variants]]`: a name and the fields it changes (`set."clients[web].retry.jitter" = "full"`).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct VariantFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub set: toml::Table,
}

/// How recovery is judged (see README, "Recovery and verdicts").
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct AnalysisFile {
    #[serde(default = "default_recovery_fraction")]
    pub recovery_fraction: f64,
    #[serde(default = "default_sustain_s")]
    pub sustain_s: f64,
}

impl Default for AnalysisFile {
    fn default() -> Self {
        AnalysisFile {
            recovery_fraction: default_recovery_fraction(),
            sustain_s: default_sustain_s(),
        }
    }
}

fn default_recovery_fraction() -> f64 {
    0.95
}
fn default_sustain_s() -> f64 {
    30.0
}

/// A trigger: applied at `from_s`, reverted at `to_s`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct TriggerFile {
    pub from_s: f64,
    pub to_s: f64,
    pub action: ActionKind,
    pub target: String,
    pub value: Option<f64>,
    #[serde(default)]
    pub label: String,
    /// `provider`, `region` or `zone`: `target` names one, and the action applies to every
    /// service in it (for a provider, also those of the providers behind it).
    pub scope: Option<super::providers::ScopeFile>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct MetaFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    pub duration_s: f64,
    #[serde(default)]
    pub warmup_s: f64,
    #[serde(default = "default_window_ms")]
    pub window_ms: f64,
    /// Any u64: an integer (TOML integers stop at 2⁶³ − 1 where the file is also read as a
    /// table — variants, sweeps) or a string of digits (`seed = "18446744073709551615"`).
    #[serde(default, deserialize_with = "seed_de::seed")]
    pub seed: u64,
}

fn default_window_ms() -> f64 {
    1000.0
}

/// Seeds over the full u64 range, written as an integer or a string of digits.
pub mod seed_de {
    use std::fmt;

    struct SeedVisitor;

    impl serde::de::Visitor<'_> for SeedVisitor {
        type Value = u64;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(
                f,
                "a seed: an integer in 0..={} (or a string of its digits)",
                u64::MAX
            )
        }

        fn visit_u64<E: serde::de::Error>(self, n: u64) -> Result<u64, E> {
            Ok(n)
        }

        fn visit_i64<E: serde::de::Error>(self, n: i64) -> Result<u64, E> {
            u64::try_from(n).map_err(|_| E::custom(format!("a seed is ≥ 0, got {n}")))
        }

        fn visit_str<E: serde::de::Error>(self, t: &str) -> Result<u64, E> {
            t.trim().parse::<u64>().map_err(|_| {
                E::custom(format!(
                    "a seed is an integer in 0..={} (or a string of its digits), got {t:?}",
                    u64::MAX
                ))
            })
        }
    }

    pub fn seed<'de, D: serde::Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
        d.deserialize_u64(SeedVisitor)
    }

    struct OptVisitor;

    impl<'de> serde::de::Visitor<'de> for OptVisitor {
        type Value = Option<u64>;

        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("a seed")
        }

        fn visit_none<E: serde::de::Error>(self) -> Result<Option<u64>, E> {
            Ok(None)
        }

        fn visit_some<D: serde::Deserializer<'de>>(self, d: D) -> Result<Option<u64>, D::Error> {
            seed(d).map(Some)
        }
    }

    pub fn seed_opt<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
        d.deserialize_option(OptVisitor)
    }
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub max_events: Option<i64>,
    pub max_live_requests: Option<i64>,
    pub max_windows: Option<i64>,
    pub max_window_bytes: Option<i64>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ClientFile {
    pub name: String,
    pub target: String,
    pub sink: Option<String>,
    pub rate_per_s: Option<f64>,
    pub schedule: Option<Vec<PhaseFile>>,
    /// Closed loop: number of users (instead of `rate_per_s` / `schedule`).
    pub users: Option<i64>,
    pub think_time: Option<DistFile>,
    pub timeout_ms: Option<f64>,
    /// Per-attempt patience drawn from a distribution (instead of `timeout_ms`).
    pub patience: Option<DistFile>,
    pub deadline_ms: Option<f64>,
    pub retry: Option<RetryFile>,
    pub cache: Option<CacheFile>,
    pub dns: Option<DnsFile>,
    /// Hedged requests (`hedge.rs`).
    pub hedge: Option<super::hedge::HedgeFile>,
    /// Client-side endpoint failover (`providers.rs`).
    pub endpoint_failover: Option<super::providers::EndpointFailoverFile>,
}

/// `dns = { ... }` on a client: resolve the target's name before connecting.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct DnsFile {
    /// Client hosts, each with its own resolver cache and one reused connection.
    pub hosts: i64,
    pub ttl_s: f64,
    pub negative_ttl_s: f64,
    pub connection_lifetime_s: f64,
    /// Failover of the record to a secondary endpoint (`src/scenario/providers.rs`).
    pub failover: Option<super::providers::DnsFailoverFile>,
}

/// `cache = { ... }` on a client.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct CacheFile {
    /// Distinct keys (Zipf-ranked by popularity).
    pub keys: i64,
    /// Entries held (LRU eviction).
    pub capacity: i64,
    #[serde(default = "d1f")]
    pub zipf_s: f64,
    pub ttl_s: Option<f64>,
    #[serde(default = "d1f")]
    pub hit_ms: f64,
    #[serde(default)]
    pub fill: FillFile,
    #[serde(default = "dtrue")]
    pub warm: bool,
    /// RFC 5861 stale-if-error: an entry expired less than this long ago answers a call whose
    /// origin failed (needs `ttl_s`).
    pub stale_if_error_s: Option<f64>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum FillFile {
    #[default]
    LookAside,
    ReadThrough,
}

fn d1f() -> f64 {
    1.0
}
fn dtrue() -> bool {
    true
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum BackoffFile {
    None,
    Constant,
    Exponential,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum JitterFile {
    None,
    Full,
    Equal,
    Decorrelated,
}

/// `retry = { ... }`: a preset and/or explicit fields (explicit fields override the preset).
#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct RetryFile {
    /// A named policy (`aws-sdk-standard`, `grpc`, ...; see the README's preset table).
    pub preset: Option<String>,
    /// Attempts per call including the first try.
    pub max_attempts: Option<i64>,
    pub backoff: Option<BackoffFile>,
    pub base_ms: Option<f64>,
    pub multiplier: Option<f64>,
    pub cap_ms: Option<f64>,
    pub jitter: Option<JitterFile>,
    pub budget: Option<BudgetFile>,
    pub breaker: Option<BreakerFile>,
    pub throttle: Option<ThrottleFile>,
}

/// A client-wide retry budget, tagged by `kind`. Defaults are the real systems' defaults.
#[derive(Deserialize, Debug, Clone)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BudgetFile {
    None,
    /// AWS SDK standard retry quota.
    AwsQuota {
        #[serde(default = "d500")]
        capacity: i64,
        #[serde(default = "d5")]
        retry_cost: i64,
        #[serde(default = "d10")]
        timeout_retry_cost: i64,
        #[serde(default = "d1")]
        no_retry_increment: i64,
    },
    /// gRPC retryThrottling.
    Grpc {
        #[serde(default = "d10f")]
        max_tokens: f64,
        #[serde(default = "d01f")]
        token_ratio: f64,
    },
    /// Finagle / Tower retry budget.
    Finagle {
        #[serde(default = "d10f")]
        ttl_s: f64,
        #[serde(default = "d10")]
        min_retries_per_s: i64,
        #[serde(default = "d20f")]
        retry_percent: f64,
    },
    /// Envoy retry budget (concurrent retries).
    Envoy {
        #[serde(default = "d20f")]
        budget_percent: f64,
        #[serde(default = "d3")]
        min_retry_concurrency: i64,
    },
    /// Brooker's retry token bucket.
    TokenBucket {
        #[serde(default = "d01f")]
        fill_rate: f64,
        #[serde(default = "d10f")]
        bucket_size: f64,
    },
}

/// A circuit breaker, tagged by `kind`.
#[derive(Deserialize, Debug, Clone)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum BreakerFile {
    None,
    ConsecutiveFailures {
        #[serde(default = "d5")]
        threshold: i64,
        #[serde(default = "d10000f")]
        open_ms: f64,
        #[serde(default = "d1")]
        half_open_probes: i64,
    },
    /// Resilience4j-style count-based failure rate (defaults are Resilience4j's).
    FailureRate {
        #[serde(default = "d100")]
        window: i64,
        #[serde(default = "d100")]
        min_calls: i64,
        #[serde(default = "d50f")]
        threshold_percent: f64,
        #[serde(default = "d60000f")]
        open_ms: f64,
        #[serde(default = "d10")]
        half_open_probes: i64,
    },
}

/// Client-side throttling, tagged by `kind`.
#[derive(Deserialize, Debug, Clone)]
#[serde(tag = "kind", rename_all = "snake_case", deny_unknown_fields)]
pub enum ThrottleFile {
    None,
    /// SRE book adaptive throttling.
    Sre {
        #[serde(default = "d2f")]
        k: f64,
        #[serde(default = "d120f")]
        window_s: f64,
    },
    /// AWS SDK adaptive mode (CUBIC client rate limiter, botocore's constants).
    AwsAdaptive {},
}

fn d1() -> i64 {
    1
}
fn d3() -> i64 {
    3
}
fn d5() -> i64 {
    5
}
fn d10() -> i64 {
    10
}
fn d100() -> i64 {
    100
}
fn d500() -> i64 {
    500
}
fn d01f() -> f64 {
    0.1
}
fn d2f() -> f64 {
    2.0
}
fn d10f() -> f64 {
    10.0
}
fn d20f() -> f64 {
    20.0
}
fn d50f() -> f64 {
    50.0
}
fn d120f() -> f64 {
    120.0
}
fn d10000f() -> f64 {
    10_000.0
}
fn d60000f() -> f64 {
    60_000.0
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum DisciplineFile {
    #[default]
    Fifo,
    Lifo,
    AdaptiveLifo,
    Codel,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct DegradationFile {
    #[serde(default)]
    pub per_queued: f64,
    #[serde(default)]
    pub per_utilisation: f64,
    pub max_factor: f64,
}

/// CoDel / adaptive-LIFO parameters.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct QueueControlFile {
    #[serde(default = "d5f")]
    pub target_ms: f64,
    #[serde(default = "d100f")]
    pub interval_ms: f64,
}

fn d5f() -> f64 {
    5.0
}
fn d100f() -> f64 {
    100.0
}

/// Token-bucket rate limit at a service.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RateLimitFile {
    pub rate_per_s: f64,
    /// Bucket size (default: one second of tokens, at least 1).
    pub burst: Option<f64>,
}

/// How a service makes its downstream calls.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum CallModeFile {
    #[default]
    Sequential,
    Fanout,
}

/// `[[services.calls]]`: one downstream call per request, with its own timeout and retries.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct CallFile {
    pub target: String,
    pub timeout_ms: Option<f64>,
    /// Per-attempt patience drawn from a distribution (instead of `timeout_ms`).
    pub patience: Option<DistFile>,
    pub deadline_ms: Option<f64>,
    pub retry: Option<RetryFile>,
    /// A cache in front of this dependency (the client cache's fields).
    pub cache: Option<CacheFile>,
    /// A cap on this call's outstanding calls (`bulkhead = { max_concurrent = N }`).
    pub bulkhead: Option<super::guard::BulkheadFile>,
    /// A degraded answer when the call fails (`fallback = { time_ms = T }`).
    pub fallback: Option<super::guard::FallbackFile>,
    /// Made only for requests from these clients (default: every request).
    pub callers: Option<Vec<String>>,
    /// Hedged requests (`hedge.rs`).
    pub hedge: Option<super::hedge::HedgeFile>,
    /// Client-side endpoint failover (`providers.rs`).
    pub endpoint_failover: Option<super::providers::EndpointFailoverFile>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct PhaseFile {
    pub at_s: f64,
    pub rate_per_s: f64,
    /// A linear ramp: the rate goes from `rate_per_s` at `at_s` to this value at the next
    /// phase's `at_s` (or the end of the run), in [`RAMP_STEPS`] equal steps.
    pub ramp_to_per_s: Option<f64>,
}

/// Steps a ramp is cut into; each step runs at the ramp's rate at its midpoint, so the expected
/// number of arrivals over the ramp is exact.
pub const RAMP_STEPS: usize = 100;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ServiceFile {
    pub name: String,
    pub servers: i64,
    pub queue_capacity: Option<i64>,
    pub service_time: DistFile,
    #[serde(default)]
    pub discipline: DisciplineFile,
    #[serde(default)]
    pub drop_expired: bool,
    /// A queued request leaves the queue when its caller gives up on it (M/M/c+M).
    #[serde(default)]
    pub queue_abandonment: bool,
    #[serde(default)]
    pub error_rate: f64,
    pub degradation: Option<DegradationFile>,
    /// Parameters of `adaptive_lifo` and `codel`.
    pub codel: Option<QueueControlFile>,
    pub rate_limit: Option<RateLimitFile>,
    pub concurrency_limit: Option<i64>,
    pub max_queue_age_ms: Option<f64>,
    #[serde(default)]
    pub calls: Vec<CallFile>,
    #[serde(default)]
    pub call_mode: CallModeFile,
    pub crash_loop: Option<CrashLoopFile>,
    /// Servers are edge nodes (asynchronous crash on bad config, overload crash, cold reload).
    pub edge: Option<super::edge::EdgeFile>,
    /// Each request it serves successfully hands this load balancer `propagation_per_request`
    /// network-propagation items (e.g. a launched instance's network state).
    pub feeds: Option<String>,
    pub propagation_per_request: Option<f64>,
    /// The provider (a `[[providers]]` name), region and zone the service runs in.
    pub provider: Option<String>,
    pub region: Option<String>,
    pub zone: Option<String>,
}

/// `crash_loop = { ... }`: servers are tasks that crash-loop on a bad configuration and
/// restart by loading state from `store`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct CrashLoopFile {
    /// The backing store service a restarting task loads its state from.
    pub store: String,
    /// Timeout of that load.
    pub timeout_ms: f64,
    /// Delay before each restart attempt (like a retry backoff).
    pub backoff: BackoffFile,
    pub base_ms: f64,
    #[serde(default = "d2f")]
    pub multiplier: f64,
    pub cap_ms: Option<f64>,
    #[serde(default = "default_jitter")]
    pub jitter: JitterFile,
    /// Restart throttle across the service (token bucket).
    pub restart_rate_per_s: Option<f64>,
    pub restart_burst: Option<f64>,
}

fn default_jitter() -> JitterFile {
    JitterFile::None
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct SinkFile {
    pub name: String,
}
