//! What a run means: from a [`crate::run::RunReport`] to conclusions.
//!
//! - [`recovery`]: the baseline, the recovery time and the verdict of one run, peak
//!   amplification, wasted work.
//! - [`dynamics`]: a run that has not recovered — recovering, metastable or undetermined, from
//!   the trend of its state variables (`states.rs`: one or more per mechanism).
//! - [`loops`]: the feedback loop that keeps a run down, one rule per mechanism, with evidence.
//! - [`compare`]: the variants of a scenario side by side (`comparison.csv`, the table).
//! - [`incident`]: a replay's trigger, tail and self-healing next to the published figures.
//! - [`failover`]: DNS failover timings (detect, record change, caching).
//! - [`blast`]: a provider, region or zone failure's blast radius per user-facing flow.
//!
//! This folder reads runs and never runs one, writes no file and draws nothing; the reports
//! in [`crate::report`] present what it concludes.

#[doc(hidden)]
pub mod blast;
pub mod compare;
#[doc(hidden)]
pub mod dynamics;
#[doc(hidden)]
pub mod failover;
#[doc(hidden)]
pub mod incident;
pub mod loops;
pub mod recovery;
mod states;

pub use recovery::{Analysis, Verdict};
