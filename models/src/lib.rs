//! # models
//!
//! The components of a simulated system and the closed set of events between them, in four
//! layers; each layer may use the ones above it in this list, never one below:
//!
//! 1. Building blocks, which know no component: [`dist`] (duration distributions),
//!    [`request`] (the messages: [`Request`], [`Caller`], [`Outcome`]) and [`policy`] (retry
//!    and overload policies as pure state machines).
//! 2. [`infra`]: pieces of infrastructure a request meets on its way — DNS resolution and
//!    connection reuse, client-side caches, edge nodes, load balancers with health checks.
//! 3. [`request_path`]: the components a request flows through — clients (with their retry
//!    life cycle), services, sinks.
//! 4. [`control`]: control planes that act on the request path through service fields — DNS
//!    automation, lease managers, config push.
//!
//! [`spec`] holds the validated input of a whole world ([`WorldSpec`], [`Action`]); each
//! component's own spec lives beside the component. [`world`] puts every component in typed
//! vectors (dispatch by index, no `Box<dyn>`), defines the closed [`Event`] enum and implements
//! [`sim_core::Model`]. It is the only module that knows every component; no component knows
//! the [`World`] or the [`Event`] enum: a component that schedules its own events is generic
//! over the model's event type `E: From<(u32, Ev)>` (its index and its own event).
//!
//! Architecture invariant: every random draw comes from a stream named after its component and
//! purpose (`"<name>/arrivals"`, `"<name>/service"`, …), so adding a component leaves every
//! other component's draws — and results — unchanged.

pub mod control;
pub mod dist;
pub mod infra;
pub mod policy;
pub mod request;
pub mod request_path;
pub mod spec;
pub mod world;

pub use dist::Dist;
pub use request::{Caller, Outcome, Request};
pub use request_path::client::{Client, ClientSpec, Failure, Mode, ReplyTo};
pub use request_path::retry::RetrySpec;
pub use request_path::service::{
    Admission, CrashLoop, Degradation, Discipline, QueueControl, Service, ServiceSpec,
};
pub use request_path::sink::{Sink, SinkMirror, SinkSpec};
pub use spec::{Action, TimedAction, WorldSpec};
pub use world::{Event, Measure, OperatorLog, StateValue, World};
