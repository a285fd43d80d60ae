//! Sweep results: one row per run (`runs.csv`) and one per point (`points.csv`, mean and 95 %
//! Student-t confidence interval of each metric, and verdict counts).
//!
//! A run is reduced to its row as soon as it finishes (the [`crate::RunReport`] is dropped), so
//! a sweep holds about 150 bytes per run, never a run's time series. Rows are kept as their
//! CSV text: whether a row was just computed, read back from a resume journal or from a shard
//! file, the bytes written are the same, and both CSVs are a pure function of the rows.

use std::collections::BTreeMap;

use crate::analysis::compare;
use crate::run::RunReport;
use crate::sweep::columns::*;

/// The `runs.csv` header for axes named `axes`.
#[doc(hidden)]
pub fn runs_header(axes: &[&str]) -> Vec<String> {
    LEAD_COLUMNS
        .iter()
        .copied()
        .chain(axes.iter().copied())
        .chain(RUN_COLUMNS)
        .map(str::to_string)
        .collect()
}

/// One CSV record (with its line end) from `cells`.
#[doc(hidden)]
pub fn record<I, S>(cells: I) -> Result<String, csv::Error>
where
    I: IntoIterator<Item = S>,
    S: AsRef<[u8]>,
{
    let mut w = csv::WriterBuilder::new()
        .terminator(csv::Terminator::Any(b'\n'))
        .from_writer(Vec::new());
    w.write_record(cells)?;
    let bytes = w
        .into_inner()
        .map_err(|e| csv::Error::from(e.into_error()))?;
    String::from_utf8(bytes)
        .map_err(|e| csv::Error::from(std::io::Error::new(std::io::ErrorKind::InvalidData, e)))
}

/// Parses one CSV record (a line without its line end).
#[doc(hidden)]
pub fn parse_record(line: &str) -> Option<Vec<String>> {
    let mut r = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(line.as_bytes());
    let mut rec = csv::StringRecord::new();
    match r.read_record(&mut rec) {
        Ok(true) => Some(rec.iter().map(str::to_string).collect()),
        _ => None,
    }
}

/// The row of run `run` (point `point`, replication `rep`, seed `seed`, axis values `axes`),
/// reduced from its finished report to a CSV line.
#[doc(hidden)]
pub fn row_of(
    run: u64,
    point: u64,
    rep: u64,
    seed: u64,
    axes: &[&str],
    report: &RunReport,
) -> Result<String, String> {
    let cells = run_cells(report);
    let lead = [
        run.to_string(),
        point.to_string(),
        rep.to_string(),
        seed.to_string(),
    ];
    record(
        lead.iter()
            .map(String::as_str)
            .chain(axes.iter().copied())
            .chain(cells.iter().map(String::as_str)),
    )
    .map_err(|e| format!("formatting run {run}: {e}"))
}

/// The [`RUN_COLUMNS`] cells of one finished run.
#[doc(hidden)]
pub fn run_cells(report: &RunReport) -> Vec<String> {
    let opt = |x: Option<f64>| x.map_or(String::new(), |v| v.to_string());
    let rows = compare::rows(std::slice::from_ref(report));
    let Some(row) = rows.first() else {
        return vec![String::new(); RUN_COLUMNS.len()];
    };
    let a = &row.analysis;
    vec![
        a.verdict.as_str().to_string(),
        opt(a.recovery_s),
        opt(a.baseline_goodput_per_s),
        opt(row.success_ratio),
        opt(row.amplification),
        opt(a.peak_amplification),
        opt(a.wasted_fraction),
        opt(row.call_ok_ms_p99),
        opt(row.call_all_ms_p99),
        report.stats.events.to_string(),
        report.stats.stop.as_str().to_string(),
        dns_race(report),
    ]
}

/// `1` if a DNS automation of the run emptied an endpoint (a race) after warm-up, else `0`;
/// empty without DNS automations. Its mean over a point's runs estimates P(race).
fn dns_race(report: &RunReport) -> String {
    let mut races = None;
    for c in report.component_ids() {
        if c.kind == crate::scenario::Kind::DnsAutomation {
            let n = report.summary_values(&c).races.unwrap_or(0);
            races = Some(races.unwrap_or(0) + n);
        }
    }
    races.map_or(String::new(), |n| u64::from(n > 0).to_string())
}

/// Finished rows by run id, and the header they share.
#[derive(Clone, Debug, Default)]
pub struct Table {
    /// The `runs.csv` header: the lead columns, one per axis, then the run columns.
    pub header: Vec<String>,
    /// Number of axis columns (between [`LEAD_COLUMNS`] and [`RUN_COLUMNS`]).
    pub n_axes: usize,
    /// Each finished run's CSV line (with its newline), by run id.
    pub rows: BTreeMap<u64, String>,
}

impl Table {
    /// An empty table for a sweep with these axis names.
    pub fn new(axes: &[&str]) -> Table {
        Table {
            header: runs_header(axes),
            n_axes: axes.len(),
            rows: BTreeMap::new(),
        }
    }

