//! The bare retry-storm loop: `scenarios/retry-storm.toml`'s model (one open-loop client whose
//! rate steps 600 → 1200 → 600 first tries/s at 60 s and 90 s, a 200 ms timeout per attempt,
//! up to 4 attempts with full-jitter exponential backoff base 50 ms cap 2 s, one FIFO service
//! of 8 servers × exponential 10 ms that serves work whose caller gave up) as a bare
//! `BinaryHeap` event loop with the scenario's RNG streams, the same draws in the same order,
//! and only three counts kept (calls that succeeded, timeouts, mean latency of the successes).
//! Shared by `examples/bare_retry_storm.rs` (whole-process timing) and `benches/engine.rs`
//! (the same-session ratio); `tests/bare_loops.rs` checks it counts what `metastable run`
//! counts, so the two run the same model.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rand::RngExt;
use rand_distr::{Distribution, Exp1};
use sim_core::stream;

/// What the bare loop counted.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Counts {
    /// Events dispatched before the horizon.
    pub events: u64,
    /// Calls that ended in success (all of them, warm-up included).
    pub successes: u64,
    /// Attempts that timed out.
    pub timeouts: u64,
    /// Calls that gave up after their last attempt timed out.
    pub give_ups: u64,
    /// Mean end-to-end latency of the successful calls, ns.
    pub mean_ok_ns: f64,
}

const ARRIVAL: u8 = 0;
const DONE: u8 = 1;
const TIMEOUT: u8 = 2;
const RETRY: u8 = 3;
const RATE: u8 = 4;

/// One call: when it started, its attempts, the generation of its attempt in flight.
#[derive(Clone, Copy)]
struct Call {
    born: u64,
    attempts: u32,
    generation: u32,
    in_flight: bool,
}

/// A pending event: (time, seq, kind, a, b); seq is unique, so the payload never decides the
/// order.
type Entry = (u64, u64, u8, u32, u32);

/// Rounds like `SimDuration::from_nanos_f64` (half up) for the non-negative finite values here.
fn ns(x: f64) -> u64 {
    (x + 0.5) as u64
}

/// Runs the retry storm for `duration_s` under master seed `seed`.
pub fn run(duration_s: f64, seed: u64) -> Counts {
    const S: u64 = 1_000_000_000;
    let horizon = (duration_s * 1e9) as u64;
    let (timeout, base, cap, max_attempts) = (200_000_000u64, 50_000_000u64, 2 * S, 4u32);
    let svc_mean = 10e6;
    let rates = [(0u64, 600.0), (60 * S, 1200.0), (90 * S, 600.0)];
    let mut arrivals = stream(seed, "users/arrivals");
    let mut retry_rng = stream(seed, "users/retry");
    let mut service = stream(seed, "api/service");

    let mut heap: BinaryHeap<Reverse<Entry>> = BinaryHeap::with_capacity(4096);
    let mut seq = 0u64;
    let mut push = |heap: &mut BinaryHeap<_>, t: u64, kind: u8, a: u32, b: u32| {
        heap.push(Reverse((t, seq, kind, a, b)));
        seq += 1;
    };
    for (i, &(at, _)) in rates.iter().enumerate() {
        push(&mut heap, at, RATE, i as u32, 0);
    }
    let (mut epoch, mut mean_gap) = (0u32, f64::INFINITY);
    let mut calls: Vec<Call> = Vec::new();
    let mut free: Vec<u32> = Vec::new();
    // Requests: (arrived, slot, generation).
    let mut idle: Vec<u32> = (0..8).rev().collect();
    let mut in_service = [(0u64, 0u32, 0u32); 8];
    let mut queue: VecDeque<(u64, u32, u32)> = VecDeque::new();
    let mut c = Counts {
        events: 0,
        successes: 0,
        timeouts: 0,
        give_ups: 0,
        mean_ok_ns: 0.0,
    };
    let mut ok_sum = 0f64;

    while let Some(Reverse((now, _, kind, a, b))) = heap.pop() {
        if now >= horizon {
            break;
        }
        c.events += 1;
        // An attempt of `slot` is sent now: its timeout, then the service takes it.
        let mut send = None;
        match kind {
            RATE => {
                mean_gap = 1e9 / rates[a as usize].1;
                epoch += 1;
                let e: f64 = Exp1.sample(&mut arrivals);
                push(&mut heap, now + ns(e * mean_gap), ARRIVAL, epoch, 0);
            }
            ARRIVAL if a == epoch => {
                let e: f64 = Exp1.sample(&mut arrivals);
                push(&mut heap, now + ns(e * mean_gap), ARRIVAL, epoch, 0);
                let call = Call {
                    born: now,
                    attempts: 0,
                    generation: 0,
                    in_flight: false,
                };
                let slot = match free.pop() {
                    Some(s) => {
                        let g = calls[s as usize].generation.wrapping_add(1);
                        calls[s as usize] = Call {
                            generation: g,
                            ..call
                        };
                        s
                    }
                    None => {
                        calls.push(call);
                        calls.len() as u32 - 1
                    }
                };
                send = Some(slot);
            }
            DONE => {
                let (_, slot, generation) = in_service[a as usize];
                if let Some(next) = queue.pop_front() {
                    let d: f64 = Exp1.sample(&mut service);
                    in_service[a as usize] = next;
                    push(&mut heap, now + ns(d * svc_mean), DONE, a, 0);
                } else {
                    idle.push(a);
                }
                let call = &mut calls[slot as usize];
                if call.generation == generation && call.in_flight {
                    c.successes += 1;
                    ok_sum += (now - call.born) as f64;
                    call.generation = call.generation.wrapping_add(1);
                    call.in_flight = false;
                    free.push(slot);
                }
            }
            TIMEOUT => {
                let call = &mut calls[a as usize];
                if call.generation == b && call.in_flight {
                    call.in_flight = false;
                    c.timeouts += 1;
                    if call.attempts < max_attempts {
                        let k = call.attempts - 1;
                        let v = ns((base as f64 * 2f64.powi(k as i32)).min(cap as f64)).min(cap);
                        let u: f64 = retry_rng.random();
                        let sleep = ns(v as f64 * u).min(v);
                        call.generation = call.generation.wrapping_add(1);
                        push(&mut heap, now + sleep, RETRY, a, call.generation);
                    } else {
                        c.give_ups += 1;
                        call.generation = call.generation.wrapping_add(1);
                        free.push(a);
                    }
                }
            }
            RETRY => {
                let call = &calls[a as usize];
                if call.generation == b && !call.in_flight {
                    send = Some(a);
                }
            }
            _ => {}
        }
        if let Some(slot) = send {
            let call = &mut calls[slot as usize];
            call.attempts += 1;
            call.generation = call.generation.wrapping_add(1);
            call.in_flight = true;
            push(&mut heap, now + timeout, TIMEOUT, slot, call.generation);
            let req = (now, slot, call.generation);
            if let Some(server) = idle.pop() {
                let d: f64 = Exp1.sample(&mut service);
                in_service[server as usize] = req;
                push(&mut heap, now + ns(d * svc_mean), DONE, server, 0);
            } else {
                queue.push_back(req);
            }
        }
    }
    c.mean_ok_ns = ok_sum / c.successes.max(1) as f64;
    c
}
