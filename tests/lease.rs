//! The lease manager (EC2 DWFM) and the DWFM part of the AWS 2025-10-20 incident (`scenarios/aws-dwfm-lease-collapse.toml`),
//! end to end: the congestive collapse emerges after the DNS fix and persists without operator
//! actions; with the historical throttle + host restarts the leases come back in ≈ 74 min; a
//! queue-size admission limit recovers by itself; the DDB client tail ends within 15 min;
//! determinism; schema errors.
//!
//! Scale. The shipped file has 20 000 droplets on 4 manager hosts; its `scale-100k` variant has
//! 100 000 on 20 (5 000 droplets per host in both: the same per-host load, queue and
//! throughput), measured in docs/lease.md. The tests run the file as shipped, cut to the event
//! time they need.
//!
//! Event time: `t = simulated time − 1800 s` (the scenario has a 30-min lead-in); t = 0 is
//! 23:48 PDT, the DNS fix is at t = 157 min, the operator actions at t = 266 min.
mod common;
use common::set as ov;

use std::path::PathBuf;
use std::process::Command;

use metastable::analysis::Verdict;
use metastable::run::metrics::Values;
use metastable::{RunReport, Scenario};

const FILE: &str = "scenarios/aws-dwfm-lease-collapse.toml";
const LEAD_IN_S: f64 = 1800.0;
const FIX_MIN: f64 = 157.0;
const ACTIONS_MIN: f64 = 266.0;
/// Published: leases for all droplets at 05:28, 74 min after the 04:14 actions.
const PUBLISHED_REBUILD_MIN: f64 = 74.0;
/// Tolerance on that, derived from the calibration (docs/lease.md): the throttle admits
/// establishments at a fixed 23 /s, so the linear part is deterministic; what varies is the
/// tail (check phases, ≤ 1 check interval = 3 min) and the 1-min window the 99 % is seen in.
const REBUILD_TOL_MIN: f64 = 4.0;

fn text() -> String {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(FILE);
    std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

/// The shipped scenario run until event time `until_min`, the DDB clients at `ddb_rate` /s
/// (the DNS test needs the shipped 100 /s; the others run faster with fewer calls).
fn shipped(until_min: f64, ddb_rate: f64) -> Scenario {
    let overrides = [
        ov(
            "clients[ddb-clients].rate_per_s",
            toml::Value::Float(ddb_rate),
        ),
        ov(
            "scenario.duration_s",
            toml::Value::Float(LEAD_IN_S + until_min * 60.0),
        ),
    ];
    metastable::parse_with(&text(), FILE, &overrides).unwrap_or_else(|e| panic!("{e}"))
}

fn variant<'a>(sc: &'a Scenario, name: &str) -> &'a Scenario {
    sc.variant_named(name)
        .unwrap_or_else(|| panic!("no variant {name}"))
}

/// Per window of `component`: (event time of the window start in minutes, values).
fn series(r: &RunReport, component: &str) -> Vec<(f64, Values)> {
    r.series_of(component)
        .unwrap_or_else(|| panic!("no component {component}"))
        .into_iter()
        .map(|(start, v)| ((start - LEAD_IN_S) / 60.0, v))
        .collect()
}

fn fraction(v: &Values) -> f64 {
    v.lease_fraction_mean
        .expect("dwfm has a lease_fraction gauge")
}

/// Event time (min) of the first window from `from_min` on whose mean lease fraction ≥ `f`.
fn first_at_least(s: &[(f64, Values)], from_min: f64, f: f64) -> Option<f64> {
    s.iter()
        .find(|(t, v)| *t >= from_min && fraction(v) >= f)
        .map(|(t, _)| *t)
}

fn reproduce(variant: &str, seed: u64) -> String {
    format!(
        "seed {seed} (reproduce: metastable run {FILE} --seed {seed} --variant {variant}; the test cuts the run short)"
    )
}

