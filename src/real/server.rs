//! The loopback HTTP/1.1 server: deterministic synthetic files (or given
//! bytes), GET/HEAD, single Range requests (206/416), keep-alive, a shared
//! egress limit and latency before the first byte. What it does with each
//! request — faults, the request cap, the keep-alive budget — is decided by
//! the server core ([`ServerPolicy`], the very same one the sim runtime
//! calls); this file is the sockets, the parsing and the clock around it.
//! Requests are parsed with `httparse`; malformed ones get 400, oversized
//! heads 431, and the server keeps serving.
//!
//! Robustness: a connection's slot is released by a guard (also when its
//! thread panics); no lock stays poisoned; `accept()` failures back off, and
//! when descriptors run out one reserved descriptor is freed to answer 503;
//! a client that stops reading holds its connection at most
//! [`ServerConfig::send_timeout`].
//!
//! The API keeps the vocabulary of the Python suite's `MockHttpServer`:
//! [`Server::add_file`], [`Server::add_random_file`],
//! [`Server::set_bandwidth_limit`], [`Server::set_latency`],
//! [`Server::set_error_rate`], [`Server::stats`].

use super::content::{Content, hex};
use super::hub::{self, Catalog, Endpoints, HubBody, HubConfig, HubRoute};
use super::lock::{lock, read, write};
use super::pacer::{Pacer, instant_after, sleep_until};
use super::tls::{self, Stream};
use crate::error::{Error, Result};
use crate::scenario::{Faults, MIN_RATE_BPS, Scenario, TlsVersion};
use crate::server::{ConnState, Decision, Limits, Method, Request, ServerPolicy, Then};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Path of the JSON stats endpoint.
pub const STATS_PATH: &str = "/_dlsim/stats";

/// Largest latency the server sleeps, ms (the scenario's own bound).
const MAX_LATENCY_MS: f64 = 3_600_000.0;

/// Server settings (everything but the files).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Seed of the synthetic content and of the fault decisions.
    pub seed: u64,
    /// Egress shared by all connections, bytes/s (`None` = unlimited; at least 1 B/s).
    pub bandwidth_bps: Option<f64>,
    /// Think time before the first byte of each response, ms.
    pub latency_ms: f64,
    /// Bodies served at once; beyond, 503 with Retry-After.
    pub max_concurrent_requests: Option<u32>,
    /// Requests on one connection before the server closes it after a body.
    pub keep_alive_max_requests: u32,
    /// Bytes per paced write (the turn of a connection); default: ≤ 1 ms of the rate, 2–8 KiB.
    pub write_quantum: Option<u64>,
    pub faults: Faults,
    /// Connections open at once; more are answered 503 and closed.
    pub max_connections: u32,
    /// A connection idle this long between requests is closed (empty lines
    /// do not count as activity).
    pub idle_timeout: Duration,
    /// A request head must arrive within this time of its first byte.
    pub header_timeout: Duration,
    /// Each block of a response (≤ 64 KiB) must be taken by the client within
    /// this time in total, however the kernel splits the writes; a stalled
    /// response waits at most this long for the client to give up. So a
    /// client that stops reading holds its connection at most this long.
    pub send_timeout: Duration,
    /// Largest request head, bytes (larger: 431).
    pub max_header_bytes: usize,
    /// HTTPS with only this TLS version (`None`: plain HTTP).
    pub tls: Option<TlsVersion>,
}

impl Default for ServerConfig {
    fn default() -> Self {
        ServerConfig {
            seed: 42,
            bandwidth_bps: None,
            latency_ms: 0.0,
            max_concurrent_requests: None,
            keep_alive_max_requests: 100,
            write_quantum: None,
            faults: Faults::default(),
            max_connections: 256,
            idle_timeout: Duration::from_secs(30),
            header_timeout: Duration::from_secs(10),
            send_timeout: Duration::from_secs(30),
            max_header_bytes: 16 * 1024,
            tls: None,
        }
    }
}

impl ServerConfig {
    /// The server of a scenario, for run seed `seed`.
    pub fn from_scenario(s: &Scenario, seed: u64) -> Self {
        ServerConfig {
            seed,
            bandwidth_bps: s.server.bandwidth_bps,
            latency_ms: s.server.latency_ms,
            max_concurrent_requests: s.server.max_concurrent_requests,
            keep_alive_max_requests: s.server.keep_alive_max_requests,
            write_quantum: s.server.write_quantum_bytes,
            faults: s.server.faults.clone(),
            tls: s.server.tls,
            ..ServerConfig::default()
        }
    }

    fn limits(&self) -> Limits {
        Limits {
            max_concurrent_requests: self.max_concurrent_requests,
            keep_alive_max_requests: self.keep_alive_max_requests,
        }
    }
}

/// What the server counted, as served by [`STATS_PATH`].
#[derive(Clone, Debug, Default, PartialEq, Serialize)]
pub struct ServerStats {
    /// GET/HEAD requests for files (the stats endpoint excluded).
    pub requests: u64,
    /// Responses whose whole body was sent.
    pub files_served: u64,
    /// Body bytes written.
    pub bytes_sent: u64,
    pub connections_accepted: u64,
    /// Of those, connections to the CDN-like listener (Hub mode).
    pub cdn_connections_accepted: u64,
    /// Hub mode: API requests (model info, tree pages), not counted in `requests`.
    pub hub_api_requests: u64,
    /// Hub mode: `302` answers to the CDN-like listener.
    pub redirects: u64,
    /// Connections refused (503) because `max_connections` were open or
    /// descriptors ran out.
    pub connections_refused: u64,
    /// `accept()` calls that failed (e.g. descriptors exhausted); each backs off.
    pub accept_errors: u64,
    /// Connections open now.
    pub connections_open: u32,
    /// Requests answered 400/405/431 (malformed, bad method, oversized).
    pub bad_requests: u64,
    /// Connections closed for an idle, slow or non-reading client.
    pub timeouts: u64,
    /// Faults injected by kind (`over_capacity` for the request cap).
    pub faults: BTreeMap<String, u64>,
    pub files: usize,
    pub bandwidth_limit_bps: Option<f64>,
    pub latency_ms: f64,
    pub error_rate: f64,
    /// CPU time (user + system) of the connection threads that have ended,
    /// s (`validate` reports it as the server's CPU).
    pub connection_cpu_s: f64,
}

