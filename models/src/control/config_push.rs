//! Config push: a generator that produces a configuration file every `period`, its propagation
//! to a fleet of proxy machines (all at once, or in stages that halt on errors), and the proxy
//! services that consume it and either fail closed (every request errors while the machine it
//! hits holds a bad file) or fail open (keep serving, answers degraded).
//!
//! This is the mechanism of the Cloudflare 2025-11-18 outage: a Bot Management feature file
//! generated every five minutes was bad whenever its query ran on an already-updated ClickHouse
//! node, so the network received good and bad files in turn and the 5xx rate was a square wave
//! until every node was updated; the FL2 proxy panicked on a bad file (fail closed), the old FL
//! proxy scored every request 0 (fail open). Stopping generation and pushing a known-good file
//! (the kill switch) ended it.
//!
//! Model:
//! - **Generator.** At `t = 0, period, 2·period, …` (while generation is on) a file is produced;
//!   it is bad with probability `p(t)`, a piecewise-linear schedule (the fraction of updated
//!   source nodes). Draws come from the stream `"<name>/generate"`.
//! - **Propagation.** Each machine receives a file after its own delay drawn from `delay`
//!   (stream `"<name>/propagation"`). A machine keeps the newest file it received (files are
//!   numbered), so a late copy of an older file never overwrites a newer one.
//! - **Rollout.** `Global`: every machine at once. `Staged`: stage `i` covers the machines
//!   `[n_{i-1}, n_i)` with `n_i = ceil(fraction_i · machines)`; a stage starts, its machines
//!   get the file, and after the bake time the stage is checked: if the file is bad, some
//!   proxy fails closed and some machine of the stage holds the file, the stage shows errors,
//!   the rollout halts and the machines that got the file roll back to the last good one
//!   (counted in `rollout_halts`); otherwise the next stage starts. A fail-open fleet shows no
//!   errors, so a bad file rolls out everywhere.
//! - **Proxies.** A request to a proxy service hits a random machine, so it fails (fail closed)
//!   or is answered degraded (fail open) with probability `bad_servers` = the fraction of
//!   machines holding a bad file. Fail closed drives the service's error rate
//!   `1 − (1 − base)(1 − bad_servers)` and, with `error_cost > 0`, its slowdown
//!   `1 + error_cost · bad_servers` (error handling that burns CPU: Cloudflare's debugging
//!   systems enriching uncaught errors). Fail open counts `degraded` answers (a deterministic
//!   accumulator: exactly `bad_servers` per successful answer, in expectation and in sum).
//! - **Operator actions.** `stop_generation` stops producing files and drops deliveries still
//!   in flight; `push_good` inserts a known-good file, delivered to every machine (whatever
//!   the rollout: the emergency path) after a propagation delay; `fail_open` switches a
//!   proxy to failing open (Cloudflare moved Workers KV and Access to the old proxy at 13:05).

use rand::RngExt;
use sim_core::{CounterId, GaugeId, Recorder, Sim, SimDuration, SimRng, SimTime};

use crate::dist::Dist;

/// What a proxy does while its machine holds a bad file.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum OnBad {
    /// Panic: every request answered with an error (HTTP 5xx).
    FailClosed,
    /// Keep serving with the module skipped or defaulted: answers are degraded, not errors.
    FailOpen,
}

/// A service consuming the file.
#[derive(Clone, Debug, PartialEq)]
pub struct ProxySpec {
    /// Index into `WorldSpec::services`.
    pub service: u32,
    pub on_bad: OnBad,
    /// Extra service-time factor at 100 % bad machines (fail closed only; 0 = none).
    pub error_cost: f64,
}

/// How a file reaches the machines.
#[derive(Clone, Debug, PartialEq)]
pub enum Rollout {
    /// All machines at once (each after its own propagation delay).
    Global,
    /// Cumulative fractions of the machines per stage (increasing, the last is 1), and the
    /// time a stage bakes before it is checked.
    Staged { stages: Vec<f64>, bake: SimDuration },
}

/// A validated config push.
#[derive(Clone, Debug, PartialEq)]
pub struct ConfigPushSpec {
    pub name: String,
    pub period: SimDuration,
    /// `(time, probability that a file generated then is bad)`, sorted by time; linear in
    /// between, constant before the first and after the last point.
    pub bad_fraction: Vec<(SimTime, f64)>,
    pub delay: Dist,
    /// Proxy machines (every proxy service runs on every machine).
    pub machines: u32,
    pub rollout: Rollout,
    pub proxies: Vec<ProxySpec>,
}

