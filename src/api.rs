//! A small facade for programs that embed the simulator (the Python package in `python/` is
//! one): run a scenario given as a path or as TOML text, with overrides, and get back the
//! tables `metastable run`, `sweep` and `map` would write — the **same CSV bytes**, produced by
//! the same writers with the same seeds — in memory instead of in an output directory.
//!
//! Nothing here decides anything new: loading is [`crate::scenario::parse_with`], running is
//! [`crate::run::run_observed`] (one thread per run, on rayon's pool, like the CLI), verdicts
//! come from [`crate::analysis`], tables from [`crate::report::tables`],
//! [`crate::analysis::compare`], [`crate::analysis::incident`],
//! [`crate::robust::replications`] and [`crate::sweep`]. What it adds is a [`Progress`] a
//! caller can poll from another thread (and use to cancel a sweep between runs), and errors
//! that keep their file, line and field apart ([`ApiError`]).
//!
//! ```
//! use metastable::api::{self, RunOptions};
//!
//! let text = r#"
//! [scenario]
//! name = "mm1"
//! duration_s = 20.0
//! seed = 1
//!
//! [[sources]]
//! name = "users"
//! target = "server"
//! rate_per_s = 8.0
//!
//! [[services]]
//! name = "server"
//! servers = 1
//! service_time = { dist = "exponential", mean_ms = 100.0 }
//! "#;
//! let opts = RunOptions {
//!     overrides: vec![("services[server].servers".into(), toml::Value::Integer(2))],
//!     ..RunOptions::default()
//! };
//! let out = api::run_text(text, "mm1.toml", &opts, &api::Progress::default()).unwrap();
//! assert_eq!(out.seed, 1);
//! assert_eq!(out.runs.len(), 1);
//! assert!(out.runs[0].windows_csv.starts_with(b"variant,seed,component,kind,"));
//! assert_eq!(out.runs[0].verdict, "no_trigger");
//!
//! // A bad override names its field, and maps to the CLI's exit code 2.
//! let bad = RunOptions {
//!     overrides: vec![("services[nope].servers".into(), toml::Value::Integer(2))],
//!     ..RunOptions::default()
//! };
//! let err = api::run_text(text, "mm1.toml", &bad, &api::Progress::default()).unwrap_err();
//! assert_eq!(err.exit_code(), 2);
//! assert_eq!(err.issues()[0].field, "services[nope].servers");
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Mutex;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};

use rayon::prelude::*;

use crate::robust::replications::{MAX_REPLICATIONS, Replications, RunSet, seeds};
use crate::run::RunReport;
use crate::scenario::overrides::Override;
use crate::scenario::{Issue, LoadError, Scenario};
use crate::sweep::plan::{Sweep, SweepError};

// ---------------------------------------------------------------------------------------------
// Errors and progress
// ---------------------------------------------------------------------------------------------

