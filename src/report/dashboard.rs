//! The figures' data, built from a run's report and its analysis: the dashboard of one run and
//! the overlay of a scenario's variants. Drawing them is [`super::plot`]'s job.

use crate::analysis::compare::rows;
use crate::report::plot::{Overlay, RunSeries, Shade, VariantLine};
use crate::run::RunReport;
use crate::run::metrics::ComponentIds;
use crate::scenario::Kind;

impl RunReport {
    /// The dashboard's data: client totals per window, summed service queues, and the
    /// end-to-end call latency of the first client (successful calls, and every call).
    pub fn dashboard_series(&self) -> RunSeries {
        let a = self.analysis();
        let n = self.rec.n_windows();
        let series = self.client_series();
        let ids = self.component_ids();
        let first_client = ids
            .iter()
            .find(|c| matches!(c.kind, Kind::Client | Kind::Source));
        let services: Vec<&ComponentIds> = ids.iter().filter(|c| c.kind == Kind::Service).collect();
        let mut out = RunSeries {
            title: match &self.scenario.variant {
                Some(v) => format!("{} · {v}", self.scenario.name),
                None => self.scenario.name.clone(),
            },
            subtitle: {
                let loops = self.loops(&a);
                let mut sub = format!(
                    "seed {} · verdict {} · recovery {}",
                    self.seed,
                    a.verdict.as_str(),
                    match (a.recovery_s, a.projected_recovery_s) {
                        (Some(r), _) => format!("{r:.0} s"),
                        (None, Some((p, _, _))) => format!("projected {p:.0} s"),
                        _ => "—".to_string(),
                    }
                );
                if let Some(p) = loops.primary() {
                    sub.push_str(&format!(" · loop: {} at {}", p.name, p.at));
                }
                sub
            },
            window_s: self.scenario.window.as_secs_f64(),
            shades: self
                .scenario
                .triggers
                .iter()
                .map(|(f, t, l)| Shade {
                    from_s: f.as_secs_f64(),
                    to_s: t.as_secs_f64(),
                    label: l.clone(),
                })
                .collect(),
            baseline_goodput_per_s: a.baseline_goodput_per_s,
            latency_of: first_client.map_or(String::new(), |c| c.name.clone()),
            ..Default::default()
        };
        for (w, &(f, r, _)) in series.iter().enumerate().take(n) {
            let (s, e) = self.rec.window_bounds(w);
            let len = e.since(s).as_secs_f64().max(1e-9);
            out.t_s.push(s.as_secs_f64());
            out.offered_per_s.push((f + r) as f64 / len);
            out.first_tries_per_s.push(f as f64 / len);
            out.retries_per_s.push(r as f64 / len);
            out.goodput_per_s.push(a.goodput_per_s[w]);
            out.amplification
                .push((f > 0).then(|| (f + r) as f64 / f as f64));
            out.queue_len.push(
                services
                    .iter()
                    .map(|c| self.window_values(c, w).queue_len_mean.unwrap_or(0.0))
                    .sum(),
            );
            let v = first_client.map(|c| self.window_values(c, w));
            let ok = v.as_ref().and_then(|v| v.call_ok).unwrap_or_default();
            let all = v.as_ref().and_then(|v| v.call_all).unwrap_or_default();
            let ms = |x: Option<u64>| x.map(|v| v as f64 / 1e6);
            out.call_ok_ms_p50.push(ms(ok.p50));
            out.call_ok_ms_p99.push(ms(ok.p99));
            out.call_ok_ms_p999.push(ms(ok.p999));
            out.call_all_ms_p99.push(ms(all.p99));
        }
        out
    }
}

/// Goodput of every variant over time, for [`crate::report::plot::write_overlay`].
pub fn overlay(reports: &[RunReport]) -> Overlay {
    let Some(first) = reports.first() else {
        return Overlay::default();
    };
    let n = first.rec.n_windows();
    let t_s = (0..n)
        .map(|w| first.rec.window_bounds(w).0.as_secs_f64())
        .collect();
    let rows = rows(reports);
    Overlay {
        title: format!("{} · variants", first.scenario.name),
        subtitle: format!("goodput, same seed {} for every variant", first.seed),
        t_s,
        shades: first
            .scenario
            .triggers
            .iter()
            .map(|(f, t, l)| Shade {
                from_s: f.as_secs_f64(),
                to_s: t.as_secs_f64(),
                label: l.clone(),
            })
            .collect(),
        variants: rows
            .iter()
            .map(|row| VariantLine {
                name: row.variant.clone(),
                goodput_per_s: row.analysis.goodput_per_s.clone(),
                recovery_s: row.analysis.recovery_s,
                verdict: row.analysis.verdict.as_str().to_string(),
            })
            .collect(),
        baseline_goodput_per_s: rows.first().and_then(|r| r.analysis.baseline_goodput_per_s),
    }
}
