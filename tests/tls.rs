//! HTTPS (`server.tls`): real downloads over TLS 1.2 and 1.3 checked by
//! SHA-256, the negotiated version, faults byte-exact over TLS, and the
//! handshake's round trips measured through the WAN emulator (root; CI runs
//! as root: that test runs, it does not skip) against `handshake_rtts`.

use dlsim::Scenario;
use dlsim::real::tls::{self, Stream};
use dlsim::real::{Content, RealOptions, Server, expected_digests, run_real};
use dlsim::scenario::TlsVersion;
use dlsim::server::{ConnState, Decision, Limits, Method, Request, ServerPolicy, Then};
use dlsim::wan::{ServedWan, WanConfig};
use serde_json::json;
use std::io::{ErrorKind, Read, Write};
use std::net::SocketAddr;
use std::time::{Duration, Instant};

const VERSIONS: [TlsVersion; 2] = [TlsVersion::Tls13, TlsVersion::Tls12];

/// One test at a time: the timing test must not share the CPU with this
/// binary's downloads.
fn serial() -> std::sync::MutexGuard<'static, ()> {
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn scenario(tls: TlsVersion, extra_server: serde_json::Value, rtt_ms: f64) -> Scenario {
    let mut server = json!({ "bandwidth_bps": null, "latency_ms": 0, "tls": tls.as_str() });
    for (k, v) in extra_server.as_object().unwrap() {
        server[k] = v.clone();
    }
    Scenario::from_value(json!({
        "name": format!("tls-{}", tls.as_str()),
        "seed": 5,
        "server": server,
        "network": { "rtt_ms": rtt_ms },
        "client": { "max_concurrent_downloads": 3, "max_concurrent_files_per_model": 3,
                    "read_timeout_s": 0.3,
                    "chunking": { "chunk_size_bytes": 100000 },
                    "retry": { "max_attempts": 20, "base_s": 0.01, "cap_s": 0.05 } },
        "workload": { "models": [ { "name": "m", "linear":
            { "count": 6, "min_size_bytes": 1, "max_size_bytes": 700000 } } ] }
    }))
    .unwrap()
}

fn get(path: &str, addr: SocketAddr) -> String {
    format!("GET /{path} HTTP/1.1\r\nHost: {addr}\r\n\r\n")
}

#[test]
fn https_downloads_are_byte_exact_for_both_versions() {
    let _g = serial();
    for v in VERSIONS {
        let s = scenario(v, json!({}), 0.0);
        let server = Server::for_scenario(&s, s.seed, "127.0.0.1:0".parse().unwrap(), false).unwrap();
        assert!(server.url("x").starts_with("https://"));
        let run = run_real(&s, s.seed, server.addr(), RealOptions::default()).unwrap();
        let n = s.workload.expand(s.seed).len();
        assert_eq!(run.files_completed(), n, "TLS {}", v.as_str());
        assert!(run.corrupt_files(&expected_digests(&s, s.seed)).is_empty(), "TLS {}", v.as_str());
        assert_eq!(server.stats().files_served as usize, run.stats.requests as usize);
    }
}

#[test]
fn faults_over_tls_stay_byte_exact() {
    let _g = serial();
    for v in VERSIONS {
        let faults = json!({ "faults": { "error_rate": 0.4,
            "mix": { "http_500": 1, "reset": 3, "stall": 1 } } });
        let s = scenario(v, faults, 0.0);
        let server = Server::for_scenario(&s, s.seed, "127.0.0.1:0".parse().unwrap(), false).unwrap();
        let run = run_real(&s, s.seed, server.addr(), RealOptions::default()).unwrap();
        let stats = server.stats();
        assert!(stats.faults.get("reset").copied().unwrap_or(0) > 0, "{stats:?}");
        assert_eq!(run.files_completed(), s.workload.expand(s.seed).len(), "TLS {}", v.as_str());
        assert!(run.corrupt_files(&expected_digests(&s, s.seed)).is_empty(), "TLS {}", v.as_str());
    }
}

