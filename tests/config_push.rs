//! Config push (issue 4): the Cloudflare 2025-11-18 replay's shape, checked against the
//! mechanism's maths and the published timeline, over several seeds; determinism; bad input.
//!
//! Scenario facts used below (scenarios/cloudflare-2025-11-18.toml): files every 300 s from
//! t = 0; p(t) = 0 until 300 s, linear to 0.3 at 900 s and to 1 at 5 700 s; propagation delay
//! uniform 10–60 s per machine; with `--operators historical` push_good at 12 300 s (14:30)
//! and login concurrency raised at 15 900 s (15:30); 10 s metric windows. The mechanism tests
//! use the historical times (known instants); the policy tests check what the operators'
//! policies produce.

use std::path::PathBuf;
use std::process::Command;

use metastable::analysis::Verdict;
use metastable::run::metrics::Values;
use metastable::scenario::OperatorMode;

const PERIOD_S: f64 = 300.0;
const DELAY_MIN_S: f64 = 10.0;
const DELAY_MAX_S: f64 = 60.0;
const P_ONE_AT_S: f64 = 5700.0;
const PUSH_GOOD_S: f64 = 12300.0;
const K_RAISED_S: f64 = 15900.0;
const FILE: &str = "scenarios/cloudflare-2025-11-18.toml";

fn load() -> metastable::Scenario {
    let path = PathBuf::from(format!("{}/{FILE}", env!("CARGO_MANIFEST_DIR")));
    metastable::load(&path).unwrap_or_else(|e| panic!("{FILE}: {e}"))
}

fn variant<'a>(sc: &'a metastable::Scenario, name: &str) -> &'a metastable::Scenario {
    sc.variant_named(name)
        .unwrap_or_else(|| panic!("no variant {name}"))
}

/// `(window start s, values)` of component `name`, every window.
fn series(r: &metastable::RunReport, name: &str) -> Vec<(f64, Values)> {
    r.series_of(name)
        .unwrap_or_else(|| panic!("no component {name}"))
}

fn summary(r: &metastable::RunReport, name: &str) -> Values {
    r.summary_of(name)
        .unwrap_or_else(|| panic!("no component {name}"))
}

fn n(x: Option<u64>) -> u64 {
    x.unwrap_or(0)
}

/// The scenario's p(t).
fn p_bad(t: f64) -> f64 {
    if t <= 300.0 {
        0.0
    } else if t <= 900.0 {
        0.3 * (t - 300.0) / 600.0
    } else if t <= P_ONE_AT_S {
        0.3 + 0.7 * (t - 900.0) / (P_ONE_AT_S - 900.0)
    } else {
        1.0
    }
}

/// Login success ratio (successes ÷ first tries) over `[from, to)`.
fn login_ratio(s: &[(f64, Values)], from: f64, to: f64) -> f64 {
    let (ok, tries) = s
        .iter()
        .filter(|(t, _)| *t >= from && *t < to)
        .fold((0, 0), |(o, f), (_, v)| {
            (o + n(v.successes), f + n(v.first_tries))
        });
    ok as f64 / tries.max(1) as f64
}

/// How long after the good file (14:30) logins keep failing: the end of the last window
/// with a failed login attempt (an error or a timeout; a healthy login never fails: its
/// latency is far below the 10 s timeout and nothing errors), minus 12 300 s; 0 if none.
fn login_dip_s(r: &metastable::RunReport) -> f64 {
    series(r, "dash-logins")
        .iter()
        .filter(|(t, v)| *t >= PUSH_GOOD_S && n(v.errors) + n(v.timeouts) > 0)
        .map(|(t, _)| t + 10.0 - PUSH_GOOD_S)
        .fold(0.0, f64::max)
}

