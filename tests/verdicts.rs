//! Verdicts from the dynamics and the sustaining loop (README, "Recovery and verdicts").
//!
//! Boundary cases in both directions, each over several seeds: the HotOS 2021 §2.1 retry
//! system after a 10 s partition drains slowly below C/2 = 150 QPS (at 140 QPS the backlog
//! shrinks at ≈ 300 − 2 × 140 = 20/s) and grows slowly above it (at 155 QPS it grows at
//! ≈ 2 × 155 − 300 = 10/s). Cut short, the first is `recovering` (and recovers when run on),
//! the second is `metastable`; cut shorter than the assessment needs, both are `undetermined`.
//! Then every loop rule fires on its textbook case and stays silent on the same system's healthy
//! (pre-trigger) windows. Over 40 seeds the first is `recovering` on 39 and `undetermined` on 1
//! (seed 26), the second `metastable` on 40 (README, "Recovery and verdicts"); 1–6 run here.

use metastable::analysis::Verdict;
use metastable::analysis::loops::Loops;

fn hotos(rate: f64, duration_s: f64) -> metastable::Scenario {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/hotos-retry.toml");
    let text = std::fs::read_to_string(path).expect("shipped scenario");
    let text = text
        .replace("rate_per_s = 280.0", &format!("rate_per_s = {rate:?}"))
        .replace(
            "duration_s = 300.0",
            &format!("duration_s = {duration_s:?}"),
        );
    metastable::parse(&text, "hotos-retry.toml (edited)").expect("valid")
}

fn reproduce(rate: f64, duration_s: f64, seed: u64) -> String {
    format!(
        "reproduce: set rate_per_s = {rate} and duration_s = {duration_s} in scenarios/hotos-retry.toml, \
         then metastable run FILE --seed {seed}"
    )
}

#[test]
fn a_slow_drain_cut_short_is_recovering_and_recovers_when_run_on() {
    // Fluid estimate of the drain after the partition (see tests/scenarios.rs): ≈ 125 s.
    let fluid_s = (2.0 * 140.0 * 10.0 - 300.0) / (300.0 - 2.0 * 140.0);
    let short = hotos(140.0, 150.0);
    let long = hotos(140.0, 400.0);
    for seed in 1..=6u64 {
        let a = metastable::run(&short, seed).analysis();
        let ctx = format!(
            "seed {seed}: verdict {} ({}) {}",
            a.verdict.as_str(),
            a.verdict_reason,
            reproduce(140.0, 150.0, seed)
        );
        assert_eq!(a.verdict, Verdict::Recovering, "{ctx}");
        let (est, lo, hi) = a.projected_recovery_s.expect("a projection");
        assert!(lo <= est && hi.is_none_or(|h| h >= est), "{ctx}");
        // The projection is to the backlog's pre-trigger level, which goodput needs less than
        // (it recovers once the queue is under one timeout's worth of work): between half and
        // twice the fluid estimate.
        assert!(
            est >= 0.5 * fluid_s && est <= 2.0 * fluid_s,
            "{ctx}: estimate {est:.0} s"
        );
        let b = metastable::run(&long, seed).analysis();
        assert_eq!(
            b.verdict,
            Verdict::Recovered,
            "{ctx}; run on to 400 s: {} ({})",
            b.verdict.as_str(),
            b.verdict_reason
        );
    }
}

#[test]
fn a_slow_growth_is_metastable_with_a_growing_backlog() {
    let sc = hotos(155.0, 300.0);
    for seed in 1..=6u64 {
        let r = metastable::run(&sc, seed);
        let a = r.analysis();
        let ctx = format!(
            "seed {seed}: verdict {} ({}) {}",
            a.verdict.as_str(),
            a.verdict_reason,
            reproduce(155.0, 300.0, seed)
        );
        assert_eq!(a.verdict, Verdict::Metastable, "{ctx}");
        let backlog = a
            .trends
            .iter()
            .find(|t| t.what == "backlog")
            .expect("the backlog is the sustaining state");
        // Fluid growth 2 λ − C = 10/s; the interval must exclude draining.
        assert!(backlog.drain_hi < 0.0, "{ctx}");
        assert!(
            -backlog.drain_per_s > 2.0 && -backlog.drain_per_s < 40.0,
            "{ctx}: growth {:.1}/s",
            -backlog.drain_per_s
        );
        assert_eq!(r.loops(&a).label(), "retry amplification", "{ctx}");
    }
}

