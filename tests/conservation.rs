//! Conservation, limits and determinism over whole runs with faults.
//!
//! Bytes are accounted three ways, each from its own source: the runtime's
//! wire count (`transferred_bytes`, summed where the link ends each flow),
//! the sizes of completed files (from the workload and the outcomes), and
//! the waste (from the log's failed requests and failed files, plus the
//! runtime's aborted-flow count). No term is a difference of the others.

use dlsim::check::{byte_account, check_run};
use dlsim::orchestrator::FileStatus;
use dlsim::trace::TraceEvent;
use dlsim::{Plan, Scenario, SimOptions, simulate};
use serde_json::json;

fn faulty(scheduling: &str, resume: bool, split: u32) -> Scenario {
    Scenario::from_value(json!({
        "name": "faulty",
        "server": { "bandwidth_bps": 50e6, "latency_ms": 5,
                    "faults": { "error_rate": 0.2, "retry_after_s": 0.5,
                                "mix": { "http_500": 1, "http_429": 1, "http_503": 1, "reset": 2, "stall": 0.5 } } },
        "network": { "rtt_ms": 10, "handshake_rtts": 2, "per_connection_bps": 20e6 },
        "client": { "max_concurrent_downloads": 6, "max_concurrent_files_per_model": 4,
                    "max_connections_per_host": 7, "scheduling": scheduling,
                    "split": split, "min_split_size_bytes": 1000000,
                    "chunking": { "mode": "fixed", "chunk_size_bytes": 1500000 },
                    "pool": { "size": 3 }, "read_timeout_s": 2,
                    "retry": { "max_attempts": 4, "base_s": 0.2, "enable_resume": resume } },
        "workload": { "models": [
            { "name": "a", "priority": "low", "random": { "count": 30, "min_size_bytes": 1000, "max_size_bytes": 8000000 } },
            { "name": "b", "priority": "high", "linear": { "count": 20, "min_size_bytes": 1000, "max_size_bytes": 5000000 },
              "file_priorities": ["low", "high"] } ] }
    }))
    .expect("valid scenario")
}

#[test]
fn every_invariant_holds_under_heavy_faults() {
    let mut totals = [0u64; 3];
    for scheduling in ["interleaved", "sequential_models"] {
        for resume in [true, false] {
            for (split, max_attempts) in [(1, 4), (3, 4), (3, 1)] {
                // One attempt with split files: a failing segment fails its
                // file and aborts the file's other segments in flight.
                let mut s = faulty(scheduling, resume, split);
                s.client.retry.max_attempts = max_attempts;
                for seed in 0..5 {
                    let run = simulate(&Plan::seeded(&s, seed).unwrap(), SimOptions { trace: true });
                    if let Err(v) = check_run(&s, &run) {
                        panic!("{scheduling} resume={resume} split={split} attempts={max_attempts} seed={seed}: {v}");
                    }
                    let completed: u64 = run
                        .files
                        .iter()
                        .zip(&run.outcomes)
                        .filter(|(_, o)| o.status == FileStatus::Completed)
                        .map(|(f, _)| f.size)
                        .sum();
                    assert_eq!(run.stats.useful_bytes, completed);
                    let bytes = byte_account(&run.trace, run.aborted_bytes);
                    assert_eq!(bytes.useful, completed);
                    // Waste from the log alone: what each failed request
                    // brought minus what resume kept, whole, and what the
                    // files that failed had confirmed.
                    let dropped: u64 = run
                        .trace
                        .iter()
                        .map(|e| match e {
                            TraceEvent::RequestFailed { received, kept, .. } => received - kept,
                            _ => 0,
                        })
                        .sum();
                    assert_eq!(bytes.dropped, dropped);
                    assert_eq!(
                        completed + dropped + bytes.failed_files + run.aborted_bytes,
                        run.transferred_bytes,
                        "{scheduling} resume={resume} split={split} attempts={max_attempts} seed={seed}: \
                         useful + wasted = transferred"
                    );
                    if !resume {
                        assert_eq!(bytes.kept, 0, "nothing is kept without resume");
                    }
                    assert_eq!(
                        run.stats.files_completed + run.stats.files_failed,
                        run.files.len() as u32,
                        "every file ends exactly once"
                    );
                    if max_attempts > 1 {
                        assert!(run.stats.retries > 0, "20 % faults must cause retries");
                    }
                    totals[0] += dropped;
                    totals[1] += bytes.failed_files;
                    totals[2] += run.aborted_bytes;
                }
            }
        }
    }
    // Every term of the waste occurs in this matrix, so none goes unchecked.
    assert!(totals.iter().all(|t| *t > 0), "dropped, failed-file and aborted bytes: {totals:?}");
}

