//! Panel-grid figures — a run's dashboard (an incident timeline when the scenario replays
//! one) and the small multiples of a scenario's variants — as plain data ([`Figure`],
//! [`Panel`], [`Curve`], [`Band`], [`Marker`]) and their drawing.
//!
//! Layout: a header (title, subtitle), a numbered key of the figure's markers (operator pages
//! and actions, the recovery instant), then the panels in a grid of `columns` columns sharing
//! one time axis ([`TimeAxis`]: simulated seconds, or the incident's clock). Every panel has a
//! bold title, an inline legend, a y axis with its unit, the measured trigger shaded, the
//! markers as vertical lines numbered at the top, and its reference lines (baseline, recovery
//! threshold) dashed. With `shared_y` every panel gets the same y range (small multiples).
//! Which panels a run gets is decided in [`super::panels`]; this file only draws.

use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{Ranged, ValueFormatter};
use plotters::element::DashedPathElement;
use plotters::prelude::*;

use super::clock::TimeAxis;
use super::draw::{
    DrawResult, LOG_CLAMP, Line, PlotError, Ticked, clean, draw_header, draw_line, draw_swatch,
    e2s, fit, fmt_num, font, log_range, min_max, render_both, seg_opt, x_range, y_range,
};
use super::palette::{self, AXIS, GRID, INK, MUTED, REFERENCE, TRIGGER_FILL, TRIGGER_TEXT};

/// One series of a panel, paired index by index with [`Figure::t_s`].
#[derive(Clone, Debug, PartialEq)]
pub struct Curve {
    pub label: String,
    pub color: RGBColor,
    pub width: u32,
    pub dashed: bool,
    /// Filled down to zero under the line (a light tint).
    pub fill: bool,
    pub values: Vec<Option<f64>>,
}

impl Curve {
    pub fn new(label: &str, color: RGBColor, values: Vec<Option<f64>>) -> Curve {
        Curve {
            label: label.to_string(),
            color,
            width: 3,
            dashed: false,
            fill: false,
            values,
        }
    }

    pub fn of(label: &str, color: RGBColor, values: &[f64]) -> Curve {
        Curve::new(label, color, values.iter().map(|&v| Some(v)).collect())
    }

    pub fn dashed(mut self) -> Curve {
        self.dashed = true;
        self
    }

    pub fn filled(mut self) -> Curve {
        self.fill = true;
        self
    }

    pub fn width(mut self, w: u32) -> Curve {
        self.width = w;
        self
    }
}

/// A horizontal reference line (baseline, recovery threshold), dashed.
#[derive(Clone, Debug, PartialEq)]
pub struct HLine {
    pub label: String,
    pub y: f64,
}

/// What a panel shows: the dashboard's choice of panels is tested by kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PanelKind {
    Load,
    Success,
    Retries,
    Queue,
    Latency,
    Cache,
    DnsRecord,
    DnsFailures,
    Leases,
    LoadBalancer,
    Propagation,
    ConfigPush,
    Crashed,
    /// One variant of a small-multiples figure.
    Variant,
    /// Servers of autoscaled services.
    Servers,
    /// Hedged requests.
    Hedges,
}

/// One panel of a [`Figure`].
#[derive(Clone, Debug, PartialEq)]
pub struct Panel {
    pub kind: PanelKind,
    pub title: String,
    /// The y axis caption, with its unit: `requests / s`, `% of droplets`.
    pub y_desc: String,
    pub curves: Vec<Curve>,
    pub hlines: Vec<HLine>,
    pub log_y: bool,
    /// A fixed top of the y axis (e.g. 100 for a percentage).
    pub y_max: Option<f64>,
    /// Bands of this panel only (small multiples: each variant's own trigger).
    pub bands: Vec<Band>,
    /// Markers of this panel only (small multiples: each variant's recovery).
    pub markers: Vec<Marker>,
}

impl Panel {
    pub fn new(kind: PanelKind, title: &str, y_desc: &str) -> Panel {
        Panel {
            kind,
            title: title.to_string(),
            y_desc: y_desc.to_string(),
            curves: Vec::new(),
            hlines: Vec::new(),
            log_y: false,
            y_max: None,
            bands: Vec::new(),
            markers: Vec::new(),
        }
    }
}