#[test]
fn too_short_a_run_is_undetermined_and_a_sweep_can_extend_it() {
    for (rate, seed) in [(140.0, 1u64), (155.0, 2)] {
        let sc = hotos(rate, 75.0);
        let a = metastable::run(&sc, seed).analysis();
        assert_eq!(
            a.verdict,
            Verdict::Undetermined,
            "seed {seed}: {} ({}) {}",
            a.verdict.as_str(),
            a.verdict_reason,
            reproduce(rate, 75.0, seed)
        );
        assert!(
            a.verdict_reason.contains("too short"),
            "{}",
            a.verdict_reason
        );
    }
    // 75 s → 150 s → 300 s: the slow drain gets a verdict on the way.
    let r = metastable::sweep::plan::run_extending(&hotos(140.0, 75.0), 1, 2);
    let v = r.analysis().verdict;
    assert!(
        matches!(v, Verdict::Recovering | Verdict::Recovered),
        "seed 1: extended run {} ({} s)",
        v.as_str(),
        r.stats.end.as_secs_f64()
    );
    // No extension asked: the run is left as it is.
    let r = metastable::sweep::plan::run_extending(&hotos(140.0, 75.0), 1, 0);
    assert_eq!(r.analysis().verdict, Verdict::Undetermined);
}

// ---------------------------------------------------------------------------------------------
// Loop rules: each fires on its textbook case and is silent on the healthy windows.

fn scenario(name: &str) -> metastable::Scenario {
    let path = format!("{}/scenarios/{name}.toml", env!("CARGO_MANIFEST_DIR"));
    metastable::load(std::path::Path::new(&path)).expect("shipped scenario")
}

fn variant(name: &str, v: &str) -> metastable::Scenario {
    scenario(name)
        .variant_named(v)
        .unwrap_or_else(|| panic!("{name} has variant {v}"))
        .clone()
}

/// Runs `sc` with `seed`, checks that `rule` fires (and is the run's loop if `primary`), and
/// that no rule fires on the run's pre-trigger windows.
fn check_rule(sc: &metastable::Scenario, seed: u64, rule: &str, primary: bool) -> Loops {
    let r = metastable::run(sc, seed);
    let a = r.analysis();
    let loops = r.loops(&a);
    let ctx = format!(
        "{} · {} · seed {seed}: verdict {}, loops {:?} (reproduce: metastable run {} --variant {} --seed {seed})",
        sc.name,
        sc.variant_name(),
        a.verdict.as_str(),
        loops.firing.iter().map(|f| f.name).collect::<Vec<_>>(),
        sc.file,
        sc.variant_name()
    );
    assert!(loops.firing.iter().any(|f| f.name == rule), "{ctx}");
    if primary {
        assert_eq!(loops.label(), rule, "{ctx}");
    }
    let evidence = &loops
        .firing
        .iter()
        .find(|f| f.name == rule)
        .unwrap()
        .evidence;
    assert!(
        evidence.starts_with(rule) && evidence.chars().any(|c| c.is_ascii_digit()),
        "{ctx}: {evidence}"
    );
    let healthy = r.loops_over_baseline();
    assert!(
        healthy.firing.is_empty(),
        "{ctx}: on the healthy windows {:?}",
        healthy.firing
    );
    loops
}

#[test]
fn retry_amplification_fires_on_the_hotos_retry_system() {
    for seed in 1..=3 {
        check_rule(&scenario("hotos-retry"), seed, "retry amplification", true);
    }
}

