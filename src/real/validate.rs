//! `dlsim validate`: each scenario of a matrix in both runtimes — the sim's
//! prediction and the real runtime's measured time (median of N runs over
//! loopback) — with the log error |ln T_sim − ln T_real|; and the
//! calibration of the loopback per-request and per-connection overheads.
//!
//! Both runtimes return a [`RunRecord`]: each is reported as a
//! [`BenchmarkResult`] and replayed through the invariant checker; a
//! violation in any run, or a real run that completes no file, fails the
//! validation ([`Report::passed`]).

use super::cpu::load_average;
use super::runtime::{RealOptions, expected_digests, run_real};
use super::server::Server;
use super::spread::{Spread, SpreadSummary};
use crate::check::check_run;
use crate::error::{Error, Result};
use crate::record::RunRecord;
use crate::report::{BenchmarkResult, from_run};
use crate::scenario::{self, Budget, ChunkMode, Plan, Scenario};
use crate::sim::{SimOptions, simulate};
use serde::Serialize;
use std::fmt::Write as _;
use std::net::{Ipv4Addr, SocketAddr};
use std::path::{Path, PathBuf};

/// Loopback overheads measured by [`calibrate`].
#[derive(Clone, Copy, Debug, Serialize)]
pub struct Calibration {
    /// Wall cost of one request beyond the server's latency and the body, ms.
    pub request_overhead_ms: f64,
    /// Wall cost of opening one connection, ms.
    pub connect_overhead_ms: f64,
}

impl Calibration {
    /// Feed the figures to a scenario's model.
    pub fn apply(&self, s: &mut Scenario) {
        s.network.request_overhead_ms = self.request_overhead_ms;
        s.network.connect_overhead_ms = self.connect_overhead_ms;
    }
}

/// One validated scenario.
#[derive(Clone, Debug, Serialize)]
pub struct Row {
    pub name: String,
    pub source: String,
    /// The seed both runtimes ran with (`--seed`, else the scenario's).
    pub seed: u64,
    /// Sim duration, s.
    pub predicted_s: f64,
    /// Median real duration, s.
    pub measured_s: f64,
    /// Every real duration, s, in run order.
    pub runs_s: Vec<f64>,
    /// |ln predicted − ln measured|.
    pub log_error: f64,
    /// ln predicted − ln measured: negative when the model is optimistic.
    pub signed_log_error: f64,
    /// The real runs' range and the prediction's distance outside it.
    pub spread: Spread,
    /// Completed real files whose SHA-256 was checked (all of them, every run).
    pub verified_files: u64,
    /// Broken invariants, one line each: `sim: …` or `real run k: …`.
    pub violations: Vec<String>,
    /// Real runs that completed no file.
    pub runs_without_files: u32,
    /// The sim run, reported.
    pub sim: BenchmarkResult,
    /// The real run closest to the median time, reported the same way.
    pub real: BenchmarkResult,
    /// CPU use and machine load while the real runs of this row ran.
    pub load: RowLoad,
    /// `--wan`: what the relay did in each real run (drops, queue, timing).
    pub relay: Vec<crate::wan::RelayReport>,
}

/// Other processes' share of the machine's CPU above which a row is
/// flagged as measured on a loaded machine.
pub const LOADED_OTHERS_SHARE: f64 = 0.25;

/// CPU use while a row's real runs ran (all repeats together).
#[derive(Clone, Debug, Default, Serialize)]
pub struct RowLoad {
    /// 1-minute load average before the first and after the last real run.
    pub load_average: (f64, f64),
    /// Wall time of the real runs, s.
    pub wall_s: f64,
    /// CPU time of the server's connection threads, s.
    pub server_cpu_s: f64,
    /// CPU time of the WAN relay thread (it also carries the kernel's
    /// packet processing of the packets it injects), s; 0 on loopback.
    pub relay_cpu_s: f64,
    /// The rest of this process's CPU time over the runs (the client
    /// runtime, its connection threads, set-up), s.
    pub client_cpu_s: f64,
    /// CPU time of every other process on the machine over the runs, s
    /// (the machine's busy time from /proc/stat minus this process's).
    pub others_cpu_s: f64,
    /// `others_cpu_s` over the machine's capacity (cores × wall).
    pub others_share: f64,
    /// `others_share > LOADED_OTHERS_SHARE`: the real side competed for
    /// the CPU and may be slower than an idle machine would measure.
    pub loaded: bool,
}

