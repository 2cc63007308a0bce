//! The emulator: two fresh network namespaces (server side, client side),
//! one TUN device in each, and the [`Relay`] between them.
//!
//! ```text
//!  server netns                 this process (host netns)              client netns
//!  198.18.0.1/24 ── TUN ⇄ relay: downlink Link (rate, queue, loss, delay) ⇄ TUN ── 198.18.0.2/24
//!                             uplink Link (loss, delay)
//! ```
//!
//! Both ends run the kernel's own TCP (congestion control set per namespace,
//! `cubic` by default; IW10, SACK and slow start after idle are the kernel's
//! defaults in a new namespace). Names get the per-run prefix
//! `dl<pid>-<n>`; addresses are from the RFC 2544 benchmarking range and exist
//! only inside the two namespaces. Nothing is created in the host namespace:
//! no interface, address, route or qdisc, and nothing survives the process.

use super::link::{Link, LinkParams};
use super::netns::{self, NetNs};
use super::relay::{Relay, RelayReport};
use super::tun::{self, Tun};
use crate::engine::{DecisionKey, KeyedRng};
use crate::error::{Error, Result};
use std::ffi::OsStr;
use std::net::Ipv4Addr;
use std::os::unix::process::CommandExt;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};

/// Address of the server side (RFC 2544 benchmarking range).
pub const SERVER_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 1);
/// Address of the client side.
pub const CLIENT_IP: Ipv4Addr = Ipv4Addr::new(198, 18, 0, 2);
const PREFIX_LEN: u8 = 24;
/// MTU of both devices, bytes.
pub const MTU_BYTES: u32 = 1500;
/// Smallest default queue, bytes (≈ 43 full packets), for small bandwidth-delay products.
pub const MIN_QUEUE_BYTES: u64 = 64 * 1024;
/// Decision domain of the loss draws (a stable number, distinct from the
/// simulator's domains in `engine::rng::domain`).
pub const LOSS_DOMAIN: u64 = 0x57_414E; // "WAN"

/// Emulated path settings.
#[derive(Clone, Debug, PartialEq)]
pub struct WanConfig {
    /// Round-trip time, ms; each direction gets half.
    pub rtt_ms: f64,
    /// Bottleneck rate server → client, bytes/s (`None` = no bottleneck).
    pub rate_bps: Option<f64>,
    /// Drop-tail queue of the bottleneck, bytes (`None` = one
    /// bandwidth-delay product, at least [`MIN_QUEUE_BYTES`]).
    pub queue_bytes: Option<u64>,
    /// Random loss probability per packet, each direction, in [0, 1).
    pub loss: f64,
    /// Seed of the loss draws.
    pub seed: u64,
    /// TCP congestion control of both namespaces.
    pub congestion_control: String,
}

impl Default for WanConfig {
    fn default() -> Self {
        WanConfig {
            rtt_ms: 40.0,
            rate_bps: None,
            queue_bytes: None,
            loss: 0.0,
            seed: 42,
            congestion_control: "cubic".into(),
        }
    }
}

impl WanConfig {
    /// Reject values out of range, naming the field.
    pub fn validate(&self) -> Result<()> {
        if !(self.rtt_ms.is_finite() && (0.0..=10_000.0).contains(&self.rtt_ms)) {
            return Err(Error::flag("--rtt-ms", format!("must be in [0, 10000] ms, got {}", self.rtt_ms)));
        }
        if let Some(r) = self.rate_bps
            && !(r.is_finite() && r >= 1_000.0)
        {
            return Err(Error::flag("--rate-bps", format!("must be ≥ 1000 bytes/s (or absent), got {r}")));
        }
        if let Some(q) = self.queue_bytes
            && q < u64::from(MTU_BYTES)
        {
            return Err(Error::flag("--queue-bytes", format!("must be ≥ {MTU_BYTES} (one full packet), got {q}")));
        }
        if !(self.loss.is_finite() && (0.0..1.0).contains(&self.loss)) {
            return Err(Error::flag("--loss", format!("must be in [0, 1), got {}", self.loss)));
        }
        if self.congestion_control.is_empty() || !self.congestion_control.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(Error::flag("congestion_control", "must be a kernel algorithm name such as \"cubic\""));
        }
        Ok(())
    }

    /// One-way delays (downlink, uplink), ns: RTT/2 each.
    pub fn delays_ns(&self) -> (u64, u64) {
        let rtt = (self.rtt_ms * 1e6).round() as u64;
        (rtt / 2, rtt - rtt / 2)
    }

    /// The bottleneck queue, bytes.
    pub fn queue_limit_bytes(&self) -> u64 {
        self.queue_bytes.unwrap_or_else(|| {
            let bdp = self.rate_bps.map_or(0.0, |r| r * self.rtt_ms / 1e3);
            (bdp.ceil() as u64).max(MIN_QUEUE_BYTES)
        })
    }
}

