//! Plots: a four-panel run dashboard and a goodput overlay of several variants, each written as
//! a PNG and an SVG.
//!
//! One file of about 1 100 lines on purpose: it is one cohesive thing, the plotters drawing code
//! (rendering, layout, axes, legends, the two figures) whose helpers only make sense together.
//!
//! The input is plain data ([`RunSeries`], [`Overlay`]); nothing here knows about the simulator.
//! Rendering needs no system library and no installed font: DejaVu Sans (regular and bold,
//! embedded by the `dejavu` crate) is registered with plotters' `ab_glyph` font backend the first
//! time anything is drawn.
//!
//! Robustness: every series is paired with its time axis up to the shorter of the two lengths;
//! NaN and ±∞ values (and non-finite times) are skipped and break the line there; finite values
//! are clamped to ±1e300 so axis ranges stay finite; a run of one valid point is drawn as a dot;
//! empty and all-zero series give an empty panel with a default axis. Nothing panics on such
//! input.
//!
//! Determinism: the same input gives byte-identical files (fixed palette, fixed sizes, no
//! timestamps in the PNG or SVG).
//!
//! Files are written atomically: the PNG is encoded into a fresh private directory beside the
//! target and renamed over it; the SVG is rendered to memory and written with
//! [`crate::report::output::write_atomic`].

use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::register_font;

/// A trigger interval, drawn as a light-red band labelled with `label`.
#[derive(Debug, Clone, PartialEq)]
pub struct Shade {
    /// Start of the interval (s).
    pub from_s: f64,
    /// End of the interval (s).
    pub to_s: f64,
    /// Short label drawn at the top of the band, e.g. `"load spike ×2"`.
    pub label: String,
}

/// The windowed time series of one run, input to [`write_dashboard`].
///
/// Every per-window vector is paired with `t_s` index by index; if the lengths differ the shorter
/// length wins for that series. Points are plotted at the window start time.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RunSeries {
    /// Main title, e.g. `"hotos-retry · baseline"`.
    pub title: String,
    /// Line under the title, e.g. `"seed 1 · verdict metastable · recovery —"`.
    pub subtitle: String,
    /// Window start times (s).
    pub t_s: Vec<f64>,
    /// Window length (s); used only to give a single-window run a sensible x extent.
    pub window_s: f64,
    /// Trigger intervals, shaded in every panel.
    pub shades: Vec<Shade>,
    /// Attempts per second (first tries + retries).
    pub offered_per_s: Vec<f64>,
    /// First tries per second.
    pub first_tries_per_s: Vec<f64>,
    /// Retries per second.
    pub retries_per_s: Vec<f64>,
    /// Useful completions per second.
    pub goodput_per_s: Vec<f64>,
    /// Attempts ÷ first tries (`None` when a window has no first tries).
    pub amplification: Vec<Option<f64>>,
    /// Time-weighted mean queue length.
    pub queue_len: Vec<f64>,
    /// The client whose call latency the latency panel shows (named in its title).
    pub latency_of: String,
    /// Median end-to-end latency of successful calls (ms); `None` when a window has no
    /// successful call (the panel then says so).
    pub call_ok_ms_p50: Vec<Option<f64>>,
    /// 99th-percentile end-to-end latency of successful calls (ms).
    pub call_ok_ms_p99: Vec<Option<f64>>,
    /// 99.9th-percentile end-to-end latency of successful calls (ms).
    pub call_ok_ms_p999: Vec<Option<f64>>,
    /// 99th-percentile end-to-end latency of every call (ms), a failed call counted until it
    /// gave up; `None` when no call ended in the window.
    pub call_all_ms_p99: Vec<Option<f64>>,
    /// Goodput of the healthy baseline, drawn as a dashed horizontal reference line.
    pub baseline_goodput_per_s: Option<f64>,
}

/// One variant's goodput in an [`Overlay`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct VariantLine {
    /// Variant name, e.g. `"retry-budget"`.
    pub name: String,
    /// Useful completions per second, paired index by index with [`Overlay::t_s`].
    pub goodput_per_s: Vec<f64>,
    /// Time to recover (s), or `None` if the variant did not recover; shown in the legend.
    pub recovery_s: Option<f64>,
    /// Verdict, e.g. `"metastable"` or `"recovered"`; shown in the legend.
    pub verdict: String,
}

/// Goodput over time for several variants of one scenario, input to [`write_overlay`].
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Overlay {
    /// Main title.
    pub title: String,
    /// Line under the title.
    pub subtitle: String,
    /// Window start times (s), shared by all variants.
    pub t_s: Vec<f64>,
    /// Trigger intervals, shaded.
    pub shades: Vec<Shade>,
    /// The variants, drawn in order with colours from a fixed palette.
    pub variants: Vec<VariantLine>,
    /// Goodput of the healthy baseline, drawn as a dashed horizontal reference line.
    pub baseline_goodput_per_s: Option<f64>,
}

