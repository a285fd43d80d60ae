//! "Why does it stay down?": the feedback loop that sustains a run's bad state, named by one
//! rule per mechanism and shown with the evidence of the run's own numbers.
//!
//! A rule is a conjunction of *signals*, each a measured value against a threshold, evaluated
//! over the *bad span*: for a run that has not recovered, the assessment span of
//! [`crate::analysis::dynamics`] (the last third of the post-trigger run); for a recovered run,
//! the windows from the trigger's end to the recovery. A stable run, or one that recovered as
//! soon as the trigger ended, has no loop. Rules, in the order they are tried (the first that
//! fires is the run's loop; the others that fire are listed as well):
//!
//! | loop | fires when (all of) |
//! |---|---|
//! | `lease re-queue` | a lease manager's timed-out (re-queued) jobs ≥ 50 % of its jobs |
//! | `restart herd` | a crash-looping service restarts, ≥ 50 % of its state loads fail, ≥ half its tasks down |
//! | `health-check flapping` | a load balancer's targets flap and ≥ 1 healthy target is out of service on average |
//! | `overload crash cascade` | edge nodes crash from sustained overload |
//! | `cold cache` | a cache's hit rate ≥ 10 points below its pre-trigger rate, its backing service ≥ 90 % busy |
//! | `retry amplification` | ≥ 1.5 attempts per first try, ≥ 50 % of attempts time out, ≥ 30 % of a service's completions wasted |
//! | `timeout waste` | ≥ 50 % of a service's completions answer callers that gave up, the service ≥ 90 % busy |
//! | `bad configuration` | ≥ 1 % of machines hold a bad file |
//! | `empty DNS record` | a DNS record is empty (the trigger's state persists) |
//! | `negative DNS cache` | calls fail on a cached empty answer while no record is empty |

use std::fmt::Write as _;

use crate::analysis::Verdict;
use crate::analysis::recovery::Analysis;
use crate::run::RunReport;
use crate::run::metrics::Values;
use crate::scenario::Kind;

/// A measured value against a threshold.
#[derive(Clone, Debug, PartialEq)]
pub struct Signal {
    /// What is measured, e.g. `amplification`.
    pub name: &'static str,
    /// The measured value.
    pub value: f64,
    /// The threshold the rule compares it with.
    pub threshold: f64,
    /// The signal holds when `value ≥ threshold` (else when `value ≤ threshold`).
    pub at_least: bool,
    /// Whether the value is a fraction (shown as a percentage).
    pub fraction: bool,
}

impl Signal {
    fn at_least(name: &'static str, value: f64, threshold: f64, fraction: bool) -> Signal {
        Signal {
            name,
            value,
            threshold,
            at_least: true,
            fraction,
        }
    }
    /// Whether the value is on the rule's side of the threshold.
    pub fn holds(&self) -> bool {
        if self.at_least {
            self.value >= self.threshold
        } else {
            self.value <= self.threshold
        }
    }
    /// `x` formatted as this signal's values are (a percentage for a fraction).
    pub fn show(&self, x: f64) -> String {
        if self.fraction {
            format!("{:.1} %", 100.0 * x)
        } else {
            format!("{x:.2}")
        }
    }
}

/// One rule's outcome on one component (or client group).
#[derive(Clone, Debug, PartialEq)]
pub struct Finding {
    /// The loop's name, e.g. `retry amplification`.
    pub name: &'static str,
    /// Where it was found (a component name).
    pub at: String,
    /// The measured signals; the rule fires when every one holds.
    pub signals: Vec<Signal>,
    /// The sentence with the numbers.
    pub evidence: String,
}

impl Finding {
    /// Whether the rule fires: it has signals and all of them hold.
    pub fn fires(&self) -> bool {
        !self.signals.is_empty() && self.signals.iter().all(Signal::holds)
    }
}

/// The loops of one run: those that fire, the first being the run's loop.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Loops {
    /// The rules that fire, in the order the rules are tried.
    pub firing: Vec<Finding>,
    /// Every rule evaluated (firing or not), to tell what a variant broke.
    pub evaluated: Vec<Finding>,
    /// The span judged (s).
    pub span_s: Option<(f64, f64)>,
}

impl Loops {
    /// The run's loop: the first rule that fires.
    pub fn primary(&self) -> Option<&Finding> {
        self.firing.first()
    }
    /// `name: evidence` of the primary loop, or empty.
    pub fn label(&self) -> &str {
        self.primary().map_or("", |f| f.name)
    }
    /// The primary loop's evidence sentence and where it was found, or empty.
    pub fn evidence(&self) -> String {
        self.primary()
            .map_or(String::new(), |f| format!("{} ({})", f.evidence, f.at))
    }
}

/// Sums and means of a component's values over a span of windows.
struct Span {
    vals: Vec<Values>,
}