    /// `runs.csv`: the header, then every row in run order.
    pub fn runs_csv(&self) -> Result<Vec<u8>, csv::Error> {
        let mut out = record(&self.header)?.into_bytes();
        for line in self.rows.values() {
            out.extend_from_slice(line.as_bytes());
        }
        Ok(out)
    }

    /// `points.csv`: per point (in point order) its axis values, the number of runs, the count
    /// of each verdict, and for each of [`SUMMARY_METRICS`] the mean, the half-width of the
    /// 95 % Student-t confidence interval and the number of runs where it is defined.
    pub fn points_csv(&self) -> Result<Vec<u8>, String> {
        let axes = &self.header[LEAD_COLUMNS.len()..LEAD_COLUMNS.len() + self.n_axes];
        let mut header: Vec<String> = vec!["point".into()];
        header.extend(axes.iter().cloned());
        header.push("runs".into());
        header.extend(VERDICTS.iter().map(|v| v.to_string()));
        for m in SUMMARY_METRICS {
            header.push(format!("{m}_mean"));
            header.push(format!("{m}_ci95"));
            header.push(format!("{m}_n"));
        }
        let mut out = record(&header).map_err(|e| e.to_string())?.into_bytes();
        let verdict_col = LEAD_COLUMNS.len() + self.n_axes;
        let metric_cols: Vec<usize> = SUMMARY_METRICS
            .iter()
            .map(|m| {
                verdict_col
                    + RUN_COLUMNS
                        .iter()
                        .position(|c| c == m)
                        .unwrap_or(RUN_COLUMNS.len())
            })
            .collect();
        let mut current: Option<PointAcc> = None;
        let flush = |acc: PointAcc, out: &mut Vec<u8>| -> Result<(), String> {
            out.extend_from_slice(acc.line()?.as_bytes());
            Ok(())
        };
        for (run, line) in &self.rows {
            let cells = parse_record(line.trim_end_matches('\n'))
                .ok_or_else(|| format!("run {run}: unreadable row"))?;
            if cells.len() != self.header.len() {
                return Err(format!(
                    "run {run}: {} cells, expected {}",
                    cells.len(),
                    self.header.len()
                ));
            }
            let point: u64 = cells[1]
                .parse()
                .map_err(|_| format!("run {run}: bad point id {:?}", cells[1]))?;
            if current.as_ref().is_some_and(|c| c.point != point)
                && let Some(done) = current.take()
            {
                flush(done, &mut out)?;
            }
            let acc = current.get_or_insert_with(|| PointAcc {
                point,
                axes: cells[LEAD_COLUMNS.len()..verdict_col].to_vec(),
                runs: 0,
                verdicts: [0; VERDICTS.len()],
                values: vec![Vec::new(); SUMMARY_METRICS.len()],
            });
            acc.runs += 1;
            if let Some(k) = VERDICTS.iter().position(|v| *v == cells[verdict_col]) {
                acc.verdicts[k] += 1;
            }
            for (k, &col) in metric_cols.iter().enumerate() {
                if let Some(x) = cells.get(col).and_then(|c| c.parse::<f64>().ok())
                    && x.is_finite()
                {
                    acc.values[k].push(x);
                }
            }
        }
        if let Some(done) = current.take() {
            flush(done, &mut out)?;
        }
        Ok(out)
    }
}

struct PointAcc {
    point: u64,
    axes: Vec<String>,
    runs: u64,
    verdicts: [u64; VERDICTS.len()],
    values: Vec<Vec<f64>>,
}

impl PointAcc {
    fn line(&self) -> Result<String, String> {
        let mut cells: Vec<String> = vec![self.point.to_string()];
        cells.extend(self.axes.iter().cloned());
        cells.push(self.runs.to_string());
        cells.extend(self.verdicts.iter().map(u64::to_string));
        for xs in &self.values {
            let (mean, ci) = mean_ci95(xs);
            cells.push(mean.map_or(String::new(), |m| m.to_string()));
            cells.push(ci.map_or(String::new(), |c| c.to_string()));
            cells.push(xs.len().to_string());
        }
        record(&cells).map_err(|e| e.to_string())
    }
}

/// Mean and half-width of the two-sided 95 % Student-t confidence interval of the mean (`None`
/// for the half-width with fewer than 2 values). Summed in the given order.
#[doc(hidden)]
pub fn mean_ci95(xs: &[f64]) -> (Option<f64>, Option<f64>) {
    if xs.is_empty() {
        return (None, None);
    }
    let n = xs.len() as f64;
    let mean = xs.iter().sum::<f64>() / n;
    if xs.len() < 2 {
        return (Some(mean), None);
    }
    let var = xs.iter().map(|x| (x - mean) * (x - mean)).sum::<f64>() / (n - 1.0);
    let half = t975(xs.len() as u64 - 1) * (var / n).sqrt();
    (Some(mean), Some(half))
}

