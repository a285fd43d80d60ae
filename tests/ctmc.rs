//! The simulator against exact Markov chains of small instances (src/analytic/ctmc.rs,
//! docs/analytic.md §6): numbers with no modelling error, checked over independent seeds.
//!
//! Method as in tests/theory.rs: `n` replications, each one estimate; the check passes when
//! `|x̄ − exact| ≤ t_{0.9995, n−1} · s/√n + allowance`, the allowance stated at each check.

use metastable::analytic::ctmc::{self, RetrySystem};
use metastable::{parse, run};

/// Student-t quantile t_{0.9995, df} for df 19 and 99 (NIST/SEMATECH §1.3.6.7.2); the
/// smaller table row below df is used (conservative).
fn t9995(df: usize) -> f64 {
    if df >= 99 {
        3.392
    } else if df >= 19 {
        3.883
    } else {
        4.781
    }
}

fn mean_sd(xs: &[f64]) -> (f64, f64) {
    let n = xs.len() as f64;
    let m = xs.iter().sum::<f64>() / n;
    let v = xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0);
    (m, v.sqrt())
}

fn check(what: &str, xs: &[f64], exact: f64, allowance: f64, scenario: &str) {
    let (m, sd) = mean_sd(xs);
    let tol = t9995(xs.len() - 1) * sd / (xs.len() as f64).sqrt() + allowance;
    eprintln!(
        "{what}: simulated {m:.5} ± {tol:.5} (n = {}), exact {exact:.5}",
        xs.len()
    );
    assert!(
        (m - exact).abs() <= tol,
        "{what}: simulated mean {m:.6} (sd {sd:.6}, n = {}, seeds 1..={}) vs exact {exact:.6}, tolerance {tol:.6}\nscenario:\n{scenario}",
        xs.len(),
        xs.len()
    );
}

const RETRY: &str = r#"
[scenario]
name = "ctmc-retry"
description = "2 servers, 4 waiting places, exponential patience with abandonment, one immediate retry"
duration_s = 2000.0
warmup_s = 100.0
window_ms = 1000.0

[[clients]]
name = "users"
target = "server"
rate_per_s = 16.0
patience = { dist = "exponential", mean_ms = 250.0 }
retry = { max_attempts = 2 }

[[services]]
name = "server"
servers = 2
queue_capacity = 4
queue_abandonment = true
service_time = { dist = "exponential", mean_ms = 100.0 }
"#;

const SYSTEM: RetrySystem = RetrySystem {
    lambda: 16.0,
    mu: 10.0,
    theta: 4.0,
    servers: 2,
    queue: 4,
};

/// The retrying system's long-run figures, exact from its 190-state chain, against 20 seeds of
/// 1 900 s each. Allowance 0.2 % of the value for the bias of the warm-up cut (the chain
/// mixes in well under a second; 100 s are cut).
#[test]
fn retrying_system_matches_its_exact_chain() {
    let (chain, states) = ctmc::retry_system(SYSTEM);
    let (pi, res) = chain.stationary().expect("solvable");
    assert!(res < 1e-12, "residual {res}");
    let r = ctmc::retry_rates(SYSTEM, &states, &pi);
    let sc = parse(RETRY, "ctmc-retry.toml").expect("valid");
    let (mut success, mut wasted, mut rejected, mut expired, mut retries, mut queue) =
        (vec![], vec![], vec![], vec![], vec![], vec![]);
    for seed in 1..=20u64 {
        let rep = run(&sc, seed);
        let c = rep.summary_of("users").expect("client");
        let s = rep.summary_of("server").expect("service");
        let first = c.first_tries.unwrap_or(0) as f64;
        success.push(c.successes.unwrap_or(0) as f64 / first);
        retries.push(c.retries.unwrap_or(0) as f64 / first);
        wasted.push(s.wasted.unwrap_or(0) as f64 / first);
        rejected.push(s.rejected.unwrap_or(0) as f64 / first);
        expired.push(s.expired.unwrap_or(0) as f64 / first);
        queue.push(s.queue_len_mean.unwrap_or(0.0));
    }
    let l = SYSTEM.lambda;
    check(
        "successes per call",
        &success,
        r.successes / l,
        0.002 * r.successes / l,
        RETRY,
    );
    check(
        "retries per call",
        &retries,
        r.retries / l,
        0.002 * r.retries / l,
        RETRY,
    );
    check(
        "wasted completions per call",
        &wasted,
        r.wasted / l,
        0.002 * r.wasted / l,
        RETRY,
    );
    check(
        "rejected attempts per call",
        &rejected,
        r.rejected / l,
        0.002 * r.rejected / l,
        RETRY,
    );
    check(
        "abandoned attempts per call",
        &expired,
        r.expired / l,
        0.002 * r.expired / l,
        RETRY,
    );
    check(
        "mean queue length",
        &queue,
        r.mean_queue,
        0.002 * r.mean_queue,
        RETRY,
    );
}

