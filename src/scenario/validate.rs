//! Validation of a whole scenario: meta, limits, the components in order, triggers and
//! actions, the incident table, then the world spec.

use std::collections::BTreeMap;

use super::locate::FieldPath;

use models::{ClientSpec, ServiceSpec, SinkSpec, TimedAction, WorldSpec};
use sim_core::{SimDuration, SimTime};

use super::common::*;
use super::schema::*;
use super::validated::*;

impl Validator<'_> {
    pub(super) fn scenario(&mut self, raw: ScenarioFile, file: &str) -> Scenario {
        let m = p().key("scenario");
        let meta = &raw.scenario;
        self.name(&m.key("name"), &meta.name);
        let duration_s = self.positive(&m.key("duration_s"), meta.duration_s, MAX_DURATION_S);
        let warmup_s = self.non_negative(&m.key("warmup_s"), meta.warmup_s, MAX_DURATION_S);
        if warmup_s.is_finite()
            && duration_s.is_finite()
            && warmup_s >= duration_s
            && duration_s > 0.0
        {
            self.err(
                &m.key("warmup_s"),
                format!("must be < duration_s ({duration_s}), got {warmup_s}"),
            );
        }
        let window_ms = self.positive(&m.key("window_ms"), meta.window_ms, MAX_DURATION_MS);

        let l = p().key("limits");
        let max_events = match raw.limits.max_events {
            Some(n) => self.int_in(&l.key("max_events"), n, 1, i64::MAX) as u64,
            None => DEFAULT_MAX_EVENTS,
        };
        let max_live_requests = match raw.limits.max_live_requests {
            Some(n) => self.int_in(&l.key("max_live_requests"), n, 1, 1_000_000_000) as u64,
            None => DEFAULT_MAX_LIVE_REQUESTS,
        };
        let max_windows = match raw.limits.max_windows {
            Some(n) => self.int_in(&l.key("max_windows"), n, 1, 100_000_000) as u64,
            None => DEFAULT_MAX_WINDOWS,
        };
        let max_window_bytes = match raw.limits.max_window_bytes {
            Some(n) => self.int_in(
                &l.key("max_window_bytes"),
                n,
                MIN_WINDOW_BYTES as i64,
                MAX_WINDOW_BYTES as i64,
            ) as u64,
            None => DEFAULT_MAX_WINDOW_BYTES,
        };
        let duration = SimDuration::from_secs_f64(duration_s);
        let duration_ok =
            duration_s.is_finite() && duration_s > 0.0 && duration_s <= MAX_DURATION_S;
        if duration_ok && duration.as_nanos() == 0 {
            self.err(
                &m.key("duration_s"),
                format!("rounds to 0 ns of simulated time, got {}", num(duration_s)),
            );
        }
        let window_ok = window_ms.is_finite() && window_ms > 0.0 && window_ms <= MAX_DURATION_MS;
        let window = SimDuration::from_millis_f64(window_ms).max(SimDuration(1));
        let n_windows = duration.as_nanos().div_ceil(window.as_nanos());
        if duration_ok && window_ok && n_windows > max_windows {
            self.err(
                &m.key("window_ms"),
                format!(
                    "duration_s / window_ms gives {n_windows} windows, more than limits.max_windows = {max_windows}; \
                     use a longer window or raise the limit"
                ),
            );
        }

        // Names: one namespace for all components.
        let mut names: BTreeMap<String, (Kind, usize)> = BTreeMap::new();
        let n_components =
            raw.sources.len() + raw.clients.len() + raw.services.len() + raw.sinks.len();
        if n_components > MAX_COMPONENTS {
            self.err(
                &p(),
                format!("{n_components} components; the limit is {MAX_COMPONENTS}"),
            );
        }
        if raw.sources.is_empty() && raw.clients.is_empty() {
            self.err(
                &p(),
                "a scenario needs at least one [[sources]] or [[clients]] entry",
            );
        }
        let groups: [(&str, Kind, Vec<&str>); 4] = [
            (
                "clients",
                Kind::Client,
                raw.clients.iter().map(|s| s.name.as_str()).collect(),
            ),
            (
                "services",
                Kind::Service,
                raw.services.iter().map(|s| s.name.as_str()).collect(),
            ),
            (
                "sinks",
                Kind::Sink,
                raw.sinks.iter().map(|s| s.name.as_str()).collect(),
            ),
            (
                "sources",
                Kind::Source,
                raw.sources.iter().map(|s| s.name.as_str()).collect(),
            ),
        ];
        for (table, kind, list) in &groups {
            for (i, name) in list.iter().enumerate() {
                let path = p().key(table).index(i).key("name");
                self.name(&path, name);
                if let Some((k, _)) = names.get(*name) {
                    self.err(
                        &path,
                        format!("duplicate name {name:?} (already used by a {})", k.as_str()),
                    );
                } else {
                    names.insert(name.to_string(), (*kind, i));
                }
            }
        }

        let services: Vec<ServiceSpec> = raw
            .services
            .iter()
            .enumerate()
            .map(|(i, s)| self.service(&p().key("services").index(i), s))
            .collect();
        let sinks: Vec<SinkSpec> = raw
            .sinks
            .iter()
            .map(|s| SinkSpec {
                name: s.name.clone(),
            })
            .collect();
        let mut clients: Vec<ClientSpec> = Vec::new();
        let mut components = Vec::with_capacity(n_components);
        for (table, kind, list) in [
            ("sources", Kind::Source, &raw.sources),
            ("clients", Kind::Client, &raw.clients),
        ] {
            for (i, c) in list.iter().enumerate() {
                clients.push(self.client(&p().key(table).index(i), c, &names, duration));
                components.push((c.name.clone(), kind));
            }
        }
        let mut services = services;
        self.call_edges(&raw, &names, &mut clients, &mut services, &mut components);
        self.check_hedge_targets(&raw, &clients, &services);
        let client_index: BTreeMap<String, u32> = clients
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i as u32))
            .collect();
        let service_index: BTreeMap<String, u32> = services
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.clone(), i as u32))
            .collect();
        self.dns_automations =
            self.dns_automations(&raw.dns_automation, &mut names, &service_index);
        let config_pushes = self.config_pushes(&raw.config_push, &names, &service_index, duration);
        self.load_balancers = self.load_balancers(&raw.load_balancer, &mut names);
        for (i, s) in raw.services.iter().enumerate() {
            let sp = p().key("services").index(i);
            match (&s.feeds, s.propagation_per_request) {
                (None, None) => {}
                (Some(lb), per) => {
                    let per = per.map_or(1.0, |x| {
                        self.non_negative(&sp.key("propagation_per_request"), x, 1e6)
                    });
                    match self.load_balancers.iter().position(|l| &l.name == lb) {
                        Some(k) => {
                            if let Some(svc) = services.get_mut(i) {
                                svc.feeds = Some((k as u32, per));
                            }
                        }
                        None => {
                            self.err(&sp.key("feeds"), format!("no load balancer named {lb:?}"))
                        }
                    }
                }
                (None, Some(_)) => self.err(
                    &sp.key("propagation_per_request"),
                    "needs feeds = \"<load balancer>\"",
                ),
            }
        }
        let lease_managers = self.lease_managers(&raw.lease_manager, &names, &service_index);
        let autoscalers = self.autoscalers(&raw.autoscaler, &names, &services);
        let mut topology = self.topology(&raw);
        let mut actions = Vec::new();
        let mut triggers = Vec::new();
        for (i, t) in raw.triggers.iter().enumerate() {
            let tp = p().key("triggers").index(i);
            let from = self.non_negative(&tp.key("from_s"), t.from_s, MAX_DURATION_S);
            let to = self.positive(&tp.key("to_s"), t.to_s, MAX_DURATION_S);
            if from.is_finite() && to.is_finite() && to <= from {
                self.err(
                    &tp.key("to_s"),
                    format!("must be > from_s ({from}), got {to}"),
                );
            }
            if matches!(
                t.action,
                ActionKind::Restore
                    | ActionKind::Heal
                    | ActionKind::RetriesOn
                    | ActionKind::DnsRestore
                    | ActionKind::KillSwitch
                    | ActionKind::RestartThrottle
                    | ActionKind::EdgeRecover
                    | ActionKind::AdmitRamp
                    | ActionKind::StopGeneration
                    | ActionKind::PushGood
                    | ActionKind::FailOpen
                    | ActionKind::FailoverOn
                    | ActionKind::FailoverOff
            ) || super::lease::is_lease_action(t.action)
            {
                self.err(
                    &tp.key("action"),
                    "a trigger must break something; restore, heal, retries_on and failover on/off are operator actions",
                );
            }
            let (from, to) = (SimTime::from_secs_f64(from), SimTime::from_secs_f64(to));
            // A trigger scoped to a provider, region or zone: the same action on each member.
            let members = match t.scope {
                None => vec![(None, String::new())],
                Some(scope) => {
                    let m = self.scope_members(&tp, scope, &t.target, t.action, &topology);
                    topology
                        .scoped_triggers
                        .push(super::providers::ScopedTrigger {
                            from,
                            to,
                            scope,
                            target: t.target.clone(),
                            action: t.action,
                            value: t.value,
                            members: m.iter().map(|x| x.0).collect(),
                            reasons: m.iter().map(|x| x.1.clone()).collect(),
                        });
                    m.into_iter().map(|(s, why)| (Some(s), why)).collect()
                }
            };
            for (member, _) in &members {
                let target =
                    member.map_or(t.target.as_str(), |s| services[s as usize].name.as_str());
                if super::lease::is_lease_action(t.action) {
                    // reported above
                } else if let Some((apply, revert)) = self.trigger_actions(
                    &tp,
                    t.action,
                    target,
                    t.value,
                    to,
                    &clients,
                    &client_index,
                    &services,
                    &service_index,
                ) {
                    self.check_cache_target(&tp, &apply, &clients);
                    self.check_crash_target(&tp, &apply, &services);
                    self.check_edge_target(&tp, &apply, &services);
                    self.check_lb_service(&tp, &apply);
                    actions.push(TimedAction {
                        at: from,
                        action: apply,
                    });
                    if let Some(revert) = revert {
                        actions.push(TimedAction {
                            at: to,
                            action: revert,
                        });
                    }
                }
            }
            let label = if t.label.is_empty() {
                match t.scope {
                    Some(scope) => format!("{:?} {} {}", t.action, scope.as_str(), t.target),
                    None => format!("{:?} {}", t.action, t.target),
                }
                .to_lowercase()
            } else {
                t.label.clone()
            };
            triggers.push((from, to, label));
        }
        let mut operator_actions = Vec::new();
        let mut trigger_removals = Vec::new();
        let mut mitigations = Vec::new();
        let mut historical = Vec::new();
        for (i, a) in raw.actions.iter().enumerate() {
            let ap = p().key("actions").index(i);
            let at =
                SimTime::from_secs_f64(self.non_negative(&ap.key("at_s"), a.at_s, MAX_DURATION_S));
            let action = self.one_action(
                &ap,
                a,
                &lease_managers,
                &config_pushes,
                &client_index,
                &service_index,
                &services,
                &clients,
            );
            let label = if a.label.is_empty() {
                format!("{:?} {}", a.action, a.target).to_lowercase()
            } else {
                a.label.clone()
            };
            if !a.historical {
                operator_actions.push((at, label.clone()));
            }
            if let Some(action) = action {
                let timed = TimedAction { at, action };
                if a.historical {
                    historical.push((timed, a.removes_trigger, label));
                } else {
                    if a.removes_trigger {
                        trigger_removals.push(at);
                    } else {
                        mitigations.push(timed.clone());
                    }
                    actions.push(timed);
                }
            }
        }
        let op_names = super::operator::Names {
            clients: &client_index,
            services: &service_index,
            leases: lease_managers.iter().map(|m| m.name.clone()).collect(),
            lbs: self.load_balancers.iter().map(|l| l.name.clone()).collect(),
            pushes: config_pushes.iter().map(|c| c.name.clone()).collect(),
        };
        let operators = {
            let mut one = |v: &mut Self, path: &FieldPath, a: &super::operator::OpActionFile| {
                let af = ActionFile {
                    at_s: 0.0,
                    action: a.action,
                    target: a.target.clone(),
                    value: a.value,
                    to_per_s: None,
                    over_s: None,
                    label: String::new(),
                    removes_trigger: false,
                    historical: false,
                };
                v.one_action(
                    path,
                    &af,
                    &lease_managers,
                    &config_pushes,
                    &client_index,
                    &service_index,
                    &services,
                    &clients,
                )
            };
            self.operators(&raw.operators, &op_names, &mut one)
        };
        let trigger_probe = raw
            .incident
            .as_ref()
            .and_then(|i| i.trigger.as_ref())
            .and_then(|t| self.probe(&p().key("incident").key("trigger"), t, &op_names));
        actions.sort_by_key(|a| a.at);
        triggers.extend(super::config_push::triggers(
            &config_pushes,
            &actions,
            duration,
        ));
        let an = p().key("analysis");
        let recovery_fraction = self.positive(
            &an.key("recovery_fraction"),
            raw.analysis.recovery_fraction,
            1.0,
        );
        let sustain_s = self.positive(&an.key("sustain_s"), raw.analysis.sustain_s, MAX_DURATION_S);
        let sustain = SimDuration::from_secs_f64(sustain_s);
        components.extend(services.iter().map(|s| (s.name.clone(), Kind::Service)));
        components.extend(sinks.iter().map(|s| (s.name.clone(), Kind::Sink)));
        let incident = raw.incident.as_ref().map(|inc| self.incident(inc));
        let dns_automations = std::mem::take(&mut self.dns_automations);
        components.extend(
            dns_automations
                .iter()
                .map(|a| (a.name.clone(), Kind::DnsAutomation)),
        );
        components.extend(
            config_pushes
                .iter()
                .map(|c| (c.name.clone(), Kind::ConfigPush)),
        );
        components.extend(
            self.load_balancers
                .iter()
                .map(|l| (l.name.clone(), Kind::LoadBalancer)),
        );
        components.extend(
            lease_managers
                .iter()
                .map(|m| (m.name.clone(), Kind::LeaseManager)),
        );

        Scenario {
            file: file.to_string(),
            name: meta.name.clone(),
            description: meta.description.clone(),
            seed: meta.seed,
            duration,
            warmup: SimDuration::from_secs_f64(warmup_s),
            window,
            limits: RunLimits {
                max_events,
                max_live_requests,
                max_windows,
                max_window_bytes,
            },
            world: WorldSpec {
                clients,
                services,
                sinks,
                actions,
                max_live_requests,
                dns_automations,
                config_pushes,
                load_balancers: std::mem::take(&mut self.load_balancers),
                lease_managers,
                operators,
                trigger_probe,
                autoscalers,
            },
            components,
            triggers,
            operator_actions,
            trigger_removals,
            mitigations,
            historical,
            operator_mode: OperatorMode::Policy,
            incident,
            recovery_fraction,
            sustain,
            variant: None,
            variants: Vec::new(),
            topology,
        }
    }

    pub(super) fn incident(&mut self, inc: &IncidentFile) -> Incident {
        let ip = p().key("incident");
        // (`counterfactual` naming a variant is checked in `parse_with`, which sees them all.)
        let trigger_from = inc.trigger_from_s.map(|t| {
            SimTime::from_secs_f64(self.non_negative(&ip.key("trigger_from_s"), t, MAX_DURATION_S))
        });
        let pp = ip.key("published");
        let trigger_min = inc
            .published
            .trigger_min
            .map(|x| self.positive(&pp.key("trigger_min"), x, MAX_DURATION_S / 60.0));
        let tail_min = inc
            .published
            .tail_min
            .map(|x| self.non_negative(&pp.key("tail_min"), x, MAX_DURATION_S / 60.0));
        if inc.title.trim().is_empty() {
            self.err(&ip.key("title"), "must not be empty");
        }
        let inferred = self.inferred(&ip.key("inferred"), &inc.inferred);
        let start_clock = match (&inc.start_clock, &inc.time_zone) {
            (Some(text), zone) => match super::clock::parse_start_clock(text, zone.as_deref()) {
                Ok(c) => Some(c),
                Err(e) => {
                    let field = if e.starts_with("time_zone") {
                        "time_zone"
                    } else {
                        "start_clock"
                    };
                    self.err(&ip.key(field), e);
                    None
                }
            },
            (None, Some(_)) => {
                self.err(&ip.key("time_zone"), "needs start_clock");
                None
            }
            (None, None) => None,
        };
        Incident {
            start_clock,
            inferred,
            title: inc.title.clone(),
            source: inc.source.clone(),
            trigger_from,
            trigger_min,
            tail_min,
            heals_by_itself: inc.published.heals_by_itself,
            tail_to: inc.published.tail_to.clone(),
            counterfactual: inc.counterfactual.clone(),
        }
    }
}

