//! Edges of the policy core that mutation testing (issue 8 §8) found no test
//! for: the adaptive read size's speed history, the size boundaries of the
//! by-file-type priority rule, the parallel-failure counter and the read
//! count of failed requests. Each expected value is derived here from the
//! documented rule.

use dlsim::scenario::{KIB, MIB, Priority};
use dlsim::{Plan, Scenario, SimOptions, simulate};
use serde_json::json;

fn run(s: serde_json::Value) -> dlsim::RunRecord {
    let s = Scenario::from_value(s).expect("valid test scenario");
    simulate(&Plan::seeded(&s, 1).unwrap(), SimOptions::default())
}

/// Files of `sizes` one after another with adaptive read sizes, after a
/// start-up of `startup_ms`: 100 MiB/s, 100 ms latency, no RTT, no CPU cost.
fn adaptive_reads(startup_ms: u64, sizes: &[u64]) -> dlsim::RunRecord {
    let files: Vec<_> = sizes
        .iter()
        .enumerate()
        .map(|(i, size)| json!({ "path": format!("m/{}.bin", (b'a' + i as u8) as char), "size_bytes": size }))
        .collect();
    run(json!({
        "server": { "bandwidth_bps": 100 * MIB, "latency_ms": 100 },
        "network": { "rtt_ms": 0, "handshake_rtts": 0 },
        "client": {
            "max_concurrent_downloads": 1,
            "startup_ms": startup_ms,
            "adaptive_read_size": true,
            "cpu": { "per_request_us": 0, "per_connection_us": 0, "per_read_us": 0, "per_byte_ns": 0 }
        },
        "workload": { "models": [ { "name": "m", "files": files } ] }
    }))
}

/// One connection, files one after another, 100 MiB/s and 100 ms to the first
/// byte, no RTT and no client CPU cost, so a file of S bytes takes exactly
/// 0.1 s + S / 100 MiB/s and its speed is S over that.
///
/// - A, 90 MiB: no file has completed, so its read unit is the table's
///   256 KiB (< 100 MiB): 360 reads. Speed 90 MiB / 1.0 s = 90 MiB/s.
/// - B, 64 KiB: mean of [A] = 90 MiB/s > 50 MiB/s, so the table's 8 KiB
///   (< 1 MiB) doubles to 16 KiB: 4 reads. Speed 64 KiB / 0.100625 s ≈ 0.62 MiB/s.
/// - C, 2 MiB: mean of [A, B] ≈ 45.3 MiB/s, between 1 and 50 MiB/s, so the
///   table's 64 KiB (< 10 MiB) stays: 32 reads. (The last speed alone, B's,
///   would halve it; no history at all would leave B at 8 KiB.)
#[test]
fn adaptive_read_size_follows_the_mean_speed_of_completed_files() {
    let run = adaptive_reads(0, &[90 * MIB, 64 * KIB, 2 * MIB]);
    let speed = |size: u64| size as f64 / (0.1 + size as f64 / (100 * MIB) as f64);
    let (a, b) = (speed(90 * MIB), speed(64 * KIB));
    assert!(a > 50.0 * MIB as f64 && b < MIB as f64);
    let mean_ab = (a + b) / 2.0;
    assert!(mean_ab > MIB as f64 && mean_ab < 50.0 * MIB as f64);
    let reads = (90 * MIB).div_ceil(256 * KIB) + (64 * KIB).div_ceil(16 * KIB) + (2 * MIB).div_ceil(64 * KIB);
    assert_eq!(run.stats.files_completed, 3);
    assert_eq!(run.stats.reads, reads);
}

/// `.json/.yaml/.yml/.txt` are high; other files are normal below 100 MiB and
/// low from 100 MiB on — the core's rule and the checker's own copy agree at
/// both sides of the boundary.
#[test]
fn by_file_type_priority_changes_exactly_at_100_mib() {
    let cases = [
        ("w.bin", 1, Priority::Normal),
        ("w.bin", 2 * MIB, Priority::Normal),
        ("w.bin", 100 * MIB - 1, Priority::Normal),
        ("w.bin", 100 * MIB, Priority::Low),
        ("W.SAFETENSORS", 9 * 1000 * MIB, Priority::Low),
        ("Config.JSON", 100 * MIB, Priority::High),
        ("notes.txt", 1, Priority::High),
        ("a.yml", 200 * MIB, Priority::High),
    ];
    for (path, size, want) in cases {
        assert_eq!(dlsim::orchestrator::priority_by_file_type(path, size), want, "{path} {size}");
        assert_eq!(dlsim::check::by_file_type(path, size), want, "checker: {path} {size}");
    }
}

