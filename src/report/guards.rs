//! The summary's line about the defences inside a service (`docs/guards.md`): stale answers,
//! degraded answers and bulkhead refusals per component, printed only when some component has
//! them, so a run without these features prints what it always did.

use std::fmt::Write as _;

use crate::run::RunReport;

/// Appends `  defences: api->db 8410 stale answers; users 5902 degraded (12.3 %) …` to `s`.
pub(crate) fn defence_lines(r: &RunReport, s: &mut String) {
    let mut parts: Vec<String> = Vec::new();
    for c in r.component_ids() {
        let v = r.summary_values(&c);
        let answers = v.successes.or(v.goodput).or(v.completions);
        let pct = |n: u64| {
            answers.filter(|&a| a > 0).map_or(String::new(), |a| {
                format!(" ({:.1} % of its answers)", 100.0 * n as f64 / a as f64)
            })
        };
        if let Some(n) = v.stale_answers.filter(|&n| n > 0) {
            parts.push(format!("{} {n} stale answers{}", c.name, pct(n)));
        }
        if let Some(n) = v.degraded.filter(|&n| n > 0) {
            parts.push(format!("{} {n} degraded{}", c.name, pct(n)));
        }
        if let Some(n) = v.bulkhead_rejected.filter(|&n| n > 0) {
            parts.push(format!("{} {n} refused by its bulkhead", c.name));
        }
    }
    if !parts.is_empty() {
        let _ = writeln!(s, "  defences: {}", parts.join("; "));
    }
}
