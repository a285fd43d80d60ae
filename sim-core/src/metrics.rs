//! Windowed metrics with bounded memory.
//!
//! Components register named metrics once, at build time, and get back typed ids; recording on
//! the hot path is an index into a `Vec`. Time is cut into fixed windows of simulated time; when
//! a window closes, each metric is reduced to a few numbers (counter value, time-weighted mean
//! and max of a gauge, count/mean/quantiles of a histogram) and the live state is reset. Memory
//! is therefore `O(metrics × windows)`, independent of the number of requests simulated. Two
//! caps bound it absolutely (reported, never a panic or an allocation abort): a count of stored
//! windows (later windows still count toward the totals) and a byte budget for stored windows
//! and the live histograms (hitting it asks the engine to stop the run at the last stored
//! window's end). Every registered histogram holds two [`Histogram`]s (the window's and the
//! run total's, [`HISTOGRAM_BYTES`] ≈ 59 KB each) for the whole run: they are charged to the
//! budget first, at registration, and a histogram that does not fit is not allocated (it shares
//! one overflow pair, and the run stops before its first event). The window store grows as
//! windows close, by at most half its size at a time, never past the budget, and a failed
//! allocation counts as the budget being hit.
//!
//! Run totals ("summary") accumulate only over windows that start at or after `summary_from`
//! (the warm-up end, rounded up to a window boundary), so steady-state estimates exclude the
//! transient from an empty start.

use std::collections::BTreeMap;

use crate::histogram::{HISTOGRAM_BYTES, Histogram};
use crate::spill::{OpenSpill, Shape, Spill};
pub use crate::stat::{GaugeStat, HistStat};
use crate::time::{SimDuration, SimTime};

#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct CounterId(u32);
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct GaugeId(u32);
#[derive(Copy, Clone, PartialEq, Eq, Hash, Debug)]
pub struct HistId(u32);

/// What kind of metric a definition is, and its index among metrics of that kind.
#[derive(Copy, Clone, PartialEq, Eq, Debug)]
pub enum MetricRef {
    Counter(CounterId),
    Gauge(GaugeId),
    Hist(HistId),
}

/// A registered metric: the owning component's name and the metric's name.
#[derive(Clone, Debug)]
pub struct MetricDef {
    pub owner: String,
    pub name: &'static str,
    pub id: MetricRef,
}

#[derive(Clone, Copy, Debug)]
struct Gauge {
    value: f64,
    last: SimTime,
    /// ∫ value dt over the current window, in value·ns.
    integral: f64,
    max: f64,
    total_integral: f64,
    total_max: f64,
}

/// Records counters, time-weighted gauges and histograms per fixed window of simulated time.
#[derive(Clone)]
pub struct Recorder {
    window: SimDuration,
    summary_from: SimTime,
    cur_start: SimTime,
    cur_end: SimTime,
    in_summary: bool,
    defs: Vec<MetricDef>,
    /// Owner → its metrics' names and ids in registration order: [`Recorder::find`] costs
    /// O(log owners + the owner's metrics), not O(all metrics).
    by_owner: BTreeMap<String, Vec<(&'static str, MetricRef)>>,

    counters: Vec<u64>,
    counter_totals: Vec<u64>,
    /// Every closed window's count, warm-up included (for policies that watch a counter).
    counter_lifetime: Vec<u64>,
    gauges: Vec<Gauge>,
    hists: Vec<Histogram>,
    hist_totals: Vec<Histogram>,
    /// The histogram pair every histogram registered past the byte budget shares.
    overflow_hist: Option<HistId>,

    max_windows: usize,
    /// Byte budget for stored windows (bounds + reduced values).
    max_window_bytes: u64,
    /// Set when storing one more window would pass the budget (or an allocation failed).
    budget_hit: bool,
    windows_dropped: u64,
    win_bounds: Vec<(SimTime, SimTime)>,
    win_counters: Vec<u64>,
    win_gauges: Vec<GaugeStat>,
    win_hists: Vec<HistStat>,
    summary_end: Option<SimTime>,
    /// Closed windows written to disk past a memory threshold ([`Recorder::with_spill`]);
    /// the `win_*` vectors then hold windows `spill.windows..`.
    spill: Option<Spill>,
    /// The most windows the `win_*` vectors held at once.
    peak_in_memory: usize,
}

impl Recorder {
    /// A recorder with windows of `window` (> 0), run totals from `warmup` rounded up to a
    /// window boundary, and at most `max_windows` stored windows (later windows still count
    /// toward totals; how many were dropped is reported by [`Recorder::windows_dropped`]).
    pub fn new(window: SimDuration, warmup: SimDuration, max_windows: usize) -> Recorder {
        let w = window.0.max(1);
        let summary_from = SimTime(warmup.0.div_ceil(w).saturating_mul(w));
        Recorder {
            window: SimDuration(w),
            summary_from,
            cur_start: SimTime::ZERO,
            cur_end: SimTime(w),
            in_summary: summary_from == SimTime::ZERO,
            defs: Vec::new(),
            by_owner: BTreeMap::new(),
            counters: Vec::new(),
            counter_totals: Vec::new(),
            counter_lifetime: Vec::new(),
            gauges: Vec::new(),
            hists: Vec::new(),
            hist_totals: Vec::new(),
            overflow_hist: None,
            max_windows,
            max_window_bytes: u64::MAX,
            budget_hit: false,
            windows_dropped: 0,
            win_bounds: Vec::new(),
            win_counters: Vec::new(),
            win_gauges: Vec::new(),
            win_hists: Vec::new(),
            summary_end: None,
            spill: None,
            peak_in_memory: 0,
        }
    }

