//! Real download tools run against `dlsim serve --hub` (issue 10, part 4,
//! first step): each tool with its defaults (docs/clients.md) downloads a
//! scenario's files over loopback; the wall time is measured and every
//! file's SHA-256 checked against the served content.
//!
//! Not yet here: the tools' presets in the model (part 2), so a run is
//! compared with the sim of the scenario's own client only, as a reference.

use super::content::{Content, hex};
use super::hub::HubConfig;
use super::server::{HubOptions, Server, ServerStats};
use crate::error::{Error, Result};
use crate::scenario::Scenario;
use serde::Serialize;
use sha2::{Digest, Sha256};
use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// A real download tool.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Client {
    /// `curl -L`, every URL on one command line (serial, one connection reused).
    Curl,
    /// `aria2c -i LIST` with its defaults (`-j5 -x1 -s5 -k20M`).
    Aria2c,
    /// `hf_transfer.download` per file, `max_files=100`, 10 MiB chunks,
    /// `parallel_failures=3`, `max_retries=5` (huggingface_hub 0.36's call).
    HfTransfer,
    /// `huggingface_hub.snapshot_download` per repository, `max_workers=8`.
    HuggingfaceHub,
}

/// Accepted `--client` names.
pub const CLIENT_NAMES: &str = "curl, aria2c, hf_transfer, huggingface_hub";

impl Client {
    pub fn parse(name: &str) -> Result<Client> {
        match name {
            "curl" => Ok(Client::Curl),
            "aria2c" => Ok(Client::Aria2c),
            "hf_transfer" => Ok(Client::HfTransfer),
            "huggingface_hub" => Ok(Client::HuggingfaceHub),
            _ => Err(Error::flag("--client", format!("`{name}` is not a client (allowed: {CLIENT_NAMES})"))),
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Client::Curl => "curl",
            Client::Aria2c => "aria2c",
            Client::HfTransfer => "hf_transfer",
            Client::HuggingfaceHub => "huggingface_hub",
        }
    }
}

/// Where the tools are: `$DLSIM_CLIENTS_PYTHON` (default
/// `.venv-clients/bin/python`, made by `.ci/install-clients`),
/// `$DLSIM_ARIA2C` (`aria2c`), `$DLSIM_CURL` (`curl`).
#[derive(Clone, Debug)]
pub struct Tools {
    pub python: String,
    pub aria2c: String,
    pub curl: String,
}

impl Tools {
    pub fn from_env() -> Tools {
        let var = |k: &str, d: &str| std::env::var(k).unwrap_or_else(|_| d.to_string());
        Tools {
            python: var("DLSIM_CLIENTS_PYTHON", ".venv-clients/bin/python"),
            aria2c: var("DLSIM_ARIA2C", "aria2c"),
            curl: var("DLSIM_CURL", "curl"),
        }
    }
}

/// One tool's run over one scenario.
#[derive(Clone, Debug, Serialize)]
pub struct ClientRun {
    pub scenario: String,
    pub client: Client,
    /// Wall time of the tool's process(es), including their start-up.
    pub wall_s: f64,
    pub files: usize,
    pub bytes: u64,
    /// Files whose SHA-256 matched the served content.
    pub verified: usize,
    /// What the server counted (requests, connections, redirects, faults).
    pub server: ServerStats,
}

const INSTALL: &str = "run `.ci/install-clients` (aria2 from Debian's packages, huggingface_hub and hf_transfer in \
                       .venv-clients), or set DLSIM_CLIENTS_PYTHON / DLSIM_ARIA2C / DLSIM_CURL";

