//! # metastable
//!
//! The pipeline from a scenario file to results:
//!
//! ```text
//! text ─parse─▶ ScenarioFile ─validate─▶ Scenario ─run(seed)─▶ RunReport ─▶ CSV + summary
//! ```
//!
//! - [`scenario`]: TOML schema, validation with `file:line:col: field: message` errors.
//! - [`mod@run`]: builds a [`models::World`] and runs it on the [`sim_core`] engine.
//! - [`report`]: windowed and summary CSVs, the human summary.
//! - [`output`]: atomic file writes.
//! - [`incident`]: a replay's trigger, tail and self-healing next to the published figures.
//! - [`sweep`] → [`runner`] → [`results`]: sweep files, parallel resumable runs, `runs.csv` and
//!   `points.csv`; [`shard`]: cluster shards and their merge; [`map`] + [`plot_map`]:
//!   metastability maps; [`commands`]: the `sweep`, `map` and `merge` commands.

pub mod analysis;
pub mod commands;
pub mod compare;

pub mod incident;

pub mod map;
pub mod output;

pub mod plot;
pub mod plot_map;
pub mod report;
pub mod results;
pub mod run;
pub mod runner;
pub mod scenario;
pub mod shard;
pub mod sweep;

pub use run::{RunReport, run};
pub use scenario::{LoadError, Scenario, load, parse, parse_with};
