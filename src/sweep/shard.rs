//! Sharding a sweep over a cluster, and merging the shards.
//!
//! **Which runs.** Shard `i` of `n` runs the run ids `r` with `r mod n = i` (round-robin over
//! the fixed run order). Neighbouring runs (same point, next replication; next value on the
//! fastest axis) cost about the same, so round-robin gives every shard a similar mix of cheap
//! and expensive runs — contiguous blocks would give one shard all the overloaded, event-heavy
//! points. Seeds never depend on the shard.
//!
//! **Defaults.** Without `--shard-index/--shard-count`, the shard comes from the environment:
//! `METASTABLE_SHARD_INDEX`/`METASTABLE_SHARD_COUNT`; Slurm job arrays
//! (`SLURM_ARRAY_TASK_ID − SLURM_ARRAY_TASK_MIN` of `SLURM_ARRAY_TASK_COUNT`); Kubernetes
//! Indexed Jobs (`JOB_COMPLETION_INDEX`, with the count from `METASTABLE_SHARD_COUNT` or
//! `--shard-count`); PBS (`PBS_ARRAY_INDEX`, count as for Kubernetes); SGE
//! (`(SGE_TASK_ID − SGE_TASK_FIRST) / SGE_TASK_STEPSIZE` of
//! `(SGE_TASK_LAST − SGE_TASK_FIRST) / SGE_TASK_STEPSIZE + 1`).
//!
//! **Files.** A shard writes `shard-IIII-of-NNNN.csv` atomically: a `#` header block (format,
//! fingerprint of the sweep, shard, total runs, replications, axes) then its rows as in
//! `runs.csv`. `metastable merge` checks that fingerprints and headers agree, that every shard
//! `0..n` is there once, and that every run id appears exactly once, then writes `runs.csv`
//! and `points.csv` — the same bytes as an unsharded sweep.

use std::collections::BTreeMap;
use std::fmt;
use std::path::PathBuf;

use crate::sweep::columns::{LEAD_COLUMNS, RUN_COLUMNS};
use crate::sweep::results::{Table, parse_record, record};

/// Most shards.
pub const MAX_SHARDS: u64 = 1_000_000;
/// Largest shard file read by `merge`, in bytes.
pub const MAX_SHARD_FILE_BYTES: u64 = 4 << 30;

/// Shard `index` of `count` (`0 ≤ index < count`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Shard {
    /// This shard's index, `0 ≤ index < count`.
    pub index: u64,
    /// Number of shards the runs are dealt into (run `r` goes to shard `r % count`).
    pub count: u64,
}

impl Shard {
    /// The whole sweep.
    pub const ALL: Shard = Shard { index: 0, count: 1 };

    /// Run ids of this shard among `total`, ascending.
    pub fn runs(self, total: u64) -> impl Iterator<Item = u64> {
        (self.index..total).step_by(self.count.max(1) as usize)
    }

    /// Whether run `run` (of `total`) belongs to this shard.
    pub fn contains(self, run: u64, total: u64) -> bool {
        run < total && run % self.count.max(1) == self.index
    }

    /// The number of runs of this shard among `total`.
    pub fn len(self, total: u64) -> u64 {
        if self.index >= total {
            0
        } else {
            (total - self.index).div_ceil(self.count.max(1))
        }
    }

    /// Whether this shard has no run among `total`.
    pub fn is_empty(self, total: u64) -> bool {
        self.len(total) == 0
    }

    /// `shard-0003-of-0008.csv`.
    pub fn file_name(self) -> String {
        format!("shard-{:04}-of-{:04}.csv", self.index, self.count)
    }

    /// The journal of this shard: `shard-0003-of-0008.journal`.
    pub fn journal_name(self) -> String {
        format!("shard-{:04}-of-{:04}.journal", self.index, self.count)
    }
}

impl fmt::Display for Shard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} of {}", self.index, self.count)
    }
}

/// Where a shard setting came from.
#[derive(Clone, Debug, PartialEq, Eq)]
#[doc(hidden)]
pub struct ShardChoice {
    pub shard: Shard,
    /// e.g. `--shard-index/--shard-count`, `SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT`.
    pub source: String,
}

