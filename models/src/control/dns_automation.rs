//! DNS automation: a planner and independent enactors that drive DNS records (the DynamoDB DNS
//! management of the AWS us-east-1 incident of 2025-10-20, incidents.md §1).
//!
//! - The **planner** produces a new plan every `plan_period` (optionally jittered); plans carry
//!   generations 1, 2, 3, … (generation 0 means "no plan": an endpoint nobody has applied a
//!   plan to yet keeps its initial, working record and is not subject to clean-up).
//! - **Endpoints** `0..E`: the first `records.len()` are bound to services (their DNS record is
//!   the service's `record_empty` flag); the others are abstract but are applied, locked and
//!   cleaned up like the bound ones, so they take part in the contention. Each endpoint has an
//!   active plan generation.
//! - **Enactors** `0..N`, each with its own random stream. A run: pick the newest plan ONCE at
//!   the start (the freshness check: only endpoints whose active plan is older than it at that
//!   moment are on the run's list), shuffle the list (each run its own order), then apply the
//!   plan endpoint by endpoint. An apply holds the endpoint's lock for a heavy-tailed delay
//!   (`apply_delay` × the enactor's delay factor). An endpoint locked by another enactor is
//!   *blocked*: it is retried `retry_delay` later, the enactor goes on with the others
//!   meanwhile. At the end of the apply the endpoint's active plan is overwritten with the
//!   enactor's plan **even if it is older than the active one** — the freshness check was made
//!   only at the start (the bug). After the run the enactor cleans up: every plan older than
//!   `its generation − cleanup_horizon` is deleted. Then it idles for `idle`.
//! - An endpoint whose active plan is deleted (or which is given an already deleted plan) has
//!   its record EMPTY (all IPs removed): a **race**. It is inconsistent: applies to it fail, so
//!   no enactor can repair it; it stays empty until an operator's `dns_restore`
//!   ([`Automation::restore_endpoint`]) puts the newest plan back on it.
//!
//! Nothing here is scripted: a race needs one enactor's run to outlast
//! `cleanup_horizon × plan_period` (it picked plan g before plan g+1 existed, and the plan that
//! deletes g, > g + horizon, was produced at least `horizon` periods later and applied by
//! another enactor before the stale apply), so with apply delays bounded well below that no
//! race can happen, with heavy-tailed delays it is rare, and with one enactor slowed down it is
//! likely.

use std::collections::VecDeque;

use rand::RngExt;
use sim_core::{CounterId, GaugeId, HistId, Recorder, Sim, SimDuration, SimRng, SimTime};

use crate::dist::Dist;
use crate::request_path::service::Service;

/// A validated DNS automation.
#[derive(Clone, Debug)]
pub struct DnsAutomationSpec {
    pub name: String,
    /// Services bound to endpoints `0..records.len()` (indices into `WorldSpec::services`).
    pub records: Vec<u32>,
    /// Number of endpoints (≥ `records.len()`).
    pub endpoints: u32,
    pub enactors: u32,
    pub plan_period: SimDuration,
    /// Each planner period is `plan_period × (1 + plan_jitter · U(−1, 1))`; in `[0, 1)`.
    pub plan_jitter: f64,
    /// Time one enactor holds one endpoint while applying a plan to it.
    pub apply_delay: Dist,
    /// Wait before retrying an endpoint locked by another enactor.
    pub retry_delay: SimDuration,
    /// A clean-up after applying generation g deletes plans older than `g − cleanup_horizon`.
    pub cleanup_horizon: u32,
    /// Pause between the end of a run and the start of the next.
    pub idle: SimDuration,
}

/// The automation's own events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ev {
    /// The planner produces its next plan.
    Plan,
    /// Enactor `.0` starts a run.
    Start(u16),
    /// Enactor `.0` finishes applying to its current endpoint.
    ApplyDone(u16),
    /// Enactor `.0`'s earliest blocked endpoint is due for a retry.
    Wake(u16),
}

