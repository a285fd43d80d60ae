//! Validation of triggers and operator actions: targets, values, kinds, and the checks
//! that an action fits its target.

use std::collections::BTreeMap;

use models::{Action, ClientSpec, Mode, ServiceSpec};
use sim_core::{SimDuration, SimTime};

use super::common::*;
use super::locate::FieldPath;

impl Validator<'_> {
    /// The action a trigger applies at its start and the one that reverts it at its end.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn trigger_actions(
        &mut self,
        tp: &FieldPath,
        kind: ActionKind,
        target: &str,
        value: Option<f64>,
        to: SimTime,
        clients: &[ClientSpec],
        client_index: &BTreeMap<String, u32>,
        services: &[ServiceSpec],
        service_index: &BTreeMap<String, u32>,
    ) -> Option<(Action, Option<Action>)> {
        let apply = self.action(tp, kind, target, value, client_index, service_index)?;
        let revert = match apply {
            Action::Outage { service } => Action::Restore { service },
            Action::SetPartition { service, .. } => Action::SetPartition { service, on: false },
            Action::SetBadConfig { service, .. } => Action::SetBadConfig {
                service,
                bad: false,
            },
            Action::SetRecordEmpty { service, .. } => Action::SetRecordEmpty {
                service,
                empty: false,
            },
            Action::SetRate { client, .. } => {
                let rate_per_s = match &clients[client as usize].mode {
                    Mode::Open { schedule } => schedule
                        .iter()
                        .rev()
                        .find(|(at, _)| *at <= to)
                        .map_or(0.0, |p| p.1),
                    Mode::Closed { .. } | Mode::Downstream => {
                        self.err(
                            &tp.key("target"),
                            "rate triggers apply to open-loop clients only",
                        );
                        return None;
                    }
                };
                Action::SetRate { client, rate_per_s }
            }
            Action::SetServers { service, .. } => Action::SetServers {
                service,
                servers: services[service as usize].servers,
            },
            Action::SetSlowdown { service, .. } => Action::SetSlowdown {
                service,
                factor: 1.0,
            },
            Action::SetErrorRate { service, .. } => Action::SetErrorRate {
                service,
                error_rate: services[service as usize].error_rate,
            },
            Action::SetRetries { client, .. } => Action::SetRetries {
                client,
                enabled: true,
            },
            Action::SetRestartRate { .. } => return None,
            Action::SetEnactorDelay { automation, .. } => Action::SetEnactorDelay {
                automation,
                factor: 1.0,
            },
            Action::Restore { .. }
            | Action::DnsAutomationRestore { .. }
            | Action::EdgeRecover { .. }
            | Action::AdmitRamp { .. }
            | Action::StopGeneration { .. }
            | Action::PushGood { .. }
            | Action::ProxyFailOpen { .. } => return None,
            Action::LoadBalancer { lb, op } => return Some((apply, self.lb_revert(lb, op))),
            // A flush is not undone: the cache refills (or not) by itself.
            Action::FlushCache { .. } => return Some((apply, None)),
            Action::LeaseThrottle { .. } | Action::RestartHosts { .. } => {
                return Some((apply, None));
            }
        };
        Some((apply, Some(revert)))
    }

    pub(super) fn action(
        &mut self,
        ap: &FieldPath,
        kind: ActionKind,
        target: &str,
        value: Option<f64>,
        client_index: &BTreeMap<String, u32>,
        service_index: &BTreeMap<String, u32>,
    ) -> Option<Action> {
        let automations = std::mem::take(&mut self.dns_automations);
        let aimed = self.dns_automation_action(ap, kind, target, value, &automations);
        self.dns_automations = automations;
        if let Some(action) = aimed {
            return action;
        }
        if matches!(
            kind,
            ActionKind::StopGeneration | ActionKind::PushGood | ActionKind::FailOpen
        ) {
            return None; // config-push actions: see `config_push_action`
        }
        if let Some(lb_action) = self.lb_action(ap, kind, target, value) {
            return lb_action;
        }
        let tpath = ap.key("target");
        let vpath = ap.key("value");
        let needs_client = matches!(
            kind,
            ActionKind::Rate
                | ActionKind::RetriesOff
                | ActionKind::RetriesOn
                | ActionKind::CacheFlush
        );
        let (client, service) = if needs_client {
            match client_index.get(target) {
                Some(&c) => (c, 0),
                None => {
                    self.err(&tpath, format!("no client or source named {target:?}"));
                    return None;
                }
            }
        } else {
            match service_index.get(target) {
                Some(&s) => (0, s),
                None => {
                    self.err(&tpath, format!("no service named {target:?}"));
                    return None;
                }
            }
        };
        let needs_value = matches!(
            kind,
            ActionKind::Rate
                | ActionKind::Servers
                | ActionKind::Slowdown
                | ActionKind::ErrorRate
                | ActionKind::RestartThrottle
                | ActionKind::AdmitRamp
        );
        let v = match (needs_value, value) {
            (true, Some(v)) => v,
            (true, None) => {
                self.err(ap, format!("action {kind:?} needs a value").to_lowercase());
                return None;
            }
            (false, Some(_)) => {
                self.err(
                    &vpath,
                    format!("action {kind:?} takes no value").to_lowercase(),
                );
                return None;
            }
            (false, None) => 0.0,
        };
        Some(match kind {
            ActionKind::Outage => Action::Outage { service },
            ActionKind::BadConfig => Action::SetBadConfig { service, bad: true },
            ActionKind::KillSwitch => Action::SetBadConfig {
                service,
                bad: false,
            },
            ActionKind::DnsEmpty => Action::SetRecordEmpty {
                service,
                empty: true,
            },
            ActionKind::DnsRestore => Action::SetRecordEmpty {
                service,
                empty: false,
            },
            ActionKind::Restore => Action::Restore { service },
            ActionKind::Partition => Action::SetPartition { service, on: true },
            ActionKind::Heal => Action::SetPartition { service, on: false },
            ActionKind::Rate => Action::SetRate {
                client,
                rate_per_s: self.non_negative(&vpath, v, MAX_RATE_PER_S),
            },
            ActionKind::Servers => {
                if !(v.fract() == 0.0 && (0.0..=MAX_SERVERS as f64).contains(&v)) {
                    self.err(
                        &vpath,
                        format!(
                            "must be a whole number of servers in 0..={MAX_SERVERS}, got {}",
                            num(v)
                        ),
                    );
                    return None;
                }
                Action::SetServers {
                    service,
                    servers: v as u32,
                }
            }
            ActionKind::Slowdown => Action::SetSlowdown {
                service,
                factor: self.positive(&vpath, v, 1e6),
            },
            ActionKind::ErrorRate => Action::SetErrorRate {
                service,
                error_rate: self.non_negative(&vpath, v, 1.0),
            },
            ActionKind::RetriesOff => Action::SetRetries {
                client,
                enabled: false,
            },
            ActionKind::RetriesOn => Action::SetRetries {
                client,
                enabled: true,
            },
            ActionKind::CacheFlush => Action::FlushCache { client },
            ActionKind::RestartThrottle => Action::SetRestartRate {
                service,
                rate_per_s: self.positive(&vpath, v, MAX_RATE_PER_S),
            },
            // Handled by `dns_automation_action` above.
            ActionKind::EnactorDelay => return None,
            ActionKind::EdgeRecover => Action::EdgeRecover { service },
            // `to_per_s` and `over_s` are filled in by `edge_action`.
            ActionKind::AdmitRamp => Action::AdmitRamp {
                service,
                from_per_s: self.non_negative(&vpath, v, MAX_RATE_PER_S),
                to_per_s: 0.0,
                over: SimDuration::ZERO,
            },
            ActionKind::StopGeneration | ActionKind::PushGood | ActionKind::FailOpen => {
                return None;
            }
            // Handled by `lb_action` above.
            ActionKind::NetmgrBacklog
            | ActionKind::LaunchTargets
            | ActionKind::LaunchRate
            | ActionKind::PropagationRate
            | ActionKind::FailoverOff
            | ActionKind::FailoverOn => return None,
            // Handled by `lease_action`.
            ActionKind::LeaseThrottle | ActionKind::LeaseUnthrottle | ActionKind::RestartHosts => {
                return None;
            }
        })
    }

    /// A bad-config trigger or kill switch must name a crash-looping service.
    pub(super) fn check_crash_target(
        &mut self,
        path: &FieldPath,
        action: &Action,
        services: &[ServiceSpec],
    ) {
        let svc = |service: &u32| services.get(*service as usize);
        match action {
            Action::SetBadConfig { service, .. }
                if svc(service).is_some_and(|s| s.crash_loop.is_none() && s.edge.is_none()) =>
            {
                self.err(
                    &path.key("target"),
                    "bad_config and kill_switch need a service with crash_loop or edge",
                );
            }
            Action::SetRestartRate { service, .. }
                if svc(service).is_some_and(|s| s.crash_loop.is_none()) =>
            {
                self.err(
                    &path.key("target"),
                    "restart_throttle needs a service with crash_loop",
                );
            }
            _ => {}
        }
    }

    /// A cache flush must name a client with a cache.
    pub(super) fn check_cache_target(
        &mut self,
        path: &FieldPath,
        action: &Action,
        clients: &[ClientSpec],
    ) {
        if let Action::FlushCache { client } = action
            && clients
                .get(*client as usize)
                .is_some_and(|c| c.cache.is_none())
        {
            self.err(
                &path.key("target"),
                "cache_flush needs a client with a cache",
            );
        }
    }
}

