//! Plot rendering: valid PNG and SVG files, determinism, and no panics on degenerate input.

use std::path::{Path, PathBuf};

use metastable::report::plot::{
    Overlay, RunSeries, Shade, VariantLine, write_dashboard, write_overlay,
};

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

/// A retry storm: 80 req/s of first tries; a 2× load spike in [60, 120) s tips the service into
/// a state where retries keep it saturated after the spike ends.
fn storm() -> RunSeries {
    let n = 300;
    let t_s: Vec<f64> = (0..n).map(|i| i as f64).collect();
    let mut d = RunSeries {
        title: "hotos-retry · baseline".to_string(),
        subtitle: "seed 1 · verdict metastable · recovery —".to_string(),
        t_s: t_s.clone(),
        window_s: 1.0,
        shades: vec![Shade {
            from_s: 60.0,
            to_s: 120.0,
            label: "load spike ×2".to_string(),
        }],
        baseline_goodput_per_s: Some(80.0),
        latency_of: "web".to_string(),
        ..RunSeries::default()
    };
    for &t in &t_s {
        let wobble = (t * 0.7).sin() * 3.0 + (t * 1.3).cos() * 2.0;
        let first = if (60.0..120.0).contains(&t) {
            160.0
        } else {
            80.0
        } + wobble;
        let bad = t >= 60.0;
        let ramp = ((t - 60.0) / 15.0).clamp(0.0, 1.0);
        let retries = if bad {
            (170.0 * ramp + wobble * 2.0).max(0.0)
        } else {
            0.4 * wobble.abs()
        };
        let goodput = if bad {
            80.0 - 58.0 * ramp + wobble
        } else {
            first - 0.5
        };
        let queue = if bad {
            (500.0 * ramp + wobble * 5.0).max(0.0)
        } else {
            3.0 + wobble.abs() * 0.3
        };
        let p50 = if bad {
            30.0 + 1800.0 * ramp
        } else {
            35.0 + wobble
        };
        d.first_tries_per_s.push(first);
        d.retries_per_s.push(retries);
        d.offered_per_s.push(first + retries);
        d.goodput_per_s.push(goodput);
        d.amplification.push(Some((first + retries) / first));
        d.queue_len.push(queue);
        // Deep in the storm some windows have no successful call at all; every call then
        // lasts its attempts' timeouts (4 × 1 s) until it gives up.
        let none_ok = (200.0..210.0).contains(&t);
        d.call_ok_ms_p50.push((!none_ok).then_some(p50));
        d.call_ok_ms_p99.push((!none_ok).then_some(p50 * 6.0));
        // Some windows have no p99.9 sample.
        d.call_ok_ms_p999
            .push((t as u64 % 37 != 5 && !none_ok).then_some(p50 * 9.0 + 40.0));
        d.call_all_ms_p99
            .push(Some(if bad { 4000.0 } else { p50 * 6.0 }));
    }
    d
}

fn overlay() -> Overlay {
    let base = storm();
    let n = base.t_s.len();
    let variant =
        |name: &str, verdict: &str, recovery_s: Option<f64>, dip: f64, back_at: f64| VariantLine {
            name: name.to_string(),
            verdict: verdict.to_string(),
            recovery_s,
            goodput_per_s: (0..n)
                .map(|i| {
                    let t = i as f64;
                    let wobble = (t * 0.9 + dip).sin() * 2.5;
                    if (60.0..back_at).contains(&t) {
                        80.0 - dip + wobble
                    } else {
                        80.0 + wobble
                    }
                })
                .collect(),
        };
    Overlay {
        title: "hotos-retry · goodput by variant".to_string(),
        subtitle: "seed 1 · trigger: load spike ×2 in [60 s, 120 s)".to_string(),
        t_s: base.t_s.clone(),
        shades: base.shades.clone(),
        variants: vec![
            variant("baseline", "metastable", None, 58.0, 1e9),
            variant("retry-budget", "recovered", Some(14.0), 30.0, 134.0),
            variant("exp-backoff+jitter", "recovered", Some(37.5), 40.0, 157.5),
            variant("no-retries", "recovered", Some(0.0), 20.0, 120.0),
        ],
        baseline_goodput_per_s: Some(80.0),
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

/// No temporary files are left next to the outputs.
fn assert_no_temp_files(dir: &Path) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let name = entry.unwrap().file_name();
        let name = name.to_string_lossy();
        assert!(!name.starts_with('.'), "leftover temporary file {name}");
    }
}

