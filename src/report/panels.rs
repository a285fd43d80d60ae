//! A run's dashboard as a [`Figure`]: which panels it gets, from what the scenario has, and
//! what marks the time axis. An incident replay's dashboard is its timeline.
//!
//! Panels, in this order, each only when the run has something to show in it:
//!
//! | panel | when | what |
//! |---|---|---|
//! | demand and goodput | always | attempts, first tries and goodput (req/s), baseline dashed |
//! | success ratio | a trigger | successes ÷ first tries (%), the recovery threshold dashed |
//! | DNS record | DNS automation | records empty (mean per window) |
//! | DNS failures | a client saw one | calls failed by DNS (calls/s) |
//! | leases | a lease manager | leases held (% of droplets) |
//! | load balancer | a load balancer | healthy and in-service targets |
//! | propagation backlog | a backlog built | items waiting to propagate |
//! | config push | a config push | machines holding a bad file (%) |
//! | crashed | crash loops, edge nodes | tasks or nodes down |
//! | cache | a client cache | hit rate (%) |
//! | retries | any retry | retries/s, and what the client's policy refused |
//! | servers | an autoscaler | servers in service and launches in flight per scaled service |
//! | hedges | a hedging client or source | hedges sent, won, refused by the budget (copies/s) |
//! | queues | a queue built | queue length per service |
//! | latency | calls ended | the first client's end-to-end latency, log scale |
//!
//! Marks on every panel: the trigger the verdict uses (`RunReport::trigger_s`: measured by the
//! `[incident] trigger` probe when the file has one) shaded; each operator page and action
//! (the `[[operators]]` policies' log, and timed operator actions) as a numbered marker; the
//! recovery instant. The sustaining loop is named in the title.

use crate::analysis::recovery::Analysis;
use crate::report::clock::TimeAxis;
use crate::report::figure::{Band, Curve, Figure, HLine, Marker, MarkerKind, Panel, PanelKind};
use crate::report::palette::{self, BLUE, GREEN, ORANGE, PURPLE, SKY, VERMILLION};
use crate::run::RunReport;
use crate::run::metrics::{ComponentIds, Values};
use crate::scenario::Kind;

/// The success-ratio panel's ceiling (%): a window's ratio can pass 100 %.
pub const SUCCESS_CLIP: f64 = 110.0;

/// Components of one kind drawn per panel, at most (the largest first).
pub const MAX_LINES: usize = 6;

impl RunReport {
    /// The figure's time axis: the incident's clock when `[incident] start_clock` is set.
    pub fn time_axis(&self) -> TimeAxis {
        match self
            .scenario
            .incident
            .as_ref()
            .and_then(|i| i.start_clock.clone())
        {
            Some(c) => TimeAxis::Clock(c),
            None => TimeAxis::Seconds,
        }
    }

    /// The shaded trigger: the one the verdict uses, to the end of the run if it had not ended.
    pub fn trigger_band(&self, a: &Analysis) -> Option<Band> {
        let from = a.trigger_start_s?;
        let end = self.stats.end.as_secs_f64();
        let to = a.trigger_end_s.unwrap_or(end).min(end);
        let label = if self.scenario.world.trigger_probe.is_some() {
            "trigger (measured)"
        } else {
            "trigger"
        };
        Some(Band {
            from_s: from,
            to_s: to.max(from),
            label: label.to_string(),
        })
    }

    /// Operator pages and actions, timed actions and the recovery, in time order.
    pub fn markers(&self, a: &Analysis) -> Vec<Marker> {
        let mut out = Vec::new();
        for o in &self.operators {
            if let Some(t) = o.paged_at {
                out.push(Marker {
                    at_s: t.as_secs_f64(),
                    label: format!("{} paged", o.name),
                    kind: MarkerKind::Paged,
                });
            }
            if let Some(t) = o.acted_at {
                out.push(Marker {
                    at_s: t.as_secs_f64(),
                    label: format!(
                        "{} acts ({} action{})",
                        o.name,
                        o.actions,
                        if o.actions == 1 { "" } else { "s" }
                    ),
                    kind: MarkerKind::Action,
                });
            }
        }
        for (t, label) in &self.scenario.operator_actions {
            out.push(Marker {
                at_s: t.as_secs_f64(),
                label: if label.is_empty() {
                    "operator action".to_string()
                } else {
                    label.clone()
                },
                kind: MarkerKind::Action,
            });
        }
        if let (Some(end), Some(r)) = (a.trigger_end_s, a.recovery_s) {
            out.push(Marker {
                at_s: end + r,
                label: format!("recovered ({} after the trigger)", minutes(r)),
                kind: MarkerKind::Recovery,
            });
        }
        out.sort_by(|x, y| x.at_s.total_cmp(&y.at_s));
        out
    }

