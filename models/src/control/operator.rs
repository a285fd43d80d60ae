//! Operators as policies: an on-call team that watches measured signals, is paged by an alarm,
//! takes a diagnosis delay, then acts on what it keeps observing.
//!
//! An operator is a state machine ticked every `every` by the world, which hands it the
//! current value of each signal it watches ([`Signal`]) and applies the [`Action`]s it
//! returns. Phases: *watching* (the alarm's conditions must all hold for `alarm_for`, after the
//! operator named in `after` has acted, if any), *diagnosing* (a delay drawn from `diagnosis`),
//! then *acting*: each [`Step`] runs in parallel —
//! - `Once`: an action done once (restore a record, roll back a file, add capacity);
//! - `Hold`: an action kept until release conditions have held for a while, then a release
//!   action (throttle while a backlog is above a level);
//! - `Ramp`: a knob raised step by step while guard conditions hold and cut by a factor when
//!   they do not (re-admit traffic, relax a throttle), released at its target;
//! - `RestartStuck`: restart the hosts of a lease manager that made no progress since the last
//!   look.
//!
//! Nothing here knows the world: it sees numbers and returns actions. May use the building
//! blocks (`dist`, `spec::Action`); never [`crate::world`].

use crate::dist::Dist;
use crate::spec::Action;
use sim_core::{SimDuration, SimRng, SimTime};

/// A measured quantity an operator can watch (what a dashboard shows).
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Signal {
    /// A client's failed share of the calls that ended since the last look.
    ErrorRate { client: u32 },
    /// A service's queued requests now.
    Backlog { service: u32 },
    /// A service's share of tasks (crash loop) or nodes (edge) down now.
    Crashed { service: u32 },
    /// A service's busy share of its servers that are up now (1 when none is up).
    Utilisation { service: u32 },
    /// A lease manager's share of droplets without a lease now.
    Unleased { manager: u32 },
    /// A lease manager's share of jobs finished since the last look that timed out.
    LeaseWaste { manager: u32 },
    /// A load balancer's network-propagation backlog now (items).
    Propagation { lb: u32 },
    /// 1 while a service's DNS record is empty.
    RecordEmpty { service: u32 },
    /// A config push's share of machines holding a bad file now.
    BadFiles { push: u32 },
    /// 1 while a service runs a bad configuration.
    BadConfig { service: u32 },
}

impl Signal {
    /// Whether the value is a rate over the time since the last look (the world keeps the
    /// counters' previous values for it).
    pub fn is_rate(self) -> bool {
        matches!(self, Signal::ErrorRate { .. } | Signal::LeaseWaste { .. })
    }
}

/// `signal > level` (`above`) or `signal < level`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Condition {
    pub signal: Signal,
    pub above: bool,
    pub level: f64,
}

impl Condition {
    pub fn holds(&self, value: f64) -> bool {
        if self.above {
            value > self.level
        } else {
            value < self.level
        }
    }
}

/// What a ramp turns.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Knob {
    /// Requests admitted per second by a service (the rest are rejected); released: no limit.
    AdmitRate { service: u32 },
    /// Lease establishments admitted per second; released: no throttle.
    LeaseThrottle { manager: u32 },
    /// Restarts per second of a crash-looping service; released: stays at the last rate.
    RestartRate { service: u32 },
    /// A service's server count; released: stays.
    Servers { service: u32 },
}

impl Knob {
    /// The action that sets the knob to `level`.
    pub fn set(self, level: f64) -> Action {
        match self {
            Knob::AdmitRate { service } => Action::AdmitRamp {
                service,
                from_per_s: level,
                to_per_s: level,
                // Held until the next setting: ten years outlasts any run (≤ 3.2 years).
                over: SimDuration::from_millis((10 * 365 * 86_400) * 1000),
            },
            Knob::LeaseThrottle { manager } => Action::LeaseThrottle {
                manager,
                rate_per_s: Some(level),
            },
            Knob::RestartRate { service } => Action::SetRestartRate {
                service,
                rate_per_s: level,
            },
            Knob::Servers { service } => Action::SetServers {
                service,
                servers: level.round().clamp(0.0, u32::MAX as f64) as u32,
            },
        }
    }

