//! Providers, regions and zones (`[[providers]]`, `services[..].provider/region/zone`) and
//! triggers scoped to one of them (`[[triggers]] scope = "provider"`): the file schema, its
//! validation, and the [`Topology`] the blast-radius report reads (docs/providers.md).
//!
//! A provider can sit *behind* others (`behind = ["cdn"]`: its own front door, DDoS
//! protection or object storage is that provider). A trigger on a provider applies to every
//! service of that provider and, transitively, of every provider behind it. A trigger on a
//! region or a zone applies to the services tagged with it. The scoped trigger is expanded
//! here into the ordinary per-service actions (`outage`, `error_rate`, `slowdown`,
//! `partition`), so the world never needs to know about providers: the failure a user sees
//! emerges from the call graph.

use std::collections::{BTreeMap, BTreeSet};

use serde::Deserialize;
use sim_core::SimTime;

use super::common::*;
use super::locate::FieldPath;
use super::schema::ScenarioFile;

/// Most `[[providers]]` entries in one file.
pub const MAX_PROVIDERS: usize = 1000;
/// Most providers one provider can sit behind.
pub const MAX_BEHIND: usize = 64;

/// `[[providers]]`: a provider and the providers it sits behind.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ProviderFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// Providers this one depends on in front of or beneath its own services (its CDN, its
    /// DDoS protection, its object storage): when one of them fails, so does this one.
    #[serde(default)]
    pub behind: Vec<String>,
}

/// `clients[..].dns.failover`: health-checked DNS failover to a secondary endpoint.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct DnsFailoverFile {
    /// The secondary endpoint: a service (e.g. the same application behind a second CDN).
    pub secondary: String,
    pub check_interval_s: f64,
    /// Consecutive failed checks before the record moves to the secondary.
    pub unhealthy_after: i64,
    /// Consecutive good checks before it moves back (with `failback`).
    pub healthy_after: i64,
    /// From the checker's decision until the new record is served.
    pub propagation_s: f64,
    /// Weighted active–active: the share of answers naming the secondary while both are in
    /// the record (0, the default: active–passive).
    #[serde(default)]
    pub weight_secondary: f64,
    #[serde(default = "yes")]
    pub failback: bool,
}

/// `endpoint_failover = { ... }` on a client or a `[[services.calls]]` entry: the client
/// switches to a second endpoint after consecutive failed calls and probes the first again.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct EndpointFailoverFile {
    /// The second endpoint: a service other than the target.
    pub secondary: String,
    /// Consecutive calls to the target that ended without success before the switch.
    pub after_failures: i64,
    /// Time on the secondary before one call probes the target again.
    pub probe_after_s: f64,
}

/// Why `endpoint_failover` needs a timeout: a call that never ends counts nothing.
pub(super) const NEEDS_TIMEOUT: &str = "needs timeout_ms, patience or deadline_ms: a call to a dark endpoint \
     must end for its failure to count";

fn yes() -> bool {
    true
}

/// Most consecutive checks a failover threshold can ask for.
pub const MAX_CHECK_THRESHOLD: i64 = 1000;

/// What a scoped trigger's `target` names.
#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum ScopeFile {
    Provider,
    Region,
    Zone,
}

impl ScopeFile {
    pub fn as_str(self) -> &'static str {
        match self {
            ScopeFile::Provider => "provider",
            ScopeFile::Region => "region",
            ScopeFile::Zone => "zone",
        }
    }
}

/// Where a service runs.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Placement {
    pub provider: Option<String>,
    pub region: Option<String>,
    pub zone: Option<String>,
}

/// A trigger on a provider, region or zone, as validated.
#[derive(Clone, Debug, PartialEq)]
pub struct ScopedTrigger {
    pub from: SimTime,
    pub to: SimTime,
    pub scope: ScopeFile,
    /// The provider, region or zone named.
    pub target: String,
    /// The action as written (`outage`, `error_rate`, `slowdown`, `partition`).
    pub action: ActionKind,
    /// The trigger's `value` (error rate, slowdown factor), if any.
    pub value: Option<f64>,
    /// Services it applies to (indices into the world's services), ascending.
    pub members: Vec<u32>,
    /// For each member, why it is one: `provider paas (behind cdn)` etc.
    pub reasons: Vec<String>,
}

