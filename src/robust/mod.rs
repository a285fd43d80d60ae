//! Many seeds of one scenario, and small changes of its inferred parameters.
//!
//! - [`stats`]: the type-7 quantile and the median/quartiles/extremes summary.
//! - [`replications`]: `metastable run FILE --replications N` — every variant (and the
//!   incident counterfactual) over N seeds with common random numbers, each run reduced to a
//!   small record at once; per-variant distributions, `replications.csv`, `incident.csv` in
//!   distribution form, the printed tables.
//! - [`robustness`]: `metastable robustness FILE` — each `[incident] inferred` parameter
//!   scaled by `1 ± p` through the scenario layer's overrides, the replay's shape compared
//!   with the unperturbed one, knife edges flagged; `robustness.csv` and the table.
//!
//! This folder runs simulations (through [`crate::run()`], on rayon's current pool) and reads
//! them through [`crate::analysis`]; it formats its outputs but writes no file and parses no
//! argument ([`crate::cli`] does). Records come back in a fixed order, so outputs are the same
//! bytes for any number of threads. It never resolves an override path itself: perturbed
//! files go through [`crate::scenario::parse_with`].

pub mod replications;
#[doc(hidden)]
pub mod robustness;
pub mod stats;
