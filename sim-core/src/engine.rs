//! The run loop: pop the earliest event, set the clock, dispatch it to the model, count.
//!
//! The model is one value holding a closed set of components; it receives each event by value
//! together with `&mut Sim`, through which it reads the clock, schedules events and records
//! metrics. There is no allocation per event: events are stored inline in the heap.

mod step;

pub use step::Step;

use crate::metrics::Recorder;
use crate::queue::EventQueue;
use crate::time::{SimDuration, SimTime};

/// A simulation model: a closed set of components that reacts to its own closed set of events.
pub trait Model {
    type Event;
    /// Handles one event at `sim.now()`.
    fn handle(&mut self, event: Self::Event, sim: &mut Sim<Self::Event>);
}

/// Limits on a run. Hitting one ends the run with a [`StopReason`] instead of hanging.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    /// Simulated-time horizon: events at or after it do not run.
    pub horizon: SimTime,
    /// Maximum number of events dispatched.
    pub max_events: u64,
}

/// Why a run ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum StopReason {
    /// Reached the simulated-time horizon (the normal end).
    Horizon,
    /// No event was pending: the system went idle before the horizon.
    Idle,
    /// Dispatched `max_events` events (a retry storm *is* an event explosion).
    EventBudget,
    /// Storing one more metric window would pass the recorder's byte budget
    /// (`limits.max_window_bytes`): the run ends at the last stored window's end.
    WindowBytes,
    /// The model asked to stop (e.g. a model-level limit such as live requests was hit).
    Model(&'static str),
}

impl StopReason {
    pub fn as_str(&self) -> &'static str {
        match self {
            StopReason::Horizon => "horizon",
            StopReason::Idle => "idle",
            StopReason::EventBudget => "event_budget",
            StopReason::WindowBytes => "window_bytes_limit",
            StopReason::Model(why) => why,
        }
    }
    /// True when the run covered the whole horizon (results are complete).
    pub fn is_complete(&self) -> bool {
        matches!(self, StopReason::Horizon | StopReason::Idle)
    }
}

/// What a run did.
#[derive(Clone, Copy, Debug)]
pub struct RunStats {
    pub stop: StopReason,
    /// Simulated time at which the run ended.
    pub end: SimTime,
    pub events: u64,
    /// Largest number of simultaneously pending events.
    pub max_pending: usize,
}

/// How many events pass between two calls of [`Sim::run_observed`]'s observer.
pub const OBSERVE_EVERY: u64 = 1 << 16;

/// The engine state a model sees: clock, pending events, metrics.
#[derive(Clone)]
pub struct Sim<E> {
    now: SimTime,
    queue: EventQueue<E>,
    pub rec: Recorder,
    stop_request: Option<&'static str>,
}

impl<E> Sim<E> {
    pub fn new(rec: Recorder) -> Sim<E> {
        Sim {
            now: SimTime::ZERO,
            queue: EventQueue::with_capacity(1024),
            rec,
            stop_request: None,
        }
    }

    #[inline]
    pub fn now(&self) -> SimTime {
        self.now
    }

    /// Schedules `event` at absolute time `at` (clamped to now: the past cannot be scheduled).
    #[inline(always)]
    pub fn schedule_at(&mut self, at: SimTime, event: E) {
        let at = if at < self.now { self.now } else { at };
        self.queue.push(at, event);
    }

    /// Schedules timer `event` at `at` (clamped to now) in the engine's timer set (a FIFO lane
    /// and a radix heap: [`crate::timers`]) for the many timers a component arms far ahead
    /// (lease checks, attempt timeouts). Same order as [`Sim::schedule_at`]: only the data
    /// structure differs.
    #[inline]
    pub fn schedule_timer_at(&mut self, at: SimTime, event: E) {
        let at = if at < self.now { self.now } else { at };
        self.queue.push_timer(at, event);
    }

    /// Schedules `event` after `delay`.
    #[inline(always)]
    pub fn schedule_in(&mut self, delay: SimDuration, event: E) {
        self.queue.push(self.now.saturating_add(delay), event);
    }

    pub fn pending(&self) -> usize {
        self.queue.len()
    }