/// A shaded time interval: the measured trigger.
#[derive(Clone, Debug, PartialEq)]
pub struct Band {
    pub from_s: f64,
    pub to_s: f64,
    pub label: String,
}

/// What a vertical marker stands for (its line style).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum MarkerKind {
    /// An operator team was paged (thin, grey, dotted).
    Paged,
    /// An operator acted, or a timed action ran (solid, dark).
    Action,
    /// The run recovered here (solid, green).
    Recovery,
}

/// A vertical line at an instant, numbered at the top and explained in the figure's key.
#[derive(Clone, Debug, PartialEq)]
pub struct Marker {
    pub at_s: f64,
    pub label: String,
    pub kind: MarkerKind,
}

/// A grid of panels sharing one time axis.
#[derive(Clone, Debug, PartialEq)]
pub struct Figure {
    pub title: String,
    pub subtitle: String,
    pub axis: TimeAxis,
    /// Window start times (s).
    pub t_s: Vec<f64>,
    pub window_s: f64,
    /// Bands drawn in every panel.
    pub bands: Vec<Band>,
    /// Markers drawn in every panel and listed in the key.
    pub markers: Vec<Marker>,
    pub panels: Vec<Panel>,
    pub columns: usize,
    /// One y range for every panel.
    pub shared_y: bool,
    /// Pixel height of one panel.
    pub panel_h: u32,
}

/// Pixel width of every panel-grid figure: projector-sized (1920 wide).
pub const WIDTH: u32 = 1920;
const HEADER_H: u32 = 104;
const KEY_ROW_H: u32 = 28;
const KEY_COLUMNS: usize = 3;
const TITLE_H: u32 = 30;
const LEGEND_H: u32 = 28;
const Y_LABEL_W: u32 = 104;
const X_LABEL_H: u32 = 34;
const CAPTION_H: u32 = 32;
const MAX_X_TICKS: usize = 10;
/// Decades a log panel shows at most.
const LOG_DECADES: i32 = 6;

fn key_rows(n: usize) -> u32 {
    n.div_ceil(KEY_COLUMNS) as u32
}

impl Figure {
    /// Rows of panels.
    pub fn rows(&self) -> usize {
        self.panels.len().div_ceil(self.columns.max(1)).max(1)
    }

    /// Pixel size.
    pub fn size(&self) -> (u32, u32) {
        let key = if self.markers.is_empty() {
            0
        } else {
            key_rows(self.markers.len()) * KEY_ROW_H + 12
        };
        (
            WIDTH,
            HEADER_H + key + self.rows() as u32 * self.panel_h + CAPTION_H + 8,
        )
    }

    /// The x range: the windows, and every band and marker.
    pub fn x_range(&self) -> (f64, f64) {
        let (lo, hi) = x_range(&self.t_s, self.window_s);
        let hi = hi + clean(self.window_s).filter(|w| *w > 0.0).unwrap_or(0.0);
        (lo, hi)
    }

    /// The number shown next to marker `i` (1-based, in the order of `markers`).
    pub fn marker_number(i: usize) -> String {
        (i + 1).to_string()
    }
}

/// Writes `fig` as `png` and `svg`.
pub fn write_figure(fig: &Figure, png: &Path, svg: &Path) -> Result<(), PlotError> {
    render_both(
        png,
        svg,
        fig.size(),
        |root| draw_figure(root, fig, true),
        |root| draw_figure(root, fig, false),
    )
}

/// The y range of a panel over `x` (log panels: the positive values, powers of ten).
fn panel_y(p: &Panel) -> (f64, f64) {
    let values = || {
        p.curves
            .iter()
            .flat_map(|c| c.values.iter().flatten().copied())
            .chain(p.hlines.iter().map(|h| h.y))
            .filter_map(clean)
    };
    if p.log_y {
        // At most LOG_DECADES decades below the top: a stray tiny value must not squash the
        // rest against the top of the panel.
        return log_range(values().map(|v| v.clamp(LOG_CLAMP.0, LOG_CLAMP.1)))
            .map(|(lo, hi)| (lo.max(hi / 10f64.powi(LOG_DECADES)), hi))
            .unwrap_or((1.0, 1000.0));
    }
    let (lo, hi) = y_range(values());
    match p.y_max {
        Some(m) if hi <= m * 1.12 + 1e-12 => (lo.min(0.0), hi.max(m * 1.04)),
        _ => (lo, hi),
    }
}

