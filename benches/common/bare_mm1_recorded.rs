//! The bare M/M/1 loop of `bare_mm1.rs` plus every metric `metastable run` records for it,
//! recorded by hand through sim-core's [`Recorder`]: the same fifteen-odd updates per customer
//! (counters, time-weighted gauges, latency histograms), in the same order, into the same
//! 1 s windows. It answers "what do the metrics alone cost?" and "how fast could any request
//! path be, with this recorder?": timed beside `metastable run` and the bare loop, it splits
//! the gap into the recorder's part and the engine's and request path's part (README
//! "Performance"). `tests/bare_loops.rs` checks that every window of every metric of the
//! client `users` and the service `server` equals `metastable run`'s, bit for bit.
//!
//! The pending-event set is either the bare loop's `BinaryHeap` ([`Queue::BinaryHeap`]) or
//! sim-core's [`EventQueue`] ([`Queue::Engine`]); both pop the same `(time, seq)` order.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rand_distr::{Distribution, Exp1};
use sim_core::{EventQueue, Recorder, SimDuration, SimTime, stream};

/// Which pending-event set the loop uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Queue {
    /// `std::collections::BinaryHeap` keyed by `(time, seq)`, as in the bare loop.
    BinaryHeap,
    /// sim-core's `EventQueue` (the engine's).
    Engine,
}

const ARRIVAL: u8 = 0;
const DEPARTURE: u8 = 1;

trait Pending {
    fn push(&mut self, t: u64, kind: u8);
    fn pop(&mut self) -> Option<(u64, u8)>;
}

struct Heap {
    heap: BinaryHeap<Reverse<(u64, u64, u8)>>,
    seq: u64,
}

impl Pending for Heap {
    #[inline]
    fn push(&mut self, t: u64, kind: u8) {
        self.heap.push(Reverse((t, self.seq, kind)));
        self.seq += 1;
    }
    #[inline]
    fn pop(&mut self) -> Option<(u64, u8)> {
        self.heap.pop().map(|Reverse((t, _, k))| (t, k))
    }
}

impl Pending for EventQueue<u8> {
    #[inline]
    fn push(&mut self, t: u64, kind: u8) {
        EventQueue::push(self, SimTime(t), kind);
    }
    #[inline]
    fn pop(&mut self) -> Option<(u64, u8)> {
        EventQueue::pop(self).map(|(t, k)| (t.0, k))
    }
}

/// Runs M/M/1 (arrival rate `lambda` per second, mean service `mean_ms`) for `duration_s`
/// under master seed `seed`, recording as `metastable run` records the source `users` →
/// service `server` → sink `done` (1 s windows, no warm-up). Returns the events processed
/// and the recorder.
pub fn run(lambda: f64, mean_ms: f64, duration_s: f64, seed: u64, queue: Queue) -> (u64, Recorder) {
    match queue {
        Queue::BinaryHeap => run_with(
            Heap {
                heap: BinaryHeap::with_capacity(1024),
                seq: 0,
            },
            lambda,
            mean_ms,
            duration_s,
            seed,
        ),
        Queue::Engine => run_with(
            EventQueue::with_capacity(1024),
            lambda,
            mean_ms,
            duration_s,
            seed,
        ),
    }
}

fn run_with<Q: Pending>(
    mut pending: Q,
    lambda: f64,
    mean_ms: f64,
    duration_s: f64,
    seed: u64,
) -> (u64, Recorder) {
    let horizon = (duration_s * 1e9) as u64;
    let (arr_mean, svc_mean) = (1e9 / lambda, mean_ms * 1e6);
    let mut arrivals = stream(seed, "users/arrivals");
    let mut service = stream(seed, "server/service");
    let mut rec = Recorder::new(SimDuration(1_000_000_000), SimDuration(0), 1 << 20);
    // Registered as the client, the service and the sink register theirs (the ones never
    // updated here too, so a window closes the same number of metrics).
    let first_tries = rec.counter("users", "first_tries");
    rec.counter("users", "retries");
    let successes = rec.counter("users", "successes");
    for name in [
        "give_ups",
        "timeouts",
        "rejections",
        "errors",
        "circuit_open",
        "budget_exhausted",
        "throttled",
    ] {
        rec.counter("users", name);
    }
    let in_flight = rec.gauge("users", "in_flight");
    let call_ok = rec.histogram("users", "call_ok");
    let call_all = rec.histogram("users", "call_all");
    let arrived_c = rec.counter("server", "arrivals");
    rec.counter("server", "rejected");
    let completions = rec.counter("server", "completions");
    let goodput = rec.counter("server", "goodput");
    for name in ["wasted", "expired", "errors", "shed", "lost"] {
        rec.counter("server", name);
    }
    let queue_len = rec.gauge("server", "queue_len");
    let busy_g = rec.gauge("server", "busy");
    let sojourn = rec.histogram("server", "sojourn");
    let started = rec.counter("server", "started");
    let wait_ns = rec.counter("server", "wait_ns");

    let e: f64 = Exp1.sample(&mut arrivals);
    pending.push((e * arr_mean + 0.5) as u64, ARRIVAL);
    let mut queue: VecDeque<u64> = VecDeque::new();
    // Arrival time of the customer in service (`None`: the server is idle); calls in flight.
    let (mut serving, mut live, mut events) = (None::<u64>, 0u64, 0u64);
    while let Some((t, kind)) = pending.pop() {
        if t >= horizon {
            break;
        }
        let now = SimTime(t);
        rec.advance(now);
        events += 1;
        if kind == ARRIVAL {
            let e: f64 = Exp1.sample(&mut arrivals);
            pending.push(t + (e * arr_mean + 0.5) as u64, ARRIVAL);
            rec.incr(first_tries);
            live += 1;
            rec.gauge_set_count(in_flight, now, live);
            rec.incr(arrived_c);
            if serving.is_none() {
                serving = Some(t);
                rec.incr(started);
                rec.add_saturating(wait_ns, 0);
                let s: f64 = Exp1.sample(&mut service);
                pending.push(t + (s * svc_mean + 0.5) as u64, DEPARTURE);
                rec.gauge_set(busy_g, now, 1.0);
            } else {
                queue.push_back(t);
                rec.gauge_set_count(queue_len, now, queue.len() as u64);
            }
        } else if let Some(arrived) = serving.take() {
            rec.incr(completions);
            rec.record(sojourn, t - arrived);
            rec.incr(goodput);
            if let Some(next) = queue.pop_front() {
                serving = Some(next);
                rec.incr(started);
                rec.add_saturating(wait_ns, t - next);
                let s: f64 = Exp1.sample(&mut service);
                pending.push(t + (s * svc_mean + 0.5) as u64, DEPARTURE);
                rec.gauge_set_count(queue_len, now, queue.len() as u64);
            } else {
                rec.gauge_set(queue_len, now, 0.0);
            }
            rec.gauge_set(busy_g, now, if serving.is_some() { 1.0 } else { 0.0 });
            live -= 1;
            rec.gauge_set_count(in_flight, now, live);
            rec.incr(successes);
            rec.record(call_ok, t - arrived);
            rec.record(call_all, t - arrived);
        }
    }
    rec.finish(SimTime(horizon));
    (events, rec)
}
