//! The floor under any implementation of M/M/1 that keeps every metric: the bare loop of
//! `bare_mm1.rs`, unchanged in shape, plus the same per-customer updates `metastable run`
//! makes (`bare_mm1_recorded.rs` lists them) written into plain local variables — no
//! recorder, no metric ids, no bounds checks, no windows, no stored rows, no run totals kept
//! apart. It is cheaper than any real recording of those metrics can be (which must also cut
//! them into windows), so its time against the bare loop is a lower bound on the cost of
//! "keeping every metric", whatever the engine and request path (README "Performance").
//! `tests/bare_loops.rs` checks its run totals equal `metastable run`'s.
//!
//! `LEVEL` picks how much is kept (a const parameter, so the levels below cost nothing):
//! 1 the seven counters, 2 also the three time-weighted gauges, 3 also the three latency
//! histograms (every metric).

use std::cmp::Reverse;
use std::collections::{BinaryHeap, VecDeque};

use rand_distr::{Distribution, Exp1};
use sim_core::{Histogram, stream};

/// A time-weighted gauge as the recorder keeps it: value, time of the last change,
/// ∫ value dt in value·ns, max.
#[derive(Clone, Copy, Debug, Default)]
pub struct Gauge {
    pub value: f64,
    pub last: u64,
    pub integral: f64,
    pub max: f64,
}

impl Gauge {
    #[inline]
    fn set(&mut self, now: u64, value: f64) {
        if value == self.value {
            return;
        }
        self.integral += self.value * (now - self.last) as f64;
        self.last = now;
        self.value = value;
        if value > self.max {
            self.max = value;
        }
    }

    /// The time-weighted mean over `[0, end)`.
    pub fn mean(&self, end: u64) -> f64 {
        (self.integral + self.value * (end - self.last) as f64) / end as f64
    }
}

/// What the floor loop kept, over the whole run (the names are `metastable run`'s).
#[derive(Clone, Default)]
pub struct Totals {
    pub events: u64,
    /// In the order of [`COUNTERS`].
    pub counters: [u64; 7],
    /// In the order of [`GAUGES`].
    pub gauges: [Gauge; 3],
    /// In the order of [`HISTOGRAMS`].
    pub hists: [Histogram; 3],
}

/// `(owner, name)` of each of [`Totals::counters`], as `metastable run` registers them.
pub const COUNTERS: [(&str, &str); 7] = [
    ("users", "first_tries"),
    ("server", "arrivals"),
    ("server", "started"),
    ("server", "wait_ns"),
    ("server", "completions"),
    ("server", "goodput"),
    ("users", "successes"),
];
/// `(owner, name)` of each of [`Totals::gauges`].
pub const GAUGES: [(&str, &str); 3] = [
    ("users", "in_flight"),
    ("server", "queue_len"),
    ("server", "busy"),
];
/// `(owner, name)` of each of [`Totals::hists`].
pub const HISTOGRAMS: [(&str, &str); 3] = [
    ("server", "sojourn"),
    ("users", "call_ok"),
    ("users", "call_all"),
];

/// Runs M/M/1 (arrival rate `lambda` per second, mean service `mean_ms`) for `duration_s`
/// under master seed `seed`, keeping the metrics `LEVEL` names.
pub fn run<const LEVEL: u8>(lambda: f64, mean_ms: f64, duration_s: f64, seed: u64) -> Totals {
    let horizon = (duration_s * 1e9) as u64;
    let (arr_mean, svc_mean) = (1e9 / lambda, mean_ms * 1e6);
    let mut arrivals = stream(seed, "users/arrivals");
    let mut service = stream(seed, "server/service");
    const ARRIVAL: u8 = 0;
    const DEPARTURE: u8 = 1;
    let (c, g, h) = (LEVEL >= 1, LEVEL >= 2, LEVEL >= 3);
    let mut heap: BinaryHeap<Reverse<(u64, u64, u8)>> = BinaryHeap::with_capacity(1024);
    let mut seq = 0u64;
    let mut push = |heap: &mut BinaryHeap<_>, t: u64, kind: u8| {
        heap.push(Reverse((t, seq, kind)));
        seq += 1;
    };
    let e: f64 = Exp1.sample(&mut arrivals);
    push(&mut heap, (e * arr_mean + 0.5) as u64, ARRIVAL);
    let mut queue: VecDeque<u64> = VecDeque::new();
    let (mut busy, mut live, mut events) = (false, 0u64, 0u64);
    let (mut first_tries, mut arrived_n, mut started, mut wait_ns) = (0u64, 0u64, 0u64, 0u64);
    let (mut completions, mut goodput, mut successes) = (0u64, 0u64, 0u64);
    let (mut in_flight, mut queue_len, mut busy_g) =
        (Gauge::default(), Gauge::default(), Gauge::default());
    let (mut sojourn, mut call_ok, mut call_all) =
        (Histogram::new(), Histogram::new(), Histogram::new());
    while let Some(Reverse((t, _, kind))) = heap.pop() {
        if t >= horizon {
            break;
        }
        events += 1;
        if kind == ARRIVAL {
            let e: f64 = Exp1.sample(&mut arrivals);
            push(&mut heap, t + (e * arr_mean + 0.5) as u64, ARRIVAL);
            queue.push_back(t);
            live += 1;
            if c {
                first_tries += 1;
                arrived_n += 1;
            }
            if g {
                in_flight.set(t, live as f64);
            }
            if !busy {
                busy = true;
                if c {
                    started += 1;
                }
                let s: f64 = Exp1.sample(&mut service);
                push(&mut heap, t + (s * svc_mean + 0.5) as u64, DEPARTURE);
                if g {
                    busy_g.set(t, 1.0);
                }
            } else if g {
                queue_len.set(t, (queue.len() - 1) as f64);
            }
        } else if let Some(arrived) = queue.pop_front() {
            live -= 1;
            if c {
                completions += 1;
                goodput += 1;
                successes += 1;
            }
            if h {
                sojourn.record(t - arrived);
                call_ok.record(t - arrived);
                call_all.record(t - arrived);
            }
            if let Some(&next) = queue.front() {
                if c {
                    started += 1;
                    wait_ns += t - next;
                }
                let s: f64 = Exp1.sample(&mut service);
                push(&mut heap, t + (s * svc_mean + 0.5) as u64, DEPARTURE);
                if g {
                    queue_len.set(t, (queue.len() - 1) as f64);
                }
            } else {
                busy = false;
                if g {
                    busy_g.set(t, 0.0);
                }
            }
            if g {
                in_flight.set(t, live as f64);
            }
        }
    }
    Totals {
        events,
        counters: [
            first_tries,
            arrived_n,
            started,
            wait_ns,
            completions,
            goodput,
            successes,
        ],
        gauges: [in_flight, queue_len, busy_g],
        hists: [sojourn, call_ok, call_all],
    }
}