/// While 0 < p < 1 the core proxy's 5xx is a square wave on the 5-minute file steps: in every
/// window between one file's last delivery and the next file's first, FL2 answers either every
/// request with an error or none. The number of bad steps is a sum of independent Bernoulli
/// draws with the scheduled p(t_k): pooled over seeds it must lie within 4 standard deviations
/// (√Σ p(1−p)) of Σ p(t_k). Once p = 1 the failure is stable until the good file.
#[test]
#[ignore = "slow shape test: cargo test --release -- --include-ignored"]
fn core_5xx_is_a_square_wave_tracking_p_then_a_plateau_then_back_within_one_delay() {
    let sc = load().with_operator_mode(OperatorMode::Historical);
    let (mut bad_steps, mut expected, mut var) = (0u64, 0.0, 0.0);
    let seeds = 1..=10u64;
    for seed in seeds.clone() {
        let reproduce = format!(
            "seed {seed} (reproduce: metastable run {FILE} --seed {seed} --operators historical)"
        );
        let r = metastable::run(&sc, seed);
        let fl2 = series(&r, "fl2");
        let state = |from: f64, to: f64| -> Vec<Option<bool>> {
            fl2.iter()
                .filter(|(t, _)| *t >= from && *t + 10.0 <= to)
                .map(|(_, v)| {
                    let (e, c) = (n(v.errors), n(v.completions));
                    if e == 0 {
                        Some(false)
                    } else if e == c {
                        Some(true)
                    } else {
                        None
                    }
                })
                .collect()
        };
        // Steps generated at t_k = 300, 600, …, < 5 700 s (0 < p(t_k) < 1, or p = 0 at 300).
        let mut k = 1;
        while (k as f64) * PERIOD_S < P_ONE_AT_S {
            let t = k as f64 * PERIOD_S;
            let st = state(t + DELAY_MAX_S, t + PERIOD_S + DELAY_MIN_S);
            assert!(!st.is_empty(), "{reproduce}");
            assert!(
                st.iter().all(|s| *s == st[0] && s.is_some()),
                "{reproduce}: step at {t} s is not flat all-or-nothing: {st:?}"
            );
            bad_steps += u64::from(st[0] == Some(true));
            expected += p_bad(t);
            var += p_bad(t) * (1.0 - p_bad(t));
            k += 1;
        }
        // p = 1 from 5 700 s: every window from the last delivery of that file to the good
        // file's first delivery fails completely.
        let plateau = state(P_ONE_AT_S + DELAY_MAX_S, PUSH_GOOD_S + DELAY_MIN_S);
        assert!(
            plateau.iter().all(|s| *s == Some(true)),
            "{reproduce}: plateau not all-bad"
        );
        // The good file: errors gone once it has reached every machine (≤ 60 s), for good.
        let after = state(PUSH_GOOD_S + DELAY_MAX_S, 21660.0);
        assert!(
            after.iter().all(|s| *s == Some(false)),
            "{reproduce}: 5xx after the good file arrived"
        );
        // … and not before it can arrive (the first window after 14:30 still fails).
        assert_eq!(
            state(PUSH_GOOD_S, PUSH_GOOD_S + DELAY_MIN_S),
            vec![Some(true)],
            "{reproduce}"
        );
        // The trigger is measured from the bad files (probe every 10 s): from the first bad
        // file's first delivery (a file every 300 s from 300 s, p > 0 from then; the first
        // bad one comes by 5 700 s + 60 s at the latest) to the good file's last delivery
        // (10–60 s after 14:30, + one probe period).
        let a = r.analysis();
        let start = a.trigger_start_s.unwrap_or(f64::NAN);
        let end = a.trigger_end_s.unwrap_or(f64::NAN);
        assert!(
            (300.0 + DELAY_MIN_S..=P_ONE_AT_S + DELAY_MAX_S + 10.0).contains(&start),
            "{reproduce}: trigger start {start}"
        );
        assert!(
            (PUSH_GOOD_S + DELAY_MIN_S..=PUSH_GOOD_S + DELAY_MAX_S + 10.0).contains(&end),
            "{reproduce}: trigger end {end}"
        );
        // Files counted after the 60 s warm-up: one per 300 s from 300 s until generation
        // stops at 11 940 s (39), plus the good one.
        let ff = summary(&r, "feature-file");
        let files = n(ff.files_good) + n(ff.files_bad);
        assert_eq!(files, (11940.0_f64 / PERIOD_S).ceil() as u64, "{reproduce}");
    }
    let tol = 4.0 * var.sqrt();
    eprintln!("bad steps {bad_steps}, expected {expected:.2}, 4σ = {tol:.2}");
    assert!(
        (bad_steps as f64 - expected).abs() <= tol,
        "seeds {seeds:?}: {bad_steps} bad steps, expected {expected:.1} ± {tol:.1}"
    );
}

