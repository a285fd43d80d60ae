//! Metastability maps: a two-axis sweep (rows × columns) whose cells are classified stable /
//! recovered / metastable over their replications, and whose boundary is refined row by row by
//! bisection on the column axis — the critical trigger: the smallest column value that makes
//! the majority of replications metastable (the "hidden capacity" of Bronson et al., HotOS
//! 2021, made measurable).
//!
//! A map file is a sweep file with exactly two listed (not sampled) axes — the first gives the
//! rows, the second the columns, whose values must be increasing numbers — and a `[map]` table:
//!
//! ```toml
//! [map]
//! tolerance = 0.5     # stop bisecting when the bracket is this narrow (column units);
//!                     # default: 1/100 of the column range (integer columns: 1)
//! max_probes = 20     # bisection steps per row at most
//! title = "…"         # figure title (optional)
//! ```
//!
//! **Classification.** A cell's class is its most frequent verdict (ties go to the more severe:
//! metastable, undetermined, recovering, recovered, stable, no trigger); "majority metastable"
//! means more than half of its runs are metastable.
//!
//! **Boundary.** For each row, the grid gives the first column whose cell is majority
//! metastable. If there is none, the critical trigger is beyond the grid (`not_found`); if it is
//! the first column, it is at or below that value (`at_or_below_first`); otherwise the bracket
//! (previous column, that column] is bisected — each probe runs every replication at the
//! midpoint with the same seeds as the grid — until it is narrower than the tolerance or
//! `max_probes` probes were made (`found`). If a row is not monotone (metastable, then not,
//! then metastable again) the first transition from the low end is the one refined. Probes run
//! in rounds, one probe per unfinished row per round, all replications of a round in parallel.

use std::fmt::Write as _;

use rayon::prelude::*;

use crate::scenario::Issue;
use crate::scenario::locate::FieldPath;
use crate::sweep::columns::{LEAD_COLUMNS, VERDICTS};
use crate::sweep::plan::{Sweep, SweepError, value_text};
use crate::sweep::results::{Table, parse_record, record};

/// Most rows, and most columns, of a map (each cell is drawn).
pub const MAX_MAP_SIDE: usize = 200;

/// A map's plan: the sweep, which axis is which, the column values as numbers.
#[derive(Clone, Debug)]
pub struct MapPlan {
    pub rows: Vec<String>,
    pub cols: Vec<f64>,
    /// Column values are integers (bisection stays on integers).
    pub integer_cols: bool,
    pub tolerance: f64,
    pub max_probes: u32,
    pub row_name: String,
    pub col_name: String,
    pub col_path: String,
    pub title: String,
}