/// Why a call failed. [`ApiError::exit_code`] is the code `metastable` would exit with.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// The scenario could not be read or is invalid (exit code 2).
    #[error(transparent)]
    Scenario(#[from] LoadError),
    /// The sweep or map file could not be read or is invalid (exit code 2).
    #[error(transparent)]
    Sweep(#[from] SweepError),
    /// Another bad argument: unknown variant, replications out of range, … (exit code 2).
    #[error("{0}")]
    Input(String),
    /// The caller cancelled through [`Progress::cancel`].
    #[error("cancelled")]
    Cancelled,
    /// A table could not be formatted or a run could not be made (exit code 1).
    #[error("{0}")]
    Failed(String),
}

impl ApiError {
    /// 2 for bad input (as the CLI), 1 for everything else.
    pub fn exit_code(&self) -> u8 {
        match self {
            ApiError::Scenario(_) | ApiError::Sweep(_) | ApiError::Input(_) => 2,
            ApiError::Cancelled | ApiError::Failed(_) => 1,
        }
    }

    /// The file the error is about, when it is about one.
    pub fn file(&self) -> Option<&str> {
        match self {
            ApiError::Scenario(LoadError::File { file, .. } | LoadError::Invalid { file, .. }) => {
                Some(file)
            }
            ApiError::Sweep(
                SweepError::Io { file, .. }
                | SweepError::File { file, .. }
                | SweepError::Invalid { file, .. },
            ) => Some(file),
            ApiError::Sweep(SweepError::Scenario { error, .. }) => ApiError::scenario_file(error),
            _ => None,
        }
    }

    fn scenario_file(e: &LoadError) -> Option<&str> {
        match e {
            LoadError::File { file, .. } | LoadError::Invalid { file, .. } => Some(file),
        }
    }

    /// The problems found, each with its line, column and field (empty when the error is not
    /// about a place in a file).
    pub fn issues(&self) -> &[Issue] {
        match self {
            ApiError::Scenario(e) | ApiError::Sweep(SweepError::Scenario { error: e, .. }) => {
                e.issues()
            }
            ApiError::Sweep(SweepError::Invalid { issues, .. }) => issues,
            _ => &[],
        }
    }
}

/// How far a call has got, shared between its worker threads and a caller that polls it (a
/// progress bar) from another thread. Only ever read for display: it cannot change a result.
#[derive(Debug, Default)]
pub struct Progress {
    /// Work done, in millionths of a run.
    done_micro: AtomicU64,
    /// Runs planned (0 until known).
    total: AtomicU64,
    cancelled: AtomicBool,
    stage: Mutex<String>,
}

const MICRO: f64 = 1e6;

impl Progress {
    /// Runs done so far (fractions of runs in progress included) and runs planned.
    pub fn fraction(&self) -> (f64, u64) {
        (
            self.done_micro.load(Ordering::Relaxed) as f64 / MICRO,
            self.total.load(Ordering::Relaxed),
        )
    }

    /// What is being done now (`"runs"`, `"bisection round 2: 3 row(s)"`, …).
    pub fn stage(&self) -> String {
        self.stage.lock().map(|s| s.clone()).unwrap_or_default()
    }

    /// Asks a sweep or map to stop before its next run (a single run goes on to its end).
    pub fn cancel(&self) {
        self.cancelled.store(true, Ordering::Relaxed);
    }

    /// Whether [`Progress::cancel`] was called.
    pub fn is_cancelled(&self) -> bool {
        self.cancelled.load(Ordering::Relaxed)
    }

    fn start(&self, total: u64, stage: &str) {
        self.total.store(total, Ordering::Relaxed);
        self.done_micro.store(0, Ordering::Relaxed);
        self.set_stage(stage);
    }

    fn set_stage(&self, stage: &str) {
        if let Ok(mut s) = self.stage.lock() {
            *s = stage.to_string();
        }
    }

    /// An observer for [`crate::run::run_observed`]: adds what one run advanced.
    fn observer(&self) -> impl FnMut(f64) + '_ {
        let mut last = 0u64;
        move |f: f64| {
            let now = (f.clamp(0.0, 1.0) * MICRO) as u64;
            if now > last {
                self.done_micro.fetch_add(now - last, Ordering::Relaxed);
                last = now;
            }
        }
    }

    fn run_done(&self) {
        self.done_micro.fetch_add(MICRO as u64, Ordering::Relaxed);
    }
}

// ---------------------------------------------------------------------------------------------
// run
// ---------------------------------------------------------------------------------------------

/// Options of [`run_text`] and [`run_file`]: those of `metastable run`.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Master seed (default: the scenario's `seed`, else 0).
    pub seed: Option<u64>,
    /// Run only this variant (`baseline` is the file as written); default: all of them.
    pub variant: Option<String>,
    /// Run every chosen variant over this many seeds from `seed` (`--replications N`).
    pub replications: Option<u64>,
    /// Fields set before validation, by the paths variants and sweep axes use
    /// (`services[db].servers`); applied to the file and to each of its variants.
    pub overrides: Vec<(String, toml::Value)>,
    /// `--operators historical`: the operators' actions at their published times.
    pub historical_operators: bool,
}