/// Run `cmd` to completion within `timeout`; fails on a non-zero exit.
fn run_cmd(cmd: &mut Command, timeout: Duration) -> Result<()> {
    let what = format!("{cmd:?}");
    let mut child = cmd
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| Error::Other(format!("cannot run {what}: {e}; {INSTALL}")))?;
    let mut err = child.stderr.take().expect("stderr is piped");
    let err_t = std::thread::spawn(move || {
        let mut s = String::new();
        let _ = err.read_to_string(&mut s);
        s
    });
    let until = Instant::now() + timeout;
    let status = loop {
        if let Some(st) = child.try_wait().map_err(|e| Error::Other(format!("{what}: {e}")))? {
            break st;
        }
        if Instant::now() > until {
            let _ = child.kill();
            let _ = child.wait();
            return Err(Error::Other(format!("{what} took more than {timeout:?}")));
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    let stderr = err_t.join().unwrap_or_default();
    if !status.success() {
        return Err(Error::Other(format!("{what} failed ({status}): {stderr}")));
    }
    Ok(())
}

/// Python's `urllib.parse.quote(path)`, as the clients' URLs need: the
/// runtime's path encoding without the leading slash it adds.
fn quote(path: &str) -> String {
    let encoded = super::runtime::encode_path(path);
    if path.starts_with('/') { encoded } else { encoded[1..].to_string() }
}

/// Run `client` against a Hub server of `s` (seed `seed`, Hub settings
/// `hub`) on loopback, writing into `dir` (emptied first); every file is
/// checked. A tool that fails, times out or writes a wrong byte is an error.
pub fn run_client(
    client: Client,
    s: &Scenario,
    seed: u64,
    hub: HubConfig,
    tools: &Tools,
    dir: &Path,
    timeout: Duration,
) -> Result<ClientRun> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| Error::Other(format!("cannot create {}: {e}", dir.display())))?;
    let opts = HubOptions { hub, cdn: true };
    let server = Server::start_hub(s, seed, "127.0.0.1:0".parse().expect("an address"), false, opts)?;
    let ep = server.endpoint();
    let files = s.workload.expand(seed);
    // (repo, path in repo, workload file) and where the tool puts it.
    let mut want: Vec<(String, String, PathBuf, u32, u64)> = Vec::new();
    for f in &files {
        let repo = &s.workload.models[f.model as usize].name;
        let rel = f.path.strip_prefix(&format!("{repo}/")).unwrap_or(&f.path).to_string();
        let local = match client {
            Client::HuggingfaceHub => dir.join("local").join(repo).join(&rel),
            _ => dir.join(&f.path),
        };
        want.push((repo.clone(), rel, local, f.id, f.size));
    }
    let url = |repo: &str, rel: &str| format!("{ep}/{repo}/resolve/main/{}", quote(rel));
    let started = Instant::now();
    match client {
        Client::Curl => {
            let mut cmd = Command::new(&tools.curl);
            cmd.args(["-sS", "-f", "-L", "--create-dirs"]);
            for (repo, rel, local, ..) in &want {
                cmd.arg("-o").arg(local).arg(url(repo, rel));
            }
            run_cmd(&mut cmd, timeout)?;
        }
        Client::Aria2c => {
            let mut list = String::new();
            for (repo, rel, local, ..) in &want {
                let (d, name) = (local.parent().unwrap_or(dir), local.file_name().unwrap_or_default());
                list.push_str(&format!("{}\n dir={}\n out={}\n", url(repo, rel), d.display(), name.to_string_lossy()));
            }
            let path = dir.join("aria2.list");
            std::fs::write(&path, list).map_err(|e| Error::Other(format!("cannot write {}: {e}", path.display())))?;
            run_cmd(Command::new(&tools.aria2c).args(["-q", "--allow-overwrite=true", "-i"]).arg(&path), timeout)?;
        }
        Client::HfTransfer => {
            let script = "import sys, os, hf_transfer\nfor u, p in zip(sys.argv[1::2], sys.argv[2::2]):\n    \
                          os.makedirs(os.path.dirname(p), exist_ok=True)\n    \
                          hf_transfer.download(u, p, max_files=100, chunk_size=10485760, parallel_failures=3, max_retries=5)\n";
            let mut cmd = Command::new(&tools.python);
            cmd.args(["-c", script]);
            for (repo, rel, local, ..) in &want {
                cmd.arg(url(repo, rel)).arg(local);
            }
            run_cmd(&mut cmd, timeout)?;
        }
        Client::HuggingfaceHub => {
            let script = "import sys\nfrom huggingface_hub import snapshot_download\nfor r in sys.argv[3:]:\n    \
                          snapshot_download(r, endpoint=sys.argv[1], local_dir=sys.argv[2] + '/' + r, max_workers=8)\n";
            let mut repos: Vec<&str> = want.iter().map(|w| w.0.as_str()).collect();
            repos.dedup();
            let mut cmd = Command::new(&tools.python);
            cmd.args(["-c", script, &ep]).arg(dir.join("local")).args(repos);
            cmd.env("HF_HUB_DISABLE_XET", "1")
                .env("HF_HUB_DISABLE_TELEMETRY", "1")
                .env("HF_HUB_DISABLE_PROGRESS_BARS", "1")
                .env("HF_HUB_OFFLINE", "0")
                .env("HF_HOME", dir.join("hf_home"))
                .env_remove("HF_ENDPOINT")
                .env_remove("HF_TOKEN");
            run_cmd(&mut cmd, timeout)?;
        }
    }
    let wall_s = started.elapsed().as_secs_f64();
    let content = Content::new(seed);
    let mut verified = 0;
    for (_, _, local, id, size) in &want {
        let bytes = std::fs::read(local)
            .map_err(|e| Error::Other(format!("{}: {} was not downloaded: {e}", client.name(), local.display())))?;
        if hex(&Sha256::digest(&bytes)) != hex(&content.sha256(*id, *size)) {
            return Err(Error::Other(format!("{}: {} has the wrong SHA-256", client.name(), local.display())));
        }
        verified += 1;
    }
    Ok(ClientRun {
        scenario: s.name.clone(),
        client,
        wall_s,
        files: want.len(),
        bytes: want.iter().map(|w| w.4).sum(),
        verified,
        server: server.stats(),
    })
}
