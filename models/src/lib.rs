//! # models
//!
//! The components of a simulated system and the closed set of events between them. A
//! [`World`] holds every component in typed vectors (dispatch by index, no `Box<dyn>`), and
//! implements [`sim_core::Model`] for the engine.
//!
//! First slice: open-loop Poisson [`Source`]s with piecewise-constant rate schedules,
//! [`Service`]s with `c` servers and a FIFO queue (bounded or not), [`Sink`]s, and service-time
//! distributions ([`Dist`]).
//!
//! Architecture invariant: every random draw comes from a stream named after its component and
//! purpose (`"<name>/arrivals"`, `"<name>/service"`), so adding a component leaves every other
//! component's draws — and results — unchanged.

pub mod dist;
pub mod request;
pub mod service;
pub mod sink;
pub mod source;
pub mod spec;

pub use dist::Dist;
pub use request::{Outcome, Request};
pub use service::Service;
pub use sink::Sink;
pub use source::Source;
pub use spec::{ReplyTo, ServiceSpec, SinkSpec, SourceSpec, WorldSpec};

use sim_core::{Model, Sim};

/// Every event in the simulated world.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// The next arrival of source `source`, drawn under rate epoch `epoch`.
    Arrival { source: u32, epoch: u32 },
    /// Source `source` enters phase `phase` of its rate schedule.
    RateChange { source: u32, phase: u32 },
    /// Server `server` of service `service` finishes its request.
    ServiceDone { service: u32, server: u32 },
}

const _: () = assert!(std::mem::size_of::<Event>() <= 12);

/// All components of one simulated system.
pub struct World {
    pub sources: Vec<Source>,
    pub services: Vec<Service>,
    pub sinks: Vec<Sink>,
    live_requests: u64,
    max_live_requests: u64,
}

impl World {
    /// Builds the world for `spec` under master seed `seed`: registers every metric and
    /// schedules the initial events.
    pub fn build(spec: &WorldSpec, seed: u64, sim: &mut Sim<Event>) -> World {
        let services = spec
            .services
            .iter()
            .map(|s| Service::new(s, seed, &mut sim.rec))
            .collect();
        let sinks = spec
            .sinks
            .iter()
            .map(|s| Sink::new(s, &mut sim.rec))
            .collect();
        let sources: Vec<Source> = spec
            .sources
            .iter()
            .map(|s| Source::new(s, seed, &mut sim.rec))
            .collect();
        for (i, src) in sources.iter().enumerate() {
            for (phase, &(at, _)) in src.schedule.iter().enumerate() {
                sim.schedule_at(
                    at,
                    Event::RateChange {
                        source: i as u32,
                        phase: phase as u32,
                    },
                );
            }
        }
        World {
            sources,
            services,
            sinks,
            live_requests: 0,
            max_live_requests: spec.max_live_requests,
        }
    }

    pub fn live_requests(&self) -> u64 {
        self.live_requests
    }

    fn on_rate_change(&mut self, i: usize, phase: usize, sim: &mut Sim<Event>) {
        let src = &mut self.sources[i];
        let rate = src.schedule[phase].1;
        src.set_rate(rate);
        src.epoch = src.epoch.wrapping_add(1);
        if let Some(gap) = src.next_gap() {
            sim.schedule_in(
                gap,
                Event::Arrival {
                    source: i as u32,
                    epoch: src.epoch,
                },
            );
        }
    }

    fn on_arrival(&mut self, i: usize, epoch: u32, sim: &mut Sim<Event>) {
        let src = &mut self.sources[i];
        if epoch != src.epoch {
            return; // drawn under a rate that has since changed
        }
        if let Some(gap) = src.next_gap() {
            sim.schedule_in(
                gap,
                Event::Arrival {
                    source: i as u32,
                    epoch,
                },
            );
        }
        sim.rec.incr(src.m_first_tries);
        let now = sim.now();
        let req = Request {
            born: now,
            arrived: now,
            reply_to: src.reply_to,
        };
        let target = src.target as usize;
        self.live_requests += 1;
        if self.live_requests > self.max_live_requests {
            sim.request_stop("live_request_limit");
        }
        self.service_arrive(target, req, sim);
    }

    /// A request arrives at service `s`: start it, queue it, or reject it.
    fn service_arrive(&mut self, s: usize, mut req: Request, sim: &mut Sim<Event>) {
        let now = sim.now();
        req.arrived = now;
        let svc = &mut self.services[s];
        sim.rec.incr(svc.m.arrivals);
        if let Some(server) = svc.idle.pop() {
            Self::start_service(svc, s, server, req, sim);
            sim.rec.gauge_set(svc.m.busy, now, svc.busy() as f64);
        } else if svc.is_full() {
            sim.rec.incr(svc.m.rejected);
            self.finish(req, Outcome::Rejected, sim);
        } else {
            svc.queue.push_back(req);
            sim.rec
                .gauge_set(svc.m.queue_len, now, svc.queue.len() as f64);
        }
    }

    #[inline]
    fn start_service(svc: &mut Service, s: usize, server: u32, req: Request, sim: &mut Sim<Event>) {
        let now = sim.now();
        sim.rec
            .record(svc.m.wait, now.since(req.arrived).as_nanos());
        let d = svc.service_time.sample(&mut svc.rng);
        svc.in_service[server as usize] = Some(req);
        sim.schedule_in(
            d,
            Event::ServiceDone {
                service: s as u32,
                server,
            },
        );
    }

    fn on_service_done(&mut self, s: usize, server: u32, sim: &mut Sim<Event>) {
        let now = sim.now();
        let svc = &mut self.services[s];
        let Some(req) = svc.in_service[server as usize].take() else {
            debug_assert!(false, "ServiceDone for an idle server");
            return;
        };
        sim.rec.incr(svc.m.completions);
        sim.rec
            .record(svc.m.latency, now.since(req.arrived).as_nanos());
        if let Some(next) = svc.queue.pop_front() {
            Self::start_service(svc, s, server, next, sim);
            sim.rec
                .gauge_set(svc.m.queue_len, now, svc.queue.len() as f64);
        } else {
            svc.idle.push(server);
            sim.rec.gauge_set(svc.m.busy, now, svc.busy() as f64);
        }
        self.finish(req, Outcome::Completed, sim);
    }

    /// A request leaves the system; its outcome goes to whoever awaits it.
    fn finish(&mut self, req: Request, outcome: Outcome, sim: &mut Sim<Event>) {
        self.live_requests -= 1;
        if let ReplyTo::Sink(k) = req.reply_to {
            let sink = &self.sinks[k as usize];
            match outcome {
                Outcome::Completed => {
                    sim.rec.incr(sink.completions);
                    sim.rec
                        .record(sink.latency, sim.now().since(req.born).as_nanos());
                }
                Outcome::Rejected => sim.rec.incr(sink.rejected),
            }
        }
    }
}

impl Model for World {
    type Event = Event;

    #[inline]
    fn handle(&mut self, event: Event, sim: &mut Sim<Event>) {
        match event {
            Event::Arrival { source, epoch } => self.on_arrival(source as usize, epoch, sim),
            Event::ServiceDone { service, server } => {
                self.on_service_done(service as usize, server, sim)
            }
            Event::RateChange { source, phase } => {
                self.on_rate_change(source as usize, phase as usize, sim)
            }
        }
    }
}
