//! Issue 12: with file descriptors exhausted, `accept()` failed at once,
//! again and again — the accept loop spun at 100 % CPU and the waiting
//! client never got an answer. Now the server frees a reserved descriptor
//! to answer 503, backs off between failures and serves again once
//! descriptors are back.
//!
//! Its own test binary: it lowers this process's descriptor limit.

#![cfg(unix)]

use dlsim::real::Server;
use dlsim::real::server::ServerConfig;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

fn set_soft_limit(n: u64) {
    let mut lim = libc::rlimit { rlim_cur: 0, rlim_max: 0 };
    // SAFETY: plain syscalls on a local struct.
    unsafe {
        assert_eq!(libc::getrlimit(libc::RLIMIT_NOFILE, &mut lim), 0);
        lim.rlim_cur = (n as libc::rlim_t).min(lim.rlim_max);
        assert_eq!(libc::setrlimit(libc::RLIMIT_NOFILE, &lim), 0);
    }
}

fn response_code(s: &mut TcpStream) -> u16 {
    s.set_read_timeout(Some(Duration::from_secs(5))).unwrap();
    let mut buf = Vec::new();
    let mut tmp = [0u8; 256];
    while buf.len() < 12 {
        match s.read(&mut tmp) {
            Ok(n) if n > 0 => buf.extend_from_slice(&tmp[..n]),
            other => panic!("no response: {other:?} after {buf:?}"),
        }
    }
    String::from_utf8_lossy(&buf[9..12]).parse().unwrap()
}

#[test]
fn out_of_descriptors_the_server_answers_503_backs_off_and_recovers() {
    set_soft_limit(128);
    let server = Server::bind("127.0.0.1:0".parse().unwrap(), false, ServerConfig::default()).unwrap();
    server.add_file("f", b"ok".to_vec());
    let addr = server.addr();

    // Take every descriptor but one, which the client's socket takes: the
    // server's accept() then fails. Each client gets an answer (the old
    // accept loop left it waiting); at least one is the 503 from the reserve.
    let mut refused = 0;
    for _ in 0..3 {
        let mut hoard = Vec::new();
        while let Ok(f) = std::fs::File::open("/dev/null") {
            hoard.push(f);
        }
        assert!(hoard.len() > 10, "the limit left room for the test");
        hoard.pop();
        let mut client = TcpStream::connect(addr).unwrap();
        let _ = client.write_all(b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n");
        let code = response_code(&mut client);
        assert!(code == 503 || code == 200, "{code}");
        refused += (code == 503) as u32;
        drop(client);
        drop(hoard);
    }
    assert!(refused >= 1, "never out of descriptors: {:?}", server.stats());

    // Failures are paced, not spun.
    std::thread::sleep(Duration::from_millis(300));
    let st = server.stats();
    assert_eq!(st.connections_refused, refused as u64, "{st:?}");
    assert!((1..=60).contains(&st.accept_errors), "{st:?}");

    let mut code = 0;
    for _ in 0..50 {
        let mut s = TcpStream::connect(addr).unwrap();
        s.write_all(b"GET /f HTTP/1.1\r\nHost: x\r\n\r\n").unwrap();
        code = response_code(&mut s);
        if code == 200 {
            break;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    assert_eq!(code, 200, "serving again: {:?}", server.stats());
}
