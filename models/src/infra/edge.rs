//! Edge nodes (the servers of a service, e.g. CDN points of presence) that crash on a bad
//! configuration *asynchronously*, crash when overloaded, and come back only by a slow cold
//! reload of their configuration — the mechanisms of the Azure Front Door incident of
//! 2025-10-29 (`docs/azure_afd.md`). Plus [`Ramp`]: an admission rate limit whose rate an
//! operator ramps up linearly (gradual traffic re-admission).
//!
//! A node (one server slot of the service) is in one of four states:
//!
//! ```text
//!   Up ──bad config loaded (prob. crash_fraction)──▶ Doomed ──crash_delay──▶ Down
//!   Up/Doomed ──busy without a break for overload_crash──▶ Down
//!   Down ──auto_reload, or the operator's edge_recover──▶ Reloading ──reload_time──▶ Up
//! ```
//!
//! - **Asynchronous crash.** A node that loads a bad configuration keeps serving and crashes
//!   `crash_delay` later (the AFD data plane crashed during asynchronous processing of the
//!   metadata, ~5 min after load). This is why staged health checks passed and the bad config
//!   spread (and reached the last-known-good snapshot): at check time every node was healthy.
//!   Only a fraction `crash_fraction` of the nodes that load it crash (the trigger needed a
//!   particular sequence of tenant changes; which nodes process it is not published).
//! - **Overload crash.** Crashed nodes leave the pool; the service's shared queue already
//!   spreads the load over the survivors. A survivor that stays busy *without a single idle
//!   moment* for longer than its tolerance (drawn from `overload_crash` for each life of the
//!   node) crashes: a stand-in for what sustained saturation does to a real edge process
//!   (memory and connection exhaustion, health probes timing out, eviction from the pool).
//!   Below saturation a node goes idle between requests every few service times, so this
//!   never fires in normal operation; above it (offered load > healthy capacity) the queue never
//!   empties and every survivor crashes within the tolerance.
//! - **Cold reload.** A crashed node serves again only after reloading its configuration,
//!   `reload_time` (historically ~4 h for the fleet, target 10 min). With `auto_reload` a node
//!   starts reloading at once (a supervisor restarts it); without, it waits for the operator's
//!   `edge_recover` action (manual node recovery), after which every crash reloads at once. A
//!   node that finishes its reload loads the *current* configuration.
//!
//! Nothing here scripts the recovery: whether returning nodes survive depends only on the
//! traffic they get, i.e. on the admission ([`Ramp`]) the operator chose.

use rand::RngExt;
use sim_core::{CounterId, GaugeId, Recorder, SimDuration, SimRng, SimTime};

use crate::dist::Dist;

/// Validated parameters of an edge service (see the module docs).
#[derive(Clone, Debug, PartialEq)]
pub struct EdgeSpec {
    /// Probability that a node that loads a bad configuration crashes (in `[0, 1]`).
    pub crash_fraction: f64,
    /// Load of a bad configuration → crash.
    pub crash_delay: Dist,
    /// How long a node tolerates being busy without a break before it crashes.
    pub overload_crash: Dist,
    /// Duration of a cold configuration reload.
    pub reload_time: Dist,
    /// Crashed nodes start reloading by themselves (else: only after `edge_recover`).
    pub auto_reload: bool,
}

/// The state of one node.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Node {
    Up,
    /// Up, with a crash scheduled (it loaded a bad configuration).
    Doomed,
    /// Crashed, waiting for a reload to start.
    Down,
    Reloading,
}

/// What a node's timer meant when it fired.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Timer {
    Crash,
    ReloadDone,
    /// Superseded by a later state change.
    Stale,
}

#[derive(Clone)]
pub(crate) struct EdgeMetrics {
    pub crashes: CounterId,
    pub overload_crashes: CounterId,
    /// Reloads started.
    pub reloads: CounterId,
    /// Nodes not serving (down or reloading).
    pub nodes_down: GaugeId,
}

