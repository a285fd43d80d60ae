//! The plain baseline for `benches/scale/mm1-rho09.toml`: M/M/1 (λ = 900/s, mean service
//! 1 ms, 11 112 s, about 10⁷ customers) as a bare `BinaryHeap` event loop with the scenario's
//! RNG streams, measuring only the mean sojourn. `metastable run` on the scenario, timed
//! whole-process beside this, gives the cost of the engine, the model and every metric
//! (README "Performance").
//!
//! `cargo run --release --example bare_mm1 [LAMBDA_PER_S MEAN_MS DURATION_S]`

#[path = "../benches/common/bare_mm1.rs"]
mod bare_mm1;

fn main() {
    let args: Vec<f64> = std::env::args()
        .skip(1)
        .filter_map(|a| a.parse().ok())
        .collect();
    let (lambda, mean_ms, duration_s) = match args[..] {
        [l, m, d] => (l, m, d),
        _ => (900.0, 1.0, 11_112.0),
    };
    let (events, done, sojourn_ns) = bare_mm1::run(lambda, mean_ms, duration_s, 1);
    println!(
        "bare M/M/1: {events} events, {done} customers, mean sojourn {:.3} ms",
        sojourn_ns / 1e6
    );
}