#[test]
fn dashboard_writes_png_and_svg() {
    let dir = out_dir("dashboard");
    let data = storm();
    let (png, svg) = (dir.join("dashboard.png"), dir.join("dashboard.svg"));
    write_dashboard(&data, &png, &svg).unwrap();
    assert_png(&png);
    assert_svg(&svg, "hotos-retry · baseline");
    assert_svg(&svg, "seed 1 · verdict metastable");
    assert_svg(&svg, "load spike ×2");
    assert_no_temp_files(&dir);
}

#[test]
fn overlay_writes_png_and_svg() {
    let dir = out_dir("overlay");
    let data = overlay();
    let (png, svg) = (dir.join("overlay.png"), dir.join("overlay.svg"));
    write_overlay(&data, &png, &svg).unwrap();
    assert_png(&png);
    assert_svg(&svg, "hotos-retry · goodput by variant");
    assert_svg(&svg, "retry-budget — recovered, recovery 14 s");
    assert_svg(&svg, "exp-backoff+jitter — recovered, recovery 37.5 s");
    assert_svg(&svg, "baseline — metastable, recovery —");
    assert_no_temp_files(&dir);
}

#[test]
fn output_is_deterministic() {
    let dir = out_dir("determinism");
    let read = |p: &Path| std::fs::read(p).unwrap();
    let data = storm();
    let ov = overlay();
    let mut first = Vec::new();
    for round in 0..2 {
        let files = [
            dir.join(format!("d{round}.png")),
            dir.join(format!("d{round}.svg")),
            dir.join(format!("o{round}.png")),
            dir.join(format!("o{round}.svg")),
        ];
        write_dashboard(&data, &files[0], &files[1]).unwrap();
        write_overlay(&ov, &files[2], &files[3]).unwrap();
        let bytes: Vec<Vec<u8>> = files.iter().map(|f| read(f)).collect();
        if round == 0 {
            first = bytes;
        } else {
            for (a, b) in first.iter().zip(&bytes) {
                assert!(a == b, "two renderings of the same input differ");
            }
        }
    }
    // Overwriting an existing file works and gives the same bytes.
    let again = dir.join("d0.png");
    write_dashboard(&data, &again, &dir.join("d0.svg")).unwrap();
    assert!(read(&again) == first[0]);
}

/// Renders `data` and checks both files are valid; used for the degenerate cases.
fn render_ok(name: &str, data: &RunSeries) {
    let dir = out_dir(name);
    let (png, svg) = (dir.join("d.png"), dir.join("d.svg"));
    write_dashboard(data, &png, &svg).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_png(&png);
    assert_svg(&svg, &data.title);
}

fn render_overlay_ok(name: &str, data: &Overlay) {
    let dir = out_dir(name);
    let (png, svg) = (dir.join("o.png"), dir.join("o.svg"));
    write_overlay(data, &png, &svg).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_png(&png);
    // Long titles are shortened to fit; the start is always there.
    let start: String = data.title.chars().take(12).collect();
    assert_svg(&svg, &start);
}

#[test]
fn empty_series() {
    let data = RunSeries {
        title: "empty".to_string(),
        ..RunSeries::default()
    };
    render_ok("empty", &data);
    let with_shade = RunSeries {
        title: "empty with shade".to_string(),
        shades: vec![
            Shade {
                from_s: 10.0,
                to_s: 20.0,
                label: "spike".to_string(),
            },
            Shade {
                from_s: 30.0,
                to_s: 30.0,
                label: "restart".to_string(),
            },
        ],
        baseline_goodput_per_s: Some(5.0),
        ..RunSeries::default()
    };
    render_ok("empty-shade", &with_shade);
    render_overlay_ok(
        "overlay-empty",
        &Overlay {
            title: "no variants".to_string(),
            ..Overlay::default()
        },
    );
}

