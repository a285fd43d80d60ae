//! The pending-event set: a 4-ary min-heap ordered by `(time, insertion sequence)`.
//!
//! The sequence number grows on every insertion, so events scheduled for the same instant run
//! in the order they were scheduled (FIFO) and a run is reproducible to the bit: keys are
//! unique, so any correct priority queue pops the same sequence. Events are stored inline (no
//! allocation per event); the heap's buffers grow only with the number of *pending* events.
//!
//! Layout: keys and events in two parallel arrays, and four children per node. A pop walks
//! down comparing keys only; a node's four children's keys are 64 contiguous bytes (one or two
//! cache lines), and the tree is half as deep as a binary heap's. In the retry storm (about a
//! thousand pending events) the binary heap's pop was 40 % of the run; the 4-ary heap took 16 % off
//! the run's whole-process CPU, and its pop is still the largest single cost, as the heap is in
//! a bare loop of the same model.
//!
//! The heap is written out rather than `std::collections::BinaryHeap` also for a second
//! reason: std's push writes the new entry at the end and reads it back to sift it up, and an
//! event built field by field and then read as one 16-byte value stalls store-to-load
//! forwarding (a quarter of the M/M/1 benchmark's time in one instruction). Here a push first
//! finds the entry's place comparing keys only, then moves the path's entries down one level
//! each, top down, carrying the new entry from registers (`mem::replace`); a pop finds the
//! path of smallest children the last entry sinks along, then moves it up bottom-up the same
//! way.

use crate::time::SimTime;
use crate::timers::TimerQueue;

/// Pending events, popped in `(time, seq)` order.
#[derive(Clone)]
pub struct EventQueue<E> {
    /// The heap's keys, `(time << 64) | seq` (one integer comparison orders by time, then by
    /// insertion); node `i`'s children are `4i + 1 ..= 4i + 4`, its parent `(i - 1) / 4`.
    keys: Vec<u128>,
    /// `events[i]` is the event of `keys[i]`.
    events: Vec<E>,
    /// Timers pushed with [`EventQueue::push_timer`]: same keys, one `seq` counter.
    timers: TimerQueue<E>,
    next_seq: u64,
}

impl<E> Default for EventQueue<E> {
    fn default() -> Self {
        Self::new()
    }
}

