//! The bare M/M/1 loop plus every metric `metastable run` records for it, by hand through
//! sim-core's `Recorder` (`benches/common/bare_mm1_recorded.rs`): what the metrics alone cost,
//! timed whole-process beside `metastable run benches/scale/mm1-rho09.toml` and
//! `examples/bare_mm1.rs` (README "Performance").
//!
//! `cargo run --release --example bare_mm1_recorded [heap|engine] [LAMBDA_PER_S MEAN_MS DURATION_S]`
//! (`heap`, the default: the bare loop's `BinaryHeap`; `engine`: sim-core's `EventQueue`).

#[path = "../benches/common/bare_mm1_recorded.rs"]
mod bare_mm1_recorded;

use bare_mm1_recorded::Queue;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (queue, rest) = match args.first().map(String::as_str) {
        Some("engine") => (Queue::Engine, &args[1..]),
        Some("heap") => (Queue::BinaryHeap, &args[1..]),
        _ => (Queue::BinaryHeap, &args[..]),
    };
    let nums: Vec<f64> = rest.iter().filter_map(|a| a.parse().ok()).collect();
    let (lambda, mean_ms, duration_s) = match nums[..] {
        [l, m, d] => (l, m, d),
        _ => (900.0, 1.0, 11_112.0),
    };
    let (events, rec) = bare_mm1_recorded::run(lambda, mean_ms, duration_s, 1, queue);
    println!(
        "bare M/M/1 with every metric ({queue:?}): {events} events, {} windows",
        rec.n_windows()
    );
}
