//! `BenchmarkResult`: the fields of the original suite, with `metadata`
//! carrying the rest of what the model knows. Built from a [`RunRecord`] of
//! either runtime: a real run is reported exactly like a simulated one
//! (its CPU figures are the same cost model applied to its counts).

use crate::SimTime;
use crate::orchestrator::FileStatus;
use crate::record::RunRecord;
use crate::scenario::{MIB, Priority, Scenario};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// One benchmark result, field for field the Python suite's.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct BenchmarkResult {
    pub name: String,
    /// Seconds until the last file ended (virtual in the sim, wall in a real run).
    pub duration: f64,
    /// Useful bytes / duration, MiB/s.
    pub throughput_mbps: f64,
    /// Files completed / files.
    pub success_rate: f64,
    /// Modelled peak client memory, MiB.
    pub memory_usage_mb: f64,
    /// Modelled client CPU, percent of `client.cpu.cores` cores.
    pub cpu_usage_percent: f64,
    /// `client.max_concurrent_downloads`.
    pub concurrent_downloads: u32,
    /// Useful bytes (Σ sizes of completed files).
    pub total_bytes: u64,
    /// Files completed.
    pub files_processed: u32,
    /// One line per failed file (the first 20, then a count).
    pub errors: Vec<String>,
    pub metadata: Metadata,
    /// Per metric over the replications (only with more than one; see
    /// report/stats.rs).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stats: Option<BTreeMap<String, super::stats::Stat>>,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct PriorityWait {
    pub files: u64,
    pub mean_s: f64,
    pub max_s: f64,
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Percentiles {
    pub p50: f64,
    pub p95: f64,
    pub p99: f64,
    pub max: f64,
}

/// Everything else the model measured.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Metadata {
    pub seed: u64,
    pub files_total: u32,
    pub files_failed: u32,
    pub requests: u64,
    pub retries: u64,
    /// Failed requests by kind as the client saw them.
    pub failures_by_kind: BTreeMap<String, u64>,
    /// Faults the server injected, by kind.
    pub faults_injected: BTreeMap<String, u64>,
    /// New connections (each one a handshake).
    pub handshakes: u64,
    pub pool_hits: u64,
    pub pool_misses: u64,
    /// Connections discarded on release because the pool was full.
    pub pool_overflow_discarded: u64,
    pub pool_idle_expired: u64,
    pub peak_open_connections: u32,
    /// Body bytes that crossed the link.
    pub bytes_transferred: u64,
    /// Transferred bytes that are not part of a completed file.
    pub bytes_wasted: u64,
    /// Bytes of failed requests kept by resume.
    pub bytes_resumed: u64,
    /// Time the client's token bucket held the download back, s.
    pub limiter_wait_s: f64,
    /// Queue wait (enqueue → dispatch) per priority.
    pub wait_by_priority: BTreeMap<String, PriorityWait>,
    /// File completion time since the start of the run, s (completed files).
    pub completion_time_s: Percentiles,
    /// Time from the start of the run until the first file completed, s
    /// (0 when none did).
    pub time_to_first_file_s: f64,
    pub peak_active_files: u32,
    /// Modelled client CPU time, s.
    pub cpu_seconds: f64,
    /// Events processed: simulator events, or inputs fed to the core in a real run.
    pub events: u64,
    /// Replications run for this point (only with more than one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub replications: Option<u32>,
    /// The seed of each replication, the point's own first (only with more than one).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub seeds: Option<Vec<u64>>,
    /// Extra figures added by callers (the suite's legacy estimate…).
    #[serde(flatten)]
    pub extra: BTreeMap<String, serde_json::Value>,
}

/// Index of the nearest-rank percentile `p` in `n` sorted values (n ≥ 1).
fn rank_index(n: usize, p: f64) -> usize {
    let rank = ((p / 100.0) * n as f64).ceil() as usize;
    rank.clamp(1, n) - 1
}

/// Nearest-rank percentile of sorted `xs`.
#[cfg(test)]
fn percentile(xs: &[f64], p: f64) -> f64 {
    if xs.is_empty() {
        return 0.0;
    }
    xs[rank_index(xs.len(), p)]
}

/// Completion times' order statistics: (first, p50, p95, p99, max), in
/// seconds, 0 for no time. `ns` (nanoseconds, any order) is reordered.
/// By selection, O(n), instead of sorting every time: each statistic is
/// one element, and nanoseconds → seconds keeps the order, so the answer
/// is the sorted seconds' element for element.
fn order_stats(ns: &mut [u64]) -> [f64; 5] {
    let n = ns.len();
    if n == 0 {
        return [0.0; 5];
    }
    let secs = |x: u64| SimTime::from_nanos(x).as_secs_f64();
    let (first, last) = ns.iter().fold((u64::MAX, 0), |(lo, hi), &x| (lo.min(x), hi.max(x)));
    // From the highest rank down, each selection in the part below the last.
    let mut out = [0u64; 3];
    let mut below = n;
    let mut prev: Option<(usize, u64)> = None;
    for (k, p) in [(2, 99.0), (1, 95.0), (0, 50.0)] {
        let i = rank_index(n, p);
        out[k] = match prev {
            Some((j, v)) if i == j => v,
            _ => *ns[..below].select_nth_unstable(i).1,
        };
        prev = Some((i, out[k]));
        below = i;
    }
    [secs(first), secs(out[0]), secs(out[1]), secs(out[2]), secs(last)]
}

