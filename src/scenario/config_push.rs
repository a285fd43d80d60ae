//! `[[config_push]]`: a configuration file generated every `period_s`, pushed to a fleet of
//! proxy machines, and consumed by proxy services that fail closed or fail open on a bad file
//! (see `models::config_push` and docs/config_push.md).
//!
//! ```toml
//! [[config_push]]
//! name = "feature-file"
//! period_s = 300.0
//! bad_fraction = [[0, 0.0], [300, 0.0], [900, 0.1], [5400, 1.0]]   # [t_s, p], linear between
//! delay = { dist = "uniform", min_ms = 10000.0, max_ms = 60000.0 }
//! machines = 100
//! rollout = "global"            # or "staged" with stages = [0.01, 0.1, 1.0] and bake_s
//! proxies = [
//!   { service = "fl2", on_bad = "fail_closed", error_cost = 0.5 },
//!   { service = "fl", on_bad = "fail_open" },
//! ]
//! ```
//!
//! Operator actions: `stop_generation` and `push_good` (target: the push's name), `fail_open`
//! (target: a proxy service). The push's trigger interval for the analysis runs from the first
//! time `p(t) > 0` to its first `push_good` (the end of the run if none).

use std::collections::BTreeMap;

use models::control::config_push::{ConfigPushSpec, OnBad, ProxySpec, Rollout};
use models::{Action, TimedAction};
use serde::Deserialize;
use sim_core::{SimDuration, SimTime};

use super::common::{ActionKind, DistFile, Kind, MAX_DURATION_MS, MAX_DURATION_S, Validator};
use super::locate::FieldPath;

/// Bounds of the `[[config_push]]` table.
pub const MAX_CONFIG_PUSHES: usize = 100;
pub const MAX_MACHINES: i64 = 100_000;
pub const MAX_BAD_FRACTION_POINTS: usize = 10_000;
pub const MAX_STAGES: usize = 100;
pub const MAX_PROXIES: usize = 1_000;
/// Most files one push may generate over a run (`duration_s / period_s`).
pub const MAX_FILES: f64 = 1_000_000.0;
/// Largest `machines × files` (delivery events drawn over a run).
pub const MAX_DELIVERIES: f64 = 1e9;

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ConfigPushFile {
    pub name: String,
    pub period_s: f64,
    /// `[t_s, p]` points of the probability that a generated file is bad.
    pub bad_fraction: Vec<Vec<f64>>,
    /// Propagation delay to each machine.
    pub delay: DistFile,
    pub machines: i64,
    #[serde(default)]
    pub rollout: RolloutFile,
    /// Staged rollout: cumulative fractions of the machines per stage (last = 1).
    pub stages: Option<Vec<f64>>,
    /// Staged rollout: how long a stage bakes before it is checked.
    pub bake_s: Option<f64>,
    pub proxies: Vec<ProxyFile>,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq, Default)]
#[serde(rename_all = "snake_case")]
pub enum RolloutFile {
    #[default]
    Global,
    Staged,
}

#[derive(Deserialize, Debug)]
#[serde(deny_unknown_fields)]
pub struct ProxyFile {
    pub service: String,
    pub on_bad: OnBadFile,
    /// Extra service-time factor at 100 % bad machines (fail closed: error handling cost).
    #[serde(default)]
    pub error_cost: f64,
}

#[derive(Deserialize, Debug, Clone, Copy, PartialEq, Eq)]
#[serde(rename_all = "snake_case")]
pub enum OnBadFile {
    FailClosed,
    FailOpen,
}

