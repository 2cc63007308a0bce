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