/// CPU time a real run's own parts used, s.
#[derive(Clone, Copy, Debug, Default)]
pub struct RunCpu {
    pub server_s: f64,
    pub relay_s: f64,
}

/// One row's real runs and what they cost, summed over its rounds.
#[derive(Default)]
struct Measured {
    runs: Vec<RunRecord>,
    violations: Vec<String>,
    own: RunCpu,
    relays: Vec<crate::wan::RelayReport>,
    /// Wall time of the runs, s, and this process's and the machine's
    /// busy CPU time over them, s (the machine's `None` where `/proc/stat`
    /// could not be read).
    wall_s: f64,
    process_s: f64,
    machine_busy_s: Option<f64>,
    /// The 1-minute load average before the first run and after the last.
    load_before: Option<f64>,
    load_after: f64,
}

/// What a real run measured besides its record.
#[derive(Clone, Debug, Default)]
pub struct RunExtra {
    pub cpu: RunCpu,
    /// The WAN relay's report (`None` on loopback).
    pub relay: Option<crate::wan::RelayReport>,
}

#[derive(Clone, Debug, Serialize)]
pub struct Report {
    /// `--seed` (`null`: each scenario ran with its own `seed`; see each row's).
    pub seed_override: Option<u64>,
    pub repeats: u32,
    pub calibration: Option<Calibration>,
    /// Scenario fields whose values came from calibration.
    pub calibrated_fields: Vec<String>,
    pub rows: Vec<Row>,
    pub median_log_error: f64,
    pub mean_log_error: f64,
    pub max_log_error: f64,
    /// Mean of the signed log errors: the model's bias (negative = optimistic).
    pub mean_signed_log_error: f64,
    pub worst: String,
    /// How the predictions sit in their rows' real runs.
    pub spread: SpreadSummary,
    /// The path: `"loopback"` or `"wan"` (the emulator of [`crate::wan`]).
    pub path: &'static str,
    /// Load average (1 min) before and after the matrix, from /proc/loadavg.
    pub load_average: (f64, f64),
    /// Cores of the machine (capacity for `others_share`).
    pub cores: usize,
    /// Rows whose real runs ran on a loaded machine (`load.loaded`).
    pub loaded_rows: u32,
    /// Runs (sim and real) checked by the invariant checker.
    pub checked_runs: u64,
    /// Broken invariants over all rows.
    pub violations: u64,
}

impl Report {
    /// No run broke an invariant and every real run completed a file.
    pub fn passed(&self) -> bool {
        self.violations == 0 && self.rows.iter().all(|r| r.runs_without_files == 0)
    }
}

/// Files of a matrix: each argument is a scenario file or a directory of them (`*.json`, sorted).
pub fn matrix_files(args: &[PathBuf]) -> Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for a in args {
        if a.is_dir() {
            let rd = std::fs::read_dir(a).map_err(|source| Error::Read { path: a.clone(), source })?;
            let mut v: Vec<PathBuf> = rd
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.extension().is_some_and(|x| x == "json"))
                .collect();
            v.sort();
            out.extend(v);
        } else {
            out.push(a.clone());
        }
    }
    if out.is_empty() {
        return Err(Error::flag("MATRIX", "no scenario files found"));
    }
    Ok(out)
}

/// The real runtime measures loopback: the path must be described as such.
pub fn check_loopback(s: &Scenario, source: &Path) -> Result<()> {
    let n = &s.network;
    let bad = if n.rtt_ms != 0.0 {
        Some(("network.rtt_ms", "must be 0 (the real runtime runs over loopback)"))
    } else if n.per_connection_bps.is_some() {
        Some(("network.per_connection_bps", "must be null (loopback has no per-connection cap)"))
    } else if n.tcp_window_bytes.is_some() {
        Some(("network.tcp_window_bytes", "must be null (loopback has no window cap)"))
    } else {
        None
    };
    match bad {
        Some((field, msg)) => Err(Error::scenario(field, format!("{msg} (in {})", source.display()))),
        None => Ok(()),
    }
}

