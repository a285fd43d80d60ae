//! Reading a run's metrics: each component's metric ids ([`ComponentIds`]) and its values over
//! one window or the summary period ([`Values`]), in the fixed metric columns shared by
//! `windows.csv` and `summary.csv` ([`METRIC_COLUMNS`], documented in the README).

use std::collections::BTreeMap;

use sim_core::{CounterId, GaugeId, HistId, HistStat, MetricRef, Recorder};

use crate::run::RunReport;
use crate::scenario::Kind;

/// Metric columns, in order, shared by `windows.csv` and `summary.csv`.
pub const METRIC_COLUMNS: &[&str] = &[
    "first_tries",
    "retries",
    "attempts",
    "successes",
    "give_ups",
    "arrivals",
    "completions",
    "goodput",
    "wasted",
    "expired",
    "shed",
    "rejected",
    "timeouts",
    "errors",
    "circuit_open",
    "budget_exhausted",
    "throttled",
    "lost",
    "cache_hits",
    "cache_misses",
    "hit_rate",
    "dns_failures",
    "crashes",
    "restarts",
    "overload_crashes",
    "tasks_down_mean",
    "amplification",
    "throughput_per_s",
    "goodput_per_s",
    "in_flight_mean",
    "queue_len_mean",
    "queue_len_max",
    "queue_len_end",
    "busy_mean",
    "utilisation",
    "call_ok_ms_mean",
    "call_ok_ms_p50",
    "call_ok_ms_p90",
    "call_ok_ms_p99",
    "call_ok_ms_p999",
    "call_ok_ms_max",
    "call_all_ms_mean",
    "call_all_ms_p50",
    "call_all_ms_p90",
    "call_all_ms_p99",
    "call_all_ms_p999",
    "call_all_ms_max",
    "sojourn_ms_mean",
    "sojourn_ms_p50",
    "sojourn_ms_p90",
    "sojourn_ms_p99",
    "sojourn_ms_p999",
    "sojourn_ms_max",
    "task_ms_mean",
    "task_ms_p50",
    "task_ms_p90",
    "task_ms_p99",
    "task_ms_p999",
    "task_ms_max",
    "wait_ms_mean",
    "plans",
    "applies",
    "stale_applies",
    "races",
    "records_empty_mean",
    "files_good",
    "files_bad",
    "rollout_halts",
    "bad_servers_mean",
    "degraded",
    "checks",
    "checks_failed",
    "checks_late",
    "flaps",
    "failovers",
    "targets_in_service_mean",
    "targets_healthy_mean",
    "targets_pending_mean",
    "zones_failed_mean",
    "zones_failed_max",
    "failover_removed_max",
    "netmgr_backlog_mean",
    "establishments",
    "renewals",
    "leases_held_mean",
    "lease_fraction_mean",
    "stale_answers",
    "bulkhead_rejected",
    "hedges",
    "hedge_wins",
    "hedges_cancelled",
    "hedges_denied",
    "hedge_extra_load",
    "hedge_delay_ms_mean",
    "scale_outs",
    "scale_ins",
    "launch_failures",
    "servers_mean",
    "servers_max",
    "servers_pending_mean",
];

/// The metric ids of one component (those it has).
#[derive(Clone, Debug)]
pub struct ComponentIds {
    /// The component's name (`api`, or `api->db` for a call edge).
    pub name: String,
    /// What kind of component it is.
    pub kind: Kind,
    /// Servers of a service (a load balancer's checker workers); `None` for other kinds.
    pub servers: Option<u32>,
    /// Each name of [`COUNTERS`] resolved once, by its index there (`None`: not recorded).
    counters: [Option<CounterId>; COUNTERS.len()],
    #[doc(hidden)]
    pub in_flight: Option<GaugeId>,
    #[doc(hidden)]
    pub queue_len: Option<GaugeId>,
    #[doc(hidden)]
    pub busy: Option<GaugeId>,
    #[doc(hidden)]
    pub tasks_down: Option<GaugeId>,
    /// Client or sink: end-to-end latency of successful calls (`call_ok_ms_*`).
    #[doc(hidden)]
    pub call_ok: Option<HistId>,
    /// Client or sink: end-to-end latency of every call, a failed one until it gave up
    /// (`call_all_ms_*`).
    #[doc(hidden)]
    pub call_all: Option<HistId>,
    /// Service: sojourn time, arrival → completion (`sojourn_ms_*`).
    #[doc(hidden)]
    pub sojourn: Option<HistId>,
    /// DNS automation enactor runs, load balancer health checks (`task_ms_*`).
    #[doc(hidden)]
    pub task: Option<HistId>,
    #[doc(hidden)]
    pub records_empty: Option<GaugeId>,
    /// Config push: fraction of machines holding a bad file.
    #[doc(hidden)]
    pub bad_servers: Option<GaugeId>,
    /// A load balancer's gauges, by their index in [`LB_GAUGES`].
    lb_gauges: [Option<GaugeId>; LB_GAUGES.len()],
    #[doc(hidden)]
    pub leases_held: Option<GaugeId>,
    #[doc(hidden)]
    pub lease_fraction: Option<GaugeId>,
    /// A hedging client's hedge delay in force (ms).
    pub hedge_delay_ms: Option<GaugeId>,
    /// An autoscaled service's servers in service.
    pub servers_gauge: Option<GaugeId>,
    /// An autoscaled service's launches in flight.
    pub servers_pending: Option<GaugeId>,
}

