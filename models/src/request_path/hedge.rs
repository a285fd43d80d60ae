//! Hedged requests ("The Tail at Scale", Dean & Barroso 2013): an attempt still unanswered
//! after a hedge delay is sent a second time to the same target; the first answer wins.
//!
//! The hedge delay is a constant, or a percentile (e.g. p95) of the client's own recent
//! attempt latencies over a sliding window of the last `window` successful answers (the
//! constant is used until the window holds `min(window, 100)` samples). The percentile is
//! recomputed every `window / 10` new samples (at least 1) by a selection over a copy of the
//! window, so its cost is amortised O(10) per answer.
//!
//! Both copies carry the same caller and attempt generation: the first answer is taken, the
//! other finds nobody waiting (counted `wasted` at the service) unless the client cancels it
//! (`cancel`): then the loser is removed from the target's queue or its server is freed at the
//! moment the winner answers (`hedges_cancelled`). A copy that fails (rejected, error) while the
//! other is still out is absorbed: the attempt waits for the other copy. The attempt's timeout
//! covers both copies; a retry is a new attempt, itself hedged. A hedge budget caps hedges at
//! `budget` × attempts: each attempt sent earns `budget` tokens (at most [`BUDGET_BURST`] held),
//! a hedge spends one.

use sim_core::{CounterId, GaugeId, Recorder, SimDuration, SimTime};

/// Most hedge tokens held at once (a burst of hedges after a quiet spell).
pub const BUDGET_BURST: f64 = 10.0;

/// A client's (or a call edge's) hedging policy.
#[derive(Clone, Debug, PartialEq)]
pub struct HedgeSpec {
    /// Hedge after this delay (with `percentile`: until the window has enough samples).
    pub delay: SimDuration,
    /// Hedge after this percentile (in (0, 100)) of recent attempt latencies instead.
    pub percentile: Option<f64>,
    /// Successful answers whose latency is kept (sliding window by count).
    pub window: u32,
    /// Cancel the losing copy when one answers.
    pub cancel: bool,
    /// At most this many hedges per attempt sent (0.05: 5 % extra load); `None`: no cap.
    pub budget: Option<f64>,
}

/// How an answer to a hedged client's attempt is handled.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Answer {
    /// A copy failed while the other is still out: keep waiting for it.
    Absorbed,
    /// The attempt ends with this answer. `hedge_won`: the answer came from the hedge copy;
    /// `sibling`: the other copy is still out (to be cancelled, or left to run).
    Final { hedge_won: bool, sibling: bool },
}

/// Hedging state of one client: per call slot, the copies out and when each was sent.
#[derive(Clone, Debug)]
pub struct Hedger {
    pub spec: HedgeSpec,
    /// Per call slot: copies of the current attempt still out (0, 1 or 2).
    copies: Vec<u8>,
    /// Per call slot: when the current attempt's primary and hedge were sent.
    primary_sent: Vec<SimTime>,
    hedge_sent: Vec<SimTime>,
    /// Per call slot: the current attempt's deadline (a hedge copy carries it too).
    deadline: Vec<SimTime>,
    /// Ring of recent successful attempt latencies (ns).
    ring: Vec<u64>,
    next: usize,
    since_refresh: u32,
    delay_ns: u64,
    tokens: f64,
    pub(crate) m: HedgeMetrics,
}

#[derive(Clone, Debug)]
pub(crate) struct HedgeMetrics {
    pub hedges: CounterId,
    pub wins: CounterId,
    pub cancelled: CounterId,
    pub denied: CounterId,
    /// The hedge delay in force (ms).
    pub delay_ms: GaugeId,
}

impl Hedger {
    /// A hedger for client `name`, registering its metrics.
    pub fn new(spec: &HedgeSpec, name: &str, rec: &mut Recorder) -> Hedger {
        Hedger {
            spec: spec.clone(),
            copies: Vec::new(),
            primary_sent: Vec::new(),
            hedge_sent: Vec::new(),
            deadline: Vec::new(),
            ring: Vec::new(),
            next: 0,
            since_refresh: 0,
            delay_ns: spec.delay.as_nanos(),
            tokens: spec.budget.map_or(0.0, |_| BUDGET_BURST),
            m: HedgeMetrics {
                hedges: rec.counter(name, "hedges"),
                wins: rec.counter(name, "hedge_wins"),
                cancelled: rec.counter(name, "hedges_cancelled"),
                denied: rec.counter(name, "hedges_denied"),
                delay_ms: rec.gauge(name, "hedge_delay_ms"),
            },
        }
    }

    /// The primary copy of an attempt of `slot` (with per-attempt `deadline`) was sent at
    /// `now`: returns the hedge delay.
    pub fn on_dispatch(&mut self, slot: u32, now: SimTime, deadline: SimTime) -> SimDuration {
        let i = slot as usize;
        if self.copies.len() <= i {
            self.copies.resize(i + 1, 0);
            self.primary_sent.resize(i + 1, SimTime::ZERO);
            self.hedge_sent.resize(i + 1, SimTime::MAX);
            self.deadline.resize(i + 1, SimTime::MAX);
        }
        self.deadline[i] = deadline;
        self.copies[i] = 1;
        self.primary_sent[i] = now;
        self.hedge_sent[i] = SimTime::MAX;
        if let Some(b) = self.spec.budget {
            self.tokens = (self.tokens + b).min(BUDGET_BURST);
        }
        SimDuration(self.delay_ns)
    }

