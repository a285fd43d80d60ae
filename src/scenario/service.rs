//! Validation of services, sinks and downstream call edges (each call edge becomes a
//! downstream client; the call graph must be acyclic).

use std::collections::BTreeMap;

use models::{
    Admission, ClientSpec, Degradation, Discipline, Mode, QueueControl, ReplyTo, RetrySpec,
    ServiceSpec,
};
use sim_core::SimDuration;

use super::common::*;
use super::locate::FieldPath;
use super::schema::*;

impl Validator<'_> {
    /// Downstream calls become clients named `service->target` (`Mode::Downstream`); the
    /// call graph must be acyclic.
    pub(super) fn call_edges(
        &mut self,
        raw: &ScenarioFile,
        names: &BTreeMap<String, (Kind, usize)>,
        clients: &mut Vec<ClientSpec>,
        services: &mut [ServiceSpec],
        components: &mut Vec<(String, Kind)>,
    ) {
        let mut edges: Vec<Vec<(usize, usize)>> = vec![Vec::new(); raw.services.len()];
        for (i, sf) in raw.services.iter().enumerate() {
            let sp = p().key("services").index(i);
            if sf.calls.len() > 64 {
                self.err(
                    &sp.key("calls"),
                    format!("{} downstream calls; the limit is 64", sf.calls.len()),
                );
                continue;
            }
            for (j, call) in sf.calls.iter().enumerate() {
                let cp = sp.key("calls").index(j);
                let target = self.lookup(&cp.key("target"), &call.target, Kind::Service, names);
                let mut name = format!("{}->{}", sf.name, call.target);
                if sf.calls[..j].iter().any(|c| c.target == call.target) {
                    name = format!("{name}#{}", j + 1);
                }
                let timeout = call.timeout_ms.map(|t| {
                    SimDuration::from_millis_f64(self.positive(
                        &cp.key("timeout_ms"),
                        t,
                        MAX_DURATION_MS,
                    ))
                });
                let patience = self.patience(&cp, call.timeout_ms, call.patience.as_ref());
                let deadline = call.deadline_ms.map(|t| {
                    SimDuration::from_millis_f64(self.positive(
                        &cp.key("deadline_ms"),
                        t,
                        MAX_DURATION_MS,
                    ))
                });
                let retry = match &call.retry {
                    None => RetrySpec::default(),
                    Some(r) => self.retry(&cp.key("retry"), r),
                };
                let (cache, guard) = self.call_guard(&cp, call);
                if let Some(&(Kind::Service, t)) = names.get(&call.target) {
                    edges[i].push((t, j));
                }
                let endpoint_failover = call.endpoint_failover.as_ref().map(|f| {
                    let fp = cp.key("endpoint_failover");
                    if call.timeout_ms.is_none()
                        && call.patience.is_none()
                        && call.deadline_ms.is_none()
                    {
                        self.err(&fp, super::providers::NEEDS_TIMEOUT);
                    }
                    if let Some(&(Kind::Service, t)) = names.get(&f.secondary) {
                        edges[i].push((t, j)); // the secondary is in the call graph too
                    }
                    self.endpoint_failover(&fp, f, target, names)
                });
                if let Some(svc) = services.get_mut(i) {
                    svc.calls.push(clients.len() as u32);
                }
                components.push((name.clone(), Kind::Call));
                clients.push(ClientSpec {
                    name,
                    target,
                    reply_to: ReplyTo::Parent,
                    mode: Mode::Downstream,
                    timeout,
                    patience,
                    deadline,
                    retry,
                    cache,
                    dns: None,
                    guard,
                    hedge: call.hedge.as_ref().map(|h| self.hedge(&cp.key("hedge"), h)),
                    endpoint_failover,
                });
            }
        }
        self.guard_callers(raw, clients, services);
        for (i, sf) in raw.services.iter().enumerate() {
            let Some(cf) = &sf.crash_loop else {
                continue;
            };
            let cp = p().key("services").index(i).key("crash_loop");
            let store = self.lookup(&cp.key("store"), &cf.store, Kind::Service, names);
            if cf.store == sf.name {
                self.err(
                    &cp.key("store"),
                    "a service cannot be its own backing store",
                );
            }
            let timeout = SimDuration::from_millis_f64(self.positive(
                &cp.key("timeout_ms"),
                cf.timeout_ms,
                MAX_DURATION_MS,
            ));
            let rf = RetryFile {
                max_attempts: Some(1),
                backoff: Some(cf.backoff),
                base_ms: Some(cf.base_ms),
                multiplier: Some(cf.multiplier),
                cap_ms: cf.cap_ms,
                jitter: Some(cf.jitter),
                ..RetryFile::default()
            };
            let backoff = self.retry(&cp, &rf).backoff;
            let restart_rate = cf.restart_rate_per_s.map(|r| {
                let r = self.positive(&cp.key("restart_rate_per_s"), r, MAX_RATE_PER_S);
                let burst = cf.restart_burst.map_or(r.max(1.0), |b| {
                    self.positive(&cp.key("restart_burst"), b, 1e12)
                });
                (r, burst.max(1.0))
            });
            let name = format!("{}->{}.restart", sf.name, cf.store);
            if let Some(svc) = services.get_mut(i) {
                svc.crash_loop = Some(models::CrashLoop {
                    store: clients.len() as u32,
                    backoff,
                    restart_rate,
                });
            }
            components.push((name.clone(), Kind::Call));
            clients.push(ClientSpec {
                name,
                target: store,
                reply_to: ReplyTo::Parent,
                mode: Mode::Downstream,
                timeout: Some(timeout),
                patience: None,
                deadline: None,
                retry: RetrySpec::default(),
                cache: None,
                dns: None,
                guard: Default::default(),
                hedge: None,
                endpoint_failover: None,
            });
        }
        // Cycle check: depth-first search with colours.
        let n = edges.len();
        let mut colour = vec![0u8; n]; // 0 new, 1 on the stack, 2 done
        for start in 0..n {
            if colour[start] != 0 {
                continue;
            }
            let mut stack: Vec<(usize, usize)> = vec![(start, 0)];
            colour[start] = 1;
            while let Some(&mut (v, ref mut k)) = stack.last_mut() {
                if let Some(&(w, j)) = edges[v].get(*k) {
                    *k += 1;
                    if colour[w] == 1 {
                        let pos = stack.iter().position(|&(x, _)| x == w).unwrap_or(0);
                        let mut cycle: Vec<&str> = stack[pos..]
                            .iter()
                            .map(|&(x, _)| raw.services[x].name.as_str())
                            .collect();
                        cycle.push(raw.services[w].name.as_str());
                        self.err(
                            &p().key("services")
                                .index(v)
                                .key("calls")
                                .index(j)
                                .key("target"),
                            format!(
                                "the call graph has a cycle: {} (calls must form a DAG)",
                                cycle.join(" -> ")
                            ),
                        );
                    } else if colour[w] == 0 {
                        colour[w] = 1;
                        stack.push((w, 0));
                    }
                } else {
                    colour[v] = 2;
                    stack.pop();
                }
            }
        }
    }

    pub(super) fn service(&mut self, path: &FieldPath, s: &ServiceFile) -> ServiceSpec {
        let servers = self.int_in(&path.key("servers"), s.servers, 1, MAX_SERVERS) as u32;
        let queue_capacity = s
            .queue_capacity
            .map(|q| self.int_in(&path.key("queue_capacity"), q, 0, MAX_QUEUE_CAPACITY) as u32);
        let service_time = self.dist(&path.key("service_time"), &s.service_time);
        let error_rate = self.non_negative(&path.key("error_rate"), s.error_rate, 1.0);
        let degradation = s.degradation.as_ref().map(|d| {
            let dp = path.key("degradation");
            Degradation {
                per_queued: self.non_negative(&dp.key("per_queued"), d.per_queued, 1e6),
                per_utilisation: self.non_negative(
                    &dp.key("per_utilisation"),
                    d.per_utilisation,
                    1e6,
                ),
                max_factor: self.positive(&dp.key("max_factor"), d.max_factor, 1e6),
            }
        });
        if let Some(d) = degradation
            && d.max_factor < 1.0
        {
            self.err(
                &path.key("degradation").key("max_factor"),
                format!("must be ≥ 1, got {}", num(d.max_factor)),
            );
        }
        let discipline = match s.discipline {
            DisciplineFile::Fifo => Discipline::Fifo,
            DisciplineFile::Lifo => Discipline::Lifo,
            DisciplineFile::AdaptiveLifo => Discipline::AdaptiveLifo,
            DisciplineFile::Codel => Discipline::Codel,
        };
        let queue_control = match &s.codel {
            None => QueueControl::default(),
            Some(q) => {
                let cp = path.key("codel");
                let target = self.positive(&cp.key("target_ms"), q.target_ms, MAX_DURATION_MS);
                let interval =
                    self.positive(&cp.key("interval_ms"), q.interval_ms, MAX_DURATION_MS);
                if !matches!(
                    s.discipline,
                    DisciplineFile::Codel | DisciplineFile::AdaptiveLifo
                ) {
                    self.err(
                        &cp,
                        "codel parameters need discipline = \"codel\" or \"adaptive_lifo\"",
                    );
                }
                QueueControl {
                    target: SimDuration::from_millis_f64(target),
                    interval: SimDuration::from_millis_f64(interval),
                }
            }
        };
        let rate_limit = s.rate_limit.as_ref().map(|r| {
            let rp = path.key("rate_limit");
            let rate = self.positive(&rp.key("rate_per_s"), r.rate_per_s, MAX_RATE_PER_S);
            let burst = match r.burst {
                Some(b) => {
                    let b = self.positive(&rp.key("burst"), b, 1e12);
                    if b.is_finite() && b < 1.0 {
                        self.err(&rp.key("burst"), format!("must be ≥ 1, got {}", num(b)));
                    }
                    b
                }
                None => rate.max(1.0),
            };
            (rate, burst)
        });
        let concurrency_limit = s
            .concurrency_limit
            .map(|n| self.int_in(&path.key("concurrency_limit"), n, 1, MAX_QUEUE_CAPACITY) as u32);
        let max_queue_age = s.max_queue_age_ms.map(|a| {
            SimDuration::from_millis_f64(self.positive(
                &path.key("max_queue_age_ms"),
                a,
                MAX_DURATION_MS,
            ))
        });
        ServiceSpec {
            queue_control,
            admission: Admission {
                rate_limit,
                concurrency_limit,
                max_queue_age,
            },
            calls: Vec::new(),
            fanout: s.call_mode == CallModeFile::Fanout,
            crash_loop: None,
            feeds: None, // resolved once the load balancers are known
            edge: s
                .edge
                .as_ref()
                .map(|e| self.edge_spec(&path.key("edge"), e, s.crash_loop.is_some())),
            discipline,
            drop_expired: s.drop_expired,
            queue_abandonment: s.queue_abandonment,
            error_rate,
            degradation,
            name: s.name.clone(),
            servers,
            queue_capacity,
            service_time,
        }
    }
}
