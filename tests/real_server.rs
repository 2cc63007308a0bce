//! The loopback server over real sockets: HTTP semantics, the
//! MockHttpServer-style API, robustness against bad clients, loopback only.

use dlsim::real::server::{STATS_PATH, ServerConfig};
use dlsim::real::{Server, content::hex};
use sha2::{Digest, Sha256};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

struct Resp {
    code: u16,
    headers: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Resp {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k.eq_ignore_ascii_case(name)).map(|(_, v)| v.as_str())
    }
}

/// Read one response from `s` (no body for HEAD).
fn read_response(s: &mut TcpStream, head_only: bool) -> Resp {
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    let mut buf = Vec::new();
    let mut tmp = [0u8; 8192];
    loop {
        let mut headers = [httparse::EMPTY_HEADER; 32];
        let mut r = httparse::Response::new(&mut headers);
        if let httparse::Status::Complete(n) = r.parse(&buf).expect("a valid response") {
            let code = r.code.unwrap();
            let headers: Vec<(String, String)> =
                r.headers.iter().map(|h| (h.name.to_string(), String::from_utf8_lossy(h.value).to_string())).collect();
            let len: usize = headers
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case("content-length"))
                .map_or(0, |(_, v)| v.parse().unwrap());
            let mut body = buf[n..].to_vec();
            let want = if head_only { 0 } else { len };
            while body.len() < want {
                let k = s.read(&mut tmp).unwrap();
                assert!(k > 0, "body cut short");
                body.extend_from_slice(&tmp[..k]);
            }
            return Resp { code, headers, body };
        }
        let k = s.read(&mut tmp).unwrap();
        assert!(k > 0, "connection closed before a response head");
        buf.extend_from_slice(&tmp[..k]);
    }
}

fn get(addr: SocketAddr, path: &str, extra: &str) -> Resp {
    let mut s = TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n{extra}\r\n").unwrap();
    read_response(&mut s, false)
}

#[test]
fn get_head_ranges_and_the_mock_server_api() {
    let server = Server::start().unwrap();
    let addr = server.addr();
    server.add_file("/a.txt", b"hello, world".to_vec());
    let sha = server.add_random_file("models/w.bin", 300_000);

    let r = get(addr, "/a.txt", "");
    assert_eq!((r.code, r.body.as_slice()), (200, &b"hello, world"[..]));
    let r = get(addr, "/a.txt", "Range: bytes=7-\r\n");
    assert_eq!((r.code, r.body.as_slice()), (206, &b"world"[..]));
    assert_eq!(r.header("content-range"), Some("bytes 7-11/12"));
    assert_eq!(get(addr, "/a.txt", "Range: bytes=-3\r\n").body, b"rld");
    assert_eq!(get(addr, "/a.txt", "Range: bytes=0-4\r\n").body, b"hello");
    let r = get(addr, "/a.txt", "Range: bytes=12-\r\n");
    assert_eq!((r.code, r.header("content-range")), (416, Some("bytes */12")));
    assert_eq!(get(addr, "/missing", "").code, 404);

    // The whole random file, fetched in two ranges on one keep-alive connection.
    let mut s = TcpStream::connect(addr).unwrap();
    let mut all = Vec::new();
    for range in ["0-99999", "100000-"] {
        write!(s, "GET /models/w.bin HTTP/1.1\r\nHost: x\r\nRange: bytes={range}\r\n\r\n").unwrap();
        let r = read_response(&mut s, false);
        assert_eq!(r.code, 206);
        all.extend(r.body);
    }
    assert_eq!(hex(&Sha256::digest(&all)), sha);
    write!(s, "HEAD /models/w.bin HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let r = read_response(&mut s, true);
    assert_eq!((r.code, r.header("content-length")), (200, Some("300000")));

    server.set_latency(5.0);
    server.set_bandwidth_limit(Some(10_000_000));
    server.set_error_rate(1.0);
    assert_eq!(get(addr, "/a.txt", "").code, 500);
    let st = server.stats();
    assert_eq!((st.files, st.latency_ms, st.error_rate, st.bandwidth_limit_bps), (2, 5.0, 1.0, Some(1e7)));
    assert_eq!(st.faults.get("http_500"), Some(&1));
    let json: serde_json::Value = serde_json::from_slice(&get(addr, STATS_PATH, "").body).unwrap();
    assert_eq!(json["requests"], serde_json::json!(st.requests));
    assert!(json["bytes_sent"].as_u64().unwrap() >= 300_000);
}

#[test]
fn bad_clients_do_not_kill_the_server() {
    let cfg =
        ServerConfig { header_timeout: Duration::from_millis(300), max_connections: 8, ..ServerConfig::default() };
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), false, cfg).unwrap();
    let addr = server.addr();
    server.add_file("f", vec![7u8; 1000]);

    // Half-finished request: stays open while others are served, then times out.
    let mut half = TcpStream::connect(addr).unwrap();
    half.write_all(b"GET /f HTTP/1.1\r\nHost:").unwrap();

    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"\x00\x01garbage\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s, false).code, 400);

    let mut s = TcpStream::connect(addr).unwrap();
    // The server may answer before the whole head is written: ignore a broken pipe.
    let _ = write!(s, "GET /f HTTP/1.1\r\nX-Big: {}\r\n\r\n", "a".repeat(64 * 1024));
    assert_eq!(read_response(&mut s, false).code, 431);

    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"DELETE /f HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s, false).code, 405);

    let mut s = TcpStream::connect(addr).unwrap();
    s.write_all(b"GET /f HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello").unwrap();
    assert_eq!(read_response(&mut s, false).code, 400);

    // A client that disconnects mid-request.
    let mut gone = TcpStream::connect(addr).unwrap();
    gone.write_all(b"GET /f HT").unwrap();
    drop(gone);

    let r = get(addr, "/f", "");
    assert_eq!((r.code, r.body.len()), (200, 1000));
    assert_eq!(read_response(&mut half, false).code, 408);
    assert_eq!(get(addr, "/f", "Range: bytes=10-19\r\n").body, vec![7u8; 10]);
    let st = server.stats();
    assert!(st.bad_requests >= 4 && st.timeouts >= 1, "{st:?}");
}