#[derive(Clone)]
enum Body {
    Synthetic(u64),
    Bytes(Arc<Vec<u8>>),
}

#[derive(Clone)]
struct Entry {
    /// File id: the key of its content and fault decisions.
    id: u32,
    body: Body,
}

impl Entry {
    fn size(&self) -> u64 {
        match &self.body {
            Body::Synthetic(n) => *n,
            Body::Bytes(b) => b.len() as u64,
        }
    }
}

struct Settings {
    latency: Duration,
    pacer: Option<Arc<Pacer>>,
}

struct Shared {
    cfg: ServerConfig,
    content: Content,
    settings: RwLock<Settings>,
    files: RwLock<BTreeMap<String, Entry>>,
    /// The server core; `serving` is read and raised under this lock, so
    /// the request cap is exact.
    policy: Mutex<ServerPolicy>,
    stats: Mutex<ServerStats>,
    serving: AtomicU32,
    open: AtomicU32,
    next_conn: AtomicU64,
    conns: Mutex<BTreeMap<u64, TcpStream>>,
    shutdown: AtomicBool,
    /// The TLS side of every connection, when `cfg.tls` is set.
    tls: Option<Arc<rustls::ServerConfig>>,
    /// Hub mode: the repositories and where the listeners are.
    hub: OnceLock<HubState>,
}

/// What a Hub-mode server serves besides its plain files.
struct HubState {
    catalog: Catalog,
    ends: Endpoints,
}

/// Which listener a connection came in on.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Listener {
    /// The main listener: plain files, and in Hub mode the API and `resolve`.
    Main,
    /// Hub mode's CDN-like listener: only `/cdn-lfs/…`.
    Cdn,
}

/// A latency in ms as a `Duration` (NaN and negatives are 0; at most an hour).
fn latency_of(ms: f64) -> Duration {
    if ms > 0.0 { Duration::from_secs_f64(ms.min(MAX_LATENCY_MS) / 1000.0) } else { Duration::ZERO }
}

/// A running loopback server; stops when dropped.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
    /// Hub mode: the CDN-like listener's address and accept thread.
    cdn: Option<(SocketAddr, Option<JoinHandle<()>>)>,
}

/// Hub mode settings (see [`Server::start_hub`]).
#[derive(Clone, Debug)]
pub struct HubOptions {
    pub hub: HubConfig,
    /// Redirect large files to a second, CDN-like listener (on 127.0.0.2
    /// when the main one is on 127.0.0.1); `false`: the main listener serves
    /// them itself, without a redirect.
    pub cdn: bool,
}

impl Default for HubOptions {
    fn default() -> Self {
        HubOptions { hub: HubConfig::default(), cdn: true }
    }
}

/// An address a local client can connect to for a listener bound at `addr`.
fn connectable(addr: SocketAddr) -> SocketAddr {
    if addr.ip().is_unspecified() { SocketAddr::from((Ipv4Addr::LOCALHOST, addr.port())) } else { addr }
}

fn spawn_accept(sh: Arc<Shared>, listener: TcpListener, role: Listener) -> Result<JoinHandle<()>> {
    // Taken here, before any connection can use the last descriptor.
    let reserve = reserve_descriptor();
    std::thread::Builder::new()
        .name("dlsim-accept".into())
        .spawn(move || accept_loop(sh, listener, reserve, role))
        .map_err(|e| Error::Other(format!("cannot start the server thread: {e}")))
}

/// The CDN-like listener next to a main listener on `main`: on 127.0.0.2 if
/// the main one is on 127.0.0.1 (another host name, so `huggingface_hub`
/// 1.x does not follow its HEAD there; docs/clients.md §1.3), else on the
/// main address; any free port.
fn bind_cdn(main: SocketAddr) -> Result<TcpListener> {
    let ip = main.ip();
    if ip == std::net::IpAddr::V4(Ipv4Addr::LOCALHOST)
        && let Ok(l) = TcpListener::bind(SocketAddr::from((Ipv4Addr::new(127, 0, 0, 2), 0)))
    {
        return Ok(l);
    }
    TcpListener::bind(SocketAddr::from((ip, 0)))
        .map_err(|e| Error::Other(format!("cannot bind the CDN listener on {ip}: {e}")))
}