/// What an apply did to its endpoint.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Applied {
    /// The plan is now active (`stale`: it is older than the plan it replaced).
    Ok { stale: bool },
    /// The plan applied was already deleted: the endpoint's record is empty now (a race).
    Emptied { stale: bool },
    /// The endpoint is inconsistent (its active plan was deleted): the apply fails.
    Failed,
}

#[derive(Clone, Debug)]
struct Enactor {
    /// Generation of the plan of the current run (0: not running).
    plan: u32,
    run_start: SimTime,
    /// Endpoints still to apply in this run, in order.
    pending: VecDeque<u32>,
    /// Endpoints found locked, with the time they may be retried (in time order).
    blocked: VecDeque<(u32, SimTime)>,
    /// The endpoint being applied (valid while `applying`).
    current: u32,
    applying: bool,
    /// Apply delays are multiplied by this (the `enactor_delay` trigger).
    delay_factor: f64,
    rng: SimRng,
}

#[derive(Clone)]
struct Metrics {
    plans: CounterId,
    applies: CounterId,
    stale_applies: CounterId,
    races: CounterId,
    apply_failures: CounterId,
    blocked: CounterId,
    records_empty: GaugeId,
    /// Enactor run durations (start → clean-up), reported as the component's task durations (`task_ms_*`).
    runs: HistId,
}

/// A DNS automation's state: plans, endpoints, enactors.
#[derive(Clone)]
pub struct Automation {
    pub spec: DnsAutomationSpec,
    /// Newest generation produced (0: none yet).
    pub newest: u32,
    /// Plans with a generation below this are deleted.
    pub oldest_kept: u32,
    /// Active plan generation of each endpoint (0: none applied yet).
    pub active: Vec<u32>,
    /// Endpoints whose active plan was deleted: record empty, no enactor can repair them.
    pub broken: Vec<bool>,
    /// Endpoints currently being applied: the enactor holding the lock.
    locked_by: Vec<Option<u16>>,
    n_broken: u32,
    enactors: Vec<Enactor>,
    planner_rng: SimRng,
    m: Option<Metrics>,
}

impl Automation {
    /// The automation's state without metrics (for unit tests of the logic).
    pub fn bare(spec: &DnsAutomationSpec, seed: u64) -> Automation {
        let e = spec.endpoints as usize;
        let enactors = (0..spec.enactors)
            .map(|i| Enactor {
                plan: 0,
                run_start: SimTime::ZERO,
                pending: VecDeque::with_capacity(e),
                blocked: VecDeque::with_capacity(e),
                current: 0,
                applying: false,
                delay_factor: 1.0,
                rng: sim_core::stream(seed, &format!("{}/enactor-{i}", spec.name)),
            })
            .collect();
        Automation {
            spec: spec.clone(),
            newest: 0,
            oldest_kept: 0,
            active: vec![0; e],
            broken: vec![false; e],
            locked_by: vec![None; e],
            n_broken: 0,
            enactors,
            planner_rng: sim_core::stream(seed, &format!("{}/planner", spec.name)),
            m: None,
        }
    }

    /// Builds the automation, registers its metrics under its name and schedules the first
    /// plan (at t = 0) and each enactor's first run (uniform in `[0, idle]`, from its stream).
    pub fn build<E>(
        spec: &DnsAutomationSpec,
        seed: u64,
        idx: u32,
        sim: &mut Sim<E>,
        wrap: fn(u32, Ev) -> E,
    ) -> Automation {
        let mut a = Automation::bare(spec, seed);
        let n = spec.name.as_str();
        let rec: &mut Recorder = &mut sim.rec;
        a.m = Some(Metrics {
            plans: rec.counter(n, "plans"),
            applies: rec.counter(n, "applies"),
            stale_applies: rec.counter(n, "stale_applies"),
            races: rec.counter(n, "races"),
            apply_failures: rec.counter(n, "apply_failures"),
            blocked: rec.counter(n, "blocked"),
            records_empty: rec.gauge(n, "records_empty"),
            runs: rec.histogram(n, "task"),
        });
        sim.schedule_at(SimTime::ZERO, wrap(idx, Ev::Plan));
        for (i, en) in a.enactors.iter_mut().enumerate() {
            let u: f64 = en.rng.random();
            let at = SimTime::ZERO
                .saturating_add(SimDuration::from_nanos_f64(u * spec.idle.as_nanos() as f64));
            sim.schedule_at(at, wrap(idx, Ev::Start(i as u16)));
        }
        a
    }

