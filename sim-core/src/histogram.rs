//! A log-linear latency histogram (HDR-style) with bounded relative error.
//!
//! Values are nanoseconds (`u64`). Values below 128 get a bucket each (exact); above, every
//! power of two is split into 128 equal sub-buckets, so a bucket spans at most 1/128 of its
//! lower bound and reporting its midpoint is off by at most 1/256 ≈ 0.39 % (the requirement is
//! ≤ 1 %). 58 × 128 = 7 424 buckets cover the whole `u64` range; memory is fixed per histogram,
//! independent of how many values are recorded. Mean and max are kept exactly.

const SUB_BITS: u32 = 7;
const SUB: usize = 1 << SUB_BITS; // 128
/// Number of buckets: block 0 holds 0..128 exactly, blocks 1..=57 hold msb 7..=63.
pub const N_BUCKETS: usize = N_BLOCKS * SUB;
const N_BLOCKS: usize = 64 - SUB_BITS as usize + 1;

/// Bucket index of value `v`.
#[inline]
pub fn bucket_of(v: u64) -> usize {
    if v < SUB as u64 {
        v as usize
    } else {
        let msb = 63 - v.leading_zeros(); // >= 7
        let shift = msb - SUB_BITS;
        let mantissa = (v >> shift) as usize; // in [128, 256)
        ((shift as usize + 1) << SUB_BITS) + (mantissa - SUB)
    }
}

/// `[lower, upper]` (inclusive) of bucket `i`.
pub fn bucket_bounds(i: usize) -> (u64, u64) {
    if i < SUB {
        (i as u64, i as u64)
    } else {
        let block = (i >> SUB_BITS) as u32; // >= 1
        let shift = block - 1;
        let mantissa = (SUB + (i & (SUB - 1))) as u64;
        let lower = mantissa << shift;
        let width = 1u64 << shift;
        (lower, lower + (width - 1))
    }
}

/// Words of the occupied-bucket bitmap.
const N_WORDS: usize = N_BUCKETS.div_ceil(64);

/// Bytes one histogram holds: its buckets, its bitmap and itself (59 392 + 928 + 56 on 64-bit).
pub const HISTOGRAM_BYTES: u64 = (N_BUCKETS * std::mem::size_of::<u64>()
    + N_WORDS * std::mem::size_of::<u64>()
    + std::mem::size_of::<Histogram>()) as u64;

/// Histogram of `u64` values with exact count, sum, min and max.
///
/// Occupied buckets are tracked in a bitmap (116 words), so clearing, merging and reading
/// quantiles visit the occupied buckets in increasing order without sorting: `O(116 + k)` for
/// `k` distinct buckets used, not the 7 424 buckets.
#[derive(Clone)]
pub struct Histogram {
    counts: Box<[u64]>,
    /// Bit `b` is set iff bucket `b` has a non-zero count.
    occupied: Box<[u64; N_WORDS]>,
    count: u64,
    sum: u128,
    min: u64,
    max: u64,
}

const _: () = assert!(N_BUCKETS <= u16::MAX as usize + 1);

impl Default for Histogram {
    fn default() -> Self {
        Self::new()
    }
}

impl Histogram {
    pub fn new() -> Self {
        Histogram {
            counts: vec![0; N_BUCKETS].into_boxed_slice(),
            occupied: Box::new([0; N_WORDS]),
            count: 0,
            sum: 0,
            min: u64::MAX,
            max: 0,
        }
    }

    #[inline]
    pub fn record(&mut self, v: u64) {
        let b = bucket_of(v);
        self.occupied[b >> 6] |= 1 << (b & 63);
        self.counts[b] += 1;
        self.count += 1;
        self.sum += v as u128;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    /// Exact mean, or `None` when empty.
    pub fn mean(&self) -> Option<f64> {
        (self.count > 0).then(|| self.sum as f64 / self.count as f64)
    }

    pub fn max(&self) -> Option<u64> {
        (self.count > 0).then_some(self.max)
    }

    pub fn min(&self) -> Option<u64> {
        (self.count > 0).then_some(self.min)
    }

    /// The `q`-quantile by the nearest-rank definition (the smallest recorded value `x` such
    /// that at least `ceil(q·n)` values are ≤ `x`), reported as the midpoint of its bucket and
    /// clamped to the exact `[min, max]`. Relative error ≤ 1/256. `None` when empty.
    pub fn quantile(&self, q: f64) -> Option<u64> {
        self.quantiles(&[q])[0]
    }

    /// Several quantiles (any order) in one pass over the occupied buckets.
    pub fn quantiles<const N: usize>(&self, qs: &[f64; N]) -> [Option<u64>; N] {
        let mut out = [None; N];
        if self.count == 0 || N == 0 {
            return out;
        }
        let mut order = [0usize; N];
        let mut ranks = [0u64; N];
        for i in 0..N {
            order[i] = i;
            let q = if qs[i].is_nan() {
                0.5
            } else {
                qs[i].clamp(0.0, 1.0)
            };
            ranks[i] = ((q * self.count as f64).ceil() as u64).clamp(1, self.count);
        }
        order.sort_by_key(|&i| ranks[i]);
        let mut seen = 0u64;
        let mut next = 0;
        let mut want = ranks[order[0]];
        'words: for (w, &word) in self.occupied.iter().enumerate() {
            let mut x = word;
            while x != 0 {
                let b = (w << 6) + x.trailing_zeros() as usize;
                x &= x - 1;
                seen += self.counts[b];
                while seen >= want {
                    let (lower, upper) = bucket_bounds(b);
                    out[order[next]] =
                        Some((lower + (upper - lower) / 2).clamp(self.min, self.max));
                    next += 1;
                    if next == N {
                        break 'words;
                    }
                    want = ranks[order[next]];
                }
            }
        }
        out
    }