impl Validator<'_> {
    /// Validates every `[[config_push]]` entry.
    pub(crate) fn config_pushes(
        &mut self,
        raw: &[ConfigPushFile],
        components: &BTreeMap<String, (Kind, usize)>,
        service_index: &BTreeMap<String, u32>,
        duration: SimDuration,
    ) -> Vec<ConfigPushSpec> {
        let root = FieldPath::root().key("config_push");
        if raw.len() > MAX_CONFIG_PUSHES {
            self.err(
                &root,
                format!(
                    "{} config pushes; the limit is {MAX_CONFIG_PUSHES}",
                    raw.len()
                ),
            );
            return Vec::new();
        }
        let mut names: BTreeMap<&str, usize> = BTreeMap::new();
        let mut proxied: BTreeMap<u32, usize> = BTreeMap::new();
        let mut out = Vec::with_capacity(raw.len());
        for (i, c) in raw.iter().enumerate() {
            let path = root.index(i);
            self.name(&path.key("name"), &c.name);
            if let Some(j) = names.insert(&c.name, i) {
                self.err(
                    &path.key("name"),
                    format!("duplicate config push name {:?} (config_push[{j}])", c.name),
                );
            } else if let Some((k, _)) = components.get(&c.name) {
                self.err(
                    &path.key("name"),
                    format!(
                        "duplicate name {:?} (already used by a {})",
                        c.name,
                        k.as_str()
                    ),
                );
            }
            out.push(self.config_push(&path, c, service_index, duration, i, &mut proxied));
        }
        out
    }

    fn config_push(
        &mut self,
        path: &FieldPath,
        c: &ConfigPushFile,
        service_index: &BTreeMap<String, u32>,
        duration: SimDuration,
        idx: usize,
        proxied: &mut BTreeMap<u32, usize>,
    ) -> ConfigPushSpec {
        let period_s = self.positive(&path.key("period_s"), c.period_s, MAX_DURATION_S);
        let machines = self.int_in(&path.key("machines"), c.machines, 1, MAX_MACHINES);
        let files = duration.as_secs_f64() / period_s;
        if period_s.is_finite() && period_s > 0.0 && files > MAX_FILES {
            self.err(
                &path.key("period_s"),
                format!(
                    "the run would generate {files:.0} files; the limit is {MAX_FILES} \
                     (use a longer period)"
                ),
            );
        } else if period_s.is_finite() && files * machines as f64 > MAX_DELIVERIES {
            self.err(
                &path.key("machines"),
                format!(
                    "{machines} machines × {files:.0} files = {:.0} deliveries; the limit is \
                     {MAX_DELIVERIES:e}",
                    files * machines as f64
                ),
            );
        }
        let bad_fraction = self.bad_fraction(&path.key("bad_fraction"), &c.bad_fraction);
        let delay = self.dist(&path.key("delay"), &c.delay);
        let rollout = self.rollout(path, c);
        let pp = path.key("proxies");
        if c.proxies.is_empty() {
            self.err(&pp, "a config push needs at least one proxy");
        } else if c.proxies.len() > MAX_PROXIES {
            self.err(
                &pp,
                format!("{} proxies; the limit is {MAX_PROXIES}", c.proxies.len()),
            );
        }
        let mut proxies = Vec::new();
        for (j, p) in c.proxies.iter().enumerate().take(MAX_PROXIES) {
            let jp = pp.index(j);
            let error_cost = self.non_negative(&jp.key("error_cost"), p.error_cost, 1e6);
            let Some(&service) = service_index.get(&p.service) else {
                self.err(
                    &jp.key("service"),
                    format!("no service named {:?}", p.service),
                );
                continue;
            };
            if let Some(other) = proxied.insert(service, idx) {
                self.err(
                    &jp.key("service"),
                    format!(
                        "service {:?} already consumes a config file (config_push[{other}]); a \
                         proxy consumes one",
                        p.service
                    ),
                );
            }
            proxies.push(ProxySpec {
                service,
                on_bad: match p.on_bad {
                    OnBadFile::FailClosed => OnBad::FailClosed,
                    OnBadFile::FailOpen => OnBad::FailOpen,
                },
                error_cost: if error_cost.is_finite() {
                    error_cost.max(0.0)
                } else {
                    0.0
                },
            });
        }
        ConfigPushSpec {
            name: c.name.clone(),
            period: SimDuration::from_secs_f64(period_s).max(SimDuration(1)),
            bad_fraction,
            delay,
            machines: machines as u32,
            rollout,
            proxies,
        }
    }

    fn bad_fraction(&mut self, path: &FieldPath, pts: &[Vec<f64>]) -> Vec<(SimTime, f64)> {
        if pts.is_empty() {
            self.err(path, "needs at least one [t_s, p] point");
            return Vec::new();
        }
        if pts.len() > MAX_BAD_FRACTION_POINTS {
            self.err(
                path,
                format!(
                    "{} points; the limit is {MAX_BAD_FRACTION_POINTS}",
                    pts.len()
                ),
            );
            return Vec::new();
        }
        let mut out = Vec::with_capacity(pts.len());
        let mut prev: Option<f64> = None;
        for (i, pt) in pts.iter().enumerate() {
            let ip = path.index(i);
            let [t, p] = pt[..] else {
                self.err(
                    &ip,
                    format!("must be a pair [t_s, p], got {} numbers", pt.len()),
                );
                continue;
            };
            let t = self.non_negative(&ip, t, MAX_DURATION_S);
            let p = self.non_negative(&ip, p, 1.0);
            if let Some(before) = prev
                && t.is_finite()
                && t <= before
            {
                self.err(&ip, format!("times must increase: {t} s after {before} s"));
            }
            prev = Some(t);
            let t = if t.is_finite() { t.max(0.0) } else { 0.0 };
            let p = if p.is_finite() {
                p.clamp(0.0, 1.0)
            } else {
                0.0
            };
            out.push((SimTime::from_secs_f64(t), p));
        }
        out
    }

    fn rollout(&mut self, path: &FieldPath, c: &ConfigPushFile) -> Rollout {
        match c.rollout {
            RolloutFile::Global => {
                for (k, set) in [
                    ("stages", c.stages.is_some()),
                    ("bake_s", c.bake_s.is_some()),
                ] {
                    if set {
                        self.err(&path.key(k), "only for rollout = \"staged\"");
                    }
                }
                Rollout::Global
            }
            RolloutFile::Staged => {
                let sp = path.key("stages");
                let stages = match &c.stages {
                    None => {
                        self.err(&path.key("rollout"), "rollout = \"staged\" needs stages");
                        vec![1.0]
                    }
                    Some(s) if s.is_empty() || s.len() > MAX_STAGES => {
                        self.err(
                            &sp,
                            format!("needs 1..={MAX_STAGES} stages, got {}", s.len()),
                        );
                        vec![1.0]
                    }
                    Some(s) => {
                        let mut prev = 0.0;
                        for (i, &f) in s.iter().enumerate() {
                            let f = self.positive(&sp.index(i), f, 1.0);
                            if f.is_finite() && f <= prev {
                                self.err(
                                    &sp.index(i),
                                    format!("stage fractions must increase: {f} after {prev}"),
                                );
                            }
                            prev = f;
                        }
                        if s.last() != Some(&1.0) {
                            self.err(
                                &sp.index(s.len() - 1),
                                "the last stage must cover all machines (1.0)",
                            );
                        }
                        s.clone()
                    }
                };
                let bake = match c.bake_s {
                    Some(b) => self.positive(&path.key("bake_s"), b, MAX_DURATION_MS / 1e3),
                    None => {
                        self.err(&path.key("rollout"), "rollout = \"staged\" needs bake_s");
                        1.0
                    }
                };
                Rollout::Staged {
                    stages,
                    bake: SimDuration::from_secs_f64(if bake.is_finite() && bake > 0.0 {
                        bake
                    } else {
                        1.0
                    }),
                }
            }
        }
    }

    /// A config-push operator action (`stop_generation`, `push_good`, `fail_open`), or `None`
    /// if `kind` is not one (the caller handles it).
    pub(crate) fn config_push_action(
        &mut self,
        ap: &FieldPath,
        kind: ActionKind,
        target: &str,
        value: Option<f64>,
        pushes: &[ConfigPushSpec],
        service_index: &BTreeMap<String, u32>,
    ) -> Option<Option<Action>> {
        if !matches!(
            kind,
            ActionKind::StopGeneration | ActionKind::PushGood | ActionKind::FailOpen
        ) {
            return None;
        }
        if value.is_some() {
            self.err(
                &ap.key("value"),
                format!("action {} takes no value", kind_name(kind)),
            );
            return Some(None);
        }
        let tpath = ap.key("target");
        if kind == ActionKind::FailOpen {
            let proxy = service_index.get(target).copied().filter(|s| {
                pushes
                    .iter()
                    .any(|c| c.proxies.iter().any(|p| p.service == *s))
            });
            return Some(match proxy {
                Some(service) => Some(Action::ProxyFailOpen { service }),
                None => {
                    self.err(
                        &tpath,
                        format!("no config-push proxy service named {target:?}"),
                    );
                    None
                }
            });
        }
        let Some(push) = pushes.iter().position(|c| c.name == target) else {
            let known: Vec<&str> = pushes.iter().map(|c| c.name.as_str()).collect();
            self.err(
                &tpath,
                format!(
                    "no config push named {target:?} (known: {})",
                    known.join(", ")
                ),
            );
            return Some(None);
        };
        let push = push as u32;
        Some(Some(if kind == ActionKind::StopGeneration {
            Action::StopGeneration { push }
        } else {
            Action::PushGood { push }
        }))
    }
}

