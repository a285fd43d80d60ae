//! The tables of one run: `windows.csv` (one row per window and component), `summary.csv`
//! (one row per component over the summary period) and the human summary printed by `run`.
//!
//! Both CSVs share one fixed set of metric columns ([`crate::run::metrics::METRIC_COLUMNS`],
//! documented in the README); a cell is empty where a metric does not apply to a component's
//! kind. Numbers are written with Rust's shortest round-trip formatting, so the bytes are a
//! pure function of (scenario, seed).

use std::fmt::Write as _;
use std::io::Write as _;

use crate::run::RunReport;
use crate::run::metrics::*;

/// A successful-calls latency cell: the quantile `q` in ms; `none` when the component ended
/// calls but none successfully (so an empty cell is never mistaken for a fast one); else `-`.
fn ok_cell(all: Option<sim_core::HistStat>, q: Option<u64>) -> String {
    match (q, all) {
        (Some(ns), _) => format!("{:.2}", ns as f64 / 1e6),
        (None, Some(a)) if a.count > 0 => "none".to_string(),
        (None, _) => "-".to_string(),
    }
}

impl RunReport {
    /// `windows.csv`: one row per window and component.
    pub fn windows_csv(&self) -> Result<Vec<u8>, csv::Error> {
        self.write_windows_csv(Vec::new())
    }

    /// [`RunReport::windows_csv`] written to `out` row by row (for runs whose windows do not
    /// fit in memory: see `sim_core::spill`); returns `out`.
    pub fn write_windows_csv<W: std::io::Write>(&self, out: W) -> Result<W, csv::Error> {
        let mut w = csv::Writer::from_writer(out);
        let mut header = vec![
            "variant",
            "seed",
            "component",
            "kind",
            "window_start_s",
            "window_end_s",
        ];
        header.extend_from_slice(METRIC_COLUMNS);
        w.write_record(&header)?;
        let mut out = w
            .into_inner()
            .map_err(|e| csv::Error::from(e.into_error()))?;
        // Each row is built in one reused buffer and written whole: the component's fields
        // encoded by the CSV writer once (a name may need quoting), the window bounds once per
        // window, the numbers (which never need quoting) appended as they are.
        let ids = self.component_ids();
        let prefixes = ids
            .iter()
            .map(|c| {
                let mut p = csv::Writer::from_writer(Vec::new());
                p.write_record([
                    self.scenario.variant_name(),
                    &self.seed.to_string(),
                    &c.name,
                    c.kind.as_str(),
                ])?;
                let mut p = p
                    .into_inner()
                    .map_err(|e| csv::Error::from(e.into_error()))?;
                p.pop(); // the record terminator
                Ok(p)
            })
            .collect::<Result<Vec<Vec<u8>>, csv::Error>>()?;
        let mut bounds = Vec::new();
        let mut row = Vec::new();
        for win in 0..self.rec.n_windows() {
            let (start, end) = self.rec.window_bounds(win);
            bounds.clear();
            let _ = write!(bounds, ",{},{}", start.as_secs_f64(), end.as_secs_f64());
            for (c, prefix) in ids.iter().zip(&prefixes) {
                row.clear();
                row.extend_from_slice(prefix);
                row.extend_from_slice(&bounds);
                self.window_values(c, win).write_cells(&mut row);
                row.push(b'\n');
                out.write_all(&row)?;
            }
        }
        Ok(out)
    }