    /// Asks the loop to stop after the current event, with `why` as the reported reason.
    pub fn request_stop(&mut self, why: &'static str) {
        self.stop_request.get_or_insert(why);
    }

    /// Runs `model` until a limit is reached or no event is pending, then closes the metrics.
    pub fn run<M: Model<Event = E>>(&mut self, model: &mut M, limits: Limits) -> RunStats {
        self.run_observed(model, limits, |_| {})
    }

    /// [`Sim::run`], telling `progress` the simulated time every [`OBSERVE_EVERY`] events (and
    /// once at the end). The observer only reads the clock: it cannot change the run, so a run
    /// observed (for a progress bar) gives the same results as one not observed.
    pub fn run_observed<M: Model<Event = E>>(
        &mut self,
        model: &mut M,
        limits: Limits,
        progress: impl FnMut(SimTime),
    ) -> RunStats {
        self.run_inner::<false, M, _, _>(model, limits, SimDuration(1), |_, _| {}, progress)
    }

    /// As [`Sim::run_observed`], and calls `sample(model, t)` at every multiple `t` of `every`
    /// up to the end of the run, with the model as it stands after every event before `t` and
    /// none at or after it. Sampling reads the model; the run's events and metrics are those
    /// of [`Sim::run`] (which compiles the sampling out).
    pub fn run_sampled<M: Model<Event = E>, F: FnMut(&M, SimTime)>(
        &mut self,
        model: &mut M,
        limits: Limits,
        every: SimDuration,
        sample: F,
        progress: impl FnMut(SimTime),
    ) -> RunStats {
        self.run_inner::<true, M, F, _>(model, limits, every, sample, progress)
    }