    /// Limits the bytes stored windows may use (see [`Recorder::window_bytes`]).
    pub fn with_byte_budget(mut self, bytes: u64) -> Recorder {
        self.max_window_bytes = bytes;
        self
    }

    /// Keeps at most `bytes` of closed windows in memory (at least one window): past that,
    /// the windows held are written as one block to a file `open` creates (once, when first
    /// needed) and read back a block at a time (see [`crate::spill`]). What is read is the same
    /// as without spilling; the byte budget still counts every stored window, on disk or not.
    /// A failed write counts as the budget being hit.
    pub fn with_spill(mut self, bytes: u64, open: OpenSpill) -> Recorder {
        self.spill = Some(Spill::new(bytes, open));
        self
    }

    /// Windows written to disk.
    pub fn windows_spilled(&self) -> usize {
        self.spill.as_ref().map_or(0, |s| s.windows)
    }

    /// The most stored windows held in memory at once: the store's peak plus the longest
    /// block read back from disk.
    pub fn peak_resident_windows(&self) -> usize {
        self.peak_in_memory + self.spill.as_ref().map_or(0, Spill::peak_cached)
    }

    fn shape(&self) -> Shape {
        Shape {
            counters: self.counters.len(),
            gauges: self.gauges.len(),
            hists: self.hists.len(),
        }
    }

    /// Windows held in memory between spills.
    fn spill_every(&self) -> usize {
        self.spill
            .as_ref()
            .map_or(usize::MAX, |s| s.every(self.window_bytes()))
    }

    /// Bytes the live histograms hold for the whole run (a window's and the total's per
    /// histogram), charged to the byte budget before any window.
    pub fn histogram_bytes(&self) -> u64 {
        2 * HISTOGRAM_BYTES * self.hists.len() as u64
    }

    /// Bytes one stored window takes: its bounds and every metric's reduced values.
    pub fn window_bytes(&self) -> u64 {
        (std::mem::size_of::<(SimTime, SimTime)>()
            + self.counters.len() * std::mem::size_of::<u64>()
            + self.gauges.len() * std::mem::size_of::<GaugeStat>()
            + self.hists.len() * std::mem::size_of::<HistStat>()) as u64
    }

    /// True once the window byte budget stopped the storing of windows: the engine ends the
    /// run at [`Recorder::window_start`], the end of the last stored window. True from the
    /// start when the histograms registered do not fit in the budget.
    pub fn budget_hit(&self) -> bool {
        self.budget_hit
    }

    /// The byte budget for stored windows.
    pub fn max_window_bytes(&self) -> u64 {
        self.max_window_bytes
    }