/// Most `[incident] inferred` entries.
pub const MAX_INFERRED: usize = 64;

impl Validator<'_> {
    /// `[incident] inferred`: each entry must be an override path (the syntax of `set."..."`,
    /// resolved by [`super::overrides::apply`]) to a number written in the file.
    fn inferred(&mut self, at: &super::locate::FieldPath, paths: &[String]) -> Vec<InferredParam> {
        if paths.is_empty() {
            return Vec::new();
        }
        if paths.len() > MAX_INFERRED {
            self.err(
                at,
                format!("{} entries; the limit is {MAX_INFERRED}", paths.len()),
            );
            return Vec::new();
        }
        let Ok(file) = self.text.parse::<toml::Table>() else {
            return Vec::new(); // a syntax error is reported by the parser
        };
        let mut out = Vec::new();
        for (i, path) in paths.iter().enumerate() {
            let here = at.index(i);
            if paths[..i].contains(path) {
                self.err(&here, format!("{path:?} is listed twice"));
                continue;
            }
            if path.starts_with("variants") || path.starts_with("incident") {
                self.err(
                    &here,
                    format!("{path:?}: must name a field of the scenario, not of [[variants]] or [incident]"),
                );
                continue;
            }
            // Resolve the path on a copy, exactly as a variant's override would be applied.
            let mut probe = file.clone();
            let resolved =
                match super::overrides::apply(&mut probe, path, toml::Value::Boolean(false)) {
                    Ok(resolved) => resolved,
                    Err(e) => {
                        self.err(&here, format!("{path:?}: {e}"));
                        continue;
                    }
                };
            let value = match value_at(&file, &resolved) {
                Some(toml::Value::Integer(n)) => Some((*n as f64, true)),
                Some(toml::Value::Float(x)) => Some((*x, false)),
                Some(other) => {
                    self.err(
                        &here,
                        format!(
                            "{path:?} ({resolved}) is a {}, not a number",
                            other.type_str()
                        ),
                    );
                    None
                }
                None => {
                    self.err(
                        &here,
                        format!(
                            "{path:?} ({resolved}) is not written in the file; an inferred parameter must have a value to perturb"
                        ),
                    );
                    None
                }
            };
            if let Some((value, integer)) = value {
                let offset = self.located.as_ref().map_or(0, |l| l.span_of(&here).start);
                let (line, column) = super::locate::line_col(self.text, offset);
                out.push(InferredParam {
                    path: path.clone(),
                    value,
                    integer,
                    line,
                    column,
                });
            }
        }
        out
    }
}

/// The value at an already resolved path (every array entry an index), if the file has it.
fn value_at<'t>(file: &'t toml::Table, path: &super::locate::FieldPath) -> Option<&'t toml::Value> {
    use super::locate::Seg;
    let (Seg::Key(first), rest) = path.0.split_first()? else {
        return None;
    };
    let mut cur = file.get(first)?;
    for seg in rest {
        cur = match seg {
            Seg::Key(k) => cur.as_table()?.get(k)?,
            Seg::Index(i) => cur.as_array()?.get(*i)?,
        };
    }
    Some(cur)
}
