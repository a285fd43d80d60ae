//! A sink: where calls end and their end-to-end outcome is recorded (several clients may share
//! one).

use sim_core::{CounterId, HistId, MetricRef, Recorder};

#[derive(Clone, Debug)]
pub struct SinkSpec {
    pub name: String,
}

#[derive(Clone)]
pub struct Sink {
    pub name: String,
    pub(crate) completions: CounterId,
    pub(crate) failures: CounterId,
    /// End-to-end latency of successful calls (first try → success).
    pub(crate) call_ok: HistId,
    /// End-to-end latency of every call, a failed one counted until it gave up.
    pub(crate) call_all: HistId,
    /// True when one client alone reports here: the sink's metrics are that client's
    /// (successes, give-ups, both latencies) under the sink's names, recorded once.
    pub(crate) mirror: bool,
}

/// The metrics of the one client that reports to a sink: its successes, give-ups and latency
/// histograms, which the sink's completions, failures and latencies would copy value for value.
#[derive(Clone, Copy, Debug)]
pub struct SinkMirror {
    pub successes: CounterId,
    pub give_ups: CounterId,
    pub call_ok: HistId,
    pub call_all: HistId,
}

impl Sink {
    /// A sink; with `mirror`, its metrics are registered as names for the one reporting
    /// client's, so each call is recorded once (a third fewer records per request end to end).
    pub fn new(spec: &SinkSpec, rec: &mut Recorder, mirror: Option<SinkMirror>) -> Sink {
        let n = &spec.name;
        match mirror {
            Some(m) => {
                rec.alias(n, "completions", MetricRef::Counter(m.successes));
                rec.alias(n, "failures", MetricRef::Counter(m.give_ups));
                rec.alias(n, "call_ok", MetricRef::Hist(m.call_ok));
                rec.alias(n, "call_all", MetricRef::Hist(m.call_all));
                Sink {
                    name: n.clone(),
                    completions: m.successes,
                    failures: m.give_ups,
                    call_ok: m.call_ok,
                    call_all: m.call_all,
                    mirror: true,
                }
            }
            None => Sink {
                name: n.clone(),
                completions: rec.counter(n, "completions"),
                failures: rec.counter(n, "failures"),
                call_ok: rec.histogram(n, "call_ok"),
                call_all: rec.histogram(n, "call_all"),
                mirror: false,
            },
        }
    }
}
