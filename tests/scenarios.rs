//! Every shipped scenario validates and runs to its horizon; textbook ones match their
//! documented figures (the tight statistical checks live in tests/theory.rs).

use std::path::PathBuf;

fn scenario_files() -> Vec<PathBuf> {
    let dir = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios"));
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|x| x == "toml"))
        .collect();
    files.sort();
    files
}

#[test]
fn every_shipped_scenario_validates_and_completes() {
    let files = scenario_files();
    assert!(
        files.len() >= 4,
        "expected the shipped scenarios, found {files:?}"
    );
    for f in files {
        let sc = metastable::load(&f).unwrap_or_else(|e| panic!("{}: {e}", f.display()));
        let r = metastable::run(&sc, sc.seed);
        assert!(
            r.stats.stop.is_complete(),
            "{}: stopped by {} (reproduce: metastable run {} --seed {})",
            f.display(),
            r.stats.stop.as_str(),
            f.display(),
            sc.seed
        );
        assert!(
            r.rec.n_windows() as u64 == sc.n_windows(),
            "{}: window count",
            f.display()
        );
    }
}

/// The spike scenario: blocking tracks the load with no memory — high during the spike, back
/// to the M/M/1/5 level right after it (no sustaining effect without retries).
#[test]
fn mm1k_spike_recovers_when_the_spike_ends() {
    let path = PathBuf::from(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/scenarios/mm1k-overload.toml"
    ));
    let sc = metastable::load(&path).expect("valid");
    for seed in 1..=5u64 {
        let r = metastable::run(&sc, seed);
        let ids = r.component_ids();
        let server = ids.iter().find(|c| c.name == "server").expect("server");
        let frac = |from: usize, to: usize| {
            let (mut rej, mut arr) = (0u64, 0u64);
            for w in from..to {
                let v = r.window_values(server, w);
                rej += v.rejected.unwrap_or(0);
                arr += v.arrivals.unwrap_or(0);
            }
            rej as f64 / arr as f64
        };
        let (before, during, after) = (frac(20, 120), frac(125, 180), frac(190, 300));
        let ctx = format!(
            "seed {seed}: before {before:.3} during {during:.3} after {after:.3} (reproduce: metastable run scenarios/mm1k-overload.toml --seed {seed})"
        );
        // Theory: 0.089 at rho 0.8, 0.365 at rho 1.5; ±0.05 covers sampling over ~100 s.
        assert!((before - 0.089).abs() < 0.05, "{ctx}");
        assert!((during - 0.365).abs() < 0.06, "{ctx}");
        assert!((after - 0.089).abs() < 0.05, "{ctx}");
    }
}