    /// The dashboard: panels chosen from what the run has (module header).
    pub fn dashboard(&self) -> Figure {
        let a = self.analysis();
        let loops = self.loops(&a);
        let name = match &self.scenario.variant {
            Some(v) => format!("{} · {v}", self.scenario.name),
            None => self.scenario.name.clone(),
        };
        let title = match (loops.primary(), &self.scenario.incident) {
            (Some(p), _) => format!("{name} — sustained by {} at {}", p.name, p.at),
            (None, Some(_)) if a.trigger_start_s.is_some() => {
                format!("{name} — {}, no sustaining loop found", a.verdict.as_str())
            }
            _ => name,
        };
        let recovery = match (a.recovery_s, a.projected_recovery_s) {
            (Some(r), _) => format!("recovered {} after the trigger", minutes(r)),
            (None, Some((p, _, _))) => format!("projected recovery {}", minutes(p)),
            _ if a.trigger_start_s.is_some() => "not recovered".to_string(),
            _ => "no trigger".to_string(),
        };
        let mut subtitle = format!(
            "seed {} · verdict {} · {recovery} · operators: {}",
            self.seed,
            a.verdict.as_str(),
            self.scenario.operator_mode.as_str()
        );
        if let Some(inc) = &self.scenario.incident {
            subtitle = format!("{} · {subtitle}", inc.title);
        }
        let n = self.rec.n_windows();
        let t_s = (0..n)
            .map(|w| self.rec.window_bounds(w).0.as_secs_f64())
            .collect();
        let panels = self.panels(&a);
        let columns = if panels.len() > 4 { 2 } else { 1 };
        Figure {
            title,
            subtitle,
            axis: self.time_axis(),
            t_s,
            window_s: self.scenario.window.as_secs_f64(),
            bands: self.trigger_band(&a).into_iter().collect(),
            markers: self.markers(&a),
            panels,
            columns,
            shared_y: false,
            panel_h: if columns == 1 { 300 } else { 330 },
        }
    }

