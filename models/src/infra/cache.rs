//! A cache in front of a service, on a client or on a service's downstream call edge: keys
//! drawn from a Zipf popularity law, LRU eviction at a fixed capacity, an optional TTL with an
//! optional stale-if-error grace period (RFC 5861), and two fill policies:
//!
//! - **look-aside**: on a miss the application queries the service and fills the cache with
//!   the answer — but only if it is still waiting for it (a timed-out caller fills nothing);
//! - **read-through**: the cache tier itself queries the service and fills on every answer,
//!   whether or not the caller still waits.
//!
//! HotOS 2021 §2.2: after a flush, a look-aside cache in front of an overloaded database can
//! stay cold (the database is too slow for anyone to wait for its answers, so nothing is
//! filled); a read-through cache refills and recovers.
//!
//! The LRU list is intrusive over arrays indexed by key (`O(1)` per operation, 13 bytes per key
//! of memory, no allocation after construction).

use rand_distr::{Distribution, Zipf};
use sim_core::{SimDuration, SimRng, SimTime};

/// How a cache is filled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Fill {
    LookAside,
    ReadThrough,
}

/// A validated cache configuration.
#[derive(Clone, Debug, PartialEq)]
pub struct CacheSpec {
    /// Distinct keys, ranked by popularity (key 0 is the most popular).
    pub keys: u32,
    /// Entries the cache holds.
    pub capacity: u32,
    /// Zipf exponent of key popularity.
    pub zipf_s: f64,
    /// Entries older than this are misses (`None`: no expiry).
    pub ttl: Option<SimDuration>,
    /// Time a hit takes.
    pub hit_time: SimDuration,
    pub fill: Fill,
    /// Start full with the `capacity` most popular keys (a warm cache).
    pub warm: bool,
    /// RFC 5861 `stale-if-error`: an entry expired less than this long ago stays resident and
    /// may answer a call whose origin failed ([`Cache::lookup_stale`]); `None`: expired
    /// entries are dropped at once.
    pub stale_if_error: Option<SimDuration>,
}

const NIL: u32 = u32::MAX;

/// Cache state.
#[derive(Clone)]
pub struct Cache {
    pub spec: CacheSpec,
    /// `None` only if rand_distr rejected the (validated) parameters: every key is then 0.
    zipf: Option<Zipf<f64>>,
    /// LRU list: `prev`/`next` per key, most recent at `head`.
    prev: Vec<u32>,
    next: Vec<u32>,
    resident: Vec<bool>,
    filled_at: Vec<SimTime>,
    head: u32,
    tail: u32,
    len: u32,
}

impl Cache {
    /// A cache for `spec` (validated: `keys ≥ 1`, `capacity ≥ 1`, `zipf_s ≥ 0` finite).
    pub fn new(spec: &CacheSpec) -> Cache {
        let n = spec.keys.max(1) as usize;
        // Zipf::new fails only for n < 1 or a negative/NaN exponent, which validation rules
        // out; fall back to the uniform law (s = 0) rather than panic.
        let zipf = Zipf::new(n as f64, spec.zipf_s).ok();
        let mut c = Cache {
            spec: spec.clone(),
            zipf,
            prev: vec![NIL; n],
            next: vec![NIL; n],
            resident: vec![false; n],
            filled_at: vec![SimTime::ZERO; n],
            head: NIL,
            tail: NIL,
            len: 0,
        };
        if spec.warm {
            // Least popular first, so the most popular ends at the head.
            for k in (0..spec.capacity.min(spec.keys)).rev() {
                c.insert(k, SimTime::ZERO);
            }
        }
        c
    }

    /// A key for the next call (0 = most popular).
    #[inline]
    pub fn draw_key(&self, rng: &mut SimRng) -> u32 {
        let Some(z) = &self.zipf else {
            return 0;
        };
        let x: f64 = z.sample(rng);
        (x as u32)
            .saturating_sub(1)
            .min(self.spec.keys.saturating_sub(1))
    }