/// Every client preset — HEADs, probes, redirects to a CDN with pools per
/// host, per-file pools, work after the last byte — passes every check of
/// `run --check` under faults, on a model with files on both sides of the
/// Hub's LFS threshold (body-less requests are logged as requests of
/// nothing, and each connection's pool as the core keeps it).
#[test]
fn every_preset_passes_every_check_under_faults() {
    for preset in dlsim::scenario::preset::ALL {
        let s = Scenario::from_value(json!({
            "server": { "bandwidth_bps": 50e6, "latency_ms": 2,
                        "faults": { "error_rate": 0.15, "mix": { "http_500": 1, "http_429": 1, "reset": 2 } } },
            "network": { "rtt_ms": 20, "handshake_rtts": 1 },
            "client": { "preset": preset.name() },
            "workload": { "models": [
                { "name": "m", "files": [
                    { "path": "m/config.json", "size_bytes": 1000 },
                    { "path": "m/model-1.safetensors", "size_bytes": 24 * 1024 * 1024 },
                    { "path": "m/model-2.safetensors", "size_bytes": 12 * 1024 * 1024 },
                    { "path": "m/tokenizer.json", "size_bytes": 2 * 1024 * 1024 } ] },
                { "name": "n", "linear": { "count": 12, "min_size_bytes": 1000, "max_size_bytes": 11000000 } } ] }
        }))
        .expect("valid scenario");
        for seed in 0..4 {
            let run = simulate(&Plan::seeded(&s, seed).unwrap(), SimOptions { trace: true });
            if let Err(v) = check_run(&s, &run) {
                panic!("preset {} seed {seed}: {v}", preset.name());
            }
        }
    }
}

#[test]
fn same_seed_same_result_different_seed_different_retries() {
    let s = faulty("interleaved", true, 1);
    let a = simulate(&Plan::seeded(&s, 7).unwrap(), SimOptions { trace: true });
    let b = simulate(&Plan::seeded(&s, 7).unwrap(), SimOptions { trace: true });
    assert_eq!(a.trace, b.trace);
    assert_eq!(a.duration, b.duration);
    let retries: Vec<u64> =
        (0..4).map(|seed| simulate(&Plan::seeded(&s, seed).unwrap(), SimOptions::default()).stats.retries).collect();
    assert!(retries.windows(2).any(|w| w[0] != w[1]), "{retries:?}");
}

#[test]
fn without_faults_everything_completes_and_nothing_is_wasted() {
    let mut s = faulty("interleaved", true, 3);
    s.server.faults.error_rate = 0.0;
    let run = simulate(&Plan::seeded(&s, 1).unwrap(), SimOptions { trace: true });
    check_run(&s, &run).unwrap();
    assert_eq!(run.stats.files_failed, 0);
    let total: u64 = run.files.iter().map(|f| f.size).sum();
    assert_eq!(run.transferred_bytes, total, "the wire carried each file exactly once");
    assert_eq!(run.aborted_bytes, 0);
    assert_eq!(run.stats.retries, 0);
}

#[test]
fn the_byte_check_fails_when_the_wire_count_disagrees_with_the_log() {
    let mut s = faulty("interleaved", true, 3);
    s.client.retry.max_attempts = 1;
    let run = simulate(&Plan::seeded(&s, 2).unwrap(), SimOptions { trace: true });
    check_run(&s, &run).unwrap();
    assert!(run.aborted_bytes > 0 && run.stats.resumed_bytes > 0, "{:?}", run.stats);
    // One byte more or less on the wire, one aborted byte unaccounted:
    // each breaks the identity (no slack).
    for (dt, da) in [(1i64, 0i64), (-1, 0), (0, 1), (0, -1)] {
        let mut bad = run.clone();
        bad.transferred_bytes = bad.transferred_bytes.checked_add_signed(dt).unwrap();
        bad.aborted_bytes = bad.aborted_bytes.checked_add_signed(da).unwrap();
        let v = check_run(&s, &bad).expect_err("off by one byte");
        assert_eq!(v.invariant, "useful + wasted = transferred", "{v}");
    }
    // A failed request that claims one byte more than arrived.
    let mut bad = run.clone();
    let i = bad
        .trace
        .iter()
        .position(|e| matches!(e, TraceEvent::RequestFailed { received, .. } if *received > 0))
        .unwrap();
    if let TraceEvent::RequestFailed { received, kept, .. } = &mut bad.trace[i] {
        *received -= 1;
        *kept = (*kept).min(*received);
    }
    bad.stats.received_bytes -= 1;
    bad.stats.resumed_bytes = dlsim::check::byte_account(&bad.trace, 0).kept;
    assert!(check_run(&s, &bad).is_err());
}
