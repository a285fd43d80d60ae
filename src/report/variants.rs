//! The small multiples of a scenario's variants: one panel per variant, all on the same time
//! axis and the same goodput axis, so 8–12 variants stay readable side by side (an overlay of
//! that many curves hides most of them). Each panel shows the variant's goodput against its
//! demand, the baseline, its own measured trigger and its recovery instant, and says its
//! verdict and recovery time in its title. The ranked chart is [`super::ranking`].

use crate::analysis::compare::rows;
use crate::report::figure::{Curve, Figure, HLine, Marker, MarkerKind, Panel, PanelKind};
use crate::report::palette::{BLUE, SKY};
use crate::report::panels::minutes;
use crate::run::RunReport;

/// Most panels drawn; further variants are named in the subtitle.
pub const MAX_PANELS: usize = 24;

/// Columns for `n` panels: 1, 2 up to 4, 3 up to 9, else 4.
pub fn columns(n: usize) -> usize {
    match n {
        0 | 1 => 1,
        2..=4 => 2,
        5..=9 => 3,
        _ => 4,
    }
}

/// Every variant's goodput, one panel each, with shared axes.
pub fn small_multiples(reports: &[RunReport]) -> Figure {
    let Some(first) = reports.first() else {
        return Figure {
            title: String::new(),
            subtitle: String::new(),
            axis: Default::default(),
            t_s: Vec::new(),
            window_s: 1.0,
            bands: Vec::new(),
            markers: Vec::new(),
            panels: Vec::new(),
            columns: 1,
            shared_y: true,
            panel_h: 280,
        };
    };
    let n = first.rec.n_windows();
    let t_s: Vec<f64> = (0..n)
        .map(|w| first.rec.window_bounds(w).0.as_secs_f64())
        .collect();
    let rows = rows(reports);
    let mut panels = Vec::new();
    for (r, row) in reports.iter().zip(&rows).take(MAX_PANELS) {
        let a = &row.analysis;
        let outcome = match (a.recovery_s, a.trigger_start_s) {
            (Some(s), _) => format!("recovered in {}", minutes(s)),
            (None, Some(_)) => a.verdict.as_str().to_string(),
            (None, None) => "no trigger".to_string(),
        };
        let mut p = Panel::new(
            PanelKind::Variant,
            &format!("{} — {outcome}", row.variant),
            "requests / s",
        );
        let first_tries: Vec<f64> = r
            .client_series()
            .iter()
            .take(n)
            .enumerate()
            .map(|(w, &(f, _, _))| {
                let (s, e) = r.rec.window_bounds(w);
                f as f64 / e.since(s).as_secs_f64().max(1e-9)
            })
            .collect();
        p.curves
            .push(Curve::of("demand (first tries)", SKY, &first_tries).width(2));
        p.curves
            .push(Curve::of("goodput", BLUE, &a.goodput_per_s).width(3));
        if let Some(b) = a.baseline_goodput_per_s {
            p.hlines.push(HLine {
                label: "baseline".into(),
                y: b,
            });
        }
        p.bands.extend(r.trigger_band(a));
        if let (Some(end), Some(s)) = (a.trigger_end_s, a.recovery_s) {
            p.markers.push(Marker {
                at_s: end + s,
                label: "recovered".into(),
                kind: MarkerKind::Recovery,
            });
        }
        panels.push(p);
    }
    let left_out = reports.len().saturating_sub(MAX_PANELS);
    let mut subtitle = format!(
        "{} variants · same seed {} · goodput against demand, shared axes · shaded: each \
         variant's measured trigger · green line: its recovery",
        reports.len(),
        first.seed
    );
    if left_out > 0 {
        subtitle.push_str(&format!(
            " · {left_out} more not drawn (see comparison.csv)"
        ));
    }
    let columns = columns(panels.len());
    Figure {
        title: format!("{} · variants", first.scenario.name),
        subtitle,
        axis: first.time_axis(),
        t_s,
        window_s: first.scenario.window.as_secs_f64(),
        bands: Vec::new(),
        markers: Vec::new(),
        panels,
        columns,
        shared_y: true,
        panel_h: if columns >= 3 { 300 } else { 340 },
    }
}
