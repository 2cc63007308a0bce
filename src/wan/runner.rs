//! `dlsim wan run [--scenario S.json] [flags] -- COMMAND…`: serve a
//! scenario's files behind the emulated path and run any client command in
//! the client namespace, timing it.
//!
//! The command gets `DLSIM_SERVER_URL` (`http://198.18.0.1:80`),
//! `DLSIM_FILE_LIST` (a path listing every file URL, one per line; an
//! anonymous memory file that vanishes with the processes) and, when the
//! list is short, `DLSIM_FILE_URLS` (space separated). It runs in its own
//! process group (the terminal's foreground group if dlsim had the terminal,
//! so interactive commands work); SIGINT/SIGTERM to dlsim are forwarded to that group, any
//! process left in it when the command exits is killed, and the command is
//! SIGKILLed by the kernel if dlsim dies. Exit code: the command's (128 +
//! signal if a signal ended it); 2 for dlsim's own errors.

use super::emulator::{WanConfig, require_root};
use super::relay::RelayReport;
use super::serve::ServedWan;
use crate::error::{Error, Result};
use crate::scenario::Scenario;
use std::ffi::OsString;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicI32, Ordering};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// Flags of `dlsim wan run`; each overrides the scenario.
#[derive(Clone, Debug, Default)]
pub struct RunOptions {
    /// Scenario whose files are served (default: [`builtin_scenario`]).
    pub scenario: Option<PathBuf>,
    pub rtt_ms: Option<f64>,
    pub rate_bps: Option<f64>,
    pub queue_bytes: Option<u64>,
    pub loss: Option<f64>,
    pub seed: Option<u64>,
    pub command: Vec<OsString>,
}

/// What a run measured.
#[derive(Clone, Debug)]
pub struct RunOutcome {
    /// The command's exit code (128 + signal if a signal ended it).
    pub exit_code: i32,
    /// From spawning the command to its exit.
    pub wall: Duration,
    pub relay: RelayReport,
}

/// The scenario served without `--scenario`: the reproduction —
/// 64 KiB, 1 MiB and 16 MiB files, RTT 40 ms, no bottleneck, no think time.
pub fn builtin_scenario() -> Scenario {
    let v = serde_json::json!({
        "name": "wan",
        "server": { "bandwidth_bps": null, "latency_ms": 0 },
        "network": { "rtt_ms": 40 },
        "workload": { "models": [ { "name": "wan", "files": [
            { "path": "wan/64KiB.bin", "size_bytes": 65536 },
            { "path": "wan/1MiB.bin", "size_bytes": 1048576 },
            { "path": "wan/16MiB.bin", "size_bytes": 16777216 } ] } ] }
    });
    Scenario::from_value(v).expect("the built-in scenario is valid")
}

/// The signal that asked us to stop (0 = none).
static STOP_SIGNAL: AtomicI32 = AtomicI32::new(0);

extern "C" fn on_signal(sig: libc::c_int) {
    STOP_SIGNAL.store(sig, Ordering::SeqCst);
}

/// SIGINT/SIGTERM handlers for the run; the previous ones come back on drop.
struct SignalGuard {
    old: Vec<(libc::c_int, libc::sigaction)>,
}

impl SignalGuard {
    fn install() -> SignalGuard {
        STOP_SIGNAL.store(0, Ordering::SeqCst);
        let mut old = Vec::new();
        for sig in [libc::SIGINT, libc::SIGTERM] {
            // SAFETY: the handler only stores to an atomic (async-signal-safe);
            // both sigaction structs are valid.
            unsafe {
                let mut sa: libc::sigaction = std::mem::zeroed();
                sa.sa_sigaction = on_signal as extern "C" fn(libc::c_int) as usize;
                libc::sigemptyset(&mut sa.sa_mask);
                let mut prev: libc::sigaction = std::mem::zeroed();
                if libc::sigaction(sig, &sa, &mut prev) == 0 {
                    old.push((sig, prev));
                }
            }
        }
        SignalGuard { old }
    }
}

impl Drop for SignalGuard {
    fn drop(&mut self) {
        for (sig, prev) in &self.old {
            // SAFETY: restores a disposition read by sigaction.
            unsafe { libc::sigaction(*sig, prev, std::ptr::null_mut()) };
        }
    }
}

/// Make process group `pgrp` the terminal's foreground group (SIGTTOU
/// ignored meanwhile, as a background group may not otherwise do it).
fn terminal_to(pgrp: libc::pid_t) {
    // SAFETY: async-signal-safe calls on stdin; failure leaves the terminal as it was.
    unsafe {
        let old = libc::signal(libc::SIGTTOU, libc::SIG_IGN);
        libc::tcsetpgrp(0, pgrp);
        libc::signal(libc::SIGTTOU, old);
    }
}

