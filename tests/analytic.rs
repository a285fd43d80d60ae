//! The analytic companion against the simulator (docs/analytic.md): fluid-model predictions
//! checked over several seeds, with tolerances from the maths stated at each check, and the
//! command's scope refusals.

use std::path::PathBuf;
use std::process::Command;

use metastable::analytic::{self, fluid, transient};
use metastable::scenario::{self, Scenario};

fn scenario(name: &str) -> Scenario {
    let p = PathBuf::from(format!("{}/scenarios/{name}", env!("CARGO_MANIFEST_DIR")));
    metastable::load(&p).expect("valid scenario")
}

/// `hotos-retry.toml` with overrides (the map's slowdown trigger, another load).
fn hotos_with(overrides: &[(&str, &str)]) -> Scenario {
    let p = format!("{}/scenarios/hotos-retry.toml", env!("CARGO_MANIFEST_DIR"));
    let text = std::fs::read_to_string(&p).expect("readable");
    let ov: Vec<scenario::overrides::Override> = overrides
        .iter()
        .map(|(k, v)| scenario::overrides::Override {
            path: k.to_string(),
            value: toml::from_str::<toml::Table>(&format!("v = {v}")).expect("toml")["v"].clone(),
            line: 0,
            column: 0,
            label: "test".to_string(),
        })
        .collect();
    scenario::parse_with(&text, &p, &ov).expect("valid overrides")
}

/// HotOS 2021 §2.1 at 280 QPS: the fluid model's collapsed state has every attempt late, two
/// attempts per call, and the backlog growing at 2λ − μ = 260/s. The simulated growth is the
/// queue's change over [150 s, 300 s] ÷ 150 s on 5 seeds. Its sd per seed: first tries are
/// Poisson (λ = 280/s) and each brings exactly one retry, so the arrivals' count has variance
/// 4λ·Δt; departures from 30 busy exponential servers are Poisson (μ = 300/s): sd =
/// √((4λ + μ)/Δt) ≈ 3.1/s, the mean of 5 has sd ≈ 1.4/s, and 4 sd (5.5/s) is the tolerance.
#[test]
fn fluid_collapsed_growth_matches_simulation_at_280_qps() {
    let sc = scenario("hotos-retry.toml");
    let a = analytic::analyze(&sc).expect("in scope");
    let c = a.equilibria.collapsed.as_ref().expect("collapsed state");
    let predicted = match c.backlog {
        fluid::Backlog::Growing { per_s } => per_s,
        other => panic!("expected a growing backlog, got {other:?}"),
    };
    assert!((predicted - 260.0).abs() < 1e-6, "{predicted}");
    let mut slopes = Vec::new();
    for seed in 1..=5u64 {
        let r = metastable::run(&sc, seed);
        let db = r
            .component_ids()
            .into_iter()
            .find(|c| c.name == "db")
            .expect("db");
        let q = |w: usize| r.window_values(&db, w).queue_len_end.unwrap_or(0.0);
        slopes.push((q(299) - q(149)) / 150.0);
    }
    let mean = slopes.iter().sum::<f64>() / slopes.len() as f64;
    eprintln!(
        "collapsed growth at 280 QPS: simulated {mean:.2}/s (seeds 1..=5: {slopes:.2?}), fluid {predicted:.2}/s"
    );
    assert!(
        (mean - predicted).abs() < 4.0 * ((4.0 * 280.0 + 300.0) / 150.0_f64).sqrt() / 5f64.sqrt(),
        "simulated backlog growth {mean:.2}/s (per seed {slopes:.2?}, seeds 1..=5) vs fluid {predicted:.2}/s \
         (reproduce: metastable run scenarios/hotos-retry.toml --seed N)"
    );
}

