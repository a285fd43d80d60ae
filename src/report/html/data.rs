//! The data a page embeds as JSON: each run's windows per component (downsampled beyond
//! [`MAX_POINTS`]), its verdict, and the tables of sweeps and maps for their charts.
//!
//! Size: a run embeds `components × kept columns × min(windows, MAX_POINTS)` numbers of at
//! most 3 significant digits (times 7), ≈ 4 bytes each; columns that are empty or zero over
//! the whole run are left out, and latency families keep only their p99.

use std::collections::BTreeMap;

use super::escape::Json;
use super::input::{RunFiles, Table};

/// Most windows per run embedded; longer runs merge `stride` consecutive windows.
pub const MAX_POINTS: usize = 400;

/// Fewest points per run when a page must shrink to [`BUDGET_VALUES`].
pub const MIN_POINTS: usize = 100;

/// Numbers a page aims to embed at most (≈ 4–5 bytes each): when all runs at full
/// resolution would exceed it, runs after the first keep only [`HEADLINE`] columns and no
/// recorded state, then every run gets fewer points (not below [`MIN_POINTS`]).
pub const BUDGET_VALUES: usize = 50_000;

/// The columns the charts start on and a comparison needs.
pub const HEADLINE: &[&str] = &[
    "goodput_per_s",
    "throughput_per_s",
    "queue_len_mean",
    "busy_mean",
    "in_flight_mean",
    "timeouts",
    "retries",
    "call_all_ms_p99",
    "sojourn_ms_p99",
    "tasks_down_mean",
    "records_empty_mean",
    "leases_held_mean",
    "targets_healthy_mean",
    "targets_in_service_mean",
    "hit_rate",
    "bad_servers_mean",
];

/// Most rows of a sweep's or map's table embedded for its chart.
pub const MAX_TABLE_ROWS: usize = 5000;

/// Columns of `windows.csv` before the metrics.
const KEY_COLUMNS: &[&str] = &[
    "variant",
    "seed",
    "component",
    "kind",
    "window_start_s",
    "window_end_s",
];

/// Whether a metric column is embedded: latency families keep their p99 only.
fn keep_column(name: &str) -> bool {
    if KEY_COLUMNS.contains(&name) {
        return false;
    }
    if name.contains("_ms_") && name != "wait_ms_mean" {
        return name.ends_with("_p99");
    }
    true
}

/// How a column merges over consecutive windows when downsampling.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Merge {
    Sum,
    Mean,
    Max,
    Last,
}

fn merge_of(name: &str) -> Merge {
    if name.ends_with("_max") || name.ends_with("_p99") {
        Merge::Max
    } else if name.ends_with("_end") {
        Merge::Last
    } else if name.ends_with("_mean")
        || name.ends_with("_per_s")
        || name.ends_with("_fraction")
        || matches!(name, "hit_rate" | "utilisation" | "amplification")
    {
        Merge::Mean
    } else {
        Merge::Sum
    }
}

fn merge(how: Merge, vals: &[Option<f64>]) -> Option<f64> {
    let present: Vec<f64> = vals.iter().flatten().copied().collect();
    if present.is_empty() {
        return None;
    }
    Some(match how {
        Merge::Sum => present.iter().sum(),
        Merge::Mean => present.iter().sum::<f64>() / present.len() as f64,
        Merge::Max => present.iter().copied().fold(f64::NEG_INFINITY, f64::max),
        Merge::Last => *present.last().unwrap_or(&0.0),
    })
}

fn num(s: &str) -> Option<f64> {
    s.trim().parse::<f64>().ok().filter(|v| v.is_finite())
}

/// One component's windows.
struct ComponentSeries {
    name: String,
    kind: String,
    /// (column, values per original window).
    cols: Vec<(String, Vec<Option<f64>>)>,
    /// (field, values per original window: number or text), from state.csv.
    state: Vec<(String, Vec<Option<String>>)>,
}

/// A run's page data and what the page should say about it.
pub struct RunData {
    pub json: String,
    pub windows: usize,
    pub stride: usize,
    pub components: usize,
}

/// A run's series, parsed, before choosing what to embed.
pub struct Parsed<'a> {
    run: &'a RunFiles,
    comps: Vec<ComponentSeries>,
    starts: Vec<Option<f64>>,
    ends: Vec<Option<f64>>,
}

impl Parsed<'_> {
    /// Windows in the run.
    pub fn windows(&self) -> usize {
        self.starts.len()
    }

    /// Series (columns and state fields over all components).
    pub fn series(&self) -> usize {
        self.comps
            .iter()
            .map(|c| c.cols.len() + c.state.len())
            .sum()
    }

    /// Keeps only the [`HEADLINE`] columns and drops the recorded state.
    pub fn headline_only(&mut self) {
        for c in &mut self.comps {
            c.cols.retain(|(name, _)| HEADLINE.contains(&name.as_str()));
            c.state.clear();
        }
    }
}