    /// The action that releases the knob once the ramp reached `to`.
    pub fn release(self, to: f64) -> Action {
        match self {
            Knob::AdmitRate { service } => Action::AdmitRamp {
                service,
                from_per_s: to,
                to_per_s: to,
                over: SimDuration::ZERO,
            },
            Knob::LeaseThrottle { manager } => Action::LeaseThrottle {
                manager,
                rate_per_s: None,
            },
            k => k.set(to),
        }
    }
}

/// One thing an operator does once diagnosed.
#[derive(Clone, Debug, PartialEq)]
pub enum Step {
    Once(Vec<Action>),
    Hold {
        action: Vec<Action>,
        release: Vec<Action>,
        /// Released once all of these have held for `for_`.
        until: Vec<Condition>,
        for_: SimDuration,
    },
    Ramp {
        knob: Knob,
        from: f64,
        to: f64,
        /// Added at each look `every` apart while the guard holds.
        step: f64,
        every: SimDuration,
        /// Multiplies the level when the guard fails (0 < backoff ≤ 1); never below `min`.
        backoff: f64,
        min: f64,
        guard: Vec<Condition>,
    },
    RestartStuck {
        manager: u32,
        /// Stop once all of these hold (e.g. unleased fraction below 1 %).
        until: Vec<Condition>,
    },
}

/// How a run measures its incident's trigger: on while `signal > above`, looked at every
/// `every`. The trigger starts at the first look that sees it and ends at the look that sees
/// it gone for the last time.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TriggerProbe {
    pub signal: Signal,
    pub above: f64,
    pub every: SimDuration,
}

/// A validated `[[operators]]` entry.
#[derive(Clone, Debug, PartialEq)]
pub struct OperatorSpec {
    pub name: String,
    /// How often the team looks (the policy's clock).
    pub every: SimDuration,
    /// Paged when all of these have held for `alarm_for` (an empty list: paged at once).
    pub alarm: Vec<Condition>,
    pub alarm_for: SimDuration,
    /// Armed only once operator `after` (an index) has acted.
    pub after: Option<u32>,
    /// From page to first action.
    pub diagnosis: Dist,
    pub steps: Vec<Step>,
    /// Its first action removes the trigger (the incident's trigger ends there).
    pub removes_trigger: bool,
}

impl OperatorSpec {
    /// Every condition the operator evaluates, in a fixed order (alarm, then each step's):
    /// the world evaluates the signals of exactly this list.
    pub fn conditions(&self) -> Vec<Condition> {
        let mut out = self.alarm.clone();
        for s in &self.steps {
            out.extend_from_slice(s.conditions());
        }
        out
    }
}

impl Step {
    /// The conditions this step observes (its `until` or `guard`), in the order
    /// [`OperatorSpec::conditions`] lists them.
    pub fn conditions(&self) -> &[Condition] {
        match self {
            Step::Once(_) => &[],
            Step::Hold { until, .. } | Step::RestartStuck { until, .. } => until,
            Step::Ramp { guard, .. } => guard,
        }
    }
}

/// The operators for which `keep` is true, in order, with `after` re-pointed to the kept ones'
/// new indices; an operator waiting for one that is gone is never armed (`after` =
/// `u32::MAX`, which names no operator).
pub fn keep_operators(ops: &[OperatorSpec], keep: &[bool]) -> Vec<OperatorSpec> {
    let mut new_index = Vec::with_capacity(ops.len());
    let mut n = 0u32;
    for i in 0..ops.len() {
        let k = keep.get(i).copied().unwrap_or(false);
        new_index.push(k.then_some(n));
        n += u32::from(k);
    }
    ops.iter()
        .zip(&new_index)
        .filter(|(_, ix)| ix.is_some())
        .map(|(o, _)| {
            let mut o = o.clone();
            o.after = o.after.map(|j| {
                new_index
                    .get(j as usize)
                    .copied()
                    .flatten()
                    .unwrap_or(u32::MAX)
            });
            o
        })
        .collect()
}

#[derive(Clone, Debug, PartialEq)]
enum Phase {
    Watching { since: Option<SimTime> },
    Diagnosing { act_at: SimTime },
    Acting,
}

#[derive(Clone, Debug, PartialEq)]
enum StepState {
    Idle,
    Holding { held_since: Option<SimTime> },
    Ramping { level: f64, last: SimTime },
    Restarting,
    Done,
}

/// What one look decided.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Decision {
    pub actions: Vec<Action>,
    /// Restart the stuck hosts of these lease managers.
    pub restart_stuck: Vec<u32>,
    /// The operator was paged at this look.
    pub paged: bool,
    /// The operator acted for the first time at this look.
    pub first_action: bool,
}

