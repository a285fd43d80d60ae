//! `[[dns_automation]]`: a DNS planner and independent enactors driving services' DNS records
//! (models/src/dns_plan.rs), and the `enactor_delay` trigger.
//!
//! ```toml
//! [[dns_automation]]
//! name = "ddb-dns"
//! records = ["ddb"]            # services bound to the first endpoints (their DNS record)
//! endpoints = 8                # endpoints in all (≥ records; the rest are abstract)
//! enactors = 3                 # default 3 (one per zone)
//! plan_period_s = 10.0         # a new plan every … (plan_jitter: fraction in [0, 1), default 0)
//! apply_delay = { dist = "lognormal", mean_ms = 2000.0, cv = 1.5 }
//! retry_delay_s = 1.0          # retry an endpoint locked by another enactor after …
//! cleanup_horizon = 20         # clean-up after applying g deletes plans older than g − 20
//! idle_s = 5.0                 # pause between runs
//!
//! [[triggers]]                 # the first enactor's apply delays × value during [from_s, to_s)
//! from_s = 0.0
//! to_s = 600.0
//! action = "enactor_delay"
//! target = "ddb-dns"
//! value = 50.0
//! ```
//!
//! `dns_restore` (an operator action) may target a service (its record is restored and its
//! endpoints' state reset) or an automation (all of its empty endpoints are reset).

use std::collections::BTreeMap;

use models::Action;
use models::control::dns_automation::DnsAutomationSpec;
use serde::Deserialize;
use sim_core::SimDuration;

use super::common::{ActionKind, DistFile, Kind, MAX_DURATION_S, Validator};
use super::locate::FieldPath;

/// Most DNS automations in one scenario.
pub const MAX_DNS_AUTOMATIONS: usize = 100;
/// Most endpoints of one automation.
pub const MAX_ENDPOINTS: i64 = 10_000;
/// Most enactors of one automation.
pub const MAX_ENACTORS: i64 = 64;
/// Largest clean-up horizon, in generations.
pub const MAX_CLEANUP_HORIZON: i64 = 1_000_000;
/// Largest `enactor_delay` factor.
pub const MAX_ENACTOR_DELAY: f64 = 1e6;

/// `[[dns_automation]]` as written.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct DnsAutomationFile {
    pub name: String,
    #[serde(default)]
    pub records: Vec<String>,
    pub endpoints: i64,
    #[serde(default = "three")]
    pub enactors: i64,
    pub plan_period_s: f64,
    #[serde(default)]
    pub plan_jitter: f64,
    pub apply_delay: DistFile,
    pub retry_delay_s: f64,
    pub cleanup_horizon: i64,
    pub idle_s: f64,
}

fn three() -> i64 {
    3
}