/// Fail unless the process runs as root.
pub fn require_root() -> Result<()> {
    // SAFETY: geteuid has no preconditions.
    if unsafe { libc::geteuid() } != 0 {
        return Err(Error::Other(
            "dlsim wan must run as root: it creates network namespaces and TUN devices \
             (CAP_SYS_ADMIN and CAP_NET_ADMIN); try `sudo dlsim wan …`"
                .into(),
        ));
    }
    Ok(())
}

/// A running emulator. Dropping it stops the relay and releases both
/// namespaces (they vanish once no socket or process of theirs remains).
pub struct Wan {
    cfg: WanConfig,
    prefix: String,
    server_ns: NetNs,
    client_ns: NetNs,
    relay: Option<Relay>,
}

fn io_err(what: &str) -> impl Fn(std::io::Error) -> Error + '_ {
    move |e| Error::Other(format!("wan: {what}: {e}"))
}

fn sysctl(path: &str) -> std::io::Result<String> {
    Ok(std::fs::read_to_string(format!("/proc/sys/{path}"))?.trim().to_string())
}

/// Set up one side in the calling thread's (fresh) namespace.
fn setup_side(dev: &str, ip: Ipv4Addr, cc: &str) -> std::result::Result<Tun, String> {
    tun::set_up("lo").map_err(|e| format!("cannot bring up lo: {e}"))?;
    let available = sysctl("net/ipv4/tcp_available_congestion_control").map_err(|e| e.to_string())?;
    if !available.split_whitespace().any(|a| a == cc) {
        // Loading a module is the host's business; say what is there.
        return Err(format!("congestion control {cc:?} is not available (have: {available})"));
    }
    // Every connection starts from the kernel's defaults: without this, Linux
    // caches ssthresh per destination, and a "fresh" connection after a lossy
    // one skips slow start. A per-namespace sysctl: written from this thread,
    // it changes this namespace only, never the host's.
    std::fs::write("/proc/sys/net/ipv4/tcp_no_metrics_save", "1")
        .map_err(|e| format!("cannot set tcp_no_metrics_save in the namespace: {e}"))?;
    let t = Tun::create(dev).map_err(|e| e.to_string())?;
    t.configure(ip, PREFIX_LEN, MTU_BYTES).map_err(|e| e.to_string())?;
    // A new namespace may only default to the host's *allowed* algorithms
    // (`tcp_congestion_control` is EPERM otherwise), but a route's `congctl`
    // metric is honoured by both connecting and accepting sockets: set it on
    // the prefix route. `ip` forks from this thread, so it runs in this namespace.
    let prefix = Ipv4Addr::from(u32::from(ip) & (u32::MAX << (32 - u32::from(PREFIX_LEN))));
    let out = Command::new("ip")
        .args(["-4", "route", "replace", &format!("{prefix}/{PREFIX_LEN}"), "dev", dev, "proto", "kernel"])
        .args(["scope", "link", "src", &ip.to_string(), "congctl", "lock", cc])
        .output()
        .map_err(|e| format!("cannot run `ip` (iproute2) to set the route's congestion control: {e}"))?;
    if !out.status.success() {
        return Err(format!("ip route replace … congctl {cc}: {}", String::from_utf8_lossy(&out.stderr).trim()));
    }
    Ok(t)
}

