//! Fixed-effort importance splitting on the simulator, crude Monte Carlo beside it, and the
//! figures `metastable rare` prints.
//!
//! Stage 1 runs `N` trajectories, each from a world built with its own seed, until the
//! progress measure reaches `ℓ₁` (or the target is reached), or the horizon. Stage `k` starts
//! `N` trajectories from the `m` entrance states of stage `k − 1` by fixed assignment
//! (trajectory `i` from entrance `i mod m`: every entrance state gets ⌊N/m⌋ or ⌈N/m⌉ clones),
//! each a clone of the whole world and engine re-seeded with salt
//! `derive_seed(seed, [replication, k, i])`, and runs it until `ℓ_k` or the horizon. The last
//! stage runs until the target. The estimate is `Π p̂_k` (`p̂_k` = hits ÷ N), unbiased for
//! `P(target before the horizon)` because reaching the target needs each level first (a
//! state already past a level counts as reaching it at once). Its 95 % interval comes from
//! `R` independent replications of the whole estimator (Student t). Cost is counted in
//! simulated events; crude Monte Carlo at equal cost would run `cost ÷ (events per crude
//! run)` runs, whose variance `p(1 − p)/n` against the splitting estimator's measured
//! variance is the variance reduction.

use models::{Event, World};
use rayon::prelude::*;
use sim_core::rng::derive_seed;
use sim_core::{Recorder, Sim, SimTime, Step};

use super::spec::RareSpec;
use crate::scenario::Scenario;
use crate::sweep::results::t975;

/// Tag of the crude Monte Carlo runs' seeds (never a replication index: those stay below
/// `MAX_REPLICATIONS`).
const CRUDE_TAG: u64 = 0xC0DE_C0DE;

/// One trajectory's whole state: the world and its engine.
#[derive(Clone)]
struct Traj {
    sim: Sim<Event>,
    world: World,
}

impl Traj {
    /// A world built with `seed`, with one metric window over the whole horizon (splitting
    /// reads component state, not metrics; clones stay small).
    fn build(sc: &Scenario, spec: &RareSpec, seed: u64) -> Traj {
        let rec = Recorder::new(spec.horizon, sim_core::SimDuration::ZERO, 2)
            .with_byte_budget(sc.limits.max_window_bytes);
        let mut sim: Sim<Event> = Sim::new(rec);
        let world = World::build(&sc.world, seed, &mut sim);
        Traj { sim, world }
    }
}

/// How a trajectory ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum End {
    Hit,
    Miss,
    /// The event budget (`limits.max_events`) or another limit stopped it: counted a miss and
    /// reported.
    Limit,
}

/// Runs `t` until `goal` holds (checked before every event), the horizon, or a limit.
fn run_to(
    t: &mut Traj,
    goal: impl Fn(&World) -> bool,
    horizon: SimTime,
    max_events: u64,
    cost: &mut u64,
) -> End {
    let mut events = 0u64;
    loop {
        if goal(&t.world) {
            return End::Hit;
        }
        if events >= max_events {
            return End::Limit;
        }
        match t.sim.step(&mut t.world, horizon) {
            Step::Event => {
                events += 1;
                *cost += 1;
            }
            Step::Horizon | Step::Idle => return End::Miss,
            Step::WindowBytes | Step::Model(_) => return End::Limit,
        }
    }
}

/// One stage's record.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Stage {
    pub starts: usize,
    pub hits: usize,
    /// Distinct entrance states the stage started from.
    pub entrances: usize,
}

/// One fixed-effort estimate.
#[derive(Clone, Debug, PartialEq)]
pub struct Once {
    pub p: f64,
    pub events: u64,
    pub stages: Vec<Stage>,
    pub limit_hits: u64,
}

fn target_hit(spec: &RareSpec, w: &World) -> bool {
    w.measure(spec.target.0) >= spec.target_at_least
}

/// One fixed-effort splitting estimate, replication `rep` of `seed`.
pub fn split_once(sc: &Scenario, spec: &RareSpec, seed: u64, rep: u64) -> Once {
    let horizon = SimTime::ZERO.saturating_add(spec.horizon);
    let max_events = sc.limits.max_events;
    let n = spec.effort;
    let mut events = 0u64;
    let mut limit_hits = 0u64;
    let mut stages = Vec::new();
    let mut p = 1.0;
    let mut entrances: Vec<Traj> = Vec::new();
    let n_stages = spec.levels.len() + 1;
    for k in 0..n_stages {
        let level = spec.levels.get(k).copied();
        let goal = |w: &World| {
            target_hit(spec, w) || level.is_some_and(|l| w.measure(spec.measure.0) >= l)
        };
        let mut hits = Vec::new();
        for i in 0..n {
            let mut t = if k == 0 {
                Traj::build(sc, spec, derive_seed(seed, &[rep, 0, i as u64]))
            } else {
                let mut t = entrances[i % entrances.len()].clone();
                t.world
                    .reseed(derive_seed(seed, &[rep, k as u64, i as u64]));
                t
            };
            match run_to(&mut t, goal, horizon, max_events, &mut events) {
                End::Hit => hits.push(t),
                End::Miss => {}
                End::Limit => limit_hits += 1,
            }
        }
        stages.push(Stage {
            starts: n,
            hits: hits.len(),
            entrances: if k == 0 { 0 } else { entrances.len() },
        });
        p *= hits.len() as f64 / n as f64;
        if hits.is_empty() {
            p = 0.0;
            break;
        }
        entrances = hits;
    }
    Once {
        p,
        events,
        stages,
        limit_hits,
    }
}