    /// Number of endpoints whose record is empty.
    pub fn n_broken(&self) -> u32 {
        self.n_broken
    }

    /// Sets enactor `i`'s apply-delay factor (1 = normal).
    pub fn set_delay_factor(&mut self, i: usize, factor: f64) {
        if let Some(en) = self.enactors.get_mut(i) {
            en.delay_factor = factor;
        }
    }

    // ------------------------------------------------------------------ the logic, without time

    /// The planner produces the next generation.
    pub fn produce_plan(&mut self) -> u32 {
        self.newest += 1;
        self.newest
    }

    /// Enactor `i` starts a run: it picks the newest plan (once) and lists the endpoints whose
    /// active plan is older *now* (the freshness check), in a shuffled order. Returns the
    /// number of endpoints listed (0: nothing to do, or no plan yet).
    pub fn start_run(&mut self, i: usize) -> usize {
        let g = self.newest;
        let en = &mut self.enactors[i];
        en.pending.clear();
        en.blocked.clear();
        en.applying = false;
        en.plan = g;
        if g == 0 {
            return 0;
        }
        en.pending.extend(
            self.active
                .iter()
                .enumerate()
                .filter(|&(_, &a)| a < g)
                .map(|(e, _)| e as u32),
        );
        // Fisher–Yates with the enactor's own stream.
        let n = en.pending.len();
        for k in (1..n).rev() {
            let j = en.rng.random_range(0..=k);
            en.pending.swap(k, j);
        }
        n
    }

    /// Enactor `i` applies its plan to endpoint `e` (its lock already released): the plan
    /// becomes active even if it is older than the active one.
    pub fn apply(&mut self, i: usize, e: usize) -> Applied {
        if self.broken[e] {
            return Applied::Failed;
        }
        let g = self.enactors[i].plan;
        let stale = g < self.active[e];
        self.active[e] = g;
        if g < self.oldest_kept {
            self.break_endpoint(e);
            return Applied::Emptied { stale };
        }
        Applied::Ok { stale }
    }

    /// Clean-up after applying generation `g`: plans older than `g − cleanup_horizon` are
    /// deleted; every endpoint whose active plan goes with them becomes empty. Returns the
    /// endpoints emptied, in index order, through `emptied`.
    pub fn cleanup(&mut self, g: u32, mut emptied: impl FnMut(usize)) {
        let cut = g.saturating_sub(self.spec.cleanup_horizon);
        if cut <= self.oldest_kept {
            return;
        }
        self.oldest_kept = cut;
        for e in 0..self.active.len() {
            let a = self.active[e];
            if a != 0 && a < cut && !self.broken[e] {
                self.break_endpoint(e);
                emptied(e);
            }
        }
    }

    fn break_endpoint(&mut self, e: usize) {
        self.broken[e] = true;
        self.n_broken += 1;
    }

    /// The operator repairs endpoint `e`: the newest plan is put back on it, so automation
    /// resumes. Returns whether it was empty.
    pub fn restore_endpoint(&mut self, e: usize) -> bool {
        if !self.broken[e] {
            return false;
        }
        self.broken[e] = false;
        self.n_broken -= 1;
        self.active[e] = self.newest;
        true
    }