/// Failure to render or write a plot.
#[derive(Debug, thiserror::Error)]
pub enum PlotError {
    /// plotters failed to draw or encode (the message is plotters' error, as text).
    #[error("cannot draw {}: {message}", path.display())]
    Draw {
        /// The file being produced.
        path: PathBuf,
        /// What went wrong.
        message: String,
    },
    /// Writing or renaming the file failed.
    #[error("cannot write {}: {error}", path.display())]
    Io {
        /// The file being produced.
        path: PathBuf,
        /// The underlying error (in the message, not chained: printed once).
        error: io::Error,
    },
}

/// Pixel size of a dashboard.
pub const DASHBOARD_SIZE: (u32, u32) = (1600, 1200);
/// Pixel width of an overlay; its height grows with the number of legend rows.
pub const OVERLAY_WIDTH: u32 = 1600;

/// Writes the four-panel dashboard of one run as `png` and `svg`.
///
/// Panels, sharing the time axis, each with the trigger intervals shaded: (1) offered load,
/// first tries and goodput (req/s) with the baseline goodput dashed; (2) retries per second
/// (left axis) and amplification (right axis); (3) queue length; (4) a client's end-to-end call
/// latency in ms on a log scale: p50/p99/p99.9 of successful calls and p99 of every call (a
/// failed one counted until it gave up), with windows without a successful call marked and
/// counted ("no successful calls").
pub fn write_dashboard(data: &RunSeries, png: &Path, svg: &Path) -> Result<(), PlotError> {
    let size = DASHBOARD_SIZE;
    render_both(
        png,
        svg,
        size,
        |root| draw_dashboard(root, data),
        |root| draw_dashboard(root, data),
    )
}

/// Writes the goodput-over-time overlay of several variants as `png` and `svg`.
///
/// Legend entries read `"name — verdict, recovery X s"` (`recovery —` when the variant did not
/// recover).
pub fn write_overlay(data: &Overlay, png: &Path, svg: &Path) -> Result<(), PlotError> {
    let size = (OVERLAY_WIDTH, overlay_height(data.variants.len()));
    render_both(
        png,
        svg,
        size,
        |root| draw_overlay(root, data),
        |root| draw_overlay(root, data),
    )
}

// ---------------------------------------------------------------------------------------------
// Rendering to files

pub(crate) type DrawResult = Result<(), String>;

/// Renders a PNG with `draw_png` and an SVG with `draw_svg` (the same drawing, once per
/// backend), each written atomically.
pub(crate) fn render_both<P, S>(
    png: &Path,
    svg: &Path,
    size: (u32, u32),
    draw_png: P,
    draw_svg: S,
) -> Result<(), PlotError>
where
    P: Fn(&DrawingArea<BitMapBackend<'_>, Shift>) -> DrawResult,
    S: Fn(&DrawingArea<SVGBackend<'_>, Shift>) -> DrawResult,
{
    let draw_err = |path: &Path, message: String| PlotError::Draw {
        path: path.to_path_buf(),
        message,
    };
    ensure_fonts().map_err(|m| draw_err(png, m))?;
    render_png(png, size, &draw_png)?;

    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        draw_svg(&root).map_err(|m| draw_err(svg, m))?;
        root.present().map_err(|e| draw_err(svg, e.to_string()))?;
    }
    crate::report::output::write_atomic(svg, text.as_bytes()).map_err(|source| PlotError::Io {
        path: svg.to_path_buf(),
        error: source,
    })
}

/// Renders a PNG into a fresh private directory next to `path` (plotters' encoder writes only
/// to files), syncs it and renames it over `path`
/// ([`crate::report::output::write_atomic_with`]).
fn render_png<F>(path: &Path, size: (u32, u32), draw: &F) -> Result<(), PlotError>
where
    F: Fn(&DrawingArea<BitMapBackend<'_>, Shift>) -> DrawResult,
{
    let written = crate::report::output::write_atomic_with(path, |staged| {
        let root = BitMapBackend::new(staged, size).into_drawing_area();
        draw(&root).and_then(|()| root.present().map_err(|e| e.to_string()))
    })
    .map_err(|message| PlotError::Draw {
        path: path.to_path_buf(),
        message,
    })?;
    written.map_err(|source| PlotError::Io {
        path: path.to_path_buf(),
        error: source,
    })
}

/// Registers DejaVu Sans regular and bold as "sans-serif", once per process.
fn ensure_fonts() -> Result<(), String> {
    static FONTS: OnceLock<Result<(), String>> = OnceLock::new();
    FONTS
        .get_or_init(|| {
            register_font("sans-serif", FontStyle::Normal, dejavu::sans::regular())
                .map_err(|_| "cannot load embedded DejaVu Sans".to_string())?;
            register_font("sans-serif", FontStyle::Bold, dejavu::sans::bold())
                .map_err(|_| "cannot load embedded DejaVu Sans Bold".to_string())?;
            Ok(())
        })
        .clone()
}

pub(crate) fn e2s<E: std::fmt::Display>(e: E) -> String {
    e.to_string()
}

// ---------------------------------------------------------------------------------------------
// Style

pub(crate) const INK: RGBColor = RGBColor(33, 37, 41);
pub(crate) const MUTED: RGBColor = RGBColor(100, 104, 110);
const AXIS: RGBColor = RGBColor(150, 150, 150);
const GRID: RGBColor = RGBColor(228, 228, 228);
const SHADE_FILL: RGBColor = RGBColor(252, 218, 218);
const SHADE_TEXT: RGBColor = RGBColor(165, 25, 25);
const BASELINE: RGBColor = RGBColor(60, 60, 60);

const C_OFFERED: RGBColor = RGBColor(235, 120, 15);
const C_GOODPUT: RGBColor = RGBColor(31, 100, 200);
const C_FIRST: RGBColor = RGBColor(40, 150, 60);
const C_RETRIES: RGBColor = RGBColor(140, 80, 190);
const C_AMPL: RGBColor = RGBColor(150, 95, 40);
const C_QUEUE: RGBColor = RGBColor(0, 130, 130);
const C_P50: RGBColor = RGBColor(31, 100, 200);
const C_P99: RGBColor = RGBColor(235, 120, 15);
const C_P999: RGBColor = RGBColor(175, 30, 130);
const C_ALL: RGBColor = RGBColor(200, 30, 30);

/// Overlay palette (Okabe–Ito based, yellow replaced by darker hues); cycled, dashed on reuse.
const PALETTE: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(110, 80, 200),
    RGBColor(120, 120, 0),
];

pub(crate) fn font(size: f64, bold: bool, color: RGBColor) -> TextStyle<'static> {
    let style = if bold {
        FontStyle::Bold
    } else {
        FontStyle::Normal
    };
    let mut text = TextStyle::from(FontDesc::new(FontFamily::SansSerif, size, style));
    text.color = color.to_backend_color();
    text
}

