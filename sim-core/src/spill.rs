//! Closed windows spilled to disk, so that a long run's stored windows do not have to fit in
//! memory ([`crate::Recorder::with_spill`]).
//!
//! The recorder keeps at most `every` closed windows in memory; when one more must be stored it
//! writes those `every` windows, as one block of fixed-size little-endian records, to a file the
//! caller's `open` function creates (an unnamed temporary file: nothing to clean up after a
//! crash, no name to plant a link on), and starts again from an empty store. Reading a spilled
//! window loads its whole block into a one-block cache, so a pass over the windows in order
//! reads each block once per metric series it extracts. Memory is at most two blocks (the
//! store and the cache), whatever the run's length.
//!
//! Spilled blocks never change. A clone of the recorder shares them (`Arc<File>`, positioned
//! reads) and opens a file of its own for its own later blocks, so clones never write to one
//! file.

use std::fs::File;
use std::os::unix::fs::FileExt;
use std::sync::{Arc, Mutex};

use crate::stat::{GaugeStat, HistStat};
use crate::time::SimTime;

/// Creates the file spilled blocks go to (e.g. `tempfile::tempfile`).
pub type OpenSpill = fn() -> std::io::Result<File>;

/// Windows `[first, first + count)`, written from byte `offset` of `file`.
#[derive(Clone)]
struct Segment {
    file: Arc<File>,
    first: usize,
    count: usize,
    offset: u64,
}

/// One block of windows read back.
#[derive(Default)]
pub(crate) struct Block {
    pub first: usize,
    pub len: usize,
    pub bounds: Vec<(SimTime, SimTime)>,
    pub counters: Vec<u64>,
    pub gauges: Vec<GaugeStat>,
    pub hists: Vec<HistStat>,
    /// The longest block this cache held.
    pub peak: usize,
}

/// The metric counts of one window record.
#[derive(Clone, Copy)]
pub(crate) struct Shape {
    pub counters: usize,
    pub gauges: usize,
    pub hists: usize,
}

impl Shape {
    fn record_bytes(&self) -> usize {
        8 * (2 + self.counters + 3 * self.gauges + 8 * self.hists)
    }
}

pub(crate) struct Spill {
    open: OpenSpill,
    /// Byte threshold: windows held in memory before a block is written (`bytes / per window`).
    bytes: u64,
    /// This recorder's own file and the bytes written to it.
    own: Option<(Arc<File>, u64)>,
    segments: Vec<Segment>,
    /// Windows on disk.
    pub windows: usize,
    cache: Mutex<Block>,
}

impl Clone for Spill {
    fn clone(&self) -> Spill {
        Spill {
            open: self.open,
            bytes: self.bytes,
            own: None,
            segments: self.segments.clone(),
            windows: self.windows,
            cache: Mutex::new(Block::default()),
        }
    }
}

fn put(out: &mut Vec<u8>, x: u64) {
    out.extend_from_slice(&x.to_le_bytes());
}

fn opt(x: Option<u64>) -> u64 {
    x.unwrap_or(0)
}

impl Spill {
    pub fn new(bytes: u64, open: OpenSpill) -> Spill {
        Spill {
            open,
            bytes,
            own: None,
            segments: Vec::new(),
            windows: 0,
            cache: Mutex::new(Block::default()),
        }
    }

    /// The longest block read back so far (windows).
    pub fn peak_cached(&self) -> usize {
        self.cache.lock().map_or(0, |c| c.peak)
    }

    /// Windows held in memory before they are written, for windows of `per` bytes (≥ 1).
    pub fn every(&self, per: u64) -> usize {
        (self.bytes / per.max(1)).clamp(1, usize::MAX as u64) as usize
    }