/// Every request fails with a 500; with `parallel_failures: 1` a failure
/// while another range waits to retry fails its file. Each such file ends
/// with the "too many parallel failures" reason, and the counter says how
/// many there were.
#[test]
fn parallel_failure_trips_are_counted_once_per_tripped_file() {
    let run = run(json!({
        "server": { "bandwidth_bps": 10 * MIB, "latency_ms": 10, "faults": { "error_rate": 1.0 } },
        "network": { "rtt_ms": 0, "handshake_rtts": 0 },
        "client": {
            "max_concurrent_downloads": 4,
            "retry": { "parallel_failures": 1, "max_attempts": 3 }
        },
        "workload": { "models": [ { "name": "m", "linear": { "count": 4, "min_size_bytes": MIB, "max_size_bytes": 2 * MIB } } ] }
    }));
    let tripped = run.fail_reasons.values().filter(|r| r.contains("too many parallel failures")).count() as u64;
    assert!(tripped >= 1, "reasons: {:?}", run.fail_reasons);
    assert_eq!(run.stats.parallel_failure_trips, tripped);
    assert_eq!(run.stats.files_failed, 4);
}

/// Socket reads (the per-read CPU cost's count) are ⌈bytes / read size⌉ per
/// request: the whole range of a completed one and the received part of a
/// failed one. Resets cut bodies mid-way (resets_per_gib) and resume keeps
/// what arrived, so both kinds occur; the expected count is summed from the
/// run's own trace.
#[test]
fn reads_count_every_received_byte_of_done_and_failed_requests() {
    let s = Scenario::from_value(json!({
        "server": { "bandwidth_bps": 10 * MIB, "latency_ms": 5, "faults": { "resets_per_gib": 2048 } },
        "network": { "rtt_ms": 0, "handshake_rtts": 0 },
        "client": { "read_size_bytes": 64 * KIB, "max_concurrent_downloads": 4, "retry": { "max_attempts": 20 } },
        "workload": { "models": [ { "name": "m", "linear": { "count": 8, "min_size_bytes": MIB, "max_size_bytes": 2 * MIB } } ] }
    }))
    .expect("valid test scenario");
    let run = simulate(&Plan::seeded(&s, 1).unwrap(), SimOptions { trace: true });
    let (mut reads, mut partial) = (0, 0);
    for e in &run.trace {
        match e {
            dlsim::trace::TraceEvent::RequestDone { bytes, .. } => reads += bytes.div_ceil(64 * KIB),
            dlsim::trace::TraceEvent::RequestFailed { received, .. } => {
                reads += received.div_ceil(64 * KIB);
                partial += u64::from(*received > 0);
            }
            _ => {}
        }
    }
    assert!(partial >= 3, "the resets cut {partial} bodies mid-way");
    assert_eq!(run.stats.reads, reads);
}

/// The head of a response is due `latency` after the request (no RTT, no
/// handshake here). A read timeout of exactly that long is met: the client
/// gives up only on a head that comes strictly later.
#[test]
fn a_head_arriving_exactly_at_the_read_timeout_is_in_time() {
    let scenario = |timeout_s: f64| {
        json!({
            "server": { "bandwidth_bps": 10 * MIB, "latency_ms": 100 },
            "network": { "rtt_ms": 0, "handshake_rtts": 0 },
            "client": { "read_timeout_s": timeout_s, "retry": { "max_attempts": 1 } },
            "workload": { "models": [ { "name": "m", "files": [ { "path": "a.bin", "size_bytes": MIB } ] } ] }
        })
    };
    let on_time = run(scenario(0.1));
    assert_eq!(on_time.stats.files_failed, 0);
    // 0.1 s to the head + 1 MiB at 10 MiB/s.
    assert_eq!(on_time.duration.as_nanos(), 200_000_000);
    let late = run(scenario(0.099_999_999));
    assert_eq!(late.stats.files_failed, 1);
}

