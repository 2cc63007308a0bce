//! `server.faults.resets_per_gib` in the sim runtime against closed forms
//! (the loopback server's identical decisions: tests/server_policy.rs).
//!
//! Resets arrive as a Poisson process of `rate` per GiB of body sent, so
//! - without retries, a file of L bytes fails with p = 1 − exp(−rate · L / GiB);
//! - with resume, the resets while one file's L bytes arrive are Poisson
//!   with mean rate · L / GiB (each resumed request draws afresh, and the
//!   exponential is memoryless).

use dlsim::{Plan, Scenario, SimOptions, simulate};

const GIB: f64 = 1_073_741_824.0;

fn scenario(rate: f64, size: u64, attempts: u32) -> Scenario {
    Scenario::from_value(serde_json::json!({
        "name": "byte_resets",
        "server": { "bandwidth_bps": 1e9, "latency_ms": 1, "faults": { "resets_per_gib": rate } },
        "network": { "rtt_ms": 1, "per_connection_bps": 1e9 },
        "client": { "max_concurrent_downloads": 1,
                    "retry": { "max_attempts": attempts, "backoff": "none", "enable_resume": true } },
        "workload": { "models": [ { "name": "m", "files": [ { "path": "f", "size_bytes": size } ] } ] }
    }))
    .unwrap()
}

#[test]
fn without_retries_a_file_fails_with_one_minus_exp_of_rate_times_size() {
    let (rate, size) = (2.0, 512 * 1024 * 1024);
    let s = scenario(rate, size, 1);
    let n = 600u64;
    let failed = (0..n)
        .filter(|seed| simulate(&Plan::seeded(&s, *seed).unwrap(), SimOptions::default()).stats.files_failed == 1)
        .count() as f64;
    let p = 1.0 - (-rate * size as f64 / GIB).exp();
    let sd = (n as f64 * p * (1.0 - p)).sqrt();
    assert!((failed - n as f64 * p).abs() < 5.0 * sd, "{failed} of {n} failed, want {}", n as f64 * p);
}

#[test]
fn with_resume_the_resets_per_file_average_rate_times_size() {
    let (rate, size) = (3.0, 1 << 30);
    let s = scenario(rate, size, 1000);
    let n = 400u64;
    let mut resets = 0u64;
    for seed in 0..n {
        let run = simulate(&Plan::seeded(&s, seed).unwrap(), SimOptions::default());
        assert_eq!(run.stats.files_completed, 1, "seed {seed}: resume completes the file");
        assert_eq!(run.faults_injected.get("byte_reset").copied().unwrap_or(0), run.stats.retries, "seed {seed}");
        resets += run.stats.retries;
    }
    let mean = rate * size as f64 / GIB;
    let got = resets as f64 / n as f64;
    assert!((got - mean).abs() < 5.0 * (mean / n as f64).sqrt(), "{got} resets per file, want {mean}");
}

#[test]
fn the_rate_is_validated_naming_the_field() {
    let bad = serde_json::json!({ "name": "x", "server": { "faults": { "resets_per_gib": -1 } },
        "workload": { "models": [ { "name": "m", "files": [ { "path": "f", "size_bytes": 1 } ] } ] } });
    let e = Scenario::from_value(bad).and_then(|s| s.validate().map(|_| s)).unwrap_err().to_string();
    assert!(e.contains("server.faults.resets_per_gib") && e.contains("[0, 1000000]"), "{e}");
}
