//! Reading an output directory: which command wrote it, and its CSV tables.
//!
//! A directory is recognised by the files `run`, `sweep` and `map` write (README "Output
//! columns", docs/sweeps.md); anything else is an [`InputError`] (exit 2) naming what was
//! expected. CSV files are read whole, at most [`MAX_CSV_BYTES`] each.

use std::path::{Component, Path, PathBuf};

/// Largest CSV file the report reads (a 100 000-window run of ten components is ~300 MB of
/// `windows.csv`; the report downsamples, but must read it first).
pub const MAX_CSV_BYTES: u64 = 512 * 1024 * 1024;

/// Most runs (variants) whose windows a report embeds; the rest are listed, not charted.
pub const MAX_RUNS: usize = 24;

/// A bad or unrecognised directory.
#[derive(Debug, thiserror::Error)]
pub enum InputError {
    #[error("{}: no such directory", .0.display())]
    NoDir(PathBuf),
    #[error(
        "{}: not a metastable output directory: expected windows.csv and summary.csv (`run`), comparison.csv (`run` with variants), replications.csv (`run --replications`), points.csv (`sweep`) or map.csv (`map`)",
        .0.display()
    )]
    Unrecognised(PathBuf),
    #[error("{}: {message}", path.display())]
    File { path: PathBuf, message: String },
}

/// A CSV table: its header and its rows, every cell a string.
#[derive(Clone, Debug, Default)]
pub struct Table {
    pub headers: Vec<String>,
    pub rows: Vec<Vec<String>>,
}

impl Table {
    pub fn col(&self, name: &str) -> Option<usize> {
        self.headers.iter().position(|h| h == name)
    }

    /// The cell of `row` under `name` ("" when absent).
    pub fn get<'a>(&'a self, row: &'a [String], name: &str) -> &'a str {
        self.col(name)
            .and_then(|i| row.get(i))
            .map_or("", |s| s.as_str())
    }
}

/// Reads a CSV file with a header row; every row must have the header's width.
pub fn read_csv(path: &Path) -> Result<Table, InputError> {
    let err = |message: String| InputError::File {
        path: path.to_path_buf(),
        message,
    };
    let meta = std::fs::metadata(path).map_err(|e| err(e.to_string()))?;
    if meta.len() > MAX_CSV_BYTES {
        return Err(err(format!(
            "{} bytes, more than the report's limit of {MAX_CSV_BYTES} bytes",
            meta.len()
        )));
    }
    let bytes = std::fs::read(path).map_err(|e| err(e.to_string()))?;
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(true)
        .from_reader(bytes.as_slice());
    let headers = reader
        .headers()
        .map_err(|e| err(format!("header: {e}")))?
        .iter()
        .map(str::to_owned)
        .collect::<Vec<_>>();
    if headers.is_empty() || headers.iter().all(|h| h.is_empty()) {
        return Err(err("empty file (no header row)".into()));
    }
    let mut rows = Vec::new();
    for (i, rec) in reader.records().enumerate() {
        let rec = rec.map_err(|e| err(format!("line {}: {e}", i + 2)))?;
        rows.push(rec.iter().map(str::to_owned).collect());
    }
    Ok(Table { headers, rows })
}

/// One run's files: `windows.csv`, `summary.csv` and, with `run --record-state`, `state.csv`.
#[derive(Debug)]
pub struct RunFiles {
    pub dir: PathBuf,
    pub windows: Table,
    pub summary: Table,
    pub state: Option<Table>,
}

fn run_files(dir: &Path) -> Result<RunFiles, InputError> {
    let state_path = dir.join("state.csv");
    Ok(RunFiles {
        dir: dir.to_path_buf(),
        windows: read_csv(&dir.join("windows.csv"))?,
        summary: read_csv(&dir.join("summary.csv"))?,
        state: if state_path.is_file() {
            Some(read_csv(&state_path)?)
        } else {
            None
        },
    })
}