/// One run's tables and verdict.
#[derive(Clone, Debug)]
pub struct RunTables {
    /// `baseline`, a variant's name, or `without-operator-actions`.
    pub variant: String,
    /// `windows.csv`, byte for byte.
    pub windows_csv: Vec<u8>,
    /// `summary.csv`, byte for byte.
    pub summary_csv: Vec<u8>,
    /// `no_trigger`, `stable`, `recovered`, `recovering`, `metastable` or `undetermined`.
    pub verdict: String,
    /// The lines `metastable run` prints about the verdict: the `verdict:` line, why, the
    /// loop that kept it down, the projected recovery.
    pub explanation: String,
    /// The whole summary `metastable run` prints for this run.
    pub text: String,
}

/// What [`run_text`] produced: what `metastable run` would write, in memory.
#[derive(Clone, Debug)]
pub struct RunOutput {
    /// The scenario's name.
    pub scenario: String,
    /// The master seed (the first seed with replications).
    pub seed: u64,
    /// One entry per run, in the CLI's order (baseline, variants, counterfactual). Empty with
    /// replications.
    pub runs: Vec<RunTables>,
    /// `comparison.csv` (several runs, no replications).
    pub comparison_csv: Option<Vec<u8>>,
    /// `incident.csv` (an incident replay; in distribution form with replications).
    pub incident_csv: Option<Vec<u8>>,
    /// `replications.csv` (with replications).
    pub replications_csv: Option<Vec<u8>>,
    /// What `metastable run --quiet`-less prints, without the wall-clock and file lines.
    pub text: String,
}

/// Reads the scenario at `path` and runs it as [`run_text`] does.
pub fn run_file(
    path: &Path,
    opts: &RunOptions,
    progress: &Progress,
) -> Result<RunOutput, ApiError> {
    let file = path.display().to_string();
    let bytes =
        crate::scenario::read::read_capped(path, crate::scenario::MAX_FILE_BYTES, "scenario file")
            .map_err(|e| LoadError::File {
                file: file.clone(),
                message: e.to_string(),
            })?;
    // As `scenario::load` reports it: the place of the first invalid byte.
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = e.utf8_error().valid_up_to();
        let prefix = String::from_utf8_lossy(&e.as_bytes()[..valid]).into_owned();
        let (line, column) = crate::scenario::locate::line_col(&prefix, valid);
        LoadError::Invalid {
            file: file.clone(),
            issues: vec![Issue {
                line,
                column,
                field: "(encoding)".into(),
                message: format!("not UTF-8 text: invalid byte at offset {valid}"),
            }],
        }
    })?;
    run_text(&text, &file, opts, progress)
}

/// Loads scenario `text` (`file` names it in messages) with `opts.overrides`, and runs it like
/// `metastable run FILE --seed S [--variant V] [--replications N]`: every chosen variant (and
/// an incident's counterfactual) with the same seed, in parallel on rayon's pool.
pub fn run_text(
    text: &str,
    file: &str,
    opts: &RunOptions,
    progress: &Progress,
) -> Result<RunOutput, ApiError> {
    let sc = load_text(text, file, &opts.overrides)?;
    let sc = if opts.historical_operators {
        sc.with_operator_mode(crate::scenario::OperatorMode::Historical)
    } else {
        sc
    };
    let seed = opts.seed.unwrap_or(sc.seed);
    let set = RunSet::of(&sc, opts.variant.as_deref()).map_err(ApiError::Input)?;
    if let Some(n) = opts.replications {
        return replications(&sc, &set, seed, n, progress);
    }
    progress.start(set.runs.len() as u64, "runs");
    let reports: Vec<RunReport> = set
        .runs
        .par_iter()
        .map(|s| crate::run::run_observed(s, seed, progress.observer()))
        .collect();
    tables_of(&sc, &set, seed, &reports)
}

/// Scenario `text` with `overrides` (labelled `override "PATH"` in messages), validated.
pub fn load_text(
    text: &str,
    file: &str,
    overrides: &[(String, toml::Value)],
) -> Result<Scenario, ApiError> {
    let overrides: Vec<Override> = overrides
        .iter()
        .map(|(path, value)| Override {
            path: path.clone(),
            value: value.clone(),
            line: 0,
            column: 0,
            label: format!("override {path:?}"),
        })
        .collect();
    Ok(crate::scenario::parse_with(text, file, &overrides)?)
}

