//! Validated, unit-resolved descriptions of components: what the scenario layer produces and
//! [`crate::World::build`] consumes. Names are already resolved to indices; every number is
//! finite and in range (the scenario layer guarantees it and reports violations with file,
//! line and field).

use crate::dist::Dist;
use crate::retry::RetrySpec;
use sim_core::{SimDuration, SimTime};

/// Where a finished call's outcome is also reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReplyTo {
    Nowhere,
    Sink(u32),
    /// A downstream call made by a service's server: the outcome goes back to that server.
    Parent,
}

/// How a client generates calls.
#[derive(Clone, Debug, PartialEq)]
pub enum Mode {
    /// Poisson arrivals at a piecewise-constant rate: `(from, rate_per_s)`, sorted.
    Open { schedule: Vec<(SimTime, f64)> },
    /// `users` users, each thinking for a random time between the end of one call and the
    /// start of the next.
    Closed { users: u32, think: Dist },
    /// Calls are made by a service (a downstream call edge): no arrivals of its own.
    Downstream,
}

#[derive(Clone, Debug)]
pub struct ClientSpec {
    pub name: String,
    /// Index into `WorldSpec::services`.
    pub target: u32,
    pub reply_to: ReplyTo,
    pub mode: Mode,
    /// Per-attempt timeout (`None`: wait forever).
    pub timeout: Option<SimDuration>,
    /// Overall deadline of a call, retries included (`None`: none).
    pub deadline: Option<SimDuration>,
    pub retry: RetrySpec,
    /// A cache the client looks keys up in before calling its target.
    pub cache: Option<crate::cache::CacheSpec>,
    /// Name resolution and connection reuse in front of the target.
    pub dns: Option<crate::dns::DnsSpec>,
}

/// Order in which a service takes waiting work.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Discipline {
    Fifo,
    Lifo,
    /// FIFO while the queue is healthy, LIFO while it is congested (non-empty for longer than
    /// the interval): fresh requests, whose callers still wait, go first (Facebook, "Fail at
    /// Scale", 2015).
    AdaptiveLifo,
    /// FIFO with controlled delay (Facebook's CoDel variant): while the queue has not been
    /// empty for the last `interval`, work that waited longer than `target` is shed; otherwise
    /// work that waited longer than `interval` is.
    Codel,
}

/// Parameters of adaptive LIFO and CoDel (defaults: target 5 ms, interval 100 ms).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QueueControl {
    pub target: SimDuration,
    pub interval: SimDuration,
}

impl Default for QueueControl {
    fn default() -> Self {
        QueueControl {
            target: SimDuration::from_millis(5),
            interval: SimDuration::from_millis(100),
        }
    }
}

/// Admission control at a service (each check optional).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Admission {
    /// Token bucket: `(rate per second, burst)`; an arrival without a token is rejected.
    pub rate_limit: Option<(f64, f64)>,
    /// Most requests held at once (in service + queued); more are rejected.
    pub concurrency_limit: Option<u32>,
    /// Work that waited longer than this is shed when it reaches the head of the queue.
    pub max_queue_age: Option<SimDuration>,
}

/// Service time that grows under overload (a stand-in for GC, thrashing, lock contention):
/// factor `min(max_factor, 1 + per_queued · queue_len + per_utilisation · busy/servers)`.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Degradation {
    pub per_queued: f64,
    pub per_utilisation: f64,
    pub max_factor: f64,
}

#[derive(Clone, Debug)]
pub struct ServiceSpec {
    pub name: String,
    pub servers: u32,
    /// Waiting room (excluding requests in service); `None` = unbounded (still subject to the
    /// world's live-request limit).
    pub queue_capacity: Option<u32>,
    pub service_time: Dist,
    pub discipline: Discipline,
    /// Drop work whose caller's deadline has passed when it reaches the head of the queue,
    /// instead of serving it (wasted work).
    pub drop_expired: bool,
    /// Probability that a served request is answered with an error.
    pub error_rate: f64,
    pub degradation: Option<Degradation>,
    pub queue_control: QueueControl,
    pub admission: Admission,
    /// Downstream calls made after the local work, as indices of `Mode::Downstream` clients.
    pub calls: Vec<u32>,
    /// Make the downstream calls all at once (fan-out) instead of one after another.
    pub fanout: bool,
    /// Servers are tasks that crash on a bad configuration and restart by loading state
    /// from a backing store.
    pub crash_loop: Option<CrashLoop>,
    /// Servers are edge nodes that crash asynchronously on a bad configuration, crash under
    /// sustained overload and come back by a cold reload ([`crate::edge`]).
    pub edge: Option<crate::edge::EdgeSpec>,
}

