//! `[[lease_manager]]` tables (an EC2 DWFM-like lease manager, see `models::lease`) and the
//! `lease_throttle` / `lease_unthrottle` / `restart_hosts` operator actions: file schema,
//! validation (file, line and field in every error) and the validated spec.
//!
//! A child module of `scenario` so that it uses the same `Validator`.

use std::collections::BTreeMap;

use models::control::lease::{Feed, LeaseDiscipline, LeaseSpec, Renewal};
use models::{Action, Dist};
use serde::Deserialize;
use sim_core::SimDuration;

use super::common::{
    ActionKind, DistFile, Kind, MAX_DURATION_S, MAX_RATE_PER_S, Validator, num, p,
};
use super::locate::FieldPath;

/// Most lease managers in one scenario.
pub const MAX_LEASE_MANAGERS: usize = 64;
/// Most droplets of one manager, and of all managers together (memory: ≈ 40 bytes each).
pub const MAX_DROPLETS: i64 = 10_000_000;
pub const MAX_HOSTS: i64 = 100_000;
pub const MAX_WORKERS_PER_HOST: i64 = 10_000;

/// `[[lease_manager]]`.
#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct LeaseManagerFile {
    pub name: String,
    /// Leased hosts (N).
    pub droplets: i64,
    /// Manager hosts (H), each with its own work queue; droplet d belongs to host d mod H.
    pub hosts: i64,
    /// Jobs a manager host works on at once.
    #[serde(default = "one")]
    pub workers_per_host: i64,
    /// Every droplet checks in this often ("every few minutes").
    pub check_interval_s: f64,
    #[serde(default)]
    pub renewal_jitter: RenewalFile,
    /// For `renewal_jitter = "jittered"`: each interval is uniform in (1 ± fraction) × interval.
    pub jitter_fraction: Option<f64>,
    /// Lifetime of a granted lease: a constant (`lease_ttl_s`) or a distribution
    /// (`lease_ttl`), exactly one.
    pub lease_ttl_s: Option<f64>,
    pub lease_ttl: Option<DistFile>,
    /// Remaining lifetime of each lease at t = 0 (default: U(0,1) × a lease_ttl draw).
    pub initial_lease_remaining: Option<DistFile>,
    /// D: a job completing later than this after it was enqueued has timed out (wasted,
    /// requeued at the tail).
    pub job_timeout_s: f64,
    pub renew_time: DistFile,
    pub establish_time: DistFile,
    /// Work of a job whose dependency is unavailable (default: constant 10 ms).
    pub fail_time: Option<DistFile>,
    /// Service the jobs need: a job fails fast if it is down or its DNS record is empty.
    pub depends_on: Option<String>,
    /// Service whose error_rate is set to 1 − (fraction of droplets holding a lease).
    pub serves: Option<String>,
    /// Per host: refuse new (and requeued) jobs while the queue holds this many.
    pub max_queue: Option<i64>,
    #[serde(default)]
    pub discipline: LeaseDisciplineFile,
    /// Drop a job that has already waited job_timeout_s when a worker would start it.
    #[serde(default)]
    pub drop_expired: bool,
    /// A `[[load_balancer]]` whose network-propagation queue gets work from establishments.
    pub feeds: Option<String>,
    /// With `feeds`: propagation items per establishment (default 1).
    pub backlog_per_establishment: Option<f64>,
    /// With `feeds`: new load-balancer targets per establishment (default 0).
    pub targets_per_establishment: Option<f64>,
}