/// Gauges of a load balancer (`models::infra::load_balancer`).
const LB_GAUGES: &[&str] = &[
    "targets_in_service",
    "targets_healthy",
    "targets_pending",
    "zones_failed",
    "failover_removed",
    "netmgr_backlog",
];

impl ComponentIds {
    /// The id of counter `name` (one of the models' counter names), if the component records
    /// it: resolve it once, then read each window with `Recorder::counter_in`, for a reader
    /// that needs a few counters and not every [`Values`] field.
    pub(crate) fn counter_id(&self, name: &str) -> Option<CounterId> {
        let i = COUNTERS.iter().position(|n| *n == name);
        debug_assert!(i.is_some(), "{name} is not a counter name");
        self.counters[i?]
    }
}

/// The index of `name` in `names`, at compile time (a name missing is a build error).
const fn index_of(names: &[&str], name: &str) -> usize {
    let mut i = 0;
    while i < names.len() {
        let (a, b) = (names[i].as_bytes(), name.as_bytes());
        if a.len() == b.len() {
            let mut j = 0;
            while j < a.len() && a[j] == b[j] {
                j += 1;
            }
            if j == a.len() {
                return i;
            }
        }
        i += 1;
    }
    panic!("not a known metric name")
}

/// Where values are read from: one window, or the summary period.
#[derive(Clone, Copy)]
enum Src {
    Window(usize),
    Summary,
}