/// An anonymous memory file holding `text`.
fn memfd(text: &str) -> Result<OwnedFd> {
    // SAFETY: plain memfd_create/write; the descriptor is owned at once.
    unsafe {
        let fd = libc::memfd_create(c"dlsim-wan-files".as_ptr(), libc::MFD_CLOEXEC);
        if fd < 0 {
            return Err(Error::Other(format!("wan: memfd_create: {}", std::io::Error::last_os_error())));
        }
        let fd = OwnedFd::from_raw_fd(fd);
        let mut f = std::fs::File::from(fd);
        std::io::Write::write_all(&mut f, text.as_bytes())
            .map_err(|e| Error::Other(format!("wan: writing the file list: {e}")))?;
        Ok(OwnedFd::from(f))
    }
}

/// Resolve the scenario and the path from the options.
pub fn resolve(opts: &RunOptions) -> Result<(Scenario, u64, WanConfig)> {
    let s = match &opts.scenario {
        Some(p) => Scenario::load(p)?,
        None => builtin_scenario(),
    };
    let seed = opts.seed.unwrap_or(s.seed);
    let mut cfg = WanConfig::from_scenario(&s, seed);
    if let Some(r) = opts.rtt_ms {
        cfg.rtt_ms = r;
    }
    if let Some(r) = opts.rate_bps {
        cfg.rate_bps = Some(r);
    }
    cfg.queue_bytes = opts.queue_bytes.or(cfg.queue_bytes);
    cfg.loss = opts.loss.unwrap_or(cfg.loss);
    cfg.validate()?;
    Ok((s, seed, cfg))
}

fn describe(cfg: &WanConfig) -> String {
    let rate = cfg.rate_bps.map_or("unlimited".to_string(), |r| format!("{:.0} bytes/s ({:.1} Mbit/s)", r, r * 8e-6));
    let queue =
        if cfg.rate_bps.is_some() { format!(", queue {} bytes", cfg.queue_limit_bytes()) } else { String::new() };
    format!("RTT {} ms, rate {rate}{queue}, loss {}, {} ", cfg.rtt_ms, cfg.loss, cfg.congestion_control)
}

/// Run `opts.command` behind the emulator; progress and the report go to stderr.
pub fn run(opts: &RunOptions) -> Result<RunOutcome> {
    require_root()?;
    let Some((program, args)) = opts.command.split_first() else {
        return Err(Error::flag("COMMAND", "give the command to run after `--`, e.g. `dlsim wan run -- curl …`"));
    };
    let (s, seed, cfg) = resolve(opts)?;
    let served = ServedWan::start(&s, seed, cfg.clone())?;
    let urls: Vec<String> = s.workload.expand(seed).iter().map(|f| served.url(&f.path)).collect();
    let list = memfd(&(urls.join("\n") + "\n"))?;
    let list_fd = list.as_raw_fd();
    eprintln!(
        "wan: {} in namespaces {}s/{}c: {}",
        served.base_url(),
        served.wan().prefix(),
        served.wan().prefix(),
        describe(&cfg)
    );
    eprintln!("wan: serving {} files of {}, e.g. {}", urls.len(), s.name, urls[0]);
    let mut cmd = served.wan().command(program);
    cmd.args(args)
        .env("DLSIM_SERVER_URL", served.base_url())
        .env("DLSIM_FILE_LIST", format!("/proc/self/fd/{list_fd}"))
        .process_group(0);
    let joined = urls.join(" ");
    if joined.len() <= 64 * 1024 {
        cmd.env("DLSIM_FILE_URLS", joined);
    } else {
        cmd.env_remove("DLSIM_FILE_URLS");
    }
    // If dlsim owns the terminal, the command's group takes it (an
    // interactive shell works; Ctrl-C goes to the command) and gives it back.
    // SAFETY: isatty/tcgetpgrp/getpgrp only query.
    let foreground = unsafe { libc::isatty(0) == 1 && libc::tcgetpgrp(0) == libc::getpgrp() };
    // SAFETY: fcntl, signal, tcsetpgrp and getpid are async-signal-safe.
    unsafe {
        cmd.pre_exec(move || {
            if libc::fcntl(list_fd, libc::F_SETFD, 0) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            if foreground {
                terminal_to(libc::getpid());
            }
            Ok(())
        });
    }
    let _signals = SignalGuard::install();
    // The waiter thread spawns the command (so PR_SET_PDEATHSIG is tied to a
    // thread that lives until the command is reaped) and times it.
    let (pid_tx, pid_rx) = mpsc::channel::<std::io::Result<u32>>();
    let (done_tx, done_rx) = mpsc::channel::<(std::io::Result<std::process::ExitStatus>, Duration)>();
    let waiter = std::thread::Builder::new()
        .name("wan-wait".into())
        .spawn(move || {
            let started = Instant::now();
            match cmd.spawn() {
                Ok(mut child) => {
                    let _ = pid_tx.send(Ok(child.id()));
                    let status = child.wait();
                    let _ = done_tx.send((status, started.elapsed()));
                }
                Err(e) => {
                    let _ = pid_tx.send(Err(e));
                }
            }
        })
        .map_err(|e| Error::Other(format!("wan: cannot start the waiter thread: {e}")))?;
    let pid = match pid_rx.recv() {
        Ok(Ok(pid)) => pid as libc::pid_t,
        Ok(Err(e)) => {
            let _ = waiter.join();
            return Err(Error::Other(format!("wan: cannot run {}: {e}", program.to_string_lossy())));
        }
        Err(_) => return Err(Error::Other("wan: the waiter thread died".into())),
    };
    let mut forwarded: Option<Instant> = None;
    let (status, wall) = loop {
        match done_rx.recv_timeout(Duration::from_millis(20)) {
            Ok(done) => break done,
            Err(mpsc::RecvTimeoutError::Disconnected) => {
                return Err(Error::Other("wan: the waiter thread died".into()));
            }
            Err(mpsc::RecvTimeoutError::Timeout) => {
                let sig = STOP_SIGNAL.load(Ordering::SeqCst);
                match forwarded {
                    None if sig != 0 => {
                        eprintln!("wan: signal {sig}: stopping the command");
                        // SAFETY: signals the command's process group.
                        unsafe { libc::kill(-pid, sig) };
                        forwarded = Some(Instant::now());
                    }
                    Some(t) if t.elapsed() > Duration::from_secs(2) => {
                        // SAFETY: as above.
                        unsafe { libc::kill(-pid, libc::SIGKILL) };
                    }
                    _ => {}
                }
            }
        }
    };
    let _ = waiter.join();
    if foreground {
        // SAFETY: see terminal_to.
        terminal_to(unsafe { libc::getpgrp() });
    }
    // Anything the command left behind in its group would keep the client
    // namespace alive: end it.
    // SAFETY: signals the command's (now leaderless) process group.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    let status = status.map_err(|e| Error::Other(format!("wan: waiting for the command: {e}")))?;
    let exit_code = status.code().unwrap_or_else(|| 128 + status.signal().unwrap_or(0));
    drop(list);
    let (relay, _stats) = served.finish()?;
    eprintln!("wan: command exited with code {exit_code} after {:.3} s wall", wall.as_secs_f64());
    eprintln!("wan: {}", summary(&relay));
    Ok(RunOutcome { exit_code, wall, relay })
}

