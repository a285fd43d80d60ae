//! Scenario files: TOML text → [`schema::ScenarioFile`] (serde, unknown keys rejected) →
//! validated [`Scenario`] (units resolved, names → indices, limits checked).
//!
//! Every error names the file, the line and the field, e.g.
//! `scenarios/x.toml:14: services[2].servers: must be an integer in 1..=1000000, got -3`.
//! All problems in a file are reported at once, sorted by line.
//!
//! The pipeline inside this folder:
//!
//! ```text
//! load.rs ─▶ overrides.rs ─▶ schema.rs (serde) ─▶ validate.rs ─┬─ client.rs, service.rs, actions.rs
//!                                                             └─ dns_automation.rs, lease.rs,
//!                                                                load_balancer.rs, config_push.rs, edge.rs
//!                                                         ─▶ validated.rs (Scenario → models::WorldSpec)
//! ```
//!
//! `common.rs` holds what they share (bounds, [`Kind`], the `Validator` that collects
//! issues); `locate.rs` maps byte offsets to field paths for the messages; `read.rs` reads
//! every input file of the program (regular files only, capped). This folder owns
//! all input checking: nothing below it (`run`, `models`) sees raw input. It may use `models`
//! and `sim_core` for the validated types; it never runs a simulation.

mod actions;
pub mod autoscaler;
mod client;
pub mod clock;
pub mod common;
pub mod config_push;
pub mod dns_automation;
pub mod edge;
pub mod error;
pub mod guard;
pub mod hedge;
pub mod lease;
mod load;
pub mod load_balancer;
pub mod locate;
pub mod operator;
pub mod overrides;
pub mod providers;
pub mod read;
pub mod schema;
mod service;
mod validate;
pub mod validated;

pub use common::*;
pub use error::{Issue, LoadError};
pub use load::{load, parse, parse_with};
pub use schema::*;
pub use validated::*;