impl ConfigPushSpec {
    /// `p(t)`: the probability that a file generated at `t` is bad.
    pub fn bad_probability(&self, t: SimTime) -> f64 {
        let pts = &self.bad_fraction;
        let Some(&(t0, p0)) = pts.first() else {
            return 0.0;
        };
        if t <= t0 {
            return p0;
        }
        for w in pts.windows(2) {
            let ((a, pa), (b, pb)) = (w[0], w[1]);
            if t <= b {
                if b <= a {
                    return pb;
                }
                let x = t.since(a).as_secs_f64() / b.since(a).as_secs_f64();
                return pa + (pb - pa) * x;
            }
        }
        pts.last().map_or(0.0, |p| p.1)
    }
}

/// The config push's own events.
#[derive(Clone, Copy, Debug)]
pub enum Ev {
    /// Time to generate the next file.
    Generate,
    /// Deliveries of file `file` are due.
    Deliver { file: u32 },
    /// The current stage of file `file` has baked: check it.
    Bake { file: u32 },
}

/// One generated (or pushed) file and its rollout.
#[derive(Clone)]
struct File {
    bad: bool,
    /// Inserted by the operator (`push_good`), not generated.
    pushed: bool,
    /// Deliveries not yet made: `(time, machine)`, sorted latest first (pop from the end).
    pending: Vec<(SimTime, u32)>,
    /// Earliest time a `Deliver` event is scheduled for (`SimTime::MAX`: none).
    armed_at: SimTime,
    /// Current stage (staged rollout).
    stage: u32,
}

/// Proxy state that operator actions change.
#[derive(Clone)]
pub(crate) struct Proxy {
    pub service: u32,
    pub on_bad: OnBad,
    pub error_cost: f64,
    /// The service's own error rate, before the file's effect.
    pub base_error: f64,
}

/// A config push's state.
#[derive(Clone)]
pub struct ConfigPush {
    pub spec: ConfigPushSpec,
    pub(crate) proxies: Vec<Proxy>,
    generating: bool,
    files: Vec<File>,
    /// Per machine: 1 + the number of the file it holds (0: the initial, good file).
    holds: Vec<u32>,
    /// Per machine: it holds a bad file.
    bad: Vec<bool>,
    n_bad: u32,
    gen_rng: SimRng,
    delay_rng: SimRng,
    m: Metrics,
}

#[derive(Clone)]
struct Metrics {
    files_good: CounterId,
    files_bad: CounterId,
    rollout_halts: CounterId,
    bad_servers: GaugeId,
}

impl ConfigPush {
    /// Builds the push; `base_errors[i]` is the error rate of proxy `i`'s service.
    pub fn new(
        spec: &ConfigPushSpec,
        base_errors: &[f64],
        seed: u64,
        rec: &mut Recorder,
    ) -> ConfigPush {
        let n = &spec.name;
        let machines = spec.machines.max(1) as usize;
        ConfigPush {
            spec: spec.clone(),
            proxies: spec
                .proxies
                .iter()
                .enumerate()
                .map(|(i, p)| Proxy {
                    service: p.service,
                    on_bad: p.on_bad,
                    error_cost: p.error_cost,
                    base_error: base_errors.get(i).copied().unwrap_or(0.0),
                })
                .collect(),
            generating: true,
            files: Vec::new(),
            holds: vec![0; machines],
            bad: vec![false; machines],
            n_bad: 0,
            gen_rng: sim_core::stream(seed, &format!("{n}/generate")),
            delay_rng: sim_core::stream(seed, &format!("{n}/propagation")),
            m: Metrics {
                files_good: rec.counter(n, "files_good"),
                files_bad: rec.counter(n, "files_bad"),
                rollout_halts: rec.counter(n, "rollout_halts"),
                bad_servers: rec.gauge(n, "bad_servers"),
            },
        }
    }

    /// Fraction of machines holding a bad file.
    pub fn bad_servers(&self) -> f64 {
        self.n_bad as f64 / self.bad.len() as f64
    }

    /// Files generated or pushed so far.
    pub fn files(&self) -> usize {
        self.files.len()
    }

    fn machines(&self) -> u32 {
        self.bad.len() as u32
    }