fn failed(what: &str) -> impl Fn(csv::Error) -> ApiError + '_ {
    move |e| ApiError::Failed(format!("formatting {what}: {e}"))
}

/// The tables `metastable run` writes for `reports` (the runs of `set`).
fn tables_of(
    sc: &Scenario,
    set: &RunSet,
    seed: u64,
    reports: &[RunReport],
) -> Result<RunOutput, ApiError> {
    let mut runs = Vec::with_capacity(reports.len());
    let mut text = String::new();
    for r in reports {
        let summary = r.human_summary();
        text.push_str(&summary);
        runs.push(RunTables {
            variant: r.scenario.variant_name().to_string(),
            windows_csv: r.windows_csv().map_err(failed("windows.csv"))?,
            summary_csv: r.summary_csv().map_err(failed("summary.csv"))?,
            verdict: r.analysis().verdict.as_str().to_string(),
            explanation: explanation(&summary),
            text: summary,
        });
    }
    let comparison_csv = if reports.len() > 1 {
        text.push_str(&format!("variants (same seed {seed}):\n"));
        text.push_str(&crate::analysis::compare::comparison_table(reports));
        Some(crate::analysis::compare::comparison_csv(reports).map_err(failed("comparison.csv"))?)
    } else {
        None
    };
    let incident = crate::analysis::incident::IncidentReport::from_reports(
        reports,
        set.counterfactual.as_deref(),
    );
    let incident_csv = match &incident {
        Some(inc) => {
            text.push_str(&inc.table());
            Some(inc.csv().map_err(failed("incident.csv"))?)
        }
        None => None,
    };
    Ok(RunOutput {
        scenario: sc.name.clone(),
        seed,
        runs,
        comparison_csv,
        incident_csv,
        replications_csv: None,
        text,
    })
}

/// The verdict lines of a run's human summary: from `verdict:` to the component table.
fn explanation(summary: &str) -> String {
    let mut out = String::new();
    let mut on = false;
    for line in summary.lines() {
        if line.starts_with("verdict: ") {
            on = true;
        } else if line.starts_with("  component ") {
            break;
        }
        if on {
            out.push_str(line);
            out.push('\n');
        }
    }
    out
}

/// `--replications n` from `seed`: `replications.csv` and, for a replay, `incident.csv`.
fn replications(
    sc: &Scenario,
    set: &RunSet,
    seed: u64,
    n: u64,
    progress: &Progress,
) -> Result<RunOutput, ApiError> {
    if n == 0 || n > MAX_REPLICATIONS {
        return Err(ApiError::Input(format!(
            "replications {n}: must be in 1..={MAX_REPLICATIONS} (scenario {})",
            sc.file
        )));
    }
    let seeds = seeds(seed, n).ok_or_else(|| {
        ApiError::Input(format!(
            "seed {seed} with {n} replications: the last seed would pass {}",
            u64::MAX
        ))
    })?;
    progress.start((set.runs.len() * seeds.len()) as u64, "runs");
    let reps = Replications::run_observed(sc, set, &seeds, |_| progress.observer());
    let csv = reps.csv().map_err(failed("replications.csv"))?;
    let incident_csv = match reps.incident_csv() {
        Some(r) => Some(r.map_err(failed("incident.csv"))?),
        None => None,
    };
    Ok(RunOutput {
        scenario: sc.name.clone(),
        seed,
        runs: Vec::new(),
        comparison_csv: None,
        incident_csv,
        replications_csv: Some(csv),
        text: reps.table(),
    })
}

// ---------------------------------------------------------------------------------------------
// sweep and map
// ---------------------------------------------------------------------------------------------

/// The type of an axis's values, for typed columns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum AxisKind {
    /// Every value is a TOML integer.
    Integer,
    /// Every value is a number, at least one a float.
    Float,
    /// Strings, booleans, tables or a mix: written as text.
    Text,
}

