//! The command-line commands built on sweeps: `sweep`, `map` and `merge` (`run` and `check`
//! live in `main.rs`, which owns the process edge: arguments, exit codes, threads, the clock).
//!
//! `metastable sweep`, `map` and `merge`: loading, running, writing — the binary only parses
//! arguments and prints the error.
//!
//! Exit codes (through [`CommandError::exit_code`]): 2 for bad input (sweep or map file,
//! scenario, arguments, shard files, a journal of another sweep), 3 when another process holds
//! the output directory ([`crate::report::output::EXIT_BUSY`]), 1 for failures to write
//! results. Every command holds its output directory for its whole run and writes through
//! [`OutputDir`] (atomic files, no link followed, a manifest last).

use std::path::{Path, PathBuf};

pub mod progress;

use crate::report::draw::PlotError;
use crate::report::output::{self, Hold, OutputDir, OutputError};
use crate::sweep::map;
use crate::sweep::plan::{Sweep, SweepError};
use crate::sweep::runner::{self, RunError, RunOptions};
use crate::sweep::shard::{self, Header, HeaderKind, MergeError, Shard};

/// Most worker threads.
pub const MAX_JOBS: usize = 1024;

/// A command's failure.
#[derive(Debug, thiserror::Error)]
pub enum CommandError {
    #[error(transparent)]
    Sweep(#[from] SweepError),
    #[error("{0}")]
    Input(String),
    #[error(transparent)]
    Run(#[from] RunError),
    #[error(transparent)]
    Merge(#[from] MergeError),
    #[error(transparent)]
    Output(#[from] OutputError),
    #[error("formatting {what}: {message}")]
    Format { what: String, message: String },
    #[error(transparent)]
    Plot(#[from] PlotError),
}

impl CommandError {
    /// 2 for bad input, 1 for output failures.
    pub fn exit_code(&self) -> u8 {
        match self {
            CommandError::Sweep(_) | CommandError::Input(_) | CommandError::Merge(_) => 2,
            CommandError::Run(RunError::Journal { .. } | RunError::JournalCell { .. }) => 2,
            CommandError::Output(e) => e.exit_code(),
            _ => 1,
        }
    }
}

/// Worker threads: `--jobs`, else `SLURM_CPUS_PER_TASK`, else the CPUs this process may use.
pub fn jobs(
    flag: Option<usize>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<usize, CommandError> {
    let n = match flag {
        Some(n) => n,
        None => match env("SLURM_CPUS_PER_TASK").and_then(|v| v.trim().parse::<usize>().ok()) {
            Some(n) => n,
            None => std::thread::available_parallelism().map_or(1, |n| n.get()),
        },
    };
    if n == 0 || n > MAX_JOBS {
        let from = if flag.is_some() {
            "--jobs"
        } else {
            "SLURM_CPUS_PER_TASK"
        };
        return Err(CommandError::Input(format!(
            "{from}: worker threads must be in 1..={MAX_JOBS}, got {n}"
        )));
    }
    Ok(n)
}

fn env_var(name: &str) -> Option<String> {
    std::env::var(name).ok()
}

/// Options of `metastable sweep`.
#[derive(Clone, Debug, Default)]
pub struct SweepArgs {
    pub file: PathBuf,
    pub jobs: Option<usize>,
    pub out: Option<PathBuf>,
    pub shard_index: Option<u64>,
    pub shard_count: Option<u64>,
    /// Validate and report the size only.
    pub dry_run: bool,
    pub quiet: bool,
}

/// What a sweep or map did, for the caller to print.
#[derive(Clone, Debug, Default)]
pub struct Outcome {
    /// Human lines to print on stdout (empty with `quiet`).
    pub report: String,
    pub files: Vec<PathBuf>,
}

/// Takes `out` for a whole command (see [`OutputDir::lock`]).
fn hold(out: &Path, holder: String) -> Result<OutputDir, CommandError> {
    Ok(OutputDir::lock(out, Hold::Whole, "", &holder)?)
}

fn format_err(what: &str) -> impl Fn(String) -> CommandError + '_ {
    move |message| CommandError::Format {
        what: what.to_string(),
        message,
    }
}

fn load(file: &Path, pool: &rayon::ThreadPool) -> Result<Sweep, CommandError> {
    Ok(pool.install(|| crate::sweep::file::load(file))?)
}

/// Wall-clock seconds since `t0` (reported, never simulated).
#[allow(clippy::disallowed_methods)] // wall time is reported, never simulated
fn now() -> std::time::Instant {
    std::time::Instant::now()
}

/// `metastable sweep`.
pub fn sweep(args: &SweepArgs) -> Result<Outcome, CommandError> {
    let started = now();
    let jobs = jobs(args.jobs, &env_var)?;
    let pool = runner::pool(jobs)?;
    let sweep = load(&args.file, &pool)?;
    let choice =
        shard::choose(args.shard_index, args.shard_count, &env_var).map_err(CommandError::Input)?;
    if args.dry_run {
        let mut report = format!("ok: {sweep}\n");
        if let Some(c) = &choice {
            report.push_str(&format!(
                "shard {} ({}): {} of {} runs\n",
                c.shard,
                c.source,
                c.shard.len(sweep.n_runs()),
                sweep.n_runs()
            ));
        }
        return Ok(Outcome {
            report: if args.quiet { String::new() } else { report },
            files: Vec::new(),
        });
    }
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(format!("sweep-{}", sweep.name)));
    let holder = format!("metastable sweep {}", args.file.display());
    let mut dir = match &choice {
        None => OutputDir::lock(&out, Hold::Whole, "", &holder)?,
        Some(c) => OutputDir::lock(
            &out,
            Hold::Shard,
            &format!(".{}.lock", c.shard.journal_name()),
            &format!("{holder}, shard {}", c.shard),
        )?,
    };
    let shard = choice.as_ref().map_or(Shard::ALL, |c| c.shard);
    let journal = out.join(match &choice {
        Some(c) => c.shard.journal_name(),
        None => "runs.journal".to_string(),
    });
    if !args.quiet
        && let Some(c) = &choice
    {
        eprintln!("shard {} (from {})", c.shard, c.source);
    }
    // A shard already finished (e.g. a re-submitted array task) is not run again.
    if let Some(c) = &choice
        && let Some(done) = finished_shard(&out.join(c.shard.file_name()), &sweep, c.shard)
    {
        let report = if args.quiet {
            String::new()
        } else {
            format!(
                "{sweep}\nshard {} ({}): already complete in {}\n",
                c.shard,
                c.source,
                done.display()
            )
        };
        return Ok(Outcome {
            report,
            files: vec![done],
        });
    }
    let opts = RunOptions {
        jobs,
        progress: !args.quiet,
        journal: Some(journal.clone()),
    };
    let (table, summary) = runner::run_sweep(&sweep, shard, &opts)?;

    let mut files = Vec::new();
    match &choice {
        None => {
            let runs = table
                .runs_csv()
                .map_err(|e| format_err("runs.csv")(e.to_string()))?;
            let points = table.points_csv().map_err(format_err("points.csv"))?;
            dir.begin(output::SWEEP_MANIFEST)?;
            for (name, bytes) in [("runs.csv", runs), ("points.csv", points)] {
                files.push(dir.write(name, &bytes)?);
            }
            dir.commit(
                &[
                    ("command", holder.clone()),
                    ("fingerprint", sweep.fingerprint.clone()),
                    ("runs", sweep.n_runs().to_string()),
                ],
                &files,
            )?;
        }
        Some(c) => {
            let header = Header {
                kind: HeaderKind::Shard,
                fingerprint: sweep.fingerprint.clone(),
                shard: c.shard,
                runs: sweep.n_runs(),
                replications: sweep.replications,
                axes: sweep.axes.len(),
            };
            let bytes = shard::shard_file(&header, &table)
                .map_err(|e| format_err("the shard file")(e.to_string()))?;
            files.push(dir.write(&c.shard.file_name(), &bytes)?);
        }
    }
    let _ = std::fs::remove_file(&journal);
    let wall = started.elapsed().as_secs_f64();

    let mut report = String::new();
    if !args.quiet {
        report.push_str(&format!("{sweep}\n"));
        if let Some(c) = &choice {
            report.push_str(&format!(
                "shard {} ({}): {} of {} runs\n",
                c.shard,
                c.source,
                summary.runs,
                sweep.n_runs()
            ));
        }
        if summary.resumed > 0 {
            report.push_str(&format!(
                "resumed: {} run(s) already in the journal, {} run now\n",
                summary.resumed, summary.computed
            ));
        }
        let rate = summary.computed as f64 / wall.max(1e-9);
        report.push_str(&format!(
            "wall {wall:.2} s · {} run(s) computed with {jobs} job(s) · {rate:.1} runs/s · {:.1} M events/s\n",
            summary.computed,
            summary.events as f64 / wall.max(1e-9) / 1e6
        ));
        report.push_str(&verdict_line(&table));
        for f in &files {
            report.push_str(&format!("wrote {}\n", f.display()));
        }
    }
    Ok(Outcome { report, files })
}

/// `path`, if it is this shard of this sweep, already written (shard files are written
/// atomically, so one that exists with the right header is complete).
fn finished_shard(path: &Path, sweep: &Sweep, shard: Shard) -> Option<PathBuf> {
    use std::io::Read;
    // A regular file only (not a link, not a FIFO that would block the read).
    if !std::fs::symlink_metadata(path).ok()?.is_file() {
        return None;
    }
    let mut head = vec![0u8; 512];
    let n = std::fs::File::open(path).ok()?.read(&mut head).ok()?;
    let text = String::from_utf8_lossy(&head[..n]).into_owned();
    let (h, _) = Header::parse(&text).ok()?;
    let same = h.kind == HeaderKind::Shard
        && h.fingerprint == sweep.fingerprint
        && h.shard == shard
        && h.runs == sweep.n_runs();
    same.then(|| path.to_path_buf())
}

/// `verdicts: 12 stable · 3 recovered · 9 metastable`.
fn verdict_line(table: &crate::sweep::results::Table) -> String {
    let col = crate::sweep::columns::LEAD_COLUMNS.len() + table.n_axes;
    let mut counts = [0u64; crate::sweep::columns::VERDICTS.len()];
    for line in table.rows.values() {
        if let Some(cells) = crate::sweep::results::parse_record(line.trim_end())
            && let Some(k) = cells
                .get(col)
                .and_then(|v| crate::sweep::columns::VERDICTS.iter().position(|x| x == v))
        {
            counts[k] += 1;
        }
    }
    let parts: Vec<String> = crate::sweep::columns::VERDICTS
        .iter()
        .zip(counts)
        .filter(|(_, n)| *n > 0)
        .map(|(v, n)| format!("{n} {v}"))
        .collect();
    format!("verdicts: {}\n", parts.join(" · "))
}

/// Options of `metastable map`.
#[derive(Clone, Debug, Default)]
pub struct MapArgs {
    pub file: PathBuf,
    pub jobs: Option<usize>,
    pub out: Option<PathBuf>,
    pub quiet: bool,
}

/// `metastable map`: the grid (resumable, like a sweep), the cells, the bisection, the files.
pub fn map(args: &MapArgs) -> Result<(Outcome, map::MapResult, map::MapPlan), CommandError> {
    let started = now();
    let jobs = jobs(args.jobs, &env_var)?;
    let pool = runner::pool(jobs)?;
    let sweep = load(&args.file, &pool)?;
    let plan = map::plan(&sweep, sweep.text())?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(format!("map-{}", sweep.name)));
    let holder = format!("metastable map {}", args.file.display());
    let mut dir = hold(&out, holder.clone())?;
    let journal = out.join("runs.journal");
    let opts = RunOptions {
        jobs,
        progress: !args.quiet,
        journal: Some(journal.clone()),
    };
    let (table, summary) = runner::run_sweep(&sweep, Shard::ALL, &opts)?;
    let cells = map::cells(&sweep, &plan, &table).map_err(format_err("the map"))?;
    let quiet = args.quiet;
    let (boundaries, probes, probe_runs) =
        map::bisect(&sweep, &plan, &cells, &pool, |round, rows| {
            if !quiet {
                eprintln!("bisection round {}: {rows} row(s)", round + 1);
            }
        })
        .map_err(RunError::Run)?;
    let result = map::MapResult {
        cells,
        boundaries,
        probes,
        probe_runs,
    };

    let csv =
        |what: &str, r: Result<Vec<u8>, csv::Error>| r.map_err(|e| format_err(what)(e.to_string()));
    let outputs = [
        ("runs.csv", csv("runs.csv", table.runs_csv())?),
        (
            "points.csv",
            table.points_csv().map_err(format_err("points.csv"))?,
        ),
        (
            "map.csv",
            csv("map.csv", map::map_csv(&plan, &result.cells))?,
        ),
        (
            "boundary.csv",
            csv("boundary.csv", map::boundary_csv(&plan, &result.boundaries))?,
        ),
        (
            "probes.csv",
            csv("probes.csv", map::probes_csv(&plan, &result.probes))?,
        ),
    ];
    let mut files = Vec::new();
    dir.begin(output::MAP_MANIFEST)?;
    for (name, bytes) in &outputs {
        files.push(dir.write(name, bytes)?);
    }
    let png = dir.prepare("map.png")?;
    let svg = dir.prepare("map.svg")?;
    let mut figure = map::figure(&plan, &sweep, &result);
    figure.predicted = crate::analytic::map_line::predicted_critical(&sweep, &plan);
    crate::report::plot_map::write_map(&figure, &png, &svg)?;
    files.push(png);
    files.push(svg);
    dir.commit(
        &[
            ("command", holder),
            ("fingerprint", sweep.fingerprint.clone()),
        ],
        &files,
    )?;
    let _ = std::fs::remove_file(&journal);
    let wall = started.elapsed().as_secs_f64();

    let mut report = String::new();
    if !args.quiet {
        report.push_str(&format!("{sweep}\n"));
        report.push_str(&format!(
            "grid: {} run(s) ({} resumed) · bisection: {} probe(s), {} run(s) · wall {wall:.2} s with {jobs} job(s)\n",
            summary.runs,
            summary.resumed,
            result.probes.len(),
            result.probe_runs
        ));
        report.push_str(&map::boundary_table(&plan, &result.boundaries));
        for f in &files {
            report.push_str(&format!("wrote {}\n", f.display()));
        }
    }
    Ok((Outcome { report, files }, result, plan))
}

/// Options of `metastable merge`.
#[derive(Clone, Debug, Default)]
pub struct MergeArgs {
    pub out: PathBuf,
    pub inputs: Vec<PathBuf>,
    /// The sweep file: every row is checked against its plan (seeds, axis values).
    pub sweep: Option<PathBuf>,
    pub quiet: bool,
}

/// `metastable merge`.
pub fn merge(args: &MergeArgs) -> Result<Outcome, CommandError> {
    let files = shard::shard_files(&args.inputs)?;
    let plan = match &args.sweep {
        Some(file) => Some(crate::sweep::file::load(file)?),
        None => None,
    };
    let merged = shard::merge(&files, plan.as_ref())?;
    let runs = merged
        .table
        .runs_csv()
        .map_err(|e| format_err("runs.csv")(e.to_string()))?;
    let points = merged
        .table
        .points_csv()
        .map_err(format_err("points.csv"))?;
    let mut dir = hold(&args.out, "metastable merge".to_string())?;
    dir.begin(output::SWEEP_MANIFEST)?;
    let mut written = Vec::new();
    for (name, bytes) in [("runs.csv", runs), ("points.csv", points)] {
        written.push(dir.write(name, &bytes)?);
    }
    dir.commit(
        &[
            ("command", "metastable merge".to_string()),
            ("fingerprint", merged.header.fingerprint.clone()),
            ("runs", merged.header.runs.to_string()),
        ],
        &written,
    )?;
    let mut report = String::new();
    if !args.quiet {
        report.push_str(&format!(
            "merged {} shard file(s) of sweep {}: {} runs, all present once\n",
            merged.files, merged.header.fingerprint, merged.header.runs
        ));
        report.push_str(&verdict_line(&merged.table));
        for f in &written {
            report.push_str(&format!("wrote {}\n", f.display()));
        }
    }
    Ok(Outcome {
        report,
        files: written,
    })
}

/// Options of `metastable run FILE --replications N` (the scenario is loaded by the caller,
/// which applies `--window-ms`).
#[derive(Clone, Debug, Default)]
pub struct ReplicationArgs {
    pub variant: Option<String>,
    /// First seed (default: the scenario's).
    pub seed: Option<u64>,
    pub replications: u64,
    /// Default: `results/<scenario name>-replications`.
    pub out: Option<PathBuf>,
    pub quiet: bool,
}

/// `metastable run FILE --replications N`: every chosen variant (and the incident
/// counterfactual) over seeds `seed..seed + N`; writes `replications.csv` and, with
/// `[incident]`, `incident.csv` in distribution form. No per-run files.
pub fn replications(sc: &crate::Scenario, args: &ReplicationArgs) -> Result<Outcome, CommandError> {
    use crate::robust::replications::{MAX_REPLICATIONS, Replications, RunSet, seeds};
    let n = args.replications;
    if n == 0 || n > MAX_REPLICATIONS {
        return Err(CommandError::Input(format!(
            "--replications {n}: must be in 1..={MAX_REPLICATIONS} (scenario {})",
            sc.file
        )));
    }
    let base = args.seed.unwrap_or(sc.seed);
    let seeds = seeds(base, n).ok_or_else(|| {
        CommandError::Input(format!(
            "--seed {base} --replications {n}: the last seed would pass {}",
            u64::MAX
        ))
    })?;
    let set = RunSet::of(sc, args.variant.as_deref()).map_err(CommandError::Input)?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(format!("{}-replications", sc.name)));
    let holder = format!("metastable run {} --replications {n}", sc.file);
    let mut dir = hold(&out, holder.clone())?;
    let started = now();
    let progress = progress::Progress::start(
        progress::Mode::choose(args.quiet),
        &sc.name,
        set.runs.len() * seeds.len(),
    );
    let reps = Replications::run_observed(sc, &set, &seeds, |i| progress.observer(i));
    progress.finish();
    let wall = started.elapsed().as_secs_f64();
    // Format everything before writing anything.
    let mut outputs = vec![(
        "replications.csv",
        reps.csv()
            .map_err(|e| format_err("replications.csv")(e.to_string()))?,
    )];
    if let Some(csv) = reps.incident_csv() {
        let csv = csv.map_err(|e| format_err("incident.csv")(e.to_string()))?;
        outputs.push(("incident.csv", csv));
    }
    dir.begin(output::REPLICATIONS_MANIFEST)?;
    let mut files = Vec::new();
    for (name, bytes) in &outputs {
        files.push(dir.write(name, bytes)?);
    }
    let mut figures = Vec::new();
    if reps.variants.len() > 1 {
        let png = dir.prepare("ranking.png")?;
        let svg = dir.prepare("ranking.svg")?;
        crate::report::ranking::write_ranking(&reps.ranking(), &png, &svg)
            .map_err(CommandError::Plot)?;
        figures.push(png.clone());
        files.extend([png, svg]);
    }
    dir.commit(
        &[("command", holder), ("seeds", format!("{n} from {base}"))],
        &files,
    )?;
    let mut report = String::new();
    if !args.quiet {
        report.push_str(&reps.table());
        let runs = reps.records.len();
        let events: u64 = reps.records.iter().map(|r| r.events).sum();
        report.push_str(&format!(
            "wall {wall:.2} s for {runs} run(s) · {:.1} runs/s · {:.1} M events/s\n",
            runs as f64 / wall.max(1e-9),
            events as f64 / wall.max(1e-9) / 1e6
        ));
        for f in files
            .iter()
            .filter(|f| f.extension().is_some_and(|e| e == "csv"))
            .chain(&figures)
        {
            report.push_str(&format!("wrote {}\n", f.display()));
        }
        let variant = args
            .variant
            .as_ref()
            .map_or(String::new(), |v| format!(" --variant {v}"));
        let variant = match sc.operator_mode {
            crate::scenario::OperatorMode::Policy => variant,
            crate::scenario::OperatorMode::Historical => variant + " --operators historical",
        };
        report.push_str(&format!(
            "reproduce: metastable run {} --seed {base} --replications {n}{variant}; one run in full: metastable run {} --seed S{variant}\n",
            sc.file, sc.file
        ));
    }
    Ok(Outcome { report, files })
}

/// Options of `metastable robustness`.
#[derive(Clone, Debug, Default)]
pub struct RobustnessArgs {
    pub file: PathBuf,
    /// `25%` or `0.25` (default 25 %).
    pub perturb: Option<String>,
    /// Seeds per file (default 5).
    pub seeds: Option<u64>,
    /// First seed (default: the scenario's).
    pub seed: Option<u64>,
    /// Default: `results/<scenario name>-robustness`.
    pub out: Option<PathBuf>,
    /// Comma-separated variants to run besides the baseline and the counterfactual (default:
    /// all).
    pub variants: Option<String>,
    pub quiet: bool,
}

/// `metastable robustness`: each `[incident] inferred` parameter × (1 ± p); writes
/// `robustness.csv`.
pub fn robustness(args: &RobustnessArgs) -> Result<Outcome, CommandError> {
    use crate::robust::replications::seeds;
    use crate::robust::robustness::{
        DEFAULT_PERTURB, DEFAULT_SEEDS, MAX_SEEDS, Robustness, parse_fraction,
    };
    let p = match &args.perturb {
        Some(s) => parse_fraction(s).map_err(CommandError::Input)?,
        None => DEFAULT_PERTURB,
    };
    let k = args.seeds.unwrap_or(DEFAULT_SEEDS);
    if k == 0 || k > MAX_SEEDS {
        return Err(CommandError::Input(format!(
            "--seeds {k}: must be in 1..={MAX_SEEDS}"
        )));
    }
    let sc = crate::scenario::load(&args.file).map_err(|e| CommandError::Input(e.to_string()))?;
    let text = crate::scenario::read::read_text_capped(
        &args.file,
        crate::scenario::MAX_FILE_BYTES,
        "scenario file",
    )
    .map_err(|e| CommandError::Input(format!("{}: {e}", args.file.display())))?;
    let base = args.seed.unwrap_or(sc.seed);
    let seeds = seeds(base, k).ok_or_else(|| {
        CommandError::Input(format!(
            "--seed {base} --seeds {k}: the last seed would pass {}",
            u64::MAX
        ))
    })?;
    let out = args
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from("results").join(format!("{}-robustness", sc.name)));
    let holder = format!("metastable robustness {}", args.file.display());
    let mut dir = hold(&out, holder.clone())?;
    let started = now();
    let only: Option<Vec<String>> = args.variants.as_ref().map(|v| {
        v.split(',')
            .map(|s| s.trim().to_string())
            .filter(|s| !s.is_empty() && s != "baseline")
            .collect()
    });
    let result =
        Robustness::assess(&sc, &text, p, &seeds, only.as_deref()).map_err(CommandError::Input)?;
    let wall = started.elapsed().as_secs_f64();
    let csv = result
        .csv()
        .map_err(|e| format_err("robustness.csv")(e.to_string()))?;
    dir.begin(output::ROBUSTNESS_MANIFEST)?;
    let path = dir.write("robustness.csv", &csv)?;
    dir.commit(
        &[
            ("command", holder),
            ("seeds", format!("{base}, {k} seed(s)")),
        ],
        std::slice::from_ref(&path),
    )?;
    let mut report = String::new();
    if !args.quiet {
        report.push_str(&result.table());
        report.push_str(&format!(
            "wall {wall:.2} s for {} run(s) · {:.1} M events/s\nwrote {}\nreproduce: metastable robustness {} --perturb {} --seeds {k} --seed {base}{}\n",
            result.runs,
            result.events as f64 / wall.max(1e-9) / 1e6,
            path.display(),
            args.file.display(),
            crate::robust::robustness::pct(p) + "%",
            args.variants
                .as_ref()
                .map_or(String::new(), |v| format!(" --variants {v}")),
        ));
    }
    Ok(Outcome {
        report,
        files: vec![path],
    })
}