    /// Adds every value of `other` to `self`.
    pub fn merge(&mut self, other: &Histogram) {
        for w in 0..N_WORDS {
            let word = other.occupied[w];
            let mut x = word;
            while x != 0 {
                let b = (w << 6) + x.trailing_zeros() as usize;
                x &= x - 1;
                self.counts[b] += other.counts[b];
            }
            self.occupied[w] |= word;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.min = self.min.min(other.min);
        self.max = self.max.max(other.max);
    }

    /// Empties the histogram, touching only the occupied buckets.
    pub fn clear(&mut self) {
        for w in 0..N_WORDS {
            let mut x = self.occupied[w];
            while x != 0 {
                self.counts[(w << 6) + x.trailing_zeros() as usize] = 0;
                x &= x - 1;
            }
            self.occupied[w] = 0;
        }
        self.count = 0;
        self.sum = 0;
        self.min = u64::MAX;
        self.max = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rng::stream;
    use rand::RngExt;

    #[test]
    fn buckets_tile_the_u64_range() {
        let mut expected_lower = 0u64;
        for i in 0..N_BUCKETS {
            let (lo, hi) = bucket_bounds(i);
            assert_eq!(lo, expected_lower, "bucket {i}");
            assert!(hi >= lo);
            assert_eq!(bucket_of(lo), i);
            assert_eq!(bucket_of(hi), i);
            // width ≤ lower/128 for all non-exact buckets
            if i >= SUB {
                assert!((hi - lo + 1) * 128 <= lo, "bucket {i} too wide");
            }
            expected_lower = hi.wrapping_add(1);
        }
        assert_eq!(bucket_bounds(N_BUCKETS - 1).1, u64::MAX);
    }

    /// Quantiles of a lognormal-ish sample agree with exact order statistics within 1 %.
    #[test]
    fn quantiles_within_one_percent_of_exact() {
        for seed in 0..5u64 {
            let mut rng = stream(seed, "test/hist");
            let mut h = Histogram::new();
            let mut xs: Vec<u64> = (0..50_000)
                .map(|_| {
                    let u: f64 = rng.random_range(0.0..1.0);
                    (1e6 * (8.0 * u).exp()) as u64
                })
                .collect();
            for &x in &xs {
                h.record(x);
            }
            xs.sort_unstable();
            for q in [0.5, 0.9, 0.99, 0.999] {
                let rank = ((q * xs.len() as f64).ceil() as usize).max(1);
                let exact = xs[rank - 1] as f64;
                let got = h.quantile(q).expect("non-empty") as f64;
                let rel = (got - exact).abs() / exact;
                assert!(
                    rel <= 0.01,
                    "seed {seed} q {q}: got {got} exact {exact} rel {rel}"
                );
            }
            let mean = xs.iter().map(|&x| x as f64).sum::<f64>() / xs.len() as f64;
            let got_mean = h.mean().expect("non-empty");
            assert!(
                ((got_mean - mean) / mean).abs() < 1e-12,
                "seed {seed}: mean is exact"
            );
        }
    }

    #[test]
    fn clear_and_merge() {
        let mut a = Histogram::new();
        let mut b = Histogram::new();
        for v in [5u64, 1_000, 1_000_000] {
            a.record(v);
        }
        b.record(7);
        b.merge(&a);
        assert_eq!(b.count(), 4);
        assert_eq!(b.min(), Some(5));
        assert_eq!(b.max(), Some(1_000_000));
        a.clear();
        assert_eq!(a.count(), 0);
        assert_eq!(a.quantile(0.5), None);
        a.record(3);
        assert_eq!(a.quantile(0.99), Some(3));
    }
}
