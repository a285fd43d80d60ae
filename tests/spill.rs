//! Long runs keep a bounded number of closed windows in memory: past a threshold the recorder
//! writes them to an unnamed temporary file and reads them back a block at a time. What a run
//! reports must not depend on it.

use metastable::{parse, run};

/// 1 ms windows over 200 s: 200 000 windows of three components (≈ 110 MB stored, without the
/// spill all in memory). Held to 1 MiB, the run keeps at most two 1 MiB blocks (the store and
/// the block read back) and writes the same windows.csv and summary.csv, byte for byte.
#[test]
fn a_long_run_spills_its_windows_and_reports_the_same_bytes() {
    let text = r#"
[scenario]
name = "long"
duration_s = 200.0
window_ms = 1.0
warmup_s = 10.0
[limits]
max_windows = 1000000
[[sources]]
name = "users"
target = "server"
sink = "done"
rate_per_s = 80.0
[[services]]
name = "server"
servers = 1
service_time = { dist = "exponential", mean_ms = 10.0 }
[[sinks]]
name = "done"
"#;
    let sc = parse(text, "long.toml").expect("valid");
    let budget = 1u64 << 20;
    let seed = 1;
    let plain = metastable::run::run_spilling(&sc, seed, u64::MAX);
    let spilled = metastable::run::run_spilling(&sc, seed, budget);
    let per = spilled.rec.window_bytes();
    assert_eq!(plain.rec.n_windows(), 200_000, "seed {seed}");
    assert_eq!(plain.rec.windows_spilled(), 0, "seed {seed}");
    assert_eq!(
        plain.rec.peak_resident_windows(),
        200_000,
        "seed {seed}: without the threshold every window is in memory"
    );
    assert!(
        spilled.rec.windows_spilled() >= 200_000 - (budget / per) as usize,
        "seed {seed}: {} windows spilled",
        spilled.rec.windows_spilled()
    );
    let windows = plain.windows_csv().expect("csv");
    assert_eq!(
        windows,
        spilled.windows_csv().expect("csv"),
        "seed {seed}: windows.csv"
    );
    assert_eq!(
        plain.summary_csv().expect("csv"),
        spilled.summary_csv().expect("csv"),
        "seed {seed}: summary.csv"
    );
    let peak = spilled.rec.peak_resident_windows() as u64 * per;
    assert!(
        peak <= 2 * budget,
        "seed {seed}: {peak} B of windows in memory at once (threshold {budget} B)"
    );
    assert!(windows.len() > 10_000_000, "seed {seed}: a long run");
    // The default threshold (64 MiB) spills this run too: the same bytes again.
    let default = run(&sc, seed);
    assert!(default.rec.windows_spilled() > 0, "seed {seed}");
    assert_eq!(windows, default.windows_csv().expect("csv"), "seed {seed}");
}