/// The shard to run: the flags, else the environment (`env` looks a variable up); `None` for
/// an unsharded run.
#[doc(hidden)]
pub fn choose(
    index: Option<u64>,
    count: Option<u64>,
    env: &dyn Fn(&str) -> Option<String>,
) -> Result<Option<ShardChoice>, String> {
    let var = |name: &str| -> Result<Option<u64>, String> {
        match env(name) {
            None => Ok(None),
            Some(v) if v.trim().is_empty() || v.trim() == "undefined" => Ok(None),
            Some(v) => v
                .trim()
                .parse::<u64>()
                .map(Some)
                .map_err(|_| format!("{name}={v:?} is not a non-negative integer")),
        }
    };
    let count_var = || -> Result<Option<u64>, String> { var("METASTABLE_SHARD_COUNT") };
    let (index, count, source): (Option<u64>, Option<u64>, String) = match (index, count) {
        (Some(i), Some(n)) => (Some(i), Some(n), "--shard-index/--shard-count".into()),
        (Some(i), None) => (
            Some(i),
            count_var()?,
            "--shard-index/METASTABLE_SHARD_COUNT".into(),
        ),
        (None, flag_count) => {
            let with_count =
                |i: u64, src: &str| -> Result<(Option<u64>, Option<u64>, String), String> {
                    let n = flag_count.or(count_var()?);
                    Ok((Some(i), n, src.to_string()))
                };
            if let Some(i) = var("METASTABLE_SHARD_INDEX")? {
                with_count(i, "METASTABLE_SHARD_INDEX")?
            } else if let Some(id) = var("SLURM_ARRAY_TASK_ID")? {
                let min = var("SLURM_ARRAY_TASK_MIN")?.unwrap_or(0);
                let n = match flag_count {
                    Some(n) => Some(n),
                    None => var("SLURM_ARRAY_TASK_COUNT")?,
                };
                if id < min {
                    return Err(format!(
                        "SLURM_ARRAY_TASK_ID={id} is below SLURM_ARRAY_TASK_MIN={min}"
                    ));
                }
                (
                    Some(id - min),
                    n,
                    "SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT".into(),
                )
            } else if let Some(i) = var("JOB_COMPLETION_INDEX")? {
                with_count(i, "JOB_COMPLETION_INDEX")?
            } else if let Some(i) = var("PBS_ARRAY_INDEX")? {
                with_count(i, "PBS_ARRAY_INDEX")?
            } else if let Some(id) = var("SGE_TASK_ID")? {
                let first = var("SGE_TASK_FIRST")?.unwrap_or(1);
                let step = var("SGE_TASK_STEPSIZE")?.unwrap_or(1).max(1);
                let last = var("SGE_TASK_LAST")?;
                if id < first {
                    return Err(format!("SGE_TASK_ID={id} is below SGE_TASK_FIRST={first}"));
                }
                let n = match flag_count {
                    Some(n) => Some(n),
                    None => match last {
                        Some(l) if l >= first => Some((l - first) / step + 1),
                        _ => count_var()?,
                    },
                };
                (Some((id - first) / step), n, "SGE_TASK_ID".into())
            } else if let Some(n) = flag_count {
                return Err(format!(
                    "--shard-count {n} without a shard index: give --shard-index, or run in a \
                     job array (SLURM_ARRAY_TASK_ID, JOB_COMPLETION_INDEX, PBS_ARRAY_INDEX, SGE_TASK_ID)"
                ));
            } else {
                return Ok(None);
            }
        }
    };
    let Some(index) = index else {
        return Ok(None);
    };
    let Some(count) = count else {
        return Err(format!(
            "shard index {index} (from {source}) without a shard count: give --shard-count or set \
             METASTABLE_SHARD_COUNT"
        ));
    };
    if count == 0 || count > MAX_SHARDS {
        return Err(format!(
            "shard count must be in 1..={MAX_SHARDS}, got {count} (from {source})"
        ));
    }
    if index >= count {
        return Err(format!(
            "shard index {index} is not below the shard count {count} (from {source})"
        ));
    }
    Ok(Some(ShardChoice {
        shard: Shard { index, count },
        source,
    }))
}

// ---------------------------------------------------------------------------------------------
// Header block of shard files and journals