/// Chooses what each run embeds so that the page stays near [`BUDGET_VALUES`] numbers;
/// returns the points per run and whether runs after the first were cut to headlines.
pub fn fit(runs: &mut [Parsed]) -> (usize, bool) {
    let total = |runs: &[Parsed]| -> usize { runs.iter().map(Parsed::series).sum() };
    let longest = runs.iter().map(Parsed::windows).max().unwrap_or(0);
    let full = longest.min(MAX_POINTS);
    let mut cut = false;
    if runs.len() > 1 && total(runs) * full > BUDGET_VALUES {
        for r in runs.iter_mut().skip(1) {
            r.headline_only();
        }
        cut = true;
    }
    let series = total(runs).max(1);
    let points = (BUDGET_VALUES / series).clamp(MIN_POINTS, MAX_POINTS);
    (points, cut)
}

/// The JSON object of one run at full resolution (at most [`MAX_POINTS`] points).
pub fn run_json(run: &RunFiles) -> RunData {
    parse(run).json(MAX_POINTS)
}

/// Reads a run's windows per component and its recorded state.
pub fn parse(run: &RunFiles) -> Parsed<'_> {
    let w = &run.windows;
    let ci = w.col("component");
    let ki = w.col("kind");
    let (si, ei) = (w.col("window_start_s"), w.col("window_end_s"));
    let cell = |row: &[String], i: Option<usize>| -> String {
        i.and_then(|i| row.get(i)).cloned().unwrap_or_default()
    };
    let metric_cols: Vec<(usize, &String)> = w
        .headers
        .iter()
        .enumerate()
        .filter(|(_, h)| keep_column(h))
        .collect();
    let mut comps: Vec<ComponentSeries> = Vec::new();
    // Component name → index in `comps`: one look-up per row, not a scan of every component.
    let mut index: BTreeMap<String, usize> = BTreeMap::new();
    let mut starts: Vec<Option<f64>> = Vec::new();
    let mut ends: Vec<Option<f64>> = Vec::new();
    for row in &w.rows {
        let name = cell(row, ci);
        let idx = match index.get(&name) {
            Some(&i) => i,
            None => {
                index.insert(name.clone(), comps.len());
                comps.push(ComponentSeries {
                    name: name.clone(),
                    kind: cell(row, ki),
                    cols: metric_cols
                        .iter()
                        .map(|(_, h)| ((*h).clone(), Vec::new()))
                        .collect(),
                    state: Vec::new(),
                });
                comps.len() - 1
            }
        };
        if idx == 0 {
            starts.push(num(&cell(row, si)));
            ends.push(num(&cell(row, ei)));
        }
        for (k, (col, _)) in metric_cols.iter().enumerate() {
            comps[idx].cols[k].1.push(num(&cell(row, Some(*col))));
        }
    }
    let n = starts.len();
    for c in &mut comps {
        c.cols
            .retain(|(_, v)| v.len() == n && v.iter().any(|x| x.is_some_and(|x| x != 0.0)));
    }
    if let Some(state) = &run.state {
        attach_state(&mut comps, state, &ends);
    }
    Parsed {
        run,
        comps,
        starts,
        ends,
    }
}

impl Parsed<'_> {
    /// The JSON object, with at most `max_points` points (consecutive windows merged).
    pub fn json(&self, max_points: usize) -> RunData {
        let (run, comps, starts, ends) = (self.run, &self.comps, &self.starts, &self.ends);
        let n = starts.len();
        let stride = n.div_ceil(max_points.max(1)).max(1);
        let groups: Vec<std::ops::Range<usize>> = (0..n)
            .step_by(stride)
            .map(|a| a..(a + stride).min(n))
            .collect();

        let mut j = Json::new();
        j.raw("{");
        summary_fields(&mut j, &run.summary);
        j.raw(",").key("stride").num(stride as f64, 6);
        j.raw(",").key("windows").num(n as f64, 9);
        j.raw(",").key("t0").raw("[");
        for (i, g) in groups.iter().enumerate() {
            if i > 0 {
                j.raw(",");
            }
            j.opt(starts[g.start], 7);
        }
        j.raw("],").key("t1").raw("[");
        for (i, g) in groups.iter().enumerate() {
            if i > 0 {
                j.raw(",");
            }
            j.opt(ends[g.end - 1], 7);
        }
        j.raw("],").key("components").raw("[");
        for (k, c) in comps.iter().enumerate() {
            if k > 0 {
                j.raw(",");
            }
            j.raw("{").key("name").str(&c.name);
            j.raw(",").key("kind").str(&c.kind);
            j.raw(",").key("cols").raw("{");
            for (m, (col, vals)) in c.cols.iter().enumerate() {
                if m > 0 {
                    j.raw(",");
                }
                let how = merge_of(col);
                j.key(col).raw("[");
                for (i, g) in groups.iter().enumerate() {
                    if i > 0 {
                        j.raw(",");
                    }
                    j.opt(merge(how, &vals[g.clone()]), 3);
                }
                j.raw("]");
            }
            j.raw("},").key("state").raw("{");
            for (m, (field, vals)) in c.state.iter().enumerate() {
                if m > 0 {
                    j.raw(",");
                }
                j.key(field).raw("[");
                for (i, g) in groups.iter().enumerate() {
                    if i > 0 {
                        j.raw(",");
                    }
                    // The state at the end of the merged windows.
                    match vals[g.end - 1].as_deref() {
                        None => j.raw("null"),
                        Some(s) => match num(s) {
                            Some(v) => j.num(v, 4),
                            None => j.str(s),
                        },
                    };
                }
                j.raw("]");
            }
            j.raw("}}");
        }
        j.raw("]}");
        RunData {
            json: j.buf,
            windows: n,
            stride,
            components: comps.len(),
        }
    }
}

