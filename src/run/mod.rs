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
}

/// Runs `scenario` with master seed `seed`.
pub fn run(scenario: &Scenario, seed: u64) -> RunReport {
    let rec = Recorder::new(
        scenario.window,
        scenario.warmup,
        scenario.limits.max_windows as usize,
    );
    let mut sim: Sim<Event> = Sim::new(rec);
    let mut world = World::build(&scenario.world, seed, &mut sim);
    let limits = Limits {
        horizon: SimTime::ZERO.saturating_add(scenario.duration),
        max_events: scenario.limits.max_events,
    };
    let stats = sim.run(&mut world, limits);
    let mut scenario = scenario.clone();
    scenario.variants.clear();
    RunReport {
        scenario,
        seed,
        stats,
        rec: sim.rec,
    }
}
pub mod metrics;
