//! Real download tools run against `dlsim serve --hub` (issue 10, part 4):
//! each tool with its defaults (docs/clients.md) downloads a scenario's
//! files over loopback or through the WAN emulator; the wall time is
//! measured, every file's SHA-256 checked against the served content, and
//! the time compared with the sim of the tool's preset
//! ([`crate::scenario::preset`]) on the same scenario.

use super::content::{Content, hex};
use super::hub::HubConfig;
use super::server::{HubOptions, Server, ServerStats};
use super::spread::{Spread, SpreadSummary};
use crate::error::{Error, Result};
use crate::scenario::preset::Preset;
use crate::scenario::{Budget, Plan, Scenario};
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
    /// The preset that models this tool.
    pub fn preset(self) -> Preset {
        match self {
            Client::Curl => Preset::Curl,
            Client::Aria2c => Preset::Aria2,
            Client::HfTransfer => Preset::HfTransfer,
            Client::HuggingfaceHub => Preset::HuggingfaceHub,
        }
    }

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

/// Where a tool runs: its server's endpoint and how to make its commands.
struct Target<'a> {
    endpoint: String,
    command: &'a dyn Fn(&str) -> Command,
}

/// (repo, path in repo, where the tool writes it, file id, size) per file.
type Want = Vec<(String, String, PathBuf, u32, u64)>;

fn wanted(client: Client, s: &Scenario, seed: u64, dir: &Path) -> Want {
    let mut want = Vec::new();
    for f in s.workload.expand(seed) {
        let repo = &s.workload.models[f.model as usize].name;
        let rel = f.path.strip_prefix(&format!("{repo}/")).unwrap_or(&f.path).to_string();
        let local = match client {
            Client::HuggingfaceHub => dir.join("local").join(repo).join(&rel),
            _ => dir.join(&f.path),
        };
        want.push((repo.clone(), rel, local, f.id, f.size));
    }
    want
}