#[test]
fn the_negotiated_version_is_the_configured_one() {
    let _g = serial();
    let other = |v| if v == TlsVersion::Tls13 { TlsVersion::Tls12 } else { TlsVersion::Tls13 };
    for v in VERSIONS {
        let s = scenario(v, json!({}), 0.0);
        let server = Server::for_scenario(&s, s.seed, "127.0.0.1:0".parse().unwrap(), false).unwrap();
        let stream = tls::connect(server.addr(), Some(v), Duration::from_secs(5)).unwrap();
        let want = match v {
            TlsVersion::Tls13 => rustls::ProtocolVersion::TLSv1_3,
            TlsVersion::Tls12 => rustls::ProtocolVersion::TLSv1_2,
        };
        assert_eq!(stream.tls_version(), Some(want));
        // The server offers only its version: a client of the other one fails.
        assert!(tls::connect(server.addr(), Some(other(v)), Duration::from_secs(5)).is_err());
        // A plain-HTTP client gets no HTTP answer from a TLS server.
        let mut plain = tls::connect(server.addr(), None, Duration::from_secs(5)).unwrap();
        plain.write_all(get("m/file_0000.bin", server.addr()).as_bytes()).unwrap();
        plain.tcp().set_read_timeout(Some(Duration::from_secs(5))).unwrap();
        let mut got = Vec::new();
        let _ = plain.read_to_end(&mut got);
        assert!(!got.starts_with(b"HTTP/1.1"), "{}", String::from_utf8_lossy(&got));
    }
}

/// An injected reset over TLS: the head, exactly the bytes the server core
/// decided (the right content), then a TCP RST — no `close_notify`, no FIN.
#[test]
fn a_reset_over_tls_is_the_cut_bytes_then_rst() {
    let _g = serial();
    for v in VERSIONS {
        let s = scenario(v, json!({ "faults": { "error_rate": 1.0, "mix": { "reset": 1 } } }), 0.0);
        let file = s.workload.expand(s.seed)[5].clone();
        let server = Server::for_scenario(&s, s.seed, "127.0.0.1:0".parse().unwrap(), false).unwrap();
        // What the server core decides for this first request of the file.
        let limits = Limits {
            max_concurrent_requests: s.server.max_concurrent_requests,
            keep_alive_max_requests: s.server.keep_alive_max_requests,
        };
        let mut policy = ServerPolicy::new(s.seed, s.server.faults.clone(), limits);
        let req = Request { file: file.id, start: 0, end: file.size, method: Method::Get, client_close: false };
        let Decision::Body { bytes: cut, then: Then::Reset } = policy.decide(&mut ConnState::default(), 0, &req) else {
            panic!("error_rate 1 with only resets must reset");
        };
        assert!(cut < file.size);
        let mut stream = tls::connect(server.addr(), Some(v), Duration::from_secs(5)).unwrap();
        stream.write_all(get(&file.path, server.addr()).as_bytes()).unwrap();
        stream.tcp().set_read_timeout(Some(Duration::from_secs(10))).unwrap();
        let mut got = Vec::new();
        let mut buf = [0u8; 65536];
        let err = loop {
            match stream.read(&mut buf) {
                Ok(0) => panic!("a clean end (close_notify) instead of a reset"),
                Ok(n) => got.extend_from_slice(&buf[..n]),
                Err(e) => break e,
            }
        };
        assert_eq!(err.kind(), ErrorKind::ConnectionReset, "{err}");
        let head_end = got.windows(4).position(|w| w == b"\r\n\r\n").expect("a head") + 4;
        let head = String::from_utf8_lossy(&got[..head_end]).to_string();
        assert!(head.contains(&format!("Content-Length: {}", file.size)), "{head}");
        let body = &got[head_end..];
        assert_eq!(body.len() as u64, cut, "TLS {}: body bytes before the RST", v.as_str());
        let mut want = vec![0u8; cut as usize];
        Content::new(s.seed).fill(file.id, 0, &mut want);
        assert!(body == &want[..], "the cut body is the file's first bytes");
    }
}