    // ------------------------------------------------------------------ events

    /// Handles one of the automation's events; `services` are the world's (a bound endpoint's
    /// record is its service's `record_empty`).
    pub fn handle<E>(
        &mut self,
        idx: u32,
        ev: Ev,
        services: &mut [Service],
        sim: &mut Sim<E>,
        wrap: fn(u32, Ev) -> E,
    ) {
        match ev {
            Ev::Plan => {
                self.produce_plan();
                if let Some(m) = &self.m {
                    sim.rec.incr(m.plans);
                }
                let j = self.spec.plan_jitter;
                let f = if j > 0.0 {
                    1.0 + j * (2.0 * self.planner_rng.random::<f64>() - 1.0)
                } else {
                    1.0
                };
                let next = SimDuration::from_nanos_f64(self.spec.plan_period.as_nanos() as f64 * f);
                sim.schedule_in(next.max(SimDuration(1)), wrap(idx, Ev::Plan));
            }
            Ev::Start(i) => {
                let k = i as usize;
                self.enactors[k].run_start = sim.now();
                self.start_run(k);
                self.step(idx, k, services, sim, wrap);
            }
            Ev::ApplyDone(i) => {
                let k = i as usize;
                let en = &mut self.enactors[k];
                debug_assert!(
                    en.applying,
                    "an apply ended on an enactor that was not applying"
                );
                en.applying = false;
                let e = en.current as usize;
                self.locked_by[e] = None;
                let outcome = self.apply(k, e);
                if let Some(m) = &self.m {
                    match outcome {
                        Applied::Ok { stale } | Applied::Emptied { stale } => {
                            sim.rec.incr(m.applies);
                            if stale {
                                sim.rec.incr(m.stale_applies);
                            }
                        }
                        Applied::Failed => sim.rec.incr(m.apply_failures),
                    }
                }
                if matches!(outcome, Applied::Emptied { .. }) {
                    self.emptied(e, services, sim);
                }
                self.step(idx, k, services, sim, wrap);
            }
            Ev::Wake(i) => self.step(idx, i as usize, services, sim, wrap),
        }
    }

    /// Endpoint `e` just became empty: count the race, empty the bound service's record.
    fn emptied<E>(&self, e: usize, services: &mut [Service], sim: &mut Sim<E>) {
        if let Some(m) = &self.m {
            sim.rec.incr(m.races);
            sim.rec
                .gauge_set_count(m.records_empty, sim.now(), self.n_broken as u64);
        }
        if let Some(&s) = self.spec.records.get(e)
            && let Some(svc) = services.get_mut(s as usize)
        {
            svc.record_empty = true;
        }
    }

    /// Enactor `i` does its next thing: apply the next unlocked endpoint, wait for a blocked
    /// one, or finish the run (clean-up, then idle).
    fn step<E>(
        &mut self,
        idx: u32,
        i: usize,
        services: &mut [Service],
        sim: &mut Sim<E>,
        wrap: fn(u32, Ev) -> E,
    ) {
        let now = sim.now();
        let retry = self.spec.retry_delay;
        loop {
            let en = &mut self.enactors[i];
            // Blocked endpoints whose retry time has come go back on the list.
            while let Some(&(e, t)) = en.blocked.front()
                && t <= now
            {
                en.blocked.pop_front();
                en.pending.push_back(e);
            }
            if let Some(e) = en.pending.pop_front() {
                if self.locked_by[e as usize].is_some() {
                    en.blocked.push_back((e, now.saturating_add(retry)));
                    if let Some(m) = &self.m {
                        sim.rec.incr(m.blocked);
                    }
                    continue;
                }
                self.locked_by[e as usize] = Some(i as u16);
                en.current = e;
                en.applying = true;
                let d = self.spec.apply_delay.sample(&mut en.rng);
                let d = if en.delay_factor == 1.0 {
                    d
                } else {
                    SimDuration::from_nanos_f64(d.as_nanos() as f64 * en.delay_factor)
                };
                sim.schedule_in(d, wrap(idx, Ev::ApplyDone(i as u16)));
                return;
            }
            if let Some(&(_, t)) = en.blocked.front() {
                sim.schedule_at(t, wrap(idx, Ev::Wake(i as u16)));
                return;
            }
            break;
        }
        // The run is over: clean-up, then idle.
        let en = &mut self.enactors[i];
        let g = en.plan;
        let started = en.run_start;
        en.plan = 0;
        if g > 0 {
            let mut emptied = Vec::new();
            self.cleanup(g, |e| emptied.push(e));
            for e in emptied {
                self.emptied(e, services, sim);
            }
            if let Some(m) = &self.m {
                sim.rec.record(m.runs, now.since(started).as_nanos());
            }
        }
        sim.schedule_in(self.spec.idle, wrap(idx, Ev::Start(i as u16)));
    }