    /// The dashboard's panels (see the module header).
    pub fn panels(&self, a: &Analysis) -> Vec<Panel> {
        let n = self.rec.n_windows();
        let ids = self.component_ids();
        let of = |k: &[Kind]| -> Vec<(&ComponentIds, Vec<Row>)> {
            ids.iter()
                .filter(|c| k.contains(&c.kind))
                .map(|c| {
                    (
                        c,
                        (0..n).map(|w| Row::of(&self.window_values(c, w))).collect(),
                    )
                })
                .collect()
        };
        let clients = of(&[Kind::Client, Kind::Source]);
        let services = of(&[Kind::Service]);
        let len = |w: usize| {
            let (s, e) = self.rec.window_bounds(w);
            e.since(s).as_secs_f64().max(1e-9)
        };
        let per_s = |get: &dyn Fn(&Row) -> Option<u64>, vals: &[&Vec<Row>]| -> Vec<f64> {
            (0..n)
                .map(|w| {
                    let sum: u64 = vals.iter().filter_map(|v| get(&v[w])).sum();
                    sum as f64 / len(w)
                })
                .collect()
        };
        let cv: Vec<&Vec<Row>> = clients.iter().map(|c| &c.1).collect();
        let mut out = Vec::new();

        // Demand and goodput.
        let first = per_s(&|v| v.first_tries, &cv);
        let retries = per_s(&|v| v.retries, &cv);
        let mut load = Panel::new(PanelKind::Load, "Demand and goodput", "requests / s");
        load.curves.push(
            Curve::of(
                "attempts (first tries + retries)",
                ORANGE,
                &first
                    .iter()
                    .zip(&retries)
                    .map(|(f, r)| f + r)
                    .collect::<Vec<_>>(),
            )
            .width(2),
        );
        load.curves
            .push(Curve::of("first tries", SKY, &first).width(2));
        load.curves
            .push(Curve::of("goodput (successful calls)", BLUE, &a.goodput_per_s).width(4));
        if let Some(b) = a.baseline_goodput_per_s {
            load.hlines.push(HLine {
                label: "baseline goodput".into(),
                y: b,
            });
        }
        out.push(load);

        // Success ratio with the recovery threshold.
        if a.trigger_start_s.is_some() {
            let ok = per_s(&|v| v.successes, &cv);
            // A window's successes can outnumber its first tries (retries of earlier calls
            // succeed): drawn clipped at SUCCESS_CLIP %, and the legend says so.
            let ratio: Vec<Option<f64>> = ok
                .iter()
                .zip(&first)
                .map(|(s, f)| (*f > 0.0).then(|| 100.0 * s / f))
                .collect();
            let clipped = ratio.iter().flatten().any(|r| *r > SUCCESS_CLIP);
            let ratio = ratio
                .into_iter()
                .map(|r| r.map(|r| r.min(SUCCESS_CLIP)))
                .collect();
            let mut p = Panel::new(
                PanelKind::Success,
                "Success ratio: successful calls ÷ first tries",
                "% of first tries",
            );
            p.y_max = Some(100.0);
            let label = if clipped {
                format!("success ratio (clipped at {SUCCESS_CLIP} %)")
            } else {
                "success ratio".to_string()
            };
            p.curves.push(Curve::new(&label, BLUE, ratio));
            if let Some(t) = a.threshold_ratio {
                p.hlines.push(HLine {
                    label: format!(
                        "recovery threshold ({:.0} % of baseline)",
                        100.0 * self.scenario.recovery_fraction
                    ),
                    y: 100.0 * t,
                });
            }
            out.push(p);
        }

        let dns = of(&[Kind::DnsAutomation]);
        if !dns.is_empty() {
            let mut p = Panel::new(
                PanelKind::DnsRecord,
                "DNS: empty authoritative records",
                "records empty",
            );
            for (i, (c, v)) in dns.iter().take(MAX_LINES).enumerate() {
                let vals = v.iter().map(|x| x.records_empty_mean).collect();
                p.curves
                    .push(series(i, &format!("{} records empty", c.name), vals).filled());
            }
            out.push(p);
        }
        let dns_fail: Vec<_> = clients
            .iter()
            .filter(|(_, v)| v.iter().any(|x| x.dns_failures.unwrap_or(0) > 0))
            .collect();
        if !dns_fail.is_empty() {
            let mut p = Panel::new(
                PanelKind::DnsFailures,
                "Calls failed by DNS (empty answer, fresh or cached)",
                "calls / s",
            );
            for (i, (c, v)) in top(dns_fail, |v| v.dns_failures.unwrap_or(0) as f64) {
                let vals = (0..n)
                    .map(|w| v[w].dns_failures.map(|d| d as f64 / len(w)))
                    .collect();
                p.curves.push(series(i, &c.name, vals));
            }
            out.push(p);
        }
        let leases = of(&[Kind::LeaseManager]);
        if !leases.is_empty() {
            let mut p = Panel::new(PanelKind::Leases, "Leases held", "% of droplets");
            p.y_max = Some(100.0);
            for (i, (c, v)) in leases.iter().take(MAX_LINES).enumerate() {
                let vals = v
                    .iter()
                    .map(|x| x.lease_fraction_mean.map(|f| 100.0 * f))
                    .collect();
                p.curves
                    .push(series(i, &format!("{} leases held", c.name), vals));
            }
            out.push(p);
        }
        let lbs = of(&[Kind::LoadBalancer]);
        if !lbs.is_empty() {
            let mut p = Panel::new(
                PanelKind::LoadBalancer,
                "Load balancer capacity: healthy and in-service targets",
                "targets",
            );
            for (c, v) in lbs.iter().take(MAX_LINES / 2) {
                let healthy = v.iter().map(|x| x.targets_healthy_mean).collect();
                let serving = v.iter().map(|x| x.targets_in_service_mean).collect();
                p.curves
                    .push(Curve::new(&format!("{} healthy", c.name), GREEN, healthy).dashed());
                p.curves
                    .push(Curve::new(&format!("{} in service", c.name), BLUE, serving));
            }
            out.push(p);
            let backlog: Vec<_> = lbs
                .iter()
                .filter(|(_, v)| v.iter().any(|x| x.netmgr_backlog_mean.unwrap_or(0.0) > 0.0))
                .collect();
            if !backlog.is_empty() {
                let mut p = Panel::new(
                    PanelKind::Propagation,
                    "Network propagation backlog",
                    "items waiting",
                );
                for (i, (c, v)) in backlog.iter().take(MAX_LINES).enumerate() {
                    let vals = v.iter().map(|x| x.netmgr_backlog_mean).collect();
                    p.curves.push(series(i, &c.name, vals).filled());
                }
                out.push(p);
            }
        }
        let pushes = of(&[Kind::ConfigPush]);
        if !pushes.is_empty() {
            let mut p = Panel::new(
                PanelKind::ConfigPush,
                "Config push: machines holding a bad file",
                "% of machines",
            );
            p.y_max = Some(100.0);
            for (i, (c, v)) in pushes.iter().take(MAX_LINES).enumerate() {
                let vals = v
                    .iter()
                    .map(|x| x.bad_servers_mean.map(|f| 100.0 * f))
                    .collect();
                p.curves.push(series(i, &c.name, vals).filled());
            }
            out.push(p);
        }
        let crashed: Vec<_> = services
            .iter()
            .filter(|(_, v)| v.iter().any(|x| x.tasks_down_mean.is_some()))
            .collect();
        if !crashed.is_empty() {
            let mut p = Panel::new(
                PanelKind::Crashed,
                "Crashed tasks and edge nodes (down, restarting or reloading)",
                "tasks down",
            );
            for (i, (c, v)) in top(crashed, |v| v.tasks_down_mean.unwrap_or(0.0)) {
                p.curves.push(series(
                    i,
                    &c.name,
                    v.iter().map(|x| x.tasks_down_mean).collect(),
                ));
            }
            out.push(p);
        }
        let cached: Vec<_> = clients
            .iter()
            .filter(|(_, v)| v.iter().any(|x| x.cache_hits.is_some()))
            .collect();
        if !cached.is_empty() {
            let mut p = Panel::new(PanelKind::Cache, "Cache hit rate", "% of lookups");
            p.y_max = Some(100.0);
            for (i, (c, v)) in cached.iter().take(MAX_LINES).enumerate() {
                let vals = v.iter().map(|x| x.hit_rate.map(|h| 100.0 * h)).collect();
                p.curves.push(series(i, &c.name, vals));
            }
            out.push(p);
        }
        if retries.iter().any(|r| *r > 0.0) {
            let mut p = Panel::new(PanelKind::Retries, "Retries", "attempts / s");
            p.curves.push(Curve::of("retries", PURPLE, &retries));
            let refused = per_s(&|v| Some(v.refused), &cv);
            if refused.iter().any(|r| *r > 0.0) {
                p.curves.push(
                    Curve::of(
                        "refused by the client (budget, breaker, throttle)",
                        GREEN,
                        &refused,
                    )
                    .dashed(),
                );
            }
            out.push(p);
        }
        let scaled: Vec<_> = services
            .iter()
            .filter(|(_, v)| v.iter().any(|x| x.servers_mean.is_some()))
            .collect();
        if !scaled.is_empty() {
            let mut p = Panel::new(
                PanelKind::Servers,
                "Autoscaled servers (in service, solid; launches in flight, dashed)",
                "servers",
            );
            for (i, (c, v)) in top(scaled, |v| v.servers_max.unwrap_or(0.0)) {
                p.curves.push(series(
                    i,
                    &c.name,
                    v.iter().map(|x| x.servers_mean).collect(),
                ));
                let pending = v.iter().map(|x| x.servers_pending_mean).collect();
                p.curves
                    .push(series(i, &format!("{} launching", c.name), pending).dashed());
            }
            out.push(p);
        }
        let hedging: Vec<&Vec<Row>> = clients
            .iter()
            .filter(|(_, v)| v.iter().any(|x| x.hedges.is_some()))
            .map(|c| &c.1)
            .collect();
        if !hedging.is_empty() {
            let mut p = Panel::new(PanelKind::Hedges, "Hedged requests", "copies / s");
            let sent = per_s(&|v| v.hedges, &hedging);
            p.curves.push(Curve::of("hedges sent", PURPLE, &sent));
            let wins = per_s(&|v| v.hedge_wins, &hedging);
            p.curves
                .push(Curve::of("hedge answered first", GREEN, &wins));
            let denied = per_s(&|v| v.hedges_denied, &hedging);
            if denied.iter().any(|r| *r > 0.0) {
                p.curves
                    .push(Curve::of("refused by the budget", ORANGE, &denied).dashed());
            }
            out.push(p);
        }
        let queued: Vec<_> = services
            .iter()
            .filter(|(_, v)| v.iter().any(|x| x.queue_len_mean.unwrap_or(0.0) >= 0.5))
            .collect();
        if !queued.is_empty() {
            let mut p = Panel::new(
                PanelKind::Queue,
                "Queue length (time-weighted mean per window)",
                "requests queued",
            );
            for (i, (c, v)) in top(queued, |v| v.queue_len_mean.unwrap_or(0.0)) {
                p.curves.push(series(
                    i,
                    &c.name,
                    v.iter().map(|x| x.queue_len_mean).collect(),
                ));
            }
            out.push(p);
        }
        if let Some((c, v)) = clients.first()
            && v.iter().any(|x| x.call_all_p99.is_some())
        {
            let ms = |q: Option<u64>| q.map(|ns| ns as f64 / 1e6);
            let mut p = Panel::new(
                PanelKind::Latency,
                &format!("Call latency of {}, end to end (log scale)", c.name),
                "ms",
            );
            p.log_y = true;
            p.curves.push(Curve::new(
                "p50 ok",
                BLUE,
                v.iter().map(|x| ms(x.call_ok_p50)).collect(),
            ));
            p.curves.push(Curve::new(
                "p99 ok",
                ORANGE,
                v.iter().map(|x| ms(x.call_ok_p99)).collect(),
            ));
            p.curves.push(
                Curve::new(
                    "p99 of every call (failed: until it gave up)",
                    VERMILLION,
                    v.iter().map(|x| ms(x.call_all_p99)).collect(),
                )
                .dashed(),
            );
            out.push(p);
        }
        out
    }
}

