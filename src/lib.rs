//! # metastable
//!
//! The pipeline from a scenario file to results; each step is a folder, and each folder uses
//! only the ones before it:
//!
//! ```text
//! scenario/ ─parse, validate─▶ Scenario ─run/ (seed)─▶ RunReport ─analysis/─▶ verdicts,
//!   (TOML, errors with file:line:field)     (models on sim_core)      comparisons, incidents
//!                                                                          │
//!                                      report/ ◀───────────────────────────┘
//!                                      CSV tables, human summary, figures, atomic writes
//! sweep/: many runs of one scenario (plan → runner → results, shards, maps)
//! cli/:   the sweep, map and merge commands; main.rs owns the process edge
//! ```
//!
//! - [`scenario`]: TOML schema, validation with `file:line:col: field: message` errors,
//!   overrides (variants and sweep axes).
//! - [`mod@run`]: builds a [`models::World`] and runs it on the [`sim_core`] engine; reading
//!   a run's metrics ([`run::metrics`]).
//! - [`analysis`]: recovery and verdicts, variant comparisons, incident reports.
//! - [`report`]: windowed and summary CSVs, the human summary, dashboards, atomic writes.
//! - [`sweep`]: sweep files, parallel resumable runs, `runs.csv` and `points.csv`, cluster
//!   shards and their merge, metastability maps.
//! - [`robust`]: replications over seeds and robustness to inferred parameters.
//! - [`analytic`]: the analytic companion: fluid-model equilibria, bistable load ranges and
//!   tipping triggers (`metastable analyze`), exact Markov chains of small instances.
//! - [`api`]: a facade for embedding programs (the Python package): run a scenario, sweep or
//!   map from a path or TOML text, with overrides, and get the CLI's CSV tables in memory.
//! - [`cli`]: the `sweep`, `map`, `merge`, replication and `robustness` commands.

pub mod analysis;
pub mod analytic;
pub mod api;
pub mod cli;
pub mod report;
pub mod robust;
pub mod run;
pub mod scenario;
pub mod sweep;

pub use run::{RunReport, run};
pub use scenario::{LoadError, Scenario, load, parse, parse_with};