/// An operator's state.
#[derive(Clone)]
pub struct Operator {
    pub spec: OperatorSpec,
    /// `spec.conditions()`, computed once: the values a look expects, in this order.
    conds: Vec<Condition>,
    phase: Phase,
    steps: Vec<StepState>,
    rng: SimRng,
    /// When it was paged and when it first acted.
    pub paged_at: Option<SimTime>,
    pub acted_at: Option<SimTime>,
    /// Actions taken so far (ramp moves count one each).
    pub n_actions: u64,
}

impl Operator {
    pub fn new(spec: &OperatorSpec, seed: u64) -> Operator {
        Operator {
            spec: spec.clone(),
            conds: spec.conditions(),
            phase: Phase::Watching { since: None },
            steps: vec![StepState::Idle; spec.steps.len()],
            rng: sim_core::stream(seed, &format!("{}/diagnosis", spec.name)),
            paged_at: None,
            acted_at: None,
            n_actions: 0,
        }
    }

    /// The conditions whose signals a look needs, in order.
    pub fn conditions(&self) -> &[Condition] {
        &self.conds
    }

    /// One look at `now`: `values[i]` is the current value of `conditions()[i]`'s signal;
    /// `armed` says whether the operator named in `after` has acted.
    pub fn look(&mut self, now: SimTime, values: &[f64], armed: bool) -> Decision {
        // Which conditions hold at this look (a missing value holds nothing).
        let ok: Vec<bool> = (0..self.conds.len())
            .map(|i| values.get(i).is_some_and(|&v| self.conds[i].holds(v)))
            .collect();
        let holds = |i: usize| ok.get(i).copied().unwrap_or(false);
        let mut d = Decision::default();
        let n_alarm = self.spec.alarm.len();
        match self.phase.clone() {
            Phase::Watching { since } => {
                if !armed || !(0..n_alarm).all(holds) {
                    self.phase = Phase::Watching { since: None };
                    return d;
                }
                let since = since.unwrap_or(now);
                if now.since(since) < self.spec.alarm_for {
                    self.phase = Phase::Watching { since: Some(since) };
                    return d;
                }
                let delay = self.spec.diagnosis.sample(&mut self.rng);
                self.paged_at = Some(now);
                d.paged = true;
                self.phase = Phase::Diagnosing {
                    act_at: now.saturating_add(delay),
                };
                // A zero delay acts at this very look.
                if delay > SimDuration::ZERO {
                    return d;
                }
                self.start(now, &mut d);
            }
            Phase::Diagnosing { act_at } => {
                if now >= act_at {
                    self.start(now, &mut d);
                }
                return self.finish(d);
            }
            Phase::Acting => {}
        }
        // Acting: each step's observation-driven part.
        let mut offset = n_alarm;
        for (k, step) in self.spec.steps.iter().enumerate() {
            let range = offset..offset + step.conditions().len();
            offset = range.end;
            let all = range.clone().all(holds);
            match (step, &mut self.steps[k]) {
                (Step::Hold { release, for_, .. }, StepState::Holding { held_since }) => {
                    if all {
                        let s = *held_since.get_or_insert(now);
                        if now.since(s) >= *for_ {
                            d.actions.extend(release.iter().cloned());
                            self.steps[k] = StepState::Done;
                        }
                    } else {
                        *held_since = None;
                    }
                }
                (
                    Step::Ramp {
                        knob,
                        to,
                        step,
                        every,
                        backoff,
                        min,
                        ..
                    },
                    StepState::Ramping { level, last },
                ) => {
                    if now.since(*last) < *every {
                        continue;
                    }
                    *last = now;
                    if all {
                        *level = (*level + step).min(*to);
                        if *level >= *to {
                            d.actions.push(knob.release(*to));
                            self.steps[k] = StepState::Done;
                            continue;
                        }
                    } else {
                        *level = (*level * backoff).max(*min);
                    }
                    d.actions.push(knob.set(*level));
                }
                (Step::RestartStuck { manager, until }, StepState::Restarting) => {
                    if !until.is_empty() && all {
                        self.steps[k] = StepState::Done;
                    } else {
                        d.restart_stuck.push(*manager);
                    }
                }
                _ => {}
            }
        }
        self.finish(d)
    }

    fn finish(&mut self, d: Decision) -> Decision {
        self.n_actions += d.actions.len() as u64 + d.restart_stuck.len() as u64;
        d
    }

