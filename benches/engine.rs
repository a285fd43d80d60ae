//! Engine benchmarks: the event-queue hold model and a bare `BinaryHeap` for reference, and
//! end to end through the whole model stack M/M/1 and the retry storm, each beside a bare loop
//! of the same model (`benches/common/`), and the lease manager. Throughput is in events/s.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use rand::RngExt;
use sim_core::{EventQueue, SimTime, stream};

#[path = "common/bare_mm1.rs"]
mod bare_mm1;
// Each includer reads part of what the floor loop keeps.
#[allow(dead_code)]
#[path = "common/bare_mm1_floor.rs"]
mod bare_mm1_floor;
#[path = "common/bare_mm1_recorded.rs"]
mod bare_mm1_recorded;
#[path = "common/bare_retry_storm.rs"]
mod bare_retry_storm;

/// Hold model: keep `n` events pending; each step pops the earliest and pushes one at
/// `now + Exp(1 ms)`.
fn hold(c: &mut Criterion) {
    let mut g = c.benchmark_group("hold");
    const STEPS: u64 = 1_000_000;
    g.throughput(Throughput::Elements(STEPS));
    for n in [16usize, 1_000, 100_000] {
        g.bench_function(format!("event_queue/{n}"), |b| {
            let mut rng = stream(1, "bench/hold");
            let mut q: EventQueue<u32> = EventQueue::with_capacity(n + 1);
            for i in 0..n {
                q.push(SimTime(rng.random_range(0..1_000_000u64)), i as u32);
            }
            b.iter(|| {
                for _ in 0..STEPS {
                    let (t, e) = q.pop().expect("non-empty");
                    let gap = (-(1.0 - rng.random::<f64>()).ln() * 1e6) as u64;
                    q.push(SimTime(t.0 + gap), e);
                }
            });
        });
        g.bench_function(format!("bare_binary_heap/{n}"), |b| {
            let mut rng = stream(1, "bench/hold");
            let mut q: BinaryHeap<Reverse<(u64, u64, u32)>> = BinaryHeap::with_capacity(n + 1);
            let mut seq = 0u64;
            for i in 0..n {
                q.push(Reverse((rng.random_range(0..1_000_000u64), seq, i as u32)));
                seq += 1;
            }
            b.iter(|| {
                for _ in 0..STEPS {
                    let Reverse((t, _, e)) = q.pop().expect("non-empty");
                    let gap = (-(1.0 - rng.random::<f64>()).ln() * 1e6) as u64;
                    q.push(Reverse((t + gap, seq, e)));
                    seq += 1;
                }
            });
        });
    }
    g.finish();
}

const MM1: &str = r#"
[scenario]
name = "bench-mm1"
duration_s = 2000.0
window_ms = 1000.0
[[sources]]
name = "users"
target = "server"
sink = "done"
rate_per_s = 800.0
[[services]]
name = "server"
servers = 1
service_time = { dist = "exponential", mean_ms = 1.0 }
[[sinks]]
name = "done"
"#;

