//! The bare M/M/1 loop plus every metric's per-customer update kept in plain local variables
//! (`benches/common/bare_mm1_floor.rs`): a lower bound on what keeping every metric costs,
//! timed whole-process beside `examples/bare_mm1.rs` (README "Performance").
//!
//! `cargo run --release --example bare_mm1_floor [counters|gauges|all] [LAMBDA_PER_S MEAN_MS DURATION_S]`
//! (`counters`: the seven counters; `gauges`: and the three time-weighted gauges; `all`, the
//! default: and the three latency histograms).

#[path = "../benches/common/bare_mm1_floor.rs"]
mod bare_mm1_floor;

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let (level, rest) = match args.first().map(String::as_str) {
        Some("counters") => (1, &args[1..]),
        Some("gauges") => (2, &args[1..]),
        Some("all") => (3, &args[1..]),
        _ => (3, &args[..]),
    };
    let nums: Vec<f64> = rest.iter().filter_map(|a| a.parse().ok()).collect();
    let (lambda, mean_ms, duration_s) = match nums[..] {
        [l, m, d] => (l, m, d),
        _ => (900.0, 1.0, 11_112.0),
    };
    let run = match level {
        1 => bare_mm1_floor::run::<1>,
        2 => bare_mm1_floor::run::<2>,
        _ => bare_mm1_floor::run::<3>,
    };
    let totals = run(lambda, mean_ms, duration_s, 1);
    let end = (duration_s * 1e9) as u64;
    println!(
        "bare M/M/1, every metric's update kept in locals (level {level}): {} events",
        totals.events
    );
    let named = |(owner, name): &(&str, &str)| format!("{owner}.{name}");
    for (metric, n) in bare_mm1_floor::COUNTERS.iter().zip(totals.counters) {
        println!("  {} {n}", named(metric));
    }
    for (metric, g) in bare_mm1_floor::GAUGES.iter().zip(&totals.gauges) {
        println!("  {} mean {:.4} max {}", named(metric), g.mean(end), g.max);
    }
    for (metric, h) in bare_mm1_floor::HISTOGRAMS.iter().zip(&totals.hists) {
        println!(
            "  {} count {} mean {:?} ns",
            named(metric),
            h.count(),
            h.mean()
        );
    }
}
