//! Scenario files: TOML text → [`ScenarioFile`] (serde, unknown keys rejected) → validated
//! [`Scenario`] (units resolved, names → indices, limits checked).
//!
//! Every error names the file, the line and the field, e.g.
//! `scenarios/x.toml:14: services[2].servers: must be an integer in 1..=1000000, got -3`.
//! All problems in a file are reported at once, sorted by line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use models::policy::{
    self, AwsAdaptiveConfig, AwsQuotaConfig, Backoff, BackoffKind, BrookerBucketConfig,
    CircuitBreakerConfig, EnvoyBudgetConfig, FinagleConfig, GrpcThrottleConfig, Jitter,
    RetryBudgetConfig, SreThrottleConfig, ThrottleConfig, TripRule,
};
use models::{
    Action, Admission, ClientSpec, Degradation, Discipline, Dist, Mode, QueueControl, ReplyTo,
    RetrySpec, ServiceSpec, SinkSpec, TimedAction, WorldSpec,
};
use serde::Deserialize;
use sim_core::{SimDuration, SimTime};

use crate::locate::{FieldPath, Located, line_col};
use crate::overrides::Override;

#[path = "edge_file.rs"]
mod edge_file;
pub use edge_file::EdgeFile;
#[path = "lease_file.rs"]
pub mod lease_file;

/// Largest scenario file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 4 * 1024 * 1024;
/// Largest simulated duration, in seconds (about 3.2 years).
pub const MAX_DURATION_S: f64 = 1e8;
/// Bounds on counts and rates.
pub const MAX_SERVERS: i64 = 1_000_000;
pub const MAX_QUEUE_CAPACITY: i64 = 1_000_000_000;
pub const MAX_RATE_PER_S: f64 = 1e9;
pub const MAX_COMPONENTS: usize = 10_000;
pub const MAX_SCHEDULE_PHASES: usize = 100_000;
pub const MAX_EMPIRICAL_VALUES: usize = 1_000_000;
/// Longest duration parameter accepted (one simulated year), in milliseconds.
pub const MAX_DURATION_MS: f64 = 3.156e10;

/// Default limits (each can be set in `[limits]`).
pub const DEFAULT_MAX_EVENTS: u64 = 2_000_000_000;
pub const DEFAULT_MAX_LIVE_REQUESTS: u64 = 10_000_000;
pub const DEFAULT_MAX_WINDOWS: u64 = 1_000_000;

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
    pub dns_automation: Vec<crate::dns_automation_file::DnsAutomationFile>,
    /// Generated configuration files pushed to proxies (`src/config_push_file.rs`).
    #[serde(default)]
    pub config_push: Vec<crate::config_push_file::ConfigPushFile>,
    /// Load balancers with health checks and zone failover (`src/load_balancer_file.rs`).
    #[serde(default)]
    pub load_balancer: Vec<crate::load_balancer_file::LoadBalancerFile>,
    /// Lease managers (EC2 DWFM-like): see `lease_file`.
    #[serde(default)]
    pub lease_manager: Vec<lease_file::LeaseManagerFile>,
}

/// `[incident]`: what was published about the incident this scenario replays.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct IncidentFile {
    pub title: String,
    #[serde(default)]
    pub source: String,
    /// When the trigger started to act, as published (e.g. the first bad file reaching the
    /// proxies); default: the earliest trigger start.
    pub trigger_from_s: Option<f64>,
    /// The variant that stands for the system without the operator actions, when taking the
    /// `[[actions]]` out is not enough (e.g. nodes that must then restart by themselves).
    /// Default: the file without its actions that do not remove the trigger.
    pub counterfactual: Option<String>,
    pub published: PublishedFile,
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

/// What a trigger or an operator action does.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// The target service goes dark (everything it holds is lost).
    Outage,
    /// The target service comes back, empty (operator actions only).
    Restore,
    /// Set the target client's arrival rate to `value` per second.
    Rate,
    /// Set the target service's servers to `value`.
    Servers,
    /// Multiply the target service's service times by `value`.
    Slowdown,
    /// Set the target service's error rate to `value`.
    ErrorRate,
    /// Switch the target client's retries off / on.
    RetriesOff,
    RetriesOn,
    /// Empty the target client's cache (not reverted at a trigger's end).
    CacheFlush,
    /// Empty the target service's DNS record (a trigger restores it at its end).
    DnsEmpty,
    /// Restore the target service's DNS record (operator actions only).
    DnsRestore,
    /// Make the target service's configuration bad: its tasks crash-loop (a trigger's end is
    /// the kill switch).
    BadConfig,
    /// Turn the bad configuration's code path off (operator actions only).
    KillSwitch,
    /// Throttle the target crash-looping service's restarts (task creation) to `value` per
    /// second (operator actions only).
    RestartThrottle,
    /// Multiply the apply delays of the target DNS automation's first enactor by `value`.
    EnactorDelay,
    /// Manual node recovery of an edge service: down nodes start reloading (operator only).
    EdgeRecover,
    /// Admit the target service's arrivals at a rate ramping from `value` to `to_per_s` over
    /// `over_s`, then remove the limit (operator actions only).
    AdmitRamp,
    /// Stop the target config push's generation (operator actions only).
    StopGeneration,
    /// Insert a known-good file into the target config push (operator actions only).
    PushGood,
    /// The target proxy service stops failing on a bad config file (operator actions only).
    FailOpen,
    /// Put `value` items in the target load balancer's network-propagation queue.
    NetmgrBacklog,
    /// Launch `value` new targets behind the target load balancer.
    LaunchTargets,
    /// Launch new targets at `value` per second (a trigger stops at its end).
    LaunchRate,
    /// Set the propagation queue's rate to `value` per second (a trigger restores it).
    PropagationRate,
    /// Switch the target load balancer's automatic zone failover off / on (operator actions).
    FailoverOff,
    FailoverOn,
    /// Cap the rate (`value` per second) at which the target lease manager admits lease
    /// establishments (operator actions only).
    LeaseThrottle,
    /// Lift that cap (operator actions only).
    LeaseUnthrottle,
    /// Restart hosts of the target lease manager, flushing their work (`value` ≤ 1: fraction
    /// of the hosts; > 1: number of hosts; operator actions only).
    RestartHosts,
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
}

/// An operator action at `at_s` (not reverted).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ActionFile {
    pub at_s: f64,
    pub action: ActionKind,
    pub target: String,
    pub value: Option<f64>,
    /// `admit_ramp` only: the rate at the ramp's end, and its length.
    pub to_per_s: Option<f64>,
    pub over_s: Option<f64>,
    #[serde(default)]
    pub label: String,
    /// This action removes the trigger (e.g. the DNS record repaired, a good file pushed): the
    /// trigger ends here, and the action is kept when the scenario is run without its
    /// operator actions.
    #[serde(default)]
    pub removes_trigger: bool,
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
    #[serde(default)]
    pub seed: u64,
}

fn default_window_ms() -> f64 {
    1000.0
}

#[derive(Deserialize, Debug, Default)]
#[serde(deny_unknown_fields)]
pub struct LimitsFile {
    pub max_events: Option<i64>,
    pub max_live_requests: Option<i64>,
    pub max_windows: Option<i64>,
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
    pub deadline_ms: Option<f64>,
    pub retry: Option<RetryFile>,
    pub cache: Option<CacheFile>,
    pub dns: Option<DnsFile>,
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
    pub deadline_ms: Option<f64>,
    pub retry: Option<RetryFile>,
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
    pub edge: Option<EdgeFile>,
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

/// A duration distribution as written in a scenario, tagged by `dist`.
#[derive(Deserialize, Debug, Clone)]
#[serde(tag = "dist", rename_all = "lowercase", deny_unknown_fields)]
pub enum DistFile {
    Exponential { mean_ms: f64 },
    Constant { value_ms: f64 },
    Uniform { min_ms: f64, max_ms: f64 },
    Lognormal { mean_ms: f64, cv: f64 },
    Pareto { scale_ms: f64, shape: f64 },
    Empirical { values_ms: Vec<f64> },
}

// ---------------------------------------------------------------------------------------------
// Validated scenario
// ---------------------------------------------------------------------------------------------

/// What kind of component a name refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    Source,
    Client,
    Service,
    Sink,
    /// A downstream call edge of a service (`api->db`): a client inside the service.
    Call,
    /// A DNS automation (`[[dns_automation]]`).
    DnsAutomation,
    /// A generated configuration file pushed to proxies (`[[config_push]]`).
    ConfigPush,
    LoadBalancer,
    LeaseManager,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Source => "source",
            Kind::Client => "client",
            Kind::Service => "service",
            Kind::Sink => "sink",
            Kind::Call => "call",
            Kind::DnsAutomation => "dns_automation",
            Kind::ConfigPush => "config_push",
            Kind::LoadBalancer => "load_balancer",
            Kind::LeaseManager => "lease_manager",
        }
    }
}

/// Run limits, all finite.
#[derive(Clone, Copy, Debug)]
pub struct RunLimits {
    pub max_events: u64,
    pub max_live_requests: u64,
    pub max_windows: u64,
}

/// A validated scenario: everything a run needs, units resolved.
#[derive(Clone, Debug)]
pub struct Scenario {
    /// The file it came from, as given (for messages and reproduce commands).
    pub file: String,
    pub name: String,
    pub description: String,
    pub seed: u64,
    pub duration: SimDuration,
    pub warmup: SimDuration,
    pub window: SimDuration,
    pub limits: RunLimits,
    pub world: WorldSpec,
    /// Every component in report order (sources, clients, services, sinks; file order within
    /// each).
    pub components: Vec<(String, Kind)>,
    /// Trigger intervals `[from, to)` with labels, in file order.
    pub triggers: Vec<(SimTime, SimTime, String)>,
    /// Operator actions with labels.
    pub operator_actions: Vec<(SimTime, String)>,
    /// Times of the operator actions that remove the trigger (`removes_trigger = true`).
    pub trigger_removals: Vec<SimTime>,
    /// The operator actions that do not remove the trigger, as scheduled in `world.actions`:
    /// what [`Scenario::without_operator_actions`] takes out.
    pub mitigations: Vec<TimedAction>,
    /// The incident this scenario replays, if any.
    pub incident: Option<Incident>,
    /// Recovery: goodput must return to this fraction of its pre-trigger baseline ...
    pub recovery_fraction: f64,
    /// ... sustained over a sliding window of this length.
    pub sustain: SimDuration,
    /// The variant this is (`None` for the file as written, reported as `baseline`).
    pub variant: Option<String>,
    /// The file's design variants, each validated (empty inside a variant).
    pub variants: Vec<Variant>,
}

