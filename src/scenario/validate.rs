//! Range checks that serde cannot express. Each error names the field, the
//! bad value and what is allowed.

use super::schema::*;
use crate::error::{Error, Result};
use std::collections::BTreeSet;

fn finite_at_least(field: &str, v: f64, min: f64) -> Result<()> {
    if !v.is_finite() || v < min {
        return Err(Error::scenario(field, format!("must be a finite number ≥ {min}, got {}", v.shown())));
    }
    Ok(())
}

fn positive(field: &str, v: f64) -> Result<()> {
    if !v.is_finite() || v <= 0.0 {
        return Err(Error::scenario(field, format!("must be a finite number > 0, got {}", v.shown())));
    }
    Ok(())
}

/// Smallest rate a `_bps` field accepts, bytes/s. Slower is no network a
/// download runs over, and a rate of 1e-300 B/s overflowed every duration
/// computed from it.
pub const MIN_RATE_BPS: f64 = 1.0;

fn rate(field: &str, v: f64) -> Result<()> {
    if !v.is_finite() || v < MIN_RATE_BPS {
        return Err(Error::scenario(
            field,
            format!("must be a finite rate ≥ {MIN_RATE_BPS} B/s (bytes per second), got {v}"),
        ));
    }
    Ok(())
}

/// A number as shown in a message: huge or tiny floats in scientific form.
pub trait Shown: PartialOrd + Copy {
    fn shown(self) -> String;
}
impl Shown for u32 {
    fn shown(self) -> String {
        self.to_string()
    }
}
impl Shown for u64 {
    fn shown(self) -> String {
        self.to_string()
    }
}
impl Shown for f64 {
    fn shown(self) -> String {
        let a = self.abs();
        if a != 0.0 && !(1e-6..1e15).contains(&a) { format!("{self:e}") } else { self.to_string() }
    }
}

fn in_range<T: Shown>(field: &str, v: T, lo: T, hi: T) -> Result<()> {
    // Written so NaN (which compares false) is refused too.
    if !(v >= lo && v <= hi) {
        return Err(Error::scenario(field, format!("must be in [{}, {}], got {}", lo.shown(), hi.shown(), v.shown())));
    }
    Ok(())
}

/// Largest count of files in one workload.
pub const MAX_FILES: u64 = 10_000_000;
/// Longest result name, bytes (it names the report files).
pub const MAX_NAME_BYTES: usize = 200;

/// `s` as echoed in a message: at most 60 characters, then the length.
pub fn excerpt(s: &str) -> String {
    const KEEP: usize = 60;
    match s.char_indices().nth(KEEP) {
        None => s.to_string(),
        Some((cut, _)) => format!("{}… ({} bytes in all)", &s[..cut], s.len()),
    }
}

