//! The `metastable` command line.
//!
//! Exit codes: 0 success; 2 bad input (scenario, sweep, map or shard file, arguments); 3 the
//! output directory is held by another metastable process; 1 failure writing results.

use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, anyhow};
use clap::{Parser, Subcommand};
use rayon::prelude::*;
use sim_core::SimDuration;

use metastable::cli as commands;
use metastable::cli::progress::{Mode, Progress};
use metastable::report::figure::write_figure;
use metastable::report::output::{Hold, OutputDir};
use metastable::report::ranking::write_ranking;
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
        /// Also write each run's point-in-time component state (breaker, budget, resolver
        /// caches, servers, flags) at every window end to state.csv, for `metastable report`.
        #[arg(long = "record-state")]
        record_state: bool,
        /// Print nothing but errors.
        #[arg(long, short)]
        quiet: bool,
    },
    /// Predict from a fluid model, without simulating (one service, or a chain of downstream
    /// calls): the healthy and collapsed equilibria, the bistable load range, the tipping
    /// backlog and trigger, the recovery time; each variant side by side (docs/analytic.md).
    /// Exit 4 if no variant is inside the model's scope (the message names the part outside).
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
    /// Write one self-contained HTML page (charts, step-through, tables) from the output
    /// directory of `run`, `sweep` or `map`. Opens offline; see README "The HTML report".
    Report {
        /// Output directory of `run` (with or without variants or `--replications`), `sweep`
        /// or `map`.
        dir: PathBuf,
        /// Where to write the page (default: DIR/report.html).
        #[arg(long)]
        out: Option<PathBuf>,
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
    /// Estimate the probability of a rare event (the target reached within the horizon) by
    /// fixed-effort importance splitting on the simulator, with a 95 % interval, the cost in
    /// simulated events and crude Monte Carlo at equal cost (docs/analytic.md §9).
    Rare {
        /// Scenario file (TOML).
        file: PathBuf,
        /// Progress measure the levels are on: backlog:SERVICE, plan_lag:DNS_AUTOMATION,
        /// record_empty:SERVICE, records_empty:DNS_AUTOMATION or live_requests.
        #[arg(long)]
        measure: String,
        /// Increasing levels on the measure, comma-separated (e.g. 10,20,30).
        #[arg(long)]
        levels: String,
        /// The rare event: MEASURE>=VALUE (e.g. record_empty:ddb>=1).
        #[arg(long)]
        target: String,
        /// Horizon in seconds (default: the scenario's duration).
        #[arg(long = "horizon-s")]
        horizon_s: Option<f64>,
        /// Trajectories per stage.
        #[arg(long, default_value_t = 100)]
        effort: usize,
        /// Independent replications of the whole estimator (the interval is over them).
        #[arg(long, default_value_t = 20)]
        replications: usize,
        /// Crude Monte Carlo runs for the comparison (0: none).
        #[arg(long, default_value_t = 0)]
        crude: usize,
        /// Master seed (default: the scenario's `seed`, else 0).
        #[arg(long)]
        seed: Option<u64>,
        /// Use this variant of the file (`baseline` is the file as written).
        #[arg(long)]
        variant: Option<String>,
        /// Set a field before validation, PATH=VALUE in TOML (e.g. triggers[0].value=4);
        /// repeatable.
        #[arg(long = "set")]
        set: Vec<String>,
    },
    /// Merge shard files into runs.csv and points.csv, checking that every run is there once.
    Merge {
        /// Output directory.
        #[arg(long)]
        out: PathBuf,
        /// Shard files, or directories holding shard-*-of-*.csv files.
        #[arg(required = true)]
        shards: Vec<PathBuf>,
        /// The sweep file the shards ran: every row is checked against its plan (seed of each
        /// point and replication, axis values), not only by type.
        #[arg(long)]
        sweep: Option<PathBuf>,
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
            record_state,
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
                record_state,
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
        Command::Report { dir, out, quiet } => cmd_report(&dir, out.as_deref(), quiet),
        Command::Analyze { file, variant } => cmd_analyze(&file, variant.as_deref()),
        Command::Rare {
            file,
            measure,
            levels,
            target,
            horizon_s,
            effort,
            replications,
            crude,
            seed,
            variant,
            set,
        } => cmd_rare(
            &file,
            &metastable::rare::spec::RareArgs {
                measure: &measure,
                levels: &levels,
                target: &target,
                horizon_s,
                effort,
                replications,
                crude,
            },
            seed,
            variant.as_deref(),
            &set,
        ),
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
        Command::Merge {
            out,
            shards,
            sweep,
            quiet,
        } => studied(commands::merge(&commands::MergeArgs {
            out,
            inputs: shards,
            sweep,
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

fn cmd_report(dir: &Path, out: Option<&Path>, quiet: bool) -> Result<(), Failure> {
    let (path, bytes) = metastable::report::html::write(dir, out).map_err(|e| Failure {
        code: e.exit_code(),
        error: anyhow!(e),
    })?;
    if !quiet {
        println!("wrote {} ({:.0} KB)", path.display(), bytes as f64 / 1024.0);
    }
    Ok(())
}

/// `metastable rare`: importance splitting on the simulator; prints the estimate.
fn cmd_rare(
    file: &Path,
    args: &metastable::rare::spec::RareArgs,
    seed: Option<u64>,
    variant: Option<&str>,
    set: &[String],
) -> Result<(), Failure> {
    let mut overrides = Vec::new();
    for raw in set {
        let (path, value) = raw
            .split_once('=')
            .ok_or_else(|| input(anyhow!("--set: expected PATH=VALUE, got {raw:?}")))?;
        let value: toml::Table = toml::from_str(&format!("v = {value}"))
            .map_err(|e| input(anyhow!("--set {raw:?}: the value is not TOML: {e}")))?;
        overrides.push(scenario::overrides::Override {
            path: path.trim().to_string(),
            value: value["v"].clone(),
            line: 0,
            column: 0,
            label: format!("--set {raw}"),
        });
    }
    let text = scenario::read::read_text_capped(file, scenario::MAX_FILE_BYTES, "scenario file")
        .map_err(|e| input(anyhow!("{}: {e}", file.display())))?;
    let sc = scenario::parse_with(&text, &file.display().to_string(), &overrides)
        .map_err(|e| input(anyhow!(e)))?;
    let sc = match variant {
        Some(name) => sc
            .variant_named(name)
            .ok_or_else(|| input(anyhow!("--variant: no variant named {name:?}")))?
            .clone(),
        None => sc,
    };
    let spec = metastable::rare::spec::resolve(&sc, args).map_err(|e| input(anyhow!(e)))?;
    let seed = seed.unwrap_or(sc.seed);
    let result = metastable::rare::estimate(&sc, &spec, seed);
    let mut extra = String::new();
    if let Some(v) = variant {
        extra.push_str(&format!(" --variant {v}"));
    }
    for raw in set {
        extra.push_str(&format!(" --set '{raw}'"));
    }
    print!(
        "{}",
        metastable::rare::describe(&sc, &spec, &result, &extra)
    );
    Ok(())
}

/// `metastable analyze`: every variant (or one) through the fluid model; exit 4 when none
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
            code: 4,
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
        // The bounds of the scenario's `window_ms`, and its window limit below.
        let max = scenario::MAX_DURATION_MS;
        if !w.is_finite() || w <= 0.0 || w > max {
            return Err(input(anyhow!(
                "--window-ms: must be a finite number in (0, {max}] (the bound on window_ms), got {w}"
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
        if opts.record_state {
            return Err(input(anyhow!(
                "--record-state: records one run per variant; not available with --replications"
            )));
        }
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
    let out = match opts.out {
        Some(out) => out,
        None => default_out(&sc.name).map_err(input)?,
    };
    // The chosen variants and, for an incident replay run as written, its counterfactual (does
    // it heal by itself?): the same set `--replications` runs.
    let set = metastable::robust::replications::RunSet::of(&sc, opts.variant.as_deref())
        .map_err(|e| input(anyhow!(e)))?;
    let variant = opts
        .variant
        .as_ref()
        .map_or(String::new(), |v| format!(" --variant {v}"));
    let ops = match opts.operators {
        Operators::Policy => "",
        Operators::Historical => " --operators historical",
    };
    let reproduce = format!(
        "metastable run {} --seed {seed}{variant}{ops}",
        file.display()
    );
    let holder = reproduce.clone();
    // The directory is ours alone until we return (a second writer is refused at once); the
    // previous output's manifest and files go first, this run's manifest comes last
    // (docs/output.md).
    let held = |e: metastable::report::output::OutputError| Failure {
        code: e.exit_code(),
        error: anyhow!(e),
    };
    let mut dir = OutputDir::lock(&out, Hold::Whole, "", &holder).map_err(held)?;
    let chosen = &set.runs;
    // With variants, each run goes to its own subdirectory, plus a comparison.
    let compare = chosen.len() > 1;

    #[allow(clippy::disallowed_methods)] // wall time is reported, never simulated
    let started = Instant::now();
    // Progress on stderr only (a bar on a terminal, lines under Slurm): it cannot change a run.
    let progress = Progress::start(Mode::choose(opts.quiet), &sc.name, chosen.len());
    let (reports, states): (Vec<metastable::RunReport>, Vec<_>) = chosen
        .par_iter()
        .enumerate()
        .map(|(i, s)| {
            if opts.record_state {
                let (r, log) =
                    metastable::run::state::run_recording_state(s, seed, progress.observer(i));
                (r, Some(log))
            } else {
                (
                    metastable::run::run_observed(s, seed, progress.observer(i)),
                    None,
                )
            }
        })
        .unzip();
    progress.finish();
    let wall = started.elapsed().as_secs_f64();

    let io = |e: anyhow::Error| Failure { code: 1, error: e };
    // Format everything before writing anything.
    let mut files: Vec<(String, Vec<u8>)> = Vec::new();
    let prefix = |r: &metastable::RunReport| {
        if compare {
            format!("{}/", r.scenario.variant_name())
        } else {
            String::new()
        }
    };
    // windows.csv is streamed from the recorder when it is written (a long run's windows are
    // read back from disk a block at a time, never formatted whole in memory): an empty
    // placeholder here, the report it comes from in `streamed`.
    let mut streamed = std::collections::BTreeMap::new();
    for r in &reports {
        let dir = prefix(r);
        streamed.insert(files.len(), r);
        files.push((format!("{dir}windows.csv"), Vec::new()));
        let summary = r
            .summary_csv()
            .context("formatting summary.csv")
            .map_err(io)?;
        files.push((format!("{dir}summary.csv"), summary));
        if let Some(blast) = metastable::analysis::blast::BlastRadius::of(r) {
            let csv = blast
                .csv()
                .context("formatting blast_radius.csv")
                .map_err(io)?;
            files.push((format!("{dir}blast_radius.csv"), csv));
        }
        if !r.dns_failover.is_empty() {
            let csv = metastable::analysis::failover::csv(r)
                .context("formatting failover.csv")
                .map_err(io)?;
            files.push((format!("{dir}failover.csv"), csv));
        }
    }
    for (r, log) in reports.iter().zip(&states) {
        if let Some(log) = log {
            let csv = log
                .csv(r.scenario.variant_name(), seed)
                .context("formatting state.csv")
                .map_err(io)?;
            files.push((format!("{}state.csv", prefix(r)), csv));
        }
    }
    if compare {
        let csv = metastable::analysis::compare::comparison_csv(&reports)
            .context("formatting comparison.csv")
            .map_err(io)?;
        files.push(("comparison.csv".into(), csv));
    }
    let incident = metastable::analysis::incident::IncidentReport::from_reports(
        &reports,
        set.counterfactual.as_deref(),
    );
    if let Some(inc) = &incident {
        let csv = inc.csv().context("formatting incident.csv").map_err(io)?;
        files.push(("incident.csv".into(), csv));
    }
    dir.begin(metastable::report::output::MANIFEST)
        .map_err(held)?;
    let mut written = Vec::new();
    for (i, (rel, bytes)) in files.iter().enumerate() {
        let path = match streamed.get(&i) {
            Some(r) => dir.write_streamed(rel, |out| {
                r.write_windows_csv(out)
                    .map(drop)
                    .map_err(std::io::Error::other)
            }),
            None => dir.write(rel, bytes),
        };
        written.push(path.map_err(held)?);
    }
    let mut figures = Vec::new();
    for r in &reports {
        let dir_rel = prefix(r);
        let png = dir
            .prepare(&format!("{dir_rel}dashboard.png"))
            .map_err(held)?;
        let svg = dir
            .prepare(&format!("{dir_rel}dashboard.svg"))
            .map_err(held)?;
        write_figure(&r.dashboard(), &png, &svg)
            .context("drawing the dashboard")
            .map_err(io)?;
        figures.push(png.clone());
        written.extend([png, svg]);
        if let Some(blast) = metastable::analysis::blast::BlastRadius::of(r) {
            let png = dir
                .prepare(&format!("{dir_rel}dependencies.png"))
                .map_err(held)?;
            let svg = dir
                .prepare(&format!("{dir_rel}dependencies.svg"))
                .map_err(held)?;
            metastable::report::dependencies::write_dependencies(r, &blast, &png, &svg)
                .context("drawing the dependency graph")
                .map_err(io)?;
            figures.push(png.clone());
            written.extend([png, svg]);
        }
    }
    if compare {
        let png = dir.prepare("variants.png").map_err(held)?;
        let svg = dir.prepare("variants.svg").map_err(held)?;
        write_figure(
            &metastable::report::variants::small_multiples(&reports),
            &png,
            &svg,
        )
        .context("drawing the variants' small multiples")
        .map_err(io)?;
        figures.push(png.clone());
        written.extend([png, svg]);
        let png = dir.prepare("ranking.png").map_err(held)?;
        let svg = dir.prepare("ranking.svg").map_err(held)?;
        write_ranking(&metastable::report::ranking::of_runs(&reports), &png, &svg)
            .context("drawing the variants' ranking")
            .map_err(io)?;
        figures.push(png.clone());
        written.extend([png, svg]);
    }
    let variants: Vec<&str> = reports.iter().map(|r| r.scenario.variant_name()).collect();
    dir.commit(
        &[
            ("command", holder.clone()),
            ("scenario", sc.name.clone()),
            ("seed", seed.to_string()),
            ("variants", variants.join(", ")),
        ],
        &written,
    )
    .map_err(held)?;

    if !opts.quiet {
        for r in &reports {
            print!("{}", r.human_summary());
            if let Some(blast) = metastable::analysis::blast::BlastRadius::of(r) {
                print!("{}", blast.text());
            }
            print!("{}", metastable::analysis::failover::text(r));
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
        println!("reproduce: {reproduce}");
    }
    Ok(())
}

/// `results/<name>`: a scenario name is one plain path component (validation refuses `.` and
/// `..`; checked again here, where it becomes a path).
fn default_out(name: &str) -> anyhow::Result<PathBuf> {
    let mut parts = Path::new(name).components();
    match (parts.next(), parts.next()) {
        (Some(std::path::Component::Normal(_)), None) => Ok(PathBuf::from("results").join(name)),
        _ => Err(anyhow!(
            "scenario name {name:?} cannot name an output directory; give --out"
        )),
    }
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
    /// Write state.csv per run (`--record-state`).
    record_state: bool,
    quiet: bool,
}
