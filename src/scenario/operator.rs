//! Validation of `[[operators]]` (on-call teams as policies) and of `[incident] trigger` (how
//! a run measures its trigger): signal names resolved to components, levels and durations in
//! range, each action validated like an `[[actions]]` entry.

use std::collections::BTreeMap;

use models::Action;
use models::control::operator::{Condition, Knob, OperatorSpec, Signal, Step, TriggerProbe};
use serde::Deserialize;
use sim_core::SimDuration;

use super::common::*;
use super::locate::FieldPath;

/// Most operators in one file, conditions per operator, steps per operator.
pub const MAX_OPERATORS: usize = 64;
pub const MAX_CONDITIONS: usize = 16;

/// `{ signal = "error_rate", target = "users", above = 0.5 }` (or `below = …`).
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ConditionFile {
    pub signal: SignalKind,
    pub target: String,
    pub above: Option<f64>,
    pub below: Option<f64>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SignalKind {
    /// A client's failed share of the calls that ended since the last look.
    ErrorRate,
    /// A service's queued requests.
    Backlog,
    /// A service's share of tasks or edge nodes down.
    Crashed,
    /// A service's busy share of its servers that are up.
    Utilisation,
    /// A lease manager's share of droplets without a lease.
    Unleased,
    /// A lease manager's share of finished jobs that had timed out, since the last look.
    LeaseWaste,
    /// A load balancer's network-propagation backlog (items).
    Propagation,
    /// 1 while a service's DNS record is empty.
    RecordEmpty,
    /// A config push's share of machines holding a bad file.
    BadFiles,
    /// 1 while a service runs a bad configuration.
    BadConfig,
}

/// An action an operator takes (an `[[actions]]` entry without a time).
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct OpActionFile {
    pub action: ActionKind,
    pub target: String,
    pub value: Option<f64>,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct HoldFile {
    pub actions: Vec<OpActionFile>,
    #[serde(default)]
    pub release: Vec<OpActionFile>,
    pub until: Vec<ConditionFile>,
    #[serde(default)]
    pub for_s: f64,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum KnobKind {
    AdmitRate,
    LeaseThrottle,
    RestartRate,
    Servers,
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RampFile {
    pub knob: KnobKind,
    pub target: String,
    pub from: f64,
    pub to: f64,
    pub step: f64,
    pub every_s: f64,
    #[serde(default = "one")]
    pub backoff: f64,
    pub min: Option<f64>,
    #[serde(default)]
    pub guard: Vec<ConditionFile>,
}

fn one() -> f64 {
    1.0
}

#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct RestartStuckFile {
    pub target: String,
    /// `false` leaves the hosts alone (for variants).
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default)]
    pub until: Vec<ConditionFile>,
}

/// `[[operators]]`.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct OperatorFile {
    pub name: String,
    #[serde(default)]
    pub description: String,
    /// `false` takes the operator out (for variants); operators waiting for it are never armed.
    #[serde(default = "yes")]
    pub enabled: bool,
    #[serde(default = "sixty")]
    pub every_s: f64,
    #[serde(default)]
    pub alarm: Vec<ConditionFile>,
    #[serde(default)]
    pub alarm_for_s: f64,
    pub after: Option<String>,
    pub diagnosis: DistFile,
    #[serde(default)]
    pub removes_trigger: bool,
    #[serde(default)]
    pub once: Vec<OpActionFile>,
    #[serde(default)]
    pub hold: Vec<HoldFile>,
    #[serde(default)]
    pub ramp: Vec<RampFile>,
    pub restart_stuck: Option<RestartStuckFile>,
}

fn yes() -> bool {
    true
}

fn sixty() -> f64 {
    60.0
}

/// `[incident] trigger = { signal, target, above = 0, every_s = 10 }`.
#[derive(Deserialize, Debug, Clone)]
#[serde(deny_unknown_fields)]
pub struct ProbeFile {
    pub signal: SignalKind,
    pub target: String,
    #[serde(default)]
    pub above: f64,
    #[serde(default = "ten")]
    pub every_s: f64,
}

fn ten() -> f64 {
    10.0
}

/// Component names an operator may refer to, by kind.
pub(super) struct Names<'a> {
    pub clients: &'a BTreeMap<String, u32>,
    pub services: &'a BTreeMap<String, u32>,
    pub leases: Vec<String>,
    pub lbs: Vec<String>,
    pub pushes: Vec<String>,
}