    /// End (exclusive) of stage `i`'s machines.
    fn stage_end(&self, i: u32) -> u32 {
        match &self.spec.rollout {
            Rollout::Global => self.machines(),
            Rollout::Staged { stages, .. } => stages.get(i as usize).map_or(self.machines(), |f| {
                ((f * self.machines() as f64).ceil() as u32).min(self.machines())
            }),
        }
    }

    fn n_stages(&self) -> u32 {
        match &self.spec.rollout {
            Rollout::Global => 1,
            Rollout::Staged { stages, .. } => stages.len() as u32,
        }
    }

    /// Handles one of the push's events (push number `idx`). Returns true if the fraction of
    /// bad machines changed (the caller then updates the proxies).
    pub fn handle<E: From<(u32, Ev)>>(&mut self, idx: u32, ev: Ev, sim: &mut Sim<E>) -> bool {
        match ev {
            Ev::Generate => {
                if !self.generating {
                    return false;
                }
                let now = sim.now();
                let bad = self.gen_rng.random::<f64>() < self.spec.bad_probability(now);
                let staged = matches!(self.spec.rollout, Rollout::Staged { .. });
                self.new_file(idx, bad, !staged, false, sim);
                sim.schedule_in(self.spec.period, E::from((idx, Ev::Generate)));
                false
            }
            Ev::Deliver { file } => self.deliver_due(idx, file, sim),
            Ev::Bake { file } => self.bake(idx, file, sim),
        }
    }

    /// A new file (bad or not; `pushed` by the operator or generated) starts its rollout: to
    /// every machine if `everywhere`, else to the first stage.
    fn new_file<E: From<(u32, Ev)>>(
        &mut self,
        idx: u32,
        bad: bool,
        everywhere: bool,
        pushed: bool,
        sim: &mut Sim<E>,
    ) {
        sim.rec.incr(if bad {
            self.m.files_bad
        } else {
            self.m.files_good
        });
        self.files.push(File {
            bad,
            pushed,
            pending: Vec::new(),
            armed_at: SimTime::MAX,
            stage: 0,
        });
        let file = (self.files.len() - 1) as u32;
        let end = if everywhere {
            self.machines()
        } else {
            self.stage_end(0)
        };
        self.start_deliveries(idx, file, 0, end, sim);
        if !everywhere && let Rollout::Staged { bake, .. } = self.spec.rollout {
            sim.schedule_in(bake, E::from((idx, Ev::Bake { file })));
        }
    }

    /// Draws the delivery times of `file` to machines `[from, to)` and arms its event.
    fn start_deliveries<E: From<(u32, Ev)>>(
        &mut self,
        idx: u32,
        file: u32,
        from: u32,
        to: u32,
        sim: &mut Sim<E>,
    ) {
        let now = sim.now();
        let f = &mut self.files[file as usize];
        for k in from..to {
            let at = now.saturating_add(self.spec.delay.sample(&mut self.delay_rng));
            f.pending.push((at, k));
        }
        // Latest first; ties by machine, descending, so equal times deliver in machine order.
        f.pending.sort_unstable_by(|a, b| b.cmp(a));
        self.arm(idx, file, sim);
    }

    /// Schedules a `Deliver` event at the file's earliest pending delivery unless one at
    /// that time or earlier is already scheduled.
    fn arm<E: From<(u32, Ev)>>(&mut self, idx: u32, file: u32, sim: &mut Sim<E>) {
        let f = &mut self.files[file as usize];
        if let Some(&(at, _)) = f.pending.last()
            && at < f.armed_at
        {
            f.armed_at = at;
            sim.schedule_at(at, E::from((idx, Ev::Deliver { file })));
        }
    }

    fn deliver_due<E: From<(u32, Ev)>>(&mut self, idx: u32, file: u32, sim: &mut Sim<E>) -> bool {
        let now = sim.now();
        let Some(f) = self.files.get_mut(file as usize) else {
            return false;
        };
        if now >= f.armed_at {
            f.armed_at = SimTime::MAX;
        }
        let before = self.n_bad;
        let bad = f.bad;
        while let Some(&(at, k)) = self.files[file as usize].pending.last() {
            if at > now {
                break;
            }
            self.files[file as usize].pending.pop();
            self.install(k, file + 1, bad);
        }
        if self.files[file as usize].pending.is_empty() {
            // Free the buffer of a finished rollout.
            self.files[file as usize].pending = Vec::new();
        } else {
            self.arm(idx, file, sim);
        }
        self.n_bad != before
    }