    /// The diagnosis is over: do the `Once` steps, engage holds and ramps.
    fn start(&mut self, now: SimTime, d: &mut Decision) {
        self.phase = Phase::Acting;
        self.acted_at = Some(now);
        d.first_action = true;
        for (k, step) in self.spec.steps.iter().enumerate() {
            self.steps[k] = match step {
                Step::Once(a) => {
                    d.actions.extend(a.iter().cloned());
                    StepState::Done
                }
                Step::Hold { action, .. } => {
                    d.actions.extend(action.iter().cloned());
                    StepState::Holding { held_since: None }
                }
                Step::Ramp { knob, from, .. } => {
                    d.actions.push(knob.set(*from));
                    StepState::Ramping {
                        level: *from,
                        last: now,
                    }
                }
                Step::RestartStuck { manager, .. } => {
                    d.restart_stuck.push(*manager);
                    StepState::Restarting
                }
            };
        }
    }

    /// Whether it has acted (operators `after` it are armed).
    pub fn has_acted(&self) -> bool {
        self.acted_at.is_some()
    }
}

impl Operator {
    /// Re-seeds every random stream this component owns from its current state and `salt`
    /// (importance splitting: a cloned world's future draws made independent).
    pub(crate) fn reseed(&mut self, salt: u64) {
        sim_core::rng::reseed(&mut self.rng, salt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secs(s: u64) -> SimTime {
        SimTime::ZERO.saturating_add(SimDuration::from_millis((s) * 1000))
    }

    fn spec(steps: Vec<Step>) -> OperatorSpec {
        OperatorSpec {
            name: "op".into(),
            every: SimDuration::from_millis((60) * 1000),
            alarm: vec![Condition {
                signal: Signal::ErrorRate { client: 0 },
                above: true,
                level: 0.5,
            }],
            alarm_for: SimDuration::from_millis((120) * 1000),
            after: None,
            diagnosis: Dist::Constant {
                ns: 600_000_000_000,
            },
            steps,
            removes_trigger: false,
        }
    }

    #[test]
    fn paged_after_the_alarm_holds_then_acts_after_the_diagnosis() {
        let a = Action::FlushCache { client: 0 };
        let mut op = Operator::new(&spec(vec![Step::Once(vec![a.clone()])]), 1);
        // The alarm must hold 120 s: a blip resets it.
        assert!(!op.look(secs(60), &[0.9], true).paged);
        assert!(!op.look(secs(120), &[0.1], true).paged);
        assert!(!op.look(secs(180), &[0.9], true).paged);
        assert!(!op.look(secs(240), &[0.9], true).paged);
        assert!(op.look(secs(300), &[0.9], true).paged);
        assert_eq!(op.paged_at, Some(secs(300)));
        // 600 s of diagnosis, whatever the signal does meanwhile.
        assert!(op.look(secs(840), &[0.0], true).actions.is_empty());
        let d = op.look(secs(900), &[0.0], true);
        assert_eq!(d.actions, vec![a]);
        assert!(d.first_action);
        assert!(op.look(secs(960), &[0.9], true).actions.is_empty());
    }

    #[test]
    fn keeping_operators_repoints_after_and_disarms_orphans() {
        let mut a = spec(vec![]);
        a.name = "a".into();
        let mut b = a.clone();
        b.name = "b".into();
        b.after = Some(0);
        let mut c = a.clone();
        c.name = "c".into();
        c.after = Some(1);
        let kept = keep_operators(&[a, b, c], &[false, true, true]);
        let names: Vec<&str> = kept.iter().map(|o| o.name.as_str()).collect();
        assert_eq!(names, ["b", "c"]);
        assert_eq!(
            kept[0].after,
            Some(u32::MAX),
            "b waited for a, which is gone"
        );
        assert_eq!(kept[1].after, Some(0), "c waits for b, now index 0");
    }

    #[test]
    fn not_armed_means_not_paged() {
        let mut op = Operator::new(&spec(vec![]), 1);
        for t in 1..20 {
            assert!(!op.look(secs(60 * t), &[1.0], false).paged);
        }
    }

    #[test]
    fn a_ramp_steps_up_while_the_guard_holds_and_backs_off_when_it_fails() {
        let knob = Knob::AdmitRate { service: 0 };
        let guard = Condition {
            signal: Signal::Backlog { service: 0 },
            above: false,
            level: 10.0,
        };
        let mut s = spec(vec![Step::Ramp {
            knob,
            from: 1.0,
            to: 5.0,
            step: 1.0,
            every: SimDuration::from_millis((60) * 1000),
            backoff: 0.5,
            min: 1.0,
            guard: vec![guard],
        }]);
        s.alarm_for = SimDuration::ZERO;
        s.diagnosis = Dist::Constant { ns: 0 };
        let mut op = Operator::new(&s, 1);
        // values: [alarm error rate, guard backlog]
        let d = op.look(secs(60), &[0.9, 0.0], true);
        assert_eq!(d.actions, vec![knob.set(1.0)]);
        assert_eq!(
            op.look(secs(120), &[0.9, 0.0], true).actions,
            vec![knob.set(2.0)]
        );
        assert_eq!(
            op.look(secs(180), &[0.9, 0.0], true).actions,
            vec![knob.set(3.0)]
        );
        // Guard fails: halve.
        assert_eq!(
            op.look(secs(240), &[0.9, 50.0], true).actions,
            vec![knob.set(1.5)]
        );
        assert_eq!(
            op.look(secs(300), &[0.9, 0.0], true).actions,
            vec![knob.set(2.5)]
        );
        assert_eq!(
            op.look(secs(360), &[0.9, 0.0], true).actions,
            vec![knob.set(3.5)]
        );
        assert_eq!(
            op.look(secs(420), &[0.9, 0.0], true).actions,
            vec![knob.set(4.5)]
        );
        assert_eq!(
            op.look(secs(480), &[0.9, 0.0], true).actions,
            vec![knob.release(5.0)]
        );
        assert!(op.look(secs(540), &[0.9, 0.0], true).actions.is_empty());
    }

    #[test]
    fn a_ramp_after_a_once_step_reads_its_own_guard() {
        // Regression: a `once` step used to reset the condition offset, so the ramp read the
        // alarm's value as its guard.
        let knob = Knob::Servers { service: 1 };
        let guard = Condition {
            signal: Signal::Backlog { service: 1 },
            above: false,
            level: 10.0,
        };
        let mut s = spec(vec![
            Step::Once(vec![Action::FlushCache { client: 0 }]),
            Step::Ramp {
                knob,
                from: 2.0,
                to: 10.0,
                step: 2.0,
                every: SimDuration::from_millis(60_000),
                backoff: 0.5,
                min: 1.0,
                guard: vec![guard],
            },
        ]);
        s.alarm_for = SimDuration::ZERO;
        s.diagnosis = Dist::Constant { ns: 0 };
        let mut op = Operator::new(&s, 1);
        op.look(secs(60), &[0.9, 0.0], true);
        // Alarm still true (0.9 > 0.5) but the guard fails (backlog 50): cut, not raised.
        assert_eq!(
            op.look(secs(120), &[0.9, 50.0], true).actions,
            vec![knob.set(1.0)]
        );
        assert_eq!(
            op.look(secs(180), &[0.0, 0.0], true).actions,
            vec![knob.set(3.0)]
        );
    }

    #[test]
    fn a_hold_releases_once_its_conditions_held_long_enough() {
        let on = Action::LeaseThrottle {
            manager: 0,
            rate_per_s: Some(4.0),
        };
        let off = Action::LeaseThrottle {
            manager: 0,
            rate_per_s: None,
        };
        let until = Condition {
            signal: Signal::Unleased { manager: 0 },
            above: false,
            level: 0.01,
        };
        let mut s = spec(vec![Step::Hold {
            action: vec![on.clone()],
            release: vec![off.clone()],
            until: vec![until],
            for_: SimDuration::from_millis((120) * 1000),
        }]);
        s.alarm_for = SimDuration::ZERO;
        s.diagnosis = Dist::Constant { ns: 0 };
        let mut op = Operator::new(&s, 1);
        assert_eq!(op.look(secs(60), &[0.9, 0.5], true).actions, vec![on]);
        assert!(op.look(secs(120), &[0.9, 0.0], true).actions.is_empty());
        assert!(op.look(secs(180), &[0.9, 0.5], true).actions.is_empty());
        assert!(op.look(secs(240), &[0.9, 0.0], true).actions.is_empty());
        assert!(op.look(secs(300), &[0.9, 0.0], true).actions.is_empty());
        assert_eq!(op.look(secs(360), &[0.9, 0.0], true).actions, vec![off]);
    }
}