    #[inline(always)]
    fn run_inner<
        const SAMPLE: bool,
        M: Model<Event = E>,
        F: FnMut(&M, SimTime),
        P: FnMut(SimTime),
    >(
        &mut self,
        model: &mut M,
        limits: Limits,
        every: SimDuration,
        mut observe: F,
        mut progress: P,
    ) -> RunStats {
        let every = every.max(SimDuration(1));
        let mut next_obs = SimTime::ZERO.saturating_add(every);
        let mut events = 0u64;
        let mut max_pending = self.queue.len();
        // The histograms registered did not fit in the byte budget: no event runs.
        let stop = if self.rec.budget_hit() {
            StopReason::WindowBytes
        } else {
            loop {
                if events >= limits.max_events {
                    break StopReason::EventBudget;
                }
                let Some((t, event)) = self.queue.pop() else {
                    break StopReason::Idle;
                };
                if t >= limits.horizon {
                    self.queue.push(t, event);
                    break StopReason::Horizon;
                }
                if SAMPLE {
                    while next_obs <= t {
                        observe(model, next_obs);
                        next_obs = next_obs.saturating_add(every);
                    }
                }
                if self.rec.advance(t) {
                    self.queue.push(t, event);
                    break StopReason::WindowBytes;
                }
                self.now = t;
                model.handle(event, self);
                events += 1;
                if events.is_multiple_of(OBSERVE_EVERY) {
                    progress(t);
                }
                max_pending = max_pending.max(self.queue.len());
                if let Some(why) = self.stop_request {
                    break StopReason::Model(why);
                }
            }
        };
        let mut end = match stop {
            StopReason::Horizon | StopReason::Idle => limits.horizon,
            StopReason::WindowBytes => self.rec.window_start(),
            _ => self.now,
        };
        self.rec.finish(end);
        let stop = if self.rec.budget_hit() {
            // Also when the last, partial window was the one that did not fit.
            end = self.rec.window_start();
            StopReason::WindowBytes
        } else {
            stop
        };
        self.now = end.max(self.now);
        if SAMPLE {
            while next_obs <= end {
                observe(model, next_obs);
                next_obs = next_obs.saturating_add(every);
            }
        }
        progress(self.now);
        RunStats {
            stop,
            end,
            events,
            max_pending,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A ping-pong model: each event schedules the next one `step` later.
    struct Ticker {
        step: SimDuration,
        seen: Vec<u64>,
    }
    impl Model for Ticker {
        type Event = u64;
        fn handle(&mut self, n: u64, sim: &mut Sim<u64>) {
            self.seen.push(sim.now().0);
            sim.schedule_in(self.step, n + 1);
        }
    }

    fn sim() -> Sim<u64> {
        Sim::new(Recorder::new(SimDuration(1000), SimDuration::ZERO, 1000))
    }

    #[test]
    fn observation_sees_every_boundary_and_changes_nothing() {
        let run = |observe: bool| {
            let mut s = sim();
            s.schedule_at(SimTime(0), 0);
            let mut m = Ticker {
                step: SimDuration(300),
                seen: vec![],
            };
            let limits = Limits {
                horizon: SimTime(2000),
                max_events: 1000,
            };
            let mut looks = Vec::new();
            let st = if observe {
                s.run_sampled(
                    &mut m,
                    limits,
                    SimDuration(500),
                    |m: &Ticker, t| looks.push((t.0, m.seen.len())),
                    |_| {},
                )
            } else {
                s.run(&mut m, limits)
            };
            (st.events, m.seen, looks)
        };
        let (events, seen, looks) = run(true);
        assert_eq!((events, &seen), (run(false).0, &run(false).1));
        // Events at 0, 300, …, 1800; boundaries 500, 1000, 1500, 2000 (the horizon), each
        // after the events before it only.
        assert_eq!(looks, vec![(500, 2), (1000, 4), (1500, 5), (2000, 7)]);
    }

    #[test]
    fn horizon_stops_the_run() {
        let mut s = sim();
        s.schedule_at(SimTime(0), 0);
        let mut m = Ticker {
            step: SimDuration(10),
            seen: vec![],
        };
        let st = s.run(
            &mut m,
            Limits {
                horizon: SimTime(100),
                max_events: u64::MAX,
            },
        );
        assert_eq!(st.stop, StopReason::Horizon);
        assert_eq!(st.events, 10);
        assert_eq!(m.seen.last(), Some(&90));
    }

    #[test]
    fn event_budget_is_a_reported_stop() {
        let mut s = sim();
        s.schedule_at(SimTime(0), 0);
        // zero step: an infinite loop at one instant, stopped by the budget
        let mut m = Ticker {
            step: SimDuration(0),
            seen: vec![],
        };
        let st = s.run(
            &mut m,
            Limits {
                horizon: SimTime(100),
                max_events: 1000,
            },
        );
        assert_eq!(st.stop, StopReason::EventBudget);
        assert_eq!(st.events, 1000);
        assert!(!st.stop.is_complete());
    }

    #[test]
    fn idle_when_nothing_pending() {
        let mut s = sim();
        let mut m = Ticker {
            step: SimDuration(1),
            seen: vec![],
        };
        let st = s.run(
            &mut m,
            Limits {
                horizon: SimTime(100),
                max_events: 10,
            },
        );
        assert_eq!(st.stop, StopReason::Idle);
        assert_eq!(st.end, SimTime(100));
    }

    #[test]
    fn an_observer_sees_the_clock_and_changes_nothing() {
        let limits = Limits {
            horizon: SimTime(10 * OBSERVE_EVERY),
            max_events: u64::MAX,
        };
        let ticker = || Ticker {
            step: SimDuration(1),
            seen: vec![],
        };
        let (mut a, mut b) = (sim(), sim());
        a.schedule_at(SimTime(0), 0);
        b.schedule_at(SimTime(0), 0);
        let (mut ma, mut mb) = (ticker(), ticker());
        let plain = a.run(&mut ma, limits);
        let mut times = Vec::new();
        let observed = b.run_observed(&mut mb, limits, |t| times.push(t.0));
        assert_eq!((plain.events, plain.end), (observed.events, observed.end));
        assert_eq!(ma.seen, mb.seen);
        // Every OBSERVE_EVERY events (at t = k·OBSERVE_EVERY − 1 with one event per ns), then
        // the end.
        assert_eq!(times.len(), 11, "{times:?}");
        assert!(times.windows(2).all(|w| w[0] <= w[1]), "{times:?}");
        assert_eq!(times.last(), Some(&(10 * OBSERVE_EVERY)));
    }
}