/// At 140 QPS (below the hidden capacity μ/2 = 150) the fluid model has no collapsed state and
/// predicts the drain after the 10 s partition; the simulated recovery time over 10 seeds must
/// match it within the diffusion scale: the backlog the partition releases and its drain are
/// sums of Poisson counts whose sd, divided by the drain rate μ − 2λ = 20/s, gives the time's
/// sd (the path's `backlog_var`); the mean of 10 seeds within 4 sd/√10 plus the 1 s window
/// quantisation of both definitions.
#[test]
fn fluid_recovery_time_matches_simulation_at_140_qps() {
    let sc = scenario("hotos-retry-140.toml");
    let a = analytic::analyze(&sc).expect("in scope");
    assert!(
        a.equilibria.collapsed.is_none(),
        "140 QPS is below the hidden capacity"
    );
    let o = a.outcome.as_ref().expect("a trigger");
    let predicted = o.recovery_s.expect("the fluid model recovers");
    let m = &a.model;
    let path = transient::simulate(m, m.duration_s);
    let var_end = path.backlog_var[(o.trigger_end_s + predicted) as usize];
    let sd_t = var_end.sqrt() / (m.capacity() - 2.0 * 140.0);
    let mut rec = Vec::new();
    for seed in 1..=10u64 {
        let r = metastable::run(&sc, seed);
        let an = r.analysis();
        rec.push(an.recovery_s.unwrap_or_else(|| {
            panic!("seed {seed}: no recovery (reproduce: metastable run scenarios/hotos-retry-140.toml --seed {seed})")
        }));
    }
    let mean = rec.iter().sum::<f64>() / rec.len() as f64;
    let tol = 4.0 * sd_t / (rec.len() as f64).sqrt() + 2.0;
    eprintln!(
        "recovery at 140 QPS: simulated mean {mean:.1} s (seeds 1..=10: {rec:?}), fluid {predicted:.1} s, tolerance {tol:.1} s"
    );
    assert!(
        (mean - predicted).abs() < tol,
        "simulated recovery {mean:.1} s (seeds 1..=10: {rec:?}) vs fluid {predicted:.1} s, tolerance {tol:.1} s (sd per seed {sd_t:.1} s)"
    );
}

/// The map's question at 200 QPS: the fluid model's shortest tipping 2× slowdown `d*`; a
/// slowdown of `d*/2` heals and one of `2 d*` tips on at least 8 of 10 seeds. (The factor 2 is
/// the fluid model's accuracy on this boundary, documented in docs/analytic.md: it ignores the
/// queue's fluctuations, which matter near ρ = 1 during the slowdown.)
#[test]
fn fluid_critical_slowdown_brackets_simulation_at_200_qps() {
    let base = hotos_with(&[
        ("clients[web].rate_per_s", "200.0"),
        ("triggers[0].action", "\"slowdown\""),
        ("triggers[0].value", "2.0"),
    ]);
    let a = analytic::analyze(&base).expect("in scope");
    let d = a.critical_trigger_s.expect("a tipping slowdown");
    assert!(d > 1.0 && d < 10.0, "d* = {d}");
    for (factor, want_tipped) in [(0.5, false), (2.0, true)] {
        let end = format!("{}", 60.0 + factor * d);
        let sc = hotos_with(&[
            ("clients[web].rate_per_s", "200.0"),
            ("triggers[0].action", "\"slowdown\""),
            ("triggers[0].value", "2.0"),
            ("triggers[0].to_s", &end),
        ]);
        let mut agree = 0;
        let mut verdicts = Vec::new();
        for seed in 1..=10u64 {
            let v = metastable::run(&sc, seed).analysis().verdict;
            let tipped = v == metastable::analysis::Verdict::Metastable;
            verdicts.push(v.as_str());
            if tipped == want_tipped {
                agree += 1;
            }
        }
        eprintln!(
            "2x slowdown of {:.2} s at 200 QPS (fluid d* = {d:.2} s): verdicts {verdicts:?}",
            factor * d
        );
        assert!(
            agree >= 8,
            "slowdown {:.2} s (= {factor} × fluid d* {d:.2} s) at 200 QPS: verdicts {verdicts:?} on seeds 1..=10",
            factor * d
        );
    }
}

