//! The `metastable` command line.
//!
//! Exit codes: 0 success; 2 bad input (scenario file, arguments); 1 failure writing results.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, anyhow};
use clap::{Parser, Subcommand};
use sim_core::SimDuration;

use metastable::output::write_atomic;
use metastable::scenario::{self, Scenario};

#[derive(Parser)]
#[command(
    name = "metastable",
    version,
    about = "Discrete-event simulator of metastable failures in distributed systems"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run a scenario and write windows.csv and summary.csv.
    Run {
        /// Scenario file (TOML).
        file: PathBuf,
        /// Master seed (default: the scenario's `seed`, else 0).
        #[arg(long)]
        seed: Option<u64>,
        /// Output directory (default: results/<scenario name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Metric window length in milliseconds (default: the scenario's `window_ms`).
        #[arg(long = "window-ms")]
        window_ms: Option<f64>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Validate a scenario without running it.
    Check {
        /// Scenario file (TOML).
        file: PathBuf,
    },
}

/// An error with its exit code.
struct Failure {
    code: u8,
    error: anyhow::Error,
}

fn input(error: anyhow::Error) -> Failure {
    Failure { code: 2, error }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Run {
            file,
            seed,
            out,
            window_ms,
            quiet,
        } => cmd_run(&file, seed, out, window_ms, quiet),
        Command::Check { file } => cmd_check(&file),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {:#}", f.error);
            ExitCode::from(f.code)
        }
    }
}

fn load(file: &Path) -> Result<Scenario, Failure> {
    scenario::load(file).map_err(|e| input(anyhow!(e)))
}

fn cmd_check(file: &Path) -> Result<(), Failure> {
    let sc = load(file)?;
    println!("ok: {sc}");
    Ok(())
}

fn cmd_run(
    file: &Path,
    seed: Option<u64>,
    out: Option<PathBuf>,
    window_ms: Option<f64>,
    quiet: bool,
) -> Result<(), Failure> {
    let mut sc = load(file)?;
    if let Some(w) = window_ms {
        if !w.is_finite() || w <= 0.0 {
            return Err(input(anyhow!(
                "--window-ms: must be a finite number > 0, got {w}"
            )));
        }
        sc.window = SimDuration::from_millis_f64(w).max(SimDuration(1));
        if sc.n_windows() > sc.limits.max_windows {
            return Err(input(anyhow!(
                "--window-ms {w}: gives {} windows, more than limits.max_windows = {}",
                sc.n_windows(),
                sc.limits.max_windows
            )));
        }
    }
    let seed = seed.unwrap_or(sc.seed);
    let out = out.unwrap_or_else(|| PathBuf::from("results").join(&sc.name));

    #[allow(clippy::disallowed_methods)] // wall time is reported, never simulated
    let started = Instant::now();
    let report = metastable::run(&sc, seed);
    let wall = started.elapsed().as_secs_f64();

    let io = |e: anyhow::Error| Failure { code: 1, error: e };
    let windows = report
        .windows_csv()
        .context("formatting windows.csv")
        .map_err(io)?;
    let summary = report
        .summary_csv()
        .context("formatting summary.csv")
        .map_err(io)?;
    std::fs::create_dir_all(&out)
        .with_context(|| format!("creating {}", out.display()))
        .map_err(io)?;
    let wpath = out.join("windows.csv");
    let spath = out.join("summary.csv");
    write_atomic(&wpath, &windows)
        .with_context(|| format!("writing {}", wpath.display()))
        .map_err(io)?;
    write_atomic(&spath, &summary)
        .with_context(|| format!("writing {}", spath.display()))
        .map_err(io)?;
    let png = out.join("dashboard.png");
    let svg = out.join("dashboard.svg");
    metastable::plot::write_dashboard(&report.dashboard_series(), &png, &svg)
        .context("drawing the dashboard")
        .map_err(io)?;

    if !quiet {
        print!("{}", report.human_summary());
        let eps = report.stats.events as f64 / wall.max(1e-9);
        println!(
            "wall {wall:.3} s · {:.1} M events/s · {:.0} simulated s per wall s",
            eps / 1e6,
            report.stats.end.as_secs_f64() / wall.max(1e-9)
        );
        println!(
            "wrote {}, {}, {} and {}",
            wpath.display(),
            spath.display(),
            png.display(),
            svg.display()
        );
        println!("reproduce: metastable run {} --seed {seed}", file.display());
    }
    Ok(())
}
