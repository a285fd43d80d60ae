//! `[[autoscaler]]`: a target-tracking autoscaler that sets one service's server count (the
//! model is `models::control::autoscaler`; the schema and its rules are in docs/elastic.md).
//!
//! ```toml
//! [[autoscaler]]
//! name = "api-asg"
//! service = "api"                  # the service it scales
//! signal = "utilisation"           # utilisation | queue (waiting per server) | wait (ms)
//! target = 0.6
//! interval_s = 10                  # evaluation interval (10 samples each)
//! min = 8
//! max = 40
//! max_step = 10                    # most instances added or removed per evaluation
//! provisioning = { dist = "lognormal", mean_ms = 60000, cv = 0.3 }
//! scale_in_below = 0.8             # hysteresis: scale in below 0.8 × target only
//! cooldown_s = 300                 # ... and this long after the last scaling action
//! control_plane = "cloud-api"      # optional: a service whose outage/errors/slowdown impair launches
//! cold_start = { factor = 3.0, cache_hit = 0.9, warmup_s = 120 }
//! ```

use std::collections::BTreeMap;

use models::ServiceSpec;
use models::control::autoscaler::{AutoscalerSpec, ColdStartSpec, Signal};
use serde::Deserialize;
use sim_core::SimDuration;

use super::common::{DistFile, Kind, MAX_DURATION_S, MAX_SERVERS, Validator, p};

/// Most autoscalers in one scenario.
pub const MAX_AUTOSCALERS: usize = 1_000;

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum SignalFile {
    Utilisation,
    Queue,
    Wait,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct AutoscalerFile {
    pub name: String,
    pub service: String,
    pub signal: SignalFile,
    pub target: f64,
    pub interval_s: f64,
    pub min: i64,
    pub max: i64,
    /// Default: `max` (no limit).
    pub max_step: Option<i64>,
    pub provisioning: DistFile,
    #[serde(default = "d08")]
    pub scale_in_below: f64,
    #[serde(default = "d300")]
    pub cooldown_s: f64,
    pub control_plane: Option<String>,
    pub cold_start: Option<ColdStartFile>,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ColdStartFile {
    #[serde(default = "d1")]
    pub factor: f64,
    #[serde(default)]
    pub cache_hit: f64,
    pub warmup_s: f64,
}

fn d08() -> f64 {
    0.8
}
fn d1() -> f64 {
    1.0
}
fn d300() -> f64 {
    300.0
}

impl Validator<'_> {
    /// Validates the `[[autoscaler]]` entries: each scales a distinct service that no load
    /// balancer sizes and that has no edge nodes, within `min ≤ servers ≤ max`.
    pub(crate) fn autoscalers(
        &mut self,
        raw: &[AutoscalerFile],
        names: &BTreeMap<String, (Kind, usize)>,
        services: &[ServiceSpec],
    ) -> Vec<AutoscalerSpec> {
        if raw.len() > MAX_AUTOSCALERS {
            self.err(
                &p().key("autoscaler"),
                format!("{} autoscalers; the limit is {MAX_AUTOSCALERS}", raw.len()),
            );
            return Vec::new();
        }
        let mut seen: BTreeMap<&str, ()> = BTreeMap::new();
        let mut scaled: BTreeMap<u32, &str> = BTreeMap::new();
        let mut out = Vec::with_capacity(raw.len());
        for (i, a) in raw.iter().enumerate() {
            let path = p().key("autoscaler").index(i);
            self.name(&path.key("name"), &a.name);
            if seen.insert(&a.name, ()).is_some() {
                self.err(
                    &path.key("name"),
                    format!("duplicate autoscaler {:?}", a.name),
                );
            }
            let service = self.lookup(&path.key("service"), &a.service, Kind::Service, names);
            if let Some(other) = scaled.insert(service, &a.name) {
                self.err(
                    &path.key("service"),
                    format!("service {:?} is already scaled by {other:?}", a.service),
                );
            }
            let spec = services.get(service as usize);
            if let Some(l) = self.load_balancers.iter().find(|l| l.service == service) {
                self.err(
                    &path.key("service"),
                    format!("load balancer {:?} sets this service's servers", l.name),
                );
            }
            if spec.is_some_and(|s| s.edge.is_some()) {
                self.err(
                    &path.key("service"),
                    "a service of edge nodes cannot be autoscaled",
                );
            }
            let target = match a.signal {
                SignalFile::Utilisation => self.positive(&path.key("target"), a.target, 1.0),
                SignalFile::Queue => self.positive(&path.key("target"), a.target, 1e9),
                SignalFile::Wait => self.positive(&path.key("target"), a.target, 1e12),
            };
            let interval_s = self.positive(&path.key("interval_s"), a.interval_s, MAX_DURATION_S);
            let min = self.int_in(&path.key("min"), a.min, 1, MAX_SERVERS);
            let max = self.int_in(&path.key("max"), a.max, min.max(1), MAX_SERVERS);
            if let Some(s) = spec
                && !(min..=max).contains(&i64::from(s.servers))
            {
                self.err(
                    &path.key("min"),
                    format!(
                        "the service starts with {} servers, outside min..=max ({min}..={max})",
                        s.servers
                    ),
                );
            }
            let max_step = match a.max_step {
                Some(k) => self.int_in(&path.key("max_step"), k, 1, MAX_SERVERS),
                None => max,
            };
            let provisioning = self.dist(&path.key("provisioning"), &a.provisioning);
            let scale_in_below = self.positive(&path.key("scale_in_below"), a.scale_in_below, 1.0);
            let cooldown_s =
                self.non_negative(&path.key("cooldown_s"), a.cooldown_s, MAX_DURATION_S);
            let control_plane = a.control_plane.as_ref().map(|c| {
                let cp = self.lookup(&path.key("control_plane"), c, Kind::Service, names);
                if cp == service && *c == a.service {
                    self.err(
                        &path.key("control_plane"),
                        "the control plane must be another service than the one scaled",
                    );
                }
                cp
            });
            let cold_start = a.cold_start.as_ref().map(|c| {
                let cp = path.key("cold_start");
                let factor = self.positive(&cp.key("factor"), c.factor, 1e6);
                let cache_hit = self.non_negative(&cp.key("cache_hit"), c.cache_hit, 1.0);
                if cache_hit > 0.0 && spec.is_some_and(|s| s.calls.is_empty()) {
                    self.err(
                        &cp.key("cache_hit"),
                        "a local cache skips downstream calls; this service makes none",
                    );
                }
                let warmup_s = self.non_negative(&cp.key("warmup_s"), c.warmup_s, MAX_DURATION_S);
                ColdStartSpec {
                    factor,
                    cache_hit,
                    warmup: SimDuration::from_secs_f64(warmup_s),
                }
            });
            out.push(AutoscalerSpec {
                name: a.name.clone(),
                service,
                signal: match a.signal {
                    SignalFile::Utilisation => Signal::Utilisation,
                    SignalFile::Queue => Signal::Queue,
                    SignalFile::Wait => Signal::Wait,
                },
                target,
                interval: SimDuration::from_secs_f64(interval_s).max(SimDuration(1)),
                min: min as u32,
                max: max as u32,
                max_step: max_step as u32,
                provisioning,
                scale_in_below,
                cooldown: SimDuration::from_secs_f64(cooldown_s),
                control_plane,
                cold_start,
            });
        }
        out
    }
}
