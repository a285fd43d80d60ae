//! Sweeps and maps: many runs of one scenario over a grid of field values, and their results.
//!
//! The data moves forward, each step in one file:
//!
//! ```text
//! file.rs ─▶ plan.rs (sweep file → points × replications, seeds) ─▶ runner.rs (run cells in parallel,
//! journal, resume) ─▶ results.rs (a run → a row; rows → runs.csv, points.csv)
//! shard.rs: one shard of the plan per cluster task, and the byte-identical merge
//! map.rs: a metastability map — bisect each row's boundary over the plan
//! ```
//!
//! `columns.rs` names the fixed columns every step shares. This folder runs scenarios only
//! through [`crate::run()`] and never reaches into a run.

#[doc(hidden)]
pub mod columns;
pub mod file;
#[doc(hidden)]
pub mod map;
pub mod plan;
pub mod results;
pub mod runner;
pub mod shard;

pub use file::{load, parse};
pub use plan::*;