impl Validator<'_> {
    /// Validates the automations; their names join the component namespace `names`.
    pub(crate) fn dns_automations(
        &mut self,
        raw: &[DnsAutomationFile],
        names: &mut BTreeMap<String, (Kind, usize)>,
        service_index: &BTreeMap<String, u32>,
    ) -> Vec<DnsAutomationSpec> {
        let root = FieldPath::root().key("dns_automation");
        if raw.len() > MAX_DNS_AUTOMATIONS {
            self.err(
                &root,
                format!(
                    "{} DNS automations; the limit is {MAX_DNS_AUTOMATIONS}",
                    raw.len()
                ),
            );
        }
        let mut out = Vec::with_capacity(raw.len());
        for (i, a) in raw.iter().enumerate().take(MAX_DNS_AUTOMATIONS) {
            let path = root.index(i);
            self.name(&path.key("name"), &a.name);
            if let Some((k, _)) = names.get(&a.name) {
                self.err(
                    &path.key("name"),
                    format!(
                        "duplicate name {:?} (already used by a {})",
                        a.name,
                        k.as_str()
                    ),
                );
            } else {
                names.insert(a.name.clone(), (Kind::DnsAutomation, i));
            }
            let endpoints =
                self.int_in(&path.key("endpoints"), a.endpoints, 1, MAX_ENDPOINTS) as u32;
            let enactors = self.int_in(&path.key("enactors"), a.enactors, 1, MAX_ENACTORS) as u32;
            let mut records = Vec::with_capacity(a.records.len());
            if a.records.len() > endpoints as usize {
                self.err(
                    &path.key("records"),
                    format!(
                        "{} records but only {endpoints} endpoints; each record needs an endpoint",
                        a.records.len()
                    ),
                );
            }
            for (j, r) in a.records.iter().enumerate() {
                let rp = path.key("records").index(j);
                match service_index.get(r) {
                    Some(&s) if records.contains(&s) => {
                        self.err(&rp, format!("service {r:?} is listed twice"))
                    }
                    Some(&s) => records.push(s),
                    None => self.err(&rp, format!("no service named {r:?}")),
                }
            }
            let plan_period_s =
                self.positive(&path.key("plan_period_s"), a.plan_period_s, MAX_DURATION_S);
            let plan_jitter = self.non_negative(&path.key("plan_jitter"), a.plan_jitter, 1.0);
            if plan_jitter == 1.0 {
                self.err(&path.key("plan_jitter"), "must be < 1, got 1");
            }
            let apply_delay = self.dist(&path.key("apply_delay"), &a.apply_delay);
            let retry_delay_s =
                self.positive(&path.key("retry_delay_s"), a.retry_delay_s, MAX_DURATION_S);
            // A run with nothing to do ends at once: a zero idle would loop without time passing.
            let idle_s = self.positive(&path.key("idle_s"), a.idle_s, MAX_DURATION_S);
            let cleanup_horizon = self.int_in(
                &path.key("cleanup_horizon"),
                a.cleanup_horizon,
                1,
                MAX_CLEANUP_HORIZON,
            ) as u32;
            let dur = |s: f64| SimDuration::from_secs_f64(s).max(SimDuration(1));
            out.push(DnsAutomationSpec {
                name: a.name.clone(),
                records,
                endpoints,
                enactors,
                plan_period: dur(plan_period_s),
                plan_jitter: plan_jitter.clamp(0.0, 0.999_999),
                apply_delay,
                retry_delay: dur(retry_delay_s),
                cleanup_horizon,
                idle: dur(idle_s),
            });
        }
        out
    }

    /// The action of a trigger or operator action aimed at a DNS automation
    /// (`enactor_delay`, or `dns_restore` naming an automation); `None` if `kind`/`target` are
    /// not about one (or, after an error, nothing to do).
    pub(crate) fn dns_automation_action(
        &mut self,
        ap: &FieldPath,
        kind: ActionKind,
        target: &str,
        value: Option<f64>,
        automations: &[DnsAutomationSpec],
    ) -> Option<Option<Action>> {
        let found = automations.iter().position(|a| a.name == target);
        match kind {
            ActionKind::EnactorDelay => {
                let Some(automation) = found else {
                    let known: Vec<&str> = automations.iter().map(|a| a.name.as_str()).collect();
                    self.err(
                        &ap.key("target"),
                        format!(
                            "no dns_automation named {target:?} (known: {})",
                            known.join(", ")
                        ),
                    );
                    return Some(None);
                };
                let Some(v) = value else {
                    self.err(ap, "action enactor_delay needs a value (the delay factor)");
                    return Some(None);
                };
                let factor = self.positive(&ap.key("value"), v, MAX_ENACTOR_DELAY);
                if !(factor.is_finite() && factor > 0.0 && factor <= MAX_ENACTOR_DELAY) {
                    return Some(None);
                }
                Some(Some(Action::SetEnactorDelay {
                    automation: automation as u32,
                    factor,
                }))
            }
            ActionKind::DnsRestore => {
                let automation = found?;
                if value.is_some() {
                    self.err(&ap.key("value"), "action dns_restore takes no value");
                    return Some(None);
                }
                Some(Some(Action::DnsAutomationRestore {
                    automation: automation as u32,
                }))
            }
            _ => None,
        }
    }
}
