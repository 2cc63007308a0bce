//! Real, unmodified download clients against `dlsim serve --hub` over
//! loopback (issue 10, parts 1 and 4): `huggingface_hub.snapshot_download`,
//! `hf_transfer.download`, `aria2c` and `curl -L` each fetch a small
//! scenario's files, and every byte is checked by SHA-256.
//!
//! The clients are installed by `.ci/install-clients` (which `.ci/run`
//! calls): aria2 from Debian's packages, the Python packages in a venv whose
//! python is `$DLSIM_CLIENTS_PYTHON` (default `.venv-clients/bin/python`).
//! A missing client FAILS its test with the install step to run.

use dlsim::Scenario;
use dlsim::real::content::hex;
use dlsim::real::hub::HubConfig;
use dlsim::real::{HubOptions, Server, expected_digests};
use sha2::{Digest, Sha256};
use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const MIB: u64 = 1024 * 1024;
/// Files of at least this size are redirected to the CDN listener.
const LFS_THRESHOLD: u64 = MIB;
/// The repository of the scenario below.
const REPO: &str = "org/tiny";
/// The one file above the redirect threshold.
const LARGE: &str = "model.safetensors";
/// No client run may take longer (the whole scenario is ~3 MiB at 32 MiB/s).
const CLIENT_TIMEOUT: Duration = Duration::from_secs(120);

const INSTALL: &str = "run `.ci/install-clients` (it installs aria2 from Debian's packages and huggingface_hub + \
                       hf_transfer into .venv-clients; .ci/run calls it), or set DLSIM_CLIENTS_PYTHON / DLSIM_ARIA2C / \
                       DLSIM_CURL to the installed tools";

/// A small Hub repository: JSON files (one nested, one with a space in its
/// name) and one file above the redirect threshold; a paced server, so
/// bodies take the pacing path too.
fn scenario() -> Scenario {
    Scenario::from_json(
        r#"{
      "name": "hub_clients", "seed": 7,
      "server": { "bandwidth_bps": 33554432, "latency_ms": 1 },
      "workload": { "models": [ { "name": "org/tiny", "files": [
        { "path": "org/tiny/config.json", "size_bytes": 700 },
        { "path": "org/tiny/tokenizer.json", "size_bytes": 70001 },
        { "path": "org/tiny/generation_config.json", "size_bytes": 1 },
        { "path": "org/tiny/sub/a b.json", "size_bytes": 4321 },
        { "path": "org/tiny/model.safetensors", "size_bytes": 3145733 } ] } ] }
    }"#,
    )
    .unwrap()
}

fn hub_server(s: &Scenario) -> Server {
    let opts = HubOptions { hub: HubConfig { lfs_threshold_bytes: LFS_THRESHOLD, ..HubConfig::default() }, cdn: true };
    Server::start_hub(s, s.seed, "127.0.0.1:0".parse().unwrap(), false, opts).unwrap()
}

/// SHA-256 (hex) of every file by its path in the repository.
fn expected(s: &Scenario) -> BTreeMap<String, String> {
    let prefix = format!("{REPO}/");
    s.workload
        .expand(s.seed)
        .iter()
        .zip(expected_digests(s, s.seed))
        .map(|(f, d)| (f.path.strip_prefix(&prefix).unwrap().to_string(), hex(&d)))
        .collect()
}

fn sha256_file(p: &Path) -> String {
    hex(&Sha256::digest(std::fs::read(p).unwrap_or_else(|e| panic!("read {}: {e}", p.display()))))
}

/// A fresh, empty directory for one test.
fn temp_dir(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dlsim-hub-clients-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// The client from env var `var` (default `default`); fails the test with
/// the install step if it cannot be started.
fn client(var: &str, default: &str, probe: &[&str]) -> String {
    let exe = std::env::var(var).unwrap_or_else(|_| default.to_string());
    match Command::new(&exe).args(probe).stdout(Stdio::null()).stderr(Stdio::piped()).output() {
        Ok(o) if o.status.success() => exe,
        Ok(o) => panic!(
            "`{exe} {}` failed ({}): {}\n{INSTALL}",
            probe.join(" "),
            o.status,
            String::from_utf8_lossy(&o.stderr)
        ),
        Err(e) => panic!("cannot run `{exe}` ({var}): {e}\n{INSTALL}"),
    }
}

fn python() -> String {
    let default = concat!(env!("CARGO_MANIFEST_DIR"), "/.venv-clients/bin/python");
    client("DLSIM_CLIENTS_PYTHON", default, &["-c", "import huggingface_hub, hf_transfer"])
}

/// Run `cmd` to completion within [`CLIENT_TIMEOUT`]; its stdout. Fails
/// the test (with stderr) on a non-zero exit or a timeout.
fn run(cmd: &mut Command) -> String {
    let what = format!("{cmd:?}");
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let (mut out, mut err) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    let out_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = out.read_to_string(&mut s);
        s
    });
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let until = Instant::now() + CLIENT_TIMEOUT;
    let status = loop {
        if let Some(st) = child.try_wait().unwrap() {
            break st;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            panic!("{what} took more than {CLIENT_TIMEOUT:?}: {}", err_t.join().unwrap());
        }
        std::thread::sleep(Duration::from_millis(20));
    };
    let (out, err) = (out_t.join().unwrap(), err_t.join().unwrap());
    assert!(status.success(), "{what} failed ({status}):\n{err}\n{out}");
    out
}

