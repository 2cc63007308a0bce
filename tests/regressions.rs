//! Regressions found by the seed suite and by review.

use dlsim::check::check;
use dlsim::orchestrator::FileStatus;
use dlsim::{Plan, Scenario, SimOptions, simulate};
use serde_json::json;

/// A file failing on an HTTP 500 (which keeps the connection alive) used to
/// close the connection it had already returned to the pool; the next file
/// reused the dead connection and the run stalled with files unfinished.
#[test]
fn failing_a_file_after_a_keep_alive_failure_leaves_the_pooled_connection_usable() {
    let s = Scenario::from_value(json!({
        "server": { "faults": { "error_rate": 0.6, "mix": { "http_500": 1 } } },
        "client": { "max_concurrent_downloads": 2, "retry": { "max_attempts": 1, "backoff": "none" } },
        "workload": { "models": [ { "name": "m", "linear": { "count": 40, "min_size_bytes": 1024, "max_size_bytes": 10240 } } ] }
    }))
    .unwrap();
    let run = simulate(&Plan::seeded(&s, 7).unwrap(), SimOptions { trace: true });
    check(&run.trace, &s, &run.files).unwrap();
    let failed = run.outcomes.iter().filter(|o| o.status == FileStatus::Failed).count();
    let completed = run.outcomes.iter().filter(|o| o.status == FileStatus::Completed).count();
    assert_eq!(failed + completed, 40);
    assert!(failed > 0 && completed > 0, "failed {failed}, completed {completed}");
}

/// Splitting a file larger than u64::MAX / parts used to overflow and
/// request overlapping ranges.
#[test]
fn splitting_a_huge_file_does_not_overflow() {
    let size: u64 = 1_000_000_000_000_000_000;
    let s = Scenario::from_value(json!({
        "server": { "bandwidth_bps": null },
        "client": { "split": 64, "min_split_size_bytes": 1 },
        "workload": { "models": [ { "name": "m", "files": [ { "path": "a", "size_bytes": size } ] } ] }
    }))
    .unwrap();
    let run = simulate(&Plan::seeded(&s, 1).unwrap(), SimOptions { trace: true });
    check(&run.trace, &s, &run.files).unwrap();
    assert_eq!(run.stats.useful_bytes, size);
    assert_eq!(run.stats.requests, 64);
}

/// The run's duration is when its last file ended, even at t = 0; events
/// after that (timers of aborted segments) are not counted.
#[test]
fn duration_is_the_last_file_end_even_at_time_zero() {
    let s = Scenario::from_value(json!({
        "server": { "latency_ms": 0, "faults": { "error_rate": 1.0 } },
        "network": { "rtt_ms": 0 },
        "client": { "split": 2, "min_split_size_bytes": 1,
                    "retry": { "max_attempts": 2, "parallel_failures": 1, "jitter": 0 } },
        "workload": { "models": [ { "name": "m", "files": [ { "path": "a", "size_bytes": 2 } ] } ] }
    }))
    .unwrap();
    let run = simulate(&Plan::seeded(&s, 1).unwrap(), SimOptions { trace: true });
    check(&run.trace, &s, &run.files).unwrap();
    assert_eq!(run.outcomes[0].status, FileStatus::Failed);
    assert_eq!(run.duration, run.outcomes[0].ended_at);
    assert_eq!(run.duration, dlsim::SimTime::ZERO);
}
