//! The real runtime: the same policy core as the sim, driven by the wall
//! clock, one thread per connection and `std::net` sockets.
//!
//! A driver thread owns the [`Orchestrator`]. Each `Open` spawns a
//! connection thread that connects and then executes `Send`s (a Range GET,
//! the body read through the client's token bucket, shared by all
//! connections); outcomes come back on a channel as [`Input`]s with the
//! elapsed wall time. `Close` shuts the socket down, aborting a request in
//! flight. Bodies are assembled per file and hashed; a file the core reports
//! complete is checked against the served content's SHA-256.
//!
//! With `server.tls` set, each connection completes a TLS handshake (rustls,
//! only the configured version, trusting only the server's start-up
//! certificate) before it counts as open — so the handshake's round trips
//! are inside the connection's open time, as `handshake_rtts` models them —
//! and requests run over the TLS stream ([`tls::Stream`]).
//!
//! The run yields the same [`RunRecord`] as the sim: the core's log (when
//! asked), its counters, and what the runtime counts itself — body bytes read
//! off the sockets, bytes of aborted requests, the peak of the core's buffers
//! plus the bytes connection threads hold for buffered files, and the time
//! connections waited on the client's token bucket.

use super::content::Content;
use super::pacer::{Pacer, sleep_until};
use super::tls::{self, Stream};
use crate::error::{Error, Result};
use crate::orchestrator::{Action, ConnId, Failure, FileStatus, Input, Orchestrator};
use crate::record::{RealFacts, RunRecord, Runtime};
use crate::scenario::Scenario;
use crate::time::SimTime;
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::ErrorKind;
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// SHA-256 of every file of the scenario's workload as the server serves it.
pub fn expected_digests(s: &Scenario, seed: u64) -> Vec<[u8; 32]> {
    let c = Content::new(seed);
    s.workload.expand(seed).iter().map(|f| c.sha256(f.id, f.size)).collect()
}

