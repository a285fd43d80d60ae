//! Run-level analysis: baseline goodput, recovery time and the verdict.
//!
//! Definitions (also in the README):
//! - *goodput* in a window = successful calls per second, summed over all clients;
//! - *baseline* = mean goodput over the windows in `[warm-up end, first trigger start)`;
//! - *success ratio* over a span of windows = Σ successes ÷ Σ first tries (goodput relative to
//!   demand: insensitive to the noise of the arrival process, and still meaningful when the
//!   load changes); *baseline ratio* = the same over the baseline windows;
//! - *ok(i)* = the success ratio of the `k = ceil(sustain / window)` windows starting at window
//!   `i` is ≥ `recovery_fraction × baseline ratio`;
//! - *recovered at* = the earliest window start `t ≥ last trigger end` such that ok holds for
//!   every window from `t` to the last one with `k` windows left, and window `t` alone meets the
//!   threshold; recovery time = that start − trigger end;
//! - verdict: `stable` if ok holds for every window from the trigger start on; `recovered` if a
//!   recovery time exists; otherwise, from the trend of the state that sustains the failure
//!   ([`crate::analysis::dynamics`]): `recovering` (shrinking, with a projected recovery time),
//!   `metastable` (sustained, at 95 % confidence) or `undetermined` (too short or too noisy to
//!   tell); `no_trigger` when the scenario has no trigger.

use crate::analysis::dynamics::{self, Dynamic, StateSeries, StateTrend};
use crate::run::RunReport;
use crate::run::metrics::ComponentIds;
use crate::scenario::Kind;
use sim_core::CounterId;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
/// What happened to a run after its trigger (the `verdict` column; see the README's
/// "Verdicts").
pub enum Verdict {
    /// The run has no trigger (or its probe never fired): nothing to recover from.
    NoTrigger,
    /// Goodput never left the recovery threshold around the trigger.
    Stable,
    /// Goodput returned to the recovery threshold (sustained) after the trigger ended.
    Recovered,
    /// Not recovered by the end, but the sustaining state is shrinking.
    Recovering,
    /// Not recovered by the end, and the sustaining state is not shrinking: the system stays
    /// down after the trigger is gone.
    Metastable,
    /// Not recovered by the end, and the run cannot tell whether it would.
    Undetermined,
}

impl Verdict {
    /// The name used in CSVs and tables (`no_trigger`, `stable`, `recovered`, `recovering`,
    /// `metastable`, `undetermined`).
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::NoTrigger => "no_trigger",
            Verdict::Stable => "stable",
            Verdict::Recovered => "recovered",
            Verdict::Recovering => "recovering",
            Verdict::Metastable => "metastable",
            Verdict::Undetermined => "undetermined",
        }
    }
}

#[derive(Clone, Debug, PartialEq)]
/// What one run means: its baseline, trigger, recovery time and verdict (see
/// [`RunReport::analysis`]).
pub struct Analysis {
    /// Mean goodput (successful calls per second, all clients) over the baseline windows;
    /// `None` when there are none.
    pub baseline_goodput_per_s: Option<f64>,
    /// Trigger start (s); `None` without a trigger.
    pub trigger_start_s: Option<f64>,
    /// Trigger end (s); `None` without a trigger or when it had not ended.
    pub trigger_end_s: Option<f64>,
    /// Time from the trigger's end until goodput recovered (s); `None` when it did not.
    pub recovery_s: Option<f64>,
    /// The verdict.
    pub verdict: Verdict,
    /// Largest per-window attempts ÷ first tries (all clients).
    pub peak_amplification: Option<f64>,
    /// Largest per-window arrivals at one service ÷ first tries of the clients: the load
    /// amplification layered retries and fan-out cause deep in a call graph.
    pub peak_load_amplification: Option<f64>,
    /// Completions nobody waited for ÷ all completions, over all services (and lease managers'
    /// timed-out jobs ÷ their jobs), whole run.
    pub wasted_fraction: Option<f64>,
    /// Per-window goodput (successful calls per second, all clients).
    pub goodput_per_s: Vec<f64>,
    /// `recovering`: projected recovery, seconds after the trigger's end (estimate, 95 % low,
    /// 95 % high; `None` high: unbounded).
    pub projected_recovery_s: Option<(f64, f64, Option<f64>)>,
    /// Why the verdict is what it is, with the numbers (empty for `no_trigger`).
    pub verdict_reason: String,
    /// The state variables' trends over the assessment span (runs that did not recover).
    pub trends: Vec<StateTrend>,
    /// The assessment span (s) of a run that did not recover.
    pub assessed_span_s: Option<(f64, f64)>,
    /// The success-ratio threshold recovery is judged against (recovery fraction × baseline).
    pub threshold_ratio: Option<f64>,
    /// The first window at or after the trigger's end (`None` without a trigger).
    pub(crate) post_window: Option<usize>,
    /// The window at which goodput recovered (recovered runs).
    pub(crate) recovered_window: Option<usize>,
}

