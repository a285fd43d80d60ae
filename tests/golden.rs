//! Golden outputs: every shipped scenario and pattern (at its own seed, every variant) and every shipped
//! sweep and map, run through the `metastable` binary exactly as a user runs them, must give
//! the CSV bytes pinned in `tests/golden/outputs.sha256` (one `sha256  path` line per file, the
//! format `sha256sum -c` reads). Refactors must leave these bytes alone; a change that is meant
//! to change results re-pins them and says why in its commit:
//!
//! ```sh
//! METASTABLE_BLESS=1 cargo test --release --test golden -- --ignored
//! ```
//!
//! The same runs also check that every scenario and variant ran to its horizon with the window
//! count its duration implies (formerly `every_shipped_scenario_validates_and_completes`).
//! Figures (PNG, SVG) are not pinned: their data are the pinned CSVs.
//!
//! Slow (every shipped run, about a minute with `--release` on 2 cores), so it is `#[ignore]`d
//! in the quick suite and run by `cargo test --release -- --include-ignored` (the README's test
//! command and `.ci/run`).

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use sha2::{Digest, Sha256};

const PINNED: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/golden/outputs.sha256");

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

fn toml_files(dir: &str) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(root().join(dir))
        .unwrap_or_else(|e| panic!("{dir}/: {e}"))
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

/// What one job wrote: its CSV files (relative path, bytes) and the command that reproduces it.
type Written = (Vec<(String, Vec<u8>)>, String);

/// One job: a command line for the binary and the output directory it writes.
struct Job {
    key: String,
    args: Vec<String>,
    out: PathBuf,
}

fn jobs(out_root: &Path) -> Vec<Job> {
    let mut jobs = Vec::new();
    for (dir, prefix) in [("scenarios", "run"), ("patterns", "pattern")] {
        for f in toml_files(dir) {
            let name = f.file_stem().expect("stem").to_string_lossy().into_owned();
            let out = out_root.join(prefix).join(&name);
            jobs.push(Job {
                key: format!("{prefix}/{name}"),
                args: vec![
                    "run".into(),
                    f.display().to_string(),
                    "--out".into(),
                    out.display().to_string(),
                    "--quiet".into(),
                ],
                out,
            });
        }
    }
    for f in toml_files("sweeps") {
        let name = f.file_stem().expect("stem").to_string_lossy().into_owned();
        let text = std::fs::read_to_string(&f).expect("sweep file");
        let verb = if text.lines().any(|l| l.trim() == "[map]") {
            "map"
        } else {
            "sweep"
        };
        let out = out_root.join("sweep").join(&name);
        jobs.push(Job {
            key: format!("sweep/{name}"),
            args: vec![
                verb.into(),
                f.display().to_string(),
                "--out".into(),
                out.display().to_string(),
                "--jobs".into(),
                "1".into(),
            ],
            out,
        });
    }
    jobs
}

/// Every `*.csv` below `dir`, as `(path relative to dir, bytes)`, sorted.
fn csv_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    let mut out = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap_or_else(|e| panic!("{}: {e}", d.display())) {
            let p = e.expect("dir entry").path();
            if p.is_dir() {
                stack.push(p);
            } else if p.extension().is_some_and(|x| x == "csv") {
                let rel = p.strip_prefix(dir).expect("below dir");
                let rel = rel.to_string_lossy().replace('\\', "/");
                out.push((rel, std::fs::read(&p).expect("read csv")));
            }
        }
    }
    out.sort();
    out
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The index of `name` in a CSV header line.
fn column(header: &str, name: &str) -> usize {
    header
        .split(',')
        .position(|c| c == name)
        .unwrap_or_else(|| panic!("no column {name} in {header}"))
}

