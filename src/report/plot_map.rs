//! The metastability map figure: a heat map of rows × columns whose cell colour is the most
//! frequent verdict — stable (green), recovered (amber), metastable (red) — paler when the
//! replications disagree, with the percentage of metastable runs written in, and the critical
//! trigger of each row marked (◆) and joined into a boundary line. Written as PNG and SVG with
//! the embedded fonts of [`crate::report::draw`]; same input, same bytes.

use std::path::Path;

use plotters::coord::Shift;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

use crate::report::draw::{
    DrawResult, INK, MUTED, PlotError, draw_header, e2s, fit, font, render_both, tick,
};

/// A map to draw. `fractions[r][c]` = (stable, recovered, metastable, recovering, undetermined)
/// fractions of cell (r, c).
#[derive(Clone, Debug, Default, PartialEq)]
pub struct MapFigure {
    pub title: String,
    pub subtitle: String,
    /// Row axis name (drawn above the row labels).
    pub row_label: String,
    /// Column axis name (drawn under the column labels).
    pub col_label: String,
    /// Row values, as text, top row first in the data (drawn bottom-up: row 0 at the bottom).
    pub rows: Vec<String>,
    /// Column values, increasing.
    pub cols: Vec<f64>,
    pub fractions: Vec<Vec<[f64; 5]>>,
    /// Each cell's class (a verdict: `stable`, `recovered`, `recovering`, `metastable`,
    /// `undetermined`, `no_trigger`).
    pub classes: Vec<Vec<String>>,
    /// Each row's critical column value, if any.
    pub critical: Vec<Option<f64>>,
    /// Each row's critical column value as the fluid model predicts it (`metastable
    /// analyze`), drawn as a dashed line with hollow circles; empty when not predicted.
    pub predicted: Vec<Option<f64>>,
}

/// Pixel size of a map figure.
pub const MAP_SIZE: (u32, u32) = (1400, 900);

const C_STABLE: (f64, f64, f64) = (46.0, 160.0, 67.0);
const C_RECOVERED: (f64, f64, f64) = (240.0, 170.0, 40.0);
const C_METASTABLE: (f64, f64, f64) = (200.0, 30.0, 45.0);
const C_RECOVERING: (f64, f64, f64) = (86.0, 140.0, 220.0);
const C_UNDETERMINED: (f64, f64, f64) = (120.0, 120.0, 120.0);
const C_NONE: RGBColor = RGBColor(200, 200, 200);
const BOUNDARY: RGBColor = RGBColor(20, 20, 20);
const PREDICTED: RGBColor = RGBColor(25, 80, 200);

/// Writes the map as `png` and `svg`.
pub fn write_map(data: &MapFigure, png: &Path, svg: &Path) -> Result<(), PlotError> {
    render_both(
        png,
        svg,
        MAP_SIZE,
        |root| draw_map(root, data),
        |root| draw_map(root, data),
    )
}

/// The colour of a cell: its class's colour, paler the more its replications disagree (mixed
/// with white by the class's fraction); grey without verdicts.
fn cell_color(f: &[f64; 5], class: &str) -> RGBColor {
    let (base, frac) = match class {
        "stable" => (C_STABLE, f[0]),
        "recovered" => (C_RECOVERED, f[1]),
        "metastable" => (C_METASTABLE, f[2]),
        "recovering" => (C_RECOVERING, f[3]),
        "undetermined" => (C_UNDETERMINED, f[4]),
        _ => return C_NONE,
    };
    let alpha = if frac.is_finite() {
        0.3 + 0.7 * frac.clamp(0.0, 1.0)
    } else {
        1.0
    };
    let mix = |c: f64| (255.0 + alpha * (c - 255.0)).round().clamp(0.0, 255.0) as u8;
    RGBColor(mix(base.0), mix(base.1), mix(base.2))
}

/// Where value `v` falls on the column axis, in cell units (cell c spans [c, c + 1]; values
/// are placed by linear interpolation between cell centres).
fn col_position(cols: &[f64], v: f64) -> Option<f64> {
    if !v.is_finite() || cols.is_empty() {
        return None;
    }
    if cols.len() == 1 || v <= cols[0] {
        return Some(0.5);
    }
    for (k, w) in cols.windows(2).enumerate() {
        if v <= w[1] {
            let span = w[1] - w[0];
            let f = if span > 0.0 { (v - w[0]) / span } else { 0.0 };
            return Some(k as f64 + 0.5 + f);
        }
    }
    Some(cols.len() as f64 - 0.5)
}