/// state.csv (`time_s, component, field, value`; long format) placed at the window whose end
/// is its time.
fn attach_state(comps: &mut [ComponentSeries], state: &Table, ends: &[Option<f64>]) {
    let (ti, ci, fi, vi) = (
        state.col("time_s"),
        state.col("component"),
        state.col("field"),
        state.col("value"),
    );
    let (Some(ti), Some(ci), Some(fi), Some(vi)) = (ti, ci, fi, vi) else {
        return;
    };
    let n = ends.len();
    let index: BTreeMap<String, usize> = comps
        .iter()
        .enumerate()
        .map(|(i, c)| (c.name.clone(), i))
        .collect();
    for row in &state.rows {
        let (Some(t), Some(comp), Some(field), Some(value)) = (
            row.get(ti).and_then(|s| num(s)),
            row.get(ci),
            row.get(fi),
            row.get(vi),
        ) else {
            continue;
        };
        // The window ending at t (ends are increasing).
        let w = ends.partition_point(|e| e.is_some_and(|e| e < t - 1e-9));
        if w >= n {
            continue;
        }
        let Some(&i) = index.get(comp.as_str()) else {
            continue;
        };
        let c = &mut comps[i];
        let k = match c.state.iter().position(|(f, _)| f == field) {
            Some(k) => k,
            None => {
                c.state.push((field.clone(), vec![None; n]));
                c.state.len() - 1
            }
        };
        c.state[k].1[w] = Some(value.clone());
    }
}

/// Run-level fields from summary.csv's first row.
fn summary_fields(j: &mut Json, summary: &Table) {
    let empty = Vec::new();
    let row = summary.rows.first().unwrap_or(&empty);
    let text = |j: &mut Json, key: &str, col: &str| {
        j.key(key).str(summary.get(row, col));
    };
    let num = |j: &mut Json, key: &str, col: &str| {
        j.key(key).opt(num(summary.get(row, col)), 7);
    };
    text(j, "scenario", "scenario");
    j.raw(",");
    let variant = summary.get(row, "variant");
    j.key("variant").str(if variant.is_empty() {
        "baseline"
    } else {
        variant
    });
    for (key, col) in [
        ("seed", "seed"),
        ("verdict", "verdict"),
        ("reason", "verdict_reason"),
        ("loop", "loop"),
        ("evidence", "loop_evidence"),
        ("stop", "stop_reason"),
    ] {
        j.raw(",");
        text(j, key, col);
    }
    for key in [
        "trigger_start_s",
        "trigger_end_s",
        "recovery_s",
        "summary_start_s",
    ] {
        j.raw(",");
        num(j, key, key);
    }
}

