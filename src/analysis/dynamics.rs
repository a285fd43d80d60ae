//! Is the bad state shrinking? The verdict of a run that has not recovered by its end, from the
//! trend of the state that sustains the failure, not from the last window alone.
//!
//! A run's *state variables* ([`StateSeries`]) are per-window measurements that are larger the
//! worse the system is: a service's queue (backlog), a cache's miss fraction (cold keys), a
//! lease manager's unleased fraction, a service's crashed tasks, a load balancer's targets out
//! of service, empty DNS records, machines holding a bad configuration, a propagation backlog.
//! Each has a *healthy level*: its mean over the pre-trigger baseline windows plus the larger of
//! three baseline standard deviations and the variable's tolerance.
//!
//! The *assessment span* is the last third of the windows after the trigger ended (at least
//! [`MIN_SPAN`] windows). It is cut into 5 batches (10 from 20 windows on); the batch means
//! damp the windows' autocorrelation, and an ordinary least-squares line through them gives the
//! state's slope with a Student-t 95 % interval (batches − 2 degrees of freedom). A state is *in
//! excess* when its last batch mean is above the healthy level; for each state in excess, with
//! `E` the excess, `r` the drain rate (minus the slope) and `[r_lo, r_hi]` its interval:
//! - **draining** if `r_lo > 0`: it reaches the healthy level in `E / r` (95 %: `E / r_hi` to
//!   `E / r_lo`, unbounded when `r_lo` ≤ 0);
//! - **sustained** if even the fastest drain the data allow would take longer than
//!   [`PATIENCE`] (4) times the time the run has already spent after the trigger: `r_hi ≤ 0` or
//!   `E / r_hi > H`;
//! - **unclear** otherwise.
//!
//! Verdict of a run that has not recovered: **metastable** if some state in excess is
//! sustained; **recovering** if every state in excess is draining (projected recovery = the
//! slowest, from the trigger end); **undetermined** otherwise, or when fewer than [`MIN_SPAN`]
//! windows follow the trigger's end. When no state variable is in excess, the goodput shortfall
//! (threshold − success ratio, per window) is the state.

/// The fewest windows after the trigger's end that can show a trend.
pub const MIN_SPAN: usize = 10;

/// A state counts as sustained only if even its fastest plausible drain would need more than
/// this many times the time the run has spent after the trigger: a drain the data cannot rule
/// out within that is "run longer" (`undetermined`), not metastable.
pub const PATIENCE: f64 = 4.0;

/// One state variable of a run, per window; larger is worse.
#[derive(Clone, Debug)]
pub struct StateSeries {
    /// What it measures, e.g. `backlog`, `cold cache`, `unleased hosts`.
    pub what: &'static str,
    /// The component it belongs to.
    pub component: String,
    /// The unit of its values, e.g. `requests`, `of lookups miss`.
    pub unit: &'static str,
    /// Values are fractions (printed as percentages).
    pub fraction: bool,
    /// Smallest excess that counts (absolute, in the variable's units).
    pub tolerance: f64,
    pub values: Vec<f64>,
}

