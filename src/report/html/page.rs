//! The page: static HTML for what reads without a script (title, verdicts, tables, notes),
//! the data as JSON, and the inline stylesheet and script ([`STYLE`], [`SCRIPT`]) that draw
//! the charts and the step-through from it. Every string from a file goes through
//! [`escape::html`] or into the JSON.

use std::fmt::Write;

use super::data::{self, MAX_TABLE_ROWS};
use super::escape::{self, Json, html};
use super::input::{Contents, MAX_RUNS, OutputDir, Table};

/// The stylesheet, inlined.
pub const STYLE: &str = include_str!("report.css");
/// The script, inlined (hand-written, no library).
pub const SCRIPT: &str = include_str!("report.js");

/// Most table rows rendered as HTML (the rest are counted).
const MAX_HTML_ROWS: usize = 400;

/// Builds the whole page.
pub fn render(out: &OutputDir) -> String {
    let mut body = String::new();
    let mut notes: Vec<String> = Vec::new();
    let mut j = Json::new();
    j.raw("{");
    let (kind, scenario) = match &out.contents {
        Contents::Run { run } => ("run", first(&run.summary, "scenario")),
        Contents::Variants { runs, .. } => (
            "variants",
            runs.first()
                .map(|r| first(&r.summary, "scenario"))
                .unwrap_or_default(),
        ),
        Contents::Replications { replications } => {
            ("replications", first(replications, "scenario"))
        }
        Contents::Sweep { .. } => ("sweep", String::new()),
        Contents::Map { .. } => ("map", String::new()),
    };
    let dir_name = out
        .dir
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| out.dir.display().to_string());
    let title = if scenario.is_empty() {
        dir_name.clone()
    } else {
        scenario.clone()
    };
    j.key("kind").str(kind).raw(",").key("title").str(&title);

    let what = match kind {
        "run" => "one run",
        "variants" => "a run with design variants (same seed)",
        "replications" => "replications over seeds",
        "sweep" => "a parameter sweep",
        _ => "a metastability map",
    };
    let _ = write!(
        body,
        "<header><h1>{}</h1><p class=\"sub\">{} · from <code>{}</code></p></header>",
        html(&title),
        what,
        html(&out.dir.display().to_string())
    );

    match &out.contents {
        Contents::Run { run } => {
            runs_section(&mut body, &mut j, &mut notes, std::slice::from_ref(run));
            incident(&mut body, out);
            summary_table(&mut body, &run.summary);
        }
        Contents::Variants {
            comparison,
            runs,
            omitted,
        } => {
            runs_section(&mut body, &mut j, &mut notes, runs);
            incident(&mut body, out);
            body.push_str("<section><h2>Variants</h2>");
            body.push_str(&table_html(comparison, None));
            body.push_str("</section>");
            if *omitted > 0 {
                notes.push(format!(
                    "{omitted} more variants are in comparison.csv; the charts show the first {MAX_RUNS}."
                ));
            }
            if let Some(r) = runs.first() {
                summary_table(&mut body, &r.summary);
            }
        }
        Contents::Replications { replications } => {
            incident(&mut body, out);
            study(&mut body, &mut j, "Replications", replications, &mut notes);
        }
        Contents::Sweep { points, runs } => {
            study(&mut body, &mut j, "Points", points, &mut notes);
            if let Some(r) = runs {
                let _ = write!(
                    body,
                    "<p class=\"note\">runs.csv: {} runs (not shown; one row per run).</p>",
                    r.rows.len()
                );
            }
        }
        Contents::Map {
            map,
            boundary,
            points: _,
        } => {
            study(&mut body, &mut j, "Map cells", map, &mut notes);
            if let Some(b) = boundary {
                body.push_str("<section><h2>Boundary</h2>");
                body.push_str(&table_html(b, None));
                body.push_str("</section>");
            }
        }
    }
    j.raw("}");

    let mut page = String::with_capacity(j.buf.len() + SCRIPT.len() + STYLE.len() + body.len());
    page.push_str("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">");
    page.push_str("<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">");
    // No network: nothing but inline styles, scripts and data.
    page.push_str(
        "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">",
    );
    let _ = write!(
        page,
        "<title>{} · metastable report</title><style>{STYLE}</style>",
        html(&title)
    );
    // Errors are collected from the first moment, for the self-test.
    page.push_str(
        "<script>window.__errors=[];window.addEventListener('error',function(e){window.__errors.push(String(e.message))});</script>",
    );
    page.push_str("</head><body>");
    page.push_str(&body);
    page.push_str("<footer><p>");
    for n in &notes {
        let _ = write!(page, "{} ", html(n));
    }
    page.push_str("This page is self-contained (no network): <span id=\"size\">__SIZE__</span>. Written by <code>metastable report</code>.</p></footer>");
    page.push_str("<pre id=\"selftest-result\" hidden></pre>");
    let _ = write!(
        page,
        "<script id=\"data\" type=\"application/json\">{}</script>",
        j.buf
    );
    let _ = writeln!(page, "<script>{SCRIPT}</script></body></html>");
    let kb = format!("{:.0} KB", page.len() as f64 / 1024.0);
    page.replacen("__SIZE__", &kb, 1)
}

fn first(t: &Table, col: &str) -> String {
    t.rows
        .first()
        .map(|r| t.get(r, col).to_owned())
        .unwrap_or_default()
}

/// Verdicts, the step-through and the charts of one or more runs.
fn runs_section(
    body: &mut String,
    j: &mut Json,
    notes: &mut Vec<String>,
    runs: &[super::input::RunFiles],
) {
    body.push_str("<section id=\"verdicts\">");
    for (k, r) in runs.iter().enumerate() {
        // Many variants: the first two verdicts open, the rest folded.
        if k == 2 && runs.len() > 4 {
            let _ = write!(
                body,
                "</section><details class=\"more\"><summary>Verdicts of the other {} variants</summary><section class=\"verdicts\">",
                runs.len() - 2
            );
        }
        let row = r.summary.rows.first();
        let get = |c: &str| row.map_or("", |row| r.summary.get(row, c));
        let variant = if get("variant").is_empty() {
            "baseline"
        } else {
            get("variant")
        };
        let verdict = get("verdict");
        let _ = write!(
            body,
            "<div class=\"verdict\" data-variant=\"{}\"><span class=\"badge v-{}\">{}</span> <b>{}</b> · seed {}",
            html(variant),
            html(verdict),
            html(if verdict.is_empty() {
                "no verdict"
            } else {
                verdict
            }),
            html(variant),
            html(get("seed")),
        );
        let ts = get("trigger_start_s");
        if !ts.is_empty() {
            let _ = write!(
                body,
                " · trigger {} s – {} s",
                html(ts),
                html(match get("trigger_end_s") {
                    "" => "end",
                    e => e,
                })
            );
        }
        if !get("recovery_s").is_empty() {
            let _ = write!(body, " · recovery {} s", html(get("recovery_s")));
        }
        if !get("verdict_reason").is_empty() {
            let _ = write!(
                body,
                "<p><b>Why this verdict:</b> {}</p>",
                html(get("verdict_reason"))
            );
        }
        if !get("loop").is_empty() {
            // The evidence usually starts with the loop's name.
            let evidence = get("loop_evidence");
            let text = if evidence.starts_with(get("loop")) {
                evidence.to_owned()
            } else {
                format!("{} — {evidence}", get("loop"))
            };
            let _ = write!(body, "<p><b>Sustaining loop:</b> {}</p>", html(&text));
        }
        body.push_str("</div>");
    }
    body.push_str("</section>");
    if runs.len() > 4 {
        body.push_str("</details>");
    }
    body.push_str(
        "<section id=\"step\"><h2>Step through</h2><p class=\"note\">Drag the slider, press play, or use ← → and space. Click a chart to move the cursor there.</p></section>",
    );
    body.push_str(
        "<section id=\"charts\"><h2>Charts</h2><p class=\"note\">Hover for values; tick variants on or off; drag across a chart to zoom a time range (double-click to reset).</p></section>",
    );
    let mut parsed: Vec<data::Parsed> = runs.iter().map(data::parse).collect();
    let (points, cut) = data::fit(&mut parsed);
    if cut {
        notes.push(format!(
            "To keep the page small, runs after the first carry only the headline columns ({}) and no recorded state.",
            data::HEADLINE.join(", ")
        ));
    }
    j.raw(",").key("runs").raw("[");
    for (i, (r, p)) in runs.iter().zip(&parsed).enumerate() {
        if i > 0 {
            j.raw(",");
        }
        let d = p.json(points);
        if d.stride > 1
            && !notes
                .iter()
                .any(|n| n.contains("consecutive windows merged"))
        {
            notes.push(format!(
                "{} windows shown as {} (every {} consecutive windows merged: counts summed, means averaged, maxima and p99 the largest, end values and states the last) to keep the page small ({points} points per run at most; the CSV files hold every window).",
                d.windows,
                d.windows.div_ceil(d.stride),
                d.stride
            ));
        }
        if r.state.is_none() && i == 0 {
            notes.push("No state.csv: breaker state, budget tokens and resolver caches are shown when the run was made with `run --record-state`.".into());
        }
        j.raw(&d.json);
    }
    j.raw("]");
}

fn incident(body: &mut String, out: &OutputDir) {
    if let Some(t) = &out.incident {
        body.push_str("<section><h2>Incident: measured next to published</h2>");
        body.push_str(&table_html(t, None));
        body.push_str("</section>");
    }
}

/// The per-component summary of one run.
fn summary_table(body: &mut String, summary: &Table) {
    const COLS: &[&str] = &[
        "component",
        "kind",
        "first_tries",
        "retries",
        "goodput_per_s",
        "timeouts",
        "rejected",
        "utilisation",
        "queue_len_mean",
        "call_ok_ms_p99",
        "call_all_ms_p99",
        "sojourn_ms_p99",
        "hit_rate",
        "tasks_down_mean",
    ];
    let variant = first(summary, "variant");
    let _ = write!(
        body,
        "<section><h2>Summary per component ({})</h2>",
        html(if variant.is_empty() {
            "baseline"
        } else {
            &variant
        })
    );
    body.push_str(&table_html(summary, Some(COLS)));
    body.push_str("<p class=\"note\">Over the summary period (warm-up excluded); every column is in summary.csv.</p></section>");
}

/// A sweep's, map's or replications' table with its chart.
fn study(body: &mut String, j: &mut Json, title: &str, t: &Table, notes: &mut Vec<String>) {
    body.push_str(
        "<section id=\"study\"><h2>Chart</h2><p class=\"note\">Choose the axes; hover a point for its row.</p></section>",
    );
    let _ = write!(body, "<section><h2>{}</h2>", html(title));
    body.push_str(&table_html(t, None));
    body.push_str("</section>");
    if t.rows.len() > MAX_TABLE_ROWS {
        notes.push(format!(
            "The chart shows the first {MAX_TABLE_ROWS} of {} rows.",
            t.rows.len()
        ));
    }
    j.raw(",").key("table").raw(&data::table_json(t));
}

/// A table as HTML, numbers right-aligned with at most 4 significant digits.
pub fn table_html(t: &Table, only: Option<&[&str]>) -> String {
    let cols: Vec<usize> = match only {
        Some(names) => names.iter().filter_map(|n| t.col(n)).collect(),
        None => (0..t.headers.len()).collect(),
    };
    let mut s = String::from("<div class=\"scroll\"><table><thead><tr>");
    for &c in &cols {
        let _ = write!(s, "<th>{}</th>", html(&t.headers[c].replace('_', " ")));
    }
    s.push_str("</tr></thead><tbody>");
    for row in t.rows.iter().take(MAX_HTML_ROWS) {
        s.push_str("<tr>");
        for &c in &cols {
            let cell = row.get(c).map_or("", |s| s.as_str());
            match cell.trim().parse::<f64>() {
                Ok(v) if v.is_finite() => {
                    let _ = write!(s, "<td class=\"n\">{}</td>", escape::number(v, 4));
                }
                _ => {
                    let _ = write!(s, "<td>{}</td>", html(cell));
                }
            }
        }
        s.push_str("</tr>");
    }
    s.push_str("</tbody></table></div>");
    if t.rows.len() > MAX_HTML_ROWS {
        let _ = write!(
            s,
            "<p class=\"note\">First {MAX_HTML_ROWS} of {} rows shown.</p>",
            t.rows.len()
        );
    }
    s
}
