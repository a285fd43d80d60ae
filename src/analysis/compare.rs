//! Comparing design variants of one scenario, all run with the same seed (common random
//! numbers: every stream a variant does not change draws the same numbers).

use std::fmt::Write as _;

use crate::analysis::loops::{Loops, broken_by};
use crate::analysis::recovery::Analysis;
use crate::run::RunReport;
use crate::scenario::Kind;

/// One variant's headline figures.
#[derive(Clone, Debug, PartialEq)]
pub struct Row {
    /// The variant's name (`baseline` for the file as written).
    pub variant: String,
    /// The variant's analysis (verdict, recovery time, …).
    pub analysis: Analysis,
    /// Successful calls ÷ first tries over the whole run after warm-up (all clients).
    pub success_ratio: Option<f64>,
    /// Attempts ÷ first tries over the whole run after warm-up.
    pub amplification: Option<f64>,
    /// p99 end-to-end latency of the first client's successful calls over the run (ms);
    /// `None` when it had no successful call.
    pub call_ok_ms_p99: Option<f64>,
    /// p99 end-to-end latency of all the first client's calls over the run (ms), a failed
    /// call counted until it gave up; `None` when no call ended.
    pub call_all_ms_p99: Option<f64>,
    /// The loop that keeps (or kept) the variant down.
    pub loops: Loops,
}

/// Headline figures of each report, in order.
///
/// Variants of a scenario are compared by running each with the same seed (common random
/// numbers):
///
/// ```
/// use metastable::analysis::compare;
///
/// let sc = metastable::load("scenarios/hotos-2021-cache.toml".as_ref()).unwrap();
/// let reports: Vec<_> = sc.with_variants().into_iter().map(|v| metastable::run(v, sc.seed)).collect();
/// let rows = compare::rows(&reports);
/// let names: Vec<&str> = rows.iter().map(|r| r.variant.as_str()).collect();
/// assert_eq!(names, ["baseline", "read-through", "load-250"]);
/// println!("{}", compare::comparison_table(&reports));
/// ```
pub fn rows(reports: &[RunReport]) -> Vec<Row> {
    reports
        .iter()
        .map(|r| {
            let (mut first, mut retries, mut ok) = (0u64, 0u64, 0u64);
            let (mut p99_ok, mut p99_all, mut seen) = (None, None, false);
            for c in r.component_ids() {
                if !matches!(c.kind, Kind::Client | Kind::Source) {
                    continue;
                }
                let v = r.summary_values(&c);
                first += v.first_tries.unwrap_or(0);
                retries += v.retries.unwrap_or(0);
                ok += v.successes.unwrap_or(0);
                if !seen {
                    // The first client's, even when it has none (never another client's).
                    seen = true;
                    let ms = |h: Option<sim_core::HistStat>| {
                        h.and_then(|l| l.p99).map(|ns| ns as f64 / 1e6)
                    };
                    (p99_ok, p99_all) = (ms(v.call_ok), ms(v.call_all));
                }
            }
            let ratio = |n: u64| (first > 0).then(|| n as f64 / first as f64);
            let analysis = r.analysis();
            Row {
                variant: r.scenario.variant_name().to_string(),
                loops: r.loops(&analysis),
                analysis,
                success_ratio: ratio(ok),
                amplification: ratio(first + retries),
                call_ok_ms_p99: p99_ok,
                call_all_ms_p99: p99_all,
            }
        })
        .collect()
}

/// `comparison.csv`: one row per variant.
pub fn comparison_csv(reports: &[RunReport]) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "scenario",
        "variant",
        "seed",
        "verdict",
        "trigger_start_s",
        "trigger_end_s",
        "recovery_s",
        "baseline_goodput_per_s",
        "success_ratio",
        "amplification",
        "peak_amplification",
        "peak_load_amplification",
        "wasted_fraction",
        "call_ok_ms_p99",
        "call_all_ms_p99",
        "stop_reason",
        "events",
        "loop",
        "loop_evidence",
        "broke_baseline_loop",
    ])?;
    let opt = |x: Option<f64>| x.map_or(String::new(), |v| v.to_string());
    let rows = rows(reports);
    let base = rows.first().map(|r| r.loops.clone()).unwrap_or_default();
    for (r, row) in reports.iter().zip(rows) {
        let a = &row.analysis;
        w.write_record([
            r.scenario.name.clone(),
            row.variant.clone(),
            r.seed.to_string(),
            a.verdict.as_str().to_string(),
            opt(a.trigger_start_s),
            opt(a.trigger_end_s),
            opt(a.recovery_s),
            opt(a.baseline_goodput_per_s),
            opt(row.success_ratio),
            opt(row.amplification),
            opt(a.peak_amplification),
            opt(a.peak_load_amplification),
            opt(a.wasted_fraction),
            opt(row.call_ok_ms_p99),
            opt(row.call_all_ms_p99),
            r.stats.stop.as_str().to_string(),
            r.stats.events.to_string(),
            row.loops.label().to_string(),
            row.loops.evidence(),
            broken_by(&base, &row.loops).unwrap_or_default(),
        ])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// The comparison as a text table.
pub fn comparison_table(reports: &[RunReport]) -> String {
    let mut s = String::new();
    let f = |x: Option<f64>, p: usize| x.map_or("-".to_string(), |v| format!("{v:.p$}"));
    let _ = writeln!(
        s,
        "  {:<20} {:<11} {:>10} {:>9} {:>8} {:>9} {:>8} {:>10} {:>11}",
        "variant",
        "verdict",
        "recovery s",
        "success",
        "ampl.",
        "peak amp.",
        "wasted",
        "p99 ok ms",
        "p99 all ms"
    );
    let rows = rows(reports);
    for row in &rows {
        let a = &row.analysis;
        let _ = writeln!(
            s,
            "  {:<20} {:<11} {:>10} {:>9} {:>8} {:>9} {:>8} {:>10} {:>11}",
            row.variant,
            a.verdict.as_str(),
            f(a.recovery_s, 1),
            row.success_ratio
                .map_or("-".into(), |x| format!("{:.1} %", 100.0 * x)),
            f(row.amplification, 2),
            f(a.peak_amplification, 2),
            a.wasted_fraction
                .map_or("-".into(), |x| format!("{:.1} %", 100.0 * x)),
            match (row.call_ok_ms_p99, row.call_all_ms_p99) {
                (None, Some(_)) => "none".to_string(),
                (ok, _) => f(ok, 1),
            },
            f(row.call_all_ms_p99, 1),
        );
    }
    let _ = writeln!(
        s,
        "  p99 of the first client's calls, end to end: ok = successful calls only, all = every \
         call (a failed one counted until it gave up); none = no successful call"
    );
    // The loops: the baseline's, and what each variant did to it.
    if let Some(base) = rows.first() {
        for row in &rows {
            if let Some(p) = row.loops.primary() {
                let _ = writeln!(s, "  {}: {} ({})", row.variant, p.evidence, p.at);
            }
            if !std::ptr::eq(row, base)
                && let Some(b) = broken_by(&base.loops, &row.loops)
            {
                let _ = writeln!(s, "  {}: {b}", row.variant);
            }
        }
    }
    s
}
