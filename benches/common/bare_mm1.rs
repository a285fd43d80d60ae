//! The bare M/M/1 loop: a `BinaryHeap` keyed by (time, seq), a FIFO of arrival times, the
//! scenario's RNG streams and rounding (durations to the nearest ns, as
//! `SimDuration::from_nanos_f64`), only the mean sojourn measured; `tests/bare_loops.rs` checks
//! it serves the same customers with the same mean sojourn as `metastable run`. Shared by `examples/bare_mm1.rs`
//! (whole-process timing) and `benches/engine.rs` (the same-session ratio).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rand_distr::{Distribution, Exp1};
use sim_core::stream;

/// Runs M/M/1 with arrival rate `lambda` per second and mean service `mean_ms` for
/// `duration_s` under master seed `seed`. Returns (events, customers served, mean sojourn ns).
pub fn run(lambda: f64, mean_ms: f64, duration_s: f64, seed: u64) -> (u64, u64, f64) {
    let horizon = (duration_s * 1e9) as u64;
    let (arr_mean, svc_mean) = (1e9 / lambda, mean_ms * 1e6);
    let mut arrivals = stream(seed, "users/arrivals");
    let mut service = stream(seed, "server/service");
    const ARRIVAL: u8 = 0;
    const DEPARTURE: u8 = 1;
    let mut heap: BinaryHeap<Reverse<(u64, u64, u8)>> = BinaryHeap::with_capacity(1024);
    let mut seq = 0u64;
    let mut push = |heap: &mut BinaryHeap<_>, t: u64, kind: u8| {
        heap.push(Reverse((t, seq, kind)));
        seq += 1;
    };
    let e: f64 = Exp1.sample(&mut arrivals);
    push(&mut heap, (e * arr_mean + 0.5) as u64, ARRIVAL);
    let mut queue: VecDeque<u64> = VecDeque::new();
    let (mut busy, mut events, mut done, mut sojourn_sum) = (false, 0u64, 0u64, 0f64);
    while let Some(Reverse((t, _, kind))) = heap.pop() {
        if t >= horizon {
            break;
        }
        events += 1;
        if kind == ARRIVAL {
            let e: f64 = Exp1.sample(&mut arrivals);
            push(&mut heap, t + (e * arr_mean + 0.5) as u64, ARRIVAL);
            queue.push_back(t);
            if !busy {
                busy = true;
                let s: f64 = Exp1.sample(&mut service);
                push(&mut heap, t + (s * svc_mean + 0.5) as u64, DEPARTURE);
            }
        } else if let Some(arrived) = queue.pop_front() {
            sojourn_sum += (t - arrived) as f64;
            done += 1;
            if queue.is_empty() {
                busy = false;
            } else {
                let s: f64 = Exp1.sample(&mut service);
                push(&mut heap, t + (s * svc_mean + 0.5) as u64, DEPARTURE);
            }
        }
    }
    (events, done, sojourn_sum / done.max(1) as f64)
}
