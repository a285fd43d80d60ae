//! Figure rendering: valid PNG and SVG files, determinism, and no panics on degenerate input
//! (panel grids and the ranked chart, from plain data).

use std::path::{Path, PathBuf};

use metastable::report::clock::TimeAxis;
use metastable::report::figure::{
    Band, Curve, Figure, HLine, Marker, MarkerKind, Panel, PanelKind, write_figure,
};
use metastable::report::palette::{BLUE, ORANGE};
use metastable::report::ranking::{RankRow, Ranked, Ranking, write_ranking};
use metastable::scenario::clock::parse_start_clock;

const PNG_SIGNATURE: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0d, 0x0a, 0x1a, 0x0a];

/// A fresh directory under the target's scratch space (kept after the run for inspection).
fn out_dir(name: &str) -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"))
        .join("plot-tests")
        .join(name);
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

/// A retry storm: 80 req/s of first tries, a spike in [60, 120) s, goodput that never returns.
fn storm(axis: TimeAxis) -> Figure {
    let n = 300;
    let t_s: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let goodput: Vec<f64> = t_s
        .iter()
        .map(|&t| {
            if t < 60.0 {
                80.0 + (t * 0.7).sin()
            } else {
                22.0
            }
        })
        .collect();
    let latency: Vec<Option<f64>> = t_s
        .iter()
        .map(|&t| (!(60.0..=200.0).contains(&t)).then_some(30.0 + t))
        .collect();
    let mut load = Panel::new(PanelKind::Load, "Demand and goodput", "requests / s");
    load.curves.push(Curve::of("goodput", BLUE, &goodput));
    load.hlines.push(HLine {
        label: "baseline goodput".into(),
        y: 80.0,
    });
    let mut lat = Panel::new(PanelKind::Latency, "Latency (log scale)", "ms");
    lat.log_y = true;
    lat.curves.push(Curve::new("p99", ORANGE, latency).dashed());
    Figure {
        title: "hotos-retry · baseline — sustained by retry amplification".into(),
        subtitle: "seed 1 · verdict metastable".into(),
        axis,
        t_s,
        window_s: 1.0,
        bands: vec![Band {
            from_s: 60.0,
            to_s: 120.0,
            label: "trigger (measured)".into(),
        }],
        markers: vec![
            Marker {
                at_s: 90.0,
                label: "oncall paged".into(),
                kind: MarkerKind::Paged,
            },
            Marker {
                at_s: 150.0,
                label: "oncall acts (1 action)".into(),
                kind: MarkerKind::Action,
            },
        ],
        panels: vec![load, lat],
        columns: 1,
        shared_y: false,
        panel_h: 300,
    }
}

fn assert_png(path: &Path) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(bytes[..8], PNG_SIGNATURE, "{} is not a PNG", path.display());
    assert!(
        bytes.len() > 10_000,
        "{}: only {} bytes",
        path.display(),
        bytes.len()
    );
    // It decodes whole, as 8-bit RGB, and something is drawn on it: more than one colour, and
    // the background (the most common colour) white.
    let mut reader = png::Decoder::new(std::io::Cursor::new(&bytes))
        .read_info()
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut rgb = vec![0; reader.output_buffer_size()];
    let info = reader
        .next_frame(&mut rgb)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert_eq!(
        (info.color_type, info.bit_depth),
        (png::ColorType::Rgb, png::BitDepth::Eight),
        "{}",
        path.display()
    );
    let pixels = &rgb[..info.buffer_size()];
    assert_eq!(
        pixels.len(),
        info.width as usize * info.height as usize * 3,
        "{}",
        path.display()
    );
    let mut counts = std::collections::BTreeMap::new();
    for px in pixels.chunks_exact(3) {
        *counts.entry([px[0], px[1], px[2]]).or_insert(0usize) += 1;
    }
    let background = counts.iter().max_by_key(|(_, n)| **n).map(|(c, _)| *c);
    assert!(
        counts.len() > 2,
        "{}: {} colours",
        path.display(),
        counts.len()
    );
    assert_eq!(background, Some([255, 255, 255]), "{}", path.display());
}