fn draw_map<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &MapFigure) -> DrawResult {
    root.fill(&WHITE).map_err(e2s)?;
    draw_header(root, &d.title, &d.subtitle)?;
    let (w, h) = root.dim_in_pixel();
    let (w, h) = (w as i32, h as i32);
    let (left, right, top, bottom) = (150, w - 300, 140, h - 110);
    let n_rows = d.rows.len().max(1) as i32;
    let n_cols = d.cols.len().max(1) as i32;
    let cell_w = f64::from(right - left) / f64::from(n_cols);
    let cell_h = f64::from(bottom - top) / f64::from(n_rows);
    // Row 0 at the bottom.
    let x_of = |c: f64| left + (c * cell_w).round() as i32;
    let y_of = |r: f64| bottom - (r * cell_h).round() as i32;

    let center = |size: f64, color: RGBColor| {
        font(size, false, color).pos(Pos::new(HPos::Center, VPos::Center))
    };
    for (r, row) in d.fractions.iter().enumerate() {
        for (c, f) in row.iter().enumerate() {
            let (x0, x1) = (x_of(c as f64), x_of(c as f64 + 1.0));
            let (y0, y1) = (y_of(r as f64 + 1.0), y_of(r as f64));
            let class = d
                .classes
                .get(r)
                .and_then(|row| row.get(c))
                .map_or("", String::as_str);
            let color = cell_color(f, class);
            root.draw(&Rectangle::new([(x0, y0), (x1, y1)], color.filled()))
                .map_err(e2s)?;
            root.draw(&Rectangle::new([(x0, y0), (x1, y1)], WHITE.stroke_width(1)))
                .map_err(e2s)?;
            if cell_w >= 46.0 && cell_h >= 26.0 && f.iter().any(|x| *x > 0.0) {
                let text = format!("{:.0}%", 100.0 * f[2]);
                let strong = f.iter().copied().fold(0.0, f64::max) > 0.7;
                let ink = if strong && class != "recovered" {
                    WHITE
                } else {
                    INK
                };
                // Below the centre line, where the boundary markers sit.
                let y = if cell_h >= 44.0 {
                    y0 + ((y1 - y0) as f64 * 0.74) as i32
                } else {
                    (y0 + y1) / 2
                };
                root.draw(&Text::new(text, ((x0 + x1) / 2, y), center(14.0, ink)))
                    .map_err(e2s)?;
            }
        }
    }

    // Row labels (right-aligned against the grid) and the row axis name above them.
    let row_style = font(15.0, false, INK).pos(Pos::new(HPos::Right, VPos::Center));
    let row_every = ((18.0 / cell_h).ceil() as usize).max(1);
    for (r, label) in d.rows.iter().enumerate() {
        if r % row_every != 0 {
            continue;
        }
        let label = fit(root, label, &row_style, left - 20);
        root.draw(&Text::new(
            label,
            (left - 8, y_of(r as f64 + 0.5)),
            row_style.clone(),
        ))
        .map_err(e2s)?;
    }
    let axis_style = font(16.0, true, INK);
    let row_name = fit(root, &format!("↑ {}", d.row_label), &axis_style, right - 24);
    root.draw(&Text::new(row_name, (24, top - 30), axis_style.clone()))
        .map_err(e2s)?;

    // Column labels and the column axis name.
    let col_style = font(15.0, false, INK).pos(Pos::new(HPos::Center, VPos::Top));
    let col_every = ((60.0 / cell_w).ceil() as usize).max(1);
    for (c, v) in d.cols.iter().enumerate() {
        if c % col_every != 0 {
            continue;
        }
        root.draw(&Text::new(
            tick(v),
            (x_of(c as f64 + 0.5), bottom + 8),
            col_style.clone(),
        ))
        .map_err(e2s)?;
    }
    let col_name = fit(
        root,
        &format!("{} →", d.col_label),
        &axis_style,
        right - left,
    );
    root.draw(&Text::new(
        col_name,
        ((left + right) / 2, bottom + 40),
        axis_style.clone().pos(Pos::new(HPos::Center, VPos::Top)),
    ))
    .map_err(e2s)?;

    // The boundary: a marker per row, joined where consecutive rows both have one.
    // A row's boundary value as a point in the middle of its row (None: no boundary).
    let points = |values: &[Option<f64>]| -> Vec<Option<(i32, i32)>> {
        values
            .iter()
            .enumerate()
            .map(|(r, v)| {
                let x = col_position(&d.cols, (*v)?)?;
                Some((x_of(x), y_of(r as f64 + 0.5)))
            })
            .collect()
    };
    let marks = points(&d.critical);
    for pair in marks.windows(2) {
        if let [Some(a), Some(b)] = pair {
            root.draw(&PathElement::new(vec![*a, *b], BOUNDARY.stroke_width(3)))
                .map_err(e2s)?;
        }
    }
    for (x, y) in marks.iter().flatten() {
        root.draw(&diamond((*x, *y), 9, WHITE.filled()))
            .map_err(e2s)?;
        root.draw(&diamond((*x, *y), 7, BOUNDARY.filled()))
            .map_err(e2s)?;
    }

    // The fluid model's predicted boundary, over the measured one.
    let predicted = points(&d.predicted);
    for pair in predicted.windows(2) {
        if let [Some(a), Some(b)] = pair {
            root.draw(&DashedPathElement::new(
                vec![*a, *b],
                10,
                6,
                PREDICTED.stroke_width(3),
            ))
            .map_err(e2s)?;
        }
    }
    for (x, y) in predicted.iter().flatten() {
        root.draw(&Circle::new((*x, *y), 7, WHITE.filled()))
            .map_err(e2s)?;
        root.draw(&Circle::new((*x, *y), 7, PREDICTED.stroke_width(3)))
            .map_err(e2s)?;
    }

    // Legend.
    let lx = right + 30;
    let mut ly = top;
    root.draw(&Text::new("cell colour", (lx, ly), font(16.0, true, INK)))
        .map_err(e2s)?;
    ly += 30;
    for (name, c) in [
        ("stable", C_STABLE),
        ("recovered", C_RECOVERED),
        ("recovering", C_RECOVERING),
        ("metastable", C_METASTABLE),
        ("undetermined", C_UNDETERMINED),
    ] {
        let color = RGBColor(c.0 as u8, c.1 as u8, c.2 as u8);
        root.draw(&Rectangle::new(
            [(lx, ly), (lx + 26, ly + 18)],
            color.filled(),
        ))
        .map_err(e2s)?;
        root.draw(&Text::new(name, (lx + 36, ly), font(15.0, false, INK)))
            .map_err(e2s)?;
        ly += 28;
    }
    ly += 10;
    for line in [
        "the most frequent verdict,",
        "paler when replications disagree;",
        "the number is % metastable",
    ] {
        root.draw(&Text::new(line, (lx, ly), font(14.0, false, MUTED)))
            .map_err(e2s)?;
        ly += 20;
    }
    ly += 20;
    root.draw(&diamond((lx + 13, ly + 9), 7, BOUNDARY.filled()))
        .map_err(e2s)?;
    root.draw(&Text::new(
        "critical trigger",
        (lx + 36, ly),
        font(15.0, false, INK),
    ))
    .map_err(e2s)?;
    ly += 26;
    for line in [
        "smallest value with a",
        "majority metastable",
        "(refined by bisection)",
    ] {
        root.draw(&Text::new(line, (lx, ly), font(14.0, false, MUTED)))
            .map_err(e2s)?;
        ly += 20;
    }
    if predicted.iter().any(Option::is_some) {
        ly += 20;
        root.draw(&Circle::new(
            (lx + 13, ly + 9),
            7,
            PREDICTED.stroke_width(3),
        ))
        .map_err(e2s)?;
        root.draw(&Text::new(
            "fluid model",
            (lx + 36, ly),
            font(15.0, false, INK),
        ))
        .map_err(e2s)?;
        ly += 26;
        for line in ["predicted critical trigger", "(metastable analyze)"] {
            root.draw(&Text::new(line, (lx, ly), font(14.0, false, MUTED)))
                .map_err(e2s)?;
            ly += 20;
        }
    }
    Ok(())
}

fn diamond((x, y): (i32, i32), r: i32, style: ShapeStyle) -> Polygon<(i32, i32)> {
    Polygon::new(vec![(x, y - r), (x + r, y), (x, y + r), (x - r, y)], style)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_interpolate_between_centres() {
        let cols = [1.0, 2.0, 4.0];
        assert_eq!(col_position(&cols, 1.0), Some(0.5));
        assert_eq!(col_position(&cols, 1.5), Some(1.0));
        assert_eq!(col_position(&cols, 3.0), Some(2.0));
        assert_eq!(col_position(&cols, 9.0), Some(2.5));
        assert_eq!(col_position(&cols, f64::NAN), None);
    }

    #[test]
    fn split_cells_are_paler() {
        assert_eq!(
            cell_color(&[1.0, 0.0, 0.0, 0.0, 0.0], "stable"),
            RGBColor(46, 160, 67)
        );
        assert_eq!(cell_color(&[0.0, 0.0, 0.0, 0.0, 0.0], "no_trigger"), C_NONE);
        let pale = cell_color(&[0.4, 0.0, 0.6, 0.0, 0.0], "metastable");
        assert!(pale.1 > 30, "a split cell is paler: {pale:?}");
    }
}