    /// Appends the windows held in memory as one block.
    pub fn write(
        &mut self,
        shape: Shape,
        bounds: &[(SimTime, SimTime)],
        counters: &[u64],
        gauges: &[GaugeStat],
        hists: &[HistStat],
    ) -> std::io::Result<()> {
        let mut out = Vec::with_capacity(bounds.len() * shape.record_bytes());
        for (w, (a, b)) in bounds.iter().enumerate() {
            put(&mut out, a.0);
            put(&mut out, b.0);
            for c in &counters[w * shape.counters..(w + 1) * shape.counters] {
                put(&mut out, *c);
            }
            for g in &gauges[w * shape.gauges..(w + 1) * shape.gauges] {
                put(&mut out, g.mean.to_bits());
                put(&mut out, g.max.to_bits());
                put(&mut out, g.end.to_bits());
            }
            for h in &hists[w * shape.hists..(w + 1) * shape.hists] {
                let present = [h.mean.is_some(), h.p50.is_some(), h.p90.is_some()]
                    .into_iter()
                    .chain([h.p99.is_some(), h.p999.is_some(), h.max.is_some()])
                    .enumerate()
                    .fold(0u64, |m, (i, p)| m | (u64::from(p) << i));
                put(&mut out, present);
                put(&mut out, h.count);
                put(&mut out, h.mean.map_or(0, f64::to_bits));
                for q in [h.p50, h.p90, h.p99, h.p999, h.max] {
                    put(&mut out, opt(q));
                }
            }
        }
        if self.own.is_none() {
            self.own = Some((Arc::new((self.open)()?), 0));
        }
        let Some((file, written)) = &mut self.own else {
            unreachable!("opened above")
        };
        file.write_all_at(&out, *written)?;
        let count = bounds.len();
        match self.segments.last_mut() {
            Some(s) if Arc::ptr_eq(&s.file, file) && s.first + s.count == self.windows => {
                s.count += count;
            }
            _ => self.segments.push(Segment {
                file: Arc::clone(file),
                first: self.windows,
                count,
                offset: *written,
            }),
        }
        *written += out.len() as u64;
        self.windows += count;
        Ok(())
    }

    /// Calls `f` with the block holding spilled window `w` (< `self.windows`) and `w`'s index
    /// in it; `every` is the block length the windows were written with.
    pub fn read<T>(
        &self,
        shape: Shape,
        every: usize,
        w: usize,
        f: impl FnOnce(&Block, usize) -> T,
    ) -> T {
        let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
        if w < cache.first || w >= cache.first + cache.len {
            let first = w / every * every;
            let len = every.min(self.windows - first);
            load(&self.segments, shape, first, len, &mut cache)
                .unwrap_or_else(|e| panic!("reading back spilled metric windows: {e}"));
        }
        cache.peak = cache.peak.max(cache.len);
        let at = w - cache.first;
        f(&cache, at)
    }
}