impl Validator<'_> {
    fn named(&mut self, path: &FieldPath, what: &str, name: &str, names: &[String]) -> Option<u32> {
        let i = names.iter().position(|n| n == name);
        if i.is_none() {
            self.err(
                path,
                format!("no {what} named {name:?} (there are: {})", names.join(", ")),
            );
        }
        i.map(|i| i as u32)
    }

    fn indexed(
        &mut self,
        path: &FieldPath,
        what: &str,
        name: &str,
        index: &BTreeMap<String, u32>,
    ) -> Option<u32> {
        let names: Vec<String> = index.keys().cloned().collect();
        self.named(path, what, name, &names)
            .and_then(|_| index.get(name).copied())
    }

    pub(super) fn signal(
        &mut self,
        path: &FieldPath,
        kind: SignalKind,
        target: &str,
        n: &Names,
    ) -> Option<Signal> {
        let tp = path.key("target");
        Some(match kind {
            SignalKind::ErrorRate => Signal::ErrorRate {
                client: self.indexed(&tp, "client", target, n.clients)?,
            },
            SignalKind::Backlog => Signal::Backlog {
                service: self.indexed(&tp, "service", target, n.services)?,
            },
            SignalKind::Crashed => Signal::Crashed {
                service: self.indexed(&tp, "service", target, n.services)?,
            },
            SignalKind::Utilisation => Signal::Utilisation {
                service: self.indexed(&tp, "service", target, n.services)?,
            },
            SignalKind::RecordEmpty => Signal::RecordEmpty {
                service: self.indexed(&tp, "service", target, n.services)?,
            },
            SignalKind::BadConfig => Signal::BadConfig {
                service: self.indexed(&tp, "service", target, n.services)?,
            },
            SignalKind::Unleased => Signal::Unleased {
                manager: self.named(&tp, "lease manager", target, &n.leases)?,
            },
            SignalKind::LeaseWaste => Signal::LeaseWaste {
                manager: self.named(&tp, "lease manager", target, &n.leases)?,
            },
            SignalKind::Propagation => Signal::Propagation {
                lb: self.named(&tp, "load balancer", target, &n.lbs)?,
            },
            SignalKind::BadFiles => Signal::BadFiles {
                push: self.named(&tp, "config push", target, &n.pushes)?,
            },
        })
    }

    fn conditions(&mut self, path: &FieldPath, cs: &[ConditionFile], n: &Names) -> Vec<Condition> {
        if cs.len() > MAX_CONDITIONS {
            self.err(path, format!("at most {MAX_CONDITIONS} conditions"));
        }
        let mut out = Vec::new();
        for (i, c) in cs.iter().enumerate().take(MAX_CONDITIONS) {
            let cp = path.index(i);
            let (above, level) = match (c.above, c.below) {
                (Some(x), None) => (true, x),
                (None, Some(x)) => (false, x),
                _ => {
                    self.err(&cp, "give exactly one of `above` or `below`");
                    continue;
                }
            };
            let key = if above { "above" } else { "below" };
            if !level.is_finite() || level.abs() > 1e12 {
                self.err(
                    &cp.key(key),
                    format!("must be a finite number, got {level}"),
                );
                continue;
            }
            if let Some(signal) = self.signal(&cp, c.signal, &c.target, n) {
                out.push(Condition {
                    signal,
                    above,
                    level,
                });
            }
        }
        out
    }

    /// The probe of `[incident] trigger`.
    pub(super) fn probe(
        &mut self,
        path: &FieldPath,
        p: &ProbeFile,
        n: &Names,
    ) -> Option<TriggerProbe> {
        let every = self.positive(&path.key("every_s"), p.every_s, MAX_DURATION_S);
        if !p.above.is_finite() {
            self.err(&path.key("above"), "must be a finite number");
        }
        let signal = self.signal(path, p.signal, &p.target, n)?;
        Some(TriggerProbe {
            signal,
            above: p.above,
            every: SimDuration::from_secs_f64(every),
        })
    }

    /// Validates every `[[operators]]` entry; `action` validates one operator action like an
    /// `[[actions]]` entry.
    pub(super) fn operators(
        &mut self,
        ops: &[OperatorFile],
        n: &Names,
        action: &mut dyn FnMut(&mut Self, &FieldPath, &OpActionFile) -> Option<Action>,
    ) -> Vec<OperatorSpec> {
        let root = FieldPath::root().key("operators");
        if ops.len() > MAX_OPERATORS {
            self.err(&root, format!("at most {MAX_OPERATORS} operators"));
        }
        let names: Vec<String> = ops.iter().map(|o| o.name.clone()).collect();
        let mut out = Vec::new();
        let mut enabled = Vec::new();
        for (i, o) in ops.iter().enumerate().take(MAX_OPERATORS) {
            let op = root.index(i);
            if o.name.trim().is_empty() {
                self.err(&op.key("name"), "must not be empty");
            } else if names[..i].contains(&o.name) {
                self.err(
                    &op.key("name"),
                    format!("duplicate operator name {:?}", o.name),
                );
            }
            let every = self.positive(&op.key("every_s"), o.every_s, MAX_DURATION_S);
            let alarm_for =
                self.non_negative(&op.key("alarm_for_s"), o.alarm_for_s, MAX_DURATION_S);
            let alarm = self.conditions(&op.key("alarm"), &o.alarm, n);
            let after = o.after.as_ref().and_then(|a| {
                let j = self.named(&op.key("after"), "operator", a, &names)?;
                if j as usize == i {
                    self.err(&op.key("after"), "an operator cannot wait for itself");
                    return None;
                }
                Some(j)
            });
            let diagnosis = self.dist(&op.key("diagnosis"), &o.diagnosis);
            let mut steps = Vec::new();
            let mut acts = |v: &mut Self, path: &FieldPath, list: &[OpActionFile]| -> Vec<Action> {
                list.iter()
                    .enumerate()
                    .filter_map(|(k, a)| action(v, &path.index(k), a))
                    .collect()
            };
            if !o.once.is_empty() {
                let a = acts(self, &op.key("once"), &o.once);
                steps.push(Step::Once(a));
            }
            for (k, h) in o.hold.iter().enumerate() {
                let hp = op.key("hold").index(k);
                let action = acts(self, &hp.key("actions"), &h.actions);
                let release = acts(self, &hp.key("release"), &h.release);
                let until = self.conditions(&hp.key("until"), &h.until, n);
                let for_s = self.non_negative(&hp.key("for_s"), h.for_s, MAX_DURATION_S);
                steps.push(Step::Hold {
                    action,
                    release,
                    until,
                    for_: SimDuration::from_secs_f64(for_s),
                });
            }
            for (k, r) in o.ramp.iter().enumerate() {
                let rp = op.key("ramp").index(k);
                let tp = rp.key("target");
                let knob = match r.knob {
                    KnobKind::AdmitRate => self
                        .indexed(&tp, "service", &r.target, n.services)
                        .map(|service| Knob::AdmitRate { service }),
                    KnobKind::RestartRate => self
                        .indexed(&tp, "service", &r.target, n.services)
                        .map(|service| Knob::RestartRate { service }),
                    KnobKind::Servers => self
                        .indexed(&tp, "service", &r.target, n.services)
                        .map(|service| Knob::Servers { service }),
                    KnobKind::LeaseThrottle => self
                        .named(&tp, "lease manager", &r.target, &n.leases)
                        .map(|manager| Knob::LeaseThrottle { manager }),
                };
                let max = MAX_RATE_PER_S;
                let from = self.non_negative(&rp.key("from"), r.from, max);
                let to = self.positive(&rp.key("to"), r.to, max);
                let step = self.positive(&rp.key("step"), r.step, max);
                if from > to {
                    self.err(&rp.key("from"), format!("must be ≤ to ({to}), got {from}"));
                }
                let every = self.positive(&rp.key("every_s"), r.every_s, MAX_DURATION_S);
                let backoff = self.positive(&rp.key("backoff"), r.backoff, 1.0);
                let min = r
                    .min
                    .map_or(from, |m| self.non_negative(&rp.key("min"), m, max));
                let guard = self.conditions(&rp.key("guard"), &r.guard, n);
                if let Some(knob) = knob {
                    steps.push(Step::Ramp {
                        knob,
                        from,
                        to,
                        step,
                        every: SimDuration::from_secs_f64(every),
                        backoff,
                        min,
                        guard,
                    });
                }
            }
            if let Some(r) = o.restart_stuck.as_ref().filter(|r| r.enabled) {
                let rp = op.key("restart_stuck");
                let until = self.conditions(&rp.key("until"), &r.until, n);
                if let Some(manager) =
                    self.named(&rp.key("target"), "lease manager", &r.target, &n.leases)
                {
                    steps.push(Step::RestartStuck { manager, until });
                }
            }
            if steps.is_empty() {
                self.err(
                    &op,
                    "an operator needs at least one of once, hold, ramp or restart_stuck",
                );
            }
            enabled.push(o.enabled);
            out.push(OperatorSpec {
                name: o.name.clone(),
                every: SimDuration::from_secs_f64(every),
                alarm,
                alarm_for: SimDuration::from_secs_f64(alarm_for),
                after,
                diagnosis,
                steps,
                removes_trigger: o.removes_trigger,
            });
        }
        // Disabled operators go; an operator waiting for a disabled one is never armed.
        models::control::operator::keep_operators(&out, &enabled)
    }
}
