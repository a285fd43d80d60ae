//! The fixed columns of `runs.csv` and `points.csv`, shared by the plan (an axis may not take
//! a reserved name), the results, the runner's journal and shard files.

/// Columns before the axes.
pub const LEAD_COLUMNS: [&str; 4] = ["run", "point", "replication", "seed"];
/// Columns after the axes.
pub const RUN_COLUMNS: [&str; 12] = [
    "verdict",
    "recovery_s",
    "baseline_goodput_per_s",
    "success_ratio",
    "amplification",
    "peak_amplification",
    "wasted_fraction",
    "call_ok_ms_p99",
    "call_all_ms_p99",
    "events",
    "stop_reason",
    "dns_race",
];
/// Numeric run columns summarised per point in `points.csv`.
pub const SUMMARY_METRICS: [&str; 10] = [
    "recovery_s",
    "baseline_goodput_per_s",
    "success_ratio",
    "amplification",
    "peak_amplification",
    "wasted_fraction",
    "call_ok_ms_p99",
    "call_all_ms_p99",
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

/// Columns of older versions that were renamed or split, and what they became.
pub const RENAMED_COLUMNS: [(&str, &str); 1] = [(
    "latency_ms_p99",
    "call_ok_ms_p99 (successful calls only) and call_all_ms_p99 (every call, a failed one \
     counted until it gave up)",
)];

/// If `header` (a `runs.csv`, journal or shard header) has a column an older version wrote,
/// says which and what it is now called; such files cannot be resumed or merged.
pub fn old_column_hint(header: &[String]) -> Option<String> {
    RENAMED_COLUMNS
        .iter()
        .find(|(old, _)| header.iter().any(|h| h == old))
        .map(|(old, new)| {
            format!(
                "written by an older metastable: its column {old} is now {new}; \
                 run this sweep again with this version"
            )
        })
}