    /// Looks `key` up at `now`: a hit moves it to the front; an expired entry is removed.
    #[inline]
    pub fn lookup(&mut self, key: u32, now: SimTime) -> bool {
        let k = key as usize;
        if !self.resident.get(k).copied().unwrap_or(false) {
            return false;
        }
        if let Some(ttl) = self.spec.ttl
            && now.since(self.filled_at[k]) >= ttl
        {
            // Kept (a miss all the same) while it may still be served stale on an error.
            let stale_until = self
                .spec
                .stale_if_error
                .map_or(ttl, |s| SimDuration(ttl.0.saturating_add(s.0)));
            if now.since(self.filled_at[k]) >= stale_until {
                self.unlink(key);
            }
            return false;
        }
        self.unlink(key);
        self.push_front(key);
        true
    }

    /// RFC 5861 `stale-if-error`: true if `key` is resident and expired less than
    /// `stale_if_error` ago at `now` (its origin failed; the stale entry answers). A fresh
    /// entry also answers (it was filled after the call's own lookup missed). Without
    /// `stale_if_error`, always false.
    pub fn lookup_stale(&mut self, key: u32, now: SimTime) -> bool {
        let k = key as usize;
        let Some(grace) = self.spec.stale_if_error else {
            return false;
        };
        if !self.resident.get(k).copied().unwrap_or(false) {
            return false;
        }
        let limit = self.spec.ttl.map_or(SimDuration(u64::MAX), |t| {
            SimDuration(t.0.saturating_add(grace.0))
        });
        if now.since(self.filled_at[k]) >= limit {
            self.unlink(key);
            return false;
        }
        self.unlink(key);
        self.push_front(key);
        true
    }

    /// Stores `key` (filled at `now`), evicting the least recently used entry if full.
    pub fn insert(&mut self, key: u32, now: SimTime) {
        let k = key as usize;
        if k >= self.resident.len() {
            return;
        }
        if self.resident[k] {
            self.unlink(key);
        } else if self.len >= self.spec.capacity {
            let lru = self.tail;
            if lru != NIL {
                self.unlink(lru);
            }
        }
        self.filled_at[k] = now;
        self.push_front(key);
    }

    /// Empties the cache.
    pub fn flush(&mut self) {
        while self.head != NIL {
            let k = self.head;
            self.unlink(k);
        }
    }

