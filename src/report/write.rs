//! Writers: JSON and CSV files (written whole or not at all) and the table
//! printed on stdout.

use super::BenchmarkResult;
use crate::error::{Error, Result};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

const CSV_HEADER: &str = "name,duration,throughput_mbps,success_rate,memory_usage_mb,cpu_usage_percent,\
concurrent_downloads,total_bytes,files_processed,errors,requests,retries,handshakes,pool_hits,pool_misses,\
pool_overflow_discarded,bytes_transferred,bytes_wasted,limiter_wait_s,completion_p50_s,completion_p95_s,\
completion_p99_s,events,time_to_first_file_s,peak_open_connections";

/// Quote a CSV field if it needs it.
fn field(s: &str) -> String {
    if s.contains([',', '"', '\n']) { format!("\"{}\"", s.replace('"', "\"\"")) } else { s.to_string() }
}

/// All results as CSV, one row each.
pub fn csv(results: &[BenchmarkResult]) -> String {
    let mut out = String::from(CSV_HEADER);
    let replications = super::stats::csv_columns(results);
    if let Some((header, _)) = &replications {
        out.push_str(header);
    }
    out.push('\n');
    for (i, r) in results.iter().enumerate() {
        let m = &r.metadata;
        let _ = writeln!(
            out,
            "{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{},{}",
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
            m.time_to_first_file_s,
            m.peak_open_connections,
        );
        if let Some((_, rows)) = &replications {
            out.pop();
            out.push_str(&rows[i]);
            out.push('\n');
        }
    }
    out
}

/// A fixed-width table for the terminal: the original's figures, then the
/// connections at the peak, and file completion times (first file, median,
/// 95th percentile) since the start of the run.
pub fn table(results: &[BenchmarkResult]) -> String {
    let mut out = String::new();
    let w = results.iter().map(|r| r.name.len()).max().unwrap_or(4).max(4);
    let _ = writeln!(
        out,
        "{:<w$}  {:>11}  {:>10}  {:>7}  {:>10}  {:>6}  {:>8}  {:>7}  {:>10}  {:>10}  {:>9}  {:>9}  {:>9}",
        "name",
        "duration_s",
        "MiB/s",
        "success",
        "memory_MiB",
        "cpu_%",
        "requests",
        "retries",
        "handshakes",
        "peak_conns",
        "first_s",
        "p50_s",
        "p95_s"
    );
    for r in results {
        let m = &r.metadata;
        let _ = writeln!(
            out,
            "{:<w$}  {:>11.3}  {:>10.2}  {:>6.1}%  {:>10.2}  {:>6.1}  {:>8}  {:>7}  {:>10}  {:>10}  {:>9.3}  {:>9.3}  {:>9.3}",
            r.name,
            r.duration,
            r.throughput_mbps,
            r.success_rate * 100.0,
            r.memory_usage_mb,
            r.cpu_usage_percent,
            m.requests,
            m.retries,
            m.handshakes,
            m.peak_open_connections,
            m.time_to_first_file_s,
            m.completion_time_s.p50,
            m.completion_time_s.p95,
        );
    }
    out
}

/// Refuse to write a report with a number that is not finite: JSON would
/// hold `null` and CSV `inf`/`NaN`. (`metadata.extra` may hold nulls.)
pub fn check_finite(results: &[BenchmarkResult]) -> Result<()> {
    fn walk(v: &serde_json::Value, path: &str) -> Option<String> {
        match v {
            serde_json::Value::Null => Some(path.to_string()),
            serde_json::Value::Object(m) => m
                .iter()
                .filter(|(k, _)| path != "metadata" || *k != "extra")
                .find_map(|(k, c)| walk(c, &if path.is_empty() { k.clone() } else { format!("{path}.{k}") })),
            serde_json::Value::Array(a) => a.iter().enumerate().find_map(|(i, c)| walk(c, &format!("{path}[{i}]"))),
            _ => None,
        }
    }
    for r in results {
        let v = serde_json::to_value(r).expect("a result serializes");
        if let Some(field) = walk(&v, "") {
            return Err(Error::Other(format!(
                "{}: report field `{field}` is not a finite number (the inputs drive it to infinity or NaN); \
                 no report is written",
                r.name
            )));
        }
    }
    Ok(())
}

/// A temporary name no other process or call uses: the process id and a
/// per-process counter.
fn unique(dir: &Path, name: &str, kind: &str) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    dir.join(format!(".{name}.{}.{n}.{kind}", std::process::id()))
}

/// Write `files` (name, contents) into `dir`, all or nothing: each file is
/// written to a unique temporary name (so concurrent runs into one
/// directory never share one), then renamed into place; an existing file is
/// moved aside first and put back if a later rename fails. On any failure
/// no temporary file is left and every target is as it was.
pub fn write_outputs(dir: &Path, files: &[(String, Vec<u8>)]) -> Result<Vec<PathBuf>> {
    std::fs::create_dir_all(dir).map_err(|source| Error::Write { path: dir.to_path_buf(), source })?;
    let mut tmp: Vec<PathBuf> = Vec::new();
    let remove_all = |paths: &[PathBuf]| {
        for p in paths {
            let _ = std::fs::remove_file(p);
        }
    };
    for (name, bytes) in files {
        let path = unique(dir, name, "tmp");
        let written = std::fs::File::create(&path).and_then(|mut f| {
            use std::io::Write;
            f.write_all(bytes)?;
            f.flush()
        });
        if let Err(source) = written {
            let _ = std::fs::remove_file(&path);
            remove_all(&tmp);
            return Err(Error::Write { path: dir.join(name), source });
        }
        tmp.push(path);
    }
    // (target, backup of what it replaced)
    let mut done: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    let undo = |done: &[(PathBuf, Option<PathBuf>)]| {
        for (target, backup) in done.iter().rev() {
            let _ = std::fs::remove_file(target);
            if let Some(b) = backup {
                let _ = std::fs::rename(b, target);
            }
        }
    };
    for (i, ((name, _), t)) in files.iter().zip(&tmp).enumerate() {
        let target = dir.join(name);
        let step = (|| -> std::io::Result<Option<PathBuf>> {
            let backup = match std::fs::symlink_metadata(&target) {
                Ok(m) if m.is_dir() => {
                    return Err(std::io::Error::new(std::io::ErrorKind::IsADirectory, "a directory is in the way"));
                }
                Ok(_) => {
                    let b = unique(dir, name, "bak");
                    match std::fs::rename(&target, &b) {
                        Ok(()) => Some(b),
                        // A concurrent run moved it aside since we looked:
                        // there is nothing of ours to restore.
                        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                        Err(e) => return Err(e),
                    }
                }
                Err(_) => None,
            };
            if let Err(e) = std::fs::rename(t, &target) {
                if let Some(b) = &backup {
                    let _ = std::fs::rename(b, &target);
                }
                return Err(e);
            }
            Ok(backup)
        })();
        match step {
            Ok(backup) => done.push((target, backup)),
            Err(source) => {
                undo(&done);
                remove_all(&tmp[i..]);
                return Err(Error::Write { path: target, source });
            }
        }
    }
    for (_, backup) in &done {
        if let Some(b) = backup {
            let _ = std::fs::remove_file(b);
        }
    }
    Ok(done.into_iter().map(|(t, _)| t).collect())
}
