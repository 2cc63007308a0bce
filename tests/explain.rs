//! `dlsim explain`: the resolved scenario (units converted, defaults filled
//! in) reloads to the same scenario, and the estimate is the plan's.

use std::process::Command;

#[test]
fn explain_prints_a_resolved_scenario_that_reloads_and_its_estimate() {
    let dir = std::env::temp_dir().join(format!("dlsim-explain-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("s.json");
    std::fs::write(
        &path,
        r#"{"network":{"rtt_ms":"40 ms"},"workload":{"models":[{"name":"m","files":[{"path":"a","size_bytes":"10 MiB"}]}]}}"#,
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_dlsim")).arg("explain").arg(&path).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let doc: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let s = &doc["scenario"];
    assert_eq!(s["network"]["rtt_ms"], serde_json::json!(40.0));
    assert_eq!(s["client"]["max_concurrent_downloads"], serde_json::json!(4));
    assert_eq!(s["workload"]["models"][0]["files"][0]["size_bytes"], serde_json::json!(10u64 << 20));
    let reloaded = dlsim::scenario::Scenario::from_json(&s.to_string()).unwrap();
    let plan = dlsim::scenario::Plan::of(&reloaded).unwrap();
    assert_eq!(doc["estimate"]["events"], serde_json::json!(plan.estimate().events));
    assert_eq!(doc["estimate"]["bytes_max"], serde_json::json!(10u64 << 20));
    std::fs::remove_dir_all(&dir).unwrap();
}