/// Provider membership of a scenario's services: what the blast-radius report and the
/// dependency figure read. Empty (and unused) when the file has no providers, placements or
/// scoped triggers.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Topology {
    /// `[[providers]]` in file order: name and the providers it sits behind.
    pub providers: Vec<(String, Vec<String>)>,
    /// Per service (world order).
    pub placements: Vec<Placement>,
    pub scoped_triggers: Vec<ScopedTrigger>,
}

impl Validator<'_> {
    /// `endpoint_failover` at `fp` of a client or call edge whose target is service `primary`.
    pub(super) fn endpoint_failover(
        &mut self,
        fp: &FieldPath,
        f: &EndpointFailoverFile,
        primary: u32,
        names: &BTreeMap<String, (Kind, usize)>,
    ) -> models::infra::endpoint_failover::EndpointFailoverSpec {
        let secondary = self.lookup(&fp.key("secondary"), &f.secondary, Kind::Service, names);
        if names
            .get(&f.secondary)
            .is_some_and(|(k, i)| *k == Kind::Service && *i as u32 == primary)
        {
            self.err(
                &fp.key("secondary"),
                "must differ from the target (the primary)",
            );
        }
        let after = self.int_in(
            &fp.key("after_failures"),
            f.after_failures,
            1,
            MAX_CHECK_THRESHOLD,
        );
        let probe = self.positive(&fp.key("probe_after_s"), f.probe_after_s, MAX_DURATION_S);
        models::infra::endpoint_failover::EndpointFailoverSpec {
            secondary,
            after_failures: after as u32,
            probe_after: sim_core::SimDuration::from_secs_f64(probe),
        }
    }
}

impl Topology {
    /// Whether the scenario says anything about providers (the report is written only then).
    pub fn is_used(&self) -> bool {
        !self.providers.is_empty()
            || !self.scoped_triggers.is_empty()
            || self.placements.iter().any(|p| *p != Placement::default())
    }

    /// Providers that `provider` depends on, transitively (itself excluded), in name order.
    pub fn depends_on(&self, provider: &str) -> BTreeSet<String> {
        let mut seen = BTreeSet::new();
        let mut todo = vec![provider.to_string()];
        while let Some(p) = todo.pop() {
            if let Some((_, behind)) = self.providers.iter().find(|(n, _)| *n == p) {
                for b in behind {
                    if b != provider && seen.insert(b.clone()) {
                        todo.push(b.clone());
                    }
                }
            }
        }
        seen
    }

    /// The chain of `behind` links from `provider` to `failed` (both included), if any: the
    /// dependency the operator may not have known about.
    pub fn chain(&self, provider: &str, failed: &str) -> Option<Vec<String>> {
        let mut prev: BTreeMap<String, String> = BTreeMap::new();
        let mut queue = std::collections::VecDeque::from([provider.to_string()]);
        let mut seen = BTreeSet::from([provider.to_string()]);
        while let Some(p) = queue.pop_front() {
            if p == failed {
                let mut path = vec![p.clone()];
                let mut at = p;
                while let Some(q) = prev.get(&at) {
                    path.push(q.clone());
                    at = q.clone();
                }
                path.reverse();
                return Some(path);
            }
            if let Some((_, behind)) = self.providers.iter().find(|(n, _)| *n == p) {
                for b in behind {
                    if seen.insert(b.clone()) {
                        prev.insert(b.clone(), p.clone());
                        queue.push_back(b.clone());
                    }
                }
            }
        }
        None
    }
}