/// Metastability: without the operator actions, the lease-held fraction stays below 5 % for
/// the 7 h 23 min after the DNS fix (to t = 600 min) while every manager worker is busy with
/// work that times out, and the verdict is `metastable`.
#[test]
fn incident_aws_2025_10_dwfm_stays_collapsed_without_operator() {
    let sc = shipped(600.0, 10.0);
    let v = variant(&sc, "no-operator");
    for seed in 1..=3u64 {
        let ctx = reproduce("no-operator", seed);
        let r = metastable::run(v, seed);
        let s = series(&r, "dwfm");
        for (t, w) in s.iter().filter(|(t, _)| *t >= FIX_MIN + 1.0) {
            assert!(
                fraction(w) < 0.05,
                "t = {t} min: lease fraction {} ≥ 5 %; {ctx}",
                fraction(w)
            );
        }
        let (t_end, last) = s.last().expect("windows");
        assert!(*t_end >= 599.0, "{ctx}");
        assert!(fraction(last) < 0.01, "{ctx}");
        // The absorbing state: the queues hold (almost) every droplet, no establishment
        // succeeds, and the workers' output is all wasted.
        assert!(
            last.queue_len_mean.unwrap_or(0.0) > 0.95 * 20_000.0,
            "queue {:?}; {ctx}",
            last.queue_len_mean
        );
        let late: Vec<&Values> = s
            .iter()
            .filter(|(t, _)| *t >= FIX_MIN + 5.0)
            .map(|(_, v)| v)
            .collect();
        let est: u64 = late.iter().map(|v| v.establishments.unwrap_or(0)).sum();
        let wasted: u64 = late.iter().map(|v| v.wasted.unwrap_or(0)).sum();
        assert_eq!(est, 0, "{ctx}");
        // 16 workers × (1 job / 1.2 s) × 60 s ≈ 800 wasted jobs per minute.
        let per_min = wasted as f64 / late.len() as f64;
        assert!(
            (700.0..900.0).contains(&per_min),
            "wasted {per_min}/min; {ctx}"
        );
        assert_eq!(r.analysis().verdict, Verdict::Metastable, "{ctx}");
    }
}

/// The historical replay: no progress from the DNS fix (t = 157) to the operator actions
/// (t = 266), then ≥ 99 % of the leases within 74 ± 4 min (published: 04:14 → 05:28).
#[test]
fn incident_aws_2025_10_dwfm_recovers_74_min_after_throttle_and_restarts() {
    let sc = shipped(420.0, 10.0);
    for seed in 1..=3u64 {
        let ctx = reproduce("baseline", seed);
        let r = metastable::run(&sc, seed);
        let s = series(&r, "dwfm");
        // All leases had timed out by ≈ 02:24 (t ≈ 156).
        let at_156 = s
            .iter()
            .find(|(t, _)| (*t - 156.0).abs() < 0.5)
            .expect("window");
        assert!(fraction(&at_156.1) < 0.001, "{ctx}");
        // "Slowly timed out": about half were still held 80 min in.
        let at_80 = s.iter().find(|(t, _)| (*t - 80.0).abs() < 0.5).expect("w");
        assert!((0.4..0.6).contains(&fraction(&at_80.1)), "{ctx}");
        // No progress between the fix and the actions (a ≈ 2 % blip right after the fix, then
        // not one establishment).
        for (t, w) in s
            .iter()
            .filter(|(t, _)| *t >= FIX_MIN + 1.0 && *t < ACTIONS_MIN)
        {
            assert!(fraction(w) < 0.05, "t = {t}: {}; {ctx}", fraction(w));
            if *t >= FIX_MIN + 5.0 {
                assert_eq!(w.establishments, Some(0), "t = {t}; {ctx}");
            }
        }
        let back = first_at_least(&s, ACTIONS_MIN, 0.99).unwrap_or(f64::INFINITY);
        // The window whose mean first reaches 99 % starts at `back`; the level is reached
        // within it.
        let took = back + 1.0 - ACTIONS_MIN;
        assert!(
            (took - PUBLISHED_REBUILD_MIN).abs() <= REBUILD_TOL_MIN,
            "99 % of leases {took} min after the actions (published {PUBLISHED_REBUILD_MIN} ± {REBUILD_TOL_MIN}); {ctx}"
        );
        let a = r.analysis();
        assert_eq!(a.verdict, Verdict::Recovered, "{ctx}");
        // Client recovery (95 % of the baseline success ratio) comes after the actions and no
        // later than all leases are back.
        let rec_min = a.recovery_s.expect("recovered") / 60.0;
        assert!(
            rec_min > ACTIONS_MIN - FIX_MIN && rec_min <= took + ACTIONS_MIN - FIX_MIN + 1.0,
            "recovery {rec_min} min after the fix; {ctx}"
        );
    }
}