/// The 0.975 quantile of Student's t with `df` degrees of freedom: solves
/// `I_{df/(df+t²)}(df/2, 1/2) = 0.05` (regularised incomplete beta) by bisection.
#[doc(hidden)]
pub fn t975(df: u64) -> f64 {
    if df == 0 {
        return f64::NAN;
    }
    let v = df as f64;
    let tail = |t: f64| inc_beta(v / 2.0, 0.5, v / (v + t * t)); // two-sided tail mass
    let (mut lo, mut hi) = (0.0f64, 1e3f64);
    for _ in 0..200 {
        let mid = 0.5 * (lo + hi);
        if tail(mid) > 0.05 {
            lo = mid;
        } else {
            hi = mid;
        }
        if hi - lo < 1e-13 * hi.max(1.0) {
            break;
        }
    }
    0.5 * (lo + hi)
}

/// ln Γ(x) for x > 0 (Lanczos, g = 7, n = 9; |error| < 1e-13).
fn ln_gamma(x: f64) -> f64 {
    const C: [f64; 9] = [
        0.999_999_999_999_809_9,
        676.520_368_121_885_1,
        -1_259.139_216_722_402_8,
        771.323_428_777_653_1,
        -176.615_029_162_140_6,
        12.507_343_278_686_905,
        -0.138_571_095_265_720_12,
        9.984_369_578_019_572e-6,
        1.505_632_735_149_311_6e-7,
    ];
    if x < 0.5 {
        // Reflection.
        let pi = std::f64::consts::PI;
        return (pi / (pi * x).sin()).ln() - ln_gamma(1.0 - x);
    }
    let x = x - 1.0;
    let mut a = C[0];
    let t = x + 7.5;
    for (i, c) in C.iter().enumerate().skip(1) {
        a += c / (x + i as f64);
    }
    0.5 * (2.0 * std::f64::consts::PI).ln() + (x + 0.5) * t.ln() - t + a.ln()
}

/// Regularised incomplete beta I_x(a, b) (continued fraction, modified Lentz).
fn inc_beta(a: f64, b: f64, x: f64) -> f64 {
    if x <= 0.0 {
        return 0.0;
    }
    if x >= 1.0 {
        return 1.0;
    }
    let front =
        (ln_gamma(a + b) - ln_gamma(a) - ln_gamma(b) + a * x.ln() + b * (1.0 - x).ln()).exp();
    if x < (a + 1.0) / (a + b + 2.0) {
        front * beta_cf(a, b, x) / a
    } else {
        1.0 - front * beta_cf(b, a, 1.0 - x) / b
    }
}

fn beta_cf(a: f64, b: f64, x: f64) -> f64 {
    const TINY: f64 = 1e-300;
    let mut c = 1.0;
    let mut d = 1.0 - (a + b) * x / (a + 1.0);
    if d.abs() < TINY {
        d = TINY;
    }
    d = 1.0 / d;
    let mut f = d;
    for m in 1..400 {
        let m = m as f64;
        let m2 = 2.0 * m;
        let aa = m * (b - m) * x / ((a + m2 - 1.0) * (a + m2));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        f *= d * c;
        let aa = -(a + m) * (a + b + m) * x / ((a + m2) * (a + m2 + 1.0));
        d = 1.0 + aa * d;
        if d.abs() < TINY {
            d = TINY;
        }
        c = 1.0 + aa / c;
        if c.abs() < TINY {
            c = TINY;
        }
        d = 1.0 / d;
        let del = d * c;
        f *= del;
        if (del - 1.0).abs() < 1e-15 {
            break;
        }
    }
    f
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_tables() {
        // Standard two-sided 95 % critical values (e.g. NIST/SEMATECH e-Handbook, table 1.3.6.7.2).
        for (df, t) in [
            (1, 12.706),
            (2, 4.303),
            (3, 3.182),
            (4, 2.776),
            (5, 2.571),
            (9, 2.262),
            (10, 2.228),
            (20, 2.086),
            (30, 2.042),
            (100, 1.984),
        ] {
            let got = t975(df);
            assert!((got - t).abs() < 6e-4, "df {df}: {got} vs {t}");
        }
        assert!((t975(1_000_000) - 1.959_964).abs() < 1e-4);
    }

    #[test]
    fn mean_and_interval() {
        let (m, h) = mean_ci95(&[1.0, 2.0, 3.0]);
        assert_eq!(m, Some(2.0));
        // s = 1, n = 3: 4.303 / sqrt(3)
        assert!((h.expect("n ≥ 2") - 4.302_653 / 3f64.sqrt()).abs() < 1e-5);
        assert_eq!(mean_ci95(&[5.0]), (Some(5.0), None));
        assert_eq!(mean_ci95(&[]), (None, None));
    }

    #[test]
    fn records_round_trip() {
        let line = record(["a", "b,c", "d\"e", ""]).expect("csv");
        assert_eq!(line, "a,\"b,c\",\"d\"\"e\",\n");
        assert_eq!(
            parse_record(line.trim_end()).expect("parses"),
            ["a", "b,c", "d\"e", ""]
        );
    }
}