/// Checks that `sweep` is a map (two listed axes, numeric increasing columns, `[map]`).
pub fn plan(sweep: &Sweep, text: &str) -> Result<MapPlan, SweepError> {
    let located = crate::scenario::locate::Located::parse(text);
    let at = |path: &FieldPath| crate::scenario::locate::position(&located, path);
    let issue = |path: FieldPath, message: String| {
        let (line, column) = at(&path);
        SweepError::Invalid {
            file: sweep.file.clone(),
            issues: vec![Issue {
                line,
                column,
                field: path.to_string(),
                message,
            }],
            more: 0,
            note: String::new(),
        }
    };
    let Some(settings) = &sweep.map else {
        return Err(issue(
            FieldPath::root(),
            "a map file needs a [map] table (it may be empty: `[map]`)".into(),
        ));
    };
    if sweep.axes.len() != 2 {
        return Err(issue(
            FieldPath::root().key("axes"),
            format!(
                "a map needs exactly two axes (rows, then columns), got {}",
                sweep.axes.len()
            ),
        ));
    }
    let axes = FieldPath::root().key("axes");
    for (i, a) in sweep.axes.iter().enumerate() {
        if a.sampled {
            return Err(issue(
                axes.index(i).key("range"),
                "map axes must be listed (values, linear or log), not sampled".into(),
            ));
        }
    }
    for (i, a) in sweep.axes.iter().enumerate() {
        if a.values.len() > MAX_MAP_SIDE {
            return Err(issue(
                axes.index(i),
                format!(
                    "a map has at most {MAX_MAP_SIDE} rows and {MAX_MAP_SIDE} columns, got {} values \
                     (use `metastable sweep` for bigger grids)",
                    a.values.len()
                ),
            ));
        }
    }
    let col = &sweep.axes[1];
    let mut cols = Vec::with_capacity(col.values.len());
    let mut integer_cols = true;
    for (j, v) in col.values.iter().enumerate() {
        let x = match v {
            toml::Value::Integer(i) => *i as f64,
            toml::Value::Float(f) if f.is_finite() => {
                integer_cols = false;
                *f
            }
            _ => {
                return Err(issue(
                    axes.index(1).key("values").index(j),
                    format!(
                        "the column axis (the second) must be numeric to bisect, got {}",
                        value_text(v)
                    ),
                ));
            }
        };
        if let Some(&prev) = cols.last()
            && x <= prev
        {
            return Err(issue(
                axes.index(1),
                format!("column values must increase, got {prev} then {x}"),
            ));
        }
        cols.push(x);
    }
    let span = match (cols.first(), cols.last()) {
        (Some(a), Some(b)) => b - a,
        _ => 0.0,
    };
    let tolerance = settings.tolerance.unwrap_or(if integer_cols {
        1.0
    } else if span > 0.0 {
        span / 100.0
    } else {
        1.0
    });
    let title = settings
        .title
        .clone()
        .unwrap_or_else(|| format!("{} · metastability map", sweep.base.name));
    Ok(MapPlan {
        rows: sweep.axes[0].texts.clone(),
        cols,
        integer_cols,
        tolerance,
        max_probes: settings.max_probes,
        row_name: sweep.axes[0].name.clone(),
        col_name: col.name.clone(),
        col_path: col.path.clone(),
        title,
    })
}

/// Verdict counts of a set of runs, in [`VERDICTS`] order.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts(pub [u64; VERDICTS.len()]);

impl Counts {
    pub fn runs(&self) -> u64 {
        self.0.iter().sum()
    }
    pub fn stable(&self) -> u64 {
        self.0[0]
    }
    pub fn recovered(&self) -> u64 {
        self.0[1]
    }
    pub fn metastable(&self) -> u64 {
        self.0[2]
    }
    pub fn fraction(&self, k: usize) -> f64 {
        let n = self.runs();
        if n == 0 {
            0.0
        } else {
            self.0[k] as f64 / n as f64
        }
    }
    /// More than half the runs are metastable.
    pub fn majority_metastable(&self) -> bool {
        2 * self.metastable() > self.runs()
    }
    /// The most frequent verdict; ties go to the more severe.
    pub fn class(&self) -> &'static str {
        // Severity order: metastable, undetermined, recovering, recovered, stable, no_trigger.
        let order = [2usize, 5, 4, 1, 0, 3];
        let mut best = order[0];
        for &k in &order[1..] {
            if self.0[k] > self.0[best] {
                best = k;
            }
        }
        VERDICTS[best]
    }
    fn add(&mut self, verdict: &str) {
        if let Some(k) = VERDICTS.iter().position(|v| *v == verdict) {
            self.0[k] += 1;
        }
    }
}

/// One cell of the grid.
#[derive(Clone, Debug, PartialEq)]
pub struct Cell {
    pub counts: Counts,
    /// Mean recovery time of the recovered runs (s).
    pub recovery_s_mean: Option<f64>,
}

/// One bisection probe.
#[derive(Clone, Debug, PartialEq)]
pub struct Probe {
    pub row: usize,
    pub value: f64,
    pub counts: Counts,
}

/// How a row's boundary was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Bracketed and refined by bisection.
    Found,
    /// The first column is already majority metastable.
    AtOrBelowFirst,
    /// No column is majority metastable.
    NotFound,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Found => "found",
            Status::AtOrBelowFirst => "at_or_below_first",
            Status::NotFound => "not_found",
        }
    }
}

