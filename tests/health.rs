//! Load balancers with health checks (`models::infra::load_balancer`, `[[load_balancer]]`): no false
//! removals with an idle checker (a derived bound), the flap rate of pending targets against
//! its Markov-chain value and the checker's load as the sum of its work, the AWS 2025-10-20
//! NLB shape of `scenarios/nlb-health-flapping.toml` (failover removes healthy capacity,
//! failover_off ends the errors, the velocity limit bounds the removal), the time capacity
//! takes to return after failover is disabled, determinism, and bad input.

use std::path::PathBuf;
use std::process::Command;

use metastable::analysis::Verdict;
use metastable::run::metrics::Values;

const BIN: &str = env!("CARGO_BIN_EXE_metastable");
const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");
const SCENARIO: &str = "nlb-health-flapping.toml";

fn load(name: &str) -> metastable::Scenario {
    let path = PathBuf::from(format!("{MANIFEST_DIR}/scenarios/{name}"));
    metastable::load(&path).unwrap_or_else(|e| panic!("{name}: {e}"))
}

fn variant<'a>(sc: &'a metastable::Scenario, name: &str) -> &'a metastable::Scenario {
    sc.variant_named(name)
        .unwrap_or_else(|| panic!("no variant {name}"))
}

fn parse(text: &str) -> metastable::Scenario {
    metastable::parse(text, "inline.toml").unwrap_or_else(|e| panic!("{e}"))
}

/// `(window start s, values)` of component `name` for every window.
fn series(r: &metastable::RunReport, name: &str) -> Vec<(f64, Values)> {
    r.series_of(name)
        .unwrap_or_else(|| panic!("no component {name}"))
}

/// Client successes ÷ first tries over windows starting in `[from, to)`.
fn success_ratio(users: &[(f64, Values)], from: f64, to: f64) -> f64 {
    let (s, f) = users
        .iter()
        .filter(|(t, _)| *t >= from && *t < to)
        .fold((0u64, 0u64), |(s, f), (_, v)| {
            (s + v.successes.unwrap_or(0), f + v.first_tries.unwrap_or(0))
        });
    s as f64 / f.max(1) as f64
}

fn sum(lb: &[(f64, Values)], from: f64, to: f64, pick: fn(&Values) -> Option<u64>) -> u64 {
    lb.iter()
        .filter(|(t, _)| *t >= from && *t < to)
        .map(|(_, v)| pick(v).unwrap_or(0))
        .sum()
}

fn mean(lb: &[(f64, Values)], from: f64, to: f64, pick: fn(&Values) -> Option<f64>) -> f64 {
    let xs: Vec<f64> = lb
        .iter()
        .filter(|(t, _)| *t >= from && *t < to)
        .filter_map(|(_, v)| pick(v))
        .collect();
    xs.iter().sum::<f64>() / xs.len().max(1) as f64
}

/// A load balancer over 30 targets in 3 zones with client load, for the inline tests;
/// `LB_EXTRA` and `TAIL` are replaced.
const INLINE: &str = r#"[scenario]
name = "lb-inline"
duration_s = 3600.0
window_ms = 1000.0

[[clients]]
name = "users"
target = "api"
rate_per_s = 10.0
timeout_ms = 10000.0

[[services]]
name = "api"
servers = 30
queue_capacity = 60
service_time = { dist = "exponential", mean_ms = 1000.0 }

[[load_balancer]]
name = "nlb"
service = "api"
zones = 3
targets = 30
interval_s = 10.0
healthy_threshold = 3
unhealthy_threshold = 2
LB_EXTRA

TAIL
"#;

fn inline(lb_extra: &str, tail: &str) -> String {
    INLINE.replace("LB_EXTRA", lb_extra).replace("TAIL", tail)
}

// ---------------------------------------------------------------------------------------------
// No false removals with an idle checker
// ---------------------------------------------------------------------------------------------