/// The hidden capacity: with `m` attempts, FIFO and an unbounded queue, the collapsed state
/// exists exactly from μ/m (HotOS: one retry halves it); LIFO, CoDel and an AWS retry quota
/// remove it (the retry-storm variants the simulation also finds healing).
#[test]
fn hidden_capacity_is_capacity_over_attempts_and_the_fixes_remove_collapse() {
    let sc = scenario("hotos-retry.toml");
    let m = analytic::model_of(&sc).expect("in scope");
    let r = fluid::load_range(&m);
    let lo = r.collapse_from.expect("collapses at some load");
    assert!((lo - 150.0).abs() < 1e-3, "hidden capacity {lo}");
    for (k, attempts) in [(1u32, 300.0), (3, 100.0), (4, 75.0)] {
        let mut x = m.clone();
        x.max_attempts = k;
        x.backoff_s = vec![0.0; k as usize];
        let r = fluid::load_range(&x);
        assert!(
            (r.collapse_from.expect("collapse") - attempts).abs() < 1e-3 * attempts,
            "{k} attempts: {r:?}"
        );
    }
    // A retry budget caps the amplification in a collapse: Brooker's bucket at fill 0.1 lets
    // 1.1 attempts per call, so the collapse needs F > μ/1.1; Finagle's 20 % and 10/s
    // minimum, F·1.2 + 10 > μ.
    let mut x = m.clone();
    x.budget = analytic::scope::Budget::Bucket {
        fill: 0.1,
        size: 10.0,
    };
    let lo = fluid::load_range(&x).collapse_from.expect("collapse");
    assert!((lo - 300.0 / 1.1).abs() < 1e-3, "bucket: {lo}");
    x.budget = analytic::scope::Budget::Finagle {
        fraction: 0.2,
        min_per_s: 10.0,
    };
    x.max_attempts = 4;
    x.backoff_s = vec![0.0; 3];
    let lo = fluid::load_range(&x).collapse_from.expect("collapse");
    assert!((lo - 290.0 / 1.2).abs() < 1e-3, "finagle: {lo}");
    let storm = scenario("retry-storm.toml");
    for v in storm.with_variants() {
        let name = v.variant_name().to_string();
        let Ok(a) = analytic::analyze(v) else {
            assert_eq!(name, "circuit-breaker", "only the breaker is out of scope");
            continue;
        };
        let want = ["baseline", "no-jitter", "drop-expired"].contains(&name.as_str());
        assert_eq!(
            a.equilibria.bistable(),
            want,
            "{name}: {}",
            a.equilibria.class()
        );
    }
}

/// Out of scope: exit 4, the part named; a bad variant name is bad input (exit 2); a call
/// chain is now inside.
#[test]
fn analyze_names_what_is_outside_its_scope() {
    let bin = env!("CARGO_BIN_EXE_metastable");
    let dir = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/");
    let out = Command::new(bin)
        .args(["analyze", &format!("{dir}mmc-erlang-a.toml")])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(4));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(
        text.contains("clients[users].patience: outside the fluid model's scope"),
        "{text}"
    );
    // A downstream call chain is inside the scope since the chain model (§10).
    let out = Command::new(bin)
        .args(["analyze", &format!("{dir}layered-retries.toml")])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("a call chain of 3"), "{text}");
    let out = Command::new(bin)
        .args(["analyze", &format!("{dir}retry-storm.toml")])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(0));
    let text = String::from_utf8_lossy(&out.stdout);
    assert!(text.contains("clients[users].retry.breaker"), "{text}");
    assert!(text.contains("bistable for loads in [200.0, "), "{text}");
    let out = Command::new(bin)
        .args([
            "analyze",
            &format!("{dir}retry-storm.toml"),
            "--variant",
            "nope",
        ])
        .output()
        .expect("runs");
    assert_eq!(out.status.code(), Some(2));
}

