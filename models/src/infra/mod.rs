//! Infrastructure a request meets on its way: name resolution and connection reuse
//! ([`dns`]), health-checked DNS failover ([`dns_failover`]) and client-side endpoint failover
//! ([`endpoint_failover`]), client-side caches ([`cache`]), edge nodes that crash and reload ([`edge`]),
//! load balancers with health checks, zone failover and a propagation backlog
//! ([`load_balancer`]).
//!
//! Each module is a self-contained component with its own spec, state, RNG streams and
//! metrics. May use: the building blocks ([`crate::dist`], [`crate::request`]) and
//! `sim_core`; never the request path, the control planes or [`crate::world`]. A component
//! that schedules events is generic over the model's event type (`E: From<(u32, Ev)>`).

pub mod cache;
pub mod dns;
pub mod dns_failover;
pub mod edge;
pub mod endpoint_failover;
pub mod load_balancer;
