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
    pub(crate) call_ok: HistId,
    /// End-to-end latency of every call, a failed one counted until it gave up.
    pub(crate) call_all: HistId,
}

impl Sink {
    pub fn new(spec: &SinkSpec, rec: &mut Recorder) -> Sink {
        Sink {
            name: spec.name.clone(),
            completions: rec.counter(&spec.name, "completions"),
            failures: rec.counter(&spec.name, "failures"),
            call_ok: rec.histogram(&spec.name, "call_ok"),
            call_all: rec.histogram(&spec.name, "call_all"),
        }
    }
}
