//! Scenario files: TOML text → [`ScenarioFile`] (serde, unknown keys rejected) → validated
//! [`Scenario`] (units resolved, names → indices, limits checked).
//!
//! Every error names the file, the line and the field, e.g.
//! `scenarios/x.toml:14: services[2].servers: must be an integer in 1..=1000000, got -3`.
//! All problems in a file are reported at once, sorted by line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use models::policy::{Backoff, BackoffKind, Jitter};
use models::{
    Action, ClientSpec, Degradation, Discipline, Dist, Mode, ReplyTo, RetrySpec, ServiceSpec,
    SinkSpec, TimedAction, WorldSpec,
};
use serde::Deserialize;
use sim_core::{SimDuration, SimTime};

use crate::locate::{FieldPath, Located, line_col};
use crate::overrides::Override;

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
    #[serde(default)]
    pub label: String,
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

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct RetryFile {
    /// Attempts per call including the first try.
    pub max_attempts: i64,
    #[serde(default = "default_backoff")]
    pub backoff: BackoffFile,
    #[serde(default)]
    pub base_ms: f64,
    #[serde(default = "default_multiplier")]
    pub multiplier: f64,
    pub cap_ms: Option<f64>,
    #[serde(default = "default_jitter")]
    pub jitter: JitterFile,
}

