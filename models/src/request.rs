//! Requests in flight. A queued request is 32 bytes and stored inline in its service's queue;
//! the caller's bookkeeping (when the call began, which attempt this is) lives with the caller,
//! so memory grows with the number of *live* requests, never with the number simulated.

use sim_core::SimTime;

/// Who awaits a request's reply: a client call slot and the attempt generation that sent it.
/// A reply whose generation no longer matches (the attempt timed out, or the call ended) finds
/// nobody waiting: the work was wasted.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Caller {
    pub client: u32,
    pub slot: u32,
    pub generation: u32,
}

impl Caller {
    /// A caller that never waits (for tests and fire-and-forget work).
    pub const NOBODY: Caller = Caller {
        client: u32::MAX,
        slot: 0,
        generation: 0,
    };
}

#[derive(Clone, Copy, Debug)]
pub struct Request {
    /// When it reached the service currently holding it.
    pub arrived: SimTime,
    /// When the caller stops waiting for this attempt (`SimTime::MAX` if never). Services with
    /// `drop_expired` discard work whose deadline has passed instead of serving it; with
    /// `queue_abandonment` it leaves the queue at that moment.
    pub deadline: SimTime,
    pub caller: Caller,
    /// The cache key the request reads (0 when the caller has no cache).
    pub key: u32,
}

/// How an attempt ended, as seen by the service that handled it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// Served successfully.
    Ok,
    /// Turned away at admission (full queue, shedding).
    Rejected,
    /// Served, but answered with an error.
    Error,
}

const _: () = assert!(std::mem::size_of::<Request>() <= 32);
