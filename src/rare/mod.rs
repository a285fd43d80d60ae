//! Rare events on the simulator: fixed-effort importance splitting (`metastable rare`,
//! docs/analytic.md §9).
//!
//! The simulator's [`models::World`] and its engine are cloned when a trajectory's progress
//! measure crosses a level; every clone's random streams are re-seeded from (seed,
//! replication, level, trajectory index) ([`models::World::reseed`]), so a splitting run is a
//! pure function of (scenario, seed). Reads validated scenarios; builds worlds itself (with
//! one metric window for the whole horizon: splitting reads component state, not metrics);
//! writes nothing.
//!
//! - [`spec`]: the progress measure, levels and target named by the command line, resolved to
//!   component indices with errors that name the bad part.
//! - [`split`]: one fixed-effort estimate, crude Monte Carlo, replications, confidence
//!   intervals and the variance reduction at equal cost; the printed text.

pub mod spec;
pub mod split;

pub use spec::{RareSpec, parse_measure};
pub use split::{RareResult, describe, estimate};