fn draw_figure<DB: DrawingBackend>(
    root: &DrawingArea<DB, Shift>,
    fig: &Figure,
    bitmap: bool,
) -> DrawResult {
    root.fill(&WHITE).map_err(e2s)?;
    let (header, body) = root.split_vertically(HEADER_H);
    draw_header(&header, &fig.title, &fig.subtitle)?;
    let body = if fig.markers.is_empty() {
        body
    } else {
        let h = key_rows(fig.markers.len()) * KEY_ROW_H + 12;
        let (key, rest) = body.split_vertically(h);
        draw_key(&key, fig)?;
        rest
    };
    let cols = fig.columns.max(1);
    let rows = fig.rows();
    let x = fig.x_range();
    let shared = fig.shared_y.then(|| {
        let all: Vec<(f64, f64)> = fig.panels.iter().map(panel_y).collect();
        let lo = all.iter().map(|r| r.0).fold(f64::INFINITY, f64::min);
        let hi = all.iter().map(|r| r.1).fold(f64::NEG_INFINITY, f64::max);
        if lo < hi { (lo, hi) } else { (0.0, 1.0) }
    });
    let (w, _) = body.dim_in_pixel();
    let col_w = w / cols as u32;
    for (i, panel) in fig.panels.iter().enumerate() {
        let (r, c) = (i / cols, i % cols);
        // The last panel of each column carries the x caption.
        let bottom = r + 1 == rows || i + cols >= fig.panels.len();
        let x0 = (c as u32 * col_w) as i32;
        let y0 = (r as u32 * fig.panel_h) as i32;
        let h = fig.panel_h + if bottom { CAPTION_H } else { 0 };
        let area = body.clone().shrink((x0, y0), (col_w, h));
        draw_panel(&area, fig, panel, (x, shared), bottom, bitmap)?;
    }
    Ok(())
}

fn marker_style(kind: MarkerKind) -> (RGBColor, u32, bool) {
    match kind {
        MarkerKind::Paged => (MUTED, 2, true),
        MarkerKind::Action => (INK, 2, false),
        MarkerKind::Recovery => (palette::GREEN, 4, false),
    }
}

/// The numbered key under the header: `1  00:38  ddb-dns paged`.
fn draw_key<DB: DrawingBackend>(area: &DrawingArea<DB, Shift>, fig: &Figure) -> DrawResult {
    let (w, _) = area.dim_in_pixel();
    let col_w = (w as i32 - 48) / KEY_COLUMNS as i32;
    let rows = key_rows(fig.markers.len()) as usize;
    for (i, m) in fig.markers.iter().enumerate() {
        let (c, r) = (i / rows.max(1), i % rows.max(1));
        let x = 24 + c as i32 * col_w;
        let y = 4 + r as i32 * KEY_ROW_H as i32;
        let (color, width, dashed) = marker_style(m.kind);
        let style = ShapeStyle::from(&color).stroke_width(width);
        let pts = vec![(x + 8, y + 2), (x + 8, y + 22)];
        if dashed {
            area.draw(&DashedPathElement::new(pts, 4, 3, style))
                .map_err(e2s)?;
        } else {
            area.draw(&PathElement::new(pts, style)).map_err(e2s)?;
        }
        let text = format!(
            "{}  {}  {}",
            Figure::marker_number(i),
            fig.axis.instant(m.at_s),
            m.label
        );
        let text = fit(area, &text, &font(18.0, false, INK), col_w - 40);
        area.draw(&Text::new(text, (x + 20, y + 2), font(18.0, false, INK)))
            .map_err(e2s)?;
    }
    Ok(())
}

