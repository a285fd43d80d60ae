//! A metric reduced over one window: what the recorder stores per window (and spills).

use crate::histogram::Histogram;

/// A gauge reduced over one window (or the summary period): time-weighted mean, max, and the
/// value at the window's close (the run's end for the summary period).
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct GaugeStat {
    pub mean: f64,
    pub max: f64,
    pub end: f64,
}

/// A histogram reduced over one window. Quantiles and mean are `None` when `count == 0`.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct HistStat {
    pub count: u64,
    pub mean: Option<f64>,
    pub p50: Option<u64>,
    pub p90: Option<u64>,
    pub p99: Option<u64>,
    pub p999: Option<u64>,
    pub max: Option<u64>,
}

impl HistStat {
    pub fn of(h: &Histogram) -> HistStat {
        let [p50, p90, p99, p999] = h.quantiles(&[0.5, 0.9, 0.99, 0.999]);
        HistStat {
            count: h.count(),
            mean: h.mean(),
            p50,
            p90,
            p99,
            p999,
            max: h.max(),
        }
    }
}
