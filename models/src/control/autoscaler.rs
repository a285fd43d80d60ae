//! An autoscaler: a feedback loop that sets a service's server count from a measured signal
//! (target tracking, like AWS Application Auto Scaling's target-tracking policies).
//!
//! Every `interval / SAMPLES` the world samples the signal (utilisation: busy ÷ servers in
//! service; queue: waiting requests per server in service); every `interval` the autoscaler
//! averages the samples (or, for `wait`, takes the mean queueing wait of the requests that
//! started service in the interval, from the service's counters) and decides:
//!
//! - desired = ⌈servers × signal ÷ target⌉, clamped to [`min`, `max`];
//! - scale out when desired > servers + launches in flight: launch the difference (at most
//!   `max_step` per evaluation). Each launch asks the control plane, which fails it with the
//!   control-plane service's error probability (always while that service is down; the next
//!   evaluation asks again), else the instance comes into service after a provisioning delay
//!   drawn from `provisioning` (× the control-plane service's slowdown), cold if `cold_start`;
//! - scale in (hysteresis) only when the signal is below `target × scale_in_below`, nothing is
//!   in flight and the last scaling action is at least `cooldown` old: remove down to desired
//!   (at most `max_step`); the newest instances go first, busy ones when they finish.
//!
//! Pending launches count as capacity, so a slow provisioning does not launch again and again
//! for the same shortfall; there is no separate scale-out cooldown.

use sim_core::{CounterId, GaugeId, Recorder, SimDuration, SimRng, SimTime};

use crate::dist::Dist;
pub use crate::request_path::warmup::ColdStartSpec;

/// Samples per evaluation interval.
pub const SAMPLES: u32 = 10;

/// The signal an autoscaler tracks.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Signal {
    /// Busy servers ÷ servers in service (0..=1).
    Utilisation,
    /// Waiting requests per server in service.
    Queue,
    /// Mean queueing wait (ms) of the requests that started service in the interval.
    Wait,
}

#[derive(Clone, Debug, PartialEq)]
pub struct AutoscalerSpec {
    pub name: String,
    /// The service it scales.
    pub service: u32,
    pub signal: Signal,
    pub target: f64,
    pub interval: SimDuration,
    pub min: u32,
    pub max: u32,
    pub max_step: u32,
    pub provisioning: Dist,
    pub scale_in_below: f64,
    pub cooldown: SimDuration,
    /// A service standing for the control plane that launches go through (its `down`,
    /// `error_rate` and `slowdown` impair launches); `None`: launches always succeed.
    pub control_plane: Option<u32>,
    pub cold_start: Option<ColdStartSpec>,
}

/// The autoscaler's own events.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Ev {
    /// Sample the signal (every `SAMPLES`-th sample is an evaluation).
    Sample,
    /// A launched instance is ready to serve.
    Ready,
}

/// What an evaluation decided.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Decision {
    Hold,
    /// Launch this many instances.
    Out(u32),
    /// Remove this many instances.
    In(u32),
}

/// The state of the control plane as a launch sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct ControlPlane {
    /// Probability that a launch request fails (1 while the control plane is down).
    pub fail: f64,
    /// Factor on the provisioning delay.
    pub slowdown: f64,
}

#[derive(Clone, Debug)]
pub struct Autoscaler {
    pub spec: AutoscalerSpec,
    /// Launches in flight.
    pub pending: u32,
    samples: u32,
    sum: f64,
    last_scale: Option<SimTime>,
    /// The service's `wait_ns` and `started` counters at the last evaluation (`wait` signal).
    pub(crate) prev_wait: (u64, u64),
    rng: SimRng,
    cp_rng: SimRng,
    pub(crate) m: AutoscalerMetrics,
}

#[derive(Clone, Debug)]
pub(crate) struct AutoscalerMetrics {
    pub scale_outs: CounterId,
    pub scale_ins: CounterId,
    pub launch_failures: CounterId,
    pub servers: GaugeId,
    pub pending: GaugeId,
}

impl Autoscaler {
    /// An autoscaler whose metrics are registered under its service's name `service_name`.
    pub fn new(spec: &AutoscalerSpec, service_name: &str, seed: u64, rec: &mut Recorder) -> Self {
        let n = &spec.name;
        let s = service_name;
        Autoscaler {
            spec: spec.clone(),
            pending: 0,
            samples: 0,
            sum: 0.0,
            last_scale: None,
            prev_wait: (0, 0),
            rng: sim_core::stream(seed, &format!("{n}/provisioning")),
            cp_rng: sim_core::stream(seed, &format!("{n}/control_plane")),
            m: AutoscalerMetrics {
                scale_outs: rec.counter(s, "scale_outs"),
                scale_ins: rec.counter(s, "scale_ins"),
                launch_failures: rec.counter(s, "launch_failures"),
                servers: rec.gauge(s, "servers"),
                pending: rec.gauge(s, "servers_pending"),
            },
        }
    }

    /// Time between samples.
    pub fn sample_every(&self) -> SimDuration {
        SimDuration((self.spec.interval.as_nanos() / u64::from(SAMPLES)).max(1))
    }

    /// Adds a sample of the signal; true if this sample closes an evaluation interval.
    pub fn add_sample(&mut self, value: f64) -> bool {
        self.sum += value;
        self.samples += 1;
        self.samples >= SAMPLES
    }

    /// The signal over the interval just closed (`wait_ms`: the `wait` signal, measured by
    /// the world; `None` when no request started service), and resets the samples.
    pub fn close_interval(&mut self, wait_ms: Option<f64>) -> Option<f64> {
        let mean = self.sum / f64::from(self.samples.max(1));
        self.sum = 0.0;
        self.samples = 0;
        match self.spec.signal {
            Signal::Wait => wait_ms,
            Signal::Utilisation | Signal::Queue => Some(mean),
        }
    }