/// What a file with a [`Header`] is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[doc(hidden)]
pub enum HeaderKind {
    Shard,
    Journal,
}

impl HeaderKind {
    fn tag(self) -> &'static str {
        match self {
            HeaderKind::Shard => "# metastable sweep shard v1",
            HeaderKind::Journal => "# metastable sweep journal v1",
        }
    }
}

/// The `#` lines at the top of a shard file or journal.
#[derive(Clone, Debug, PartialEq, Eq)]
#[doc(hidden)]
pub struct Header {
    pub kind: HeaderKind,
    pub fingerprint: String,
    pub shard: Shard,
    pub runs: u64,
    pub replications: u64,
    pub axes: usize,
}

impl Header {
    pub fn text(&self) -> String {
        format!(
            "{}\n# fingerprint: {}\n# shard: {} of {}\n# runs: {}\n# replications: {}\n# axes: {}\n",
            self.kind.tag(),
            self.fingerprint,
            self.shard.index,
            self.shard.count,
            self.runs,
            self.replications,
            self.axes
        )
    }

    /// Parses the header block; returns it and the rest of the text.
    pub fn parse(text: &str) -> Result<(Header, &str), String> {
        let kind = if text.starts_with(HeaderKind::Shard.tag()) {
            HeaderKind::Shard
        } else if text.starts_with(HeaderKind::Journal.tag()) {
            HeaderKind::Journal
        } else {
            return Err("does not start with \"# metastable sweep shard v1\"".into());
        };
        let mut fields: BTreeMap<&str, &str> = BTreeMap::new();
        let mut rest = text;
        while let Some(line_end) = rest.find('\n') {
            let line = &rest[..line_end];
            let Some(body) = line.strip_prefix("# ") else {
                break;
            };
            if let Some((k, v)) = body.split_once(": ") {
                fields.insert(k, v);
            }
            rest = &rest[line_end + 1..];
        }
        let get = |k: &str| fields.get(k).copied().ok_or(format!("header has no {k:?}"));
        let int = |k: &str| -> Result<u64, String> {
            get(k)?
                .parse()
                .map_err(|_| format!("header {k:?} is not a number"))
        };
        let shard = get("shard")?;
        let (i, n) = shard
            .split_once(" of ")
            .and_then(|(i, n)| Some((i.parse().ok()?, n.parse().ok()?)))
            .ok_or(format!("header \"shard\" is not \"I of N\": {shard:?}"))?;
        let fingerprint = get("fingerprint")?.to_string();
        if fingerprint.len() != 16 || !fingerprint.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(format!("bad fingerprint {fingerprint:?}"));
        }
        let header = Header {
            kind,
            fingerprint,
            shard: Shard { index: i, count: n },
            runs: int("runs")?,
            replications: int("replications")?,
            axes: int("axes")? as usize,
        };
        if n == 0 || i >= n || n > MAX_SHARDS {
            return Err(format!("inconsistent header: shard {i} of {n}"));
        }
        if header.replications == 0
            || header.replications > crate::sweep::plan::MAX_REPLICATIONS
            || header.runs > crate::sweep::plan::MAX_RUNS
            || header.axes > crate::sweep::plan::MAX_AXES
        {
            return Err(format!(
                "inconsistent header: {} runs, {} replications, {} axes",
                header.runs, header.replications, header.axes
            ));
        }
        Ok((header, rest))
    }
}

/// The text of a shard file: its header, then `table`'s CSV header and rows.
#[doc(hidden)]
pub fn shard_file(header: &Header, table: &Table) -> Result<Vec<u8>, csv::Error> {
    let mut out = header.text().into_bytes();
    out.extend(table.runs_csv()?);
    Ok(out)
}

// ---------------------------------------------------------------------------------------------
// Merge

/// Why shards could not be merged (all bad input, exit code 2, except unreadable files).
#[derive(Debug, thiserror::Error)]
#[doc(hidden)]
pub enum MergeError {
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
    /// A cell that is not what the plan or its column's type allows.
    #[error("{}:{line}:{column}: {field}: {message}", path.display())]
    Cell {
        path: PathBuf,
        line: usize,
        column: usize,
        field: String,
        message: String,
    },
    #[error("{0}")]
    Set(String),
}