/// The panel's inline legend: a swatch and a label per curve and reference line.
fn draw_panel_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    p: &Panel,
    x0: i32,
) -> DrawResult {
    let style = font(17.0, false, INK);
    let (w, _) = area.dim_in_pixel();
    let mut x = x0;
    let entries = p
        .curves
        .iter()
        .map(|c| (c.label.as_str(), c.color, c.width, c.dashed))
        .chain(
            p.hlines
                .iter()
                .map(|h| (h.label.as_str(), REFERENCE, 2, true)),
        );
    for (label, color, width, dashed) in entries {
        if label.is_empty() {
            continue;
        }
        let room = w as i32 - x - 10;
        if room < 80 {
            break;
        }
        let line = Line {
            color,
            width,
            dashed,
            segments: Vec::new(),
        };
        draw_swatch(area, &line, (x, 12))?;
        let text = fit(area, label, &style, room - 40);
        let tw = area
            .estimate_text_size(&text, &style)
            .map_or(0, |(w, _)| w as i32);
        area.draw(&Text::new(text, (x + 36, 2), style.clone()))
            .map_err(e2s)?;
        x += 36 + tw + 26;
    }
    Ok(())
}

fn draw_panel<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    fig: &Figure,
    p: &Panel,
    (x, shared): ((f64, f64), Option<(f64, f64)>),
    bottom: bool,
    bitmap: bool,
) -> DrawResult {
    let (title, rest) = area.split_vertically(TITLE_H);
    let (legend, chart_area) = rest.split_vertically(LEGEND_H);
    let title_text = fit(
        &title,
        &p.title,
        &font(21.0, true, INK),
        title.dim_in_pixel().0 as i32 - Y_LABEL_W as i32 - 30,
    );
    title
        .draw(&Text::new(
            title_text,
            (Y_LABEL_W as i32 + 8, 4),
            font(21.0, true, INK),
        ))
        .map_err(e2s)?;
    draw_panel_legend(&legend, p, Y_LABEL_W as i32 + 8)?;
    let y = shared.unwrap_or_else(|| panel_y(p));
    let ticks = fig.axis.ticks(x.0, x.1, MAX_X_TICKS);
    let positions: Vec<f64> = ticks.iter().map(|t| t.0).collect();
    let label_of = |v: &f64| {
        ticks
            .iter()
            .find(|t| (t.0 - v).abs() <= 1e-6 * (1.0 + v.abs()))
            .map_or_else(String::new, |t| t.1.clone())
    };
    let mut builder = ChartBuilder::on(&chart_area);
    builder
        .margin_top(4)
        .margin_right(28)
        .x_label_area_size(X_LABEL_H + if bottom { CAPTION_H } else { 0 })
        .y_label_area_size(Y_LABEL_W);
    let caption = bottom.then(|| fig.axis.caption(x.0, x.1));
    if p.log_y {
        let mut chart = builder
            .build_cartesian_2d(Ticked::new(x.0, x.1, positions), (y.0..y.1).log_scale())
            .map_err(e2s)?;
        fill_chart(
            &mut chart,
            fig,
            p,
            (x, y),
            &label_of,
            caption.as_deref(),
            bitmap,
        )
    } else {
        let mut chart = builder
            .build_cartesian_2d(Ticked::new(x.0, x.1, positions), y.0..y.1)
            .map_err(e2s)?;
        fill_chart(
            &mut chart,
            fig,
            p,
            (x, y),
            &label_of,
            caption.as_deref(),
            bitmap,
        )
    }
}