/// The emulated path is described by the scenario: a positive RTT (the
/// emulator's), no caps the emulator does not apply.
pub fn check_wan(s: &Scenario, source: &Path) -> Result<()> {
    let n = &s.network;
    let bad = if n.rtt_ms <= 0.0 {
        Some(("network.rtt_ms", "must be > 0 for --wan (the emulator's round-trip time)"))
    } else if n.per_connection_bps.is_some() {
        Some(("network.per_connection_bps", "must be null for --wan (the emulator has no per-connection cap)"))
    } else if n.tcp_window_bytes.is_some() {
        Some(("network.tcp_window_bytes", "must be null for --wan (kernel TCP sets its own window)"))
    } else if s.server.write_quantum_bytes.is_some() {
        Some(("server.write_quantum_bytes", "must be null for --wan (the server does not pace; TCP shares)"))
    } else {
        None
    };
    match bad {
        Some((field, msg)) => Err(Error::scenario(field, format!("{msg} (in {})", source.display()))),
        None => Ok(()),
    }
}

/// Where the real runs go.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PathKind {
    /// A paced server on 127.0.0.1.
    Loopback,
    /// An unpaced server behind a fresh WAN emulator per run (root only).
    Wan,
}

/// One real run of `s` through a fresh emulator (a fresh pair of
/// namespaces, so no TCP metrics carry over from another run): the
/// scenario's RTT, its `server.bandwidth_bps` as the bottleneck, the
/// server unpaced; checks every completed file's bytes.
pub fn measure_once_wan(s: &Scenario, seed: u64, expected: &[[u8; 32]]) -> Result<(RunRecord, RunExtra)> {
    use crate::wan::{ServedWan, WanConfig};
    let served = ServedWan::start(s, seed, WanConfig::from_scenario(s, seed))?;
    let addr = served.server_addr();
    let run =
        served.wan().in_client(|| run_real(s, seed, addr, RealOptions { trace: true, ..RealOptions::default() }))??;
    // Connection threads still open have not added their CPU time yet.
    let live_conn_s = super::cpu::live_threads_cpu_s("dlsim-conn");
    let server_tcp = served.wan().in_server(crate::wan::tcpstats::read)?;
    let (mut relay, stats) = served.finish()?;
    relay.server_tcp = server_tcp;
    let cpu = RunCpu { server_s: stats.connection_cpu_s + live_conn_s, relay_s: relay.cpu_s };
    Ok((verified(s, run, expected)?, RunExtra { cpu, relay: Some(relay) }))
}

/// `run` if every completed file has the served bytes.
fn verified(s: &Scenario, run: RunRecord, expected: &[[u8; 32]]) -> Result<RunRecord> {
    let corrupt = run.corrupt_files(expected);
    match corrupt.first() {
        None => Ok(run),
        Some(first) => Err(Error::Other(format!(
            "{}: {} completed file(s) differ from the served bytes (first: {first})",
            s.name,
            corrupt.len()
        ))),
    }
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        0.0
    } else if v.len() % 2 == 1 {
        v[v.len() / 2]
    } else {
        (v[v.len() / 2 - 1] + v[v.len() / 2]) / 2.0
    }
}

fn loopback() -> SocketAddr {
    SocketAddr::from((Ipv4Addr::LOCALHOST, 0))
}

/// One real run of `s` against a fresh loopback server, its event log
/// recorded; checks every completed file's bytes.
pub fn measure_once(s: &Scenario, seed: u64, expected: &[[u8; 32]]) -> Result<(RunRecord, RunExtra)> {
    let server = Server::for_scenario(s, seed, loopback(), false)?;
    let run = run_real(s, seed, server.addr(), RealOptions { trace: true, ..RealOptions::default() })?;
    let live_conn_s = super::cpu::live_threads_cpu_s("dlsim-conn");
    let cpu = RunCpu { server_s: server.stats().connection_cpu_s + live_conn_s, relay_s: 0.0 };
    drop(server);
    Ok((verified(s, run, expected)?, RunExtra { cpu, relay: None }))
}

fn calibration_scenario(name: &str, files: u32, size: u64, pool_size: u32) -> Result<Scenario> {
    let mut s = Scenario::from_value(serde_json::json!({
        "name": name,
        "server": { "bandwidth_bps": null, "latency_ms": 0 },
        "network": { "rtt_ms": 0, "handshake_rtts": 1 },
        "client": { "max_concurrent_downloads": 1, "pool": { "size": pool_size } },
        "workload": { "models": [ { "name": "cal", "linear":
            { "count": files, "min_size_bytes": size, "max_size_bytes": size } } ] }
    }))?;
    s.client.chunking.mode = ChunkMode::Fixed;
    s.client.chunking.chunk_size_bytes = 1;
    Ok(s)
}

