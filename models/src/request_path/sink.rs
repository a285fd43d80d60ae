//! A sink: where calls end and their end-to-end outcome is recorded (several clients may share
//! one).

use sim_core::{CounterId, HistId, Recorder};

#[derive(Clone, Debug)]
pub struct SinkSpec {
    pub name: String,
}

pub struct Sink {
    pub name: String,
    pub(crate) completions: CounterId,
    pub(crate) failures: CounterId,
    /// End-to-end latency of successful calls (first try → success).
    pub(crate) latency: HistId,
}

impl Sink {
    pub fn new(spec: &SinkSpec, rec: &mut Recorder) -> Sink {
        Sink {
            name: spec.name.clone(),
            completions: rec.counter(&spec.name, "completions"),
            failures: rec.counter(&spec.name, "failures"),
            latency: rec.histogram(&spec.name, "latency"),
        }
    }
}
