//! The blast radius of a provider, region or zone failure (docs/providers.md): for each
//! user-facing flow (a top-level client or source), the goodput it lost, for how long, and
//! the dependency path that carried the failure — found in the call graph and the providers'
//! `behind` links, and confirmed by the run's metrics (which hop's failures, or latency, rose).
//!
//! - *baseline*: the flow's successes per second over the windows from the warm-up's end to
//!   the first scoped trigger's start.
//! - *baseline ratio* `r`: successes per call ended (succeeded or given up) over those
//!   windows — a ratio, not a rate, so the arrivals' own Poisson noise does not count as loss.
//! - *impact*: from the start of the first window at or after the trigger's start whose
//!   successes fall below `recovery_fraction × r × calls ended` to the end of the last such
//!   window.
//! - *lost*: Σ over the impact's windows of `r × calls ended − successes`, in requests; the
//!   *lost fraction* divides it by `r ×` the calls ended while the trigger lasts (a flow whose
//!   failure outlives the trigger can exceed 1). A call that never ends (no timeout) is not
//!   counted: give such flows a timeout or a deadline.
//! - *hops*: each call edge on the path, with its failed attempts per second (timeouts,
//!   errors, rejections, empty DNS answers) and its p99 latency, before the trigger and while
//!   it lasts; the path is *confirmed* when the hop into the failed part shows failures or
//!   latency at least doubled (and failures up by at least 1 % of the flow's baseline).

use std::collections::{BTreeMap, VecDeque};
use std::fmt::Write as _;

use models::Mode;

use crate::run::RunReport;
use crate::run::metrics::Values;

/// One hop of a path: a call edge (or the flow itself) and what the metrics say about it.
#[derive(Clone, Debug, PartialEq)]
pub struct Hop {
    /// The client (flow or `caller->callee` edge) making the calls.
    pub client: String,
    /// The service it calls.
    pub service: String,
    pub failed_before_per_s: f64,
    pub failed_during_per_s: f64,
    /// Mean over windows of the per-window p99 of every call (ms); `None` without calls.
    pub p99_before_ms: Option<f64>,
    pub p99_during_ms: Option<f64>,
}

impl Hop {
    fn rose(&self, baseline: f64) -> bool {
        let fail = self.failed_during_per_s >= 2.0 * self.failed_before_per_s
            && self.failed_during_per_s - self.failed_before_per_s >= 0.01 * baseline.max(1.0);
        let slow = match (self.p99_before_ms, self.p99_during_ms) {
            (Some(b), Some(d)) => d >= 2.0 * b && d > 0.0,
            _ => false,
        };
        fail || slow
    }
}

/// One user-facing flow's blast radius.
#[derive(Clone, Debug, PartialEq)]
pub struct FlowImpact {
    pub flow: String,
    pub baseline_ok_per_s: Option<f64>,
    pub lost_requests: f64,
    /// Lost ÷ (baseline × the trigger's length).
    pub lost_fraction: Option<f64>,
    pub impact: Option<(f64, f64)>,
    /// The failed (or degraded) service the path ends at, and why it is in the trigger's scope.
    pub failed: Option<(String, String)>,
    /// The trigger that hit it: `outage provider cdn`.
    pub trigger: String,
    pub hops: Vec<Hop>,
    /// The hop into the failed part showed the failure.
    pub confirmed: bool,
}

impl FlowImpact {
    /// `users > web > api [provider paas behind cdn]`.
    pub fn path(&self) -> String {
        let Some((svc, why)) = &self.failed else {
            return "-".to_string();
        };
        let mut parts = vec![self.flow.clone()];
        for h in &self.hops {
            parts.push(h.service.clone());
        }
        let last = parts.pop().unwrap_or_else(|| svc.clone());
        parts.push(format!("{last} [{why}]"));
        parts.join(" > ")
    }
}

/// The blast radius of a run's scoped triggers, one row per user-facing flow.
#[derive(Clone, Debug, PartialEq)]
pub struct BlastRadius {
    pub variant: String,
    pub seed: u64,
    /// The scoped triggers' envelope `[first start, last end]`, in seconds.
    pub trigger: (f64, f64),
    pub flows: Vec<FlowImpact>,
}