fn kind_name(kind: ActionKind) -> &'static str {
    match kind {
        ActionKind::StopGeneration => "stop_generation",
        ActionKind::PushGood => "push_good",
        _ => "fail_open",
    }
}

/// Each push's trigger interval for the analysis: from the first time a file may be bad
/// (`p(t) > 0`) to its first `push_good` (the kill switch), or the end of the run. Pushes that
/// never produce a bad file have none.
pub(crate) fn triggers(
    pushes: &[ConfigPushSpec],
    actions: &[TimedAction],
    duration: SimDuration,
) -> Vec<(SimTime, SimTime, String)> {
    let end = SimTime::ZERO.saturating_add(duration);
    let mut out = Vec::new();
    for (i, c) in pushes.iter().enumerate() {
        let pts = &c.bad_fraction;
        let from = match pts.first() {
            Some(&(_, p)) if p > 0.0 => Some(SimTime::ZERO),
            _ => pts.windows(2).find(|w| w[1].1 > 0.0).map(|w| w[0].0),
        };
        let Some(from) = from else {
            continue;
        };
        let to = actions
            .iter()
            .filter(|a| a.at >= from)
            .find(|a| matches!(a.action, Action::PushGood { push } if push as usize == i))
            .map_or(end, |a| a.at);
        if to > from {
            out.push((from, to, format!("{}: bad config files", c.name)));
        }
    }
    out
}
