//! A service: `c` identical servers in front of one queue (FIFO or LIFO, bounded or not), with
//! optional deadline-aware dropping, an error rate, overload degradation, outages and capacity
//! changes.

use std::collections::VecDeque;

use rand::RngExt;
use sim_core::{CounterId, GaugeId, HistId, Recorder, SimDuration, SimRng, SimTime};

use crate::dist::Dist;
use crate::request::Request;
use crate::spec::{Degradation, Discipline, ServiceSpec};

pub struct Service {
    pub name: String,
    /// Servers that may take new work (changes with `SetServers`).
    pub servers: u32,
    pub queue_capacity: Option<u32>,
    pub(crate) service_time: Dist,
    pub(crate) discipline: Discipline,
    pub(crate) drop_expired: bool,
    pub(crate) error_rate: f64,
    pub(crate) degradation: Option<Degradation>,
    pub(crate) slowdown: f64,
    pub(crate) down: bool,
    pub(crate) queue: VecDeque<Request>,
    /// The request each server slot is working on.
    pub(crate) in_service: Vec<Option<Request>>,
    /// Generation per server slot: an outage bumps it so completions scheduled before the
    /// outage are ignored.
    pub(crate) server_gen: Vec<u32>,
    /// Idle servers (indices < `servers`), used as a stack (deterministic order).
    pub(crate) idle: Vec<u32>,
    pub(crate) busy: u32,
    pub(crate) rng: SimRng,
    pub(crate) error_rng: SimRng,
    pub(crate) m: ServiceMetrics,
}

pub(crate) struct ServiceMetrics {
    pub arrivals: CounterId,
    pub rejected: CounterId,
    pub completions: CounterId,
    /// Completions whose caller was still waiting (and answered without error).
    pub goodput: CounterId,
    /// Completions nobody was waiting for any more.
    pub wasted: CounterId,
    /// Work dropped unserved because its deadline had passed.
    pub expired: CounterId,
    pub errors: CounterId,
    /// Work lost to an outage (held when it began, or arriving during it).
    pub lost: CounterId,
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
            discipline: spec.discipline,
            drop_expired: spec.drop_expired,
            error_rate: spec.error_rate,
            degradation: spec.degradation,
            slowdown: 1.0,
            down: false,
            queue: VecDeque::new(),
            in_service: vec![None; spec.servers as usize],
            server_gen: vec![0; spec.servers as usize],
            idle: (0..spec.servers).rev().collect(),
            busy: 0,
            rng: sim_core::stream(seed, &format!("{n}/service")),
            error_rng: sim_core::stream(seed, &format!("{n}/errors")),
            m: ServiceMetrics {
                arrivals: rec.counter(n, "arrivals"),
                rejected: rec.counter(n, "rejected"),
                completions: rec.counter(n, "completions"),
                goodput: rec.counter(n, "goodput"),
                wasted: rec.counter(n, "wasted"),
                expired: rec.counter(n, "expired"),
                errors: rec.counter(n, "errors"),
                lost: rec.counter(n, "lost"),
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
        self.busy
    }

    /// Takes the next request to serve, per the discipline.
    #[inline]
    pub(crate) fn pop_next(&mut self) -> Option<Request> {
        match self.discipline {
            Discipline::Fifo => self.queue.pop_front(),
            Discipline::Lifo => self.queue.pop_back(),
        }
    }

    /// A service time for a request starting now, with slowdown and degradation applied.
    #[inline]
    pub(crate) fn draw_service_time(&mut self) -> SimDuration {
        let d = self.service_time.sample(&mut self.rng);
        let mut factor = self.slowdown;
        if let Some(g) = self.degradation {
            factor *= (1.0 + g.per_queued * self.queue.len() as f64).min(g.max_factor);
        }
        if factor == 1.0 {
            d
        } else {
            SimDuration::from_nanos_f64(d.as_nanos() as f64 * factor)
        }
    }

    /// Whether a served request is answered with an error.
    #[inline]
    pub(crate) fn draw_error(&mut self) -> bool {
        self.error_rate > 0.0 && self.error_rng.random::<f64>() < self.error_rate
    }

    pub(crate) fn set_gauges(&self, rec: &mut Recorder, now: SimTime) {
        rec.gauge_set(self.m.queue_len, now, self.queue.len() as f64);
        rec.gauge_set(self.m.busy, now, self.busy as f64);
    }
}
