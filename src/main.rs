//! The `metastable` command line.
//!
//! Exit codes: 0 success; 2 bad input (scenario, sweep, map or shard file, arguments); 1 failure
//! writing results.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, anyhow};
use clap::{Parser, Subcommand};
use rayon::prelude::*;
use sim_core::SimDuration;

use metastable::cli as commands;
use metastable::report::output::write_atomic;
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
    /// Run a scenario (and each of its variants, with the same seed) and write CSVs and figures.
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
        /// Run only this variant (`baseline` is the file as written); default: all of them.
        #[arg(long)]
        variant: Option<String>,
        /// Who acts after the trigger: `policy` (the `[[operators]]` observe the simulated
        /// system and act) or `historical` (the operators' actions at their published times).
        #[arg(long, value_enum, default_value_t = Operators::Policy)]
        operators: Operators,
        /// Run each variant over N seeds (the seed, the seed + 1, …; the same seeds for every
        /// variant) and write replications.csv and distributions instead of per-run files.
        #[arg(long)]
        replications: Option<u64>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Predict from a fluid model, without simulating: the healthy and collapsed equilibria,
    /// the bistable load range, the tipping backlog and trigger, the recovery time; each
    /// variant side by side (docs/analytic.md). Exit 3 if no variant is inside the model's
    /// scope (the message names the part outside it).
    Analyze {
        /// Scenario file (TOML).
        file: PathBuf,
        /// Analyse only this variant (`baseline` is the file as written).
        #[arg(long)]
        variant: Option<String>,
    },
    /// Perturb each `[incident] inferred` parameter by ± p and report whether the replay's
    /// shape (self-healing, verdicts, order of variants) flips: knife edges. See
    /// docs/replications.md.
    Robustness {
        /// Scenario file (TOML) with `[incident] inferred = [...]`.
        file: PathBuf,
        /// Relative perturbation, `25%` or `0.25` (default 25 %).
        #[arg(long)]
        perturb: Option<String>,
        /// Seeds per file (default 5).
        #[arg(long)]
        seeds: Option<u64>,
        /// First seed (default: the scenario's `seed`, else 0).
        #[arg(long)]
        seed: Option<u64>,
        /// Output directory (default: results/<scenario name>-robustness).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run only these variants (comma-separated) besides the baseline and the
        /// counterfactual; default: all of them.
        #[arg(long)]
        variants: Option<String>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Validate a scenario without running it.
    Check {
        /// Scenario file (TOML).
        file: PathBuf,
    },
    /// Run a sweep: points × replications in parallel; writes runs.csv and points.csv (or, with
    /// a shard, one shard file). Resumes an interrupted sweep. See docs/sweeps.md.
    Sweep {
        /// Sweep file (TOML).
        file: PathBuf,
        /// Worker threads (default: SLURM_CPUS_PER_TASK, else the available CPUs).
        #[arg(long)]
        jobs: Option<usize>,
        /// Output directory (default: results/sweep-<sweep file name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Run only shard I of N (default: from SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX,
        /// PBS_ARRAY_INDEX, SGE_TASK_ID or METASTABLE_SHARD_INDEX).
        #[arg(long = "shard-index")]
        shard_index: Option<u64>,
        /// Number of shards (default: SLURM_ARRAY_TASK_COUNT, METASTABLE_SHARD_COUNT, …).
        #[arg(long = "shard-count")]
        shard_count: Option<u64>,
        /// Validate the sweep and every point, print its size, run nothing, write nothing.
        #[arg(long = "dry-run")]
        dry_run: bool,
        /// Print nothing but errors (and no progress bar).
        #[arg(long, short)]
        quiet: bool,
    },
    /// Draw a metastability map: a two-axis sweep classified per cell, with the boundary refined
    /// by bisection; writes map.csv, boundary.csv, probes.csv, map.png, map.svg.
    Map {
        /// Map file: a sweep file with two axes and a [map] table.
        file: PathBuf,
        /// Worker threads (default: SLURM_CPUS_PER_TASK, else the available CPUs).
        #[arg(long)]
        jobs: Option<usize>,
        /// Output directory (default: results/map-<map file name>).
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Merge shard files into runs.csv and points.csv, checking that every run is there once.
    Merge {
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Shard files, or directories holding shard-*-of-*.csv files.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
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
            variant,
            operators,
            replications,
            quiet,
        } => cmd_run(
            &file,
            RunOpts {
                seed,
                out,
                window_ms,
                variant,
                operators,
                replications,
                quiet,
            },
        ),
        Command::Robustness {
            file,
            perturb,
            seeds,
            seed,
            out,
            variants,
            quiet,
        } => studied(commands::robustness(&commands::RobustnessArgs {
            file,
            perturb,
            seeds,
            seed,
            out,
            variants,
            quiet,
        })),
        Command::Check { file } => cmd_check(&file),
        Command::Analyze { file, variant } => cmd_analyze(&file, variant.as_deref()),
        Command::Sweep {
            file,
            jobs,
            out,
            shard_index,
            shard_count,
            dry_run,
            quiet,
        } => studied(commands::sweep(&commands::SweepArgs {
            file,
            jobs,
            out,
            shard_index,
            shard_count,
            dry_run,
            quiet,
        })),
        Command::Map {
            file,
            jobs,
            out,
            quiet,
        } => studied(
            commands::map(&commands::MapArgs {
                file,
                jobs,
                out,
                quiet,
            })
            .map(|(outcome, _, _)| outcome),
        ),
        Command::Merge { out, shards, quiet } => studied(commands::merge(&commands::MergeArgs {
            out,
            inputs: shards,
            quiet,
        })),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(f) => {
            eprintln!("error: {:#}", f.error);
            ExitCode::from(f.code)
        }
    }
}

