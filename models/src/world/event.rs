//! The closed set of events of the simulated world.

use crate::control::{autoscaler, config_push, dns_automation, lease};
use crate::infra::load_balancer;

/// Every event in the simulated world.
#[derive(Clone, Copy, Debug)]
pub enum Event {
    /// The next open-loop arrival of `client`, drawn under rate epoch `epoch`.
    Arrival { client: u32, epoch: u32 },
    /// Closed-loop `user` of `client` finishes thinking and starts a call.
    ThinkDone { client: u32, user: u32 },
    /// The attempt `generation` of call `slot` times out.
    AttemptTimeout {
        client: u32,
        slot: u32,
        generation: u32,
    },
    /// The backoff before the next attempt of call `slot` (generation `generation`) is over.
    RetryDue {
        client: u32,
        slot: u32,
        generation: u32,
    },
    /// Server `server` of `service` finishes its request (if its generation is still `generation`).
    ServiceDone {
        service: u32,
        server: u32,
        generation: u32,
    },
    /// Timed action number `idx` of the scenario.
    Action { idx: u32 },
    /// Crashed server `server` of `service` (generation `generation`) may try to restart.
    RestartDue {
        service: u32,
        server: u32,
        generation: u32,
    },
    /// A call of closed-loop `user` (`u32::MAX`: open loop) of `client` was a cache hit; its
    /// hit time is over.
    CacheHit { client: u32, user: u32 },
    /// A client-side rate limiter's delay before sending attempt `generation` of call `slot`
    /// is over.
    SendDue {
        client: u32,
        slot: u32,
        generation: u32,
    },
    /// An event of DNS automation `idx` (planner tick, enactor run start, apply end, retry).
    DnsPlan { idx: u32, ev: dns_automation::Ev },
    /// The timer of edge node `node` of `service` (set under `generation`): its delayed crash
    /// on a bad configuration, or the end of its reload ([`crate::infra::edge`]).
    Edge {
        service: u32,
        node: u32,
        generation: u32,
    },
    /// An event of config push `idx` (generate a file, deliver it, check a rollout stage).
    ConfigPush { idx: u32, ev: config_push::Ev },
    /// An event of load balancer `lb` (health checks, propagation, launches, zone holds).
    Lb { lb: u32, ev: load_balancer::Ev },
    /// A timer or job completion of lease manager `mgr`.
    Lease { mgr: u32, ev: lease::Ev },
    /// Operator `idx` looks at the system (`u32::MAX`: the trigger probe).
    Operator { idx: u32 },
    /// The fallback of call `slot` (generation `generation`) of downstream edge `client` has
    /// been computed: its server carries on with a degraded answer.
    Fallback {
        client: u32,
        slot: u32,
        generation: u32,
    },
    /// The hedge delay of attempt `generation` of call `slot` is over: hedge it if it is
    /// still unanswered ([`crate::request_path::hedge`]).
    HedgeDue {
        client: u32,
        slot: u32,
        generation: u32,
    },
    /// A sample or a ready instance of autoscaler `idx` ([`crate::control::autoscaler`]).
    Autoscale { idx: u32, ev: autoscaler::Ev },
    /// A DNS failover health check of client `client`'s primary endpoint.
    DnsCheck { client: u32 },
}

const _: () = assert!(std::mem::size_of::<Event>() <= 16);

// A component schedules its own events as `(index, its event)`; these lift them into the
// world's closed set.

impl From<(u32, config_push::Ev)> for Event {
    #[inline]
    fn from((idx, ev): (u32, config_push::Ev)) -> Event {
        Event::ConfigPush { idx, ev }
    }
}

impl From<(u32, load_balancer::Ev)> for Event {
    #[inline]
    fn from((lb, ev): (u32, load_balancer::Ev)) -> Event {
        Event::Lb { lb, ev }
    }
}

impl From<(u32, lease::Ev)> for Event {
    #[inline]
    fn from((mgr, ev): (u32, lease::Ev)) -> Event {
        Event::Lease { mgr, ev }
    }
}