    /// Start of the window in progress (the end of the last closed one).
    pub fn window_start(&self) -> SimTime {
        self.cur_start
    }

    /// Makes room for one more stored window without passing the byte budget, growing each
    /// store by at most half its length (at least 64 windows) at a time. False if the window
    /// does not fit or memory could not be had.
    fn room_for_window(&mut self) -> bool {
        let per = self.window_bytes().max(1);
        let room = self.max_window_bytes.saturating_sub(self.histogram_bytes());
        let fit = (room / per).min(self.max_windows as u64) as usize;
        let spilled = self.windows_spilled();
        let n = spilled + self.win_bounds.len();
        if n >= fit {
            return false;
        }
        let every = self.spill_every();
        if self.win_bounds.len() >= every {
            let shape = self.shape();
            let Some(spill) = &mut self.spill else {
                return false;
            };
            let written = spill.write(
                shape,
                &self.win_bounds,
                &self.win_counters,
                &self.win_gauges,
                &self.win_hists,
            );
            if written.is_err() {
                return false;
            }
            self.win_bounds.clear();
            self.win_counters.clear();
            self.win_gauges.clear();
            self.win_hists.clear();
        }
        let held = self.win_bounds.len();
        if held < self.win_bounds.capacity() {
            return true;
        }
        let more = (held / 2).max(64).min(fit - n).min(every - held);
        fn grow<T>(v: &mut Vec<T>, windows: usize, per_window: usize) -> bool {
            v.try_reserve_exact(windows * per_window).is_ok()
        }
        grow(&mut self.win_bounds, more, 1)
            && grow(&mut self.win_counters, more, self.counters.len())
            && grow(&mut self.win_gauges, more, self.gauges.len())
            && grow(&mut self.win_hists, more, self.hists.len())
    }

    fn assert_registering(&self) {
        assert!(
            self.win_bounds.is_empty() && self.cur_start == SimTime::ZERO,
            "metrics must be registered before the run starts"
        );
    }

    pub fn counter(&mut self, owner: &str, name: &'static str) -> CounterId {
        self.assert_registering();
        let id = CounterId(self.counters.len() as u32);
        self.counters.push(0);
        self.counter_totals.push(0);
        self.counter_lifetime.push(0);
        self.define(owner, name, MetricRef::Counter(id));
        id
    }

    pub fn gauge(&mut self, owner: &str, name: &'static str) -> GaugeId {
        self.assert_registering();
        let id = GaugeId(self.gauges.len() as u32);
        self.gauges.push(Gauge {
            value: 0.0,
            last: SimTime::ZERO,
            integral: 0.0,
            max: 0.0,
            total_integral: 0.0,
            total_max: 0.0,
        });
        self.define(owner, name, MetricRef::Gauge(id));
        id
    }

    pub fn histogram(&mut self, owner: &str, name: &'static str) -> HistId {
        self.assert_registering();
        let after = self.histogram_bytes() + 2 * HISTOGRAM_BYTES;
        if after > self.max_window_bytes || self.budget_hit {
            // Not allocated: the run stops before its first event (`budget_hit`), so these
            // histograms never see a value; they share one pair.
            self.budget_hit = true;
            if let Some(id) = self.overflow_hist {
                self.define(owner, name, MetricRef::Hist(id));
                return id;
            }
        }
        let id = HistId(self.hists.len() as u32);
        if self.budget_hit {
            self.overflow_hist = Some(id);
        }
        self.hists.push(Histogram::new());
        self.hist_totals.push(Histogram::new());
        self.define(owner, name, MetricRef::Hist(id));
        id
    }

    fn define(&mut self, owner: &str, name: &'static str, id: MetricRef) {
        match self.by_owner.get_mut(owner) {
            Some(list) => list.push((name, id)),
            None => {
                self.by_owner.insert(owner.to_string(), vec![(name, id)]);
            }
        }
        self.defs.push(MetricDef {
            owner: owner.to_string(),
            name,
            id,
        });
    }

    /// Registers `owner`'s metric `name` as another name for the already registered `id`:
    /// reading it reads `id`, and nothing more is stored or recorded. For a component whose
    /// metric would receive exactly the records another's does (a sink fed by one client).
    pub fn alias(&mut self, owner: &str, name: &'static str, id: MetricRef) {
        self.assert_registering();
        self.define(owner, name, id);
    }

