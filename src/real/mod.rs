//! Real-I/O mode: the policy core over real sockets, and the evidence that
//! the network model predicts it.
//!
//! - [`clients`]: real download tools (curl, aria2c, hf_transfer,
//!   huggingface_hub) run against the Hub-mode server, every file checked.
//! - [`content`]: deterministic synthetic file bytes, random-access.
//! - [`hub`]: the Hugging Face Hub's HTTP API as pure code (routes, JSON
//!   bodies, ETags, the redirect of large files to a CDN-like listener).
//! - [`pacer`]: the wall-clock token bucket (server egress, client limiter).
//! - [`lock`]: mutex/rwlock access that recovers from poisoning.
//! - [`server`]: the loopback HTTP/1.1 server: sockets and parsing around
//!   the shared server core ([`crate::server::ServerPolicy`]).
//! - [`runtime`]: the real runtime (threads + `std::net` + wall clock),
//!   SHA-256 of every completed file checked; returns the same
//!   [`crate::RunRecord`] as the sim.
//! - [`validate`]: sim vs real per scenario (both reported and checked),
//!   calibration of loopback overheads.
//! - [`spread`]: where a prediction sits among the repeated real runs
//!   (their range, its distance outside it), for both validations.
//! - [`plot`]: the predicted-vs-measured SVG.
//! - [`tls`]: HTTPS (`server.tls`): the start-up certificate, rustls
//!   configs, and the plain-or-TLS [`tls::Stream`] both sides use.

pub mod clients;
pub mod content;
pub mod cpu;
pub mod hub;
pub mod lock;
pub mod pacer;
pub mod plot;
pub mod runtime;
pub mod server;
pub mod spread;
pub mod tls;
pub mod validate;

pub use content::Content;
pub use runtime::{RealOptions, expected_digests, run_real};
pub use server::{HubOptions, Server, ServerConfig, ServerStats};