/// Bands, grid and axes, reference lines, curves, markers: in that order, on one chart.
fn fill_chart<DB, X, Y>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    fig: &Figure,
    p: &Panel,
    (x, y): ((f64, f64), (f64, f64)),
    label_of: &dyn Fn(&f64) -> String,
    caption: Option<&str>,
    bitmap: bool,
) -> DrawResult
where
    DB: DrawingBackend,
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    let bands: Vec<&Band> = fig.bands.iter().chain(&p.bands).collect();
    for b in &bands {
        let (a, e) = (b.from_s.max(x.0), b.to_s.min(x.1));
        if a < e {
            chart
                .plotting_area()
                .draw(&Rectangle::new([(a, y.0), (e, y.1)], TRIGGER_FILL.filled()))
                .map_err(e2s)?;
        }
    }
    let y_fmt = |v: &f64| {
        if p.y_max == Some(100.0) {
            format!("{} %", fmt_num(*v))
        } else {
            fmt_num(*v)
        }
    };
    let mut mesh = chart.configure_mesh();
    mesh.x_labels(MAX_X_TICKS + 2)
        .y_labels(5)
        .x_label_formatter(label_of)
        .y_label_formatter(&y_fmt)
        .label_style(font(17.0, false, INK))
        .axis_desc_style(font(18.0, false, INK))
        .axis_style(AXIS)
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .y_desc(p.y_desc.clone());
    if let Some(c) = caption {
        mesh.x_desc(c.to_string());
    }
    mesh.draw().map_err(e2s)?;
    let area = chart.plotting_area();
    for h in &p.hlines {
        if let Some(v) = clean(h.y).filter(|v| *v >= y.0 && *v <= y.1) {
            let style = ShapeStyle::from(&REFERENCE).stroke_width(2);
            area.draw(&DashedPathElement::new(
                vec![(x.0, v), (x.1, v)],
                10,
                7,
                style,
            ))
            .map_err(e2s)?;
        }
    }
    let base = y.0.max(0.0).max(if p.log_y { y.0 } else { f64::MIN });
    for c in &p.curves {
        let keep = |v: f64| !p.log_y || v > 0.0;
        let mut segs = seg_opt(&fig.t_s, &c.values, keep);
        if p.log_y {
            for pt in segs.iter_mut().flatten() {
                pt.1 = pt.1.clamp(y.0, y.1);
            }
        }
        if c.fill {
            for run in segs.iter().filter(|r| r.len() > 1) {
                let mut poly = run.clone();
                poly.push((run[run.len() - 1].0, base));
                poly.push((run[0].0, base));
                area.draw(&Polygon::new(poly, c.color.mix(0.15).filled()))
                    .map_err(e2s)?;
            }
        }
        let line = Line {
            color: c.color,
            width: c.width,
            dashed: c.dashed,
            segments: segs,
        };
        draw_line(area, &line, bitmap)?;
    }
    // Markers: the figure's (numbered) and the panel's own (unnumbered).
    let numbered = fig.markers.iter().enumerate().map(|(i, m)| (Some(i), m));
    let own = p.markers.iter().map(|m| (None, m));
    let mut last_px: Vec<i32> = Vec::new();
    for (i, m) in numbered.chain(own) {
        let Some(t) = clean(m.at_s).filter(|t| *t >= x.0 && *t <= x.1) else {
            continue;
        };
        let (color, width, dashed) = marker_style(m.kind);
        let style = ShapeStyle::from(&color).stroke_width(width);
        let pts = vec![(t, y.0), (t, y.1)];
        if dashed {
            area.draw(&DashedPathElement::new(pts, 5, 5, style))
                .map_err(e2s)?;
        } else {
            area.draw(&PathElement::new(pts, style)).map_err(e2s)?;
        }
        if let Some(i) = i {
            // The number at the top, staggered when markers crowd.
            let px = area.map_coordinate(&(t, y.1)).0;
            let row = last_px.iter().rev().take_while(|&&q| px - q < 22).count() as i32;
            last_px.push(px);
            let at = EmptyElement::at((t, y.1))
                + Text::new(
                    Figure::marker_number(i),
                    (4, 2 + 18 * (row % 3)),
                    font(15.0, true, color),
                );
            area.draw(&at).map_err(e2s)?;
        }
    }
    // Band labels at the top left of each band, below the marker numbers.
    for b in &bands {
        if b.label.is_empty() || b.to_s < x.0 || b.from_s > x.1 {
            continue;
        }
        let at = EmptyElement::at((b.from_s.max(x.0), y.1))
            + Text::new(b.label.clone(), (6, 56), font(15.0, true, TRIGGER_TEXT));
        area.draw(&at).map_err(e2s)?;
    }
    Ok(())
}

/// The y range every panel of a shared-y figure gets (tests).
pub fn shared_y_range(fig: &Figure) -> Option<(f64, f64)> {
    min_max(fig.panels.iter().flat_map(|p| {
        let (a, b) = panel_y(p);
        [a, b]
    }))
}