/// End to end: M/M/1 at ρ = 0.8 (λ = 800/s, μ = 1000/s) for 2 000 simulated seconds (~3.2 M events), 1 s windows.
fn mm1(c: &mut Criterion) {
    let sc = metastable::parse(MM1, "bench-mm1.toml").expect("valid scenario");
    let events = metastable::run(&sc, 1).stats.events;
    let mut g = c.benchmark_group("mm1");
    g.sample_size(10);
    g.throughput(Throughput::Elements(events));
    g.bench_function("rho0.8_800per_s_2000s", |b| {
        b.iter(|| metastable::run(&sc, 1).stats.events)
    });
    // The same model as a bare `BinaryHeap` loop measuring only the mean sojourn: the plain
    // baseline of the line above (its throughput counted in the same events).
    g.bench_function("bare_loop_800per_s_2000s", |b| {
        b.iter(|| bare_mm1::run(800.0, 1.0, 2000.0, 1).0)
    });
    // The bare loop plus every metric the simulator records, by hand through sim-core's
    // recorder (bit-for-bit the same windows: `tests/bare_loops.rs`), with the bare loop's
    // `BinaryHeap` and with the engine's `EventQueue`: what the metrics alone cost, and the
    // fastest any request path could be with this recorder and queue.
    for (name, queue) in [
        (
            "bare_loop_recorded_heap_800per_s_2000s",
            bare_mm1_recorded::Queue::BinaryHeap,
        ),
        (
            "bare_loop_recorded_engine_queue_800per_s_2000s",
            bare_mm1_recorded::Queue::Engine,
        ),
    ] {
        g.bench_function(name, |b| {
            b.iter(|| bare_mm1_recorded::run(800.0, 1.0, 2000.0, 1, queue).0)
        });
    }
    // The floor: the bare loop with every metric's per-customer update kept in plain local
    // variables (no recorder, no windows; the same run totals: `tests/bare_loops.rs`). No
    // implementation that keeps every metric can be cheaper than this.
    g.bench_function("bare_loop_floor_every_metric_800per_s_2000s", |b| {
        b.iter(|| bare_mm1_floor::run::<3>(800.0, 1.0, 2000.0, 1).events)
    });
    g.finish();
}

/// Issue 3's retry-storm benchmark: `scenarios/retry-storm.toml` as written (8 servers ×
/// exp 10 ms, 600 → 1200 first tries/s for [60, 90) s, 200 ms timeout, no server-side
/// cancellation, 3 retries with full-jitter backoff base 50 ms cap 2 s, 300 s simulated).
fn retry_storm(c: &mut Criterion) {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/retry-storm.toml");
    let sc = metastable::load(std::path::Path::new(path)).expect("valid scenario");
    let events = metastable::run(&sc, 1).stats.events;
    let mut g = c.benchmark_group("retry_storm");
    g.sample_size(10);
    g.throughput(Throughput::Elements(events));
    g.bench_function("baseline_300s", |b| {
        b.iter(|| metastable::run(&sc, 1).stats.events)
    });
    // The same model as a bare `BinaryHeap` loop with the same draws, counting only successes,
    // timeouts and give-ups (`tests/bare_loops.rs`: it counts what the line above counts).
    g.bench_function("bare_loop_300s", |b| {
        b.iter(|| bare_retry_storm::run(300.0, 1).events)
    });
    g.finish();
}

/// The lease manager at scale: `scenarios/aws-dwfm-lease-collapse.toml` with 100 000 droplets on 20
/// hosts (as its `scale-100k` variant: one timer per droplet in the event queue, DDB and launch
/// clients) for its first 2 000 simulated seconds (steady renewals, ≈ 2.5 M events).
fn lease_renewals(c: &mut Criterion) {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/aws-dwfm-lease-collapse.toml"
    );
    let text = std::fs::read_to_string(path).expect("scenario");
    let set = |path: &str, value: toml::Value| metastable::scenario::overrides::Override {
        path: path.into(),
        value,
        line: 0,
        column: 0,
        label: "bench".into(),
    };
    let overrides = [
        set("scenario.duration_s", toml::Value::Float(2000.0)),
        set(
            "lease_manager[dwfm].droplets",
            toml::Value::Integer(100_000),
        ),
        set("lease_manager[dwfm].hosts", toml::Value::Integer(20)),
    ];
    let sc = metastable::parse_with(&text, path, &overrides).expect("valid scenario");
    let events = metastable::run(&sc, 1).stats.events;
    let mut g = c.benchmark_group("lease");
    g.sample_size(10);
    g.throughput(Throughput::Elements(events));
    g.bench_function("renewals_100k_droplets_2000s", |b| {
        b.iter(|| metastable::run(&sc, 1).stats.events)
    });
    g.finish();
}

criterion_group!(benches, hold, mm1, retry_storm, lease_renewals);
criterion_main!(benches);