impl Scenario {
    pub fn validate(&self) -> Result<()> {
        let safe = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
        if self.name.is_empty()
            || self.name.len() > MAX_NAME_BYTES
            || !self.name.chars().all(safe)
            || self.name.starts_with('.')
        {
            return Err(Error::scenario(
                "name",
                format!(
                    "must be a file name of letters, digits, '.', '_' or '-' (not starting with '.'), \
                     at most {MAX_NAME_BYTES} bytes, got {:?}",
                    excerpt(&self.name)
                ),
            ));
        }
        let s = &self.server;
        if let Some(b) = s.bandwidth_bps {
            rate("server.bandwidth_bps", b)?;
        }
        in_range("server.latency_ms", s.latency_ms, 0.0, 3_600_000.0)?;
        if let Some(c) = s.max_concurrent_requests {
            in_range("server.max_concurrent_requests", c, 1, u32::MAX)?;
        }
        in_range("server.keep_alive_max_requests", s.keep_alive_max_requests, 1, u32::MAX)?;
        if let Some(q) = s.write_quantum_bytes {
            in_range("server.write_quantum_bytes", q, 1, 1 << 30)?;
        }
        let f = &s.faults;
        in_range("server.faults.error_rate", f.error_rate, 0.0, 1.0)?;
        let m = &f.mix;
        for (k, w) in [
            ("http_500", m.http_500),
            ("http_429", m.http_429),
            ("http_503", m.http_503),
            ("reset", m.reset),
            ("stall", m.stall),
        ] {
            finite_at_least(&format!("server.faults.mix.{k}"), w, 0.0)?;
        }
        if f.error_rate > 0.0 && m.http_500 + m.http_429 + m.http_503 + m.reset + m.stall <= 0.0 {
            return Err(Error::scenario("server.faults.mix", "weights must not all be 0 when error_rate > 0"));
        }
        in_range("server.faults.retry_after_s", f.retry_after_s, 0.0, 86_400.0)?;
        in_range("server.faults.resets_per_gib", f.resets_per_gib, 0.0, 1_000_000.0)?;

        let n = &self.network;
        in_range("network.rtt_ms", n.rtt_ms, 0.0, 60_000.0)?;
        if let Some(h) = n.handshake_rtts {
            in_range("network.handshake_rtts", h, 0, 10)?;
        }
        if let Some(c) = n.per_connection_bps {
            rate("network.per_connection_bps", c)?;
        }
        if let Some(w) = n.tcp_window_bytes {
            in_range("network.tcp_window_bytes", w, 1, u64::MAX)?;
            if n.rtt_ms <= 0.0 {
                return Err(Error::scenario("network.tcp_window_bytes", "a window cap needs network.rtt_ms > 0"));
            }
        }
        in_range("network.request_overhead_ms", n.request_overhead_ms, 0.0, 60_000.0)?;
        in_range("network.connect_overhead_ms", n.connect_overhead_ms, 0.0, 60_000.0)?;
        in_range("network.initial_window_segments", n.initial_window_segments, 1, 1_000_000)?;
        in_range("network.mss_bytes", n.mss_bytes, 1, 65_535)?;
        if let Some(q) = n.queue_bytes {
            in_range("network.queue_bytes", q, 1, u64::MAX)?;
        }

        let c = &self.client;
        in_range("client.max_concurrent_downloads", c.max_concurrent_downloads, 1, 1_000_000)?;
        in_range("client.max_concurrent_files_per_model", c.max_concurrent_files_per_model, 1, 1_000_000)?;
        if let Some(h) = c.max_connections_per_host {
            in_range("client.max_connections_per_host", h, 1, 1_000_000)?;
        }
        let ch = &c.chunking;
        in_range("client.chunking.chunk_size_bytes", ch.chunk_size_bytes, 1, u64::MAX)?;
        positive("client.chunking.target_chunk_time_ms", ch.target_chunk_time_ms)?;
        in_range("client.chunking.min_chunk_bytes", ch.min_chunk_bytes, 1, u64::MAX)?;
        in_range("client.chunking.max_chunk_bytes", ch.max_chunk_bytes, ch.min_chunk_bytes, u64::MAX)?;
        in_range("client.read_size_bytes", c.read_size_bytes, 1, 1 << 40)?;
        // hf_transfer's fan-out keeps `max_files` (100 by default) ranges of one file in flight.
        let max_split = if c.split_rule == super::schema::SplitRule::FanOut { 1000 } else { 64 };
        in_range("client.split", c.split, 1, max_split)?;
        in_range("client.startup_ms", c.startup_ms, 0.0, 3_600_000.0)?;
        in_range("client.per_file_overhead_ms", c.per_file_overhead_ms, 0.0, 60_000.0)?;
        in_range("client.per_file_overhead_after_share", c.per_file_overhead_after_share, 0.0, 1.0)?;
        in_range("client.per_mib_overhead_ms", c.per_mib_overhead_ms, 0.0, 60_000.0)?;
        in_range("client.per_range_mib_overhead_ms", c.per_range_mib_overhead_ms, 0.0, 60_000.0)?;
        if let Some(n) = c.per_file_overhead_lanes {
            in_range("client.per_file_overhead_lanes", n, 1, 1024)?;
        }
        in_range("client.min_split_size_bytes", c.min_split_size_bytes, 1, u64::MAX)?;
        let p = &c.pool;
        if p.block && p.size == 0 {
            return Err(Error::scenario("client.pool.size", "must be ≥ 1 when client.pool.block is true, got 0"));
        }
        in_range("client.pool.idle_timeout_s", p.idle_timeout_s, 0.0, 86_400.0)?;
        in_range("client.pool.max_requests_per_connection", p.max_requests_per_connection, 1, u32::MAX)?;
        let r = &c.retry;
        in_range("client.retry.max_attempts", r.max_attempts, 1, 1000)?;
        in_range("client.retry.base_s", r.base_s, 0.0, 86_400.0)?;
        in_range("client.retry.factor", r.factor, 1.0, 100.0)?;
        in_range("client.retry.cap_s", r.cap_s, 0.0, 86_400.0)?;
        if !(0.0..1.0).contains(&r.jitter) {
            return Err(Error::scenario("client.retry.jitter", format!("must be in [0, 1), got {}", r.jitter)));
        }
        if let Some(g) = r.parallel_failures {
            in_range("client.retry.parallel_failures", g, 1, u32::MAX)?;
        }
        for k in &r.not_retried {
            if !crate::orchestrator::retry::KINDS.contains(&k.as_str()) {
                return Err(Error::scenario(
                    "client.retry.not_retried",
                    format!(
                        "unknown failure kind {:?} (allowed: {})",
                        excerpt(k),
                        crate::orchestrator::retry::KINDS.join(", ")
                    ),
                ));
            }
        }
        if !(c.read_timeout_s.is_finite() && c.read_timeout_s > 0.0 && c.read_timeout_s <= 86_400.0) {
            return Err(Error::scenario(
                "client.read_timeout_s",
                format!("must be in (0, 86400], got {}", c.read_timeout_s),
            ));
        }
        if let Some(l) = &c.bandwidth_limit {
            rate("client.bandwidth_limit.rate_bps", l.rate_bps)?;
            if let Some(b) = l.burst_bytes {
                finite_at_least("client.bandwidth_limit.burst_bytes", b, 0.0)?;
            }
        }
        let cpu = &c.cpu;
        for (k, v) in [
            ("per_request_us", cpu.per_request_us),
            ("per_connection_us", cpu.per_connection_us),
            ("per_read_us", cpu.per_read_us),
            ("per_byte_ns", cpu.per_byte_ns),
        ] {
            // Bounded so the modelled CPU time (and its percentage) stays finite.
            in_range(&format!("client.cpu.{k}"), v, 0.0, 1e9)?;
        }
        in_range("client.cpu.cores", cpu.cores, 1, 1024)?;

        self.validate_workload()
    }

