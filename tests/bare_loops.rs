//! The bare baselines of README "Performance" run the same models as the shipped scenarios
//! they are timed against: with the same seed they draw the same numbers in the same order, so
//! they must count exactly what `metastable run` counts. (If a baseline drifted from the
//! model, the speed ratio would compare different work.)
mod common;
use common::set;

#[path = "../benches/common/bare_mm1.rs"]
mod bare_mm1;
#[path = "../benches/common/bare_retry_storm.rs"]
mod bare_retry_storm;

fn load(file: &str, overrides: &[metastable::Override]) -> metastable::Scenario {
    let path = format!("{}/{file}", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&path).expect("shipped scenario");
    metastable::parse_with(&text, &path, overrides).expect("valid scenario")
}

#[test]
fn bare_retry_storm_counts_what_the_simulator_counts() {
    for seed in 1..=3u64 {
        // The whole run in the summary (no warm-up), so the totals compare one to one.
        let sc = load(
            "scenarios/retry-storm.toml",
            &[set("scenario.warmup_s", toml::Value::Float(0.0))],
        );
        let report = metastable::run(&sc, seed);
        let users = report.summary_of("users").expect("client users");
        let bare = bare_retry_storm::run(sc.duration.as_secs_f64(), seed);
        let sim = (
            users.successes.unwrap_or(0),
            users.timeouts.unwrap_or(0),
            users.give_ups.unwrap_or(0),
        );
        assert_eq!(
            (bare.successes, bare.timeouts, bare.give_ups),
            sim,
            "seed {seed}: bare (successes, timeouts, give-ups) against metastable's"
        );
        // The storm happened (not a vacuous agreement): most attempts time out after it.
        assert!(bare.timeouts > bare.successes, "seed {seed}: {bare:?}");
        assert_eq!(bare.events, report.stats.events, "seed {seed}: events");
    }
}

#[test]
fn bare_mm1_counts_what_the_simulator_counts() {
    for seed in 1..=3u64 {
        let sc = load(
            "benches/scale/mm1-rho09.toml",
            &[set("scenario.duration_s", toml::Value::Float(500.0))],
        );
        let report = metastable::run(&sc, seed);
        let server = report.summary_of("server").expect("service server");
        let (_, done, sojourn_ns) = bare_mm1::run(900.0, 1.0, 500.0, seed);
        assert_eq!(
            server.completions,
            Some(done),
            "seed {seed}: customers served"
        );
        let mean_ns = server.sojourn.and_then(|h| h.mean).expect("sojourn mean");
        // The histogram keeps the exact sum; the bare loop sums in f64 (relative error far
        // below 1e-9 over 450 000 customers).
        assert!(
            (mean_ns - sojourn_ns).abs() <= 1e-9 * mean_ns,
            "seed {seed}: mean sojourn {mean_ns} ns against {sojourn_ns} ns"
        );
    }
}