// ---------------------------------------------------------------------------------------------
// Data cleaning

/// Values beyond this magnitude are clamped so that ranges (and their spans) stay finite.
const CLAMP: f64 = 1e300;

fn clean(v: f64) -> Option<f64> {
    v.is_finite().then(|| v.clamp(-CLAMP, CLAMP))
}

/// A line to draw: runs of consecutive valid points.
struct Line {
    label: String,
    /// Kept visible when the legend shortens `label` + `suffix` to fit.
    suffix: String,
    /// Second legend line (smaller, grey).
    note: Option<String>,
    color: RGBColor,
    width: u32,
    dashed: bool,
    segments: Vec<Vec<(f64, f64)>>,
}

impl Line {
    fn new(label: &str, color: RGBColor, width: u32, segments: Vec<Vec<(f64, f64)>>) -> Self {
        Line {
            label: label.to_string(),
            suffix: String::new(),
            note: None,
            color,
            width,
            dashed: false,
            segments,
        }
    }

    fn note(mut self, note: &str) -> Self {
        self.note = Some(note.to_string());
        self
    }

    fn dashed(mut self) -> Self {
        self.dashed = true;
        self
    }

    fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.segments.iter().flatten().map(|p| p.1)
    }
}

/// Pairs `t` with `y` (up to the shorter length), dropping invalid points; a dropped point ends
/// the current run. `keep` filters values (e.g. positive only for a log axis).
fn segments<I>(t: &[f64], y: I, keep: impl Fn(f64) -> bool) -> Vec<Vec<(f64, f64)>>
where
    I: IntoIterator<Item = Option<f64>>,
{
    let mut out = Vec::new();
    let mut run = Vec::new();
    for (&t, y) in t.iter().zip(y) {
        match (clean(t), y.and_then(clean).filter(|&v| keep(v))) {
            (Some(t), Some(v)) => run.push((t, v)),
            _ => {
                if !run.is_empty() {
                    out.push(std::mem::take(&mut run));
                }
            }
        }
    }
    if !run.is_empty() {
        out.push(run);
    }
    out
}

fn seg(t: &[f64], y: &[f64]) -> Vec<Vec<(f64, f64)>> {
    segments(t, y.iter().map(|&v| Some(v)), |_| true)
}

fn seg_opt(t: &[f64], y: &[Option<f64>], keep: impl Fn(f64) -> bool) -> Vec<Vec<(f64, f64)>> {
    segments(t, y.iter().copied(), keep)
}

fn horizontal(x: (f64, f64), y: Option<f64>) -> Vec<Vec<(f64, f64)>> {
    match y.and_then(clean) {
        Some(y) => vec![vec![(x.0, y), (x.1, y)]],
        None => Vec::new(),
    }
}

/// Trigger intervals with finite ends, each as (start ≤ end, label), in input order.
fn clean_shades(shades: &[Shade]) -> Vec<(f64, f64, &str)> {
    shades
        .iter()
        .filter_map(|s| {
            let (a, b) = (clean(s.from_s)?, clean(s.to_s)?);
            Some((a.min(b), a.max(b), s.label.as_str()))
        })
        .collect()
}

/// The x range: the finite times, else the shades, else 0..1; never empty.
fn x_range(t: &[f64], window_s: f64, shades: &[(f64, f64, &str)]) -> (f64, f64) {
    let (mut lo, mut hi) = min_max(t.iter().copied().filter_map(clean))
        .or_else(|| min_max(shades.iter().flat_map(|s| [s.0, s.1])))
        .unwrap_or((0.0, 1.0));
    if hi <= lo {
        let w = clean(window_s).filter(|&w| w > 0.0).unwrap_or(1.0);
        hi = lo + w;
        if hi <= lo {
            // `lo` is so large that adding the window is lost in rounding.
            lo -= lo.abs() * 1e-9;
            hi += hi.abs() * 1e-9;
        }
    }
    (lo, hi)
}

fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// A linear y range including 0 and every value, with headroom; never empty.
fn y_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = min_max(values).unwrap_or((0.0, 0.0));
    let (lo, hi) = (lo.min(0.0), hi.max(0.0));
    if hi - lo <= 0.0 {
        return (0.0, 1.0);
    }
    let pad = (hi - lo) * 0.08;
    let lo = if lo < 0.0 { lo - pad } else { lo };
    (lo, hi + pad)
}

/// Log-axis values are clamped into this interval: plotters' log axis overflows (and then loops
/// for a very long time) when the range spans more than ~308 decades.
const LOG_CLAMP: (f64, f64) = (1e-150, 1e150);

/// A log y range covering the positive values, snapped to powers of ten; `None` if there are none.
fn log_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = min_max(values.filter(|&v| v > 0.0))?;
    let lo_exp = lo.log10().floor();
    let mut hi_exp = hi.log10().ceil();
    if hi_exp <= lo_exp {
        hi_exp = lo_exp + 1.0;
    }
    Some((10f64.powf(lo_exp), 10f64.powf(hi_exp)))
}

/// Compact tick label: `0`, `0.25`, `12`, `1.5k`, `2M`, `3.0e12`.
fn fmt_num(v: f64) -> String {
    if !v.is_finite() {
        return String::new();
    }
    let a = v.abs();
    if a < 1e-12 {
        "0".to_string()
    } else if !(1e-2..1e12).contains(&a) {
        format!("{v:.1e}")
    } else if a >= 1e9 {
        format!("{}G", trim(v / 1e9))
    } else if a >= 1e6 {
        format!("{}M", trim(v / 1e6))
    } else if a >= 1e4 {
        format!("{}k", trim(v / 1e3))
    } else {
        trim(v)
    }
}

/// At most three significant decimals, trailing zeros removed.
fn trim(v: f64) -> String {
    let a = v.abs();
    let decimals = if a >= 100.0 {
        0
    } else if a >= 10.0 {
        1
    } else if a >= 1.0 {
        2
    } else {
        3
    };
    let s = format!("{v:.decimals$}");
    let s = if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    };
    if s == "-0" { "0".to_string() } else { s }
}

pub(crate) fn tick(v: &f64) -> String {
    fmt_num(*v)
}

// ---------------------------------------------------------------------------------------------
// Drawing helpers

/// Draws one line (runs as paths, lone points as dots) on a chart's plotting area.
fn draw_line<DB, CT>(area: &DrawingArea<DB, CT>, line: &Line) -> DrawResult
where
    DB: DrawingBackend,
    CT: CoordTranslate<From = (f64, f64)>,
{
    let style = ShapeStyle::from(&line.color).stroke_width(line.width);
    for run in &line.segments {
        if run.len() == 1 {
            area.draw(&Circle::new(run[0], line.width + 2, line.color.filled()))
                .map_err(e2s)?;
        } else if line.dashed {
            area.draw(&DashedPathElement::new(run.iter().copied(), 12, 8, style))
                .map_err(e2s)?;
        } else {
            area.draw(&PathElement::new(run.clone(), style))
                .map_err(e2s)?;
        }
    }
    Ok(())
}

/// Shades the trigger intervals over the full y range and labels them at the top.
fn draw_shades<DB, CT>(
    area: &DrawingArea<DB, CT>,
    shades: &[(f64, f64, &str)],
    x: (f64, f64),
    y: (f64, f64),
) -> DrawResult
where
    DB: DrawingBackend,
    CT: CoordTranslate<From = (f64, f64)>,
{
    for &(a, b, _) in shades {
        let (a, b) = (a.max(x.0), b.min(x.1));
        if a < b {
            area.draw(&Rectangle::new([(a, y.0), (b, y.1)], SHADE_FILL.filled()))
                .map_err(e2s)?;
        } else if a == b {
            // An instant (e.g. a restart): a thin line instead of an invisible band.
            let style = SHADE_TEXT.mix(0.5).stroke_width(2);
            area.draw(&PathElement::new(vec![(a, y.0), (a, y.1)], style))
                .map_err(e2s)?;
        }
    }
    for (i, &(a, b, label)) in shades.iter().enumerate() {
        if label.is_empty() || b < x.0 || a > x.1 {
            continue;
        }
        let dy = 4 + 18 * (i as i32 % 2);
        let style = font(14.0, true, SHADE_TEXT);
        // Right of the band's start, or left of it if it would run past the plot's right edge.
        let anchor = (a.max(x.0), y.1);
        let text_w = area
            .estimate_text_size(label, &style)
            .map_or(0, |(w, _)| i32::try_from(w).unwrap_or(i32::MAX));
        let px = area.map_coordinate(&anchor).0;
        let right_edge = area.get_pixel_range().0.end;
        let dx = if px.saturating_add(5).saturating_add(text_w) > right_edge {
            -5 - text_w.min(px)
        } else {
            5
        };
        let at = EmptyElement::at(anchor) + Text::new(label.to_string(), (dx, dy), style);
        area.draw(&at).map_err(e2s)?;
    }
    Ok(())
}

