//! The plain baseline for `benches/scale/mm1-rho09.toml`: M/M/1 (λ = 900/s, mean service
//! 1 ms, 11 112 s) as a bare `BinaryHeap` event loop — arrivals and departures in a heap keyed
//! by (time, seq), a FIFO of arrival times, the same RNG streams — that measures only the mean
//! sojourn. `metastable run` on the scenario, timed whole-process beside this, gives the cost
//! of the engine, the model and every metric (README "Performance").
//!
//! `cargo run --release --example bare_mm1 [LAMBDA_PER_S MEAN_MS DURATION_S]`

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rand_distr::{Distribution, Exp1};
use sim_core::stream;

fn main() {
    let args: Vec<f64> = std::env::args()
        .skip(1)
        .map(|a| a.parse().expect("numbers: LAMBDA_PER_S MEAN_MS DURATION_S"))
        .collect();
    let (lambda, mean_ms, duration_s) = match args[..] {
        [l, m, d] => (l, m, d),
        _ => (900.0, 1.0, 11_112.0),
    };
    let horizon = (duration_s * 1e9) as u64;
    let (arr_mean, svc_mean) = (1e9 / lambda, mean_ms * 1e6);
    let mut arrivals = stream(1, "users/arrivals");
    let mut service = stream(1, "server/service");
    const ARRIVAL: u8 = 0;
    const DEPARTURE: u8 = 1;
    let mut heap: BinaryHeap<Reverse<(u64, u64, u8)>> = BinaryHeap::with_capacity(1024);
    let mut seq = 0u64;
    let mut push = |heap: &mut BinaryHeap<_>, t: u64, kind: u8| {
        heap.push(Reverse((t, seq, kind)));
        seq += 1;
    };
    let e: f64 = Exp1.sample(&mut arrivals);
    let first = (e * arr_mean) as u64;
    push(&mut heap, first, ARRIVAL);
    let mut queue: VecDeque<u64> = VecDeque::new();
    let (mut busy, mut events, mut done, mut sojourn_sum) = (false, 0u64, 0u64, 0f64);
    while let Some(Reverse((t, _, kind))) = heap.pop() {
        if t >= horizon {
            break;
        }
        events += 1;
        if kind == ARRIVAL {
            let e: f64 = Exp1.sample(&mut arrivals);
            push(&mut heap, t + (e * arr_mean) as u64, ARRIVAL);
            queue.push_back(t);
            if !busy {
                busy = true;
                let s: f64 = Exp1.sample(&mut service);
                push(&mut heap, t + (s * svc_mean) as u64, DEPARTURE);
            }
        } else {
            let arrived = queue.pop_front().expect("a departure has a customer");
            sojourn_sum += (t - arrived) as f64;
            done += 1;
            if queue.is_empty() {
                busy = false;
            } else {
                let s: f64 = Exp1.sample(&mut service);
                push(&mut heap, t + (s * svc_mean) as u64, DEPARTURE);
            }
        }
    }
    println!(
        "bare M/M/1: {events} events, {done} customers, mean sojourn {:.3} ms",
        sojourn_sum / done.max(1) as f64 / 1e6
    );
}
