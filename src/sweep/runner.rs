//! Runs a list of sweep runs in parallel on an explicit rayon pool, journals each finished row
//! and resumes from the journal.
//!
//! Workers compute rows (each [`crate::RunReport`] is dropped as soon as its row is made) and
//! send them over a bounded channel to the calling thread, which appends each row to the
//! journal (one `write` per row, so a killed sweep loses at most the runs in progress), counts
//! progress, and keeps the row text. Rows are keyed by run id, so the order in which workers
//! finish never shows in the output.
//!
//! Journal: the [`crate::sweep::shard::Header`] block (fingerprint, shard, runs, axes), the
//! `runs.csv` header, then rows in completion order. On resume, a journal whose fingerprint,
//! shard or header differ is refused; a last line without its line end (the process died in
//! the middle of writing it) is cut off; every row is checked (run id in this shard, point,
//! replication, seed and axis values as the sweep gives them) before it is trusted.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc;

use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use rayon::prelude::*;

use crate::sweep::columns::{BadCell, LEAD_COLUMNS, RUN_COLUMNS, cell_column, check_cells};
use crate::sweep::plan::Sweep;
use crate::sweep::results::{Table, parse_record, record, row_of};
use crate::sweep::shard::{Header, HeaderKind, Shard};

/// Why runs could not be completed.
#[derive(Debug, thiserror::Error)]
pub enum RunError {
    /// The journal in the output directory belongs to another sweep or is damaged (bad input:
    /// exit code 2).
    #[error("{}: {message}", path.display())]
    Journal {
        /// The journal file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
    /// A row of the journal is not a run of this sweep as the plan gives it (exit code 2).
    #[error("{}:{line}:{column}: {field}: {message}", path.display())]
    JournalCell {
        /// The journal file.
        path: PathBuf,
        /// 1-based line of the row.
        line: usize,
        /// 1-based column of the cell.
        column: usize,
        /// The cell's column name.
        field: String,
        /// What is wrong with the cell.
        message: String,
    },
    /// Reading or writing the journal failed.
    #[error("{}: {error}", path.display())]
    Io {
        /// The journal file.
        path: PathBuf,
        /// The I/O error.
        error: std::io::Error,
    },
    /// A run could not be made (an internal error: points are validated before running).
    #[error("{0}")]
    Run(String),
    /// The worker threads could not be started.
    #[error("cannot start {jobs} worker thread(s): {message}")]
    Pool {
        /// Threads asked for.
        jobs: usize,
        /// Why they could not be started.
        message: String,
    },
}

/// How to run.
#[derive(Clone, Debug)]
pub struct RunOptions {
    /// Worker threads.
    pub jobs: usize,
    /// Draw a progress bar on stderr (only if stderr is a terminal).
    pub progress: bool,
    /// Append finished rows here and resume from it.
    pub journal: Option<PathBuf>,
}

/// What [`run_sweep`] did.
#[derive(Clone, Debug, Default)]
pub struct RunSummary {
    /// Runs of this shard.
    pub runs: u64,
    /// Runs found finished in the journal.
    pub resumed: u64,
    /// Runs computed now.
    pub computed: u64,
    /// Events simulated by the runs computed now.
    pub events: u64,
}

/// An explicit pool of `jobs` threads.
pub fn pool(jobs: usize) -> Result<rayon::ThreadPool, RunError> {
    rayon::ThreadPoolBuilder::new()
        .num_threads(jobs.max(1))
        .thread_name(|i| format!("sweep-{i}"))
        .build()
        .map_err(|e| RunError::Pool {
            jobs,
            message: e.to_string(),
        })
}

/// Runs every run of `shard` not already in the journal; returns all of the shard's rows.
/// [`Shard::ALL`] runs the whole sweep; without a journal nothing is written to disk.
///
/// ```
/// use metastable::sweep::{self, runner::{RunOptions, run_sweep}, shard::Shard};
///
/// // Two loads × two retry policies of HotOS 2021's retry example, two seeds each.
/// let text = r#"
/// [sweep]
/// scenario = "../scenarios/hotos-retry.toml"
/// replications = 2
/// seed = 1
///
/// [[axes]]
/// name = "rate_per_s"
/// path = "clients[web].rate_per_s"
/// values = [140.0, 280.0]
///
/// [[axes]]
/// name = "max_attempts"
/// path = "clients[web].retry.max_attempts"
/// values = [1, 2]
/// "#;
/// let plan = sweep::parse(text, "sweeps/in-code.toml", "sweeps".as_ref()).unwrap();
/// assert_eq!((plan.n_points, plan.n_runs()), (4, 8));
/// let opts = RunOptions { jobs: 2, progress: false, journal: None };
/// let (table, done) = run_sweep(&plan, Shard::ALL, &opts).unwrap();
/// assert_eq!(done.computed, 8);
/// let runs_csv = String::from_utf8(table.runs_csv().unwrap()).unwrap();
/// let points_csv = String::from_utf8(table.points_csv().unwrap()).unwrap();
/// assert_eq!((runs_csv.lines().count(), points_csv.lines().count()), (9, 5));
/// ```
pub fn run_sweep(
    sweep: &Sweep,
    shard: Shard,
    opts: &RunOptions,
) -> Result<(Table, RunSummary), RunError> {
    let axes: Vec<&str> = sweep.axes.iter().map(|a| a.name.as_str()).collect();
    let mut table = Table::new(&axes);
    let header = Header {
        kind: HeaderKind::Journal,
        fingerprint: sweep.fingerprint.clone(),
        shard,
        runs: sweep.n_runs(),
        replications: sweep.replications,
        axes: sweep.axes.len(),
    };
    let mut journal: Option<(File, PathBuf)> = None;
    if let Some(path) = &opts.journal {
        let mut f = open_journal(path)?;
        let resumed = read_journal(&f, path, &header, sweep, &table.header)?;
        table.rows = resumed;
        if f.metadata().map(|m| m.len()).unwrap_or(0) == 0 {
            let mut head = header.text();
            head.push_str(&record(&table.header).map_err(|e| RunError::Run(e.to_string()))?);
            f.write_all(head.as_bytes()).map_err(|error| RunError::Io {
                path: path.clone(),
                error,
            })?;
        }
        journal = Some((f, path.clone()));
    }
    let ids: Vec<u64> = shard.runs(sweep.n_runs()).collect();
    let pending: Vec<u64> = ids
        .iter()
        .copied()
        .filter(|id| !table.rows.contains_key(id))
        .collect();
    let mut summary = RunSummary {
        runs: ids.len() as u64,
        resumed: (ids.len() - pending.len()) as u64,
        ..Default::default()
    };

    let bar = progress_bar(opts.progress, summary.runs, summary.resumed);
    let pool = pool(opts.jobs)?;
    let stop = AtomicBool::new(false);
    let (tx, rx) = mpsc::sync_channel::<Result<(u64, String, u64), String>>(256);
    let mut failure: Option<RunError> = None;
    std::thread::scope(|scope| {
        let pending = &pending;
        let stop = &stop;
        let pool = &pool;
        scope.spawn(move || {
            pool.install(|| {
                pending.par_iter().for_each_with(tx, |tx, &id| {
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let row = compute_row(sweep, id).map(|line| {
                        let events = events_of(&line, sweep.axes.len());
                        (id, line, events)
                    });
                    if tx.send(row).is_err() {
                        stop.store(true, Ordering::Relaxed);
                    }
                });
            });
        });
        for msg in rx {
            match msg {
                Ok((id, line, events)) => {
                    if let Some((f, path)) = journal.as_mut()
                        && let Err(error) = f.write_all(line.as_bytes())
                    {
                        failure.get_or_insert(RunError::Io {
                            path: path.clone(),
                            error,
                        });
                        stop.store(true, Ordering::Relaxed);
                        break;
                    }
                    table.rows.insert(id, line);
                    summary.computed += 1;
                    summary.events += events;
                    bar.inc(1);
                }
                Err(message) => {
                    failure.get_or_insert(RunError::Run(message));
                    stop.store(true, Ordering::Relaxed);
                    break;
                }
            }
        }
        // Dropping the receiver (end of the loop) makes every later send fail, so the workers
        // stop quickly after a failure.
    });
    bar.finish_and_clear();
    if let Some(e) = failure {
        return Err(e);
    }
    Ok((table, summary))
}

/// The `events` cell of a row.
fn events_of(line: &str, n_axes: usize) -> u64 {
    let events = RUN_COLUMNS.iter().position(|c| *c == "events");
    let col = LEAD_COLUMNS.len() + n_axes + events.unwrap_or(RUN_COLUMNS.len());
    parse_record(line.trim_end_matches('\n'))
        .and_then(|c| c.get(col).and_then(|e| e.parse().ok()))
        .unwrap_or(0)
}

fn progress_bar(enabled: bool, len: u64, done: u64) -> ProgressBar {
    if !enabled || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::with_draw_target(Some(len), ProgressDrawTarget::stderr());
    if let Ok(style) = ProgressStyle::with_template(
        "{bar:40.cyan/blue} {pos}/{len} runs · {per_sec} · elapsed {elapsed} · ETA {eta}",
    ) {
        bar.set_style(style);
    }
    bar.set_position(done);
    bar.reset_eta();
    bar
}

/// Largest journal read back, in bytes (as a shard file).
pub const MAX_JOURNAL_BYTES: u64 = crate::sweep::shard::MAX_SHARD_FILE_BYTES;

/// Opens (creating) the journal for reading and appending. A symbolic link is never followed
/// (`O_NOFOLLOW`: a planted `runs.journal` link must not make a sweep write elsewhere) and
/// anything but a regular file is refused.
fn open_journal(path: &Path) -> Result<File, RunError> {
    let mut options = OpenOptions::new();
    options.read(true).append(true).create(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK);
    }
    let file = options.open(path).map_err(|error| {
        if error.raw_os_error() == Some(libc::ELOOP) {
            RunError::Journal {
                path: path.to_path_buf(),
                message: "is a symbolic link; a journal is never followed (remove it)".into(),
            }
        } else {
            RunError::Io {
                path: path.to_path_buf(),
                error,
            }
        }
    })?;
    match file.metadata() {
        Ok(m) if m.is_file() => Ok(file),
        Ok(_) => Err(RunError::Journal {
            path: path.to_path_buf(),
            message: "is not a regular file".into(),
        }),
        Err(error) => Err(RunError::Io {
            path: path.to_path_buf(),
            error,
        }),
    }
}

