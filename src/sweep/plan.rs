//! Sweep files: a scenario, axes over any of its fields (or over its `[[variants]]`), and
//! replications → a validated [`Sweep`] whose runs are enumerated in a fixed order.
//!
//! ```toml
//! [sweep]
//! scenario = "../scenarios/hotos-retry.toml"   # relative to the sweep file
//! replications = 5
//! seed = 1                                     # default: the scenario's seed
//! seeds = "common"                             # or "independent"
//!
//! [set]                                        # fixed overrides of every point
//! "triggers[0].action" = "slowdown"
//!
//! [[axes]]
//! path = "clients[web].rate_per_s"
//! values = [100, 200, 280]                     # or linear = { from, to, steps }
//!                                              # or log = { from, to, steps }
//!                                              # or range = { from, to } with [sample]
//! [[axes]]
//! path = "variant"                             # which [[variants]] entry runs
//! values = ["baseline", "no-retry"]
//! ```
//!
//! **Points.** Listed, linear and log axes form a grid, the first axis varying slowest. Axes
//! given as `range = { from, to, log = false, integer = false }` are *sampled*: a `[sample]`
//! table (`method = "random" | "latin_hypercube"`, `points = N`, optional `seed`) draws N joint
//! samples of all ranged axes from the named generator `sim_core::stream(seed, "sweep/sample")`;
//! the sample set is crossed with the grid (every grid point meets every sample, the sample
//! index varying fastest).
//!
//! **Runs.** Run id = point id × replications + replication. Seeds depend on (base seed, point
//! id, replication) only, never on the machine, the thread or the shard. With
//! `seeds = "common"` (the default) replication *r* of every point uses the same seed
//! `derive_seed(seed, [r])` (common random numbers: points differ only by design, so
//! differences between points are paired and far less noisy); with `"independent"` the seed is
//! `derive_seed(seed, [point, r])`.
//!
//! Every point is validated (the scenario with the point's overrides applied) before anything
//! runs; errors name the sweep file, the line and the field that set the bad value.

use std::fmt;

use rayon::prelude::*;
use serde::Deserialize;
use sim_core::SimDuration;

use crate::scenario::locate::{FieldPath, Located, line_col};
use crate::scenario::overrides::Override;
use crate::scenario::{self, Issue, LoadError, Scenario};

/// Largest sweep file read, in bytes.
pub const MAX_FILE_BYTES: u64 = 1024 * 1024;
/// Most axes in a sweep.
pub const MAX_AXES: usize = 8;
/// Most values on one axis (listed, generated, or samples).
pub const MAX_AXIS_VALUES: usize = 100_000;
/// Most replications per point.
pub const MAX_REPLICATIONS: u64 = 100_000;
/// Most runs (points × replications) in one sweep.
pub const MAX_RUNS: u64 = 1_000_000;
/// Most problems printed for one sweep file.
pub const MAX_ISSUES_SHOWN: usize = 40;
/// The special axis path that chooses a `[[variants]]` entry.
pub const VARIANT_AXIS: &str = "variant";

/// How ranged axes are sampled.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SampleMethod {
    /// Independent uniform draws.
    Random,
    /// One draw in each of N equal strata of every axis, strata paired by random permutations.
    LatinHypercube,
}

/// How run seeds depend on the point.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum SeedMode {
    /// Replication r of every point uses the same seed (common random numbers).
    #[default]
    Common,
    /// Every (point, replication) has its own seed.
    Independent,
}

