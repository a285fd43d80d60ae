//! Determinism: a run is a pure function of (scenario, seed).

use metastable::{parse, run};

const BASE: &str = r#"
[scenario]
name = "det"
duration_s = 300.0
warmup_s = 10.0
window_ms = 1000.0

[[sources]]
name = "users"
sink = "done"
target = "api"
schedule = [ { at_s = 0.0, rate_per_s = 300.0 }, { at_s = 100.0, rate_per_s = 450.0 }, { at_s = 150.0, rate_per_s = 300.0 } ]

[[services]]
name = "api"
servers = 4
queue_capacity = 200
service_time = { dist = "lognormal", mean_ms = 10.0, cv = 1.5 }

[[sinks]]
name = "done"
"#;

/// An unrelated subsystem added to BASE: its own source, service and sink.
const EXTRA: &str = r#"
[[sources]]
name = "batch"
target = "worker"
sink = "batch_done"
rate_per_s = 50.0

[[services]]
name = "worker"
servers = 1
service_time = { dist = "exponential", mean_ms = 15.0 }

[[sinks]]
name = "batch_done"
"#;

fn csvs(text: &str, seed: u64) -> (String, String) {
    let sc = parse(text, "det.toml").unwrap_or_else(|e| panic!("scenario invalid: {e}"));
    let r = run(&sc, seed);
    let w = String::from_utf8(r.windows_csv().expect("csv")).expect("utf8");
    let s = String::from_utf8(r.summary_csv().expect("csv")).expect("utf8");
    (w, s)
}

/// Rows of `csv` whose `component` column (2nd) is one of `names`.
/// Index of column `name` in the CSV's header.
fn column(csv: &str, name: &str) -> usize {
    let header = csv.lines().next().unwrap_or("");
    header
        .split(',')
        .position(|h| h == name)
        .unwrap_or_else(|| panic!("no column {name:?} in header {header:?}"))
}

fn rows_of(csv: &str, names: &[&str]) -> Vec<String> {
    let col = column(csv, "component");
    csv.lines()
        .filter(|l| names.contains(&l.split(',').nth(col).unwrap_or("")))
        .map(str::to_string)
        .collect()
}

#[test]
fn same_seed_gives_identical_bytes() {
    for seed in [0u64, 1, 42, u64::MAX] {
        let a = csvs(BASE, seed);
        let b = csvs(BASE, seed);
        assert!(
            a == b,
            "seed {seed}: two runs differ; reproduce: cargo test --test determinism"
        );
        assert!(
            a.0.lines().count() > 300,
            "seed {seed}: expected one row per window and component"
        );
    }
}

#[test]
fn different_seeds_give_different_results() {
    let a = csvs(BASE, 1);
    let b = csvs(BASE, 2);
    assert_ne!(
        a.0, b.0,
        "seeds 1 and 2 produced identical windows: seed is not used"
    );
}

#[test]
fn adding_an_unrelated_component_leaves_others_byte_identical() {
    let with_extra = format!("{BASE}{EXTRA}");
    for seed in [3u64, 17] {
        let (wa, _) = csvs(BASE, seed);
        let (wb, _) = csvs(&with_extra, seed);
        let names = ["users", "api", "done"];
        let ra = rows_of(&wa, &names);
        let rb = rows_of(&wb, &names);
        assert_eq!(ra.len(), rb.len(), "seed {seed}");
        for (x, y) in ra.iter().zip(&rb) {
            assert_eq!(
                x, y,
                "seed {seed}: adding an unrelated subsystem changed a row"
            );
        }
        assert!(
            !rows_of(&wb, &["worker"]).is_empty(),
            "seed {seed}: extra component missing"
        );
    }
}

