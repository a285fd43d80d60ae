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

pub mod analysis;
pub mod compare;
pub mod locate;
pub mod output;
pub mod overrides;
pub mod plot;
pub mod report;
pub mod run;
pub mod scenario;

pub use run::{RunReport, run};
pub use scenario::{LoadError, Scenario, load, parse, parse_with};
