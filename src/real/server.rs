//! The loopback HTTP/1.1 server: deterministic synthetic files (or given
//! bytes), GET/HEAD, single Range requests (206/416), keep-alive with a
//! request limit, a shared egress limit, latency before the first byte and
//! the model's fault decisions ([`ServerFaults`], the very same function the
//! sim runtime calls). Requests are parsed with `httparse`; malformed ones
//! get 400, oversized heads 431, and the server keeps serving.
//!
//! The API keeps the vocabulary of the Python suite's `MockHttpServer`:
//! [`Server::add_file`], [`Server::add_random_file`],
//! [`Server::set_bandwidth_limit`], [`Server::set_latency`],
//! [`Server::set_error_rate`], [`Server::stats`].

use super::content::{Content, hex};
use super::pacer::{Pacer, sleep_until};
use crate::error::{Error, Result};
use crate::net::{Fault, ServerFaults};
use crate::scenario::{Faults, Scenario};
use serde::Serialize;
use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::{Ipv4Addr, Shutdown, SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, RwLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Path of the JSON stats endpoint.
pub const STATS_PATH: &str = "/_dlsim/stats";

/// Server settings (everything but the files).
#[derive(Clone, Debug)]
pub struct ServerConfig {
    /// Seed of the synthetic content and of the fault decisions.
    pub seed: u64,
    /// Egress shared by all connections, bytes/s (`None` = unlimited).
    pub bandwidth_bps: Option<f64>,
    /// Think time before the first byte of each response, ms.
    pub latency_ms: f64,
    /// Bodies served at once; beyond, 503 with Retry-After.
    pub max_concurrent_requests: Option<u32>,
    /// Successful responses on one connection before the server closes it.
    pub keep_alive_max_requests: u32,
    /// Bytes per paced write (the turn of a connection); default: ≤ 1 ms of the rate, 2–8 KiB.
    pub write_quantum: Option<u64>,
    pub faults: Faults,
    /// Connections open at once; more are answered 503 and closed.
    pub max_connections: u32,
    /// A connection idle this long between requests is closed.
    pub idle_timeout: Duration,
    /// A request head must arrive within this time of its first byte.
    pub header_timeout: Duration,
    /// Largest request head, bytes (larger: 431).
    pub max_header_bytes: usize,
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
            max_header_bytes: 16 * 1024,
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
            ..ServerConfig::default()
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
    /// Connections refused because `max_connections` were open.
    pub connections_refused: u64,
    /// Requests answered 400/405/431 (malformed, bad method, oversized).
    pub bad_requests: u64,
    /// Connections closed for an idle or slow client.
    pub timeouts: u64,
    /// Faults injected by kind (`over_capacity` for the request cap).
    pub faults: BTreeMap<String, u64>,
    pub files: usize,
    pub bandwidth_limit_bps: Option<f64>,
    pub latency_ms: f64,
    pub error_rate: f64,
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
    faults: Mutex<ServerFaults>,
    stats: Mutex<ServerStats>,
    serving: AtomicU32,
    open: AtomicU32,
    next_conn: AtomicU64,
    conns: Mutex<BTreeMap<u64, TcpStream>>,
    shutdown: AtomicBool,
}

/// A running loopback server; stops when dropped.
pub struct Server {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
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
        let listener = TcpListener::bind(addr).map_err(|e| Error::Other(format!("cannot bind {addr}: {e}")))?;
        let addr = listener.local_addr().map_err(|e| Error::Other(format!("cannot bind {addr}: {e}")))?;
        let pacer = cfg.bandwidth_bps.map(|r| Arc::new(Pacer::link(r)));
        let shared = Arc::new(Shared {
            content: Content::new(cfg.seed),
            settings: RwLock::new(Settings { latency: Duration::from_secs_f64(cfg.latency_ms / 1000.0), pacer }),
            files: RwLock::new(BTreeMap::new()),
            faults: Mutex::new(ServerFaults::new(cfg.seed, cfg.faults.clone())),
            stats: Mutex::new(ServerStats::default()),
            serving: AtomicU32::new(0),
            open: AtomicU32::new(0),
            next_conn: AtomicU64::new(0),
            conns: Mutex::new(BTreeMap::new()),
            shutdown: AtomicBool::new(false),
            cfg,
        });
        let sh = shared.clone();
        let accept = std::thread::Builder::new()
            .name("dlsim-accept".into())
            .spawn(move || accept_loop(sh, listener))
            .map_err(|e| Error::Other(format!("cannot start the server thread: {e}")))?;
        Ok(Server { addr, shared, accept: Some(accept) })
    }

    /// The scenario's server on `addr`, serving its workload's files
    /// (file ids in workload order, so fault decisions match the model).
    pub fn for_scenario(s: &Scenario, seed: u64, addr: SocketAddr, allow_remote: bool) -> Result<Server> {
        let server = Server::bind(addr, allow_remote, ServerConfig::from_scenario(s, seed))?;
        {
            let mut files = server.shared.files.write().expect("files lock");
            for f in s.workload.expand(seed) {
                files.insert(format!("/{}", f.path), Entry { id: f.id, body: Body::Synthetic(f.size) });
            }
        }
        Ok(server)
    }

    pub fn addr(&self) -> SocketAddr {
        self.addr
    }
    /// `http://addr/path`.
    pub fn url(&self, path: &str) -> String {
        format!("http://{}/{}", self.addr, path.trim_start_matches('/'))
    }

    fn insert(&self, path: &str, body: Body) -> Entry {
        let mut files = self.shared.files.write().expect("files lock");
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

    /// Shared egress limit, bytes/s (`None` = unlimited).
    pub fn set_bandwidth_limit(&self, bytes_per_second: Option<u64>) {
        let pacer = bytes_per_second.filter(|r| *r > 0).map(|r| Arc::new(Pacer::link(r as f64)));
        self.shared.settings.write().expect("settings lock").pacer = pacer;
    }

    /// Latency before the first byte of each response, ms.
    pub fn set_latency(&self, ms: f64) {
        self.shared.settings.write().expect("settings lock").latency = Duration::from_secs_f64(ms.max(0.0) / 1000.0);
    }

    /// Probability that a request gets a fault (kinds from the configured mix, HTTP 500 by default).
    pub fn set_error_rate(&self, rate: f64) {
        self.shared.faults.lock().expect("faults lock").set_error_rate(rate.clamp(0.0, 1.0));
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
        let wake = if self.addr.ip().is_unspecified() {
            SocketAddr::from((Ipv4Addr::LOCALHOST, self.addr.port()))
        } else {
            self.addr
        };
        let _ = TcpStream::connect_timeout(&wake, Duration::from_secs(1));
        for c in self.shared.conns.lock().expect("conns lock").values() {
            let _ = c.shutdown(Shutdown::Both);
        }
        if let Some(h) = self.accept.take() {
            let _ = h.join();
        }
    }
}

fn accept_loop(sh: Arc<Shared>, listener: TcpListener) {
    for stream in listener.incoming() {
        if sh.shutdown.load(Ordering::SeqCst) {
            break;
        }
        let Ok(mut stream) = stream else { continue };
        if sh.open.load(Ordering::SeqCst) >= sh.cfg.max_connections {
            sh.stats.lock().expect("stats lock").connections_refused += 1;
            let _ = stream.set_write_timeout(Some(Duration::from_secs(1)));
            let _ = stream.write_all(&error_head(503, "Service Unavailable", true, &[("Retry-After", "1".into())]));
            continue;
        }
        sh.open.fetch_add(1, Ordering::SeqCst);
        sh.stats.lock().expect("stats lock").connections_accepted += 1;
        let id = sh.next_conn.fetch_add(1, Ordering::SeqCst);
        if let Ok(c) = stream.try_clone() {
            sh.conns.lock().expect("conns lock").insert(id, c);
        }
        let sh2 = sh.clone();
        let spawned = std::thread::Builder::new().name("dlsim-conn".into()).spawn(move || {
            serve_connection(&sh2, stream);
            sh2.conns.lock().expect("conns lock").remove(&id);
            sh2.open.fetch_sub(1, Ordering::SeqCst);
        });
        if spawned.is_err() {
            sh.conns.lock().expect("conns lock").remove(&id);
            sh.open.fetch_sub(1, Ordering::SeqCst);
        }
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

fn read_head(sh: &Shared, stream: &mut TcpStream, buf: &mut Vec<u8>) -> ReadHead {
    let mut first_byte_at: Option<Instant> = (!buf.is_empty()).then(Instant::now);
    let mut tmp = [0u8; 4096];
    loop {
        if !buf.is_empty() {
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
        let timeout = match first_byte_at {
            None => sh.cfg.idle_timeout,
            Some(t) => match sh.cfg.header_timeout.checked_sub(t.elapsed()) {
                Some(d) if !d.is_zero() => d,
                _ => {
                    sh.stats.lock().expect("stats lock").timeouts += 1;
                    return ReadHead::Bad(408);
                }
            },
        };
        let _ = stream.set_read_timeout(Some(timeout));
        match stream.read(&mut tmp) {
            Ok(0) => return ReadHead::Gone,
            Ok(n) => {
                first_byte_at.get_or_insert_with(Instant::now);
                buf.extend_from_slice(&tmp[..n]);
            }
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                sh.stats.lock().expect("stats lock").timeouts += 1;
                return if first_byte_at.is_some() { ReadHead::Bad(408) } else { ReadHead::Gone };
            }
            Err(_) => return ReadHead::Gone,
        }
    }
}

fn reason(code: u16) -> &'static str {
    match code {
        200 => "OK",
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

fn error_head(code: u16, text: &str, close: bool, extra: &[(&str, String)]) -> Vec<u8> {
    let mut h = format!("HTTP/1.1 {code} {text}\r\nContent-Length: 0\r\n");
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

fn count_fault(sh: &Shared, kind: &str) {
    *sh.stats.lock().expect("stats lock").faults.entry(kind.to_string()).or_insert(0) += 1;
}

/// Decrements the serving count when a body (or stall) ends.
struct Serving<'a>(&'a AtomicU32);
impl Drop for Serving<'_> {
    fn drop(&mut self) {
        self.0.fetch_sub(1, Ordering::SeqCst);
    }
}

fn serve_connection(sh: &Shared, mut stream: TcpStream) {
    let _ = stream.set_nodelay(true);
    let _ = stream.set_write_timeout(Some(sh.cfg.idle_timeout));
    let mut buf = Vec::new();
    let mut served: u32 = 0;
    while !sh.shutdown.load(Ordering::SeqCst) {
        let head = match read_head(sh, &mut stream, &mut buf) {
            ReadHead::Got(h) => h,
            ReadHead::Gone => return,
            ReadHead::Bad(code) => {
                if code != 408 {
                    sh.stats.lock().expect("stats lock").bad_requests += 1;
                }
                let _ = stream.write_all(&error_head(code, reason(code), true, &[]));
                let _ = stream.shutdown(Shutdown::Write);
                linger(&mut stream);
                return;
            }
        };
        if !matches!(respond(sh, &mut stream, &head, &mut served), Ok(true)) || head.close {
            let _ = stream.shutdown(Shutdown::Write);
            return;
        }
    }
}

/// Drain what the client still sends (briefly) before closing, so the
/// kernel does not reset the connection and lose the error response.
fn linger(stream: &mut TcpStream) {
    let until = Instant::now() + Duration::from_millis(500);
    let _ = stream.set_read_timeout(Some(Duration::from_millis(100)));
    let mut sink = [0u8; 8192];
    let mut left: usize = 1 << 20;
    while Instant::now() < until && left > 0 {
        match stream.read(&mut sink) {
            Ok(n) if n > 0 => left = left.saturating_sub(n),
            _ => break,
        }
    }
}

/// Answer one request; `Ok(true)` keeps the connection.
fn respond(sh: &Shared, stream: &mut TcpStream, head: &Head, served: &mut u32) -> std::io::Result<bool> {
    let path = percent_decode(head.path.split('?').next().unwrap_or(""));
    let path = path.as_str();
    let is_head = head.method == "HEAD";
    if head.method != "GET" && !is_head {
        sh.stats.lock().expect("stats lock").bad_requests += 1;
        stream.write_all(&error_head(405, reason(405), false, &[("Allow", "GET, HEAD".into())]))?;
        return Ok(true);
    }
    if path == STATS_PATH {
        let body = serde_json::to_vec_pretty(&stats_of(sh)).expect("stats serialize");
        let h = format!(
            "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: keep-alive\r\n\r\n",
            body.len()
        );
        stream.write_all(h.as_bytes())?;
        if !is_head {
            stream.write_all(&body)?;
        }
        return Ok(true);
    }
    let entry = sh.files.read().expect("files lock").get(path).cloned();
    let Some(entry) = entry else {
        stream.write_all(&error_head(404, reason(404), false, &[]))?;
        return Ok(true);
    };
    let size = entry.size();
    let range = head.range.as_deref().map_or(RangeReq::Whole, |r| parse_range(r, size));
    sh.stats.lock().expect("stats lock").requests += 1;
    let (latency, pacer) = {
        let s = sh.settings.read().expect("settings lock");
        (s.latency, s.pacer.clone())
    };
    std::thread::sleep(latency);
    let (code, start, end) = match range {
        RangeReq::Unsatisfiable => {
            stream.write_all(&error_head(416, reason(416), false, &[("Content-Range", format!("bytes */{size}"))]))?;
            return Ok(true);
        }
        RangeReq::Whole => (200, 0, size),
        RangeReq::Part(a, b) => (206, a, b),
    };
    *served += 1;
    let fault = if is_head {
        Fault::None
    } else if sh.cfg.max_concurrent_requests.is_some_and(|cap| sh.serving.load(Ordering::SeqCst) >= cap) {
        count_fault(sh, "over_capacity");
        Fault::Http503 { retry_after_s: sh.cfg.faults.retry_after_s }
    } else {
        let f = sh.faults.lock().expect("faults lock").on_request(entry.id, start);
        if f != Fault::None {
            count_fault(sh, f.kind());
        }
        f
    };
    let status_fault = match fault {
        Fault::Http500 => Some((500, None)),
        Fault::Http429 { retry_after_s } => Some((429, Some(retry_after_s))),
        Fault::Http503 { retry_after_s } => Some((503, Some(retry_after_s))),
        _ => None,
    };
    if let Some((code, retry_after)) = status_fault {
        let extra: Vec<(&str, String)> = retry_after.map(|s| ("Retry-After", format!("{s}"))).into_iter().collect();
        stream.write_all(&error_head(code, reason(code), false, &extra))?;
        return Ok(true);
    }
    let keep = *served < sh.cfg.keep_alive_max_requests && !head.close;
    let len = end - start;
    let mut h = format!(
        "HTTP/1.1 {code} {}\r\nContent-Type: application/octet-stream\r\nAccept-Ranges: bytes\r\nContent-Length: {len}\r\n",
        reason(code)
    );
    if code == 206 {
        h.push_str(&format!("Content-Range: bytes {start}-{}/{size}\r\n", end - 1));
    }
    if keep {
        let left = sh.cfg.keep_alive_max_requests - *served;
        h.push_str(&format!(
            "Connection: keep-alive\r\nKeep-Alive: timeout={}, max={left}\r\n\r\n",
            sh.cfg.idle_timeout.as_secs()
        ));
    } else {
        h.push_str("Connection: close\r\n\r\n");
    }
    stream.write_all(h.as_bytes())?;
    if is_head {
        return Ok(keep);
    }
    sh.serving.fetch_add(1, Ordering::SeqCst);
    let _serving = Serving(&sh.serving);
    let body_len = match fault {
        Fault::Stall => {
            // No byte until the client gives up (closes) or the idle timeout.
            let _ = stream.set_read_timeout(Some(sh.cfg.idle_timeout));
            let mut sink = [0u8; 512];
            while matches!(stream.read(&mut sink), Ok(n) if n > 0) {}
            return Ok(false);
        }
        Fault::Reset { fraction } => (len as f64 * fraction).floor() as u64,
        _ => len,
    };
    send_body(sh, stream, &entry, start, body_len, pacer.as_deref())?;
    if body_len < len {
        // Reset: the body stops short and the connection goes.
        return Ok(false);
    }
    sh.stats.lock().expect("stats lock").files_served += 1;
    Ok(keep)
}

fn send_body(
    sh: &Shared,
    stream: &mut TcpStream,
    entry: &Entry,
    start: u64,
    len: u64,
    pacer: Option<&Pacer>,
) -> std::io::Result<()> {
    let block = match (pacer, sh.cfg.write_quantum) {
        (Some(_), Some(q)) => q.clamp(1, 1 << 20),
        (pacer, _) => match pacer {
            // A small quantum (≤ 1 ms of the link) so concurrent bodies share the
            // link as TCP segments do, not one block after another.
            Some(p) => ((p.rate_bps() / 2000.0) as u64).clamp(2048, 8 * 1024),
            None => 256 * 1024,
        },
    } as usize;
    let mut buf = vec![0u8; block.min(len as usize).max(1)];
    let mut at = start;
    let end = start + len;
    while at < end {
        let n = ((end - at) as usize).min(buf.len());
        let chunk = &mut buf[..n];
        match &entry.body {
            Body::Synthetic(_) => sh.content.fill(entry.id, at, chunk),
            Body::Bytes(b) => chunk.copy_from_slice(&b[at as usize..at as usize + n]),
        }
        if let Some(p) = pacer {
            sleep_until(p.take(n as u64));
        }
        stream.write_all(chunk)?;
        sh.stats.lock().expect("stats lock").bytes_sent += n as u64;
        at += n as u64;
    }
    Ok(())
}

fn stats_of(sh: &Shared) -> ServerStats {
    let mut s = sh.stats.lock().expect("stats lock").clone();
    s.files = sh.files.read().expect("files lock").len();
    let st = sh.settings.read().expect("settings lock");
    s.bandwidth_limit_bps = st.pacer.as_ref().map(|p| p.rate_bps());
    s.latency_ms = st.latency.as_secs_f64() * 1000.0;
    s.error_rate = sh.faults.lock().expect("faults lock").error_rate();
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

    #[test]
    fn percent_escapes_decode() {
        assert_eq!(percent_decode("/m/a%20b.bin"), "/m/a b.bin");
        assert_eq!(percent_decode("/x%3Fy%"), "/x?y%");
        assert_eq!(percent_decode("/bad%zz"), "/bad%zz");
    }
}