/// A component's metric values over one window or over the summary period.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Values {
    /// Calls started (source, client, call).
    pub first_tries: Option<u64>,
    /// Retry attempts (source, client, call).
    pub retries: Option<u64>,
    /// Calls that succeeded (source, client, call).
    pub successes: Option<u64>,
    /// Calls that ended without success (at a sink: the failed calls it received).
    pub give_ups: Option<u64>,
    /// Requests that reached the service.
    pub arrivals: Option<u64>,
    /// Requests completed (at the service; end-to-end at a sink).
    pub completions: Option<u64>,
    /// Completions whose caller was still waiting and got an answer without error (service).
    pub goodput: Option<u64>,
    /// Completions nobody was waiting for any more (service).
    pub wasted: Option<u64>,
    /// Work dropped unserved because its caller had stopped waiting (`drop_expired`,
    /// `queue_abandonment`).
    pub expired: Option<u64>,
    /// Work a service dropped from its queue (CoDel, queue-age limit), answered "rejected".
    pub shed: Option<u64>,
    /// Rejections: at a service, requests it turned away; at a client, attempts turned away.
    pub rejected: Option<u64>,
    /// Attempts that timed out (client, call).
    pub timeouts: Option<u64>,
    /// Attempts answered with an error (client, call).
    pub errors: Option<u64>,
    /// Attempts failed at once by an open circuit breaker (client, call).
    pub circuit_open: Option<u64>,
    /// Retries denied by the retry budget (client, call).
    pub budget_exhausted: Option<u64>,
    /// Attempts a client's own throttle rejected before sending.
    pub throttled: Option<u64>,
    /// Work lost to an outage (service).
    pub lost: Option<u64>,
    /// Cache lookups that hit (client with a cache).
    pub cache_hits: Option<u64>,
    /// Cache lookups that missed (client with a cache).
    pub cache_misses: Option<u64>,
    /// Calls failed at once because the target's name resolved to nothing (client with `dns`).
    pub dns_failures: Option<u64>,
    /// Task crashes (service with `crash_loop`, edge nodes).
    pub crashes: Option<u64>,
    /// Restart attempts (service with `crash_loop`).
    pub restarts: Option<u64>,
    /// Edge nodes that crashed from sustained overload (a subset of `crashes`).
    pub overload_crashes: Option<u64>,
    /// Time-weighted mean of tasks down (service with `crash_loop`).
    pub tasks_down_mean: Option<f64>,
    /// `completions` ÷ period length (service, sink).
    pub throughput_per_s: Option<f64>,
    /// Useful completions per second: a client's successes, a service's goodput.
    pub goodput_per_s: Option<f64>,
    /// Time-weighted mean of calls in progress (client, call).
    pub in_flight_mean: Option<f64>,
    /// Time-weighted mean of requests waiting (service).
    pub queue_len_mean: Option<f64>,
    /// Most requests waiting at once (service).
    pub queue_len_max: Option<f64>,
    /// Queue length when the window closed (summary: when the run ended).
    pub queue_len_end: Option<f64>,
    /// Time-weighted mean of busy servers (service).
    pub busy_mean: Option<f64>,
    /// `busy_mean ÷ servers` (service).
    pub utilisation: Option<f64>,
    /// Client or sink: end-to-end latency of successful calls only (first try → success).
    pub call_ok: Option<HistStat>,
    /// Client or sink: end-to-end latency of every call; a failed call counts from its first
    /// try until it gave up.
    pub call_all: Option<HistStat>,
    /// Service: sojourn time (arrival → completion).
    pub sojourn: Option<HistStat>,
    /// DNS automation enactor run durations, load balancer health-check latency.
    pub task: Option<HistStat>,
    /// Mean time from arrival to start of service, ms (service).
    pub wait_ms_mean: Option<f64>,
    /// Arrivals that found no idle server and waited in the queue (services with
    /// `queue_abandonment` only; not a CSV column — the theory tests' P(wait > 0)).
    pub queued: Option<u64>,
    /// DNS automation: plans produced, applies, applies of a plan older than the endpoint's,
    /// races (endpoints emptied), mean number of empty endpoints.
    pub plans: Option<u64>,
    /// DNS automation: plans applied.
    pub applies: Option<u64>,
    /// DNS automation: applies of a plan older than the endpoint's.
    pub stale_applies: Option<u64>,
    /// DNS automation: races that emptied an endpoint.
    pub races: Option<u64>,
    /// DNS automation: time-weighted mean number of empty endpoints.
    pub records_empty_mean: Option<f64>,
    /// Config push: files generated (or pushed) good and bad, rollouts halted, mean fraction
    /// of machines holding a bad file; a fail-open proxy's degraded answers.
    pub files_good: Option<u64>,
    /// Config push: bad files generated (or pushed).
    pub files_bad: Option<u64>,
    /// Config push: rollouts halted.
    pub rollout_halts: Option<u64>,
    /// Config push: time-weighted mean fraction of machines holding a bad file.
    pub bad_servers_mean: Option<f64>,
    /// Config push: a fail-open proxy's degraded answers.
    pub degraded: Option<u64>,
    /// Load balancer: health checks done, failed, late (result after the timeout).
    pub checks: Option<u64>,
    /// Load balancer: health checks that failed.
    pub checks_failed: Option<u64>,
    /// Load balancer: health checks whose result came after the timeout.
    pub checks_late: Option<u64>,
    /// Load balancer: target health state changes, and zones failed away.
    pub flaps: Option<u64>,
    /// Load balancer: zones failed away.
    pub failovers: Option<u64>,
    /// Load balancer: time-weighted mean of targets in service.
    pub targets_in_service_mean: Option<f64>,
    /// Load balancer: time-weighted mean of targets healthy.
    pub targets_healthy_mean: Option<f64>,
    /// Load balancer: time-weighted mean of targets pending a health decision.
    pub targets_pending_mean: Option<f64>,
    /// Load balancer: time-weighted mean of zones failed away.
    pub zones_failed_mean: Option<f64>,
    /// Load balancer: most zones failed away at once.
    pub zones_failed_max: Option<f64>,
    /// Most targets zone failover held out of service at once.
    pub failover_removed_max: Option<f64>,
    /// Load balancer: time-weighted mean of the network-propagation backlog.
    pub netmgr_backlog_mean: Option<f64>,
    /// Lease managers: leases granted to droplets without one, and renewed.
    pub establishments: Option<u64>,
    /// Lease managers: leases renewed.
    pub renewals: Option<u64>,
    /// Lease managers: time-weighted mean of leases held.
    pub leases_held_mean: Option<f64>,
    /// Lease managers: time-weighted mean fraction of droplets holding a lease.
    pub lease_fraction_mean: Option<f64>,
    /// Calls whose origin failed that a stale cache entry answered (stale-if-error).
    pub stale_answers: Option<u64>,
    /// Calls a full bulkhead refused (call edges with `bulkhead`).
    pub bulkhead_rejected: Option<u64>,
    /// Hedging client: hedge copies sent.
    pub hedges: Option<u64>,
    /// Hedging client: successful answers that came from the hedge copy.
    pub hedge_wins: Option<u64>,
    /// Hedging client: losing copies cancelled.
    pub hedges_cancelled: Option<u64>,
    /// Hedging client: hedges the hedge budget refused.
    pub hedges_denied: Option<u64>,
    /// Hedging client: time-weighted mean hedge delay in force (ms).
    pub hedge_delay_ms_mean: Option<f64>,
    /// Autoscaled service: instances requested by scale-outs.
    pub scale_outs: Option<u64>,
    /// Autoscaled service: instances removed by scale-ins.
    pub scale_ins: Option<u64>,
    /// Autoscaled service: launches the control plane failed.
    pub launch_failures: Option<u64>,
    /// Autoscaled service: time-weighted mean of servers in service.
    pub servers_mean: Option<f64>,
    /// Autoscaled service: most servers in service at once.
    pub servers_max: Option<f64>,
    /// Autoscaled service: time-weighted mean of launches in flight.
    pub servers_pending_mean: Option<f64>,
}

