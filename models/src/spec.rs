//! Validated, unit-resolved descriptions of components: what the scenario layer produces and
//! [`crate::World::build`] consumes. Names are already resolved to indices; every number is
//! finite and in range (the scenario layer guarantees it and reports violations with file,
//! line and field).

use crate::dist::Dist;
use sim_core::SimTime;

/// Where a finished request's outcome is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyTo {
    Nowhere,
    Sink(u32),
}

#[derive(Clone, Debug)]
pub struct SourceSpec {
    pub name: String,
    /// Index into `WorldSpec::services`.
    pub target: u32,
    pub reply_to: ReplyTo,
    /// Piecewise-constant Poisson rate: `(from, rate_per_s)`, sorted, first at time zero.
    pub schedule: Vec<(SimTime, f64)>,
}

#[derive(Clone, Debug)]
pub struct ServiceSpec {
    pub name: String,
    pub servers: u32,
    /// Waiting room (excluding requests in service); `None` = unbounded (still subject to the
    /// world's live-request limit).
    pub queue_capacity: Option<u32>,
    pub service_time: Dist,
}

#[derive(Clone, Debug)]
pub struct SinkSpec {
    pub name: String,
}

#[derive(Clone, Debug)]
pub struct WorldSpec {
    pub sources: Vec<SourceSpec>,
    pub services: Vec<ServiceSpec>,
    pub sinks: Vec<SinkSpec>,
    /// Limit on requests alive at once across the world; reaching it stops the run with the
    /// reason `live_request_limit`.
    pub max_live_requests: u64,
}