/// A replayed incident's published figures (validated `[incident]`).
#[derive(Clone, Debug, PartialEq)]
pub struct Incident {
    pub title: String,
    pub source: String,
    /// Start of the trigger when no `[[triggers]]` entry gives it.
    pub trigger_from: Option<SimTime>,
    pub trigger_min: Option<f64>,
    pub tail_min: Option<f64>,
    pub heals_by_itself: bool,
    pub tail_to: String,
    /// See `IncidentFile::counterfactual`.
    pub counterfactual: Option<String>,
}

/// Name of the counterfactual run of an incident without its operator actions.
pub const WITHOUT_OPERATORS: &str = "without-operator-actions";

/// A named design variant of a scenario.
#[derive(Clone, Debug)]
pub struct Variant {
    pub name: String,
    pub description: String,
    pub scenario: Scenario,
}

/// Name of the file as written, among variants.
pub const BASELINE: &str = "baseline";
/// Most variants in one file.
pub const MAX_VARIANTS: usize = 64;

impl Scenario {
    /// `"baseline"` or the variant's name.
    pub fn variant_name(&self) -> &str {
        self.variant.as_deref().unwrap_or(BASELINE)
    }

    /// The file as written (`"baseline"`) or one of its variants, by name.
    pub fn variant_named(&self, name: &str) -> Option<&Scenario> {
        if name == BASELINE {
            return Some(self);
        }
        self.variants
            .iter()
            .find(|v| v.name == name)
            .map(|v| &v.scenario)
    }

    /// The file as written followed by each variant.
    pub fn with_variants(&self) -> Vec<&Scenario> {
        let mut all = vec![self];
        all.extend(self.variants.iter().map(|v| &v.scenario));
        all
    }
}

impl Scenario {
    /// `[first trigger start, trigger end]`, if the scenario has triggers. The trigger starts at
    /// `[incident] trigger_from_s` if given, else the earliest trigger start, and ends at the last
    /// operator action that removes the trigger (`removes_trigger = true`) if there is one,
    /// else at the last trigger end.
    pub fn trigger_window(&self) -> Option<(SimTime, SimTime)> {
        let declared = self.incident.as_ref().and_then(|i| i.trigger_from);
        let from = declared.or_else(|| self.triggers.iter().map(|t| t.0).min())?;
        let to = match self.trigger_removals.iter().max() {
            Some(&t) => t,
            None => self.triggers.iter().map(|t| t.1).max()?,
        };
        (to > from).then_some((from, to))
    }

    /// The counterfactual: the same scenario without the operator actions that do not remove
    /// the trigger (does the system heal by itself once the trigger is gone?). `None` if it has
    /// none.
    pub fn without_operator_actions(&self) -> Option<Scenario> {
        if self.mitigations.is_empty() {
            return None;
        }
        let mut sc = self.clone();
        for m in &self.mitigations {
            if let Some(i) = sc.world.actions.iter().position(|a| a == m) {
                sc.world.actions.remove(i);
            }
        }
        sc.mitigations.clear();
        sc.variants.clear();
        sc.variant = Some(WITHOUT_OPERATORS.to_string());
        Some(sc)
    }
}

impl Scenario {
    /// Number of metric windows a full run produces.
    pub fn n_windows(&self) -> u64 {
        self.duration
            .as_nanos()
            .div_ceil(self.window.as_nanos().max(1))
    }
}

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/// One problem in a scenario file.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issue {
    pub line: usize,
    pub column: usize,
    pub field: String,
    pub message: String,
}

/// Why a scenario could not be loaded. Displays one line per problem:
/// `FILE:LINE:COL: FIELD: MESSAGE`.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    #[error("{file}: cannot read scenario")]
    Io {
        file: String,
        source: std::io::Error,
    },
    #[error("{file}: {message}")]
    File { file: String, message: String },
    #[error("{}", render_issues(file, issues))]
    Invalid { file: String, issues: Vec<Issue> },
}

fn render_issues(file: &str, issues: &[Issue]) -> String {
    let lines: Vec<String> = issues
        .iter()
        .map(|i| format!("{file}:{}:{}: {}: {}", i.line, i.column, i.field, i.message))
        .collect();
    lines.join("\n")
}