/// M/M/2/2+4 blocking and mean queue against the chain (and the chain against Erlang's
/// product form, to 1e-12), 20 seeds.
#[test]
fn mmck_blocking_and_queue_match_the_chain() {
    let text = r#"
[scenario]
name = "ctmc-mmck"
duration_s = 2000.0
warmup_s = 100.0

[[sources]]
name = "users"
target = "server"
rate_per_s = 30.0

[[services]]
name = "server"
servers = 2
queue_capacity = 4
service_time = { dist = "exponential", mean_ms = 100.0 }
"#;
    let (pi, res) = ctmc::mmck(30.0, 10.0, 2, 4).stationary().expect("solvable");
    assert!(res < 1e-12);
    let (block, lq) = ctmc::mmck_closed_form(30.0, 10.0, 2, 4);
    assert!((pi[6] - block).abs() < 1e-12);
    let sc = parse(text, "ctmc-mmck.toml").expect("valid");
    let (mut b, mut q) = (vec![], vec![]);
    for seed in 1..=20u64 {
        let rep = run(&sc, seed);
        let s = rep.summary_of("server").expect("service");
        b.push(s.rejected.unwrap_or(0) as f64 / s.arrivals.unwrap_or(1) as f64);
        q.push(s.queue_len_mean.unwrap_or(0.0));
    }
    check("M/M/2/2+4 blocking", &b, block, 0.002 * block, text);
    check("M/M/2/2+4 mean queue", &q, lq, 0.002 * lq, text);
}

/// Expected time from an empty system until the queue first fills (the chain's hitting time
/// into {4 waiting}), against 1 000 seeds: the first 10 ms window whose `queue_len_max` reaches
/// 4 brackets the hitting time; its midpoint is the estimate (allowance: half a window,
/// 5 ms). Runs last 30 mean hitting times, so censoring has probability < 1e-9 per run.
#[test]
fn time_to_fill_the_queue_matches_the_chain() {
    let (chain, states) = ctmc::retry_system(SYSTEM);
    let target: Vec<bool> = states.iter().map(|s| s.queue.len() == 4).collect();
    let (h, res) = chain.hitting_times(&target).expect("reachable");
    assert!(res < 1e-9, "residual {res}");
    let exact = h[0];
    let text = RETRY
        .replace(
            "duration_s = 2000.0",
            &format!("duration_s = {:.0}", (30.0 * exact).ceil().max(10.0)),
        )
        .replace("warmup_s = 100.0", "warmup_s = 0.0")
        .replace("window_ms = 1000.0", "window_ms = 10.0");
    let sc = parse(&text, "ctmc-retry-hit.toml").expect("valid");
    let mut times = Vec::new();
    for seed in 1..=1000u64 {
        let rep = run(&sc, seed);
        let series = rep.series_of("server").expect("service");
        let hit = series
            .iter()
            .find(|(_, v)| v.queue_len_max.unwrap_or(0.0) >= 4.0)
            .map(|(t, _)| t + 0.005)
            .unwrap_or_else(|| panic!("seed {seed}: the queue never filled"));
        times.push(hit);
    }
    check("time to a full queue (s)", &times, exact, 0.005, &text);
}

/// Leaving the collapsed region: from the moment the queue first fills (entered from an empty
/// system), the expected time until it is first empty again — the chain's hitting time into
/// {0 waiting}, averaged over the state through which the full region is entered
/// (`Ctmc::at_entrance`). Simulated over 1 000 seeds with 1 ms windows: entry = the first
/// window whose `queue_len_max` reaches 4, exit = the first later window whose
/// `queue_len_end` is 0 (runs of 15 s: a run that has not filled by then, probability
/// ≈ e^(−15/1.08), is skipped, at most 10 allowed); allowance 2 ms (a window at each end, and an empty moment inside a
/// window that refills before it closes, which 1 ms windows make rare).
#[test]
#[ignore = "slow shape test: 1 000 runs with 1 ms windows (≈ 1 min in a debug build)"]
fn time_to_drain_a_full_queue_matches_the_chain() {
    let (chain, states) = ctmc::retry_system(SYSTEM);
    let full: Vec<bool> = states.iter().map(|s| s.queue.len() == 4).collect();
    let empty: Vec<bool> = states.iter().map(|s| s.queue.is_empty()).collect();
    let (drain, res) = chain.hitting_times(&empty).expect("reachable");
    assert!(res < 1e-9, "residual {res}");
    let (v, res) = chain.at_entrance(&full, &drain).expect("reachable");
    assert!(res < 1e-9, "residual {res}");
    let exact = v[0];
    let text = RETRY
        .replace("duration_s = 2000.0", "duration_s = 15")
        .replace("warmup_s = 100.0", "warmup_s = 0.0")
        .replace("window_ms = 1000.0", "window_ms = 1.0");
    let sc = parse(&text, "ctmc-retry-drain.toml").expect("valid");
    let mut times = Vec::new();
    for seed in 1..=1000u64 {
        let rep = run(&sc, seed);
        let series = rep.series_of("server").expect("service");
        let Some(i) = series
            .iter()
            .position(|(_, v)| v.queue_len_max.unwrap_or(0.0) >= 4.0)
        else {
            continue;
        };
        let Some(j) = series[i..]
            .iter()
            .position(|(_, v)| v.queue_len_end.unwrap_or(1.0) == 0.0)
        else {
            continue;
        };
        times.push(series[i + j].0 + 0.001 - (series[i].0 + 0.0005));
    }
    assert!(
        times.len() >= 990,
        "only {} of 1000 runs filled and drained",
        times.len()
    );
    check(
        "time from a full queue to an empty one (s)",
        &times,
        exact,
        0.002,
        &text,
    );
}