impl Values {
    /// First tries plus retries.
    pub fn attempts(&self) -> Option<u64> {
        self.first_tries.map(|f| f + self.retries.unwrap_or(0))
    }

    /// Cache hits ÷ lookups (`None` without a cache or lookups).
    pub fn hit_rate(&self) -> Option<f64> {
        let (h, m) = (self.cache_hits?, self.cache_misses?);
        (h + m > 0).then(|| h as f64 / (h + m) as f64)
    }

    /// Hedge copies per attempt sent (the extra load hedging adds; `None` without hedging).
    pub fn hedge_extra_load(&self) -> Option<f64> {
        let h = self.hedges?;
        let a = self.attempts()?;
        (a > 0).then(|| h as f64 / a as f64)
    }

    /// Attempts per first try (`None` without first tries).
    pub fn amplification(&self) -> Option<f64> {
        let f = self.first_tries?;
        (f > 0).then(|| self.attempts().unwrap_or(f) as f64 / f as f64)
    }

    /// The [`METRIC_COLUMNS`] cells as strings (empty where a metric does not apply).
    pub(crate) fn cells(&self) -> Vec<String> {
        let mut cells = Vec::with_capacity(METRIC_COLUMNS.len());
        self.each_cell(|c| {
            let mut b = Vec::new();
            c.write(&mut b);
            cells.push(String::from_utf8(b).unwrap_or_default());
        });
        debug_assert_eq!(cells.len(), METRIC_COLUMNS.len());
        cells
    }

    /// The [`METRIC_COLUMNS`] cells appended to `out`, each after a comma: the bytes
    /// [`Values::cells`] joined would give, without a string per cell. A number never needs
    /// CSV quoting (no comma, quote or line break), so they go in as they are.
    pub(crate) fn write_cells(&self, out: &mut Vec<u8>) {
        self.each_cell(|c| {
            out.push(b',');
            c.write(out);
        });
    }

