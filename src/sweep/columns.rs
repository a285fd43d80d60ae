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

/// Run columns holding a measurement: empty (not measured) or a finite number ≥ 0.
const MEASURED: [&str; 8] = [
    "recovery_s",
    "baseline_goodput_per_s",
    "success_ratio",
    "amplification",
    "peak_amplification",
    "wasted_fraction",
    "call_ok_ms_p99",
    "call_all_ms_p99",
];

/// A bad cell of a run row: its index in the row, its column's name and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct BadCell {
    pub index: usize,
    pub column: String,
    pub message: String,
}

/// Checks every cell of a `runs.csv` row (as journals and shard files hold them) by its
/// column's type: run, point, replication and seed are integers; the verdict one of
/// [`VERDICTS`]; measurements empty or finite and ≥ 0; `events` an integer; `stop_reason` a
/// lower-case name; `dns_race` empty, 0 or 1. Axis cells are text (checked against the plan
/// where there is one).
pub fn check_cells(cells: &[String], n_axes: usize) -> Result<(), BadCell> {
    let n = LEAD_COLUMNS.len() + n_axes + RUN_COLUMNS.len();
    if cells.len() != n {
        return Err(BadCell {
            index: cells.len().min(n),
            column: "(row)".into(),
            message: format!("{} cells, expected {n}", cells.len()),
        });
    }
    let bad = |index: usize, column: &str, message: String| BadCell {
        index,
        column: column.to_string(),
        message,
    };
    for (i, name) in LEAD_COLUMNS.iter().enumerate() {
        if cells[i].parse::<u64>().is_err() || cells[i].starts_with('+') {
            return Err(bad(
                i,
                name,
                format!("not a non-negative integer: {:?}", cells[i]),
            ));
        }
    }
    let first = LEAD_COLUMNS.len() + n_axes;
    for (k, name) in RUN_COLUMNS.iter().enumerate() {
        let i = first + k;
        let v = cells[i].as_str();
        let ok = match *name {
            "verdict" => VERDICTS.contains(&v),
            "events" => v.parse::<u64>().is_ok() && !v.starts_with('+'),
            "stop_reason" => {
                !v.is_empty()
                    && v.len() <= 64
                    && v.bytes().all(|b| b.is_ascii_lowercase() || b == b'_')
            }
            "dns_race" => matches!(v, "" | "0" | "1"),
            m if MEASURED.contains(&m) => {
                v.is_empty()
                    || v.parse::<f64>()
                        .is_ok_and(|x| x.is_finite() && x >= 0.0 && !v.starts_with('+'))
            }
            _ => true,
        };
        if !ok {
            let expected = match *name {
                "verdict" => format!("one of {}", VERDICTS.join(", ")),
                "events" => "a non-negative integer".to_string(),
                "stop_reason" => "a lower-case name".to_string(),
                "dns_race" => "empty, 0 or 1".to_string(),
                _ => "empty or a finite number ≥ 0".to_string(),
            };
            return Err(bad(i, name, format!("expected {expected}, got {v:?}")));
        }
    }
    Ok(())
}

/// 1-based byte column where cell `index` of CSV `line` starts (quotes respected).
pub fn cell_column(line: &str, index: usize) -> usize {
    let mut cell = 0;
    let mut quoted = false;
    for (at, b) in line.bytes().enumerate() {
        if cell == index {
            return at + 1;
        }
        match b {
            b'"' => quoted = !quoted,
            b',' if !quoted => cell += 1,
            _ => {}
        }
    }
    line.len() + 1
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(metric: &str) -> Vec<String> {
        let mut cells: Vec<String> = ["3", "1", "0", "42", "100.0"]
            .iter()
            .map(|s| s.to_string())
            .collect();
        cells.extend(
            [
                "stable", metric, "80", "1", "1", "1", "0", "", "", "123", "horizon", "",
            ]
            .iter()
            .map(|s| s.to_string()),
        );
        cells
    }

    #[test]
    fn cells_are_checked_by_type() {
        assert_eq!(check_cells(&row("1.5"), 1), Ok(()));
        assert_eq!(check_cells(&row(""), 1), Ok(()));
        let e = check_cells(&row("abc"), 1).expect_err("abc is not a number");
        assert_eq!((e.index, e.column.as_str()), (6, "recovery_s"));
        assert!(check_cells(&row("NaN"), 1).is_err());
        assert!(check_cells(&row("-1"), 1).is_err());
        let mut bad_seed = row("1");
        bad_seed[3] = "x".into();
        assert_eq!(check_cells(&bad_seed, 1).expect_err("seed").column, "seed");
        assert!(check_cells(&row("1")[1..], 1).is_err());
    }

    #[test]
    fn cell_columns_respect_quotes() {
        let line = "1,\"a,b\",c";
        assert_eq!(cell_column(line, 0), 1);
        assert_eq!(cell_column(line, 1), 3);
        assert_eq!(cell_column(line, 2), 9);
    }
}