/// Crude Monte Carlo: `runs` independent runs to the target or the horizon.
#[derive(Clone, Debug, PartialEq)]
pub struct Crude {
    pub runs: u64,
    pub hits: u64,
    pub events: u64,
    pub limit_hits: u64,
}

/// Crude run `i` of `seed` (its own world seed, disjoint from the splitting runs').
pub fn crude_one(sc: &Scenario, spec: &RareSpec, seed: u64, i: u64) -> (End, u64) {
    let horizon = SimTime::ZERO.saturating_add(spec.horizon);
    let mut t = Traj::build(sc, spec, derive_seed(seed, &[CRUDE_TAG, i]));
    let mut cost = 0;
    let end = run_to(
        &mut t,
        |w| target_hit(spec, w),
        horizon,
        sc.limits.max_events,
        &mut cost,
    );
    (end, cost)
}

/// `runs` crude runs of `seed`, in parallel; the result does not depend on the thread count.
pub fn crude(sc: &Scenario, spec: &RareSpec, seed: u64, runs: u64) -> Crude {
    let ends: Vec<(End, u64)> = (0..runs)
        .into_par_iter()
        .map(|i| crude_one(sc, spec, seed, i))
        .collect();
    Crude {
        runs,
        hits: ends.iter().filter(|e| e.0 == End::Hit).count() as u64,
        events: ends.iter().map(|e| e.1).sum(),
        limit_hits: ends.iter().filter(|e| e.0 == End::Limit).count() as u64,
    }
}

/// Everything `metastable rare` reports.
#[derive(Clone, Debug, PartialEq)]
pub struct RareResult {
    pub seed: u64,
    /// Each replication's estimate, in replication order.
    pub reps: Vec<Once>,
    /// Mean of the replications' estimates.
    pub p: f64,
    /// Half-width of its 95 % Student-t interval.
    pub half_width: f64,
    /// Sample variance of one replication's estimate.
    pub var_one: f64,
    /// Mean events of one replication.
    pub events_one: f64,
    pub crude: Option<Crude>,
}

impl RareResult {
    /// The 95 % interval, clipped to [0, 1].
    pub fn interval(&self) -> (f64, f64) {
        (
            (self.p - self.half_width).max(0.0),
            (self.p + self.half_width).min(1.0),
        )
    }

    /// Crude Monte Carlo's mean events per run (from the crude runs).
    pub fn crude_events_per_run(&self) -> Option<f64> {
        self.crude
            .as_ref()
            .filter(|c| c.runs > 0)
            .map(|c| c.events as f64 / c.runs as f64)
    }

    /// Crude runs one replication's cost buys.
    pub fn crude_runs_at_equal_cost(&self) -> Option<f64> {
        self.crude_events_per_run()
            .map(|c| self.events_one / c.max(1.0))
    }

    /// `Var(crude at equal cost) ÷ Var(one splitting estimate)`, crude's variance
    /// `p(1 − p)/n` at the splitting estimate `p`; `None` without crude runs or with a zero
    /// variance.
    pub fn variance_reduction(&self) -> Option<f64> {
        let n = self.crude_runs_at_equal_cost()?.max(1.0);
        if self.var_one <= 0.0 || self.p <= 0.0 {
            return None;
        }
        Some(self.p * (1.0 - self.p) / n / self.var_one)
    }

    /// The crude estimate and its 95 % Wilson interval.
    pub fn crude_estimate(&self) -> Option<(f64, f64, f64)> {
        let c = self.crude.as_ref().filter(|c| c.runs > 0)?;
        let (n, k) = (c.runs as f64, c.hits as f64);
        let z = 1.959_964f64;
        let ph = k / n;
        let den = 1.0 + z * z / n;
        let mid = (ph + z * z / (2.0 * n)) / den;
        let half = z * (ph * (1.0 - ph) / n + z * z / (4.0 * n * n)).sqrt() / den;
        Some((ph, (mid - half).max(0.0), (mid + half).min(1.0)))
    }
}