/// Measure the loopback overheads: sequential 1-byte requests on one
/// keep-alive connection (two lengths, so the connection cost cancels),
/// then one new connection per request (pool size 0).
pub fn calibrate(repeats: u32) -> Result<Calibration> {
    let (n1, n2) = (100u64, 300u64);
    let short = calibration_scenario("cal_requests_short", 1, n1, 20)?;
    let long = calibration_scenario("cal_requests_long", 1, n2, 20)?;
    let conns = calibration_scenario("cal_connections", n1 as u32, 1, 0)?;
    let mut req_ms = Vec::new();
    let mut conn_ms = Vec::new();
    for _ in 0..repeats.max(1) {
        let t = |s: &Scenario| -> Result<f64> {
            Ok(measure_once(s, s.seed, &expected_digests(s, s.seed))?.0.duration.as_secs_f64() * 1000.0)
        };
        let (a, b, c) = (t(&short)?, t(&long)?, t(&conns)?);
        let per_req = ((b - a) / (n2 - n1) as f64).max(0.0);
        req_ms.push(per_req);
        conn_ms.push((c / n1 as f64 - per_req).max(0.0));
    }
    Ok(Calibration { request_overhead_ms: median(&req_ms), connect_overhead_ms: median(&conn_ms) })
}

/// Validate every scenario (and sweep point) of `files`. `progress` gets
/// a line per step (the CLI shows it on a terminal only).
pub fn validate(
    files: &[PathBuf],
    repeats: u32,
    seed: Option<u64>,
    calibration: Option<Calibration>,
    progress: &mut dyn FnMut(&str),
) -> Result<Report> {
    validate_on(PathKind::Loopback, files, repeats, seed, calibration, progress)
}

