//! The time axis of a figure: simulated seconds, or — for an incident replay with
//! `[incident] start_clock` — the wall clock in the incident's time zone: ticks on round clock
//! times (every 1, 2, 5, 10, 15, 20, 30 min or 1, 2, 3, 4, 6, 12 h), `HH:MM` labels, a midnight
//! tick labelled with its date (`20 Oct`), and an axis caption naming the zone and the dates.

use crate::scenario::clock::{StartClock, civil_from_days};

const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// Tick spacings (minutes), smallest first.
const STEPS_MIN: [i64; 16] = [
    1, 2, 5, 10, 15, 20, 30, 60, 120, 180, 240, 360, 720, 1440, 2880, 10080,
];

/// How a figure's x axis reads.
#[derive(Clone, Debug, PartialEq, Default)]
pub enum TimeAxis {
    /// Simulated seconds from the start of the run.
    #[default]
    Seconds,
    /// The incident's clock.
    Clock(StartClock),
}

/// Local (day number, second of day) of simulated time `t_s`.
fn local(c: &StartClock, t_s: f64) -> (i64, i64) {
    let t = if t_s.is_finite() {
        t_s.floor().clamp(-1e12, 1e12) as i64
    } else {
        0
    };
    let l = c.unix_s + i64::from(c.offset_s) + t;
    (l.div_euclid(86_400), l.rem_euclid(86_400))
}

/// `HH:MM` of simulated time `t_s` on the incident's clock.
pub fn hhmm(c: &StartClock, t_s: f64) -> String {
    let (_, s) = local(c, t_s);
    format!("{:02}:{:02}", s / 3600, (s % 3600) / 60)
}

/// `20 Oct` of a local day number.
fn day_label(day: i64) -> String {
    let (_, m, d) = civil_from_days(day);
    format!("{d} {}", MONTHS[(m as usize).saturating_sub(1).min(11)])
}

impl TimeAxis {
    /// Tick positions (simulated s) and labels over `[x0, x1]`, at most about `max` of them.
    pub fn ticks(&self, x0: f64, x1: f64, max: usize) -> Vec<(f64, String)> {
        let max = max.max(2) as f64;
        if !(x0.is_finite() && x1.is_finite()) || x1 <= x0 {
            return Vec::new();
        }
        match self {
            TimeAxis::Seconds => {
                let raw = (x1 - x0) / max;
                let mag = 10f64.powf(raw.log10().floor());
                let step = [1.0, 2.0, 5.0, 10.0]
                    .iter()
                    .map(|m| m * mag)
                    .find(|s| *s >= raw)
                    .unwrap_or(10.0 * mag);
                let mut out = Vec::new();
                let mut k = (x0 / step).ceil();
                while k * step <= x1 + step * 1e-9 && out.len() < 1000 {
                    let v = k * step;
                    out.push((v, super::draw::fmt_num(v)));
                    k += 1.0;
                }
                out
            }
            TimeAxis::Clock(c) => {
                let span_min = (x1 - x0) / 60.0;
                let step = STEPS_MIN
                    .iter()
                    .map(|m| m * 60)
                    .find(|s| span_min * 60.0 / *s as f64 <= max)
                    .unwrap_or(10080 * 60);
                // Local seconds of x0 → the first multiple of `step` (aligned on local midnight).
                let base = c.unix_s + i64::from(c.offset_s);
                let start = base + x0.ceil() as i64;
                let first = start.div_euclid(step) * step
                    + if start.rem_euclid(step) == 0 { 0 } else { step };
                let mut out = Vec::new();
                let mut l = first;
                while ((l - base) as f64) <= x1 && out.len() < 1000 {
                    let t = (l - base) as f64;
                    let label = if l.rem_euclid(86_400) == 0 {
                        day_label(l.div_euclid(86_400))
                    } else {
                        hhmm(c, t)
                    };
                    out.push((t, label));
                    l += step;
                }
                out
            }
        }
    }