/// What the panels read of one component's [`Values`] in one window (a fifth of its size: a
/// long run keeps a row per window and client or service while the dashboard is drawn).
#[derive(Clone, Copy, Debug)]
struct Row {
    first_tries: Option<u64>,
    retries: Option<u64>,
    successes: Option<u64>,
    dns_failures: Option<u64>,
    cache_hits: Option<u64>,
    hit_rate: Option<f64>,
    /// Attempts the client's policy refused: retry budget, circuit breaker, throttle.
    refused: u64,
    hedges: Option<u64>,
    hedge_wins: Option<u64>,
    hedges_denied: Option<u64>,
    call_ok_p50: Option<u64>,
    call_ok_p99: Option<u64>,
    call_all_p99: Option<u64>,
    records_empty_mean: Option<f64>,
    lease_fraction_mean: Option<f64>,
    targets_healthy_mean: Option<f64>,
    targets_in_service_mean: Option<f64>,
    netmgr_backlog_mean: Option<f64>,
    bad_servers_mean: Option<f64>,
    tasks_down_mean: Option<f64>,
    servers_mean: Option<f64>,
    servers_max: Option<f64>,
    servers_pending_mean: Option<f64>,
    queue_len_mean: Option<f64>,
}

impl Row {
    fn of(v: &Values) -> Row {
        Row {
            first_tries: v.first_tries,
            retries: v.retries,
            successes: v.successes,
            dns_failures: v.dns_failures,
            cache_hits: v.cache_hits,
            hit_rate: v.hit_rate(),
            refused: v.budget_exhausted.unwrap_or(0)
                + v.circuit_open.unwrap_or(0)
                + v.throttled.unwrap_or(0),
            hedges: v.hedges,
            hedge_wins: v.hedge_wins,
            hedges_denied: v.hedges_denied,
            call_ok_p50: v.call_ok.and_then(|h| h.p50),
            call_ok_p99: v.call_ok.and_then(|h| h.p99),
            call_all_p99: v.call_all.and_then(|h| h.p99),
            records_empty_mean: v.records_empty_mean,
            lease_fraction_mean: v.lease_fraction_mean,
            targets_healthy_mean: v.targets_healthy_mean,
            targets_in_service_mean: v.targets_in_service_mean,
            netmgr_backlog_mean: v.netmgr_backlog_mean,
            bad_servers_mean: v.bad_servers_mean,
            tasks_down_mean: v.tasks_down_mean,
            servers_mean: v.servers_mean,
            servers_max: v.servers_max,
            servers_pending_mean: v.servers_pending_mean,
            queue_len_mean: v.queue_len_mean,
        }
    }
}

fn series(i: usize, label: &str, values: Vec<Option<f64>>) -> Curve {
    let (color, dashed) = palette::series(i);
    let c = Curve::new(label, color, values);
    if dashed { c.dashed() } else { c }
}

/// The components with the largest peak of `f`, at most [`MAX_LINES`], with their colour index.
fn top<'a>(
    mut comps: Vec<&'a (&'a ComponentIds, Vec<Row>)>,
    f: impl Fn(&Row) -> f64,
) -> Vec<(usize, &'a (&'a ComponentIds, Vec<Row>))> {
    let peak = |v: &Vec<Row>| v.iter().map(&f).fold(0.0, f64::max);
    comps.sort_by(|a, b| peak(&b.1).total_cmp(&peak(&a.1)));
    comps.into_iter().take(MAX_LINES).enumerate().collect()
}

/// `45 s`, `12 min`, `2 h 07 min`.
pub fn minutes(s: f64) -> String {
    if !s.is_finite() {
        return "—".into();
    }
    if s < 120.0 {
        format!("{s:.0} s")
    } else if s < 7200.0 {
        format!("{:.0} min", s / 60.0)
    } else {
        let m = (s / 60.0).round() as i64;
        format!("{} h {:02} min", m / 60, m % 60)
    }
}
