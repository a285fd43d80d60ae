//! Schema and validation of edge services (`edge = { ... }` on a service, see
//! [`models::infra::edge`]) and of the two operator actions that go with them: `edge_recover`
//! (manual node recovery) and `admit_ramp` (gradual traffic re-admission). A child module of
//! `scenario`, so it uses the same `Validator` (errors name file, line and field).

use models::Action;
use models::ServiceSpec;
use models::infra::edge::EdgeSpec;
use serde::Deserialize;
use sim_core::SimDuration;

use super::common::{
    ActionFile, ActionKind, DistFile, MAX_DURATION_S, MAX_RATE_PER_S, Validator, num,
};
use super::locate::FieldPath;

/// `edge = { ... }` on a service: its servers are edge nodes.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct EdgeFile {
    /// Probability that a node that loads a bad configuration crashes, in `[0, 1]`.
    pub crash_fraction: f64,
    /// Load of a bad configuration → crash (asynchronous processing).
    pub crash_delay: DistFile,
    /// How long a node stays busy without a break before it crashes (overload).
    pub overload_crash: DistFile,
    /// Duration of a node's cold configuration reload.
    pub reload_time: DistFile,
    /// Crashed nodes reload by themselves (default: they wait for `edge_recover`).
    #[serde(default)]
    pub auto_reload: bool,
}

impl Validator<'_> {
    /// Validates a service's `edge` table (`crash_loop`: the service also has one).
    pub(super) fn edge_spec(
        &mut self,
        path: &FieldPath,
        e: &EdgeFile,
        crash_loop: bool,
    ) -> EdgeSpec {
        if crash_loop {
            self.err(path, "a service cannot have both edge and crash_loop");
        }
        let crash_fraction = self.non_negative(&path.key("crash_fraction"), e.crash_fraction, 1.0);
        EdgeSpec {
            crash_fraction,
            crash_delay: self.dist(&path.key("crash_delay"), &e.crash_delay),
            overload_crash: self.dist(&path.key("overload_crash"), &e.overload_crash),
            reload_time: self.dist(&path.key("reload_time"), &e.reload_time),
            auto_reload: e.auto_reload,
        }
    }

    /// Completes an `admit_ramp` action with its `to_per_s` and `over_s`; rejects those
    /// fields on other actions; checks edge targets.
    pub(super) fn edge_action(
        &mut self,
        ap: &FieldPath,
        a: &ActionFile,
        action: Action,
        services: &[ServiceSpec],
    ) -> Action {
        if a.action != ActionKind::AdmitRamp {
            for (field, given) in [("to_per_s", a.to_per_s), ("over_s", a.over_s)] {
                if given.is_some() {
                    self.err(&ap.key(field), "only action admit_ramp takes this field");
                }
            }
        }
        self.check_edge_target(ap, &action, services);
        let Action::AdmitRamp {
            service,
            from_per_s,
            ..
        } = action
        else {
            return action;
        };
        let to_per_s = match a.to_per_s {
            Some(r) => self.non_negative(&ap.key("to_per_s"), r, MAX_RATE_PER_S),
            None => {
                self.err(
                    ap,
                    "action admit_ramp needs to_per_s (the rate at the ramp's end)",
                );
                0.0
            }
        };
        let over_s = match a.over_s {
            Some(d) => self.non_negative(&ap.key("over_s"), d, MAX_DURATION_S),
            None => {
                self.err(
                    ap,
                    "action admit_ramp needs over_s (the ramp's length; 0 = at once)",
                );
                0.0
            }
        };
        if from_per_s.is_finite() && to_per_s.is_finite() && to_per_s < from_per_s {
            self.err(
                &ap.key("to_per_s"),
                format!(
                    "a ramp goes up: must be ≥ the value ({}), got {}",
                    num(from_per_s),
                    num(to_per_s)
                ),
            );
        }
        Action::AdmitRamp {
            service,
            from_per_s,
            to_per_s,
            over: SimDuration::from_secs_f64(over_s),
        }
    }

    /// `edge_recover` needs an edge service; outages and capacity changes do not apply to one
    /// (its nodes leave and rejoin the pool by themselves).
    pub(super) fn check_edge_target(
        &mut self,
        path: &FieldPath,
        action: &Action,
        services: &[ServiceSpec],
    ) {
        let edge = |s: u32| services.get(s as usize).is_some_and(|s| s.edge.is_some());
        match *action {
            Action::EdgeRecover { service } if !edge(service) => {
                self.err(
                    &path.key("target"),
                    "edge_recover needs a service with edge",
                );
            }
            Action::Outage { service }
            | Action::Restore { service }
            | Action::SetPartition { service, .. }
            | Action::SetServers { service, .. }
                if edge(service) =>
            {
                self.err(
                    &path.key("target"),
                    "outage, restore, partition, heal and servers do not apply to a service with edge (its nodes crash and reload by themselves)",
                );
            }
            _ => {}
        }
    }
}