fn default_backoff() -> BackoffFile {
    BackoffFile::None
}
fn default_multiplier() -> f64 {
    2.0
}
fn default_jitter() -> JitterFile {
    JitterFile::None
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum DisciplineFile {
    #[default]
    Fifo,
    Lifo,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct DegradationFile {
    pub per_queued: f64,
    pub max_factor: f64,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct PhaseFile {
    pub at_s: f64,
    pub rate_per_s: f64,
}

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
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Source => "source",
            Kind::Client => "client",
            Kind::Service => "service",
            Kind::Sink => "sink",
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
    /// Recovery: goodput must return to this fraction of its pre-trigger baseline ...
    pub recovery_fraction: f64,
    /// ... sustained over a sliding window of this length.
    pub sustain: SimDuration,
    /// The variant this is (`None` for the file as written, reported as `baseline`).
    pub variant: Option<String>,
    /// The file's design variants, each validated (empty inside a variant).
    pub variants: Vec<Variant>,
}

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

    /// The file as written followed by each variant.
    pub fn with_variants(&self) -> Vec<&Scenario> {
        let mut all = vec![self];
        all.extend(self.variants.iter().map(|v| &v.scenario));
        all
    }
}

impl Scenario {
    /// `[first trigger start, last trigger end]`, if the scenario has triggers.
    pub fn trigger_window(&self) -> Option<(SimTime, SimTime)> {
        let from = self.triggers.iter().map(|t| t.0).min()?;
        let to = self.triggers.iter().map(|t| t.1).max()?;
        Some((from, to))
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
    let mut seen: Vec<&str> = vec![BASELINE];
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
                    format!("duplicate variant name {name:?} (\"baseline\" is the file as written)")
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

struct Validator<'t> {
    text: &'t str,
    located: Option<Located<'t>>,
    issues: Vec<Issue>,
    /// Overrides applied to the file: issues in the fields they set are blamed on them.
    applied: Vec<Applied>,
}

fn p() -> FieldPath {
    FieldPath::root()
}

/// A number as a human reads it in an error message (`1e300`, not 301 digits).
fn num(x: f64) -> String {
    if x.is_finite() && x != 0.0 && !(1e-6..1e15).contains(&x.abs()) {
        format!("{x:e}")
    } else {
        format!("{x}")
    }
}

impl Validator<'_> {
    fn err(&mut self, path: &FieldPath, message: impl Into<String>) {
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
    fn positive(&mut self, path: &FieldPath, x: f64, max: f64) -> f64 {
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
    fn non_negative(&mut self, path: &FieldPath, x: f64, max: f64) -> f64 {
        if !x.is_finite() {
            self.err(path, format!("must be a finite number, got {}", num(x)));
        } else if x < 0.0 {
            self.err(path, format!("must be ≥ 0, got {}", num(x)));
        } else if x > max {
            self.err(path, format!("must be ≤ {}, got {}", num(max), num(x)));
        }
        x
    }

    fn int_in(&mut self, path: &FieldPath, n: i64, lo: i64, hi: i64) -> i64 {
        if n < lo || n > hi {
            self.err(path, format!("must be an integer in {lo}..={hi}, got {n}"));
        }
        n.clamp(lo, hi)
    }

    fn name(&mut self, path: &FieldPath, name: &str) {
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
            if t.action == ActionKind::Restore || t.action == ActionKind::RetriesOn {
                self.err(
                    &tp.key("action"),
                    "a trigger must break something; restore and retries_on are operator actions",
                );
            }
            let (from, to) = (SimTime::from_secs_f64(from), SimTime::from_secs_f64(to));
            if let Some((apply, revert)) = self.trigger_actions(
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
                actions.push(TimedAction {
                    at: from,
                    action: apply,
                });
                actions.push(TimedAction {
                    at: to,
                    action: revert,
                });
            }
            let label = if t.label.is_empty() {
                format!("{:?} {}", t.action, t.target).to_lowercase()
            } else {
                t.label.clone()
            };
            triggers.push((from, to, label));
        }
        let mut operator_actions = Vec::new();
        for (i, a) in raw.actions.iter().enumerate() {
            let ap = p().key("actions").index(i);
            let at =
                SimTime::from_secs_f64(self.non_negative(&ap.key("at_s"), a.at_s, MAX_DURATION_S));
            if let Some(action) = self.action(
                &ap,
                a.action,
                &a.target,
                a.value,
                &client_index,
                &service_index,
            ) {
                actions.push(TimedAction { at, action });
            }
            let label = if a.label.is_empty() {
                format!("{:?} {}", a.action, a.target).to_lowercase()
            } else {
                a.label.clone()
            };
            operator_actions.push((at, label));
        }
        actions.sort_by_key(|a| a.at);
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
            },
            components,
            triggers,
            operator_actions,
            recovery_fraction,
            sustain,
            variant: None,
            variants: Vec::new(),
        }
    }

    fn lookup(
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
            None => RetrySpec::none(),
            Some(r) => self.retry(&path.key("retry"), r),
        };
        ClientSpec {
            name: s.name.clone(),
            target,
            reply_to,
            mode,
            timeout,
            deadline,
            retry,
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
        if phases.len() > MAX_SCHEDULE_PHASES {
            self.err(
                sp,
                format!(
                    "{} phases; the limit is {MAX_SCHEDULE_PHASES}",
                    phases.len()
                ),
            );
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
            out.push((SimTime::from_secs_f64(at), rate));
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
        let max_attempts = self.int_in(&path.key("max_attempts"), r.max_attempts, 1, 100) as u32;
        let base = self.non_negative(&path.key("base_ms"), r.base_ms, MAX_DURATION_MS);
        let multiplier = self.positive(&path.key("multiplier"), r.multiplier, 100.0);
        let cap = match r.cap_ms {
            Some(c) => self.non_negative(&path.key("cap_ms"), c, MAX_DURATION_MS),
            None => MAX_DURATION_MS,
        };
        if r.backoff != BackoffFile::None && base <= 0.0 {
            self.err(&path.key("base_ms"), "a backoff needs base_ms > 0");
        }
        if r.backoff == BackoffFile::None && r.jitter != JitterFile::None {
            self.err(
                &path.key("jitter"),
                "jitter needs a backoff (constant or exponential)",
            );
        }
        let ns = |ms: f64| SimDuration::from_millis_f64(ms).as_nanos();
        let kind = match r.backoff {
            BackoffFile::None => BackoffKind::None,
            BackoffFile::Constant => BackoffKind::Constant { delay_ns: ns(base) },
            BackoffFile::Exponential => BackoffKind::Exponential {
                base_ns: ns(base),
                multiplier,
                cap_ns: ns(cap),
            },
        };
        let jitter = match r.jitter {
            JitterFile::None => Jitter::None,
            JitterFile::Full => Jitter::Full,
            JitterFile::Equal => Jitter::Equal,
            JitterFile::Decorrelated => Jitter::Decorrelated,
        };
        RetrySpec {
            max_attempts,
            backoff: Backoff::new(kind, jitter),
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
    ) -> Option<(Action, Action)> {
        let apply = self.action(tp, kind, target, value, client_index, service_index)?;
        let revert = match apply {
            Action::Outage { service } => Action::Restore { service },
            Action::SetRate { client, .. } => {
                let rate_per_s = match &clients[client as usize].mode {
                    Mode::Open { schedule } => schedule
                        .iter()
                        .rev()
                        .find(|(at, _)| *at <= to)
                        .map_or(0.0, |p| p.1),
                    Mode::Closed { .. } => {
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
            Action::Restore { .. } => return None,
        };
        Some((apply, revert))
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
        let tpath = ap.key("target");
        let vpath = ap.key("value");
        let needs_client = matches!(
            kind,
            ActionKind::Rate | ActionKind::RetriesOff | ActionKind::RetriesOn
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
            ActionKind::Rate | ActionKind::Servers | ActionKind::Slowdown | ActionKind::ErrorRate
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
        })
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
        };
        ServiceSpec {
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

    fn dist(&mut self, path: &FieldPath, d: &DistFile) -> Dist {
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
