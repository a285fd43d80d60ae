//! Scenario files: TOML text → [`ScenarioFile`] (serde, unknown keys rejected) → validated
//! [`Scenario`] (units resolved, names → indices, limits checked).
//!
//! Every error names the file, the line and the field, e.g.
//! `scenarios/x.toml:14: services[2].servers: must be an integer in 1..=1000000, got -3`.
//! All problems in a file are reported at once, sorted by line.

use std::collections::BTreeMap;
use std::fmt;
use std::path::Path;

use models::{Dist, ReplyTo, ServiceSpec, SinkSpec, SourceSpec, WorldSpec};
use serde::Deserialize;
use sim_core::{SimDuration, SimTime};

use crate::locate::{FieldPath, Located, line_col};

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
    pub sources: Vec<SourceFile>,
    #[serde(default)]
    pub services: Vec<ServiceFile>,
    #[serde(default)]
    pub sinks: Vec<SinkFile>,
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
pub struct SourceFile {
    pub name: String,
    pub target: String,
    pub sink: Option<String>,
    pub rate_per_s: Option<f64>,
    pub schedule: Option<Vec<PhaseFile>>,
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
    Service,
    Sink,
}

impl Kind {
    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Source => "source",
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
    /// Every component in report order (sources, services, sinks; file order within each).
    pub components: Vec<(String, Kind)>,
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

/// Parses and validates scenario `text`; `file` is used in messages only.
pub fn parse(text: &str, file: &str) -> Result<Scenario, LoadError> {
    if text.trim().is_empty() {
        return Err(LoadError::File {
            file: file.into(),
            message: "empty scenario file".into(),
        });
    }
    let located = Located::parse(text);
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
    let mut v = Validator {
        text,
        located,
        issues: Vec::new(),
    };
    let scenario = v.scenario(raw, file);
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
        let n_components = raw.sources.len() + raw.services.len() + raw.sinks.len();
        if n_components > MAX_COMPONENTS {
            self.err(
                &p(),
                format!("{n_components} components; the limit is {MAX_COMPONENTS}"),
            );
        }
        if raw.sources.is_empty() {
            self.err(&p(), "a scenario needs at least one [[sources]] entry");
        }
        let groups: [(&str, Kind, Vec<&str>); 3] = [
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
        let sources: Vec<SourceSpec> = raw
            .sources
            .iter()
            .enumerate()
            .map(|(i, s)| self.source(&p().key("sources").index(i), s, &names, duration))
            .collect();

        let mut components = Vec::with_capacity(n_components);
        components.extend(sources.iter().map(|s| (s.name.clone(), Kind::Source)));
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
                sources,
                services,
                sinks,
                max_live_requests,
            },
            components,
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

    fn source(
        &mut self,
        path: &FieldPath,
        s: &SourceFile,
        names: &BTreeMap<String, (Kind, usize)>,
        duration: SimDuration,
    ) -> SourceSpec {
        let target = self.lookup(&path.key("target"), &s.target, Kind::Service, names);
        let reply_to = match &s.sink {
            Some(sink) => ReplyTo::Sink(self.lookup(&path.key("sink"), sink, Kind::Sink, names)),
            None => ReplyTo::Nowhere,
        };
        let schedule = match (s.rate_per_s, &s.schedule) {
            (Some(rate), None) => {
                vec![(
                    SimTime::ZERO,
                    self.positive(&path.key("rate_per_s"), rate, MAX_RATE_PER_S),
                )]
            }
            (None, Some(phases)) => {
                let sp = path.key("schedule");
                if phases.is_empty() {
                    self.err(&sp, "must have at least one phase");
                }
                if phases.len() > MAX_SCHEDULE_PHASES {
                    self.err(
                        &sp,
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
                    let rate =
                        self.non_negative(&pp.key("rate_per_s"), ph.rate_per_s, MAX_RATE_PER_S);
                    if at.is_finite() && at <= last {
                        self.err(
                            &pp.key("at_s"),
                            format!(
                                "phases must be in increasing at_s order, got {at} after {last}"
                            ),
                        );
                    }
                    last = at;
                    out.push((SimTime::from_secs_f64(at), rate));
                }
                if !out.is_empty() && out.iter().all(|&(_, r)| r == 0.0) {
                    self.err(
                        &sp,
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
            (Some(_), Some(_)) => {
                self.err(
                    &path.key("schedule"),
                    "give either rate_per_s or schedule, not both",
                );
                Vec::new()
            }
            (None, None) => {
                self.err(path, "missing rate: give rate_per_s or schedule");
                Vec::new()
            }
        };
        SourceSpec {
            name: s.name.clone(),
            target,
            reply_to,
            schedule,
        }
    }

    fn service(&mut self, path: &FieldPath, s: &ServiceFile) -> ServiceSpec {
        let servers = self.int_in(&path.key("servers"), s.servers, 1, MAX_SERVERS) as u32;
        let queue_capacity = s
            .queue_capacity
            .map(|q| self.int_in(&path.key("queue_capacity"), q, 0, MAX_QUEUE_CAPACITY) as u32);
        let service_time = self.dist(&path.key("service_time"), &s.service_time);
        ServiceSpec {
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
            "{} ({} sources, {} services, {} sinks; {:.0} s simulated, {} windows of {} ms)",
            self.name,
            self.world.sources.len(),
            self.world.services.len(),
            self.world.sinks.len(),
            self.duration.as_secs_f64(),
            self.n_windows(),
            self.window.as_millis_f64()
        )
    }
}