    pub fn defs(&self) -> &[MetricDef] {
        &self.defs
    }

    /// Finds a metric by owner and name (the first registered, if one was registered twice).
    pub fn find(&self, owner: &str, name: &str) -> Option<MetricRef> {
        self.by_owner
            .get(owner)?
            .iter()
            .find(|(n, _)| *n == name)
            .map(|(_, id)| *id)
    }

    #[inline]
    pub fn add(&mut self, c: CounterId, n: u64) {
        self.counters[c.0 as usize] += n;
    }

    /// Adds `n`, saturating at `u64::MAX` (for sums of durations).
    #[inline]
    pub fn add_saturating(&mut self, c: CounterId, n: u64) {
        let x = &mut self.counters[c.0 as usize];
        *x = x.saturating_add(n);
    }

    #[inline]
    pub fn incr(&mut self, c: CounterId) {
        self.counters[c.0 as usize] += 1;
    }

    /// Sets gauge `g` to `value` at `now` (which must not precede the last update).
    #[inline]
    pub fn gauge_set(&mut self, g: GaugeId, now: SimTime, value: f64) {
        let s = &mut self.gauges[g.0 as usize];
        if value == s.value {
            // The integral is settled lazily from `last`: an unchanged value needs no update.
            return;
        }
        s.integral += s.value * count_f64(now.0.saturating_sub(s.last.0));
        s.last = now;
        s.value = value;
        if value > s.max {
            s.max = value;
        }
    }

    /// [`Recorder::gauge_set`] for a count.
    #[inline]
    pub fn gauge_set_count(&mut self, g: GaugeId, now: SimTime, n: u64) {
        self.gauge_set(g, now, count_f64(n));
    }

    #[inline]
    pub fn gauge_add(&mut self, g: GaugeId, now: SimTime, delta: f64) {
        let v = self.gauges[g.0 as usize].value + delta;
        self.gauge_set(g, now, v);
    }

    pub fn gauge_value(&self, g: GaugeId) -> f64 {
        self.gauges[g.0 as usize].value
    }

    /// Records `value` in histogram `h` (the window's; it is merged into the run total when the
    /// window closes).
    #[inline]
    pub fn record(&mut self, h: HistId, value: u64) {
        self.hists[h.0 as usize].record(value);
    }

    /// Closes every window that ends at or before `now`. Called by the engine before each
    /// event; costs one comparison unless a boundary was crossed. Returns true if the window
    /// byte budget is hit: windows from [`Recorder::window_start`] on were not closed, and the
    /// run must stop there.
    #[inline]
    pub fn advance(&mut self, now: SimTime) -> bool {
        if now >= self.cur_end {
            self.advance_slow(now)
        } else {
            false
        }
    }

    #[cold]
    fn advance_slow(&mut self, now: SimTime) -> bool {
        while now >= self.cur_end && !self.budget_hit {
            self.close_window(self.cur_end);
        }
        self.budget_hit
    }

    fn close_window(&mut self, end: SimTime) {
        let len = end.0.saturating_sub(self.cur_start.0).max(1) as f64;
        let store = self.n_windows() < self.max_windows;
        if store && !self.room_for_window() {
            // Stop here: the run ends at this window's start, with every window before it
            // stored. The window in progress is neither stored nor counted in the totals.
            self.budget_hit = true;
            return;
        }
        if store {
            self.win_bounds.push((self.cur_start, end));
            self.peak_in_memory = self.peak_in_memory.max(self.win_bounds.len());
        } else {
            self.windows_dropped += 1;
        }
        for ((c, total), life) in self
            .counters
            .iter_mut()
            .zip(&mut self.counter_totals)
            .zip(&mut self.counter_lifetime)
        {
            *life = life.saturating_add(*c);
            if store {
                self.win_counters.push(*c);
            }
            if self.in_summary {
                *total = total.saturating_add(*c);
            }
            *c = 0;
        }
        for g in &mut self.gauges {
            g.integral += g.value * end.0.saturating_sub(g.last.0) as f64;
            g.last = end;
            if store {
                self.win_gauges.push(GaugeStat {
                    mean: g.integral / len,
                    max: g.max,
                    end: g.value,
                });
            }
            if self.in_summary {
                g.total_integral += g.integral;
                g.total_max = g.total_max.max(g.max);
            }
            g.integral = 0.0;
            g.max = g.value;
        }
        for (h, total) in self.hists.iter_mut().zip(&mut self.hist_totals) {
            if store {
                self.win_hists.push(HistStat::of(h));
            }
            if self.in_summary {
                total.merge(h);
            }
            h.clear();
        }
        self.cur_start = end;
        self.cur_end = end.saturating_add(self.window);
        self.in_summary = self.cur_start >= self.summary_from;
    }

