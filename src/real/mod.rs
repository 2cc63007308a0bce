//! Real-I/O mode: the policy core over real sockets, and the evidence that
//! the network model predicts it.
//!
//! - [`content`]: deterministic synthetic file bytes, random-access.
//! - [`pacer`]: the wall-clock token bucket (server egress, client limiter).
//! - [`lock`]: mutex/rwlock access that recovers from poisoning.
//! - [`server`]: the loopback HTTP/1.1 server: sockets and parsing around
//!   the shared server core ([`crate::server::ServerPolicy`]).
//! - [`runtime`]: the real runtime (threads + `std::net` + wall clock),
//!   SHA-256 of every completed file checked.
//! - [`validate`]: sim vs real per scenario, calibration of loopback overheads.
//! - [`plot`]: the predicted-vs-measured SVG.

pub mod content;
pub mod lock;
pub mod pacer;
pub mod plot;
pub mod runtime;
pub mod server;
pub mod validate;

pub use content::Content;
pub use runtime::{RealOptions, RealRun, expected_digests, run_real};
pub use server::{Server, ServerConfig, ServerStats};