impl BlastRadius {
    /// `None` when the run has no provider, region or zone trigger.
    pub fn of(r: &RunReport) -> Option<BlastRadius> {
        let sc = &r.scenario;
        let topo = &sc.topology;
        let t0 = topo.scoped_triggers.iter().map(|t| t.from).min()?;
        let t1 = topo.scoped_triggers.iter().map(|t| t.to).max()?;
        let (t0, t1) = (t0.as_secs_f64(), t1.as_secs_f64());
        let world = &sc.world;
        // Failed services → (why, trigger label).
        let mut failed: BTreeMap<u32, (String, String)> = BTreeMap::new();
        for t in &topo.scoped_triggers {
            let label = format!("{} {} {}", snake(t.action), t.scope.as_str(), t.target);
            for (m, why) in t.members.iter().zip(&t.reasons) {
                failed.entry(*m).or_insert((why.clone(), label.clone()));
            }
        }
        let warm = r.rec.summary_from().as_secs_f64();
        let windows: Vec<(f64, f64)> = (0..r.rec.n_windows())
            .map(|w| {
                let (a, b) = r.rec.window_bounds(w);
                (a.as_secs_f64(), b.as_secs_f64())
            })
            .collect();
        let before: Vec<usize> = (0..windows.len())
            .filter(|&w| windows[w].0 >= warm && windows[w].1 <= t0)
            .collect();
        let during: Vec<usize> = (0..windows.len())
            .filter(|&w| windows[w].0 >= t0 && windows[w].1 <= t1)
            .collect();
        let ids = r.component_ids();
        let series = |name: &str| -> Vec<Values> {
            match ids.iter().find(|c| c.name == name) {
                Some(c) => (0..windows.len()).map(|w| r.window_values(c, w)).collect(),
                None => Vec::new(),
            }
        };
        let span = |set: &[usize]| {
            set.iter()
                .map(|&w| windows[w].1 - windows[w].0)
                .sum::<f64>()
        };
        let hop_of = |client: &str, service: &str| -> Hop {
            let s = series(client);
            let failed = |set: &[usize]| {
                let n: u64 = set
                    .iter()
                    .filter_map(|&w| s.get(w))
                    .map(|v| {
                        v.timeouts.unwrap_or(0)
                            + v.errors.unwrap_or(0)
                            + v.rejected.unwrap_or(0)
                            + v.dns_failures.unwrap_or(0)
                    })
                    .sum();
                let len = span(set);
                if len > 0.0 { n as f64 / len } else { 0.0 }
            };
            let p99 = |set: &[usize]| {
                let xs: Vec<f64> = set
                    .iter()
                    .filter_map(|&w| s.get(w)?.call_all?.p99)
                    .map(|ns| ns as f64 / 1e6)
                    .collect();
                (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64)
            };
            Hop {
                client: client.to_string(),
                service: service.to_string(),
                failed_before_per_s: failed(&before),
                failed_during_per_s: failed(&during),
                p99_before_ms: p99(&before),
                p99_during_ms: p99(&during),
            }
        };
        let mut flows = Vec::new();
        for cl in &world.clients {
            if matches!(cl.mode, Mode::Downstream) {
                continue;
            }
            let s = series(&cl.name);
            let ok = |w: usize| s.get(w).and_then(|v| v.successes).unwrap_or(0) as f64;
            // Calls ended: successes and give-ups (a window's count is not blurred by calls
            // still in flight at its edges, as calls started would be).
            let tries = |w: usize| {
                s.get(w)
                    .map(|v| v.successes.unwrap_or(0) + v.give_ups.unwrap_or(0))
                    .unwrap_or(0) as f64
            };
            let base_len = span(&before);
            let base_tries: f64 = before.iter().map(|&w| tries(w)).sum();
            let baseline =
                (base_len > 0.0).then(|| before.iter().map(|&w| ok(w)).sum::<f64>() / base_len);
            // Baseline success ratio: successes per call started.
            let ratio = (base_tries > 0.0)
                .then(|| (before.iter().map(|&w| ok(w)).sum::<f64>() / base_tries).min(1.0));
            let mut impact: Option<(f64, f64)> = None;
            let mut impacted = Vec::new();
            if let Some(rb) = ratio {
                for (w, &(a, e)) in windows.iter().enumerate() {
                    if a < t0 || tries(w) == 0.0 {
                        continue;
                    }
                    if ok(w) < sc.recovery_fraction * rb * tries(w) {
                        impact = Some((impact.map_or(a, |i| i.0), e));
                    }
                }
                if let Some((a, e)) = impact {
                    impacted.extend(
                        (0..windows.len()).filter(|&w| windows[w].0 >= a && windows[w].1 <= e),
                    );
                }
            }
            let rb = ratio.unwrap_or(0.0);
            let lost = impacted
                .iter()
                .map(|&w| rb * tries(w) - ok(w))
                .sum::<f64>()
                .max(0.0);
            let demand: f64 = during.iter().map(|&w| rb * tries(w)).sum();
            let lost_fraction = (demand > 0.0).then(|| lost / demand);
            // Shortest path in the call graph from the flow to a failed service.
            let path = shortest_path(world, cl.target, &failed);
            let (hops, fail) = match &path {
                Some((edges, end)) => {
                    let mut hops = vec![hop_of(&cl.name, &world.services[cl.target as usize].name)];
                    for &e in edges {
                        let ec = &world.clients[e as usize];
                        hops.push(hop_of(&ec.name, &world.services[ec.target as usize].name));
                    }
                    (hops, failed.get(end).map(|f| (*end, f.clone())))
                }
                None => (Vec::new(), None),
            };
            let confirmed = hops.last().is_some_and(|h| h.rose(baseline.unwrap_or(0.0)));
            flows.push(FlowImpact {
                flow: cl.name.clone(),
                baseline_ok_per_s: baseline,
                lost_requests: lost,
                lost_fraction,
                impact,
                failed: fail
                    .as_ref()
                    .map(|(s, (why, _))| (world.services[*s as usize].name.clone(), why.clone())),
                trigger: fail.map(|f| f.1.1).unwrap_or_default(),
                hops,
                confirmed,
            });
        }
        Some(BlastRadius {
            variant: sc.variant_name().to_string(),
            seed: r.seed,
            trigger: (t0, t1),
            flows,
        })
    }