    /// Machine `k` installs the file numbered `holds` (bad or not), unless it holds a newer one.
    fn install(&mut self, k: u32, holds: u32, bad: bool) {
        let k = k as usize;
        if holds <= self.holds[k] {
            return;
        }
        self.holds[k] = holds;
        if self.bad[k] != bad {
            self.bad[k] = bad;
            if bad {
                self.n_bad += 1;
            } else {
                self.n_bad -= 1;
            }
        }
    }

    /// The current stage of `file` has baked: halt and roll back if it shows errors, else
    /// start the next stage.
    fn bake<E: From<(u32, Ev)>>(&mut self, idx: u32, file: u32, sim: &mut Sim<E>) -> bool {
        let Rollout::Staged { bake, .. } = self.spec.rollout else {
            return false;
        };
        let Some(f) = self.files.get(file as usize) else {
            return false;
        };
        let stage = f.stage;
        let end = self.stage_end(stage);
        let fails_closed = self.proxies.iter().any(|p| p.on_bad == OnBad::FailClosed);
        let holders = (0..end).any(|k| self.holds[k as usize] == file + 1);
        if f.bad && fails_closed && holders {
            // Errors: halt, drop what is still in flight, roll the machines that got it back
            // to the last good file (they keep the number, so older copies stay ignored).
            sim.rec.incr(self.m.rollout_halts);
            let before = self.n_bad;
            self.files[file as usize].pending = Vec::new();
            for k in 0..end as usize {
                if self.holds[k] == file + 1 && self.bad[k] {
                    self.bad[k] = false;
                    self.n_bad -= 1;
                }
            }
            return self.n_bad != before;
        }
        if stage + 1 < self.n_stages() && self.generating {
            self.files[file as usize].stage = stage + 1;
            let next_end = self.stage_end(stage + 1);
            self.start_deliveries(idx, file, end, next_end, sim);
            sim.schedule_in(bake, E::from((idx, Ev::Bake { file })));
        }
        false
    }

    /// Operator: stop generating files and drop generated files' deliveries still in flight
    /// (a known-good file already pushed keeps going).
    pub fn stop_generation(&mut self) {
        self.generating = false;
        for f in self.files.iter_mut().filter(|f| !f.pushed) {
            f.pending = Vec::new();
        }
    }

    /// Operator: insert a known-good file, delivered to every machine.
    pub fn push_good<E: From<(u32, Ev)>>(&mut self, idx: u32, sim: &mut Sim<E>) {
        self.new_file(idx, false, true, true, sim);
    }

    /// Records the bad-machine gauge at `now`.
    pub(crate) fn record(&self, rec: &mut Recorder, now: SimTime) {
        rec.gauge_set(self.m.bad_servers, now, self.bad_servers());
    }
}