/// [`validate`] on either path; `--wan` refuses without root.
pub fn validate_on(
    path: PathKind,
    files: &[PathBuf],
    repeats: u32,
    seed: Option<u64>,
    calibration: Option<Calibration>,
    progress: &mut dyn FnMut(&str),
) -> Result<Report> {
    if path == PathKind::Wan {
        crate::wan::require_root()?;
    }
    let load_before = load_average();
    let mut points = Vec::new();
    for f in files {
        let base = Scenario::load(f)?;
        for p in scenario::points(&base).map_err(|e| e.in_file(f))? {
            let mut s = p.map_err(|e| e.in_file(f))?.scenario;
            match path {
                PathKind::Loopback => check_loopback(&s, f)?,
                PathKind::Wan => check_wan(&s, f)?,
            }
            if let Some(c) = &calibration {
                c.apply(&mut s);
            }
            // The same seed resolution as `dlsim run`: --seed, else the point's own.
            let plan = Plan::new(&s, seed, &Budget::default(), true).map_err(|e| e.in_file(f))?;
            points.push((f.display().to_string(), plan));
        }
    }
    // In rounds, as `validate --client`: each round runs every point once,
    // so that a spell of a faster or slower machine touches one run of
    // each row rather than every run of one.
    let total = points.len();
    let mut measured: Vec<Measured> =
        points.iter().map(|_| Measured { machine_busy_s: Some(0.0), ..Measured::default() }).collect();
    let expected: Vec<_> = points.iter().map(|(_, plan)| expected_digests(plan.scenario(), plan.seed())).collect();
    for k in 1..=repeats {
        for (i, (_, plan)) in points.iter().enumerate() {
            let (s, seed, expected) = (plan.scenario(), plan.seed(), &expected[i]);
            progress(&format!("round {k}/{repeats}: [{}/{total}] {}", i + 1, s.name));
            let (load0, proc0, machine0, wall0) =
                (load_average(), super::cpu::process_cpu_s(), super::cpu::machine_cpu_s(), std::time::Instant::now());
            let (run, extra) = match path {
                PathKind::Loopback => measure_once(s, seed, expected)?,
                PathKind::Wan => measure_once_wan(s, seed, expected)?,
            };
            let m = &mut measured[i];
            m.wall_s += wall0.elapsed().as_secs_f64();
            m.process_s += super::cpu::process_cpu_s() - proc0;
            let busy = machine0.zip(super::cpu::machine_cpu_s()).map(|(a, b)| b.0 - a.0);
            m.machine_busy_s = m.machine_busy_s.zip(busy).map(|(a, b)| a + b);
            m.load_before.get_or_insert(load0);
            m.load_after = load_average();
            m.own.server_s += extra.cpu.server_s;
            m.own.relay_s += extra.cpu.relay_s;
            m.relays.extend(extra.relay);
            if let Err(v) = check_run(s, &run) {
                m.violations.push(format!("real run {k}: {v}"));
            }
            m.runs.push(run);
        }
    }
    let mut rows = Vec::new();
    let mut checked_runs = 0;
    for ((source, plan), m) in points.iter().zip(measured) {
        let s = plan.scenario();
        let seed = plan.seed();
        let sim = simulate(plan, SimOptions { trace: true });
        let mut violations = Vec::new();
        if let Err(v) = check_run(s, &sim) {
            violations.push(format!("sim: {v}"));
        }
        violations.extend(m.violations);
        let (runs, relays) = (m.runs, m.relays);
        let load_average = (m.load_before.unwrap_or(f64::NAN), m.load_after);
        let load = row_load(load_average, m.wall_s, m.process_s, m.machine_busy_s, m.own);
        checked_runs += 1 + runs.len() as u64;
        let times: Vec<f64> = runs.iter().map(|r| r.duration.as_secs_f64()).collect();
        let measured = median(&times);
        let mid = runs
            .iter()
            .min_by(|a, b| {
                (a.duration.as_secs_f64() - measured).abs().total_cmp(&(b.duration.as_secs_f64() - measured).abs())
            })
            .expect("repeats ≥ 1");
        let predicted = sim.duration.as_secs_f64();
        rows.push(Row {
            name: s.name.clone(),
            source: source.clone(),
            seed,
            predicted_s: predicted,
            measured_s: measured,
            runs_s: times.clone(),
            log_error: (predicted.max(1e-9).ln() - measured.max(1e-9).ln()).abs(),
            signed_log_error: predicted.max(1e-9).ln() - measured.max(1e-9).ln(),
            spread: Spread::of(&times, predicted),
            verified_files: runs.iter().map(|r| r.files_completed() as u64).sum(),
            violations,
            runs_without_files: runs.iter().filter(|r| r.files_completed() == 0).count() as u32,
            sim: from_run(s, &sim),
            real: from_run(s, mid),
            load,
            relay: relays,
        });
    }
    let errs: Vec<f64> = rows.iter().map(|r| r.log_error).collect();
    let (worst, max) =
        rows.iter().map(|r| (r.name.clone(), r.log_error)).max_by(|a, b| a.1.total_cmp(&b.1)).unwrap_or_default();
    Ok(Report {
        seed_override: seed,
        repeats,
        calibration,
        calibrated_fields: if calibration.is_some() {
            vec!["network.request_overhead_ms".into(), "network.connect_overhead_ms".into()]
        } else {
            Vec::new()
        },
        median_log_error: median(&errs),
        mean_log_error: if errs.is_empty() { 0.0 } else { errs.iter().sum::<f64>() / errs.len() as f64 },
        max_log_error: max,
        mean_signed_log_error: if rows.is_empty() {
            0.0
        } else {
            rows.iter().map(|r| r.signed_log_error).sum::<f64>() / rows.len() as f64
        },
        worst,
        spread: SpreadSummary::of(rows.iter().map(|r| (r.name.as_str(), r.spread))),
        path: match path {
            PathKind::Loopback => "loopback",
            PathKind::Wan => "wan",
        },
        load_average: (load_before, load_average()),
        cores: super::cpu::cores(),
        loaded_rows: rows.iter().filter(|r| r.load.loaded).count() as u32,
        checked_runs,
        violations: rows.iter().map(|r| r.violations.len() as u64).sum(),
        rows,
    })
}

/// A row's load from what was measured around its real runs: `process_s`
/// is this process's CPU time over them, `machine_busy_s` the machine's.
fn row_load(
    load_average: (f64, f64),
    wall_s: f64,
    process_s: f64,
    machine_busy_s: Option<f64>,
    own: RunCpu,
) -> RowLoad {
    let others = machine_busy_s.map_or(0.0, |m| (m - process_s).max(0.0));
    let capacity = super::cpu::cores() as f64 * wall_s;
    let others_share = if capacity > 0.0 { others / capacity } else { 0.0 };
    RowLoad {
        load_average,
        wall_s,
        server_cpu_s: own.server_s,
        relay_cpu_s: own.relay_s,
        client_cpu_s: (process_s - own.server_s - own.relay_s).max(0.0),
        others_cpu_s: others,
        others_share,
        loaded: others_share > LOADED_OTHERS_SHARE,
    }
}

