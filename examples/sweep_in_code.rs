//! A sweep in code: where does HotOS 2021's retry example tip? The shipped sweep file
//! `sweeps/hotos-retry-load.toml` (6 base loads × 2 retry policies × 5 seeds = 60 runs, a
//! 10 s partition each) run twice: by hand, one run per (point, replication) with the plan's
//! seeds, and by the sweep runner that `metastable sweep` uses, which must agree run for run.
//!
//! ```text
//! cargo run --release --example sweep_in_code [OUT_DIR]
//! ```
//!
//! About 2 s in release on 2 cores (the 60 runs twice). With OUT_DIR, also writes the runner's
//! `runs.csv` and `points.csv` there (the same bytes as `metastable sweep`).

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use rayon::prelude::*;

use metastable::Verdict;
use metastable::sweep::{
    self,
    plan::run_extending,
    runner::{RunOptions, run_sweep},
    shard::Shard,
};

const FILE: &str = "sweeps/hotos-retry-load.toml";

fn main() -> ExitCode {
    let out = std::env::args().nth(1).map(PathBuf::from);

    // Load and validate the sweep file, its scenario and every point of its grid.
    let plan = match sweep::load(Path::new(FILE)) {
        Ok(plan) => plan,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let axes: Vec<&str> = plan.axes.iter().map(|a| a.name.as_str()).collect();
    println!(
        "{FILE}: {} points × {} replications over {}",
        plan.n_points,
        plan.replications,
        axes.join(" × ")
    );

    // 1. By hand: each point's scenario (the file plus the point's overrides) with each of the
    //    plan's seeds, in parallel; results come back in (point, replication) order.
    let cells: Vec<(u64, u64)> = (0..plan.n_points)
        .flat_map(|p| (0..plan.replications).map(move |r| (p, r)))
        .collect();
    let verdicts: Result<Vec<Verdict>, String> = cells
        .par_iter()
        .map(|&(point, rep)| {
            let sc = plan.point_scenario(point).map_err(|e| e.to_string())?;
            let seed = plan.seed_of(point, rep);
            Ok(run_extending(&sc, seed, plan.extend_undetermined)
                .analysis()
                .verdict)
        })
        .collect();
    let verdicts = match verdicts {
        Ok(v) => v,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::from(2);
        }
    };
    let reps = plan.replications as usize;
    println!("{:<28} metastable (of {reps} seeds)", axes.join(", "));
    for point in 0..plan.n_points {
        let runs = &verdicts[point as usize * reps..][..reps];
        let n = runs.iter().filter(|v| **v == Verdict::Metastable).count();
        println!(
            "{:<28} {n} {}",
            plan.point_texts(point).join(", "),
            "#".repeat(n)
        );
    }

    // 2. The sweep runner: the same runs, as rows of runs.csv (and points.csv from them).
    let opts = RunOptions {
        jobs: std::thread::available_parallelism().map_or(1, |n| n.get()),
        progress: false,
        journal: None,
    };
    let table = match run_sweep(&plan, Shard::ALL, &opts) {
        Ok((table, _)) => table,
        Err(e) => {
            eprintln!("{e}");
            return ExitCode::FAILURE;
        }
    };
    let Some(col) = table.header.iter().position(|h| h == "verdict") else {
        eprintln!("runs.csv has no verdict column");
        return ExitCode::FAILURE;
    };
    // The cells before `verdict` are numbers here (run ids, seeds, axis values): no quoting.
    let agree = table
        .rows
        .values()
        .zip(&verdicts)
        .all(|(line, v)| line.trim_end().split(',').nth(col) == Some(v.as_str()));
    println!(
        "sweep runner: {} runs, verdicts {} the loop's",
        table.rows.len(),
        if agree { "equal to" } else { "DIFFERENT from" }
    );
    if !agree {
        return ExitCode::FAILURE;
    }

    if let Some(dir) = out {
        let write = |name: &str, bytes: Result<Vec<u8>, String>| {
            bytes.and_then(|b| std::fs::write(dir.join(name), b).map_err(|e| e.to_string()))
        };
        let done = std::fs::create_dir_all(&dir)
            .map_err(|e| e.to_string())
            .and_then(|()| write("runs.csv", table.runs_csv().map_err(|e| e.to_string())))
            .and_then(|()| write("points.csv", table.points_csv()));
        if let Err(e) = done {
            eprintln!("{}: {e}", dir.display());
            return ExitCode::FAILURE;
        }
        println!("wrote runs.csv and points.csv under {}", dir.display());
    }
    ExitCode::SUCCESS
}