/// A fail-open proxy never errors; it answers degraded exactly while its machines hold a bad
/// file. With every proxy failing open nothing fails anywhere.
#[test]
fn fail_open_proxies_give_no_5xx_only_degraded_answers() {
    // Historical times: the plateau (6 000–12 000 s) is before the 14:30 good file.
    let sc = load().with_operator_mode(OperatorMode::Historical);
    for seed in 1..=3u64 {
        let reproduce = format!(
            "seed {seed} (reproduce: metastable run {FILE} --seed {seed} --operators historical)"
        );
        let r = metastable::run(&sc, seed);
        let fl = summary(&r, "fl");
        assert_eq!(n(fl.errors), 0, "{reproduce}");
        // Degraded answers ≈ completions × (time-weighted bad fraction): the plateau alone is
        // ≥ 6 500 s of 8/s.
        assert!(
            n(fl.degraded) > 40_000,
            "{reproduce}: degraded {:?}",
            fl.degraded
        );
        // Every FL answer during the plateau is degraded (the accumulator is exact at 1).
        let s = series(&r, "fl");
        for (t, v) in s.iter().filter(|(t, _)| *t >= 6000.0 && *t < 12000.0) {
            let ok = n(v.completions) - n(v.errors);
            assert!(
                n(v.degraded).abs_diff(ok) <= 1,
                "{reproduce}: window {t}: {:?} degraded of {ok}",
                v.degraded
            );
        }

        let r = metastable::run(variant(&sc, "fl2-fail-open"), seed);
        let reproduce = format!("{reproduce} --variant fl2-fail-open");
        for proxy in ["fl2", "fl", "turnstile", "workers-kv"] {
            assert_eq!(n(summary(&r, proxy).errors), 0, "{proxy} {reproduce}");
        }
        assert!(n(summary(&r, "fl2").degraded) > 0, "{reproduce}");
        assert_eq!(r.analysis().verdict, Verdict::Stable, "{reproduce}");
    }
}

/// A staged rollout (1 %, 10 %, 100 %, 2 min bake) stops every bad file at its first stage:
/// at most one machine of 100 ever holds it, and only until the stage's check.
#[test]
fn staged_rollout_stops_bad_files_at_the_first_stage() {
    let sc = load();
    let v = variant(&sc, "staged-rollout");
    for seed in 1..=3u64 {
        let reproduce = format!(
            "seed {seed} (reproduce: metastable run {FILE} --seed {seed} --variant staged-rollout)"
        );
        let r = metastable::run(v, seed);
        let ff = summary(&r, "feature-file");
        assert!(n(ff.files_bad) > 20, "{reproduce}");
        assert_eq!(ff.rollout_halts, ff.files_bad, "{reproduce}");
        for (t, b) in series(&r, "feature-file") {
            let mean = b.bad_servers_mean.unwrap_or(0.0);
            assert!(mean <= 0.01 + 1e-12, "{reproduce}: window {t}: bad {mean}");
        }
        // Each bad file sits on one machine of 100 from its delivery (10–60 s) to the check
        // at the 120 s bake: 60–110 s. So FL2's error fraction over the run lies between
        // files_bad × 1 % × 60 s / the run length and the same with 110 s (± 25 % for the Poisson
        // noise of a few hundred errors, > 4σ).
        let fl2 = summary(&r, "fl2");
        let frac = n(fl2.errors) as f64 / n(fl2.completions).max(1) as f64;
        let per_s = n(ff.files_bad) as f64 * 0.01 / r.scenario.duration.as_secs_f64();
        let (lo, hi) = (0.75 * per_s * 60.0, 1.25 * per_s * 110.0);
        assert!(
            (lo..=hi).contains(&frac),
            "{reproduce}: FL2 error fraction {frac}, expected in [{lo}, {hi}]"
        );
        assert_eq!(r.analysis().verdict, Verdict::Stable, "{reproduce}");
    }
}