impl Server {
    /// A server on an ephemeral 127.0.0.1 port with default settings and no files.
    pub fn start() -> Result<Server> {
        Server::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)), false, ServerConfig::default())
    }

    /// Bind `addr`. Any non-loopback address is refused unless `allow_remote`.
    pub fn bind(addr: SocketAddr, allow_remote: bool, cfg: ServerConfig) -> Result<Server> {
        if !addr.ip().is_loopback() && !allow_remote {
            return Err(Error::Other(format!(
                "refusing to bind {addr}: the server serves loopback (127.0.0.1) only; pass --allow-remote to override"
            )));
        }
        if let Some(r) = cfg.bandwidth_bps.filter(|r| !(r.is_finite() && *r >= MIN_RATE_BPS)) {
            return Err(Error::Other(format!(
                "server bandwidth_bps must be a finite rate ≥ {MIN_RATE_BPS} B/s (or unlimited), got {r}"
            )));
        }
        let listener = TcpListener::bind(addr).map_err(|e| Error::Other(format!("cannot bind {addr}: {e}")))?;
        let addr = listener.local_addr().map_err(|e| Error::Other(format!("cannot bind {addr}: {e}")))?;
        let pacer = cfg.bandwidth_bps.map(|r| Arc::new(Pacer::link(r)));
        let tls = cfg.tls.map(tls::server_config).transpose()?;
        let shared = Arc::new(Shared {
            content: Content::new(cfg.seed),
            settings: RwLock::new(Settings { latency: latency_of(cfg.latency_ms), pacer }),
            files: RwLock::new(BTreeMap::new()),
            policy: Mutex::new(ServerPolicy::new(cfg.seed, cfg.faults.clone(), cfg.limits())),
            stats: Mutex::new(ServerStats::default()),
            serving: AtomicU32::new(0),
            open: AtomicU32::new(0),
            next_conn: AtomicU64::new(0),
            conns: Mutex::new(BTreeMap::new()),
            shutdown: AtomicBool::new(false),
            tls,
            hub: OnceLock::new(),
            cfg,
        });
        let accept = spawn_accept(shared.clone(), listener, Listener::Main)?;
        Ok(Server { addr, shared, accept: Some(accept), cdn: None })
    }

    /// The scenario's models served the way the Hugging Face Hub's HTTP API
    /// does ([`hub`]): each workload model is a repository (its `name` the
    /// repo id), answered on `addr` (model info, tree, `resolve`); files of
    /// at least `opts.hub.lfs_threshold_bytes` are redirected to a second,
    /// CDN-like listener ([`Server::cdn_addr`]). Every file body — small
    /// files on the main listener, large ones on the CDN — goes through the
    /// same Range, fault and pacing path as the plain files, which stay
    /// served at their workload paths too. Every digest is computed before
    /// the server listens (a large file is read once, here).
    pub fn start_hub(
        s: &Scenario,
        seed: u64,
        addr: SocketAddr,
        allow_remote: bool,
        opts: HubOptions,
    ) -> Result<Server> {
        let catalog = Catalog::from_workload(&s.workload, seed, opts.hub)?;
        catalog.precompute();
        let mut server = Server::for_scenario(s, seed, addr, allow_remote)?;
        let hub_url = format!("http://{}", connectable(server.addr));
        let cdn_url = if opts.cdn {
            let listener = bind_cdn(server.addr)?;
            let cdn_addr =
                listener.local_addr().map_err(|e| Error::Other(format!("cannot bind the CDN listener: {e}")))?;
            let accept = spawn_accept(server.shared.clone(), listener, Listener::Cdn)?;
            server.cdn = Some((cdn_addr, Some(accept)));
            Some(format!("http://{}", connectable(cdn_addr)))
        } else {
            None
        };
        // Nobody knows the ports before this returns, so no request is served without it.
        let _ = server.shared.hub.set(HubState { catalog, ends: Endpoints { hub: hub_url, cdn: cdn_url } });
        Ok(server)
    }

    /// Hub mode: the CDN-like listener's address (`None` without one).
    pub fn cdn_addr(&self) -> Option<SocketAddr> {
        self.cdn.as_ref().map(|(a, _)| *a)
    }

    /// Hub mode: the clients' endpoint (`HF_ENDPOINT`), `http://host:port`.
    pub fn endpoint(&self) -> String {
        format!("http://{}", connectable(self.addr))
    }

    /// Hub mode: the ETag clients key their cache on for `path` in `repo`
    /// (the SHA-256 for large files, the git blob id otherwise).
    pub fn hub_etag(&self, repo: &str, path: &str) -> Option<String> {
        self.shared.hub.get()?.catalog.etag(repo, path)
    }

    /// The scenario's server on `addr`, serving its workload's files
    /// (file ids in workload order, so fault decisions match the model).
    pub fn for_scenario(s: &Scenario, seed: u64, addr: SocketAddr, allow_remote: bool) -> Result<Server> {
        let server = Server::bind(addr, allow_remote, ServerConfig::from_scenario(s, seed))?;
        {
            let mut files = write(&server.shared.files);
            for f in s.workload.expand(seed) {
                files.insert(format!("/{}", f.path), Entry { id: f.id, body: Body::Synthetic(f.size) });
            }
        }
        Ok(server)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://addr/path`, or `https://` when the server speaks TLS.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.shared.tls.is_some() { "https" } else { "http" };
        format!("{scheme}://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    /// The TLS version the server speaks (`None`: plain HTTP).
    pub fn tls(&self) -> Option<TlsVersion> {
        self.shared.cfg.tls
    }

    fn insert(&self, path: &str, body: Body) -> Entry {
        let mut files = write(&self.shared.files);
        let key = format!("/{}", path.trim_start_matches('/'));
        let id = files.get(&key).map_or(files.len() as u32, |e| e.id);
        let e = Entry { id, body };
        files.insert(key, e.clone());
        e
    }

    /// Serve `bytes` at `path`.
    pub fn add_file(&self, path: &str, bytes: impl Into<Vec<u8>>) {
        self.insert(path, Body::Bytes(Arc::new(bytes.into())));
    }

    /// Serve `size` deterministic pseudo-random bytes at `path`; returns their SHA-256 (hex).
    pub fn add_random_file(&self, path: &str, size: u64) -> String {
        let e = self.insert(path, Body::Synthetic(size));
        hex(&self.shared.content.sha256(e.id, size))
    }

    /// Shared egress limit, bytes/s (`None` or 0 = unlimited).
    pub fn set_bandwidth_limit(&self, bytes_per_second: Option<u64>) {
        let pacer = bytes_per_second.filter(|r| *r > 0).map(|r| Arc::new(Pacer::link(r as f64)));
        write(&self.shared.settings).pacer = pacer;
    }

    /// Latency before the first byte of each response, ms (clamped to [0, 1 h]).
    pub fn set_latency(&self, ms: f64) {
        write(&self.shared.settings).latency = latency_of(ms);
    }

    /// Probability that a request gets a fault (kinds from the configured mix, HTTP 500 by default).
    pub fn set_error_rate(&self, rate: f64) {
        let rate = if rate > 0.0 { rate.min(1.0) } else { 0.0 };
        lock(&self.shared.policy).set_error_rate(rate);
    }

    pub fn stats(&self) -> ServerStats {
        stats_of(&self.shared)
    }

    /// Block until the server stops (it never does on its own).
    pub fn wait(mut self) {
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.shared.shutdown.store(true, Ordering::SeqCst);
        let wake = |addr: SocketAddr| TcpStream::connect_timeout(&connectable(addr), Duration::from_secs(1)).is_ok();
        let woken = wake(self.addr);
        let cdn_woken = self.cdn.as_ref().is_some_and(|(a, _)| wake(*a));
        for c in lock(&self.shared.conns).values() {
            let _ = c.shutdown(Shutdown::Both);
        }
        // Without a wake-up connection (no descriptor left) the accept
        // thread is left to end at its next connection, not waited for.
        if let Some(h) = self.accept.take().filter(|_| woken) {
            let _ = h.join();
        }
        if let Some(h) = self.cdn.as_mut().and_then(|(_, h)| h.take()).filter(|_| cdn_woken) {
            let _ = h.join();
        }
    }
}

/// A connection's slot (its count in `open` and its entry in `conns`),
/// released when dropped — also when the connection's thread panics or
/// cannot be started.
struct Slot {
    sh: Arc<Shared>,
    id: u64,
}

impl Slot {
    fn take(sh: &Arc<Shared>, stream: &TcpStream) -> Slot {
        sh.open.fetch_add(1, Ordering::SeqCst);
        let id = sh.next_conn.fetch_add(1, Ordering::SeqCst);
        if let Ok(c) = stream.try_clone() {
            lock(&sh.conns).insert(id, c);
        }
        Slot { sh: sh.clone(), id }
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        lock(&self.sh.conns).remove(&self.id);
        self.sh.open.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Longest pause after failed `accept()` calls in a row.
const MAX_ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// `accept()` failed because this process (EMFILE, 24) or the system
/// (ENFILE, 23) ran out of file descriptors.
fn out_of_descriptors(e: &std::io::Error) -> bool {
    matches!(e.raw_os_error(), Some(23 | 24))
}

/// A descriptor held in reserve, freed to answer 503 when none are left.
fn reserve_descriptor() -> Option<std::fs::File> {
    std::fs::File::open(if cfg!(windows) { "NUL" } else { "/dev/null" }).ok()
}

/// Answer 503 and close. The request the client may already have sent is
/// drained briefly (≤ 5 ms, this runs on the accept thread), so closing does
/// not reset the connection and lose the answer.
fn refuse(sh: &Shared, tcp: TcpStream) {
    lock(&sh.stats).connections_refused += 1;
    // Over TLS the handshake comes first (bounded by the same timeouts).
    let _ = tcp.set_write_timeout(Some(Duration::from_secs(1)));
    let _ = tcp.set_read_timeout(Some(Duration::from_secs(1)));
    let Ok(mut stream) = wrap(sh, tcp) else { return };
    let _ = stream.write_all(&error_head(503, true, &[("Retry-After", "1".into())]));
    stream.finish();
    let until = Instant::now() + Duration::from_millis(5);
    let mut sink = [0u8; 4096];
    while let Some(left) = until.checked_duration_since(Instant::now()).filter(|d| !d.is_zero()) {
        let _ = stream.tcp().set_read_timeout(Some(left));
        if !matches!(stream.read(&mut sink), Ok(n) if n > 0) {
            break;
        }
    }
}

fn accept_loop(sh: Arc<Shared>, listener: TcpListener, mut reserve: Option<std::fs::File>, role: Listener) {
    let mut backoff = Duration::ZERO;
    loop {
        let accepted = listener.accept();
        if sh.shutdown.load(Ordering::SeqCst) {
            break;
        }
        let stream = match accepted {
            Ok((stream, _)) => stream,
            Err(e) if e.kind() == ErrorKind::Interrupted => continue,
            Err(e) => {
                lock(&sh.stats).accept_errors += 1;
                if out_of_descriptors(&e) && reserve.take().is_some() {
                    // A connection is waiting: free the reserve to tell it 503.
                    if let Ok((s, _)) = listener.accept() {
                        if sh.shutdown.load(Ordering::SeqCst) {
                            break;
                        }
                        refuse(&sh, s);
                    }
                }
                if reserve.is_none() {
                    reserve = reserve_descriptor();
                }
                // Do not spin while the cause lasts.
                backoff = (backoff * 2).clamp(Duration::from_millis(1), MAX_ACCEPT_BACKOFF);
                std::thread::sleep(backoff);
                continue;
            }
        };
        backoff = Duration::ZERO;
        if reserve.is_none() {
            reserve = reserve_descriptor();
        }
        if sh.open.load(Ordering::SeqCst) >= sh.cfg.max_connections {
            refuse(&sh, stream);
            continue;
        }
        {
            let mut st = lock(&sh.stats);
            st.connections_accepted += 1;
            st.cdn_connections_accepted += u64::from(role == Listener::Cdn);
        }
        let slot = Slot::take(&sh, &stream);
        // If the thread cannot start, the closure (and the slot) is dropped.
        let _ = std::thread::Builder::new().name("dlsim-conn".into()).spawn(move || {
            let slot = slot;
            serve_connection(&slot.sh, stream, role);
            lock(&slot.sh.stats).connection_cpu_s += crate::real::cpu::thread_cpu_s();
        });
    }
}

/// A request head, parsed.
struct Head {
    method: String,
    path: String,
    range: Option<String>,
    close: bool,
}

enum ReadHead {
    Got(Head),
    /// The client closed, went idle or was too slow.
    Gone,
    /// Answer with this status and close.
    Bad(u16),
}

/// Drop empty lines before a request line (RFC 9112 §2.2). A lone `\r`
/// may be the start of one: it is kept but is not a request byte.
fn skip_empty_lines(buf: &mut Vec<u8>) {
    let n = buf.iter().take_while(|b| **b == b'\r' || **b == b'\n').count();
    let keep_cr = n == buf.len() && buf.last() == Some(&b'\r');
    buf.drain(..n - keep_cr as usize);
}

/// The origin-form path of a request target: an absolute-form target
/// (`http://host:port/path?q`, RFC 9112 §3.2.2) loses its scheme and
/// authority; `http://host` is `/`.
pub fn origin_form(target: &str) -> &str {
    for scheme in ["http://", "https://"] {
        if target.get(..scheme.len()).is_some_and(|p| p.eq_ignore_ascii_case(scheme)) {
            let rest = &target[scheme.len()..];
            return match rest.find(['/', '?', '#']) {
                Some(i) if rest[i..].starts_with('/') => &rest[i..],
                _ => "/",
            };
        }
    }
    target
}

fn read_head(sh: &Shared, stream: &mut dyn Stream, buf: &mut Vec<u8>) -> ReadHead {
    let idle_until = instant_after(Instant::now(), sh.cfg.idle_timeout);
    let mut head_until: Option<Instant> = None;
    let mut tmp = [0u8; 4096];
    loop {
        skip_empty_lines(buf);
        if !buf.is_empty() && buf[..] != b"\r"[..] {
            head_until.get_or_insert_with(|| instant_after(Instant::now(), sh.cfg.header_timeout));
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut req = httparse::Request::new(&mut headers);
            match req.parse(buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let mut head = Head {
                        method: req.method.unwrap_or("").to_string(),
                        path: req.path.unwrap_or("").to_string(),
                        range: None,
                        close: req.version == Some(0),
                    };
                    for h in req.headers.iter() {
                        let value = String::from_utf8_lossy(h.value).trim().to_string();
                        if h.name.eq_ignore_ascii_case("range") {
                            head.range = Some(value);
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            head.close = value.eq_ignore_ascii_case("close");
                        } else if h.name.eq_ignore_ascii_case("transfer-encoding")
                            || (h.name.eq_ignore_ascii_case("content-length") && value != "0")
                        {
                            return ReadHead::Bad(400);
                        }
                    }
                    buf.drain(..n);
                    return ReadHead::Got(head);
                }
                Ok(httparse::Status::Partial) => {}
                Err(httparse::Error::TooManyHeaders) => return ReadHead::Bad(431),
                Err(_) => return ReadHead::Bad(400),
            }
            if buf.len() > sh.cfg.max_header_bytes {
                return ReadHead::Bad(431);
            }
        }
        let left = head_until.unwrap_or(idle_until).saturating_duration_since(Instant::now());
        if left.is_zero() {
            lock(&sh.stats).timeouts += 1;
            return if head_until.is_some() { ReadHead::Bad(408) } else { ReadHead::Gone };
        }
        let _ = stream.tcp().set_read_timeout(Some(left));
        match stream.read(&mut tmp) {
            Ok(0) => return ReadHead::Gone,
            Ok(n) => buf.extend_from_slice(&tmp[..n]),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            // A timeout: the deadline check above decides.
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
            Err(_) => return ReadHead::Gone,
        }
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
        302 => "Found",
        206 => "Partial Content",
        400 => "Bad Request",
        404 => "Not Found",
        405 => "Method Not Allowed",
        408 => "Request Timeout",
        416 => "Range Not Satisfiable",
        429 => "Too Many Requests",
        431 => "Request Header Fields Too Large",
        500 => "Internal Server Error",
        503 => "Service Unavailable",
        _ => "Error",
    }
}

/// A response without a body; `close` says `Connection: close`.
fn error_head(code: u16, close: bool, extra: &[(&str, String)]) -> Vec<u8> {
    let mut h = format!("HTTP/1.1 {code} {}\r\nContent-Length: 0\r\n", reason(code));
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    h.push_str(if close { "Connection: close\r\n\r\n" } else { "Connection: keep-alive\r\n\r\n" });
    h.into_bytes()
}

/// A `Range` header against a file of `size` bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RangeReq {
    /// No usable single range: serve the whole file (200).
    Whole,
    /// Bytes `start..end` (206).
    Part(u64, u64),
    /// 416.
    Unsatisfiable,
}

/// Parse `bytes=a-b`, `bytes=a-` and `bytes=-n`. Syntactically invalid and
/// multi-range headers are ignored (RFC 9110 allows it): the whole file.
pub fn parse_range(value: &str, size: u64) -> RangeReq {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return RangeReq::Whole;
    };
    if spec.contains(',') {
        return RangeReq::Whole;
    }
    let Some((a, b)) = spec.trim().split_once('-') else {
        return RangeReq::Whole;
    };
    let num = |s: &str| -> Option<u64> {
        (!s.is_empty() && s.bytes().all(|c| c.is_ascii_digit())).then(|| s.parse().ok()).flatten()
    };
    match (a.trim(), b.trim()) {
        ("", n) => match num(n) {
            Some(0) => RangeReq::Unsatisfiable,
            Some(n) if size > 0 => RangeReq::Part(size.saturating_sub(n), size),
            Some(_) => RangeReq::Unsatisfiable,
            None => RangeReq::Whole,
        },
        (a, "") => match num(a) {
            Some(a) if a < size => RangeReq::Part(a, size),
            Some(_) => RangeReq::Unsatisfiable,
            None => RangeReq::Whole,
        },
        (a, b) => match (num(a), num(b)) {
            (Some(a), Some(b)) if a <= b => {
                if a >= size {
                    RangeReq::Unsatisfiable
                } else {
                    RangeReq::Part(a, b.min(size - 1) + 1)
                }
            }
            _ => RangeReq::Whole,
        },
    }
}