    /// The operator's `dns_restore`: every empty endpoint bound to `service` (or every empty
    /// endpoint, with `None`) gets the newest plan back; bound services' records are restored.
    pub fn operator_restore<E>(
        &mut self,
        service: Option<u32>,
        services: &mut [Service],
        sim: &mut Sim<E>,
    ) {
        for e in 0..self.active.len() {
            let bound = self.spec.records.get(e).copied();
            if service.is_some() && bound != service {
                continue;
            }
            self.restore_endpoint(e);
            if let Some(s) = bound
                && let Some(svc) = services.get_mut(s as usize)
            {
                svc.record_empty = false;
            }
        }
        if let Some(m) = &self.m {
            sim.rec
                .gauge_set_count(m.records_empty, sim.now(), self.n_broken as u64);
        }
    }
}

impl Automation {
    /// The plan lag: the largest `newest − plan` over the enactors in a run (0 when none
    /// runs). A race needs a lag above `cleanup_horizon` (module doc).
    pub fn plan_lag(&self) -> u32 {
        let newest = self.newest;
        self.enactors
            .iter()
            .filter(|e| e.plan != 0)
            .map(|e| newest.saturating_sub(e.plan))
            .max()
            .unwrap_or(0)
    }

    /// Re-seeds every random stream this component owns from its current state and `salt`
    /// (importance splitting: a cloned world's future draws made independent).
    pub(crate) fn reseed(&mut self, salt: u64) {
        sim_core::rng::reseed(&mut self.planner_rng, salt);
        for e in &mut self.enactors {
            sim_core::rng::reseed(&mut e.rng, salt);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(endpoints: u32, horizon: u32) -> DnsAutomationSpec {
        DnsAutomationSpec {
            name: "dns".into(),
            records: vec![0],
            endpoints,
            enactors: 2,
            plan_period: SimDuration::from_millis(1_000),
            plan_jitter: 0.0,
            apply_delay: Dist::Constant { ns: 1_000_000 },
            retry_delay: SimDuration::from_millis(100),
            cleanup_horizon: horizon,
            idle: SimDuration::from_millis(500),
        }
    }

    /// The AWS sequence: A picks plan 1, is slow; plans 2..=5 appear; B picks 5, applies it to
    /// the endpoint and cleans up (horizon 2: plans < 3 go); A then applies its plan 1 — older
    /// than the active 5 (stale) and already deleted: the record is empty, and no later apply
    /// repairs it until the operator restores it.
    #[test]
    fn stale_apply_of_a_deleted_plan_empties_the_record_for_good() {
        let mut a = Automation::bare(&spec(1, 2), 1);
        a.produce_plan();
        assert_eq!(a.start_run(0), 1, "A lists the endpoint (active 0 < 1)");
        for _ in 2..=5 {
            a.produce_plan();
        }
        assert_eq!(a.start_run(1), 1);
        assert_eq!(a.apply(1, 0), Applied::Ok { stale: false });
        assert_eq!(a.active[0], 5);
        let mut emptied = vec![];
        a.cleanup(5, |e| emptied.push(e));
        assert!(emptied.is_empty(), "the active plan 5 is kept");
        assert_eq!(a.oldest_kept, 3);
        assert_eq!(a.apply(0, 0), Applied::Emptied { stale: true });
        assert!(a.broken[0]);
        assert_eq!(a.n_broken(), 1);
        // No enactor can repair it: a fresh run lists it (active 1 < 6) but the apply fails.
        a.produce_plan();
        assert_eq!(a.start_run(1), 1);
        assert_eq!(a.apply(1, 0), Applied::Failed);
        assert!(a.broken[0]);
        // The operator puts the newest plan back; automation resumes.
        assert!(a.restore_endpoint(0));
        assert_eq!(a.active[0], 6);
        a.produce_plan();
        assert_eq!(a.start_run(0), 1);
        assert_eq!(a.apply(0, 0), Applied::Ok { stale: false });
        assert_eq!(a.n_broken(), 0);
    }

    /// The other order: A's stale apply lands while its plan still exists (the record is
    /// fine, but older than before); B's later clean-up deletes that active plan.
    #[test]
    fn cleanup_deleting_an_active_plan_empties_the_record() {
        let mut a = Automation::bare(&spec(2, 2), 1);
        a.produce_plan(); // 1
        a.start_run(0);
        a.produce_plan(); // 2
        a.produce_plan(); // 3
        a.start_run(1);
        assert_eq!(a.apply(1, 0), Applied::Ok { stale: false });
        assert_eq!(a.apply(1, 1), Applied::Ok { stale: false });
        a.cleanup(3, |_| panic!("plans < 1: nothing to delete"));
        // A applies its plan 1 over 3 on endpoint 0: stale, but plan 1 still exists.
        assert_eq!(a.apply(0, 0), Applied::Ok { stale: true });
        assert!(!a.broken[0]);
        a.produce_plan(); // 4
        a.start_run(1);
        assert_eq!(a.apply(1, 1), Applied::Ok { stale: false });
        // B (plan 4) has applied endpoint 1 only; its clean-up deletes plans < 2: endpoint 0's
        // active plan 1 goes, endpoint 1 (plan 4) stays.
        let mut emptied = vec![];
        a.cleanup(4, |e| emptied.push(e));
        assert_eq!(emptied, vec![0]);
        assert!(a.broken[0] && !a.broken[1]);
    }

    /// The freshness check is made once, at the start: endpoints already at the newest plan
    /// are not listed; endpoints never applied (generation 0) are never deleted.
    #[test]
    fn freshness_check_lists_only_older_endpoints_and_untouched_ones_survive_cleanup() {
        let mut a = Automation::bare(&spec(3, 1), 1);
        assert_eq!(a.start_run(0), 0, "no plan yet");
        a.produce_plan();
        a.start_run(0);
        assert_eq!(a.apply(0, 2), Applied::Ok { stale: false });
        assert_eq!(a.start_run(1), 2, "endpoint 2 already has plan 1");
        for _ in 0..10 {
            a.produce_plan();
        }
        a.cleanup(11, |e| assert_eq!(e, 2, "only endpoint 2 held a plan"));
        assert!(!a.broken[0] && !a.broken[1] && a.broken[2]);
    }

    /// A run's order is a permutation of the listed endpoints, drawn per run.
    #[test]
    fn run_order_is_a_permutation() {
        let mut a = Automation::bare(&spec(50, 3), 7);
        a.produce_plan();
        a.start_run(0);
        let mut order: Vec<u32> = a.enactors[0].pending.iter().copied().collect();
        assert_ne!(order, (0..50).collect::<Vec<u32>>(), "shuffled");
        order.sort_unstable();
        assert_eq!(order, (0..50).collect::<Vec<u32>>());
    }
}