/// The stdout table.
pub fn table(r: &Report) -> String {
    let mut out = String::new();
    let w = r.rows.iter().map(|x| x.name.len()).max().unwrap_or(4).max(8);
    if let Some(c) = &r.calibration {
        let _ = writeln!(
            out,
            "calibrated: network.request_overhead_ms = {:.4}, network.connect_overhead_ms = {:.4}",
            c.request_overhead_ms, c.connect_overhead_ms
        );
    }
    let _ = writeln!(
        out,
        "{:<w$}  {:>11}  {:>10}  {:>12}  {:>15}  {:>8}  {:>17}  {:>16}  {:>7}  {:>17}  {:>7}",
        "scenario",
        "sim_s",
        "real_s",
        "ln(sim/real)",
        "real runs s",
        "outside",
        "requests sim/real",
        "retries sim/real",
        "files",
        "cpu srv/cli/relay",
        "others"
    );
    for x in &r.rows {
        let _ = writeln!(
            out,
            "{:<w$}  {:>11.3}  {:>10.3}  {:>+12.4}  {:>15}  {:>+8.4}  {:>17}  {:>16}  {:>7}  {:>17}  {:>6.0}%{}",
            x.name,
            x.predicted_s,
            x.measured_s,
            x.signed_log_error,
            format!("{:.3}-{:.3}", x.spread.fastest_s, x.spread.slowest_s),
            x.spread.outside,
            format!("{}/{}", x.sim.metadata.requests, x.real.metadata.requests),
            format!("{}/{}", x.sim.metadata.retries, x.real.metadata.retries),
            x.sim.metadata.files_total,
            format!("{:.2}/{:.2}/{:.2}", x.load.server_cpu_s, x.load.client_cpu_s, x.load.relay_cpu_s),
            x.load.others_share * 100.0,
            if x.load.loaded { "!" } else { "" }
        );
    }
    let _ = writeln!(
        out,
        "|log error| over {} scenario(s) ({}): median {:.4}, mean {:.4}, max {:.4} ({}); mean signed {:+.4} (negative: model optimistic)",
        r.rows.len(),
        r.path,
        r.median_log_error,
        r.mean_log_error,
        r.max_log_error,
        r.worst,
        r.mean_signed_log_error
    );
    let _ = writeln!(out, "{}", r.spread.line());
    let _ = writeln!(
        out,
        "load average (1 min): {:.2} before, {:.2} after, on {} core(s); cpu: s of CPU over all repeats; \
         others: other processes' share of the machine's CPU during the real runs",
        r.load_average.0, r.load_average.1, r.cores
    );
    if r.loaded_rows > 0 {
        let _ = writeln!(
            out,
            "WARNING: the machine was loaded during {} of {} row(s) (marked !: other processes used more than {:.0}% \
             of its CPU); their real times may be slower than on an idle machine",
            r.loaded_rows,
            r.rows.len(),
            LOADED_OTHERS_SHARE * 100.0
        );
    }
    let _ = writeln!(out, "invariant checker: {} run(s) checked, {} violation(s)", r.checked_runs, r.violations);
    for x in &r.rows {
        for v in &x.violations {
            let _ = writeln!(out, "  {}: {v}", x.name);
        }
        if x.runs_without_files > 0 {
            let _ = writeln!(out, "  {}: {} real run(s) completed no file", x.name, x.runs_without_files);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_of_odd_and_even() {
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 2.0, 3.0]), 2.5);
    }

    #[test]
    fn a_path_with_rtt_is_refused_naming_the_field() {
        let mut s =
            Scenario::from_json(r#"{"workload":{"models":[{"name":"m","files":[{"path":"a","size_bytes":1}]}]}}"#)
                .unwrap();
        let e = check_loopback(&s, Path::new("x.json")).unwrap_err().to_string();
        assert!(e.contains("network.rtt_ms"), "{e}");
        s.network.rtt_ms = 0.0;
        assert!(check_loopback(&s, Path::new("x.json")).is_ok());
    }
}
