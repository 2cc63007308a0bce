//! The legacy estimate: a reconstruction of the guessed formula the Python
//! suite slept for. It assumed every download runs at a fixed 10 MiB/s,
//! that concurrency scales linearly without bound, a fixed 0.1 s per file,
//! and one extra attempt per error; it knew only a bandwidth limit the
//! benchmark set explicitly. It ignores RTT, handshakes, pooling, chunking,
//! backoff and the network's bottleneck. Each result carries it in
//! `metadata.legacy_estimate` next to the modelled figures.

use crate::scenario::{File, MIB, Scenario};
use serde::{Deserialize, Serialize};

/// Assumed speed of one download, bytes/s.
pub const RATE_PER_DOWNLOAD_BPS: f64 = 10.0 * MIB as f64;
/// Assumed fixed cost per file, s.
pub const PER_FILE_S: f64 = 0.1;

/// The formula, as written into the report.
pub const FORMULA: &str = "legacy duration_s = (files * 0.1 / c + bytes / min(c * 10 MiB/s, limit)) * (1 + error_rate), \
c = min(max_concurrent_downloads, files), limit = the bandwidth limit the benchmark set (if any); \
throughput_mbps = bytes / MiB / duration_s";

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct Estimate {
    pub duration_s: f64,
    pub throughput_mbps: f64,
}

/// What the formula claims for `files` under `s`; `limit_bps` is the limit
/// the benchmark set explicitly.
pub fn estimate(s: &Scenario, files: &[File], limit_bps: Option<f64>) -> Estimate {
    let n = files.len() as f64;
    let bytes: f64 = files.iter().map(|f| f.size as f64).sum();
    let c = (s.client.max_concurrent_downloads as f64).min(n).max(1.0);
    let rate = (c * RATE_PER_DOWNLOAD_BPS).min(limit_bps.unwrap_or(f64::INFINITY));
    let duration_s = (n * PER_FILE_S / c + bytes / rate) * (1.0 + s.server.faults.error_rate);
    let r9 = |x: f64| (x * 1e9).round() / 1e9;
    Estimate { duration_s: r9(duration_s), throughput_mbps: r9(bytes / MIB as f64 / duration_s) }
}

/// The limit the benchmark set: the client limiter's rate, or the server's
/// bandwidth when the sweep varies it.
pub fn explicit_limit(s: &Scenario, knob: Option<&str>) -> Option<f64> {
    let server = if knob == Some("server.bandwidth_bps") { s.server.bandwidth_bps } else { None };
    let client = s.client.bandwidth_limit.as_ref().map(|l| l.rate_bps);
    match (server, client) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn linear_in_concurrency_and_capped_by_the_limit() {
        let mut s = Scenario::from_json(
            r#"{"workload":{"models":[{"name":"m","linear":{"count":4,"min_size_bytes":10485760,"max_size_bytes":10485760}}]}}"#,
        )
        .unwrap();
        let files = s.workload.expand(0);
        s.client.max_concurrent_downloads = 1;
        let one = estimate(&s, &files, None);
        assert!((one.duration_s - (0.4 + 4.0)).abs() < 1e-9, "{one:?}");
        s.client.max_concurrent_downloads = 4;
        let four = estimate(&s, &files, None);
        assert!((four.duration_s - (0.1 + 1.0)).abs() < 1e-9, "{four:?}");
        let limited = estimate(&s, &files, Some(MIB as f64));
        assert!((limited.duration_s - (0.1 + 40.0)).abs() < 1e-9, "{limited:?}");
        s.server.faults.error_rate = 0.5;
        assert!((estimate(&s, &files, None).duration_s - 1.5 * 1.1).abs() < 1e-9);
    }
}