    /// The target-tracking decision for `signal` with `servers` in service at `now`.
    pub fn decide(&mut self, signal: f64, servers: u32, now: SimTime) -> Decision {
        let s = &self.spec;
        let raw = (f64::from(servers.max(1)) * signal / s.target).ceil();
        let desired = if raw.is_finite() {
            (raw.max(0.0) as u64).clamp(u64::from(s.min), u64::from(s.max)) as u32
        } else {
            s.max
        };
        let have = servers + self.pending;
        if desired > have {
            return Decision::Out((desired - have).min(s.max_step));
        }
        let cooled = self.last_scale.is_none_or(|t| now.since(t) >= s.cooldown);
        if desired < servers
            && signal < s.target * s.scale_in_below
            && self.pending == 0
            && cooled
            && servers > s.min
        {
            let n = (servers - desired.max(s.min)).min(s.max_step);
            self.last_scale = Some(now);
            return Decision::In(n);
        }
        Decision::Hold
    }

    /// Asks the control plane (in state `cp`) for one instance at `now`: its provisioning
    /// delay, or `None` if the request failed.
    pub fn launch(&mut self, cp: ControlPlane, now: SimTime) -> Option<SimDuration> {
        self.last_scale = Some(now);
        if cp.fail > 0.0
            && (cp.fail >= 1.0 || rand::RngExt::random::<f64>(&mut self.cp_rng) < cp.fail)
        {
            return None;
        }
        self.pending += 1;
        let d = self.spec.provisioning.sample(&mut self.rng);
        Some(if cp.slowdown == 1.0 {
            d
        } else {
            SimDuration::from_nanos_f64(d.as_nanos() as f64 * cp.slowdown.max(0.0))
        })
    }

    /// A launched instance came into service.
    pub fn ready(&mut self) {
        self.pending = self.pending.saturating_sub(1);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec() -> AutoscalerSpec {
        AutoscalerSpec {
            name: "as".into(),
            service: 0,
            signal: Signal::Utilisation,
            target: 0.5,
            interval: SimDuration::from_millis(10_000),
            min: 2,
            max: 20,
            max_step: 100,
            provisioning: Dist::Constant { ns: 60_000_000_000 },
            scale_in_below: 0.8,
            cooldown: SimDuration::from_millis(300_000),
            control_plane: None,
            cold_start: None,
        }
    }

    fn at(s: u64) -> SimTime {
        SimTime::ZERO.saturating_add(SimDuration::from_millis(s * 1000))
    }

    fn scaler(spec: &AutoscalerSpec) -> Autoscaler {
        let mut rec = Recorder::new(SimDuration::from_millis(1000), SimDuration::ZERO, 16);
        rec.counter("svc", "arrivals");
        Autoscaler::new(spec, "svc", 1, &mut rec)
    }

    const OK: ControlPlane = ControlPlane {
        fail: 0.0,
        slowdown: 1.0,
    };

    #[test]
    fn target_tracking_counts_pending_launches_as_capacity() {
        let mut a = scaler(&spec());
        // 4 servers at 100 % busy with a 50 % target: 8 wanted, 4 more.
        assert_eq!(a.decide(1.0, 4, at(10)), Decision::Out(4));
        for _ in 0..4 {
            assert_eq!(a.launch(OK, at(10)), Some(SimDuration::from_millis(60_000)));
        }
        // Still saturated while they boot: nothing more is launched.
        assert_eq!(a.decide(1.0, 4, at(20)), Decision::Hold);
        for _ in 0..4 {
            a.ready();
        }
        assert_eq!(a.decide(0.5, 8, at(80)), Decision::Hold);
    }

    #[test]
    fn scale_in_waits_for_hysteresis_and_cooldown_and_keeps_the_minimum() {
        let mut a = scaler(&spec());
        a.launch(OK, at(0));
        a.ready();
        // 45 % < 50 % target but not below 0.8 × 50 %: hold.
        assert_eq!(a.decide(0.45, 10, at(400)), Decision::Hold);
        // 10 % with 10 servers: desired 2; but the last launch was 100 s ago (< 300 s).
        assert_eq!(a.decide(0.1, 10, at(100)), Decision::Hold);
        assert_eq!(a.decide(0.1, 10, at(400)), Decision::In(8));
        // The cooldown restarts with the scale-in.
        assert_eq!(a.decide(0.0, 2, at(500)), Decision::Hold);
    }

    #[test]
    fn a_failed_control_plane_launches_nothing_and_a_slow_one_stretches_the_delay() {
        let mut a = scaler(&spec());
        let down = ControlPlane {
            fail: 1.0,
            slowdown: 1.0,
        };
        assert_eq!(a.launch(down, at(0)), None);
        assert_eq!(a.pending, 0);
        let slow = ControlPlane {
            fail: 0.0,
            slowdown: 3.0,
        };
        assert_eq!(
            a.launch(slow, at(0)),
            Some(SimDuration::from_millis(180_000))
        );
        assert_eq!(a.pending, 1);
    }

    #[test]
    fn samples_are_averaged_over_the_interval() {
        let mut a = scaler(&spec());
        for k in 0..SAMPLES {
            let closes = a.add_sample(if k % 2 == 0 { 1.0 } else { 0.0 });
            assert_eq!(closes, k + 1 == SAMPLES);
        }
        assert_eq!(a.close_interval(None), Some(0.5));
    }
}
