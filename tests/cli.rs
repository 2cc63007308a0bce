//! The `dlsim run` command end to end: byte-identical reports for a seed,
//! `--check`, and machine-readable stdout.

use std::process::Command;

fn dlsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dlsim")).args(args).output().unwrap()
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("dlsim-cli-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    d
}

const EXAMPLE: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/example.json");

#[test]
fn same_seed_gives_byte_identical_report_files() {
    let (a, b, c) = (tmp("a"), tmp("b"), tmp("c"));
    for (dir, seed) in [(&a, "5"), (&b, "5"), (&c, "6")] {
        let out = dlsim(&["run", EXAMPLE, "--seed", seed, "--out", dir.to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    for f in ["example.json", "example.csv"] {
        let (x, y) = (std::fs::read(a.join(f)).unwrap(), std::fs::read(b.join(f)).unwrap());
        assert_eq!(x, y, "{f} differs between two runs with the same seed");
    }
    // The example has faults: another seed changes the result.
    assert_ne!(std::fs::read(a.join("example.json")).unwrap(), std::fs::read(c.join("example.json")).unwrap());
    for d in [a, b, c] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn check_passes_and_json_stdout_parses() {
    let d = tmp("check");
    let out = dlsim(&["run", EXAMPLE, "--check", "--format", "json", "--out", d.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is JSON");
    let r = &v["results"][0];
    for key in [
        "name",
        "duration",
        "throughput_mbps",
        "success_rate",
        "memory_usage_mb",
        "cpu_usage_percent",
        "concurrent_downloads",
        "total_bytes",
        "files_processed",
        "errors",
        "metadata",
    ] {
        assert!(r.get(key).is_some(), "missing {key}");
    }
    assert!(r["metadata"]["completion_time_s"]["p99"].as_f64().unwrap() > 0.0);
    assert!(String::from_utf8_lossy(&out.stderr).contains("events/s"), "speed goes to stderr with --format json");
    let _ = std::fs::remove_dir_all(d);
}

fn scenario_file(name: &str, text: &str) -> std::path::PathBuf {
    let d = tmp(name);
    std::fs::create_dir_all(&d).unwrap();
    let p = d.join("s.json");
    std::fs::write(&p, text).unwrap();
    p
}

fn seeds_of(report: &std::path::Path) -> Vec<u64> {
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(report).unwrap()).unwrap();
    v["results"].as_array().unwrap().iter().map(|r| r["metadata"]["seed"].as_u64().unwrap()).collect()
}

const FAULTY: &str = r#""server":{"faults":{"error_rate":0.3,"mix":{"http_500":1,"reset":1}}},
    "workload":{"models":[{"name":"m","linear":{"count":30,"min_size_bytes":1000,"max_size_bytes":1000000}}]}"#;

/// Issue 8.5: a sweep over `seed` used to run the base seed every time.
#[test]
fn each_sweep_point_runs_with_its_own_seed_and_seed_overrides_all() {
    let p = scenario_file(
        "seeds",
        &format!(r#"{{"name":"s","seed":9,{FAULTY},"sweep":{{"knob":"seed","values":[1,2,3]}}}}"#),
    );
    let out = p.parent().unwrap().join("out");
    let r = dlsim(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(seeds_of(&out.join("s.json")), vec![1, 2, 3]);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(out.join("s.json")).unwrap()).unwrap();
    let retries: Vec<u64> =
        v["results"].as_array().unwrap().iter().map(|r| r["metadata"]["retries"].as_u64().unwrap()).collect();
    assert!(retries.iter().any(|r| *r != retries[0]), "different seeds, different faults: {retries:?}");
    let r = dlsim(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap(), "--seed", "7"]);
    assert!(r.status.success());
    assert_eq!(seeds_of(&out.join("s.json")), vec![7, 7, 7]);
    let _ = std::fs::remove_dir_all(p.parent().unwrap());
}

#[test]
fn a_point_that_sets_seed_is_honoured() {
    let p = scenario_file(
        "point-seed",
        &format!(
            r#"{{"name":"s","seed":9,{FAULTY},"sweep":{{"points":[{{"name":"a","set":{{"seed":1}}}},{{"name":"b","set":{{}}}}]}}}}"#
        ),
    );
    let out = p.parent().unwrap().join("out");
    let r = dlsim(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    assert_eq!(seeds_of(&out.join("s.json")), vec![1, 9]);
    let _ = std::fs::remove_dir_all(p.parent().unwrap());
}

/// Every documented field can be swept, `None`-by-default ones included.
#[test]
fn write_quantum_bytes_can_be_swept() {
    let p = scenario_file(
        "quantum",
        &format!(r#"{{"name":"s",{FAULTY},"sweep":{{"knob":"server.write_quantum_bytes","values":[8192,null]}}}}"#),
    );
    let out = p.parent().unwrap().join("out");
    let r = dlsim(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    assert!(r.status.success(), "{}", String::from_utf8_lossy(&r.stderr));
    let _ = std::fs::remove_dir_all(p.parent().unwrap());
}

/// Issue 12.9: no report field is NaN, infinite or null.
#[test]
fn no_report_number_is_null() {
    let d = tmp("finite");
    let out = dlsim(&["run", EXAMPLE, "--format", "json", "--out", d.to_str().unwrap()]);
    assert!(out.status.success());
    let mut v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    for r in v["results"].as_array_mut().unwrap() {
        r["metadata"].as_object_mut().unwrap().remove("extra");
        let text = r.to_string();
        assert!(!text.contains("null"), "{text}");
    }
    let csv = std::fs::read_to_string(d.join("example.csv")).unwrap();
    assert!(!csv.contains("inf") && !csv.contains("NaN"), "{csv}");
    let _ = std::fs::remove_dir_all(d);
}

/// Issue 12: settings that silently limit a run are warned about on
/// stderr, never in the report files or on stdout.
#[test]
fn limiting_settings_are_warned_on_stderr_only() {
    let d = tmp("warn");
    std::fs::create_dir_all(&d).unwrap();
    let scenario = d.join("limited.json");
    std::fs::write(
        &scenario,
        r#"{"name": "limited", "network": {"rtt_ms": 100}, "client": {"max_concurrent_downloads": 16, "max_concurrent_files_per_model": 2},
            "workload": {"models": [{"name": "m", "linear": {"count": 10, "min_size_bytes": 1000, "max_size_bytes": 2000}}]}}"#,
    )
    .unwrap();
    let out_dir = d.join("out");
    let out = dlsim(&["run", scenario.to_str().unwrap(), "--out", out_dir.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stderr = String::from_utf8_lossy(&out.stderr);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stderr.contains("dlsim: warning: client.max_concurrent_files_per_model = 2 caps"), "{stderr}");
    assert!(stderr.contains("dlsim: warning: network.per_connection_bps"), "{stderr}");
    assert!(!stdout.contains("warning"), "{stdout}");
    for f in ["limited.json", "limited.csv"] {
        let text = std::fs::read_to_string(out_dir.join(f)).unwrap();
        assert!(!text.contains("warning") && !text.contains("caps"), "{f} holds a warning");
    }
    let _ = std::fs::remove_dir_all(d);
}

/// Issue 12: the table shows peak connections, time to first file and p50
/// next to p95, each equal to the report's figure.
#[test]
fn the_table_shows_peak_connections_first_file_p50_and_p95() {
    let d = tmp("table");
    let out = dlsim(&["run", EXAMPLE, "--out", d.to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let mut lines = stdout.lines();
    let head: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    let row: Vec<&str> = lines.next().unwrap().split_whitespace().collect();
    assert_eq!(head.len(), row.len(), "{stdout}");
    let col = |name: &str| row[head.iter().position(|h| *h == name).unwrap_or_else(|| panic!("no {name}: {head:?}"))];
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(d.join("example.json")).unwrap()).unwrap();
    let m = &v["results"][0]["metadata"];
    let first = m["time_to_first_file_s"].as_f64().unwrap();
    let (p50, p95) = (m["completion_time_s"]["p50"].as_f64().unwrap(), m["completion_time_s"]["p95"].as_f64().unwrap());
    assert!(0.0 < first && first <= p50 && p50 <= p95, "{first} {p50} {p95}");
    assert_eq!(col("peak_conns"), m["peak_open_connections"].to_string());
    assert_eq!(col("first_s"), format!("{first:.3}"));
    assert_eq!(col("p50_s"), format!("{p50:.3}"));
    assert_eq!(col("p95_s"), format!("{p95:.3}"));
    // The CSV keeps the original's columns first and adds the new ones.
    let csv = std::fs::read_to_string(d.join("example.csv")).unwrap();
    assert!(csv.starts_with("name,duration,throughput_mbps,success_rate,memory_usage_mb,cpu_usage_percent,"));
    assert!(csv.lines().next().unwrap().ends_with(",events,time_to_first_file_s,peak_open_connections"));
    let _ = std::fs::remove_dir_all(d);
}

/// Issue 12: progress is drawn only on a terminal; a long sweep whose
/// stderr is a pipe gets no progress line (no carriage return, no escape
/// sequence), and its stdout and files none either.
#[test]
fn no_progress_when_stderr_is_not_a_terminal() {
    let d = tmp("progress");
    std::fs::create_dir_all(&d).unwrap();
    let scenario = d.join("long.json");
    // Estimated above progress::MIN_SWEEP_S of events, so only the terminal test hides it.
    std::fs::write(
        &scenario,
        r#"{"name": "long", "network": {"rtt_ms": 0},
            "client": {"max_concurrent_downloads": 64, "max_concurrent_files_per_model": 64},
            "workload": {"models": [{"name": "m", "linear": {"count": 300000, "min_size_bytes": 1000, "max_size_bytes": 2000}}]},
            "sweep": {"knob": "client.max_concurrent_downloads", "values": [32, 64]}}"#,
    )
    .unwrap();
    let explain = dlsim(&["explain", scenario.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_slice(&explain.stdout).unwrap();
    let events: u64 = v["points"].as_array().unwrap().iter().map(|p| p["estimate"]["events"].as_u64().unwrap()).sum();
    assert!(events as f64 >= dlsim::progress::MIN_SWEEP_S * dlsim::progress::EVENTS_PER_S, "{events}");
    let out = dlsim(&["run", scenario.to_str().unwrap(), "--out", d.join("out").to_str().unwrap()]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    for (what, bytes) in [("stderr", &out.stderr), ("stdout", &out.stdout)] {
        assert!(!bytes.contains(&b'\r') && !bytes.contains(&0x1b), "{what} has a progress line");
    }
    let json = std::fs::read_to_string(d.join("out/long.json")).unwrap();
    assert!(!json.contains("simulating") && !json.contains('\r'));
    let _ = std::fs::remove_dir_all(d);
}
