//! The plain baseline for `scenarios/retry-storm.toml`: the same model (open-loop client
//! 600 → 1200 → 600 first tries/s, 200 ms timeout, 4 attempts with full-jitter backoff, 8 FIFO
//! servers × exponential 10 ms) as a bare `BinaryHeap` event loop with the scenario's RNG
//! streams and draws, counting only successes, timeouts and give-ups. `metastable run` on the
//! scenario, timed whole-process beside this, gives the cost of the engine, the model and
//! every metric (README "Performance"); `tests/bare_loops.rs` checks both count the same.
//!
//! `cargo run --release --example bare_retry_storm [DURATION_S [SEED]]`

#[path = "../benches/common/bare_retry_storm.rs"]
mod bare_retry_storm;

fn main() {
    let args: Vec<f64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let duration_s = args.first().copied().unwrap_or(300.0);
    let seed = args.get(1).map_or(1, |&s| s as u64);
    let c = bare_retry_storm::run(duration_s, seed);
    println!(
        "bare retry storm (seed {seed}): {} events, {} successes, {} timeouts, {} give-ups, \
         mean ok latency {:.3} ms",
        c.events,
        c.successes,
        c.timeouts,
        c.give_ups,
        c.mean_ok_ns / 1e6
    );
}
