//! Validated, unit-resolved descriptions of components: what the scenario layer produces and
//! [`crate::World::build`] consumes. Names are already resolved to indices; every number is
//! finite and in range (the scenario layer guarantees it and reports violations with file,
//! line and field).

use crate::request_path::client::ClientSpec;
use crate::request_path::service::ServiceSpec;
use crate::request_path::sink::SinkSpec;
use sim_core::{SimDuration, SimTime};

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
    /// A network partition in front of the service (`on`) or its end: while it lasts, every
    /// request sent to the service is held in the network, and when it heals the held requests
    /// are delivered at once, in the order they were sent (TCP retransmits what it could not
    /// deliver: HotOS 2021 §2.1). The service keeps serving what it already holds.
    SetPartition {
        service: u32,
        on: bool,
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
        op: crate::infra::load_balancer::Op,
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
    pub dns_automations: Vec<crate::control::dns_automation::DnsAutomationSpec>,
    pub config_pushes: Vec<crate::control::config_push::ConfigPushSpec>,
    /// Load balancers, each in front of one service whose server count it sets.
    pub load_balancers: Vec<crate::infra::load_balancer::LoadBalancerSpec>,
    /// Lease managers (EC2 DWFM-like), see [`crate::control::lease`].
    pub lease_managers: Vec<crate::control::lease::LeaseSpec>,
    /// On-call teams as policies ([`crate::control::operator`]).
    pub operators: Vec<crate::control::operator::OperatorSpec>,
    /// How the incident's trigger is measured, if the scenario says.
    pub trigger_probe: Option<crate::control::operator::TriggerProbe>,
    /// Autoscalers, each setting one service's server count ([`crate::control::autoscaler`]).
    pub autoscalers: Vec<crate::control::autoscaler::AutoscalerSpec>,
}
