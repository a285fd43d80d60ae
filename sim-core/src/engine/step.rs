//! One event at a time: [`Sim::step`], for drivers that must look at the model after every
//! event and stop at a state rather than a time (importance splitting stops a trajectory
//! the moment its progress measure crosses a level, clones it and goes on from there).
//!
//! A run stepped to its horizon dispatches the same events in the same order as
//! [`Sim::run`]; metrics are not closed ([`Recorder::finish`](crate::Recorder::finish)
//! is the caller's, if it wants them).

use super::{Model, Sim};
use crate::time::SimTime;

/// What one [`Sim::step`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Step {
    /// Dispatched one event.
    Event,
    /// The next event is at or after the horizon (it stays pending).
    Horizon,
    /// No event is pending.
    Idle,
    /// Storing one more metric window would pass the recorder's byte budget.
    WindowBytes,
    /// The model asked to stop ([`Sim::request_stop`]).
    Model(&'static str),
}

impl<E> Sim<E> {
    /// Dispatches the earliest pending event if it is before `horizon`.
    pub fn step<M: Model<Event = E>>(&mut self, model: &mut M, horizon: SimTime) -> Step {
        if let Some(why) = self.stop_request {
            return Step::Model(why);
        }
        let Some((t, event)) = self.queue.pop() else {
            return Step::Idle;
        };
        if t >= horizon {
            self.queue.push(t, event);
            return Step::Horizon;
        }
        if self.rec.advance(t) {
            self.queue.push(t, event);
            return Step::WindowBytes;
        }
        self.now = t;
        model.handle(event, self);
        Step::Event
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::Limits;
    use crate::metrics::Recorder;
    use crate::time::SimDuration;

    /// Each event schedules the next one at a pseudo-random delay kept in the model.
    #[derive(Clone)]
    struct Walk {
        state: u64,
        seen: Vec<(u64, u64)>,
    }
    impl Model for Walk {
        type Event = u64;
        fn handle(&mut self, n: u64, sim: &mut Sim<u64>) {
            self.seen.push((sim.now().0, n));
            self.state = self.state.wrapping_mul(6364136223846793005).wrapping_add(1);
            sim.schedule_in(SimDuration(1 + (self.state >> 58)), n + 1);
            if n < 20 && n.is_multiple_of(3) {
                sim.schedule_in(SimDuration(self.state >> 59), n + 1000);
            }
        }
    }

    fn start() -> (Sim<u64>, Walk) {
        let mut s = Sim::new(Recorder::new(SimDuration(1000), SimDuration::ZERO, 1000));
        s.schedule_at(SimTime(0), 0);
        (
            s,
            Walk {
                state: 7,
                seen: vec![],
            },
        )
    }

    #[test]
    fn stepping_dispatches_what_run_dispatches() {
        let horizon = SimTime(5000);
        let (mut a, mut ma) = start();
        a.run(
            &mut ma,
            Limits {
                horizon,
                max_events: u64::MAX,
            },
        );
        let (mut b, mut mb) = start();
        while b.step(&mut mb, horizon) == Step::Event {}
        assert_eq!(ma.seen, mb.seen);
        assert!(!ma.seen.is_empty());
    }

    #[test]
    fn a_clone_continues_exactly_like_the_original() {
        let (mut a, mut ma) = start();
        for _ in 0..50 {
            assert_eq!(a.step(&mut ma, SimTime(u64::MAX)), Step::Event);
        }
        let (mut b, mut mb) = (a.clone(), ma.clone());
        for _ in 0..200 {
            a.step(&mut ma, SimTime(u64::MAX));
            b.step(&mut mb, SimTime(u64::MAX));
        }
        assert_eq!(ma.seen, mb.seen);
        assert_eq!(a.now(), b.now());
    }
}
