//! `benchmark_summary`: the keys of the Python suite's
//! `_generate_summary_report`, computed as it computed them, then a few
//! extra totals.

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
    pub total_duration_seconds: f64,
    /// Mean throughput over the results with throughput > 0 (0 if none), MiB/s.
    pub average_throughput_mbps: f64,
    pub average_success_rate: f64,
    /// Σ `total_bytes` (useful bytes).
    pub total_bytes_processed: u64,
    pub total_files_processed: u64,
    /// Highest throughput (the first on a tie).
    pub best_performer: Option<Performer>,
    /// Lowest throughput among results with throughput > 0 (the first on a tie).
    pub worst_performer: Option<Performer>,
    /// Files that failed, over all benchmarks (not in the original).
    pub total_errors: u64,
    /// Not in the original.
    pub average_memory_usage_mb: f64,
    /// Not in the original.
    pub average_cpu_usage_percent: f64,
}

fn r9(x: f64) -> f64 {
    (x * 1e9).round() / 1e9
}

fn mean(xs: impl Iterator<Item = f64>) -> f64 {
    let (n, sum) = xs.fold((0usize, 0.0), |(n, s), x| (n + 1, s + x));
    if n == 0 { 0.0 } else { r9(sum / n as f64) }
}

pub fn summarize(results: &[BenchmarkResult]) -> Summary {
    let performer = |r: &BenchmarkResult| Performer { name: r.name.clone(), throughput_mbps: r.throughput_mbps };
    let mut best: Option<&BenchmarkResult> = None;
    let mut worst: Option<&BenchmarkResult> = None;
    for r in results {
        if best.is_none_or(|b| r.throughput_mbps > b.throughput_mbps) {
            best = Some(r);
        }
        if r.throughput_mbps > 0.0 && worst.is_none_or(|w| r.throughput_mbps < w.throughput_mbps) {
            worst = Some(r);
        }
    }
    Summary {
        total_benchmarks: results.len() as u32,
        total_duration_seconds: r9(results.iter().map(|r| r.duration).sum()),
        average_throughput_mbps: mean(results.iter().map(|r| r.throughput_mbps).filter(|t| *t > 0.0)),
        average_success_rate: mean(results.iter().map(|r| r.success_rate)),
        total_bytes_processed: results.iter().map(|r| r.total_bytes).sum(),
        total_files_processed: results.iter().map(|r| r.files_processed as u64).sum(),
        best_performer: best.map(performer),
        worst_performer: worst.map(performer),
        total_errors: results.iter().map(|r| r.metadata.files_failed as u64).sum(),
        average_memory_usage_mb: mean(results.iter().map(|r| r.memory_usage_mb)),
        average_cpu_usage_percent: mean(results.iter().map(|r| r.cpu_usage_percent)),
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
            stats: None,
        }
    }

    #[test]
    fn totals_averages_best_and_worst() {
        let s = summarize(&[r("a", 5.0, 1.0, 0), r("b", 9.0, 2.0, 1), r("c", 1.0, 3.0, 2), r("d", 9.0, 0.5, 0)]);
        assert_eq!(s.total_benchmarks, 4);
        assert_eq!(s.total_duration_seconds, 6.5);
        assert_eq!(s.total_bytes_processed, 40);
        assert_eq!(s.total_files_processed, 12);
        assert_eq!(s.total_errors, 3);
        assert_eq!(s.average_throughput_mbps, 6.0);
        assert_eq!(s.best_performer.unwrap().name, "b");
        assert_eq!(s.worst_performer.unwrap().name, "c");
        assert_eq!(summarize(&[]).best_performer, None);
    }

    /// As the original: results with throughput 0 count for neither the mean
    /// throughput nor the worst performer (but for the success rate).
    #[test]
    fn zero_throughput_is_left_out_of_the_mean_and_the_worst() {
        let mut zero = r("z", 0.0, 1.0, 0);
        zero.success_rate = 0.5;
        let s = summarize(&[r("a", 4.0, 1.0, 0), zero.clone(), r("b", 8.0, 1.0, 0)]);
        assert_eq!(s.average_throughput_mbps, 6.0);
        assert_eq!(s.worst_performer.unwrap().name, "a");
        assert_eq!(s.average_success_rate, ((2.5f64 / 3.0) * 1e9).round() / 1e9);
        let only_zero = summarize(&[zero]);
        assert_eq!((only_zero.average_throughput_mbps, only_zero.worst_performer), (0.0, None));
        assert_eq!(only_zero.best_performer.unwrap().name, "z");
    }
}