/// The shard files named by `inputs`: files as given, directories searched for
/// `shard-*-of-*.csv` (sorted by name).
#[doc(hidden)]
pub fn shard_files(inputs: &[PathBuf]) -> Result<Vec<PathBuf>, MergeError> {
    let mut out = Vec::new();
    for input in inputs {
        if input.is_dir() {
            let entries = std::fs::read_dir(input).map_err(|e| MergeError::File {
                path: input.clone(),
                message: format!("cannot list directory: {e}"),
            })?;
            let mut found: Vec<PathBuf> = entries
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| {
                    p.file_name()
                        .and_then(|n| n.to_str())
                        .is_some_and(|n| n.starts_with("shard-") && n.ends_with(".csv"))
                })
                .collect();
            found.sort();
            if found.is_empty() {
                return Err(MergeError::File {
                    path: input.clone(),
                    message: "no shard-*-of-*.csv files in this directory".into(),
                });
            }
            out.extend(found);
        } else {
            out.push(input.clone());
        }
    }
    if out.is_empty() {
        return Err(MergeError::Set("no shard files given".into()));
    }
    Ok(out)
}

/// What a merge produced.
#[derive(Debug)]
#[doc(hidden)]
pub struct Merged {
    pub table: Table,
    pub header: Header,
    pub files: usize,
}

/// The name of column `index` of a CSV header.
fn csv_header_name(header: &[String], index: usize) -> String {
    header.get(index).cloned().unwrap_or_else(|| "(row)".into())
}