/// 30 healthy targets, 30 checker workers (with one outstanding check per target a check never
/// waits), exponential check times of mean 100 ms, timeout 1 s. A check is late exactly when
/// its own time exceeds the timeout: p = e^(−10) ≈ 4.5e-5, so over N = 30 × 360 = 10 800
/// checks the late count is ≈ Poisson(N·p = 0.49), P(≥ 7) < 1e-6. A removal needs 2
/// consecutive late checks of one target: P(any removal) ≤ N·p² ≈ 2.2e-5 per run.
#[test]
fn idle_checker_and_healthy_targets_never_remove_capacity() {
    let text = inline(
        r#"timeout_s = 1.0
checker_workers = 30
check_time = { dist = "exponential", mean_ms = 100.0 }
flap_cost = 20.0
failover_cost = 100.0
failover_below = 0.9"#,
        "",
    );
    let sc = parse(&text);
    for seed in 1..=3u64 {
        let r = metastable::run(&sc, seed);
        let v = r.summary_of("nlb").expect("nlb row");
        let ctx = format!("seed {seed}: {v:?}");
        assert_eq!(v.checks.map(|c| c > 10_000), Some(true), "{ctx}");
        assert!(v.checks_late.unwrap_or(99) <= 6, "{ctx}");
        assert_eq!(v.flaps, Some(0), "{ctx}");
        assert_eq!(v.failovers, Some(0), "{ctx}");
        assert_eq!(v.targets_in_service_mean, Some(30.0), "{ctx}");
        assert_eq!(v.zones_failed_max, Some(0.0), "{ctx}");
        // Clients: capacity never drops, so nothing is rejected; only calls whose own service
        // time exceeds the 10 s timeout fail: 36 000 × e^(−10) ≈ 1.6 expected.
        let users = r.summary_of("users").expect("users row");
        assert_eq!(users.rejected, Some(0), "seed {seed}: {users:?}");
        assert!(users.give_ups.unwrap_or(99) <= 8, "seed {seed}: {users:?}");
    }
}

// ---------------------------------------------------------------------------------------------
// Flapping of pending targets and the checker's load
// ---------------------------------------------------------------------------------------------

/// Long-run flaps per check of a target whose checks fail independently with probability p:
/// two state changes per cycle of (checks to h consecutive passes) + (checks to u consecutive
/// failures), E[run of n successes at probability s] = (1 − sⁿ) / ((1 − s) sⁿ).
fn flaps_per_check(p: f64, h: i32, u: i32) -> f64 {
    let q = 1.0 - p;
    let up = (1.0 - q.powi(h)) / (p * q.powi(h));
    let down = (1.0 - p.powi(u)) / (q * p.powi(u));
    2.0 / (up + down)
}