/// A table as JSON (`{"headers":[…],"rows":[[…]]}`), numbers as numbers, at most
/// [`MAX_TABLE_ROWS`] rows.
pub fn table_json(t: &Table) -> String {
    let mut j = Json::new();
    j.raw("{").key("headers").raw("[");
    for (i, h) in t.headers.iter().enumerate() {
        if i > 0 {
            j.raw(",");
        }
        j.str(h);
    }
    j.raw("],").key("rows").raw("[");
    for (r, row) in t.rows.iter().take(MAX_TABLE_ROWS).enumerate() {
        if r > 0 {
            j.raw(",");
        }
        j.raw("[");
        for (i, c) in row.iter().enumerate() {
            if i > 0 {
                j.raw(",");
            }
            match num(c) {
                Some(v) if !c.trim().is_empty() => j.num(v, 6),
                _ if c.is_empty() => j.raw("null"),
                _ => j.str(c),
            };
        }
        j.raw("]");
    }
    j.raw("]}");
    j.buf
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn table(csv: &str) -> Table {
        let mut lines = csv.lines();
        let headers = lines
            .next()
            .unwrap()
            .split(',')
            .map(str::to_owned)
            .collect();
        let rows = lines
            .map(|l| l.split(',').map(str::to_owned).collect())
            .collect();
        Table { headers, rows }
    }

    fn files(n: usize) -> RunFiles {
        let mut w = String::from(
            "variant,seed,component,kind,window_start_s,window_end_s,queue_len_mean,queue_len_end,timeouts,sojourn_ms_p50,sojourn_ms_p99,lost\n",
        );
        for i in 0..n {
            w += &format!("baseline,1,db,service,{i},{},{i},{i},1,5,{i},0\n", i + 1);
        }
        RunFiles {
            dir: PathBuf::from("x"),
            windows: table(&w),
            summary: table("scenario,variant,seed,verdict\ns,baseline,1,recovered"),
            state: Some(table(
                "variant,seed,time_s,component,field,value\nbaseline,1,3,db,breaker,open\nbaseline,1,4,db,tokens,2.5",
            )),
        }
    }

    #[test]
    fn short_runs_are_embedded_whole_without_empty_columns() {
        let d = run_json(&files(10));
        assert_eq!((d.windows, d.stride, d.components), (10, 1, 1));
        assert!(d.json.contains("\"queue_len_mean\":[0,1,2,3,4,5,6,7,8,9]"));
        assert!(d.json.contains("\"sojourn_ms_p99\""));
        assert!(!d.json.contains("sojourn_ms_p50"), "only the p99 is kept");
        assert!(!d.json.contains("\"lost\""), "all-zero columns are dropped");
        // The state at the end of window 3 (t = 3 s) is in window index 2.
        assert!(
            d.json
                .contains("\"breaker\":[null,null,\"open\",null,null,null,null,null,null,null]"),
            "{}",
            d.json
        );
        assert!(d.json.contains("\"tokens\":[null,null,null,2.5,"));
    }

    #[test]
    fn long_runs_are_downsampled_by_merging_windows() {
        let d = run_json(&files(1000));
        assert_eq!(d.stride, 3);
        // 334 merged windows: sums for counts, means for means, the last for end values,
        // the max for p99.
        assert!(d.json.contains("\"timeouts\":[3,3,"));
        assert!(d.json.contains("\"queue_len_mean\":[1,4,7,"));
        assert!(d.json.contains("\"queue_len_end\":[2,5,8,"));
        assert!(d.json.contains("\"sojourn_ms_p99\":[2,5,8,"));
        assert!(d.json.contains("\"t1\":[3,6,9,"));
        assert_eq!(d.json.matches("\"t0\":[").count(), 1);
        let t0 = d.json.split("\"t0\":[").nth(1).unwrap();
        assert_eq!(t0.split(']').next().unwrap().split(',').count(), 334);
    }

    #[test]
    fn big_pages_shrink_to_the_budget() {
        // 1000 windows × 4 columns (the queue mean, end, timeouts, p99) + 2 state fields.
        let a = files(1000);
        let b = files(1000);
        let small = [a];
        let mut one: Vec<Parsed> = small.iter().map(parse).collect();
        assert_eq!(
            fit(&mut one),
            (MAX_POINTS, false),
            "one small run: full resolution"
        );
        // 100 runs: the runs after the first keep their headline columns only (queue mean,
        // timeouts, p99) and no state, and the points fall to fit the budget.
        let many: Vec<RunFiles> = (0..100).map(|_| files(1000)).collect();
        let mut parsed: Vec<Parsed> = many.iter().map(parse).collect();
        let series_before: usize = parsed.iter().map(Parsed::series).sum();
        assert_eq!(series_before, 100 * 6);
        let (points, cut) = fit(&mut parsed);
        assert!(cut);
        assert_eq!(parsed[0].series(), 6);
        assert!(parsed[1..].iter().all(|p| p.series() == 3));
        assert_eq!(points, BUDGET_VALUES / (6 + 99 * 3));
        assert!(points < MAX_POINTS);
        let d = parsed[1].json(points);
        assert!(!d.json.contains("queue_len_end") && !d.json.contains("breaker"));
        assert!(d.json.contains("queue_len_mean"));
        drop(b);
    }

    #[test]
    fn tables_keep_text_and_numbers_apart() {
        let t = table("variant,x,y\n</script>,1.5,\nb,abc,2");
        assert_eq!(
            table_json(&t),
            r#"{"headers":["variant","x","y"],"rows":[["\u003c/script\u003e",1.5,null],["b","abc",2]]}"#
        );
    }
}
