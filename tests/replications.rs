//! Replications (`run --replications N`) and robustness (`metastable robustness`): the
//! quantile definition, seeds and common random numbers, byte-identical outputs for any
//! number of threads, knife edges across a known stability boundary, and bad input.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use metastable::robust::stats::{Dist, quantile};

const BIN: &str = env!("CARGO_BIN_EXE_metastable");
const MANIFEST_DIR: &str = env!("CARGO_MANIFEST_DIR");

/// A textbook retry storm on one M/M/1 server, with an operator who adds a second server.
///
/// The server does μ = 1 / 10 ms = 100 requests/s. Each call makes up to k = 2 attempts with a
/// 1 s timeout, and the FIFO queue serves work whose caller has left. Healthy, at λ calls/s,
/// the load is λ (ρ = λ/μ; at ρ ≤ 0.55 the chance that an M/M/1 wait exceeds the 1 s timeout
/// is ρ·e^{−(μ−λ)·1 s} < 1e-19, so no retries happen). The 10 s spike to 300 calls/s leaves a
/// backlog of about (300 − 100) × 10 = 2 000 requests, 20 s of work: every attempt then times
/// out and is retried, so the offered load becomes k·λ. The backlog drains if and only if
/// k·λ < μ, i.e. λ < μ/k = 50 calls/s — the stability boundary of the bad state.
///
/// - λ = 44: the bad state drains (2·44 = 88 < 100); at ×1.25, λ = 55 and 2·55 = 110 > 100:
///   without the operator's second server the backlog grows for ever. The shape flips (heals
///   by itself: yes → no): a knife edge.
/// - λ = 30: 2·30·1.25 = 75 < 100 and 2·30·0.75 = 45: the same shape both ways, no knife edge.
///
/// With the operator (2 servers, μ = 200 from t = 150 s) every case recovers.
fn storm(rate: f64) -> String {
    format!(
        r#"[scenario]
name = "mm1-storm"
description = "M/M/1 retry storm: 2 attempts, 1 s timeout, 10 s spike"
duration_s = 600.0
warmup_s = 20.0
window_ms = 1000.0
seed = 3

[[clients]]
name = "users"
target = "db"
rate_per_s = {rate:.1}
timeout_ms = 1000.0
retry = {{ max_attempts = 2 }}

[[services]]
name = "db"
servers = 1
service_time = {{ dist = "exponential", mean_ms = 10.0 }}

[[triggers]]
from_s = 60.0
to_s = 70.0
action = "rate"
target = "users"
value = 300.0
label = "spike"

[[actions]]
at_s = 150.0
action = "servers"
target = "db"
value = 2
label = "add a second server"

[analysis]
recovery_fraction = 0.95
sustain_s = 30.0

[incident]
title = "textbook retry storm"
published = {{ trigger_min = 0.2, tail_min = 1.5, heals_by_itself = true }}
inferred = ["clients[users].rate_per_s"]

[[variants]]
name = "no-retries"
set."clients[users].retry.max_attempts" = 1
"#
    )
}

/// A temporary directory named after the test and the process, removed on drop.
struct TempDir(PathBuf);

