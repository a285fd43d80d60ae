//! Lease managers inside a world: the congestive-collapse condition and the operators'
//! ways out (throttle, restarts, LIFO, queue-size admission).

use crate::control::lease::*;
use crate::dist::Dist;
use crate::{Action, Event, TimedAction, World, WorldSpec};
use sim_core::{Limits, Sim};
use sim_core::{Recorder, SimDuration, SimTime};

fn spec(droplets: u32, timeout_s: f64) -> LeaseSpec {
    LeaseSpec {
        check_interval: SimDuration::from_secs_f64(1e9),
        lease_ttl: Dist::Constant {
            ns: SimDuration::from_secs_f64(1e7).as_nanos(),
        },
        // Every lease has expired at t = 1 ns: every droplet asks for an establishment
        // at once, so the queue starts at Q = N.
        initial_lease_remaining: Some(Dist::Constant { ns: 1 }),
        job_timeout: SimDuration::from_secs_f64(timeout_s),
        renew_time: Dist::Constant {
            ns: SimDuration::from_millis(10).as_nanos(),
        },
        establish_time: Dist::Constant {
            ns: SimDuration::from_millis(1000).as_nanos(),
        },
        fail_time: Dist::Constant { ns: 1_000_000 },
        ..test_spec(droplets)
    }
}

fn run(spec: LeaseSpec, horizon_s: f64) -> (World, Sim<Event>) {
    let world_spec = WorldSpec {
        clients: vec![],
        services: vec![],
        sinks: vec![],
        actions: vec![],
        max_live_requests: 1_000_000,
        lease_managers: vec![spec],
        ..WorldSpec::default()
    };
    let rec = Recorder::new(SimDuration::from_secs_f64(10.0), SimDuration::ZERO, 100_000);
    let mut sim = Sim::new(rec);
    let mut world = World::build(&world_spec, 1, &mut sim);
    sim.run(
        &mut world,
        Limits {
            horizon: SimTime::from_secs_f64(horizon_s),
            max_events: 100_000_000,
        },
    );
    (world, sim)
}

fn counter(sim: &Sim<Event>, name: &str) -> u64 {
    match sim.rec.find("dwfm", name) {
        Some(sim_core::MetricRef::Counter(c)) => sim.rec.counter_total(c),
        _ => panic!("no counter {name}"),
    }
}

/// μ = 1 job/s (one worker, 1 s per establishment), D = 100 s: a queue of 80 < μ·D drains
/// with every lease established and nothing wasted.
#[test]
fn queue_below_mu_times_d_drains() {
    let (world, sim) = run(spec(80, 100.0), 1_000.0);
    let m = &world.leases[0];
    assert_eq!(m.held(), 80);
    assert_eq!(m.queued(), 0);
    assert_eq!(counter(&sim, "wasted"), 0);
    assert_eq!(counter(&sim, "establishments"), 80);
}

/// A burst of `Q` jobs at once (μ = 1/s, D = 100 s): the first μ·D finish in time; the
/// other `Q − μ·D` time out and are requeued, and a requeued job then waits
/// `(Q − μ·D)/μ`. So a burst drains iff `Q − μ·D ≤ μ·D`, i.e. `Q ≤ 2·μ·D` (with waste).
#[test]
fn burst_below_twice_mu_times_d_drains_with_waste() {
    let (world, sim) = run(spec(180, 100.0), 2_000.0);
    assert_eq!(world.leases[0].held(), 180);
    assert_eq!(counter(&sim, "wasted"), 80, "jobs 101..=180 timed out once");
}

/// Above `2·μ·D` the requeued backlog itself exceeds μ·D: every job times out from then
/// on, and goodput stays 0 forever although the worker is always busy.
#[test]
fn queue_above_mu_times_d_collapses_for_good() {
    let (world, sim) = run(spec(220, 100.0), 20_000.0);
    let m = &world.leases[0];
    // The first ~D·μ jobs complete in time; then none ever again.
    let established = counter(&sim, "establishments");
    assert!((99..=100).contains(&established), "{established}");
    assert_eq!(m.held() as u64, established);
    assert_eq!(
        m.queued() + 1,
        220 - established,
        "every other droplet still queued"
    );
    // Every worker-second since ≈ 100 s was wasted work.
    let wasted = counter(&sim, "wasted");
    assert!(wasted > 19_000, "{wasted}");
}

/// The absorbing state: Q/μ > D with requeue keeps Q; flushing the queue and admitting
/// work no faster than μ recovers.
#[test]
fn flush_and_throttle_leave_the_collapse() {
    let s = spec(300, 100.0);
    let world_spec = WorldSpec {
        clients: vec![],
        services: vec![],
        sinks: vec![],
        actions: vec![
            TimedAction {
                at: SimTime::from_secs_f64(5_000.0),
                action: Action::LeaseThrottle {
                    manager: 0,
                    rate_per_s: Some(0.5),
                },
            },
            TimedAction {
                at: SimTime::from_secs_f64(5_000.0),
                action: Action::RestartHosts {
                    manager: 0,
                    hosts: 1,
                },
            },
        ],
        max_live_requests: 1_000_000,
        lease_managers: vec![LeaseSpec {
            check_interval: SimDuration::from_secs_f64(60.0),
            ..s
        }],
        ..WorldSpec::default()
    };
    let rec = Recorder::new(SimDuration::from_secs_f64(10.0), SimDuration::ZERO, 100_000);
    let mut sim = Sim::new(rec);
    let mut world = World::build(&world_spec, 1, &mut sim);
    sim.run(
        &mut world,
        Limits {
            horizon: SimTime::from_secs_f64(4_999.0),
            max_events: 100_000_000,
        },
    );
    assert!(world.leases[0].held() <= 100, "collapsed before the action");
    sim.run(
        &mut world,
        Limits {
            horizon: SimTime::from_secs_f64(6_000.0),
            max_events: 100_000_000,
        },
    );
    // 200 droplets at 0.5/s: 400 s plus a check interval.
    assert_eq!(world.leases[0].held(), 300);
}

#[test]
fn lifo_serves_fresh_work_and_recovers() {
    let s = LeaseSpec {
        discipline: LeaseDiscipline::Lifo,
        ..spec(300, 100.0)
    };
    let (world, sim) = run(s, 2_000.0);
    assert_eq!(world.leases[0].held(), 300);
    assert!(counter(&sim, "wasted") < 300);
}

#[test]
fn max_queue_below_mu_times_d_prevents_the_collapse() {
    let s = LeaseSpec {
        max_queue: Some(50),
        check_interval: SimDuration::from_secs_f64(60.0),
        ..spec(300, 100.0)
    };
    let (world, sim) = run(s, 2_000.0);
    assert_eq!(world.leases[0].held(), 300);
    assert_eq!(counter(&sim, "wasted"), 0);
    assert!(counter(&sim, "rejected") >= 250);
}
