//! A second pending-event set for timers that are mostly re-armed far ahead: a radix heap over
//! the same `(time << 64) | seq` keys as [`crate::queue::EventQueue`].
//!
//! The engine's time never goes backwards, so every key pushed is larger than the last key
//! popped (a *monotone* priority queue). A radix heap exploits that: an entry sits in bucket
//! `b` = the position of the highest bit in which its key differs from the last popped key
//! (bucket 0: equal). A push is an append (`O(1)`); a pop takes the lowest non-empty bucket,
//! finds its minimum, makes that the last key and redistributes the bucket's other entries to
//! strictly lower buckets — each entry moves at most 128 times over its life, and in practice a
//! few times. Buckets are contiguous vectors, so a million pending timers are scanned
//! sequentially instead of sifted through a million-entry binary heap with a cache miss per
//! level.
//!
//! It pops exactly in `(time, seq)` order: the engine takes the earlier of this set's and the
//! event heap's heads, and both draw `seq` from one counter, so moving events here changes no
//! result (the golden test).

const N_BUCKETS: usize = 129;

#[derive(Clone)]
struct Entry<E> {
    key: u128,
    event: E,
}

/// Pending timer events, popped in `(time, seq)` order; keys must never be below the last
/// popped key.
#[derive(Clone)]
pub struct TimerQueue<E> {
    buckets: Vec<Vec<Entry<E>>>,
    /// Bit `b` set iff bucket `b` (0 ..= 127) is non-empty; bucket 128 in `top_nonempty`.
    nonempty: u128,
    top_nonempty: bool,
    last: u128,
    len: usize,
}

impl<E> Default for TimerQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

#[inline]
fn bucket_of(key: u128, last: u128) -> usize {
    (128 - (key ^ last).leading_zeros()) as usize
}

impl<E> TimerQueue<E> {
    pub fn new() -> Self {
        TimerQueue {
            buckets: (0..N_BUCKETS).map(|_| Vec::new()).collect(),
            nonempty: 0,
            top_nonempty: false,
            last: 0,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
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

    /// Adds an entry with key `key`, which must be larger than every key popped so far (the
    /// engine's keys are: time never goes back and `seq` grows).
    #[inline]
    pub fn push(&mut self, key: u128, event: E) {
        self.len += 1;
        self.put(Entry { key, event });
    }

    /// The smallest key, after moving its entry to bucket 0 (so it is found again at once).
    #[inline]
    pub fn min_key(&mut self) -> Option<u128> {
        if self.len == 0 {
            return None;
        }
        if self.nonempty & 1 == 0 {
            self.settle();
        }
        self.buckets[0].last().map(|e| e.key)
    }

    /// Redistributes the lowest non-empty bucket around its minimum.
    #[cold]
    fn settle(&mut self) {
        let b = if self.nonempty != 0 {
            self.nonempty.trailing_zeros() as usize
        } else {
            128
        };
        let mut items = std::mem::take(&mut self.buckets[b]);
        if b < 128 {
            self.nonempty &= !(1 << b);
        } else {
            self.top_nonempty = false;
        }
        let min = items.iter().map(|e| e.key).min().unwrap_or(self.last);
        self.last = min;
        for e in items.drain(..) {
            self.put(e);
        }
        self.buckets[b] = items;
    }

    /// Removes and returns the entry with the smallest key.
    #[inline]
    pub fn pop(&mut self) -> Option<(u128, E)> {
        self.min_key()?;
        let e = self.buckets[0].pop()?;
        if self.buckets[0].is_empty() {
            self.nonempty &= !1;
        }
        self.len -= 1;
        Some((e.key, e.event))
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
}