fn assert_svg(path: &Path, must_contain: &str) {
    let text = std::fs::read_to_string(path).unwrap();
    assert!(text.contains("<svg"), "{} has no <svg", path.display());
    assert!(
        text.contains(must_contain),
        "{} lacks {must_contain:?}",
        path.display()
    );
}

fn assert_no_temp_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name();
        let name = name.to_string_lossy();
        assert!(!name.starts_with('.'), "leftover temporary file {name}");
    }
}

fn render_ok(name: &str, fig: &Figure) -> PathBuf {
    let dir = out_dir(name);
    let (png, svg) = (dir.join("f.png"), dir.join("f.svg"));
    write_figure(fig, &png, &svg).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_png(&png);
    assert_svg(&svg, "<svg");
    assert_no_temp_files(&dir);
    svg
}

#[test]
fn a_figure_writes_png_and_svg_with_its_marks_and_units() {
    let svg = render_ok("storm", &storm(TimeAxis::Seconds));
    for text in [
        "sustained by retry amplification",
        "trigger (measured)",
        "oncall acts (1 action)",
        "baseline goodput",
        "requests / s",
        "simulated time (s)",
    ] {
        assert_svg(&svg, text);
    }
}

#[test]
fn a_clock_axis_labels_clock_times_and_the_zone() {
    let clock = parse_start_clock("2025-10-19T23:18:00-07:00", Some("PDT")).unwrap();
    let mut fig = storm(TimeAxis::Clock(clock));
    // Stretch the run over two hours so the ticks are round clock times.
    for t in &mut fig.t_s {
        *t *= 24.0;
    }
    for m in &mut fig.markers {
        m.at_s *= 24.0;
    }
    let svg = render_ok("clock", &fig);
    assert_svg(&svg, "clock time (PDT) · 19–20 Oct 2025");
    assert_svg(&svg, "23:30");
    assert_svg(&svg, "20 Oct");
    // The key gives each marker's clock time: 90 s × 24 = 36 min after 23:18.
    assert_svg(&svg, "23:54");
}

#[test]
fn output_is_deterministic() {
    let dir = out_dir("determinism");
    let read = |p: &Path| std::fs::read(p).unwrap();
    let fig = storm(TimeAxis::Seconds);
    let rank = ranking(4);
    let mut first = Vec::new();
    for round in 0..2 {
        let files = [
            dir.join(format!("f{round}.png")),
            dir.join(format!("f{round}.svg")),
            dir.join(format!("r{round}.png")),
            dir.join(format!("r{round}.svg")),
        ];
        write_figure(&fig, &files[0], &files[1]).unwrap();
        write_ranking(&rank, &files[2], &files[3]).unwrap();
        let bytes: Vec<Vec<u8>> = files.iter().map(|f| read(f)).collect();
        if round == 0 {
            first = bytes;
        } else {
            for (a, b) in first.iter().zip(&bytes) {
                assert!(a == b, "two renderings of the same input differ");
            }
        }
    }
}

