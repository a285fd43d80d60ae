//! Open-loop Poisson source with a piecewise-constant rate schedule.

use rand_distr::{Distribution, Exp1};
use sim_core::{CounterId, Recorder, SimDuration, SimRng, SimTime};

use crate::spec::{ReplyTo, SourceSpec};

pub struct Source {
    pub name: String,
    pub target: u32,
    pub reply_to: ReplyTo,
    pub(crate) schedule: Vec<(SimTime, f64)>,
    pub(crate) rate_per_s: f64,
    /// `1e9 / rate_per_s`: mean gap in nanoseconds at the current rate.
    pub(crate) mean_gap_ns: f64,
    /// Bumped on every rate change; an arrival drawn under an older rate is stale and ignored
    /// (lazy cancellation).
    pub(crate) epoch: u32,
    rng: SimRng,
    pub(crate) m_first_tries: CounterId,
}

impl Source {
    pub fn new(spec: &SourceSpec, seed: u64, rec: &mut Recorder) -> Source {
        Source {
            name: spec.name.clone(),
            target: spec.target,
            reply_to: spec.reply_to,
            schedule: spec.schedule.clone(),
            rate_per_s: 0.0,
            mean_gap_ns: f64::INFINITY,
            epoch: 0,
            rng: sim_core::stream(seed, &format!("{}/arrivals", spec.name)),
            m_first_tries: rec.counter(&spec.name, "first_tries"),
        }
    }

    /// Time to the next arrival at the current rate, or `None` while the rate is zero.
    /// (Memorylessness makes redrawing at a rate change exact.)
    #[inline]
    pub(crate) fn next_gap(&mut self) -> Option<SimDuration> {
        if self.rate_per_s <= 0.0 {
            return None;
        }
        let e: f64 = Exp1.sample(&mut self.rng);
        Some(SimDuration::from_nanos_f64(e * self.mean_gap_ns))
    }

    pub(crate) fn set_rate(&mut self, rate_per_s: f64) {
        self.rate_per_s = rate_per_s;
        self.mean_gap_ns = if rate_per_s > 0.0 {
            1e9 / rate_per_s
        } else {
            f64::INFINITY
        };
    }
}
