//! The legacy estimate: how long the Python suite's benchmark slept for the
//! same point. The original `performance_benchmarks.py` downloaded nothing;
//! each family slept for a time given by its own formula, and the result's
//! duration was that sleep. These are exactly those eight formulas, with
//! `bytes` and `files` the family's own (the files of the point), `c` the
//! point's `max_concurrent_downloads`:
//!
//! | family | slept, s |
//! |---|---|
//! | concurrent_downloads | bytes / (30 MiB/s × min(c, files) × eff), eff = 1.0 for c ≤ 1, 0.9 for c ≤ 4, 0.8 for c ≤ 8, else 0.7 |
//! | bandwidth_limiting | min(bytes / limit, 10); unlimited: 1 |
//! | adaptive_chunking | min(bytes / 50 MiB/s × (0.9 if enabled else 1.0), 15) |
//! | memory_optimization | 0.01 × files |
//! | connection_pooling | files × 0.02 × (1 − 0.3 × min(1, pool / 10)) |
//! | queue_management | 2 |
//! | error_recovery | files × 0.1 + 2 × error_rate |
//! | scalability | min(bytes / (20 MiB/s × c × max(0.3, 1 − 0.05 (c − 1))), 20) |
//!
//! Each family result carries it as `metadata.legacy_duration_s`. The
//! extended sweeps have none: the original had no such benchmarks.

use crate::scenario::{FileMeta, MIB, Scenario};

/// Where the formulas come from.
pub const SOURCE: &str =
    "performance_benchmarks.py (PerformanceBenchmark of the Python suite): the time each benchmark slept";

/// The formulas, one line per family, as written into the report.
pub const FORMULAS: [(&str, &str); 8] = [
    (
        "concurrent_downloads",
        "bytes / (30 MiB/s * min(c, files) * eff), eff = 1.0 for c <= 1, 0.9 for c <= 4, 0.8 for c <= 8, else 0.7",
    ),
    ("bandwidth_limiting", "min(bytes / limit, 10 s); unlimited: 1 s"),
    ("adaptive_chunking", "min(bytes / 50 MiB/s * (0.9 if enabled else 1.0), 15 s)"),
    ("memory_optimization", "10 ms * files"),
    ("connection_pooling", "files * 20 ms * (1 - 0.3 * min(1, pool / 10))"),
    ("queue_management", "2 s"),
    ("error_recovery", "files * 0.1 s + 2 s * error_rate"),
    ("scalability", "min(bytes / (20 MiB/s * c * max(0.3, 1 - 0.05 * (c - 1))), 20 s)"),
];

/// The knobs a formula reads, taken from the point's scenario and files.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Point {
    pub bytes: f64,
    pub files: f64,
    /// `max_concurrent_downloads`.
    pub c: f64,
    /// The client's bandwidth limit, bytes/s (`None` = unlimited).
    pub limit_bps: Option<f64>,
    /// Adaptive chunking on (`client.adaptive_read_size`).
    pub adaptive: bool,
    /// `connection_pool_size` (`client.pool.size`).
    pub pool: f64,
    pub error_rate: f64,
}

impl Point {
    pub fn of(s: &Scenario, files: &[FileMeta]) -> Self {
        Point {
            bytes: files.iter().map(|f| f.size as f64).sum(),
            files: files.len() as f64,
            c: s.client.max_concurrent_downloads as f64,
            limit_bps: s.client.bandwidth_limit.as_ref().map(|l| l.rate_bps),
            adaptive: s.client.adaptive_read_size,
            pool: s.client.pool.size as f64,
            error_rate: s.server.faults.error_rate,
        }
    }
}

