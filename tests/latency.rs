//! Call latency that does not flatter a broken design, and the point-in-time queue length:
//! a failed call counts in `call_all_ms_*` until it gave up; `queue_len_end` is the queue at
//! the window's close.

use std::path::PathBuf;

use metastable::run::metrics::Values;
use sim_core::HistStat;

/// Half a histogram bucket: quantiles are bucket midpoints within 1/256 of the value.
const BUCKET: f64 = 1.0 / 256.0;

fn summary(r: &metastable::RunReport, name: &str, seed: u64) -> Values {
    r.summary_of(name)
        .unwrap_or_else(|| panic!("seed {seed}: no component {name}"))
}

fn hist(h: Option<HistStat>, what: &str, seed: u64, reproduce: &str) -> HistStat {
    h.unwrap_or_else(|| panic!("seed {seed}: no {what} histogram (reproduce: {reproduce})"))
}

/// Every call times out on each of its 3 attempts (100 ms; the service takes 1 s) with a
/// constant 50 ms backoff between attempts, so each gives up exactly 3 × 100 + 2 × 50 = 400 ms
/// after its first try: the all-calls latency holds exactly that, the successful-calls
/// latency nothing.
#[test]
fn a_call_that_gives_up_records_its_duration_to_give_up() {
    let text = r#"
[scenario]
name = "give-up"
duration_s = 30.0
warmup_s = 0.0
window_ms = 1000.0
[[clients]]
name = "users"
target = "slow"
rate_per_s = 20.0
timeout_ms = 100.0
retry = { max_attempts = 3, backoff = "constant", base_ms = 50.0, jitter = "none" }
[[services]]
name = "slow"
servers = 200
service_time = { dist = "constant", value_ms = 1000.0 }
"#;
    let sc = metastable::parse(text, "give-up.toml").expect("scenario");
    for seed in 1..=3u64 {
        let reproduce = format!("cargo test --release --test latency -- give_up (seed {seed})");
        let r = metastable::run(&sc, seed);
        let v = summary(&r, "users", seed);
        let (ok, all) = (
            hist(v.call_ok, "call_ok", seed, &reproduce),
            hist(v.call_all, "call_all", seed, &reproduce),
        );
        let give_ups = v.give_ups.unwrap_or(0);
        assert!(
            give_ups > 400,
            "seed {seed}: {give_ups} give-ups, expected ≈ 20/s × 30 s ({reproduce})"
        );
        assert_eq!(ok.count, 0, "seed {seed}: successes recorded ({reproduce})");
        assert_eq!(
            all.count, give_ups,
            "seed {seed}: every give-up is one all-calls sample ({reproduce})"
        );
        // Mean and max are exact; quantiles within half a bucket.
        assert_eq!(all.max, Some(400_000_000), "seed {seed}: max ({reproduce})");
        assert_eq!(all.mean, Some(4e8), "seed {seed}: mean ({reproduce})");
        let p50 = all.p50.unwrap_or(0) as f64;
        assert!(
            (p50 - 4e8).abs() <= 4e8 * BUCKET,
            "seed {seed}: p50 {p50} ns, expected 400 ms ± 1/256 ({reproduce})"
        );
    }
}

/// A call answered with an error at once (one attempt, the slot-free fast path) counts its
/// attempt's duration: the service's constant 5 ms.
#[test]
fn a_failed_trivial_call_counts_its_attempt() {
    let text = r#"
[scenario]
name = "errors"
duration_s = 10.0
warmup_s = 0.0
window_ms = 1000.0
[[clients]]
name = "users"
target = "broken"
rate_per_s = 50.0
[[services]]
name = "broken"
servers = 10
error_rate = 1.0
service_time = { dist = "constant", value_ms = 5.0 }
"#;
    let sc = metastable::parse(text, "errors.toml").expect("scenario");
    let seed = 1;
    let reproduce = "cargo test --release --test latency -- trivial (seed 1)";
    let v = summary(&metastable::run(&sc, seed), "users", seed);
    let all = hist(v.call_all, "call_all", seed, reproduce);
    assert!(
        all.count > 300,
        "seed {seed}: {} calls ({reproduce})",
        all.count
    );
    assert_eq!(
        all.count,
        v.give_ups.unwrap_or(0),
        "seed {seed} ({reproduce})"
    );
    assert_eq!(all.max, Some(5_000_000), "seed {seed}: max ({reproduce})");
    assert_eq!(
        v.call_ok.map(|h| h.count),
        Some(0),
        "seed {seed} ({reproduce})"
    );
}