/// 30 healthy targets plus 30 launched at t = 0 behind a backlog that never drains (pending
/// for the whole hour); an ample checker (64 workers, constant 50 ms checks, 5 s timeout
/// < 10 s interval, so no check is late or skipped). The pending targets' flap count matches
/// the Markov chain (±12 %, the count's standard deviation is ≈ 4 %), the healthy ones never
/// flap, and the checker's busy time is the sum of its work: every check 50 ms, every
/// unanswered probe the 5 s timeout, every flap `flap_cost` × 50 ms.
#[test]
fn pending_targets_flap_and_load_the_checker_with_their_flap_work() {
    for (p, flap_cost) in [(0.5, 20.0), (0.2, 20.0), (0.5, 0.0)] {
        let text = inline(
            &format!(
                r#"timeout_s = 5.0
checker_workers = 64
check_time = {{ dist = "constant", value_ms = 50.0 }}
flap_cost = {flap_cost}
failover = false
pending_fail_prob = {p}
propagation_rate_per_s = 0.001"#
            ),
            r#"[[triggers]]
from_s = 0.0
to_s = 1.0
action = "netmgr_backlog"
target = "nlb"
value = 1000

[[triggers]]
from_s = 0.0
to_s = 1.0
action = "launch_targets"
target = "nlb"
value = 30"#,
        );
        let sc = parse(&text);
        for seed in 1..=2u64 {
            let r = metastable::run(&sc, seed);
            let v = r.summary_of("nlb").expect("nlb row");
            let ctx = format!("p {p} flap_cost {flap_cost} seed {seed}: {v:?}");
            let checks = v.checks.unwrap_or(0) as f64;
            let failed = v.checks_failed.unwrap_or(0) as f64;
            let flaps = v.flaps.unwrap_or(0) as f64;
            assert_eq!(v.checks_late, Some(0), "{ctx}");
            assert_eq!(v.targets_pending_mean, Some(30.0), "{ctx}");
            // Half of the checks are of pending targets; failures are Binomial(checks/2, p).
            let pending_checks = checks / 2.0;
            assert!(
                (failed / pending_checks - p).abs() < 0.03,
                "failure fraction {} vs p: {ctx}",
                failed / pending_checks
            );
            let want = flaps_per_check(p, 3, 2) * pending_checks;
            assert!(
                (flaps / want - 1.0).abs() < 0.12,
                "flaps {flaps} vs Markov chain {want:.0}: {ctx}"
            );
            // The checker's busy time, worker-seconds: its work, job by job.
            let work = checks * 0.05 + failed * (5.0 - 0.05) + flaps * flap_cost * 0.05;
            let busy = v.busy_mean.unwrap_or(0.0) * 3600.0;
            assert!(
                (busy / work - 1.0).abs() < 0.01,
                "busy {busy:.0} worker-s vs work {work:.0}: {ctx}"
            );
        }
    }
}

// ---------------------------------------------------------------------------------------------
// The AWS 2025-10-20 NLB shape
// ---------------------------------------------------------------------------------------------

const TRIGGER_S: f64 = 600.0;
const FAILOVER_OFF_S: f64 = 15_480.0;
/// 18 450 backlog items + 30 targets at 1 item/s after the trigger (10:36 PDT).
const DRAINED_S: f64 = TRIGGER_S + 18_480.0;
const TARGETS: f64 = 90.0;

/// With failover on and no velocity limit, zones are failed away although no target is
/// actually unhealthy (the model has none: every failed check is an unanswered probe to a
/// pending target or a late result), clients fail; failover_off ends the errors at once;
/// the recovery is the operator's action.
#[test]
fn failover_removes_healthy_capacity_until_the_operator_disables_it() {
    let sc = load(SCENARIO);
    for seed in 1..=3u64 {
        let r = metastable::run(&sc, seed);
        let users = series(&r, "users");
        let lb = series(&r, "nlb");
        let a = r.analysis();
        let ctx = format!(
            "seed {seed}: verdict {} recovery {:?} (reproduce: metastable run scenarios/{SCENARIO} --seed {seed} --variant baseline)",
            a.verdict.as_str(),
            a.recovery_s
        );
        let phase = (TRIGGER_S + 900.0, FAILOVER_OFF_S);
        let before = success_ratio(&users, 120.0, TRIGGER_S);
        let during = success_ratio(&users, phase.0, phase.1);
        let after = success_ratio(&users, FAILOVER_OFF_S, DRAINED_S);
        assert!(before > 0.999, "before {before}: {ctx}");
        assert!(during < 0.5, "success while failover is on {during}: {ctx}");
        assert!(after > 0.995, "success after failover_off {after}: {ctx}");
        // The capacity went because zones were failed away, and came back (oscillation).
        let zones = mean(&lb, phase.0, phase.1, |v| v.zones_failed_mean);
        assert!(zones > 1.5, "mean zones failed {zones}: {ctx}");
        let in_service = mean(&lb, phase.0, phase.1, |v| v.targets_in_service_mean);
        assert!(in_service < 0.5 * TARGETS, "in service {in_service}: {ctx}");
        let failovers = sum(&lb, phase.0, phase.1, |v| v.failovers);
        assert!(failovers >= 10, "zone failovers {failovers}: {ctx}");
        // Healthy, reachable targets failed their checks because the checker was late.
        let late = sum(&lb, phase.0, phase.1, |v| v.checks_late);
        assert!(late > 1_000, "late checks {late}: {ctx}");
        // Once the backlog has drained, the checker is idle again: no late checks at all.
        let late_after = sum(&lb, DRAINED_S + 300.0, f64::INFINITY, |v| v.checks_late);
        assert_eq!(late_after, 0, "{ctx}");
        assert_eq!(a.verdict, Verdict::Recovered, "{ctx}");
        let rec = a.recovery_s.unwrap_or(f64::NAN);
        let op = FAILOVER_OFF_S - (TRIGGER_S + 1.0);
        assert!(
            (rec - op).abs() <= 120.0,
            "recovery {rec} s vs failover_off at {op} s after the trigger: {ctx}"
        );
    }
}

