//! Regressions found by the seed suite.

use dlsim::check::check;
use dlsim::orchestrator::FileStatus;
use dlsim::{Scenario, SimOptions, simulate};
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
    let run = simulate(&s, 7, SimOptions { trace: true });
    check(&run.trace, &s.client, &run.files).unwrap();
    let failed = run.outcomes.iter().filter(|o| o.status == FileStatus::Failed).count();
    let completed = run.outcomes.iter().filter(|o| o.status == FileStatus::Completed).count();
    assert_eq!(failed + completed, 40);
    assert!(failed > 0 && completed > 0, "failed {failed}, completed {completed}");
}