    fn validate_workload(&self) -> Result<()> {
        let models = &self.workload.models;
        if models.is_empty() {
            return Err(Error::scenario("workload.models", "must list at least one model"));
        }
        let mut names = BTreeSet::new();
        let mut total: u64 = 0;
        for (i, m) in models.iter().enumerate() {
            let at = format!("workload.models[{i}]");
            if m.name.trim().is_empty() || m.name.len() > 4096 {
                return Err(Error::scenario(
                    format!("{at}.name"),
                    format!("must be 1 to 4096 bytes long and not blank, got {} bytes", m.name.len()),
                ));
            }
            if !names.insert(m.name.as_str()) {
                return Err(Error::scenario(
                    format!("{at}.name"),
                    format!("duplicate model name {:?}", excerpt(&m.name)),
                ));
            }
            let given = [!m.files.is_empty(), m.linear.is_some(), m.random.is_some()];
            if given.iter().filter(|g| **g).count() != 1 {
                return Err(Error::scenario(at, "give exactly one of `files` (non-empty), `linear` or `random`"));
            }
            let ok = |len: usize, size: u64| (1..=4096).contains(&len) && size != 0;
            if let Some((j, f)) = m.files.find_invalid(ok) {
                if f.path.is_empty() || f.path.len() > 4096 {
                    return Err(Error::scenario(
                        format!("{at}.files[{j}].path"),
                        format!("must be 1 to 4096 bytes long, got {} bytes", f.path.len()),
                    ));
                }
                if f.size_bytes == 0 {
                    return Err(Error::scenario(format!("{at}.files[{j}].size_bytes"), "must be ≥ 1, got 0"));
                }
            }
            for (key, range) in [("linear", &m.linear), ("random", &m.random)] {
                if let Some(r) = range {
                    in_range(&format!("{at}.{key}.count"), r.count as u64, 1, MAX_FILES)?;
                    in_range(&format!("{at}.{key}.min_size_bytes"), r.min_size_bytes, 1, u64::MAX)?;
                    if r.min_size_bytes > r.max_size_bytes {
                        return Err(Error::scenario(
                            format!("{at}.{key}.max_size_bytes"),
                            format!("must be ≥ min_size_bytes ({}), got {}", r.min_size_bytes, r.max_size_bytes),
                        ));
                    }
                }
            }
            total += m.files.len() as u64 + m.linear.as_ref().or(m.random.as_ref()).map_or(0, |r| r.count as u64);
        }
        if total > MAX_FILES {
            return Err(Error::scenario("workload.models", format!("at most {MAX_FILES} files in all, got {total}")));
        }
        Ok(())
    }
}