/// How one state variable moved over the assessment span.
#[derive(Clone, Debug, PartialEq)]
pub struct StateTrend {
    pub what: &'static str,
    pub component: String,
    pub unit: &'static str,
    pub fraction: bool,
    /// Healthy level (baseline mean + max(3 σ, tolerance)).
    pub healthy: f64,
    /// Mean of the baseline windows.
    pub baseline: f64,
    /// Mean of the last batch.
    pub level: f64,
    /// Drain rate (units per second; positive = shrinking) and its 95 % interval.
    pub drain_per_s: f64,
    pub drain_lo: f64,
    pub drain_hi: f64,
    pub judgement: Judgement,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Judgement {
    Draining,
    Sustained,
    Unclear,
}

/// The dynamic verdict of a run that has not recovered.
#[derive(Clone, Debug, PartialEq)]
pub enum Dynamic {
    Metastable,
    /// Projected recovery, seconds after the trigger's end: estimate, 95 % low, 95 % high
    /// (`None`: unbounded).
    Recovering(f64, f64, Option<f64>),
    Undetermined,
}

/// The outcome of [`classify`]: the verdict, the sentence that justifies it, and the trends.
#[derive(Clone, Debug, PartialEq)]
pub struct Assessment {
    pub dynamic: Dynamic,
    pub reason: String,
    pub trends: Vec<StateTrend>,
    /// The assessment span, seconds: [start, end).
    pub span_s: (f64, f64),
}

/// Two-sided 97.5 % Student-t quantiles for 1 … 10 degrees of freedom.
const T975: [f64; 10] = [
    12.706, 4.303, 3.182, 2.776, 2.571, 2.447, 2.365, 2.306, 2.262, 2.228,
];

/// Least squares of `ys` on `xs`: (slope, standard error of the slope).
fn ols(xs: &[f64], ys: &[f64]) -> Option<(f64, f64)> {
    let n = xs.len();
    if n < 3 {
        return None;
    }
    let nf = n as f64;
    let mx = xs.iter().sum::<f64>() / nf;
    let my = ys.iter().sum::<f64>() / nf;
    let sxx: f64 = xs.iter().map(|x| (x - mx) * (x - mx)).sum();
    if sxx <= 0.0 {
        return None;
    }
    let sxy: f64 = xs.iter().zip(ys).map(|(x, y)| (x - mx) * (y - my)).sum();
    let b = sxy / sxx;
    let a = my - b * mx;
    let sse: f64 = xs
        .iter()
        .zip(ys)
        .map(|(x, y)| {
            let e = y - a - b * x;
            e * e
        })
        .sum();
    let se = (sse / (nf - 2.0) / sxx).sqrt();
    Some((b, se))
}

fn mean_sd(v: &[f64]) -> (f64, f64) {
    if v.is_empty() {
        return (0.0, 0.0);
    }
    let n = v.len() as f64;
    let m = v.iter().sum::<f64>() / n;
    let var = if v.len() > 1 {
        v.iter().map(|x| (x - m) * (x - m)).sum::<f64>() / (n - 1.0)
    } else {
        0.0
    };
    (m, var.sqrt())
}

/// Formats a state value in its unit.
pub fn fmt_value(x: f64, fraction: bool, unit: &str) -> String {
    if fraction {
        format!("{:.1} % {unit}", 100.0 * x)
    } else if x.abs() >= 100.0 {
        format!("{x:.0} {unit}")
    } else {
        format!("{x:.2} {unit}")
    }
    .trim_end()
    .to_string()
}

/// Formats a rate of change (per second) with three significant digits.
fn fmt_rate(x: f64, fraction: bool) -> String {
    let (x, unit) = if fraction {
        (100.0 * x, " pp/s")
    } else {
        (x, "/s")
    };
    let digits = if x == 0.0 {
        3
    } else {
        (2 - x.abs().log10().floor() as i32).clamp(0, 6) as usize
    };
    format!("{x:+.digits$}{unit}")
}

/// Classifies a run that has not recovered. `starts[w]`/`ends[w]`: window bounds (s);
/// `baseline`: indices of the baseline windows; `post`: index of the first window after the
/// trigger's end; `shortfall`: the goodput shortfall per window (the fallback state).
pub fn classify(
    starts: &[f64],
    ends: &[f64],
    baseline: &[usize],
    post: usize,
    trigger_end_s: f64,
    states: &[StateSeries],
    shortfall: &StateSeries,
) -> Assessment {
    let n = starts.len().min(ends.len());
    let post_n = n.saturating_sub(post);
    let run_end = if n > 0 { ends[n - 1] } else { trigger_end_s };
    if post_n < MIN_SPAN {
        return Assessment {
            dynamic: Dynamic::Undetermined,
            reason: format!(
                "too short to tell: {post_n} windows after the trigger ended, at least {MIN_SPAN} are needed"
            ),
            trends: Vec::new(),
            span_s: (trigger_end_s, run_end),
        };
    }
    let m = (post_n.div_ceil(3)).max(MIN_SPAN).min(post_n);
    let batches = if m >= 20 { 10 } else { 5 };
    let bs = m / batches;
    let first = n - bs * batches;
    let span_s = (starts[first], run_end);
    let horizon = PATIENCE * (run_end - trigger_end_s).max(span_s.1 - span_s.0);
    let xs: Vec<f64> = (0..batches)
        .map(|b| {
            let (a, z) = (first + b * bs, first + (b + 1) * bs - 1);
            0.5 * (starts[a] + ends[z])
        })
        .collect();
    let t = T975[batches - 3]; // batches − 2 degrees of freedom

    let assess = |s: &StateSeries| -> Option<StateTrend> {
        if s.values.len() < n {
            return None;
        }
        let base: Vec<f64> = baseline.iter().map(|&w| s.values[w]).collect();
        let (bm, bsd) = mean_sd(&base);
        let healthy = bm + (3.0 * bsd).max(s.tolerance);
        let ys: Vec<f64> = (0..batches)
            .map(|b| {
                let w = &s.values[first + b * bs..first + (b + 1) * bs];
                w.iter().sum::<f64>() / w.len() as f64
            })
            .collect();
        let level = ys[batches - 1];
        let excess = level - healthy;
        if excess <= 0.0 || !excess.is_finite() {
            return None;
        }
        let (slope, se) = ols(&xs, &ys)?;
        let r = -slope;
        let (r_lo, r_hi) = (r - t * se, r + t * se);
        let judgement = if r_lo > 0.0 {
            Judgement::Draining
        } else if r_hi <= 0.0 || excess / r_hi > horizon {
            Judgement::Sustained
        } else {
            Judgement::Unclear
        };
        Some(StateTrend {
            what: s.what,
            component: s.component.clone(),
            unit: s.unit,
            fraction: s.fraction,
            healthy,
            baseline: bm,
            level,
            drain_per_s: r,
            drain_lo: r_lo,
            drain_hi: r_hi,
            judgement,
        })
    };
    let mut trends: Vec<StateTrend> = states.iter().filter_map(assess).collect();
    if trends.is_empty() {
        trends.extend(assess(shortfall));
    }
    let describe = |tr: &StateTrend| {
        format!(
            "{} at {}: {} ({} before the trigger), trend {} (95 % CI {} … {})",
            tr.what,
            tr.component,
            fmt_value(tr.level, tr.fraction, tr.unit),
            fmt_value(tr.baseline, tr.fraction, ""),
            fmt_rate(-tr.drain_per_s, tr.fraction),
            fmt_rate(-tr.drain_hi, tr.fraction),
            fmt_rate(-tr.drain_lo, tr.fraction),
        )
    };
    let span_txt = format!(
        "over the last {:.0} s ({} windows in {batches} batches)",
        span_s.1 - span_s.0,
        n - first
    );
    if trends.is_empty() {
        return Assessment {
            dynamic: Dynamic::Undetermined,
            reason: format!(
                "goodput is below the threshold at the end but no state is above its healthy level {span_txt}"
            ),
            trends,
            span_s,
        };
    }
    if let Some(tr) = trends
        .iter()
        .find(|tr| tr.judgement == Judgement::Sustained)
    {
        let why = if tr.drain_hi <= 0.0 {
            "not shrinking at 95 % confidence".to_string()
        } else {
            format!(
                "even at the fastest drain the data allow it would take {:.0} s, more than {PATIENCE} × the {:.0} s since the trigger ended",
                (tr.level - tr.healthy) / tr.drain_hi,
                run_end - trigger_end_s
            )
        };
        return Assessment {
            dynamic: Dynamic::Metastable,
            reason: format!("sustained {span_txt}: {}; {why}", describe(tr)),
            trends,
            span_s,
        };
    }
    if trends.iter().all(|tr| tr.judgement == Judgement::Draining) {
        let elapsed = run_end - trigger_end_s;
        let mut est = 0.0f64;
        let mut lo = 0.0f64;
        let mut hi = Some(0.0f64);
        let mut slowest = &trends[0];
        for tr in &trends {
            let e = tr.level - tr.healthy;
            let this = e / tr.drain_per_s;
            if this > est {
                slowest = tr;
            }
            est = est.max(this);
            lo = lo.max(e / tr.drain_hi);
            hi = match hi {
                Some(h) if tr.drain_lo > 0.0 => Some(h.max(e / tr.drain_lo)),
                _ => None,
            };
        }
        let (est, lo, hi) = (elapsed + est, elapsed + lo, hi.map(|h| elapsed + h));
        return Assessment {
            dynamic: Dynamic::Recovering(est, lo, hi),
            reason: format!(
                "draining {span_txt}: {}; projected back to its healthy level {:.0} s after the trigger ended (95 %: {:.0} … {})",
                describe(slowest),
                est,
                lo,
                hi.map_or("unbounded".to_string(), |h| format!("{h:.0}"))
            ),
            trends,
            span_s,
        };
    }
    let tr = trends
        .iter()
        .find(|tr| tr.judgement == Judgement::Unclear)
        .unwrap_or(&trends[0]);
    Assessment {
        dynamic: Dynamic::Undetermined,
        reason: format!(
            "cannot tell {span_txt}: {}; neither draining nor sustained at 95 % confidence (run longer)",
            describe(tr)
        ),
        trends,
        span_s,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn series(values: Vec<f64>) -> StateSeries {
        StateSeries {
            what: "backlog",
            component: "db".into(),
            unit: "requests",
            fraction: false,
            tolerance: 1.0,
            values,
        }
    }

    fn run(values: Vec<f64>) -> Assessment {
        let n = values.len();
        let starts: Vec<f64> = (0..n).map(|w| w as f64).collect();
        let ends: Vec<f64> = (0..n).map(|w| w as f64 + 1.0).collect();
        let baseline: Vec<usize> = (0..20).collect();
        let shortfall = series(vec![0.0; n]);
        classify(
            &starts,
            &ends,
            &baseline,
            30,
            30.0,
            &[series(values)],
            &shortfall,
        )
    }

    /// 20 baseline windows at ~0, a trigger, then the given post-trigger shape.
    fn shape(f: impl Fn(f64) -> f64, post: usize) -> Vec<f64> {
        let mut v: Vec<f64> = (0..20).map(|w| (w % 2) as f64 * 0.2).collect();
        v.extend((20..30).map(|_| 500.0));
        v.extend((0..post).map(|i| f(i as f64)));
        v
    }

    #[test]
    fn a_linear_drain_is_recovering_with_the_right_projection() {
        // 1 000 requests draining at 2/s: healthy (≤ 1 + 3σ) after ≈ 500 s.
        let a = run(shape(|t| 1000.0 - 2.0 * t, 120));
        let Dynamic::Recovering(est, lo, hi) = a.dynamic else {
            panic!("{a:?}")
        };
        assert!((est - 500.0).abs() < 5.0, "{a:?}");
        assert!(lo <= est && hi.is_some_and(|h| h >= est), "{a:?}");
    }

    #[test]
    fn a_growing_backlog_is_metastable() {
        let a = run(shape(|t| 1000.0 + 0.5 * t, 120));
        assert_eq!(a.dynamic, Dynamic::Metastable, "{a:?}");
        assert!(a.reason.contains("not shrinking"), "{}", a.reason);
    }

    #[test]
    fn a_flat_noisy_backlog_is_metastable() {
        let a = run(shape(|t| 1000.0 + 30.0 * (t * 1.7).sin(), 120));
        assert_eq!(a.dynamic, Dynamic::Metastable, "{a:?}");
    }

    #[test]
    fn too_few_windows_after_the_trigger_is_undetermined() {
        let a = run(shape(|_| 1000.0, 5));
        assert_eq!(a.dynamic, Dynamic::Undetermined, "{a:?}");
        assert!(a.reason.contains("too short"), "{}", a.reason);
    }

    #[test]
    fn a_noisy_slow_drain_over_a_short_span_is_undetermined() {
        // Drains 1/s under ±300 noise over 12 windows: neither significant nor excluded.
        // Batches of 2 windows alternate +300 / −300 around the drain.
        let a = run(shape(
            |t| {
                let sign = if (t as usize / 2).is_multiple_of(2) {
                    1.0
                } else {
                    -1.0
                };
                1000.0 - 1.0 * t + 300.0 * sign
            },
            12,
        ));
        assert_eq!(a.dynamic, Dynamic::Undetermined, "{a:?}");
    }

    #[test]
    fn the_shortfall_is_the_state_when_nothing_else_is_in_excess() {
        let n = 150;
        let starts: Vec<f64> = (0..n).map(|w| w as f64).collect();
        let ends: Vec<f64> = (0..n).map(|w| w as f64 + 1.0).collect();
        let baseline: Vec<usize> = (0..20).collect();
        let mut sf = vec![0.0; n];
        for v in sf.iter_mut().skip(20) {
            *v = 0.9;
        }
        let shortfall = StateSeries {
            what: "goodput shortfall",
            component: "clients".into(),
            unit: "of demand",
            fraction: true,
            tolerance: 0.0,
            values: sf,
        };
        let a = classify(
            &starts,
            &ends,
            &baseline,
            30,
            30.0,
            &[series(vec![0.0; n])],
            &shortfall,
        );
        assert_eq!(a.dynamic, Dynamic::Metastable, "{a:?}");
        assert_eq!(a.trends[0].what, "goodput shortfall");
    }
}