/// What [`sweep_text`] produced: `runs.csv` and `points.csv`, byte for byte.
#[derive(Clone, Debug)]
pub struct SweepOutput {
    /// The sweep file's stem.
    pub name: String,
    /// Axis names (their columns in `runs.csv` and `points.csv`) and value types.
    pub axes: Vec<(String, AxisKind)>,
    /// `runs.csv`.
    pub runs_csv: Vec<u8>,
    /// `points.csv`.
    pub points_csv: Vec<u8>,
    /// What `metastable sweep` prints about the result (`verdicts: …`).
    pub text: String,
}

/// What [`map_text`] produced: the sweep's tables and the map's, byte for byte.
#[derive(Clone, Debug)]
pub struct MapOutput {
    /// The grid's runs and points.
    pub sweep: SweepOutput,
    /// `map.csv`: one row per cell.
    pub map_csv: Vec<u8>,
    /// `boundary.csv`: the critical value per row.
    pub boundary_csv: Vec<u8>,
    /// `probes.csv`: the bisection's probes.
    pub probes_csv: Vec<u8>,
}

/// Validates sweep `text` (named `file` in messages; its `scenario` path resolved against
/// `dir`).
pub fn load_sweep(text: &str, file: &str, dir: &Path) -> Result<Sweep, ApiError> {
    Ok(crate::sweep::file::parse(text, file, dir)?)
}

fn axis_kinds(sweep: &Sweep) -> Vec<(String, AxisKind)> {
    sweep
        .axes
        .iter()
        .map(|a| {
            let kind = if a.values.iter().all(|v| v.is_integer()) {
                AxisKind::Integer
            } else if a.values.iter().all(|v| v.is_integer() || v.is_float()) {
                AxisKind::Float
            } else {
                AxisKind::Text
            };
            (a.name.clone(), kind)
        })
        .collect()
}

/// Runs every run of `sweep` with `jobs` threads, as `metastable sweep` does (without a
/// journal or shards): the same rows, the same bytes.
pub fn run_sweep(sweep: &Sweep, jobs: usize, progress: &Progress) -> Result<SweepOutput, ApiError> {
    let table = grid(sweep, jobs, progress)?;
    sweep_output(sweep, &table)
}

/// [`load_sweep`] then [`run_sweep`].
pub fn sweep_text(
    text: &str,
    file: &str,
    dir: &Path,
    jobs: usize,
    progress: &Progress,
) -> Result<SweepOutput, ApiError> {
    let sweep = load_sweep(text, file, dir)?;
    run_sweep(&sweep, jobs, progress)
}

fn pool(jobs: usize) -> Result<rayon::ThreadPool, ApiError> {
    if jobs == 0 || jobs > crate::cli::MAX_JOBS {
        return Err(ApiError::Input(format!(
            "jobs: worker threads must be in 1..={}, got {jobs}",
            crate::cli::MAX_JOBS
        )));
    }
    crate::sweep::runner::pool(jobs).map_err(|e| ApiError::Failed(e.to_string()))
}

/// Every run of `sweep`, in parallel, keyed by run id (so the order in which they finish never
/// shows).
fn grid(
    sweep: &Sweep,
    jobs: usize,
    progress: &Progress,
) -> Result<crate::sweep::results::Table, ApiError> {
    let pool = pool(jobs)?;
    progress.start(sweep.n_runs(), "runs");
    let rows: Vec<Result<(u64, String), ApiError>> = pool.install(|| {
        (0..sweep.n_runs())
            .into_par_iter()
            .map(|id| {
                if progress.is_cancelled() {
                    return Err(ApiError::Cancelled);
                }
                let row = crate::sweep::runner::compute_row(sweep, id).map_err(ApiError::Failed);
                progress.run_done();
                row.map(|line| (id, line))
            })
            .collect()
    });
    let axes: Vec<&str> = sweep.axes.iter().map(|a| a.name.as_str()).collect();
    let mut table = crate::sweep::results::Table::new(&axes);
    table.rows = rows.into_iter().collect::<Result<BTreeMap<_, _>, _>>()?;
    Ok(table)
}