fn one() -> i64 {
    1
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum RenewalFile {
    /// Random phase per droplet, fixed interval.
    #[default]
    RandomPhase,
    /// All droplets check at the same instants.
    Synchronised,
    /// Random phase and a jittered interval.
    Jittered,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum LeaseDisciplineFile {
    #[default]
    Fifo,
    Lifo,
}

/// Whether `kind` is an action on a lease manager.
pub fn is_lease_action(kind: ActionKind) -> bool {
    matches!(
        kind,
        ActionKind::LeaseThrottle | ActionKind::LeaseUnthrottle | ActionKind::RestartHosts
    )
}

impl Validator<'_> {
    /// Validates every `[[lease_manager]]`; names must not clash with other components.
    pub(super) fn lease_managers(
        &mut self,
        raw: &[LeaseManagerFile],
        names: &BTreeMap<String, (Kind, usize)>,
        service_index: &BTreeMap<String, u32>,
    ) -> Vec<LeaseSpec> {
        if raw.len() > MAX_LEASE_MANAGERS {
            self.err(
                &p().key("lease_manager"),
                format!(
                    "{} lease managers; the limit is {MAX_LEASE_MANAGERS}",
                    raw.len()
                ),
            );
        }
        let mut seen: Vec<&str> = Vec::new();
        let mut total: i64 = 0;
        let mut out = Vec::new();
        for (i, f) in raw.iter().enumerate().take(MAX_LEASE_MANAGERS) {
            let path = p().key("lease_manager").index(i);
            self.name(&path.key("name"), &f.name);
            if let Some((k, _)) = names.get(&f.name) {
                self.err(
                    &path.key("name"),
                    format!(
                        "duplicate name {:?} (already used by a {})",
                        f.name,
                        k.as_str()
                    ),
                );
            } else if seen.contains(&f.name.as_str()) {
                self.err(
                    &path.key("name"),
                    format!(
                        "duplicate name {:?} (already used by a lease manager)",
                        f.name
                    ),
                );
            }
            seen.push(&f.name);
            let spec = self.lease_manager(&path, f, names, service_index);
            total += spec.droplets as i64;
            if total > MAX_DROPLETS {
                self.err(
                    &path.key("droplets"),
                    format!(
                        "{total} droplets over all lease managers; the limit is {MAX_DROPLETS}"
                    ),
                );
            }
            out.push(spec);
        }
        out
    }

    fn lease_manager(
        &mut self,
        path: &FieldPath,
        f: &LeaseManagerFile,
        names: &BTreeMap<String, (Kind, usize)>,
        service_index: &BTreeMap<String, u32>,
    ) -> LeaseSpec {
        let droplets = self.int_in(&path.key("droplets"), f.droplets, 1, MAX_DROPLETS) as u32;
        let hosts = self.int_in(&path.key("hosts"), f.hosts, 1, MAX_HOSTS) as u32;
        let workers = self.int_in(
            &path.key("workers_per_host"),
            f.workers_per_host,
            1,
            MAX_WORKERS_PER_HOST,
        ) as u32;
        let secs = |v: &mut Self, key: &str, x: f64| {
            let x = v.positive(&path.key(key), x, MAX_DURATION_S);
            let d = SimDuration::from_secs_f64(if x.is_finite() { x } else { 0.0 });
            if x.is_finite() && x > 0.0 && d.as_nanos() == 0 {
                v.err(&path.key(key), format!("rounds to 0 ns, got {}", num(x)));
            }
            d
        };
        let check_interval = secs(self, "check_interval_s", f.check_interval_s);
        let job_timeout = secs(self, "job_timeout_s", f.job_timeout_s);
        let renewal = match (f.renewal_jitter, f.jitter_fraction) {
            (RenewalFile::Jittered, fraction) => {
                let x = fraction.unwrap_or(0.5);
                let fp = path.key("jitter_fraction");
                if !(x.is_finite() && x > 0.0 && x < 1.0) {
                    self.err(&fp, format!("must be in (0, 1), got {}", num(x)));
                }
                Renewal::Jittered { fraction: x }
            }
            (_, Some(_)) => {
                self.err(
                    &path.key("jitter_fraction"),
                    "only applies with renewal_jitter = \"jittered\"",
                );
                Renewal::RandomPhase
            }
            (RenewalFile::RandomPhase, None) => Renewal::RandomPhase,
            (RenewalFile::Synchronised, None) => Renewal::Synchronised,
        };
        let lease_ttl = match (&f.lease_ttl_s, &f.lease_ttl) {
            (Some(s), None) => Dist::Constant {
                ns: secs(self, "lease_ttl_s", *s).as_nanos(),
            },
            (None, Some(d)) => self.dist(&path.key("lease_ttl"), d),
            (Some(_), Some(_)) => {
                self.err(
                    &path.key("lease_ttl"),
                    "give lease_ttl_s (a constant) or lease_ttl (a distribution), not both",
                );
                Dist::Constant { ns: 1 }
            }
            (None, None) => {
                self.err(
                    path,
                    "a lease manager needs lease_ttl_s (a constant) or lease_ttl (a distribution)",
                );
                Dist::Constant { ns: 1 }
            }
        };
        let initial_lease_remaining = f
            .initial_lease_remaining
            .as_ref()
            .map(|d| self.dist(&path.key("initial_lease_remaining"), d));
        let renew_time = self.dist(&path.key("renew_time"), &f.renew_time);
        let establish_time = self.dist(&path.key("establish_time"), &f.establish_time);
        let fail_time = match &f.fail_time {
            Some(d) => self.dist(&path.key("fail_time"), d),
            None => Dist::Constant { ns: 10_000_000 },
        };
        let service = |v: &mut Self, key: &str, name: &Option<String>| {
            let name = name.as_ref()?;
            match service_index.get(name) {
                Some(&s) => Some(s),
                None => {
                    v.err(&path.key(key), format!("no service named {name:?}"));
                    None
                }
            }
        };
        let depends_on = service(self, "depends_on", &f.depends_on);
        let serves = service(self, "serves", &f.serves);
        let feeds = self.lease_feed(path, f, names);
        let max_queue = f
            .max_queue
            .map(|q| self.int_in(&path.key("max_queue"), q, 1, 1_000_000_000) as u32);
        LeaseSpec {
            name: f.name.clone(),
            droplets,
            hosts,
            workers_per_host: workers,
            check_interval,
            renewal,
            lease_ttl,
            initial_lease_remaining,
            job_timeout,
            renew_time,
            establish_time,
            fail_time,
            depends_on,
            serves,
            max_queue,
            discipline: match f.discipline {
                LeaseDisciplineFile::Fifo => LeaseDiscipline::Fifo,
                LeaseDisciplineFile::Lifo => LeaseDiscipline::Lifo,
            },
            drop_expired: f.drop_expired,
            feeds,
        }
    }

    fn lease_feed(
        &mut self,
        path: &FieldPath,
        f: &LeaseManagerFile,
        names: &BTreeMap<String, (Kind, usize)>,
    ) -> Option<Feed> {
        let Some(name) = &f.feeds else {
            for (key, v) in [
                ("backlog_per_establishment", f.backlog_per_establishment),
                ("targets_per_establishment", f.targets_per_establishment),
            ] {
                if v.is_some() {
                    self.err(&path.key(key), "needs feeds = \"<load balancer>\"");
                }
            }
            return None;
        };
        let lb = match names.get(name) {
            Some((Kind::LoadBalancer, i)) => *i as u32,
            _ => {
                self.err(
                    &path.key("feeds"),
                    format!("no load balancer named {name:?}"),
                );
                return None;
            }
        };
        let backlog = f.backlog_per_establishment.map_or(1.0, |x| {
            self.non_negative(&path.key("backlog_per_establishment"), x, 1e6)
        });
        let targets = f.targets_per_establishment.map_or(0.0, |x| {
            self.non_negative(&path.key("targets_per_establishment"), x, 1e3)
        });
        Some(Feed {
            lb,
            backlog_per_establishment: backlog,
            targets_per_establishment: targets,
        })
    }

    /// `lease_throttle` (value: establishments admitted per second), `lease_unthrottle`,
    /// `restart_hosts` (value ≤ 1: a fraction of the hosts, rounded up; > 1: a whole number
    /// of hosts) on the lease manager named `target`.
    pub(super) fn lease_action(
        &mut self,
        ap: &FieldPath,
        kind: ActionKind,
        target: &str,
        value: Option<f64>,
        managers: &[LeaseSpec],
    ) -> Option<Action> {
        let Some(manager) = managers.iter().position(|m| m.name == target) else {
            self.err(
                &ap.key("target"),
                format!("no lease manager named {target:?}"),
            );
            return None;
        };
        let vpath = ap.key("value");
        let hosts = managers[manager].hosts;
        let manager = manager as u32;
        match (kind, value) {
            (ActionKind::LeaseUnthrottle, None) => Some(Action::LeaseThrottle {
                manager,
                rate_per_s: None,
            }),
            (ActionKind::LeaseUnthrottle, Some(_)) => {
                self.err(&vpath, "action lease_unthrottle takes no value");
                None
            }
            (ActionKind::LeaseThrottle, Some(v)) => {
                let r = self.positive(&vpath, v, MAX_RATE_PER_S);
                Some(Action::LeaseThrottle {
                    manager,
                    rate_per_s: Some(r),
                })
            }
            (ActionKind::RestartHosts, Some(v)) => {
                let ok = v.is_finite() && v > 0.0 && (v <= 1.0 || v.fract() == 0.0);
                if !ok || v > hosts as f64 {
                    self.err(
                        &vpath,
                        format!(
                            "must be a fraction in (0, 1] or a whole number of hosts in 2..={hosts}, got {}",
                            num(v)
                        ),
                    );
                    return None;
                }
                let k = if v <= 1.0 {
                    ((v * hosts as f64).ceil() as u32).clamp(1, hosts)
                } else {
                    v as u32
                };
                Some(Action::RestartHosts { manager, hosts: k })
            }
            (_, None) => {
                let name = if kind == ActionKind::LeaseThrottle {
                    "lease_throttle"
                } else {
                    "restart_hosts"
                };
                self.err(ap, format!("action {name} needs a value"));
                None
            }
            (_, Some(_)) => None,
        }
    }
}
