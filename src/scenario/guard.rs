//! Validation of the defences inside a service (issue 17): a cache on a downstream call
//! edge (the client cache's fields, validated by the same function) with RFC 5861
//! stale-if-error, a bulkhead on a call edge, a fallback answering degraded, and caller
//! routing (`callers`: a call made only for some callers' requests).

use std::collections::BTreeMap;

use models::infra::cache::{CacheSpec, Fill};
use models::request_path::guard::GuardSpec;
use models::{ClientSpec, ServiceSpec};
use serde::Deserialize;
use sim_core::SimDuration;

use super::common::*;
use super::locate::FieldPath;
use super::schema::*;

/// `bulkhead = { max_concurrent = N }` on a `[[services.calls]]` entry: at most `N` calls of
/// this edge outstanding at the dependency at once; a call beyond it fails at once without
/// being sent (rejected fast; its `fallback`, if any, answers).
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct BulkheadFile {
    /// Calls outstanding at once (1..=1 000 000).
    pub max_concurrent: i64,
}

/// `fallback = { time_ms = T }` on a `[[services.calls]]` entry: when the call fails (after
/// its retries, breaker open, bulkhead full), the waiting server computes a degraded answer
/// for `T` ms and carries on; the answer is counted `degraded`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct FallbackFile {
    /// Local computation time of the degraded answer (≥ 0).
    pub time_ms: f64,
}

/// Most clients named in one call's `callers`.
pub const MAX_CALLERS: usize = 1000;

impl Validator<'_> {
    /// A `cache = { ... }` table at `kp` (on a client or a call edge).
    pub(super) fn cache_spec(&mut self, kp: &FieldPath, k: &CacheFile) -> CacheSpec {
        let keys = self.int_in(&kp.key("keys"), k.keys, 1, 100_000_000) as u32;
        let capacity = self.int_in(&kp.key("capacity"), k.capacity, 1, 100_000_000) as u32;
        let zipf_s = self.non_negative(&kp.key("zipf_s"), k.zipf_s, 100.0);
        let ttl = k.ttl_s.map(|t| {
            SimDuration::from_secs_f64(self.positive(&kp.key("ttl_s"), t, MAX_DURATION_S))
        });
        let hit = self.non_negative(&kp.key("hit_ms"), k.hit_ms, MAX_DURATION_MS);
        let stale_if_error = k.stale_if_error_s.map(|s| {
            if k.ttl_s.is_none() {
                self.err(
                    &kp.key("stale_if_error_s"),
                    "stale_if_error_s needs ttl_s (without a TTL no entry ever goes stale)",
                );
            }
            SimDuration::from_secs_f64(self.positive(
                &kp.key("stale_if_error_s"),
                s,
                MAX_DURATION_S,
            ))
        });
        CacheSpec {
            keys,
            capacity,
            zipf_s,
            ttl,
            hit_time: SimDuration::from_millis_f64(hit),
            fill: match k.fill {
                FillFile::LookAside => Fill::LookAside,
                FillFile::ReadThrough => Fill::ReadThrough,
            },
            warm: k.warm,
            stale_if_error,
        }
    }

    /// The cache and defences of call `call` at `cp` (its `callers` are resolved later, by
    /// [`Validator::guard_callers`], once every client exists).
    pub(super) fn call_guard(
        &mut self,
        cp: &FieldPath,
        call: &CallFile,
    ) -> (Option<CacheSpec>, GuardSpec) {
        let cache = call
            .cache
            .as_ref()
            .map(|k| self.cache_spec(&cp.key("cache"), k));
        let bulkhead = call.bulkhead.as_ref().map(|b| {
            self.int_in(
                &cp.key("bulkhead").key("max_concurrent"),
                b.max_concurrent,
                1,
                1_000_000,
            ) as u32
        });
        let fallback = call.fallback.as_ref().map(|f| {
            SimDuration::from_millis_f64(self.non_negative(
                &cp.key("fallback").key("time_ms"),
                f.time_ms,
                MAX_DURATION_MS,
            ))
        });
        let guard = GuardSpec {
            bulkhead,
            fallback,
            callers: None,
        };
        (cache, guard)
    }

    /// Resolves every call's `callers` to client indices: each must name a client, source or
    /// call edge that calls this service.
    pub(super) fn guard_callers(
        &mut self,
        raw: &ScenarioFile,
        clients: &mut [ClientSpec],
        services: &[ServiceSpec],
    ) {
        let index: BTreeMap<&str, usize> = clients
            .iter()
            .enumerate()
            .map(|(i, c)| (c.name.as_str(), i))
            .collect();
        let mut resolved: Vec<(usize, Vec<u32>)> = Vec::new();
        for (i, sf) in raw.services.iter().enumerate() {
            let Some(svc) = services.get(i) else {
                continue;
            };
            for (j, call) in sf.calls.iter().enumerate() {
                let Some(names) = &call.callers else {
                    continue;
                };
                let cp = p().key("services").index(i).key("calls").index(j);
                if names.is_empty() || names.len() > MAX_CALLERS {
                    self.err(
                        &cp.key("callers"),
                        format!("give 1..={MAX_CALLERS} client names, got {}", names.len()),
                    );
                    continue;
                }
                let mut ids = Vec::with_capacity(names.len());
                for (k, name) in names.iter().enumerate() {
                    let fp = cp.key("callers").index(k);
                    match index.get(name.as_str()) {
                        Some(&c) if clients[c].target as usize == i => ids.push(c as u32),
                        Some(_) => {
                            self.err(&fp, format!("{name:?} does not call service {:?}", sf.name))
                        }
                        None => {
                            let known: Vec<&str> = clients
                                .iter()
                                .filter(|c| c.target as usize == i)
                                .map(|c| c.name.as_str())
                                .collect();
                            self.err(
                                &fp,
                                format!(
                                    "no client or call named {name:?} (callers of {:?}: {})",
                                    sf.name,
                                    known.join(", ")
                                ),
                            );
                        }
                    }
                }
                if let Some(&edge) = svc.calls.get(j) {
                    resolved.push((edge as usize, ids));
                }
            }
        }
        for (edge, ids) in resolved {
            if let Some(c) = clients.get_mut(edge) {
                c.guard.callers = Some(ids);
            }
        }
    }
}
