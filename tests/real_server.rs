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