/// Crash-looping tasks: while the service's configuration is bad, a task crashes on the next
/// request it takes (answering it with an error); a crashed task waits its restart delay, then
/// loads its state from the backing store through the `store` call edge; if that call fails
/// (timeout, rejection) it waits again. A task that started while the configuration is still
/// bad crashes again on its next request.
#[derive(Clone, Debug, PartialEq)]
pub struct CrashLoop {
    /// Index of the `Mode::Downstream` client that makes the startup call.
    pub store: u32,
    /// Delay before restart `n` (1 = the first after a crash).
    pub backoff: crate::policy::Backoff,
    /// Restarts allowed per second across the service (token bucket: rate, burst).
    pub restart_rate: Option<(f64, f64)>,
}

#[derive(Clone, Debug)]
pub struct SinkSpec {
    pub name: String,
}

/// Something that happens *to* the system at a given time: a trigger or an operator action.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    /// Set an open-loop client's arrival rate.
    SetRate {
        client: u32,
        rate_per_s: f64,
    },
    /// Set a service's number of servers (work in progress finishes first on a decrease).
    SetServers {
        service: u32,
        servers: u32,
    },
    /// Multiply a service's service times by `factor` (1 = normal).
    SetSlowdown {
        service: u32,
        factor: f64,
    },
    SetErrorRate {
        service: u32,
        error_rate: f64,
    },
    /// The service goes dark: everything it holds is lost, arrivals vanish unanswered.
    Outage {
        service: u32,
    },
    /// The service comes back, empty.
    Restore {
        service: u32,
    },
    /// Switch a client's retries on or off.
    SetRetries {
        client: u32,
        enabled: bool,
    },
    /// Empty a client's cache.
    FlushCache {
        client: u32,
    },
    /// Make a service's configuration bad (its tasks crash-loop) or good (a kill switch).
    SetBadConfig {
        service: u32,
        bad: bool,
    },
    /// Empty (or restore) a service's DNS record.
    SetRecordEmpty {
        service: u32,
        empty: bool,
    },
    /// Throttle a crash-looping service's restarts (task creation) to `rate_per_s`, with a
    /// burst of one second's worth.
    SetRestartRate {
        service: u32,
        rate_per_s: f64,
    },
    /// Multiply the apply delays of DNS automation `automation`'s first enactor by `factor`.
    SetEnactorDelay {
        automation: u32,
        factor: f64,
    },
    /// The operator repairs every empty endpoint of DNS automation `automation`.
    DnsAutomationRestore {
        automation: u32,
    },
    /// Manual node recovery of an edge service: down nodes start their reloads, and every
    /// later crash reloads at once.
    EdgeRecover {
        service: u32,
    },
    /// Admit arrivals at a rate going linearly from `from_per_s` to `to_per_s` over `over`,
    /// then remove the limit (`over` = 0: remove it now).
    AdmitRamp {
        service: u32,
        from_per_s: f64,
        to_per_s: f64,
        over: SimDuration,
    },
    /// Config push `push` stops generating files (deliveries in flight are dropped).
    StopGeneration {
        push: u32,
    },
    /// Config push `push` inserts a known-good file, delivered to every machine.
    PushGood {
        push: u32,
    },
    /// A proxy service stops failing on a bad file (falls back to a fail-open path).
    ProxyFailOpen {
        service: u32,
    },
    /// A backlog, launches, or failover on/off at a load balancer.
    LoadBalancer {
        lb: u32,
        op: crate::health::Op,
    },
    /// Cap (or, with `None`, uncap) the rate of lease establishments a lease manager admits.
    LeaseThrottle {
        manager: u32,
        rate_per_s: Option<f64>,
    },
    /// Restart the first `hosts` hosts of a lease manager (their queued and running work is
    /// lost).
    RestartHosts {
        manager: u32,
        hosts: u32,
    },
}

#[derive(Clone, Debug, PartialEq)]
pub struct TimedAction {
    pub at: SimTime,
    pub action: Action,
}

#[derive(Clone, Debug, Default)]
pub struct WorldSpec {
    pub clients: Vec<ClientSpec>,
    pub services: Vec<ServiceSpec>,
    pub sinks: Vec<SinkSpec>,
    /// Triggers and operator actions, in time order (ties keep file order).
    pub actions: Vec<TimedAction>,
    /// Limit on requests alive at once across the world; reaching it stops the run with the
    /// reason `live_request_limit`.
    pub max_live_requests: u64,
    /// DNS automations (planner + enactors) driving services' DNS records.
    pub dns_automations: Vec<crate::dns_plan::DnsAutomationSpec>,
    pub config_pushes: Vec<crate::config_push::ConfigPushSpec>,
    /// Load balancers, each in front of one service whose server count it sets.
    pub load_balancers: Vec<crate::health::LoadBalancerSpec>,
    /// Lease managers (EC2 DWFM-like), see [`crate::lease`].
    pub lease_managers: Vec<crate::lease::LeaseSpec>,
}