    /// The x axis caption over `[x0, x1]`: `time (s)`, or `clock time (PDT) · 19–20 Oct 2025`.
    pub fn caption(&self, x0: f64, x1: f64) -> String {
        match self {
            TimeAxis::Seconds => "simulated time (s)".to_string(),
            TimeAxis::Clock(c) => {
                let (d0, _) = local(c, x0);
                let (d1, _) = local(c, x1);
                let (y0, m0, a) = civil_from_days(d0);
                let (y1, m1, b) = civil_from_days(d1);
                let mon = |m: u32| MONTHS[(m as usize).saturating_sub(1).min(11)];
                let dates = if d0 == d1 {
                    format!("{a} {} {y0}", mon(m0))
                } else if (y0, m0) == (y1, m1) {
                    format!("{a}–{b} {} {y0}", mon(m0))
                } else if y0 == y1 {
                    format!("{a} {} – {b} {} {y0}", mon(m0), mon(m1))
                } else {
                    format!("{a} {} {y0} – {b} {} {y1}", mon(m0), mon(m1))
                };
                format!("clock time ({}) · {dates}", c.zone)
            }
        }
    }

    /// An instant for a label: `02:25` on a clock axis, `9 420 s` otherwise.
    pub fn instant(&self, t_s: f64) -> String {
        match self {
            TimeAxis::Seconds => format!("{} s", super::draw::fmt_num(t_s.round())),
            TimeAxis::Clock(c) => hhmm(c, t_s),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scenario::clock::parse_start_clock;

    fn aws() -> TimeAxis {
        TimeAxis::Clock(parse_start_clock("2025-10-19T23:18:00-07:00", Some("PDT")).unwrap())
    }

    #[test]
    fn clock_labels_read_the_published_times() {
        let a = aws();
        // Sim 1800 s = 23:48 PDT (the race); 11 220 s = 02:25 (DNS restored); 51 000 s = 13:28.
        assert_eq!(a.instant(1800.0), "23:48");
        assert_eq!(a.instant(11_220.0), "02:25");
        assert_eq!(a.instant(51_000.0), "13:28");
        assert_eq!(
            a.caption(0.0, 61_320.0),
            "clock time (PDT) · 19–20 Oct 2025"
        );
        assert_eq!(TimeAxis::Seconds.caption(0.0, 1.0), "simulated time (s)");
    }

    #[test]
    fn clock_ticks_fall_on_round_times_and_midnight_shows_the_date() {
        let a = aws();
        let ticks = a.ticks(0.0, 61_320.0, 12);
        // 17 h of run, at most 12 ticks: every 2 h, from 00:00 (20 Oct).
        let labels: Vec<&str> = ticks.iter().map(|t| t.1.as_str()).collect();
        assert_eq!(
            labels,
            [
                "20 Oct", "02:00", "04:00", "06:00", "08:00", "10:00", "12:00", "14:00", "16:00"
            ]
        );
        assert_eq!(ticks[0].0, 2520.0); // 23:18 + 42 min
        for (t, l) in &ticks[1..] {
            assert_eq!(&a.instant(*t), l);
            assert!(l.ends_with(":00"), "{l}");
        }
        // A short span gets minute ticks.
        let short = a.ticks(1800.0, 3600.0, 8);
        assert_eq!(short.first().map(|t| t.1.as_str()), Some("23:50"));
        // Midnight reads as its date, every other tick as its clock time.
        assert!(short.iter().any(|(_, l)| l == "20 Oct"), "{short:?}");
        assert!(
            short
                .iter()
                .all(|(t, l)| l == "20 Oct" || &a.instant(*t) == l),
            "{short:?}"
        );
    }

    #[test]
    fn second_ticks_are_round_numbers() {
        let t = TimeAxis::Seconds.ticks(0.0, 1000.0, 6);
        let v: Vec<f64> = t.iter().map(|t| t.0).collect();
        assert_eq!(v, [0.0, 200.0, 400.0, 600.0, 800.0, 1000.0]);
        assert!(TimeAxis::Seconds.ticks(5.0, 5.0, 6).is_empty());
        assert!(TimeAxis::Seconds.ticks(0.0, f64::NAN, 6).is_empty());
    }
}