/// Time to first byte of a fresh HTTPS connection through the emulator at
/// RTT 40 ms: TCP's SYN round trip, the TLS handshake's round trips, then
/// the request's — `(handshake_rtts + 1) × RTT` with the default
/// `handshake_rtts` derived from `server.tls`. The server has no latency and
/// the certificate and response fit in the initial window, so the rest is
/// CPU, scheduling and relay time: the fastest of three fresh connections
/// within 0.3 RTT (12 ms) above (a handshake one round trip longer than
/// modelled, +40 ms, fails), never below. A second request on the same
/// connection costs one RTT.
#[test]
fn the_handshake_costs_what_the_model_says_through_the_emulator() {
    let _g = serial();
    const RTT_MS: f64 = 40.0;
    const TRIES: usize = 3;
    for v in VERSIONS {
        let s = scenario(v, json!({ "bandwidth_bps": 12.5e6 }), RTT_MS);
        let hs = s.handshake_rtts();
        assert_eq!(hs, 1 + v.handshake_rtts());
        let served = ServedWan::start(&s, s.seed, WanConfig::from_scenario(&s, s.seed)).expect("emulator");
        let addr = served.server_addr();
        let file = s.workload.expand(s.seed)[0].clone();
        let (fresh, pooled) = served
            .wan()
            .in_client(|| {
                let first_byte = |stream: &mut Box<dyn Stream>, t0: Instant| {
                    stream.write_all(get(&file.path, addr).as_bytes()).unwrap();
                    let mut b = [0u8; 1];
                    assert_eq!(stream.read(&mut b).unwrap(), 1);
                    let t = t0.elapsed();
                    // Read the rest of this response, all of it (its head and
                    // body may come in several TLS records): a byte left
                    // unread would be the next request's "first byte".
                    let mut got = b.to_vec();
                    let mut chunk = [0u8; 4096];
                    let total = loop {
                        if let Some(end) = got.windows(4).position(|w| w == b"\r\n\r\n") {
                            let head = String::from_utf8_lossy(&got[..end]).to_ascii_lowercase();
                            let len: usize = head
                                .lines()
                                .find_map(|l| l.strip_prefix("content-length:"))
                                .expect("a Content-Length")
                                .trim()
                                .parse()
                                .unwrap();
                            break end + 4 + len;
                        }
                        let n = stream.read(&mut chunk).unwrap();
                        assert!(n > 0, "the response ends before its head");
                        got.extend_from_slice(&chunk[..n]);
                    };
                    while got.len() < total {
                        let n = stream.read(&mut chunk).unwrap();
                        assert!(n > 0, "the response ends before its body");
                        got.extend_from_slice(&chunk[..n]);
                    }
                    assert_eq!(got.len(), total, "one response, nothing after it");
                    t
                };
                let (mut fresh, mut pooled) = (Duration::MAX, Duration::MAX);
                for _ in 0..TRIES {
                    let t0 = Instant::now();
                    let mut stream = tls::connect(addr, Some(v), Duration::from_secs(10)).unwrap();
                    assert!(stream.tls_version().is_some());
                    fresh = fresh.min(first_byte(&mut stream, t0));
                    std::thread::sleep(Duration::from_millis(50));
                    pooled = pooled.min(first_byte(&mut stream, Instant::now()));
                }
                (fresh, pooled)
            })
            .unwrap();
        served.finish().unwrap();
        let rtt = RTT_MS / 1000.0;
        let costs = dlsim::net::Costs::of(&s);
        let model = (costs.handshake + costs.first_byte).as_secs_f64();
        let want = (hs + 1) as f64 * rtt;
        assert!((model - want).abs() < 1e-9, "the model's fresh first byte {model} s ≠ {want} s");
        let fresh = fresh.as_secs_f64();
        let pooled = pooled.as_secs_f64();
        eprintln!(
            "TLS {}: first byte fresh {:.1} ms (model {:.1} ms = {} RTT), pooled {:.1} ms (model {:.1} ms)",
            v.as_str(),
            fresh * 1e3,
            want * 1e3,
            hs + 1,
            pooled * 1e3,
            rtt * 1e3
        );
        assert!(fresh >= want - 0.001 && fresh <= want + 0.3 * rtt, "TLS {}: fresh {fresh} s vs {want} s", v.as_str());
        assert!(pooled >= rtt - 0.001 && pooled <= 1.3 * rtt, "TLS {}: pooled {pooled} s vs {rtt} s", v.as_str());
    }
}

