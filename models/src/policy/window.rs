//! A sliding time window of counters with bounded memory: a ring of `N` buckets (slices of
//! `window / N`), each holding `L` counters, plus running totals.
//!
//! The window covers the current slice and the `N − 1` before it (so between `(N−1)/N` and all
//! of the nominal window), exactly like Finagle's `WindowedAdder(range, slices)`. Advancing
//! costs O(number of slices elapsed, at most `N`); reading a total is O(1).

use sim_core::SimTime;

#[derive(Clone, Debug, PartialEq)]
pub(crate) struct SlidingWindow<const N: usize, const L: usize> {
    slots: [[i64; L]; N],
    totals: [i64; L],
    slice_ns: u64,
    /// Index of the current slice: `now / slice_ns`.
    epoch: u64,
}

impl<const N: usize, const L: usize> SlidingWindow<N, L> {
    /// A window of nominal length `window_ns` (a slice is at least 1 ns), starting at time 0.
    pub(crate) fn new(window_ns: u64) -> Self {
        SlidingWindow {
            slots: [[0; L]; N],
            totals: [0; L],
            slice_ns: (window_ns / N as u64).max(1),
            epoch: 0,
        }
    }

    /// Expires the slices that ended before `now`. Time never runs backwards in a run; if it
    /// did, the current slice would simply be kept.
    #[inline]
    pub(crate) fn advance(&mut self, now: SimTime) {
        let e = now.0 / self.slice_ns;
        if e <= self.epoch {
            return;
        }
        let k = (e - self.epoch).min(N as u64);
        for i in 1..=k {
            let idx = ((self.epoch + i) % N as u64) as usize;
            let slot = &mut self.slots[idx];
            for (total, x) in self.totals.iter_mut().zip(slot.iter_mut()) {
                *total = total.saturating_sub(*x);
                *x = 0;
            }
        }
        self.epoch = e;
    }

    /// Adds `amount` to counter `lane` in the slice containing `now`.
    #[inline]
    pub(crate) fn add(&mut self, now: SimTime, lane: usize, amount: i64) {
        self.advance(now);
        let idx = (self.epoch % N as u64) as usize;
        self.slots[idx][lane] = self.slots[idx][lane].saturating_add(amount);
        self.totals[lane] = self.totals[lane].saturating_add(amount);
    }

    /// The sum of counter `lane` over the window ending at `now`.
    #[inline]
    pub(crate) fn total(&mut self, now: SimTime, lane: usize) -> i64 {
        self.advance(now);
        self.totals[lane]
    }

    /// The sums of all counters over the window ending at `now`.
    #[inline]
    pub(crate) fn totals(&mut self, now: SimTime) -> [i64; L] {
        self.advance(now);
        self.totals
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn expires_slices_and_keeps_totals_consistent() {
        // 10 slices of 1 s.
        let mut w: SlidingWindow<10, 2> = SlidingWindow::new(10_000_000_000);
        let s = |x: f64| SimTime::from_secs_f64(x);
        w.add(s(0.5), 0, 3);
        w.add(s(1.5), 0, 4);
        w.add(s(1.6), 1, 1);
        assert_eq!(w.totals(s(9.9)), [7, 1]);
        // At t = 10 s the slice [0, 1) expires.
        assert_eq!(w.totals(s(10.0)), [4, 1]);
        assert_eq!(w.totals(s(11.0)), [0, 0]);
        // A long gap clears everything, once.
        w.add(s(12.0), 0, 5);
        assert_eq!(w.total(s(1_000.0), 0), 0);
        w.add(s(1_000.0), 0, 2);
        assert_eq!(w.total(s(1_000.5), 0), 2);
    }

    #[test]
    fn brute_force_agrees() {
        // Random adds; compare the running total with a recount over the last N slices.
        let mut w: SlidingWindow<8, 1> = SlidingWindow::new(800);
        let mut log: Vec<(u64, i64)> = Vec::new();
        let mut t = 0u64;
        let mut x: u64 = 12345;
        for _ in 0..5_000 {
            x = x
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            t += (x >> 33) % 150;
            let a = ((x >> 20) % 7) as i64 - 2;
            w.add(SimTime(t), 0, a);
            log.push((t, a));
            let cur = t / 100;
            let expect: i64 = log
                .iter()
                .filter(|(ti, _)| ti / 100 + 8 > cur)
                .map(|(_, a)| a)
                .sum();
            assert_eq!(w.total(SimTime(t), 0), expect);
        }
    }
}