#[test]
fn degenerate_data_draws_without_panicking() {
    let mut fig = storm(TimeAxis::Seconds);
    fig.t_s.clear();
    render_ok("empty-times", &fig);

    let mut fig = storm(TimeAxis::Seconds);
    fig.panels.clear();
    fig.markers.clear();
    render_ok("no-panels", &fig);

    let mut fig = storm(TimeAxis::Seconds);
    let p = &mut fig.panels[0];
    p.curves[0].values = vec![
        Some(f64::NAN),
        Some(f64::INFINITY),
        Some(1e308),
        Some(-1e308),
        None,
        Some(0.0),
    ];
    let lat = &mut fig.panels[1];
    lat.curves[0].values = vec![Some(0.0), Some(-5.0), Some(1e-300), Some(1e300), None];
    fig.bands.push(Band {
        from_s: f64::NAN,
        to_s: 5.0,
        label: "nan band".into(),
    });
    fig.markers.push(Marker {
        at_s: f64::INFINITY,
        label: "never".into(),
        kind: MarkerKind::Recovery,
    });
    render_ok("non-finite", &fig);

    // Every value zero; a single window; a y_max smaller than the data.
    let mut fig = storm(TimeAxis::Seconds);
    fig.t_s = vec![0.0];
    fig.panels[0].curves[0].values = vec![Some(0.0)];
    fig.panels[0].y_max = Some(100.0);
    fig.panels[0].hlines[0].y = 1e6;
    render_ok("single", &fig);
}

#[test]
fn twelve_small_multiples_share_one_y_range() {
    let base = storm(TimeAxis::Seconds);
    let mut fig = base.clone();
    fig.panels = (0..12)
        .map(|i| {
            let mut p = Panel::new(
                PanelKind::Variant,
                &format!("variant-{i} — metastable"),
                "requests / s",
            );
            let scale = 1.0 + i as f64;
            p.curves.push(Curve::of(
                "goodput",
                BLUE,
                &base
                    .t_s
                    .iter()
                    .map(|t| scale * t.sin().abs())
                    .collect::<Vec<_>>(),
            ));
            p
        })
        .collect();
    fig.columns = 4;
    fig.shared_y = true;
    let (lo, hi) = metastable::report::figure::shared_y_range(&fig).unwrap();
    assert_eq!(lo, 0.0);
    assert!(hi >= 12.0, "{hi}");
    assert_eq!(fig.rows(), 3);
    let svg = render_ok("multiples", &fig);
    for i in 0..12 {
        assert_svg(&svg, &format!("variant-{i} — metastable"));
    }
}

fn ranking(n: usize) -> Ranking {
    let rows = (0..n)
        .map(|i| RankRow {
            name: format!("v{i}"),
            value: (i % 3 != 2).then_some(i as f64 * 1.5),
            iqr: (i % 2 == 0).then_some((i as f64, i as f64 * 2.0)),
            range: (i % 2 == 0).then_some((0.0, i as f64 * 3.0)),
            note: if i % 3 == 2 {
                "metastable".into()
            } else {
                format!("{} of 20 recovered", 20 - i)
            },
        })
        .collect::<Vec<_>>();
    Ranking {
        title: "ranked".into(),
        subtitle: "seeds 1–20".into(),
        measures: vec![
            Ranked {
                title: "Time to recover".into(),
                x_desc: "min after the trigger ended".into(),
                rows: rows.clone(),
            },
            Ranked {
                title: "Success ratio".into(),
                x_desc: "% of first tries".into(),
                rows,
            },
        ],
    }
}

#[test]
fn the_ranking_writes_png_and_svg_even_without_values() {
    let dir = out_dir("ranking");
    let (png, svg) = (dir.join("r.png"), dir.join("r.svg"));
    write_ranking(&ranking(9), &png, &svg).unwrap();
    assert_png(&png);
    assert_svg(&svg, "metastable");
    assert_svg(&svg, "min after the trigger ended");
    let mut none = ranking(3);
    for m in &mut none.measures {
        for r in &mut m.rows {
            (r.value, r.iqr, r.range) = (None, None, None);
        }
    }
    write_ranking(&none, &png, &svg).unwrap();
    write_ranking(
        &Ranking {
            title: "empty".into(),
            subtitle: String::new(),
            measures: Vec::new(),
        },
        &png,
        &svg,
    )
    .unwrap();
}

#[test]
fn missing_directory_is_an_error_not_a_panic() {
    let dir = out_dir("missing").join("no/such/dir");
    let fig = storm(TimeAxis::Seconds);
    assert!(write_figure(&fig, &dir.join("f.png"), &dir.join("f.svg")).is_err());
}