/// A row's critical trigger.
#[derive(Clone, Debug, PartialEq)]
pub struct Boundary {
    pub row: usize,
    pub status: Status,
    /// Smallest value seen with a majority metastable.
    pub critical: Option<f64>,
    /// Largest value below it seen without.
    pub below: Option<f64>,
    pub probes: u32,
}

/// A map's results.
#[derive(Clone, Debug)]
pub struct MapResult {
    /// `cells[row][col]`.
    pub cells: Vec<Vec<Cell>>,
    pub boundaries: Vec<Boundary>,
    pub probes: Vec<Probe>,
    /// Runs made by the probes.
    pub probe_runs: u64,
}

/// Classifies the grid's cells from the sweep's rows (`table` holds every run).
pub fn cells(sweep: &Sweep, plan: &MapPlan, table: &Table) -> Result<Vec<Vec<Cell>>, String> {
    let n_cols = plan.cols.len();
    let mut counts = vec![Counts::default(); plan.rows.len() * n_cols];
    let mut recovery: Vec<Vec<f64>> = vec![Vec::new(); plan.rows.len() * n_cols];
    let verdict_col = LEAD_COLUMNS.len() + sweep.axes.len();
    for (run, line) in &table.rows {
        let cells =
            parse_record(line.trim_end()).ok_or_else(|| format!("run {run}: unreadable row"))?;
        let point = (run / sweep.replications) as usize;
        let (Some(c), Some(verdict)) = (counts.get_mut(point), cells.get(verdict_col)) else {
            return Err(format!("run {run}: outside the map"));
        };
        c.add(verdict);
        if verdict == "recovered"
            && let Some(x) = cells
                .get(verdict_col + 1)
                .and_then(|s| s.parse::<f64>().ok())
        {
            recovery[point].push(x);
        }
    }
    Ok((0..plan.rows.len())
        .map(|r| {
            (0..n_cols)
                .map(|c| {
                    let k = r * n_cols + c;
                    let xs = &recovery[k];
                    Cell {
                        counts: counts[k],
                        recovery_s_mean: (!xs.is_empty())
                            .then(|| xs.iter().sum::<f64>() / xs.len() as f64),
                    }
                })
                .collect()
        })
        .collect())
}