#[test]
fn handshake_rtts_defaults_from_tls_and_an_explicit_value_wins() {
    let with = |tls: serde_json::Value, hs: Option<u32>| {
        let mut network = json!({ "rtt_ms": 10 });
        if let Some(h) = hs {
            network["handshake_rtts"] = json!(h);
        }
        Scenario::from_value(json!({
            "server": { "tls": tls }, "network": network,
            "workload": { "models": [ { "name": "m", "linear":
                { "count": 1, "min_size_bytes": 1, "max_size_bytes": 1 } } ] }
        }))
    };
    assert_eq!(with(json!(null), None).unwrap().handshake_rtts(), 1);
    assert_eq!(with(json!("1.3"), None).unwrap().handshake_rtts(), 2);
    assert_eq!(with(json!("1.2"), None).unwrap().handshake_rtts(), 3);
    assert_eq!(with(json!("1.2"), Some(0)).unwrap().handshake_rtts(), 0);
    assert_eq!(with(json!(null), Some(2)).unwrap().handshake_rtts(), 2);
    let e = with(json!("1.1"), None).unwrap_err().to_string();
    assert!(e.contains("server.tls") && e.contains("1.3"), "{e}");
    assert!(with(json!("1.3"), Some(11)).is_err());
}

#[test]
fn curl_trusts_the_served_certificate_with_cacert() {
    let _g = serial();
    if std::process::Command::new("curl").arg("--version").output().is_err() {
        panic!("curl is required for this test");
    }
    let dir = std::env::temp_dir().join(format!("dlsim-tls-curl-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let s = scenario(TlsVersion::Tls13, json!({}), 0.0);
    let path = dir.join("s.json");
    std::fs::write(&path, serde_json::to_string(&s).unwrap()).unwrap();
    let cert = dir.join("cert.pem");
    // Find a free port, then serve on it.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = std::process::Command::new(env!("CARGO_BIN_EXE_dlsim"))
        .args(["serve", path.to_str().unwrap(), "--port", &port.to_string(), "--tls-cert-out"])
        .arg(&cert)
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !(cert.exists() && std::net::TcpStream::connect(("127.0.0.1", port)).is_ok()) {
        assert!(Instant::now() < deadline, "serve did not start");
        std::thread::sleep(Duration::from_millis(20));
    }
    let file = s.workload.expand(s.seed)[5].clone();
    let url = format!("https://127.0.0.1:{port}/{}", file.path);
    let out = std::process::Command::new("curl")
        .args(["-sS", "--fail", "--tlsv1.3", "--cacert"])
        .arg(&cert)
        .arg(&url)
        .output()
        .unwrap();
    let untrusted = std::process::Command::new("curl").args(["-sS", "--fail", &url]).output().unwrap();
    child.kill().unwrap();
    child.wait().unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let mut want = vec![0u8; file.size as usize];
    Content::new(s.seed).fill(file.id, 0, &mut want);
    assert!(out.stdout == want, "curl got the file's bytes");
    assert!(!untrusted.status.success(), "without --cacert curl must not trust the certificate");
}