    /// Closes the last (possibly partial) window at `end`. Call once, when the run stops.
    /// After the byte budget was hit, `end` is [`Recorder::window_start`] and nothing closes.
    pub fn finish(&mut self, end: SimTime) {
        self.advance(end);
        if end > self.cur_start && !self.budget_hit {
            self.close_window(end);
        }
        self.summary_end = Some(if self.budget_hit { self.cur_start } else { end });
    }

    pub fn window(&self) -> SimDuration {
        self.window
    }

    /// Start of the summary period (warm-up end rounded up to a window boundary).
    pub fn summary_from(&self) -> SimTime {
        self.summary_from
    }

    /// Length of the summary period; zero before [`Recorder::finish`] or if the run ended
    /// during warm-up.
    pub fn summary_span(&self) -> SimDuration {
        match self.summary_end {
            Some(end) => end.since(self.summary_from),
            None => SimDuration::ZERO,
        }
    }

    pub fn n_windows(&self) -> usize {
        self.windows_spilled() + self.win_bounds.len()
    }

    pub fn windows_dropped(&self) -> u64 {
        self.windows_dropped
    }

    pub fn window_bounds(&self, w: usize) -> (SimTime, SimTime) {
        match self.spilled(w) {
            Some(s) => s.read(self.shape(), self.spill_every(), w, |b, i| b.bounds[i]),
            None => self.win_bounds[w - self.windows_spilled()],
        }
    }

    pub fn counter_in(&self, w: usize, c: CounterId) -> u64 {
        let (n, i) = (self.counters.len(), c.0 as usize);
        match self.spilled(w) {
            Some(s) => s.read(self.shape(), self.spill_every(), w, |b, w| {
                b.counters[w * n + i]
            }),
            None => self.win_counters[(w - self.windows_spilled()) * n + i],
        }
    }

    pub fn gauge_in(&self, w: usize, g: GaugeId) -> GaugeStat {
        let (n, i) = (self.gauges.len(), g.0 as usize);
        match self.spilled(w) {
            Some(s) => s.read(self.shape(), self.spill_every(), w, |b, w| {
                b.gauges[w * n + i]
            }),
            None => self.win_gauges[(w - self.windows_spilled()) * n + i],
        }
    }

    pub fn hist_in(&self, w: usize, h: HistId) -> HistStat {
        let (n, i) = (self.hists.len(), h.0 as usize);
        match self.spilled(w) {
            Some(s) => s.read(self.shape(), self.spill_every(), w, |b, w| {
                b.hists[w * n + i]
            }),
            None => self.win_hists[(w - self.windows_spilled()) * n + i],
        }
    }

    /// The spill holding window `w`, if `w` is on disk.
    #[inline]
    fn spilled(&self, w: usize) -> Option<&Spill> {
        self.spill.as_ref().filter(|s| w < s.windows)
    }

    /// Counter `c` since the start of the run (warm-up included), up to now.
    pub fn counter_cumulative(&self, c: CounterId) -> u64 {
        let i = c.0 as usize;
        self.counter_lifetime[i].saturating_add(self.counters[i])
    }

    pub fn counter_total(&self, c: CounterId) -> u64 {
        self.counter_totals[c.0 as usize]
    }