/// The environment of every huggingface_hub run: no Xet, no telemetry, a
/// private cache.
fn hf_env(cmd: &mut Command, home: &Path) {
    cmd.env("HF_HUB_DISABLE_XET", "1")
        .env("HF_HUB_DISABLE_TELEMETRY", "1")
        .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        .env("HF_HUB_OFFLINE", "0")
        .env("HF_HOME", home)
        .env_remove("HF_ENDPOINT")
        .env_remove("HF_TOKEN");
}

#[test]
fn snapshot_download_gets_every_file_byte_exact_keyed_by_the_served_etags() {
    let s = scenario();
    let server = hub_server(&s);
    let dir = temp_dir("snapshot");
    let cache = dir.join("cache");
    let script = r#"
import sys
from huggingface_hub import snapshot_download
print(snapshot_download(sys.argv[1], endpoint=sys.argv[2], cache_dir=sys.argv[3], max_workers=8))
"#;
    let mut cmd = Command::new(python());
    cmd.args(["-c", script, REPO, &server.endpoint(), cache.to_str().unwrap()]);
    hf_env(&mut cmd, &dir.join("home"));
    let snapshot = PathBuf::from(run(&mut cmd).trim());

    // Every file of the repository, byte-exact, at its path.
    let want = expected(&s);
    let mut got = BTreeMap::new();
    let mut stack = vec![snapshot.clone()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                let rel = p.strip_prefix(&snapshot).unwrap().to_str().unwrap().to_string();
                got.insert(rel, sha256_file(&p));
            }
        }
    }
    assert_eq!(got, want, "snapshot {}", snapshot.display());

    // The cache keys every blob by the ETag the server sent: the SHA-256 for
    // the large file, the git blob id for the others.
    let blobs = snapshot.parent().unwrap().parent().unwrap().join("blobs");
    let mut names: Vec<String> =
        std::fs::read_dir(&blobs).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    let mut etags: Vec<String> = want.keys().map(|p| server.hub_etag(REPO, p).unwrap()).collect();
    etags.sort();
    assert_eq!(names, etags);
    assert_eq!(server.hub_etag(REPO, LARGE).unwrap(), want[LARGE]);

    // The large file cost a redirect and a connection to the CDN listener;
    // the small ones were served by the Hub listener itself.
    let st = server.stats();
    assert!(st.redirects >= 1, "{st:?}");
    assert!(st.cdn_connections_accepted >= 1, "{st:?}");
    assert!(st.connections_accepted > st.cdn_connections_accepted, "{st:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn hf_transfer_fetches_the_large_file_in_ranges_through_the_redirect() {
    let s = scenario();
    let server = hub_server(&s);
    let dir = temp_dir("hf_transfer");
    let out = dir.join(LARGE);
    let url = format!("{}/{REPO}/resolve/main/{LARGE}", server.endpoint());
    let script = r#"
import sys, hf_transfer
hf_transfer.download(sys.argv[1], sys.argv[2], max_files=4, chunk_size=1048576, parallel_failures=2, max_retries=3)
"#;
    run(Command::new(python()).args(["-c", script, &url, out.to_str().unwrap()]));
    assert_eq!(sha256_file(&out), expected(&s)[LARGE]);
    // A size probe and one range per MiB, all on the CDN after the redirect.
    let size = s.workload.expand(s.seed).iter().find(|f| f.path.ends_with(LARGE)).unwrap().size;
    let st = server.stats();
    assert!(st.redirects >= 1 && st.cdn_connections_accepted >= 1, "{st:?}");
    assert!(st.requests > size.div_ceil(MIB), "{st:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn aria2c_with_four_connections_fetches_the_large_file_byte_exact() {
    let aria2c = client("DLSIM_ARIA2C", "aria2c", &["--version"]);
    let s = scenario();
    let server = hub_server(&s);
    let dir = temp_dir("aria2c");
    let url = format!("{}/{REPO}/resolve/main/{LARGE}", server.endpoint());
    run(Command::new(aria2c).args([
        "-q",
        "-x4",
        "-s4",
        "-k1M",
        "--max-tries=1",
        "--allow-overwrite=true",
        "-d",
        dir.to_str().unwrap(),
        "-o",
        LARGE,
        &url,
    ]));
    assert_eq!(sha256_file(&dir.join(LARGE)), expected(&s)[LARGE]);
    let st = server.stats();
    assert!(st.redirects >= 1 && st.cdn_connections_accepted >= 1, "{st:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

#[test]
fn curl_follows_the_redirect_to_the_cdn_and_gets_every_file() {
    let curl = client("DLSIM_CURL", "curl", &["--version"]);
    let s = scenario();
    let server = hub_server(&s);
    let dir = temp_dir("curl");
    for (path, sha) in expected(&s) {
        let out = dir.join(path.replace('/', "_"));
        let url = format!("{}/{REPO}/resolve/main/{}", server.endpoint(), path.replace(' ', "%20"));
        run(Command::new(&curl).args(["-sS", "-f", "-L", "-o", out.to_str().unwrap(), &url]));
        assert_eq!(sha256_file(&out), sha, "{path}");
    }
    let st = server.stats();
    assert_eq!(st.redirects, 1, "one file above the threshold: {st:?}");
    assert_eq!(st.cdn_connections_accepted, 1, "{st:?}");
    let _ = std::fs::remove_dir_all(&dir);
}

/// Send one request on a new connection; the status line and headers, and the body.
fn request(addr: std::net::SocketAddr, head: &str) -> (String, Vec<u8>) {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
    write!(s, "{head}Host: x\r\nConnection: close\r\n\r\n").unwrap();
    let mut resp = Vec::new();
    s.read_to_end(&mut resp).unwrap();
    let at = resp.windows(4).position(|w| w == b"\r\n\r\n").expect("a response head") + 4;
    (String::from_utf8_lossy(&resp[..at]).into_owned(), resp[at..].to_vec())
}

#[test]
fn redirect_and_cdn_answers_carry_the_headers_clients_read_and_honour_range() {
    let s = scenario();
    let server = hub_server(&s);
    let want = expected(&s);
    let (head, body) = request(server.addr(), &format!("HEAD /{REPO}/resolve/main/{LARGE} HTTP/1.1\r\n"));
    assert!(head.starts_with("HTTP/1.1 302 "), "{head}");
    assert!(body.is_empty());
    assert!(head.contains(&format!("X-Linked-Etag: \"{}\"", want[LARGE])), "{head}");
    assert!(head.contains("X-Linked-Size: 3145733\r\n") && head.contains("X-Repo-Commit: "), "{head}");
    let location = head.lines().find_map(|l| l.strip_prefix("Location: ")).unwrap().to_string();
    let cdn = server.cdn_addr().unwrap();
    let path = location.strip_prefix(&format!("http://{cdn}")).expect("Location on the CDN listener");
    assert_ne!(cdn.ip(), server.addr().ip(), "the CDN is another host name than the Hub");

    // A range of the large file on the CDN: 206 with the content's SHA-256 as ETag.
    let (head, body) = request(cdn, &format!("GET {path} HTTP/1.1\r\nRange: bytes=1048576-1048675\r\n"));
    assert!(head.starts_with("HTTP/1.1 206 "), "{head}");
    assert!(head.contains("Content-Range: bytes 1048576-1048675/3145733\r\n"), "{head}");
    assert!(head.contains(&format!("ETag: \"{}\"", want[LARGE])), "{head}");
    let (_, whole) = request(cdn, &format!("GET {path} HTTP/1.1\r\n"));
    assert_eq!(hex(&Sha256::digest(&whole)), want[LARGE]);
    assert_eq!(body, whole[1048576..1048676]);

    // The CDN listener serves the CDN's objects only; the Hub answers unknown files 404.
    let (head, _) = request(cdn, &format!("GET /api/models/{REPO} HTTP/1.1\r\n"));
    assert!(head.starts_with("HTTP/1.1 404 "), "{head}");
    let (head, _) = request(server.addr(), &format!("HEAD /{REPO}/resolve/main/nope.json HTTP/1.1\r\n"));
    assert!(head.starts_with("HTTP/1.1 404 ") && head.contains("X-Error-Code: EntryNotFound"), "{head}");
}

/// `dlsim validate --client NAME`'s runner: each tool with its defaults
/// gets every file of the scenario, byte-checked by the runner itself.
#[test]
fn validate_client_runs_each_tool_and_checks_every_file() {
    use dlsim::real::clients::{Client, Tools, run_client};
    let tools = Tools {
        python: python(),
        aria2c: client("DLSIM_ARIA2C", "aria2c", &["--version"]),
        curl: client("DLSIM_CURL", "curl", &["--version"]),
    };
    let s = scenario();
    let files = s.workload.expand(s.seed);
    let bytes: u64 = files.iter().map(|f| f.size).sum();
    let hub = HubConfig { lfs_threshold_bytes: LFS_THRESHOLD, ..HubConfig::default() };
    for c in [Client::Curl, Client::Aria2c, Client::HfTransfer, Client::HuggingfaceHub] {
        let dir = temp_dir(&format!("validate-{}", c.name()));
        let run = run_client(c, &s, s.seed, hub.clone(), &tools, &dir, CLIENT_TIMEOUT).unwrap();
        assert_eq!((run.files, run.verified, run.bytes), (files.len(), files.len(), bytes), "{}", c.name());
        assert!(
            run.server.redirects >= 1 && run.server.cdn_connections_accepted >= 1,
            "{}: {:?}",
            c.name(),
            run.server
        );
        assert!(run.server.bytes_sent >= bytes, "{}: {:?}", c.name(), run.server);
        let _ = std::fs::remove_dir_all(&dir);
    }
    assert!(Client::parse("wget").is_err());
}
