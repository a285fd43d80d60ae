//! The ranked chart of a scenario's variants: the figures that matter — time to recover after
//! the trigger and the success ratio — one horizontal bar per variant, best first, with the
//! spread over seeds when the variants were replicated (`run --replications N`: the bar is the
//! median, a thick line the interquartile range, a thin line min–max, and the label says how
//! many of the N runs recovered). A variant that did not recover gets no bar but its verdict.

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::draw::{
    DrawResult, PlotError, Ticked, draw_header, e2s, fit, fmt_num, font, render_both,
};
use super::palette::{AXIS, BLUE, GRID, INK, MUTED, VERMILLION};
use crate::analysis::compare::rows;
use crate::run::RunReport;

/// One variant's bar.
#[derive(Clone, Debug, PartialEq)]
pub struct RankRow {
    pub name: String,
    /// The bar (a median with replications); `None`: no bar, `note` says why.
    pub value: Option<f64>,
    /// Interquartile range and min–max over seeds (replications only).
    pub iqr: Option<(f64, f64)>,
    pub range: Option<(f64, f64)>,
    /// Text after the bar: `metastable`, `14 of 20 recovered`.
    pub note: String,
}

/// One ranked measure.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranked {
    pub title: String,
    /// The x axis caption with its unit.
    pub x_desc: String,
    /// In rank order, best first.
    pub rows: Vec<RankRow>,
}

/// The ranked chart: its measures side by side.
#[derive(Clone, Debug, PartialEq)]
pub struct Ranking {
    pub title: String,
    pub subtitle: String,
    pub measures: Vec<Ranked>,
}

/// Sorts rows: bars ascending (`lower_first`) or descending, rows without a bar last; ties
/// keep the input order.
pub fn rank(mut rows: Vec<RankRow>, lower_first: bool) -> Vec<RankRow> {
    rows.sort_by(|a, b| match (a.value, b.value) {
        (Some(x), Some(y)) if lower_first => x.total_cmp(&y),
        (Some(x), Some(y)) => y.total_cmp(&x),
        (Some(_), None) => std::cmp::Ordering::Less,
        (None, Some(_)) => std::cmp::Ordering::Greater,
        (None, None) => std::cmp::Ordering::Equal,
    });
    rows
}

/// The unit for durations up to `max_s`: `(seconds per unit, name)`: s below 3 min, min
/// below 3 h, else h.
pub fn time_unit(max_s: f64) -> (f64, &'static str) {
    if max_s < 180.0 {
        (1.0, "s")
    } else if max_s < 3.0 * 3600.0 {
        (60.0, "min")
    } else {
        (3600.0, "h")
    }
}

/// `seconds`, `minutes`, `hours` for [`time_unit`]'s names.
pub fn long_unit(unit: &str) -> &'static str {
    match unit {
        "s" => "seconds",
        "min" => "minutes",
        _ => "hours",
    }
}

/// The ranking of variants run once each with the same seed.
pub fn of_runs(reports: &[RunReport]) -> Ranking {
    let rows = rows(reports);
    let max_s = rows
        .iter()
        .filter_map(|r| r.analysis.recovery_s)
        .fold(0.0, f64::max);
    let (div, unit) = time_unit(max_s);
    let scenario = reports.first().map_or("", |r| r.scenario.name.as_str());
    let seed = reports.first().map_or(0, |r| r.seed);
    let recovery = rows
        .iter()
        .map(|r| RankRow {
            name: r.variant.clone(),
            value: r.analysis.recovery_s.map(|s| s / div),
            iqr: None,
            range: None,
            note: match r.analysis.recovery_s {
                Some(s) => format!("{} {unit}", fmt_num(s / div)),
                None => r.analysis.verdict.as_str().to_string(),
            },
        })
        .collect();
    let success = rows
        .iter()
        .map(|r| RankRow {
            name: r.variant.clone(),
            value: r.success_ratio.map(|s| 100.0 * s),
            iqr: None,
            range: None,
            note: r
                .success_ratio
                .map_or("no calls".into(), |s| format!("{:.1} %", 100.0 * s)),
        })
        .collect();
    Ranking {
        title: format!("{scenario} · variants ranked"),
        subtitle: format!("one run per variant, same seed {seed} (common random numbers)"),
        measures: vec![
            Ranked {
                title: "Time to recover after the trigger (shorter is better)".into(),
                x_desc: format!(
                    "{} after the trigger ended",
                    crate::report::ranking::long_unit(unit)
                ),
                rows: rank(recovery, true),
            },
            Ranked {
                title: "Success ratio over the run (higher is better)".into(),
                x_desc: "% of first tries that succeeded".into(),
                rows: rank(success, false),
            },
        ],
    }
}

const HEADER_H: u32 = 104;
const ROW_H: u32 = 52;
const NAME_W: u32 = 300;

/// Pixel size.
pub fn size(r: &Ranking) -> (u32, u32) {
    let n = r.measures.iter().map(|m| m.rows.len()).max().unwrap_or(0) as u32;
    (super::figure::WIDTH, HEADER_H + 50 + n.max(1) * ROW_H + 90)
}