    /// Calls `f` with each cell, in [`METRIC_COLUMNS`] order.
    fn each_cell(&self, mut f: impl FnMut(Cell)) {
        let int = Cell::Int;
        let flt = Cell::Float;
        let ms = |x: Option<u64>| Cell::Float(x.map(|v| v as f64 / 1e6));
        let hist = |h: Option<HistStat>| {
            let h = h.unwrap_or_default();
            [
                flt(h.mean.map(|m| m / 1e6)),
                ms(h.p50),
                ms(h.p90),
                ms(h.p99),
                ms(h.p999),
                ms(h.max),
            ]
        };
        let head = [
            int(self.first_tries),
            int(self.retries),
            int(self.attempts()),
            int(self.successes),
            int(self.give_ups),
            int(self.arrivals),
            int(self.completions),
            int(self.goodput),
            int(self.wasted),
            int(self.expired),
            int(self.shed),
            int(self.rejected),
            int(self.timeouts),
            int(self.errors),
            int(self.circuit_open),
            int(self.budget_exhausted),
            int(self.throttled),
            int(self.lost),
            int(self.cache_hits),
            int(self.cache_misses),
            flt(self.hit_rate()),
            int(self.dns_failures),
            int(self.crashes),
            int(self.restarts),
            int(self.overload_crashes),
            flt(self.tasks_down_mean),
            flt(self.amplification()),
            flt(self.throughput_per_s),
            flt(self.goodput_per_s),
            flt(self.in_flight_mean),
            flt(self.queue_len_mean),
            flt(self.queue_len_max),
            flt(self.queue_len_end),
            flt(self.busy_mean),
            flt(self.utilisation),
        ];
        head.into_iter().for_each(&mut f);
        for h in [self.call_ok, self.call_all, self.sojourn, self.task] {
            hist(h).into_iter().for_each(&mut f);
        }
        let tail = [
            flt(self.wait_ms_mean),
            int(self.plans),
            int(self.applies),
            int(self.stale_applies),
            int(self.races),
            flt(self.records_empty_mean),
            int(self.files_good),
            int(self.files_bad),
            int(self.rollout_halts),
            flt(self.bad_servers_mean),
            int(self.degraded),
            int(self.checks),
            int(self.checks_failed),
            int(self.checks_late),
            int(self.flaps),
            int(self.failovers),
            flt(self.targets_in_service_mean),
            flt(self.targets_healthy_mean),
            flt(self.targets_pending_mean),
            flt(self.zones_failed_mean),
            flt(self.zones_failed_max),
            flt(self.failover_removed_max),
            flt(self.netmgr_backlog_mean),
            int(self.establishments),
            int(self.renewals),
            flt(self.leases_held_mean),
            flt(self.lease_fraction_mean),
            int(self.stale_answers),
            int(self.bulkhead_rejected),
            int(self.hedges),
            int(self.hedge_wins),
            int(self.hedges_cancelled),
            int(self.hedges_denied),
            flt(self.hedge_extra_load()),
            flt(self.hedge_delay_ms_mean),
            int(self.scale_outs),
            int(self.scale_ins),
            int(self.launch_failures),
            flt(self.servers_mean),
            flt(self.servers_max),
            flt(self.servers_pending_mean),
        ];
        tail.into_iter().for_each(f);
    }
}

/// One metric cell: a count, or a number written with Rust's shortest round-trip `Display`
/// (empty when `None`).
#[derive(Clone, Copy)]
enum Cell {
    Int(Option<u64>),
    Float(Option<f64>),
}

impl Cell {
    /// Appends the cell's text to `out` (nothing for `None`).
    fn write(self, out: &mut Vec<u8>) {
        match self {
            Cell::Int(Some(v)) => write_u64(out, v),
            Cell::Float(Some(v)) => write_f64(out, v),
            Cell::Int(None) | Cell::Float(None) => {}
        }
    }
}

/// Appends `v` as `v.to_string()` writes it (shortest round-trip, never an exponent). A whole
/// number below 2⁵³ in magnitude, which `Display` writes as its digits alone (`3`, `-12`), is
/// written by [`write_u64`]; any other value goes through `Display`.
pub(crate) fn write_f64(out: &mut Vec<u8>, v: f64) {
    const EXACT: f64 = (1u64 << 53) as f64;
    let a = v.abs();
    // `-0.0` is written `-0`: left to `Display`.
    if a < EXACT && a.trunc() == a && !(v == 0.0 && v.is_sign_negative()) {
        if v < 0.0 {
            out.push(b'-');
        }
        write_u64(out, a as u64);
    } else {
        use std::io::Write as _;
        // Writing to a Vec cannot fail.
        let _ = write!(out, "{v}");
    }
}

/// Appends `v` in decimal, as `v.to_string()` writes it.
pub(crate) fn write_u64(out: &mut Vec<u8>, mut v: u64) {
    let mut buf = [0u8; 20];
    let mut i = buf.len();
    loop {
        i -= 1;
        buf[i] = b'0' + (v % 10) as u8;
        v /= 10;
        if v == 0 {
            break;
        }
    }
    out.extend_from_slice(&buf[i..]);
}

fn counter(rec: &Recorder, owner: &str, name: &str) -> Option<CounterId> {
    match rec.find(owner, name) {
        Some(MetricRef::Counter(c)) => Some(c),
        _ => None,
    }
}
fn gauge(rec: &Recorder, owner: &str, name: &str) -> Option<GaugeId> {
    match rec.find(owner, name) {
        Some(MetricRef::Gauge(g)) => Some(g),
        _ => None,
    }
}
fn hist(rec: &Recorder, owner: &str, name: &str) -> Option<HistId> {
    match rec.find(owner, name) {
        Some(MetricRef::Hist(h)) => Some(h),
        _ => None,
    }
}