/// Decode `%XX` escapes (invalid escapes are kept as they are).
pub fn percent_decode(path: &str) -> String {
    let b = path.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        let hex = |c: u8| (c as char).to_digit(16);
        if b[i] == b'%'
            && i + 2 < b.len()
            && let (Some(h), Some(l)) = (hex(b[i + 1]), hex(b[i + 2]))
        {
            out.push((h * 16 + l) as u8);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Lowers the serving count when a body (or stall) ends, however it ends.
struct Serving<'a>(&'a AtomicU32);
impl Drop for Serving<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The connection as the server speaks it: plain, or TLS (whose handshake
/// runs on the first read, under the idle and header timeouts).
fn wrap(sh: &Shared, tcp: TcpStream) -> std::io::Result<Box<dyn Stream>> {
    Ok(match &sh.tls {
        Some(cfg) => Box::new(tls::accept(cfg, tcp)?),
        None => Box::new(tcp),
    })
}

fn serve_connection(sh: &Shared, tcp: TcpStream, role: Listener) {
    let _ = tcp.set_nodelay(true);
    let Ok(mut stream) = wrap(sh, tcp) else { return };
    let stream = &mut *stream;
    let mut buf = Vec::new();
    let mut conn = ConnState::default();
    while !sh.shutdown.load(Ordering::SeqCst) {
        let head = match read_head(sh, stream, &mut buf) {
            ReadHead::Got(h) => h,
            ReadHead::Gone => return,
            ReadHead::Bad(code) => {
                if code != 408 {
                    lock(&sh.stats).bad_requests += 1;
                }
                let _ = write_by(stream, &error_head(code, true, &[]), send_deadline(sh));
                stream.finish();
                linger(stream);
                return;
            }
        };
        match respond(sh, stream, &head, &mut conn, role) {
            Ok(true) if !head.close => {}
            // An injected reset (RST sent; no FIN may follow), or the client reset.
            Err(e) if e.kind() == ErrorKind::ConnectionReset => return,
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                // The client stopped reading: it gets no more of our time.
                lock(&sh.stats).timeouts += 1;
                return;
            }
            _ => {
                stream.finish();
                return;
            }
        }
    }
}

/// Drain what the client still sends (briefly) before closing, so the
/// kernel does not reset the connection and lose the error response.
fn linger(stream: &mut dyn Stream) {
    let until = Instant::now() + Duration::from_millis(500);
    let _ = stream.tcp().set_read_timeout(Some(Duration::from_millis(100)));
    let mut sink = [0u8; 8192];
    let mut left: usize = 1 << 20;
    while Instant::now() < until && left > 0 {
        match stream.read(&mut sink) {
            Ok(n) if n > 0 => left = left.saturating_sub(n),
            _ => break,
        }
    }
}

fn send_deadline(sh: &Shared) -> Instant {
    instant_after(Instant::now(), sh.cfg.send_timeout)
}

/// Write all of `bytes` by `deadline`: the time limit bounds the whole
/// write, not each system call (a client that takes a few bytes now and
/// then must not hold the connection forever).
fn write_by(stream: &mut dyn Stream, mut bytes: &[u8], deadline: Instant) -> std::io::Result<()> {
    while !bytes.is_empty() {
        let left = deadline.saturating_duration_since(Instant::now());
        if left.is_zero() {
            return Err(ErrorKind::TimedOut.into());
        }
        stream.tcp().set_write_timeout(Some(left))?;
        match stream.write(bytes) {
            Ok(0) => return Err(ErrorKind::WriteZero.into()),
            Ok(n) => bytes = &bytes[n..],
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    // TLS: the records of these bytes go out now, under the same deadline.
    let left = deadline.saturating_duration_since(Instant::now());
    stream.tcp().set_write_timeout(Some(left.max(Duration::from_millis(1))))?;
    stream.flush()
}

/// Answer one request; `Ok(true)` keeps the connection.
fn respond(
    sh: &Shared,
    stream: &mut dyn Stream,
    head: &Head,
    conn: &mut ConnState,
    role: Listener,
) -> std::io::Result<bool> {
    let close = head.close;
    let path = percent_decode(origin_form(&head.path).split('?').next().unwrap_or(""));
    let path = path.as_str();
    let method = match head.method.as_str() {
        "GET" => Method::Get,
        "HEAD" => Method::Head,
        _ => {
            lock(&sh.stats).bad_requests += 1;
            write_by(stream, &error_head(405, close, &[("Allow", "GET, HEAD".into())]), send_deadline(sh))?;
            return Ok(!close);
        }
    };
    let is_head = method == Method::Head;
    if path == STATS_PATH {
        let body = serde_json::to_vec_pretty(&stats_of(sh)).expect("stats serialize");
        let h = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: {}\r\n\r\n",
            body.len(),
            if close { "close" } else { "keep-alive" }
        );
        let deadline = send_deadline(sh);
        write_by(stream, h.as_bytes(), deadline)?;
        if !is_head {
            write_by(stream, &body, deadline)?;
        }
        return Ok(!close);
    }
    if let Some(h) = sh.hub.get() {
        let route = hub::route(&head.method, origin_form(&head.path));
        let on_cdn = role == Listener::Cdn;
        match route {
            Some(r) if matches!(r, HubRoute::Cdn { .. }) == on_cdn => {
                return respond_hub(sh, stream, head, conn, h, &r);
            }
            // The CDN listener serves only the CDN's objects.
            _ if on_cdn => {
                write_by(stream, &error_head(404, close, &[]), send_deadline(sh))?;
                return Ok(!close);
            }
            // Not a Hub request: perhaps a plain file.
            _ => {}
        }
    }
    let entry = read(&sh.files).get(path).cloned();
    let Some(entry) = entry else {
        write_by(stream, &error_head(404, close, &[]), send_deadline(sh))?;
        return Ok(!close);
    };
    serve_file(sh, stream, head, conn, &entry, &[])
}

/// Answer a Hub request: JSON and redirects directly (after the latency),
/// files through [`serve_file`] with the Hub's headers.
fn respond_hub(
    sh: &Shared,
    stream: &mut dyn Stream,
    head: &Head,
    conn: &mut ConnState,
    h: &HubState,
    route: &HubRoute,
) -> std::io::Result<bool> {
    let r = hub::respond(route, &h.catalog, &h.ends);
    let bytes: &[u8] = match &r.body {
        HubBody::File { id, size } => {
            // serve_file writes its own Content-Type and Accept-Ranges.
            let extra: Vec<(&str, String)> = r
                .headers
                .iter()
                .filter(|(k, _)| !k.eq_ignore_ascii_case("content-type") && !k.eq_ignore_ascii_case("accept-ranges"))
                .map(|(k, v)| (*k, v.clone()))
                .collect();
            let entry = Entry { id: *id, body: Body::Synthetic(*size) };
            return serve_file(sh, stream, head, conn, &entry, &extra);
        }
        HubBody::Json(b) => b,
        HubBody::Empty => &[],
    };
    {
        let mut st = lock(&sh.stats);
        if r.status == 302 {
            st.redirects += 1;
        } else {
            st.hub_api_requests += 1;
        }
    }
    let latency = read(&sh.settings).latency;
    std::thread::sleep(latency);
    let close = head.close;
    let mut out = format!("HTTP/1.1 {} {}\r\n", r.status, reason(r.status));
    for (k, v) in &r.headers {
        out.push_str(&format!("{k}: {v}\r\n"));
    }
    out.push_str(&format!("Content-Length: {}\r\n", bytes.len()));
    out.push_str(if close { "Connection: close\r\n\r\n" } else { "Connection: keep-alive\r\n\r\n" });
    let deadline = send_deadline(sh);
    write_by(stream, out.as_bytes(), deadline)?;
    if head.method != "HEAD" {
        write_by(stream, bytes, deadline)?;
    }
    Ok(!close)
}

/// Serve `entry` (Range, the server core's decision, latency, pacing), with
/// `extra` headers on a successful answer.
fn serve_file(
    sh: &Shared,
    stream: &mut dyn Stream,
    head: &Head,
    conn: &mut ConnState,
    entry: &Entry,
    extra: &[(&str, String)],
) -> std::io::Result<bool> {
    let close = head.close;
    let method = if head.method == "HEAD" { Method::Head } else { Method::Get };
    let is_head = method == Method::Head;
    let size = entry.size();
    let range = head.range.as_deref().map_or(RangeReq::Whole, |r| parse_range(r, size));
    lock(&sh.stats).requests += 1;
    let (latency, pacer) = {
        let s = read(&sh.settings);
        (s.latency, s.pacer.clone())
    };
    std::thread::sleep(latency);
    let (code, start, end) = match range {
        RangeReq::Unsatisfiable => {
            let extra = [("Content-Range", format!("bytes */{size}"))];
            write_by(stream, &error_head(416, close, &extra), send_deadline(sh))?;
            return Ok(!close);
        }
        RangeReq::Whole => (200, 0, size),
        RangeReq::Part(a, b) => (206, a, b),
    };
    let req = Request { file: entry.id, start, end, method, client_close: close };
    let (decision, serving) = {
        let mut policy = lock(&sh.policy);
        let d = policy.decide(conn, sh.serving.load(Ordering::SeqCst), &req);
        // A body or a stall occupies the server until it ends.
        let busy = !is_head && !matches!(d, Decision::Status { .. });
        if busy {
            sh.serving.fetch_add(1, Ordering::SeqCst);
        }
        (d, busy.then(|| Serving(&sh.serving)))
    };
    let (bytes, then) = match decision {
        Decision::Status { code, retry_after_s, close } => {
            let extra: Vec<(&str, String)> =
                retry_after_s.map(|s| ("Retry-After", format!("{s}"))).into_iter().collect();
            write_by(stream, &error_head(code, close, &extra), send_deadline(sh))?;
            return Ok(!close);
        }
        Decision::Body { bytes, then } => (bytes, Some(then)),
        Decision::Stall => (0, None),
    };
    let len = end - start;
    let mut h = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: application/octet-stream\r\nAccept-Ranges: bytes\r\nContent-Length: {len}\r\n",
        reason(code)
    );
    if code == 206 {
        h.push_str(&format!("Content-Range: bytes {start}-{}/{size}\r\n", end - 1));
    }
    for (k, v) in extra {
        h.push_str(&format!("{k}: {v}\r\n"));
    }
    match then {
        Some(Then::KeepAlive { left }) => h.push_str(&format!(
            "Connection: keep-alive\r\nKeep-Alive: timeout={}, max={left}\r\n\r\n",
            sh.cfg.idle_timeout.as_secs()
        )),
        // A reset or a stall is not announced: the head looks like any other.
        Some(Then::Reset) | None if !close => h.push_str("Connection: keep-alive\r\n\r\n"),
        _ => h.push_str("Connection: close\r\n\r\n"),
    }
    write_by(stream, h.as_bytes(), send_deadline(sh))?;
    let Some(then) = then else {
        // Stall: no byte until the client gives up (closes), at most send_timeout.
        let deadline = send_deadline(sh);
        let mut sink = [0u8; 512];
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                lock(&sh.stats).timeouts += 1;
                break;
            }
            let _ = stream.tcp().set_read_timeout(Some(left));
            match stream.read(&mut sink) {
                Ok(n) if n > 0 => {}
                Err(e) if matches!(e.kind(), ErrorKind::Interrupted | ErrorKind::WouldBlock | ErrorKind::TimedOut) => {}
                _ => break,
            }
        }
        drop(serving);
        return Ok(false);
    };
    if is_head {
        return Ok(matches!(then, Then::KeepAlive { .. }));
    }
    send_body(sh, stream, entry, start, bytes, pacer.as_deref())?;
    drop(serving);
    if then == Then::Reset {
        // The body stops short and the connection goes: every byte before
        // the cut reaches the client, then a TCP RST (plain or TLS alike).
        stream.reset(sh.cfg.send_timeout);
        return Err(ErrorKind::ConnectionReset.into());
    }
    lock(&sh.stats).files_served += 1;
    Ok(matches!(then, Then::KeepAlive { .. }))
}