impl Span {
    fn sum(&self, f: impl Fn(&Values) -> Option<u64>) -> u64 {
        self.vals.iter().filter_map(f).sum()
    }
    fn mean(&self, f: impl Fn(&Values) -> Option<f64>) -> Option<f64> {
        let xs: Vec<f64> = self.vals.iter().filter_map(f).collect();
        (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
    }
}

fn ratio(a: u64, b: u64) -> f64 {
    if b == 0 { 0.0 } else { a as f64 / b as f64 }
}

fn pct(x: f64) -> String {
    format!("{:.1} %", 100.0 * x)
}

impl RunReport {
    /// The loops of this run, given its analysis, over its bad span.
    pub fn loops(&self, a: &Analysis) -> Loops {
        let n = self.rec.n_windows();
        let span = match a.verdict {
            Verdict::NoTrigger | Verdict::Stable => return Loops::default(),
            Verdict::Recovered => match (a.post_window, a.recovered_window) {
                (Some(p), Some(r)) if r > p => p..r,
                _ => return Loops::default(),
            },
            _ => {
                let Some((from, _)) = a.assessed_span_s else {
                    return Loops::default();
                };
                let first = (0..n)
                    .find(|&w| self.rec.window_bounds(w).0.as_secs_f64() >= from - 1e-9)
                    .unwrap_or(n);
                first..n
            }
        };
        self.loops_in(span)
    }

    /// The rules over the pre-trigger baseline windows (a healthy system: none should fire).
    pub fn loops_over_baseline(&self) -> Loops {
        let base = self.baseline_windows();
        match (base.first(), base.last()) {
            (Some(&a), Some(&b)) => self.loops_in(a..b + 1),
            _ => Loops::default(),
        }
    }

