//! Limits that bound time and memory for valid input: the window byte budget, and reporting
//! cost that grows with components, not their square.

use metastable::{parse, run};

fn scenario(window_ms: &str, limits: &str) -> String {
    format!(
        r#"
[scenario]
name = "limits"
duration_s = 100.0
window_ms = {window_ms}
[limits]
max_windows = 100000000
{limits}
[[sources]]
name = "users"
target = "server"
sink = "done"
rate_per_s = 50.0
[[services]]
name = "server"
servers = 1
service_time = {{ dist = "exponential", mean_ms = 10.0 }}
[[sinks]]
name = "done"
"#
    )
}

/// 1 µs windows over 100 s would be 10⁸ windows: the byte budget stops the run at a window
/// boundary, with every stored window whole and the memory they take within the budget.
#[test]
fn window_byte_budget_stops_the_run_at_a_window_boundary() {
    let budget = 1u64 << 20;
    let text = scenario("0.001", &format!("max_window_bytes = {budget}"));
    let sc = parse(&text, "limits.toml").expect("valid");
    let r = run(&sc, 1);
    assert_eq!(r.stats.stop.as_str(), "window_bytes_limit", "seed 1");
    let n = r.rec.n_windows() as u64;
    let per = r.rec.window_bytes();
    let hists = r.rec.histogram_bytes();
    assert!(hists > 0, "the server's and sink's histograms are charged");
    assert!(
        hists + n * per <= budget,
        "{hists} B of histograms + {n} windows × {per} B > {budget} B"
    );
    assert!(
        hists + (n + 1) * per > budget,
        "stopped early: {hists} B of histograms + {n} windows × {per} B"
    );
    let last_end = r.rec.window_bounds(n as usize - 1).1;
    assert_eq!(
        r.stats.end, last_end,
        "the run ends where the last window does"
    );
    assert_eq!(r.rec.summary_span().as_nanos(), last_end.0);
    // The same scenario with 1 s windows is far inside the budget and runs to its horizon.
    let sc = parse(&scenario("1000.0", ""), "limits.toml").expect("valid");
    assert_eq!(run(&sc, 1).stats.stop.as_str(), "horizon");
}

/// The budget is validated: out of range names the field.
#[test]
fn window_byte_budget_out_of_range_is_an_error() {
    for bad in ["0", "1000", "100000000000000"] {
        let text = scenario("1000.0", &format!("max_window_bytes = {bad}"));
        let err = parse(&text, "limits.toml").expect_err("invalid");
        let msg = err.to_string();
        assert!(msg.contains("limits.max_window_bytes"), "{bad}: {msg}");
    }
}

/// A scenario with 3 000 components: every component's summary and windows are read and add up.
/// (Not a timing test; with the old metric lookup, a scan of every metric, this took minutes.)
#[test]
fn many_components_report_every_component() {
    let mut text = String::from(
        "[scenario]\nname = \"many\"\nduration_s = 3.0\nwindow_ms = 1000.0\n[limits]\nmax_events = 10000000\n",
    );
    let chains = 1000;
    for i in 0..chains {
        text += &format!(
            "[[sources]]\nname = \"u{i}\"\ntarget = \"s{i}\"\nsink = \"d{i}\"\nrate_per_s = 1.0\n"
        );
    }
    for i in 0..chains {
        text += &format!(
            "[[services]]\nname = \"s{i}\"\nservers = 1\nservice_time = {{ dist = \"exponential\", mean_ms = 10.0 }}\n"
        );
    }
    for i in 0..chains {
        text += &format!("[[sinks]]\nname = \"d{i}\"\n");
    }
    let sc = parse(&text, "many.toml").expect("valid");
    let r = run(&sc, 1);
    let ids = r.component_ids();
    assert_eq!(ids.len(), 3 * chains);
    let arrivals: u64 = ids
        .iter()
        .filter(|c| c.name.starts_with('s'))
        .map(|c| {
            r.summary_values(c)
                .arrivals
                .expect("a service counts arrivals")
        })
        .sum();
    let sent: u64 = ids
        .iter()
        .filter(|c| c.name.starts_with('u'))
        .map(|c| {
            r.summary_values(c)
                .first_tries
                .expect("a source counts first tries")
        })
        .sum();
    assert_eq!(
        arrivals, sent,
        "seed 1: every first try arrives at its service"
    );
    assert!(sent > 0);
    let csv = r.windows_csv().expect("csv");
    let rows = csv.iter().filter(|&&b| b == b'\n').count();
    assert_eq!(rows, 1 + 3 * 3 * chains, "header + windows × components");
}

/// Each histogram holds about 119 KB for the whole run (a window's and the total's); they are
/// charged to `limits.max_window_bytes` before any window. Thirty chains' histograms do not
/// fit in 1 MiB: the run stops before its first event with `window_bytes_limit`, having
/// allocated no histogram past the budget, and its tables are still written.
#[test]
fn histograms_past_the_byte_budget_stop_the_run_before_it_starts() {
    let mut text = String::from(
        "[scenario]\nname = \"hists\"\nduration_s = 10.0\nwindow_ms = 1000.0\n[limits]\nmax_window_bytes = 1048576\n",
    );
    let chains = 30;
    for i in 0..chains {
        text += &format!(
            "[[sources]]\nname = \"u{i}\"\ntarget = \"s{i}\"\nsink = \"d{i}\"\nrate_per_s = 10.0\n\
             [[services]]\nname = \"s{i}\"\nservers = 1\nservice_time = {{ dist = \"exponential\", mean_ms = 10.0 }}\n\
             [[sinks]]\nname = \"d{i}\"\n"
        );
    }
    let sc = parse(&text, "hists.toml").expect("valid");
    let r = run(&sc, 1);
    assert_eq!(r.stats.stop.as_str(), "window_bytes_limit", "seed 1");
    assert_eq!(r.stats.events, 0, "seed 1: no event ran");
    assert_eq!(r.rec.n_windows(), 0);
    assert!(
        r.rec.histogram_bytes() <= (1 << 20) + 2 * sim_core::histogram::HISTOGRAM_BYTES,
        "{} B of histograms allocated",
        r.rec.histogram_bytes()
    );
    let summary = String::from_utf8(r.summary_csv().expect("csv")).expect("utf-8");
    assert!(summary.contains("window_bytes_limit"), "{summary}");
    let windows = r.windows_csv().expect("csv");
    assert_eq!(
        windows.iter().filter(|&&b| b == b'\n').count(),
        1,
        "header only"
    );

    // Two chains fit: the same scenario runs to its horizon.
    let few: String = text
        .split("[[sources]]\nname = \"u2\"")
        .next()
        .expect("prefix")
        .into();
    let sc = parse(&few, "hists.toml").expect("valid");
    let r = run(&sc, 1);
    assert_eq!(r.stats.stop.as_str(), "horizon", "seed 1");
    assert!(r.rec.histogram_bytes() + r.rec.n_windows() as u64 * r.rec.window_bytes() <= 1 << 20);
}
