//! Replications: one point run with N seeds, summarised per metric by the
//! mean, the sample standard deviation (n − 1) and a 95 % Student-t
//! confidence interval for the mean, mean ± t₀.₉₇₅(n − 1) · std / √n.
//!
//! The aggregated [`BenchmarkResult`] keeps every original field, holding
//! the mean over the replications (integer fields: the mean rounded to the
//! nearest integer, halves up), and adds `metadata.replications`,
//! `metadata.seeds` and `stats` (the format is in the README, "Replications").
//! With one replication nothing is aggregated and nothing is added.

use super::{BenchmarkResult, Metadata, Percentiles, PriorityWait};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;
use std::fmt::Write as _;

/// One metric over the replications.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Stat {
    pub mean: f64,
    /// Sample standard deviation (divisor n − 1); 0 for one value.
    pub std: f64,
    pub ci95_low: f64,
    pub ci95_high: f64,
}

/// t₀.₉₇₅ for 1 … 30 degrees of freedom (computed with mpmath to 17
/// significant digits; the compiler rounds each to the nearest f64).
#[allow(clippy::excessive_precision)]
const T975: [f64; 30] = [
    12.706204736174704,
    4.3026527297494637,
    3.1824463052837095,
    2.7764451051977943,
    2.5705818356363155,
    2.4469118511449699,
    2.3646242515927853,
    2.3060041352041666,
    2.2621571627982055,
    2.2281388519862747,
    2.2009851600916398,
    2.1788128296672288,
    2.1603686564627925,
    2.1447866879178038,
    2.1314495455597757,
    2.1199052992212546,
    2.1098155778333171,
    2.1009220402410385,
    2.0930240544083097,
    2.0859634472658648,
    2.0796138447276804,
    2.0738730679040261,
    2.0686576104190486,
    2.0638985616280258,
    2.0595385527532977,
    2.0555294386428732,
    2.0518305164802855,
    2.0484071417952451,
    2.0452296421327043,
    2.0422724563012383,
];

/// The 0.975 quantile of Student's t with `df` ≥ 1 degrees of freedom:
/// the table up to 30, beyond it the Cornish–Fisher expansion in 1/df to
/// fourth order (error below 3·10⁻⁸ at 31, falling as df⁻⁵). Plain
/// arithmetic only, so the same bits on every platform.
pub fn t975(df: u64) -> f64 {
    assert!(df >= 1, "a t quantile needs at least one degree of freedom");
    if df <= 30 {
        return T975[df as usize - 1];
    }
    const Z: f64 = 1.959963984540054; // the normal 0.975 quantile
    let v = df as f64;
    let (z2, z3) = (Z * Z, Z * Z * Z);
    let (z5, z7, z9) = (z3 * z2, z3 * z2 * z2, z3 * z3 * z3);
    Z + (z3 + Z) / (4.0 * v)
        + (5.0 * z5 + 16.0 * z3 + 3.0 * Z) / (96.0 * v * v)
        + (3.0 * z7 + 19.0 * z5 + 17.0 * z3 - 15.0 * Z) / (384.0 * v * v * v)
        + (79.0 * z9 + 776.0 * z7 + 1482.0 * z5 - 1920.0 * z3 - 945.0 * Z) / (92160.0 * v * v * v * v)
}

/// Mean, sample std and 95 % interval of `xs` (at least one value).
pub fn stat(xs: &[f64]) -> Stat {
    let n = xs.len();
    assert!(n >= 1, "a statistic of no value");
    let mean = xs.iter().sum::<f64>() / n as f64;
    if n == 1 {
        return Stat { mean, std: 0.0, ci95_low: mean, ci95_high: mean };
    }
    let ss: f64 = xs.iter().map(|x| (x - mean) * (x - mean)).sum();
    let std = (ss / (n - 1) as f64).sqrt();
    let half = t975(n as u64 - 1) * std / (n as f64).sqrt();
    Stat { mean, std, ci95_low: mean - half, ci95_high: mean + half }
}

