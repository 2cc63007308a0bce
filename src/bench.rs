//! The reference workload W1, "shared link, FIFO workers" (issue 11), for
//! `dlsim bench --w1 N C`, so runs can be compared with SimGrid or SimPy:
//! one server link of [`W1_RATE_BPS`] shared equally by all bodies in
//! flight, [`W1_LATENCY_MS`] server latency per request, no RTT or
//! handshake cost, file i of N has [`w1_size_bytes`]`(i)` bytes, C
//! connections taking files in index order, one request per file. CPU
//! model off, no faults, no client limiter.

use std::time::Instant;

use crate::record::RunRecord;
use crate::scenario::{Budget, FileSpec, Plan, Scenario};
use crate::{Error, Result, SimOptions, simulate};

/// The server link, bytes/s (100 MiB/s).
pub const W1_RATE_BPS: u64 = 104_857_600;
/// Server latency per request, ms.
pub const W1_LATENCY_MS: u64 = 10;

/// Size of file `i` (0-based): 1 MiB + ((i × 7919) mod 64) × 256 KiB.
pub fn w1_size_bytes(i: u64) -> u64 {
    1_048_576 + ((i * 7919) % 64) * 262_144
}

/// The W1 scenario with `files` files on `connections` connections; the
/// file list is generated here, not parsed.
pub fn w1_scenario(files: u32, connections: u32) -> Result<Scenario> {
    if files == 0 || files as u64 > crate::scenario::MAX_FILES {
        return Err(Error::flag(
            "--w1 N",
            format!("must be an integer from 1 to {}, got {files}", crate::scenario::MAX_FILES),
        ));
    }
    if connections == 0 || connections > 1_000_000 {
        return Err(Error::flag("--w1 C", format!("must be an integer from 1 to 1000000, got {connections}")));
    }
    let text = serde_json::json!({
        "name": "w1",
        "server": { "bandwidth_bps": W1_RATE_BPS, "latency_ms": W1_LATENCY_MS },
        "network": { "rtt_ms": 0, "handshake_rtts": 0 },
        "client": { "max_concurrent_downloads": connections, "max_concurrent_files_per_model": connections,
                    "cpu": { "per_request_us": 0, "per_connection_us": 0, "per_read_us": 0, "per_byte_ns": 0 } },
        "workload": { "models": [ { "name": "w1", "files": [ { "path": "w1/0", "size_bytes": w1_size_bytes(0) } ] } ] }
    });
    let mut s = Scenario::from_value(text)?;
    s.workload.models[0].files = (0..files as u64)
        .map(|i| FileSpec { path: format!("w1/{i}"), size_bytes: w1_size_bytes(i), priority: None })
        .collect();
    Ok(s)
}

/// One W1 run and its costs.
pub struct W1Run {
    pub run: RunRecord,
    /// Building the workload and the plan, s.
    pub setup_s: f64,
    /// The simulation itself (event loop and its set-up), s.
    pub loop_s: f64,
}

/// Build and simulate W1 (no event log), under `budget`.
pub fn run_w1(files: u32, connections: u32, budget: &Budget) -> Result<W1Run> {
    let t = Instant::now();
    let s = w1_scenario(files, connections)?;
    let plan = Plan::new(&s, Some(1), budget, false)?;
    let setup_s = t.elapsed().as_secs_f64();
    let t = Instant::now();
    let run = simulate(&plan, SimOptions::default());
    let loop_s = t.elapsed().as_secs_f64();
    plan.check_duration(run.duration)?;
    Ok(W1Run { run, setup_s, loop_s })
}

/// The process's peak resident set, bytes (`VmHWM` of /proc/self/status),
/// if readable.
pub fn peak_rss_bytes() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmHWM:"))?;
    let kib: u64 = line.split_whitespace().nth(1)?.parse().ok()?;
    Some(kib * 1024)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::SimTime;

    fn makespan(files: u32, connections: u32) -> SimTime {
        run_w1(files, connections, &Budget::default()).expect("valid W1").run.duration
    }

    /// Σ sizes / rate, in ns (rounded down), for files 0..n.
    fn transfer_ns(n: u64) -> u64 {
        let bytes: u64 = (0..n).map(w1_size_bytes).sum();
        (bytes as u128 * 1_000_000_000 / W1_RATE_BPS as u128) as u64
    }

    fn assert_near(got: SimTime, want_ns: u64, slack_ns: u64) {
        let g = got.as_nanos();
        assert!(g.abs_diff(want_ns) <= slack_ns, "makespan {g} ns, want {want_ns} ± {slack_ns} ns");
    }

    #[test]
    fn sizes_follow_the_issue_formula() {
        assert_eq!(w1_size_bytes(0), 1_048_576);
        assert_eq!(w1_size_bytes(1), 1_048_576 + 47 * 262_144); // 7919 mod 64 = 47
        assert!((0..10_000).map(w1_size_bytes).all(|s| (1_048_576..1_048_576 + 64 * 262_144).contains(&s)));
    }

    #[test]
    fn all_files_at_once_end_at_latency_plus_total_bytes_over_the_rate() {
        // N = C: every request starts at 0, every body after the latency;
        // the link is work-conserving and never idle until the last byte.
        for n in [1, 4, 9] {
            assert_near(makespan(n, n), W1_LATENCY_MS * 1_000_000 + transfer_ns(n as u64), n as u64);
        }
    }

    #[test]
    fn one_connection_pays_the_latency_once_per_file() {
        let n = 5;
        assert_near(makespan(n, 1), n as u64 * W1_LATENCY_MS * 1_000_000 + transfer_ns(n as u64), n as u64);
    }
}
