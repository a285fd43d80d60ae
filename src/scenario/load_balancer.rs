//! `[[load_balancer]]`: a load balancer with health checks, a finite-capacity health checker,
//! a network-propagation queue and automatic zone failover in front of one service (the
//! model is `models::infra::load_balancer`), and the trigger/action kinds that act on it: `netmgr_backlog`,
//! `launch_targets`, `launch_rate`, `propagation_rate`, `failover_off`, `failover_on`.
//!
//! ```toml
//! [[load_balancer]]
//! name = "nlb"
//! service = "api"                 # the LB sets this service's servers
//! zones = 3
//! targets = 60
//! servers_per_target = 1
//! interval_s = 10                 # health checks
//! timeout_s = 5
//! healthy_threshold = 3
//! unhealthy_threshold = 2
//! checker_workers = 1             # the health checker's capacity
//! check_time = { dist = "constant", value_ms = 20 }
//! flap_cost = 10                  # checks' worth of work per target state change
//! failover_cost = 20              # ... per zone that fails away or comes back (DNS updates)
//! pending_fail_prob = 0.5         # a pending target's check fails with this probability
//! propagation_rate_per_s = 1      # network propagation queue (FIFO)
//! failover = true                 # automatic zone failover at the start
//! failover_below = 0.75           # fail a zone away below this fraction of healthy targets
//! failover_hold_s = 60            # ... until it has passed for this long
//! velocity_limit = 0.34           # optional: failover holds at most this fraction out
//! fail_open = true                # a zone below the threshold not failed away serves all
//! ```

use std::collections::BTreeMap;

use models::Action;
use models::infra::load_balancer::{LoadBalancerSpec, Op};
use serde::Deserialize;
use sim_core::SimDuration;

use super::common::{ActionKind, DistFile, Kind, MAX_DURATION_S, MAX_SERVERS, Validator, num, p};
use super::locate::FieldPath;

/// Most zones of one load balancer.
pub const MAX_ZONES: i64 = 1_000;
/// Most targets of one load balancer (initial or launched).
pub const MAX_TARGETS: i64 = 1_000_000;
/// Highest propagation or launch rate (each item or launch is one event).
pub const MAX_LB_RATE_PER_S: f64 = 1e6;
/// Largest backlog one action adds.
pub const MAX_BACKLOG_ITEMS: f64 = 1e12;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerFile {
    pub name: String,
    /// The service in front of which it sits.
    pub service: String,
    #[serde(default = "d3")]
    pub zones: i64,
    pub targets: i64,
    /// Most targets ever registered (default: targets + 10 000, at most `MAX_TARGETS`).
    pub max_targets: Option<i64>,
    #[serde(default = "d1")]
    pub servers_per_target: i64,
    /// Health check settings; defaults are the AWS NLB (TCP) target-group defaults.
    #[serde(default = "d30f")]
    pub interval_s: f64,
    #[serde(default = "d10f")]
    pub timeout_s: f64,
    #[serde(default = "d5")]
    pub healthy_threshold: i64,
    #[serde(default = "d2")]
    pub unhealthy_threshold: i64,
    #[serde(default = "d1")]
    pub checker_workers: i64,
    pub check_time: DistFile,
    #[serde(default)]
    pub flap_cost: f64,
    /// Default: `flap_cost`.
    pub failover_cost: Option<f64>,
    #[serde(default)]
    pub pending_fail_prob: f64,
    #[serde(default = "d1f")]
    pub propagation_rate_per_s: f64,
    #[serde(default = "dtrue")]
    pub failover: bool,
    #[serde(default = "d05f")]
    pub failover_below: f64,
    #[serde(default = "d60f")]
    pub failover_hold_s: f64,
    pub velocity_limit: Option<f64>,
    #[serde(default = "dtrue")]
    pub fail_open: bool,
}

fn d1() -> i64 {
    1
}
fn d2() -> i64 {
    2
}
fn d3() -> i64 {
    3
}
fn d5() -> i64 {
    5
}
fn d1f() -> f64 {
    1.0
}
fn d05f() -> f64 {
    0.5
}
fn d10f() -> f64 {
    10.0
}
fn d30f() -> f64 {
    30.0
}
fn d60f() -> f64 {
    60.0
}
fn dtrue() -> bool {
    true
}

