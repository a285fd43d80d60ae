//! The request path: the components a request flows through. A [`client::Client`] makes
//! calls (open loop, closed loop, or a service's downstream call edge) with timeouts,
//! deadlines and the retry life cycle of [`retry`]; a [`service::Service`] queues and serves
//! them; a [`sink::Sink`] records end-to-end outcomes.
//!
//! These modules hold the components' state and their local rules (admission, queue
//! disciplines, retry decisions). The flows between components — a call's life cycle,
//! serving, crash loops — are in [`crate::world`], which alone sees every component. May use:
//! the building blocks and [`crate::infra`]; never [`crate::control`] or [`crate::world`].

pub mod client;
pub mod guard;
pub mod hedge;
pub mod retry;
pub mod service;
pub mod sink;
pub mod warmup;
