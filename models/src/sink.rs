//! A sink: where requests end and their end-to-end outcome is recorded.

use sim_core::{CounterId, HistId, Recorder};

use crate::spec::SinkSpec;

pub struct Sink {
    pub name: String,
    pub(crate) completions: CounterId,
    pub(crate) rejected: CounterId,
    /// End-to-end latency of completed requests (source emission → completion).
    pub(crate) latency: HistId,
}

impl Sink {
    pub fn new(spec: &SinkSpec, rec: &mut Recorder) -> Sink {
        Sink {
            name: spec.name.clone(),
            completions: rec.counter(&spec.name, "completions"),
            rejected: rec.counter(&spec.name, "rejected"),
            latency: rec.histogram(&spec.name, "latency"),
        }
    }
}