/// Writes the ranking as `png` and `svg`.
pub fn write_ranking(r: &Ranking, png: &Path, svg: &Path) -> Result<(), PlotError> {
    render_both(png, svg, size(r), |a| draw(a, r), |a| draw(a, r))
}

fn draw<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, r: &Ranking) -> DrawResult {
    root.fill(&WHITE).map_err(e2s)?;
    let (header, body) = root.split_vertically(HEADER_H);
    draw_header(&header, &r.title, &r.subtitle)?;
    let cols = r.measures.len().max(1);
    let areas = body.split_evenly((1, cols));
    for (m, area) in r.measures.iter().zip(areas) {
        draw_measure(&area, m)?;
    }
    Ok(())
}

fn draw_measure<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, m: &Ranked) -> DrawResult {
    let (title, chart_area) = area.split_vertically(50);
    let tw = title.dim_in_pixel().0 as i32 - 40;
    title
        .draw(&Text::new(
            fit(&title, &m.title, &font(21.0, true, INK), tw),
            (24, 12),
            font(21.0, true, INK),
        ))
        .map_err(e2s)?;
    let n = m.rows.len().max(1);
    let hi = m
        .rows
        .iter()
        .flat_map(|r| [r.value, r.range.map(|x| x.1), r.iqr.map(|x| x.1)])
        .flatten()
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let hi = if hi > 0.0 { hi * 1.3 } else { 1.0 };
    let keys: Vec<f64> = (0..n).map(|i| i as f64 + 0.5).collect();
    let names: Vec<String> = m.rows.iter().map(|r| r.name.clone()).collect();
    let name_of = |y: &f64| {
        let i = (n as f64 - y - 0.5).round();
        if i >= 0.0 {
            names.get(i as usize).cloned().unwrap_or_default()
        } else {
            String::new()
        }
    };
    let mut chart = ChartBuilder::on(&chart_area)
        .margin_right(30)
        .x_label_area_size(70)
        .y_label_area_size(NAME_W)
        .build_cartesian_2d(0.0..hi, Ticked::new(0.0, n as f64, keys))
        .map_err(e2s)?;
    chart
        .configure_mesh()
        .x_labels(6)
        .x_label_formatter(&|v| fmt_num(*v))
        .y_label_formatter(&name_of)
        .label_style(font(18.0, false, INK))
        .axis_desc_style(font(18.0, false, INK))
        .axis_style(AXIS)
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .disable_y_mesh()
        .x_desc(m.x_desc.clone())
        .draw()
        .map_err(e2s)?;
    let area = chart.plotting_area();
    for (i, row) in m.rows.iter().enumerate() {
        let y = (n - 1 - i) as f64;
        let end = match row.value.filter(|v| v.is_finite()) {
            Some(v) => {
                area.draw(&Rectangle::new(
                    [(0.0, y + 0.22), (v, y + 0.78)],
                    BLUE.mix(0.55).filled(),
                ))
                .map_err(e2s)?;
                v
            }
            None => 0.0,
        };
        let mid = y + 0.5;
        let mut right = end;
        if let Some((a, b)) = row.range {
            area.draw(&PathElement::new(
                vec![(a, mid), (b, mid)],
                ShapeStyle::from(&INK).stroke_width(2),
            ))
            .map_err(e2s)?;
            for x in [a, b] {
                area.draw(&PathElement::new(
                    vec![(x, mid - 0.15), (x, mid + 0.15)],
                    ShapeStyle::from(&INK).stroke_width(2),
                ))
                .map_err(e2s)?;
            }
            right = right.max(b);
        }
        if let Some((a, b)) = row.iqr {
            area.draw(&PathElement::new(
                vec![(a, mid), (b, mid)],
                ShapeStyle::from(&INK).stroke_width(7),
            ))
            .map_err(e2s)?;
            right = right.max(b);
        }
        let color = if row.value.is_some() {
            MUTED
        } else {
            VERMILLION
        };
        let at = EmptyElement::at((right, mid))
            + Text::new(
                row.note.clone(),
                (10, -10),
                font(18.0, row.value.is_none(), color),
            );
        area.draw(&at).map_err(e2s)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn row(name: &str, v: Option<f64>) -> RankRow {
        RankRow {
            name: name.into(),
            value: v,
            iqr: None,
            range: None,
            note: String::new(),
        }
    }

    #[test]
    fn best_first_and_no_bar_last() {
        let rows = vec![
            row("a", Some(3.0)),
            row("b", None),
            row("c", Some(1.0)),
            row("d", Some(2.0)),
        ];
        let up: Vec<String> = rank(rows.clone(), true)
            .into_iter()
            .map(|r| r.name)
            .collect();
        assert_eq!(up, ["c", "d", "a", "b"]);
        let down: Vec<String> = rank(rows, false).into_iter().map(|r| r.name).collect();
        assert_eq!(down, ["a", "d", "c", "b"]);
    }
}
