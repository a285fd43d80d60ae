//! A second pending-event set for timers that are mostly re-armed far ahead, over the same
//! `(time << 64) | seq` keys as [`crate::queue::EventQueue`]: a FIFO *lane* for timers pushed
//! in increasing key order, and a radix heap for the others.
//!
//! **Lane.** A component that re-arms each timer a fixed interval after it fired (the lease
//! manager's periodic checks) pushes its timers in increasing key order: timers fire in key
//! order, and each adds the same interval to its time (and draws a larger `seq`). So does a
//! client arming a constant timeout for each attempt it sends (now plus the timeout). A timer whose
//! key exceeds the lane's last key is appended to the lane, a `VecDeque` already sorted by
//! construction: push and pop are `O(1)` and walk memory sequentially. Any other timer (a
//! jittered interval, a lease expiry, the initial timers in random order) goes to the radix
//! heap; when the lane empties, it takes the next timer pushed whatever its key.
//!
//! **Radix heap.** The engine's time never goes backwards, so every key pushed is larger than
//! the last key popped (a *monotone* priority queue). A radix heap exploits that: an entry sits
//! in bucket `b` = the position of the highest bit in which its key differs from the last
//! popped key (bucket 0: equal). A push is an append (`O(1)`); a pop takes the lowest non-empty
//! bucket, finds its minimum, makes that the last key and redistributes the bucket's other
//! entries to strictly lower buckets — each entry moves at most 128 times over its life, and in
//! practice a few times. Buckets are contiguous vectors, so a million pending timers are
//! scanned sequentially instead of sifted through a million-entry binary heap with a cache
//! miss per level.
//!
//! The set pops the smaller of the lane's head and the radix heap's minimum, so it pops exactly
//! in `(time, seq)` order: the engine takes the earlier of this set's and the event heap's
//! heads, and both draw `seq` from one counter, so moving events here changes no result (the
//! golden test). Which part holds a timer is a matter of speed only.

use std::collections::VecDeque;

const N_BUCKETS: usize = 129;

/// A radix bucket emptied by a redistribution keeps its buffer up to this many entries.
const KEEP_CAPACITY: usize = 1 << 12;

#[derive(Clone)]
struct Entry<E> {
    key: u128,
    event: E,
}

/// The radix heap part: keys must never be below the last key popped from the whole set.
///
/// Its minimum is *peeked* without redistributing (a scan of the lowest non-empty bucket,
/// cached until a push goes below it or a pop): redistributing sets `last` to that minimum,
/// which is only sound once it is popped — the lane may pop smaller keys first, and timers
/// pushed meanwhile may fall below the radix heap's minimum.
#[derive(Clone)]
struct RadixHeap<E> {
    buckets: Vec<Vec<Entry<E>>>,
    /// Bit `b` set iff bucket `b` (0 ..= 127) is non-empty; bucket 128 in `top_nonempty`.
    nonempty: u128,
    top_nonempty: bool,
    last: u128,
    len: usize,
    /// The smallest key, if known (`None`: unknown or empty).
    min: Option<u128>,
}

#[inline]
fn bucket_of(key: u128, last: u128) -> usize {
    (128 - (key ^ last).leading_zeros()) as usize
}

impl<E> RadixHeap<E> {
    fn new() -> Self {
        RadixHeap {
            buckets: (0..N_BUCKETS).map(|_| Vec::new()).collect(),
            nonempty: 0,
            top_nonempty: false,
            last: 0,
            len: 0,
            min: None,
        }
    }

    #[inline]
    fn put(&mut self, e: Entry<E>) {
        let b = bucket_of(e.key, self.last);
        self.buckets[b].push(e);
        if b < 128 {
            self.nonempty |= 1 << b;
        } else {
            self.top_nonempty = true;
        }
    }

    /// Adds an entry with key `key`, which must not be below the last key popped from the
    /// whole set (the engine's keys are not: time never goes back and `seq` grows).
    #[inline]
    fn push(&mut self, key: u128, event: E) {
        self.len += 1;
        if let Some(m) = self.min
            && key < m
        {
            self.min = Some(key);
        }
        self.put(Entry { key, event });
    }

    /// The lowest non-empty bucket (the minimum is in it: a lower bucket holds smaller keys).
    #[inline]
    fn lowest(&self) -> usize {
        if self.nonempty != 0 {
            self.nonempty.trailing_zeros() as usize
        } else {
            128
        }
    }

    /// The smallest key (nothing moves).
    #[inline]
    fn min_key(&mut self) -> Option<u128> {
        if self.len == 0 {
            return None;
        }
        if self.min.is_none() {
            self.min = self.buckets[self.lowest()].iter().map(|e| e.key).min();
        }
        self.min
    }