    /// `summary.csv`: one row per component over the summary period, with the run's facts.
    pub fn summary_csv(&self) -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        let mut header = vec![
            "scenario",
            "variant",
            "seed",
            "component",
            "kind",
            "stop_reason",
            "events",
            "sim_end_s",
            "summary_start_s",
            "summary_end_s",
            "verdict",
            "trigger_start_s",
            "trigger_end_s",
            "recovery_s",
            "projected_recovery_s",
            "projected_recovery_lo_s",
            "projected_recovery_hi_s",
            "verdict_reason",
            "loop",
            "loop_evidence",
            "baseline_goodput_per_s",
            "peak_amplification",
            "peak_load_amplification",
            "wasted_fraction",
        ];
        header.extend_from_slice(METRIC_COLUMNS);
        w.write_record(&header)?;
        let from = self
            .rec
            .summary_from()
            .as_secs_f64()
            .min(self.stats.end.as_secs_f64());
        let a = self.analysis();
        let loops = self.loops(&a);
        let opt = |x: Option<f64>| x.map_or(String::new(), |v| v.to_string());
        let proj = a.projected_recovery_s;
        for c in self.component_ids() {
            let mut row = vec![
                self.scenario.name.clone(),
                self.scenario.variant_name().to_string(),
                self.seed.to_string(),
                c.name.clone(),
                c.kind.as_str().to_string(),
                self.stats.stop.as_str().to_string(),
                self.stats.events.to_string(),
                self.stats.end.as_secs_f64().to_string(),
                from.to_string(),
                self.stats.end.as_secs_f64().to_string(),
                a.verdict.as_str().to_string(),
                opt(a.trigger_start_s),
                opt(a.trigger_end_s),
                opt(a.recovery_s),
                opt(proj.map(|p| p.0)),
                opt(proj.map(|p| p.1)),
                opt(proj.and_then(|p| p.2)),
                a.verdict_reason.clone(),
                loops.label().to_string(),
                loops.evidence(),
                opt(a.baseline_goodput_per_s),
                opt(a.peak_amplification),
                opt(a.peak_load_amplification),
                opt(a.wasted_fraction),
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
            "scenario {} · variant {} · seed {} · stopped: {} at t = {:.3} s after {} events",
            self.scenario.name,
            self.scenario.variant_name(),
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
        let t = |x: Option<sim_core::SimTime>| {
            x.map_or("never".to_string(), |t| {
                format!("t = {:.0} s", t.as_secs_f64())
            })
        };
        for o in &self.operators {
            let _ = writeln!(
                s,
                "operator {}: paged {}, first acted {}, {} actions",
                o.name,
                t(o.paged_at),
                t(o.acted_at),
                o.actions
            );
        }
        if let Some((a, b)) = self.trigger_measured {
            let end = b.map_or("still on at the end".to_string(), |b| {
                format!("to t = {b:.0} s")
            });
            let _ = writeln!(s, "trigger measured: from t = {a:.0} s {end}");
        } else if self.scenario.world.trigger_probe.is_some() {
            let _ = writeln!(s, "trigger measured: never happened (no incident)");
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
        let a = self.analysis();
        let fmt = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.2}"));
        let _ = writeln!(
            s,
            "verdict: {} · trigger [{} s, {} s] · recovery {} s · baseline goodput {}/s · peak amplification {} (load {}) · wasted work {}",
            a.verdict.as_str(),
            fmt(a.trigger_start_s),
            fmt(a.trigger_end_s),
            fmt(a.recovery_s),
            fmt(a.baseline_goodput_per_s),
            fmt(a.peak_amplification),
            fmt(a.peak_load_amplification),
            a.wasted_fraction
                .map_or("-".to_string(), |w| format!("{:.1} %", 100.0 * w)),
        );
        if !a.verdict_reason.is_empty() {
            let _ = writeln!(s, "why this verdict: {}", a.verdict_reason);
        }
        let loops = self.loops(&a);
        if let Some(p) = loops.primary() {
            let head = if a.verdict == crate::analysis::Verdict::Recovered {
                "what kept it down until it recovered"
            } else {
                "why it stays down"
            };
            let _ = writeln!(s, "{head}: {} ({})", p.evidence, p.at);
            for f in &loops.firing[1..] {
                let _ = writeln!(s, "  also: {} ({})", f.evidence, f.at);
            }
        }
        if let Some((est, lo, hi)) = a.projected_recovery_s {
            let _ = writeln!(
                s,
                "projected recovery: {est:.0} s after the trigger ended (95 %: {lo:.0} … {})",
                hi.map_or("unbounded".to_string(), |h| format!("{h:.0}"))
            );
        }
        // Columns as wide as their longest entry (at least the historical 16 and 8).
        let ids = self.component_ids();
        let nw = ids
            .iter()
            .map(|c| c.name.chars().count())
            .fold(16, usize::max);
        let kw = ids
            .iter()
            .map(|c| c.kind.as_str().len())
            .fold(8, usize::max);
        let _ = writeln!(
            s,
            "  {:<nw$} {:<kw$} {:>10} {:>9} {:>10} {:>9} {:>9} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
            "component",
            "kind",
            "sent/recv",
            "retries",
            "ok/s",
            "timeouts",
            "rejected",
            "util",
            "queue",
            "p50 ok",
            "p99 ok",
            "p99 all",
            "soj p50",
            "soj p99"
        );
        let f = |x: Option<f64>, prec: usize| x.map_or("-".to_string(), |v| format!("{v:.prec$}"));
        for c in ids {
            let v = self.summary_values(&c);
            let (ok, all) = (
                v.call_ok.unwrap_or_default(),
                v.call_all.unwrap_or_default(),
            );
            let soj = v.sojourn.unwrap_or_default();
            let ms = |x: Option<u64>| x.map(|n| n as f64 / 1e6);
            let _ = writeln!(
                s,
                "  {:<nw$} {:<kw$} {:>10} {:>9} {:>10} {:>9} {:>9} {:>6} {:>9} {:>9} {:>9} {:>9} {:>9} {:>9}",
                c.name,
                c.kind.as_str(),
                v.first_tries
                    .or(v.arrivals)
                    .or(v.completions)
                    .map_or("-".into(), |n| n.to_string()),
                v.retries.map_or("-".into(), |n| n.to_string()),
                f(v.goodput_per_s.or(v.throughput_per_s), 2),
                v.timeouts.map_or("-".into(), |n| n.to_string()),
                v.rejected.map_or("-".into(), |n| n.to_string()),
                f(v.utilisation, 3),
                f(v.queue_len_mean, 2),
                ok_cell(v.call_all, ok.p50),
                ok_cell(v.call_all, ok.p99),
                f(ms(all.p99), 2),
                f(ms(soj.p50), 2),
                f(ms(soj.p99), 2),
            );
        }
        let _ = writeln!(
            s,
            "  latency in ms: ok = a client's successful calls only, all = every call (a failed \
             call counted until it gave up), both end to end; soj = sojourn at a service \
             (arrival → completion); \"none\" = calls but no successful one"
        );
        super::guards::defence_lines(self, &mut s);
        s
    }
}