/// Run the tool over `want` against `t`; its wall time, s.
fn run_tool(client: Client, want: &Want, tools: &Tools, dir: &Path, timeout: Duration, t: &Target) -> Result<f64> {
    let ep = &t.endpoint;
    let url = |repo: &str, rel: &str| format!("{ep}/{repo}/resolve/main/{}", quote(rel));
    let started = Instant::now();
    match client {
        Client::Curl => {
            let mut cmd = (t.command)(&tools.curl);
            cmd.args(["-sS", "-f", "-L", "--create-dirs"]);
            for (repo, rel, local, ..) in want {
                cmd.arg("-o").arg(local).arg(url(repo, rel));
            }
            run_cmd(&mut cmd, timeout)?;
        }
        Client::Aria2c => {
            let mut list = String::new();
            for (repo, rel, local, ..) in want {
                let (d, name) = (local.parent().unwrap_or(dir), local.file_name().unwrap_or_default());
                list.push_str(&format!("{}\n dir={}\n out={}\n", url(repo, rel), d.display(), name.to_string_lossy()));
            }
            let path = dir.join("aria2.list");
            std::fs::write(&path, list).map_err(|e| Error::Other(format!("cannot write {}: {e}", path.display())))?;
            run_cmd((t.command)(&tools.aria2c).args(["-q", "--allow-overwrite=true", "-i"]).arg(&path), timeout)?;
        }
        Client::HfTransfer => {
            let script = "import sys, os, hf_transfer\nfor u, p in zip(sys.argv[1::2], sys.argv[2::2]):\n    \
                          os.makedirs(os.path.dirname(p), exist_ok=True)\n    \
                          hf_transfer.download(u, p, max_files=100, chunk_size=10485760, parallel_failures=3, max_retries=5)\n";
            let mut cmd = (t.command)(&tools.python);
            cmd.args(["-c", script]);
            for (repo, rel, local, ..) in want {
                cmd.arg(url(repo, rel)).arg(local);
            }
            run_cmd(&mut cmd, timeout)?;
        }
        Client::HuggingfaceHub => {
            let script = "import sys\nfrom huggingface_hub import snapshot_download\nfor r in sys.argv[3:]:\n    \
                          snapshot_download(r, endpoint=sys.argv[1], local_dir=sys.argv[2] + '/' + r, max_workers=8)\n";
            let mut repos: Vec<&str> = want.iter().map(|w| w.0.as_str()).collect();
            repos.dedup();
            let mut cmd = (t.command)(&tools.python);
            cmd.args(["-c", script, ep]).arg(dir.join("local")).args(repos);
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
    Ok(started.elapsed().as_secs_f64())
}

/// Every file present with the served content's SHA-256; how many.
fn verify(client: Client, want: &Want, seed: u64) -> Result<usize> {
    let content = Content::new(seed);
    let mut verified = 0;
    for (_, _, local, id, size) in want {
        let bytes = std::fs::read(local)
            .map_err(|e| Error::Other(format!("{}: {} was not downloaded: {e}", client.name(), local.display())))?;
        if hex(&Sha256::digest(&bytes)) != hex(&content.sha256(*id, *size)) {
            return Err(Error::Other(format!("{}: {} has the wrong SHA-256", client.name(), local.display())));
        }
        verified += 1;
    }
    Ok(verified)
}

fn fresh_dir(dir: &Path) -> Result<()> {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).map_err(|e| Error::Other(format!("cannot create {}: {e}", dir.display())))
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
    fresh_dir(dir)?;
    let opts = HubOptions { hub, cdn: true };
    let server = Server::start_hub(s, seed, "127.0.0.1:0".parse().expect("an address"), false, opts)?;
    let want = wanted(client, s, seed, dir);
    let target = Target { endpoint: server.endpoint(), command: &|p: &str| Command::new(p) };
    let wall_s = run_tool(client, &want, tools, dir, timeout, &target)?;
    let verified = verify(client, &want, seed)?;
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

/// [`run_client`] through the WAN emulator (root): the Hub server, unpaced,
/// in the server namespace (its CDN listener on another port of the same
/// address), the tool in the client namespace; the scenario's RTT and
/// `server.bandwidth_bps` are the emulated path.
pub fn run_client_wan(
    client: Client,
    s: &Scenario,
    seed: u64,
    hub: HubConfig,
    tools: &Tools,
    dir: &Path,
    timeout: Duration,
) -> Result<ClientRun> {
    use crate::wan::{SERVER_IP, Wan, WanConfig};
    use std::sync::mpsc;
    crate::wan::require_root()?;
    crate::real::validate::check_wan(s, Path::new(&s.name))?;
    fresh_dir(dir)?;
    let wan = Wan::start(WanConfig::from_scenario(s, seed))?;
    let (ready_tx, ready_rx) = mpsc::channel::<Result<String>>();
    let (stop_tx, stop_rx) = mpsc::channel::<()>();
    let scenario = s.clone();
    let server = wan
        .server_ns()
        .spawn("wan-hub", move || {
            let addr = std::net::SocketAddr::from((SERVER_IP, 80));
            let opts = HubOptions { hub, cdn: true };
            match Server::start_hub(&scenario, seed, addr, true, opts) {
                Ok(server) => {
                    server.set_bandwidth_limit(None);
                    let _ = ready_tx.send(Ok(server.endpoint()));
                    let _ = stop_rx.recv();
                    server.stats()
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(e));
                    ServerStats::default()
                }
            }
        })
        .map_err(|e| Error::Other(format!("wan: cannot start the Hub server thread: {e}")))?;
    let endpoint = ready_rx.recv().map_err(|_| Error::Other("wan: the Hub server thread failed to start".into()))??;
    let want = wanted(client, s, seed, dir);
    let make = |p: &str| wan.command(p);
    let target = Target { endpoint, command: &make };
    let ran = run_tool(client, &want, tools, dir, timeout, &target);
    drop(stop_tx);
    let stats = server
        .join()
        .map_err(|_| Error::Other("wan: the Hub server thread panicked".into()))?
        .map_err(|e| Error::Other(format!("wan: Hub server thread: {e}")))?;
    wan.finish()?;
    let wall_s = ran?;
    let verified = verify(client, &want, seed)?;
    Ok(ClientRun {
        scenario: s.name.clone(),
        client,
        wall_s,
        files: want.len(),
        bytes: want.iter().map(|w| w.4).sum(),
        verified,
        server: stats,
    })
}

/// The scenario as the tool's preset models it: the scenario's own client
/// when it already names this preset (its overrides kept), else the preset.
pub fn preset_scenario(s: &Scenario, p: Preset) -> Scenario {
    let mut m = s.clone();
    if m.client.preset != Some(p) {
        // What a preset does not decide stays the scenario's: its bandwidth limit and CPU model.
        m.client = crate::scenario::Client {
            bandwidth_limit: s.client.bandwidth_limit.clone(),
            cpu: s.client.cpu.clone(),
            ..p.client()
        };
    }
    m
}

/// One run of the tool's start-up with nothing to download, s: the
/// process, its imports, no request. `validate --client` adds the median
/// over its rounds to the preset's sim as `client.startup_ms`.
pub fn startup_once(client: Client, tools: &Tools) -> Result<f64> {
    let mut cmd = match client {
        Client::Curl => {
            let mut c = Command::new(&tools.curl);
            c.arg("--version");
            c
        }
        Client::Aria2c => {
            let mut c = Command::new(&tools.aria2c);
            c.arg("--version");
            c
        }
        Client::HfTransfer => {
            let mut c = Command::new(&tools.python);
            c.args(["-c", "import hf_transfer"]);
            c
        }
        Client::HuggingfaceHub => {
            let mut c = Command::new(&tools.python);
            c.args(["-c", "from huggingface_hub import snapshot_download"]).env("HF_HUB_DISABLE_TELEMETRY", "1");
            c
        }
    };
    let t = Instant::now();
    run_cmd(&mut cmd, Duration::from_secs(60))?;
    Ok(t.elapsed().as_secs_f64())
}

/// File counts of the per-file calibration workload.
pub const CALIBRATION_FILES: [u64; 2] = [20, 100];

/// The per-file calibration workload (docs/clients.md §9.1, the same as
/// `scenarios/clients/calibrate/`): `n` files of 1 KiB on loopback
/// (40 MiB/s pacer, 2 ms latency). Not in the validation matrix.
pub fn calibration_scenario(n: u64) -> Scenario {
    Scenario::from_value(serde_json::json!({
        "name": format!("cal_lo_{n}x1k"),
        "seed": 7,
        "server": { "bandwidth_bps": 41_943_040u64, "latency_ms": 2, "write_quantum_bytes": 8192 },
        "network": { "rtt_ms": 0, "handshake_rtts": 1 },
        "workload": { "models": [ { "name": "m", "linear": { "count": n, "min_size_bytes": 1024, "max_size_bytes": 1024 } } ] }
    }))
    .expect("the calibration scenario is valid")
}

/// What `validate --client` measures of the tool on this machine before
/// the matrix, and adds to its preset's sim.
#[derive(Clone, Copy, Debug, Default, Serialize)]
pub struct ToolCosts {
    /// Start-up with nothing to download, s (the process and its imports).
    pub startup_s: f64,
    /// Its own work per file, ms (`client.per_file_overhead_ms`).
    pub per_file_ms: f64,
    /// A fixed cost of the download call beyond the start-up, ms: what the
    /// calibration's wall times keep above the preset's sim once the
    /// start-up and the per-file cost are in it (huggingface_hub's first
    /// `snapshot_download`: lazy imports, its thread pool, the API
    /// answers' parsing). Negative when the import-only start-up measured
    /// above the calibration runs' own fixed cost (huggingface_hub's
    /// import alone took 0.32–0.57 s in six quiet runs): the start-up plus
    /// this is the calibration's intercept, never below 0.
    pub first_call_ms: f64,
}

impl ToolCosts {
    /// `s` as `client`'s preset models it with these costs: the start-up and
    /// first-call cost plus the API round trips before the first file as
    /// `client.startup_ms`, the per-file cost as `client.per_file_overhead_ms`.
    pub fn modelled(&self, s: &Scenario, client: Client) -> Scenario {
        let mut m = preset_scenario(s, client.preset());
        let api_ms = api_round_trips(client) as f64 * (s.network.rtt_ms + s.server.latency_ms);
        m.client.startup_ms += 1000.0 * self.startup_s + self.first_call_ms + api_ms;
        m.client.per_file_overhead_ms = self.per_file_ms;
        m
    }
}

/// The tool's per-file and first-call costs on this machine with start-up
/// `startup_s`, from its median wall times `real` on the
/// [`CALIBRATION_FILES`] counts of [`calibration_scenario`].
/// - Per file, ms (what `client.per_file_overhead_ms` models): from the
///   slope. On `L` lanes the lanes are the bottleneck: cost = L × slope;
///   per worker (`c` of them) the slope is (cost + the preset's own time
///   per file) / c: cost = c × (slope − the preset's slope without the cost).
/// - First call, ms: the mean over both counts of the real wall time minus
///   the sim with the start-up and that per-file cost, at least −start-up
///   (a clamp at 0 kept a start-up measured high in every prediction).
pub fn costs_from(client: Client, startup_s: f64, real: [f64; 2]) -> Result<ToolCosts> {
    // The sim's duration, s.
    let sim_s = |costs: &ToolCosts, n: u64| -> Result<f64> {
        let plan = Plan::new(&costs.modelled(&calibration_scenario(n), client), None, &Budget::default(), false)?;
        Ok(crate::simulate(&plan, crate::SimOptions::default()).duration.as_secs_f64())
    };
    let mut costs = ToolCosts { startup_s, ..ToolCosts::default() };
    let [n0, n1] = CALIBRATION_FILES;
    let span = (n1 - n0) as f64;
    let (real_slope, sim_slope) = ((real[1] - real[0]) / span, (sim_s(&costs, n1)? - sim_s(&costs, n0)?) / span);
    let c = client.preset().client();
    let cost_s = match c.per_file_overhead_lanes {
        Some(lanes) => lanes as f64 * real_slope,
        None => c.max_concurrent_downloads.min(c.max_concurrent_files_per_model) as f64 * (real_slope - sim_slope),
    };
    costs.per_file_ms = (1000.0 * cost_s).clamp(0.0, 60_000.0);
    let mut left_ms = 0.0;
    for (i, n) in CALIBRATION_FILES.into_iter().enumerate() {
        left_ms += 1000.0 * (real[i] - sim_s(&costs, n)?) / CALIBRATION_FILES.len() as f64;
    }
    costs.first_call_ms = first_call_ms(left_ms, costs.startup_s);
    Ok(costs)
}

/// The first-call cost from the calibration's mean residual `left_ms`:
/// kept when negative (a start-up measured high), but start-up + first call
/// never below 0, and at most a minute.
fn first_call_ms(left_ms: f64, startup_s: f64) -> f64 {
    left_ms.clamp(-1000.0 * startup_s, 60_000.0)
}

/// Request round trips a tool makes before its first file, besides its
/// start-up: huggingface_hub 2.4.0 asks for the revision and the tree
/// (docs/clients.md §1.1), the others none.
pub fn api_round_trips(client: Client) -> u32 {
    match client {
        Client::HuggingfaceHub => 2,
        _ => 0,
    }
}

/// One row of `validate --client`.
#[derive(Clone, Debug, Serialize)]
pub struct ClientRow {
    pub run: ClientRun,
    /// Real runs; `run` is the median one.
    pub median_of: u32,
    /// Every run's wall time, s (sorted).
    pub walls_s: Vec<f64>,
    /// The same by round (in the order run).
    pub walls_by_round_s: Vec<f64>,
    /// The sim of the tool's preset on the same scenario, s.
    pub sim_s: f64,
    /// ln(sim / real) of the median run.
    pub log_error: f64,
    /// The real runs' range and the sim's distance outside it.
    pub spread: Spread,
    pub path: &'static str,
}

/// `validate --client` as a whole: rows, |log error| median and max, load.
#[derive(Clone, Debug, Serialize)]
pub struct ClientReport {
    pub client: Client,
    pub preset: Preset,
    pub rows: Vec<ClientRow>,
    pub median_abs_log_error: f64,
    pub max_abs_log_error: f64,
    /// How the sims sit in their rows' real runs.
    pub spread: SpreadSummary,
    /// `/proc/loadavg` before and after (other work on the machine).
    pub load_before: String,
    pub load_after: String,
    /// The tool's start-up, per-file and first-call costs, measured in the
    /// same rounds as the matrix (added to the sim).
    pub costs: ToolCosts,
    /// The measurements the costs are medians of, by round, s: the
    /// start-up, then the calibration workload's wall times for each of
    /// [`CALIBRATION_FILES`].
    pub startup_by_round_s: Vec<f64>,
    pub calibration_by_round_s: [Vec<f64>; 2],
    /// The preset's own per-file cost, ms (what `run` and `compare` use).
    pub preset_per_file_overhead_ms: f64,
}

/// The 1, 5 and 15-minute load averages (`uptime`), or "" if unknown.
pub fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_default()
}

