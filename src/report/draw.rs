//! The drawing toolbox every figure uses: rendering to PNG and SVG (atomic writes), the
//! embedded fonts, text styles, cleaning of data (NaN, ±∞, huge values), axis ranges, compact
//! number labels, lines, swatches and text that fits. The figures themselves are in
//! [`super::figure`] (panel grids: dashboards, incident timelines, small multiples),
//! [`super::ranking`] and [`super::plot_map`].
//!
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
//! Files are written atomically: the PNG (drawn into an RGB buffer, encoded with the `png`
//! crate) and the SVG are rendered to memory and written with
//! [`crate::report::output::write_atomic`].

use std::io;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{DefaultFormatting, KeyPointHint, Ranged};
use plotters::coord::types::RangedCoordf64;
use plotters::element::DashedPathElement;
use plotters::prelude::*;
use plotters::style::register_font;

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
    ensure_fonts().map_err(|m| draw_err(png, m))?;
    render_png(png, size, &draw_png)?;

    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, size).into_drawing_area();
        draw_svg(&root).map_err(|m| draw_err(svg, m))?;
        root.present().map_err(|e| draw_err(svg, e.to_string()))?;
    }
    crate::report::output::write_atomic(svg, text.as_bytes()).map_err(|e| io_err(svg, e))
}

fn draw_err(path: &Path, message: String) -> PlotError {
    PlotError::Draw {
        path: path.to_path_buf(),
        message,
    }
}

fn io_err(path: &Path, error: io::Error) -> PlotError {
    PlotError::Io {
        path: path.to_path_buf(),
        error,
    }
}