/// Reads a journal: its rows by run id (empty for a new journal). Cuts off a partial last
/// line.
fn read_journal(
    file: &File,
    path: &Path,
    expected: &Header,
    sweep: &Sweep,
    csv_header: &[String],
) -> Result<BTreeMap<u64, String>, RunError> {
    use std::io::Read;
    let io = |error| RunError::Io {
        path: path.to_path_buf(),
        error,
    };
    let bad = |message: String| RunError::Journal {
        path: path.to_path_buf(),
        message,
    };
    let mut text = Vec::new();
    file.take(MAX_JOURNAL_BYTES + 1)
        .read_to_end(&mut text)
        .map_err(io)?;
    if text.len() as u64 > MAX_JOURNAL_BYTES {
        return Err(bad(format!(
            "journal is larger than the limit of {MAX_JOURNAL_BYTES} bytes"
        )));
    }
    // Keep complete lines only.
    let complete = text.iter().rposition(|&b| b == b'\n').map_or(0, |i| i + 1);
    if complete < text.len() {
        file.set_len(complete as u64).map_err(io)?;
    }
    let text = String::from_utf8_lossy(&text[..complete]).into_owned();
    if text.is_empty() {
        return Ok(BTreeMap::new());
    }
    let (header, body) = Header::parse(&text).map_err(|m| {
        bad(format!(
            "{m}; not a sweep journal (delete it to start the sweep afresh)"
        ))
    })?;
    if header.fingerprint != expected.fingerprint {
        return Err(bad(format!(
            "journal of a different sweep (fingerprint {}, this sweep {}): the sweep file, its \
             scenario or the program changed since; delete it to start afresh, or use another --out",
            header.fingerprint, expected.fingerprint
        )));
    }
    if header.shard != expected.shard || header.runs != expected.runs {
        return Err(bad(format!(
            "journal of shard {} with {} runs; this run is shard {} with {} runs \
             (delete it or use another --out)",
            header.shard, header.runs, expected.shard, expected.runs
        )));
    }
    let header_lines = text[..text.len() - body.len()].matches('\n').count();
    let mut lines = body.lines();
    match lines.next() {
        None => {
            // Killed while writing the header: start the journal again.
            file.set_len(0).map_err(io)?;
            return Ok(BTreeMap::new());
        }
        Some(h) if parse_record(h).as_deref() == Some(csv_header) => {}
        Some(h) => {
            let hint = parse_record(h)
                .and_then(|cells| crate::sweep::columns::old_column_hint(&cells))
                .map_or(String::new(), |m| format!(": {m}"));
            return Err(bad(format!("unexpected CSV header {h:?}{hint}")));
        }
    }
    let mut rows = BTreeMap::new();
    for (k, line) in lines.enumerate() {
        // File line: the header block, the CSV header, then rows from 1.
        let line_no = header_lines + 2 + k;
        let at = |index: usize, field: String, message: String| RunError::JournalCell {
            path: path.to_path_buf(),
            line: line_no,
            column: cell_column(line, index),
            field,
            message,
        };
        let cells = parse_record(line)
            .ok_or_else(|| at(0, "(row)".into(), "unreadable CSV record".into()))?;
        let id = check_row(&cells, sweep, expected.shard)
            .map_err(|b| at(b.index, b.column, b.message))?;
        let canonical = record(&cells).map_err(|e| bad(e.to_string()))?;
        match rows.get(&id) {
            Some(prev) if *prev != canonical => {
                return Err(bad(format!(
                    "run {id} appears twice with different results"
                )));
            }
            _ => {
                rows.insert(id, canonical);
            }
        }
    }
    Ok(rows)
}