/// AWS remediation 4: queue-size admission (60 jobs per host, below μ·D = 100) recovers with
/// no operator action, long before the historical 340 min, and without wasted work once
/// established.
#[test]
fn queue_admission_recovers_without_operator_and_faster() {
    let sc = shipped(300.0, 10.0);
    let v = variant(&sc, "queue-admission");
    for seed in 1..=3u64 {
        let ctx = reproduce("queue-admission", seed);
        let r = metastable::run(v, seed);
        let s = series(&r, "dwfm");
        let back = first_at_least(&s, FIX_MIN, 0.99).unwrap_or(f64::INFINITY);
        // N / μ_establish = 20 000 / 13.3 s ≈ 25 min, slowed by the renewals of the leases
        // already back: ≈ 30 min.
        assert!(
            back < FIX_MIN + 45.0 && back + 1.0 < ACTIONS_MIN + PUBLISHED_REBUILD_MIN,
            "99 % at t = {back}; {ctx}"
        );
        let wasted: u64 = s.iter().map(|(_, v)| v.wasted.unwrap_or(0)).sum();
        let est: u64 = s.iter().map(|(_, v)| v.establishments.unwrap_or(0)).sum();
        assert!(
            (wasted as f64) < 0.01 * est as f64,
            "wasted {wasted} of {est}; {ctx}"
        );
        let rejected: u64 = s.iter().map(|(_, v)| v.rejected.unwrap_or(0)).sum();
        assert!(rejected > 0, "the admission limit acted; {ctx}");
        let a = r.analysis();
        assert_eq!(a.verdict, Verdict::Recovered, "{ctx}");
    }
}

/// The DynamoDB tail: client DNS failures start with the empty record and end within the
/// 900 s negative TTL of the fix (published: errors until 02:40, 15 min after 02:25).
#[test]
fn ddb_client_errors_end_within_15_min_of_the_dns_fix() {
    let sc = shipped(200.0, 100.0);
    for seed in 1..=3u64 {
        let ctx = reproduce("baseline", seed);
        let r = metastable::run(&sc, seed);
        let s = series(&r, "ddb-clients");
        let failing: Vec<f64> = s
            .iter()
            .filter(|(_, v)| v.dns_failures.unwrap_or(0) > 0)
            .map(|(t, _)| *t)
            .collect();
        let first = failing.first().copied().unwrap_or(f64::NAN);
        let last = failing.last().copied().unwrap_or(f64::NAN);
        assert!(
            (0.0..2.0).contains(&first),
            "first failures at {first}; {ctx}"
        );
        assert!(
            last >= FIX_MIN && last + 1.0 <= FIX_MIN + 15.0 + 1e-9,
            "last failing window starts at t = {last}; {ctx}"
        );
    }
}

/// The other variants, as they emerge (one seed; docs/lease.md discusses them): serving the
/// newest work first recovers by itself; jittered renewal, FIFO + drop-expired and either
/// operator action alone do not.
#[test]
#[ignore = "slow shape test: cargo test --release -- --include-ignored"]
fn remediation_variants_have_the_expected_verdicts() {
    let sc = shipped(420.0, 10.0);
    let seed = 1;
    for (name, want) in [
        ("lifo", Verdict::Recovered),
        ("jittered-renewal", Verdict::Metastable),
        ("drop-expired", Verdict::Metastable),
        ("restart-only", Verdict::Metastable),
        ("throttle-only", Verdict::Metastable),
    ] {
        let r = metastable::run(variant(&sc, name), seed);
        assert_eq!(r.analysis().verdict, want, "{}", reproduce(name, seed));
    }
}

