//! # sim-core
//!
//! A deterministic discrete-event engine. Its vocabulary is *time*, *event*, *stream* and
//! *metric*; it knows nothing of requests or networks (those live in `models`).
//!
//! - [`SimTime`]: integer nanoseconds; events run in `(time, insertion sequence)` order.
//! - [`EventQueue`]: the pending-event heap, events stored inline, with a timer set beside it
//!   (a FIFO lane and a radix heap) for timers that are mostly re-armed far ahead
//!   ([`timers::TimerQueue`]).
//! - [`Sim`] + [`Model`]: the run loop, with an event budget and a horizon ([`Limits`]).
//! - [`rng::stream`]: random streams derived from `(master seed, stable name)`.
//! - [`Recorder`]: windowed counters, time-weighted gauges and latency histograms.
//!
//! Architecture invariant: a run is a pure function of (model built from a scenario, master
//! seed). Nothing here reads the wall clock, OS randomness, or iterates a hash map.

pub mod engine;
pub mod histogram;
pub mod metrics;
pub mod queue;
pub mod rng;
pub mod spill;
pub mod stat;
pub mod time;
pub mod timers;

pub use engine::{Limits, Model, OBSERVE_EVERY, RunStats, Sim, Step, StopReason};
pub use histogram::Histogram;
pub use metrics::{
    CounterId, GaugeId, GaugeStat, HistId, HistStat, MetricDef, MetricRef, Recorder,
};
pub use queue::EventQueue;
pub use rng::{SimRng, derive_seed, stream};
pub use time::{SimDuration, SimTime};
