//! A scenario's HTTP server inside the server namespace, behind the
//! emulated path — the library API that `dlsim wan run` and
//! `validate --wan` share.
//!
//! The server is the loopback server of [`crate::real`] bound to
//! [`SERVER_IP`], with **no pacing**: the emulated bottleneck (the
//! scenario's `server.bandwidth_bps`) does the sharing and kernel TCP
//! competes for it. `network.rtt_ms` is the emulated RTT; `server.latency_ms`
//! stays the server's think time. The server lives on its own thread in the
//! server namespace (its listener and every accepted socket belong there)
//! and is dropped there when the run finishes.

use super::emulator::{MTU_BYTES, SERVER_IP, Wan, WanConfig};
use super::relay::RelayReport;
use crate::error::{Error, Result};
use crate::real::{Server, ServerStats};
use crate::scenario::Scenario;
use std::net::SocketAddr;
use std::sync::mpsc;
use std::thread::JoinHandle;

/// Port of the server inside its namespace.
pub const SERVER_PORT: u16 = 80;

/// IPv4 (20) + TCP (20) + timestamp option (12) header bytes of every
/// segment Linux sends on the emulated path: a full segment carries
/// `MTU − 52 = 1448` payload bytes.
pub const TCP_IP_HEADER_BYTES: u32 = 52;

/// IP bytes on the wire per payload byte of full segments: 1500 / 1448.
pub fn wire_bytes_per_payload_byte() -> f64 {
    f64::from(MTU_BYTES) / f64::from(MTU_BYTES - TCP_IP_HEADER_BYTES)
}

impl WanConfig {
    /// The path of a scenario: its RTT, and its server bandwidth as the
    /// bottleneck. `server.bandwidth_bps` counts payload bytes (the model's
    /// and the loopback server's unit), the relay's rate counts IP bytes,
    /// so the bottleneck gets `bandwidth_bps × 1500 / 1448` (and the queue
    /// `network.queue_bytes × 1500 / 1448` when set): a bulk
    /// transfer's goodput is then the scenario's bandwidth. (With the rate
    /// taken as is, every link-bound row measured 3.5 % slow: e.g. 4 × 1 MiB
    /// at 2 MB/s, 2.186 s for the model's 2.108 s, in three of three runs.)
    pub fn from_scenario(s: &Scenario, seed: u64) -> WanConfig {
        WanConfig {
            rtt_ms: s.network.rtt_ms,
            rate_bps: s.server.bandwidth_bps.map(|b| b * wire_bytes_per_payload_byte()),
            // The model's `network.queue_bytes` counts payload; the relay counts IP bytes.
            queue_bytes: s.network.queue_bytes.map(|q| (q as f64 * wire_bytes_per_payload_byte()).ceil() as u64),
            seed,
            ..WanConfig::default()
        }
    }
}

/// An emulator with a scenario's server running behind it.
pub struct ServedWan {
    /// Present until [`ServedWan::finish`].
    wan: Option<Wan>,
    addr: SocketAddr,
    /// The server speaks TLS (`https://` URLs).
    tls: bool,
    stop: Option<mpsc::Sender<()>>,
    server: Option<JoinHandle<std::io::Result<ServerStats>>>,
}

impl ServedWan {
    /// Start the emulator with `cfg` and serve the files of `s` (run seed
    /// `seed`) unpaced on `SERVER_IP:SERVER_PORT` in the server namespace.
    pub fn start(s: &Scenario, seed: u64, cfg: WanConfig) -> Result<ServedWan> {
        let wan = Wan::start(cfg)?;
        let (ready_tx, ready_rx) = mpsc::channel::<Result<SocketAddr>>();
        let (stop_tx, stop_rx) = mpsc::channel::<()>();
        let scenario = s.clone();
        let server = wan
            .server_ns()
            .spawn("wan-http", move || {
                let addr = SocketAddr::from((SERVER_IP, SERVER_PORT));
                let server = match Server::for_scenario(&scenario, seed, addr, true) {
                    Ok(server) => server,
                    Err(e) => {
                        let _ = ready_tx.send(Err(e));
                        return ServerStats::default();
                    }
                };
                server.set_bandwidth_limit(None);
                let _ = ready_tx.send(Ok(server.addr()));
                // Until finish() or drop (the sender goes away).
                let _ = stop_rx.recv();
                let stats = server.stats();
                drop(server);
                stats
            })
            .map_err(|e| Error::Other(format!("wan: cannot start the server thread: {e}")))?;
        let mut served = ServedWan {
            wan: Some(wan),
            addr: SocketAddr::from((SERVER_IP, 0)),
            tls: s.server.tls.is_some(),
            stop: Some(stop_tx),
            server: Some(server),
        };
        match ready_rx.recv() {
            Ok(Ok(addr)) => served.addr = addr,
            Ok(Err(e)) => return Err(e),
            Err(_) => return Err(Error::Other("wan: the server thread failed to start".into())),
        }
        Ok(served)
    }

    /// The server's address (inside the emulated network).
    pub fn server_addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://198.18.0.1:80` (`https://` when the scenario serves TLS).
    pub fn base_url(&self) -> String {
        format!("{}://{}", if self.tls { "https" } else { "http" }, self.addr)
    }
    /// `http://198.18.0.1:80/path`.
    pub fn url(&self, path: &str) -> String {
        format!("{}/{}", self.base_url(), path.trim_start_matches('/'))
    }
    /// The emulator: [`Wan::in_client`], [`Wan::command`].
    pub fn wan(&self) -> &Wan {
        self.wan.as_ref().expect("the emulator lives until finish(self)")
    }

    fn stop_server(&mut self) -> Result<ServerStats> {
        drop(self.stop.take());
        match self.server.take() {
            Some(h) => match h.join() {
                Ok(Ok(stats)) => Ok(stats),
                Ok(Err(e)) => Err(Error::Other(format!("wan: server thread: {e}"))),
                Err(_) => Err(Error::Other("wan: the server thread panicked".into())),
            },
            None => Err(Error::Other("wan: server already stopped".into())),
        }
    }

    /// Stop the server and the relay; what each counted.
    pub fn finish(mut self) -> Result<(RelayReport, ServerStats)> {
        let stats = self.stop_server()?;
        let wan = self.wan.take().expect("the emulator lives until finish(self)");
        Ok((wan.finish()?, stats))
    }
}

impl Drop for ServedWan {
    fn drop(&mut self) {
        if self.server.is_some() {
            let _ = self.stop_server();
        }
    }
}