/// Per-node state of an edge service.
#[derive(Clone)]
pub(crate) struct Edge {
    spec: EdgeSpec,
    /// The configuration nodes load now is bad.
    pub bad: bool,
    pub auto_reload: bool,
    pub state: Vec<Node>,
    /// Bumped on every state change: a timer names the generation it was set under.
    pub timer_gen: Vec<u32>,
    /// Start of the node's current busy period (set when it takes work while idle).
    pub busy_since: Vec<SimTime>,
    /// Busy-without-a-break tolerance of the node's current life.
    pub tolerance: Vec<SimDuration>,
    pub n_down: u32,
    doom_rng: SimRng,
    overload_rng: SimRng,
    reload_rng: SimRng,
    pub m: EdgeMetrics,
}

impl Edge {
    pub(crate) fn new(
        spec: &EdgeSpec,
        servers: u32,
        name: &str,
        seed: u64,
        rec: &mut Recorder,
    ) -> Edge {
        let n = servers as usize;
        let mut overload_rng = sim_core::stream(seed, &format!("{name}/edge-overload"));
        let tolerance = (0..n)
            .map(|_| spec.overload_crash.sample(&mut overload_rng))
            .collect();
        Edge {
            spec: spec.clone(),
            bad: false,
            auto_reload: spec.auto_reload,
            state: vec![Node::Up; n],
            timer_gen: vec![0; n],
            busy_since: vec![SimTime::ZERO; n],
            tolerance,
            n_down: 0,
            doom_rng: sim_core::stream(seed, &format!("{name}/edge-crash")),
            overload_rng,
            reload_rng: sim_core::stream(seed, &format!("{name}/edge-reload")),
            m: EdgeMetrics {
                crashes: rec.counter(name, "crashes"),
                overload_crashes: rec.counter(name, "overload_crashes"),
                reloads: rec.counter(name, "restarts"),
                nodes_down: rec.gauge(name, "tasks_down"),
            },
        }
    }

    /// The node serves (up, possibly doomed).
    #[inline]
    pub(crate) fn is_up(&self, k: u32) -> bool {
        matches!(self.state.get(k as usize), Some(Node::Up | Node::Doomed))
    }

    /// The node has been busy without a break for longer than its tolerance at `now`.
    #[inline]
    pub(crate) fn overloaded(&self, k: u32, now: SimTime) -> bool {
        let k = k as usize;
        k < self.state.len()
            && matches!(self.state[k], Node::Up | Node::Doomed)
            && now.since(self.busy_since[k]) >= self.tolerance[k]
    }

    /// Up node `k` loads the current configuration: if it is bad, the node is doomed with
    /// probability `crash_fraction`; returns the crash delay and the timer's generation.
    pub(crate) fn load_config(&mut self, k: u32) -> Option<(SimDuration, u32)> {
        let i = k as usize;
        if !self.bad || self.state[i] != Node::Up {
            return None;
        }
        if self.doom_rng.random::<f64>() >= self.spec.crash_fraction {
            return None;
        }
        self.state[i] = Node::Doomed;
        self.timer_gen[i] = self.timer_gen[i].wrapping_add(1);
        Some((
            self.spec.crash_delay.sample(&mut self.doom_rng),
            self.timer_gen[i],
        ))
    }

    /// Node `k` crashes; returns its reload (duration, generation) if one starts at once.
    pub(crate) fn crash(
        &mut self,
        k: u32,
        overload: bool,
        now: SimTime,
        rec: &mut Recorder,
    ) -> Option<(SimDuration, u32)> {
        let i = k as usize;
        debug_assert!(self.is_up(k), "only a serving node crashes");
        self.state[i] = Node::Down;
        self.timer_gen[i] = self.timer_gen[i].wrapping_add(1);
        self.n_down += 1;
        rec.incr(self.m.crashes);
        if overload {
            rec.incr(self.m.overload_crashes);
        }
        rec.gauge_set_count(self.m.nodes_down, now, self.n_down as u64);
        self.auto_reload.then(|| self.start_reload(k, rec))
    }