#[test]
fn same_seed_same_bytes_and_seeds_differ() {
    let sc = shipped(200.0, 10.0);
    let a = metastable::run(&sc, 7).windows_csv().expect("csv");
    let b = metastable::run(&sc, 7).windows_csv().expect("csv");
    assert!(a == b, "seed 7: two runs differ");
    let c = metastable::run(&sc, 8).windows_csv().expect("csv");
    assert!(a != c, "seeds 7 and 8 gave identical output");
}

// ---------------------------------------------------------------------------------------------
// Schema errors
// ---------------------------------------------------------------------------------------------

const SMALL: &str = r#"[scenario]
name = "lease-small"
duration_s = 600.0

[[clients]]
name = "launches"
target = "ec2"
rate_per_s = 10.0

[[services]]
name = "ec2"
servers = 4
service_time = { dist = "exponential", mean_ms = 5.0 }

[[services]]
name = "db"
servers = 4
service_time = { dist = "exponential", mean_ms = 5.0 }

[[lease_manager]]
name = "dwfm"
droplets = 1000
hosts = 4
check_interval_s = 60.0
lease_ttl_s = 600.0
job_timeout_s = 30.0
renew_time = { dist = "constant", value_ms = 10.0 }
establish_time = { dist = "constant", value_ms = 100.0 }
depends_on = "db"
serves = "ec2"

[[actions]]
at_s = 100.0
action = "lease_throttle"
target = "dwfm"
value = 5.0
"#;

fn edit(from: &str, to: &str) -> String {
    assert_eq!(SMALL.matches(from).count(), 1, "{from:?}");
    SMALL.replacen(from, to, 1)
}

fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("{needle:?} not in text"))
        + 1
}

/// `text` is rejected with an issue at `field` on the line containing `at`, whose message
/// contains `msg`.
fn rejected(text: &str, at: &str, field: &str, msg: &str) {
    let e = match metastable::parse(text, "x.toml") {
        Ok(_) => panic!("accepted; expected {field}: {msg}"),
        Err(e) => e,
    };
    let line = line_of(text, at);
    assert!(
        e.issues()
            .iter()
            .any(|i| i.line == line && i.field == field && i.message.contains(msg)),
        "expected line {line} {field}: …{msg}…, got:\n{e}"
    );
}

#[test]
fn small_lease_scenario_is_valid_and_runs() {
    let sc = metastable::parse(SMALL, "x.toml").unwrap_or_else(|e| panic!("{e}"));
    let r = metastable::run(&sc, 1);
    let v = r.summary_of("dwfm").expect("dwfm in the report");
    assert!(v.renewals.unwrap_or(0) > 0);
    assert!(v.lease_fraction_mean.is_some_and(|f| f > 0.99));
}

