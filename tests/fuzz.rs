//! Bounded fuzzing of the binary: mutated shipped scenarios through `check` (and shortened
//! ones through `run`), mutated shipped sweeps through `sweep --dry-run`, mutated shard files
//! through `merge` (with and without `--sweep`). The contract: exit code 0 or 2 — never a
//! panic (101) or a signal — and nothing written to the output directory on 2.
//!
//! Each case has its own mutation seed, printed in every failure with the command that
//! replays it. Longer campaigns: `METASTABLE_FUZZ_CASES=N` cases per kind (default 100),
//! starting at `METASTABLE_FUZZ_SEED=S` (default 0); see docs/fuzzing.md.

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

mod mutate;
use mutate::{Prng, mutate_once};

const BIN: &str = env!("CARGO_BIN_EXE_metastable");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");
/// A case still running after this is killed and counted as slow (not a failure: a mutant
/// may be a valid, long scenario).
const DEADLINE: Duration = Duration::from_secs(30);

fn env_u64(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|v| v.trim().parse().ok())
        .unwrap_or(default)
}

/// Runs the binary with a deadline; `None` if it had to be killed.
fn run(args: &[&str]) -> Option<Output> {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(ROOT)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn metastable");
    #[allow(clippy::disallowed_methods)] // a deadline for a child process, not a simulation
    let start = std::time::Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return Some(child.wait_with_output().expect("output"));
        }
        if start.elapsed() > DEADLINE {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn listing(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|d| {
            d.filter_map(|e| e.ok())
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// Checks the contract for one invocation; returns the exit code (None if killed).
fn judge(failures: &mut Vec<String>, ctx: &str, args: &[&str], out: Option<&Path>) -> Option<i32> {
    let o = run(args)?;
    let stderr = String::from_utf8_lossy(&o.stderr);
    let code = o.status.code();
    let problem = match code {
        None => Some("killed by a signal".to_string()),
        Some(0) | Some(2) if stderr.contains("panicked") => Some("panic message".into()),
        Some(0) | Some(2) => None,
        Some(c) => Some(format!("exit code {c}")),
    };
    if let Some(p) = problem {
        failures.push(format!(
            "{ctx}: {p}: metastable {}\n{stderr}",
            args.join(" ")
        ));
    }
    if code == Some(2)
        && let Some(out) = out
    {
        let left = listing(out);
        if !left.is_empty() {
            failures.push(format!(
                "{ctx}: exit 2 but wrote {left:?} in {}",
                out.display()
            ));
        }
    }
    code
}

/// `n` mutations of `text` chosen by `rng`; returns the mutant and what was done.
fn mutant(text: &str, rng: &mut Prng) -> (String, Vec<String>) {
    let mut m = text.to_string();
    let ops = (0..1 + rng.below(3))
        .map(|_| mutate_once(&mut m, rng))
        .collect();
    (m, ops)
}

fn toml_files(dir: &str) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = std::fs::read_dir(Path::new(ROOT).join(dir))
        .expect("list")
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    v.sort();
    v
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

struct Campaign {
    cases: u64,
    first_seed: u64,
    failures: Vec<String>,
    slow: u64,
    codes: [u64; 3],
}

impl Campaign {
    fn new() -> Campaign {
        Campaign {
            cases: env_u64("METASTABLE_FUZZ_CASES", 100),
            first_seed: env_u64("METASTABLE_FUZZ_SEED", 0),
            failures: Vec::new(),
            slow: 0,
            codes: [0; 3],
        }
    }

    fn count(&mut self, code: Option<i32>) {
        match code {
            None => self.slow += 1,
            Some(0) => self.codes[0] += 1,
            Some(2) => self.codes[2] += 1,
            Some(_) => self.codes[1] += 1,
        }
    }

    fn finish(self, kind: &str) {
        eprintln!(
            "fuzz {kind}: {} case(s) from seed {}: {} exit 0, {} exit 2, {} other, {} slow",
            self.cases, self.first_seed, self.codes[0], self.codes[2], self.codes[1], self.slow
        );
        assert!(
            self.failures.is_empty(),
            "{} failure(s) (replay one: METASTABLE_FUZZ_SEED=<seed> METASTABLE_FUZZ_CASES=1 \
             cargo test --release --test fuzz {kind}):\n{}",
            self.failures.len(),
            self.failures.join("\n---\n")
        );
    }
}

/// The mutation seed of case `i` of `kind` (the same on every machine).
fn case_rng(kind: u64, seed: u64) -> Prng {
    Prng(seed.wrapping_mul(0x2545_F491_4F6C_DD1D) ^ (kind << 56) ^ 0x6675_7a7a)
}

#[test]
fn fuzz_scenarios_through_check_and_run() {
    let mut c = Campaign::new();
    let files = toml_files("scenarios");
    let tmp = tempfile::tempdir().expect("temp dir");
    for seed in c.first_seed..c.first_seed + c.cases {
        let mut rng = case_rng(1, seed);
        let file = &files[rng.below(files.len())];
        let original = std::fs::read_to_string(file).expect("scenario");
        // Every other case runs a shortened M/M/1 (quick), the rest check any scenario.
        let runs = seed % 2 == 1;
        let base = if runs {
            std::fs::read_to_string(Path::new(ROOT).join("scenarios/mm1.toml"))
                .expect("mm1")
                .replace("duration_s = 2000.0", "duration_s = 30.0")
                .replace("warmup_s = 100.0", "warmup_s = 5.0")
        } else {
            original
        };
        let (text, ops) = mutant(&base, &mut rng);
        let name = if runs {
            "mm1-short.toml".to_string()
        } else {
            file.file_name()
                .expect("name")
                .to_string_lossy()
                .into_owned()
        };
        let path = tmp.path().join(format!("{seed}-{name}"));
        std::fs::write(&path, &text).expect("write mutant");
        let ctx = format!(
            "scenario seed {seed} ({name}, mutations {ops:?}, mutant {})",
            path.display()
        );
        let out = tmp.path().join(format!("out-{seed}"));
        let code = if runs {
            judge(
                &mut c.failures,
                &ctx,
                &["run", s(&path), "--out", s(&out), "-q"],
                Some(&out),
            )
        } else {
            judge(&mut c.failures, &ctx, &["check", s(&path)], None)
        };
        if runs && code == Some(0) && !out.join("manifest.txt").exists() {
            c.failures.push(format!("{ctx}: exit 0 without a manifest"));
        }
        c.count(code);
        let _ = std::fs::remove_dir_all(&out);
    }
    if !c.failures.is_empty() {
        eprintln!("mutants kept in {}", tmp.keep().display());
    }
    c.finish("fuzz_scenarios");
}

#[test]
fn fuzz_sweeps_through_dry_run() {
    let mut c = Campaign::new();
    let files = toml_files("sweeps");
    let tmp = tempfile::tempdir().expect("temp dir");
    let scenarios = Path::new(ROOT).join("scenarios");
    for seed in c.first_seed..c.first_seed + c.cases {
        let mut rng = case_rng(2, seed);
        let file = &files[rng.below(files.len())];
        let original = std::fs::read_to_string(file)
            .expect("sweep")
            .replace("\"../scenarios/", &format!("\"{}/", s(&scenarios)));
        let (text, ops) = mutant(&original, &mut rng);
        let name = file
            .file_name()
            .expect("name")
            .to_string_lossy()
            .into_owned();
        let path = tmp.path().join(format!("{seed}-{name}"));
        std::fs::write(&path, &text).expect("write mutant");
        let out = tmp.path().join(format!("out-{seed}"));
        let ctx = format!("sweep seed {seed} ({name}, mutations {ops:?})");
        let code = judge(
            &mut c.failures,
            &ctx,
            &["sweep", s(&path), "--dry-run", "--out", s(&out), "-q"],
            Some(&out),
        );
        if out.exists() {
            c.failures
                .push(format!("{ctx}: --dry-run created {}", out.display()));
        }
        c.count(code);
    }
    c.finish("fuzz_sweeps");
}

#[test]
fn fuzz_shard_files_through_merge() {
    let mut c = Campaign::new();
    let tmp = tempfile::tempdir().expect("temp dir");
    // Two honest shards of a small sweep of a shortened shipped scenario.
    let scenario = std::fs::read_to_string(Path::new(ROOT).join("scenarios/mm1.toml"))
        .expect("mm1")
        .replace("duration_s = 2000.0", "duration_s = 20.0")
        .replace("warmup_s = 100.0", "warmup_s = 2.0");
    std::fs::write(tmp.path().join("mm1.toml"), scenario).expect("scenario");
    let sweep = tmp.path().join("sweep.toml");
    std::fs::write(
        &sweep,
        "[sweep]\nscenario = \"mm1.toml\"\nreplications = 2\nseed = 5\n\n[[axes]]\nname = \
         \"rate\"\npath = \"sources[users].rate_per_s\"\nvalues = [40.0, 60.0, 90.0]\n",
    )
    .expect("sweep");
    let shards = tmp.path().join("shards");
    for i in ["0", "1"] {
        let o = run(&[
            "sweep",
            s(&sweep),
            "--out",
            s(&shards),
            "--shard-index",
            i,
            "--shard-count",
            "2",
            "--jobs",
            "1",
            "-q",
        ])
        .expect("shard in time");
        assert_eq!(
            o.status.code(),
            Some(0),
            "shard {i}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    let names = ["shard-0000-of-0002.csv", "shard-0001-of-0002.csv"];
    let honest: Vec<String> = names
        .iter()
        .map(|n| std::fs::read_to_string(shards.join(n)).expect("shard"))
        .collect();
    for seed in c.first_seed..c.first_seed + c.cases {
        let mut rng = case_rng(3, seed);
        let k = rng.below(2);
        let (text, ops) = mutant(&honest[k], &mut rng);
        let dir = tmp.path().join(format!("case-{seed}"));
        std::fs::create_dir_all(&dir).expect("case dir");
        for (j, n) in names.iter().enumerate() {
            let body = if j == k { &text } else { &honest[j] };
            std::fs::write(dir.join(n), body).expect("write shard");
        }
        let with_plan = rng.below(2) == 0;
        let out = tmp.path().join(format!("merged-{seed}"));
        let mut args = vec!["merge", "--out", s(&out), s(&dir), "-q"];
        if with_plan {
            args.extend(["--sweep", s(&sweep)]);
        }
        let ctx = format!(
            "shard seed {seed} ({}, mutations {ops:?}, --sweep {with_plan})",
            names[k]
        );
        let code = judge(&mut c.failures, &ctx, &args, Some(&out));
        if code == Some(0) && !out.join("runs.csv").exists() {
            c.failures.push(format!("{ctx}: exit 0 without runs.csv"));
        }
        c.count(code);
    }
    c.finish("fuzz_shard_files");
}