/// Median of `v`; the upper one of two.
fn median(v: &[f64]) -> f64 {
    let mut v = v.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() { f64::NAN } else { v[v.len() / 2] }
}

/// One measurement of `validate --client`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Step {
    /// The tool's start-up ([`startup_once`]).
    Startup,
    /// The calibration workload with `CALIBRATION_FILES[i]` files.
    Calibration(usize),
    /// The matrix's `j`-th scenario.
    Scenario(usize),
}

/// Rounds of `validate --client` at least: its costs are medians of this
/// many measurements. Three let one fast spell of the VM set the
/// per-file cost (hf_transfer 10.7 ms at 05:15 UTC, 14.0–17.1 ms in the
/// eight recordings before, and its `lo_small` row −0.29); a round of the
/// calibration costs 0.4 s (curl, aria2c) to 3 s (huggingface_hub).
const MIN_ROUNDS: u32 = 5;

/// The order of `validate --client`'s measurements, each with its round
/// (from 1): max(`repeats`, [`MIN_ROUNDS`]) rounds, each measuring the start-up and
/// the calibration workload once, then, in the first `repeats`, every
/// scenario once. A spell of a faster or slower machine (aria2's fsyncs
/// wait on the disk's other traffic; this VM's Python ran 1.4× faster
/// for minutes at a time) then touches one run of each row and of the
/// calibration rather than every run of one row, and the medians
/// compared come from the same minutes.
fn rounds(repeats: u32, scenarios: usize) -> Vec<(u32, Step)> {
    let mut steps = Vec::new();
    for k in 1..=repeats.max(MIN_ROUNDS) {
        steps.push((k, Step::Startup));
        steps.extend((0..CALIBRATION_FILES.len()).map(|i| (k, Step::Calibration(i))));
        if k <= repeats {
            steps.extend((0..scenarios).map(|j| (k, Step::Scenario(j))));
        }
    }
    steps
}

