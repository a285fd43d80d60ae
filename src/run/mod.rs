//! Build a world from a validated scenario and run it: `(Scenario, seed) → RunReport`.
//! A pure function: no wall clock, no OS randomness, no shared state.

use models::{Event, World};
use sim_core::{Limits, Recorder, RunStats, Sim, SimTime};

use crate::scenario::Scenario;

/// Everything a run produced.
pub struct RunReport {
    pub scenario: Scenario,
    pub seed: u64,
    pub stats: RunStats,
    pub rec: Recorder,
    /// The trigger as the mechanism carried it (`[incident] trigger`): start and, if it ended
    /// within the run, end, in seconds.
    pub trigger_measured: Option<(f64, Option<f64>)>,
    /// When an operator policy that removes the trigger first acted, in seconds.
    pub trigger_removed_s: Option<f64>,
    /// What each `[[operators]]` policy did.
    pub operators: Vec<models::OperatorLog>,
}

/// Runs `scenario` with master seed `seed`.
pub fn run(scenario: &Scenario, seed: u64) -> RunReport {
    let rec = Recorder::new(
        scenario.window,
        scenario.warmup,
        scenario.limits.max_windows as usize,
    )
    .with_byte_budget(scenario.limits.max_window_bytes);
    let mut sim: Sim<Event> = Sim::new(rec);
    let mut world = World::build(&scenario.world, seed, &mut sim);
    let limits = Limits {
        horizon: SimTime::ZERO.saturating_add(scenario.duration),
        max_events: scenario.limits.max_events,
    };
    let stats = sim.run(&mut world, limits);
    let mut scenario = scenario.clone();
    scenario.variants.clear();
    let secs = |t: SimTime| t.as_secs_f64();
    RunReport {
        trigger_measured: world
            .trigger_measured()
            .map(|(a, b)| (secs(a), b.map(secs))),
        trigger_removed_s: world.trigger_removed_at().map(secs),
        operators: world.operator_log(),
        scenario,
        seed,
        stats,
        rec: sim.rec,
    }
}
pub mod metrics;