impl RunReport {
    fn clients(&self) -> Vec<ComponentIds> {
        self.component_ids()
            .into_iter()
            .filter(|c| matches!(c.kind, Kind::Client | Kind::Source))
            .collect()
    }

    /// The trigger of this run, in seconds: `(start, end)`, where `end` is `None` if the
    /// trigger had not ended when the run stopped.
    /// - With `[incident] trigger` (a probe), both are measured from the mechanism that carries
    ///   it; a run in which it never happened has none ("no incident").
    /// - Else it starts where the scenario says and ends at the first action of an operator
    ///   policy that removes it, if one did, or at the scripted end.
    pub fn trigger_s(&self) -> Option<(f64, Option<f64>)> {
        let sc = &self.scenario;
        if sc.world.trigger_probe.is_some() {
            return self.trigger_measured;
        }
        let removes = sc.world.operators.iter().any(|o| o.removes_trigger);
        let scripted = sc
            .trigger_window()
            .map(|(a, b)| (a.as_secs_f64(), b.as_secs_f64()));
        if removes {
            let start = scripted.map(|t| t.0).or_else(|| {
                let t = sc.triggers.iter().map(|t| t.0).min()?;
                Some(t.as_secs_f64())
            })?;
            return Some((start, self.trigger_removed_s));
        }
        scripted.map(|(a, b)| (a, Some(b)))
    }

    /// The baseline windows: from the warm-up's end to the trigger's start (to the end of the
    /// run without a trigger).
    pub fn baseline_windows(&self) -> Vec<usize> {
        let warm = self.rec.summary_from().as_secs_f64();
        let end = self.trigger_s().map_or(f64::INFINITY, |t| t.0);
        (0..self.rec.n_windows())
            .filter(|&w| {
                let (a, b) = self.rec.window_bounds(w);
                a.as_secs_f64() >= warm && b.as_secs_f64() <= end
            })
            .collect()
    }

    /// Counter `id`'s count in window `w` (0 for a counter the component does not record).
    fn count_in(&self, w: usize, id: Option<CounterId>) -> u64 {
        id.map_or(0, |id| self.rec.counter_in(w, id))
    }

    /// Per-window totals over all clients: (first tries, retries, successes).
    pub fn client_series(&self) -> Vec<(u64, u64, u64)> {
        // The three counters' ids, resolved once per client (not a whole `Values` per window).
        let ids: Vec<[Option<CounterId>; 3]> = self
            .clients()
            .iter()
            .map(|c| ["first_tries", "retries", "successes"].map(|n| c.counter_id(n)))
            .collect();
        let rec = &self.rec;
        (0..rec.n_windows())
            .map(|w| {
                ids.iter().fold((0, 0, 0), |(f, r, s), &[fi, ri, si]| {
                    (
                        f + self.count_in(w, fi),
                        r + self.count_in(w, ri),
                        s + self.count_in(w, si),
                    )
                })
            })
            .collect()
    }

