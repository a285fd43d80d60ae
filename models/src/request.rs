//! Requests in flight. Kept small (32 bytes) and stored inline in queues: memory grows with
//! the number of *live* requests, never with the number simulated.

use sim_core::SimTime;

use crate::spec::ReplyTo;

#[derive(Clone, Copy, Debug)]
pub struct Request {
    /// When the source emitted it.
    pub born: SimTime,
    /// When it reached the service currently holding it.
    pub arrived: SimTime,
    pub reply_to: ReplyTo,
}

/// How a request ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    Completed,
    /// Turned away by a full queue.
    Rejected,
}

const _: () = assert!(std::mem::size_of::<Request>() <= 32);