/// Run `client` over each scenario `repeats` times (loopback, or the WAN
/// emulator with `wan`) and compare the median with its preset's sim,
/// the tool's costs measured in the same rounds (max(`repeats`, 5) of
/// them: the start-up, the calibration workload, then every scenario once).
pub fn validate_client(
    files: &[PathBuf],
    client: Client,
    repeats: u32,
    seed: Option<u64>,
    wan: bool,
    progress: impl FnMut(&ClientRow),
) -> Result<ClientReport> {
    validate_client_with_status(files, client, repeats, seed, wan, progress, &mut |_| {})
}

/// [`validate_client`], telling `status` what it is doing (for a spinner).
pub fn validate_client_with_status(
    files: &[PathBuf],
    client: Client,
    repeats: u32,
    seed: Option<u64>,
    wan: bool,
    mut progress: impl FnMut(&ClientRow),
    status: &mut dyn FnMut(&str),
) -> Result<ClientReport> {
    if repeats == 0 {
        return Err(Error::flag("--repeats", "must be ≥ 1"));
    }
    if wan {
        crate::wan::require_root()?;
    }
    let tools = Tools::from_env();
    let scratch = std::env::temp_dir().join(format!("dlsim-validate-{}-{}", client.name(), std::process::id()));
    let load_before = loadavg();
    // Every scenario checked and its seed resolved before the first run.
    let mut scenarios = Vec::new();
    for f in files {
        let s = Scenario::load(f)?;
        if wan {
            crate::real::validate::check_wan(&s, f)?;
        }
        let seed = Plan::new(&ToolCosts::default().modelled(&s, client), seed, &Budget::default(), false)
            .map_err(|e| e.in_file(f))?
            .seed();
        scenarios.push((f, s, seed));
    }
    let (mut startups, mut calibration) = (Vec::new(), [Vec::new(), Vec::new()]);
    let mut runs: Vec<Vec<ClientRun>> = vec![Vec::new(); scenarios.len()];
    let steps = rounds(repeats, scenarios.len());
    let total = steps.last().map_or(0, |s| s.0);
    for (k, step) in steps {
        let round = format!("{}: round {k}/{total}", client.name());
        match step {
            Step::Startup => {
                status(&format!("{round}: start-up"));
                startups.push(startup_once(client, &tools)?);
            }
            Step::Calibration(i) => {
                let s = calibration_scenario(CALIBRATION_FILES[i]);
                status(&format!("{round}: per-file cost, {} × 1 KiB", CALIBRATION_FILES[i]));
                let run =
                    run_client(client, &s, s.seed, HubConfig::default(), &tools, &scratch, Duration::from_secs(600))?;
                calibration[i].push(run.wall_s);
            }
            Step::Scenario(j) => {
                let (f, s, seed) = &scenarios[j];
                status(&format!("{round}: {}", s.name));
                let timeout = Duration::from_secs(3600);
                let run = if wan {
                    run_client_wan(client, s, *seed, HubConfig::default(), &tools, &scratch, timeout)
                } else {
                    run_client(client, s, *seed, HubConfig::default(), &tools, &scratch, timeout)
                }
                .map_err(|e| e.in_file(f))?;
                runs[j].push(run);
            }
        }
    }
    let costs = costs_from(client, median(&startups), calibration.each_ref().map(|c| median(c)))?;
    let mut rows = Vec::new();
    for ((f, s, seed), mut runs) in scenarios.into_iter().zip(runs) {
        let plan =
            Plan::new(&costs.modelled(&s, client), Some(seed), &Budget::default(), false).map_err(|e| e.in_file(f))?;
        let walls_by_round_s: Vec<f64> = runs.iter().map(|r| r.wall_s).collect();
        runs.sort_by(|a, b| a.wall_s.total_cmp(&b.wall_s));
        let walls_s: Vec<f64> = runs.iter().map(|r| r.wall_s).collect();
        let run = runs.swap_remove(runs.len() / 2);
        let sim_s = crate::simulate(&plan, crate::SimOptions::default()).duration.as_secs_f64();
        let row = ClientRow {
            walls_by_round_s,
            log_error: (sim_s / run.wall_s).ln(),
            spread: Spread::of(&walls_s, sim_s),
            run,
            median_of: repeats,
            walls_s,
            sim_s,
            path: if wan { "wan" } else { "loopback" },
        };
        progress(&row);
        rows.push(row);
    }
    let _ = std::fs::remove_dir_all(&scratch);
    let abs: Vec<f64> = rows.iter().map(|r| r.log_error.abs()).collect();
    let max = abs.iter().copied().fold(0.0, f64::max);
    Ok(ClientReport {
        client,
        preset: client.preset(),
        median_abs_log_error: median(&abs),
        max_abs_log_error: max,
        spread: SpreadSummary::of(rows.iter().map(|r| (r.run.scenario.as_str(), r.spread))),
        rows,
        load_before,
        load_after: loadavg(),
        costs,
        startup_by_round_s: startups,
        calibration_by_round_s: calibration,
        preset_per_file_overhead_ms: client.preset().client().per_file_overhead_ms,
    })
}