/// Round to 9 decimals so reports never carry float noise.
fn r9(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

/// Build the result of one run.
pub fn from_run(s: &Scenario, run: &RunRecord) -> BenchmarkResult {
    let duration = run.duration.as_secs_f64();
    let st = &run.stats;
    let files_total = run.files.len() as u32;
    let mut errors: Vec<String> =
        run.fail_reasons.iter().take(20).map(|(f, reason)| format!("{}: {reason}", run.files.path(*f))).collect();
    if run.fail_reasons.len() > 20 {
        errors.push(format!("... and {} more failed files", run.fail_reasons.len() - 20));
    }
    let mut times: Vec<u64> =
        run.outcomes.iter().filter(|o| o.status == FileStatus::Completed).map(|o| o.ended_at.as_nanos()).collect();
    let [first_s, p50, p95, p99, max] = order_stats(&mut times);
    // The link spends CPU as a resource of `cores` capacity (net/cpu.rs), so
    // this is at most 100 % of the cores.
    let cpu = &s.client.cpu;
    let cpu_seconds = run.cpu_seconds;
    let wait_by_priority = Priority::ALL
        .iter()
        .filter(|p| st.wait_by_priority[p.index()].files > 0)
        .map(|p| {
            let w = st.wait_by_priority[p.index()];
            let mean = w.total.as_secs_f64() / w.files as f64;
            (p.name().to_string(), PriorityWait { files: w.files, mean_s: r9(mean), max_s: w.max.as_secs_f64() })
        })
        .collect();
    BenchmarkResult {
        name: run.name.clone(),
        duration,
        throughput_mbps: if duration > 0.0 { r9(st.useful_bytes as f64 / MIB as f64 / duration) } else { 0.0 },
        success_rate: r9(st.files_completed as f64 / files_total as f64),
        memory_usage_mb: r9(run.peak_memory_bytes as f64 / MIB as f64),
        cpu_usage_percent: if duration > 0.0 { r9(100.0 * cpu_seconds / (duration * cpu.cores as f64)) } else { 0.0 },
        concurrent_downloads: s.client.max_concurrent_downloads,
        total_bytes: st.useful_bytes,
        files_processed: st.files_completed,
        errors,
        metadata: Metadata {
            seed: run.seed,
            files_total,
            files_failed: st.files_failed,
            requests: st.requests,
            retries: st.retries,
            failures_by_kind: st.failures_by_kind.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            faults_injected: run.faults_injected.iter().map(|(k, v)| (k.to_string(), *v)).collect(),
            handshakes: run.pool.opened,
            pool_hits: run.pool.hits,
            pool_misses: run.pool.misses,
            pool_overflow_discarded: run.pool.overflow_discarded,
            pool_idle_expired: run.pool.idle_expired,
            peak_open_connections: run.pool.peak_open,
            bytes_transferred: run.transferred_bytes,
            bytes_wasted: run.transferred_bytes.saturating_sub(st.useful_bytes),
            bytes_resumed: st.resumed_bytes,
            limiter_wait_s: run.limiter_wait.as_secs_f64(),
            wait_by_priority,
            completion_time_s: Percentiles { p50, p95, p99, max },
            time_to_first_file_s: first_s,
            peak_active_files: st.peak_active_files,
            cpu_seconds: r9(cpu_seconds),
            events: run.events,
            replications: None,
            seeds: None,
            extra: BTreeMap::new(),
        },
        stats: None,
    }
}

#[cfg(test)]
mod tests {
    use super::{order_stats, percentile};
    use crate::SimTime;

    /// Selection gives what sorting the seconds and reading ranks gives,
    /// on runs of every length up to 300 (ties, sorted, reversed, random).
    #[test]
    fn order_stats_equal_the_sorted_percentiles() {
        let mut x: u64 = 0x9e37_79b9_7f4a_7c15;
        for n in 0..300usize {
            for shape in 0..4 {
                let ns: Vec<u64> = (0..n as u64)
                    .map(|i| {
                        x = x.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                        match shape {
                            0 => x >> 40,
                            1 => (x >> 60) * 1_000_000_000,
                            2 => i * 7,
                            _ => (n as u64 - i) * 3,
                        }
                    })
                    .collect();
                let mut secs: Vec<f64> = ns.iter().map(|&t| SimTime::from_nanos(t).as_secs_f64()).collect();
                secs.sort_by(f64::total_cmp);
                let want = [
                    secs.first().copied().unwrap_or(0.0),
                    percentile(&secs, 50.0),
                    percentile(&secs, 95.0),
                    percentile(&secs, 99.0),
                    secs.last().copied().unwrap_or(0.0),
                ];
                let got = order_stats(&mut ns.clone());
                assert_eq!(got.map(f64::to_bits), want.map(f64::to_bits), "n {n} shape {shape}");
            }
        }
    }

    #[test]
    fn nearest_rank_percentiles() {
        let xs: Vec<f64> = (1..=100).map(|i| i as f64).collect();
        assert_eq!(percentile(&xs, 50.0), 50.0);
        assert_eq!(percentile(&xs, 95.0), 95.0);
        assert_eq!(percentile(&xs, 99.0), 99.0);
        assert_eq!(percentile(&[3.0], 99.0), 3.0);
        assert_eq!(percentile(&[], 50.0), 0.0);
    }
}