/// Without the operator, the errors last until the propagation backlog has drained (10:36),
/// not forever: the flapping loop is fed by the pending targets.
#[test]
fn without_the_operator_errors_last_until_the_backlog_drains() {
    let sc = load(SCENARIO);
    let sc = variant(&sc, "no-operator");
    for seed in 1..=2u64 {
        let r = metastable::run(sc, seed);
        let users = series(&r, "users");
        let a = r.analysis();
        let ctx = format!(
            "seed {seed}: verdict {} recovery {:?} (reproduce: metastable run scenarios/{SCENARIO} --seed {seed} --variant no-operator)",
            a.verdict.as_str(),
            a.recovery_s
        );
        let late = success_ratio(&users, FAILOVER_OFF_S, DRAINED_S - 600.0);
        assert!(late < 0.5, "success before the drain {late}: {ctx}");
        assert_eq!(a.verdict, Verdict::Recovered, "{ctx}");
        let rec = a.recovery_s.unwrap_or(f64::NAN) + TRIGGER_S + 1.0;
        assert!(
            (DRAINED_S - 600.0..=DRAINED_S + 600.0).contains(&rec),
            "recovered at t = {rec} s, backlog drained at {DRAINED_S} s: {ctx}"
        );
    }
}

/// AWS remediation 2: with a velocity limit of 34 % failover never holds more than one zone
/// (30 of 90 targets) out, the other zones fail open, and clients see no errors. An ample
/// checker has no late checks and never fails a zone. Without the flap and failover work the
/// same slow checker causes only small errors: the loop through the checker's load is the
/// amplifier.
#[test]
fn velocity_limit_ample_checker_and_cheap_flaps_keep_errors_small() {
    let sc = load(SCENARIO);
    for seed in 1..=2u64 {
        let repro =
            |v: &str| format!("metastable run scenarios/{SCENARIO} --seed {seed} --variant {v}");

        let r = metastable::run(variant(&sc, "velocity-limit"), seed);
        let lb = series(&r, "nlb");
        let users = series(&r, "users");
        let ctx = format!("seed {seed} ({})", repro("velocity-limit"));
        let most = lb
            .iter()
            .filter_map(|(_, v)| v.failover_removed_max)
            .fold(0.0, f64::max);
        assert!(most > 0.0, "failover never acted: {ctx}");
        assert!(most <= 0.34 * TARGETS, "removed {most} targets: {ctx}");
        let ok = success_ratio(&users, TRIGGER_S, DRAINED_S);
        assert!(ok > 0.995, "success {ok}: {ctx}");
        assert_eq!(r.analysis().verdict, Verdict::Stable, "{ctx}");

        let r = metastable::run(variant(&sc, "ample-checker"), seed);
        let v = r.summary_of("nlb").expect("nlb row");
        let ctx = format!("seed {seed} ({}): {v:?}", repro("ample-checker"));
        assert_eq!(v.checks_late, Some(0), "{ctx}");
        assert_eq!(v.failovers, Some(0), "{ctx}");
        assert!(
            v.flaps.unwrap_or(0) > 100,
            "pending targets still flap: {ctx}"
        );
        assert_eq!(r.analysis().verdict, Verdict::Stable, "{ctx}");

        let r = metastable::run(variant(&sc, "cheap-flaps"), seed);
        let users = series(&r, "users");
        let ok = success_ratio(&users, TRIGGER_S + 900.0, FAILOVER_OFF_S);
        let ctx = format!("seed {seed} ({})", repro("cheap-flaps"));
        assert!(ok > 0.8, "success without flap work {ok}: {ctx}");
    }
}

