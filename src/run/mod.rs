//! Build a world from a validated scenario and run it: `(Scenario, seed) → RunReport`.
//! A pure function: no wall clock, no OS randomness, no shared state. [`state`]: the same run
//! sampling every component's point-in-time state per window (`run --record-state`).

use models::{Event, World};
use sim_core::{Limits, Recorder, RunStats, Sim, SimTime};

use crate::scenario::Scenario;

/// Everything a run produced.
pub struct RunReport {
    /// The scenario that ran (without its variants: a report is one variant's run).
    pub scenario: Scenario,
    /// The master seed it ran with.
    pub seed: u64,
    /// Engine statistics: events processed and why the run stopped.
    pub stats: RunStats,
    /// Every metric the run recorded, per window; read it through
    /// [`RunReport::component_ids`], [`RunReport::summary_of`], [`RunReport::series_of`].
    pub rec: Recorder,
    /// The trigger as the mechanism carried it (`[incident] trigger`): start and, if it ended
    /// within the run, end, in seconds.
    pub trigger_measured: Option<(f64, Option<f64>)>,
    /// When an operator policy that removes the trigger first acted, in seconds.
    pub trigger_removed_s: Option<f64>,
    /// What each `[[operators]]` policy did.
    pub operators: Vec<models::OperatorLog>,
    /// Each client's DNS failover log (`dns.failover`), by client name.
    pub dns_failover: Vec<(String, models::infra::dns_failover::FailoverLog)>,
    /// Each client's or call edge's endpoint failover log (`endpoint_failover`), by name.
    pub endpoint_failover: Vec<(String, models::infra::endpoint_failover::EndpointLog)>,
}

/// Closed windows a run holds in memory before it writes them to an unnamed temporary file
/// (`sim_core::spill`): 64 MiB. Only long runs reach it; what they report is the same.
pub const SPILL_WINDOW_BYTES: u64 = 64 << 20;

/// Runs `scenario` with master seed `seed`: a pure function of the two (no wall clock, no OS
/// randomness), so the same arguments give the same report, byte for byte, on any machine.
///
/// ```
/// // M/M/1 at ρ = 0.8 (λ = 80/s, mean service 10 ms), 2 000 s.
/// let sc = metastable::load("scenarios/mm1.toml".as_ref()).unwrap();
/// let report = metastable::run(&sc, 7);
/// let server = report.summary_of("server").unwrap();
/// // About 150 000 customers: the utilisation is ρ within a few standard errors.
/// let u = server.utilisation.unwrap();
/// assert!((u - 0.8).abs() < 0.02, "utilisation {u} (seed 7)");
/// assert_eq!(report.summary_csv().unwrap(), metastable::run(&sc, 7).summary_csv().unwrap());
/// ```
pub fn run(scenario: &Scenario, seed: u64) -> RunReport {
    run_observed(scenario, seed, |_| {})
}

/// [`run`] holding at most `spill_bytes` of closed windows in memory (at least one window)
/// instead of [`SPILL_WINDOW_BYTES`]: the same report, windows read back from disk.
pub fn run_spilling(scenario: &Scenario, seed: u64, spill_bytes: u64) -> RunReport {
    let (mut sim, mut world, limits) = start_spilling(scenario, seed, spill_bytes);
    let stats = sim.run_observed(&mut world, limits, |_| {});
    finish(scenario, seed, sim, world, stats)
}

/// [`run`], telling `progress` the fraction of the horizon simulated so far (0..=1) every
/// [`sim_core::OBSERVE_EVERY`] events and at the end. The observer cannot change the run: the
/// report is the same as [`run`]'s.
pub fn run_observed(scenario: &Scenario, seed: u64, progress: impl FnMut(f64)) -> RunReport {
    let (mut sim, mut world, limits) = start(scenario, seed);
    let stats = sim.run_observed(&mut world, limits, fraction_of(scenario, progress));
    finish(scenario, seed, sim, world, stats)
}

/// A built world and its engine, ready to run `scenario` with master seed `seed`.
fn start(scenario: &Scenario, seed: u64) -> (Sim<Event>, World, Limits) {
    start_spilling(scenario, seed, SPILL_WINDOW_BYTES)
}

fn start_spilling(scenario: &Scenario, seed: u64, spill_bytes: u64) -> (Sim<Event>, World, Limits) {
    let rec = Recorder::new(
        scenario.window,
        scenario.warmup,
        scenario.limits.max_windows as usize,
    )
    .with_byte_budget(scenario.limits.max_window_bytes)
    .with_spill(spill_bytes, tempfile::tempfile);
    let mut sim: Sim<Event> = Sim::new(rec);
    let world = World::build(&scenario.world, seed, &mut sim);
    let limits = Limits {
        horizon: SimTime::ZERO.saturating_add(scenario.duration),
        max_events: scenario.limits.max_events,
    };
    (sim, world, limits)
}

/// The engine's clock observer for a `progress` that takes the fraction of the horizon done.
fn fraction_of(scenario: &Scenario, mut progress: impl FnMut(f64)) -> impl FnMut(SimTime) {
    let horizon = scenario.duration.as_secs_f64().max(1e-9);
    move |t| progress((t.as_secs_f64() / horizon).clamp(0.0, 1.0))
}

/// The report of a finished run.
fn finish(
    scenario: &Scenario,
    seed: u64,
    sim: Sim<Event>,
    world: World,
    stats: RunStats,
) -> RunReport {
    let mut scenario = scenario.clone();
    scenario.variants.clear();
    let secs = |t: SimTime| t.as_secs_f64();
    RunReport {
        trigger_measured: world
            .trigger_measured()
            .map(|(a, b)| (secs(a), b.map(secs))),
        trigger_removed_s: world.trigger_removed_at().map(secs),
        operators: world.operator_log(),
        dns_failover: world.dns_failover_logs(),
        endpoint_failover: world.endpoint_failover_logs(),
        scenario,
        seed,
        stats,
        rec: sim.rec,
    }
}
pub mod metrics;
#[doc(hidden)]
pub mod state;