/// The metrics summarised, by name, as the table and CSV show them.
pub fn metrics(r: &BenchmarkResult) -> [(&'static str, f64); 15] {
    let m = &r.metadata;
    [
        ("duration", r.duration),
        ("throughput_mbps", r.throughput_mbps),
        ("success_rate", r.success_rate),
        ("memory_usage_mb", r.memory_usage_mb),
        ("cpu_usage_percent", r.cpu_usage_percent),
        ("files_processed", r.files_processed as f64),
        ("requests", m.requests as f64),
        ("retries", m.retries as f64),
        ("handshakes", m.handshakes as f64),
        ("peak_open_connections", m.peak_open_connections as f64),
        ("bytes_wasted", m.bytes_wasted as f64),
        ("limiter_wait_s", m.limiter_wait_s),
        ("p50_s", m.completion_time_s.p50),
        ("p95_s", m.completion_time_s.p95),
        ("p99_s", m.completion_time_s.p99),
    ]
}

fn mean_f(xs: impl Iterator<Item = f64>, n: usize) -> f64 {
    xs.sum::<f64>() / n as f64
}

/// Mean of integers, rounded to the nearest (halves up), exactly.
fn mean_u(xs: impl Iterator<Item = u64>, n: usize) -> u64 {
    let sum: u128 = xs.map(u128::from).sum();
    ((2 * sum + n as u128) / (2 * n as u128)) as u64
}

fn mean_map(maps: &[&BTreeMap<String, u64>]) -> BTreeMap<String, u64> {
    let keys: std::collections::BTreeSet<&String> = maps.iter().flat_map(|m| m.keys()).collect();
    keys.into_iter()
        .map(|k| (k.clone(), mean_u(maps.iter().map(|m| m.get(k).copied().unwrap_or(0)), maps.len())))
        .collect()
}

/// One result for a point from its replications (in seed order, the first
/// run with the point's own seed). Fields hold means; `stats` the summary.
pub fn aggregate(runs: &[BenchmarkResult]) -> BenchmarkResult {
    let n = runs.len();
    assert!(n >= 2, "aggregate replications only when there are several");
    let first = &runs[0];
    let f = |g: fn(&BenchmarkResult) -> f64| mean_f(runs.iter().map(g), n);
    let u = |g: fn(&BenchmarkResult) -> u64| mean_u(runs.iter().map(g), n);
    let md: Vec<&Metadata> = runs.iter().map(|r| &r.metadata).collect();
    let priorities: std::collections::BTreeSet<&String> = md.iter().flat_map(|m| m.wait_by_priority.keys()).collect();
    let wait_by_priority = priorities
        .into_iter()
        .map(|p| {
            let ws: Vec<PriorityWait> =
                md.iter().map(|m| m.wait_by_priority.get(p).cloned().unwrap_or_default()).collect();
            let w = PriorityWait {
                files: mean_u(ws.iter().map(|w| w.files), n),
                mean_s: mean_f(ws.iter().map(|w| w.mean_s), n),
                max_s: mean_f(ws.iter().map(|w| w.max_s), n),
            };
            (p.clone(), w)
        })
        .collect();
    let mut errors: Vec<String> = runs
        .iter()
        .flat_map(|r| {
            r.errors
                .iter()
                .filter(|e| !e.starts_with("... and "))
                .map(move |e| format!("seed {}: {e}", r.metadata.seed))
        })
        .collect();
    let failed: u64 = runs.iter().map(|r| r.metadata.files_failed as u64).sum();
    if errors.len() > 20 || failed > errors.len() as u64 {
        errors.truncate(20);
        errors.push(format!("... and {} more failed files over {n} replications", failed - errors.len() as u64));
    }
    let stats = (0..metrics(first).len())
        .map(|i| {
            let xs: Vec<f64> = runs.iter().map(|r| metrics(r)[i].1).collect();
            (metrics(first)[i].0.to_string(), stat(&xs))
        })
        .collect();
    BenchmarkResult {
        name: first.name.clone(),
        duration: f(|r| r.duration),
        throughput_mbps: f(|r| r.throughput_mbps),
        success_rate: f(|r| r.success_rate),
        memory_usage_mb: f(|r| r.memory_usage_mb),
        cpu_usage_percent: f(|r| r.cpu_usage_percent),
        concurrent_downloads: first.concurrent_downloads,
        total_bytes: u(|r| r.total_bytes),
        files_processed: u(|r| r.files_processed as u64) as u32,
        errors,
        metadata: Metadata {
            seed: first.metadata.seed,
            files_total: u(|r| r.metadata.files_total as u64) as u32,
            files_failed: u(|r| r.metadata.files_failed as u64) as u32,
            requests: u(|r| r.metadata.requests),
            retries: u(|r| r.metadata.retries),
            failures_by_kind: mean_map(&md.iter().map(|m| &m.failures_by_kind).collect::<Vec<_>>()),
            faults_injected: mean_map(&md.iter().map(|m| &m.faults_injected).collect::<Vec<_>>()),
            handshakes: u(|r| r.metadata.handshakes),
            pool_hits: u(|r| r.metadata.pool_hits),
            pool_misses: u(|r| r.metadata.pool_misses),
            pool_overflow_discarded: u(|r| r.metadata.pool_overflow_discarded),
            pool_idle_expired: u(|r| r.metadata.pool_idle_expired),
            peak_open_connections: u(|r| r.metadata.peak_open_connections as u64) as u32,
            bytes_transferred: u(|r| r.metadata.bytes_transferred),
            bytes_wasted: u(|r| r.metadata.bytes_wasted),
            bytes_resumed: u(|r| r.metadata.bytes_resumed),
            limiter_wait_s: f(|r| r.metadata.limiter_wait_s),
            wait_by_priority,
            completion_time_s: Percentiles {
                p50: f(|r| r.metadata.completion_time_s.p50),
                p95: f(|r| r.metadata.completion_time_s.p95),
                p99: f(|r| r.metadata.completion_time_s.p99),
                max: f(|r| r.metadata.completion_time_s.max),
            },
            peak_active_files: u(|r| r.metadata.peak_active_files as u64) as u32,
            cpu_seconds: f(|r| r.metadata.cpu_seconds),
            events: u(|r| r.metadata.events),
            replications: Some(n as u32),
            seeds: Some(runs.iter().map(|r| r.metadata.seed).collect()),
            extra: first.metadata.extra.clone(),
        },
        stats: Some(stats),
    }
}

/// The replications block printed under the stdout table: per point, the
/// main metrics as mean ± half-width of the 95 % interval. Empty when no
/// result has replications.
pub fn table(results: &[BenchmarkResult]) -> String {
    let mut out = String::new();
    let shown = [
        ("duration", "duration_s", 3),
        ("throughput_mbps", "MiB/s", 2),
        ("success_rate", "success", 4),
        ("memory_usage_mb", "memory_MiB", 2),
        ("p95_s", "p95_s", 3),
    ];
    let with: Vec<&BenchmarkResult> = results.iter().filter(|r| r.stats.is_some()).collect();
    let Some(n) = with.first().and_then(|r| r.metadata.replications) else {
        return out;
    };
    let w = with.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    let _ = writeln!(out, "\n{n} replications per point: mean ± half-width of the 95 % Student-t interval");
    let _ = write!(out, "{:<w$}", "name");
    for (_, label, _) in shown {
        let _ = write!(out, "  {label:>22}");
    }
    out.push('\n');
    for r in with {
        let _ = write!(out, "{:<w$}", r.name);
        for (key, _, digits) in shown {
            let s = r.stats.as_ref().and_then(|s| s.get(key)).copied();
            let cell = s.map_or("-".to_string(), |s| {
                format!("{:.digits$} ± {:.digits$}", s.mean, (s.ci95_high - s.ci95_low) / 2.0)
            });
            let _ = write!(out, "  {cell:>22}");
        }
        out.push('\n');
    }
    out
}

/// CSV columns added when results have replications: for each metric,
/// `<metric>_std`, `<metric>_ci95_low`, `<metric>_ci95_high` (the main
/// columns hold the means). `None` when no result has replications (the
/// CSV is then exactly as without replications).
pub fn csv_columns(results: &[BenchmarkResult]) -> Option<(String, Vec<String>)> {
    let first = results.iter().find(|r| r.stats.is_some())?;
    let mut header = String::new();
    for (name, _) in metrics(first) {
        let _ = write!(header, ",{name}_std,{name}_ci95_low,{name}_ci95_high");
    }
    let rows = results
        .iter()
        .map(|r| {
            let mut row = String::new();
            for (name, value) in metrics(r) {
                let s = r.stats.as_ref().and_then(|s| s.get(name)).copied().unwrap_or(Stat {
                    mean: value,
                    std: 0.0,
                    ci95_low: value,
                    ci95_high: value,
                });
                let _ = write!(row, ",{},{},{}", s.std, s.ci95_low, s.ci95_high);
            }
            row
        })
        .collect();
    Some((header, rows))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn t_quantiles_match_closed_forms_and_the_normal_limit() {
        // df = 1 is Cauchy: tan(π(p − ½)); df = 2: (2p − 1) / √(2p(1 − p)).
        let p: f64 = 0.975;
        assert!((t975(1) - (std::f64::consts::PI * (p - 0.5)).tan()).abs() < 1e-12);
        assert!((t975(2) - (2.0 * p - 1.0) / (2.0 * p * (1.0 - p)).sqrt()).abs() < 1e-12);
        // Decreasing in df, continuous across the table's end, tending to z.
        for df in 1..200 {
            assert!(t975(df + 1) < t975(df), "df {df}");
        }
        assert!((t975(31) - t975(30)).abs() < 0.004);
        assert!((t975(1_000_000) - 1.959963984540054).abs() < 1e-5);
    }

    #[test]
    fn constant_values_give_a_zero_width_interval() {
        let s = stat(&[2.5; 7]);
        assert_eq!((s.mean, s.std, s.ci95_low, s.ci95_high), (2.5, 0.0, 2.5, 2.5));
    }

    #[test]
    fn two_values_interval_is_the_cauchy_quantile_times_half_the_gap() {
        // n = 2: std = |a − b|/√2, half-width = t(1)·std/√2 = t(1)·|a − b|/2.
        let (a, b) = (3.0, 5.0);
        let s = stat(&[a, b]);
        assert_eq!(s.mean, 4.0);
        assert!((s.std - (b - a) / 2f64.sqrt()).abs() < 1e-12);
        assert!((s.ci95_high - s.mean - t975(1) * (b - a) / 2.0).abs() < 1e-9);
        assert!((s.mean - s.ci95_low - (s.ci95_high - s.mean)).abs() < 1e-12);
    }

    #[test]
    fn integer_means_round_half_up_exactly() {
        assert_eq!(mean_u([1u64, 2].into_iter(), 2), 2);
        assert_eq!(mean_u([1u64, 1, 2].into_iter(), 3), 1);
        assert_eq!(mean_u([u64::MAX, u64::MAX].into_iter(), 2), u64::MAX);
    }
}