/// Renders a PNG in memory (an RGB buffer plotters draws into), encodes it and writes it
/// with [`crate::report::output::write_atomic`].
fn render_png<F>(path: &Path, size: (u32, u32), draw: &F) -> Result<(), PlotError>
where
    F: Fn(&DrawingArea<BitMapBackend<'_>, Shift>) -> DrawResult,
{
    let (w, h) = size;
    let mut rgb = vec![0u8; w as usize * h as usize * 3];
    {
        let root = BitMapBackend::with_buffer(&mut rgb, size).into_drawing_area();
        draw(&root)
            .and_then(|()| root.present().map_err(|e| e.to_string()))
            .map_err(|m| draw_err(path, m))?;
    }
    let bytes = encode_png(&rgb, size).map_err(|e| draw_err(path, e.to_string()))?;
    crate::report::output::write_atomic(path, &bytes).map_err(|e| io_err(path, e))
}

/// Encodes an 8-bit RGB image as PNG (no timestamp or other varying chunk: the same pixels give
/// the same bytes).
fn encode_png(rgb: &[u8], (w, h): (u32, u32)) -> Result<Vec<u8>, png::EncodingError> {
    let mut out = Vec::with_capacity(rgb.len() / 8);
    let mut enc = png::Encoder::new(&mut out, w, h);
    enc.set_color(png::ColorType::Rgb);
    enc.set_depth(png::BitDepth::Eight);
    // Fast deflate with the Paeth filter on every row: a dashboard's PNG about 5 % larger than
    // with the per-row adaptive filter choice (267 against 254 KB for the retry storm's) and
    // its encoding about half as costly (2.6 % of that whole run's instructions).
    enc.set_compression(png::Compression::Fast);
    enc.set_filter(png::FilterType::Paeth);
    enc.set_adaptive_filter(png::AdaptiveFilterType::NonAdaptive);
    let mut writer = enc.write_header()?;
    writer.write_image_data(rgb)?;
    writer.finish()?;
    Ok(out)
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

pub(crate) use super::palette::{INK, MUTED};

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

pub(crate) fn clean(v: f64) -> Option<f64> {
    v.is_finite().then(|| v.clamp(-CLAMP, CLAMP))
}

/// A line to draw: runs of consecutive valid points.
pub(crate) struct Line {
    pub(crate) color: RGBColor,
    pub(crate) width: u32,
    pub(crate) dashed: bool,
    pub(crate) segments: Vec<Vec<(f64, f64)>>,
}

/// Pairs `t` with `y` (up to the shorter length), dropping invalid points; a dropped point ends
/// the current run. `keep` filters values (e.g. positive only for a log axis).
pub(crate) fn segments<I>(t: &[f64], y: I, keep: impl Fn(f64) -> bool) -> Vec<Vec<(f64, f64)>>
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

pub(crate) fn seg_opt(
    t: &[f64],
    y: &[Option<f64>],
    keep: impl Fn(f64) -> bool,
) -> Vec<Vec<(f64, f64)>> {
    segments(t, y.iter().copied(), keep)
}

/// The x range: the finite times, else 0..1; never empty.
pub(crate) fn x_range(t: &[f64], window_s: f64) -> (f64, f64) {
    let (mut lo, mut hi) = min_max(t.iter().copied().filter_map(clean)).unwrap_or((0.0, 1.0));
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

pub(crate) fn min_max(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    values.fold(None, |acc, v| match acc {
        None => Some((v, v)),
        Some((lo, hi)) => Some((lo.min(v), hi.max(v))),
    })
}

/// A linear y range including 0 and every value, with headroom; never empty.
pub(crate) fn y_range(values: impl Iterator<Item = f64>) -> (f64, f64) {
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
pub(crate) const LOG_CLAMP: (f64, f64) = (1e-150, 1e150);

/// A log y range covering the positive values, snapped to powers of ten; `None` if there are none.
pub(crate) fn log_range(values: impl Iterator<Item = f64>) -> Option<(f64, f64)> {
    let (lo, hi) = min_max(values.filter(|&v| v > 0.0))?;
    let lo_exp = lo.log10().floor();
    let mut hi_exp = hi.log10().ceil();
    if hi_exp <= lo_exp {
        hi_exp = lo_exp + 1.0;
    }
    Some((10f64.powf(lo_exp), 10f64.powf(hi_exp)))
}

/// Compact tick label: `0`, `0.25`, `12`, `1.5k`, `2M`, `3.0e12`.
pub(crate) fn fmt_num(v: f64) -> String {
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
pub(crate) fn trim(v: f64) -> String {
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
///
/// `bitmap`: plotters' bitmap backend draws wide paths with unlimited miter joins, which shoot
/// spikes far out of the panel at sharp turns (a goodput collapse drawn 4 px wide); so on a
/// bitmap a wide line is drawn as 1-pixel paths offset by up to half its width horizontally
/// and vertically (a plus-shaped brush: no joins, no spikes). SVG viewers join lines properly
/// and get one path of the real width.
pub(crate) fn draw_line<DB, CT>(area: &DrawingArea<DB, CT>, line: &Line, bitmap: bool) -> DrawResult
where
    DB: DrawingBackend,
    CT: CoordTranslate<From = (f64, f64)>,
{
    let style = ShapeStyle::from(&line.color).stroke_width(line.width);
    let pixels = area.strip_coord_spec();
    let base = area.get_base_pixel();
    let r = (line.width / 2) as i32;
    let thin = ShapeStyle::from(&line.color).stroke_width(1);
    for run in &line.segments {
        if run.len() == 1 {
            area.draw(&Circle::new(run[0], line.width + 2, line.color.filled()))
                .map_err(e2s)?;
        } else if bitmap && r > 0 {
            let px: Vec<(i32, i32)> = run
                .iter()
                .map(|p| {
                    let (x, y) = area.map_coordinate(p);
                    (x - base.0, y - base.1)
                })
                .collect();
            let mut offsets = vec![(0, 0)];
            for k in 1..=r {
                offsets.extend([(k, 0), (-k, 0), (0, k), (0, -k)]);
            }
            for (dx, dy) in offsets {
                let pts = px.iter().map(|&(x, y)| (x + dx, y + dy));
                if line.dashed {
                    pixels
                        .draw(&DashedPathElement::new(pts, 12, 8, thin))
                        .map_err(e2s)?;
                } else {
                    pixels
                        .draw(&PathElement::new(pts.collect::<Vec<_>>(), thin))
                        .map_err(e2s)?;
                }
            }
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

pub(crate) fn draw_swatch<DB: DrawingBackend>(
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
pub(crate) fn fit_parts<DB: DrawingBackend>(
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

/// A linear f64 axis whose ticks (and grid lines) are exactly `keys`: clock times on a time
/// axis, one per row on a ranked chart.
pub(crate) struct Ticked {
    inner: RangedCoordf64,
    keys: Vec<f64>,
}

impl Ticked {
    pub(crate) fn new(lo: f64, hi: f64, keys: Vec<f64>) -> Ticked {
        Ticked {
            inner: (lo..hi).into(),
            keys,
        }
    }
}

impl Ranged for Ticked {
    type FormatOption = DefaultFormatting;
    type ValueType = f64;

    fn map(&self, value: &f64, limit: (i32, i32)) -> i32 {
        self.inner.map(value, limit)
    }

    fn key_points<H: KeyPointHint>(&self, hint: H) -> Vec<f64> {
        if hint.weight().allow_light_points() {
            Vec::new()
        } else {
            self.keys.clone()
        }
    }

    fn range(&self) -> std::ops::Range<f64> {
        self.inner.range()
    }
}