/// Reads windows `[first, first + len)` (inside one segment: blocks never straddle two) into
/// `block`.
fn load(
    segments: &[Segment],
    shape: Shape,
    first: usize,
    len: usize,
    block: &mut Block,
) -> std::io::Result<()> {
    let seg = segments
        .iter()
        .find(|s| s.first <= first && first + len <= s.first + s.count)
        .ok_or_else(|| std::io::Error::other("no segment holds the block"))?;
    let rec = shape.record_bytes();
    let mut bytes = vec![0u8; len * rec];
    seg.file
        .read_exact_at(&mut bytes, seg.offset + ((first - seg.first) * rec) as u64)?;
    let mut words = bytes
        .chunks_exact(8)
        .map(|c| u64::from_le_bytes(c.try_into().unwrap_or([0; 8])));
    let mut next = || words.next().unwrap_or(0);
    block.first = first;
    block.len = len;
    block.bounds.clear();
    block.counters.clear();
    block.gauges.clear();
    block.hists.clear();
    for _ in 0..len {
        block.bounds.push((SimTime(next()), SimTime(next())));
        for _ in 0..shape.counters {
            block.counters.push(next());
        }
        for _ in 0..shape.gauges {
            block.gauges.push(GaugeStat {
                mean: f64::from_bits(next()),
                max: f64::from_bits(next()),
                end: f64::from_bits(next()),
            });
        }
        for _ in 0..shape.hists {
            let present = next();
            let has = |i: u32| present >> i & 1 == 1;
            let count = next();
            let mean = next();
            let mut q = [0u64; 5];
            for x in &mut q {
                *x = next();
            }
            block.hists.push(HistStat {
                count,
                mean: has(0).then(|| f64::from_bits(mean)),
                p50: has(1).then_some(q[0]),
                p90: has(2).then_some(q[1]),
                p99: has(3).then_some(q[2]),
                p999: has(4).then_some(q[3]),
                max: has(5).then_some(q[4]),
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use crate::metrics::{MetricRef, Recorder};
    use crate::time::{SimDuration, SimTime};

    const S: u64 = 1_000_000_000;

    fn tmp() -> std::io::Result<std::fs::File> {
        let path = std::env::temp_dir().join(format!(
            "sim-core-spill-test-{}-{:?}",
            std::process::id(),
            std::thread::current().id()
        ));
        let f = std::fs::OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        std::fs::remove_file(&path)?;
        Ok(f)
    }

    /// Feeds the same records to a recorder; returns it after `finish`.
    fn fill(mut r: Recorder, windows: u64) -> Recorder {
        let c = r.counter("a", "n");
        let g = r.gauge("a", "q");
        let h = r.histogram("a", "lat");
        for t in 0..windows * 4 {
            let now = SimTime(t * S / 4);
            r.advance(now);
            r.incr(c);
            r.gauge_set(g, now, (t % 7) as f64);
            if t % 3 != 0 {
                r.record(h, t * 1000 + 17);
            }
        }
        r.finish(SimTime(windows * S));
        r
    }

    /// Windows read back from disk are the windows kept in memory, in every field, for
    /// blocks read in order, backwards, and from a clone that spilled on its own.
    #[test]
    fn spilled_windows_read_back_the_same() {
        let windows = 1000;
        let plain = fill(
            Recorder::new(SimDuration(S), SimDuration(S), 10_000),
            windows,
        );
        let per = plain.window_bytes();
        let spilled = fill(
            Recorder::new(SimDuration(S), SimDuration(S), 10_000).with_spill(37 * per, tmp),
            windows,
        );
        assert_eq!(plain.windows_spilled(), 0);
        assert_eq!(spilled.windows_spilled(), 999 / 37 * 37);
        assert_eq!(spilled.n_windows(), plain.n_windows());
        let order: Vec<usize> = (0..plain.n_windows())
            .chain((0..plain.n_windows()).rev())
            .collect();
        for &w in &order {
            assert_eq!(
                spilled.window_bounds(w),
                plain.window_bounds(w),
                "window {w}"
            );
            for d in plain.defs() {
                match d.id {
                    MetricRef::Counter(c) => {
                        assert_eq!(spilled.counter_in(w, c), plain.counter_in(w, c))
                    }
                    MetricRef::Gauge(g) => assert_eq!(spilled.gauge_in(w, g), plain.gauge_in(w, g)),
                    MetricRef::Hist(h) => assert_eq!(spilled.hist_in(w, h), plain.hist_in(w, h)),
                }
            }
        }
        assert!(
            spilled.peak_resident_windows() <= 2 * 37,
            "{}",
            spilled.peak_resident_windows()
        );
        assert_eq!(plain.peak_resident_windows(), 1000);
    }

    /// A clone shares the blocks written before it and writes its own afterwards.
    #[test]
    fn clones_do_not_share_later_blocks() {
        let mut a = Recorder::new(SimDuration(S), SimDuration::ZERO, 10_000);
        let c = a.counter("a", "n");
        let per = a.window_bytes();
        let mut a = a.with_spill(10 * per, tmp);
        for t in 0..25 {
            a.advance(SimTime(t * S));
            a.add(c, t);
        }
        let mut b = a.clone();
        for t in 25..60 {
            a.advance(SimTime(t * S));
            a.add(c, t);
            b.advance(SimTime(t * S));
            b.add(c, 1000 + t);
        }
        a.finish(SimTime(60 * S));
        b.finish(SimTime(60 * S));
        for w in 0..60 {
            let t = w as u64;
            assert_eq!(a.counter_in(w, c), t);
            assert_eq!(
                b.counter_in(w, c),
                if w < 25 { t } else { 1000 + t },
                "window {w}"
            );
        }
        assert_eq!(b.windows_spilled(), 50);
    }
}