/// Counter names a component may have (the models' metric vocabulary).
const COUNTERS: &[&str] = &[
    "first_tries",
    "retries",
    "successes",
    "give_ups",
    "arrivals",
    "completions",
    "goodput",
    "wasted",
    "expired",
    "shed",
    "rejected",
    "rejections",
    "timeouts",
    "errors",
    "circuit_open",
    "budget_exhausted",
    "throttled",
    "lost",
    "cache_hits",
    "cache_misses",
    "dns_failures",
    "crashes",
    "restarts",
    "overload_crashes",
    "failures",
    "started",
    "wait_ns",
    "queued",
    "plans",
    "applies",
    "stale_applies",
    "races",
    "files_good",
    "files_bad",
    "rollout_halts",
    "degraded",
    "checks",
    "checks_failed",
    "checks_late",
    "flaps",
    "failovers",
    "establishments",
    "renewals",
    "stale_answers",
    "bulkhead_rejected",
    "hedges",
    "hedge_wins",
    "hedges_cancelled",
    "hedges_denied",
    "scale_outs",
    "scale_ins",
    "launch_failures",
];

impl RunReport {
    /// Metric ids of every component, in report order.
    pub fn component_ids(&self) -> Vec<ComponentIds> {
        let rec = &self.rec;
        // Servers by name (a service's, else a load balancer's checker workers), first wins:
        // one map instead of a scan per component, so the cost is O(C log C), not O(C²).
        let mut servers: BTreeMap<&str, u32> = BTreeMap::new();
        let world = &self.scenario.world;
        for s in &world.services {
            servers.entry(s.name.as_str()).or_insert(s.servers);
        }
        for l in &world.load_balancers {
            servers.entry(l.name.as_str()).or_insert(l.checker_workers);
        }
        self.scenario
            .components
            .iter()
            .map(|(name, kind)| ComponentIds {
                name: name.clone(),
                kind: *kind,
                servers: servers.get(name.as_str()).copied(),
                counters: std::array::from_fn(|i| counter(rec, name, COUNTERS[i])),
                in_flight: gauge(rec, name, "in_flight"),
                queue_len: gauge(rec, name, "queue_len"),
                busy: gauge(rec, name, "busy"),
                tasks_down: gauge(rec, name, "tasks_down"),
                call_ok: hist(rec, name, "call_ok"),
                call_all: hist(rec, name, "call_all"),
                sojourn: hist(rec, name, "sojourn"),
                task: hist(rec, name, "task"),
                records_empty: gauge(rec, name, "records_empty"),
                bad_servers: gauge(rec, name, "bad_servers"),
                lb_gauges: std::array::from_fn(|i| gauge(rec, name, LB_GAUGES[i])),
                leases_held: gauge(rec, name, "leases_held"),
                lease_fraction: gauge(rec, name, "lease_fraction"),
                hedge_delay_ms: gauge(rec, name, "hedge_delay_ms"),
                servers_gauge: gauge(rec, name, "servers"),
                servers_pending: gauge(rec, name, "servers_pending"),
            })
            .collect()
    }

