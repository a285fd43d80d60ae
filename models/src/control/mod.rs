//! Control planes: components that change the request path from outside — [`dns_automation`]
//! (a planner and enactors whose stale-plan race can empty a DNS record), [`lease`] (a lease
//! manager, EC2 DWFM-like, whose re-queued jobs collapse congestively) and [`config_push`]
//! (a generator and propagation of configuration files to fail-open or fail-closed proxies), and
//! [`operator`] (on-call teams as policies: alarms on measured signals, a diagnosis delay, then
//! actions conditioned on what they observe).
//!
//! They act on users only through service fields (`record_empty`, `error_rate`, `slowdown`,
//! the server count), so their effect shows up as client failures the analysis sees. May use:
//! the building blocks and [`crate::request_path::service`]; never [`crate::world`]. Each is
//! generic over the model's event type (`E: From<(u32, Ev)>`).

pub mod autoscaler;
pub mod config_push;
pub mod dns_automation;
pub mod lease;
pub mod operator;
