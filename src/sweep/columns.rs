//! The fixed columns of `runs.csv` and `points.csv`, shared by the plan (an axis may not take
//! a reserved name), the results, the runner's journal and shard files.

/// Columns before the axes.
pub const LEAD_COLUMNS: [&str; 4] = ["run", "point", "replication", "seed"];
/// Columns after the axes.
pub const RUN_COLUMNS: [&str; 11] = [
    "verdict",
    "recovery_s",
    "baseline_goodput_per_s",
    "success_ratio",
    "amplification",
    "peak_amplification",
    "wasted_fraction",
    "latency_ms_p99",
    "events",
    "stop_reason",
    "dns_race",
];
/// Numeric run columns summarised per point in `points.csv`.
pub const SUMMARY_METRICS: [&str; 9] = [
    "recovery_s",
    "baseline_goodput_per_s",
    "success_ratio",
    "amplification",
    "peak_amplification",
    "wasted_fraction",
    "latency_ms_p99",
    "events",
    "dns_race",
];
/// Verdicts counted per point, in column order (the two dynamic verdicts after the original
/// four, so existing columns keep their places).
pub const VERDICTS: [&str; 6] = [
    "stable",
    "recovered",
    "metastable",
    "no_trigger",
    "recovering",
    "undetermined",
];

/// Whether `name` is one of the fixed columns (an axis must not take it).
pub fn is_reserved_column(name: &str) -> bool {
    LEAD_COLUMNS.contains(&name)
        || RUN_COLUMNS.contains(&name)
        || name == "runs"
        || VERDICTS.contains(&name)
        || SUMMARY_METRICS
            .iter()
            .any(|m| name.starts_with(m) && name.len() > m.len())
}