/// Checks a row of a journal or shard file against the sweep's plan, every cell by its type
/// first ([`check_cells`]); returns its run id.
pub(crate) fn check_row(cells: &[String], sweep: &Sweep, shard: Shard) -> Result<u64, BadCell> {
    check_cells(cells, sweep.axes.len())?;
    let bad = |index: usize, message: String| BadCell {
        index,
        column: cells_name(sweep, index),
        message,
    };
    let num = |i: usize| cells[i].parse::<u64>().unwrap_or(u64::MAX);
    let (id, point, rep, seed) = (num(0), num(1), num(2), num(3));
    if id >= sweep.n_runs() || !shard.contains(id, sweep.n_runs()) {
        return Err(bad(
            0,
            format!(
                "run {id} is not a run of shard {shard} of this {}-run sweep",
                sweep.n_runs()
            ),
        ));
    }
    let (p, r) = (id / sweep.replications, id % sweep.replications);
    if point != p {
        return Err(bad(1, format!("run {id} is point {p}, got {point}")));
    }
    if rep != r {
        return Err(bad(2, format!("run {id} is replication {r}, got {rep}")));
    }
    let expected = sweep.seed_of(p, r);
    if seed != expected {
        return Err(bad(
            3,
            format!("run {id} (point {p}, replication {r}) has seed {expected}, got {seed}"),
        ));
    }
    let texts = sweep.point_texts(p);
    for (k, (a, b)) in cells[LEAD_COLUMNS.len()..].iter().zip(&texts).enumerate() {
        if a != b {
            return Err(bad(
                LEAD_COLUMNS.len() + k,
                format!("point {p} has {b:?} on this axis, got {a:?}"),
            ));
        }
    }
    Ok(id)
}

/// The name of column `index` of this sweep's `runs.csv`.
fn cells_name(sweep: &Sweep, index: usize) -> String {
    let axes = sweep.axes.len();
    if index < LEAD_COLUMNS.len() {
        LEAD_COLUMNS[index].to_string()
    } else if index < LEAD_COLUMNS.len() + axes {
        sweep.axes[index - LEAD_COLUMNS.len()].name.clone()
    } else {
        RUN_COLUMNS
            .get(index - LEAD_COLUMNS.len() - axes)
            .map_or("(row)".to_string(), |c| c.to_string())
    }
}

/// Runs cell `run` of `sweep`: the point's scenario with its seed, reduced to its row as soon
/// as it finishes (the report is dropped here).
#[doc(hidden)]
pub fn compute_row(sweep: &Sweep, run: u64) -> Result<String, String> {
    let point = run / sweep.replications;
    let rep = run % sweep.replications;
    let scenario = sweep
        .point_scenario(point)
        .map_err(|e| format!("point {point}: {e}"))?;
    let seed = sweep.seed_of(point, rep);
    let report = crate::sweep::plan::run_extending(&scenario, seed, sweep.extend_undetermined);
    row_of(run, point, rep, seed, &sweep.point_texts(point), &report)
}
