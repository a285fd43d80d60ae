//! Operators and the trigger probe at their looks: the world measures each watched signal,
//! hands the values to [`crate::control::operator::Operator::look`] and applies what it
//! decides; the probe records when the incident's trigger is carried by the mechanism.

use super::*;
use crate::control::operator::{Operator, Signal, TriggerProbe};

/// `Event::Operator { idx: PROBE }` is the trigger probe's look.
pub(super) const PROBE: u32 = u32::MAX;

/// A rate signal's counters at the last look, and the value it had then (kept while no call
/// ends).
#[derive(Clone, Copy, Debug, Default)]
pub(super) struct Prev {
    bad: u64,
    all: u64,
    last: f64,
}

/// When the trigger was first carried, and when it last stopped.
#[derive(Clone, Debug)]
pub(super) struct ProbeState {
    spec: TriggerProbe,
    first_on: Option<SimTime>,
    last_off: Option<SimTime>,
    on: bool,
}

/// What each operator did (for reports).
#[derive(Clone, Debug, PartialEq)]
pub struct OperatorLog {
    pub name: String,
    pub paged_at: Option<SimTime>,
    pub acted_at: Option<SimTime>,
    pub actions: u64,
}

impl World {
    pub(super) fn build_operators(&mut self, spec: &WorldSpec, seed: u64, sim: &mut Sim<Event>) {
        for (i, o) in spec.operators.iter().enumerate() {
            self.operators.push(Operator::new(o, seed));
            self.op_prev
                .push(vec![Prev::default(); o.conditions().len()]);
            sim.schedule_at(
                SimTime::ZERO.saturating_add(o.every),
                Event::Operator { idx: i as u32 },
            );
        }
        self.lease_seen = self
            .leases
            .iter()
            .map(|m| m.host_progress().iter().map(|p| p.0).collect())
            .collect();
        if let Some(p) = &spec.trigger_probe {
            self.probe = Some(ProbeState {
                spec: *p,
                first_on: None,
                last_off: None,
                on: false,
            });
            sim.schedule_at(SimTime::ZERO, Event::Operator { idx: PROBE });
        }
    }

    pub(super) fn on_operator(&mut self, idx: u32, sim: &mut Sim<Event>) {
        let now = sim.now();
        if idx == PROBE {
            let Some(p) = self.probe.clone() else { return };
            let mut prev = self.probe_prev;
            let on = self.signal(p.spec.signal, &mut prev, sim) > p.spec.above;
            self.probe_prev = prev;
            if let Some(st) = &mut self.probe {
                if on && !st.on {
                    st.first_on.get_or_insert(now);
                } else if !on && st.on {
                    st.last_off = Some(now);
                }
                st.on = on;
            }
            sim.schedule_in(p.spec.every, Event::Operator { idx });
            return;
        }
        let i = idx as usize;
        let Some(op) = self.operators.get(i) else {
            return;
        };
        let n = op.conditions().len();
        let every = op.spec.every;
        let armed = op.spec.after.is_none_or(|j| {
            self.operators
                .get(j as usize)
                .is_some_and(|o| o.has_acted())
        });
        let mut values = Vec::with_capacity(n);
        for k in 0..n {
            let signal = self.operators[i].conditions()[k].signal;
            let mut prev = self.op_prev[i][k];
            values.push(self.signal(signal, &mut prev, sim));
            self.op_prev[i][k] = prev;
        }
        let d = self.operators[i].look(now, &values, armed);
        if d.first_action && self.operators[i].spec.removes_trigger {
            self.trigger_removed_at.get_or_insert(now);
        }
        for a in d.actions {
            self.apply_action(a, sim);
        }
        for m in d.restart_stuck {
            self.restart_stuck(m as usize, sim);
        }
        sim.schedule_in(every, Event::Operator { idx });
    }

