//! The state variables of a run, per window: what [`crate::analysis::dynamics`] watches to tell
//! a trap from a slow drain. One or more per mechanism (README, "Recovery and verdicts"):
//!
//! | mechanism | state variable (larger is worse) | tolerance |
//! |---|---|---|
//! | queues (retry storms, overload) | a service's time-weighted mean queue length | 1 request |
//! | look-aside / read-through caches | a client's miss fraction (cold keys) | 2 % |
//! | leases (EC2 DWFM) | a lease manager's unleased fraction | 1 % |
//! | crash loops, edge nodes | a service's mean crashed tasks | 0.5 task |
//! | load balancers | healthy targets out of service (healthy − in service), propagation backlog | 0.5 target, 1 item |
//! | DNS automation | mean number of empty records | 0.01 |
//! | config push | fraction of machines holding a bad file | 1 % |

use crate::analysis::dynamics::StateSeries;
use crate::run::RunReport;
use crate::scenario::Kind;

impl RunReport {
    /// Every state variable this run has, per window.
    pub fn state_series(&self) -> Vec<StateSeries> {
        let n = self.rec.n_windows();
        let mut out = Vec::new();
        for c in self.component_ids() {
            // Only the kinds that have state variables are read (a client only with a cache).
            let has_state = match c.kind {
                Kind::Service
                | Kind::LeaseManager
                | Kind::LoadBalancer
                | Kind::DnsAutomation
                | Kind::ConfigPush => true,
                Kind::Client | Kind::Source => {
                    n > 0 && self.window_values(&c, 0).cache_hits.is_some()
                }
                Kind::Sink | Kind::Call => false,
            };
            if !has_state {
                continue;
            }
            let vals: Vec<_> = (0..n).map(|w| self.window_values(&c, w)).collect();
            let mut push = |what, unit, fraction, tolerance, f: &dyn Fn(usize) -> Option<f64>| {
                let values: Option<Vec<f64>> = (0..n).map(f).collect();
                if let Some(values) = values.filter(|v| !v.is_empty()) {
                    out.push(StateSeries {
                        what,
                        component: c.name.clone(),
                        unit,
                        fraction,
                        tolerance,
                        values,
                    });
                }
            };
            match c.kind {
                Kind::Service => {
                    push("backlog", "requests", false, 1.0, &|w| {
                        vals[w].queue_len_mean
                    });
                    if vals.first().is_some_and(|v| v.tasks_down_mean.is_some()) {
                        push("crashed tasks", "tasks", false, 0.5, &|w| {
                            vals[w].tasks_down_mean
                        });
                    }
                }
                Kind::Client | Kind::Source
                    if vals.first().is_some_and(|v| v.cache_hits.is_some()) =>
                {
                    // A window without lookups keeps the last miss fraction.
                    let mut last = 0.0;
                    let miss: Vec<f64> = vals
                        .iter()
                        .map(|v| {
                            if let Some(h) = v.hit_rate() {
                                last = 1.0 - h;
                            }
                            last
                        })
                        .collect();
                    push("cold cache", "of lookups miss", true, 0.02, &|w| {
                        Some(miss[w])
                    });
                }
                Kind::LeaseManager => {
                    push("unleased hosts", "of hosts", true, 0.01, &|w| {
                        vals[w].lease_fraction_mean.map(|f| 1.0 - f)
                    });
                }
                Kind::LoadBalancer => {
                    push(
                        "healthy targets out of service",
                        "targets",
                        false,
                        0.5,
                        &|w| {
                            let v = &vals[w];
                            let (h, i) = (v.targets_healthy_mean?, v.targets_in_service_mean?);
                            Some((h - i).max(0.0))
                        },
                    );
                    push("propagation backlog", "items", false, 1.0, &|w| {
                        vals[w].netmgr_backlog_mean
                    });
                }
                Kind::DnsAutomation => {
                    push("empty DNS records", "records", false, 0.01, &|w| {
                        vals[w].records_empty_mean
                    });
                }
                Kind::ConfigPush => {
                    push("bad configuration", "of machines", true, 0.01, &|w| {
                        vals[w].bad_servers_mean
                    });
                }
                _ => {}
            }
        }
        out
    }
}
