//! What every part of scenario validation shares: the bounds on numbers and sizes, the
//! component kinds names refer to, the action kinds and duration distributions as written,
//! and the `Validator` that collects every problem with its file position (blaming an
//! override when an override set the field).

use std::collections::BTreeMap;

use models::Dist;
use serde::Deserialize;
use sim_core::SimDuration;

use super::error::*;
use super::locate::{FieldPath, Located, position};

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
/// Byte budget for a run's stored metric windows (`limits.max_window_bytes`): 1 GiB by default,
/// 1 MiB ..= 64 GiB.
pub const DEFAULT_MAX_WINDOW_BYTES: u64 = 1 << 30;
pub const MIN_WINDOW_BYTES: u64 = 1 << 20;
pub const MAX_WINDOW_BYTES: u64 = 64 << 30;

/// What a trigger or an operator action does.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ActionKind {
    /// The target service goes dark (everything it holds is lost).
    Outage,
    /// The target service comes back, empty (operator actions only).
    Restore,
    /// A network partition in front of the target service: requests sent to it are held and
    /// delivered at once when it heals (a trigger heals at its end).
    Partition,
    /// End the target service's partition (operator actions only).
    Heal,
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
    /// The operators' action at its published time: applied only with `--operators
    /// historical` (by default the `[[operators]]` policies act instead).
    #[serde(default)]
    pub historical: bool,
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

/// What kind of component a name refers to.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// A `[[sources]]` entry: open-loop arrivals with no retries.
    Source,
    /// A `[[clients]]` entry: a caller with timeouts, retries and other policies.
    Client,
    /// A `[[services]]` entry: servers and a queue.
    Service,
    /// A sink: where a source's answers end.
    Sink,
    /// A downstream call edge of a service (`api->db`): a client inside the service.
    Call,
    /// A DNS automation (`[[dns_automation]]`).
    DnsAutomation,
    /// A generated configuration file pushed to proxies (`[[config_push]]`).
    ConfigPush,
    /// A load balancer (`[[load_balancers]]`) with health checks.
    LoadBalancer,
    /// A lease manager (`[[lease_manager]]`).
    LeaseManager,
}

impl Kind {
    /// The name written in the `kind` column of `windows.csv` and `summary.csv`.
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

/// An override as validation sees it: the resolved field path it set.
pub(super) struct Applied {
    pub(super) path: FieldPath,
    pub(super) line: usize,
    pub(super) column: usize,
    pub(super) label: String,
}

/// An issue at `field` concerns override path `set`: the field is inside what was set, or is
/// a table that contains it (never the whole document).
pub(super) fn overlaps(set: &FieldPath, field: &FieldPath) -> bool {
    let n = set.0.len().min(field.0.len());
    n > 0 && set.0[..n] == field.0[..n]
}

/// An issue at `field`, blamed on override `a`.
pub(super) fn blame(
    located: &Option<Located<'_>>,
    a: &Applied,
    field: &FieldPath,
    message: String,
) -> Issue {
    let (line, column) = if a.line > 0 {
        (a.line, a.column)
    } else {
        position(located, field)
    };
    Issue {
        line,
        column,
        field: field.to_string(),
        message: format!("{message} (set by {})", a.label),
    }
}

pub(crate) struct Validator<'t> {
    pub(super) text: &'t str,
    pub(super) located: Option<Located<'t>>,
    pub(super) issues: Vec<Issue>,
    /// Overrides applied to the file: issues in the fields they set are blamed on them.
    pub(super) applied: Vec<Applied>,
    /// The validated DNS automations (triggers and actions may name them).
    pub(super) dns_automations: Vec<models::control::dns_automation::DnsAutomationSpec>,
    /// The validated `[[load_balancer]]` entries (actions name them).
    pub(super) load_balancers: Vec<models::infra::load_balancer::LoadBalancerSpec>,
}

/// A name that is also a safe path component (scenario and variant names name output
/// directories): 1–64 characters of `A–Z a–z 0–9 _ - .`, not `.` or `..`.
pub fn is_safe_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 64
        && name != "."
        && name != ".."
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.'))
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
            let issue = blame(&self.located, a, path, message.into());
            self.issues.push(issue);
            return;
        }
        let (line, column) = position(&self.located, path);
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
        if !is_safe_name(name) {
            self.err(
                path,
                format!(
                    "must be 1–64 characters of A–Z a–z 0–9 _ - . other than . and .., got {name:?}"
                ),
            );
        }
    }
}

impl Validator<'_> {
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
}

impl Validator<'_> {
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
