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
//! - `analytic` (internal): the analytic companion: fluid-model equilibria, bistable load
//!   ranges and tipping triggers (`metastable analyze`), exact Markov chains of small
//!   instances.
//! - `rare` (internal): importance splitting on the simulator (`metastable rare`): cloned
//!   worlds, re-seeded streams, rare-event probabilities with intervals.
//! - `api` (internal): a facade for embedding programs (the Python package): run a scenario,
//!   sweep or map from a path or TOML text, with overrides, and get the CLI's CSV tables in
//!   memory.
//! - `cli` (internal): the `sweep`, `map`, `merge`, replication and `robustness` commands.
//!
//! # Using it from Rust
//!
//! The public API is what a program needs to load a scenario, change fields, run it, read the
//! report and sweep over field values; everything else is `#[doc(hidden)]` (the command line's
//! internals, figures, the analytic companion) and may change without notice.
//!
//! | step | items |
//! |---|---|
//! | load | [`load`] (a file), [`parse`] (TOML text), [`Scenario`], [`LoadError`] (`file:line:col: field: message`) |
//! | override fields | [`parse_with`] and [`Override::new`] with the CLI's paths (`services[db].servers`) |
//! | run | [`run()`] — a pure function of (scenario, seed) — giving a [`RunReport`] |
//! | read the report | [`RunReport::analysis`] ([`Verdict`], recovery time, reason), [`RunReport::summary_of`] and [`RunReport::series_of`] ([`Values`]: one component over the summary period or per window), [`RunReport::windows_csv`], [`RunReport::summary_csv`], [`RunReport::human_summary`] |
//! | compare designs | [`Scenario::with_variants`], [`analysis::compare::rows`], [`analysis::compare::comparison_csv`], [`analysis::compare::comparison_table`] |
//! | many seeds | [`robust::replications`]: [`Replications::run`] over [`robust::replications::seeds`] |
//! | sweep | [`sweep::load`] / [`sweep::parse`] a sweep file, [`sweep::runner::run_sweep`] → `runs.csv`, `points.csv` |
//!
//! Runnable programs: `examples/load_and_run.rs`, `examples/compare_designs.rs`,
//! `examples/sweep_in_code.rs` (`cargo run --release --example load_and_run`).
//!
//! ```
//! use metastable::{Override, Verdict};
//!
//! // HotOS 2021 §2.1: 280 QPS into a database, 1 s timeout, one retry, a 10 s partition.
//! let sc = metastable::load("scenarios/hotos-retry.toml".as_ref())?;
//! let report = metastable::run(&sc, sc.seed); // same (scenario, seed), same bytes
//! let a = report.analysis();
//! assert_eq!(a.verdict, Verdict::Metastable); // the partition ends; the retries keep it down
//! println!("{}: {}", a.verdict.as_str(), a.verdict_reason);
//!
//! // The same file without the retry: recovers once the partition ends.
//! let text = std::fs::read_to_string("scenarios/hotos-retry.toml")?;
//! let no_retry = Override::new("clients[web].retry.max_attempts", 1);
//! let sc1 = metastable::parse_with(&text, "hotos-retry.toml", &[no_retry])?;
//! assert_eq!(metastable::run(&sc1, sc.seed).analysis().verdict, Verdict::Recovered);
//!
//! // One component over the summary period (warm-up excluded), as in summary.csv.
//! let db = report.summary_of("db").expect("the scenario has a service db");
//! println!("db utilisation {:?}, wasted {:?}", db.utilisation, db.wasted);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! ## Re-exports
//!
//! A [`Scenario`] holds a [`models::WorldSpec`] and durations in [`sim_core`]'s units, and an
//! [`Override`]'s value is a [`toml::Value`]: the three crates are re-exported so a program
//! needs no other dependency (and gets the same versions). The items above are also at the
//! crate root.

#![warn(missing_docs)]

pub mod analysis;
#[doc(hidden)]
pub mod analytic;
#[doc(hidden)]
pub mod api;
#[doc(hidden)]
pub mod cli;
#[doc(hidden)]
pub mod rare;
pub mod report;
pub mod robust;
pub mod run;
pub mod scenario;
pub mod sweep;

pub use analysis::{Analysis, Verdict};
pub use robust::replications::Replications;
pub use run::metrics::Values;
pub use run::{RunReport, run};
pub use scenario::{LoadError, Override, Scenario, load, parse, parse_with};

pub use models;
pub use sim_core;
pub use toml;