/// `spec.replications` independent splitting estimates of `seed` (in parallel; the result
/// does not depend on the thread count) and `spec.crude` crude runs.
pub fn estimate(sc: &Scenario, spec: &RareSpec, seed: u64) -> RareResult {
    let reps: Vec<Once> = (0..spec.replications as u64)
        .into_par_iter()
        .map(|r| split_once(sc, spec, seed, r))
        .collect();
    let n = reps.len() as f64;
    let p = reps.iter().map(|o| o.p).sum::<f64>() / n;
    let var_one = reps.iter().map(|o| (o.p - p) * (o.p - p)).sum::<f64>() / (n - 1.0).max(1.0);
    let half_width = t975(reps.len().saturating_sub(1).max(1) as u64) * (var_one / n).sqrt();
    let events_one = reps.iter().map(|o| o.events as f64).sum::<f64>() / n;
    let crude = (spec.crude > 0).then(|| crude(sc, spec, seed, spec.crude as u64));
    RareResult {
        seed,
        reps,
        p,
        half_width,
        var_one,
        events_one,
        crude,
    }
}

/// `1 − (1 − p)^k`: the probability over `k` independent horizons.
pub fn over(p: f64, k: f64) -> f64 {
    -((-p).ln_1p() * k).exp_m1()
}

/// The printed report.
pub fn describe(sc: &Scenario, spec: &RareSpec, r: &RareResult, extra_args: &str) -> String {
    use std::fmt::Write;
    let mut s = String::new();
    let h = spec.horizon.as_secs_f64();
    let levels: Vec<String> = spec.levels.iter().map(|l| format!("{l}")).collect();
    let _ = writeln!(
        s,
        "scenario {} · seed {} · P({} >= {} within {} s) by fixed-effort splitting",
        sc.name, r.seed, spec.target.1, spec.target_at_least, h
    );
    let _ = writeln!(
        s,
        "levels on {}: [{}] · effort {} per stage · {} replications",
        spec.measure.1,
        levels.join(", "),
        spec.effort,
        spec.replications
    );
    let stage_rates: Vec<String> = (0..=spec.levels.len())
        .map(|k| {
            let (hits, starts) = r.reps.iter().fold((0usize, 0usize), |a, o| {
                o.stages
                    .get(k)
                    .map_or(a, |st| (a.0 + st.hits, a.1 + st.starts))
            });
            if starts == 0 {
                "-".to_string()
            } else {
                format!("{:.4}", hits as f64 / starts as f64)
            }
        })
        .collect();
    let _ = writeln!(
        s,
        "stage hit fractions (pooled): {}",
        stage_rates.join(" · ")
    );
    let (lo, hi) = r.interval();
    let _ = writeln!(
        s,
        "estimate {:.4e} · 95 % CI [{:.4e}, {:.4e}] (Student t over {} replications) · relative half-width {:.2}",
        r.p,
        lo,
        hi,
        r.reps.len(),
        if r.p > 0.0 {
            r.half_width / r.p
        } else {
            f64::INFINITY
        }
    );
    // Per day and per year only for horizons of an hour or more: a shorter horizon usually
    // frames one trigger (a spike), whose repetition rate the file does not say.
    if h >= 3600.0 {
        let year = 365.25 * 86_400.0 / h;
        let day = 86_400.0 / h;
        let _ = writeln!(
            s,
            "per day {:.4e} [{:.4e}, {:.4e}] · per year {:.4e} [{:.4e}, {:.4e}] (successive horizons of {} s taken as independent)",
            over(r.p, day),
            over(lo, day),
            over(hi, day),
            over(r.p, year),
            over(lo, year),
            over(hi, year),
            h
        );
    }
    let limits: u64 = r.reps.iter().map(|o| o.limit_hits).sum();
    let _ = writeln!(
        s,
        "cost {:.0} events per replication ({} in all){}",
        r.events_one,
        r.reps.iter().map(|o| o.events).sum::<u64>(),
        if limits > 0 {
            format!(" · {limits} trajectories stopped by a limit (counted as misses)")
        } else {
            String::new()
        }
    );
    if let (Some(c), Some((pc, clo, chi))) = (&r.crude, r.crude_estimate()) {
        let _ = writeln!(
            s,
            "crude Monte Carlo: {} hits in {} runs · {:.4e} [{:.4e}, {:.4e}] (Wilson 95 %) · {:.0} events per run{}",
            c.hits,
            c.runs,
            pc,
            clo,
            chi,
            r.crude_events_per_run().unwrap_or(0.0),
            if c.limit_hits > 0 {
                format!(" · {} runs stopped by a limit", c.limit_hits)
            } else {
                String::new()
            }
        );
        if let (Some(n), Some(vr)) = (r.crude_runs_at_equal_cost(), r.variance_reduction()) {
            let _ = writeln!(
                s,
                "at equal cost crude Monte Carlo runs {n:.1} runs per replication: variance p(1-p)/n = {:.3e} vs splitting's measured {:.3e} · variance reduction {vr:.2}x",
                r.p * (1.0 - r.p) / n.max(1.0),
                r.var_one
            );
        }
    }
    let _ = writeln!(
        s,
        "reproduce: metastable rare {}{extra_args} --seed {} --measure {} --levels {} --target '{}>={}' --horizon-s {} --effort {} --replications {} --crude {}",
        sc.file,
        r.seed,
        spec.measure.1,
        levels.join(","),
        spec.target.1,
        spec.target_at_least,
        h,
        spec.effort,
        spec.replications,
        spec.crude
    );
    s
}