impl LoadError {
    /// The problems found (empty for I/O errors).
    pub fn issues(&self) -> &[Issue] {
        match self {
            LoadError::Invalid { issues, .. } => issues,
            _ => &[],
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/// Reads and validates the scenario at `path`.
pub fn load(path: &Path) -> Result<Scenario, LoadError> {
    let file = path.display().to_string();
    let meta = std::fs::metadata(path).map_err(|source| LoadError::Io {
        file: file.clone(),
        source,
    })?;
    if meta.is_dir() {
        return Err(LoadError::File {
            file,
            message: "is a directory, expected a scenario file".into(),
        });
    }
    if meta.len() > MAX_FILE_BYTES {
        return Err(LoadError::File {
            file,
            message: format!(
                "file is {} bytes; the limit is {MAX_FILE_BYTES}",
                meta.len()
            ),
        });
    }
    let bytes = std::fs::read(path).map_err(|source| LoadError::Io {
        file: file.clone(),
        source,
    })?;
    let text = match String::from_utf8(bytes) {
        Ok(text) => text,
        Err(e) => {
            let valid = e.utf8_error().valid_up_to();
            let prefix = String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned();
            let (line, column) = line_col(&prefix, valid);
            let issue = Issue {
                line,
                column,
                field: "(encoding)".into(),
                message: format!("not UTF-8 text: invalid byte at offset {valid}"),
            };
            return Err(LoadError::Invalid {
                file,
                issues: vec![issue],
            });
        }
    };
    parse(&text, &file)
}

/// Parses and validates scenario `text` and each of its variants; `file` is used in messages
/// only.
pub fn parse(text: &str, file: &str) -> Result<Scenario, LoadError> {
    parse_with(text, file, &[])
}

/// Like [`parse`], with `overrides` applied on top of the file (sweeps use this). Errors caused
/// by an override name it.
pub fn parse_with(text: &str, file: &str, overrides: &[Override]) -> Result<Scenario, LoadError> {
    let mut base = parse_one(text, file, overrides, None)?;
    let located = Located::parse(text);
    let raw: toml::Table = text.parse().map_err(|_| LoadError::File {
        file: file.into(),
        message: "invalid TOML".into(),
    })?;
    let names: Vec<&str> = raw
        .get("variants")
        .and_then(|v| v.as_array())
        .map(|l| {
            l.iter()
                .filter_map(|v| v.get("name").and_then(|n| n.as_str()))
                .collect()
        })
        .unwrap_or_default();
    if let Some(name) = base
        .incident
        .as_ref()
        .and_then(|i| i.counterfactual.as_ref())
        && !names.contains(&name.as_str())
    {
        let path = p().key("incident").key("counterfactual");
        let offset = located.as_ref().map_or(0, |l| l.span_of(&path).start);
        let (line, column) = line_col(text, offset);
        return Err(LoadError::Invalid {
            file: file.into(),
            issues: vec![Issue {
                line,
                column,
                field: path.to_string(),
                message: format!("no [[variants]] entry named {name:?}"),
            }],
        });
    }
    let Some(list) = raw.get("variants").and_then(|v| v.as_array()) else {
        return Ok(base);
    };
    let mut issues = Vec::new();
    let vpath = p().key("variants");
    let at = |path: &FieldPath| {
        let offset = located.as_ref().map_or(0, |l| l.span_of(path).start);
        line_col(text, offset)
    };
    if list.len() > MAX_VARIANTS {
        let (line, column) = at(&vpath);
        issues.push(Issue {
            line,
            column,
            field: "variants".into(),
            message: format!("{} variants; the limit is {MAX_VARIANTS}", list.len()),
        });
    }
    let mut seen: Vec<&str> = vec![BASELINE, WITHOUT_OPERATORS];
    for (i, v) in list.iter().enumerate().take(MAX_VARIANTS) {
        let here = vpath.index(i);
        let name = v.get("name").and_then(|n| n.as_str()).unwrap_or_default();
        let (line, column) = at(&here.key("name"));
        let bad_name = name.is_empty()
            || name.len() > 64
            || !name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if bad_name || seen.contains(&name) {
            issues.push(Issue {
                line,
                column,
                field: format!("{here}.name"),
                message: if bad_name {
                    format!("must be 1–64 characters of A–Z a–z 0–9 _ - . , got {name:?}")
                } else {
                    format!(
                        "duplicate or reserved variant name {name:?} (\"baseline\" is the file as written, \"{WITHOUT_OPERATORS}\" an incident run without its operator actions)"
                    )
                },
            });
            continue;
        }
        seen.push(name);
        let description = v
            .get("description")
            .and_then(|d| d.as_str())
            .unwrap_or_default()
            .to_string();
        let mut ovs: Vec<Override> = overrides.to_vec();
        if let Some(set) = v.get("set").and_then(|s| s.as_table()) {
            for (key, value) in set {
                let (line, column) = at(&here.key("set").key(key));
                ovs.push(Override {
                    path: key.clone(),
                    value: value.clone(),
                    line,
                    column,
                    label: format!("variant {name:?}"),
                });
            }
        }
        match parse_one(text, file, &ovs, Some(name)) {
            Ok(scenario) => base.variants.push(Variant {
                name: name.to_string(),
                description,
                scenario,
            }),
            Err(LoadError::Invalid { issues: more, .. }) => issues.extend(more),
            Err(e) => return Err(e),
        }
    }
    if issues.is_empty() {
        Ok(base)
    } else {
        issues.sort_by_key(|i| (i.line, i.column));
        issues.dedup();
        Err(LoadError::Invalid {
            file: file.into(),
            issues,
        })
    }
}

/// One scenario: the file with `overrides` applied, validated.
fn parse_one(
    text: &str,
    file: &str,
    overrides: &[Override],
    variant: Option<&str>,
) -> Result<Scenario, LoadError> {
    if text.trim().is_empty() {
        return Err(LoadError::File {
            file: file.into(),
            message: "empty scenario file".into(),
        });
    }
    let located = Located::parse(text);
    if !overrides.is_empty() && located.is_some() {
        return parse_overridden(text, file, located, overrides, variant);
    }
    let raw: ScenarioFile = match toml::from_str(text) {
        Ok(raw) => raw,
        Err(e) => {
            let offset = e.span().map_or(0, |s| s.start);
            let (line, column) = line_col(text, offset);
            let field = located
                .as_ref()
                .map_or_else(|| "(syntax)".to_string(), |l| l.path_at(offset).to_string());
            let message = e.message().trim().replace('\n', " ");
            return Err(LoadError::Invalid {
                file: file.into(),
                issues: vec![Issue {
                    line,
                    column,
                    field,
                    message,
                }],
            });
        }
    };
    finish(text, file, located, raw, Vec::new(), variant)
}

/// An override as validation sees it: the resolved field path it set.
struct Applied {
    path: FieldPath,
    line: usize,
    column: usize,
    label: String,
}

fn parse_overridden(
    text: &str,
    file: &str,
    located: Option<Located<'_>>,
    overrides: &[Override],
    variant: Option<&str>,
) -> Result<Scenario, LoadError> {
    let mut table: toml::Table = text.parse().map_err(|_| LoadError::File {
        file: file.into(),
        message: "invalid TOML".into(),
    })?;
    table.remove("variants");
    let mut applied = Vec::with_capacity(overrides.len());
    let mut issues = Vec::new();
    for o in overrides {
        match crate::overrides::apply(&mut table, &o.path, o.value.clone()) {
            Ok(path) => applied.push(Applied {
                path,
                line: o.line,
                column: o.column,
                label: o.label.clone(),
            }),
            Err(e) => issues.push(Issue {
                line: o.line,
                column: o.column,
                field: o.path.clone(),
                message: format!("{e} (set by {})", o.label),
            }),
        }
    }
    if !issues.is_empty() {
        return Err(LoadError::Invalid {
            file: file.into(),
            issues,
        });
    }
    // Round-trip through text so that a type error in an override has a span to name.
    let generated = toml::to_string(&table).map_err(|e| LoadError::File {
        file: file.into(),
        message: format!("cannot apply overrides: {e}"),
    })?;
    let raw: ScenarioFile = match toml::from_str(&generated) {
        Ok(raw) => raw,
        Err(e) => {
            let field = match (Located::parse(&generated), e.span()) {
                (Some(g), Some(span)) => g.path_at(span.start),
                _ => FieldPath::root(),
            };
            let message = e.message().trim().replace('\n', " ");
            let issue = match applied.iter().find(|a| overlaps(&a.path, &field)) {
                Some(a) => blame(text, &located, a, &field, message),
                None => {
                    let offset = located.as_ref().map_or(0, |l| l.span_of(&field).start);
                    let (line, column) = line_col(text, offset);
                    Issue {
                        line,
                        column,
                        field: field.to_string(),
                        message,
                    }
                }
            };
            return Err(LoadError::Invalid {
                file: file.into(),
                issues: vec![issue],
            });
        }
    };
    finish(text, file, located, raw, applied, variant)
}

/// An issue at `field` concerns override path `set`: the field is inside what was set, or is
/// a table that contains it (never the whole document).
fn overlaps(set: &FieldPath, field: &FieldPath) -> bool {
    let n = set.0.len().min(field.0.len());
    n > 0 && set.0[..n] == field.0[..n]
}

/// An issue at `field`, blamed on override `a`.
fn blame(
    text: &str,
    located: &Option<Located<'_>>,
    a: &Applied,
    field: &FieldPath,
    message: String,
) -> Issue {
    let (line, column) = if a.line > 0 {
        (a.line, a.column)
    } else {
        line_col(text, located.as_ref().map_or(0, |l| l.span_of(field).start))
    };
    Issue {
        line,
        column,
        field: field.to_string(),
        message: format!("{message} (set by {})", a.label),
    }
}

fn finish(
    text: &str,
    file: &str,
    located: Option<Located<'_>>,
    raw: ScenarioFile,
    applied: Vec<Applied>,
    variant: Option<&str>,
) -> Result<Scenario, LoadError> {
    let mut v = Validator {
        text,
        located,
        issues: Vec::new(),
        applied,
        dns_automations: Vec::new(),
        load_balancers: Vec::new(),
    };
    let mut scenario = v.scenario(raw, file);
    scenario.variant = variant.map(str::to_string);
    if let Some(name) = variant {
        for issue in &mut v.issues {
            if !issue.message.contains("(set by ") {
                issue.message.push_str(&format!(" (in variant {name:?})"));
            }
        }
    }
    if v.issues.is_empty() {
        Ok(scenario)
    } else {
        v.issues.sort_by_key(|i| (i.line, i.column));
        Err(LoadError::Invalid {
            file: file.into(),
            issues: v.issues,
        })
    }
}

pub(crate) struct Validator<'t> {
    text: &'t str,
    located: Option<Located<'t>>,
    issues: Vec<Issue>,
    /// Overrides applied to the file: issues in the fields they set are blamed on them.
    applied: Vec<Applied>,
    /// The validated DNS automations (triggers and actions may name them).
    dns_automations: Vec<models::dns_plan::DnsAutomationSpec>,
    /// The validated `[[load_balancer]]` entries (actions name them).
    pub(crate) load_balancers: Vec<models::health::LoadBalancerSpec>,
}

pub(crate) fn p() -> FieldPath {
    FieldPath::root()
}

/// A number as a human reads it in an error message (`1e300`, not 301 digits).
pub(crate) fn num(x: f64) -> String {
    if x.is_finite() && x != 0.0 && !(1e-6..1e15).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

impl Validator<'_> {
    pub(crate) fn err(&mut self, path: &FieldPath, message: impl Into<String>) {
        if let Some(a) = self.applied.iter().find(|a| overlaps(&a.path, path)) {
            let issue = blame(self.text, &self.located, a, path, message.into());
            self.issues.push(issue);
            return;
        }
        let offset = self.located.as_ref().map_or(0, |l| l.span_of(path).start);
        let (line, column) = line_col(self.text, offset);
        self.issues.push(Issue {
            line,
            column,
            field: path.to_string(),
            message: message.into(),
        });
    }

    /// `x` finite and in `(0, max]`.
    pub(crate) fn positive(&mut self, path: &FieldPath, x: f64, max: f64) -> f64 {
        if !x.is_finite() {
            self.err(path, format!("must be a finite number, got {}", num(x)));
        } else if x <= 0.0 {
            self.err(path, format!("must be > 0, got {}", num(x)));
        } else if x > max {
            self.err(path, format!("must be ≤ {}, got {}", num(max), num(x)));
        }
        x
    }

    /// `x` finite and in `[0, max]`.
    pub(crate) fn non_negative(&mut self, path: &FieldPath, x: f64, max: f64) -> f64 {
        if !x.is_finite() {
            self.err(path, format!("must be a finite number, got {}", num(x)));
        } else if x < 0.0 {
            self.err(path, format!("must be ≥ 0, got {}", num(x)));
        } else if x > max {
            self.err(path, format!("must be ≤ {}, got {}", num(max), num(x)));
        }
        x
    }

    pub(crate) fn int_in(&mut self, path: &FieldPath, n: i64, lo: i64, hi: i64) -> i64 {
        if n < lo || n > hi {
            self.err(path, format!("must be an integer in {lo}..={hi}, got {n}"));
        }
        n.clamp(lo, hi)
    }

    pub(crate) fn name(&mut self, path: &FieldPath, name: &str) {
        let ok = !name.is_empty()
            && name.len() <= 64
            && name
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'));
        if !ok {
            self.err(
                path,
                format!("must be 1–64 characters of A–Z a–z 0–9 _ - . , got {name:?}"),
            );
        }
    }

    fn scenario(&mut self, raw: ScenarioFile, file: &str) -> Scenario {
        let m = p().key("scenario");
        let meta = &raw.scenario;
        self.name(&m.key("name"), &meta.name);
        let duration_s = self.positive(&m.key("duration_s"), meta.duration_s, MAX_DURATION_S);
        let warmup_s = self.non_negative(&m.key("warmup_s"), meta.warmup_s, MAX_DURATION_S);
        if warmup_s.is_finite()
            && duration_s.is_finite()
            && warmup_s >= duration_s
            && duration_s > 0.0
        {
            self.err(
                &m.key("warmup_s"),
                format!("must be < duration_s ({duration_s}), got {warmup_s}"),
            );
        }
        let window_ms = self.positive(&m.key("window_ms"), meta.window_ms, MAX_DURATION_MS);

        let l = p().key("limits");
        let max_events = match raw.limits.max_events {
            Some(n) => self.int_in(&l.key("max_events"), n, 1, i64::MAX) as u64,
            None => DEFAULT_MAX_EVENTS,
        };
        let max_live_requests = match raw.limits.max_live_requests {
            Some(n) => self.int_in(&l.key("max_live_requests"), n, 1, 1_000_000_000) as u64,
            None => DEFAULT_MAX_LIVE_REQUESTS,
        };
        let max_windows = match raw.limits.max_windows {
            Some(n) => self.int_in(&l.key("max_windows"), n, 1, 100_000_000) as u64,
            None => DEFAULT_MAX_WINDOWS,
        };
        let duration = SimDuration::from_secs_f64(duration_s);
        let duration_ok =
            duration_s.is_finite() && duration_s > 0.0 && duration_s <= MAX_DURATION_S;
        if duration_ok && duration.as_nanos() == 0 {
            self.err(
                &m.key("duration_s"),
                format!("rounds to 0 ns of simulated time, got {}", num(duration_s)),
            );
        }
        let window_ok = window_ms.is_finite() && window_ms > 0.0 && window_ms <= MAX_DURATION_MS;
        let window = SimDuration::from_millis_f64(window_ms).max(SimDuration(1));
        let n_windows = duration.as_nanos().div_ceil(window.as_nanos());
        if duration_ok && window_ok && n_windows > max_windows {
            self.err(
                &m.key("window_ms"),
                format!(
                    "duration_s / window_ms gives {n_windows} windows, more than limits.max_windows = {max_windows}; \
                     use a longer window or raise the limit"
                ),
            );
        }

        // Names: one namespace for all components.
        let mut names: BTreeMap<String, (Kind, usize)> = BTreeMap::new();
        let n_components =
            raw.sources.len() + raw.clients.len() + raw.services.len() + raw.sinks.len();
        if n_components > MAX_COMPONENTS {
            self.err(
                &p(),
                format!("{n_components} components; the limit is {MAX_COMPONENTS}"),
            );
        }
        if raw.sources.is_empty() && raw.clients.is_empty() {
            self.err(
                &p(),
                "a scenario needs at least one [[sources]] or [[clients]] entry",
            );
        }
        let groups: [(&str, Kind, Vec<&str>); 4] = [
            (
                "clients",
                Kind::Client,
                raw.clients.iter().map(|s| s.name.as_str()).collect(),
            ),
            (
                "services",
                Kind::Service,
                raw.services.iter().map(|s| s.name.as_str()).collect(),
            ),
            (
                "sinks",
                Kind::Sink,
                raw.sinks.iter().map(|s| s.name.as_str()).collect(),
            ),
            (
                "sources",
                Kind::Source,
                raw.sources.iter().map(|s| s.name.as_str()).collect(),
            ),
        ];
        for (table, kind, list) in &groups {
            for (i, name) in list.iter().enumerate() {
                let path = p().key(table).index(i).key("name");
                self.name(&path, name);
                if let Some((k, _)) = names.get(*name) {
                    self.err(
                        &path,
                        format!("duplicate name {name:?} (already used by a {})", k.as_str()),
                    );
                } else {
                    names.insert(name.to_string(), (*kind, i));
                }
            }
        }

        let services: Vec<ServiceSpec> = raw
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| self.service(&p().key("services").index(i), s))
            .collect();
        let sinks: Vec<SinkSpec> = raw
            .sinks
            .iter()
            .map(|s| SinkSpec {
                name: s.name.clone(),
            })
            .collect();
        let mut clients: Vec<ClientSpec> = Vec::new();
        let mut components = Vec::with_capacity(n_components);
        for (table, kind, list) in [
            ("sources", Kind::Source, &raw.sources),
            ("clients", Kind::Client, &raw.clients),
        ] {
            for (i, c) in list.iter().enumerate() {
                clients.push(self.client(&p().key(table).index(i), c, &names, duration));
                components.push((c.name.clone(), kind));
            }
        }
        let mut services = services;
        self.call_edges(&raw, &names, &mut clients, &mut services, &mut components);
        let client_index: BTreeMap<String, u32> = clients
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i as u32))
            .collect();
        let service_index: BTreeMap<String, u32> = services
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i as u32))
            .collect();
        self.dns_automations =
            self.dns_automations(&raw.dns_automation, &mut names, &service_index);
        let config_pushes = self.config_pushes(&raw.config_push, &names, &service_index, duration);
        self.load_balancers = self.load_balancers(&raw.load_balancer, &mut names);
        let lease_managers = self.lease_managers(&raw.lease_manager, &names, &service_index);
        let mut actions = Vec::new();
        let mut triggers = Vec::new();
        for (i, t) in raw.triggers.iter().enumerate() {
            let tp = p().key("triggers").index(i);
            let from = self.non_negative(&tp.key("from_s"), t.from_s, MAX_DURATION_S);
            let to = self.positive(&tp.key("to_s"), t.to_s, MAX_DURATION_S);
            if from.is_finite() && to.is_finite() && to <= from {
                self.err(
                    &tp.key("to_s"),
                    format!("must be > from_s ({from}), got {to}"),
                );
            }
            if matches!(
                t.action,
                ActionKind::Restore
                    | ActionKind::RetriesOn
                    | ActionKind::DnsRestore
                    | ActionKind::KillSwitch
                    | ActionKind::RestartThrottle
                    | ActionKind::EdgeRecover
                    | ActionKind::AdmitRamp
                    | ActionKind::StopGeneration
                    | ActionKind::PushGood
                    | ActionKind::FailOpen
                    | ActionKind::FailoverOn
                    | ActionKind::FailoverOff
            ) || lease_file::is_lease_action(t.action)
            {
                self.err(
                    &tp.key("action"),
                    "a trigger must break something; restore, retries_on and failover on/off are operator actions",
                );
            }
            let (from, to) = (SimTime::from_secs_f64(from), SimTime::from_secs_f64(to));
            if lease_file::is_lease_action(t.action) {
                // reported above
            } else if let Some((apply, revert)) = self.trigger_actions(
                &tp,
                t.action,
                &t.target,
                t.value,
                to,
                &clients,
                &client_index,
                &services,
                &service_index,
            ) {
                self.check_cache_target(&tp, &apply, &clients);
                self.check_crash_target(&tp, &apply, &services);
                self.check_edge_target(&tp, &apply, &services);
                self.check_lb_service(&tp, &apply);
                actions.push(TimedAction {
                    at: from,
                    action: apply,
                });
                if let Some(revert) = revert {
                    actions.push(TimedAction {
                        at: to,
                        action: revert,
                    });
                }
            }
            let label = if t.label.is_empty() {
                format!("{:?} {}", t.action, t.target).to_lowercase()
            } else {
                t.label.clone()
            };
            triggers.push((from, to, label));
        }
        let mut operator_actions = Vec::new();
        let mut trigger_removals = Vec::new();
        let mut mitigations = Vec::new();
        for (i, a) in raw.actions.iter().enumerate() {
            let ap = p().key("actions").index(i);
            let at =
                SimTime::from_secs_f64(self.non_negative(&ap.key("at_s"), a.at_s, MAX_DURATION_S));
            let action = if lease_file::is_lease_action(a.action) {
                self.lease_action(&ap, a.action, &a.target, a.value, &lease_managers)
            } else {
                match self.config_push_action(
                    &ap,
                    a.action,
                    &a.target,
                    a.value,
                    &config_pushes,
                    &service_index,
                ) {
                    Some(action) => action,
                    None => self
                        .action(
                            &ap,
                            a.action,
                            &a.target,
                            a.value,
                            &client_index,
                            &service_index,
                        )
                        .map(|action| self.edge_action(&ap, a, action, &services)),
                }
            };
            if let Some(action) = action {
                self.check_cache_target(&ap, &action, &clients);
                self.check_crash_target(&ap, &action, &services);
                self.check_lb_service(&ap, &action);
                let timed = TimedAction { at, action };
                if a.removes_trigger {
                    trigger_removals.push(at);
                } else {
                    mitigations.push(timed.clone());
                }
                actions.push(timed);
            }
            let label = if a.label.is_empty() {
                format!("{:?} {}", a.action, a.target).to_lowercase()
            } else {
                a.label.clone()
            };
            operator_actions.push((at, label));
        }
        actions.sort_by_key(|a| a.at);
        triggers.extend(crate::config_push_file::triggers(
            &config_pushes,
            &actions,
            duration,
        ));
        let an = p().key("analysis");
        let recovery_fraction = self.positive(
            &an.key("recovery_fraction"),
            raw.analysis.recovery_fraction,
            1.0,
        );
        let sustain_s = self.positive(&an.key("sustain_s"), raw.analysis.sustain_s, MAX_DURATION_S);
        let sustain = SimDuration::from_secs_f64(sustain_s);
        components.extend(services.iter().map(|s| (s.name.clone(), Kind::Service)));
        components.extend(sinks.iter().map(|s| (s.name.clone(), Kind::Sink)));
        let incident = raw.incident.as_ref().map(|inc| self.incident(inc));
        let dns_automations = std::mem::take(&mut self.dns_automations);
        components.extend(
            dns_automations
                .iter()
                .map(|a| (a.name.clone(), Kind::DnsAutomation)),
        );
        components.extend(
            config_pushes
                .iter()
                .map(|c| (c.name.clone(), Kind::ConfigPush)),
        );
        components.extend(
            self.load_balancers
                .iter()
                .map(|l| (l.name.clone(), Kind::LoadBalancer)),
        );
        components.extend(
            lease_managers
                .iter()
                .map(|m| (m.name.clone(), Kind::LeaseManager)),
        );

        Scenario {
            file: file.to_string(),
            name: meta.name.clone(),
            description: meta.description.clone(),
            seed: meta.seed,
            duration,
            warmup: SimDuration::from_secs_f64(warmup_s),
            window,
            limits: RunLimits {
                max_events,
                max_live_requests,
                max_windows,
            },
            world: WorldSpec {
                clients,
                services,
                sinks,
                actions,
                max_live_requests,
                dns_automations,
                config_pushes,
                load_balancers: std::mem::take(&mut self.load_balancers),
                lease_managers,
            },
            components,
            triggers,
            operator_actions,
            trigger_removals,
            mitigations,
            incident,
            recovery_fraction,
            sustain,
            variant: None,
            variants: Vec::new(),
        }
    }

    fn incident(&mut self, inc: &IncidentFile) -> Incident {
        let ip = p().key("incident");
        // (`counterfactual` naming a variant is checked in `parse_with`, which sees them all.)
        let trigger_from = inc.trigger_from_s.map(|t| {
            SimTime::from_secs_f64(self.non_negative(&ip.key("trigger_from_s"), t, MAX_DURATION_S))
        });
        let pp = ip.key("published");
        let trigger_min = inc
            .published
            .trigger_min
            .map(|x| self.positive(&pp.key("trigger_min"), x, MAX_DURATION_S / 60.0));
        let tail_min = inc
            .published
            .tail_min
            .map(|x| self.non_negative(&pp.key("tail_min"), x, MAX_DURATION_S / 60.0));
        if inc.title.trim().is_empty() {
            self.err(&ip.key("title"), "must not be empty");
        }
        Incident {
            title: inc.title.clone(),
            source: inc.source.clone(),
            trigger_from,
            trigger_min,
            tail_min,
            heals_by_itself: inc.published.heals_by_itself,
            tail_to: inc.published.tail_to.clone(),
            counterfactual: inc.counterfactual.clone(),
        }
    }

    pub(crate) fn lookup(
        &mut self,
        path: &FieldPath,
        name: &str,
        want: Kind,
        names: &BTreeMap<String, (Kind, usize)>,
    ) -> u32 {
        match names.get(name) {
            Some((k, i)) if *k == want => *i as u32,
            Some((k, _)) => {
                self.err(
                    path,
                    format!("{name:?} is a {}, expected a {}", k.as_str(), want.as_str()),
                );
                0
            }
            None => {
                let known: Vec<&str> = names
                    .iter()
                    .filter(|(_, (k, _))| *k == want)
                    .map(|(n, _)| n.as_str())
                    .collect();
                self.err(
                    path,
                    format!(
                        "no {} named {name:?} (known: {})",
                        want.as_str(),
                        known.join(", ")
                    ),
                );
                0
            }
        }
    }

    fn client(
        &mut self,
        path: &FieldPath,
        s: &ClientFile,
        names: &BTreeMap<String, (Kind, usize)>,
        duration: SimDuration,
    ) -> ClientSpec {
        let target = self.lookup(&path.key("target"), &s.target, Kind::Service, names);
        let reply_to = match &s.sink {
            Some(sink) => ReplyTo::Sink(self.lookup(&path.key("sink"), sink, Kind::Sink, names)),
            None => ReplyTo::Nowhere,
        };
        let mode = match (s.rate_per_s, &s.schedule, s.users) {
            (Some(rate), None, None) => Mode::Open {
                schedule: vec![(
                    SimTime::ZERO,
                    self.positive(&path.key("rate_per_s"), rate, MAX_RATE_PER_S),
                )],
            },
            (None, Some(phases), None) => Mode::Open {
                schedule: self.schedule(&path.key("schedule"), phases, duration),
            },
            (None, None, Some(users)) => {
                let users = self.int_in(&path.key("users"), users, 1, 10_000_000) as u32;
                let think = match &s.think_time {
                    Some(d) => self.dist(&path.key("think_time"), d),
                    None => {
                        self.err(
                            &path.key("users"),
                            "a closed-loop client (users) needs think_time",
                        );
                        Dist::Constant { ns: 1 }
                    }
                };
                Mode::Closed { users, think }
            }
            (None, None, None) => {
                self.err(
                    path,
                    "missing load: give rate_per_s, schedule, or users (closed loop)",
                );
                Mode::Open {
                    schedule: Vec::new(),
                }
            }
            (Some(_), Some(_), _) => {
                self.err(
                    &path.key("schedule"),
                    "give either rate_per_s or schedule, not both",
                );
                Mode::Open {
                    schedule: Vec::new(),
                }
            }
            _ => {
                self.err(
                    &path.key("users"),
                    "give exactly one of rate_per_s, schedule, users",
                );
                Mode::Open {
                    schedule: Vec::new(),
                }
            }
        };
        if s.think_time.is_some() && s.users.is_none() {
            self.err(
                &path.key("think_time"),
                "think_time applies only to closed-loop clients (users)",
            );
        }
        let timeout = s.timeout_ms.map(|t| {
            SimDuration::from_millis_f64(self.positive(&path.key("timeout_ms"), t, MAX_DURATION_MS))
        });
        let deadline = s.deadline_ms.map(|t| {
            SimDuration::from_millis_f64(self.positive(
                &path.key("deadline_ms"),
                t,
                MAX_DURATION_MS,
            ))
        });
        let retry = match &s.retry {
            None => RetrySpec::default(),
            Some(r) => self.retry(&path.key("retry"), r),
        };
        let cache = s.cache.as_ref().map(|k| {
            let kp = path.key("cache");
            let keys = self.int_in(&kp.key("keys"), k.keys, 1, 100_000_000) as u32;
            let capacity = self.int_in(&kp.key("capacity"), k.capacity, 1, 100_000_000) as u32;
            let zipf_s = self.non_negative(&kp.key("zipf_s"), k.zipf_s, 100.0);
            let ttl = k.ttl_s.map(|t| {
                SimDuration::from_secs_f64(self.positive(&kp.key("ttl_s"), t, MAX_DURATION_S))
            });
            let hit = self.non_negative(&kp.key("hit_ms"), k.hit_ms, MAX_DURATION_MS);
            models::cache::CacheSpec {
                keys,
                capacity,
                zipf_s,
                ttl,
                hit_time: SimDuration::from_millis_f64(hit),
                fill: match k.fill {
                    FillFile::LookAside => models::cache::Fill::LookAside,
                    FillFile::ReadThrough => models::cache::Fill::ReadThrough,
                },
                warm: k.warm,
            }
        });
        let dns = s.dns.as_ref().map(|d| {
            let dp = path.key("dns");
            let hosts = self.int_in(&dp.key("hosts"), d.hosts, 1, 10_000_000) as u32;
            let mut secs = |k: &str, x: f64| {
                SimDuration::from_secs_f64(self.non_negative(&dp.key(k), x, MAX_DURATION_S))
            };
            models::dns::DnsSpec {
                hosts,
                ttl: secs("ttl_s", d.ttl_s),
                negative_ttl: secs("negative_ttl_s", d.negative_ttl_s),
                connection_lifetime: secs("connection_lifetime_s", d.connection_lifetime_s),
            }
        });
        ClientSpec {
            name: s.name.clone(),
            target,
            reply_to,
            mode,
            timeout,
            deadline,
            retry,
            cache,
            dns,
        }
    }

    fn schedule(
        &mut self,
        sp: &FieldPath,
        phases: &[PhaseFile],
        duration: SimDuration,
    ) -> Vec<(SimTime, f64)> {
        if phases.is_empty() {
            self.err(sp, "must have at least one phase");
        }
        let steps: usize = phases
            .iter()
            .map(|p| {
                if p.ramp_to_per_s.is_some() {
                    RAMP_STEPS
                } else {
                    1
                }
            })
            .sum();
        if steps > MAX_SCHEDULE_PHASES {
            self.err(
                sp,
                format!(
                    "{} phases ({steps} steps, a ramp counting {RAMP_STEPS}); the limit is {MAX_SCHEDULE_PHASES} steps",
                    phases.len()
                ),
            );
            return Vec::new();
        }
        let mut out = Vec::with_capacity(phases.len());
        let mut last = -1.0f64;
        for (j, ph) in phases.iter().enumerate() {
            let pp = sp.index(j);
            let at = self.non_negative(&pp.key("at_s"), ph.at_s, MAX_DURATION_S);
            let rate = self.non_negative(&pp.key("rate_per_s"), ph.rate_per_s, MAX_RATE_PER_S);
            if at.is_finite() && at <= last {
                self.err(
                    &pp.key("at_s"),
                    format!("phases must be in increasing at_s order, got {at} after {last}"),
                );
            }
            last = at;
            match ph.ramp_to_per_s {
                None => out.push((SimTime::from_secs_f64(at), rate)),
                Some(to) => {
                    let to = self.non_negative(&pp.key("ramp_to_per_s"), to, MAX_RATE_PER_S);
                    let end = phases
                        .get(j + 1)
                        .map_or(duration.as_secs_f64(), |n| n.at_s)
                        .max(at);
                    let span = end - at;
                    for k in 0..RAMP_STEPS {
                        let f0 = k as f64 / RAMP_STEPS as f64;
                        let mid = (k as f64 + 0.5) / RAMP_STEPS as f64;
                        out.push((
                            SimTime::from_secs_f64(at + f0 * span),
                            rate + (to - rate) * mid,
                        ));
                    }
                    // Identical step times (a zero-length ramp) collapse to the last one.
                    out.dedup_by(|b, a| {
                        if a.0 == b.0 {
                            a.1 = b.1;
                            true
                        } else {
                            false
                        }
                    });
                }
            }
        }
        if !out.is_empty() && out.iter().all(|&(_, r)| r == 0.0) {
            self.err(
                sp,
                "every phase has rate_per_s = 0: the source would never send",
            );
        }
        if out
            .first()
            .is_some_and(|&(at, _)| at.as_nanos() >= duration.as_nanos())
        {
            self.err(
                &sp.index(0).key("at_s"),
                "the first phase starts after the scenario ends",
            );
        }
        out
    }

    fn retry(&mut self, path: &FieldPath, r: &RetryFile) -> RetrySpec {
        let mut pol = match &r.preset {
            Some(name) => match policy::preset(name) {
                Some(p) => p,
                None => {
                    self.err(
                        &path.key("preset"),
                        format!(
                            "unknown preset {name:?}; expected one of {}",
                            policy::PRESET_NAMES.join(", ")
                        ),
                    );
                    RetrySpec::default()
                }
            },
            None => {
                if r.max_attempts.is_none() {
                    self.err(path, "give max_attempts or a preset");
                }
                RetrySpec::default()
            }
        };
        if let Some(n) = r.max_attempts {
            pol.max_attempts = self.int_in(&path.key("max_attempts"), n, 1, 100) as u32;
        }
        // Backoff: the preset's, with any field given here replacing its counterpart.
        let ns = |ms: f64| SimDuration::from_millis_f64(ms).as_nanos();
        let (cur_kind, cur_base, cur_mult, cur_cap) = match pol.backoff.kind {
            BackoffKind::None => (BackoffFile::None, 0, 2.0, u64::MAX),
            BackoffKind::Constant { delay_ns } => (BackoffFile::Constant, delay_ns, 2.0, u64::MAX),
            BackoffKind::Exponential {
                base_ns,
                multiplier,
                cap_ns,
            } => (BackoffFile::Exponential, base_ns, multiplier, cap_ns),
        };
        let kind_file = r.backoff.unwrap_or(cur_kind);
        let base = match r.base_ms {
            Some(b) => ns(self.non_negative(&path.key("base_ms"), b, MAX_DURATION_MS)),
            None => cur_base,
        };
        let multiplier = match r.multiplier {
            Some(m) => self.positive(&path.key("multiplier"), m, 100.0),
            None => cur_mult,
        };
        let cap = match r.cap_ms {
            Some(c) => ns(self.non_negative(&path.key("cap_ms"), c, MAX_DURATION_MS)),
            None => cur_cap,
        };
        if kind_file != BackoffFile::None && base == 0 {
            self.err(&path.key("base_ms"), "a backoff needs base_ms > 0");
        }
        let kind = match kind_file {
            BackoffFile::None => BackoffKind::None,
            BackoffFile::Constant => BackoffKind::Constant { delay_ns: base },
            BackoffFile::Exponential => BackoffKind::Exponential {
                base_ns: base,
                multiplier,
                cap_ns: cap,
            },
        };
        let jitter = match r.jitter {
            None => pol.backoff.jitter,
            Some(JitterFile::None) => Jitter::None,
            Some(JitterFile::Full) => Jitter::Full,
            Some(JitterFile::Equal) => Jitter::Equal,
            Some(JitterFile::Decorrelated) => Jitter::Decorrelated,
        };
        if kind_file == BackoffFile::None && jitter != Jitter::None {
            self.err(
                &path.key("jitter"),
                "jitter needs a backoff (constant or exponential)",
            );
        }
        pol.backoff = Backoff::new(kind, jitter);
        if let Some(b) = &r.budget {
            pol.budget = self.budget(&path.key("budget"), b);
        }
        if let Some(b) = &r.breaker {
            pol.breaker = self.breaker(&path.key("breaker"), b);
        }
        if let Some(t) = &r.throttle {
            pol.throttle = self.throttle(&path.key("throttle"), t);
        }
        pol
    }

    fn budget(&mut self, path: &FieldPath, b: &BudgetFile) -> RetryBudgetConfig {
        let u32_in = |v: &mut Self, k: &str, n: i64, lo: i64, hi: i64| {
            v.int_in(&path.key(k), n, lo, hi) as u32
        };
        match *b {
            BudgetFile::None => RetryBudgetConfig::Unlimited,
            BudgetFile::AwsQuota {
                capacity,
                retry_cost,
                timeout_retry_cost,
                no_retry_increment,
            } => RetryBudgetConfig::AwsQuota(AwsQuotaConfig {
                capacity: u32_in(self, "capacity", capacity, 1, 1_000_000_000),
                retry_cost: u32_in(self, "retry_cost", retry_cost, 0, 1_000_000_000),
                timeout_retry_cost: u32_in(
                    self,
                    "timeout_retry_cost",
                    timeout_retry_cost,
                    0,
                    1_000_000_000,
                ),
                no_retry_increment: u32_in(
                    self,
                    "no_retry_increment",
                    no_retry_increment,
                    0,
                    1_000_000_000,
                ),
            }),
            BudgetFile::Grpc {
                max_tokens,
                token_ratio,
            } => RetryBudgetConfig::GrpcThrottle(GrpcThrottleConfig {
                max_tokens: self.positive(&path.key("max_tokens"), max_tokens, 1000.0),
                token_ratio: self.positive(&path.key("token_ratio"), token_ratio, 1000.0),
            }),
            BudgetFile::Finagle {
                ttl_s,
                min_retries_per_s,
                retry_percent,
            } => {
                let ttl = self.positive(&path.key("ttl_s"), ttl_s, 60.0);
                if ttl.is_finite() && ttl < 1.0 {
                    self.err(
                        &path.key("ttl_s"),
                        format!("must be in 1..=60 s, got {ttl}"),
                    );
                }
                RetryBudgetConfig::Finagle(FinagleConfig {
                    ttl_ns: SimDuration::from_secs_f64(ttl).as_nanos(),
                    min_retries_per_sec: u32_in(
                        self,
                        "min_retries_per_s",
                        min_retries_per_s,
                        0,
                        1_000_000,
                    ),
                    retry_fraction: self.non_negative(
                        &path.key("retry_percent"),
                        retry_percent,
                        100_000.0,
                    ) / 100.0,
                })
            }
            BudgetFile::Envoy {
                budget_percent,
                min_retry_concurrency,
            } => RetryBudgetConfig::Envoy(EnvoyBudgetConfig {
                budget_fraction: self.non_negative(
                    &path.key("budget_percent"),
                    budget_percent,
                    100.0,
                ) / 100.0,
                min_retry_concurrency: u32_in(
                    self,
                    "min_retry_concurrency",
                    min_retry_concurrency,
                    0,
                    1_000_000,
                ),
            }),
            BudgetFile::TokenBucket {
                fill_rate,
                bucket_size,
            } => RetryBudgetConfig::TokenBucket(BrookerBucketConfig {
                fill_rate: self.positive(&path.key("fill_rate"), fill_rate, 1e6),
                bucket_size: self.positive(&path.key("bucket_size"), bucket_size, 1e9),
            }),
        }
    }

    fn breaker(&mut self, path: &FieldPath, b: &BreakerFile) -> Option<CircuitBreakerConfig> {
        let open = |v: &mut Self, ms: f64| {
            SimDuration::from_millis_f64(v.positive(&path.key("open_ms"), ms, MAX_DURATION_MS))
                .as_nanos()
        };
        match *b {
            BreakerFile::None => None,
            BreakerFile::ConsecutiveFailures {
                threshold,
                open_ms,
                half_open_probes,
            } => Some(CircuitBreakerConfig {
                trip: TripRule::ConsecutiveFailures {
                    threshold: self.int_in(&path.key("threshold"), threshold, 1, 1_000_000) as u32,
                },
                open_ns: open(self, open_ms),
                half_open_permits: self.int_in(
                    &path.key("half_open_probes"),
                    half_open_probes,
                    1,
                    1_000_000,
                ) as u32,
            }),
            BreakerFile::FailureRate {
                window,
                min_calls,
                threshold_percent,
                open_ms,
                half_open_probes,
            } => {
                let pct = self.positive(&path.key("threshold_percent"), threshold_percent, 100.0);
                Some(CircuitBreakerConfig {
                    trip: TripRule::FailureRate {
                        window: self.int_in(&path.key("window"), window, 1, 100_000) as u32,
                        min_calls: self.int_in(&path.key("min_calls"), min_calls, 1, 100_000)
                            as u32,
                        threshold: pct / 100.0,
                    },
                    open_ns: open(self, open_ms),
                    half_open_permits: self.int_in(
                        &path.key("half_open_probes"),
                        half_open_probes,
                        1,
                        1_000_000,
                    ) as u32,
                })
            }
        }
    }

    fn throttle(&mut self, path: &FieldPath, t: &ThrottleFile) -> Option<ThrottleConfig> {
        match *t {
            ThrottleFile::None => None,
            ThrottleFile::Sre { k, window_s } => {
                let k = self.positive(&path.key("k"), k, 1000.0);
                let w = self.positive(&path.key("window_s"), window_s, 86_400.0);
                Some(ThrottleConfig::Sre(SreThrottleConfig {
                    k,
                    window_ns: SimDuration::from_secs_f64(w).as_nanos().max(60),
                }))
            }
            ThrottleFile::AwsAdaptive {} => {
                Some(ThrottleConfig::AwsAdaptive(AwsAdaptiveConfig::default()))
            }
        }
    }

    /// The action a trigger applies at its start and the one that reverts it at its end.
    #[allow(clippy::too_many_arguments)]
    fn trigger_actions(
        &mut self,
        tp: &FieldPath,
        kind: ActionKind,
        target: &str,
        value: Option<f64>,
        to: SimTime,
        clients: &[ClientSpec],
        client_index: &BTreeMap<String, u32>,
        services: &[ServiceSpec],
        service_index: &BTreeMap<String, u32>,
    ) -> Option<(Action, Option<Action>)> {
        let apply = self.action(tp, kind, target, value, client_index, service_index)?;
        let revert = match apply {
            Action::Outage { service } => Action::Restore { service },
            Action::SetBadConfig { service, .. } => Action::SetBadConfig {
                service,
                bad: false,
            },
            Action::SetRecordEmpty { service, .. } => Action::SetRecordEmpty {
                service,
                empty: false,
            },
            Action::SetRate { client, .. } => {
                let rate_per_s = match &clients[client as usize].mode {
                    Mode::Open { schedule } => schedule
                        .iter()
                        .rev()
                        .find(|(at, _)| *at <= to)
                        .map_or(0.0, |p| p.1),
                    Mode::Closed { .. } | Mode::Downstream => {
                        self.err(
                            &tp.key("target"),
                            "rate triggers apply to open-loop clients only",
                        );
                        return None;
                    }
                };
                Action::SetRate { client, rate_per_s }
            }
            Action::SetServers { service, .. } => Action::SetServers {
                service,
                servers: services[service as usize].servers,
            },
            Action::SetSlowdown { service, .. } => Action::SetSlowdown {
                service,
                factor: 1.0,
            },
            Action::SetErrorRate { service, .. } => Action::SetErrorRate {
                service,
                error_rate: services[service as usize].error_rate,
            },
            Action::SetRetries { client, .. } => Action::SetRetries {
                client,
                enabled: true,
            },
            Action::SetRestartRate { .. } => return None,
            Action::SetEnactorDelay { automation, .. } => Action::SetEnactorDelay {
                automation,
                factor: 1.0,
            },
            Action::Restore { .. }
            | Action::DnsAutomationRestore { .. }
            | Action::EdgeRecover { .. }
            | Action::AdmitRamp { .. }
            | Action::StopGeneration { .. }
            | Action::PushGood { .. }
            | Action::ProxyFailOpen { .. } => return None,
            Action::LoadBalancer { lb, op } => return Some((apply, self.lb_revert(lb, op))),
            // A flush is not undone: the cache refills (or not) by itself.
            Action::FlushCache { .. } => return Some((apply, None)),
            Action::LeaseThrottle { .. } | Action::RestartHosts { .. } => {
                return Some((apply, None));
            }
        };
        Some((apply, Some(revert)))
    }

    fn action(
        &mut self,
        ap: &FieldPath,
        kind: ActionKind,
        target: &str,
        value: Option<f64>,
        client_index: &BTreeMap<String, u32>,
        service_index: &BTreeMap<String, u32>,
    ) -> Option<Action> {
        let automations = std::mem::take(&mut self.dns_automations);
        let aimed = self.dns_automation_action(ap, kind, target, value, &automations);
        self.dns_automations = automations;
        if let Some(action) = aimed {
            return action;
        }
        if matches!(
            kind,
            ActionKind::StopGeneration | ActionKind::PushGood | ActionKind::FailOpen
        ) {
            return None; // config-push actions: see `config_push_action`
        }
        if let Some(lb_action) = self.lb_action(ap, kind, target, value) {
            return lb_action;
        }
        let tpath = ap.key("target");
        let vpath = ap.key("value");
        let needs_client = matches!(
            kind,
            ActionKind::Rate
                | ActionKind::RetriesOff
                | ActionKind::RetriesOn
                | ActionKind::CacheFlush
        );
        let (client, service) = if needs_client {
            match client_index.get(target) {
                Some(&c) => (c, 0),
                None => {
                    self.err(&tpath, format!("no client or source named {target:?}"));
                    return None;
                }
            }
        } else {
            match service_index.get(target) {
                Some(&s) => (0, s),
                None => {
                    self.err(&tpath, format!("no service named {target:?}"));
                    return None;
                }
            }
        };
        let needs_value = matches!(
            kind,
            ActionKind::Rate
                | ActionKind::Servers
                | ActionKind::Slowdown
                | ActionKind::ErrorRate
                | ActionKind::RestartThrottle
                | ActionKind::AdmitRamp
        );
        let v = match (needs_value, value) {
            (true, Some(v)) => v,
            (true, None) => {
                self.err(ap, format!("action {kind:?} needs a value").to_lowercase());
                return None;
            }
            (false, Some(_)) => {
                self.err(
                    &vpath,
                    format!("action {kind:?} takes no value").to_lowercase(),
                );
                return None;
            }
            (false, None) => 0.0,
        };
        Some(match kind {
            ActionKind::Outage => Action::Outage { service },
            ActionKind::BadConfig => Action::SetBadConfig { service, bad: true },
            ActionKind::KillSwitch => Action::SetBadConfig {
                service,
                bad: false,
            },
            ActionKind::DnsEmpty => Action::SetRecordEmpty {
                service,
                empty: true,
            },
            ActionKind::DnsRestore => Action::SetRecordEmpty {
                service,
                empty: false,
            },
            ActionKind::Restore => Action::Restore { service },
            ActionKind::Rate => Action::SetRate {
                client,
                rate_per_s: self.non_negative(&vpath, v, MAX_RATE_PER_S),
            },
            ActionKind::Servers => {
                if !(v.fract() == 0.0 && (0.0..=MAX_SERVERS as f64).contains(&v)) {
                    self.err(
                        &vpath,
                        format!(
                            "must be a whole number of servers in 0..={MAX_SERVERS}, got {}",
                            num(v)
                        ),
                    );
                    return None;
                }
                Action::SetServers {
                    service,
                    servers: v as u32,
                }
            }
            ActionKind::Slowdown => Action::SetSlowdown {
                service,
                factor: self.positive(&vpath, v, 1e6),
            },
            ActionKind::ErrorRate => Action::SetErrorRate {
                service,
                error_rate: self.non_negative(&vpath, v, 1.0),
            },
            ActionKind::RetriesOff => Action::SetRetries {
                client,
                enabled: false,
            },
            ActionKind::RetriesOn => Action::SetRetries {
                client,
                enabled: true,
            },
            ActionKind::CacheFlush => Action::FlushCache { client },
            ActionKind::RestartThrottle => Action::SetRestartRate {
                service,
                rate_per_s: self.positive(&vpath, v, MAX_RATE_PER_S),
            },
            // Handled by `dns_automation_action` above.
            ActionKind::EnactorDelay => return None,
            ActionKind::EdgeRecover => Action::EdgeRecover { service },
            // `to_per_s` and `over_s` are filled in by `edge_action`.
            ActionKind::AdmitRamp => Action::AdmitRamp {
                service,
                from_per_s: self.non_negative(&vpath, v, MAX_RATE_PER_S),
                to_per_s: 0.0,
                over: SimDuration::ZERO,
            },
            ActionKind::StopGeneration | ActionKind::PushGood | ActionKind::FailOpen => {
                return None;
            }
            // Handled by `lb_action` above.
            ActionKind::NetmgrBacklog
            | ActionKind::LaunchTargets
            | ActionKind::LaunchRate
            | ActionKind::PropagationRate
            | ActionKind::FailoverOff
            | ActionKind::FailoverOn => return None,
            // Handled by `lease_action`.
            ActionKind::LeaseThrottle | ActionKind::LeaseUnthrottle | ActionKind::RestartHosts => {
                return None;
            }
        })
    }

    /// A bad-config trigger or kill switch must name a crash-looping service.
    fn check_crash_target(&mut self, path: &FieldPath, action: &Action, services: &[ServiceSpec]) {
        let svc = |service: &u32| services.get(*service as usize);
        match action {
            Action::SetBadConfig { service, .. }
                if svc(service).is_some_and(|s| s.crash_loop.is_none() && s.edge.is_none()) =>
            {
                self.err(
                    &path.key("target"),
                    "bad_config and kill_switch need a service with crash_loop or edge",
                );
            }
            Action::SetRestartRate { service, .. }
                if svc(service).is_some_and(|s| s.crash_loop.is_none()) =>
            {
                self.err(
                    &path.key("target"),
                    "restart_throttle needs a service with crash_loop",
                );
            }
            _ => {}
        }
    }

    /// A cache flush must name a client with a cache.
    fn check_cache_target(&mut self, path: &FieldPath, action: &Action, clients: &[ClientSpec]) {
        if let Action::FlushCache { client } = action
            && clients
                .get(*client as usize)
                .is_some_and(|c| c.cache.is_none())
        {
            self.err(
                &path.key("target"),
                "cache_flush needs a client with a cache",
            );
        }
    }

    /// Downstream calls become clients named `service->target` (`Mode::Downstream`); the
    /// call graph must be acyclic.
    fn call_edges(
        &mut self,
        raw: &ScenarioFile,
        names: &BTreeMap<String, (Kind, usize)>,
        clients: &mut Vec<ClientSpec>,
        services: &mut [ServiceSpec],
        components: &mut Vec<(String, Kind)>,
    ) {
        let mut edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); raw.services.len()];
        for (i, sf) in raw.services.iter().enumerate() {
            let sp = p().key("services").index(i);
            if sf.calls.len() > 64 {
                self.err(
                    &sp.key("calls"),
                    format!("{} downstream calls; the limit is 64", sf.calls.len()),
                );
                continue;
            }
            for (j, call) in sf.calls.iter().enumerate() {
                let cp = sp.key("calls").index(j);
                let target = self.lookup(&cp.key("target"), &call.target, Kind::Service, names);
                let mut name = format!("{}->{}", sf.name, call.target);
                if sf.calls[..j].iter().any(|c| c.target == call.target) {
                    name = format!("{name}#{}", j + 1);
                }
                let timeout = call.timeout_ms.map(|t| {
                    SimDuration::from_millis_f64(self.positive(
                        &cp.key("timeout_ms"),
                        t,
                        MAX_DURATION_MS,
                    ))
                });
                let deadline = call.deadline_ms.map(|t| {
                    SimDuration::from_millis_f64(self.positive(
                        &cp.key("deadline_ms"),
                        t,
                        MAX_DURATION_MS,
                    ))
                });
                let retry = match &call.retry {
                    None => RetrySpec::default(),
                    Some(r) => self.retry(&cp.key("retry"), r),
                };
                if let Some(&(Kind::Service, t)) = names.get(&call.target) {
                    edges[i].push((t, j));
                }
                if let Some(svc) = services.get_mut(i) {
                    svc.calls.push(clients.len() as u32);
                }
                components.push((name.clone(), Kind::Call));
                clients.push(ClientSpec {
                    name,
                    target,
                    reply_to: ReplyTo::Parent,
                    mode: Mode::Downstream,
                    timeout,
                    deadline,
                    retry,
                    cache: None,
                    dns: None,
                });
            }
        }
        for (i, sf) in raw.services.iter().enumerate() {
            let Some(cf) = &sf.crash_loop else {
                continue;
            };
            let cp = p().key("services").index(i).key("crash_loop");
            let store = self.lookup(&cp.key("store"), &cf.store, Kind::Service, names);
            if cf.store == sf.name {
                self.err(
                    &cp.key("store"),
                    "a service cannot be its own backing store",
                );
            }
            let timeout = SimDuration::from_millis_f64(self.positive(
                &cp.key("timeout_ms"),
                cf.timeout_ms,
                MAX_DURATION_MS,
            ));
            let rf = RetryFile {
                max_attempts: Some(1),
                backoff: Some(cf.backoff),
                base_ms: Some(cf.base_ms),
                multiplier: Some(cf.multiplier),
                cap_ms: cf.cap_ms,
                jitter: Some(cf.jitter),
                ..RetryFile::default()
            };
            let backoff = self.retry(&cp, &rf).backoff;
            let restart_rate = cf.restart_rate_per_s.map(|r| {
                let r = self.positive(&cp.key("restart_rate_per_s"), r, MAX_RATE_PER_S);
                let burst = cf.restart_burst.map_or(r.max(1.0), |b| {
                    self.positive(&cp.key("restart_burst"), b, 1e12)
                });
                (r, burst.max(1.0))
            });
            let name = format!("{}->{}.restart", sf.name, cf.store);
            if let Some(svc) = services.get_mut(i) {
                svc.crash_loop = Some(models::CrashLoop {
                    store: clients.len() as u32,
                    backoff,
                    restart_rate,
                });
            }
            components.push((name.clone(), Kind::Call));
            clients.push(ClientSpec {
                name,
                target: store,
                reply_to: ReplyTo::Parent,
                mode: Mode::Downstream,
                timeout: Some(timeout),
                deadline: None,
                retry: RetrySpec::default(),
                cache: None,
                dns: None,
            });
        }
        // Cycle check: depth-first search with colours.
        let n = edges.len();
        let mut colour = vec![0u8; n]; // 0 new, 1 on the stack, 2 done
        for start in 0..n {
            if colour[start] != 0 {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            colour[start] = 1;
            while let Some(&mut (v, ref mut k)) = stack.last_mut() {
                if let Some(&(w, j)) = edges[v].get(*k) {
                    *k += 1;
                    if colour[w] == 1 {
                        let pos = stack.iter().position(|&(x, _)| x == w).unwrap_or(0);
                        let mut cycle: Vec<&str> = stack[pos..]
                            .iter()
                            .map(|&(x, _)| raw.services[x].name.as_str())
                            .collect();
                        cycle.push(raw.services[w].name.as_str());
                        self.err(
                            &p().key("services")
                                .index(v)
                                .key("calls")
                                .index(j)
                                .key("target"),
                            format!(
                                "the call graph has a cycle: {} (calls must form a DAG)",
                                cycle.join(" -> ")
                            ),
                        );
                    } else if colour[w] == 0 {
                        colour[w] = 1;
                        stack.push((w, 0));
                    }
                } else {
                    colour[v] = 2;
                    stack.pop();
                }
            }
        }
    }

    fn service(&mut self, path: &FieldPath, s: &ServiceFile) -> ServiceSpec {
        let servers = self.int_in(&path.key("servers"), s.servers, 1, MAX_SERVERS) as u32;
        let queue_capacity = s
            .queue_capacity
            .map(|q| self.int_in(&path.key("queue_capacity"), q, 0, MAX_QUEUE_CAPACITY) as u32);
        let service_time = self.dist(&path.key("service_time"), &s.service_time);
        let error_rate = self.non_negative(&path.key("error_rate"), s.error_rate, 1.0);
        let degradation = s.degradation.as_ref().map(|d| {
            let dp = path.key("degradation");
            Degradation {
                per_queued: self.non_negative(&dp.key("per_queued"), d.per_queued, 1e6),
                per_utilisation: self.non_negative(
                    &dp.key("per_utilisation"),
                    d.per_utilisation,
                    1e6,
                ),
                max_factor: self.positive(&dp.key("max_factor"), d.max_factor, 1e6),
            }
        });
        if let Some(d) = degradation
            && d.max_factor < 1.0
        {
            self.err(
                &path.key("degradation").key("max_factor"),
                format!("must be ≥ 1, got {}", num(d.max_factor)),
            );
        }
        let discipline = match s.discipline {
            DisciplineFile::Fifo => Discipline::Fifo,
            DisciplineFile::Lifo => Discipline::Lifo,
            DisciplineFile::AdaptiveLifo => Discipline::AdaptiveLifo,
            DisciplineFile::Codel => Discipline::Codel,
        };
        let queue_control = match &s.codel {
            None => QueueControl::default(),
            Some(q) => {
                let cp = path.key("codel");
                let target = self.positive(&cp.key("target_ms"), q.target_ms, MAX_DURATION_MS);
                let interval =
                    self.positive(&cp.key("interval_ms"), q.interval_ms, MAX_DURATION_MS);
                if !matches!(
                    s.discipline,
                    DisciplineFile::Codel | DisciplineFile::AdaptiveLifo
                ) {
                    self.err(
                        &cp,
                        "codel parameters need discipline = \"codel\" or \"adaptive_lifo\"",
                    );
                }
                QueueControl {
                    target: SimDuration::from_millis_f64(target),
                    interval: SimDuration::from_millis_f64(interval),
                }
            }
        };
        let rate_limit = s.rate_limit.as_ref().map(|r| {
            let rp = path.key("rate_limit");
            let rate = self.positive(&rp.key("rate_per_s"), r.rate_per_s, MAX_RATE_PER_S);
            let burst = match r.burst {
                Some(b) => {
                    let b = self.positive(&rp.key("burst"), b, 1e12);
                    if b.is_finite() && b < 1.0 {
                        self.err(&rp.key("burst"), format!("must be ≥ 1, got {}", num(b)));
                    }
                    b
                }
                None => rate.max(1.0),
            };
            (rate, burst)
        });
        let concurrency_limit = s
            .concurrency_limit
            .map(|n| self.int_in(&path.key("concurrency_limit"), n, 1, MAX_QUEUE_CAPACITY) as u32);
        let max_queue_age = s.max_queue_age_ms.map(|a| {
            SimDuration::from_millis_f64(self.positive(
                &path.key("max_queue_age_ms"),
                a,
                MAX_DURATION_MS,
            ))
        });
        ServiceSpec {
            queue_control,
            admission: Admission {
                rate_limit,
                concurrency_limit,
                max_queue_age,
            },
            calls: Vec::new(),
            fanout: s.call_mode == CallModeFile::Fanout,
            crash_loop: None,
            edge: s
                .edge
                .as_ref()
                .map(|e| self.edge_spec(&path.key("edge"), e, s.crash_loop.is_some())),
            discipline,
            drop_expired: s.drop_expired,
            error_rate,
            degradation,
            name: s.name.clone(),
            servers,
            queue_capacity,
            service_time,
        }
    }

    pub(crate) fn dist(&mut self, path: &FieldPath, d: &DistFile) -> Dist {
        const NS: f64 = 1e6; // per ms
        let max = MAX_DURATION_MS;
        match d {
            DistFile::Exponential { mean_ms } => Dist::Exponential {
                mean_ns: self.positive(&path.key("mean_ms"), *mean_ms, max) * NS,
            },
            DistFile::Constant { value_ms } => {
                let v = self.positive(&path.key("value_ms"), *value_ms, max);
                Dist::Constant {
                    ns: SimDuration::from_millis_f64(v).as_nanos(),
                }
            }
            DistFile::Uniform { min_ms, max_ms } => {
                let lo = self.non_negative(&path.key("min_ms"), *min_ms, max);
                let hi = self.positive(&path.key("max_ms"), *max_ms, max);
                if lo.is_finite() && hi.is_finite() && lo > hi {
                    self.err(
                        &path.key("max_ms"),
                        format!("must be ≥ min_ms ({lo}), got {hi}"),
                    );
                }
                Dist::Uniform {
                    lo_ns: lo * NS,
                    hi_ns: hi * NS,
                }
            }
            DistFile::Lognormal { mean_ms, cv } => {
                let mean = self.positive(&path.key("mean_ms"), *mean_ms, max);
                let cv = self.positive(&path.key("cv"), *cv, 100.0);
                Dist::lognormal_from_mean_cv(mean * NS, cv)
            }
            DistFile::Pareto { scale_ms, shape } => {
                let scale = self.positive(&path.key("scale_ms"), *scale_ms, max);
                let shape = self.positive(&path.key("shape"), *shape, 1000.0);
                if shape.is_finite() && shape <= 1.0 && shape > 0.0 {
                    self.err(
                        &path.key("shape"),
                        format!("must be > 1 so that the mean is finite, got {shape}"),
                    );
                }
                Dist::Pareto {
                    scale_ns: scale * NS,
                    shape,
                }
            }
            DistFile::Empirical { values_ms } => {
                let vp = path.key("values_ms");
                if values_ms.is_empty() {
                    self.err(&vp, "must list at least one value");
                } else if values_ms.len() > MAX_EMPIRICAL_VALUES {
                    self.err(
                        &vp,
                        format!(
                            "{} values; the limit is {MAX_EMPIRICAL_VALUES}",
                            values_ms.len()
                        ),
                    );
                }
                for (i, &x) in values_ms.iter().enumerate() {
                    self.non_negative(&vp.index(i), x, max);
                }
                if !values_ms.is_empty() && values_ms.iter().all(|&x| x == 0.0) {
                    self.err(&vp, "all values are 0: service would take no time");
                }
                let values_ns: Box<[u64]> = values_ms
                    .iter()
                    .map(|&x| SimDuration::from_millis_f64(x).as_nanos())
                    .collect();
                Dist::Empirical { values_ns }
            }
        }
    }
}

impl fmt::Display for Scenario {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} ({} clients, {} services, {} sinks, {} triggers, {} operator actions; {:.0} s simulated, {} windows of {} ms)",
            self.name,
            self.world.clients.len(),
            self.world.services.len(),
            self.world.sinks.len(),
            self.triggers.len(),
            self.operator_actions.len(),
            self.duration.as_secs_f64(),
            self.n_windows(),
            self.window.as_millis_f64()
        )?;
        if !self.variants.is_empty() {
            let names: Vec<&str> = self.variants.iter().map(|v| v.name.as_str()).collect();
            write!(f, "; variants: {}", names.join(", "))?;
        }
        Ok(())
    }
}