/// What the original slept for `family` at `p`, s; `None` for a name that
/// is not one of the eight families.
pub fn duration_s(family: &str, p: &Point) -> Option<f64> {
    let mib = MIB as f64;
    let d = match family {
        "concurrent_downloads" => {
            let eff = match p.c {
                c if c <= 1.0 => 1.0,
                c if c <= 4.0 => 0.9,
                c if c <= 8.0 => 0.8,
                _ => 0.7,
            };
            p.bytes / (30.0 * mib * p.c.min(p.files) * eff)
        }
        "bandwidth_limiting" => match p.limit_bps {
            Some(limit) => (p.bytes / limit).min(10.0),
            None => 1.0,
        },
        "adaptive_chunking" => (p.bytes / (50.0 * mib) * if p.adaptive { 0.9 } else { 1.0 }).min(15.0),
        "memory_optimization" => 0.01 * p.files,
        "connection_pooling" => p.files * 0.02 * (1.0 - 0.3 * (p.pool / 10.0).min(1.0)),
        "queue_management" => 2.0,
        "error_recovery" => p.files * 0.1 + 2.0 * p.error_rate,
        "scalability" => {
            let eff = (1.0 - 0.05 * (p.c - 1.0)).max(0.3);
            (p.bytes / (20.0 * mib * p.c * eff)).min(20.0)
        }
        _ => return None,
    };
    Some((d * 1e9).round() / 1e9)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn p() -> Point {
        Point { bytes: 0.0, files: 0.0, c: 1.0, limit_bps: None, adaptive: false, pool: 0.0, error_rate: 0.0 }
    }

    /// Each formula at points where its branches and caps are reached,
    /// against the arithmetic written out.
    #[test]
    fn the_eight_formulas() {
        let mib = MIB as f64;
        let d = |f: &str, q: Point| duration_s(f, &q).unwrap();
        // 60 MiB over 4 files: c = 1 → 30 MiB/s; c = 4 → 4 × 30 × 0.9; c = 8 → min(8, 4) × 30 × 0.8; c = 9 → 4 × 30 × 0.7.
        let cd = Point { bytes: 60.0 * mib, files: 4.0, ..p() };
        assert_eq!(d("concurrent_downloads", Point { c: 1.0, ..cd }), 2.0);
        assert_eq!(d("concurrent_downloads", Point { c: 4.0, ..cd }), (60.0f64 / 108.0 * 1e9).round() / 1e9);
        assert_eq!(d("concurrent_downloads", Point { c: 8.0, ..cd }), 0.625);
        assert_eq!(d("concurrent_downloads", Point { c: 9.0, ..cd }), (60.0f64 / 84.0 * 1e9).round() / 1e9);
        // 50 MiB: at 10 MiB/s 5 s; at 1 MiB/s capped at 10 s; unlimited 1 s.
        let bw = Point { bytes: 50.0 * mib, ..p() };
        assert_eq!(d("bandwidth_limiting", Point { limit_bps: Some(10.0 * mib), ..bw }), 5.0);
        assert_eq!(d("bandwidth_limiting", Point { limit_bps: Some(mib), ..bw }), 10.0);
        assert_eq!(d("bandwidth_limiting", bw), 1.0);
        // 500 MiB at 50 MiB/s: 10 s, 9 s enabled; 1000 MiB capped at 15 s.
        let ac = Point { bytes: 500.0 * mib, ..p() };
        assert_eq!(d("adaptive_chunking", ac), 10.0);
        assert_eq!(d("adaptive_chunking", Point { adaptive: true, ..ac }), 9.0);
        assert_eq!(d("adaptive_chunking", Point { bytes: 1000.0 * mib, ..ac }), 15.0);
        assert_eq!(d("memory_optimization", Point { files: 50.0, ..p() }), 0.5);
        // 50 files × 20 ms = 1 s, less 0.3 × pool/10 (at most 30 %).
        let cp = Point { files: 50.0, ..p() };
        assert_eq!(d("connection_pooling", Point { pool: 5.0, ..cp }), 0.85);
        assert_eq!(d("connection_pooling", Point { pool: 10.0, ..cp }), 0.7);
        assert_eq!(d("connection_pooling", Point { pool: 50.0, ..cp }), 0.7);
        assert_eq!(d("queue_management", p()), 2.0);
        assert_eq!(d("error_recovery", Point { files: 20.0, error_rate: 0.5, ..p() }), 3.0);
        // 40 MiB: c = 2 → 20 × 2 × 0.95 MiB/s; c = 16 → efficiency floored at 0.3; 10 GiB capped at 20 s.
        let sc = Point { bytes: 40.0 * mib, ..p() };
        assert_eq!(d("scalability", Point { c: 2.0, ..sc }), (40.0f64 / 38.0 * 1e9).round() / 1e9);
        assert_eq!(d("scalability", Point { c: 16.0, ..sc }), (40.0f64 / 96.0 * 1e9).round() / 1e9);
        assert_eq!(d("scalability", Point { c: 1.0, bytes: 10240.0 * mib, ..sc }), 20.0);
        assert_eq!(duration_s("concurrency_lan", &p()), None);
        assert!(FORMULAS.iter().all(|(f, _)| duration_s(f, &cd).is_some()));
    }
}
