//! The real runtime against the loopback server: byte-exact downloads
//! through faults, and the server's fault decisions equal the model's.

use dlsim::real::{RealOptions, Server, expected_digests, run_real};
use dlsim::{Plan, Scenario, SimOptions, simulate};
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

#[test]
fn downloads_are_byte_exact_through_resets_and_retries() {
    let s = faulty_scenario();
    let server = Server::for_scenario(&s, s.seed, localhost(), false).unwrap();
    let run = run_real(&s, s.seed, server.addr(), RealOptions::default()).unwrap();
    let expected = expected_digests(&s, s.seed);
    assert_eq!(run.files_completed(), s.workload.expand(s.seed).len(), "{:?}", run.fail_reasons);
    assert!(run.corrupt_files(&expected).is_empty());
    assert!(run.digests.iter().zip(&expected).all(|(got, want)| got.as_ref() == Some(want)));
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
    dlsim::check::check(&sim.trace, &s, &sim.files).unwrap();
    let server = Server::for_scenario(&s, s.seed, localhost(), false).unwrap();
    let run = run_real(&s, s.seed, server.addr(), RealOptions::default()).unwrap();
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
        dlsim::check::check(&run.trace, &s, &run.files).unwrap();
        assert_eq!(run.stats.files_completed as usize, run.files.len(), "{}", s.name);
        assert!(run.duration.as_secs_f64() <= 5.0, "{}: predicted {} s", s.name, run.duration);
    }
}
