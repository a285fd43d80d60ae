//! Validation of clients and sources: modes and schedules, timeouts, retry policies,
//! budgets, breakers and throttles, caches and DNS.

use std::collections::BTreeMap;

use models::policy::{
    self, AwsAdaptiveConfig, AwsQuotaConfig, Backoff, BackoffKind, BrookerBucketConfig,
    CircuitBreakerConfig, EnvoyBudgetConfig, FinagleConfig, GrpcThrottleConfig, Jitter,
    RetryBudgetConfig, SreThrottleConfig, ThrottleConfig, TripRule,
};
use models::{ClientSpec, Dist, Mode, ReplyTo, RetrySpec};
use sim_core::{SimDuration, SimTime};

use super::common::*;
use super::locate::FieldPath;
use super::providers::NEEDS_TIMEOUT;
use super::schema::*;

impl Validator<'_> {
    pub(super) fn client(
        &mut self,
        path: &FieldPath,
        s: &ClientFile,
        names: &BTreeMap<String, (Kind, usize)>,
        duration: SimDuration,
    ) -> ClientSpec {
        let target = self.lookup(&path.key("target"), &s.target, Kind::Service, names);
        let reply_to = match &s.sink {
            Some(sink) => ReplyTo::Sink(self.lookup(&path.key("sink"), sink, Kind::Sink, names)),
            None => ReplyTo::Nowhere,
        };
        let mode = match (s.rate_per_s, &s.schedule, s.users) {
            (Some(rate), None, None) => Mode::Open {
                schedule: vec![(
                    SimTime::ZERO,
                    self.positive(&path.key("rate_per_s"), rate, MAX_RATE_PER_S),
                )],
            },
            (None, Some(phases), None) => Mode::Open {
                schedule: self.schedule(&path.key("schedule"), phases, duration),
            },
            (None, None, Some(users)) => {
                let users = self.int_in(&path.key("users"), users, 1, 10_000_000) as u32;
                let think = match &s.think_time {
                    Some(d) => self.dist(&path.key("think_time"), d),
                    None => {
                        self.err(
                            &path.key("users"),
                            "a closed-loop client (users) needs think_time",
                        );
                        Dist::Constant { ns: 1 }
                    }
                };
                Mode::Closed { users, think }
            }
            (None, None, None) => {
                self.err(
                    path,
                    "missing load: give rate_per_s, schedule, or users (closed loop)",
                );
                Mode::Open {
                    schedule: Vec::new(),
                }
            }
            (Some(_), Some(_), _) => {
                self.err(
                    &path.key("schedule"),
                    "give either rate_per_s or schedule, not both",
                );
                Mode::Open {
                    schedule: Vec::new(),
                }
            }
            _ => {
                self.err(
                    &path.key("users"),
                    "give exactly one of rate_per_s, schedule, users",
                );
                Mode::Open {
                    schedule: Vec::new(),
                }
            }
        };
        if s.think_time.is_some() && s.users.is_none() {
            self.err(
                &path.key("think_time"),
                "think_time applies only to closed-loop clients (users)",
            );
        }
        let timeout = s.timeout_ms.map(|t| {
            SimDuration::from_millis_f64(self.positive(&path.key("timeout_ms"), t, MAX_DURATION_MS))
        });
        let patience = self.patience(path, s.timeout_ms, s.patience.as_ref());
        let deadline = s.deadline_ms.map(|t| {
            SimDuration::from_millis_f64(self.positive(
                &path.key("deadline_ms"),
                t,
                MAX_DURATION_MS,
            ))
        });
        let retry = match &s.retry {
            None => RetrySpec::default(),
            Some(r) => self.retry(&path.key("retry"), r),
        };
        let cache = s
            .cache
            .as_ref()
            .map(|k| self.cache_spec(&path.key("cache"), k));
        let dns = s.dns.as_ref().map(|d| {
            let dp = path.key("dns");
            let hosts = self.int_in(&dp.key("hosts"), d.hosts, 1, 10_000_000) as u32;
            let mut secs = |k: &str, x: f64| {
                SimDuration::from_secs_f64(self.non_negative(&dp.key(k), x, MAX_DURATION_S))
            };
            let (ttl, negative_ttl, connection_lifetime) = (
                secs("ttl_s", d.ttl_s),
                secs("negative_ttl_s", d.negative_ttl_s),
                secs("connection_lifetime_s", d.connection_lifetime_s),
            );
            let failover = d
                .failover
                .as_ref()
                .and_then(|f| self.dns_failover(&dp.key("failover"), f, target, names));
            models::infra::dns::DnsSpec {
                hosts,
                ttl,
                negative_ttl,
                connection_lifetime,
                failover,
            }
        });
        ClientSpec {
            name: s.name.clone(),
            target,
            reply_to,
            mode,
            timeout,
            patience,
            deadline,
            retry,
            cache,
            dns,
            guard: Default::default(),
            hedge: s.hedge.as_ref().map(|h| self.hedge(&path.key("hedge"), h)),
            endpoint_failover: s.endpoint_failover.as_ref().map(|f| {
                if s.timeout_ms.is_none() && s.patience.is_none() && s.deadline_ms.is_none() {
                    self.err(&path.key("endpoint_failover"), NEEDS_TIMEOUT);
                }
                if s.dns.as_ref().is_some_and(|d| d.failover.is_some()) {
                    self.err(
                        &path.key("endpoint_failover"),
                        "give dns.failover or endpoint_failover, not both",
                    );
                }
                self.endpoint_failover(&path.key("endpoint_failover"), f, target, names)
            }),
        }
    }

    /// `patience = { dist = ... }` of a client or call edge at `path` (the random per-attempt
    /// alternative to `timeout_ms`): validated like a service time; giving both is an error.
    pub(super) fn patience(
        &mut self,
        path: &FieldPath,
        timeout_ms: Option<f64>,
        patience: Option<&DistFile>,
    ) -> Option<Dist> {
        let d = patience?;
        if timeout_ms.is_some() {
            self.err(
                &path.key("patience"),
                "give either timeout_ms (a constant per-attempt timeout) or patience (a random one), not both",
            );
        }
        Some(self.dist(&path.key("patience"), d))
    }

    pub(super) fn schedule(
        &mut self,
        sp: &FieldPath,
        phases: &[PhaseFile],
        duration: SimDuration,
    ) -> Vec<(SimTime, f64)> {
        if phases.is_empty() {
            self.err(sp, "must have at least one phase");
        }
        let steps: usize = phases
            .iter()
            .map(|p| {
                if p.ramp_to_per_s.is_some() {
                    RAMP_STEPS
                } else {
                    1
                }
            })
            .sum();
        if steps > MAX_SCHEDULE_PHASES {
            self.err(
                sp,
                format!(
                    "{} phases ({steps} steps, a ramp counting {RAMP_STEPS}); the limit is {MAX_SCHEDULE_PHASES} steps",
                    phases.len()
                ),
            );
            return Vec::new();
        }
        let mut out = Vec::with_capacity(phases.len());
        let mut last = -1.0f64;
        for (j, ph) in phases.iter().enumerate() {
            let pp = sp.index(j);
            let at = self.non_negative(&pp.key("at_s"), ph.at_s, MAX_DURATION_S);
            let rate = self.non_negative(&pp.key("rate_per_s"), ph.rate_per_s, MAX_RATE_PER_S);
            if at.is_finite() && at <= last {
                self.err(
                    &pp.key("at_s"),
                    format!("phases must be in increasing at_s order, got {at} after {last}"),
                );
            }
            last = at;
            match ph.ramp_to_per_s {
                None => out.push((SimTime::from_secs_f64(at), rate)),
                Some(to) => {
                    let to = self.non_negative(&pp.key("ramp_to_per_s"), to, MAX_RATE_PER_S);
                    let end = phases
                        .get(j + 1)
                        .map_or(duration.as_secs_f64(), |n| n.at_s)
                        .max(at);
                    let span = end - at;
                    for k in 0..RAMP_STEPS {
                        let f0 = k as f64 / RAMP_STEPS as f64;
                        let mid = (k as f64 + 0.5) / RAMP_STEPS as f64;
                        out.push((
                            SimTime::from_secs_f64(at + f0 * span),
                            rate + (to - rate) * mid,
                        ));
                    }
                    // Identical step times (a zero-length ramp) collapse to the last one.
                    out.dedup_by(|b, a| {
                        if a.0 == b.0 {
                            a.1 = b.1;
                            true
                        } else {
                            false
                        }
                    });
                }
            }
        }
        if !out.is_empty() && out.iter().all(|&(_, r)| r == 0.0) {
            self.err(
                sp,
                "every phase has rate_per_s = 0: the source would never send",
            );
        }
        if out
            .first()
            .is_some_and(|&(at, _)| at.as_nanos() >= duration.as_nanos())
        {
            self.err(
                &sp.index(0).key("at_s"),
                "the first phase starts after the scenario ends",
            );
        }
        out
    }

    pub(super) fn retry(&mut self, path: &FieldPath, r: &RetryFile) -> RetrySpec {
        let mut pol = match &r.preset {
            Some(name) => match policy::preset(name) {
                Some(p) => p,
                None => {
                    self.err(
                        &path.key("preset"),
                        format!(
                            "unknown preset {name:?}; expected one of {}",
                            policy::PRESET_NAMES.join(", ")
                        ),
                    );
                    RetrySpec::default()
                }
            },
            None => {
                if r.max_attempts.is_none() {
                    self.err(path, "give max_attempts or a preset");
                }
                RetrySpec::default()
            }
        };
        if let Some(n) = r.max_attempts {
            pol.max_attempts = self.int_in(&path.key("max_attempts"), n, 1, 100) as u32;
        }
        // Backoff: the preset's, with any field given here replacing its counterpart.
        let ns = |ms: f64| SimDuration::from_millis_f64(ms).as_nanos();
        let (cur_kind, cur_base, cur_mult, cur_cap) = match pol.backoff.kind {
            BackoffKind::None => (BackoffFile::None, 0, 2.0, u64::MAX),
            BackoffKind::Constant { delay_ns } => (BackoffFile::Constant, delay_ns, 2.0, u64::MAX),
            BackoffKind::Exponential {
                base_ns,
                multiplier,
                cap_ns,
            } => (BackoffFile::Exponential, base_ns, multiplier, cap_ns),
        };
        let kind_file = r.backoff.unwrap_or(cur_kind);
        let base = match r.base_ms {
            Some(b) => ns(self.non_negative(&path.key("base_ms"), b, MAX_DURATION_MS)),
            None => cur_base,
        };
        let multiplier = match r.multiplier {
            Some(m) => self.positive(&path.key("multiplier"), m, 100.0),
            None => cur_mult,
        };
        let cap = match r.cap_ms {
            Some(c) => ns(self.non_negative(&path.key("cap_ms"), c, MAX_DURATION_MS)),
            None => cur_cap,
        };
        if kind_file != BackoffFile::None && base == 0 {
            self.err(&path.key("base_ms"), "a backoff needs base_ms > 0");
        }
        let kind = match kind_file {
            BackoffFile::None => BackoffKind::None,
            BackoffFile::Constant => BackoffKind::Constant { delay_ns: base },
            BackoffFile::Exponential => BackoffKind::Exponential {
                base_ns: base,
                multiplier,
                cap_ns: cap,
            },
        };
        let jitter = match r.jitter {
            None => pol.backoff.jitter,
            Some(JitterFile::None) => Jitter::None,
            Some(JitterFile::Full) => Jitter::Full,
            Some(JitterFile::Equal) => Jitter::Equal,
            Some(JitterFile::Decorrelated) => Jitter::Decorrelated,
        };
        if kind_file == BackoffFile::None && jitter != Jitter::None {
            self.err(
                &path.key("jitter"),
                "jitter needs a backoff (constant or exponential)",
            );
        }
        pol.backoff = Backoff::new(kind, jitter);
        if let Some(b) = &r.budget {
            pol.budget = self.budget(&path.key("budget"), b);
        }
        if let Some(b) = &r.breaker {
            pol.breaker = self.breaker(&path.key("breaker"), b);
        }
        if let Some(t) = &r.throttle {
            pol.throttle = self.throttle(&path.key("throttle"), t);
        }
        pol
    }

    pub(super) fn budget(&mut self, path: &FieldPath, b: &BudgetFile) -> RetryBudgetConfig {
        let u32_in = |v: &mut Self, k: &str, n: i64, lo: i64, hi: i64| {
            v.int_in(&path.key(k), n, lo, hi) as u32
        };
        match *b {
            BudgetFile::None => RetryBudgetConfig::Unlimited,
            BudgetFile::AwsQuota {
                capacity,
                retry_cost,
                timeout_retry_cost,
                no_retry_increment,
            } => RetryBudgetConfig::AwsQuota(AwsQuotaConfig {
                capacity: u32_in(self, "capacity", capacity, 1, 1_000_000_000),
                retry_cost: u32_in(self, "retry_cost", retry_cost, 0, 1_000_000_000),
                timeout_retry_cost: u32_in(
                    self,
                    "timeout_retry_cost",
                    timeout_retry_cost,
                    0,
                    1_000_000_000,
                ),
                no_retry_increment: u32_in(
                    self,
                    "no_retry_increment",
                    no_retry_increment,
                    0,
                    1_000_000_000,
                ),
            }),
            BudgetFile::Grpc {
                max_tokens,
                token_ratio,
            } => RetryBudgetConfig::GrpcThrottle(GrpcThrottleConfig {
                max_tokens: self.positive(&path.key("max_tokens"), max_tokens, 1000.0),
                token_ratio: self.positive(&path.key("token_ratio"), token_ratio, 1000.0),
            }),
            BudgetFile::Finagle {
                ttl_s,
                min_retries_per_s,
                retry_percent,
            } => {
                let ttl = self.positive(&path.key("ttl_s"), ttl_s, 60.0);
                if ttl.is_finite() && ttl < 1.0 {
                    self.err(
                        &path.key("ttl_s"),
                        format!("must be in 1..=60 s, got {ttl}"),
                    );
                }
                RetryBudgetConfig::Finagle(FinagleConfig {
                    ttl_ns: SimDuration::from_secs_f64(ttl).as_nanos(),
                    min_retries_per_sec: u32_in(
                        self,
                        "min_retries_per_s",
                        min_retries_per_s,
                        0,
                        1_000_000,
                    ),
                    retry_fraction: self.non_negative(
                        &path.key("retry_percent"),
                        retry_percent,
                        100_000.0,
                    ) / 100.0,
                })
            }
            BudgetFile::Envoy {
                budget_percent,
                min_retry_concurrency,
            } => RetryBudgetConfig::Envoy(EnvoyBudgetConfig {
                budget_fraction: self.non_negative(
                    &path.key("budget_percent"),
                    budget_percent,
                    100.0,
                ) / 100.0,
                min_retry_concurrency: u32_in(
                    self,
                    "min_retry_concurrency",
                    min_retry_concurrency,
                    0,
                    1_000_000,
                ),
            }),
            BudgetFile::TokenBucket {
                fill_rate,
                bucket_size,
            } => RetryBudgetConfig::TokenBucket(BrookerBucketConfig {
                fill_rate: self.positive(&path.key("fill_rate"), fill_rate, 1e6),
                bucket_size: self.positive(&path.key("bucket_size"), bucket_size, 1e9),
            }),
        }
    }

    pub(super) fn breaker(
        &mut self,
        path: &FieldPath,
        b: &BreakerFile,
    ) -> Option<CircuitBreakerConfig> {
        let open = |v: &mut Self, ms: f64| {
            SimDuration::from_millis_f64(v.positive(&path.key("open_ms"), ms, MAX_DURATION_MS))
                .as_nanos()
        };
        match *b {
            BreakerFile::None => None,
            BreakerFile::ConsecutiveFailures {
                threshold,
                open_ms,
                half_open_probes,
            } => Some(CircuitBreakerConfig {
                trip: TripRule::ConsecutiveFailures {
                    threshold: self.int_in(&path.key("threshold"), threshold, 1, 1_000_000) as u32,
                },
                open_ns: open(self, open_ms),
                half_open_permits: self.int_in(
                    &path.key("half_open_probes"),
                    half_open_probes,
                    1,
                    1_000_000,
                ) as u32,
            }),
            BreakerFile::FailureRate {
                window,
                min_calls,
                threshold_percent,
                open_ms,
                half_open_probes,
            } => {
                let pct = self.positive(&path.key("threshold_percent"), threshold_percent, 100.0);
                Some(CircuitBreakerConfig {
                    trip: TripRule::FailureRate {
                        window: self.int_in(&path.key("window"), window, 1, 100_000) as u32,
                        min_calls: self.int_in(&path.key("min_calls"), min_calls, 1, 100_000)
                            as u32,
                        threshold: pct / 100.0,
                    },
                    open_ns: open(self, open_ms),
                    half_open_permits: self.int_in(
                        &path.key("half_open_probes"),
                        half_open_probes,
                        1,
                        1_000_000,
                    ) as u32,
                })
            }
        }
    }

    pub(super) fn throttle(
        &mut self,
        path: &FieldPath,
        t: &ThrottleFile,
    ) -> Option<ThrottleConfig> {
        match *t {
            ThrottleFile::None => None,
            ThrottleFile::Sre { k, window_s } => {
                let k = self.positive(&path.key("k"), k, 1000.0);
                let w = self.positive(&path.key("window_s"), window_s, 86_400.0);
                Some(ThrottleConfig::Sre(SreThrottleConfig {
                    k,
                    window_ns: SimDuration::from_secs_f64(w).as_nanos().max(60),
                }))
            }
            ThrottleFile::AwsAdaptive {} => {
                Some(ThrottleConfig::AwsAdaptive(AwsAdaptiveConfig::default()))
            }
        }
    }
}