/// Prints a sweep, map or merge outcome; maps its error to an exit code.
fn studied(result: Result<commands::Outcome, commands::CommandError>) -> Result<(), Failure> {
    match result {
        Ok(outcome) => {
            print!("{}", outcome.report);
            Ok(())
        }
        Err(e) => Err(Failure {
            code: e.exit_code(),
            error: anyhow!(e),
        }),
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

/// `metastable analyze`: every variant (or one) through the fluid model; exit 3 when none
/// is inside its scope.
fn cmd_analyze(file: &Path, variant: Option<&str>) -> Result<(), Failure> {
    let sc = load(file)?;
    let chosen: Vec<&Scenario> = match variant {
        Some(name) => vec![sc.variant_named(name).ok_or_else(|| {
            let mut names = vec!["baseline".to_string()];
            names.extend(sc.variants.iter().map(|v| v.name.clone()));
            input(anyhow!(
                "--variant: no variant named {name:?} (known: {})",
                names.join(", ")
            ))
        })?],
        None => sc.with_variants(),
    };
    let rows: Vec<_> = chosen
        .iter()
        .map(|v| metastable::analytic::analyze(v))
        .collect();
    for a in rows.iter().flatten() {
        print!("{}", metastable::analytic::report::describe(a));
    }
    if rows.len() > 1 || rows.iter().any(|r| r.is_err()) {
        println!("side by side:");
        print!("{}", metastable::analytic::report::table(&rows));
    }
    if rows.iter().all(|r| r.is_err()) {
        return Err(Failure {
            code: 3,
            error: anyhow!(
                "no variant of {} is inside the fluid model's scope",
                file.display()
            ),
        });
    }
    Ok(())
}

/// `--operators`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Operators {
    Policy,
    Historical,
}

fn cmd_run(file: &Path, opts: RunOpts) -> Result<(), Failure> {
    let mode = match opts.operators {
        Operators::Policy => scenario::OperatorMode::Policy,
        Operators::Historical => scenario::OperatorMode::Historical,
    };
    let mut sc = load(file)?.with_operator_mode(mode);
    if let Some(w) = opts.window_ms {
        if !w.is_finite() || w <= 0.0 {
            return Err(input(anyhow!(
                "--window-ms: must be a finite number > 0, got {w}"
            )));
        }
        let window = SimDuration::from_millis_f64(w).max(SimDuration(1));
        sc.window = window;
        for v in &mut sc.variants {
            v.scenario.window = window;
        }
        if sc.n_windows() > sc.limits.max_windows {
            return Err(input(anyhow!(
                "--window-ms {w}: gives {} windows, more than limits.max_windows = {}",
                sc.n_windows(),
                sc.limits.max_windows
            )));
        }
    }
    if let Some(replications) = opts.replications {
        return studied(commands::replications(
            &sc,
            &commands::ReplicationArgs {
                variant: opts.variant,
                seed: opts.seed,
                replications,
                out: opts.out,
                quiet: opts.quiet,
            },
        ));
    }
    let seed = opts.seed.unwrap_or(sc.seed);
    let out = opts
        .out
        .unwrap_or_else(|| PathBuf::from("results").join(&sc.name));
    // The chosen variants and, for an incident replay run as written, its counterfactual (does
    // it heal by itself?): the same set `--replications` runs.
    let set = metastable::robust::replications::RunSet::of(&sc, opts.variant.as_deref())
        .map_err(|e| input(anyhow!(e)))?;
    let chosen = &set.runs;
    // With variants, each run goes to its own subdirectory, plus a comparison.
    let compare = chosen.len() > 1;

    #[allow(clippy::disallowed_methods)] // wall time is reported, never simulated
    let started = Instant::now();
    let reports: Vec<metastable::RunReport> = chosen
        .par_iter()
        .map(|s| metastable::run(s, seed))
        .collect();
    let wall = started.elapsed().as_secs_f64();

    let io = |e: anyhow::Error| Failure { code: 1, error: e };
    // Format everything before writing anything.
    let mut files: Vec<(PathBuf, Vec<u8>)> = Vec::new();
    for r in &reports {
        let dir = if compare {
            out.join(r.scenario.variant_name())
        } else {
            out.clone()
        };
        let windows = r
            .windows_csv()
            .context("formatting windows.csv")
            .map_err(io)?;
        let summary = r
            .summary_csv()
            .context("formatting summary.csv")
            .map_err(io)?;
        files.push((dir.join("windows.csv"), windows));
        files.push((dir.join("summary.csv"), summary));
    }
    if compare {
        let csv = metastable::analysis::compare::comparison_csv(&reports)
            .context("formatting comparison.csv")
            .map_err(io)?;
        files.push((out.join("comparison.csv"), csv));
    }
    let incident = reports
        .iter()
        .find(|r| r.scenario.variant.is_none())
        .and_then(|h| {
            let cf = set.counterfactual.as_deref().and_then(|want| {
                reports
                    .iter()
                    .find(|r| r.scenario.variant.as_deref() == Some(want))
            });
            metastable::analysis::incident::IncidentReport::new(h, cf)
        });
    if let Some(inc) = &incident {
        let csv = inc.csv().context("formatting incident.csv").map_err(io)?;
        files.push((out.join("incident.csv"), csv));
    }
    for (path, bytes) in &files {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir)
                .with_context(|| format!("creating {}", dir.display()))
                .map_err(io)?;
        }
        write_atomic(path, bytes)
            .with_context(|| format!("writing {}", path.display()))
            .map_err(io)?;
    }
    let mut figures = Vec::new();
    for r in &reports {
        let dir = if compare {
            out.join(r.scenario.variant_name())
        } else {
            out.clone()
        };
        let png = dir.join("dashboard.png");
        let svg = dir.join("dashboard.svg");
        metastable::report::plot::write_dashboard(&r.dashboard_series(), &png, &svg)
            .context("drawing the dashboard")
            .map_err(io)?;
        figures.push(png);
    }
    if compare {
        let png = out.join("overlay.png");
        let svg = out.join("overlay.svg");
        metastable::report::plot::write_overlay(
            &metastable::report::dashboard::overlay(&reports),
            &png,
            &svg,
        )
        .context("drawing the variant overlay")
        .map_err(io)?;
        figures.push(png);
    }

    if !opts.quiet {
        for r in &reports {
            print!("{}", r.human_summary());
        }
        if compare {
            println!("variants (same seed {seed}):");
            print!(
                "{}",
                metastable::analysis::compare::comparison_table(&reports)
            );
        }
        if let Some(inc) = &incident {
            print!("{}", inc.table());
        }
        let events: u64 = reports.iter().map(|r| r.stats.events).sum();
        let eps = events as f64 / wall.max(1e-9);
        println!(
            "wall {wall:.3} s for {} run(s) · {:.1} M events/s",
            reports.len(),
            eps / 1e6,
        );
        println!(
            "wrote {} CSV files and {} figures (PNG + SVG each) under {}",
            files.len(),
            figures.len(),
            out.display()
        );
        let variant = opts
            .variant
            .as_ref()
            .map_or(String::new(), |v| format!(" --variant {v}"));
        let ops = match opts.operators {
            Operators::Policy => "",
            Operators::Historical => " --operators historical",
        };
        println!(
            "reproduce: metastable run {} --seed {seed}{variant}{ops}",
            file.display()
        );
    }
    Ok(())
}

/// Options of `metastable run`.
struct RunOpts {
    seed: Option<u64>,
    out: Option<PathBuf>,
    window_ms: Option<f64>,
    variant: Option<String>,
    operators: Operators,
    /// Seeds per variant (`--replications`): distributions instead of per-run files.
    replications: Option<u64>,
    quiet: bool,
}