#[test]
fn bad_lease_manager_fields_name_line_and_field() {
    rejected(
        &edit("droplets = 1000", "droplets = 0"),
        "droplets = 0",
        "lease_manager[0].droplets",
        "must be an integer in 1..=10000000",
    );
    rejected(
        &edit("hosts = 4", "hosts = -1"),
        "hosts = -1",
        "lease_manager[0].hosts",
        "must be an integer",
    );
    rejected(
        &edit("job_timeout_s = 30.0", "job_timeout_s = -3.0"),
        "job_timeout_s",
        "lease_manager[0].job_timeout_s",
        "must be > 0",
    );
    rejected(
        &edit("depends_on = \"db\"", "depends_on = \"dynamo\""),
        "depends_on",
        "lease_manager[0].depends_on",
        "no service named \"dynamo\"",
    );
    rejected(
        &edit("serves = \"ec2\"", "serves = \"launch\""),
        "serves",
        "lease_manager[0].serves",
        "no service named",
    );
    rejected(
        &edit(
            "lease_ttl_s = 600.0",
            "lease_ttl_s = 600.0\nlease_ttl = { dist = \"constant\", value_ms = 1.0 }",
        ),
        "lease_ttl = {",
        "lease_manager[0].lease_ttl",
        "not both",
    );
    rejected(
        &edit(
            "check_interval_s = 60.0",
            "check_interval_s = 60.0\njitter_fraction = 0.3",
        ),
        "jitter_fraction",
        "lease_manager[0].jitter_fraction",
        "only applies with renewal_jitter",
    );
    rejected(
        &edit(
            "check_interval_s = 60.0",
            "check_interval_s = 60.0\nrenewal_jitter = \"jittered\"\njitter_fraction = 1.5",
        ),
        "jitter_fraction",
        "lease_manager[0].jitter_fraction",
        "must be in (0, 1)",
    );
    rejected(
        &edit("name = \"dwfm\"", "name = \"db\" # clash"),
        "# clash",
        "lease_manager[0].name",
        "duplicate name",
    );
    rejected(
        &edit(
            "establish_time = { dist = \"constant\", value_ms = 100.0 }",
            "establish_time = { dist = \"constant\", value_ms = -1.0 }",
        ),
        "establish_time",
        "lease_manager[0].establish_time.value_ms",
        "must be > 0",
    );
    rejected(
        &edit("hosts = 4", "hosts = 4\nmax_queue = 0"),
        "max_queue",
        "lease_manager[0].max_queue",
        "must be an integer in 1..",
    );
}

#[test]
fn bad_lease_actions_name_line_and_field() {
    rejected(
        &edit("target = \"dwfm\"", "target = \"dwm\""),
        "target = \"dwm\"",
        "actions[0].target",
        "no lease manager named \"dwm\"",
    );
    rejected(
        &edit("value = 5.0", "value = -5.0"),
        "value = -5.0",
        "actions[0].value",
        "must be > 0",
    );
    let restart = edit("action = \"lease_throttle\"", "action = \"restart_hosts\"");
    let bad = restart.replacen("value = 5.0", "value = 2.5", 1);
    rejected(
        &bad,
        "value = 2.5",
        "actions[0].value",
        "a fraction in (0, 1] or a whole number of hosts in 2..=4",
    );
    let bad = restart.replacen("value = 5.0", "value = 9.0", 1);
    rejected(&bad, "value = 9.0", "actions[0].value", "2..=4");
    let trigger = format!(
        "{SMALL}\n[[triggers]]\nfrom_s = 1.0\nto_s = 2.0\naction = \"restart_hosts\"\ntarget = \"dwfm\"\nvalue = 1.0\n"
    );
    rejected(
        &trigger,
        "action = \"restart_hosts\"",
        "triggers[0].action",
        "a trigger must break something",
    );
    rejected(
        &edit("value = 5.0", "value = 5.0\nlabel = \"x\"").replacen(
            "action = \"lease_throttle\"",
            "action = \"lease_unthrottle\"",
            1,
        ),
        "value = 5.0",
        "actions[0].value",
        "takes no value",
    );
}

/// The CLI: exit code 2, the file, line and field on stderr, nothing written.
#[test]
fn cli_rejects_a_bad_lease_manager_with_exit_2_and_writes_nothing() {
    let dir = std::env::temp_dir().join(format!("metastable-lease-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("tmp dir");
    let file = dir.join("bad.toml");
    let text = edit("droplets = 1000", "droplets = 100000000");
    std::fs::write(&file, &text).expect("write");
    let out = dir.join("out");
    let o = Command::new(env!("CARGO_BIN_EXE_metastable"))
        .args(["run", file.to_str().expect("utf8"), "--out"])
        .arg(&out)
        .output()
        .expect("run metastable");
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(2), "{stderr}");
    let want = format!(
        "{}:{}:",
        file.display(),
        line_of(&text, "droplets = 100000000")
    );
    assert!(
        stderr.contains(&want) && stderr.contains("lease_manager[0].droplets"),
        "{stderr}"
    );
    assert!(!out.exists(), "nothing may be written");
    let _ = std::fs::remove_dir_all(&dir);
}
