//! # dlsim — a deterministic simulator of a model-download orchestrator
//!
//! A map of the crate, in the order data flows:
//!
//! - [`scenario`]: the JSON scenario schema, defaults, validation, workloads
//!   and sweeps. Start here to see every knob. A scenario (or each sweep
//!   point, built lazily) is validated once into a [`scenario::Plan`]: seed
//!   resolved, workload expanded, work and memory estimated against a
//!   [`scenario::Budget`]. Only plans are simulated.
//! - [`orchestrator`]: **the policy core**, a sans-IO state machine — queue
//!   and priorities, concurrency limits, chunk sizing, connection pool,
//!   retries and backoff, the memory account. Inputs in, actions out; no
//!   clock, no sockets.
//! - [`engine`]: the discrete-event engine — virtual clock, `(time, seq)`
//!   event queue, run loop, keyed ChaCha random streams. Knows nothing of HTTP.
//! - [`net`]: the network model — one server link ([`net::Link`]) over a
//!   shared capacity (server rate, per-connection cap, the client's token
//!   bucket and CPU) with a sharing discipline (processor sharing with
//!   virtual time, or round-robin turns), RTT, latency, handshakes. Knows
//!   nothing of queues, nor of what the server decides.
//! - [`server`]: **the server core**, sans-IO — request in, decision out
//!   (status + Retry-After, or a body of N bytes then keep-alive/close/reset,
//!   or a stall): fault decisions, the request cap, the keep-alive budget,
//!   fault counters. Both runtimes' servers call it.
//! - [`sim`]: the sim runtime, which drives the policy core with the engine
//!   and the network model, and asks the server core what each request
//!   gets; [`sim::simulate`] runs one plan.
//! - [`real`]: real-I/O mode — the loopback HTTP server (sockets and parsing
//!   around the server core), the real runtime (the same client core over
//!   sockets and the wall clock) and `dlsim validate`.
//! - [`wan`]: the WAN emulator (root) — two network namespaces joined by a
//!   delaying, rate-limiting TUN relay, kernel TCP at both ends;
//!   `dlsim wan run -- COMMAND` and the library API for WAN validation.
//! - [`record`]: the [`RunRecord`] either runtime returns (outcomes,
//!   counters, bytes, memory, the event log, which runtime); everything
//!   below reads only this, so real runs are reported and checked like
//!   simulated ones.
//! - [`trace`] and [`check`]: the run's event log and the invariant checker
//!   over a record (`dlsim run --check`, and every real run of `dlsim validate`).
//! - [`report`]: `BenchmarkResult` (the Python suite's fields), summary,
//!   JSON/CSV writers and the stdout table; `report::stats`: replications'
//!   mean, std and 95 % interval.
//! - [`run`]: the `run` and `merge` commands (points, replications, shards);
//!   [`shard`]: `--shard K/N|auto`, parts and their merge.
//! - [`suite`]: the seed suite (eight families, 27 results, extended
//!   sweeps) and its report; [`plot`]: its SVG charts; [`par`]: parallel runs.
//! - [`compare`]: `dlsim compare`, one scenario under each client preset
//!   ([`scenario::preset`]: huggingface_hub, hf_transfer, aria2, curl, the original).
//! - [`bench`]: the reference workload W1 of `dlsim bench --w1`.
//! - [`time`]: `SimTime`, integer nanoseconds. [`error`]: typed user errors.
//!   [`help`]: the command line's long help texts. [`progress`]: progress
//!   on stderr when it is a terminal.

pub mod bench;
pub mod check;
pub mod compare;
pub mod engine;
pub mod error;
pub mod help;
pub mod net;
pub mod orchestrator;
pub mod par;
pub mod plot;
pub mod progress;
pub mod real;
pub mod record;
pub mod report;
pub mod run;
pub mod scenario;
pub mod server;
pub mod shard;
pub mod sim;
pub mod suite;
pub mod time;
pub mod trace;
pub mod wan;

pub use error::{Error, Result};
pub use record::{RunRecord, Runtime};
pub use report::BenchmarkResult;
pub use scenario::{Budget, Plan, Scenario};
pub use sim::{Footprint, SimOptions, simulate};
pub use time::SimTime;
