//! Results: the per-window CSV, the per-run summary CSV, and the human summary.
//!
//! Both CSVs share one fixed set of metric columns (documented in the README); a cell is empty
//! where a metric does not apply to a component's kind. Numbers are written with Rust's
//! shortest round-trip formatting, so the bytes are a pure function of (scenario, seed).

use std::fmt::Write as _;

use sim_core::{CounterId, GaugeId, HistId, HistStat, MetricRef, Recorder};

use crate::run::RunReport;
use crate::scenario::Kind;

/// Metric columns, in order, shared by `windows.csv` and `summary.csv`.
pub const METRIC_COLUMNS: &[&str] = &[
    "first_tries",
    "arrivals",
    "completions",
    "rejected",
    "throughput_per_s",
    "queue_len_mean",
    "queue_len_max",
    "busy_mean",
    "utilisation",
    "latency_ms_mean",
    "latency_ms_p50",
    "latency_ms_p90",
    "latency_ms_p99",
    "latency_ms_p999",
    "latency_ms_max",
    "wait_ms_mean",
];

/// The metric ids of one component (those it has).
#[derive(Clone, Debug)]
pub struct ComponentIds {
    pub name: String,
    pub kind: Kind,
    pub servers: Option<u32>,
    pub first_tries: Option<CounterId>,
    pub arrivals: Option<CounterId>,
    pub completions: Option<CounterId>,
    pub rejected: Option<CounterId>,
    pub queue_len: Option<GaugeId>,
    pub busy: Option<GaugeId>,
    pub latency: Option<HistId>,
    pub wait: Option<HistId>,
}

fn counter(rec: &Recorder, owner: &str, name: &str) -> Option<CounterId> {
    match rec.find(owner, name) {
        Some(MetricRef::Counter(c)) => Some(c),
        _ => None,
    }
}
fn gauge(rec: &Recorder, owner: &str, name: &str) -> Option<GaugeId> {
    match rec.find(owner, name) {
        Some(MetricRef::Gauge(g)) => Some(g),
        _ => None,
    }
}
fn hist(rec: &Recorder, owner: &str, name: &str) -> Option<HistId> {
    match rec.find(owner, name) {
        Some(MetricRef::Hist(h)) => Some(h),
        _ => None,
    }
}

/// A component's metric values over one window or over the summary period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Values {
    pub first_tries: Option<u64>,
    pub arrivals: Option<u64>,
    pub completions: Option<u64>,
    pub rejected: Option<u64>,
    pub throughput_per_s: Option<f64>,
    pub queue_len_mean: Option<f64>,
    pub queue_len_max: Option<f64>,
    pub busy_mean: Option<f64>,
    pub utilisation: Option<f64>,
    pub latency: Option<HistStat>,
    pub wait_ms_mean: Option<f64>,
}

impl Values {
    fn cells(&self) -> Vec<String> {
        let int = |x: Option<u64>| x.map_or(String::new(), |v| v.to_string());
        let flt = |x: Option<f64>| x.map_or(String::new(), |v| v.to_string());
        let ms = |x: Option<u64>| x.map_or(String::new(), |v| (v as f64 / 1e6).to_string());
        let lat = self.latency.unwrap_or_default();
        vec![
            int(self.first_tries),
            int(self.arrivals),
            int(self.completions),
            int(self.rejected),
            flt(self.throughput_per_s),
            flt(self.queue_len_mean),
            flt(self.queue_len_max),
            flt(self.busy_mean),
            flt(self.utilisation),
            flt(lat.mean.map(|m| m / 1e6)),
            ms(lat.p50),
            ms(lat.p90),
            ms(lat.p99),
            ms(lat.p999),
            ms(lat.max),
            flt(self.wait_ms_mean),
        ]
    }
}