/// HotOS 2021 §2.2, the look-aside cache: the fluid model finds the file as written bistable
/// (healthy at a 0.89 hit ratio; collapsed with an empty cache, since misses that time out
/// never fill it), read-through not (every answer fills), and 250 QPS below the hidden
/// capacity. The simulator agrees on every verdict over 5 seeds, and read-through's recovery
/// after the flush is within 30 % of the fluid prediction (the fluid model fills keys at the
/// service's completion rate without the wait of the backlog ahead: docs/analytic.md §4).
#[test]
fn cache_flush_verdicts_and_refill_match_simulation() {
    let sc = scenario("hotos-2021-cache.toml");
    for v in sc.with_variants() {
        let name = v.variant_name().to_string();
        let a = analytic::analyze(v).expect("in scope");
        let o = a.outcome.as_ref().expect("a trigger");
        let want_collapse = name == "baseline";
        assert_eq!(
            a.equilibria.bistable(),
            want_collapse,
            "{name}: {}",
            a.equilibria.class()
        );
        let mut rec = Vec::new();
        for seed in 1..=5u64 {
            let an = metastable::run(v, seed).analysis();
            let ctx = format!(
                "{name} seed {seed}: simulated {} vs fluid {:?} (reproduce: metastable run scenarios/hotos-2021-cache.toml --variant {name} --seed {seed})",
                an.verdict.as_str(),
                o.recovery_s
            );
            if want_collapse {
                assert_eq!(
                    an.verdict,
                    metastable::analysis::Verdict::Metastable,
                    "{ctx}"
                );
                assert!(o.recovery_s.is_none(), "{ctx}");
            } else {
                rec.push(an.recovery_s.unwrap_or_else(|| panic!("{ctx}")));
            }
        }
        if name == "read-through" {
            let mean = rec.iter().sum::<f64>() / rec.len() as f64;
            let fluid = o.recovery_s.expect("recovers");
            eprintln!(
                "read-through refill after the flush: simulated {mean:.1} s (seeds 1..=5: {rec:?}), fluid {fluid:.1} s"
            );
            assert!(
                (mean - fluid).abs() <= 0.3 * mean,
                "simulated {rec:?} vs fluid {fluid}"
            );
        }
    }
}

const CLOSED: &str = r#"
[scenario]
name = "closed-retry"
description = "640 users thinking 2 s, 1 s timeout, one retry, 300/s of capacity; a 10 s 2x slowdown"
duration_s = 300.0
warmup_s = 20.0

[[clients]]
name = "users"
target = "db"
users = 640
think_time = { dist = "exponential", mean_ms = 2000.0 }
timeout_ms = 1000.0
retry = { max_attempts = 2 }

[[services]]
name = "db"
servers = 30
service_time = { dist = "exponential", mean_ms = 100.0 }

[[triggers]]
from_s = 60.0
to_s = 70.0
action = "slowdown"
target = "db"
value = 2.0
"#;

