//! A client-side cache in the fluid model (docs/analytic.md §3b): keys of Zipf popularity
//! grouped into popularity bins, the hit ratio of an LRU cache by Che's approximation (a key is
//! cached iff it was filled within the last characteristic time `t_C`, with
//! `Σ_i P(cached_i) = capacity`), fills only by calls that got their answer (look-aside) or by
//! every answer (read-through), and in time a fluid occupancy per bin.

use models::infra::cache::{CacheSpec, Fill};

/// Most popularity bins.
const BINS: usize = 64;

#[derive(Clone, Debug, PartialEq)]
pub struct CacheModel {
    /// Per bin: keys in it, and each key's request probability.
    pub bins: Vec<(f64, f64)>,
    pub capacity: f64,
    pub ttl_s: Option<f64>,
    pub read_through: bool,
    pub warm: bool,
}

impl CacheModel {
    pub fn from_spec(spec: &CacheSpec) -> CacheModel {
        let n = spec.keys.max(1) as usize;
        let s = spec.zipf_s;
        // Geometric rank boundaries 1 = r_0 < r_1 < … ≤ n + 1, the first 20 ranks alone.
        let mut edges = vec![1usize];
        let ratio = ((n as f64).ln() / BINS as f64).exp().max(1.0);
        let mut x = 1.0_f64;
        while *edges.last().unwrap_or(&1) <= n {
            x *= ratio;
            let next = (x.round() as usize)
                .max(edges.last().unwrap_or(&1) + 1)
                .min(n + 1);
            edges.push(next);
            if next == n + 1 {
                break;
            }
        }
        let mut bins = Vec::new();
        let mut total = 0.0;
        for w in edges.windows(2) {
            let weight: f64 = (w[0]..w[1]).map(|r| (r as f64).powf(-s)).sum();
            let keys = (w[1] - w[0]) as f64;
            bins.push((keys, weight / keys));
            total += weight;
        }
        for b in &mut bins {
            b.1 /= total;
        }
        CacheModel {
            bins,
            capacity: spec.capacity as f64,
            ttl_s: spec.ttl.map(|t| t.as_secs_f64()),
            read_through: spec.fill == Fill::ReadThrough,
            warm: spec.warm,
        }
    }

    /// Che's per-bin occupancy when calls for keys arrive at `rate` per second and a miss
    /// fills the key with probability `fill`; a TTL caps the time a fill stays valid.
    pub fn steady_occupancy(&self, rate: f64, fill: f64) -> Vec<f64> {
        let keys: f64 = self.bins.iter().map(|b| b.0).sum();
        let occ = |t: f64| -> Vec<f64> {
            let t = self.ttl_s.map_or(t, |ttl| t.min(ttl));
            self.bins
                .iter()
                .map(|&(_, p)| 1.0 - (-rate * p * fill * t).exp())
                .collect()
        };
        if rate * fill <= 0.0 {
            return vec![0.0; self.bins.len()];
        }
        if keys <= self.capacity {
            return occ(f64::INFINITY);
        }
        let held = |t: f64| -> f64 { occ(t).iter().zip(&self.bins).map(|(o, b)| o * b.0).sum() };
        let (mut lo, mut hi) = (0.0, 1.0);
        while held(hi) < self.capacity && hi < 1e15 {
            hi *= 2.0;
        }
        for _ in 0..60 {
            let mid = 0.5 * (lo + hi);
            if held(mid) < self.capacity {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        occ(0.5 * (lo + hi))
    }

    /// Hit ratio of an occupancy.
    pub fn hit_ratio(&self, occ: &[f64]) -> f64 {
        self.bins
            .iter()
            .zip(occ)
            .map(|(b, o)| b.0 * b.1 * o)
            .sum::<f64>()
            .clamp(0.0, 1.0)
    }

    /// The occupancy at the start of a run: the `capacity` most popular keys (warm), or empty.
    pub fn initial(&self) -> Vec<f64> {
        if !self.warm {
            return vec![0.0; self.bins.len()];
        }
        let mut left = self.capacity;
        self.bins
            .iter()
            .map(|b| {
                let take = left.min(b.0);
                left -= take;
                take / b.0
            })
            .collect()
    }

    /// One fluid step: misses of bin `b` arrive at `rate · p_b · (1 − o_b)` and fill with
    /// probability `fill`; when the cache is full, fills evict the least recently used,
    /// taken from each bin in proportion to its cached keys not requested for the
    /// characteristic time of the current hit ratio; a TTL expires entries at rate `1/ttl`.
    pub fn step(&self, occ: &mut [f64], rate: f64, fill: f64, dt: f64) {
        let mut added = 0.0;
        for (o, b) in occ.iter_mut().zip(&self.bins) {
            let f = rate * b.1 * (1.0 - *o) * fill * dt;
            let f = f.min(1.0 - *o);
            *o += f;
            added += f * b.0;
            if let Some(ttl) = self.ttl_s {
                *o -= *o * (dt / ttl).min(1.0);
            }
        }
        let held: f64 = occ.iter().zip(&self.bins).map(|(o, b)| o * b.0).sum();
        let excess = held - self.capacity;
        if excess > 0.0 && added > 0.0 {
            // LRU victims: cached keys weighted by their chance of no request in a window of
            // the mean time between requests to the least popular cached bin.
            let t = self.capacity / rate.max(1e-12);
            let w: Vec<f64> = occ
                .iter()
                .zip(&self.bins)
                .map(|(o, b)| o * b.0 * (-rate * b.1 * t).exp())
                .collect();
            let wsum: f64 = w.iter().sum();
            if wsum > 0.0 {
                for ((o, b), wi) in occ.iter_mut().zip(&self.bins).zip(&w) {
                    *o = (*o - excess * wi / wsum / b.0).max(0.0);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use sim_core::SimDuration;

    fn spec(keys: u32, capacity: u32, s: f64) -> CacheSpec {
        CacheSpec {
            keys,
            capacity,
            zipf_s: s,
            ttl: None,
            hit_time: SimDuration::from_millis(1),
            fill: Fill::LookAside,
            warm: true,
            stale_if_error: None,
        }
    }

    #[test]
    fn bins_are_a_distribution_and_a_warm_cache_holds_the_top_keys() {
        let c = CacheModel::from_spec(&spec(100_000, 40_000, 1.0));
        let keys: f64 = c.bins.iter().map(|b| b.0).sum();
        let mass: f64 = c.bins.iter().map(|b| b.0 * b.1).sum();
        assert!((keys - 100_000.0).abs() < 1e-9 && (mass - 1.0).abs() < 1e-9);
        // The top 40 000 of 100 000 Zipf(1) keys: H(40000)/H(100000) ≈ 0.9242.
        let h = c.hit_ratio(&c.initial());
        assert!((h - 0.9242).abs() < 2e-3, "{h}");
        // LRU (Che) holds less than the static top-C optimum, but most of it.
        let lru = c.hit_ratio(&c.steady_occupancy(1000.0, 1.0));
        assert!(lru < h && lru > 0.8, "{lru}");
    }
}