    /// Down node `k` starts its cold reload: (duration, timer generation).
    pub(crate) fn start_reload(&mut self, k: u32, rec: &mut Recorder) -> (SimDuration, u32) {
        let i = k as usize;
        debug_assert_eq!(self.state[i], Node::Down, "only a down node reloads");
        self.state[i] = Node::Reloading;
        self.timer_gen[i] = self.timer_gen[i].wrapping_add(1);
        rec.incr(self.m.reloads);
        (
            self.spec.reload_time.sample(&mut self.reload_rng),
            self.timer_gen[i],
        )
    }

    /// What node `k`'s timer of generation `generation` means now.
    pub(crate) fn timer(&self, k: u32, generation: u32) -> Timer {
        let i = k as usize;
        if self.timer_gen.get(i) != Some(&generation) {
            return Timer::Stale;
        }
        match self.state[i] {
            Node::Doomed => Timer::Crash,
            Node::Reloading => Timer::ReloadDone,
            Node::Up | Node::Down => Timer::Stale,
        }
    }

    /// Node `k`'s reload is done: it serves again, with a fresh overload tolerance.
    pub(crate) fn node_up(&mut self, k: u32, now: SimTime, rec: &mut Recorder) {
        let i = k as usize;
        self.state[i] = Node::Up;
        self.timer_gen[i] = self.timer_gen[i].wrapping_add(1);
        self.n_down -= 1;
        self.busy_since[i] = now;
        self.tolerance[i] = self.spec.overload_crash.sample(&mut self.overload_rng);
        rec.gauge_set_count(self.m.nodes_down, now, self.n_down as u64);
    }
}

/// An admission rate limit whose rate goes linearly from `from_per_s` (at `start`) to
/// `to_per_s` (at `start + over`); after that the limit is removed. A token bucket refilled
/// with the exact integral of the rate, holding at most one second of tokens (at least 1).
/// `over = 0` removes the limit at once ("all at once").
#[derive(Clone, Debug, PartialEq)]
pub struct Ramp {
    start: SimTime,
    end: SimTime,
    from_per_s: f64,
    to_per_s: f64,
    tokens: f64,
    refilled: SimTime,
}

impl Ramp {
    pub fn new(start: SimTime, from_per_s: f64, to_per_s: f64, over: SimDuration) -> Ramp {
        Ramp {
            start,
            end: start.saturating_add(over),
            from_per_s,
            to_per_s,
            tokens: 0.0,
            refilled: start,
        }
    }

    /// The admitted rate at `t` (`None`: no limit any more).
    pub fn rate_at(&self, t: SimTime) -> Option<f64> {
        if t >= self.end {
            return None;
        }
        let len = self.end.since(self.start).as_secs_f64();
        let x = (t.since(self.start).as_secs_f64() / len).clamp(0.0, 1.0);
        Some(self.from_per_s + (self.to_per_s - self.from_per_s) * x)
    }

    /// Whether an arrival at `now` (≥ the last call's) is admitted.
    #[inline]
    pub fn admit(&mut self, now: SimTime) -> bool {
        let Some(r_now) = self.rate_at(now) else {
            return true;
        };
        let r_then = self.rate_at(self.refilled).unwrap_or(r_now);
        let dt = now.since(self.refilled).as_secs_f64();
        self.refilled = now;
        // The rate is linear between the two instants: the trapezoid is its exact integral.
        self.tokens = (self.tokens + dt * (r_then + r_now) / 2.0).min(r_now.max(1.0));
        if self.tokens < 1.0 {
            return false;
        }
        self.tokens -= 1.0;
        true
    }
}