    pub fn len(&self) -> u32 {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    fn unlink(&mut self, key: u32) {
        let k = key as usize;
        let (p, n) = (self.prev[k], self.next[k]);
        if p == NIL {
            self.head = n;
        } else {
            self.next[p as usize] = n;
        }
        if n == NIL {
            self.tail = p;
        } else {
            self.prev[n as usize] = p;
        }
        self.prev[k] = NIL;
        self.next[k] = NIL;
        self.resident[k] = false;
        self.len -= 1;
    }

    fn push_front(&mut self, key: u32) {
        let k = key as usize;
        self.prev[k] = NIL;
        self.next[k] = self.head;
        if self.head != NIL {
            self.prev[self.head as usize] = key;
        }
        self.head = key;
        if self.tail == NIL {
            self.tail = key;
        }
        self.resident[k] = true;
        self.len += 1;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(keys: u32, capacity: u32, warm: bool) -> CacheSpec {
        CacheSpec {
            keys,
            capacity,
            zipf_s: 1.0,
            ttl: None,
            hit_time: SimDuration::ZERO,
            fill: Fill::LookAside,
            warm,
            stale_if_error: None,
        }
    }

    #[test]
    fn lru_evicts_the_least_recently_used() {
        let mut c = Cache::new(&spec(10, 3, false));
        let t = SimTime::ZERO;
        for k in [1, 2, 3] {
            c.insert(k, t);
        }
        assert!(c.lookup(1, t)); // order now 1, 3, 2
        c.insert(4, t); // evicts 2
        assert!(!c.lookup(2, t));
        assert!(c.lookup(3, t) && c.lookup(1, t) && c.lookup(4, t));
        assert_eq!(c.len(), 3);
        c.flush();
        assert!(c.is_empty() && !c.lookup(1, t));
    }

    #[test]
    fn ttl_expires_entries() {
        let mut s = spec(10, 3, false);
        s.ttl = Some(SimDuration::from_millis(100));
        let mut c = Cache::new(&s);
        c.insert(5, SimTime::ZERO);
        assert!(c.lookup(5, SimTime::from_secs_f64(0.05)));
        assert!(!c.lookup(5, SimTime::from_secs_f64(0.1)));
        assert_eq!(c.len(), 0);
    }

    #[test]
    fn stale_if_error_keeps_expired_entries_for_the_grace_period() {
        let mut s = spec(10, 3, false);
        s.ttl = Some(SimDuration::from_millis(100));
        s.stale_if_error = Some(SimDuration::from_millis(50));
        let mut c = Cache::new(&s);
        let at = SimTime::from_secs_f64;
        c.insert(5, SimTime::ZERO);
        c.insert(6, SimTime::ZERO);
        // Expired: a miss, but still resident and servable stale until 150 ms.
        assert!(!c.lookup(5, at(0.12)));
        assert_eq!(c.len(), 2);
        assert!(c.lookup_stale(5, at(0.12)));
        assert!(c.lookup_stale(5, at(0.149)));
        assert!(!c.lookup_stale(5, at(0.15)));
        assert_eq!(c.len(), 1);
        // Past the grace period a lookup drops it as before.
        assert!(!c.lookup(6, at(0.2)));
        assert!(c.is_empty());
        // Without the field, nothing is ever served stale.
        let mut plain = Cache::new(&spec(10, 3, false));
        plain.insert(1, SimTime::ZERO);
        assert!(!plain.lookup_stale(1, SimTime::ZERO));
    }

    /// LRU under Zipf(1) requests against Che's approximation (Che, Tung, Wang 2002; accurate
    /// to well under 1 % for caches this size): the characteristic time `T` solves
    /// `Σ_i (1 − e^(−p_i T)) = C`, and the hit rate is `Σ_i p_i (1 − e^(−p_i T))`.
    #[test]
    fn lru_hit_rate_matches_che_approximation() {
        let (n, cap) = (10_000u32, 1_000u32);
        let mut c = Cache::new(&spec(n, cap, true));
        let mut rng = sim_core::stream(3, "cache");
        let h: f64 = (1..=n).map(|i| 1.0 / i as f64).sum();
        let p: Vec<f64> = (1..=n).map(|i| 1.0 / (i as f64 * h)).collect();
        let occupancy = |t: f64| p.iter().map(|&q| 1.0 - (-q * t).exp()).sum::<f64>();
        let (mut lo, mut hi) = (0.0f64, 1e9f64);
        for _ in 0..200 {
            let mid = 0.5 * (lo + hi);
            if occupancy(mid) < cap as f64 {
                lo = mid;
            } else {
                hi = mid;
            }
        }
        let che: f64 = p.iter().map(|&q| q * (1.0 - (-q * lo).exp())).sum();
        let mut hits = 0u32;
        let draws = 200_000u32;
        for _ in 0..draws {
            let k = c.draw_key(&mut rng);
            if c.lookup(k, SimTime::ZERO) {
                hits += 1;
            } else {
                c.insert(k, SimTime::ZERO);
            }
        }
        let rate = hits as f64 / draws as f64;
        // Binomial standard error ≈ 0.001 over 200 000 draws; 0.02 covers it and the
        // approximation's own error with a wide margin.
        assert!(
            (rate - che).abs() < 0.02,
            "LRU hit rate {rate:.4}, Che's approximation {che:.4} (seed 3)"
        );
    }
}
