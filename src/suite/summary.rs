//! `benchmark_summary`: totals, averages, best and worst performer, as the
//! Python suite reported them.

use crate::report::BenchmarkResult;
use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Performer {
    pub name: String,
    pub throughput_mbps: f64,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub total_benchmarks: u32,
    /// Σ simulated durations, s.
    pub total_duration: f64,
    pub total_bytes: u64,
    pub total_files_processed: u64,
    /// Files that failed, over all benchmarks.
    pub total_errors: u64,
    pub average_throughput_mbps: f64,
    pub average_success_rate: f64,
    pub average_memory_usage_mb: f64,
    pub average_cpu_usage_percent: f64,
    /// Highest throughput (the first on a tie).
    pub best_performer: Option<Performer>,
    /// Lowest throughput (the first on a tie).
    pub worst_performer: Option<Performer>,
}

fn r9(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

pub fn summarize(results: &[BenchmarkResult]) -> Summary {
    let n = results.len().max(1) as f64;
    let avg = |f: fn(&BenchmarkResult) -> f64| r9(results.iter().map(f).sum::<f64>() / n);
    let performer = |r: &BenchmarkResult| Performer { name: r.name.clone(), throughput_mbps: r.throughput_mbps };
    let mut best: Option<&BenchmarkResult> = None;
    let mut worst: Option<&BenchmarkResult> = None;
    for r in results {
        if best.is_none_or(|b| r.throughput_mbps > b.throughput_mbps) {
            best = Some(r);
        }
        if worst.is_none_or(|w| r.throughput_mbps < w.throughput_mbps) {
            worst = Some(r);
        }
    }
    Summary {
        total_benchmarks: results.len() as u32,
        total_duration: r9(results.iter().map(|r| r.duration).sum()),
        total_bytes: results.iter().map(|r| r.total_bytes).sum(),
        total_files_processed: results.iter().map(|r| r.files_processed as u64).sum(),
        total_errors: results.iter().map(|r| r.metadata.files_failed as u64).sum(),
        average_throughput_mbps: avg(|r| r.throughput_mbps),
        average_success_rate: avg(|r| r.success_rate),
        average_memory_usage_mb: avg(|r| r.memory_usage_mb),
        average_cpu_usage_percent: avg(|r| r.cpu_usage_percent),
        best_performer: best.map(performer),
        worst_performer: worst.map(performer),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::Metadata;

    fn r(name: &str, mbps: f64, dur: f64, failed: u32) -> BenchmarkResult {
        BenchmarkResult {
            name: name.into(),
            duration: dur,
            throughput_mbps: mbps,
            success_rate: 1.0,
            memory_usage_mb: 2.0,
            cpu_usage_percent: 4.0,
            concurrent_downloads: 1,
            total_bytes: 10,
            files_processed: 3,
            errors: vec![],
            metadata: Metadata { files_failed: failed, ..Metadata::default() },
        }
    }

    #[test]
    fn totals_averages_best_and_worst() {
        let s = summarize(&[r("a", 5.0, 1.0, 0), r("b", 9.0, 2.0, 1), r("c", 1.0, 3.0, 2), r("d", 9.0, 0.5, 0)]);
        assert_eq!(s.total_benchmarks, 4);
        assert_eq!(s.total_duration, 6.5);
        assert_eq!(s.total_bytes, 40);
        assert_eq!(s.total_files_processed, 12);
        assert_eq!(s.total_errors, 3);
        assert_eq!(s.average_throughput_mbps, 6.0);
        assert_eq!(s.best_performer.unwrap().name, "b");
        assert_eq!(s.worst_performer.unwrap().name, "c");
        assert_eq!(summarize(&[]).best_performer, None);
    }
}
