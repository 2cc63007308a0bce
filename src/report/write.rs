//! Writers: JSON and CSV files (written whole or not at all) and the table
//! printed on stdout.

use super::BenchmarkResult;
use crate::error::{Error, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};

const CSV_HEADER: &str = "name,duration,throughput_mbps,success_rate,memory_usage_mb,cpu_usage_percent,\
concurrent_downloads,total_bytes,files_processed,errors,requests,retries,handshakes,pool_hits,pool_misses,\
pool_overflow_discarded,bytes_transferred,bytes_wasted,limiter_wait_s,completion_p50_s,completion_p95_s,\
completion_p99_s,events";

/// Quote a CSV field if it needs it.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// All results as CSV, one row each.
pub fn csv(results: &[BenchmarkResult]) -> String {
    let mut out = String::from(CSV_HEADER);
    out.push('\n');
    for r in results {
        let m = &r.metadata;
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
            field(&r.name),
            r.duration,
            r.throughput_mbps,
            r.success_rate,
            r.memory_usage_mb,
            r.cpu_usage_percent,
            r.concurrent_downloads,
            r.total_bytes,
            r.files_processed,
            m.files_failed,
            m.requests,
            m.retries,
            m.handshakes,
            m.pool_hits,
            m.pool_misses,
            m.pool_overflow_discarded,
            m.bytes_transferred,
            m.bytes_wasted,
            m.limiter_wait_s,
            m.completion_time_s.p50,
            m.completion_time_s.p95,
            m.completion_time_s.p99,
            m.events,
        );
    }
    out
}

/// A fixed-width table for the terminal.
pub fn table(results: &[BenchmarkResult]) -> String {
    let mut out = String::new();
    let w = results.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    let _ = writeln!(
        out,
        "{:<w$}  {:>11}  {:>10}  {:>7}  {:>9}  {:>6}  {:>8}  {:>7}  {:>10}  {:>9}",
        "name", "duration_s", "MiB/s", "success", "memory_MiB", "cpu_%", "requests", "retries", "handshakes", "p95_s"
    );
    for r in results {
        let m = &r.metadata;
        let _ = writeln!(
            out,
            "{:<w$}  {:>11.3}  {:>10.2}  {:>6.1}%  {:>9.2}  {:>6.1}  {:>8}  {:>7}  {:>10}  {:>9.3}",
            r.name,
            r.duration,
            r.throughput_mbps,
            r.success_rate * 100.0,
            r.memory_usage_mb,
            r.cpu_usage_percent,
            m.requests,
            m.retries,
            m.handshakes,
            m.completion_time_s.p95,
        );
    }
    out
}

/// Write `files` (name, contents) into `dir` atomically: everything is
/// rendered first, each file goes to a temporary name and is renamed into
/// place, so a failure leaves no partial output.
pub fn write_outputs(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.to_path_buf(), source })?;
    let mut tmp = Vec::new();
    for (name, bytes) in files {
        let path = dir.join(format!(".{name}.tmp"));
        if let Err(source) = std::fs::write(&path, bytes) {
            for p in &tmp {
                let _ = std::fs::remove_file(p);
            }
            return Err(Error::Write { path, source });
        }
        tmp.push(path);
    }
    let mut done = Vec::new();
    for ((name, _), t) in files.iter().zip(&tmp) {
        let path = dir.join(name);
        std::fs::rename(t, &path).map_err(|source| Error::Write { path: path.clone(), source })?;
        done.push(path);
    }
    Ok(done)
}
