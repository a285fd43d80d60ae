//! The bare baselines of README "Performance" run the same models as the shipped scenarios
//! they are timed against: with the same seed they draw the same numbers in the same order, so
//! they must count exactly what `metastable run` counts. (If a baseline drifted from the
//! model, the speed ratio would compare different work.)
mod common;
use common::set;

#[path = "../benches/common/bare_mm1.rs"]
mod bare_mm1;
#[allow(dead_code)] // the test reads the totals, not the event count the bench times
#[path = "../benches/common/bare_mm1_floor.rs"]
mod bare_mm1_floor;
#[path = "../benches/common/bare_mm1_recorded.rs"]
mod bare_mm1_recorded;
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

/// The bare M/M/1 loop with every metric recorded by hand must record what `metastable run`
/// records, window by window and bit for bit: otherwise "what the metrics alone cost" would be
/// the cost of other work. Every metric of `users` and `server` that the loop does not update
/// must be zero (or empty) in every window of the simulator's run.
#[test]
fn bare_mm1_recorded_records_what_the_simulator_records() {
    use bare_mm1_recorded::Queue;
    use sim_core::MetricRef;
    for seed in 1..=3u64 {
        let sc = load(
            "benches/scale/mm1-rho09.toml",
            &[set("scenario.duration_s", toml::Value::Float(200.0))],
        );
        let report = metastable::run(&sc, seed);
        let sim = &report.rec;
        for queue in [Queue::BinaryHeap, Queue::Engine] {
            let (_, bare) = bare_mm1_recorded::run(900.0, 1.0, 200.0, seed, queue);
            assert_eq!(
                bare.n_windows(),
                sim.n_windows(),
                "seed {seed} {queue:?}: windows"
            );
            let mut compared = 0;
            for def in sim
                .defs()
                .iter()
                .filter(|d| d.owner == "users" || d.owner == "server")
            {
                let what = format!("seed {seed} {queue:?}: {}.{}", def.owner, def.name);
                let other = bare.find(&def.owner, def.name);
                for w in 0..sim.n_windows() {
                    match (def.id, other) {
                        (MetricRef::Counter(a), Some(MetricRef::Counter(b))) => {
                            assert_eq!(
                                sim.counter_in(w, a),
                                bare.counter_in(w, b),
                                "{what} window {w}"
                            )
                        }
                        (MetricRef::Gauge(a), Some(MetricRef::Gauge(b))) => {
                            assert_eq!(sim.gauge_in(w, a), bare.gauge_in(w, b), "{what} window {w}")
                        }
                        (MetricRef::Hist(a), Some(MetricRef::Hist(b))) => {
                            assert_eq!(sim.hist_in(w, a), bare.hist_in(w, b), "{what} window {w}")
                        }
                        (MetricRef::Counter(a), None) => {
                            assert_eq!(sim.counter_in(w, a), 0, "{what} window {w}")
                        }
                        (MetricRef::Gauge(a), None) => {
                            assert_eq!(sim.gauge_in(w, a).max, 0.0, "{what} window {w}")
                        }
                        (MetricRef::Hist(a), None) => {
                            assert_eq!(sim.hist_in(w, a).count, 0, "{what} window {w}")
                        }
                        (_, Some(_)) => panic!("{what}: a different kind of metric"),
                    }
                }
                compared += usize::from(other.is_some());
            }
            // Not a vacuous agreement: every metric the loop registers was compared, and the
            // service saw the traffic (about 900 customers a window).
            assert_eq!(
                compared,
                bare.defs().len(),
                "seed {seed} {queue:?}: metrics compared"
            );
            let done = sim.find("server", "completions");
            let Some(MetricRef::Counter(c)) = done else {
                panic!("server.completions")
            };
            assert!(
                sim.counter_total(c) > 150_000,
                "seed {seed}: {}",
                sim.counter_total(c)
            );
        }
    }
}

/// The floor loop (every metric's update in plain locals, no windows) must keep the same run
/// totals as `metastable run`: the same counts, the same latency histograms (count, mean,
/// quantiles, min, max: exact), the same time-weighted means of the gauges (up to the order in
/// which the simulator sums window by window: 1e-9 relative) and maxima. Otherwise its time
/// would be a floor under different work.
#[test]
fn bare_mm1_floor_keeps_what_the_simulator_keeps() {
    use sim_core::{HistStat, MetricRef};
    const DURATION_S: f64 = 300.0;
    for seed in 1..=3u64 {
        let sc = load(
            "benches/scale/mm1-rho09.toml",
            &[
                set("scenario.duration_s", toml::Value::Float(DURATION_S)),
                set("scenario.warmup_s", toml::Value::Float(0.0)),
            ],
        );
        let report = metastable::run(&sc, seed);
        let sim = &report.rec;
        let floor = bare_mm1_floor::run::<3>(900.0, 1.0, DURATION_S, seed);
        let id = |owner: &str, name: &str| {
            sim.find(owner, name)
                .unwrap_or_else(|| panic!("seed {seed}: {owner}.{name} registered"))
        };
        for ((owner, name), kept) in bare_mm1_floor::COUNTERS.iter().zip(floor.counters) {
            let MetricRef::Counter(c) = id(owner, name) else {
                panic!("seed {seed}: {owner}.{name}: a counter")
            };
            assert_eq!(sim.counter_total(c), kept, "seed {seed}: {owner}.{name}");
        }
        let end = (DURATION_S * 1e9) as u64;
        for ((owner, name), kept) in bare_mm1_floor::GAUGES.iter().zip(&floor.gauges) {
            let MetricRef::Gauge(g) = id(owner, name) else {
                panic!("seed {seed}: {owner}.{name}: a gauge")
            };
            let total = sim.gauge_total(g);
            let mean = kept.mean(end);
            assert!(
                (total.mean - mean).abs() <= 1e-9 * mean,
                "seed {seed}: {owner}.{name} mean {} against {mean}",
                total.mean
            );
            assert_eq!(total.max, kept.max, "seed {seed}: {owner}.{name} max");
        }
        for ((owner, name), kept) in bare_mm1_floor::HISTOGRAMS.iter().zip(&floor.hists) {
            let MetricRef::Hist(h) = id(owner, name) else {
                panic!("seed {seed}: {owner}.{name}: a histogram")
            };
            let total = sim.hist_total(h);
            assert_eq!(
                (HistStat::of(total), total.min()),
                (HistStat::of(kept), kept.min()),
                "seed {seed}: {owner}.{name}"
            );
        }
        // Not a vacuous agreement: the service saw the traffic and queued (ρ = 0.9).
        assert!(
            floor.counters[4] > 250_000,
            "seed {seed}: {:?}",
            floor.counters
        );
        assert!(floor.gauges[1].mean(end) > 1.0, "seed {seed}: mean queue");
    }
}
