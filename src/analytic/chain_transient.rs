//! The transient figures of a call chain (docs/analytic.md §10, "In time"): the bottleneck's
//! backlog is the state; the tiers above it are quasi-steady given that backlog. When the
//! tiers above are healthy, make no errors of their own, have no budgets or deadlines and
//! their timeouts outlast the calls below them, a first try of the client becomes a sequence
//! of up to `Π m_i` attempts at the bottleneck, each failing with the probability the
//! bottleneck's backlog implies, until one succeeds: exactly a one-tier client with
//! `Π m_i` attempts whose retries wait, between attempts, the backoff of the layer that
//! retries plus the own work of the services it re-enters. That one-tier model (the
//! *bottleneck view*) is run by `transient.rs` (recovery time, shortest tipping trigger) and
//! `fluid.rs` (tipping backlog). What the view cannot represent is refused with a reason.

use models::Action;

use super::chain::ChainEquilibria;
use super::fluid;
use super::queueing::mean_s;
use super::scope::{Budget, Model};
use crate::scenario::Scenario;

/// The bottleneck tier's index: the tier whose backlog grows in the worst collapsed state,
/// else the busiest tier of the healthy state.
fn bottleneck(tiers: &[Model], eq: &ChainEquilibria) -> usize {
    if let Some((i, _)) = eq.collapsed.first().and_then(|c| c.growth()) {
        return i;
    }
    let busy = |i: usize| {
        eq.healthy.as_ref().map_or(0.0, |h| {
            h.tiers[i].eq.attempts_per_s / h.tiers[i].capacity_per_s
        })
    };
    (0..tiers.len())
        .max_by(|&a, &b| busy(a).total_cmp(&busy(b)))
        .unwrap_or(0)
}

/// Delay before each retry at the bottleneck, for attempts numbered in the mixed radix of the
/// layers' attempt counts (the innermost layer the fastest): the retrying layer's backoff
/// plus the own work of the services the retry passes through again.
fn composite_backoff(tiers: &[Model]) -> Vec<f64> {
    let m: Vec<u32> = tiers.iter().map(|t| t.max_attempts.max(1)).collect();
    let total: u32 = m.iter().product();
    let mut digits = vec![0u32; tiers.len()];
    let mut out = Vec::new();
    for _ in 1..total {
        // The innermost layer with an attempt left retries; the layers inside it restart.
        let Some(l) = (0..tiers.len()).rev().find(|&i| digits[i] + 1 < m[i]) else {
            break;
        };
        digits[l] += 1;
        for d in digits.iter_mut().skip(l + 1) {
            *d = 0;
        }
        let own: f64 = tiers[l..tiers.len() - 1]
            .iter()
            .map(|t| mean_s(&t.service_time))
            .sum();
        out.push(tiers[l].backoff(digits[l] as usize) + own);
    }
    out
}

/// The bottleneck view of the chain (a one-tier [`Model`]), or why the chain's transient is
/// not modelled.
pub fn bottleneck_view(
    sc: &Scenario,
    tiers: &[Model],
    eq: &ChainEquilibria,
) -> Result<Model, String> {
    let b = bottleneck(tiers, eq);
    if b + 1 != tiers.len() {
        return Err(format!(
            "the bottleneck ({}) calls a further service",
            tiers[b].service
        ));
    }
    for (i, t) in tiers.iter().enumerate() {
        if t.budget != Budget::Unlimited || t.deadline_s.is_some() {
            return Err(format!(
                "{} -> {} has a retry budget or deadline (the layers' attempts do not compose)",
                t.client, t.service
            ));
        }
        if t.cache.is_some() {
            return Err(format!("{} has a cache", t.client));
        }
        if i < b && t.error_rate > 0.0 {
            return Err(format!("{} fails on its own", t.service));
        }
        if i < b {
            // The call below must end before this tier's timeout fires.
            let x = &tiers[i + 1];
            let longest = mean_s(&t.service_time)
                + x.timeout_s.unwrap_or(f64::INFINITY) * x.max_attempts as f64
                + (1..x.max_attempts)
                    .map(|k| x.backoff(k as usize))
                    .sum::<f64>();
            if t.timeout_s.is_some_and(|tt| tt < longest) {
                return Err(format!(
                    "{} -> {} times out before its call below gives up",
                    t.client, t.service
                ));
            }
        }
    }
    // Triggers: the client's rate, or actions on the bottleneck service.
    let world = &sc.world;
    let client_id = world.clients.iter().position(|c| c.name == tiers[0].client);
    let svc_id = world
        .services
        .iter()
        .position(|s| s.name == tiers[b].service);
    for a in &tiers[b].actions {
        let ok = match &a.action {
            Action::SetRate { client, .. } => Some(*client as usize) == client_id,
            Action::SetServers { service, .. }
            | Action::SetSlowdown { service, .. }
            | Action::SetErrorRate { service, .. }
            | Action::Outage { service, .. }
            | Action::Restore { service, .. }
            | Action::SetPartition { service, .. } => Some(*service as usize) == svc_id,
            _ => false,
        };
        if !ok {
            return Err(format!(
                "the action {:?} at {:.1} s acts on neither the client's rate nor the bottleneck ({})",
                a.action,
                a.at.as_secs_f64(),
                tiers[b].service
            ));
        }
    }
    let mut v = tiers[b].clone();
    v.client = tiers[0].client.clone();
    v.load = tiers[0].load.clone();
    v.max_attempts = tiers.iter().map(|t| t.max_attempts.max(1)).product();
    v.backoff_s = composite_backoff(tiers);
    // Quasi-steady upper tiers: their servers, held for the calls below, must not saturate
    // (a pool that does caps the bottleneck's load: the chain's equilibria say so, the view
    // would not). Agreement of the two on whether a collapsed state exists checks it.
    let view_collapses = fluid::collapsed(&v).is_some();
    let chain_collapses = !eq.collapsed.is_empty();
    if view_collapses != chain_collapses {
        return Err(format!(
            "the servers of the tiers above {} bound its load (a concurrency limit the bottleneck view does not hold)",
            tiers[b].service
        ));
    }
    if let Some(c) = eq.collapsed.first()
        && c.tiers
            .iter()
            .enumerate()
            .any(|(i, t)| t.collapsed && i != b)
    {
        return Err("a tier above the bottleneck is saturated in the collapsed state".to_string());
    }
    Ok(v)
}