    /// The hedge delay of `slot`'s attempt is over and it is still unanswered: true if a hedge
    /// may be sent now (the budget allows it), recorded as sent.
    pub fn try_hedge(&mut self, slot: u32, now: SimTime) -> bool {
        let i = slot as usize;
        if self.copies.get(i) != Some(&1) {
            return false;
        }
        if self.spec.budget.is_some() {
            if self.tokens < 1.0 {
                return false;
            }
            self.tokens -= 1.0;
        }
        self.copies[i] = 2;
        self.hedge_sent[i] = now;
        true
    }

    /// An answer (`ok`: successful) to `slot`'s attempt reached the client at `now`; its copy
    /// reached the service at `sent`.
    pub fn on_answer(&mut self, slot: u32, ok: bool, sent: SimTime, now: SimTime) -> Answer {
        let i = slot as usize;
        let Some(copies) = self.copies.get_mut(i) else {
            return Answer::Final {
                hedge_won: false,
                sibling: false,
            };
        };
        if !ok && *copies > 1 {
            *copies -= 1;
            return Answer::Absorbed;
        }
        let sibling = *copies > 1;
        *copies = 0;
        let hedge_won = sent >= self.hedge_sent[i];
        if ok {
            self.sample(now.since(self.primary_sent[i]).as_nanos());
        }
        Answer::Final { hedge_won, sibling }
    }

    /// The per-attempt deadline the copies of `slot`'s current attempt carry.
    pub fn deadline(&self, slot: u32) -> SimTime {
        self.deadline
            .get(slot as usize)
            .copied()
            .unwrap_or(SimTime::MAX)
    }

    /// The hedge delay in force.
    pub fn delay(&self) -> SimDuration {
        SimDuration(self.delay_ns)
    }

    /// Adds a successful attempt latency to the window and refreshes the percentile delay.
    fn sample(&mut self, ns: u64) {
        let Some(pct) = self.spec.percentile else {
            return;
        };
        let w = self.spec.window.max(1) as usize;
        if self.ring.len() < w {
            self.ring.push(ns);
        } else {
            self.ring[self.next] = ns;
        }
        self.next = (self.next + 1) % w;
        self.since_refresh += 1;
        let refresh = (w / 10).max(1) as u32;
        if self.ring.len() >= w.min(100) && self.since_refresh >= refresh {
            self.since_refresh = 0;
            let mut v = self.ring.clone();
            let k = ((pct / 100.0 * v.len() as f64).ceil() as usize).clamp(1, v.len()) - 1;
            let (_, x, _) = v.select_nth_unstable(k);
            self.delay_ns = (*x).max(1);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> HedgeSpec {
        HedgeSpec {
            delay: SimDuration::from_millis(10),
            percentile: None,
            window: 100,
            cancel: false,
            budget: None,
        }
    }

    fn t(ms: u64) -> SimTime {
        SimTime::ZERO.saturating_add(SimDuration::from_millis(ms))
    }

    #[test]
    fn one_hedge_per_attempt_and_the_first_answer_wins() {
        let mut rec = Recorder::new(SimDuration::from_millis(1000), SimDuration::ZERO, 16);
        let mut h = Hedger::new(&spec(), "c", &mut rec);
        assert_eq!(
            h.on_dispatch(3, t(0), SimTime::MAX),
            SimDuration::from_millis(10)
        );
        assert!(h.try_hedge(3, t(10)));
        assert!(!h.try_hedge(3, t(10)), "a second hedge of the same attempt");
        // The primary fails: absorbed, the hedge is still out.
        assert_eq!(h.on_answer(3, false, t(0), t(12)), Answer::Absorbed);
        assert_eq!(
            h.on_answer(3, true, t(10), t(15)),
            Answer::Final {
                hedge_won: true,
                sibling: false
            }
        );
        // A new attempt: the primary answers first, the hedge is still out.
        h.on_dispatch(3, t(20), SimTime::MAX);
        assert!(h.try_hedge(3, t(30)));
        assert_eq!(
            h.on_answer(3, true, t(20), t(31)),
            Answer::Final {
                hedge_won: false,
                sibling: true
            }
        );
        assert!(!h.try_hedge(3, t(40)), "answered attempts are not hedged");
    }

    #[test]
    fn budget_caps_hedges_at_its_fraction_of_attempts() {
        let mut rec = Recorder::new(SimDuration::from_millis(1000), SimDuration::ZERO, 16);
        let mut h = Hedger::new(
            &HedgeSpec {
                budget: Some(0.05),
                ..spec()
            },
            "c",
            &mut rec,
        );
        let mut hedges = 0;
        for k in 0..10_000u64 {
            h.on_dispatch(0, t(k), SimTime::MAX);
            if h.try_hedge(0, t(k)) {
                hedges += 1;
            }
            h.on_answer(0, true, t(k), t(k));
        }
        // 5 % of 10 000 attempts plus the initial burst, exactly (tokens are whole).
        assert!(
            (500..=500 + BUDGET_BURST as i32).contains(&hedges),
            "{hedges}"
        );
    }

    #[test]
    fn percentile_delay_tracks_the_window() {
        let mut rec = Recorder::new(SimDuration::from_millis(1000), SimDuration::ZERO, 16);
        let mut h = Hedger::new(
            &HedgeSpec {
                percentile: Some(95.0),
                window: 1000,
                ..spec()
            },
            "c",
            &mut rec,
        );
        // Latencies 1..=1000 ms: p95 is 950 ms.
        for k in 1..=1000u64 {
            h.on_dispatch(0, t(0), SimTime::MAX);
            h.on_answer(0, true, t(0), t(k));
        }
        assert_eq!(h.delay(), SimDuration::from_millis(950));
        // The window slides: 1000 answers of 5 ms replace them all.
        for _ in 0..1000 {
            h.on_dispatch(0, t(0), SimTime::MAX);
            h.on_answer(0, true, t(0), t(5));
        }
        assert_eq!(h.delay(), SimDuration::from_millis(5));
    }
}