/// The latency panel names which latency it shows, and says so where a window (or the whole
/// run) has no successful call instead of leaving the successful-calls lines blank.
#[test]
fn latency_panel_names_its_latencies_and_windows_without_successes() {
    let dir = out_dir("no-successes");
    let (png, svg) = (dir.join("d.png"), dir.join("d.svg"));
    let data = storm();
    write_dashboard(&data, &png, &svg).expect("storm dashboard");
    let text = std::fs::read_to_string(&svg).expect("svg");
    for want in [
        "Call latency of web, end to end",
        "p99 ok",
        "p99 all",
        "successful calls only",
        "no successful calls in 10 of 300 windows",
    ] {
        assert!(
            text.contains(want),
            "storm dashboard: no {want:?} in {}",
            svg.display()
        );
    }
    // A run without a single successful call: the note replaces the blank panel.
    let mut none = storm();
    for v in [
        &mut none.call_ok_ms_p50,
        &mut none.call_ok_ms_p99,
        &mut none.call_ok_ms_p999,
    ] {
        v.iter_mut().for_each(|x| *x = None);
    }
    write_dashboard(&none, &png, &svg).expect("dashboard without successes");
    let text = std::fs::read_to_string(&svg).expect("svg");
    assert!(
        text.lines().any(|l| l.trim() == "no successful calls"),
        "no \"no successful calls\" note in {}",
        svg.display()
    );
}

#[test]
fn all_zero_series() {
    let n = 50;
    let zeros = vec![0.0; n];
    let data = RunSeries {
        title: "all zero".to_string(),
        t_s: (0..n).map(|i| i as f64).collect(),
        window_s: 1.0,
        offered_per_s: zeros.clone(),
        first_tries_per_s: zeros.clone(),
        retries_per_s: zeros.clone(),
        goodput_per_s: zeros.clone(),
        amplification: vec![None; n],
        queue_len: zeros.clone(),
        call_ok_ms_p50: vec![Some(0.0); n],
        call_ok_ms_p99: vec![None; n],
        call_ok_ms_p999: vec![None; n],
        baseline_goodput_per_s: Some(0.0),
        ..RunSeries::default()
    };
    render_ok("zero", &data);
}

#[test]
fn non_finite_values_are_skipped() {
    let mut data = storm();
    data.title = "non-finite".to_string();
    for i in (0..data.t_s.len()).step_by(7) {
        data.goodput_per_s[i] = f64::NAN;
        data.offered_per_s[i] = f64::INFINITY;
        data.queue_len[i] = f64::NEG_INFINITY;
        data.call_ok_ms_p99[i] = Some(f64::NAN);
        data.amplification[i] = Some(f64::INFINITY);
    }
    data.t_s[3] = f64::NAN;
    data.shades.push(Shade {
        from_s: f64::NAN,
        to_s: 5.0,
        label: "bad".to_string(),
    });
    data.baseline_goodput_per_s = Some(f64::NAN);
    data.window_s = f64::INFINITY;
    render_ok("nonfinite", &data);

    let everything_nan = RunSeries {
        title: "all NaN".to_string(),
        t_s: vec![f64::NAN; 10],
        window_s: f64::NAN,
        goodput_per_s: vec![f64::NAN; 10],
        call_ok_ms_p50: vec![Some(f64::NAN); 10],
        ..RunSeries::default()
    };
    render_ok("allnan", &everything_nan);
}