    fn values(&self, c: &ComponentIds, src: Src) -> Values {
        let rec = &self.rec;
        let span_s = match src {
            Src::Window(w) => {
                let (start, end) = rec.window_bounds(w);
                end.since(start).as_secs_f64()
            }
            Src::Summary => rec.summary_span().as_secs_f64(),
        };
        let cnt_at = |i: usize| {
            c.counters[i].map(|id| match src {
                Src::Window(w) => rec.counter_in(w, id),
                Src::Summary => rec.counter_total(id),
            })
        };
        // A counter by name, its index resolved at compile time.
        macro_rules! cnt {
            ($name:literal) => {
                cnt_at(const { index_of(COUNTERS, $name) })
            };
        }
        let gauge = |g: Option<GaugeId>| {
            g.map(|g| match src {
                Src::Window(w) => rec.gauge_in(w, g),
                Src::Summary => rec.gauge_total(g),
            })
        };
        let hist = |h: Option<HistId>| {
            h.map(|h| match src {
                Src::Window(w) => rec.hist_in(w, h),
                Src::Summary => HistStat::of(rec.hist_total(h)),
            })
        };
        // A load balancer's gauge by name, its index resolved at compile time.
        macro_rules! lb {
            ($name:literal) => {
                gauge(c.lb_gauges[const { index_of(LB_GAUGES, $name) }])
            };
        }
        let per_s = |n: Option<u64>| n.filter(|_| span_s > 0.0).map(|n| n as f64 / span_s);
        let successes = cnt!("successes");
        let goodput = cnt!("goodput");
        let completions = cnt!("completions");
        let busy = gauge(c.busy);
        let queue = gauge(c.queue_len);
        Values {
            first_tries: cnt!("first_tries"),
            retries: cnt!("retries"),
            successes,
            give_ups: cnt!("give_ups").or(cnt!("failures")),
            arrivals: cnt!("arrivals"),
            completions,
            goodput,
            wasted: cnt!("wasted"),
            expired: cnt!("expired"),
            shed: cnt!("shed"),
            rejected: cnt!("rejected").or(cnt!("rejections")),
            timeouts: cnt!("timeouts"),
            errors: cnt!("errors"),
            circuit_open: cnt!("circuit_open"),
            budget_exhausted: cnt!("budget_exhausted"),
            throttled: cnt!("throttled"),
            lost: cnt!("lost"),
            cache_hits: cnt!("cache_hits"),
            cache_misses: cnt!("cache_misses"),
            dns_failures: cnt!("dns_failures"),
            crashes: cnt!("crashes"),
            restarts: cnt!("restarts"),
            overload_crashes: cnt!("overload_crashes"),
            tasks_down_mean: gauge(c.tasks_down).map(|g| g.mean),
            throughput_per_s: per_s(completions),
            goodput_per_s: per_s(successes.or(goodput)),
            in_flight_mean: gauge(c.in_flight).map(|g| g.mean),
            queue_len_mean: queue.map(|g| g.mean),
            queue_len_max: queue.map(|g| g.max),
            queue_len_end: queue.map(|g| g.end),
            busy_mean: busy.map(|g| g.mean),
            // An autoscaled service divides by its mean server count, others by their servers.
            utilisation: match gauge(c.servers_gauge) {
                Some(n) => busy.map(|g| g.mean / n.mean.max(1.0)),
                None => busy.zip(c.servers).map(|(g, s)| g.mean / s.max(1) as f64),
            },
            call_ok: hist(c.call_ok),
            call_all: hist(c.call_all),
            sojourn: hist(c.sojourn),
            task: hist(c.task),
            wait_ms_mean: cnt!("wait_ns")
                .zip(cnt!("started"))
                .filter(|&(_, n)| n > 0)
                .map(|(w, n)| w as f64 / n as f64 / 1e6),
            queued: cnt!("queued"),
            plans: cnt!("plans"),
            applies: cnt!("applies"),
            stale_applies: cnt!("stale_applies"),
            races: cnt!("races"),
            records_empty_mean: gauge(c.records_empty).map(|g| g.mean),
            files_good: cnt!("files_good"),
            files_bad: cnt!("files_bad"),
            rollout_halts: cnt!("rollout_halts"),
            bad_servers_mean: gauge(c.bad_servers).map(|g| g.mean),
            degraded: cnt!("degraded"),
            checks: cnt!("checks"),
            checks_failed: cnt!("checks_failed"),
            checks_late: cnt!("checks_late"),
            flaps: cnt!("flaps"),
            failovers: cnt!("failovers"),
            targets_in_service_mean: lb!("targets_in_service").map(|g| g.mean),
            targets_healthy_mean: lb!("targets_healthy").map(|g| g.mean),
            targets_pending_mean: lb!("targets_pending").map(|g| g.mean),
            zones_failed_mean: lb!("zones_failed").map(|g| g.mean),
            zones_failed_max: lb!("zones_failed").map(|g| g.max),
            failover_removed_max: lb!("failover_removed").map(|g| g.max),
            netmgr_backlog_mean: lb!("netmgr_backlog").map(|g| g.mean),
            establishments: cnt!("establishments"),
            renewals: cnt!("renewals"),
            leases_held_mean: gauge(c.leases_held).map(|g| g.mean),
            lease_fraction_mean: gauge(c.lease_fraction).map(|g| g.mean),
            stale_answers: cnt!("stale_answers"),
            bulkhead_rejected: cnt!("bulkhead_rejected"),
            hedges: cnt!("hedges"),
            hedge_wins: cnt!("hedge_wins"),
            hedges_cancelled: cnt!("hedges_cancelled"),
            hedges_denied: cnt!("hedges_denied"),
            hedge_delay_ms_mean: gauge(c.hedge_delay_ms).map(|g| g.mean),
            scale_outs: cnt!("scale_outs"),
            scale_ins: cnt!("scale_ins"),
            launch_failures: cnt!("launch_failures"),
            servers_mean: gauge(c.servers_gauge).map(|g| g.mean),
            servers_max: gauge(c.servers_gauge).map(|g| g.max),
            servers_pending_mean: gauge(c.servers_pending).map(|g| g.mean),
        }
    }