impl RunReport {
    /// Metric ids of every component, in report order.
    pub fn component_ids(&self) -> Vec<ComponentIds> {
        let rec = &self.rec;
        self.scenario
            .components
            .iter()
            .map(|(name, kind)| ComponentIds {
                name: name.clone(),
                kind: *kind,
                servers: self
                    .scenario
                    .world
                    .services
                    .iter()
                    .find(|s| &s.name == name)
                    .map(|s| s.servers),
                first_tries: counter(rec, name, "first_tries"),
                arrivals: counter(rec, name, "arrivals"),
                completions: counter(rec, name, "completions"),
                rejected: counter(rec, name, "rejected"),
                queue_len: gauge(rec, name, "queue_len"),
                busy: gauge(rec, name, "busy"),
                latency: hist(rec, name, "latency"),
                wait: hist(rec, name, "wait"),
            })
            .collect()
    }

    /// Values of component `c` in window `w`.
    pub fn window_values(&self, c: &ComponentIds, w: usize) -> Values {
        let rec = &self.rec;
        let (start, end) = rec.window_bounds(w);
        let span_s = end.since(start).as_secs_f64();
        let completions = c.completions.map(|id| rec.counter_in(w, id));
        let busy = c.busy.map(|g| rec.gauge_in(w, g));
        let queue = c.queue_len.map(|g| rec.gauge_in(w, g));
        Values {
            first_tries: c.first_tries.map(|id| rec.counter_in(w, id)),
            arrivals: c.arrivals.map(|id| rec.counter_in(w, id)),
            completions,
            rejected: c.rejected.map(|id| rec.counter_in(w, id)),
            throughput_per_s: completions.map(|n| n as f64 / span_s),
            queue_len_mean: queue.map(|g| g.mean),
            queue_len_max: queue.map(|g| g.max),
            busy_mean: busy.map(|g| g.mean),
            utilisation: busy.zip(c.servers).map(|(g, s)| g.mean / s as f64),
            latency: c.latency.map(|h| rec.hist_in(w, h)),
            wait_ms_mean: c.wait.and_then(|h| rec.hist_in(w, h).mean).map(|m| m / 1e6),
        }
    }

    /// Values of component `c` over the summary period (warm-up excluded).
    pub fn summary_values(&self, c: &ComponentIds) -> Values {
        let rec = &self.rec;
        let span_s = rec.summary_span().as_secs_f64();
        let completions = c.completions.map(|id| rec.counter_total(id));
        let busy = c.busy.map(|g| rec.gauge_total(g));
        let queue = c.queue_len.map(|g| rec.gauge_total(g));
        Values {
            first_tries: c.first_tries.map(|id| rec.counter_total(id)),
            arrivals: c.arrivals.map(|id| rec.counter_total(id)),
            completions,
            rejected: c.rejected.map(|id| rec.counter_total(id)),
            throughput_per_s: completions
                .filter(|_| span_s > 0.0)
                .map(|n| n as f64 / span_s),
            queue_len_mean: queue.map(|g| g.mean),
            queue_len_max: queue.map(|g| g.max),
            busy_mean: busy.map(|g| g.mean),
            utilisation: busy.zip(c.servers).map(|(g, s)| g.mean / s as f64),
            latency: c.latency.map(|h| HistStat::of(rec.hist_total(h))),
            wait_ms_mean: c
                .wait
                .and_then(|h| rec.hist_total(h).mean())
                .map(|m| m / 1e6),
        }
    }

    /// Summary values of the component named `name`.
    pub fn summary_of(&self, name: &str) -> Option<Values> {
        self.component_ids()
            .into_iter()
            .find(|c| c.name == name)
            .map(|c| self.summary_values(&c))
    }