#[test]
fn connections_are_bounded() {
    let cfg = ServerConfig { max_connections: 2, ..ServerConfig::default() };
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), false, cfg).unwrap();
    server.add_file("f", b"x".to_vec());
    let mut held = Vec::new();
    for _ in 0..2 {
        let mut s = TcpStream::connect(server.addr()).unwrap();
        s.write_all(b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        assert_eq!(read_response(&mut s, false).code, 200);
        held.push(s);
    }
    let mut third = TcpStream::connect(server.addr()).unwrap();
    assert_eq!(read_response(&mut third, false).code, 503);
    assert_eq!(server.stats().connections_refused, 1);
    drop(held);
}

#[test]
fn non_loopback_binds_are_refused() {
    let e = Server::bind("0.0.0.0:0".parse().unwrap(), false, ServerConfig::default()).err().expect("refused");
    assert!(e.to_string().contains("--allow-remote"), "{e}");
    // The CLI says so and exits with code 2, naming the flag.
    let dir = std::env::temp_dir().join(format!("dlsim-serve-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sc = dir.join("s.json");
    std::fs::write(&sc, r#"{"workload":{"models":[{"name":"m","files":[{"path":"a","size_bytes":1}]}]}}"#).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dlsim"))
        .args(["serve", "--bind", "0.0.0.0", "--port", "0"])
        .arg(&sc)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("--allow-remote"));
    let _ = std::fs::remove_dir_all(&dir);
}

/// Poll `f` every 20 ms until it holds or `limit` passes; the time it took.
fn within(limit: Duration, mut f: impl FnMut() -> bool) -> Option<Duration> {
    let t0 = std::time::Instant::now();
    while t0.elapsed() < limit {
        if f() {
            return Some(t0.elapsed());
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    None
}

/// A fresh connection's GET: its status, or 0 when the server closed first.
fn status_of(addr: SocketAddr, path: &str) -> u16 {
    let mut s = TcpStream::connect(addr).unwrap();
    if write!(s, "GET {path} HTTP/1.1\r\nHost: x\r\n\r\n").is_err() {
        return 0;
    }
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = [0u8; 64];
    match s.read(&mut buf) {
        Ok(n) if n >= 12 => String::from_utf8_lossy(&buf[9..12]).parse().unwrap_or(0),
        _ => 0,
    }
}

/// Issue 12: a tiny bandwidth made every body write panic in the pacer; the
/// panicking threads kept their slots and poisoned the locks, and after
/// `max_connections` requests everything, the stats endpoint included, got
/// 503 forever. Now a rate below 1 B/s is refused, and at the slowest valid
/// rates the slots of departed clients come back.
#[test]
fn tiny_rates_are_refused_and_slow_ones_give_their_slots_back() {
    for bps in [1e-300, 1e-15, 0.5, f64::NAN] {
        let cfg = ServerConfig { bandwidth_bps: Some(bps), ..ServerConfig::default() };
        let e = Server::bind("127.0.0.1:0".parse().unwrap(), false, cfg).err().expect("refused");
        assert!(e.to_string().contains("≥ 1 B/s"), "{e}");
    }
    let cfg = ServerConfig { bandwidth_bps: Some(100.0), max_connections: 3, ..ServerConfig::default() };
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), false, cfg).unwrap();
    let addr = server.addr();
    server.add_random_file("big", 1 << 20);
    let mut clients = Vec::new();
    for _ in 0..3 {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(s, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut b = [0u8; 256];
        assert!(s.read(&mut b).unwrap() > 0, "a head and the first bytes");
        clients.push(s);
    }
    assert_eq!(status_of(addr, STATS_PATH), 503, "all slots are taken");
    drop(clients);
    // Each writer wakes within a few 10-byte turns of the 100 B/s link, finds
    // its client gone and frees its slot.
    let t = within(Duration::from_secs(10), || server.stats().connections_open == 0);
    assert!(t.is_some(), "slots not released: {:?}", server.stats());
    assert_eq!(status_of(addr, STATS_PATH), 200);
}

/// Issue 12: the write timeout bounded each write, so a client that reads a
/// little now and then (or the kernel's growing buffers) held its slot for
/// minutes. The send timeout bounds each block's whole write.
#[test]
fn a_client_that_stops_reading_holds_its_slot_at_most_the_send_timeout() {
    let send_timeout = Duration::from_millis(500);
    let cfg = ServerConfig { max_connections: 1, send_timeout, ..ServerConfig::default() };
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), false, cfg).unwrap();
    let addr = server.addr();
    server.add_random_file("big", 256 << 20);
    server.add_file("small", b"ok".to_vec());
    for drip in [false, true] {
        // The last probe's connection may still hold the only slot for a
        // moment after its response: start each round with the slot free.
        let idle = within(Duration::from_secs(10), || server.stats().connections_open == 0);
        assert!(idle.is_some(), "drip {drip}: a slot still held: {:?}", server.stats());
        let mut hog = TcpStream::connect(addr).unwrap();
        write!(hog, "GET /big HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        // The hog's status line has arrived: it holds the slot (on a loaded
        // machine a fixed sleep did not guarantee the server had accepted it).
        let mut status = [0u8; 12];
        hog.read_exact(&mut status).unwrap();
        assert_eq!(&status, b"HTTP/1.1 200");
        let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let reader = drip.then(|| {
            let (mut h, stop) = (hog.try_clone().unwrap(), stop.clone());
            std::thread::spawn(move || {
                // 4 KiB every 100 ms: never a whole 64 KiB block within 0.5 s.
                let mut b = [0u8; 4096];
                while !stop.load(std::sync::atomic::Ordering::SeqCst) && matches!(h.read(&mut b), Ok(n) if n > 0) {
                    std::thread::sleep(Duration::from_millis(100));
                }
            })
        });
        let t0 = std::time::Instant::now();
        assert_eq!(status_of(addr, "/small"), 503, "drip {drip}: the hog holds the only slot");
        let freed = within(Duration::from_secs(20), || status_of(addr, "/small") == 200);
        let held = t0.elapsed();
        assert!(freed.is_some(), "drip {drip}: the slot was never released");
        // Filling the socket buffers takes a moment, then one send timeout.
        assert!(held < send_timeout * 6, "drip {drip}: held {held:?}");
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        drop(hog);
        if let Some(r) = reader {
            r.join().unwrap();
        }
    }
    assert!(server.stats().timeouts >= 2, "{:?}", server.stats());
}

/// RFC 9112 §3.2.2: a server must accept the absolute form of a request target.
#[test]
fn absolute_form_targets_are_served() {
    let server = Server::start().unwrap();
    let addr = server.addr();
    server.add_file("/m/a.txt", b"hello".to_vec());
    let r = get(addr, &format!("http://{addr}/m/a.txt"), "");
    assert_eq!((r.code, r.body.as_slice()), (200, &b"hello"[..]));
    let r = get(addr, "HTTP://example.org/m/a.txt?x=1", "Range: bytes=1-2\r\n");
    assert_eq!((r.code, r.body.as_slice()), (206, &b"el"[..]));
    assert_eq!(get(addr, "http://example.org", "").code, 404, "the root path");
    assert_eq!(get(addr, "http://example.org?m/a.txt", "").code, 404, "a query is not a path");
    assert_eq!(dlsim::real::server::origin_form("/m/a.txt"), "/m/a.txt");
}

/// Issue 12: non-2xx responses to `Connection: close` requests said
/// `keep-alive`. Every response to a close request says `close`, and the
/// server closes.
#[test]
fn every_response_to_a_close_request_says_close() {
    let server = Server::start().unwrap();
    let addr = server.addr();
    server.add_file("f", vec![1u8; 100]);
    let check = |method: &str, path: &str, extra: &str, code: u16| {
        let mut s = TcpStream::connect(addr).unwrap();
        write!(s, "{method} {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n{extra}\r\n").unwrap();
        let r = read_response(&mut s, method == "HEAD");
        assert_eq!(r.code, code, "{method} {path} {extra}");
        assert_eq!(r.header("connection"), Some("close"), "{method} {path} {extra} → {code}");
        let mut rest = Vec::new();
        let _ = s.read_to_end(&mut rest);
        assert!(rest.is_empty(), "nothing after the response, then EOF");
    };
    check("GET", "/f", "", 200);
    check("HEAD", "/f", "", 200);
    check("GET", "/missing", "", 404);
    check("GET", "/f", "Range: bytes=500-\r\n", 416);
    check("DELETE", "/f", "", 405);
    check("GET", STATS_PATH, "", 200);
    server.set_error_rate(1.0);
    check("GET", "/f", "", 500);
    // Without `close` the same status keeps the connection.
    let r = get(addr, "/f", "");
    assert_eq!((r.code, r.header("connection")), (500, Some("keep-alive")));
}

/// RFC 9112 §2.2: empty lines before a request line are ignored — neither
/// a bad request nor the start of a slow head (they used to arm the 408).
#[test]
fn empty_lines_before_a_request_are_ignored() {
    let cfg = ServerConfig { header_timeout: Duration::from_millis(300), ..ServerConfig::default() };
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), false, cfg).unwrap();
    server.add_file("f", b"abc".to_vec());
    let mut s = TcpStream::connect(server.addr()).unwrap();
    s.write_all(b"\r\n\n\r\nGET /f HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut s, false).body, b"abc");
    // A stray CRLF after a response, then a pause longer than the head timeout.
    s.write_all(b"\r\n").unwrap();
    std::thread::sleep(Duration::from_millis(700));
    s.write_all(b"\r").unwrap();
    std::thread::sleep(Duration::from_millis(50));
    s.write_all(b"\nGET /f HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    let r = read_response(&mut s, false);
    assert_eq!((r.code, r.body.as_slice()), (200, &b"abc"[..]));
    assert_eq!(server.stats().timeouts, 0);
}

/// The loopback adapter counts a stall as a body in progress: with one
/// allowed, a second request gets 503 with the faults' Retry-After, and the
/// slot comes back when the stalled client leaves.
#[test]
fn the_request_cap_counts_stalls_and_frees_them() {
    use dlsim::scenario::{FaultMix, Faults};
    let mix = FaultMix { http_500: 0.0, http_429: 0.0, http_503: 0.0, reset: 0.0, stall: 1.0 };
    let cfg = ServerConfig {
        max_concurrent_requests: Some(1),
        faults: Faults { error_rate: 1.0, mix, retry_after_s: 2.5, ..Faults::default() },
        ..ServerConfig::default()
    };
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), false, cfg).unwrap();
    let addr = server.addr();
    server.add_file("f", vec![0u8; 10]);
    let mut stalled = TcpStream::connect(addr).unwrap();
    write!(stalled, "GET /f HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
    assert_eq!(read_response(&mut stalled, true).code, 200, "the head of a stall");
    let r = get(addr, "/f", "");
    assert_eq!((r.code, r.header("retry-after")), (503, Some("2.5")));
    drop(stalled);
    server.set_error_rate(0.0);
    // Until the stalled thread sees its client gone, requests still get 503.
    let mut refused = 1;
    let t = within(Duration::from_secs(5), || match get(addr, "/f", "").code {
        503 => {
            refused += 1;
            false
        }
        code => code == 200,
    });
    assert!(t.is_some(), "{:?}", server.stats());
    let faults = server.stats().faults;
    assert_eq!((faults.get("stall"), faults.get("over_capacity")), (Some(&1), Some(&refused)), "{faults:?}");
}