#[test]
fn single_point() {
    let data = RunSeries {
        title: "one window".to_string(),
        t_s: vec![5.0],
        window_s: 1.0,
        offered_per_s: vec![10.0],
        first_tries_per_s: vec![10.0],
        retries_per_s: vec![0.0],
        goodput_per_s: vec![9.0],
        amplification: vec![Some(1.0)],
        queue_len: vec![0.5],
        call_ok_ms_p50: vec![Some(12.0)],
        call_ok_ms_p99: vec![Some(40.0)],
        call_ok_ms_p999: vec![Some(40.0)],
        baseline_goodput_per_s: Some(9.0),
        ..RunSeries::default()
    };
    render_ok("single", &data);
    let ov = Overlay {
        title: "one window overlay".to_string(),
        t_s: vec![5.0],
        variants: vec![VariantLine {
            name: "a".to_string(),
            goodput_per_s: vec![3.0],
            recovery_s: Some(f64::NAN),
            verdict: String::new(),
        }],
        ..Overlay::default()
    };
    render_overlay_ok("overlay-single", &ov);
}

#[test]
fn mismatched_lengths_use_the_shorter() {
    let mut data = storm();
    data.title = "mismatched".to_string();
    data.goodput_per_s.truncate(100);
    data.call_ok_ms_p99.truncate(3);
    data.amplification.clear();
    data.queue_len.extend([1.0; 50]);
    render_ok("mismatched", &data);
    let mut ov = overlay();
    ov.title = "mismatched overlay".to_string();
    ov.variants[0].goodput_per_s.truncate(10);
    ov.variants[1].goodput_per_s.extend([1.0; 500]);
    ov.t_s.truncate(200);
    render_overlay_ok("overlay-mismatched", &ov);
}

#[test]
fn huge_values() {
    let mut data = storm();
    data.title = "huge".to_string();
    data.offered_per_s[10] = f64::MAX;
    data.retries_per_s[20] = -f64::MAX;
    data.queue_len[30] = 1e300;
    data.call_ok_ms_p50[40] = Some(f64::MAX);
    data.call_ok_ms_p99[41] = Some(f64::MIN_POSITIVE);
    data.amplification[42] = Some(1e200);
    data.goodput_per_s[50] = f64::MAX;
    data.goodput_per_s[51] = -f64::MAX;
    data.call_ok_ms_p999[60] = Some(f64::MIN_POSITIVE);
    data.call_ok_ms_p999[61] = Some(f64::MAX);
    data.baseline_goodput_per_s = Some(-1e308);
    render_ok("huge", &data);

    let huge_time = RunSeries {
        title: "huge time".to_string(),
        t_s: vec![1e300, 1e300, 1e300],
        window_s: 1.0,
        goodput_per_s: vec![1.0, 2.0, 3.0],
        ..RunSeries::default()
    };
    render_ok("huge-time", &huge_time);

    let extreme_time = RunSeries {
        title: "extreme time".to_string(),
        t_s: vec![-f64::MAX, 0.0, f64::MAX],
        window_s: f64::MAX,
        goodput_per_s: vec![1.0, f64::MAX, 3.0],
        call_ok_ms_p50: vec![Some(1e-300), Some(1.0), Some(1e300)],
        shades: vec![Shade {
            from_s: -f64::MAX,
            to_s: f64::MAX,
            label: "everything".to_string(),
        }],
        ..RunSeries::default()
    };
    render_ok("extreme-time", &extreme_time);

    let mut ov = overlay();
    ov.title = "huge overlay".to_string();
    ov.variants[2].goodput_per_s[5] = 1e250;
    ov.variants[3].recovery_s = Some(1e300);
    render_overlay_ok("overlay-huge", &ov);
}

#[test]
fn many_variants_and_long_names() {
    let mut ov = overlay();
    ov.title = "many variants ".repeat(20);
    let template = ov.variants[1].clone();
    for i in 0..14 {
        let mut v = template.clone();
        v.name = format!("variant-{i}-{}", "x".repeat(i * 10));
        v.goodput_per_s
            .iter_mut()
            .for_each(|g| *g += i as f64 * 3.0);
        ov.variants.push(v);
    }
    render_overlay_ok("overlay-many", &ov);
}

#[test]
fn missing_directory_is_an_error_not_a_panic() {
    let dir = out_dir("missing").join("does-not-exist");
    let err = write_dashboard(&storm(), &dir.join("d.png"), &dir.join("d.svg")).unwrap_err();
    assert!(err.to_string().contains("d.png"), "{err}");
}
