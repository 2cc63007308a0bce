//! `dlsim wan`: a WAN emulator with real kernel TCP at both ends.
//!
//! Two anonymous network namespaces — the server side and the client side —
//! joined by a userspace relay between two TUN devices that applies, per
//! direction, a one-way delay of RTT/2, a bottleneck rate with a drop-tail
//! queue (server → client) and optional seeded random loss, in the spirit of
//! mahimahi's delay and link shells (Netravali et al., USENIX ATC 2015).
//! Linux needs no `netem` for it, and nothing in the TCP path is ours.
//!
//! - [`netns`]: anonymous namespaces held by a descriptor; run code in them.
//! - [`tun`]: a TUN device and its address, MTU and link state (ioctls).
//! - [`link`]: one direction's loss, rate, queue and delay (pure logic).
//! - [`relay`]: the thread that moves packets and times their release.
//! - [`emulator`]: [`Wan`], the namespaces + devices + relay.
//! - [`serve`]: [`ServedWan`], a scenario's server (unpaced) in the server
//!   namespace — the library API for `validate --wan`.
//! - [`tcpstats`]: the kernel's TCP counters of a namespace (RTOs, recoveries).
//! - [`runner`]: `dlsim wan run -- COMMAND…`, signals and the report.
//!
//! Root is required ([`require_root`]). Cleanup needs no bookkeeping: the
//! namespaces are anonymous and the devices not persistent, so the kernel
//! removes them when the process (or the last command it started) exits,
//! however it exits.

pub mod emulator;
pub mod link;
pub mod netns;
pub mod relay;
pub mod runner;
pub mod serve;
pub mod tcpstats;
pub mod tun;

pub use emulator::{CLIENT_IP, SERVER_IP, Wan, WanConfig, require_root};
pub use relay::{Lateness, RelayReport};
pub use serve::ServedWan;
