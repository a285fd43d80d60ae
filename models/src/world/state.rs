//! Point-in-time state of the components for `run --record-state`: what `windows.csv` does
//! not hold because it is not a count or a time-weighted mean — breaker state, retry-budget
//! level, resolver caches, connections, cache entries, a service's current servers and its
//! record, outage and configuration flags. Reads the world; changes nothing, so a run that
//! records its state produces the same events and metrics as one that does not.

use sim_core::SimTime;

use super::World;
use crate::policy::breaker::BreakerState;

/// A state value: a number, or a named state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum StateValue {
    Num(f64),
    Text(&'static str),
}

impl World {
    /// Calls `f(component, field, value)` for every recorded state at `now`, components in
    /// their fixed order (clients, then services), fields in a fixed order.
    pub fn state_samples(&self, now: SimTime, f: &mut dyn FnMut(&str, &'static str, StateValue)) {
        use StateValue::{Num, Text};
        for c in &self.clients {
            if let Some(b) = c.retry.breaker_state() {
                let s = match b {
                    BreakerState::Closed => "closed",
                    BreakerState::Open => "open",
                    BreakerState::HalfOpen => "half_open",
                };
                f(&c.name, "breaker", Text(s));
            }
            if let Some((field, v)) = c.retry.budget_level() {
                f(&c.name, field, Num(v));
            }
            if !c.retry.enabled {
                f(&c.name, "retries", Text("off"));
            }
            if let Some(cache) = &c.cache {
                f(&c.name, "cache_entries", Num(f64::from(cache.len())));
            }
            if let Some(dns) = &c.dns {
                let (connected, ok, empty) = dns.host_counts(now);
                f(&c.name, "hosts_connected", Num(f64::from(connected)));
                f(&c.name, "hosts_cached_ok", Num(f64::from(ok)));
                f(&c.name, "hosts_cached_empty", Num(f64::from(empty)));
            }
            f(&c.name, "calls_live", Num(c.live_calls as f64));
        }
        for (i, s) in self.services.iter().enumerate() {
            f(&s.name, "servers", Num(f64::from(s.servers)));
            if s.crash_loop.is_some() {
                f(&s.name, "servers_crashed", Num(f64::from(s.n_crashed)));
                f(
                    &s.name,
                    "config",
                    Text(if s.bad_config { "bad" } else { "good" }),
                );
            }
            let resolved = self
                .clients
                .iter()
                .any(|c| c.dns.is_some() && c.target as usize == i);
            if resolved {
                let r = if s.record_empty { "empty" } else { "ok" };
                f(&s.name, "dns_record", Text(r));
            }
            f(&s.name, "outage", Text(if s.down { "down" } else { "up" }));
            f(&s.name, "error_rate", Num(s.error_rate));
        }
    }
}
