//! `run --record-state`: the components' point-in-time state at the end of every metric
//! window (breaker state, budget level, resolver caches, current servers, flags; see
//! `models::world::state`), written as `state.csv` beside `windows.csv` for the HTML
//! report's step-through. Runs that do not ask for it take [`super::run`], whose loop
//! compiles the observation out: same speed, same bytes.

use models::{StateValue, World};

use super::RunReport;
use crate::scenario::Scenario;

/// One sample: (time in s, component, field, value).
pub type StateRow = (f64, String, &'static str, StateValue);

/// The recorded state of one run.
#[derive(Clone, Debug, Default)]
pub struct StateLog {
    pub rows: Vec<StateRow>,
}

impl StateLog {
    /// `state.csv`: `variant, seed, time_s, component, field, value`, one row per sample, in
    /// time order then component order.
    pub fn csv(&self, variant: &str, seed: u64) -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record(["variant", "seed", "time_s", "component", "field", "value"])?;
        let seed = seed.to_string();
        for (t, comp, field, v) in &self.rows {
            let value = match v {
                StateValue::Num(x) => format!("{x}"),
                StateValue::Text(s) => (*s).to_owned(),
            };
            w.write_record([variant, &seed, &format!("{t}"), comp, field, &value])?;
        }
        w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
    }
}

/// As [`super::run_observed`], also sampling every component's state at each window end.
pub fn run_recording_state(
    scenario: &Scenario,
    seed: u64,
    progress: impl FnMut(f64),
) -> (RunReport, StateLog) {
    let (mut sim, mut world, limits) = super::start(scenario, seed);
    let mut log = StateLog::default();
    let stats = sim.run_sampled(
        &mut world,
        limits,
        scenario.window,
        |w: &World, t| {
            let secs = t.as_secs_f64();
            w.state_samples(t, &mut |comp, field, v| {
                log.rows.push((secs, comp.to_owned(), field, v));
            });
        },
        super::fraction_of(scenario, progress),
    );
    (super::finish(scenario, seed, sim, world, stats), log)
}