/// Bisects every row's boundary, running probes on `pool`; `progress` is told each probe round.
pub fn bisect(
    sweep: &Sweep,
    plan: &MapPlan,
    cells: &[Vec<Cell>],
    pool: &rayon::ThreadPool,
    mut progress: impl FnMut(u32, usize),
) -> Result<(Vec<Boundary>, Vec<Probe>, u64), String> {
    // Per row: Some((lo, hi)) while bisecting.
    let mut brackets: Vec<Option<(f64, f64)>> = Vec::new();
    let mut boundaries: Vec<Boundary> = Vec::new();
    for (r, row) in cells.iter().enumerate() {
        let first = row.iter().position(|c| c.counts.majority_metastable());
        let b = match first {
            None => Boundary {
                row: r,
                status: Status::NotFound,
                critical: None,
                below: plan.cols.last().copied(),
                probes: 0,
            },
            Some(0) => Boundary {
                row: r,
                status: Status::AtOrBelowFirst,
                critical: plan.cols.first().copied(),
                below: None,
                probes: 0,
            },
            Some(k) => Boundary {
                row: r,
                status: Status::Found,
                critical: Some(plan.cols[k]),
                below: Some(plan.cols[k - 1]),
                probes: 0,
            },
        };
        brackets.push(match (b.status, b.below, b.critical) {
            (Status::Found, Some(lo), Some(hi)) => Some((lo, hi)),
            _ => None,
        });
        boundaries.push(b);
    }
    let mut probes: Vec<Probe> = Vec::new();
    let mut probe_runs = 0u64;
    let reps = sweep.replications;
    let row_axis = &sweep.axes[0];
    for round in 0..plan.max_probes {
        // The next probe of each unfinished row.
        let active: Vec<(usize, f64)> = brackets
            .iter()
            .enumerate()
            .filter_map(|(r, b)| {
                let (lo, hi) = (*b)?;
                let narrow = hi - lo <= plan.tolerance || (plan.integer_cols && hi - lo <= 1.0);
                if narrow {
                    return None;
                }
                let mid = if plan.integer_cols {
                    (lo + ((hi - lo) / 2.0).floor()).max(lo + 1.0)
                } else {
                    lo + (hi - lo) / 2.0
                };
                Some((r, mid))
            })
            .collect();
        if active.is_empty() {
            break;
        }
        progress(round, active.len());
        let tasks: Vec<(usize, usize, u64)> = active
            .iter()
            .enumerate()
            .flat_map(|(k, &(r, _))| (0..reps).map(move |rep| (k, r, rep)))
            .collect();
        let verdicts: Vec<Result<&'static str, String>> = pool.install(|| {
            tasks
                .par_iter()
                .map(|&(k, r, rep)| {
                    let value = col_value(plan, active[k].1);
                    let sc = sweep
                        .scenario_at(&[&row_axis.values[r], &value])
                        .map_err(|e| format!("probe {} = {}: {e}", plan.col_name, active[k].1))?;
                    // Probe point ids follow the grid's, so independent seeds stay distinct.
                    let point = sweep.n_points
                        + r as u64 * u64::from(crate::sweep::plan::MAX_PROBES)
                        + u64::from(round);
                    let report = crate::sweep::plan::run_extending(
                        &sc,
                        sweep.seed_of(point, rep),
                        sweep.extend_undetermined,
                    );
                    Ok(report.analysis().verdict.as_str())
                })
                .collect()
        });
        probe_runs += tasks.len() as u64;
        let mut counts = vec![Counts::default(); active.len()];
        for (&(k, _, _), v) in tasks.iter().zip(verdicts) {
            counts[k].add(v?);
        }
        for (&(r, mid), c) in active.iter().zip(counts) {
            let b = &mut boundaries[r];
            b.probes += 1;
            if let Some((lo, hi)) = brackets[r].as_mut() {
                if c.majority_metastable() {
                    *hi = mid;
                    b.critical = Some(mid);
                } else {
                    *lo = mid;
                    b.below = Some(mid);
                }
            }
            probes.push(Probe {
                row: r,
                value: mid,
                counts: c,
            });
        }
    }
    Ok((boundaries, probes, probe_runs))
}

fn col_value(plan: &MapPlan, x: f64) -> toml::Value {
    if plan.integer_cols {
        toml::Value::Integer(x.round() as i64)
    } else {
        toml::Value::Float(x)
    }
}

fn num(x: f64) -> String {
    x.to_string()
}

/// `map.csv`: one line per cell (rows, then columns).
pub fn map_csv(plan: &MapPlan, cells: &[Vec<Cell>]) -> Result<Vec<u8>, csv::Error> {
    let mut out = record([
        plan.row_name.as_str(),
        plan.col_name.as_str(),
        "runs",
        "stable",
        "recovered",
        "metastable",
        "no_trigger",
        "stable_fraction",
        "recovered_fraction",
        "metastable_fraction",
        "class",
        "majority_metastable",
        "recovery_s_mean",
    ])?
    .into_bytes();
    for (r, row) in cells.iter().enumerate() {
        for (c, cell) in row.iter().enumerate() {
            let k = &cell.counts;
            out.extend(
                record([
                    plan.rows[r].clone(),
                    num(plan.cols[c]),
                    k.runs().to_string(),
                    k.0[0].to_string(),
                    k.0[1].to_string(),
                    k.0[2].to_string(),
                    k.0[3].to_string(),
                    num(k.fraction(0)),
                    num(k.fraction(1)),
                    num(k.fraction(2)),
                    k.class().to_string(),
                    k.majority_metastable().to_string(),
                    cell.recovery_s_mean.map_or(String::new(), num),
                ])?
                .into_bytes(),
            );
        }
    }
    Ok(out)
}

