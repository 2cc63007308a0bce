//! The run's event log: what the policy core did, in order. Both runtimes
//! produce it (when asked); the invariant checker (`check`) and the timeline
//! plot read it. Times are `SimTime` (virtual in the sim runtime, elapsed
//! wall time in the real one).

use crate::orchestrator::ConnId;
use crate::scenario::Priority;
use crate::time::SimTime;
use serde::Serialize;

#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "event", rename_all = "snake_case")]
pub enum TraceEvent {
    /// A file left the queue (its download started).
    FileDispatched {
        t: SimTime,
        file: u32,
        model: u32,
        priority: Priority,
    },
    /// A new connection is being opened (a handshake) for `pool`, the
    /// idle stack it returns to (the pool's owner: 0 shared, the worker or
    /// the file by `client.pool.scope`; `2 × owner + host` with a CDN).
    ConnOpen {
        t: SimTime,
        conn: ConnId,
        pool: u32,
    },
    /// A connection finished its handshake.
    ConnOpened {
        t: SimTime,
        conn: ConnId,
    },
    /// An idle pooled connection was reused.
    ConnReused {
        t: SimTime,
        conn: ConnId,
        requests_before: u32,
    },
    /// A connection went back to the pool, idle.
    ConnIdle {
        t: SimTime,
        conn: ConnId,
    },
    /// A connection was closed by the client (or found dead).
    ConnClosed {
        t: SimTime,
        conn: ConnId,
        reason: &'static str,
    },
    /// A Range request `[start, end)` was sent.
    RequestSent {
        t: SimTime,
        file: u32,
        conn: ConnId,
        req: u64,
        start: u64,
        end: u64,
        attempt: u32,
    },
    /// The whole range arrived.
    RequestDone {
        t: SimTime,
        file: u32,
        conn: ConnId,
        req: u64,
        bytes: u64,
    },
    /// The request failed after `received` bytes; `kept` of them were kept (resume).
    RequestFailed {
        t: SimTime,
        file: u32,
        conn: ConnId,
        req: u64,
        kind: &'static str,
        received: u64,
        kept: u64,
        retryable: bool,
    },
    /// A retry of `[start, end)` will be sent at `at`.
    RetryScheduled {
        t: SimTime,
        file: u32,
        start: u64,
        retry: u32,
        delay_s: f64,
        retry_after_s: Option<f64>,
        at: SimTime,
    },
    FileCompleted {
        t: SimTime,
        file: u32,
        bytes: u64,
    },
    FileFailed {
        t: SimTime,
        file: u32,
        reason: String,
    },
}

impl TraceEvent {
    pub fn time(&self) -> SimTime {
        use TraceEvent::*;
        match self {
            FileDispatched { t, .. }
            | ConnOpen { t, .. }
            | ConnOpened { t, .. }
            | ConnReused { t, .. }
            | ConnIdle { t, .. }
            | ConnClosed { t, .. }
            | RequestSent { t, .. }
            | RequestDone { t, .. }
            | RequestFailed { t, .. }
            | RetryScheduled { t, .. }
            | FileCompleted { t, .. }
            | FileFailed { t, .. } => *t,
        }
    }
}