/// Common random numbers: changing a service's design leaves the arrival stream identical.
#[test]
fn changing_a_service_leaves_the_arrival_stream_identical() {
    let variant = BASE.replace("servers = 4", "servers = 8");
    let (wa, _) = csvs(BASE, 5);
    let (wb, _) = csvs(&variant, 5);
    // first_tries is the arrival stream itself (a source's other columns, such as its
    // successes, depend on the service and may differ).
    let first_tries = |csv: &str| -> Vec<String> {
        let col = column(csv, "first_tries");
        let rows = rows_of(csv, &["users"]);
        rows.iter()
            .map(|r| r.split(',').nth(col).unwrap_or("").to_string())
            .collect()
    };
    assert!(
        first_tries(&wa) == first_tries(&wb),
        "seed 5: arrivals changed"
    );
    assert_ne!(
        rows_of(&wa, &["api"]),
        rows_of(&wb, &["api"]),
        "seed 5: the design change had no effect"
    );
}

#[test]
fn the_binary_writes_identical_files_for_the_same_seed() {
    let bin = env!("CARGO_BIN_EXE_metastable");
    let scenario = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/mm1.toml");
    let base = std::env::temp_dir().join(format!("metastable-det-{}", std::process::id()));
    let mut outputs = Vec::new();
    for k in 0..2 {
        let out = base.join(k.to_string());
        let st = std::process::Command::new(bin)
            .args(["run", scenario, "--seed", "9", "--quiet", "--out"])
            .arg(&out)
            .status()
            .expect("run binary");
        assert!(st.success(), "metastable run {scenario} --seed 9 failed");
        let w = std::fs::read(out.join("windows.csv")).expect("windows.csv");
        let s = std::fs::read(out.join("summary.csv")).expect("summary.csv");
        outputs.push((w, s));
    }
    let _ = std::fs::remove_dir_all(&base);
    assert!(
        outputs[0] == outputs[1],
        "reproduce: metastable run scenarios/mm1.toml --seed 9 (twice) gives different bytes"
    );
}

/// Random patience draws from its own stream (`<client>/patience`): giving one subsystem
/// impatient callers and queue abandonment leaves the other subsystem's rows byte-identical,
/// leaves the impatient source's own arrival stream identical, and is itself deterministic.
#[test]
fn patience_draws_from_its_own_stream() {
    let impatient = EXTRA
        .replace(
            "rate_per_s = 50.0\n",
            "rate_per_s = 80.0\npatience = { dist = \"exponential\", mean_ms = 20.0 }\n",
        )
        .replace("servers = 1\n", "servers = 1\nqueue_abandonment = true\n");
    let patient = EXTRA.replace("rate_per_s = 50.0\n", "rate_per_s = 80.0\n");
    for seed in [3u64, 17] {
        let (wa, _) = csvs(&format!("{BASE}{patient}"), seed);
        let (wb, sb) = csvs(&format!("{BASE}{impatient}"), seed);
        let names = ["users", "api", "done"];
        assert!(
            rows_of(&wa, &names) == rows_of(&wb, &names),
            "seed {seed}: patience in another subsystem changed a row; reproduce: cargo test --test determinism patience"
        );
        let first_tries = |csv: &str| -> Vec<String> {
            let col = column(csv, "first_tries");
            rows_of(csv, &["batch"])
                .iter()
                .map(|r| r.split(',').nth(col).unwrap_or("").to_string())
                .collect()
        };
        assert!(
            first_tries(&wa) == first_tries(&wb),
            "seed {seed}: patience changed the arrival stream"
        );
        assert_ne!(
            rows_of(&wa, &["worker"]),
            rows_of(&wb, &["worker"]),
            "seed {seed}: patience had no effect"
        );
        let expired = column(&sb, "expired");
        let worker = rows_of(&sb, &["worker"]);
        let n: u64 = worker[0]
            .split(',')
            .nth(expired)
            .unwrap_or("")
            .parse()
            .unwrap_or(0);
        assert!(n > 0, "seed {seed}: nobody abandoned the worker's queue");
        assert!(
            csvs(&format!("{BASE}{impatient}"), seed) == (wb.clone(), sb.clone()),
            "seed {seed}: two runs with patience differ"
        );
    }
}
