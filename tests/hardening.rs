//! Hardening: inputs that are not regular files, planted links, concurrent writers, killed
//! runs, forged journal and shard cells, unsafe names, large seeds, long error lists — each
//! through the real binary. docs/output.md describes the guarantees these pin.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_metastable");
const ROOT: &str = env!("CARGO_MANIFEST_DIR");

fn metastable(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .current_dir(ROOT)
        .output()
        .expect("running metastable")
}

fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

fn s(p: &Path) -> &str {
    p.to_str().expect("utf-8 path")
}

fn files_in(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|d| {
            d.map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    v.sort();
    v
}

/// A short M/M/1 scenario (seed 7) for runs that must be quick in a debug build.
fn short_scenario(dir: &Path, name: &str) -> PathBuf {
    let text = std::fs::read_to_string(Path::new(ROOT).join("scenarios/mm1.toml"))
        .expect("mm1")
        .replace("duration_s = 2000.0", "duration_s = 20.0")
        .replace("warmup_s = 100.0", "warmup_s = 2.0")
        .replace("seed = 1", "seed = 7")
        .replace("name = \"mm1\"", &format!("name = \"{name}\""));
    let path = dir.join(format!("{name}.toml"));
    std::fs::write(&path, text).expect("write scenario");
    path
}

/// A 4-run sweep (2 rates × 2 replications) of [`short_scenario`].
fn small_sweep(dir: &Path) -> PathBuf {
    short_scenario(dir, "tiny");
    let path = dir.join("tiny-sweep.toml");
    std::fs::write(
        &path,
        "[sweep]\nscenario = \"tiny.toml\"\nreplications = 2\nseed = 3\nseeds = \"independent\"\n\n\
         [[axes]]\nname = \"rate\"\npath = \"sources[users].rate_per_s\"\nvalues = [40.0, 60.0]\n",
    )
    .expect("write sweep");
    path
}

/// Runs `cmd` and waits at most `limit`; `None` if it had to be killed.
fn run_with_deadline(args: &[&str], limit: Duration) -> Option<Output> {
    let mut child = Command::new(BIN)
        .args(args)
        .current_dir(ROOT)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn");
    #[allow(clippy::disallowed_methods)] // a deadline for a child process, not a simulation
    let start = std::time::Instant::now();
    loop {
        if child.try_wait().expect("wait").is_some() {
            return Some(child.wait_with_output().expect("output"));
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            return None;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

// ---------------------------------------------------------------------------------------------
// Inputs that are not regular files

#[test]
fn dev_zero_and_a_fifo_are_refused_with_exit_2() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let fifo = tmp.path().join("scenario.toml");
    let c = std::ffi::CString::new(s(&fifo)).expect("path");
    // SAFETY: mkfifo on a NUL-terminated path we own.
    assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o600) }, 0, "mkfifo");
    let out = tmp.path().join("out");
    let cases: Vec<(String, Vec<&str>, &str)> = vec![
        (
            "check /dev/zero".into(),
            vec!["check", "/dev/zero"],
            "character device",
        ),
        ("check FIFO".into(), vec!["check", s(&fifo)], "FIFO"),
        (
            "run FIFO".into(),
            vec!["run", s(&fifo), "--out", s(&out)],
            "FIFO",
        ),
        (
            "sweep FIFO".into(),
            vec!["sweep", s(&fifo), "--out", s(&out)],
            "FIFO",
        ),
        (
            "map /dev/zero".into(),
            vec!["map", "/dev/zero", "--out", s(&out)],
            "character device",
        ),
        (
            "merge FIFO".into(),
            vec!["merge", "--out", s(&out), s(&fifo)],
            "FIFO",
        ),
    ];
    for (what, args, says) in cases {
        let o = run_with_deadline(&args, Duration::from_secs(20)).unwrap_or_else(|| {
            panic!("{what}: still running after 20 s (blocked or reading for ever)")
        });
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{what}: exit code; stderr:\n{e}");
        assert!(e.contains(says), "{what}: stderr should say {says:?}:\n{e}");
        assert!(
            !out.exists() || files_in(&out).is_empty(),
            "{what}: wrote {:?}",
            files_in(&out)
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Planted links

#[test]
fn planted_links_in_out_are_never_followed() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let scenario = short_scenario(tmp.path(), "links");
    let outside = tmp.path().join("outside.txt");
    std::fs::write(&outside, "precious").expect("write");
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    // The old scheme named temporaries `.NAME.PID.tmp`: plant a link for every PID the child
    // is likely to get, for every file a run writes, and at the final names too.
    let me = std::process::id();
    for name in ["windows.csv", "summary.csv", "dashboard.svg"] {
        for pid in me..me + 3000 {
            std::os::unix::fs::symlink(&outside, out.join(format!(".{name}.{pid}.tmp")))
                .expect("symlink");
        }
    }
    std::os::unix::fs::symlink(&outside, out.join("summary.csv")).expect("symlink");
    let o = metastable(&["run", s(&scenario), "--out", s(&out), "-q"]);
    assert_eq!(o.status.code(), Some(0), "run: {}", stderr(&o));
    let after = std::fs::read_to_string(&outside).expect("read");
    assert!(
        after == "precious",
        "the file outside --out was overwritten through a planted link ({} bytes now)",
        after.len()
    );
    assert!(
        !std::fs::symlink_metadata(out.join("summary.csv"))
            .expect("summary")
            .file_type()
            .is_symlink(),
        "summary.csv must be a new file, not the planted link"
    );

    // A planted journal link (dangling: the sweep would create its target) is refused.
    let sweep = small_sweep(tmp.path());
    let sweep_out = tmp.path().join("sweep-out");
    std::fs::create_dir(&sweep_out).expect("mkdir");
    let target = tmp.path().join("created-outside");
    std::os::unix::fs::symlink(&target, sweep_out.join("runs.journal")).expect("symlink");
    let o = metastable(&[
        "sweep",
        s(&sweep),
        "--out",
        s(&sweep_out),
        "-q",
        "--jobs",
        "1",
    ]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "planted journal: {e}");
    assert!(e.contains("symbolic link"), "{e}");
    assert!(
        !target.exists(),
        "the sweep created a file through the planted link"
    );
}

// ---------------------------------------------------------------------------------------------
// One writer per output directory

#[test]
fn a_second_writer_on_the_same_out_is_refused_with_exit_3() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let scenario = short_scenario(tmp.path(), "locked");
    let sweep = small_sweep(tmp.path());
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    // Another process holds the directory (this test stands in for it).
    let mut lock = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(out.join(".metastable.lock"))
        .expect("lock file");
    lock.try_lock().expect("lock");
    lock.write_all(b"pid 1: metastable sweep other.toml\n")
        .expect("holder");
    for (what, args) in [
        ("run", vec!["run", s(&scenario), "--out", s(&out), "-q"]),
        ("sweep", vec!["sweep", s(&sweep), "--out", s(&out), "-q"]),
        (
            "replications",
            vec![
                "run",
                s(&scenario),
                "--replications",
                "2",
                "--out",
                s(&out),
                "-q",
            ],
        ),
    ] {
        let o = metastable(&args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(3), "{what}: exit code; stderr:\n{e}");
        assert!(
            e.contains("in use by another metastable process"),
            "{what}: {e}"
        );
        assert!(
            e.contains("metastable sweep other.toml"),
            "{what}: names the holder: {e}"
        );
        assert_eq!(
            files_in(&out),
            vec![".metastable.lock"],
            "{what}: wrote something"
        );
    }
    drop(lock);
    let o = metastable(&["run", s(&scenario), "--out", s(&out), "-q"]);
    assert_eq!(o.status.code(), Some(0), "after release: {}", stderr(&o));
}

// ---------------------------------------------------------------------------------------------
// A run's output: whole, with a manifest written last; leftovers of killed runs cleaned

#[test]
fn a_run_replaces_the_previous_output_whole_and_cleans_leftovers() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let scenario = short_scenario(tmp.path(), "whole");
    let out = tmp.path().join("out");
    let o = metastable(&["run", s(&scenario), "--out", s(&out), "--seed", "1", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    let manifest = std::fs::read_to_string(out.join("manifest.txt")).expect("manifest");
    assert!(manifest.contains("seed: 1\n"), "{manifest}");
    // What a kill -9 leaves: temporaries of both naming schemes, and a file of the killed
    // run that the manifest of the earlier one lists.
    std::fs::write(out.join(".metastable-AbC123.tmp"), "half").expect("leftover");
    std::fs::write(out.join(".windows.csv.4242.tmp"), "half").expect("leftover");
    std::fs::create_dir(out.join(".metastable-XyZ789.tmp")).expect("leftover dir");
    let o = metastable(&["run", s(&scenario), "--out", s(&out), "--seed", "2", "-q"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert_eq!(
        files_in(&out),
        vec![
            "dashboard.png",
            "dashboard.svg",
            "manifest.txt",
            "summary.csv",
            "windows.csv"
        ],
        "leftovers or the lock file stayed"
    );
    let manifest = std::fs::read_to_string(out.join("manifest.txt")).expect("manifest");
    assert!(manifest.contains("seed: 2\n"), "{manifest}");
    for f in [
        "windows.csv",
        "summary.csv",
        "dashboard.png",
        "dashboard.svg",
    ] {
        assert!(
            manifest.contains(&format!("file {f}\n")),
            "{f} not listed:\n{manifest}"
        );
    }
}

// ---------------------------------------------------------------------------------------------
// Forged cells in shard files and journals

/// Runs the small sweep as 2 shards into `dir`; returns the shard paths.
fn shards(sweep: &Path, dir: &Path) -> Vec<PathBuf> {
    (0..2)
        .map(|i| {
            let i = i.to_string();
            let o = metastable(&[
                "sweep",
                s(sweep),
                "--out",
                s(dir),
                "--shard-index",
                &i,
                "--shard-count",
                "2",
                "--jobs",
                "1",
                "-q",
            ]);
            assert_eq!(o.status.code(), Some(0), "shard {i}: {}", stderr(&o));
            dir.join(format!("shard-000{i}-of-0002.csv"))
        })
        .collect()
}

/// `text` with cell `col` of the first data row after the CSV header replaced by `to`;
/// returns the new text and that row's 1-based line number.
fn forge(text: &str, col: usize, to: &str) -> (String, usize) {
    let mut lines: Vec<String> = text.lines().map(str::to_string).collect();
    let header = lines
        .iter()
        .position(|l| l.starts_with("run,"))
        .expect("csv header");
    let row = header + 1;
    let mut cells: Vec<String> = lines[row].split(',').map(str::to_string).collect();
    cells[col] = to.to_string();
    lines[row] = cells.join(",");
    (lines.join("\n") + "\n", row + 1)
}

#[test]
fn merge_refuses_forged_cells_with_file_line_column() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let sweep = small_sweep(tmp.path());
    let dir = tmp.path().join("shards");
    let paths = shards(&sweep, &dir);
    let good = std::fs::read_to_string(&paths[0]).expect("shard");
    let out = tmp.path().join("merged");
    // Columns: run, point, replication, seed, rate, verdict, recovery_s, …
    for (what, col, to, with_sweep, field) in [
        ("metric abc", 6, "abc", false, "recovery_s"),
        ("negative metric", 7, "-3", false, "baseline_goodput_per_s"),
        ("verdict", 5, "great", false, "verdict"),
        ("seed not a number", 3, "x", false, "seed"),
        ("seed of another point", 3, "12345", true, "seed"),
        ("axis value", 4, "99", true, "rate"),
    ] {
        let (forged, line) = forge(&good, col, to);
        std::fs::write(&paths[0], &forged).expect("forge");
        let mut args = vec!["merge", "--out", s(&out), s(&dir)];
        if with_sweep {
            args.extend(["--sweep", s(&sweep)]);
        }
        let o = metastable(&args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{what}: exit code; stderr:\n{e}");
        let at = format!("{}:{line}:", paths[0].display());
        assert!(e.contains(&at), "{what}: should name {at}:\n{e}");
        assert!(
            e.contains(&format!(": {field}: ")),
            "{what}: should name {field}:\n{e}"
        );
        assert!(
            !out.exists() || files_in(&out).is_empty(),
            "{what}: wrote {:?}",
            files_in(&out)
        );
    }
    std::fs::write(&paths[0], &good).expect("restore");
    let o = metastable(&[
        "merge",
        "--out",
        s(&out),
        s(&dir),
        "--sweep",
        s(&sweep),
        "-q",
    ]);
    assert_eq!(o.status.code(), Some(0), "honest shards: {}", stderr(&o));
}

#[test]
fn resume_refuses_a_forged_journal_cell() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let sweep = small_sweep(tmp.path());
    let dir = tmp.path().join("shards");
    let paths = shards(&sweep, &dir);
    // A journal of the unsharded sweep, made from shard 0's rows: same fingerprint.
    let shard = std::fs::read_to_string(&paths[0]).expect("shard");
    let journal = shard
        .replace(
            "# metastable sweep shard v1",
            "# metastable sweep journal v1",
        )
        .replace("# shard: 0 of 2", "# shard: 0 of 1");
    let (forged, line) = forge(&journal, 6, "abc");
    let out = tmp.path().join("out");
    std::fs::create_dir(&out).expect("mkdir");
    std::fs::write(out.join("runs.journal"), &forged).expect("journal");
    let o = metastable(&["sweep", s(&sweep), "--out", s(&out), "--jobs", "1", "-q"]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "stderr:\n{e}");
    assert!(
        e.contains(&format!("runs.journal:{line}:")),
        "names the line:\n{e}"
    );
    assert!(e.contains(": recovery_s: "), "names the column:\n{e}");
    assert!(!out.join("runs.csv").exists());
    // The honest journal resumes.
    std::fs::write(out.join("runs.journal"), &journal).expect("journal");
    let o = metastable(&["sweep", s(&sweep), "--out", s(&out), "--jobs", "1"]);
    assert_eq!(o.status.code(), Some(0), "{}", stderr(&o));
    assert!(String::from_utf8_lossy(&o.stdout).contains("resumed: 2 run(s)"));
}

// ---------------------------------------------------------------------------------------------
// Names, seeds, bounds, messages

#[test]
fn a_scenario_named_dot_dot_is_refused() {
    let tmp = tempfile::tempdir().expect("temp dir");
    for name in ["..", "."] {
        let path = short_scenario(tmp.path(), "x");
        let text = std::fs::read_to_string(&path)
            .expect("read")
            .replace("name = \"x\"", &format!("name = \"{name}\""));
        std::fs::write(&path, text).expect("write");
        let o = metastable(&["check", s(&path)]);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(2), "{name}: {e}");
        assert!(
            e.contains(":8:8: scenario.name: "),
            "{name}: line and field:\n{e}"
        );
    }
}

#[test]
fn seeds_cover_the_whole_u64_range() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = short_scenario(tmp.path(), "seeds");
    let base = std::fs::read_to_string(&path).expect("read");
    let cases = [
        ("seed = 9223372036854775808", Some("9223372036854775808")),
        (
            "seed = \"18446744073709551615\"",
            Some("18446744073709551615"),
        ),
        ("seed = 18446744073709551616", None),
        ("seed = -1", None),
    ];
    for (line, ok) in cases {
        std::fs::write(&path, base.replace("seed = 7", line)).expect("write");
        let out = tmp.path().join("out");
        let o = metastable(&["run", s(&path), "--out", s(&out), "-q"]);
        let e = stderr(&o);
        match ok {
            Some(seed) => {
                assert_eq!(o.status.code(), Some(0), "{line}: {e}");
                let m = std::fs::read_to_string(out.join("manifest.txt")).expect("manifest");
                assert!(m.contains(&format!("seed: {seed}\n")), "{line}: {m}");
            }
            None => {
                assert_eq!(o.status.code(), Some(2), "{line}: {e}");
                assert!(
                    e.contains(":13:8: scenario.seed: "),
                    "{line}: line and field:\n{e}"
                );
            }
        }
    }
    // With variants the file is also read as a table, whose integers stop at 2⁶³ − 1: the
    // error names the line and field and the way out.
    let text = base.replace("seed = 7", "seed = 9223372036854775808")
        + "\n[[variants]]\nname = \"two\"\nset = { \"services[server].servers\" = 2 }\n";
    std::fs::write(&path, text).expect("write");
    let o = metastable(&["check", s(&path)]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains(":13:8: scenario.seed: ") && e.contains("as a string"),
        "{e}"
    );
}

#[test]
fn long_error_lists_are_capped_and_counted() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let path = short_scenario(tmp.path(), "many");
    let phases: String = (0..200)
        .map(|i| format!("  {{ at_s = {}.0, rate_per_s = 80.0 }},\n", 1000 - i))
        .collect();
    let text = std::fs::read_to_string(&path)
        .expect("read")
        .replace("rate_per_s = 80.0", &format!("schedule = [\n{phases}]"));
    std::fs::write(&path, text).expect("write");
    let o = metastable(&["check", s(&path)]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    let listed = e.lines().filter(|l| l.contains("schedule[")).count();
    assert_eq!(listed, 50, "first 50 problems listed:\n{e}");
    assert!(e.contains("… and 150 more problem(s)"), "{e}");
}

#[test]
fn window_ms_has_the_scenario_bound() {
    let o = metastable(&[
        "run",
        "scenarios/mm1.toml",
        "--window-ms",
        "1e300",
        "--out",
        "/nonexistent/x",
    ]);
    let e = stderr(&o);
    assert_eq!(o.status.code(), Some(2), "{e}");
    assert!(
        e.contains("--window-ms") && e.contains("31560000000"),
        "{e}"
    );
}

#[test]
fn os_errors_are_printed_once() {
    let tmp = tempfile::tempdir().expect("temp dir");
    let sweep = small_sweep(tmp.path());
    let file = tmp.path().join("file");
    std::fs::write(&file, "").expect("write");
    // --out below a regular file: creating it fails with ENOTDIR.
    let out = file.join("out");
    for args in [
        vec!["sweep", s(&sweep), "--out", s(&out), "-q"],
        vec![
            "run",
            "scenarios/mm1.toml",
            "--out",
            s(&out),
            "-q",
            "--window-ms",
            "100000",
        ],
    ] {
        let o = metastable(&args);
        let e = stderr(&o);
        assert_eq!(o.status.code(), Some(1), "{args:?}: {e}");
        assert_eq!(
            e.matches("os error").count(),
            1,
            "{args:?}: printed once:\n{e}"
        );
    }
}