/// Bytes per write: the quantum, or ≤ 1 ms of a paced link (2–8 KiB, and at
/// most a tenth of a second of a very slow one), or 64 KiB unpaced.
fn block_bytes(pacer: Option<&Pacer>, quantum: Option<u64>) -> u64 {
    match (pacer, quantum) {
        (Some(_), Some(q)) => q.clamp(1, 1 << 20),
        // A small quantum so concurrent bodies share the link as TCP
        // segments do, not one block after another.
        (Some(p), None) => {
            ((p.rate_bps() / 2000.0) as u64).clamp(2048, 8 * 1024).min((p.rate_bps() / 10.0) as u64).max(1)
        }
        (None, _) => 64 * 1024,
    }
}

fn send_body(
    sh: &Shared,
    stream: &mut dyn Stream,
    entry: &Entry,
    start: u64,
    len: u64,
    pacer: Option<&Pacer>,
) -> std::io::Result<()> {
    let block = block_bytes(pacer, sh.cfg.write_quantum) as usize;
    let mut buf = vec![0u8; block.min(len as usize).max(1)];
    let mut at = start;
    let end = start + len;
    while at < end {
        if sh.shutdown.load(Ordering::SeqCst) {
            return Err(ErrorKind::ConnectionAborted.into());
        }
        let n = ((end - at) as usize).min(buf.len());
        let chunk = &mut buf[..n];
        match &entry.body {
            Body::Synthetic(_) => sh.content.fill(entry.id, at, chunk),
            Body::Bytes(b) => chunk.copy_from_slice(&b[at as usize..at as usize + n]),
        }
        if let Some(p) = pacer {
            sleep_until(p.take(n as u64));
        }
        write_by(stream, chunk, send_deadline(sh))?;
        lock(&sh.stats).bytes_sent += n as u64;
        at += n as u64;
    }
    Ok(())
}