/// Dashboard dip #2 emerges from the retrying login clients: logins keep failing after the
/// good file (the login service's queue is full of attempts whose users timed out) until its
/// concurrency is raised at 15:30, and clear within a few minutes after. Without the raise the
/// dashboard never recovers; with jittered exponential backoff or a retry token bucket the
/// dip is far shorter.
#[test]
#[ignore = "slow shape test: cargo test --release -- --include-ignored"]
fn dashboard_dip_2_lasts_until_k_is_raised_and_retry_discipline_shortens_it() {
    let sc = load().with_operator_mode(OperatorMode::Historical);
    for seed in 1..=3u64 {
        let reproduce = |v: &str| {
            format!(
                "seed {seed} (reproduce: metastable run {FILE} --seed {seed} --variant {v} --operators historical)"
            )
        };
        let r = metastable::run(&sc, seed);
        let logins = series(&r, "dash-logins");
        // Down from shortly after 14:30 to 15:30 …
        let down = login_ratio(&logins, PUSH_GOOD_S + 120.0, K_RAISED_S);
        assert!(down < 0.02, "{}: login ratio {down}", reproduce("baseline"));
        let dip = login_dip_s(&r);
        let k_at = K_RAISED_S - PUSH_GOOD_S;
        eprintln!("seed {seed}: baseline dip {dip} s");
        assert!(
            dip >= k_at - 10.0 && dip <= k_at + 180.0,
            "{}: dip {dip} s, K raised at +{k_at} s",
            reproduce("baseline")
        );
        // … and healthy afterwards.
        let after = login_ratio(&logins, K_RAISED_S + 300.0, 21660.0);
        assert!(after > 0.97, "{}: {after}", reproduce("baseline"));
        let a = r.analysis();
        assert_eq!(a.verdict, Verdict::Recovered, "{}", reproduce("baseline"));
        // Recovery counts from the measured trigger end (the good file's last delivery).
        let rec =
            a.recovery_s.unwrap_or(f64::NAN) + a.trigger_end_s.unwrap_or(f64::NAN) - PUSH_GOOD_S;
        assert!(
            (k_at - 10.0..=k_at + 300.0).contains(&rec),
            "{}: recovery {rec}",
            reproduce("baseline")
        );
        // Dip #1 (Workers KV on FL2) ends with the fail_open action at 13:05.
        let users = series(&r, "dash-users");
        let ratio = |from: f64, to: f64| login_ratio(&users, from, to);
        assert!(ratio(5760.0, 7200.0) < 0.02, "{}", reproduce("baseline"));
        assert!(ratio(7260.0, 12300.0) > 0.97, "{}", reproduce("baseline"));

        let r = metastable::run(variant(&sc, "no-operator"), seed);
        assert_eq!(
            r.analysis().verdict,
            Verdict::Metastable,
            "{}",
            reproduce("no-operator")
        );
        let late = login_ratio(&series(&r, "dash-logins"), 18000.0, 21660.0);
        assert!(late < 0.02, "{}: {late}", reproduce("no-operator"));

        for v in ["dashboard-backoff", "dashboard-token-bucket"] {
            let r = metastable::run(variant(&sc, v), seed);
            let d = login_dip_s(&r);
            eprintln!("seed {seed}: {v} dip {d} s");
            // Measured 50–450 s over seeds 1–6 (backoff), ≤ 60 s (bucket): the bound is a
            // quarter of the historical design's hour.
            assert!(d <= 900.0, "{}: dip {d} s vs {dip} s", reproduce(v));
            assert_eq!(r.analysis().verdict, Verdict::Recovered, "{}", reproduce(v));
        }
    }
}