    /// Redistributes the lowest non-empty bucket around its minimum `min`, about to be popped.
    #[cold]
    fn settle(&mut self, min: u128) {
        let b = self.lowest();
        let mut items = std::mem::take(&mut self.buckets[b]);
        if b < 128 {
            self.nonempty &= !(1 << b);
        } else {
            self.top_nonempty = false;
        }
        self.last = min;
        for e in items.drain(..) {
            self.put(e);
        }
        // Keep a small buffer for reuse; give a large one back (a million initial timers pass
        // through a few buckets once, and would otherwise hold their memory for the run).
        if items.capacity() <= KEEP_CAPACITY {
            self.buckets[b] = items;
        }
    }

    /// Removes and returns the entry with the smallest key.
    #[inline]
    fn pop(&mut self) -> Option<(u128, E)> {
        let min = self.min_key()?;
        if self.nonempty & 1 == 0 {
            self.settle(min);
        }
        // Bucket 0 holds the keys equal to `last`, the minimum: one entry (keys are unique).
        let e = self.buckets[0].pop()?;
        if self.buckets[0].is_empty() {
            self.nonempty &= !1;
        }
        self.len -= 1;
        self.min = None;
        Some((e.key, e.event))
    }
}

/// Pending timer events, popped in `(time, seq)` order; keys must be unique and never below
/// the last popped key.
#[derive(Clone)]
pub struct TimerQueue<E> {
    /// Entries in increasing key order (pushed so).
    lane: VecDeque<Entry<E>>,
    /// The others.
    radix: RadixHeap<E>,
}

impl<E> Default for TimerQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> TimerQueue<E> {
    pub fn new() -> Self {
        TimerQueue {
            lane: VecDeque::new(),
            radix: RadixHeap::new(),
        }
    }

    pub fn len(&self) -> usize {
        self.lane.len() + self.radix.len
    }

    pub fn is_empty(&self) -> bool {
        self.lane.is_empty() && self.radix.len == 0
    }

    /// Adds an entry with key `key`, which must be larger than every key popped so far (the
    /// engine's keys are: time never goes back and `seq` grows).
    #[inline]
    pub fn push(&mut self, key: u128, event: E) {
        if self.lane.back().is_none_or(|b| b.key < key) {
            self.lane.push_back(Entry { key, event });
        } else {
            self.radix.push(key, event);
        }
    }

    /// The smallest key.
    #[inline]
    pub fn min_key(&mut self) -> Option<u128> {
        let l = self.lane.front().map(|e| e.key);
        match (l, self.radix.min_key()) {
            (Some(l), Some(r)) => Some(l.min(r)),
            (l, r) => l.or(r),
        }
    }

    /// Removes and returns the entry with the smallest key if that key is below `bound`
    /// (`None`: no bound).
    #[inline]
    pub fn pop_below(&mut self, bound: Option<u128>) -> Option<(u128, E)> {
        let r = self.radix.min_key();
        match self.lane.front() {
            Some(l) if r.is_none_or(|r| l.key < r) => {
                if bound.is_some_and(|b| l.key >= b) {
                    return None;
                }
                self.lane.pop_front().map(|e| (e.key, e.event))
            }
            _ => {
                if bound.is_some_and(|b| r.is_none_or(|r| r >= b)) {
                    return None;
                }
                self.radix.pop()
            }
        }
    }

