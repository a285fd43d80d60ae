//! Cold start of a service's instances: an instance that came into service at `t` serves with
//! a service-time factor going linearly from `factor` at `t` to 1 at `t + warmup`, and answers
//! a fraction of its requests from a local cache (skipping its downstream calls) going
//! linearly from 0 to `cache_hit` over the same warm-up. Instances present at the start are
//! warm. Set up by an autoscaler (`control::autoscaler`), which marks the instances it adds.

use rand::RngExt;
use sim_core::{SimDuration, SimRng, SimTime};

/// Cold start of new instances (see the module header).
#[derive(Clone, Debug, PartialEq)]
pub struct ColdStartSpec {
    /// Service-time factor of a brand-new instance (1 = not slower).
    pub factor: f64,
    /// Fraction of requests a warm instance answers from its local cache, skipping its
    /// downstream calls (0 = none; a new instance starts at 0).
    pub cache_hit: f64,
    pub warmup: SimDuration,
}

/// Per-instance warm-up state of one service.
#[derive(Clone, Debug)]
pub struct Warmup {
    pub spec: ColdStartSpec,
    /// Per server slot: when it came into service (`SimTime::ZERO` with `warm` for the
    /// initial ones).
    started: Vec<SimTime>,
    warm: Vec<bool>,
    rng: SimRng,
}

impl Warmup {
    /// Warm-up state of service `name` with `servers` warm instances.
    pub fn new(spec: &ColdStartSpec, servers: u32, name: &str, seed: u64) -> Warmup {
        Warmup {
            spec: spec.clone(),
            started: vec![SimTime::ZERO; servers as usize],
            warm: vec![true; servers as usize],
            rng: sim_core::stream(seed, &format!("{name}/local_cache")),
        }
    }

    /// Server slot `k` came into service at `now`, cold.
    pub fn cold(&mut self, k: u32, now: SimTime) {
        let i = k as usize;
        if self.started.len() <= i {
            self.started.resize(i + 1, SimTime::ZERO);
            self.warm.resize(i + 1, true);
        }
        self.started[i] = now;
        self.warm[i] = false;
    }

    /// How far server `k` is from warm at `now`: 1 when brand new, 0 when warm.
    fn coldness(&self, k: u32, now: SimTime) -> f64 {
        let i = k as usize;
        if self.warm.get(i).is_none_or(|&w| w) {
            return 0.0;
        }
        let age = now.since(self.started[i]).as_nanos() as f64;
        let w = self.spec.warmup.as_nanos() as f64;
        if w <= 0.0 || age >= w {
            0.0
        } else {
            1.0 - age / w
        }
    }

    /// Service time `d` of a request starting on server `k` at `now`, stretched while cold.
    #[inline]
    pub fn stretch(&self, k: u32, now: SimTime, d: SimDuration) -> SimDuration {
        let c = self.coldness(k, now);
        if c == 0.0 || self.spec.factor == 1.0 {
            return d;
        }
        let f = 1.0 + (self.spec.factor - 1.0) * c;
        SimDuration::from_nanos_f64(d.as_nanos() as f64 * f)
    }

    /// Whether server `k` answers the request it just served from its local cache at `now`.
    #[inline]
    pub fn cache_hit(&mut self, k: u32, now: SimTime) -> bool {
        if self.spec.cache_hit <= 0.0 {
            return false;
        }
        let p = self.spec.cache_hit * (1.0 - self.coldness(k, now));
        self.rng.random::<f64>() < p
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: u64) -> SimTime {
        SimTime::ZERO.saturating_add(SimDuration::from_millis(ms))
    }

    #[test]
    fn a_new_instance_warms_up_linearly_and_initial_ones_are_warm() {
        let spec = ColdStartSpec {
            factor: 3.0,
            cache_hit: 0.9,
            warmup: SimDuration::from_millis(60_000),
        };
        let mut w = Warmup::new(&spec, 2, "api", 1);
        let d = SimDuration::from_millis(10);
        assert_eq!(w.stretch(0, at(0), d), d);
        w.cold(2, at(1000));
        assert_eq!(w.stretch(2, at(1000), d), SimDuration::from_millis(30));
        assert_eq!(w.stretch(2, at(31_000), d), SimDuration::from_millis(20));
        assert_eq!(w.stretch(2, at(61_000), d), d);
        // Hit ratio: 0 when new, 0.45 halfway (binomial, 20 000 draws: sd 0.0035).
        assert!(!(0..1000).any(|_| w.cache_hit(2, at(1000))));
        let hits = (0..20_000).filter(|_| w.cache_hit(2, at(31_000))).count();
        let rate = hits as f64 / 20_000.0;
        assert!((rate - 0.45).abs() < 0.02, "{rate}");
    }
}