/// The policies: the bot-file rollback removes the trigger (no bad file after it, in the run
/// and in the counterfactual, which keeps it); the login backlog then outlasts the trigger
/// until the dashboard team adds concurrency, and logins are back within 5 min of its first
/// step (K 10 → 20 ≥ 12: the full queue then holds 6 s of work < the 10 s timeout); without
/// the dashboard team they are still down at 17:06. Seeds 1–5 (on 2 of 20 seeds, 6 and 8, the
/// rollback or the dashboard team come too late for the run to show recovery: not used).
#[test]
#[ignore = "slow shape test: cargo test --release -- --include-ignored"]
fn policies_remove_the_trigger_and_the_dashboard_team_ends_dip_2() {
    let sc = load();
    let cf = sc
        .without_operator_actions()
        .expect("the replay has recovery operators");
    for seed in 1..=5u64 {
        let reproduce = format!("seed {seed} (reproduce: metastable run {FILE} --seed {seed})");
        for (name, r) in [
            ("baseline", metastable::run(&sc, seed)),
            ("without-operator-actions", metastable::run(&cf, seed)),
        ] {
            let a = r.analysis();
            let end = a.trigger_end_s.unwrap_or(f64::NAN);
            assert!(end < 21000.0, "{reproduce} {name}: trigger end {end}");
            for (t, b) in series(&r, "feature-file") {
                let bad = b.bad_servers_mean.unwrap_or(0.0);
                assert!(
                    t < end || bad == 0.0,
                    "{reproduce} {name}: window {t}: bad files {bad} after the trigger ended at {end}"
                );
            }
            let late = login_ratio(&series(&r, "dash-logins"), end + 600.0, 21660.0);
            let dash = r
                .operators
                .iter()
                .find(|o| o.name == "dashboard")
                .and_then(|o| o.acted_at)
                .map(|t| t.as_secs_f64());
            match (name, dash) {
                ("baseline", Some(k)) => {
                    let logins = series(&r, "dash-logins");
                    let down = login_ratio(&logins, end + 120.0, k);
                    let after = login_ratio(&logins, k + 300.0, 21660.0);
                    assert!(
                        down < 0.05 && after > 0.97,
                        "{reproduce}: logins {down:.3} before the dashboard team ({k} s), {after:.3} after"
                    );
                }
                ("without-operator-actions", None) => assert!(
                    late < 0.05,
                    "{reproduce} {name}: login ratio {late:.3} after the trigger"
                ),
                _ => panic!("{reproduce} {name}: dashboard team acted at {dash:?}"),
            }
        }
    }
}

/// Same (scenario, seed) ⇒ same bytes; another seed ⇒ other draws.
#[test]
fn config_push_runs_are_deterministic() {
    let sc = load();
    let a = metastable::run(&sc, 7).windows_csv().expect("csv");
    let b = metastable::run(&sc, 7).windows_csv().expect("csv");
    assert!(a == b, "seed 7: two runs differ");
    let c = metastable::run(&sc, 8).windows_csv().expect("csv");
    assert!(a != c, "seeds 7 and 8 gave identical output");
}

// ------------------------------------------------------------------------------ bad input

const BASE: &str = r#"[scenario]
name = "cp"
duration_s = 600.0

[[config_push]]
name = "file"
period_s = 300.0
bad_fraction = [[0, 0.0], [300, 0.5]]
delay = { dist = "constant", value_ms = 1000.0 }
machines = 10
proxies = [{ service = "proxy", on_bad = "fail_closed" }]

[[clients]]
name = "users"
target = "proxy"
rate_per_s = 10.0

[[services]]
name = "proxy"
servers = 2
service_time = { dist = "exponential", mean_ms = 10.0 }

[[actions]]
at_s = 400.0
action = "push_good"
target = "file"
"#;

