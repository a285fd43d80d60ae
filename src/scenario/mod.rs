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
#[doc(hidden)]
pub mod autoscaler;
mod client;
#[doc(hidden)]
pub mod clock;
#[doc(hidden)]
pub mod common;
#[doc(hidden)]
pub mod config_push;
#[doc(hidden)]
pub mod dns_automation;
#[doc(hidden)]
pub mod edge;
pub mod error;
#[doc(hidden)]
pub mod guard;
#[doc(hidden)]
pub mod hedge;
#[doc(hidden)]
pub mod lease;
mod load;
#[doc(hidden)]
pub mod load_balancer;
#[doc(hidden)]
pub mod locate;
#[doc(hidden)]
pub mod operator;
pub mod overrides;
#[doc(hidden)]
pub mod providers;
#[doc(hidden)]
pub mod read;
#[doc(hidden)]
pub mod schema;
mod service;
mod validate;
pub mod validated;

pub use common::Kind;
#[doc(hidden)]
pub use common::*;
pub use error::{Issue, LoadError};
pub use load::{load, parse, parse_with};
pub use overrides::Override;
#[doc(hidden)]
pub use schema::*;
pub use validated::*;
