//! DNS failover timings (docs/providers.md): for each failover (and failback) of a client's
//! record, the parts of the failover time as the run produced them —
//! - *detect*: the trigger's start (its end, for a failback) → the health checker's decision
//!   (`unhealthy_after` failed checks, each `check_interval` apart, plus the phase of the
//!   first check);
//! - *record*: decision → the new record served (`propagation_s`);
//! - *caching*: record change → the last call a host still started towards the old endpoint
//!   (resolver TTLs and connection lifetimes);
//! - *total*: trigger → the last client moved.
//!
//! And the summary line of each client-side endpoint failover (`endpoint_failover`): its
//! switches away and back, each after the trigger edge it answers, and its probes.

use std::fmt::Write as _;

use crate::run::RunReport;

/// One failover or failback of one client.
#[derive(Clone, Debug, PartialEq)]
pub struct FailoverTiming {
    pub client: String,
    /// `failover` (primary → secondary) or `failback`.
    pub direction: &'static str,
    /// The trigger edge it answers: its start for a failover, its end for a failback.
    pub trigger_s: Option<f64>,
    pub decided_s: f64,
    pub record_changed_s: f64,
    pub last_old_call_s: Option<f64>,
}

impl FailoverTiming {
    pub fn detect_s(&self) -> Option<f64> {
        self.trigger_s.map(|t| self.decided_s - t)
    }
    pub fn record_s(&self) -> f64 {
        self.record_changed_s - self.decided_s
    }
    /// Record change → last call to the old endpoint (0 when none came after the change).
    pub fn caching_s(&self) -> f64 {
        self.last_old_call_s
            .map_or(0.0, |l| (l - self.record_changed_s).max(0.0))
    }
    /// Trigger → last client moved.
    pub fn total_s(&self) -> Option<f64> {
        let moved = self
            .last_old_call_s
            .unwrap_or(self.record_changed_s)
            .max(self.record_changed_s);
        self.trigger_s.map(|t| moved - t)
    }
}

/// Every failover of a run, in client then time order (empty without `dns.failover`).
pub fn timings(r: &RunReport) -> Vec<FailoverTiming> {
    let secs = |t: sim_core::SimTime| t.as_secs_f64();
    let mut out = Vec::new();
    for (client, log) in &r.dns_failover {
        for e in &log.episodes {
            let decided = secs(e.decided);
            // The trigger edge at or before the decision: the latest start (failover) or end
            // (failback) not after it.
            let trigger_s = r
                .scenario
                .triggers
                .iter()
                .map(|t| secs(if e.to_secondary { t.0 } else { t.1 }))
                .filter(|&t| t <= decided)
                .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
            out.push(FailoverTiming {
                client: client.clone(),
                direction: if e.to_secondary {
                    "failover"
                } else {
                    "failback"
                },
                trigger_s,
                decided_s: decided,
                record_changed_s: secs(e.record_changed),
                last_old_call_s: e.last_old_call.map(secs),
            });
        }
    }
    out
}

/// `failover.csv`: one row per failover or failback.
pub fn csv(r: &RunReport) -> Result<Vec<u8>, csv::Error> {
    let mut w = csv::Writer::from_writer(Vec::new());
    w.write_record([
        "variant",
        "seed",
        "client",
        "direction",
        "trigger_s",
        "decided_s",
        "record_changed_s",
        "last_old_call_s",
        "detect_s",
        "record_s",
        "caching_s",
        "total_s",
        "checks",
        "checks_failed",
    ])?;
    let o = |x: Option<f64>| x.map_or(String::new(), |x| x.to_string());
    for t in timings(r) {
        let log = r
            .dns_failover
            .iter()
            .find(|(c, _)| *c == t.client)
            .map(|x| &x.1);
        w.write_record([
            r.scenario.variant_name().to_string(),
            r.seed.to_string(),
            t.client.clone(),
            t.direction.to_string(),
            o(t.trigger_s),
            t.decided_s.to_string(),
            t.record_changed_s.to_string(),
            o(t.last_old_call_s),
            o(t.detect_s()),
            t.record_s().to_string(),
            t.caching_s().to_string(),
            o(t.total_s()),
            log.map_or(String::new(), |l| l.checks.to_string()),
            log.map_or(String::new(), |l| l.checks_failed.to_string()),
        ])?;
    }
    w.into_inner().map_err(|e| csv::Error::from(e.into_error()))
}

/// The summary's sections (empty without `dns.failover` and `endpoint_failover`).
pub fn text(r: &RunReport) -> String {
    let mut s = dns_text(r);
    s.push_str(&endpoint_text(r));
    s
}

/// Each client-side endpoint failover's switches, relative to the latest trigger edge at or
/// before them (a start for a switch away, an end for a switch back), and its probes.
fn endpoint_text(r: &RunReport) -> String {
    if r.endpoint_failover.is_empty() {
        return String::new();
    }
    let mut s = format!(
        "endpoint failover ({}):
",
        r.scenario.variant_name()
    );
    let edges = trigger_edges(r);
    for (client, log) in &r.endpoint_failover {
        let mut line = format!(
            "  {client:<14} probes {} ({} failed)",
            log.probes, log.probes_failed
        );
        if log.switches.is_empty() {
            line.push_str(" · never switched");
        }
        for sw in &log.switches {
            let at = sw.at.as_secs_f64();
            let since = edges
                .iter()
                .filter(|&&(t, start)| start == sw.to_secondary && t <= at)
                .map(|&(t, _)| t)
                .fold(None, |m: Option<f64>, t| Some(m.map_or(t, |m| m.max(t))));
            let _ = write!(
                line,
                " · {} at {at:.1} s{}",
                if sw.to_secondary { "away" } else { "back" },
                since.map_or(String::new(), |t| format!(" (+{:.1} s)", at - t))
            );
        }
        s.push_str(&line);
        s.push('\n');
    }
    s
}

/// Every trigger's start (`true`) and end (`false`), in seconds.
fn trigger_edges(r: &RunReport) -> Vec<(f64, bool)> {
    let mut v = Vec::new();
    for t in &r.scenario.triggers {
        v.push((t.0.as_secs_f64(), true));
        v.push((t.1.as_secs_f64(), false));
    }
    v
}

fn dns_text(r: &RunReport) -> String {
    if r.dns_failover.is_empty() {
        return String::new();
    }
    let mut s = format!("dns failover ({}):\n", r.scenario.variant_name());
    let ts = timings(r);
    if ts.is_empty() {
        s.push_str("  no failover: the health checks never crossed their threshold\n");
    }
    let o = |x: Option<f64>| x.map_or("-".to_string(), |x| format!("{x:.1} s"));
    for t in ts {
        let _ = writeln!(
            s,
            "  {:<14} {:<8} at {:.1} s · detect {} + record {:.1} s + caching {:.1} s = {} after the trigger",
            t.client,
            t.direction,
            t.decided_s,
            o(t.detect_s()),
            t.record_s(),
            t.caching_s(),
            o(t.total_s()),
        );
    }
    s
}