/// Legend rows in a plain area: a colour swatch, the label, and an optional grey note below.
fn draw_legend<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lines: &[&Line],
    origin: (i32, i32),
    width: i32,
) -> DrawResult {
    let label_style = font(16.0, false, INK);
    let note_style = font(14.0, false, MUTED);
    let (x, mut y) = origin;
    for line in lines {
        draw_swatch(area, line, (x, y + 9))?;
        let text_x = x + 40;
        let label = fit_parts(area, &line.label, &line.suffix, &label_style, width - 40);
        area.draw(&Text::new(label, (text_x, y), label_style.clone()))
            .map_err(e2s)?;
        y += 22;
        if let Some(note) = &line.note {
            let note = fit(area, note, &note_style, width - 40);
            area.draw(&Text::new(note, (text_x, y), note_style.clone()))
                .map_err(e2s)?;
            y += 20;
        }
        y += 6;
    }
    Ok(())
}

fn draw_swatch<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    line: &Line,
    (x, y): (i32, i32),
) -> DrawResult {
    let style = ShapeStyle::from(&line.color).stroke_width(line.width.max(3));
    let pts = vec![(x, y), (x + 30, y)];
    if line.dashed {
        area.draw(&DashedPathElement::new(pts, 8, 5, style))
            .map_err(e2s)
    } else {
        area.draw(&PathElement::new(pts, style)).map_err(e2s)
    }
}

/// `text`, shortened with "…" until it fits in `max_w` pixels.
pub(crate) fn fit<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    text: &str,
    style: &TextStyle,
    max_w: i32,
) -> String {
    fit_parts(area, text, "", style, max_w)
}

/// `head` + `tail`; if too wide for `max_w` pixels, `head` is shortened with "…" so that `tail`
/// (e.g. a legend entry's verdict) stays visible; if even that is too wide, the whole text is
/// shortened from the end.
fn fit_parts<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    head: &str,
    tail: &str,
    style: &TextStyle,
    max_w: i32,
) -> String {
    let width = |s: &str| {
        area.estimate_text_size(s, style)
            .map_or(0, |(w, _)| i32::try_from(w).unwrap_or(i32::MAX))
    };
    let whole = format!("{head}{tail}");
    if width(&whole) <= max_w {
        return whole;
    }
    let head_chars: Vec<char> = head.chars().collect();
    let with = |k: usize| head_chars[..k].iter().collect::<String>() + "…" + tail;
    if width(&with(0)) > max_w {
        return if tail.is_empty() {
            String::new()
        } else {
            fit_parts(area, &whole, "", style, max_w)
        };
    }
    // Largest k whose shortened text fits (the width grows with k).
    let (mut lo, mut hi) = (0, head_chars.len());
    while lo < hi {
        let mid = (lo + hi).div_ceil(2);
        if width(&with(mid)) <= max_w {
            lo = mid;
        } else {
            hi = mid - 1;
        }
    }
    with(lo)
}

pub(crate) fn draw_header<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    subtitle: &str,
) -> DrawResult {
    let w = area.dim_in_pixel().0 as i32 - 48;
    let title_style = font(30.0, true, INK);
    let sub_style = font(19.0, false, MUTED);
    let title = fit(area, title, &title_style, w);
    let subtitle = fit(area, subtitle, &sub_style, w);
    area.draw(&Text::new(title, (24, 16), title_style))
        .map_err(e2s)?;
    area.draw(&Text::new(subtitle, (24, 56), sub_style))
        .map_err(e2s)?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Dashboard

const HEADER_H: u32 = 92;
const LEGEND_W: u32 = 310;
const PANEL_TITLE_H: u32 = 28;
const Y_LABEL_W: u32 = 92;
const Y2_LABEL_W: u32 = 86;
const X_LABEL_H: u32 = 30;
const X_DESC_EXTRA: u32 = 26;

type LinChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// One panel's pieces: its chart area, its legend area, and whether it carries the x caption.
struct PanelAreas<DB: DrawingBackend> {
    chart: DrawingArea<DB, Shift>,
    legend: DrawingArea<DB, Shift>,
    bottom: bool,
}

/// Splits `area` into a titled chart (left) and a legend column (right).
fn panel_areas<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    title: &str,
    bottom: bool,
) -> Result<PanelAreas<DB>, String> {
    let (title_area, body) = area.split_vertically(PANEL_TITLE_H);
    title_area
        .draw(&Text::new(
            title.to_string(),
            (Y_LABEL_W as i32 + 4, 4),
            font(18.0, true, INK),
        ))
        .map_err(e2s)?;
    let w = body.dim_in_pixel().0;
    let (chart, legend) = body.split_horizontally(w.saturating_sub(LEGEND_W));
    Ok(PanelAreas {
        chart,
        legend,
        bottom,
    })
}

fn x_label_h(bottom: bool) -> u32 {
    if bottom {
        X_LABEL_H + X_DESC_EXTRA
    } else {
        X_LABEL_H
    }
}