impl Validator<'_> {
    /// One `[[actions]]` entry (or an operator's action), validated against every component
    /// kind it may aim at, with the checks that it fits its target.
    #[allow(clippy::too_many_arguments)]
    pub(super) fn one_action(
        &mut self,
        ap: &FieldPath,
        a: &ActionFile,
        lease_managers: &[models::control::lease::LeaseSpec],
        config_pushes: &[models::control::config_push::ConfigPushSpec],
        client_index: &BTreeMap<String, u32>,
        service_index: &BTreeMap<String, u32>,
        services: &[ServiceSpec],
        clients: &[ClientSpec],
    ) -> Option<Action> {
        let action = if super::lease::is_lease_action(a.action) {
            self.lease_action(ap, a.action, &a.target, a.value, lease_managers)
        } else {
            match self.config_push_action(
                ap,
                a.action,
                &a.target,
                a.value,
                config_pushes,
                service_index,
            ) {
                Some(action) => action,
                None => self
                    .action(
                        ap,
                        a.action,
                        &a.target,
                        a.value,
                        client_index,
                        service_index,
                    )
                    .map(|action| self.edge_action(ap, a, action, services)),
            }
        }?;
        self.check_cache_target(ap, &action, clients);
        self.check_crash_target(ap, &action, services);
        self.check_lb_service(ap, &action);
        Some(action)
    }
}