impl<E> EventQueue<E> {
    pub fn new() -> Self {
        EventQueue {
            keys: Vec::new(),
            events: Vec::new(),
            timers: TimerQueue::new(),
            next_seq: 0,
        }
    }

    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            keys: Vec::with_capacity(n),
            events: Vec::with_capacity(n),
            timers: TimerQueue::new(),
            next_seq: 0,
        }
    }

    /// Schedules `event` at `at`. Returns the event's sequence number. Always inlined, so the
    /// caller's event is built straight into the entry rather than read back from its stack.
    #[inline(always)]
    pub fn push(&mut self, at: SimTime, event: E) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        let key = ((at.0 as u128) << 64) | seq as u128;
        let n = self.keys.len();
        // Climb from the new slot n while the parent is later, counting the levels k.
        let (mut pos, mut k) = (n, 0u32);
        while pos > 0 {
            let parent = (pos - 1) / 4;
            if self.keys[parent] <= key {
                break;
            }
            pos = parent;
            k += 1;
        }
        // The ancestors of slot n are a_j = (n - (4^j - 1)/3) >> 2j (a_0 = n): the new entry
        // goes to a_k, each ancestor a_j (j = k … 1) moves to a_{j-1}, and a_1's entry goes to
        // the new slot at the end.
        let (mut carry_key, mut carry) = (key, event);
        for j in (1..=k).rev() {
            let at = (n - ((1usize << (2 * j)) - 1) / 3) >> (2 * j);
            carry_key = std::mem::replace(&mut self.keys[at], carry_key);
            carry = std::mem::replace(&mut self.events[at], carry);
        }
        self.keys.push(carry_key);
        self.events.push(carry);
        seq
    }

    /// Schedules timer `event` at `at` in the timer set (a FIFO lane and a radix heap, suited
    /// to many timers re-armed far ahead: [`crate::timers`]); it pops in the same
    /// `(time, seq)` order as if pushed with [`EventQueue::push`]. `at` must not precede the
    /// last popped time.
    #[inline]
    pub fn push_timer(&mut self, at: SimTime, event: E) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.timers
            .push(((at.0 as u128) << 64) | seq as u128, event);
        seq
    }

    /// Removes and returns the earliest event (of the heap and the timer set).
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        if !self.timers.is_empty()
            && let Some((k, e)) = self.timers.pop_below(self.keys.first().copied())
        {
            return Some((SimTime((k >> 64) as u64), e));
        }
        self.pop_heap()
    }

    #[inline]
    fn pop_heap(&mut self) -> Option<(SimTime, E)> {
        let last_key = self.keys.pop()?;
        let last = self.events.pop()?;
        let n = self.keys.len();
        if n == 0 {
            return Some((SimTime((last_key >> 64) as u64), last));
        }
        let keys = &self.keys[..];
        // The path the last entry sinks along from the root: the smallest child each time,
        // while it is earlier than the last entry. The path is the chain of ancestors of where
        // it stops (`(i - 1) / 4` up to the root), so it needs no array.
        let mut i = 0;
        loop {
            let c = 4 * i + 1;
            if c >= n {
                break;
            }
            let m = if c + 3 < n {
                // All four children: the smallest without a branch (which child is smallest is
                // a coin flip the branch predictor cannot learn).
                let a = c + usize::from(keys[c + 1] < keys[c]);
                let b = c + 2 + usize::from(keys[c + 3] < keys[c + 2]);
                if keys[b] < keys[a] { b } else { a }
            } else {
                (c + 1..n).fold(c, |m, j| if keys[j] < keys[m] { j } else { m })
            };
            if keys[m] >= last_key {
                break;
            }
            i = m;
        }
        // Bottom up: the last entry takes the path's end, each entry on the path moves up one
        // level, and the root comes out.
        let (mut carry_key, mut carry) = (last_key, last);
        let mut at = i;
        loop {
            carry_key = std::mem::replace(&mut self.keys[at], carry_key);
            carry = std::mem::replace(&mut self.events[at], carry);
            if at == 0 {
                break;
            }
            at = (at - 1) / 4;
        }
        Some((SimTime((carry_key >> 64) as u64), carry))
    }

    /// The time of the earliest pending event.
    #[inline]
    pub fn peek_time(&mut self) -> Option<SimTime> {
        let h = self.keys.first().copied();
        let t = self.timers.min_key();
        let k = match (h, t) {
            (Some(h), Some(t)) => h.min(t),
            (h, t) => h.or(t)?,
        };
        Some(SimTime((k >> 64) as u64))
    }

    pub fn len(&self) -> usize {
        self.keys.len() + self.timers.len()
    }

    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.timers.is_empty()
    }

    /// Number of events ever scheduled.
    pub fn scheduled_total(&self) -> u64 {
        self.next_seq
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;
    use rand::RngExt;

    #[test]
    fn simultaneous_events_pop_fifo() {
        let mut q = EventQueue::new();
        for i in 0..100u32 {
            q.push(SimTime(7), i);
        }
        q.push(SimTime(3), 1000);
        assert_eq!(q.pop(), Some((SimTime(3), 1000)));
        for i in 0..100u32 {
            assert_eq!(q.pop(), Some((SimTime(7), i)));
        }
        assert_eq!(q.pop(), None);
    }

    /// Property: under random interleavings of pushes and pops, pops come out in
    /// non-decreasing (time, seq) order, and every pushed event comes out exactly once.
    #[test]
    fn pops_in_time_then_seq_order_under_random_interleaving() {
        for seed in 0..20u64 {
            let mut rng = stream(seed, "test/queue");
            let mut q = EventQueue::new();
            let mut now = 0u64;
            let mut pushed = 0u64;
            let mut popped = 0u64;
            let mut last: Option<(u64, u64)> = None;
            for _ in 0..20_000 {
                if rng.random_bool(0.55) {
                    let at = now + rng.random_range(0..50u64);
                    let seq = q.push(SimTime(at), pushed);
                    assert_eq!(seq, pushed, "seed {seed}: seq must equal insertion count");
                    pushed += 1;
                } else if let Some((t, id)) = q.pop() {
                    assert!(t.0 >= now, "seed {seed}: time went backwards");
                    if let Some((lt, lid)) = last {
                        assert!(
                            (t.0, id) > (lt, lid) || t.0 > lt,
                            "seed {seed}: ({}, {id}) popped after ({lt}, {lid})",
                            t.0
                        );
                    }
                    now = t.0;
                    last = Some((t.0, id));
                    popped += 1;
                }
            }
            while q.pop().is_some() {
                popped += 1;
            }
            assert_eq!(pushed, popped, "seed {seed}");
        }
    }

    /// Property: the written-out 4-ary heap pops exactly the sequence std's `BinaryHeap` pops under
    /// random pushes and pops, with many ties and heaps up to thousands of entries.
    #[test]
    fn pops_the_same_sequence_as_std_binary_heap() {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        for seed in 0..10u64 {
            let mut rng = stream(seed, "test/queue-ref");
            let mut q = EventQueue::new();
            let mut r: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
            let mut now = 0u64;
            let p_push = [0.5, 0.7, 0.3][seed as usize % 3];
            for _ in 0..50_000 {
                if rng.random_bool(p_push) {
                    let at = now + rng.random_range(0..20u64);
                    let seq = q.scheduled_total();
                    assert_eq!(q.push(SimTime(at), seq), seq);
                    r.push(Reverse((at, seq)));
                } else {
                    let got = q.pop();
                    let want = r.pop().map(|Reverse((t, seq))| (SimTime(t), seq));
                    assert_eq!(got, want, "seed {seed}");
                    if let Some((t, _)) = got {
                        now = t.0;
                    }
                }
            }
            while let Some(Reverse((t, seq))) = r.pop() {
                assert_eq!(q.pop(), Some((SimTime(t), seq)), "seed {seed}");
            }
            assert_eq!(q.pop(), None, "seed {seed}");
        }
    }

    /// Property: events in the heap and timers in the timer set, interleaved as a client's
    /// request path makes them (arrivals and completions a short random delay ahead, one
    /// timeout per attempt a constant delay ahead — the lane —, some timers a random delay
    /// ahead — the radix heap), pop exactly the sequence one `BinaryHeap` of all of them pops,
    /// ties included: which structure holds an event changes no order.
    #[test]
    fn events_and_timers_pop_the_same_sequence_as_one_binary_heap() {
        use std::cmp::Reverse;
        use std::collections::BinaryHeap;
        for seed in 0..12u64 {
            let mut rng = stream(seed, "test/queue-timers");
            let mut q = EventQueue::new();
            let mut r: BinaryHeap<Reverse<(u64, u64)>> = BinaryHeap::new();
            let mut now = 0u64;
            let timeout = [0u64, 5, 200][seed as usize % 3];
            let p_random_timer = [0.0, 0.05, 0.5][(seed as usize / 3) % 3];
            let (mut lane_timers, mut other_timers) = (0u32, 0u32);
            for _ in 0..50_000 {
                let seq = q.scheduled_total();
                match rng.random_range(0..10u32) {
                    0..=3 => {
                        let at = now + rng.random_range(0..20u64);
                        q.push(SimTime(at), seq);
                        r.push(Reverse((at, seq)));
                    }
                    4..=5 => {
                        let at = if rng.random_bool(p_random_timer) {
                            other_timers += 1;
                            now + rng.random_range(0..400u64)
                        } else {
                            lane_timers += 1;
                            now + timeout
                        };
                        assert_eq!(q.push_timer(SimTime(at), seq), seq);
                        r.push(Reverse((at, seq)));
                    }
                    _ => {
                        let got = q.pop();
                        let want = r.pop().map(|Reverse((t, seq))| (SimTime(t), seq));
                        assert_eq!(got, want, "seed {seed}");
                        if let Some((t, _)) = got {
                            now = t.0;
                        }
                    }
                }
                assert_eq!(q.len(), r.len(), "seed {seed}");
            }
            assert!(lane_timers > 0, "seed {seed}: no constant-delay timer");
            assert!(p_random_timer == 0.0 || other_timers > 0, "seed {seed}");
            while let Some(Reverse((t, seq))) = r.pop() {
                assert_eq!(q.pop(), Some((SimTime(t), seq)), "seed {seed}");
            }
            assert_eq!(q.pop(), None, "seed {seed}");
        }
    }
}
