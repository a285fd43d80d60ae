//! `metastable report DIR`: one self-contained HTML page from an output directory of `run`
//! (one run, variants, `--replications`), `sweep` or `map`.
//!
//! Owns: recognising and reading the directory ([`input`]), the data the page embeds
//! ([`data`]), escaping ([`escape`]), the page itself ([`page`]) with its inline stylesheet
//! and script (`report.css`, `report.js`: hand-written, no library, no network). It reads
//! CSV files only — it never runs a simulation and decides nothing: verdicts, reasons and
//! loops are the ones `run` wrote. The PNG/SVG figures are [`super::figure`]'s.
//!
//! The step-through shows each component's state per window from `windows.csv` (queue,
//! busy servers, in-flight calls, cache hit rate, empty DNS records, leases held, healthy
//! targets, tasks down …) and, when the run was made with `run --record-state`, the point
//! states of `state.csv` (breaker state, budget tokens, resolver caches).

pub mod data;
pub mod escape;
pub mod input;
pub mod page;

use std::path::{Path, PathBuf};

pub use input::InputError;

/// Why a report was not written.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Input(#[from] InputError),
    #[error("cannot write {}: {source}", path.display())]
    Write {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ReportError {
    /// 2 for a missing or unrecognised directory or a bad file in it, 1 for a failed write.
    pub fn exit_code(&self) -> u8 {
        match self {
            ReportError::Input(_) => 2,
            ReportError::Write { .. } => 1,
        }
    }
}

/// The page for `dir`.
pub fn build(dir: &Path) -> Result<String, ReportError> {
    let out = input::read_dir(dir)?;
    Ok(page::render(&out))
}

/// Writes the page for `dir` to `out` (default `dir/report.html`) atomically; returns the
/// path and the size in bytes. Nothing is written when the directory is bad.
pub fn write(dir: &Path, out: Option<&Path>) -> Result<(PathBuf, usize), ReportError> {
    let page = build(dir)?;
    let path = out.map_or_else(|| dir.join("report.html"), Path::to_path_buf);
    if let Some(parent) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent).map_err(|source| ReportError::Write {
            path: parent.to_path_buf(),
            source,
        })?;
    }
    super::output::write_atomic(&path, page.as_bytes()).map_err(|source| ReportError::Write {
        path: path.clone(),
        source,
    })?;
    Ok((path, page.len()))
}