/// Reads and checks the shard files; returns the combined table. Every cell is checked by its
/// column's type; with the sweep's `plan` (`merge --sweep FILE`), every row is also checked
/// against it (fingerprint, seeds, axis values), as a resumed journal is. Without it, the rows
/// of one point must agree on its axis values.
#[doc(hidden)]
pub fn merge(
    files: &[PathBuf],
    plan: Option<&crate::sweep::plan::Sweep>,
) -> Result<Merged, MergeError> {
    let mut point_axes: BTreeMap<u64, (Vec<String>, PathBuf, usize)> = BTreeMap::new();
    let mut first: Option<(Header, Vec<String>, PathBuf)> = None;
    let mut seen: BTreeMap<u64, PathBuf> = BTreeMap::new();
    let mut shard_paths: BTreeMap<u64, PathBuf> = BTreeMap::new();
    let mut table = Table::default();
    for path in files {
        let bad = |message: String| MergeError::File {
            path: path.clone(),
            message,
        };
        let text = crate::sweep::file::read_text(path, MAX_SHARD_FILE_BYTES, "shard file")
            .map_err(&bad)?;
        let (header, body) =
            Header::parse(&text).map_err(|m| bad(format!("{m}; not a shard file")))?;
        let header_lines = text[..text.len() - body.len()].matches('\n').count();
        if let Some(sweep) = plan
            && (header.fingerprint != sweep.fingerprint
                || header.runs != sweep.n_runs()
                || header.replications != sweep.replications
                || header.axes != sweep.axes.len())
        {
            return Err(bad(format!(
                "is a shard of another sweep (fingerprint {}, {} runs) than the one given with \
                 --sweep (fingerprint {}, {} runs)",
                header.fingerprint,
                header.runs,
                sweep.fingerprint,
                sweep.n_runs()
            )));
        }
        if header.kind != HeaderKind::Shard {
            return Err(bad(
                "is a journal of an unfinished shard, not a shard file (finish the shard first)"
                    .into(),
            ));
        }
        if !body.is_empty() && !body.ends_with('\n') {
            return Err(bad("is truncated (no line end at the end)".into()));
        }
        let mut lines = body.lines();
        let csv_header = lines
            .next()
            .and_then(parse_record)
            .ok_or_else(|| bad("has no CSV header".into()))?;
        if let Some(m) = crate::sweep::columns::old_column_hint(&csv_header) {
            return Err(bad(m));
        }
        let n_cols = LEAD_COLUMNS.len() + header.axes + RUN_COLUMNS.len();
        if csv_header.len() != n_cols {
            return Err(bad(format!(
                "CSV header has {} columns, the shard header says {} axes ({n_cols} columns)",
                csv_header.len(),
                header.axes
            )));
        }
        match &first {
            None => {
                table = Table {
                    header: csv_header.clone(),
                    n_axes: header.axes,
                    rows: BTreeMap::new(),
                };
                first = Some((header.clone(), csv_header, path.clone()));
            }
            Some((h, csv_h, p)) => {
                let same = h.fingerprint == header.fingerprint
                    && h.shard.count == header.shard.count
                    && h.runs == header.runs
                    && h.replications == header.replications
                    && h.axes == header.axes
                    && *csv_h == csv_header;
                if !same {
                    return Err(bad(format!(
                        "belongs to a different sweep or sharding than {} (fingerprint {} vs {}, \
                         {} vs {} shards, {} vs {} runs)",
                        p.display(),
                        header.fingerprint,
                        h.fingerprint,
                        header.shard.count,
                        h.shard.count,
                        header.runs,
                        h.runs
                    )));
                }
            }
        }
        let shard = header.shard;
        if let Some(other) = shard_paths.insert(shard.index, path.clone()) {
            return Err(bad(format!(
                "shard {shard} is also given as {}",
                other.display()
            )));
        }
        let mut n_rows = 0u64;
        for (k, line) in lines.enumerate() {
            let line_no = header_lines + 2 + k;
            let at = |index: usize, field: &str, message: String| MergeError::Cell {
                path: path.clone(),
                line: line_no,
                column: crate::sweep::columns::cell_column(line, index),
                field: field.to_string(),
                message,
            };
            let cells =
                parse_record(line).ok_or_else(|| at(0, "(row)", "unreadable CSV record".into()))?;
            crate::sweep::columns::check_cells(&cells, header.axes)
                .map_err(|b| at(b.index, &b.column, b.message))?;
            if let Some(sweep) = plan {
                crate::sweep::runner::check_row(&cells, sweep, shard)
                    .map_err(|b| at(b.index, &b.column, b.message))?;
            }
            let id: u64 = cells[0]
                .parse()
                .map_err(|_| at(0, "run", format!("bad run id {:?}", cells[0])))?;
            if !shard.contains(id, header.runs) {
                return Err(at(
                    0,
                    "run",
                    format!(
                        "run {id} does not belong to shard {shard} of a {}-run sweep",
                        header.runs
                    ),
                ));
            }
            if let Some(other) = seen.insert(id, path.clone()) {
                return Err(bad(if other == *path {
                    format!("run {id} appears twice")
                } else {
                    format!(
                        "run {id} is also in {} (the same shard given twice?)",
                        other.display()
                    )
                }));
            }
            let (point, rep) = (id / header.replications, id % header.replications);
            if cells[1] != point.to_string() {
                return Err(at(
                    1,
                    "point",
                    format!("run {id} is point {point}, got {}", cells[1]),
                ));
            }
            if cells[2] != rep.to_string() {
                return Err(at(
                    2,
                    "replication",
                    format!("run {id} is replication {rep}, got {}", cells[2]),
                ));
            }
            // One point, one set of axis values, whichever shard a replication is in.
            let axes = &cells[LEAD_COLUMNS.len()..LEAD_COLUMNS.len() + header.axes];
            match point_axes.get(&point) {
                Some((first, p, l)) => {
                    if let Some(j) = (0..axes.len()).find(|&j| axes[j] != first[j]) {
                        return Err(at(
                            LEAD_COLUMNS.len() + j,
                            &csv_header_name(&table.header, LEAD_COLUMNS.len() + j),
                            format!(
                                "point {point} has {:?} here but {:?} at {}:{l}",
                                axes[j],
                                first[j],
                                p.display()
                            ),
                        ));
                    }
                }
                None => {
                    point_axes.insert(point, (axes.to_vec(), path.clone(), line_no));
                }
            }
            let line = record(&cells).map_err(|e| bad(e.to_string()))?;
            table.rows.insert(id, line);
            n_rows += 1;
        }
        if n_rows != shard.len(header.runs) {
            return Err(bad(format!(
                "has {n_rows} runs, shard {shard} of a {}-run sweep has {}",
                header.runs,
                shard.len(header.runs)
            )));
        }
    }
    let Some((header, _, _)) = first else {
        return Err(MergeError::Set("no shard files given".into()));
    };
    let missing: Vec<String> = (0..header.shard.count)
        .filter(|i| !shard_paths.contains_key(i))
        .take(21)
        .map(|i| i.to_string())
        .collect();
    if !missing.is_empty() {
        let n_missing = header.shard.count - shard_paths.len() as u64;
        let shown = missing.len().min(20);
        return Err(MergeError::Set(format!(
            "{n_missing} of {} shard(s) missing: {}{}",
            header.shard.count,
            missing[..shown].join(", "),
            if n_missing > shown as u64 {
                ", …"
            } else {
                ""
            }
        )));
    }
    if table.rows.len() as u64 != header.runs {
        return Err(MergeError::Set(format!(
            "{} runs merged, the sweep has {}",
            table.rows.len(),
            header.runs
        )));
    }
    Ok(Merged {
        table,
        header,
        files: files.len(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env<'a>(vars: &'a [(&'a str, &'a str)]) -> impl Fn(&str) -> Option<String> + 'a {
        move |k| {
            vars.iter()
                .find(|(n, _)| *n == k)
                .map(|(_, v)| v.to_string())
        }
    }

    #[test]
    fn shards_partition_the_runs() {
        for total in [0u64, 1, 7, 100] {
            for count in [1u64, 2, 3, 8] {
                let mut all: Vec<u64> = (0..count)
                    .flat_map(|i| Shard { index: i, count }.runs(total))
                    .collect();
                for i in 0..count {
                    let s = Shard { index: i, count };
                    assert_eq!(s.runs(total).count() as u64, s.len(total));
                }
                all.sort();
                assert_eq!(all, (0..total).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn shard_defaults_come_from_the_environment() {
        let none = env(&[]);
        assert_eq!(choose(None, None, &none), Ok(None));
        let c = choose(Some(1), Some(4), &none).expect("ok").expect("some");
        assert_eq!(c.shard, Shard { index: 1, count: 4 });
        let slurm = env(&[
            ("SLURM_ARRAY_TASK_ID", "3"),
            ("SLURM_ARRAY_TASK_MIN", "1"),
            ("SLURM_ARRAY_TASK_COUNT", "4"),
        ]);
        let c = choose(None, None, &slurm).expect("ok").expect("some");
        assert_eq!(c.shard, Shard { index: 2, count: 4 });
        let k8s = env(&[
            ("JOB_COMPLETION_INDEX", "5"),
            ("METASTABLE_SHARD_COUNT", "8"),
        ]);
        let c = choose(None, None, &k8s).expect("ok").expect("some");
        assert_eq!(c.shard, Shard { index: 5, count: 8 });
        let k8s_flag = env(&[("JOB_COMPLETION_INDEX", "5")]);
        let c = choose(None, Some(6), &k8s_flag).expect("ok").expect("some");
        assert_eq!(c.shard, Shard { index: 5, count: 6 });
        assert!(
            choose(None, None, &k8s_flag).is_err(),
            "index without count"
        );
        let sge = env(&[
            ("SGE_TASK_ID", "5"),
            ("SGE_TASK_FIRST", "1"),
            ("SGE_TASK_LAST", "9"),
            ("SGE_TASK_STEPSIZE", "2"),
        ]);
        let c = choose(None, None, &sge).expect("ok").expect("some");
        assert_eq!(c.shard, Shard { index: 2, count: 5 });
        let sge_plain = env(&[("SGE_TASK_ID", "undefined")]);
        assert_eq!(choose(None, None, &sge_plain), Ok(None));
        assert!(choose(Some(4), Some(4), &none).is_err());
        assert!(choose(Some(0), Some(0), &none).is_err());
        assert!(choose(None, Some(3), &none).is_err());
        let junk = env(&[("SLURM_ARRAY_TASK_ID", "x")]);
        assert!(choose(None, None, &junk).is_err());
    }

    #[test]
    fn header_round_trips() {
        let h = Header {
            kind: HeaderKind::Shard,
            fingerprint: "0123456789abcdef".into(),
            shard: Shard { index: 2, count: 3 },
            runs: 10,
            replications: 2,
            axes: 1,
        };
        let text = h.text() + "run,point\n";
        let (back, rest) = Header::parse(&text).expect("parses");
        assert_eq!(back, h);
        assert_eq!(rest, "run,point\n");
    }
}