impl Edge {
    /// Re-seeds every random stream this component owns from its current state and `salt`
    /// (importance splitting: a cloned world's future draws made independent).
    pub(crate) fn reseed(&mut self, salt: u64) {
        sim_core::rng::reseed(&mut self.doom_rng, salt);
        sim_core::rng::reseed(&mut self.overload_rng, salt);
        sim_core::rng::reseed(&mut self.reload_rng, salt);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(p: f64) -> EdgeSpec {
        EdgeSpec {
            crash_fraction: p,
            crash_delay: Dist::Constant {
                ns: 300_000_000_000,
            },
            overload_crash: Dist::Constant { ns: 60_000_000_000 },
            reload_time: Dist::Constant {
                ns: 600_000_000_000,
            },
            auto_reload: false,
        }
    }

    fn rec() -> Recorder {
        Recorder::new(SimDuration::from_secs_f64(1.0), SimDuration::ZERO, 10)
    }

    #[test]
    fn bad_config_dooms_about_crash_fraction_of_nodes_after_the_delay() {
        let mut r = rec();
        let mut e = Edge::new(&spec(0.6), 10_000, "e", 1, &mut r);
        e.bad = true;
        let doomed: Vec<_> = (0..10_000).filter_map(|k| e.load_config(k)).collect();
        let frac = doomed.len() as f64 / 10_000.0;
        // Binomial(10 000, 0.6): sd 0.0049; 5 sd.
        assert!((frac - 0.6).abs() < 0.025, "doomed fraction {frac}");
        assert!(doomed.iter().all(|(d, _)| d.as_secs_f64() == 300.0));
        // A good configuration dooms nobody; a doomed node is not doomed twice.
        let mut e2 = Edge::new(&spec(1.0), 4, "e", 1, &mut r);
        assert_eq!(e2.load_config(0), None);
        e2.bad = true;
        assert!(e2.load_config(0).is_some());
        assert_eq!(e2.load_config(0), None);
    }

    #[test]
    fn node_life_cycle_and_stale_timers() {
        let mut r = rec();
        let mut e = Edge::new(&spec(1.0), 2, "e", 1, &mut r);
        e.bad = true;
        let (_, g) = e.load_config(0).expect("doomed");
        assert_eq!(e.timer(0, g), Timer::Crash);
        assert_eq!(e.timer(0, g.wrapping_sub(1)), Timer::Stale);
        // Manual reloads: a crash does not start one.
        assert_eq!(e.crash(0, false, SimTime::ZERO, &mut r), None);
        assert_eq!(
            e.timer(0, g),
            Timer::Stale,
            "the crash voids the doom timer"
        );
        assert!(!e.is_up(0) && e.n_down == 1);
        let (d, g2) = e.start_reload(0, &mut r);
        assert_eq!(d.as_secs_f64(), 600.0);
        assert_eq!(e.timer(0, g2), Timer::ReloadDone);
        let t = SimTime::from_secs_f64(1000.0);
        e.node_up(0, t, &mut r);
        assert!(e.is_up(0) && e.n_down == 0);
        // Overload: busy without a break for the tolerance (60 s).
        assert!(!e.overloaded(0, SimTime::from_secs_f64(1059.0)));
        assert!(e.overloaded(0, SimTime::from_secs_f64(1060.0)));
        // Automatic reloads start with the crash.
        e.auto_reload = true;
        assert!(e.crash(1, true, t, &mut r).is_some());
        assert_eq!(e.state[1], Node::Reloading);
    }

    #[test]
    fn ramp_admits_the_integral_of_its_rate_then_everything() {
        // 0 → 100/s over 100 s: ∫ = 5 000 tokens; arrivals every 1 ms (1 000/s) offered.
        let t0 = SimTime::from_secs_f64(10.0);
        let mut ramp = Ramp::new(t0, 0.0, 100.0, SimDuration::from_secs_f64(100.0));
        let mut admitted = 0u32;
        for i in 0..100_000u64 {
            if ramp.admit(t0.saturating_add(SimDuration(i * 1_000_000))) {
                admitted += 1;
            }
        }
        assert!((admitted as i64 - 5_000).abs() <= 2, "admitted {admitted}");
        assert_eq!(
            ramp.rate_at(t0.saturating_add(SimDuration::from_secs_f64(50.0))),
            Some(50.0)
        );
        assert!(
            ramp.admit(SimTime::from_secs_f64(110.0)),
            "limit removed at the end"
        );
        // All at once: no limit from the start.
        let mut now = Ramp::new(t0, 0.0, 0.0, SimDuration::ZERO);
        assert!(now.admit(t0));
    }
}