impl Validator<'_> {
    /// `[[providers]]` and the services' placements: names, references, cycles.
    pub(super) fn topology(&mut self, raw: &ScenarioFile) -> Topology {
        let mut providers: Vec<(String, Vec<String>)> = Vec::new();
        if raw.providers.len() > MAX_PROVIDERS {
            self.err(
                &p().key("providers"),
                format!(
                    "at most {MAX_PROVIDERS} providers, got {}",
                    raw.providers.len()
                ),
            );
        }
        let mut known = BTreeSet::new();
        for (i, pf) in raw.providers.iter().enumerate().take(MAX_PROVIDERS) {
            let pp = p().key("providers").index(i);
            self.name(&pp.key("name"), &pf.name);
            if !known.insert(pf.name.clone()) {
                self.err(
                    &pp.key("name"),
                    format!("duplicate provider name {:?}", pf.name),
                );
            }
        }
        for (i, pf) in raw.providers.iter().enumerate().take(MAX_PROVIDERS) {
            let pp = p().key("providers").index(i);
            if pf.behind.len() > MAX_BEHIND {
                self.err(
                    &pp.key("behind"),
                    format!("at most {MAX_BEHIND} providers, got {}", pf.behind.len()),
                );
            }
            let mut behind = Vec::new();
            for (j, b) in pf.behind.iter().enumerate().take(MAX_BEHIND) {
                if !known.contains(b) {
                    self.err(
                        &pp.key("behind").index(j),
                        format!("no provider named {b:?} (known: {})", list(&known)),
                    );
                } else if *b == pf.name {
                    self.err(
                        &pp.key("behind").index(j),
                        format!("provider {b:?} cannot sit behind itself"),
                    );
                } else if !behind.contains(b) {
                    behind.push(b.clone());
                }
            }
            providers.push((pf.name.clone(), behind));
        }
        let mut topo = Topology {
            providers,
            ..Topology::default()
        };
        for (i, (name, _)) in topo.providers.iter().enumerate() {
            if topo.chain_back_to(name) {
                let pp = p().key("providers").index(i).key("behind");
                self.err(
                    &pp,
                    format!("provider {name:?} sits behind itself through a cycle"),
                );
            }
        }
        for (i, s) in raw.services.iter().enumerate() {
            let sp = p().key("services").index(i);
            if let Some(pr) = &s.provider
                && !known.contains(pr)
            {
                self.err(
                    &sp.key("provider"),
                    format!(
                        "no provider named {pr:?} (declare it in [[providers]]; known: {})",
                        list(&known)
                    ),
                );
            }
            for (key, v) in [("region", &s.region), ("zone", &s.zone)] {
                if let Some(v) = v {
                    self.name(&sp.key(key), v);
                }
            }
            topo.placements.push(Placement {
                provider: s.provider.clone(),
                region: s.region.clone(),
                zone: s.zone.clone(),
            });
        }
        topo
    }

    /// The services a trigger scoped to `scope` named `target` applies to, with the reason
    /// for each; an error (and nothing) when the name is unknown, the action cannot be scoped
    /// or nothing is in it.
    pub(super) fn scope_members(
        &mut self,
        tp: &FieldPath,
        scope: ScopeFile,
        target: &str,
        action: ActionKind,
        topo: &Topology,
    ) -> Vec<(u32, String)> {
        if !matches!(
            action,
            ActionKind::Outage
                | ActionKind::ErrorRate
                | ActionKind::Slowdown
                | ActionKind::Partition
        ) {
            self.err(
                &tp.key("action"),
                "a trigger with a scope takes outage, error_rate, slowdown or partition",
            );
            return Vec::new();
        }
        let mut out = Vec::new();
        match scope {
            ScopeFile::Provider => {
                if !topo.providers.iter().any(|(n, _)| n == target) {
                    let names: BTreeSet<String> =
                        topo.providers.iter().map(|(n, _)| n.clone()).collect();
                    self.err(
                        &tp.key("target"),
                        format!("no provider named {target:?} (known: {})", list(&names)),
                    );
                    return Vec::new();
                }
                for (i, pl) in topo.placements.iter().enumerate() {
                    let Some(pr) = &pl.provider else { continue };
                    if pr == target {
                        out.push((i as u32, format!("provider {pr}")));
                    } else if let Some(chain) = topo.chain(pr, target) {
                        out.push((i as u32, format!("provider {}", chain.join(" behind "))));
                    }
                }
            }
            ScopeFile::Region | ScopeFile::Zone => {
                for (i, pl) in topo.placements.iter().enumerate() {
                    let v = if scope == ScopeFile::Region {
                        &pl.region
                    } else {
                        &pl.zone
                    };
                    if v.as_deref() == Some(target) {
                        out.push((i as u32, format!("{} {target}", scope.as_str())));
                    }
                }
            }
        }
        // A provider may have no service of its own in the file (a CDN in front of another
        // provider's services): its trigger then hits only what sits behind it, maybe nothing.
        if out.is_empty() && scope != ScopeFile::Provider {
            self.err(
                &tp.key("target"),
                format!("no service is in {} {target:?}", scope.as_str()),
            );
        }
        out
    }
}