/// What a directory holds.
#[derive(Debug)]
pub enum Contents {
    /// `run` of one scenario without variants (or `--variant NAME`).
    Run { run: RunFiles },
    /// `run` with variants: the comparison, each variant's run (at most [`MAX_RUNS`]) and,
    /// for an incident replay, the incident table.
    Variants {
        comparison: Table,
        runs: Vec<RunFiles>,
        /// Variants listed in comparison.csv but not embedded (beyond [`MAX_RUNS`]).
        omitted: usize,
    },
    /// `run --replications N`.
    Replications { replications: Table },
    /// `sweep`: per-point statistics and the runs.
    Sweep { points: Table, runs: Option<Table> },
    /// `map`: cells, the boundary and the sweep's points.
    Map {
        map: Table,
        boundary: Option<Table>,
        points: Option<Table>,
    },
}

/// A directory's contents and the incident table when there is one.
#[derive(Debug)]
pub struct OutputDir {
    pub dir: PathBuf,
    pub contents: Contents,
    pub incident: Option<Table>,
}

/// Reads `dir`, recognising which command wrote it.
pub fn read_dir(dir: &Path) -> Result<OutputDir, InputError> {
    if !dir.is_dir() {
        return Err(InputError::NoDir(dir.to_path_buf()));
    }
    let has = |f: &str| dir.join(f).is_file();
    let opt = |f: &str| -> Result<Option<Table>, InputError> {
        if has(f) {
            read_csv(&dir.join(f)).map(Some)
        } else {
            Ok(None)
        }
    };
    let incident = opt("incident.csv")?;
    let contents = if has("comparison.csv") {
        let comparison = read_csv(&dir.join("comparison.csv"))?;
        let Some(vi) = comparison.col("variant") else {
            return Err(InputError::File {
                path: dir.join("comparison.csv"),
                message: "no `variant` column".into(),
            });
        };
        let mut runs = Vec::new();
        for row in comparison.rows.iter().take(MAX_RUNS) {
            let name = row.get(vi).map_or("", |s| s.as_str());
            if !is_plain_name(name) {
                return Err(InputError::File {
                    path: dir.join("comparison.csv"),
                    message: format!(
                        "variant {name:?} is not a plain directory name (no `/`, `..` or empty)"
                    ),
                });
            }
            runs.push(run_files(&dir.join(name))?);
        }
        Contents::Variants {
            omitted: comparison.rows.len().saturating_sub(MAX_RUNS),
            comparison,
            runs,
        }
    } else if has("windows.csv") && has("summary.csv") {
        Contents::Run {
            run: run_files(dir)?,
        }
    } else if has("replications.csv") {
        Contents::Replications {
            replications: read_csv(&dir.join("replications.csv"))?,
        }
    } else if has("map.csv") {
        Contents::Map {
            map: read_csv(&dir.join("map.csv"))?,
            boundary: opt("boundary.csv")?,
            points: opt("points.csv")?,
        }
    } else if has("points.csv") {
        Contents::Sweep {
            points: read_csv(&dir.join("points.csv"))?,
            runs: opt("runs.csv")?,
        }
    } else {
        return Err(InputError::Unrecognised(dir.to_path_buf()));
    };
    Ok(OutputDir {
        dir: dir.to_path_buf(),
        contents,
        incident,
    })
}

/// One normal path component: not empty, no separator, not `.` or `..`.
fn is_plain_name(name: &str) -> bool {
    let mut parts = Path::new(name).components();
    matches!(
        (parts.next(), parts.next()),
        (Some(Component::Normal(_)), None)
    ) && !name.contains(['/', '\\'])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_names_only() {
        assert!(is_plain_name("fast-reload"));
        assert!(is_plain_name("a b"));
        for bad in ["", ".", "..", "../x", "a/b", "/abs", "a\\b"] {
            assert!(!is_plain_name(bad), "{bad:?}");
        }
    }
}