    /// Analyses this run: baseline, trigger, recovery and verdict with its reason.
    ///
    /// ```
    /// use metastable::Verdict;
    ///
    /// // HotOS 2021's retry example below its stability limit (140 QPS): the 10 s partition's
    /// // backlog drains and the system heals by itself.
    /// let sc = metastable::load("scenarios/hotos-retry-140.toml".as_ref()).unwrap();
    /// let a = metastable::run(&sc, sc.seed).analysis();
    /// assert_eq!(a.verdict, Verdict::Recovered, "{} (seed {})", a.verdict_reason, sc.seed);
    /// let tail = a.recovery_s.unwrap();
    /// assert!(tail > 0.0 && tail < sc.duration.as_secs_f64());
    /// ```
    pub fn analysis(&self) -> Analysis {
        let sc = &self.scenario;
        let n = self.rec.n_windows();
        let window_s: Vec<(f64, f64)> = (0..n)
            .map(|w| {
                let (a, b) = self.rec.window_bounds(w);
                (a.as_secs_f64(), b.as_secs_f64())
            })
            .collect();
        let series = self.client_series();
        let goodput: Vec<f64> = series
            .iter()
            .zip(&window_s)
            .map(|(&(_, _, s), &(a, b))| if b > a { s as f64 / (b - a) } else { 0.0 })
            .collect();
        let peak_amplification = series
            .iter()
            .filter(|(f, _, _)| *f > 0)
            .map(|&(f, r, _)| (f + r) as f64 / f as f64)
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.max(x))));
        let (mut wasted, mut completions) = (0u64, 0u64);
        let mut peak_load_amplification: Option<f64> = None;
        let ids = self.component_ids();
        for c in ids.iter().filter(|c| c.kind == Kind::Service) {
            let [wi, ci, ai] = ["wasted", "completions", "arrivals"].map(|n| c.counter_id(n));
            for (w, &(first, _, _)) in series.iter().enumerate().take(n) {
                wasted += self.count_in(w, wi);
                completions += self.count_in(w, ci);
                if first > 0 {
                    let a = self.count_in(w, ai) as f64 / first as f64;
                    peak_load_amplification = Some(peak_load_amplification.map_or(a, |m| m.max(a)));
                }
            }
        }
        // Lease managers' jobs that timed out are wasted work too.
        for c in ids.iter().filter(|c| c.kind == Kind::LeaseManager) {
            let [wi, ci] = ["wasted", "completions"].map(|n| c.counter_id(n));
            for w in 0..n {
                wasted += self.count_in(w, wi);
                completions += self.count_in(w, ci);
            }
        }
        let wasted_fraction = (completions > 0).then(|| wasted as f64 / completions as f64);

        let measured = self.trigger_s();
        let run_end = match n {
            0 => 0.0,
            _ => self.rec.window_bounds(n - 1).1.as_secs_f64(),
        };
        let trigger = measured.map(|(a, b)| (a, b.unwrap_or(run_end)));
        let base_idx = self.baseline_windows();
        let baseline = (!base_idx.is_empty())
            .then(|| base_idx.iter().map(|&w| goodput[w]).sum::<f64>() / base_idx.len() as f64);

        let mut out = Analysis {
            baseline_goodput_per_s: baseline,
            trigger_start_s: trigger.map(|t| t.0),
            trigger_end_s: trigger.map(|t| t.1),
            recovery_s: None,
            verdict: Verdict::NoTrigger,
            peak_amplification,
            peak_load_amplification,
            wasted_fraction,
            goodput_per_s: goodput.clone(),
            projected_recovery_s: None,
            verdict_reason: String::new(),
            trends: Vec::new(),
            assessed_span_s: None,
            threshold_ratio: None,
            post_window: None,
            recovered_window: None,
        };
        if measured.is_none() && sc.world.trigger_probe.is_some() {
            out.verdict_reason =
                "no incident: the mechanism never carried the trigger in this run".to_string();
        }
        let (Some((t_start, t_end)), Some(_)) = (trigger, baseline) else {
            return out;
        };
        if measured.is_some_and(|m| m.1.is_none()) {
            out.verdict = Verdict::Undetermined;
            out.verdict_reason = format!(
                "the trigger (from t = {t_start:.0} s) had not ended when the run stopped at {run_end:.0} s"
            );
            return out;
        }
        let w_len = sc.window.as_secs_f64();
        let k = ((sc.sustain.as_secs_f64() / w_len).ceil() as usize).max(1);
        let ratio = |ws: &mut dyn Iterator<Item = usize>| {
            let (f, s) = ws.fold((0u64, 0u64), |(f, s), w| (f + series[w].0, s + series[w].2));
            if f == 0 {
                None
            } else {
                Some(s as f64 / f as f64)
            }
        };
        let Some(base_ratio) = ratio(&mut base_idx.iter().copied()) else {
            return out;
        };
        let threshold = sc.recovery_fraction * base_ratio;
        out.threshold_ratio = Some(threshold);
        let first_at = |t: f64| window_s.iter().position(|&(a, _)| a >= t - 1e-9);
        let from_trigger = first_at(t_start).unwrap_or(n);
        let from_end = first_at(t_end).unwrap_or(n);
        out.post_window = Some(from_end);
        if n < k {
            out.verdict = Verdict::Undetermined;
            out.verdict_reason = format!(
                "too short to tell: {n} windows, fewer than the {k} the recovery criterion sustains"
            );
            return out;
        }
        // Sums over any span of windows from prefix sums: O(windows), not O(windows × k).
        let (mut pf, mut ps) = (vec![0u64; n + 1], vec![0u64; n + 1]);
        for (w, &(f, _, s)) in series.iter().enumerate() {
            pf[w + 1] = pf[w] + f;
            ps[w + 1] = ps[w] + s;
        }
        let ok: Vec<bool> = (0..=n - k)
            .map(|i| {
                let f = pf[i + k] - pf[i];
                f == 0 || (ps[i + k] - ps[i]) as f64 / f as f64 >= threshold
            })
            .collect();
        let last_bad = (0..ok.len()).rev().find(|&i| i >= from_trigger && !ok[i]);
        // The recovered window must itself be healthy, so a sustained average cannot hide the
        // tail of the dip.
        let start = last_bad.map_or(from_end, |b| (b + 1).max(from_end));
        let recovered_idx =
            (start..ok.len()).find(|&i| ratio(&mut (i..i + 1)).is_none_or(|r| r >= threshold));
        if last_bad.is_none() && from_trigger < ok.len() {
            out.verdict = Verdict::Stable;
            out.recovery_s = Some(0.0);
            out.verdict_reason = format!(
                "the success ratio stayed at or above {:.1} % ({} × the baseline's) over every {:.0} s span from the trigger on",
                100.0 * threshold,
                sc.recovery_fraction,
                k as f64 * w_len
            );
        } else if let Some(i) = recovered_idx {
            out.recovery_s = Some((window_s[i].0 - t_end).max(0.0));
            out.verdict = Verdict::Recovered;
            out.recovered_window = Some(i);
            out.verdict_reason = format!(
                "the success ratio is back at or above {:.1} % ({} × the baseline's) from t = {:.0} s on, {:.0} s after the trigger ended",
                100.0 * threshold,
                sc.recovery_fraction,
                window_s[i].0,
                (window_s[i].0 - t_end).max(0.0)
            );
        } else {
            let starts: Vec<f64> = window_s.iter().map(|w| w.0).collect();
            let ends: Vec<f64> = window_s.iter().map(|w| w.1).collect();
            let shortfall = StateSeries {
                what: "goodput shortfall",
                component: "clients".to_string(),
                unit: "of demand below the threshold",
                fraction: true,
                tolerance: 0.0,
                values: series
                    .iter()
                    .map(|&(f, _, s)| {
                        if f == 0 {
                            0.0
                        } else {
                            (threshold - s as f64 / f as f64).max(0.0)
                        }
                    })
                    .collect(),
            };
            let a = dynamics::classify(
                &starts,
                &ends,
                &base_idx,
                from_end,
                t_end,
                &self.state_series(),
                &shortfall,
            );
            out.verdict = match a.dynamic {
                Dynamic::Metastable => Verdict::Metastable,
                Dynamic::Recovering(est, lo, hi) => {
                    out.projected_recovery_s = Some((est, lo, hi));
                    Verdict::Recovering
                }
                Dynamic::Undetermined => Verdict::Undetermined,
            };
            out.verdict_reason = a.reason;
            out.trends = a.trends;
            out.assessed_span_s = Some(a.span_s);
        }
        out
    }
}