impl ConfigPush {
    /// Re-seeds every random stream this component owns from its current state and `salt`
    /// (importance splitting: a cloned world's future draws made independent).
    pub(crate) fn reseed(&mut self, salt: u64) {
        sim_core::rng::reseed(&mut self.gen_rng, salt);
        sim_core::rng::reseed(&mut self.delay_rng, salt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::Recorder;

    /// The test models' events: the push's own, and stand-ins for the operator's actions.
    #[derive(Clone, Copy, Debug)]
    enum TestEv {
        Push(Ev),
        Op(u32),
    }

    impl From<(u32, Ev)> for TestEv {
        fn from((_, ev): (u32, Ev)) -> TestEv {
            TestEv::Push(ev)
        }
    }

    fn spec(rollout: Rollout, on_bad: OnBad) -> ConfigPushSpec {
        ConfigPushSpec {
            name: "gen".into(),
            period: SimDuration::from_secs_f64(300.0),
            bad_fraction: vec![
                (SimTime::ZERO, 0.0),
                (SimTime::from_secs_f64(900.0), 0.1),
                (SimTime::from_secs_f64(5400.0), 1.0),
            ],
            delay: Dist::Constant { ns: 30_000_000_000 },
            machines: 100,
            rollout,
            proxies: vec![ProxySpec {
                service: 0,
                on_bad,
                error_cost: 0.0,
            }],
        }
    }

    #[test]
    fn bad_probability_is_piecewise_linear_and_flat_outside() {
        let s = spec(Rollout::Global, OnBad::FailClosed);
        let p = |t: f64| s.bad_probability(SimTime::from_secs_f64(t));
        assert_eq!(p(0.0), 0.0);
        assert!((p(450.0) - 0.05).abs() < 1e-12);
        assert!((p(900.0) - 0.1).abs() < 1e-12);
        assert!((p(3150.0) - 0.55).abs() < 1e-12);
        assert_eq!(p(5400.0), 1.0);
        assert_eq!(p(1e6), 1.0);
    }

    fn sim() -> Sim<TestEv> {
        Sim::new(Recorder::new(
            SimDuration::from_secs_f64(1.0),
            SimDuration::ZERO,
            10,
        ))
    }

    #[test]
    fn newer_files_win_and_late_copies_are_ignored() {
        let s = spec(Rollout::Global, OnBad::FailClosed);
        let mut sim = sim();
        let mut c = ConfigPush::new(&s, &[0.0], 1, &mut sim.rec);
        c.install(3, 2, true);
        assert_eq!(c.n_bad, 1);
        c.install(3, 1, false); // an older file arriving late
        assert_eq!(c.n_bad, 1);
        c.install(3, 3, false);
        assert_eq!(c.n_bad, 0);
    }

    /// A model made of one config push (no generation: files are started by hand).
    struct Only(ConfigPush);

    impl sim_core::Model for Only {
        type Event = TestEv;
        fn handle(&mut self, event: TestEv, sim: &mut Sim<TestEv>) {
            match event {
                TestEv::Push(ev @ (Ev::Deliver { .. } | Ev::Bake { .. })) => {
                    self.0.handle(0, ev, sim);
                }
                // Stand-ins for the operator: 0 = push_good, 1 = stop_generation.
                TestEv::Op(0) => self.0.push_good(0, sim),
                TestEv::Op(1) => self.0.stop_generation(),
                _ => {}
            }
        }
    }

    #[test]
    fn stopping_generation_drops_generated_files_in_flight_but_not_a_pushed_good_one() {
        let s = spec(Rollout::Global, OnBad::FailClosed);
        let mut sim = sim();
        let mut m = Only(ConfigPush::new(&s, &[0.0], 1, &mut sim.rec));
        // A bad file at 0 (arrives at 30 s everywhere), the good file pushed at 40 s (arrives
        // at 70 s), generation stopped at 50 s, and a bad file generated at 45 s (would
        // arrive at 75 s, after the good one, and win) — dropped by the stop.
        m.0.new_file(0, true, true, false, &mut sim);
        let t = |s: f64| SimTime::from_secs_f64(s);
        sim.schedule_at(t(40.0), TestEv::Op(0));
        sim.schedule_at(t(50.0), TestEv::Op(1));
        sim.schedule_at(t(45.0), TestEv::Push(Ev::Generate));
        // `Only` ignores Generate; start the 45 s file by hand through a second model pass.
        struct WithGen(Only);
        impl sim_core::Model for WithGen {
            type Event = TestEv;
            fn handle(&mut self, event: TestEv, sim: &mut Sim<TestEv>) {
                if let TestEv::Push(Ev::Generate) = event {
                    self.0.0.new_file(0, true, true, false, sim);
                } else {
                    self.0.handle(event, sim);
                }
            }
        }
        let mut w = WithGen(m);
        let limits = sim_core::Limits {
            horizon: t(200.0),
            max_events: 10_000,
        };
        sim.run(&mut w, limits);
        assert_eq!(w.0.0.n_bad, 0, "the pushed good file must be the last word");
        assert_eq!(w.0.0.files(), 3);
    }

    #[test]
    fn a_bad_file_halts_a_staged_rollout_at_its_first_stage_only_if_errors_show() {
        for (on_bad, want_bad) in [(OnBad::FailClosed, 0), (OnBad::FailOpen, 100)] {
            let s = spec(
                Rollout::Staged {
                    stages: vec![0.05, 0.5, 1.0],
                    bake: SimDuration::from_secs_f64(60.0),
                },
                on_bad,
            );
            let mut sim = sim();
            let c = ConfigPush::new(&s, &[0.0], 1, &mut sim.rec);
            let mut m = Only(c);
            m.0.new_file(0, true, false, false, &mut sim);
            let limits = sim_core::Limits {
                horizon: SimTime::from_secs_f64(1000.0),
                max_events: 10_000,
            };
            sim.run(&mut m, limits);
            let halts = sim.rec.counter_total(m.0.m.rollout_halts);
            assert_eq!(m.0.n_bad, want_bad, "{on_bad:?}");
            assert_eq!(halts, u64::from(want_bad == 0), "{on_bad:?}");
        }
    }
}
