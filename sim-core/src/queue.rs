//! The pending-event set: a binary min-heap ordered by `(time, insertion sequence)`.
//!
//! The sequence number grows on every insertion, so events scheduled for the same instant run
//! in the order they were scheduled (FIFO) and a run is reproducible to the bit. Events are
//! stored inline (no allocation per event); the heap's buffer grows only with the number of
//! *pending* events.

use crate::time::SimTime;
use std::cmp::Ordering;
use std::collections::BinaryHeap;

struct Entry<E> {
    /// `(time << 64) | seq`: one integer comparison orders by time, then by insertion.
    key: u128,
    event: E,
}

impl<E> PartialEq for Entry<E> {
    fn eq(&self, other: &Self) -> bool {
        self.key == other.key
    }
}
impl<E> Eq for Entry<E> {}
impl<E> PartialOrd for Entry<E> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}
impl<E> Ord for Entry<E> {
    /// Reversed, so that std's max-heap pops the earliest `(time, seq)` first.
    fn cmp(&self, other: &Self) -> Ordering {
        other.key.cmp(&self.key)
    }
}

/// Pending events, popped in `(time, seq)` order.
pub struct EventQueue<E> {
    heap: BinaryHeap<Entry<E>>,
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
            heap: BinaryHeap::new(),
            next_seq: 0,
        }
    }

    pub fn with_capacity(n: usize) -> Self {
        EventQueue {
            heap: BinaryHeap::with_capacity(n),
            next_seq: 0,
        }
    }

    /// Schedules `event` at `at`. Returns the event's sequence number.
    #[inline]
    pub fn push(&mut self, at: SimTime, event: E) -> u64 {
        let seq = self.next_seq;
        self.next_seq += 1;
        self.heap.push(Entry {
            key: ((at.0 as u128) << 64) | seq as u128,
            event,
        });
        seq
    }

    /// Removes and returns the earliest event.
    #[inline]
    pub fn pop(&mut self) -> Option<(SimTime, E)> {
        self.heap
            .pop()
            .map(|e| (SimTime((e.key >> 64) as u64), e.event))
    }

    /// The time of the earliest pending event.
    #[inline]
    pub fn peek_time(&self) -> Option<SimTime> {
        self.heap.peek().map(|e| SimTime((e.key >> 64) as u64))
    }

    pub fn len(&self) -> usize {
        self.heap.len()
    }

    pub fn is_empty(&self) -> bool {
        self.heap.is_empty()
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
}