/// A linear chart with the trigger shading drawn; the caller draws the mesh ([`draw_mesh`]).
/// With `right_axis` the right margin is a label area for a secondary axis; without, it is blank
/// space of the same width (a label area would repeat the left labels), so panels line up.
fn linear_chart<'a, DB: DrawingBackend>(
    p: &'a PanelAreas<DB>,
    x: (f64, f64),
    y: (f64, f64),
    shades: &[(f64, f64, &str)],
    right_axis: bool,
) -> Result<LinChart<'a, DB>, String> {
    let mut builder = ChartBuilder::on(&p.chart);
    builder
        .margin_top(6)
        .x_label_area_size(x_label_h(p.bottom))
        .y_label_area_size(Y_LABEL_W);
    if right_axis {
        builder.margin_right(8).right_y_label_area_size(Y2_LABEL_W);
    } else {
        builder.margin_right(8 + Y2_LABEL_W);
    }
    let chart = builder
        .build_cartesian_2d(x.0..x.1, y.0..y.1)
        .map_err(e2s)?;
    draw_shades(chart.plotting_area(), shades, x, y)?;
    Ok(chart)
}

/// Draws the grid, axes and labels of a chart (`x_desc` only on the bottom panel).
///
/// On a chart with a secondary axis, call this after `set_secondary_coord`: plotters then gives
/// the right label area to the secondary axis instead of repeating the primary labels there.
fn draw_mesh<X, Y, DB>(
    chart: &mut ChartContext<'_, DB, Cartesian2d<X, Y>>,
    y_desc: &str,
    bottom: bool,
) -> DrawResult
where
    X: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + plotters::coord::ranged1d::ValueFormatter<f64>,
    DB: DrawingBackend,
{
    let mut mesh = chart.configure_mesh();
    mesh.x_labels(14)
        .y_labels(6)
        .x_label_formatter(&tick)
        .y_label_formatter(&tick)
        .label_style(font(15.0, false, INK))
        .axis_desc_style(font(16.0, false, INK))
        .axis_style(AXIS)
        .bold_line_style(GRID)
        .light_line_style(TRANSPARENT)
        .y_desc(y_desc.to_string());
    if bottom {
        mesh.x_desc("time (s)");
    }
    mesh.draw().map_err(e2s)
}

