//! Admission control, queue disciplines and fan-out, checked against what they must do:
//! a concurrency limit on one server is M/M/1/K (closed-form blocking), a token-bucket rate limit
//! admits its rate, a queue-age limit bounds waits, adaptive LIFO serves the newest under
//! congestion, and a fan-out call waits for all of its branches.

const MM1: &str = r#"
[scenario]
name = "adm"
duration_s = 2000.0
warmup_s = 100.0
window_ms = 10000.0

[[sources]]
name = "users"
target = "server"
rate_per_s = 800.0

[[services]]
name = "server"
servers = 1
service_time = { dist = "exponential", mean_ms = 1.0 }
"#;

fn run(text: &str, seed: u64) -> metastable::RunReport {
    let sc = metastable::parse(text, "adm.toml").unwrap_or_else(|e| panic!("{e}"));
    metastable::run(&sc, seed)
}

fn summary(r: &metastable::RunReport, name: &str) -> metastable::run::metrics::Values {
    r.summary_of(name)
        .unwrap_or_else(|| panic!("no component {name}"))
}

/// `concurrency_limit = 5` on one server is M/M/1/5: P_block = (1 − ρ) ρ^5 / (1 − ρ^6).
#[test]
fn concurrency_limit_is_mm1k_blocking() {
    let text = MM1.replace("servers = 1\n", "servers = 1\nconcurrency_limit = 5\n");
    let rho: f64 = 0.8;
    let theory = (1.0 - rho) * rho.powi(5) / (1.0 - rho.powi(6));
    let mut est = Vec::new();
    for seed in 1..=10u64 {
        let v = summary(&run(&text, seed), "server");
        est.push(v.rejected.unwrap_or(0) as f64 / v.arrivals.unwrap_or(1) as f64);
    }
    let n = est.len() as f64;
    let mean = est.iter().sum::<f64>() / n;
    let sd = (est.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
    // t(0.9995, 9) = 4.78: a 99.9 % interval of the mean over 10 seeds.
    let tol = 4.78 * sd / n.sqrt() + 0.001 * theory;
    assert!(
        (mean - theory).abs() <= tol,
        "blocking {mean:.5} ± {tol:.5}, theory {theory:.5} (seeds 1..=10; reproduce: cargo test --test admission)"
    );
}

/// A token bucket of 300/s in front of 800/s of Poisson arrivals admits 300/s (the burst of
/// 10 is negligible over 1 900 s).
#[test]
fn rate_limit_admits_its_rate() {
    let text = MM1.replace(
        "servers = 1\n",
        "servers = 1\nrate_limit = { rate_per_s = 300.0, burst = 10.0 }\n",
    );
    for seed in 1..=3u64 {
        let v = summary(&run(&text, seed), "server");
        let admitted = v.arrivals.unwrap_or(0) - v.rejected.unwrap_or(0);
        let per_s = admitted as f64 / 1900.0;
        assert!(
            (per_s - 300.0).abs() < 3.0,
            "seed {seed}: admitted {per_s:.2}/s, limit 300/s"
        );
    }
}

/// `max_queue_age_ms = 5` at ρ = 0.8 (mean wait 4 ms): everything older is shed, so no served
/// request waited longer than 5 ms, and some were shed.
#[test]
fn queue_age_limit_bounds_waits() {
    let text = MM1.replace("servers = 1\n", "servers = 1\nmax_queue_age_ms = 5.0\n");
    for seed in 1..=3u64 {
        let r = run(&text, seed);
        let v = summary(&r, "server");
        assert!(v.shed.unwrap_or(0) > 1000, "seed {seed}: shed {:?}", v.shed);
        // Sojourn = wait + service; the wait part is bounded by 5 ms, so the mean wait is.
        assert!(
            v.wait_ms_mean.is_some_and(|w| w <= 5.0),
            "seed {seed}: mean wait {:?}",
            v.wait_ms_mean
        );
        // Compared with the unlimited queue (mean wait 4 ms), waits are shorter.
        assert!(
            v.wait_ms_mean.is_some_and(|w| w < 2.0),
            "seed {seed}: {:?}",
            v.wait_ms_mean
        );
    }
}

/// Adaptive LIFO under sustained overload (ρ = 1.6): the queue is congested, so the newest
/// work is served first and served work waits far less than under FIFO.
#[test]
fn adaptive_lifo_serves_the_newest_under_congestion() {
    let over = MM1.replace("rate_per_s = 800.0", "rate_per_s = 1600.0");
    let fifo = summary(&run(&over, 1), "server");
    let alifo = summary(
        &run(
            &over.replace(
                "servers = 1\n",
                "servers = 1\ndiscipline = \"adaptive_lifo\"\n",
            ),
            1,
        ),
        "server",
    );
    let (f, a) = (
        fifo.wait_ms_mean.unwrap_or(0.0),
        alifo.wait_ms_mean.unwrap_or(f64::MAX),
    );
    assert!(
        a < 0.01 * f,
        "mean wait of served work: FIFO {f:.1} ms, adaptive LIFO {a:.1} ms"
    );
}

/// Fan-out: every request calls three services at once and answers when all three have;
/// the parent's latency is the maximum of three branches, so it exceeds each branch's.
#[test]
fn fanout_waits_for_every_branch() {
    let text = r#"
[scenario]
name = "fan"
duration_s = 500.0
warmup_s = 50.0
window_ms = 10000.0

[[clients]]
name = "users"
target = "api"
rate_per_s = 100.0

[[services]]
name = "api"
servers = 100
service_time = { dist = "constant", value_ms = 1.0 }
call_mode = "fanout"
calls = [{ target = "a" }, { target = "b" }, { target = "c" }]

[[services]]
name = "a"
servers = 100
service_time = { dist = "exponential", mean_ms = 10.0 }

[[services]]
name = "b"
servers = 100
service_time = { dist = "exponential", mean_ms = 10.0 }

[[services]]
name = "c"
servers = 100
service_time = { dist = "exponential", mean_ms = 10.0 }
"#;
    let r = run(text, 4);
    let api = summary(&r, "api");
    for b in ["a", "b", "c"] {
        let v = summary(&r, b);
        // One call per branch per request (± the requests in flight at the window edges).
        let diff = v.arrivals.unwrap_or(0) as i64 - api.arrivals.unwrap_or(0) as i64;
        assert!(
            diff.abs() <= 5,
            "branch {b}: {diff} calls more than requests"
        );
    }
    // E[max of 3 Exp(10 ms)] = 10 · (1 + 1/2 + 1/3) = 18.33 ms, plus 1 ms of local work.
    // Var = 10² · (1 + 1/4 + 1/9) ⇒ sd 11.7 ms; over ≈ 45 000 requests the standard error is
    // 0.055 ms, so 0.3 ms is 5 standard errors.
    let mean = api.sojourn.and_then(|l| l.mean).map_or(0.0, |ns| ns / 1e6);
    assert!(
        (mean - 19.333).abs() < 0.3,
        "fan-out latency {mean:.3} ms, theory 19.333 ms (seed 4)"
    );
}