/// Percent-encode a file path for the request line.
pub fn encode_path(path: &str) -> String {
    let mut out = String::with_capacity(path.len() + 1);
    if !path.starts_with('/') {
        out.push('/');
    }
    for b in path.bytes() {
        if b.is_ascii_alphanumeric() || b"-._~/".contains(&b) {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

enum Cmd {
    /// `buffered`: the file is buffered whole (its in-flight bytes count as memory).
    Send { req: u64, path: String, start: u64, end: u64, read_timeout: Duration, buffered: bool },
}

/// A connection thread's report. `held`: bytes it added to [`Shared::held`].
enum Msg {
    Opened { conn: ConnId, ok: bool },
    Done { conn: ConnId, req: u64, keep_alive: bool, body: Vec<u8>, held: u64 },
    Failed { conn: ConnId, req: u64, body: Vec<u8>, failure: Failure, held: u64 },
}

/// Counters the connection threads update.
#[derive(Default)]
struct Shared {
    /// Body bytes of 2xx responses read off the sockets.
    wire: AtomicU64,
    /// Body bytes of buffered files held by connection threads.
    held: AtomicU64,
    waits: Mutex<WaitUnion>,
}

/// The union of the intervals connections slept on the client's bucket
/// (intervals are added in about the order they start: the bucket's debt
/// queue orders them).
#[derive(Default)]
struct WaitUnion {
    end: Option<Instant>,
    total: Duration,
}

impl WaitUnion {
    fn add(&mut self, from: Instant, until: Instant) {
        let from = self.end.map_or(from, |e| e.max(from));
        if until > from {
            self.total += until - from;
        }
        self.end = Some(self.end.map_or(until, |e| e.max(until)));
    }
}

#[derive(Default)]
struct Slot {
    stream: Option<TcpStream>,
    closed: bool,
}

struct ConnHandle {
    cmd: Option<Sender<Cmd>>,
    slot: Arc<Mutex<Slot>>,
    closed: bool,
    /// The request in flight: (req, file, start).
    req: Option<(u64, u32, u64)>,
    thread: Option<JoinHandle<()>>,
}

/// Bytes of one file, hashed as they become contiguous.
#[derive(Default)]
struct Assembly {
    cursor: u64,
    hasher: Sha256,
    pending: BTreeMap<u64, Vec<u8>>,
}

impl Assembly {
    fn put(&mut self, start: u64, data: Vec<u8>) {
        if data.is_empty() {
            return;
        }
        if start > self.cursor {
            self.pending.insert(start, data);
            return;
        }
        self.absorb(start, &data);
        while let Some((&s, _)) = self.pending.first_key_value() {
            if s > self.cursor {
                break;
            }
            let (s, d) = self.pending.pop_first().expect("peeked");
            self.absorb(s, &d);
        }
    }
    fn absorb(&mut self, start: u64, data: &[u8]) {
        let end = start + data.len() as u64;
        if end > self.cursor {
            self.hasher.update(&data[(self.cursor - start) as usize..]);
            self.cursor = end;
        }
    }
}

struct Driver<'a> {
    s: &'a Scenario,
    addr: SocketAddr,
    t0: Instant,
    orch: Orchestrator,
    tx: Sender<Msg>,
    conns: Vec<Option<ConnHandle>>,
    timers: BTreeMap<(SimTime, u64), u64>,
    timer_seq: u64,
    limiter: Option<Arc<Pacer>>,
    assembly: Vec<Option<Assembly>>,
    digests: Vec<Option<[u8; 32]>>,
    shared: Arc<Shared>,
    /// Body bytes of requests that were aborted before their outcome arrived.
    aborted: u64,
    peak_memory: u64,
    /// Inputs fed to the core.
    events: u64,
    max_timer_lateness: SimTime,
    threads: u64,
    read_size: usize,
    tls: Option<(Arc<rustls::ClientConfig>, Duration)>,
}

impl Driver<'_> {
    fn now(&self) -> SimTime {
        SimTime(self.t0.elapsed().as_nanos() as u64)
    }

    fn execute(&mut self, out: &mut Vec<Action>) {
        for a in out.drain(..) {
            match a {
                Action::Open { conn } => self.open(conn),
                Action::Send { conn, req, file, start, end, read_timeout } => {
                    let Some(h) = self.conns.get_mut(conn as usize).and_then(|c| c.as_mut()) else { continue };
                    h.req = Some((req, file, start));
                    let path = encode_path(&self.orch.files().path(file));
                    let read_timeout = Duration::from_nanos(read_timeout.as_nanos());
                    let buffered = self.orch.is_buffered(file);
                    if let Some(tx) = &h.cmd {
                        let _ = tx.send(Cmd::Send { req, path, start, end, read_timeout, buffered });
                    }
                }
                Action::Close { conn } => self.close(conn),
                Action::Timer { id, at } => {
                    self.timers.insert((at, self.timer_seq), id);
                    self.timer_seq += 1;
                }
            }
        }
    }

    fn open(&mut self, conn: ConnId) {
        let (cmd_tx, cmd_rx) = mpsc::channel();
        let slot = Arc::new(Mutex::new(Slot::default()));
        let worker = Worker {
            conn,
            addr: self.addr,
            slot: slot.clone(),
            tx: self.tx.clone(),
            limiter: self.limiter.clone(),
            shared: self.shared.clone(),
            read_size: self.read_size,
            tls: self.tls.clone(),
        };
        self.threads += 1;
        let thread = std::thread::Builder::new().name("dlsim-client".into()).spawn(move || worker.run(cmd_rx));
        let thread = match thread {
            Ok(t) => Some(t),
            Err(_) => {
                let _ = self.tx.send(Msg::Opened { conn, ok: false });
                None
            }
        };
        let i = conn as usize;
        if self.conns.len() <= i {
            self.conns.resize_with(i + 1, || None);
        }
        self.conns[i] = Some(ConnHandle { cmd: Some(cmd_tx), slot, closed: false, req: None, thread });
    }

    fn close(&mut self, conn: ConnId) {
        let Some(h) = self.conns.get_mut(conn as usize).and_then(|c| c.as_mut()) else { return };
        h.closed = true;
        h.req = None;
        h.cmd = None;
        let mut slot = h.slot.lock().expect("slot lock");
        slot.closed = true;
        if let Some(s) = slot.stream.take() {
            let _ = s.shutdown(Shutdown::Both);
        }
    }

    fn feed(&mut self, input: Input) {
        let mut out = Vec::new();
        let now = self.now();
        self.events += 1;
        self.orch.handle(now, input, &mut out);
        self.sample_memory();
        self.execute(&mut out);
    }

    /// The core's buffers plus the buffered-file bytes connection threads hold.
    fn sample_memory(&mut self) {
        let mem = self.orch.held_bytes() + self.shared.held.load(Ordering::SeqCst);
        self.peak_memory = self.peak_memory.max(mem);
    }

    /// The request `req` on `conn`, if it is still the one in flight.
    fn take_request(&mut self, conn: ConnId, req: u64) -> Option<(u32, u64)> {
        let h = self.conns.get_mut(conn as usize)?.as_mut()?;
        if h.closed {
            return None;
        }
        match h.req {
            Some((r, file, start)) if r == req => {
                h.req = None;
                Some((file, start))
            }
            _ => None,
        }
    }

    /// A body reaches the driver: the thread no longer holds it.
    fn release_held(&mut self, held: u64) {
        self.sample_memory();
        self.shared.held.fetch_sub(held, Ordering::SeqCst);
    }

    fn on_msg(&mut self, msg: Msg) {
        match msg {
            Msg::Opened { conn, ok } => {
                if self.conns.get(conn as usize).and_then(|c| c.as_ref()).is_some_and(|h| !h.closed) {
                    self.feed(if ok { Input::ConnOpened { conn } } else { Input::ConnFailed { conn } });
                }
            }
            Msg::Done { conn, req, keep_alive, body, held } => {
                self.release_held(held);
                let Some((file, start)) = self.take_request(conn, req) else {
                    self.aborted += body.len() as u64;
                    return;
                };
                if !keep_alive {
                    self.mark_dead(conn);
                }
                // Feed first: the next request goes out while this body is hashed.
                self.feed(Input::RequestDone { conn, req, keep_alive });
                self.put(file, start, body);
                self.finish_file(file);
            }
            Msg::Failed { conn, req, mut body, failure, held } => {
                self.release_held(held);
                let Some((file, start)) = self.take_request(conn, req) else {
                    self.aborted += body.len() as u64;
                    return;
                };
                let received = body.len() as u64;
                if !self.s.client.retry.enable_resume {
                    body.clear();
                }
                if !failure.keeps_connection() {
                    self.mark_dead(conn);
                }
                self.feed(Input::RequestFailed { conn, req, received, failure });
                self.put(file, start, body);
                self.finish_file(file);
            }
        }
    }

    /// The connection is unusable: stop its thread (the core closes it too).
    fn mark_dead(&mut self, conn: ConnId) {
        if let Some(h) = self.conns.get_mut(conn as usize).and_then(|c| c.as_mut()) {
            h.cmd = None;
        }
    }

    fn put(&mut self, file: u32, start: u64, body: Vec<u8>) {
        if let Some(a) = self.assembly.get_mut(file as usize) {
            a.get_or_insert_with(Assembly::default).put(start, body);
        }
    }

    fn finish_file(&mut self, file: u32) {
        let i = file as usize;
        match self.orch.outcome(file).status {
            FileStatus::Completed if self.digests[i].is_none() => {
                let a = self.assembly[i].take().unwrap_or_default();
                let size = self.orch.files()[i].size;
                // A short assembly can never match: give it an impossible digest.
                self.digests[i] = Some(if a.cursor == size { a.hasher.finalize().into() } else { [0xff; 32] });
            }
            FileStatus::Failed => self.assembly[i] = None,
            _ => {}
        }
    }

    fn fire_due_timers(&mut self) {
        loop {
            let now = self.now();
            let Some((&(at, seq), &id)) = self.timers.first_key_value() else { break };
            if at > now {
                break;
            }
            self.timers.remove(&(at, seq));
            self.max_timer_lateness = self.max_timer_lateness.max(now - at);
            self.feed(Input::Timer { id });
        }
    }
}

struct Worker {
    conn: ConnId,
    addr: SocketAddr,
    slot: Arc<Mutex<Slot>>,
    tx: Sender<Msg>,
    limiter: Option<Arc<Pacer>>,
    shared: Arc<Shared>,
    read_size: usize,
    /// HTTPS: the client side and the handshake's time limit.
    tls: Option<(Arc<rustls::ClientConfig>, Duration)>,
}

impl Worker {
    /// `n` body bytes arrived: count them, then wait for the client's tokens.
    fn arrived(&self, n: usize, ok: bool, buffered: bool, held: &mut u64) {
        if ok {
            self.shared.wire.fetch_add(n as u64, Ordering::SeqCst);
            if buffered {
                self.shared.held.fetch_add(n as u64, Ordering::SeqCst);
                *held += n as u64;
            }
        }
        if let Some(l) = &self.limiter {
            let now = Instant::now();
            let until = l.take(n as u64);
            if until > now {
                self.shared.waits.lock().expect("waits lock").add(now, until);
                sleep_until(until);
            }
        }
    }

    fn run(self, cmds: Receiver<Cmd>) {
        let conn = self.conn;
        let Ok(tcp) = TcpStream::connect(self.addr) else {
            let _ = self.tx.send(Msg::Opened { conn, ok: false });
            return;
        };
        let _ = tcp.set_nodelay(true);
        {
            let mut slot = self.slot.lock().expect("slot lock");
            if slot.closed {
                return;
            }
            // A `Close` during the handshake shuts this socket down too.
            slot.stream = tcp.try_clone().ok();
        }
        let mut stream: Box<dyn Stream> = match &self.tls {
            None => Box::new(tcp),
            Some((cfg, limit)) => match tls::client_handshake(cfg.clone(), self.addr, tcp, *limit) {
                Ok(s) => Box::new(s),
                Err(_) => {
                    let _ = self.tx.send(Msg::Opened { conn, ok: false });
                    return;
                }
            },
        };
        if self.tx.send(Msg::Opened { conn, ok: true }).is_err() {
            return;
        }
        let mut leftover = Vec::new();
        while let Ok(Cmd::Send { req, path, start, end, read_timeout, buffered }) = cmds.recv() {
            let msg = self.request(&mut *stream, &mut leftover, req, &path, (start, end), read_timeout, buffered);
            let dead = matches!(&msg, Msg::Failed { failure, .. } if !failure.keeps_connection())
                || matches!(msg, Msg::Done { keep_alive: false, .. });
            if self.tx.send(msg).is_err() || dead {
                break;
            }
        }
        stream.finish();
    }

    #[allow(clippy::too_many_arguments)]
    fn request(
        &self,
        stream: &mut dyn Stream,
        buf: &mut Vec<u8>,
        req: u64,
        path: &str,
        (start, end): (u64, u64),
        read_timeout: Duration,
        buffered: bool,
    ) -> Msg {
        let conn = self.conn;
        let mut held = 0;
        let fail = |body: Vec<u8>, failure: Failure, held: u64| Msg::Failed { conn, req, body, failure, held };
        // A body-less request of the core (HEAD, probe, redirect) is a HEAD.
        let head = if start == end {
            format!("HEAD {path} HTTP/1.1\r\nHost: {}\r\n\r\n", self.addr)
        } else {
            format!("GET {path} HTTP/1.1\r\nHost: {}\r\nRange: bytes={start}-{}\r\n\r\n", self.addr, end - 1)
        };
        if stream.write_all(head.as_bytes()).is_err() {
            return fail(Vec::new(), Failure::Reset, 0);
        }
        let _ = stream.tcp().set_read_timeout(Some(read_timeout.max(Duration::from_millis(1))));
        let mut tmp = vec![0u8; self.read_size];
        // Response head.
        let (code, len, close, retry_after) = loop {
            let mut headers = [httparse::EMPTY_HEADER; 32];
            let mut resp = httparse::Response::new(&mut headers);
            match resp.parse(buf) {
                Ok(httparse::Status::Complete(n)) => {
                    let code = resp.code.unwrap_or(0);
                    let mut len = None;
                    let mut close = resp.version == Some(0);
                    let mut retry_after = None;
                    for h in resp.headers.iter() {
                        let v = String::from_utf8_lossy(h.value);
                        let v = v.trim();
                        if h.name.eq_ignore_ascii_case("content-length") {
                            len = v.parse::<u64>().ok();
                        } else if h.name.eq_ignore_ascii_case("connection") {
                            close = v.eq_ignore_ascii_case("close");
                        } else if h.name.eq_ignore_ascii_case("retry-after") {
                            retry_after = v.parse::<f64>().ok();
                        }
                    }
                    buf.drain(..n);
                    break (code, len, close, retry_after);
                }
                Ok(httparse::Status::Partial) => {}
                Err(_) => return fail(Vec::new(), Failure::Reset, 0),
            }
            match read_some(stream, &mut tmp) {
                Ok(n) => buf.extend_from_slice(&tmp[..n]),
                Err(f) => return fail(Vec::new(), f, 0),
            }
        };
        let len = if start == end { 0 } else { len.unwrap_or(0) };
        let want = end - start;
        let ok = code == 206 || (code == 200 && (start == 0 || start == end));
        if ok && len != want {
            return fail(Vec::new(), Failure::Status { code: 502, retry_after_s: None }, 0);
        }
        let mut body = Vec::with_capacity(len.min(64 << 20) as usize);
        let take = buf.len().min(len as usize);
        body.extend(buf.drain(..take));
        self.arrived(take, ok, buffered, &mut held);
        while (body.len() as u64) < len {
            let room = ((len - body.len() as u64) as usize).min(tmp.len());
            match read_some(stream, &mut tmp[..room]) {
                Ok(n) => {
                    body.extend_from_slice(&tmp[..n]);
                    self.arrived(n, ok, buffered, &mut held);
                }
                Err(f) => {
                    return if ok { fail(body, f, held) } else { fail(Vec::new(), f, 0) };
                }
            }
        }
        if ok {
            Msg::Done { conn, req, keep_alive: !close, body, held }
        } else {
            fail(Vec::new(), Failure::Status { code, retry_after_s: retry_after }, 0)
        }
    }
}

/// One read: bytes, or the failure it means (EOF and errors are resets).
fn read_some(stream: &mut dyn Stream, buf: &mut [u8]) -> std::result::Result<usize, Failure> {
    loop {
        match stream.read(buf) {
            Ok(0) => return Err(Failure::Reset),
            Ok(n) => return Ok(n),
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => return Err(Failure::Timeout),
            Err(_) => return Err(Failure::Reset),
        }
    }
}

/// Options of one real run.
#[derive(Clone, Copy, Debug)]
pub struct RealOptions {
    /// Give up (an error) if the run takes longer than this.
    pub time_limit: Duration,
    /// Record the core's event log (for the invariant checker).
    pub trace: bool,
}

impl Default for RealOptions {
    fn default() -> Self {
        RealOptions { time_limit: Duration::from_secs(600), trace: false }
    }
}

/// Run the scenario's workload for real against the server at `addr`
/// (normally [`super::Server::for_scenario`] with the same seed).
pub fn run_real(s: &Scenario, seed: u64, addr: SocketAddr, opts: RealOptions) -> Result<RunRecord> {
    let files = s.workload.file_set(seed);
    let n = files.len();
    let model_priority: Vec<_> = s.workload.models.iter().map(|m| m.priority).collect();
    let orch = Orchestrator::new(s.client.clone(), files, &model_priority, seed, opts.trace);
    let limiter =
        s.client.bandwidth_limit.as_ref().map(|l| Arc::new(Pacer::with_start(l.rate_bps, l.burst(), l.start_full)));
    let (tx, rx) = mpsc::channel();
    let mut d = Driver {
        s,
        addr,
        t0: Instant::now(),
        orch,
        tx,
        conns: Vec::new(),
        timers: BTreeMap::new(),
        timer_seq: 0,
        limiter,
        assembly: (0..n).map(|_| Some(Assembly::default())).collect(),
        digests: vec![None; n],
        shared: Arc::new(Shared::default()),
        aborted: 0,
        peak_memory: 0,
        events: 0,
        max_timer_lateness: SimTime::ZERO,
        threads: 0,
        read_size: s.client.read_size_bytes.clamp(4096, 1 << 20) as usize,
        tls: match s.server.tls {
            Some(v) => Some((tls::client_config(v)?, Duration::from_secs_f64(s.client.read_timeout_s.max(0.001)))),
            None => None,
        },
    };
    let mut out = Vec::new();
    d.orch.start(SimTime::ZERO, &mut out);
    d.execute(&mut out);
    let mut failed = None;
    while !d.orch.is_finished() {
        if d.t0.elapsed() > opts.time_limit {
            failed = Some(format!("the real run of {} exceeded {:?}", s.name, opts.time_limit));
            break;
        }
        d.fire_due_timers();
        if d.orch.is_finished() {
            break;
        }
        let wait = match d.timers.first_key_value() {
            Some((&(at, _), _)) => Duration::from_nanos(at.as_nanos().saturating_sub(d.now().as_nanos())),
            None => Duration::from_millis(500),
        };
        match rx.recv_timeout(wait) {
            Ok(msg) => d.on_msg(msg),
            Err(RecvTimeoutError::Timeout) => {}
            Err(RecvTimeoutError::Disconnected) => unreachable!("the driver holds a sender"),
        }
    }
    let duration = d.now();
    for c in 0..d.conns.len() {
        d.close(c as ConnId);
    }
    for h in d.conns.iter_mut().flatten() {
        if let Some(t) = h.thread.take() {
            let _ = t.join();
        }
    }
    if let Some(m) = failed {
        return Err(Error::Other(m));
    }
    // Every thread is joined: what is left in the channel are outcomes of
    // requests aborted by the final closes (the driver still holds a sender).
    while let Ok(msg) = rx.try_recv() {
        if let Msg::Done { body, held, .. } | Msg::Failed { body, held, .. } = msg {
            d.shared.held.fetch_sub(held, Ordering::SeqCst);
            d.aborted += body.len() as u64;
        }
    }
    let wall_with_teardown = d.now();
    let files = d.orch.shared_files();
    let outcomes = d.orch.take_outcomes();
    let fail_reasons = d.orch.fail_reasons().map(|(f, r)| (f, r.to_string())).collect();
    let limiter_wait = d.shared.waits.lock().expect("waits lock").total;
    let transferred_bytes = d.shared.wire.load(Ordering::SeqCst);
    let costs = crate::net::Costs::of(s);
    let cpu_seconds = d.orch.stats.requests as f64 * costs.cpu_per_request_s
        + d.orch.pool_stats().opened as f64 * costs.cpu_per_connection_s
        + transferred_bytes as f64 * costs.cpu_per_byte_s;
    Ok(RunRecord {
        name: s.name.clone(),
        seed,
        duration,
        files,
        outcomes,
        fail_reasons,
        stats: d.orch.stats.clone(),
        pool: d.orch.pool_stats().clone(),
        peak_memory_bytes: d.peak_memory,
        transferred_bytes,
        aborted_bytes: d.aborted,
        limiter_wait: SimTime(limiter_wait.as_nanos() as u64),
        cpu_seconds,
        faults_injected: BTreeMap::new(),
        events: d.events,
        trace: d.orch.take_trace(),
        runtime: Runtime::Real(RealFacts {
            digests: d.digests,
            wall_with_teardown,
            max_timer_lateness: d.max_timer_lateness,
            threads: d.threads,
            read_size_bytes: d.read_size as u64,
        }),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assembly_hashes_out_of_order_and_overlapping_pieces() {
        let data: Vec<u8> = (0..=255u8).cycle().take(1000).collect();
        let mut a = Assembly::default();
        a.put(600, data[600..].to_vec());
        a.put(0, data[..300].to_vec());
        a.put(200, data[200..650].to_vec());
        assert_eq!(a.cursor, 1000);
        let mut h = Sha256::new();
        h.update(&data);
        assert_eq!(<[u8; 32]>::from(a.hasher.finalize()), <[u8; 32]>::from(h.finalize()));
    }

    #[test]
    fn paths_are_percent_encoded() {
        assert_eq!(encode_path("m/a b.bin"), "/m/a%20b.bin");
        assert_eq!(encode_path("/x?y"), "/x%3Fy");
    }
}