static RUNS: AtomicU32 = AtomicU32::new(0);

impl Wan {
    /// Create both namespaces, their devices and the relay.
    pub fn start(cfg: WanConfig) -> Result<Wan> {
        require_root()?;
        cfg.validate()?;
        let prefix = format!("dl{}-{}", std::process::id(), RUNS.fetch_add(1, Ordering::Relaxed));
        let server_ns = NetNs::new(&format!("{prefix}s")).map_err(io_err("cannot create the server namespace"))?;
        let client_ns = NetNs::new(&format!("{prefix}c")).map_err(io_err("cannot create the client namespace"))?;
        let cc = cfg.congestion_control.clone();
        let side = |ns: &NetNs, ip: Ipv4Addr| -> Result<Tun> {
            let dev = ns.label().to_string();
            let cc = cc.clone();
            ns.run("wan-setup", move || setup_side(&dev, ip, &cc))
                .map_err(io_err("cannot enter a namespace"))?
                .map_err(|e| Error::Other(format!("wan: {}: {e}", ns.label())))
        };
        let server_tun = side(&server_ns, SERVER_IP)?;
        let client_tun = side(&client_ns, CLIENT_IP)?;
        let (down_delay, up_delay) = cfg.delays_ns();
        let keyed = KeyedRng::new(cfg.seed);
        let link = |delay_ns, rate_bps, direction| {
            let params = LinkParams { delay_ns, rate_bps, queue_bytes: cfg.queue_limit_bytes(), loss: cfg.loss };
            Link::new(params, keyed.stream(DecisionKey::new(LOSS_DOMAIN, direction, 0, 0)))
        };
        let down = link(down_delay, cfg.rate_bps, 0);
        let up = link(up_delay, None, 1);
        let relay = Relay::start(
            format!("wan-relay-{}", prefix.rsplit('-').next().unwrap_or("")),
            server_tun,
            client_tun,
            down,
            up,
        )
        .map_err(io_err("cannot start the relay"))?;
        Ok(Wan { cfg, prefix, server_ns, client_ns, relay: Some(relay) })
    }

    pub fn config(&self) -> &WanConfig {
        &self.cfg
    }
    /// The per-run name prefix of the namespaces' devices (`dl<pid>-<n>`).
    pub fn prefix(&self) -> &str {
        &self.prefix
    }
    pub fn server_ip(&self) -> Ipv4Addr {
        SERVER_IP
    }
    pub fn client_ip(&self) -> Ipv4Addr {
        CLIENT_IP
    }
    pub fn server_ns(&self) -> &NetNs {
        &self.server_ns
    }
    pub fn client_ns(&self) -> &NetNs {
        &self.client_ns
    }

    /// Run `f` on a thread inside the client namespace (its sockets are the
    /// client's); a panic in `f` is resumed here, the emulator still cleans up when dropped.
    pub fn in_client<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        self.client_ns.run("wan-client", f).map_err(io_err("cannot enter the client namespace"))
    }

    /// Run `f` on a thread inside the server namespace.
    pub fn in_server<T: Send>(&self, f: impl FnOnce() -> T + Send) -> Result<T> {
        self.server_ns.run("wan-server", f).map_err(io_err("cannot enter the server namespace"))
    }

    /// A command that runs inside the client namespace and is killed
    /// (SIGKILL) if the thread that spawns it dies, so it cannot outlive the run.
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        let mut c = Command::new(program);
        let fd = self.client_ns.raw_fd();
        // SAFETY: the hook makes only async-signal-safe calls (setns, prctl).
        unsafe {
            c.pre_exec(move || {
                netns::enter(fd)?;
                if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL as libc::c_ulong, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
        c
    }

    /// Stop the relay and return what it did; the namespaces go with `self`.
    pub fn finish(mut self) -> Result<RelayReport> {
        let relay = self.relay.take().ok_or_else(|| Error::Other("wan: relay already stopped".into()))?;
        relay.stop().map_err(io_err("relay"))
    }
}