    /// Restarts the hosts of lease manager `m` that finished no job in time since the last
    /// look while work was queued.
    fn restart_stuck(&mut self, m: usize, sim: &mut Sim<Event>) {
        let Some(mgr) = self.leases.get_mut(m) else {
            return;
        };
        let progress = mgr.host_progress();
        let seen = &mut self.lease_seen[m];
        let stuck: Vec<usize> = progress
            .iter()
            .enumerate()
            .filter(|&(h, &(ok, queued))| queued > 0 && seen.get(h).is_some_and(|&s| s == ok))
            .map(|(h, _)| h)
            .collect();
        *seen = progress.iter().map(|p| p.0).collect();
        if !stuck.is_empty() {
            mgr.restart(&stuck, sim);
        }
    }

    /// The current value of `signal` (rates: since the last look, from `prev`).
    fn signal(&self, signal: Signal, prev: &mut Prev, sim: &Sim<Event>) -> f64 {
        let rate = |bad: u64, all: u64, prev: &mut Prev| {
            let (db, da) = (bad.saturating_sub(prev.bad), all.saturating_sub(prev.all));
            prev.bad = bad;
            prev.all = all;
            if da > 0 {
                prev.last = db as f64 / da as f64;
            }
            prev.last
        };
        match signal {
            Signal::ErrorRate { client } => {
                let Some(c) = self.clients.get(client as usize) else {
                    return 0.0;
                };
                let bad = sim.rec.counter_cumulative(c.m.give_ups);
                let ok = sim.rec.counter_cumulative(c.m.successes);
                rate(bad, bad.saturating_add(ok), prev)
            }
            Signal::LeaseWaste { manager } => {
                let Some(m) = self.leases.get(manager as usize) else {
                    return 0.0;
                };
                let (bad, all) = m.waste_counts(&sim.rec);
                rate(bad, all, prev)
            }
            Signal::Backlog { service } => self
                .services
                .get(service as usize)
                .map_or(0.0, |s| s.live_len() as f64),
            Signal::Utilisation { service } => {
                self.services.get(service as usize).map_or(0.0, |s| {
                    // Of the servers that are up (crashed tasks and down edge nodes serve
                    // nothing); none up reads as saturated.
                    let up = s.servers.saturating_sub(s.servers_down());
                    if up == 0 {
                        1.0
                    } else {
                        f64::from(s.busy) / f64::from(up)
                    }
                })
            }
            Signal::Crashed { service } => self.services.get(service as usize).map_or(0.0, |s| {
                f64::from(s.servers_down()) / f64::from(s.servers.max(1))
            }),
            Signal::Unleased { manager } => self
                .leases
                .get(manager as usize)
                .map_or(0.0, |m| m.unleased_fraction()),
            Signal::Propagation { lb } => self
                .load_balancers
                .get(lb as usize)
                .map_or(0.0, |l| l.propagation_backlog() as f64),
            Signal::RecordEmpty { service } => self
                .services
                .get(service as usize)
                .map_or(0.0, |s| if s.record_empty { 1.0 } else { 0.0 }),
            Signal::BadFiles { push } => self
                .config_pushes
                .get(push as usize)
                .map_or(0.0, |p| p.bad_servers()),
            Signal::BadConfig { service } => self.services.get(service as usize).map_or(0.0, |s| {
                let bad = s.bad_config || s.edge.as_ref().is_some_and(|e| e.bad);
                if bad { 1.0 } else { 0.0 }
            }),
        }
    }

    /// The trigger as the mechanism carried it: when the probe first saw it and, if it is
    /// over by now, when it last ended. `None` without a probe or if it never happened.
    pub fn trigger_measured(&self) -> Option<(SimTime, Option<SimTime>)> {
        let p = self.probe.as_ref()?;
        let start = p.first_on?;
        Some((start, if p.on { None } else { p.last_off }))
    }

    /// When an operator whose action removes the trigger first acted.
    pub fn trigger_removed_at(&self) -> Option<SimTime> {
        self.trigger_removed_at
    }

    /// What each operator did.
    pub fn operator_log(&self) -> Vec<OperatorLog> {
        self.operators
            .iter()
            .map(|o| OperatorLog {
                name: o.spec.name.clone(),
                paged_at: o.paged_at,
                acted_at: o.acted_at,
                actions: o.n_actions,
            })
            .collect()
    }
}
