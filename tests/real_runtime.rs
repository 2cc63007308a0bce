//! The real runtime against the loopback server: byte-exact downloads
//! through faults, the server's fault decisions equal the model's, and real
//! runs are records like the sim's — checked by the invariant checker and
//! reported as `BenchmarkResult`s.

use dlsim::check::{byte_account, check_run};
use dlsim::real::{RealOptions, Server, expected_digests, run_real};
use dlsim::{Plan, RunRecord, Scenario, SimOptions, simulate};
use std::collections::BTreeMap;

fn faulty_scenario() -> Scenario {
    Scenario::from_json(
        r#"{
      "name": "real_faults", "seed": 11,
      "server": { "bandwidth_bps": null, "latency_ms": 0,
                  "faults": { "error_rate": 0.2, "retry_after_s": 0.01,
                              "mix": { "http_500": 2, "http_503": 1, "reset": 3, "stall": 1 } } },
      "network": { "rtt_ms": 0, "handshake_rtts": 1 },
      "client": { "max_concurrent_downloads": 4, "read_timeout_s": 1.0,
                  "chunking": { "mode": "fixed", "chunk_size_bytes": 32768 },
                  "pool": { "size": 2 },
                  "retry": { "base_s": 0.005, "cap_s": 0.02, "max_attempts": 12 } },
      "workload": { "models": [
        { "name": "a", "random": { "count": 24, "min_size_bytes": 1000, "max_size_bytes": 600000 } },
        { "name": "b", "files": [ { "path": "b/odd name.bin", "size_bytes": 262145 } ] } ] }
    }"#,
    )
    .unwrap()
}

fn localhost() -> std::net::SocketAddr {
    "127.0.0.1:0".parse().unwrap()
}

/// A real run with its event log, replayed through the invariant checker.
fn checked_real(s: &Scenario) -> RunRecord {
    let server = Server::for_scenario(s, s.seed, localhost(), false).unwrap();
    let run = run_real(s, s.seed, server.addr(), RealOptions { trace: true, ..RealOptions::default() }).unwrap();
    if let Err(v) = check_run(s, &run) {
        panic!("real run of {}: {v}", s.name);
    }
    run
}

#[test]
fn downloads_are_byte_exact_through_resets_and_retries() {
    let s = faulty_scenario();
    let run = checked_real(&s);
    let expected = expected_digests(&s, s.seed);
    assert_eq!(run.files_completed(), s.workload.expand(s.seed).len(), "{:?}", run.fail_reasons);
    assert!(run.corrupt_files(&expected).is_empty());
    let digests = &run.real().expect("a real run").digests;
    assert!(digests.iter().zip(&expected).all(|(got, want)| got.as_ref() == Some(want)));
    assert!(run.stats.failures_by_kind.get("reset").is_some_and(|n| *n > 0), "{:?}", run.stats.failures_by_kind);
    assert!(run.stats.resumed_bytes > 0);
}

#[test]
fn server_counted_faults_equal_the_model_prediction() {
    let s = faulty_scenario();
    let sim = simulate(&Plan::seeded(&s, s.seed).unwrap(), SimOptions::default());
    let server = Server::for_scenario(&s, s.seed, localhost(), false).unwrap();
    let run = run_real(&s, s.seed, server.addr(), RealOptions::default()).unwrap();
    let predicted: BTreeMap<String, u64> = sim.faults_injected.iter().map(|(k, v)| (k.to_string(), *v)).collect();
    assert!(predicted.len() >= 3, "the scenario exercises several fault kinds: {predicted:?}");
    assert_eq!(server.stats().faults, predicted);
    assert_eq!(run.stats.failures_by_kind, sim.stats.failures_by_kind);
    assert_eq!((run.stats.requests, run.stats.retries), (sim.stats.requests, sim.stats.retries));
    assert_eq!(run.stats.files_completed, sim.stats.files_completed);
}

#[test]
fn the_same_seed_serves_the_same_bytes_and_another_seed_does_not() {
    let s = faulty_scenario();
    assert_eq!(expected_digests(&s, 3), expected_digests(&s, 3));
    assert_ne!(expected_digests(&s, 3), expected_digests(&s, 4));
}

#[test]
fn a_file_failing_on_a_kept_connection_leaves_that_connection_to_others() {
    // HTTP 500s keep the connection: the core releases it (another file may
    // take it at once) before the file fails; failing the file must not
    // close it under the new owner. The sim and the real runtime both finish.
    let s = Scenario::from_json(
        r#"{
      "name": "fail_on_kept_conn", "seed": 5,
      "server": { "bandwidth_bps": null, "latency_ms": 0, "faults": { "error_rate": 0.6 } },
      "network": { "rtt_ms": 0, "handshake_rtts": 1 },
      "client": { "max_concurrent_downloads": 4, "pool": { "size": 1, "block": true },
                  "retry": { "max_attempts": 2, "backoff": "none" } },
      "workload": { "models": [ { "name": "m", "linear": { "count": 24, "min_size_bytes": 100, "max_size_bytes": 5000 } } ] }
    }"#,
    )
    .unwrap();
    let sim = simulate(&Plan::seeded(&s, s.seed).unwrap(), SimOptions { trace: true });
    assert!(sim.stats.files_failed > 0 && sim.stats.files_completed > 0);
    assert_eq!((sim.stats.files_failed + sim.stats.files_completed) as usize, sim.files.len());
    check_run(&s, &sim).unwrap();
    let run = checked_real(&s);
    assert_eq!(run.stats.files_failed, sim.stats.files_failed);
    assert!(run.corrupt_files(&expected_digests(&s, s.seed)).is_empty());
}