fn draw_dashboard<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &RunSeries) -> DrawResult {
    root.fill(&WHITE).map_err(e2s)?;
    let (header, body) = root.split_vertically(HEADER_H);
    draw_header(&header, &d.title, &d.subtitle)?;

    let body = body.margin(0, 8, 0, 0);
    let h = body.dim_in_pixel().1;
    let panel_h = h.saturating_sub(X_DESC_EXTRA) / 4;
    let breaks = [panel_h, 2 * panel_h, 3 * panel_h].map(|b| b as i32);
    let panels = body.split_by_breakpoints::<i32, i32, _, _>([], breaks);

    let shades = clean_shades(&d.shades);
    let x = x_range(&d.t_s, d.window_s, &shades);
    let t = &d.t_s;

    // (1) offered load vs goodput
    {
        let p = panel_areas(&panels[0], "Offered load vs goodput", false)?;
        let lines = [
            Line::new("offered", C_OFFERED, 2, seg(t, &d.offered_per_s))
                .note("attempts/s = first tries + retries"),
            Line::new("first tries", C_FIRST, 2, seg(t, &d.first_tries_per_s)),
            Line::new("goodput", C_GOODPUT, 3, seg(t, &d.goodput_per_s))
                .note("useful completions/s"),
            Line::new(
                "baseline goodput",
                BASELINE,
                2,
                horizontal(x, d.baseline_goodput_per_s),
            )
            .dashed(),
        ];
        let y = y_range(lines.iter().flat_map(Line::values));
        let mut chart = linear_chart(&p, x, y, &shades, false)?;
        draw_mesh(&mut chart, "requests / s", false)?;
        for line in [&lines[3], &lines[0], &lines[1], &lines[2]] {
            draw_line(chart.plotting_area(), line)?;
        }
        draw_legend(
            &p.legend,
            &lines.iter().collect::<Vec<_>>(),
            (18, 10),
            LEGEND_W as i32 - 22,
        )?;
    }

    // (2) retries and amplification
    {
        let p = panel_areas(&panels[1], "Retries and amplification", false)?;
        let retries =
            Line::new("retries/s", C_RETRIES, 2, seg(t, &d.retries_per_s)).note("left axis");
        let ampl = Line::new(
            "amplification",
            C_AMPL,
            2,
            seg_opt(t, &d.amplification, |_| true),
        )
        .note("attempts ÷ first tries, right axis");
        let y = y_range(retries.values());
        let (a_lo, a_hi) = y_range(ampl.values().chain([1.0]));
        let a_hi = a_hi.max(2.0);
        let mut chart =
            linear_chart(&p, x, y, &shades, true)?.set_secondary_coord(x.0..x.1, a_lo..a_hi);
        draw_mesh(&mut chart, "retries / s", false)?;
        chart
            .configure_secondary_axes()
            .y_labels(6)
            .y_label_formatter(&|v: &f64| format!("{}×", fmt_num(*v)))
            .label_style(font(15.0, false, C_AMPL))
            .axis_desc_style(font(16.0, false, C_AMPL))
            .axis_style(AXIS)
            .y_desc("amplification")
            .draw()
            .map_err(e2s)?;
        draw_line(chart.plotting_area(), &retries)?;
        draw_line(chart.secondary_plotting_area(), &ampl)?;
        draw_legend(
            &p.legend,
            &[&retries, &ampl],
            (18, 10),
            LEGEND_W as i32 - 22,
        )?;
    }

    // (3) queue length
    {
        let p = panel_areas(&panels[2], "Queue length", false)?;
        let queue = Line::new("queue length", C_QUEUE, 2, seg(t, &d.queue_len))
            .note("time-weighted mean per window");
        let y = y_range(queue.values());
        let mut chart = linear_chart(&p, x, y, &shades, false)?;
        draw_mesh(&mut chart, "requests", false)?;
        for run in queue.segments.iter().filter(|r| r.len() > 1) {
            let mut poly = run.clone();
            poly.push((run[run.len() - 1].0, y.0.max(0.0)));
            poly.push((run[0].0, y.0.max(0.0)));
            chart
                .plotting_area()
                .draw(&Polygon::new(poly, C_QUEUE.mix(0.12).filled()))
                .map_err(e2s)?;
        }
        draw_line(chart.plotting_area(), &queue)?;
        draw_legend(&p.legend, &[&queue], (18, 10), LEGEND_W as i32 - 22)?;
    }

    // (4) latency, log scale
    {
        let title = if d.latency_of.is_empty() {
            "Call latency, end to end (log scale)".to_string()
        } else {
            format!("Call latency of {}, end to end (log scale)", d.latency_of)
        };
        let p = panel_areas(&panels[3], &title, true)?;
        let positive = |v: f64| v > 0.0;
        let mut lines = [
            Line::new("p50 ok", C_P50, 2, seg_opt(t, &d.call_ok_ms_p50, positive))
                .note("successful calls only"),
            Line::new("p99 ok", C_P99, 2, seg_opt(t, &d.call_ok_ms_p99, positive)),
            Line::new(
                "p99.9 ok",
                C_P999,
                2,
                seg_opt(t, &d.call_ok_ms_p999, positive),
            ),
            Line::new(
                "p99 all",
                C_ALL,
                2,
                seg_opt(t, &d.call_all_ms_p99, positive),
            )
            .dashed()
            .note("every call, failed until it gave up"),
        ];
        // Windows that ended calls but none successfully: marked, so the ok lines' gaps are
        // not read as missing data.
        let no_ok: Vec<f64> = t
            .iter()
            .zip(d.call_ok_ms_p50.iter().zip(&d.call_all_ms_p99))
            .filter(|(_, (ok, all))| ok.is_none() && all.is_some())
            .filter_map(|(&t, _)| clean(t))
            .collect();
        for p in lines
            .iter_mut()
            .flat_map(|l| l.segments.iter_mut().flatten())
        {
            p.1 = p.1.clamp(LOG_CLAMP.0, LOG_CLAMP.1);
        }
        let range = log_range(lines.iter().flat_map(Line::values));
        let y = range.unwrap_or((1.0, 1000.0));
        let mut chart = ChartBuilder::on(&p.chart)
            .margin_top(6)
            .margin_right(8 + Y2_LABEL_W)
            .x_label_area_size(x_label_h(true))
            .y_label_area_size(Y_LABEL_W)
            .build_cartesian_2d(x.0..x.1, (y.0..y.1).log_scale())
            .map_err(e2s)?;
        draw_shades(chart.plotting_area(), &shades, x, y)?;
        draw_mesh(&mut chart, "ms", true)?;
        for line in &lines {
            draw_line(chart.plotting_area(), line)?;
        }
        let w_s = clean(d.window_s).filter(|&w| w > 0.0).unwrap_or(0.0);
        for &t0 in &no_ok {
            // A red strip along the bottom of the panel for each such window.
            chart
                .plotting_area()
                .draw(&Rectangle::new(
                    [
                        (t0, y.0),
                        ((t0 + w_s).min(x.1), y.0 * (y.1 / y.0).powf(0.04)),
                    ],
                    C_ALL.mix(0.6).filled(),
                ))
                .map_err(e2s)?;
        }
        let ok_points = lines[..3].iter().any(|l| l.values().next().is_some());
        let note = if range.is_none() {
            Some("no latency samples (no call ended)".to_string())
        } else if !ok_points {
            Some("no successful calls".to_string())
        } else if !no_ok.is_empty() {
            Some(format!(
                "no successful calls in {} of {} windows (red marks)",
                no_ok.len(),
                t.len()
            ))
        } else {
            None
        };
        if let Some(note) = note {
            let (w, h) = p.chart.dim_in_pixel();
            let at = if ok_points {
                // Below the trigger labels at the top of the chart.
                (Y_LABEL_W as i32 + 12, 34)
            } else {
                (w as i32 / 2 - 80, h as i32 / 2 - 20)
            };
            p.chart
                .draw(&Text::new(note, at, font(18.0, true, C_ALL)))
                .map_err(e2s)?;
        }
        draw_legend(
            &p.legend,
            &lines.iter().collect::<Vec<_>>(),
            (18, 10),
            LEGEND_W as i32 - 22,
        )?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Overlay

const OVERLAY_CHART_H: u32 = 720;
const OVERLAY_ROW_H: u32 = 30;

fn overlay_columns(n: usize) -> usize {
    if n > 8 { 2 } else { 1 }
}

fn overlay_rows(n: usize) -> u32 {
    // One extra entry for the baseline.
    (n + 1).div_ceil(overlay_columns(n)) as u32
}

fn overlay_height(n: usize) -> u32 {
    HEADER_H + OVERLAY_CHART_H + 24 + overlay_rows(n) * OVERLAY_ROW_H + 24
}

fn fmt_recovery(r: Option<f64>) -> String {
    match r.filter(|v| v.is_finite()) {
        Some(v) => format!("recovery {} s", trim_secs(v)),
        None => "recovery —".to_string(),
    }
}

fn trim_secs(v: f64) -> String {
    if v.abs() >= 1e6 {
        fmt_num(v)
    } else {
        let s = format!("{v:.1}");
        s.strip_suffix(".0").map(str::to_string).unwrap_or(s)
    }
}

fn draw_overlay<DB: DrawingBackend>(root: &DrawingArea<DB, Shift>, d: &Overlay) -> DrawResult {
    root.fill(&WHITE).map_err(e2s)?;
    let (header, body) = root.split_vertically(HEADER_H);
    draw_header(&header, &d.title, &d.subtitle)?;
    let (chart_area, legend_area) = body.split_vertically(OVERLAY_CHART_H);

    let shades = clean_shades(&d.shades);
    let x = x_range(&d.t_s, 1.0, &shades);
    let mut lines: Vec<Line> = d
        .variants
        .iter()
        .enumerate()
        .map(|(i, v)| {
            // The name is shortened first if the entry is too wide; verdict and recovery stay.
            let suffix = if v.verdict.is_empty() {
                format!(" — {}", fmt_recovery(v.recovery_s))
            } else {
                format!(" — {}, {}", v.verdict, fmt_recovery(v.recovery_s))
            };
            let color = PALETTE[i % PALETTE.len()];
            let mut line = Line::new(&v.name, color, 3, seg(&d.t_s, &v.goodput_per_s));
            line.suffix = suffix;
            line.dashed = i >= PALETTE.len();
            line
        })
        .collect();
    lines.push(
        Line::new(
            "baseline goodput",
            BASELINE,
            2,
            horizontal(x, d.baseline_goodput_per_s),
        )
        .dashed(),
    );
    let y = y_range(lines.iter().flat_map(Line::values));

    let mut chart = ChartBuilder::on(&chart_area)
        .margin_top(10)
        .margin_right(40)
        .margin_left(10)
        .x_label_area_size(X_LABEL_H + X_DESC_EXTRA)
        .y_label_area_size(Y_LABEL_W)
        .build_cartesian_2d(x.0..x.1, y.0..y.1)
        .map_err(e2s)?;
    draw_shades(chart.plotting_area(), &shades, x, y)?;
    draw_mesh(&mut chart, "goodput (useful completions / s)", true)?;
    // Baseline first (underneath), then variants in order.
    if let Some(baseline) = lines.last() {
        draw_line(chart.plotting_area(), baseline)?;
    }
    for line in &lines[..lines.len() - 1] {
        draw_line(chart.plotting_area(), line)?;
    }

    // Legend: the variants then the baseline, in one or two columns below the chart.
    let cols = overlay_columns(d.variants.len());
    let rows = overlay_rows(d.variants.len()) as usize;
    let left = Y_LABEL_W as i32 + 10;
    let col_w = (legend_area.dim_in_pixel().0 as i32 - left - 40) / cols as i32;
    let shown: Vec<&Line> = if d.baseline_goodput_per_s.and_then(clean).is_some() {
        lines.iter().collect()
    } else {
        lines[..lines.len() - 1].iter().collect()
    };
    for (c, column) in shown.chunks(rows.max(1)).enumerate() {
        let origin = (left + c as i32 * col_w, 24);
        draw_legend_rows(&legend_area, column, origin, col_w - 20)?;
    }
    Ok(())
}

/// Single-line legend rows, `OVERLAY_ROW_H` apart.
fn draw_legend_rows<DB: DrawingBackend>(
    area: &DrawingArea<DB, Shift>,
    lines: &[&Line],
    (x, y): (i32, i32),
    width: i32,
) -> DrawResult {
    let style = font(17.0, false, INK);
    for (i, line) in lines.iter().enumerate() {
        let y = y + i as i32 * OVERLAY_ROW_H as i32;
        draw_swatch(area, line, (x, y + 10))?;
        let label = fit_parts(area, &line.label, &line.suffix, &style, width - 44);
        area.draw(&Text::new(label, (x + 44, y), style.clone()))
            .map_err(e2s)?;
    }
    Ok(())
}