impl TempDir {
    fn new(test: &str) -> TempDir {
        let path = std::env::temp_dir().join(format!(
            "metastable-replications-{test}-{}",
            std::process::id()
        ));
        let _ = std::fs::remove_dir_all(&path);
        std::fs::create_dir_all(&path).expect("creating temp dir");
        TempDir(path)
    }
    fn join(&self, name: &str) -> PathBuf {
        self.0.join(name)
    }
    fn write(&self, name: &str, text: &str) -> PathBuf {
        let p = self.join(name);
        std::fs::write(&p, text).expect("writing test file");
        p
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

fn metastable(args: &[&str], threads: Option<&str>) -> Output {
    let mut c = Command::new(BIN);
    c.args(args).current_dir(MANIFEST_DIR);
    if let Some(t) = threads {
        c.env("RAYON_NUM_THREADS", t);
    }
    c.output().expect("running metastable")
}

fn ok(out: &Output, what: &str) -> String {
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "{what}: exit {:?}\nstdout:\n{stdout}\nstderr:\n{}",
        out.status.code(),
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

/// Rows of a CSV as maps from column to cell.
fn rows(path: &Path) -> Vec<std::collections::BTreeMap<String, String>> {
    let mut r = csv::Reader::from_path(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let header: Vec<String> = r
        .headers()
        .expect("header")
        .iter()
        .map(str::to_string)
        .collect();
    r.records()
        .map(|rec| {
            let rec = rec.expect("record");
            header
                .iter()
                .cloned()
                .zip(rec.iter().map(str::to_string))
                .collect()
        })
        .collect()
}

#[test]
fn quantiles_are_type_7() {
    // Hand-computed: h = (n − 1)·q, x[⌊h⌋] + frac(h)·(x[⌊h⌋+1] − x[⌊h⌋]).
    let x = [2.0, 4.0, 8.0, 16.0, 32.0];
    assert_eq!(quantile(&x, 0.5), Some(8.0)); // h = 2
    assert_eq!(quantile(&x, 0.25), Some(4.0)); // h = 1
    assert_eq!(quantile(&x, 0.1), Some(2.8)); // h = 0.4: 2 + 0.4·2
    assert_eq!(quantile(&x, 0.9), Some(25.6)); // h = 3.6: 16 + 0.6·16
    let y = [3.0, 1.0, 2.0, 10.0]; // sorted 1 2 3 10; h = 0.75, 1.5, 2.25
    let d = Dist::of(y).expect("non-empty");
    assert_eq!((d.q1, d.median, d.q3), (1.75, 2.5, 4.75));
    assert_eq!((d.min, d.max, d.n), (1.0, 10.0, 4));
    assert_eq!(quantile(&[5.0], 0.75), Some(5.0));
    assert_eq!(quantile(&[], 0.5), None);
}

#[test]
fn replications_give_one_row_per_variant_and_seed_and_match_a_plain_run() {
    let dir = TempDir::new("rows");
    let out = dir.join("out");
    // hotos-retry-140: 0.04 s per run in a release build; scenario seed 1, so seeds 5..=7.
    let stdout = ok(
        &metastable(
            &[
                "run",
                "scenarios/hotos-retry-140.toml",
                "--replications",
                "3",
                "--seed",
                "5",
                "--out",
                s(&out),
            ],
            None,
        ),
        "hotos-retry-140 --replications 3 --seed 5",
    );
    assert!(
        stdout.contains("seeds 5..=7"),
        "seed range missing:\n{stdout}"
    );
    let r = rows(&out.join("replications.csv"));
    let seeds: Vec<(&str, &str)> = r
        .iter()
        .map(|m| (m["variant"].as_str(), m["seed"].as_str()))
        .collect();
    assert_eq!(
        seeds,
        [("baseline", "5"), ("baseline", "6"), ("baseline", "7")]
    );
    assert!(
        !out.join("incident.csv").exists(),
        "no [incident]: no incident.csv"
    );
    assert!(
        !out.join("windows.csv").exists(),
        "no per-run files with --replications"
    );
    // Same seed, same result: replication 0 is the plain run with seed 5.
    let sc = metastable::load(&PathBuf::from(MANIFEST_DIR).join("scenarios/hotos-retry-140.toml"))
        .expect("loads");
    let plain = metastable::run(&sc, 5);
    let a = plain.analysis();
    assert_eq!(
        r[0]["verdict"],
        a.verdict.as_str(),
        "seed 5: replication verdict differs from run --seed 5"
    );
    assert_eq!(
        r[0]["events"],
        plain.stats.events.to_string(),
        "seed 5: event counts differ"
    );
    // And the binary's plain run says the same.
    let plain_out = dir.join("plain");
    let text = ok(
        &metastable(
            &[
                "run",
                "scenarios/hotos-retry-140.toml",
                "--seed",
                "5",
                "--out",
                s(&plain_out),
            ],
            None,
        ),
        "hotos-retry-140 --seed 5",
    );
    assert!(
        text.contains(&format!("verdict: {}", r[0]["verdict"])),
        "seed 5: plain run's verdict is not {}:\n{text}",
        r[0]["verdict"]
    );
}

#[test]
fn variants_share_seeds_and_the_incident_is_a_distribution() {
    let dir = TempDir::new("variants");
    let file = dir.write("storm.toml", &storm(44.0));
    let out = dir.join("out");
    let stdout = ok(
        &metastable(
            &["run", s(&file), "--replications", "4", "--out", s(&out)],
            None,
        ),
        "storm --replications 4 (seeds 3..=6)",
    );
    let r = rows(&out.join("replications.csv"));
    let got: Vec<String> = r
        .iter()
        .map(|m| format!("{}/{}", m["variant"], m["seed"]))
        .collect();
    let mut want = Vec::new();
    for v in ["baseline", "no-retries", "without-operator-actions"] {
        for seed in 3..=6 {
            want.push(format!("{v}/{seed}"));
        }
    }
    assert_eq!(got, want, "rows must be variant order, then seed order");
    // λ = 44 < 50: every run recovers, with or without the operator.
    for m in &r {
        assert_eq!(
            m["verdict"], "recovered",
            "{} seed {}: expected recovered",
            m["variant"], m["seed"]
        );
    }
    let inc = rows(&out.join("incident.csv"));
    let heal = inc
        .iter()
        .find(|m| m["quantity"] == "heals_by_itself")
        .expect("heals_by_itself row");
    assert_eq!(
        (
            heal["variant"].as_str(),
            heal["n"].as_str(),
            heal["share"].as_str()
        ),
        ("without-operator-actions", "4", "1.000"),
        "seeds 3..=6"
    );
    let tail = inc
        .iter()
        .find(|m| m["variant"] == "baseline" && m["quantity"] == "tail_min")
        .expect("baseline tail row");
    assert_eq!(tail["n"], "4", "seeds 3..=6");
    assert_eq!(tail["published"], "1.500");
    assert_eq!(tail["seeds"], "3..=6");
    let (q1, med, q3): (f64, f64, f64) = (
        tail["q1"].parse().expect("q1"),
        tail["median"].parse().expect("median"),
        tail["q3"].parse().expect("q3"),
    );
    assert!(q1 <= med && med <= q3, "seeds 3..=6: {q1} {med} {q3}");
    assert!(stdout.contains("heals w/o operator actions"), "{stdout}");
}

#[test]
fn outputs_are_byte_identical_for_one_and_two_threads() {
    let dir = TempDir::new("threads");
    let file = dir.write("storm.toml", &storm(44.0));
    let mut outputs = Vec::new();
    for threads in ["1", "2"] {
        let out = dir.join(&format!("out-{threads}"));
        ok(
            &metastable(
                &["run", s(&file), "--replications", "5", "--out", s(&out)],
                Some(threads),
            ),
            "storm --replications 5 (seeds 3..=7)",
        );
        ok(
            &metastable(
                &["robustness", s(&file), "--seeds", "3", "--out", s(&out)],
                Some(threads),
            ),
            "storm robustness (seeds 3..=5)",
        );
        let read = |n: &str| std::fs::read(out.join(n)).unwrap_or_else(|e| panic!("{n}: {e}"));
        outputs.push([
            read("replications.csv"),
            read("incident.csv"),
            read("robustness.csv"),
        ]);
    }
    for (i, name) in ["replications.csv", "incident.csv", "robustness.csv"]
        .iter()
        .enumerate()
    {
        assert!(
            outputs[0][i] == outputs[1][i],
            "{name} differs between RAYON_NUM_THREADS=1 and 2 (seeds 3..=7 / 3..=5)"
        );
    }
}

#[test]
fn robustness_flags_the_stability_boundary_and_nothing_else() {
    let dir = TempDir::new("knife");
    for (rate, knife) in [(44.0, true), (30.0, false)] {
        let file = dir.write(&format!("storm-{rate}.toml"), &storm(rate));
        let out = dir.join(&format!("out-{rate}"));
        let stdout = ok(
            &metastable(&["robustness", s(&file), "--out", s(&out)], None),
            &format!("robustness at λ = {rate} (seeds 3..=7)"),
        );
        let r = rows(&out.join("robustness.csv"));
        assert_eq!(r.len(), 3, "base + 2 directions:\n{stdout}");
        assert_eq!(r[0]["direction"], "base");
        assert_eq!(r[0]["heals_by_itself"], "true", "λ = {rate}, seeds 3..=7");
        let up = &r[2];
        assert_eq!(up["direction"], "+25%");
        assert_eq!(
            up["knife_edge"],
            knife.to_string(),
            "λ = {rate} × 1.25, seeds {}: {stdout}",
            up["seeds"]
        );
        assert_eq!(r[1]["knife_edge"], "false", "λ = {rate} × 0.75: {stdout}");
        if knife {
            assert_eq!(up["heals_by_itself"], "false", "λ = 55 > μ/k = 50");
            assert!(up["flipped"].contains("heals"), "{:?}", up["flipped"]);
            assert!(
                stdout.contains("knife edges within ±25 %:\n  clients[users].rate_per_s +25%"),
                "{stdout}"
            );
        } else {
            assert!(
                stdout.contains("knife edges: none within ±25 %"),
                "{stdout}"
            );
        }
    }
}

#[test]
fn perturbations_that_do_not_validate_are_reported_and_integers_round() {
    let dir = TempDir::new("invalid");
    let text = storm(30.0)
        .replace(
            "inferred = [\"clients[users].rate_per_s\"]",
            "inferred = [\"analysis.recovery_fraction\", \"actions[add a second server].value\", \"services[db].servers\"]",
        );
    let file = dir.write("storm.toml", &text);
    let out = dir.join("out");
    let stdout = ok(
        &metastable(
            &["robustness", s(&file), "--seeds", "2", "--out", s(&out)],
            None,
        ),
        "robustness with invalid perturbations (seeds 3..=4)",
    );
    let r = rows(&out.join("robustness.csv"));
    let find = |path: &str, dir: &str| {
        r.iter()
            .find(|m| m["path"] == path && m["direction"] == dir)
            .unwrap_or_else(|| panic!("no row {path} {dir}:\n{stdout}"))
            .clone()
    };
    // 0.95 × 1.25 > 1: out of range, reported with the file and the field.
    let over = find("analysis.recovery_fraction", "+25%");
    assert!(
        over["status"].starts_with("invalid: ") && over["status"].contains("recovery_fraction"),
        "{over:?}"
    );
    assert_eq!(find("analysis.recovery_fraction", "-25%")["status"], "ok");
    // An integer field: 2 × 0.75 = 1.5 rounds to 2 (no change); 2 × 1.25 = 2.5 rounds to 3.
    let down = find("actions[add a second server].value", "-25%");
    assert!(down["status"].starts_with("no change"), "{down:?}");
    let up = find("actions[add a second server].value", "+25%");
    assert_eq!(
        (up["status"].as_str(), up["perturbed_value"].as_str()),
        ("ok", "3"),
        "{up:?}"
    );
    // servers = 1: × 0.75 and × 1.25 both round to 1.
    assert!(find("services[db].servers", "+25%")["status"].starts_with("no change"));
}

#[test]
fn bad_input_exits_2_and_names_the_file_and_field() {
    let dir = TempDir::new("bad");
    let out = dir.join("out");
    let storm44 = dir.write("storm.toml", &storm(44.0));
    let no_inferred = dir.write(
        "no-inferred.toml",
        &storm(44.0).replace("inferred = [\"clients[users].rate_per_s\"]\n", ""),
    );
    let bad_text = storm(44.0).replace(
        "inferred = [\"clients[users].rate_per_s\"]",
        "inferred = [\"clients[users].rate_per_s\",\n  \"services[nope].servers\", \"scenario.name\", \"clients[users].timeout_s\"]",
    );
    let bad_line = 1 + bad_text
        .lines()
        .position(|l| l.contains("services[nope]"))
        .expect("edited line");
    let bad_path = dir.write("bad-path.toml", &bad_text);
    let cases: Vec<(Vec<&str>, Vec<String>)> = vec![
        (
            vec!["robustness", "scenarios/mm1.toml"],
            vec!["scenarios/mm1.toml".into(), "[incident]".into()],
        ),
        (
            vec!["robustness", s(&no_inferred)],
            vec![s(&no_inferred).into(), "inferred".into()],
        ),
        (
            vec!["robustness", s(&bad_path)],
            vec![
                format!("{}:{bad_line}:3: incident.inferred[1]", s(&bad_path)),
                "incident.inferred[1]".into(),
                "no entry [nope]".into(),
                "incident.inferred[2]".into(),
                "not a number".into(),
                "incident.inferred[3]".into(),
                "not written in the file".into(),
            ],
        ),
        (
            vec!["run", s(&bad_path), "--replications", "2"],
            vec![
                format!("{}:{bad_line}:3: incident.inferred[1]", s(&bad_path)),
                "incident.inferred[1]".into(),
            ],
        ),
        (
            vec!["robustness", "scenarios/no-such-file.toml"],
            vec!["scenarios/no-such-file.toml".into()],
        ),
        (
            vec!["robustness", s(&storm44), "--perturb", "0"],
            vec!["--perturb".into()],
        ),
        (
            vec!["robustness", s(&storm44), "--perturb", "100%"],
            vec!["--perturb".into()],
        ),
        (
            vec!["robustness", s(&storm44), "--seeds", "0"],
            vec!["--seeds".into()],
        ),
        (
            vec!["run", s(&storm44), "--replications", "0"],
            vec!["--replications 0".into(), s(&storm44).into()],
        ),
        (
            vec!["run", s(&storm44), "--replications", "10001"],
            vec!["--replications 10001".into()],
        ),
        (
            vec![
                "run",
                s(&storm44),
                "--replications",
                "2",
                "--variant",
                "nope",
            ],
            vec!["\"nope\"".into(), s(&storm44).into(), "no-retries".into()],
        ),
    ];
    for (args, needles) in cases {
        let mut all = args.clone();
        all.extend(["--out", s(&out)]);
        let o = metastable(&all, None);
        let stderr = String::from_utf8_lossy(&o.stderr);
        assert_eq!(o.status.code(), Some(2), "{args:?}: {stderr}");
        for n in &needles {
            assert!(
                stderr.contains(n.as_str()),
                "{args:?}: {n:?} not in:\n{stderr}"
            );
        }
        assert!(!stderr.contains("panicked"), "{args:?}: {stderr}");
        assert!(!out.exists(), "{args:?}: wrote output despite bad input");
    }
}