#[test]
fn the_validation_matrix_is_loopback_short_and_sound_in_the_sim() {
    use dlsim::real::validate::{check_loopback, matrix_files};
    let dir = std::path::PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/validation"));
    let files = matrix_files(&[dir]).unwrap();
    assert!(files.len() >= 24, "{} scenarios", files.len());
    for f in &files {
        let s = Scenario::load(f).unwrap();
        check_loopback(&s, f).unwrap();
        let run = simulate(&Plan::seeded(&s, s.seed).unwrap(), SimOptions { trace: true });
        check_run(&s, &run).unwrap();
        assert_eq!(run.stats.files_completed as usize, run.files.len(), "{}", s.name);
        assert!(run.duration.as_secs_f64() <= 5.0, "{}: predicted {} s", s.name, run.duration);
    }
}

#[test]
fn a_real_run_is_a_record_reported_and_byte_accounted_like_a_simulated_one() {
    // Resets with resume and without: bytes received and dropped, bytes kept.
    let mut s = faulty_scenario();
    s.client.retry.enable_resume = false;
    let run = checked_real(&s);
    let sim = simulate(&Plan::seeded(&s, s.seed).unwrap(), SimOptions { trace: true });
    check_run(&s, &sim).unwrap();
    let total: u64 = run.files.iter().map(|f| f.size).sum();
    let bytes = byte_account(&run.trace, run.aborted_bytes);
    assert_eq!(bytes.useful, total);
    assert_eq!(bytes.kept, 0);
    assert!(bytes.dropped > 0, "resets without resume throw bytes away");
    // The wire count (socket reads) equals the log's account, byte for byte.
    assert_eq!(run.transferred_bytes, bytes.useful + bytes.wasted());
    // Both are reported through the same function; the fault-driven counts agree.
    let (r, p) = (dlsim::report::from_run(&s, &run), dlsim::report::from_run(&s, &sim));
    assert_eq!((r.files_processed, r.total_bytes), (p.files_processed, p.total_bytes));
    assert_eq!(r.metadata.requests, p.metadata.requests);
    assert_eq!(r.metadata.bytes_wasted, p.metadata.bytes_wasted, "the same resets cut the same bytes");
    assert!(run.real().is_some() && sim.real().is_none());
}

#[test]
fn a_buffered_workload_peaks_at_its_buffers_in_both_runtimes() {
    // One file at a time, buffered whole (below the streaming threshold):
    // the peak is the largest file in both runtimes.
    let s = Scenario::from_json(
        r#"{
      "name": "buffered", "seed": 3,
      "server": { "bandwidth_bps": 1e8, "latency_ms": 0 },
      "network": { "rtt_ms": 0, "handshake_rtts": 1 },
      "client": { "max_concurrent_downloads": 1, "streaming_threshold_bytes": 10000000,
                  "chunking": { "mode": "fixed", "chunk_size_bytes": 65536 } },
      "workload": { "models": [ { "name": "m", "linear": { "count": 4, "min_size_bytes": 100000, "max_size_bytes": 500000 } } ] }
    }"#,
    )
    .unwrap();
    let largest = s.workload.expand(s.seed).iter().map(|f| f.size).max().unwrap();
    let run = checked_real(&s);
    let sim = simulate(&Plan::seeded(&s, s.seed).unwrap(), SimOptions::default());
    assert_eq!(sim.peak_memory_bytes, largest);
    assert_eq!(run.peak_memory_bytes, largest);
}

#[test]
fn validate_records_each_seed_and_fails_when_a_real_run_completes_no_file() {
    // Every request fails and nothing is retried: both runtimes complete no
    // file. The report says so, with the seed each run used; the CLI exits 1.
    let dir = std::env::temp_dir().join(format!("dlsim-validate-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("all_fail.json");
    std::fs::write(
        &path,
        r#"{ "name": "all_fail", "seed": 23,
      "server": { "bandwidth_bps": null, "latency_ms": 0, "faults": { "error_rate": 1.0 } },
      "network": { "rtt_ms": 0, "handshake_rtts": 1 },
      "client": { "retry": { "max_attempts": 1 } },
      "workload": { "models": [ { "name": "m", "linear": { "count": 3, "min_size_bytes": 100, "max_size_bytes": 400 } } ] } }"#,
    )
    .unwrap();
    let report = dlsim::real::validate::validate(std::slice::from_ref(&path), 1, None, None, &mut |_| {}).unwrap();
    assert_eq!(report.seed_override, None);
    assert_eq!(report.rows[0].seed, 23);
    assert_eq!(report.rows[0].runs_without_files, 1);
    assert_eq!((report.checked_runs, report.violations), (2, 0));
    assert_eq!(report.rows[0].real.metadata.files_failed, 3);
    assert!(!report.passed());
    let with_seed =
        dlsim::real::validate::validate(std::slice::from_ref(&path), 1, Some(5), None, &mut |_| {}).unwrap();
    assert_eq!((with_seed.seed_override, with_seed.rows[0].seed), (Some(5), 5));
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dlsim"))
        .args(["validate", "--repeats", "1", "--out"])
        .arg(dir.join("out"))
        .arg(&path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert!(stdout.contains("1 real run(s) completed no file"), "{stdout}");
    let _ = std::fs::remove_dir_all(&dir);
}
