//! Conservation, limits and determinism over whole runs with faults.

use dlsim::check::check;
use dlsim::orchestrator::FileStatus;
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
    for scheduling in ["interleaved", "sequential_models"] {
        for resume in [true, false] {
            for split in [1, 3] {
                let s = faulty(scheduling, resume, split);
                for seed in 0..5 {
                    let run = simulate(&Plan::seeded(&s, seed).unwrap(), SimOptions { trace: true });
                    if let Err(v) = check(&run.trace, &s, &run.files) {
                        panic!("{scheduling} resume={resume} split={split} seed={seed}: {v}");
                    }
                    let completed: u64 = run
                        .files
                        .iter()
                        .zip(&run.outcomes)
                        .filter(|(_, o)| o.status == FileStatus::Completed)
                        .map(|(f, _)| f.size)
                        .sum();
                    assert_eq!(run.stats.useful_bytes, completed);
                    assert!(run.transferred_bytes >= run.stats.useful_bytes);
                    assert_eq!(
                        run.stats.files_completed + run.stats.files_failed,
                        run.files.len() as u32,
                        "every file ends exactly once"
                    );
                    assert!(run.stats.retries > 0, "20 % faults must cause retries");
                }
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
    check(&run.trace, &s, &run.files).unwrap();
    assert_eq!(run.stats.files_failed, 0);
    assert_eq!(run.transferred_bytes, run.stats.useful_bytes);
    assert_eq!(run.stats.retries, 0);
}