/// A tool's start-up (`client.startup_ms`) delays every request by exactly
/// that long: 1 MiB at 10 MiB/s after 100 ms of latency ends at 0.2 s, and
/// 250 ms later with the start-up.
#[test]
fn startup_delays_the_whole_run_by_exactly_its_length() {
    let scenario = |startup_ms: f64| {
        json!({
            "server": { "bandwidth_bps": 10 * MIB, "latency_ms": 100 },
            "network": { "rtt_ms": 0, "handshake_rtts": 0 },
            "client": { "startup_ms": startup_ms },
            "workload": { "models": [ { "name": "m", "files": [ { "path": "a.bin", "size_bytes": MIB } ] } ] }
        })
    };
    assert_eq!(run(scenario(0.0)).duration.as_nanos(), 200_000_000);
    assert_eq!(run(scenario(250.0)).duration.as_nanos(), 450_000_000);
}

/// `chunking.mode = adaptive_table` sizes each request from the segment's
/// last measured speed. A 4 MiB file at 100 MiB/s with no latency: the first
/// request has no measurement, so it takes the table's 64 KiB (< 10 MiB);
/// it runs at 100 MiB/s (> 50 MiB/s), so the rest go in doubled 128 KiB
/// requests: 1 + ⌈(4 MiB − 64 KiB) / 128 KiB⌉ = 33 requests (64 without
/// the measurement).
#[test]
fn adaptive_chunks_double_after_a_fast_request() {
    let run = run(json!({
        "server": { "bandwidth_bps": 100 * MIB, "latency_ms": 0 },
        "network": { "rtt_ms": 0, "handshake_rtts": 0 },
        "client": {
            "chunking": { "mode": "adaptive_table" },
            "cpu": { "per_request_us": 0, "per_connection_us": 0, "per_read_us": 0, "per_byte_ns": 0 }
        },
        "workload": { "models": [ { "name": "m", "files": [ { "path": "m/a.bin", "size_bytes": 4 * MIB } ] } ] }
    }));
    assert_eq!(run.stats.files_completed, 1);
    assert_eq!(run.stats.requests, 1 + (4 * MIB - 64 * KIB).div_ceil(128 * KIB));
}

/// A file's speed (for `adaptive_read_size`) is its size over the time from
/// its own dispatch to its end, not from the start of the run. After a 10 s
/// start-up (`client.startup_ms`), A (90 MiB, read in the table's 256 KiB)
/// is dispatched at 10 s and ends at 11 s (0.1 s latency + 0.9 s): at
/// 90 MiB/s, above 50 MiB/s, so B (64 KiB) reads in doubled 16 KiB units:
/// 4 reads. Timed from the run's start, 90 MiB / 11 s ≈ 8.2 MiB/s would
/// leave B at the table's 8 KiB: 8 reads.
#[test]
fn a_file_speed_is_timed_from_its_own_dispatch() {
    let run = adaptive_reads(10_000, &[90 * MIB, 64 * KIB]);
    assert_eq!(run.stats.files_completed, 2);
    assert_eq!(run.stats.reads, (90 * MIB).div_ceil(256 * KIB) + (64 * KIB).div_ceil(16 * KIB));
}

/// A stalled request holds one of the server's request slots until the
/// client's read timeout ends it, then frees it. One connection, files one
/// after another, half the requests stalled, a server limit of one request
/// at a time: the connection never has two requests, so the server never
/// answers 503, and every file completes after its stalls are retried.
#[test]
fn a_timed_out_stall_frees_its_server_slot() {
    let run = run(json!({
        "server": {
            "bandwidth_bps": 10 * MIB, "latency_ms": 10, "max_concurrent_requests": 1,
            "faults": { "error_rate": 0.5, "mix": { "http_500": 0, "stall": 1 } }
        },
        "network": { "rtt_ms": 0, "handshake_rtts": 0 },
        "client": { "max_concurrent_downloads": 1, "read_timeout_s": 1, "retry": { "max_attempts": 20 } },
        "workload": { "models": [ { "name": "m", "linear": { "count": 20, "min_size_bytes": 64 * KIB, "max_size_bytes": 128 * KIB } } ] }
    }));
    let timeouts = run.stats.failures_by_kind.get("timeout").copied().unwrap_or(0);
    assert!(timeouts >= 5, "{timeouts} stalls");
    assert_eq!(run.stats.failures_by_kind.get("http_503"), None, "{:?}", run.stats.failures_by_kind);
    assert_eq!(run.stats.files_completed, 20);
}