// ---------------------------------------------------------------------------------------------
// Capacity returns after failover is disabled
// ---------------------------------------------------------------------------------------------

/// One checker worker; 30 launched targets whose probes always go unanswered each hold it for
/// the 5 s timeout: the old targets' checks come back late, they go out, and their zones are
/// failed away. At t_op = 600 s the network is fixed (propagation at 10⁶/s: the backlog of
/// 10⁴ items is gone in 10 ms) and failover is disabled (no fail-open: in service = healthy).
/// Bound: the probe in progress ends ≤ τ = 5 s later, the ≤ 60 queued checks take ≤ 3 s,
/// then every target passes its next h = 3 checks, one per 10 s interval: all 60 targets are
/// in service by t_op + 5 + 3 + 30 s (+1 s window rounding); a target that was out needs h
/// passes, so not before t_op + (h − 1) × interval = t_op + 20 s.
#[test]
fn disabling_failover_restores_capacity_within_h_check_intervals() {
    let text = inline(
        r#"timeout_s = 5.0
checker_workers = 1
check_time = { dist = "constant", value_ms = 50.0 }
flap_cost = 0.0
failover_cost = 0.0
pending_fail_prob = 1.0
failover_below = 0.6
failover_hold_s = 60.0
fail_open = false"#,
        r#"[[triggers]]
from_s = 100.0
to_s = 101.0
action = "netmgr_backlog"
target = "nlb"
value = 10000

[[triggers]]
from_s = 100.0
to_s = 101.0
action = "launch_targets"
target = "nlb"
value = 30

[[actions]]
at_s = 600.0
action = "propagation_rate"
target = "nlb"
value = 1000000

[[actions]]
at_s = 600.0
action = "failover_off"
target = "nlb""#,
    );
    let sc = parse(&text);
    let t_op = 600.0;
    for seed in 1..=3u64 {
        let r = metastable::run(&sc, seed);
        let lb = series(&r, "nlb");
        let ctx = format!("seed {seed}");
        let before = mean(&lb, 400.0, t_op, |v| v.targets_in_service_mean);
        let zones = mean(&lb, 400.0, t_op, |v| v.zones_failed_mean);
        assert!(before < 5.0, "in service before t_op {before}: {ctx}");
        assert!(zones > 2.5, "zones failed before t_op {zones}: {ctx}");
        // First window from which all 60 targets stay in service.
        let full_from = lb
            .iter()
            .rposition(|(_, v)| v.targets_in_service_mean != Some(60.0))
            .map(|i| lb[i].0 + 1.0)
            .unwrap_or(0.0);
        let took = full_from - t_op;
        assert!(
            (20.0..=39.0).contains(&took),
            "all targets in service {took} s after failover_off (bound 20..=39 s): {ctx}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Determinism, columns
// ---------------------------------------------------------------------------------------------

#[test]
fn same_seed_same_bytes_and_load_balancer_columns() {
    let sc = load(SCENARIO);
    let sc = variant(&sc, "velocity-limit");
    let a = metastable::run(sc, 5).windows_csv().expect("csv");
    let b = metastable::run(sc, 5).windows_csv().expect("csv");
    assert!(a == b, "seed 5: same seed gave different bytes");
    let c = metastable::run(sc, 6).windows_csv().expect("csv");
    assert!(a != c, "seeds 5 and 6 gave the same bytes");
    let text = String::from_utf8(a).expect("utf-8");
    let header = text.lines().next().unwrap_or_default();
    for col in [
        "checks_late",
        "flaps",
        "failovers",
        "targets_in_service_mean",
        "zones_failed_max",
        "failover_removed_max",
        "netmgr_backlog_mean",
    ] {
        assert!(header.contains(col), "seed 5: no column {col} in {header}");
    }
    assert!(
        text.lines().any(|l| l.contains(",nlb,load_balancer,")),
        "seed 5: no load_balancer rows"
    );
}

// ---------------------------------------------------------------------------------------------
// Bad input
// ---------------------------------------------------------------------------------------------

/// The inline scenario with `from` replaced by `to` must be rejected by the CLI (exit 2,
/// nothing written) with an error on the line containing `needle`, naming `field`.
fn bad(case: &str, from: &str, to: &str, needle: &str, field: &str, contains: &str) {
    let base = inline(
        r#"timeout_s = 5.0
check_time = { dist = "constant", value_ms = 50.0 }"#,
        r#"[[actions]]
at_s = 600.0
action = "failover_off"
target = "nlb""#,
    );
    assert_eq!(
        base.matches(from).count(),
        1,
        "{case}: {from:?} must occur once"
    );
    let text = base.replacen(from, to, 1);
    let dir = std::env::temp_dir().join(format!("metastable-health-{case}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("s.toml");
    std::fs::write(&file, &text).expect("write");
    let out = dir.join("out");
    let o = Command::new(BIN)
        .args(["run", file.to_str().unwrap_or_default(), "--out"])
        .arg(&out)
        .output()
        .expect("running metastable");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(
        o.status.code(),
        Some(2),
        "{case}: exit code; stderr:\n{stderr}"
    );
    assert!(!stderr.contains("panicked"), "{case}: panic:\n{stderr}");
    assert!(!out.exists(), "{case}: output written");
    let lines: Vec<usize> = text
        .lines()
        .enumerate()
        .filter(|(_, l)| l.contains(needle))
        .map(|(i, _)| i + 1)
        .collect();
    assert_eq!(lines.len(), 1, "{case}: {needle:?} must be on one line");
    let line = lines[0];
    let want = format!("s.toml:{line}:");
    let hit = stderr
        .lines()
        .find(|l| l.contains(&want) && l.contains(field))
        .unwrap_or_else(|| panic!("{case}: no error at {want} naming {field}:\n{stderr}"));
    assert!(hit.contains(contains), "{case}: {hit:?} lacks {contains:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn bad_load_balancer_input_names_file_line_and_field() {
    bad(
        "service",
        "service = \"api\"",
        "service = \"nope\"",
        "service = \"nope\"",
        "load_balancer[0].service",
        "no service named \"nope\"",
    );
    bad(
        "zones",
        "zones = 3",
        "zones = 0",
        "zones = 0",
        "load_balancer[0].zones",
        "1..=1000",
    );
    bad(
        "threshold",
        "healthy_threshold = 3",
        "healthy_threshold = -1",
        "healthy_threshold = -1",
        "load_balancer[0].healthy_threshold",
        "1..=100",
    );
    bad(
        "timeout",
        "timeout_s = 5.0",
        "timeout_s = -5.0",
        "timeout_s = -5.0",
        "load_balancer[0].timeout_s",
        "must be > 0",
    );
    bad(
        "prob",
        "interval_s = 10.0",
        "interval_s = 10.0\npending_fail_prob = 1.5",
        "pending_fail_prob = 1.5",
        "load_balancer[0].pending_fail_prob",
        "≤ 1",
    );
    bad(
        "velocity",
        "interval_s = 10.0",
        "interval_s = 10.0\nvelocity_limit = 0.0",
        "velocity_limit = 0.0",
        "load_balancer[0].velocity_limit",
        "must be > 0",
    );
    bad(
        "max-targets",
        "interval_s = 10.0",
        "interval_s = 10.0\nmax_targets = 5",
        "max_targets = 5",
        "load_balancer[0].max_targets",
        "30..=1000000",
    );
    bad(
        "duplicate-name",
        "name = \"nlb\"",
        "name = \"api\" # dup",
        "# dup",
        "load_balancer[0].name",
        "duplicate name",
    );
    bad(
        "unknown-lb",
        "target = \"nlb\"",
        "target = \"alb\"",
        "target = \"alb\"",
        "actions[0].target",
        "no load_balancer named \"alb\"",
    );
    bad(
        "value",
        "action = \"failover_off\"",
        "action = \"failover_off\"\nvalue = 3.0",
        "value = 3.0",
        "actions[0].value",
        "takes no value",
    );
    bad(
        "backlog-fraction",
        "action = \"failover_off\"",
        "action = \"netmgr_backlog\"\nvalue = 2.5",
        "value = 2.5",
        "actions[0].value",
        "whole number of items",
    );
    bad(
        "servers-action",
        "action = \"failover_off\"\ntarget = \"nlb\"",
        "action = \"servers\"\ntarget = \"api\" # srv\nvalue = 3.0",
        "# srv",
        "actions[0].target",
        "sets this service's servers",
    );
    bad(
        "unknown-field",
        "interval_s = 10.0",
        "interval_s = 10.0\nchecker_capacity = 3",
        "checker_capacity = 3",
        "load_balancer",
        "unknown field",
    );
}

#[test]
fn failover_switches_are_operator_actions_not_triggers() {
    let text = inline(
        r#"timeout_s = 5.0
check_time = { dist = "constant", value_ms = 50.0 }"#,
        r#"[[triggers]]
from_s = 10.0
to_s = 20.0
action = "failover_on"
target = "nlb""#,
    );
    match metastable::parse(&text, "t.toml") {
        Ok(_) => panic!("failover_on accepted as a trigger"),
        Err(e) => {
            let msg = e.to_string();
            assert!(
                msg.contains("triggers[0].action") && msg.contains("operator actions"),
                "{msg}"
            );
        }
    }
}

/// `launch_rate` as a trigger launches Poisson arrivals of targets during its window and
/// stops at its end; `max_targets` caps the fleet. Launched targets propagate at once here
/// (10⁶ items/s) and their probes always answer, so each is in service after h = 3 checks.
#[test]
fn launch_rate_trigger_adds_targets_until_its_end_and_max_targets_caps_them() {
    let tail = r#"[[triggers]]
from_s = 100.0
to_s = 300.0
action = "launch_rate"
target = "nlb"
value = 0.5"#;
    let lb = r#"timeout_s = 5.0
checker_workers = 4
check_time = { dist = "constant", value_ms = 50.0 }
propagation_rate_per_s = 1000000"#;
    for (max_targets, seeds) in [(None, 1..=3u64), (Some(60), 1..=2u64)] {
        let extra = match max_targets {
            Some(m) => format!("{lb}\nmax_targets = {m}"),
            None => lb.to_string(),
        };
        let sc = parse(&inline(&extra, tail));
        for seed in seeds {
            let r = metastable::run(&sc, seed);
            let s = series(&r, "nlb");
            let ctx = format!("max_targets {max_targets:?} seed {seed}");
            let at = |t: f64| {
                s.iter()
                    .find(|(start, _)| *start >= t)
                    .and_then(|(_, v)| v.targets_in_service_mean)
                    .unwrap_or(f64::NAN)
            };
            assert_eq!(at(99.0), 30.0, "{ctx}");
            let end = at(400.0);
            // Nothing launched after the trigger's end.
            assert_eq!(at(3000.0), end, "{ctx}");
            match max_targets {
                // Poisson(100): 30 + N within 4.5 σ.
                None => assert!((85.0..=175.0).contains(&end), "{end} targets: {ctx}"),
                // P(fewer than 30 launches out of Poisson(100)) < 1e-13.
                Some(m) => assert_eq!(end, m as f64, "{ctx}"),
            }
        }
    }
}
