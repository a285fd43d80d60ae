//! A service: `c` identical servers in front of one FIFO queue, bounded or not.

use std::collections::VecDeque;

use sim_core::{CounterId, GaugeId, HistId, Recorder, SimRng};

use crate::dist::Dist;
use crate::request::Request;
use crate::spec::ServiceSpec;

pub struct Service {
    pub name: String,
    pub servers: u32,
    pub queue_capacity: Option<u32>,
    pub(crate) service_time: Dist,
    pub(crate) queue: VecDeque<Request>,
    /// The request each server is working on.
    pub(crate) in_service: Vec<Option<Request>>,
    /// Idle servers, used as a stack (deterministic order).
    pub(crate) idle: Vec<u32>,
    pub(crate) rng: SimRng,
    pub(crate) m: ServiceMetrics,
}

pub(crate) struct ServiceMetrics {
    pub arrivals: CounterId,
    pub rejected: CounterId,
    pub completions: CounterId,
    pub queue_len: GaugeId,
    pub busy: GaugeId,
    /// Sojourn time at this service: arrival → completion.
    pub latency: HistId,
    /// Waiting time: arrival → start of service.
    pub wait: HistId,
}

impl Service {
    pub fn new(spec: &ServiceSpec, seed: u64, rec: &mut Recorder) -> Service {
        let n = &spec.name;
        Service {
            name: spec.name.clone(),
            servers: spec.servers,
            queue_capacity: spec.queue_capacity,
            service_time: spec.service_time.clone(),
            queue: VecDeque::new(),
            in_service: vec![None; spec.servers as usize],
            idle: (0..spec.servers).rev().collect(),
            rng: sim_core::stream(seed, &format!("{n}/service")),
            m: ServiceMetrics {
                arrivals: rec.counter(n, "arrivals"),
                rejected: rec.counter(n, "rejected"),
                completions: rec.counter(n, "completions"),
                queue_len: rec.gauge(n, "queue_len"),
                busy: rec.gauge(n, "busy"),
                latency: rec.histogram(n, "latency"),
                wait: rec.histogram(n, "wait"),
            },
        }
    }

    /// True if an arriving request would find no idle server and no room to wait.
    #[inline]
    pub(crate) fn is_full(&self) -> bool {
        self.idle.is_empty()
            && self
                .queue_capacity
                .is_some_and(|cap| self.queue.len() >= cap as usize)
    }

    pub fn queue_len(&self) -> usize {
        self.queue.len()
    }

    pub fn busy(&self) -> u32 {
        self.servers - self.idle.len() as u32
    }
}