    /// `blast_radius.csv`: one row per flow.
    pub fn csv(&self) -> Result<Vec<u8>, csv::Error> {
        let mut w = csv::Writer::from_writer(Vec::new());
        w.write_record([
            "variant",
            "seed",
            "flow",
            "trigger",
            "trigger_from_s",
            "trigger_to_s",
            "baseline_ok_per_s",
            "lost_requests",
            "lost_fraction",
            "impact_from_s",
            "impact_to_s",
            "impact_s",
            "failed_service",
            "path",
            "confirmed",
            "hops",
        ])?;
        let o = |x: Option<f64>| x.map_or(String::new(), |x| x.to_string());
        for f in &self.flows {
            let hops: Vec<String> = f
                .hops
                .iter()
                .map(|h| {
                    format!(
                        "{}: failed {:.3}->{:.3}/s p99 {}->{} ms",
                        h.client,
                        h.failed_before_per_s,
                        h.failed_during_per_s,
                        h.p99_before_ms.map_or("-".into(), |x| format!("{x:.1}")),
                        h.p99_during_ms.map_or("-".into(), |x| format!("{x:.1}")),
                    )
                })
                .collect();
            w.write_record([
                self.variant.clone(),
                self.seed.to_string(),
                f.flow.clone(),
                f.trigger.clone(),
                self.trigger.0.to_string(),
                self.trigger.1.to_string(),
                o(f.baseline_ok_per_s),
                f.lost_requests.to_string(),
                o(f.lost_fraction),
                o(f.impact.map(|i| i.0)),
                o(f.impact.map(|i| i.1)),
                o(f.impact.map(|i| i.1 - i.0)),
                f.failed.as_ref().map_or(String::new(), |x| x.0.clone()),
                f.path(),
                f.confirmed.to_string(),
                hops.join("; "),
            ])?;
        }
        w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
    }

    /// The summary's section.
    pub fn text(&self) -> String {
        let mut s = format!(
            "blast radius ({} · trigger [{:.0} s, {:.0} s]):\n",
            self.variant, self.trigger.0, self.trigger.1
        );
        for f in &self.flows {
            let impact = f.impact.map_or("no impact".to_string(), |(a, b)| {
                format!("impact [{a:.0} s, {b:.0} s] = {:.0} s", b - a)
            });
            let _ = writeln!(
                s,
                "  {:<14} lost {:.0} requests ({}) · {impact}",
                f.flow,
                f.lost_requests,
                f.lost_fraction.map_or("-".into(), |x| format!(
                    "{:.1} % of the trigger's demand",
                    100.0 * x
                )),
            );
            if f.failed.is_some() {
                let _ = writeln!(
                    s,
                    "    path {} ({}, {})",
                    f.path(),
                    f.trigger,
                    if f.confirmed {
                        "confirmed by the last hop's metrics"
                    } else {
                        "NOT confirmed: the last hop's failures and latency did not rise"
                    }
                );
                for h in &f.hops {
                    let _ = writeln!(
                        s,
                        "      {:<18} failed {:.2} -> {:.2}/s · p99 {} -> {} ms",
                        h.client,
                        h.failed_before_per_s,
                        h.failed_during_per_s,
                        h.p99_before_ms.map_or("-".into(), |x| format!("{x:.1}")),
                        h.p99_during_ms.map_or("-".into(), |x| format!("{x:.1}")),
                    );
                }
            } else {
                let _ = writeln!(s, "    no call path reaches the failed part");
            }
        }
        s
    }
}

/// Breadth-first from service `start` through the services' call edges to the nearest
/// failed service: the downstream clients (edges) on the way and the service it ends at.
fn shortest_path<T>(
    world: &models::WorldSpec,
    start: u32,
    failed: &BTreeMap<u32, T>,
) -> Option<(Vec<u32>, u32)> {
    let n = world.services.len();
    let mut prev: Vec<Option<(u32, u32)>> = vec![None; n]; // (previous service, edge client)
    let mut seen = vec![false; n];
    let mut queue = VecDeque::from([start]);
    *seen.get_mut(start as usize)? = true;
    while let Some(s) = queue.pop_front() {
        if failed.contains_key(&s) {
            let mut edges = Vec::new();
            let mut at = s;
            while let Some((p, e)) = prev[at as usize] {
                edges.push(e);
                at = p;
            }
            edges.reverse();
            return Some((edges, s));
        }
        for &e in &world.services[s as usize].calls {
            let t = world.clients[e as usize].target;
            if !seen[t as usize] {
                seen[t as usize] = true;
                prev[t as usize] = Some((s, e));
                queue.push_back(t);
            }
        }
    }
    None
}

/// An action kind as written in a file (`error_rate`).
fn snake(kind: crate::scenario::common::ActionKind) -> String {
    let mut out = String::new();
    for (i, c) in format!("{kind:?}").chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}