/// The header and one line per row of the `validate --client` table.
pub const TABLE_HEADER: &str = "scenario                       path     files        bytes     tool s    sim s   log err      tool runs s  outside    sha";

pub fn table_row(r: &ClientRow) -> String {
    format!(
        "{:<30} {:<8} {:>5} {:>12} {:>10.3} {:>8.3} {:>+9.3} {:>16} {:>+8.3} {:>6}",
        r.run.scenario,
        r.path,
        r.run.files,
        r.run.bytes,
        r.run.wall_s,
        r.sim_s,
        r.log_error,
        format!("{:.3}-{:.3}", r.spread.fastest_s, r.spread.slowest_s),
        r.spread.outside,
        format!("{}/{}", r.run.verified, r.run.files)
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The measured costs reach the preset's sim: start-up, first call and
    /// the API round trips as `client.startup_ms`, the per-file cost as
    /// `client.per_file_overhead_ms`; the sim of one file grows by exactly
    /// the fixed part.
    #[test]
    fn measured_costs_are_what_the_sim_adds() {
        let s = calibration_scenario(20);
        let costs = ToolCosts { startup_s: 0.25, per_file_ms: 3.5, first_call_ms: 40.0 };
        let client = Client::HuggingfaceHub;
        let m = costs.modelled(&s, client);
        let api_ms = 2.0 * (s.network.rtt_ms + s.server.latency_ms);
        assert_eq!(api_round_trips(client), 2);
        let own = client.preset().client();
        assert_eq!(m.client.startup_ms, own.startup_ms + 250.0 + 40.0 + api_ms);
        assert_eq!(m.client.per_file_overhead_ms, 3.5);
        let zero = ToolCosts { per_file_ms: 3.5, ..ToolCosts::default() }.modelled(&s, client);
        let run = |m: &Scenario| {
            let plan = Plan::new(m, None, &Budget::default(), false).expect("a valid scenario");
            crate::simulate(&plan, crate::SimOptions::default()).duration.as_nanos()
        };
        assert_eq!(run(&m) - run(&zero), 290_000_000);
        // A negative first call (the start-up measured above the
        // calibration's fixed cost) takes its part off.
        let below = ToolCosts { first_call_ms: -60.0, ..costs }.modelled(&s, client);
        assert_eq!(run(&below) - run(&zero), 190_000_000);
    }

    /// Every round measures the start-up and the calibration before the
    /// scenarios, each scenario runs once a round for `repeats` rounds, and
    /// the costs get at least MIN_ROUNDS rounds.
    #[test]
    fn validation_runs_in_rounds() {
        use Step::*;
        let round = [Startup, Calibration(0), Calibration(1), Scenario(0), Scenario(1)];
        let want: Vec<(u32, Step)> = (1..=MIN_ROUNDS).flat_map(|k| round.map(|s| (k, s))).collect();
        assert_eq!(rounds(MIN_ROUNDS, 2), want);
        // One repeat: the scenarios in the first round only, the costs still over MIN_ROUNDS.
        let one = rounds(1, 2);
        assert_eq!(one.iter().filter(|s| matches!(s.1, Scenario(_))).count(), 2);
        assert!(one.iter().all(|s| !matches!(s.1, Scenario(_)) || s.0 == 1));
        assert_eq!(one.iter().filter(|s| s.1 == Startup).count(), MIN_ROUNDS as usize);
        assert_eq!(one.iter().filter(|s| s.1 == Calibration(1)).count(), MIN_ROUNDS as usize);
        // Seven repeats: seven rounds of everything.
        let seven = rounds(7, 4);
        assert_eq!(seven.len(), 7 * 7);
        assert_eq!(seven.iter().filter(|s| s.1 == Scenario(3)).map(|s| s.0).collect::<Vec<_>>(), [1, 2, 3, 4, 5, 6, 7]);
    }

    /// The calibration's residual is kept when negative, down to minus the
    /// start-up (start-up + first call, the intercept, never below 0), and
    /// capped at a minute.
    #[test]
    fn the_first_call_may_take_back_part_of_the_start_up() {
        assert_eq!(first_call_ms(-120.0, 0.464), -120.0);
        assert_eq!(first_call_ms(71.0, 0.424), 71.0);
        assert_eq!(first_call_ms(-900.0, 0.464), -464.0);
        assert_eq!(first_call_ms(1e9, 0.02), 60_000.0);
    }
}