fn stats_of(sh: &Shared) -> ServerStats {
    let mut s = lock(&sh.stats).clone();
    s.files = read(&sh.files).len();
    s.connections_open = sh.open.load(Ordering::SeqCst);
    let st = read(&sh.settings);
    s.bandwidth_limit_bps = st.pacer.as_ref().map(|p| p.rate_bps());
    s.latency_ms = st.latency.as_secs_f64() * 1000.0;
    let policy = lock(&sh.policy);
    s.error_rate = policy.error_rate();
    s.faults = policy.injected().iter().map(|(k, n)| (k.to_string(), *n)).collect();
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ranges_single_open_suffix_and_unsatisfiable() {
        assert_eq!(parse_range("bytes=0-99", 1000), RangeReq::Part(0, 100));
        assert_eq!(parse_range("bytes=900-2000", 1000), RangeReq::Part(900, 1000));
        assert_eq!(parse_range("bytes=10-", 1000), RangeReq::Part(10, 1000));
        assert_eq!(parse_range("bytes=-100", 1000), RangeReq::Part(900, 1000));
        assert_eq!(parse_range("bytes=-5000", 1000), RangeReq::Part(0, 1000));
        assert_eq!(parse_range("bytes=1000-", 1000), RangeReq::Unsatisfiable);
        assert_eq!(parse_range("bytes=1000-1001", 1000), RangeReq::Unsatisfiable);
        assert_eq!(parse_range("bytes=-0", 1000), RangeReq::Unsatisfiable);
        assert_eq!(parse_range("bytes=5-1", 1000), RangeReq::Whole);
        assert_eq!(parse_range("bytes=0-1,5-6", 1000), RangeReq::Whole);
        assert_eq!(parse_range("items=0-1", 1000), RangeReq::Whole);
        assert_eq!(parse_range("bytes=x-1", 1000), RangeReq::Whole);
    }

    /// Issue 12: a panicking connection thread never released its slot, so
    /// after `max_connections` panics every request got 503.
    #[test]
    fn a_slot_is_released_when_its_thread_panics() {
        let server = Server::start().unwrap();
        let sh = server.shared.clone();
        // A socket of another listener: the server's own accept loop stays out of the count.
        let other = TcpListener::bind("127.0.0.1:0").unwrap();
        let client = TcpStream::connect(other.local_addr().unwrap()).unwrap();
        let open_before = sh.open.load(Ordering::SeqCst);
        let slot = Slot::take(&sh, &client);
        let id = slot.id;
        assert_eq!(sh.open.load(Ordering::SeqCst), open_before + 1);
        assert!(lock(&sh.conns).contains_key(&id));
        let r = std::thread::spawn(move || {
            let _slot = slot;
            panic!("a bug in a connection thread");
        })
        .join();
        assert!(r.is_err());
        assert_eq!(sh.open.load(Ordering::SeqCst), open_before);
        assert!(!lock(&sh.conns).contains_key(&id));
    }

    /// Issue 12: a panic while holding a lock poisoned it for every later
    /// request; now every lock is recovered and the server keeps serving.
    #[test]
    fn poisoned_locks_do_not_stop_the_server() {
        let server = Server::start().unwrap();
        server.add_file("f", b"abc".to_vec());
        let sh = server.shared.clone();
        let _ = std::thread::spawn(move || {
            let _a = sh.stats.lock().unwrap();
            let _b = sh.policy.lock().unwrap();
            let _c = sh.files.write().unwrap();
            let _d = sh.settings.write().unwrap();
            let _e = sh.conns.lock().unwrap();
            panic!("poison them all");
        })
        .join();
        assert!(server.shared.stats.is_poisoned() && server.shared.files.is_poisoned());
        let mut s = TcpStream::connect(server.addr()).unwrap();
        s.write_all(b"GET /f HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").unwrap();
        let mut resp = String::new();
        s.read_to_string(&mut resp).unwrap();
        assert!(resp.starts_with("HTTP/1.1 200 OK") && resp.ends_with("abc"), "{resp}");
        server.set_error_rate(0.5);
        assert_eq!((server.stats().requests, server.stats().error_rate), (1, 0.5));
    }

    #[test]
    fn empty_lines_are_skipped_but_a_lone_cr_is_kept() {
        let cases: [(&[u8], &[u8]); 5] =
            [(b"\r\n\nGET", b"GET"), (b"\r\n\r", b"\r"), (b"\n", b""), (b"GET /\r\n", b"GET /\r\n"), (b"", b"")];
        for (input, want) in cases {
            let mut buf = input.to_vec();
            skip_empty_lines(&mut buf);
            assert_eq!(buf, want, "{input:?}");
        }
    }

    #[test]
    fn absolute_form_loses_scheme_and_authority() {
        assert_eq!(origin_form("http://h:1/a/b?q"), "/a/b?q");
        assert_eq!(origin_form("HTTPS://h/a"), "/a");
        assert_eq!(origin_form("http://h"), "/");
        assert_eq!(origin_form("http://h?x/y"), "/");
        assert_eq!(origin_form("/a"), "/a");
        assert_eq!(origin_form("httpx://h/a"), "httpx://h/a");
        assert_eq!(origin_form("ht"), "ht");
    }

    #[test]
    fn blocks_are_small_on_slow_links_and_never_empty() {
        let p = |r: f64| Pacer::link(r);
        assert_eq!(block_bytes(Some(&p(1.0)), None), 1);
        assert_eq!(block_bytes(Some(&p(100.0)), None), 10);
        assert_eq!(block_bytes(Some(&p(1e6)), None), 2048);
        assert_eq!(block_bytes(Some(&p(1e7)), None), 5000);
        assert_eq!(block_bytes(Some(&p(1e9)), None), 8192);
        assert_eq!(block_bytes(Some(&p(1e9)), Some(0)), 1);
        assert_eq!(block_bytes(None, Some(7)), 64 * 1024);
    }

    #[test]
    fn percent_escapes_decode() {
        assert_eq!(percent_decode("/m/a%20b.bin"), "/m/a b.bin");
        assert_eq!(percent_decode("/x%3Fy%"), "/x?y%");
        assert_eq!(percent_decode("/bad%zz"), "/bad%zz");
    }
}