fn sweep_output(
    sweep: &Sweep,
    table: &crate::sweep::results::Table,
) -> Result<SweepOutput, ApiError> {
    Ok(SweepOutput {
        name: sweep.name.clone(),
        axes: axis_kinds(sweep),
        runs_csv: table.runs_csv().map_err(failed("runs.csv"))?,
        points_csv: table
            .points_csv()
            .map_err(|e| ApiError::Failed(format!("formatting points.csv: {e}")))?,
        text: format!("{sweep}\n"),
    })
}

/// Validates map `text` (a sweep file with two axes and a `[map]` table) and draws the map
/// as `metastable map` does: the grid, each cell classified, each row's boundary bisected.
pub fn map_text(
    text: &str,
    file: &str,
    dir: &Path,
    jobs: usize,
    progress: &Progress,
) -> Result<MapOutput, ApiError> {
    use crate::sweep::map;
    let sweep = load_sweep(text, file, dir)?;
    let plan = map::plan(&sweep, sweep.text())?;
    let table = grid(&sweep, jobs, progress)?;
    let cells = map::cells(&sweep, &plan, &table).map_err(ApiError::Failed)?;
    let pool = pool(jobs)?;
    let (boundaries, probes, probe_runs) =
        map::bisect(&sweep, &plan, &cells, &pool, |round, rows| {
            progress.set_stage(&format!("bisection round {}: {rows} row(s)", round + 1));
        })
        .map_err(ApiError::Failed)?;
    if progress.is_cancelled() {
        return Err(ApiError::Cancelled);
    }
    let result = map::MapResult {
        cells,
        boundaries,
        probes,
        probe_runs,
    };
    let mut sweep_out = sweep_output(&sweep, &table)?;
    sweep_out
        .text
        .push_str(&map::boundary_table(&plan, &result.boundaries));
    Ok(MapOutput {
        sweep: sweep_out,
        map_csv: map::map_csv(&plan, &result.cells).map_err(failed("map.csv"))?,
        boundary_csv: map::boundary_csv(&plan, &result.boundaries)
            .map_err(failed("boundary.csv"))?,
        probes_csv: map::probes_csv(&plan, &result.probes).map_err(failed("probes.csv"))?,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    const MM1: &str = r#"
[scenario]
name = "mm1"
duration_s = 30.0
seed = 3

[[sources]]
name = "users"
target = "server"
rate_per_s = 8.0

[[services]]
name = "server"
servers = 1
service_time = { dist = "exponential", mean_ms = 100.0 }
"#;

    #[test]
    fn run_text_gives_the_cli_tables_and_seed() {
        let p = Progress::default();
        let out = run_text(MM1, "mm1.toml", &RunOptions::default(), &p).expect("runs");
        assert_eq!(out.seed, 3);
        let sc = crate::scenario::parse(MM1, "mm1.toml").expect("valid");
        let direct = crate::run::run(&sc, 3);
        assert_eq!(
            out.runs[0].windows_csv,
            direct.windows_csv().expect("csv"),
            "seed 3"
        );
        assert_eq!(out.runs[0].summary_csv, direct.summary_csv().expect("csv"));
        assert!(out.runs[0].explanation.starts_with("verdict: no_trigger"));
        let (done, total) = p.fraction();
        assert_eq!(total, 1);
        assert!((done - 1.0).abs() < 1e-9, "{done}");
    }

    #[test]
    fn overrides_and_errors_keep_their_fields() {
        let opts = RunOptions {
            seed: Some(5),
            overrides: vec![("services[server].servers".into(), toml::Value::Integer(-3))],
            ..RunOptions::default()
        };
        let e = run_text(MM1, "mm1.toml", &opts, &Progress::default()).unwrap_err();
        assert_eq!(e.exit_code(), 2);
        assert_eq!(e.file(), Some("mm1.toml"));
        assert_eq!(e.issues()[0].field, "services[0].servers", "{e}");
        let bad = MM1.replace("servers = 1", "servers = \"x\"");
        let e = run_text(&bad, "x.toml", &RunOptions::default(), &Progress::default()).unwrap_err();
        assert_eq!(e.issues()[0].line, 14, "{e}");
    }
}
