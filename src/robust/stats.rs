//! Order statistics of a handful of replications: the type-7 quantile and the five-number
//! summary (`median [q1–q3] min–max, n`) the replication and robustness reports print.

/// The `q`-quantile (`0 ≤ q ≤ 1`) of `sorted` (ascending, no NaN) by linear interpolation
/// between order statistics — Hyndman & Fan's type 7, the default of R's `quantile` and of
/// NumPy's `percentile`:
///
/// `h = (n − 1)·q`, `Q(q) = x[⌊h⌋] + (h − ⌊h⌋)·(x[⌊h⌋ + 1] − x[⌊h⌋])` with 0-based `x`.
///
/// So the median of an even count is the mean of the two middle values, `Q(0)` the minimum and
/// `Q(1)` the maximum. Infinite values are allowed (a run that never recovers has an infinite
/// tail): interpolating toward `+∞` gives `+∞`, and an exact order statistic is returned as it
/// is, so no `0 · ∞` ever appears. `None` for an empty slice or a `q` outside `[0, 1]`.
pub fn quantile(sorted: &[f64], q: f64) -> Option<f64> {
    if sorted.is_empty() || !(0.0..=1.0).contains(&q) {
        return None;
    }
    let h = (sorted.len() - 1) as f64 * q;
    let lo = h.floor() as usize;
    let frac = h - lo as f64;
    let a = sorted[lo];
    if frac == 0.0 || lo + 1 >= sorted.len() {
        return Some(a);
    }
    let b = sorted[lo + 1];
    if a == b {
        return Some(a);
    }
    Some(a + frac * (b - a))
}

/// Median, quartiles, extremes and count of a sample.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Dist {
    /// Number of values.
    pub n: usize,
    /// Median (type-7 quantile 0.5).
    pub median: f64,
    /// First quartile (type-7 quantile 0.25).
    pub q1: f64,
    /// Third quartile (type-7 quantile 0.75).
    pub q3: f64,
    /// Smallest value.
    pub min: f64,
    /// Largest value.
    pub max: f64,
}

impl Dist {
    /// The summary of `values` (any order; NaN values are ignored). `None` when empty.
    pub fn of(values: impl IntoIterator<Item = f64>) -> Option<Dist> {
        let mut v: Vec<f64> = values.into_iter().filter(|x| !x.is_nan()).collect();
        v.sort_by(f64::total_cmp);
        Some(Dist {
            n: v.len(),
            median: quantile(&v, 0.5)?,
            q1: quantile(&v, 0.25)?,
            q3: quantile(&v, 0.75)?,
            min: *v.first()?,
            max: *v.last()?,
        })
    }

    /// `median [q1–q3] min–max n=N`, each number as [`short`] writes it.
    pub fn show(&self) -> String {
        format!(
            "{} [{}–{}] {}–{} n={}",
            short(self.median),
            short(self.q1),
            short(self.q3),
            short(self.min),
            short(self.max),
            self.n
        )
    }
}

/// A number for a table: 3–4 significant figures, `∞` for infinity.
pub fn short(x: f64) -> String {
    if x.is_infinite() {
        return if x > 0.0 { "∞".into() } else { "-∞".into() };
    }
    let a = x.abs();
    if a >= 100.0 {
        format!("{x:.0}")
    } else if a >= 10.0 {
        format!("{x:.1}")
    } else {
        format!("{x:.2}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn type_7_against_hand_computed_values() {
        let x = [1.0, 2.0, 3.0, 4.0];
        // h = 3q: q=0.25 → h=0.75 → 1 + 0.75·1 = 1.75; q=0.5 → 2.5; q=0.75 → h=2.25 → 3.25.
        assert_eq!(quantile(&x, 0.25), Some(1.75));
        assert_eq!(quantile(&x, 0.5), Some(2.5));
        assert_eq!(quantile(&x, 0.75), Some(3.25));
        assert_eq!(quantile(&x, 0.0), Some(1.0));
        assert_eq!(quantile(&x, 1.0), Some(4.0));
        assert_eq!(quantile(&[7.0], 0.3), Some(7.0));
        assert_eq!(quantile(&[], 0.5), None);
        assert_eq!(quantile(&x, 1.5), None);
        // Toward infinity: h = 0.5 between 1 and ∞ → ∞; exactly on a finite value → that value.
        assert_eq!(quantile(&[1.0, f64::INFINITY], 0.5), Some(f64::INFINITY));
        assert_eq!(quantile(&[1.0, 2.0, f64::INFINITY], 0.5), Some(2.0));
        let inf = [f64::INFINITY, f64::INFINITY];
        assert_eq!(quantile(&inf, 0.5), Some(f64::INFINITY));
    }

    #[test]
    fn dist_sorts_and_summarises() {
        let d = Dist::of([10.0, 0.0, 5.0, 20.0, 15.0]).expect("non-empty");
        // n = 5: h = 4q → q1 = x[1] = 5, median = x[2] = 10, q3 = x[3] = 15.
        assert_eq!(
            d,
            Dist {
                n: 5,
                median: 10.0,
                q1: 5.0,
                q3: 15.0,
                min: 0.0,
                max: 20.0
            }
        );
        assert_eq!(d.show(), "10.0 [5.00–15.0] 0.00–20.0 n=5");
        assert!(Dist::of(std::iter::empty()).is_none());
    }
}