/// A closed loop (640 users, 2 s think time) is bistable too: healthy near capacity, or
/// collapsed with every call taking its two timeouts, `N / (Z + 2T)` = 160 calls/s and 320
/// attempts/s. Over 10 seeds: the healthy goodput before the trigger ([20, 60) s) within the
/// replications' 99.9 % t interval + 1 % (the model takes the 640 users' arrivals as Poisson:
/// a finite-source correction of order 1/N·ρ), and the collapsed rates over [100, 300) s
/// within the t interval + 0.5 % (exact in the fluid limit: every attempt times out).
#[test]
fn closed_loop_equilibria_match_simulation() {
    let sc = metastable::parse(CLOSED, "closed-retry.toml").expect("valid");
    let a = analytic::analyze(&sc).expect("in scope");
    let h = a.equilibria.healthy.as_ref().expect("healthy");
    let c = a.equilibria.collapsed.as_ref().expect("collapsed");
    assert!((c.first_per_s - 160.0).abs() < 1e-6 && (c.attempts_per_s - 320.0).abs() < 1e-6);
    let (mut good, mut first, mut att) = (vec![], vec![], vec![]);
    for seed in 1..=10u64 {
        let r = metastable::run(&sc, seed);
        let an = r.analysis();
        assert_eq!(
            an.verdict,
            metastable::analysis::Verdict::Metastable,
            "seed {seed}: the 10 s slowdown is past the fluid model's {:?} s",
            a.critical_trigger_s
        );
        let s = r.client_series();
        let rate = |from: usize, to: usize, f: &dyn Fn(&(u64, u64, u64)) -> u64| {
            s[from..to].iter().map(f).sum::<u64>() as f64 / (to - from) as f64
        };
        good.push(rate(20, 60, &|x| x.2));
        first.push(rate(100, 300, &|x| x.0));
        att.push(rate(100, 300, &|x| x.0 + x.1));
    }
    let t = 4.781; // t_{0.9995, 9}
    let check = |what: &str, xs: &[f64], exact: f64, allowance: f64| {
        let n = xs.len() as f64;
        let m = xs.iter().sum::<f64>() / n;
        let sd = (xs.iter().map(|x| (x - m).powi(2)).sum::<f64>() / (n - 1.0)).sqrt();
        let tol = t * sd / n.sqrt() + allowance * exact;
        eprintln!("closed loop {what}: simulated {m:.2} ± {tol:.2}, fluid {exact:.2}");
        assert!(
            (m - exact).abs() <= tol,
            "{what}: simulated {xs:?} vs fluid {exact} ± {tol}"
        );
    };
    check("healthy goodput/s", &good, h.goodput_per_s, 0.01);
    check("collapsed calls/s", &first, c.first_per_s, 0.005);
    check("collapsed attempts/s", &att, c.attempts_per_s, 0.005);
}

/// The line `metastable map` draws: on the HotOS map (2× slowdown of growing length at each
/// load), no prediction at or below 150 QPS (below the hidden capacity μ/2, or at its edge
/// where the search runs out), and from 160 QPS on a critical end time that falls as the load
/// rises — the measured map's shape (README: 9.75 s at 160, 4.25 s at 200, 1.5 s at 280).
#[test]
fn map_line_predicts_the_hotos_boundary() {
    let p = PathBuf::from(format!(
        "{}/sweeps/hotos-retry-map.toml",
        env!("CARGO_MANIFEST_DIR")
    ));
    let sweep = metastable::sweep::file::load(&p).expect("valid map");
    let plan = metastable::sweep::map::plan(&sweep, sweep.text()).expect("a map");
    let line = analytic::map_line::predicted_critical(&sweep, &plan);
    assert_eq!(line.len(), plan.rows.len());
    let mut last = f64::INFINITY;
    for (row, v) in plan.rows.iter().zip(&line) {
        let load: f64 = row.parse().expect("numeric rows");
        if load <= 140.0 {
            assert!(v.is_none(), "{row} QPS: {v:?}");
        } else {
            let end = v.unwrap_or_else(|| panic!("{row} QPS: no prediction"));
            assert!(end < last && end > 60.0, "{row} QPS: {end} after {last}");
            last = end;
        }
    }
    let at = |q: &str| {
        line[plan.rows.iter().position(|r| r == q).expect("row")].expect("predicted") - 60.0
    };
    eprintln!(
        "fluid critical 2x slowdown: 160 QPS {:.2} s, 200 QPS {:.2} s, 280 QPS {:.2} s",
        at("160"),
        at("200"),
        at("280")
    );
    // Within 25 % of the measured map at 160, 200 and 280 QPS (docs/analytic.md §8).
    for (q, measured) in [("160", 9.75), ("200", 4.25), ("280", 1.5)] {
        assert!(
            (at(q) - measured).abs() <= 0.25 * measured,
            "{q} QPS: fluid {} vs map {measured}",
            at(q)
        );
    }
}
