//! `hedge = { ... }` on a client or a downstream call (`[[services.calls]]`): hedged requests
//! (the model is `models::request_path::hedge`).
//!
//! ```toml
//! hedge = { delay_ms = 20 }                                   # a fixed hedge delay
//! hedge = { percentile = 95, window = 1000, delay_ms = 20 }   # p95 of the last 1000 answers
//! hedge = { delay_ms = 20, cancel = true, budget_percent = 5 } # cancel the loser; ≤ 5 % extra
//! ```

use models::request_path::hedge::HedgeSpec;
use serde::Deserialize;
use sim_core::SimDuration;

use super::common::{MAX_DURATION_MS, Validator};
use super::locate::FieldPath;

/// Largest latency window of a percentile hedge (its memory per client).
pub const MAX_HEDGE_WINDOW: i64 = 1_000_000;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct HedgeFile {
    /// The hedge delay (with `percentile`: until the window holds enough answers).
    pub delay_ms: f64,
    /// Hedge after this percentile of the client's recent attempt latencies.
    pub percentile: Option<f64>,
    /// Answers kept for the percentile.
    #[serde(default = "d1000")]
    pub window: i64,
    /// Cancel the losing copy when one answers.
    #[serde(default)]
    pub cancel: bool,
    /// At most this many hedges per hundred attempts.
    pub budget_percent: Option<f64>,
}

fn d1000() -> i64 {
    1000
}

impl Validator<'_> {
    /// Validates a `hedge` table at `path`.
    pub(crate) fn hedge(&mut self, path: &FieldPath, h: &HedgeFile) -> HedgeSpec {
        let delay = self.positive(&path.key("delay_ms"), h.delay_ms, MAX_DURATION_MS);
        if let Some(q) = h.percentile
            && !(q > 0.0 && q < 100.0)
        {
            self.err(
                &path.key("percentile"),
                format!("must be in (0, 100), got {}", super::common::num(q)),
            );
        }
        let percentile = h.percentile;
        let window = self.int_in(&path.key("window"), h.window, 1, MAX_HEDGE_WINDOW) as u32;
        let budget = h
            .budget_percent
            .map(|b| self.positive(&path.key("budget_percent"), b, 100.0) / 100.0);
        HedgeSpec {
            delay: SimDuration::from_millis_f64(delay).max(SimDuration(1)),
            percentile,
            window,
            cancel: h.cancel,
            budget,
        }
    }
}

impl Validator<'_> {
    /// A hedging client's target must not abandon queued work (`queue_abandonment` counts one
    /// queued entry per attempt; a hedge puts two there). `clients` are in validation order:
    /// sources, clients, then every service's call edges.
    pub(crate) fn check_hedge_targets(
        &mut self,
        raw: &super::schema::ScenarioFile,
        clients: &[models::ClientSpec],
        services: &[models::ServiceSpec],
    ) {
        let paths = raw
            .sources
            .iter()
            .enumerate()
            .map(|(i, c)| {
                (
                    super::common::p().key("sources").index(i),
                    c.hedge.is_some(),
                )
            })
            .chain(raw.clients.iter().enumerate().map(|(i, c)| {
                (
                    super::common::p().key("clients").index(i),
                    c.hedge.is_some(),
                )
            }))
            .chain(raw.services.iter().enumerate().flat_map(|(i, s)| {
                s.calls.iter().enumerate().map(move |(j, c)| {
                    let path = super::common::p()
                        .key("services")
                        .index(i)
                        .key("calls")
                        .index(j);
                    (path, c.hedge.is_some())
                })
            }));
        for ((path, hedged), c) in paths.zip(clients) {
            if hedged
                && services
                    .get(c.target as usize)
                    .is_some_and(|s| s.queue_abandonment)
            {
                self.err(
                    &path.key("hedge"),
                    "a hedging client's target must not have queue_abandonment",
                );
            }
        }
    }
}