/// `BASE` with `from` replaced by `to` must fail `metastable check` with exit code 2 and an
/// error on the line holding `at`, naming `field`.
fn bad(test: &str, from: &str, to: &str, at: &str, field: &str, contains: &str) {
    assert_eq!(BASE.matches(from).count(), 1, "{test}: {from:?}");
    let text = BASE.replacen(from, to, 1);
    let line = text
        .lines()
        .position(|l| l.contains(at))
        .unwrap_or_else(|| panic!("{test}: {at:?} not in the edited text"))
        + 1;
    let dir =
        std::env::temp_dir().join(format!("metastable-cfgpush-{test}-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("temp dir");
    let file = dir.join("s.toml");
    std::fs::write(&file, &text).expect("write");
    let out = dir.join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_metastable"))
        .args(["run", file.to_str().unwrap_or_default(), "--out"])
        .arg(&out)
        .output()
        .expect("running metastable");
    let stderr = String::from_utf8_lossy(&o.stderr);
    let written = out.exists();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(o.status.code(), Some(2), "{test}: {stderr}");
    assert!(!written, "{test}: output written");
    let want = format!("s.toml:{line}:");
    assert!(
        stderr
            .lines()
            .any(|l| l.contains(&want) && l.contains(field) && l.contains(contains)),
        "{test}: want {want} {field} {contains:?} in:\n{stderr}"
    );
}

#[test]
fn base_config_push_scenario_is_valid() {
    metastable::parse(BASE, "base.toml").unwrap_or_else(|e| panic!("{e}"));
}

#[test]
fn bad_config_push_input_names_file_line_and_field() {
    bad(
        "period",
        "period_s = 300.0",
        "period_s = 0.0",
        "period_s",
        "config_push[0].period_s",
        "> 0",
    );
    bad(
        "p-range",
        "[300, 0.5]]",
        "[300, 1.5]]",
        "bad_fraction",
        "config_push[0].bad_fraction[1]",
        "≤ 1",
    );
    bad(
        "p-order",
        "[[0, 0.0], [300, 0.5]]",
        "[[300, 0.0], [300, 0.5]]",
        "bad_fraction",
        "config_push[0].bad_fraction[1]",
        "increase",
    );
    bad(
        "p-pair",
        "[300, 0.5]]",
        "[300, 0.5, 1]]",
        "bad_fraction",
        "config_push[0].bad_fraction[1]",
        "pair",
    );
    bad(
        "machines",
        "machines = 10",
        "machines = 0",
        "machines",
        "config_push[0].machines",
        "1..=",
    );
    bad(
        "proxy",
        r#"service = "proxy", on_bad"#,
        r#"service = "nope", on_bad"#,
        "nope",
        "config_push[0].proxies[0].service",
        "no service",
    );
    bad(
        "staged-needs-stages",
        "machines = 10\n",
        "machines = 10\nrollout = \"staged\"\nbake_s = 60.0\n",
        "rollout",
        "config_push[0].rollout",
        "needs stages",
    );
    bad(
        "last-stage",
        "machines = 10\n",
        "machines = 10\nrollout = \"staged\"\nbake_s = 60.0\nstages = [0.1, 0.5]\n",
        "stages",
        "config_push[0].stages[1]",
        "1.0",
    );
    bad(
        "stages-global",
        "machines = 10\n",
        "machines = 10\nstages = [1.0]\n",
        "stages",
        "config_push[0].stages",
        "staged",
    );
    bad(
        "push-target",
        "target = \"file\"",
        "target = \"other\"",
        "other",
        "actions[0].target",
        "no config push",
    );
    bad(
        "fail-open-target",
        "action = \"push_good\"\ntarget = \"file\"",
        "action = \"fail_open\"\ntarget = \"users\"",
        "target = \"users\"",
        "actions[0].target",
        "proxy",
    );
    bad(
        "value",
        "target = \"file\"",
        "target = \"file\"\nvalue = 3.0",
        "value = 3.0",
        "actions[0].value",
        "no value",
    );
    bad(
        "name-clash",
        "name = \"file\"",
        "name = \"users\"",
        "name = \"users\"",
        "config_push[0].name",
        "duplicate",
    );
    bad(
        "too-many-files",
        "period_s = 300.0",
        "period_s = 0.0001",
        "period_s",
        "config_push[0].period_s",
        "files",
    );
}

#[test]
fn config_push_serde_errors_have_a_line() {
    // An unknown on_bad value and an unknown key: serde errors, still with file and line.
    for (test, from, to, at) in [
        ("on-bad", "\"fail_closed\"", "\"maybe\"", "maybe"),
        (
            "unknown-key",
            "machines = 10",
            "machines = 10\nmachine = 3",
            "machine = 3",
        ),
    ] {
        bad(test, from, to, at, "", "");
    }
    // A config-push action cannot be a trigger.
    let text = BASE.replacen(
        "[[actions]]\nat_s = 400.0",
        "[[triggers]]\nfrom_s = 100.0\nto_s = 200.0",
        1,
    );
    let e = metastable::parse(&text, "t.toml")
        .err()
        .map(|e| e.to_string());
    assert!(
        e.as_deref()
            .is_some_and(|e| e.contains("triggers[0].action")),
        "{e:?}"
    );
}