#[test]
fn timeout_waste_fires_without_retries() {
    for seed in 1..=3 {
        let l = check_rule(
            &variant("retry-storm", "no-retries"),
            seed,
            "timeout waste",
            true,
        );
        assert!(l.firing.iter().all(|f| f.name != "retry amplification"));
    }
}

#[test]
fn cold_cache_fires_on_the_hotos_cache_system() {
    for seed in 1..=3 {
        let l = check_rule(&scenario("hotos-2021-cache"), seed, "cold cache", true);
        assert!(l.firing.iter().all(|f| f.name != "retry amplification"));
    }
}

#[test]
fn restart_herd_fires_on_the_crash_loop_herd() {
    check_rule(&scenario("crash-loop-herd"), 1, "restart herd", true);
}

#[test]
fn lease_requeue_fires_on_the_dwfm_collapse_without_operators() {
    check_rule(
        &variant("aws-dwfm-lease-collapse", "no-operator"),
        1,
        "lease re-queue",
        true,
    );
}

#[test]
fn health_check_flapping_fires_on_the_nlb_scenario() {
    check_rule(
        &scenario("nlb-health-flapping"),
        1,
        "health-check flapping",
        true,
    );
}

#[test]
fn overload_crash_cascade_fires_on_all_at_once_readmission() {
    check_rule(
        &variant("azure-afd-2025-10-29", "all-at-once"),
        1,
        "overload crash cascade",
        true,
    );
}

#[test]
fn bad_configuration_fires_while_bad_files_are_still_generated() {
    // The published times, but the rollback (stop + good file) taken out while its time still
    // ends the trigger: the bad files keep coming after the trigger "ended".
    let mut sc = scenario("cloudflare-2025-11-18")
        .with_operator_mode(metastable::scenario::OperatorMode::Historical);
    sc.world.trigger_probe = None;
    sc.world.actions.retain(|a| {
        !matches!(
            a.action,
            models::Action::StopGeneration { .. } | models::Action::PushGood { .. }
        )
    });
    assert!(
        !sc.trigger_removals.is_empty(),
        "the rollback's time still ends the trigger"
    );
    check_rule(&sc, 1, "bad configuration", true);
}

#[test]
fn negative_dns_cache_fires_on_the_dns_tail() {
    check_rule(
        &scenario("dynamodb-dns-tail"),
        1,
        "negative DNS cache",
        true,
    );
}

#[test]
fn empty_dns_record_fires_while_the_record_stays_empty() {
    // The published times, but the manual DNS repair taken out while its time still ends the
    // trigger: the race-emptied records are never restored.
    let mut sc = scenario("aws-2025-10-20")
        .with_operator_mode(metastable::scenario::OperatorMode::Historical);
    sc.world.trigger_probe = None;
    sc.world
        .actions
        .retain(|a| !matches!(a.action, models::Action::DnsAutomationRestore { .. }));
    assert!(
        !sc.trigger_removals.is_empty(),
        "the repair's time still ends the trigger"
    );
    check_rule(&sc, 7, "empty DNS record", false);
}

#[test]
fn a_variant_that_breaks_the_loop_says_by_which_signal() {
    let base = scenario("retry-storm");
    let rb = metastable::run(&base, 1);
    let lb = rb.loops(&rb.analysis());
    let rv = metastable::run(&variant("retry-storm", "no-retries"), 1);
    let lv = rv.loops(&rv.analysis());
    let why = metastable::analysis::loops::broken_by(&lb, &lv).expect("no-retries breaks it");
    assert!(
        why.starts_with("broke retry amplification") && why.contains("attempts per first try"),
        "seed 1: {why}"
    );
    // The same loop is not "broken" by a variant that keeps it.
    let rn = metastable::run(&variant("retry-storm", "no-jitter"), 1);
    let ln = rn.loops(&rn.analysis());
    assert_eq!(
        metastable::analysis::loops::broken_by(&lb, &ln),
        None,
        "seed 1"
    );
}