    /// Removes and returns the entry with the smallest key.
    #[inline]
    pub fn pop(&mut self) -> Option<(u128, E)> {
        self.pop_below(None)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;
    use rand::RngExt;
    use std::cmp::Reverse;
    use std::collections::BinaryHeap;

    /// Property: monotone pushes and pops come out in exactly `BinaryHeap`'s order, for short
    /// and far-ahead keys, with many equal times (distinct sequence numbers).
    #[test]
    fn pops_in_key_order_like_a_binary_heap() {
        for seed in 0..10u64 {
            let mut rng = stream(seed, "test/timers");
            let mut q = TimerQueue::new();
            let mut r: BinaryHeap<Reverse<u128>> = BinaryHeap::new();
            let (mut now, mut seq) = (0u64, 0u64);
            let far = [10u64, 1_000_000, 180_000_000_000][seed as usize % 3];
            for _ in 0..50_000 {
                if rng.random_bool(0.55) {
                    let at = now + rng.random_range(0..far);
                    let key = ((at as u128) << 64) | seq as u128;
                    seq += 1;
                    q.push(key, seq);
                    r.push(Reverse(key));
                } else {
                    let got = q.pop().map(|(k, _)| k);
                    assert_eq!(got, r.pop().map(|Reverse(k)| k), "seed {seed}");
                    if let Some(k) = got {
                        now = (k >> 64) as u64;
                    }
                }
                assert_eq!(q.len(), r.len());
            }
            while let Some(Reverse(k)) = r.pop() {
                assert_eq!(q.pop().map(|(k, _)| k), Some(k), "seed {seed}");
            }
            assert!(q.pop().is_none() && q.is_empty());
        }
    }

    /// Property: a lease-like workload — timers with random phases, each re-armed when it fires
    /// a fixed interval later (the lane), sometimes at a random or an equal time instead (the
    /// radix heap), with far timers — pops exactly `BinaryHeap`'s order, and `pop_below` pops
    /// only below its bound. Checks that both parts are used.
    #[test]
    fn periodic_rearms_pop_in_key_order_like_a_binary_heap() {
        for seed in 0..12u64 {
            let mut rng = stream(seed, "test/timers-periodic");
            let mut q = TimerQueue::new();
            let mut r: BinaryHeap<Reverse<u128>> = BinaryHeap::new();
            let n = [1usize, 10, 1000, 5000][seed as usize % 4];
            let interval = [7u64, 1_000, 180_000_000_000][seed as usize % 3];
            let p_other = [0.0, 0.01, 0.3, 0.9][(seed as usize / 3) % 4];
            let mut seq = 0u64;
            let mut key = |at: u64| {
                seq += 1;
                ((at as u128) << 64) | seq as u128
            };
            for _ in 0..n {
                let k = key(rng.random_range(0..interval));
                q.push(k, ());
                r.push(Reverse(k));
            }
            let (mut in_lane, mut in_radix) = (0usize, 0usize);
            for step in 0..40_000 {
                // Sometimes pop only below a random bound (the event heap's head).
                let bound = rng
                    .random_bool(0.2)
                    .then(|| r.peek().map_or(0, |Reverse(k)| *k) + rng.random_range(0..3u128));
                let want = match (r.peek(), bound) {
                    (Some(Reverse(k)), Some(b)) if *k >= b => None,
                    _ => r.pop().map(|Reverse(k)| k),
                };
                let got = q.pop_below(bound).map(|(k, ())| k);
                assert_eq!(got, want, "seed {seed}");
                let Some(k) = got else { continue };
                let now = (k >> 64) as u64;
                let at = if rng.random_bool(p_other) {
                    match rng.random_range(0..4u32) {
                        0 => now,
                        1 => now.saturating_add(rng.random_range(0..interval)),
                        2 => now.saturating_add(rng.random_range(0..3 * interval)),
                        _ => now + (u64::MAX - now) / 2,
                    }
                } else {
                    now.saturating_add(interval)
                };
                let k = key(at);
                let lane_before = q.lane.len();
                q.push(k, ());
                if q.lane.len() > lane_before {
                    in_lane += 1;
                } else {
                    in_radix += 1;
                }
                r.push(Reverse(k));
                assert_eq!(q.len(), r.len(), "seed {seed}");
                if step % 16 == 0 {
                    let radix_min = q.radix.buckets.iter().flatten().map(|e| e.key).min();
                    assert_eq!(q.radix.min_key(), radix_min, "seed {seed}: cached minimum");
                }
            }
            if p_other == 0.0 && n > 1 {
                assert!(
                    in_lane > in_radix,
                    "seed {seed}: the lane takes periodic re-arms"
                );
            }
            if p_other >= 0.3 && n > 1 {
                assert!(in_radix > 0, "seed {seed}");
            }
            while let Some(Reverse(k)) = r.pop() {
                assert_eq!(q.pop().map(|(k, ())| k), Some(k), "seed {seed}");
            }
            assert!(q.pop().is_none() && q.is_empty() && q.min_key().is_none());
        }
    }

    /// Equal times in both parts pop by sequence number, and the extreme keys work.
    #[test]
    fn equal_times_and_extreme_keys() {
        let mut q = TimerQueue::new();
        let k = |t: u64, s: u64| ((t as u128) << 64) | s as u128;
        q.push(k(5, 1), 1);
        q.push(k(5, 3), 3); // lane: 1, 3
        q.push(k(5, 2), 2); // radix
        q.push(k(u64::MAX, u64::MAX - 1), 9);
        q.push(k(0, 0), 0); // radix (below the lane's tail), equal to nothing popped yet
        assert_eq!(q.min_key(), Some(k(0, 0)));
        assert_eq!(q.pop_below(Some(k(0, 0))), None);
        assert_eq!(q.pop_below(Some(k(0, 1))), Some((k(0, 0), 0)));
        let order: Vec<u32> = std::iter::from_fn(|| q.pop().map(|(_, e)| e)).collect();
        assert_eq!(order, vec![1, 2, 3, 9]);
        assert!(q.is_empty());
    }
}