/// What the old completion test asserted, on the binary's own output: every summary row says
/// the run stopped at its horizon, and every component has one `windows.csv` row per window.
fn check_complete(key: &str, files: &[(String, Vec<u8>)], reproduce: &str) {
    let (dir, name) = match key.split_once('/') {
        Some(("pattern", name)) => ("patterns", name),
        Some((_, name)) => ("scenarios", name),
        None => ("scenarios", key),
    };
    let scenario = metastable::load(&root().join(dir).join(format!("{name}.toml")))
        .unwrap_or_else(|e| panic!("{key}: {e}"));
    // Each variant's own window count (a variant may change the duration or the window).
    let mut windows: BTreeMap<String, u64> = scenario
        .with_variants()
        .into_iter()
        .map(|sc| {
            let dir = if scenario.variants.is_empty() {
                String::new()
            } else {
                format!("{}/", sc.variant_name())
            };
            (dir, sc.n_windows())
        })
        .collect();
    // An incident's counterfactual (the file without its operator actions) has the file's
    // duration.
    windows.insert(
        format!("{}/", metastable::scenario::WITHOUT_OPERATORS),
        scenario.n_windows(),
    );
    let mut summaries = 0;
    for (rel, bytes) in files {
        let text = std::str::from_utf8(bytes).expect("utf-8 csv");
        let mut lines = text.lines();
        let header = lines.next().unwrap_or("");
        let dir = rel
            .rsplit_once('/')
            .map_or(String::new(), |(d, _)| format!("{d}/"));
        if rel.ends_with("summary.csv") {
            summaries += 1;
            let stop = column(header, "stop_reason");
            for line in lines {
                let cell = line.split(',').nth(stop).unwrap_or("");
                assert_eq!(
                    cell, "horizon",
                    "{key} {rel}: stopped by {cell} (reproduce: {reproduce})"
                );
            }
        } else if rel.ends_with("windows.csv") {
            let comp = column(header, "component");
            let mut rows: BTreeMap<&str, u64> = BTreeMap::new();
            for line in lines {
                let name = line.split(',').nth(comp).unwrap_or("");
                *rows.entry(name).or_default() += 1;
            }
            let n_windows = *windows
                .get(&dir)
                .unwrap_or_else(|| panic!("{key} {rel}: not a variant's directory"));
            for (name, n) in rows {
                assert_eq!(
                    n, n_windows,
                    "{key} {rel}: component {name} has {n} windows, expected {n_windows} (reproduce: {reproduce})"
                );
            }
        }
    }
    let expected = 1 + scenario.variants.len();
    assert!(
        summaries >= expected,
        "{key}: {summaries} summary.csv files, expected one per variant ({expected}) (reproduce: {reproduce})"
    );
}

#[test]
#[ignore = "slow: every shipped scenario, sweep and map; run with --release -- --include-ignored"]
fn shipped_outputs_are_byte_identical_to_the_pinned_digests() {
    let out_root = Path::new(env!("CARGO_TARGET_TMPDIR")).join("golden");
    let _ = std::fs::remove_dir_all(&out_root);
    let jobs = jobs(&out_root);
    assert!(
        jobs.len() >= 20,
        "expected the shipped scenarios and sweeps"
    );
    let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
    let next = Mutex::new(0usize);
    let results: Mutex<BTreeMap<String, Written>> = Mutex::default();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                loop {
                    let i = {
                        let mut n = next.lock().expect("lock");
                        *n += 1;
                        *n - 1
                    };
                    let Some(job) = jobs.get(i) else { break };
                    let reproduce = format!("metastable {}", job.args.join(" "));
                    let out = Command::new(env!("CARGO_BIN_EXE_metastable"))
                        .args(&job.args)
                        .env_remove("METASTABLE_SHARD_INDEX")
                        .env_remove("METASTABLE_SHARD_COUNT")
                        .env_remove("SLURM_ARRAY_TASK_ID")
                        .env_remove("SLURM_ARRAY_TASK_COUNT")
                        .env_remove("JOB_COMPLETION_INDEX")
                        .output()
                        .expect("run the binary");
                    assert!(
                        out.status.success(),
                        "{reproduce}: exit {:?}\n{}",
                        out.status.code(),
                        String::from_utf8_lossy(&out.stderr)
                    );
                    let files = csv_files(&job.out);
                    results
                        .lock()
                        .expect("lock")
                        .insert(job.key.clone(), (files, reproduce));
                }
            });
        }
    });
    let results = results.into_inner().expect("lock");
    let mut actual = String::new();
    for (key, (files, reproduce)) in &results {
        if key.starts_with("run/") || key.starts_with("pattern/") {
            check_complete(key, files, reproduce);
        }
        assert!(!files.is_empty(), "{key}: no CSV written ({reproduce})");
        for (rel, bytes) in files {
            actual.push_str(&format!("{}  {key}/{rel}\n", hex(&Sha256::digest(bytes))));
        }
    }
    if std::env::var_os("METASTABLE_BLESS").is_some() {
        std::fs::write(PINNED, &actual).expect("write the pinned digests");
        eprintln!("re-pinned {PINNED}");
        return;
    }
    let pinned = std::fs::read_to_string(PINNED).unwrap_or_default();
    let map = |text: &str| -> BTreeMap<String, String> {
        text.lines()
            .filter_map(|l| l.split_once("  "))
            .map(|(h, p)| (p.to_string(), h.to_string()))
            .collect()
    };
    let (want, got) = (map(&pinned), map(&actual));
    let mut problems = Vec::new();
    for (path, h) in &got {
        match want.get(path) {
            None => problems.push(format!("{path}: not pinned (new output?)")),
            Some(w) if w != h => problems.push(format!("{path}: sha256 {h}, pinned {w}")),
            Some(_) => {}
        }
    }
    for path in want.keys().filter(|p| !got.contains_key(*p)) {
        problems.push(format!("{path}: pinned but not written any more"));
    }
    let reproduce: Vec<&str> = results.values().map(|(_, r)| r.as_str()).collect();
    assert!(
        problems.is_empty(),
        "{} output files differ from tests/golden/outputs.sha256 (seeds: each scenario's own; reproduce with one of: {}):\n{}\nIf the change is meant to change results: METASTABLE_BLESS=1 cargo test --release --test golden -- --ignored",
        problems.len(),
        reproduce.join(" | "),
        problems.join("\n")
    );
}