    /// Time-weighted mean and max of gauge `g` over the summary period, and its value at the
    /// end of the run (after [`Recorder::finish`]).
    pub fn gauge_total(&self, g: GaugeId) -> GaugeStat {
        let span = self.summary_span().0;
        let s = &self.gauges[g.0 as usize];
        if span == 0 {
            GaugeStat::default()
        } else {
            GaugeStat {
                mean: s.total_integral / span as f64,
                max: s.total_max,
                end: s.value,
            }
        }
    }

    /// All values of histogram `h` recorded during the summary period.
    pub fn hist_total(&self, h: HistId) -> &Histogram {
        &self.hist_totals[h.0 as usize]
    }
}

/// `n as f64` in one instruction on x86-64 (via i64; `u64 as f64` needs a branch sequence).
/// Exact for counts below 2^53; counts never reach 2^63.
#[inline]
pub fn count_f64(n: u64) -> f64 {
    n.min(i64::MAX as u64) as i64 as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: u64 = 1_000_000_000;

    #[test]
    fn gauge_is_time_weighted_per_window() {
        let mut r = Recorder::new(SimDuration(S), SimDuration::ZERO, 100);
        let g = r.gauge("q", "len");
        let c = r.counter("q", "arrivals");
        // value 2 during [0, 0.5s), 4 during [0.5s, 1.5s), 0 after
        r.gauge_set(g, SimTime(0), 2.0);
        r.incr(c);
        r.advance(SimTime(S / 2));
        r.gauge_set(g, SimTime(S / 2), 4.0);
        r.advance(SimTime(3 * S / 2));
        r.gauge_set(g, SimTime(3 * S / 2), 0.0);
        r.incr(c);
        r.finish(SimTime(2 * S));
        assert_eq!(r.n_windows(), 2);
        assert_eq!(
            r.gauge_in(0, g),
            GaugeStat {
                mean: 3.0,
                max: 4.0,
                end: 4.0,
            }
        );
        assert_eq!(
            r.gauge_in(1, g),
            GaugeStat {
                mean: 2.0,
                max: 4.0,
                end: 0.0,
            }
        );
        assert_eq!(r.counter_in(0, c), 1);
        assert_eq!(r.counter_in(1, c), 1);
        assert_eq!(r.counter_total(c), 2);
        assert_eq!(r.gauge_total(g).mean, 2.5);
        assert_eq!(r.gauge_total(g).end, 0.0);
    }

    /// The end value is the gauge's value when the window closes: set inside the window and
    /// left alone, carried into a window with no update, and the last set before the close
    /// when several happen at once.
    #[test]
    fn gauge_end_is_the_value_at_window_close() {
        let mut r = Recorder::new(SimDuration(S), SimDuration::ZERO, 100);
        let g = r.gauge("q", "len");
        r.gauge_set(g, SimTime(S / 4), 5.0);
        r.gauge_set(g, SimTime(3 * S / 4), 3.0);
        r.advance(SimTime(2 * S + S / 2)); // window 1 has no update: 3 throughout
        r.gauge_set(g, SimTime(2 * S + S / 2), 7.0);
        r.gauge_set(g, SimTime(2 * S + S / 2), 1.0);
        r.finish(SimTime(3 * S));
        let ends: Vec<f64> = (0..r.n_windows()).map(|w| r.gauge_in(w, g).end).collect();
        assert_eq!(ends, [3.0, 3.0, 1.0]);
        assert_eq!(r.gauge_in(1, g).mean, 3.0);
        assert_eq!(r.gauge_in(2, g).max, 7.0);
        assert_eq!(r.gauge_total(g).end, 1.0);
    }

    #[test]
    fn warmup_is_excluded_and_rounded_up_to_a_window() {
        let mut r = Recorder::new(SimDuration(S), SimDuration(S / 2), 100);
        assert_eq!(r.summary_from(), SimTime(S));
        let c = r.counter("a", "n");
        let h = r.histogram("a", "lat");
        r.incr(c);
        r.record(h, 10);
        r.advance(SimTime(S));
        r.incr(c);
        r.record(h, 20);
        r.finish(SimTime(3 * S));
        assert_eq!(r.counter_total(c), 1);
        assert_eq!(r.hist_total(h).count(), 1);
        assert_eq!(r.summary_span(), SimDuration(2 * S));
        assert_eq!(r.n_windows(), 3);
        assert_eq!(r.hist_in(2, h).count, 0);
        assert_eq!(r.hist_in(1, h).p50, Some(20));
    }

    #[test]
    fn window_cap_is_reported_not_hit() {
        let mut r = Recorder::new(SimDuration(S), SimDuration::ZERO, 2);
        let c = r.counter("a", "n");
        for t in 0..5 {
            r.advance(SimTime(t * S));
            r.incr(c);
        }
        r.finish(SimTime(5 * S));
        assert_eq!(r.n_windows(), 2);
        assert_eq!(r.windows_dropped(), 3);
        assert_eq!(r.counter_total(c), 5);
    }

    /// The byte budget stops the store at a window boundary: every stored window whole, the
    /// window that did not fit neither stored nor in the totals, and the summary ending there.
    #[test]
    fn byte_budget_stops_at_a_window_boundary() {
        let mut r = Recorder::new(SimDuration(S), SimDuration::ZERO, 1000);
        let c = r.counter("a", "n");
        let per = r.window_bytes();
        assert_eq!(per, 16 + 8);
        let mut r = r.with_byte_budget(3 * per + per / 2);
        let mut hit_at = None;
        for t in 0..10 {
            if r.advance(SimTime(t * S)) {
                hit_at = Some(t);
                break;
            }
            r.incr(c);
        }
        assert_eq!(hit_at, Some(4));
        assert!(r.budget_hit());
        assert_eq!(r.window_start(), SimTime(3 * S));
        r.finish(r.window_start());
        assert_eq!(r.n_windows(), 3);
        assert_eq!(r.counter_total(c), 3);
        assert_eq!(r.summary_span(), SimDuration(3 * S));
    }

    /// Histograms are charged to the budget first: windows get what they leave, and a
    /// histogram past the budget is not allocated and stops the run before it starts.
    #[test]
    fn histograms_count_toward_the_byte_budget() {
        let budget = 5 * HISTOGRAM_BYTES;
        let mut r = Recorder::new(SimDuration(S), SimDuration::ZERO, 1000).with_byte_budget(budget);
        let c = r.counter("a", "n");
        let h = r.histogram("a", "lat");
        assert_eq!(r.histogram_bytes(), 2 * HISTOGRAM_BYTES);
        assert!(!r.budget_hit());
        let h2 = r.histogram("b", "lat");
        assert!(!r.budget_hit(), "4 of 5 histograms' bytes");
        assert_ne!(h, h2);
        let h3 = r.histogram("c", "lat");
        assert!(r.budget_hit(), "6 of 5 histograms' bytes");
        let h4 = r.histogram("d", "lat");
        assert_eq!(h3, h4, "past the budget, histograms share one pair");
        assert_eq!(r.hists.len(), 3);
        assert_eq!(r.find("d", "lat"), Some(MetricRef::Hist(h4)));
        // No window fits in what is left: 6 histograms' bytes are past the budget.
        r.incr(c);
        r.finish(SimTime(3 * S));
        assert_eq!(r.n_windows(), 0);
        assert_eq!(r.summary_span(), SimDuration::ZERO);

        // Within the budget, windows get the bytes histograms leave.
        let mut r = Recorder::new(SimDuration(S), SimDuration::ZERO, 1000)
            .with_byte_budget(2 * HISTOGRAM_BYTES + 1000);
        r.histogram("a", "lat");
        let per = r.window_bytes();
        for t in 0..1000 {
            if r.advance(SimTime(t * S)) {
                break;
            }
        }
        assert!(r.budget_hit());
        assert_eq!(r.n_windows() as u64, 1000 / per);
    }

    /// Storage grows with the windows closed, not with the limit: a recorder allowed 10⁸
    /// windows holds capacity for a few after a few.
    #[test]
    fn storage_grows_as_windows_close() {
        let mut r = Recorder::new(SimDuration(S), SimDuration::ZERO, 100_000_000);
        let c = r.counter("a", "n");
        r.incr(c);
        r.finish(SimTime(3 * S));
        assert_eq!(r.n_windows(), 3);
        assert!(r.win_bounds.capacity() <= 64);
        assert!(r.win_counters.capacity() <= 64);
    }
}
