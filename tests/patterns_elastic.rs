//! Issue 17, part C: hedged requests and autoscaling. Each pattern in `patterns/` is run over
//! seeds 1..=5 (every seed, none picked), and the mechanism must produce what the published
//! guidance says it buys, with tolerances argued from the model's maths. Bad input for the new
//! fields exits 2 naming the file, the line and the field.
//!
//! The pattern runs are slow in a debug build and are `#[ignore]`d; they run in the release
//! suite (`cargo test --release --test patterns_elastic -- --include-ignored`).

use std::path::PathBuf;
use std::process::Command;

use metastable::analysis::Verdict;
use metastable::run::metrics::Values;

const SEEDS: std::ops::RangeInclusive<u64> = 1..=5;

fn load(name: &str) -> metastable::Scenario {
    let path = PathBuf::from(format!("{}/patterns/{name}", env!("CARGO_MANIFEST_DIR")));
    metastable::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn run(sc: &metastable::Scenario, variant: &str, seed: u64) -> metastable::RunReport {
    let v = if variant == "baseline" {
        sc
    } else {
        sc.variant_named(variant)
            .unwrap_or_else(|| panic!("no variant {variant}"))
    };
    metastable::run(v, seed)
}

fn summary(r: &metastable::RunReport, component: &str) -> Values {
    r.summary_of(component)
        .unwrap_or_else(|| panic!("no component {component}"))
}

/// Successful calls per first try.
fn success(v: &Values) -> f64 {
    v.successes.unwrap_or(0) as f64 / v.first_tries.unwrap_or(0).max(1) as f64
}

fn p99_ms(v: &Values) -> f64 {
    v.call_ok
        .and_then(|h| h.p99)
        .map_or(f64::INFINITY, |ns| ns as f64 / 1e6)
}

/// Hedging at 25 % load on a lognormal(mean 5 ms, cv 3) service. For T = min(X₁, d + X₂) with
/// d the p95 of X (19.2 ms), P(T > t) = P(X > t)·P(X > t − d): at t = 23 ms that is
/// 0.038 × 0.27 ≈ 0.010, so p99 falls from 53.9 ms to about 23 ms (ratio 0.43; queueing at
/// 25 % load on 20 servers is negligible). We allow up to 0.55 for the percentile's estimation
/// and the histogram's 0.4 % buckets. Extra load: 5 % of attempts outlive their p95, a little
/// more because the window holds hedged answers (faster than X): we accept [0.04, 0.08].
/// Cancelling the loser leaves nothing wasted and cuts the busy time below the unhedged
/// service's (the slow copy is stopped): utilisation(cancel) < utilisation(no hedge).
#[test]
#[ignore = "8 runs × 5 seeds of 120 s; release suite"]
fn hedging_cuts_the_p99_at_light_load_for_about_five_percent_extra_load() {
    let sc = load("hedging.toml");
    for seed in SEEDS {
        let base = run(&sc, "baseline", seed);
        let hedged = run(&sc, "hedge-p95", seed);
        let cancel = run(&sc, "hedge-p95-cancel", seed);
        let (b, h, c) = (
            summary(&base, "users"),
            summary(&hedged, "users"),
            summary(&cancel, "users"),
        );
        let ctx = format!(
            "seed {seed}: p99 {:.1} → {:.1} ms, extra load {:?} \
             (reproduce: metastable run patterns/hedging.toml --seed {seed})",
            p99_ms(&b),
            p99_ms(&h),
            h.hedge_extra_load()
        );
        assert!(p99_ms(&h) <= 0.55 * p99_ms(&b), "{ctx}");
        let extra = h.hedge_extra_load().unwrap_or(0.0);
        assert!((0.04..=0.08).contains(&extra), "{ctx}");
        assert!(h.hedge_wins.unwrap_or(0) > 0, "{ctx}");
        assert!(success(&h) > 0.999, "{ctx}");
        // Cancelled losers: every hedge's loser is cancelled (± the warm-up boundary).
        let hedges = c.hedges.unwrap_or(0) as f64;
        let cancelled = c.hedges_cancelled.unwrap_or(0) as f64;
        assert!((cancelled - hedges).abs() <= 0.01 * hedges + 2.0, "{ctx}");
        let (api_b, api_c) = (summary(&base, "api"), summary(&cancel, "api"));
        assert_eq!(api_c.wasted, Some(0), "{ctx}");
        assert!(
            api_c.utilisation.unwrap_or(1.0) < api_b.utilisation.unwrap_or(0.0),
            "{ctx}"
        );
    }
}

/// Hedging at 90 % load. A fixed 20 ms hedge delay (the light-load p95) fires on every request
/// once queueing waits pass 20 ms, so offered work approaches 2 × 0.9 = 1.8 of capacity: the
/// queue grows without bound and every call times out (success < 5 %). A 5 % budget keeps
/// offered work ≤ 0.9 × 1.05 ≈ 0.95 < 1: stable (success ≥ 99 %, hedges ≤ 5 % of attempts plus
/// the burst of 10). Cancelling the loser makes the hedge nearly free (the loser is mostly
/// still queued when the winner answers): stable. The p95 hedge is not self-limiting under
/// sustained overload (its window learns ever slower answers while the queue grows), which the
/// test pins as found: it collapses too.
#[test]
#[ignore = "8 runs × 5 seeds of 120 s at 3600 calls/s; release suite"]
fn unbudgeted_hedges_collapse_an_overloaded_service_and_a_budget_or_cancel_contains_them() {
    let sc = load("hedging.toml");
    for seed in SEEDS {
        let ctx = |v: &str, x: &Values| {
            format!(
                "seed {seed} variant {v}: success {:.3}, extra load {:?} \
                 (reproduce: metastable run patterns/hedging.toml --seed {seed})",
                success(x),
                x.hedge_extra_load()
            )
        };
        let none = summary(&run(&sc, "overload", seed), "users");
        assert!(success(&none) >= 0.99, "{}", ctx("overload", &none));
        for v in ["overload-hedge-fixed", "overload-hedge-p95"] {
            let x = summary(&run(&sc, v, seed), "users");
            assert!(success(&x) < 0.05, "{}", ctx(v, &x));
        }
        let budget = summary(&run(&sc, "overload-hedge-budget", seed), "users");
        let c = ctx("overload-hedge-budget", &budget);
        assert!(success(&budget) >= 0.99, "{c}");
        let attempts = budget.attempts().unwrap_or(0) as f64;
        assert!(
            (budget.hedges.unwrap_or(0) as f64) <= 0.05 * attempts + 10.0,
            "{c}"
        );
        assert!(budget.hedges_denied.unwrap_or(0) > 0, "{c}");
        let cancel = summary(&run(&sc, "overload-hedge-cancel", seed), "users");
        assert!(
            success(&cancel) >= 0.99,
            "{}",
            ctx("overload-hedge-cancel", &cancel)
        );
    }
}

/// The retry storm with an autoscaler. The storm offers ~4 × 600 = 2 400 attempts/s; a fleet
/// drains it only above 24 servers (100/s each). So: a fixed fleet of 8 and a fleet capped at
/// 16 stay metastable (by the arithmetic, on every seed); an uncapped fleet (max 40) recovers,
/// sooner when instances come faster (each step multiplies the fleet by at most 1/0.8 after a
/// provisioning delay, so the time to reach 25 servers scales with that delay); with 2-minute
/// instances the backlog outgrows what 40 servers drain in the run. A control plane that is
/// down for 4 minutes delays the rescue past its return: recovery comes later than with it up,
/// and launches failed meanwhile.
#[test]
#[ignore = "6 runs × 5 seeds of 900 s of retry storm; release suite"]
fn an_autoscaler_rescues_a_retry_storm_unless_capped_slow_or_without_control_plane() {
    let sc = load("autoscaler-retry-storm.toml");
    for seed in SEEDS {
        let reproduce =
            format!("reproduce: metastable run patterns/autoscaler-retry-storm.toml --seed {seed}");
        let verdict = |v: &str| {
            let r = run(&sc, v, seed);
            let a = r.analysis();
            (a.verdict, a.recovery_s, summary(&r, "api"))
        };
        for v in ["fixed-fleet", "max-16"] {
            let (got, _, _) = verdict(v);
            assert_eq!(got, Verdict::Metastable, "seed {seed} {v}: {reproduce}");
        }
        let (base, base_t, base_api) = verdict("baseline");
        let (fast, fast_t, _) = verdict("provisioning-10s");
        let (slow, _, _) = verdict("provisioning-120s");
        let (cp, cp_t, cp_api) = verdict("control-plane-down");
        let ctx = format!(
            "seed {seed}: baseline {base:?} {base_t:?}, 10 s {fast:?} {fast_t:?}, 120 s {slow:?}, \
             control plane down {cp:?} {cp_t:?}; {reproduce}"
        );
        assert_eq!(base, Verdict::Recovered, "{ctx}");
        assert_eq!(fast, Verdict::Recovered, "{ctx}");
        assert_ne!(slow, Verdict::Recovered, "{ctx}");
        assert!(fast_t < base_t, "{ctx}");
        assert!(base_api.servers_max.unwrap_or(0.0) >= 25.0, "{ctx}");
        assert!(cp_api.launch_failures.unwrap_or(0) > 0, "{ctx}");
        assert!(
            cp != Verdict::Recovered || cp_t > base_t,
            "control plane down must not recover as soon: {ctx}"
        );
    }
}

/// The cold-cache amplifier. Warm, the API sends 10 % of 1 800 calls/s to a 300/s database
/// (60 %): the fixed fleet rides the spike out. Each cold instance sends all of its share to
/// the database, so k cold instances of n add about (k/n) × 0.9 × load: the first scale-out
/// (20 → ~28) already pushes the database past 300/s, its queue passes the 200 ms timeout, the
/// API's servers wait and look busy, and the autoscaler runs to its maximum (80). Warm instances
/// make the same first steps harmless, and the fleet stops well below 80.
#[test]
#[ignore = "4 runs × 5 seeds of 600 s; release suite"]
fn an_autoscaler_with_cold_instances_turns_a_spike_into_a_collapse() {
    let sc = load("autoscaler-cold-cache.toml");
    for seed in SEEDS {
        let reproduce =
            format!("reproduce: metastable run patterns/autoscaler-cold-cache.toml --seed {seed}");
        let cold = run(&sc, "baseline", seed);
        let fixed = run(&sc, "fixed-fleet", seed);
        let warm = run(&sc, "warm-instances", seed);
        let (c, f, w) = (
            summary(&cold, "users"),
            summary(&fixed, "users"),
            summary(&warm, "users"),
        );
        let ctx = format!(
            "seed {seed}: success cold {:.3} fixed {:.3} warm {:.3}; {reproduce}",
            success(&c),
            success(&f),
            success(&w)
        );
        assert!(success(&c) < 0.5, "{ctx}");
        assert!(success(&f) > 0.999, "{ctx}");
        assert!(success(&w) > 0.999, "{ctx}");
        assert_eq!(summary(&cold, "api").servers_max, Some(80.0), "{ctx}");
        assert!(
            summary(&warm, "api").servers_max.unwrap_or(80.0) < 80.0,
            "{ctx}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Bad input: exit 2, FILE:LINE:COL, the field
// ---------------------------------------------------------------------------------------------

const BASE: &str = r#"[scenario]
name = "t"
description = "elastic bad-input base"
duration_s = 10.0
window_ms = 1000.0
seed = 7

[[clients]]
name = "users"
target = "api"
rate_per_s = 50.0
timeout_ms = 100.0

[[services]]
name = "api"
servers = 2
service_time = { dist = "exponential", mean_ms = 10.0 }
"#;

/// Checks `text` (a scenario) with the binary: exit 2, one line naming the file, `line` and
/// `field`.
fn rejected(test: &str, text: &str, line: usize, field: &str) {
    let dir =
        std::env::temp_dir().join(format!("metastable-elastic-{test}-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("s.toml");
    std::fs::write(&file, text).expect("write");
    let out = Command::new(env!("CARGO_BIN_EXE_metastable"))
        .args(["check", file.to_str().expect("utf-8 path")])
        .output()
        .expect("running metastable");
    let stderr = String::from_utf8_lossy(&out.stderr);
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2), "{test}: {stderr}");
    let want = format!("s.toml:{line}:");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains(&want) && l.contains(field)),
        "{test}: expected {want} … {field} in {stderr}"
    );
    assert!(!stderr.contains("panicked"), "{test}: {stderr}");
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .map(|i| i + 1)
        .unwrap_or_else(|| panic!("{needle:?} not in the scenario"))
}

#[test]
fn bad_hedge_fields_are_named() {
    let t = BASE.replace(
        "timeout_ms = 100.0\n",
        "timeout_ms = 100.0\nhedge = { delay_ms = 10.0, percentile = 100.0 }\n",
    );
    rejected(
        "percentile",
        &t,
        line_of(&t, "hedge ="),
        "clients[0].hedge.percentile",
    );
    let t = BASE.replace(
        "timeout_ms = 100.0\n",
        "timeout_ms = 100.0\nhedge = { delay_ms = -1.0 }\n",
    );
    rejected(
        "delay",
        &t,
        line_of(&t, "hedge ="),
        "clients[0].hedge.delay_ms",
    );
    let t = BASE.replace(
        "timeout_ms = 100.0\n",
        "timeout_ms = 100.0\nhedge = { delay_ms = 5.0, budget_percent = 0.0 }\n",
    );
    rejected(
        "budget",
        &t,
        line_of(&t, "hedge ="),
        "clients[0].hedge.budget_percent",
    );
    let t = BASE
        .replace(
            "timeout_ms = 100.0\n",
            "timeout_ms = 100.0\nhedge = { delay_ms = 5.0 }\n",
        )
        .replace("servers = 2\n", "servers = 2\nqueue_abandonment = true\n");
    rejected(
        "abandonment",
        &t,
        line_of(&t, "hedge ="),
        "clients[0].hedge",
    );
}

#[test]
fn bad_autoscaler_fields_are_named() {
    let scaler = r#"
[[autoscaler]]
name = "asg"
service = "api"
signal = "utilisation"
target = 0.6
interval_s = 10.0
min = 2
max = 10
provisioning = { dist = "constant", value_ms = 1000.0 }
"#;
    let ok = format!("{BASE}{scaler}");
    let t = ok.replace("service = \"api\"", "service = \"nope\"");
    rejected(
        "service",
        &t,
        line_of(&t, "\"nope\""),
        "autoscaler[0].service",
    );
    let t = ok.replace("min = 2", "min = 3");
    rejected("min", &t, line_of(&t, "min = 3"), "autoscaler[0].min");
    let t = ok.replace("target = 0.6", "target = 1.5");
    rejected(
        "target",
        &t,
        line_of(&t, "target = 1.5"),
        "autoscaler[0].target",
    );
    let t = ok.replace("signal = \"utilisation\"", "signal = \"cpu\"");
    rejected("signal", &t, line_of(&t, "\"cpu\""), "autoscaler");
    let t = format!("{ok}cold_start = {{ factor = 2.0, cache_hit = 0.5, warmup_s = 10.0 }}\n");
    rejected(
        "cache_hit",
        &t,
        line_of(&t, "cold_start"),
        "autoscaler[0].cold_start.cache_hit",
    );
    let t = format!("{ok}control_plane = \"ghost\"\n");
    rejected(
        "control_plane",
        &t,
        line_of(&t, "\"ghost\""),
        "autoscaler[0].control_plane",
    );
}