impl Validator<'_> {
    /// Validates the `[[load_balancer]]` entries: names join the component namespace; each
    /// fronts a distinct existing service.
    pub(crate) fn load_balancers(
        &mut self,
        raw: &[LoadBalancerFile],
        names: &mut BTreeMap<String, (Kind, usize)>,
    ) -> Vec<LoadBalancerSpec> {
        let mut fronted: BTreeMap<u32, String> = BTreeMap::new();
        let mut out = Vec::with_capacity(raw.len());
        for (i, l) in raw.iter().enumerate() {
            let path = p().key("load_balancer").index(i);
            self.name(&path.key("name"), &l.name);
            if let Some((k, _)) = names.get(&l.name) {
                self.err(
                    &path.key("name"),
                    format!(
                        "duplicate name {:?} (already used by a {})",
                        l.name,
                        k.as_str()
                    ),
                );
            } else {
                names.insert(l.name.clone(), (Kind::LoadBalancer, i));
            }
            let service = self.lookup(&path.key("service"), &l.service, Kind::Service, names);
            if let Some(other) = fronted.insert(service, l.name.clone()) {
                self.err(
                    &path.key("service"),
                    format!(
                        "service {:?} already has load balancer {other:?} in front of it",
                        l.service
                    ),
                );
            }
            out.push(self.load_balancer(&path, l, service));
        }
        out
    }

    fn load_balancer(
        &mut self,
        path: &FieldPath,
        l: &LoadBalancerFile,
        service: u32,
    ) -> LoadBalancerSpec {
        let zones = self.int_in(&path.key("zones"), l.zones, 1, MAX_ZONES) as u32;
        let targets = self.int_in(&path.key("targets"), l.targets, 1, MAX_TARGETS);
        let max_targets = match l.max_targets {
            Some(m) => self.int_in(&path.key("max_targets"), m, targets, MAX_TARGETS),
            None => (targets + 10_000).min(MAX_TARGETS),
        };
        let spt = self.int_in(
            &path.key("servers_per_target"),
            l.servers_per_target,
            1,
            MAX_SERVERS,
        );
        if max_targets.saturating_mul(spt) > MAX_SERVERS {
            let field = if l.max_targets.is_some() {
                "max_targets"
            } else {
                "servers_per_target"
            };
            self.err(
                &path.key(field),
                format!(
                    "max_targets ({max_targets}) × servers_per_target ({spt}) servers exceed the \
                     limit of {MAX_SERVERS} servers per service"
                ),
            );
        }
        let interval_s = self.positive(&path.key("interval_s"), l.interval_s, MAX_DURATION_S);
        let timeout_s = self.positive(&path.key("timeout_s"), l.timeout_s, MAX_DURATION_S);
        let healthy = self.int_in(&path.key("healthy_threshold"), l.healthy_threshold, 1, 100);
        let unhealthy = self.int_in(
            &path.key("unhealthy_threshold"),
            l.unhealthy_threshold,
            1,
            100,
        );
        let workers = self.int_in(&path.key("checker_workers"), l.checker_workers, 1, 100_000);
        let check_time = self.dist(&path.key("check_time"), &l.check_time);
        let mean = check_time.mean_ns();
        if !mean.is_finite() {
            self.err(
                &path.key("check_time"),
                "must have a finite mean (flap work is measured in mean checks)",
            );
        }
        let flap_cost = self.non_negative(&path.key("flap_cost"), l.flap_cost, 1e6);
        let failover_cost = match l.failover_cost {
            Some(c) => self.non_negative(&path.key("failover_cost"), c, 1e6),
            None => flap_cost,
        };
        let pending_fail_prob =
            self.non_negative(&path.key("pending_fail_prob"), l.pending_fail_prob, 1.0);
        let propagation_rate_per_s = self.positive(
            &path.key("propagation_rate_per_s"),
            l.propagation_rate_per_s,
            MAX_LB_RATE_PER_S,
        );
        let failover_below = self.non_negative(&path.key("failover_below"), l.failover_below, 1.0);
        let hold_s = self.non_negative(
            &path.key("failover_hold_s"),
            l.failover_hold_s,
            MAX_DURATION_S,
        );
        let velocity_limit = l
            .velocity_limit
            .map(|v| self.positive(&path.key("velocity_limit"), v, 1.0));
        LoadBalancerSpec {
            name: l.name.clone(),
            service,
            zones,
            targets: targets as u32,
            max_targets: max_targets as u32,
            servers_per_target: spt as u32,
            interval: SimDuration::from_secs_f64(interval_s).max(SimDuration(1)),
            timeout: SimDuration::from_secs_f64(timeout_s),
            healthy_threshold: healthy as u32,
            unhealthy_threshold: unhealthy as u32,
            checker_workers: workers as u32,
            check_time,
            flap_cost,
            failover_cost,
            pending_fail_prob,
            propagation_rate_per_s,
            failover: l.failover,
            failover_below,
            failover_hold: SimDuration::from_secs_f64(hold_s),
            velocity_limit,
            fail_open: l.fail_open,
        }
    }

    /// The action of a load-balancer kind (`None`: not a load-balancer kind; `Some(None)`:
    /// invalid, the error is recorded).
    pub(crate) fn lb_action(
        &mut self,
        ap: &FieldPath,
        kind: ActionKind,
        target: &str,
        value: Option<f64>,
    ) -> Option<Option<Action>> {
        let needs_value = match kind {
            ActionKind::NetmgrBacklog
            | ActionKind::LaunchTargets
            | ActionKind::LaunchRate
            | ActionKind::PropagationRate => true,
            ActionKind::FailoverOff | ActionKind::FailoverOn => false,
            _ => return None,
        };
        let name = format!("{kind:?}").to_lowercase();
        let Some(lb) = self.load_balancers.iter().position(|l| l.name == target) else {
            let known: Vec<&str> = self
                .load_balancers
                .iter()
                .map(|l| l.name.as_str())
                .collect();
            self.err(
                &ap.key("target"),
                format!(
                    "no load_balancer named {target:?} (known: {})",
                    known.join(", ")
                ),
            );
            return Some(None);
        };
        let vpath = ap.key("value");
        let v = match (needs_value, value) {
            (true, Some(v)) => v,
            (true, None) => {
                self.err(ap, format!("action {name} needs a value"));
                return Some(None);
            }
            (false, Some(_)) => {
                self.err(&vpath, format!("action {name} takes no value"));
                return Some(None);
            }
            (false, None) => 0.0,
        };
        let whole =
            |v: f64, max: f64| v.is_finite() && v.fract() == 0.0 && (0.0..=max).contains(&v);
        let op = match kind {
            ActionKind::NetmgrBacklog => {
                if !whole(v, MAX_BACKLOG_ITEMS) {
                    self.err(
                        &vpath,
                        format!(
                            "must be a whole number of items in 0..={}, got {}",
                            num(MAX_BACKLOG_ITEMS),
                            num(v)
                        ),
                    );
                    return Some(None);
                }
                Op::Backlog { items: v as u64 }
            }
            ActionKind::LaunchTargets => {
                if !whole(v, MAX_TARGETS as f64) {
                    self.err(
                        &vpath,
                        format!(
                            "must be a whole number of targets in 0..={MAX_TARGETS}, got {}",
                            num(v)
                        ),
                    );
                    return Some(None);
                }
                Op::Launch { targets: v as u32 }
            }
            ActionKind::LaunchRate => Op::LaunchRate {
                rate_per_s: self.non_negative(&vpath, v, MAX_LB_RATE_PER_S),
            },
            ActionKind::PropagationRate => Op::PropagationRate {
                rate_per_s: self.non_negative(&vpath, v, MAX_LB_RATE_PER_S),
            },
            ActionKind::FailoverOff => Op::Failover { enabled: false },
            _ => Op::Failover { enabled: true },
        };
        Some(Some(Action::LoadBalancer { lb: lb as u32, op }))
    }

    /// What undoes a load-balancer trigger at its end: a launch rate stops, the propagation
    /// rate returns to the configured one; a backlog or a burst of launches is not undone.
    pub(crate) fn lb_revert(&self, lb: u32, op: Op) -> Option<Action> {
        let op = match op {
            Op::LaunchRate { .. } => Op::LaunchRate { rate_per_s: 0.0 },
            Op::PropagationRate { .. } => Op::PropagationRate {
                rate_per_s: self.load_balancers.get(lb as usize)?.propagation_rate_per_s,
            },
            Op::Backlog { .. } | Op::Launch { .. } | Op::Failover { .. } => return None,
        };
        Some(Action::LoadBalancer { lb, op })
    }

    /// A `servers` action must not target a service whose servers a load balancer sets.
    pub(crate) fn check_lb_service(&mut self, path: &FieldPath, action: &Action) {
        if let Action::SetServers { service, .. } = action
            && let Some(l) = self.load_balancers.iter().find(|l| l.service == *service)
        {
            self.err(
                &path.key("target"),
                format!(
                    "load balancer {:?} sets this service's servers; launch targets instead",
                    l.name
                ),
            );
        }
    }
}
