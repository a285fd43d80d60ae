//! The analytic companion to the simulator (`metastable analyze`; docs/analytic.md).
//!
//! Owns: models of a scenario that are solved rather than simulated —
//!
//! - `scope.rs`: what the fluid model covers, read from a validated [`crate::Scenario`]
//!   (one client tier into one service, or into a linear call chain); anything else is an
//!   [`scope::OutOfScope`] naming the part of the file;
//! - `queueing.rs`: the formulas (Erlang C, waiting-time tails, survival functions, the
//!   probability that an attempt is late);
//! - `cache.rs`: a client cache's hit ratio (Zipf popularity bins, Che's approximation of
//!   LRU, look-aside or read-through fills) and its fluid occupancy in time;
//! - `fluid.rs`: equilibria (healthy, collapsed), their stability, the critical backlog and
//!   the bistable load range;
//! - `chain.rs`: the same for a linear chain of services joined by downstream calls (each
//!   tier solved by `fluid.rs`, its servers held for the call below, retries multiplying);
//! - `chain_transient.rs`: a chain's bottleneck as a one-tier model with the layers'
//!   attempts multiplied, for the transient figures (recovery, tipping trigger and backlog);
//! - `transient.rs`: the fluid model in time, driven by the scenario's triggers: recovery time
//!   and the shortest tipping trigger;
//! - `ctmc.rs`: exact continuous-time Markov chains of small instances (M/M/c/K, a small
//!   retrying system): stationary distributions and expected hitting times;
//! - `splitting.rs`: fixed-effort importance splitting for rare tipping probabilities on those
//!   chains, against crude Monte Carlo at equal cost;
//! - `report.rs`: one analysis per variant and the text the command prints;
//! - `map_line.rs`: the predicted boundary `metastable map` draws over its heat map.
//!
//! Uses `scenario/` (the validated types) and, for the map line, `sweep/`'s plan (to build a
//! row's scenario); nothing but `cli/` (the map line) and `main.rs` imports it, and it never
//! runs the simulator.

pub mod cache;
pub mod chain;
pub mod chain_transient;
pub mod ctmc;
pub mod fluid;
pub mod map_line;
pub mod queueing;
pub mod report;
pub mod scope;
pub mod splitting;
pub mod transient;

pub use report::{Analysis, analyze};
pub use scope::{Model, OutOfScope, model_of};