    /// Every rule over windows `span`.
    pub fn loops_in(&self, span: std::ops::Range<usize>) -> Loops {
        let span = span.start..span.end.min(self.rec.n_windows());
        if span.is_empty() {
            return Loops::default();
        }
        let bounds = (
            self.rec.window_bounds(span.start).0.as_secs_f64(),
            self.rec.window_bounds(span.end - 1).1.as_secs_f64(),
        );
        let base = self.baseline_windows();
        let ids = self.component_ids();
        let spans: Vec<Span> = ids
            .iter()
            .map(|c| Span {
                vals: span.clone().map(|w| self.window_values(c, w)).collect(),
            })
            .collect();
        let sc = &self.scenario;
        let service_span = |name: &str| {
            ids.iter()
                .position(|c| c.kind == Kind::Service && c.name == name)
                .map(|i| &spans[i])
        };
        let mut ev: Vec<Finding> = Vec::new();

        // Lease re-queue.
        for (c, s) in ids.iter().zip(&spans) {
            if c.kind != Kind::LeaseManager {
                continue;
            }
            let (wasted, jobs) = (s.sum(|v| v.wasted), s.sum(|v| v.completions));
            let requeued = ratio(wasted, jobs);
            let held = s.mean(|v| v.lease_fraction_mean).unwrap_or(1.0);
            ev.push(Finding {
                name: "lease re-queue",
                at: c.name.clone(),
                signals: vec![Signal::at_least("jobs timed out and re-queued", requeued, 0.5, true)],
                evidence: format!(
                    "lease re-queue: {} of {} jobs time out before they finish and are re-queued; {} of hosts hold a lease",
                    pct(requeued),
                    jobs,
                    pct(held)
                ),
            });
        }
        // Restart herd.
        for (c, s) in ids.iter().zip(&spans) {
            let Some(spec) = sc.world.services.iter().find(|x| x.name == c.name) else {
                continue;
            };
            let Some(cl) = &spec.crash_loop else { continue };
            let restarts = s.sum(|v| v.restarts);
            let down = s.mean(|v| v.tasks_down_mean).unwrap_or(0.0);
            let store = sc
                .world
                .services
                .get(cl.store as usize)
                .map_or("?", |x| x.name.as_str());
            let store_util = service_span(store)
                .and_then(|s| s.mean(|v| v.utilisation))
                .unwrap_or(0.0);
            // The state load is a call edge `svc->store.restart`.
            let edge = format!("{}->{store}.restart", c.name);
            let (loads, loaded) = ids.iter().position(|e| e.name == edge).map_or((0, 0), |i| {
                let e = &spans[i];
                (e.sum(|v| v.attempts()), e.sum(|v| v.successes))
            });
            let failed = if loads == 0 {
                0.0
            } else {
                1.0 - ratio(loaded, loads)
            };
            ev.push(Finding {
                name: "restart herd",
                at: c.name.clone(),
                signals: vec![
                    Signal::at_least("restarts", restarts as f64, 1.0, false),
                    Signal::at_least("state loads failing", failed, 0.5, true),
                    Signal::at_least("tasks down", down / spec.servers.max(1) as f64, 0.5, true),
                ],
                evidence: format!(
                    "restart herd: {restarts} restarts, {} of {loads} state loads fail (time out or are rejected), {down:.0} of {} tasks down on average; the state store {store} at {} utilisation",
                    pct(failed),
                    spec.servers,
                    pct(store_util)
                ),
            });
        }
        // Health-check flapping and overload crashes.
        for (c, s) in ids.iter().zip(&spans) {
            if c.kind == Kind::LoadBalancer {
                let flaps = s.sum(|v| v.flaps);
                let healthy = s.mean(|v| v.targets_healthy_mean).unwrap_or(0.0);
                let in_service = s.mean(|v| v.targets_in_service_mean).unwrap_or(0.0);
                let late = ratio(s.sum(|v| v.checks_late), s.sum(|v| v.checks));
                ev.push(Finding {
                    name: "health-check flapping",
                    at: c.name.clone(),
                    signals: vec![
                        Signal::at_least("target flaps", flaps as f64, 1.0, false),
                        Signal::at_least("healthy targets out of service", healthy - in_service, 1.0, false),
                    ],
                    evidence: format!(
                        "health-check flapping removes healthy capacity: {flaps} target flaps, {in_service:.0} of {healthy:.0} healthy targets in service on average, {} of checks late",
                        pct(late)
                    ),
                });
            }
            if c.kind == Kind::Service
                && s.vals.first().is_some_and(|v| v.overload_crashes.is_some())
            {
                let oc = s.sum(|v| v.overload_crashes);
                let down = s.mean(|v| v.tasks_down_mean).unwrap_or(0.0);
                ev.push(Finding {
                    name: "overload crash cascade",
                    at: c.name.clone(),
                    signals: vec![Signal::at_least("overload crashes", oc as f64, 1.0, false)],
                    evidence: format!(
                        "overload crash cascade: {oc} nodes crashed from sustained overload, {down:.1} down on average, so the rest carry more"
                    ),
                });
            }
        }
        // Cold cache, retry amplification, timeout waste (per client or call edge).
        for (i, (c, s)) in ids.iter().zip(&spans).enumerate() {
            if !matches!(c.kind, Kind::Client | Kind::Source | Kind::Call) {
                continue;
            }
            let Some(spec) = sc.world.clients.iter().find(|x| x.name == c.name) else {
                continue;
            };
            let target = sc
                .world
                .services
                .get(spec.target as usize)
                .map_or("?", |x| x.name.as_str());
            let Some(t) = service_span(target) else {
                continue;
            };
            let util = t.mean(|v| v.utilisation).unwrap_or(0.0);
            let wasted = ratio(t.sum(|v| v.wasted), t.sum(|v| v.completions));
            let wait_s = t.mean(|v| v.wait_ms_mean).unwrap_or(0.0) / 1e3;
            let timeout = spec
                .timeout
                .map_or("no".to_string(), |d| format!("a {:.2} s", d.as_secs_f64()));
            if s.vals.first().is_some_and(|v| v.cache_hits.is_some()) {
                let hits = s.sum(|v| v.cache_hits);
                let hit = ratio(hits, hits + s.sum(|v| v.cache_misses));
                let (bh, bm) = base.iter().fold((0, 0), |(h, m), &w| {
                    let v = self.window_values(&ids[i], w);
                    (
                        h + v.cache_hits.unwrap_or(0),
                        m + v.cache_misses.unwrap_or(0),
                    )
                });
                let before = ratio(bh, bh + bm);
                ev.push(Finding {
                    name: "cold cache",
                    at: c.name.clone(),
                    signals: vec![
                        Signal::at_least("hit-rate drop", before - hit, 0.1, true),
                        Signal::at_least("backing service busy", util, 0.9, true),
                    ],
                    evidence: format!(
                        "cold cache: hit rate {hit:.2} against {before:.2} before the trigger, {target} at {} utilisation, {} of its work wasted",
                        pct(util),
                        pct(wasted)
                    ),
                });
            }
            let first = s.sum(|v| v.first_tries);
            let attempts = s.sum(|v| v.attempts());
            let amp = ratio(attempts, first);
            let timed_out = ratio(s.sum(|v| v.timeouts), attempts).min(1.0);
            ev.push(Finding {
                name: "retry amplification",
                at: c.name.clone(),
                signals: vec![
                    Signal::at_least("attempts per first try", amp, 1.5, false),
                    Signal::at_least("attempts timing out", timed_out, 0.5, true),
                    Signal::at_least("completions wasted", wasted, 0.3, true),
                ],
                evidence: format!(
                    "retry amplification: {amp:.2} attempts per first try, {} of attempts time out, queue wait {wait_s:.2} s against {timeout} timeout at {target}, {} of {target}'s completions wasted",
                    pct(timed_out),
                    pct(wasted)
                ),
            });
            ev.push(Finding {
                name: "timeout waste",
                at: c.name.clone(),
                signals: vec![
                    Signal::at_least("completions wasted", wasted, 0.5, true),
                    Signal::at_least("service busy", util, 0.9, true),
                ],
                evidence: format!(
                    "timeout waste: {} of {target}'s completions answer callers that already gave up (queue wait {wait_s:.2} s against {timeout} timeout), {target} at {} utilisation",
                    pct(wasted),
                    pct(util)
                ),
            });
        }
        // Trigger states that persist.
        let mut empty_records = 0.0;
        for (c, s) in ids.iter().zip(&spans) {
            if c.kind == Kind::ConfigPush {
                let bad = s.mean(|v| v.bad_servers_mean).unwrap_or(0.0);
                ev.push(Finding {
                    name: "bad configuration",
                    at: c.name.clone(),
                    signals: vec![Signal::at_least(
                        "machines with a bad file",
                        bad,
                        0.01,
                        true,
                    )],
                    evidence: format!(
                        "bad configuration: {} of machines hold a bad file",
                        pct(bad)
                    ),
                });
            }
            if c.kind == Kind::DnsAutomation {
                let empty = s.mean(|v| v.records_empty_mean).unwrap_or(0.0);
                empty_records += empty;
                ev.push(Finding {
                    name: "empty DNS record",
                    at: c.name.clone(),
                    signals: vec![Signal::at_least("empty records", empty, 0.01, false)],
                    evidence: format!(
                        "empty DNS record: {empty:.2} records empty on average (the trigger's state persists)"
                    ),
                });
            }
        }
        for (c, s) in ids.iter().zip(&spans) {
            if !matches!(c.kind, Kind::Client | Kind::Source) {
                continue;
            }
            if s.vals.first().is_some_and(|v| v.dns_failures.is_some()) {
                let fails = s.sum(|v| v.dns_failures);
                let share = ratio(fails, s.sum(|v| v.first_tries));
                ev.push(Finding {
                    name: "negative DNS cache",
                    at: c.name.clone(),
                    signals: vec![
                        Signal::at_least("calls failing to resolve", share, 0.01, true),
                        Signal {
                            name: "empty records",
                            value: empty_records,
                            threshold: 0.01,
                            at_least: false,
                            fraction: false,
                        },
                    ],
                    evidence: format!(
                        "negative DNS cache: {} of calls fail on a cached empty answer ({fails} calls) while no record is empty",
                        pct(share)
                    ),
                });
            }
        }
        const ORDER: [&str; 10] = [
            "lease re-queue",
            "restart herd",
            "health-check flapping",
            "overload crash cascade",
            "cold cache",
            "retry amplification",
            "timeout waste",
            "bad configuration",
            "empty DNS record",
            "negative DNS cache",
        ];
        ev.sort_by_key(|f| {
            ORDER
                .iter()
                .position(|o| *o == f.name)
                .unwrap_or(ORDER.len())
        });
        let firing = ev.iter().filter(|f| f.fires()).cloned().collect();
        Loops {
            firing,
            evaluated: ev,
            span_s: Some(bounds),
        }
    }
}

/// How a variant broke `base`'s loop: the loop's signals that no longer hold in `variant`, each
/// with the variant's value and the baseline's. `None` if the variant has the same loop.
pub fn broken_by(base: &Loops, variant: &Loops) -> Option<String> {
    let b = base.primary()?;
    if variant
        .firing
        .iter()
        .any(|f| f.name == b.name && f.at == b.at)
    {
        return None;
    }
    let mut out = format!("broke {}:", b.name);
    let v = variant
        .evaluated
        .iter()
        .find(|f| f.name == b.name && f.at == b.at);
    match v {
        None => {
            let _ = write!(out, " no bad state outlasted the trigger");
        }
        Some(v) => {
            let mut first = true;
            for (sv, sb) in v.signals.iter().zip(&b.signals) {
                if !sv.holds() {
                    let _ = write!(
                        out,
                        "{} {} {} (baseline {}, threshold {})",
                        if first { "" } else { ";" },
                        sv.name,
                        sv.show(sv.value),
                        sb.show(sb.value),
                        sv.show(sv.threshold)
                    );
                    first = false;
                }
            }
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_signal_holds_on_its_side_of_the_threshold() {
        let s = Signal::at_least("x", 0.5, 0.5, true);
        assert!(s.holds());
        let s = Signal::at_least("x", 0.49, 0.5, true);
        assert!(!s.holds());
        assert_eq!(s.show(0.25), "25.0 %");
    }
}