/// The retry storm's metastable baseline: after the spike most calls fail, and a call that
/// fails has timed out on every one of its attempts (the service neither rejects nor errors),
/// so it lasts at least `max_attempts × timeout` (backoff only adds). When more than 1 % of
/// the calls that ended failed, the all-calls p99 is at least that bound (less half a
/// bucket). The successful calls' p99 is lower — it is the figure that flattered the design.
#[test]
fn retry_storm_all_calls_p99_does_not_flatter_the_metastable_baseline() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/retry-storm.toml"
    ));
    let sc = metastable::load(&path).expect("retry-storm");
    let client = &sc.world.clients[0];
    let timeout = client
        .timeout
        .expect("retry-storm has a timeout")
        .as_nanos() as f64;
    let attempts = client.retry.max_attempts;
    let bound = attempts as f64 * timeout * (1.0 - BUCKET);
    let name = client.name.clone();
    for seed in 1..=3u64 {
        let reproduce = format!("metastable run scenarios/retry-storm.toml --seed {seed}");
        let r = metastable::run(&sc, seed);
        let v = summary(&r, &name, seed);
        let (ok, all) = (
            hist(v.call_ok, "call_ok", seed, &reproduce),
            hist(v.call_all, "call_all", seed, &reproduce),
        );
        let failed = v.give_ups.unwrap_or(0);
        assert!(
            failed * 100 > all.count,
            "seed {seed}: only {failed} of {} calls failed; the bound needs > 1 % ({reproduce})",
            all.count
        );
        assert!(
            v.timeouts.unwrap_or(0) >= failed * u64::from(attempts)
                && v.errors.unwrap_or(0) == 0
                && v.rejected.unwrap_or(0) == 0,
            "seed {seed}: failures other than timeouts; the bound does not hold ({reproduce})"
        );
        let p99_all = all.p99.unwrap_or(0) as f64;
        assert!(
            p99_all >= bound,
            "seed {seed}: all-calls p99 {:.1} ms < {attempts} attempts × {:.0} ms timeout ({reproduce})",
            p99_all / 1e6,
            timeout / 1e6
        );
        let p99_ok = ok.p99.map_or(0.0, |n| n as f64);
        assert!(
            p99_ok < p99_all,
            "seed {seed}: successful-calls p99 {:.1} ms not below all-calls p99 {:.1} ms ({reproduce})",
            p99_ok / 1e6,
            p99_all / 1e6
        );
    }
}

/// `queue_len_end` by hand: 3 closed-loop users each think 1 s, then call a 1-server service
/// with a constant 400 ms service time. At t = 1 s all three arrive (1 served, 2 wait); one
/// leaves the queue at 1.4 s, the last at 1.8 s; the next calls come at 2.4 s. With 250 ms
/// windows over 2 s the queue at each window's close is 0 0 0 0 2 1 1 0, while the mean of
/// [1.25, 1.5) is (0.15 × 2 + 0.1 × 1) / 0.25 = 1.6.
#[test]
fn queue_len_end_is_the_queue_at_window_close() {
    let text = r#"
[scenario]
name = "queue-end"
duration_s = 2.0
warmup_s = 0.0
window_ms = 250.0
[[clients]]
name = "users"
target = "one"
users = 3
think_time = { dist = "constant", value_ms = 1000.0 }
[[services]]
name = "one"
servers = 1
service_time = { dist = "constant", value_ms = 400.0 }
"#;
    let sc = metastable::parse(text, "queue-end.toml").expect("scenario");
    let seed = 1;
    let r = metastable::run(&sc, seed);
    let series = r.series_of("one").expect("service one");
    let ends: Vec<f64> = series
        .iter()
        .map(|(_, v)| v.queue_len_end.unwrap_or(f64::NAN))
        .collect();
    assert_eq!(
        ends,
        [0.0, 0.0, 0.0, 0.0, 2.0, 1.0, 1.0, 0.0],
        "seed {seed}: queue at each window's end (reproduce: metastable run queue-end.toml --seed 1, text in tests/latency.rs)"
    );
    let mean = series[5].1.queue_len_mean.unwrap_or(f64::NAN);
    assert!(
        (mean - 1.6).abs() < 1e-9,
        "seed {seed}: mean of [1.25, 1.5) is {mean}, expected 1.6"
    );
    let end = summary(&r, "one", seed).queue_len_end;
    assert_eq!(end, Some(0.0), "seed {seed}: queue at the run's end");
}