impl SeedMode {
    /// The name written in sweep files and CSV headers (`common`, `independent`).
    pub fn as_str(self) -> &'static str {
        match self {
            SeedMode::Common => "common",
            SeedMode::Independent => "independent",
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Validated sweep

/// One axis of a validated sweep.
#[derive(Clone, Debug)]
pub struct Axis {
    /// CSV column name (`name`, default: the path).
    pub name: String,
    /// Field path, or [`VARIANT_AXIS`].
    pub path: String,
    /// Grid values, or (sampled axes) one value per sample.
    pub values: Vec<toml::Value>,
    /// Drawn by `[sample]` rather than listed.
    pub sampled: bool,
    /// `values`, as written to CSV.
    pub texts: Vec<String>,
    /// Where each value was written in the sweep file: (line, column, field), for messages.
    pub(crate) origins: Vec<(usize, usize, String)>,
}

impl Axis {
    /// Whether this axis chooses a `[[variants]]` entry rather than setting a field.
    pub fn is_variant(&self) -> bool {
        self.path == VARIANT_AXIS
    }
}

/// `[map]` settings.
#[derive(Clone, Debug, PartialEq)]
pub struct MapSettings {
    /// Bisection stops when the bracket is at most this wide (column-axis units).
    pub tolerance: Option<f64>,
    /// Most bisection steps per row.
    pub max_probes: u32,
    /// `[map] title`: the figure's title.
    pub title: Option<String>,
    /// (line, column) of `[map]`.
    pub at: (usize, usize),
}

/// Default number of bisection steps per map row.
pub const DEFAULT_MAX_PROBES: u32 = 20;
/// Largest number of bisection steps per map row.
pub const MAX_PROBES: u32 = 60;

/// A validated sweep.
#[derive(Clone, Debug)]
pub struct Sweep {
    /// The sweep file, as given.
    pub file: String,
    /// The sweep file's stem (default output directory name).
    pub name: String,
    /// `[sweep] description`.
    pub description: String,
    /// The scenario file, resolved against the sweep file's directory.
    pub scenario_file: String,
    pub(crate) scenario_text: String,
    /// The sweep file's text.
    pub(crate) text: String,
    /// The scenario as written (no overrides).
    pub base: Scenario,
    /// The master seed the run seeds derive from.
    pub seed: u64,
    /// How run seeds depend on the point.
    pub seeds: SeedMode,
    /// Runs (seeds) per point.
    pub replications: u64,
    /// `[sweep] extend_undetermined`: a run whose verdict is `undetermined` is run again with
    /// its simulated time doubled, up to this many times (0: never).
    pub extend_undetermined: u32,
    /// The axes, in file order; points are their product (or samples).
    pub axes: Vec<Axis>,
    /// `[set]`: fixed overrides of every point, as (path, value, (line, column, field)).
    pub fixed: Vec<(String, toml::Value, (usize, usize, String))>,
    /// Number of samples (1 when no axis is sampled).
    pub n_samples: u64,
    /// Number of points (grid cells × samples).
    pub n_points: u64,
    /// `[map]` settings, for `metastable map`.
    pub map: Option<MapSettings>,
    /// Hash of the program version, the sweep text and the scenario text (16 hex digits).
    pub fingerprint: String,
}

/// Most doublings of a run's simulated time `extend_undetermined` may ask for.
pub const MAX_EXTEND: u32 = 4;

/// Runs `scenario` with `seed`; while the verdict is `undetermined` and fewer than `extend`
/// doublings were made, runs it again with its duration doubled (a run is a pure function of
/// its scenario and seed, so the longer run repeats the shorter one and goes on).
pub fn run_extending(scenario: &Scenario, seed: u64, extend: u32) -> crate::run::RunReport {
    let mut report = crate::run(scenario, seed);
    let mut sc = scenario.clone();
    for _ in 0..extend {
        if report.analysis().verdict != crate::analysis::Verdict::Undetermined {
            break;
        }
        sc.duration = SimDuration::from_nanos_f64(2.0 * sc.duration.as_nanos() as f64);
        report = crate::run(&sc, seed);
    }
    report
}

/// A value as written in CSV cells: strings bare, numbers in Rust's shortest round-trip form,
/// tables and arrays as inline TOML.
pub fn value_text(v: &toml::Value) -> String {
    match v {
        toml::Value::String(s) => s.clone(),
        toml::Value::Integer(i) => i.to_string(),
        toml::Value::Float(f) => f.to_string(),
        toml::Value::Boolean(b) => b.to_string(),
        other => other.to_string(),
    }
}

/// FNV-1a (64 bit) over length-prefixed parts, after the format tag and program version.
/// Not cryptographic: it detects a journal or shard file from another sweep, not an attack.
#[doc(hidden)]
pub fn fingerprint(parts: &[&str]) -> String {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    let mut eat = |bytes: &[u8]| {
        for &b in (bytes.len() as u64).to_le_bytes().iter().chain(bytes) {
            h ^= b as u64;
            h = h.wrapping_mul(0x0000_0100_0000_01b3);
        }
    };
    eat(b"metastable-sweep-v1");
    eat(env!("CARGO_PKG_VERSION").as_bytes());
    for p in parts {
        eat(p.as_bytes());
    }
    format!("{h:016x}")
}

/// Why a sweep could not be loaded. Displays one line per problem:
/// `FILE:LINE:COL: FIELD: MESSAGE`.
#[derive(Debug, thiserror::Error)]
pub enum SweepError {
    /// The sweep file could not be read.
    #[error("{file}: cannot read sweep file: {error}")]
    Io {
        /// The sweep file, as given.
        file: String,
        /// The I/O error.
        error: std::io::Error,
    },
    /// The sweep file is not a sweep (not TOML, too large, not a regular file).
    #[error("{file}: {message}")]
    File {
        /// The sweep file, as given.
        file: String,
        /// What is wrong.
        message: String,
    },
    /// The sweep file has problems, each with its line, column and field.
    #[error("{}", render_issues(file, issues, *more, note))]
    Invalid {
        /// The sweep file, as given.
        file: String,
        /// The problems listed (at most [`MAX_ISSUES_SHOWN`]), sorted by line.
        issues: Vec<Issue>,
        /// Problems found but not listed.
        more: usize,
        /// A closing remark (empty for none).
        note: String,
    },
    /// The scenario the sweep names is invalid.
    #[error("{file}: sweep.scenario: the scenario is invalid:\n{error}")]
    Scenario {
        /// The sweep file, as given.
        file: String,
        /// Why the scenario could not be loaded.
        error: LoadError,
    },
}

pub(crate) fn render_issues(file: &str, issues: &[Issue], more: usize, note: &str) -> String {
    let mut lines: Vec<String> = issues
        .iter()
        .map(|i| format!("{file}:{}:{}: {}: {}", i.line, i.column, i.field, i.message))
        .collect();
    if more > 0 {
        lines.push(format!("{file}: … and {more} more problem(s)"));
    }
    if !note.is_empty() {
        lines.push(format!("{file}: {note}"));
    }
    lines.join("\n")
}

/// Most problems listed for one place of the sweep file (a generated axis fails once per value).
const MAX_ISSUES_PER_PLACE: usize = 3;

pub(crate) fn invalid(file: &str, mut issues: Vec<Issue>) -> SweepError {
    issues.sort_by(|a, b| (a.line, a.column, &a.field).cmp(&(b.line, b.column, &b.field)));
    issues.dedup();
    let total = issues.len();
    let mut per_place = 0;
    let mut prev: Option<(usize, usize, String)> = None;
    issues.retain(|i| {
        let place = (i.line, i.column, i.field.clone());
        if prev.as_ref() == Some(&place) {
            per_place += 1;
        } else {
            per_place = 1;
            prev = Some(place);
        }
        per_place <= MAX_ISSUES_PER_PLACE
    });
    issues.truncate(MAX_ISSUES_SHOWN);
    let more = total - issues.len();
    SweepError::Invalid {
        file: file.into(),
        issues,
        more,
        note: String::new(),
    }
}

// ---------------------------------------------------------------------------------------------
// Enumeration

/// A point's coordinates: one value index per axis (sampled axes: the sample index).
pub type Coords = Vec<usize>;

impl Sweep {
    /// The sweep file's text.
    pub fn text(&self) -> &str {
        &self.text
    }

    /// points × replications.
    pub fn n_runs(&self) -> u64 {
        self.n_points * self.replications
    }

    /// The value index of each axis at point `p` (grid axes first-slowest, the sample index
    /// fastest).
    pub fn coords(&self, point: u64) -> Coords {
        let sample = (point % self.n_samples) as usize;
        let mut rest = point / self.n_samples;
        let mut out = vec![0; self.axes.len()];
        for (i, a) in self.axes.iter().enumerate().rev() {
            if a.sampled {
                out[i] = sample;
            } else {
                let n = a.values.len() as u64;
                out[i] = (rest % n) as usize;
                rest /= n;
            }
        }
        out
    }

    /// The seed of replication `rep` of point `point`.
    pub fn seed_of(&self, point: u64, rep: u64) -> u64 {
        match self.seeds {
            SeedMode::Common => sim_core::derive_seed(self.seed, &[rep]),
            SeedMode::Independent => sim_core::derive_seed(self.seed, &[point, rep]),
        }
    }

    /// The CSV cells of point `point`'s axis values, in axis order.
    pub fn point_texts(&self, point: u64) -> Vec<&str> {
        self.coords(point)
            .iter()
            .zip(&self.axes)
            .map(|(&j, a)| a.texts[j].as_str())
            .collect()
    }

    /// The scenario at the given axis values (one per axis, in axis order).
    pub fn scenario_at(&self, values: &[&toml::Value]) -> Result<Scenario, LoadError> {
        let mut overrides = Vec::with_capacity(self.fixed.len() + self.axes.len());
        for (path, value, _) in &self.fixed {
            overrides.push(Override {
                path: path.clone(),
                value: value.clone(),
                line: 0,
                column: 0,
                label: set_label(path, value),
            });
        }
        let mut variant: Option<&str> = None;
        for (a, v) in self.axes.iter().zip(values) {
            if a.is_variant() {
                variant = v.as_str();
                continue;
            }
            overrides.push(Override {
                path: a.path.clone(),
                value: (*v).clone(),
                line: 0,
                column: 0,
                label: axis_label(a, v),
            });
        }
        let sc = scenario::parse_with(&self.scenario_text, &self.scenario_file, &overrides)?;
        match variant {
            None => Ok(sc),
            Some(name) => match sc.variant_named(name) {
                Some(s) => {
                    let mut s = s.clone();
                    s.variants.clear();
                    Ok(s)
                }
                None => Err(LoadError::File {
                    file: self.scenario_file.clone(),
                    message: format!("no variant {name:?}"),
                }),
            },
        }
    }

    /// The scenario of point `point`.
    pub fn point_scenario(&self, point: u64) -> Result<Scenario, LoadError> {
        let coords = self.coords(point);
        let values: Vec<&toml::Value> = coords
            .iter()
            .zip(&self.axes)
            .map(|(&j, a)| &a.values[j])
            .collect();
        self.scenario_at(&values)
    }

    /// Validates every point (in parallel on the current rayon pool); problems are reported in
    /// sweep-file terms: the value that caused them, where it was written.
    pub(crate) fn validate_points(&self, text: &str) -> Result<(), SweepError> {
        // In chunks, in point order, stopping once enough failures are known: the report is
        // deterministic and a sweep whose every point is bad does not hold a million errors.
        const CHUNK: u64 = 4096;
        const ENOUGH: usize = 4 * MAX_ISSUES_SHOWN;
        let mut failures: Vec<(u64, LoadError)> = Vec::new();
        let mut start = 0;
        while start < self.n_points && failures.len() < ENOUGH {
            let end = (start + CHUNK).min(self.n_points);
            failures.extend(
                (start..end)
                    .into_par_iter()
                    .filter_map(|p| self.point_scenario(p).err().map(|e| (p, e)))
                    .collect::<Vec<_>>(),
            );
            start = end;
        }
        let unchecked = self.n_points - start;
        if failures.is_empty() {
            return Ok(());
        }
        let failures_len = failures.len();
        let mut issues = Vec::new();
        for (p, e) in failures {
            let coords = self.coords(p);
            let culprits: Vec<(String, usize, usize, String)> = self
                .fixed
                .iter()
                .map(|(path, value, (line, column, field))| {
                    (set_label(path, value), *line, *column, field.clone())
                })
                .chain(
                    self.axes
                        .iter()
                        .zip(&coords)
                        .filter(|(a, _)| !a.is_variant())
                        .map(|(a, &j)| {
                            let (line, column, field) =
                                a.origins.get(j).cloned().unwrap_or_default();
                            (axis_label(a, &a.values[j]), line, column, field)
                        }),
                )
                .collect();
            let point_desc = || {
                let parts: Vec<String> = self
                    .axes
                    .iter()
                    .zip(&coords)
                    .map(|(a, &j)| format!("{} = {}", a.name, a.texts[j]))
                    .collect();
                format!("point {p} ({})", parts.join(", "))
            };
            match &e {
                LoadError::Invalid { issues: inner, .. } => {
                    for i in inner {
                        let hit = culprits
                            .iter()
                            .find(|c| i.message.contains(&format!("(set by {})", c.0)));
                        match hit {
                            Some((label, line, column, field)) => {
                                let message = i.message.replace(&format!(" (set by {label})"), "");
                                issues.push(Issue {
                                    line: *line,
                                    column: *column,
                                    field: field.clone(),
                                    message: format!(
                                        "sets {}: {message} (scenario {})",
                                        i.field, self.scenario_file
                                    ),
                                });
                            }
                            None => {
                                let (line, column) = line_col(
                                    text,
                                    Located::parse(text).map_or(0, |l| {
                                        l.span_of(&FieldPath::root().key("axes")).start
                                    }),
                                );
                                issues.push(Issue {
                                    line,
                                    column,
                                    field: "axes".into(),
                                    message: format!(
                                        "{}: {}:{}:{}: {}: {}",
                                        point_desc(),
                                        self.scenario_file,
                                        i.line,
                                        i.column,
                                        i.field,
                                        i.message
                                    ),
                                });
                            }
                        }
                    }
                }
                other => {
                    issues.push(Issue {
                        line: 1,
                        column: 1,
                        field: "axes".into(),
                        message: format!("{}: {other}", point_desc()),
                    });
                }
            }
        }
        let mut e = invalid(&self.file, issues);
        if let SweepError::Invalid { note, .. } = &mut e
            && unchecked > 0
        {
            *note = format!(
                "stopped checking after {failures_len} bad point(s); {unchecked} point(s) not checked"
            );
        }
        Err(e)
    }
}

/// The label of a `[set]` override.
fn set_label(path: &str, v: &toml::Value) -> String {
    format!("sweep [set] {path:?} = {}", value_text(v))
}

/// The label of an axis override, as scenario errors quote it (`set by …`).
fn axis_label(a: &Axis, v: &toml::Value) -> String {
    format!("sweep axis {:?} = {}", a.path, value_text(v))
}

impl fmt::Display for Sweep {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let dims: Vec<String> = self
            .axes
            .iter()
            .map(|a| {
                if a.sampled {
                    format!("{} (sampled)", a.name)
                } else {
                    format!("{} ({})", a.name, a.values.len())
                }
            })
            .collect();
        write!(
            f,
            "sweep {} of {}: {} point(s) × {} replication(s) = {} runs; axes: {}; seed {} ({} seeds)",
            self.name,
            self.scenario_file,
            self.n_points,
            self.replications,
            self.n_runs(),
            if dims.is_empty() {
                "none".to_string()
            } else {
                dims.join(", ")
            },
            self.seed,
            self.seeds.as_str()
        )
    }
}