impl Validator<'_> {
    /// `clients[..].dns.failover` of a client whose target is service `primary`.
    pub(super) fn dns_failover(
        &mut self,
        fp: &FieldPath,
        f: &DnsFailoverFile,
        primary: u32,
        names: &BTreeMap<String, (Kind, usize)>,
    ) -> Option<models::infra::dns_failover::DnsFailoverSpec> {
        let secondary = self.lookup(&fp.key("secondary"), &f.secondary, Kind::Service, names);
        if names
            .get(&f.secondary)
            .is_some_and(|(_, i)| *i as u32 == primary)
        {
            self.err(
                &fp.key("secondary"),
                "must differ from the client's target (the primary)",
            );
        }
        let interval = self.positive(
            &fp.key("check_interval_s"),
            f.check_interval_s,
            MAX_DURATION_S,
        );
        let propagation =
            self.non_negative(&fp.key("propagation_s"), f.propagation_s, MAX_DURATION_S);
        let unhealthy = self.int_in(
            &fp.key("unhealthy_after"),
            f.unhealthy_after,
            1,
            MAX_CHECK_THRESHOLD,
        );
        let healthy = self.int_in(
            &fp.key("healthy_after"),
            f.healthy_after,
            1,
            MAX_CHECK_THRESHOLD,
        );
        let w = self.non_negative(&fp.key("weight_secondary"), f.weight_secondary, 1.0);
        let interval = sim_core::SimDuration::from_secs_f64(interval);
        if interval.as_nanos() == 0 {
            self.err(&fp.key("check_interval_s"), "must be at least 1 ns");
        }
        Some(models::infra::dns_failover::DnsFailoverSpec {
            secondary,
            check_interval: interval,
            unhealthy_after: unhealthy as u32,
            healthy_after: healthy as u32,
            propagation: sim_core::SimDuration::from_secs_f64(propagation),
            weight_secondary: w,
            failback: f.failback,
        })
    }
}

impl Topology {
    /// Whether `provider` reaches itself through `behind` links.
    fn chain_back_to(&self, provider: &str) -> bool {
        let mut seen = BTreeSet::new();
        let mut todo: Vec<String> = self
            .providers
            .iter()
            .find(|(n, _)| n == provider)
            .map(|(_, b)| b.clone())
            .unwrap_or_default();
        while let Some(p) = todo.pop() {
            if p == provider {
                return true;
            }
            if seen.insert(p.clone())
                && let Some((_, b)) = self.providers.iter().find(|(n, _)| *n == p)
            {
                todo.extend(b.iter().cloned());
            }
        }
        false
    }
}

fn list(names: &BTreeSet<String>) -> String {
    if names.is_empty() {
        "none".to_string()
    } else {
        names.iter().cloned().collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn topo() -> Topology {
        Topology {
            providers: vec![
                ("saas".into(), vec!["paas".into()]),
                ("paas".into(), vec!["cdn".into()]),
                ("cdn".into(), vec![]),
                ("other".into(), vec![]),
            ],
            placements: Vec::new(),
            scoped_triggers: Vec::new(),
        }
    }

    #[test]
    fn behind_is_transitive() {
        let t = topo();
        let d: Vec<String> = t.depends_on("saas").into_iter().collect();
        assert_eq!(d, vec!["cdn".to_string(), "paas".to_string()]);
        assert!(t.depends_on("other").is_empty());
        assert_eq!(
            t.chain("saas", "cdn"),
            Some(vec!["saas".into(), "paas".into(), "cdn".into()])
        );
        assert_eq!(t.chain("cdn", "saas"), None);
        assert!(!t.chain_back_to("saas"));
    }

    #[test]
    fn a_cycle_is_found() {
        let mut t = topo();
        t.providers[2].1.push("saas".into());
        assert!(t.chain_back_to("saas"));
        assert!(t.chain_back_to("cdn"));
        assert!(!t.chain_back_to("other"));
    }
}