/// One line of relay counters and release timing.
pub fn summary(r: &RelayReport) -> String {
    let l = &r.lateness;
    format!(
        "relay{}: down {} packets ({} queue drops, {} lost), up {} packets ({} lost); \
         release after due time p50 {:.0} µs, p99 {:.0} µs, max {:.0} µs ({} of {} over 100 µs); \
         peak queue {} bytes; relay CPU {:.3} s ({:.0} ns/packet)",
        if r.realtime { " (SCHED_FIFO)" } else { " (not real-time: SCHED_FIFO refused)" },
        r.downlink.packets_in,
        r.downlink.queue_drops,
        r.downlink.losses,
        r.uplink.packets_in,
        r.uplink.losses,
        l.p50_us,
        l.p99_us,
        l.max_us,
        l.over_100us,
        l.packets,
        r.downlink.peak_queue_bytes,
        r.cpu_s,
        r.cpu_ns_per_packet
    )
}

/// `dlsim wan …` subcommands.
#[derive(clap::Subcommand, Debug)]
pub enum WanCmd {
    /// Run COMMAND in the client namespace against the scenario's server
    /// behind the emulated path; print its wall time and exit code.
    Run(RunArgs),
}

/// Flags of `dlsim wan run` (each overrides the scenario).
#[derive(clap::Args, Debug)]
pub struct RunArgs {
    /// Scenario whose files are served (default: 64 KiB, 1 MiB and 16 MiB files, RTT 40 ms, no bottleneck).
    #[arg(long)]
    pub scenario: Option<PathBuf>,
    /// Round-trip time, ms (default: the scenario's `network.rtt_ms`).
    #[arg(long)]
    pub rtt_ms: Option<f64>,
    /// Bottleneck server → client, IP bytes/s (default: the scenario's `server.bandwidth_bps` × 1500/1448, so that its payload goodput is the bandwidth).
    #[arg(long)]
    pub rate_bps: Option<f64>,
    /// Drop-tail queue of the bottleneck, bytes (default: one bandwidth-delay product, ≥ 64 KiB).
    #[arg(long)]
    pub queue_bytes: Option<u64>,
    /// Random loss probability per packet, each direction (default 0).
    #[arg(long)]
    pub loss: Option<f64>,
    /// Seed of content, faults and loss (default: the scenario's `seed`).
    #[arg(long)]
    pub seed: Option<u64>,
    /// The client command and its arguments.
    #[arg(last = true, required = true)]
    pub command: Vec<OsString>,
}

/// Entry point of `dlsim wan`; the exit code is the command's.
pub fn main(cmd: WanCmd) -> Result<std::process::ExitCode> {
    match cmd {
        WanCmd::Run(a) => {
            let opts = RunOptions {
                scenario: a.scenario,
                rtt_ms: a.rtt_ms,
                rate_bps: a.rate_bps,
                queue_bytes: a.queue_bytes,
                loss: a.loss,
                seed: a.seed,
                command: a.command,
            };
            let out = run(&opts)?;
            Ok(std::process::ExitCode::from(out.exit_code.clamp(0, 255) as u8))
        }
    }
}