    /// `windows.csv`: one row per window and component.
    pub fn windows_csv(&self) -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header = vec![
            "seed",
            "component",
            "kind",
            "window_start_s",
            "window_end_s",
        ];
        header.extend_from_slice(METRIC_COLUMNS);
        w.write_record(&header)?;
        let ids = self.component_ids();
        let seed = self.seed.to_string();
        for win in 0..self.rec.n_windows() {
            let (start, end) = self.rec.window_bounds(win);
            let (start, end) = (
                start.as_secs_f64().to_string(),
                end.as_secs_f64().to_string(),
            );
            for c in &ids {
                let mut row = vec![
                    seed.clone(),
                    c.name.clone(),
                    c.kind.as_str().to_string(),
                    start.clone(),
                    end.clone(),
                ];
                row.extend(self.window_values(c, win).cells());
                w.write_record(&row)?;
            }
        }
        w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
    }

    /// `summary.csv`: one row per component over the summary period, with the run's facts.
    pub fn summary_csv(&self) -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header = vec![
            "scenario",
            "seed",
            "component",
            "kind",
            "stop_reason",
            "events",
            "sim_end_s",
            "summary_start_s",
            "summary_end_s",
        ];
        header.extend_from_slice(METRIC_COLUMNS);
        w.write_record(&header)?;
        let from = self
            .rec
            .summary_from()
            .as_secs_f64()
            .min(self.stats.end.as_secs_f64());
        for c in self.component_ids() {
            let mut row = vec![
                self.scenario.name.clone(),
                self.seed.to_string(),
                c.name.clone(),
                c.kind.as_str().to_string(),
                self.stats.stop.as_str().to_string(),
                self.stats.events.to_string(),
                self.stats.end.as_secs_f64().to_string(),
                from.to_string(),
                self.stats.end.as_secs_f64().to_string(),
            ];
            row.extend(self.summary_values(&c).cells());
            w.write_record(&row)?;
        }
        w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
    }

    /// The short human summary printed by `metastable run`.
    pub fn human_summary(&self) -> String {
        let mut s = String::new();
        let st = &self.stats;
        let _ = writeln!(
            s,
            "scenario {} · seed {} · stopped: {} at t = {:.3} s after {} events",
            self.scenario.name,
            self.seed,
            st.stop.as_str(),
            st.end.as_secs_f64(),
            st.events
        );
        if !st.stop.is_complete() {
            let _ = writeln!(
                s,
                "warning: the run hit a limit ({}); results cover [0, {:.3} s] only",
                st.stop.as_str(),
                st.end.as_secs_f64()
            );
        }
        if self.rec.windows_dropped() > 0 {
            let _ = writeln!(
                s,
                "warning: {} windows beyond limits.max_windows were not stored",
                self.rec.windows_dropped()
            );
        }
        let _ = writeln!(
            s,
            "summary over [{:.1} s, {:.1} s] (warm-up excluded):",
            self.rec
                .summary_from()
                .as_secs_f64()
                .min(st.end.as_secs_f64()),
            st.end.as_secs_f64()
        );
        let _ = writeln!(
            s,
            "  {:<16} {:<8} {:>10} {:>10} {:>9} {:>6} {:>9} {:>9} {:>9} {:>9}",
            "component",
            "kind",
            "sent/recv",
            "done/s",
            "rejected",
            "util",
            "queue",
            "lat p50",
            "lat p99",
            "lat mean"
        );
        let f = |x: Option<f64>, prec: usize| x.map_or("-".to_string(), |v| format!("{v:.prec$}"));
        for c in self.component_ids() {
            let v = self.summary_values(&c);
            let lat = v.latency.unwrap_or_default();
            let ms = |x: Option<u64>| x.map(|n| n as f64 / 1e6);
            let _ = writeln!(
                s,
                "  {:<16} {:<8} {:>10} {:>10} {:>9} {:>6} {:>9} {:>9} {:>9} {:>9}",
                c.name,
                c.kind.as_str(),
                v.first_tries
                    .or(v.arrivals)
                    .or(v.completions)
                    .map_or("-".into(), |n| n.to_string()),
                f(v.throughput_per_s, 2),
                v.rejected.map_or("-".into(), |n| n.to_string()),
                f(v.utilisation, 3),
                f(v.queue_len_mean, 2),
                f(ms(lat.p50), 2),
                f(ms(lat.p99), 2),
                f(lat.mean.map(|m| m / 1e6), 2),
            );
        }
        s
    }
}