/// `boundary.csv`: one line per row.
pub fn boundary_csv(plan: &MapPlan, boundaries: &[Boundary]) -> Result<Vec<u8>, csv::Error> {
    let mut out = record([
        plan.row_name.as_str(),
        "status",
        &format!("critical_{}", plan.col_name),
        &format!("below_{}", plan.col_name),
        "bracket_width",
        "tolerance",
        "probes",
    ])?
    .into_bytes();
    for b in boundaries {
        let width = match (b.status, b.below, b.critical) {
            (Status::Found, Some(lo), Some(hi)) => num(hi - lo),
            _ => String::new(),
        };
        out.extend(
            record([
                plan.rows[b.row].clone(),
                b.status.as_str().to_string(),
                b.critical.map_or(String::new(), num),
                b.below.map_or(String::new(), num),
                width,
                num(plan.tolerance),
                b.probes.to_string(),
            ])?
            .into_bytes(),
        );
    }
    Ok(out)
}

/// `probes.csv`: every bisection probe, in the order made.
pub fn probes_csv(plan: &MapPlan, probes: &[Probe]) -> Result<Vec<u8>, csv::Error> {
    let mut out = record([
        plan.row_name.as_str(),
        plan.col_name.as_str(),
        "runs",
        "stable",
        "recovered",
        "metastable",
        "no_trigger",
        "majority_metastable",
    ])?
    .into_bytes();
    for p in probes {
        let k = &p.counts;
        out.extend(
            record([
                plan.rows[p.row].clone(),
                num(p.value),
                k.runs().to_string(),
                k.0[0].to_string(),
                k.0[1].to_string(),
                k.0[2].to_string(),
                k.0[3].to_string(),
                k.majority_metastable().to_string(),
            ])?
            .into_bytes(),
        );
    }
    Ok(out)
}

/// The boundary as text, one line per row.
pub fn boundary_table(plan: &MapPlan, boundaries: &[Boundary]) -> String {
    let mut s = String::new();
    let _ = writeln!(s, "critical {} per {}:", plan.col_name, plan.row_name);
    for b in boundaries {
        let row = &plan.rows[b.row];
        let _ = match (b.status, b.below, b.critical) {
            (Status::Found, Some(lo), Some(hi)) => writeln!(
                s,
                "  {row:>12}: {hi} (majority metastable; {lo} is not; {} probe(s))",
                b.probes
            ),
            (Status::AtOrBelowFirst, _, Some(hi)) => writeln!(
                s,
                "  {row:>12}: ≤ {hi} (already majority metastable at the first column)"
            ),
            _ => writeln!(
                s,
                "  {row:>12}: none up to {} (never majority metastable)",
                plan.cols.last().copied().unwrap_or(f64::NAN)
            ),
        };
    }
    s
}

/// The heat map's data.
pub fn figure(
    plan: &MapPlan,
    sweep: &Sweep,
    result: &MapResult,
) -> crate::report::plot_map::MapFigure {
    crate::report::plot_map::MapFigure {
        title: plan.title.clone(),
        subtitle: format!(
            "{} replication(s) per cell · seed {} ({} seeds) · ◆ critical {} (bisection, tolerance {})",
            sweep.replications,
            sweep.seed,
            sweep.seeds.as_str(),
            plan.col_name,
            plan.tolerance
        ),
        row_label: plan.row_name.clone(),
        col_label: plan.col_name.clone(),
        rows: plan.rows.clone(),
        cols: plan.cols.clone(),
        fractions: result
            .cells
            .iter()
            .map(|row| {
                row.iter()
                    .map(|c| {
                        [
                            c.counts.fraction(0),
                            c.counts.fraction(1),
                            c.counts.fraction(2),
                            c.counts.fraction(4),
                            c.counts.fraction(5),
                        ]
                    })
                    .collect()
            })
            .collect(),
        classes: result
            .cells
            .iter()
            .map(|row| row.iter().map(|c| c.counts.class().to_string()).collect())
            .collect(),
        critical: result
            .boundaries
            .iter()
            .map(|b| match b.status {
                Status::NotFound => None,
                _ => b.critical,
            })
            .collect(),
        predicted: Vec::new(),
    }
}
