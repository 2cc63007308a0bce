//! The server core, sans-IO: what the HTTP server does with each request.
//! No clock, no socket — a request in, a [`Decision`] out.
//!
//! Both runtimes call it: the sim (`sim::SimWorld::first_byte` and the end of
//! a body) and the loopback server (`real::server`'s `respond`). So the rules
//! — counting the request before deciding, 503 beyond
//! `max_concurrent_requests`, the fault kind → status and Retry-After, the
//! reset cut at ⌊len × fraction⌋, the stall, the keep-alive budget, the
//! fault counters — exist once, and `tests/server_policy.rs` checks that the
//! two runtimes make the same decisions for the same requests.
//!
//! What stays in the runtimes is what costs time or touches bytes: the
//! latency before the first byte (the sim schedules it, the real server
//! sleeps it), moving the body (the link, or paced socket writes), the stall
//! waiting for the client's timeout, HTTP parsing and the statuses that are
//! not the model's (404, 405, 416, 400…).
//!
//! - [`fault`]: the pure fault function and the per-(file, range start)
//!   attempt counter.
//! - [`policy`]: [`ServerPolicy`], the request → decision state machine.

pub mod fault;
pub mod policy;

pub use fault::{Fault, ServerFaults, decide};
pub use policy::{ConnState, Decision, Limits, Method, Request, ServerPolicy, Then};