    /// Values of component `c` in window `w`.
    pub fn window_values(&self, c: &ComponentIds, w: usize) -> Values {
        self.values(c, Src::Window(w))
    }

    /// Values of component `c` over the summary period (warm-up excluded).
    pub fn summary_values(&self, c: &ComponentIds) -> Values {
        self.values(c, Src::Summary)
    }

    /// Summary values of the component named `name`.
    pub fn summary_of(&self, name: &str) -> Option<Values> {
        self.component_ids()
            .into_iter()
            .find(|c| c.name == name)
            .map(|c| self.summary_values(&c))
    }

    /// Component `name`'s values in every window, with each window's start in seconds: the
    /// rows of `windows.csv` for that component.
    ///
    /// ```
    /// let sc = metastable::load("scenarios/hotos-retry.toml".as_ref()).unwrap();
    /// let report = metastable::run(&sc, sc.seed);
    /// let web = report.series_of("web").unwrap();
    /// assert_eq!(web.len(), 300); // 300 s in 1 s windows
    /// // Retries double the load after the 10 s partition at t = 60 s, and it stays doubled.
    /// let amp = |t: usize| web[t].1.amplification().unwrap();
    /// assert!(amp(30) < 1.05 && amp(200) > 1.8, "{} {} (seed {})", amp(30), amp(200), sc.seed);
    /// ```
    pub fn series_of(&self, name: &str) -> Option<Vec<(f64, Values)>> {
        let ids = self.component_ids();
        let c = ids.iter().find(|c| c.name == name)?;
        Some(
            (0..self.rec.n_windows())
                .map(|w| {
                    let start = self.rec.window_bounds(w).0.as_secs_f64();
                    (start, self.window_values(c, w))
                })
                .collect(),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn numbers_are_written_as_to_string_writes_them() {
        let mut floats = vec![
            0.0,
            -0.0,
            1.0,
            -1.0,
            0.1,
            0.5,
            -2.5,
            3.0,
            1e6,
            1e15,
            1e16,
            1e21,
            1e-7,
            123456.789,
            (1u64 << 53) as f64,
            (1u64 << 53) as f64 - 1.0,
            -((1u64 << 53) as f64),
            f64::MAX,
            f64::MIN_POSITIVE,
            f64::EPSILON,
            f64::INFINITY,
            f64::NEG_INFINITY,
            f64::NAN,
        ];
        // Ratios and ms values like the ones the columns hold.
        floats.extend((0..2000).map(|i| i as f64 / 7.0));
        floats.extend((0..2000).map(|i| (i * 1_000_037) as f64 / 1e6));
        for v in floats {
            let mut b = Vec::new();
            write_f64(&mut b, v);
            assert_eq!(String::from_utf8(b).unwrap(), v.to_string(), "{v:?}");
        }
        for v in [0, 1, 9, 10, 99, 100, 12345, u32::MAX as u64, u64::MAX] {
            let mut b = Vec::new();
            write_u64(&mut b, v);
            assert_eq!(String::from_utf8(b).unwrap(), v.to_string());
        }
    }

    #[test]
    fn written_cells_are_the_cells_joined() {
        let v = Values {
            first_tries: Some(10),
            retries: Some(3),
            successes: Some(9),
            cache_hits: Some(1),
            cache_misses: Some(2),
            queue_len_mean: Some(0.25),
            queue_len_max: Some(-0.0),
            call_ok: Some(HistStat {
                count: 2,
                mean: Some(1_500_000.0),
                p50: Some(1_000_000),
                p90: Some(2_000_001),
                p99: None,
                p999: None,
                max: Some(u64::MAX),
            }),
            ..Values::default()
        };
        let mut b = Vec::new();
        v.write_cells(&mut b);
        let joined: String = v.cells().iter().map(|c| format!(",{c}")).collect();
        assert_eq!(String::from_utf8(b).unwrap(), joined);
        assert_eq!(v.cells().len(), METRIC_COLUMNS.len());
    }
}
