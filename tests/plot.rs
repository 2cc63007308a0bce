//! `dlsim plot` on run reports (issue 12): the curve over the sweep's knob
//! (with replication intervals), and with `--scenario` the timeline and the
//! completion CDF, simulated again and checked against the report.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

fn dlsim(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_dlsim")).args(args).output().unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dlsim-plot-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const SWEEP: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/scenarios/split_sweep.json");

fn ok(o: &Output) -> String {
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).to_string()
}

fn run_sweep(d: &Path) -> PathBuf {
    ok(&dlsim(&["run", SWEEP, "--out", d.to_str().unwrap()]));
    d.join("split.json")
}

fn texts(svg: &str) -> Vec<String> {
    svg.split("<text")
        .skip(1)
        .filter_map(|t| Some(t.split_once('>')?.1.split_once("</text>")?.0.trim().to_string()))
        .collect()
}

#[test]
fn a_run_report_gets_its_curve_with_ticks_at_the_swept_values() {
    let d = tmp("curve");
    let report = run_sweep(&d);
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    assert_eq!(v["sweep"]["knob"], "client.split");
    let said = ok(&dlsim(&["plot", report.to_str().unwrap()]));
    assert!(said.contains("split_curve.svg") && said.contains("--scenario"), "{said}");
    let svg = std::fs::read_to_string(d.join("split_curve.svg")).unwrap();
    let t = texts(&svg);
    for want in ["1", "2", "4", "8", "client.split", "throughput (MiB/s)", "duration (s)", "files completed (%)"] {
        assert!(t.iter().any(|x| x == want), "no label {want:?} in {t:?}");
    }
    assert!(!d.join("split_timeline.svg").exists(), "no timeline without the scenario");
    // Byte-identical when drawn again.
    ok(&dlsim(&["plot", report.to_str().unwrap(), "--out", d.join("again").to_str().unwrap()]));
    assert_eq!(svg, std::fs::read_to_string(d.join("again/split_curve.svg")).unwrap());
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn replication_stats_are_drawn_as_intervals() {
    let d = tmp("stats");
    let report = run_sweep(&d);
    let mut v: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    ok(&dlsim(&["plot", report.to_str().unwrap()]));
    let plain = std::fs::read_to_string(d.join("split_curve.svg")).unwrap();
    // The format scale's replications write (notes/SHARED-FORMATS.md).
    for r in v["results"].as_array_mut().unwrap() {
        let t = r["throughput_mbps"].as_f64().unwrap();
        r["stats"] = serde_json::json!({ "throughput_mbps": { "mean": t, "std": 1.0, "ci95_low": t - 5.0, "ci95_high": t + 5.0 } });
    }
    let with = d.join("with_stats.json");
    std::fs::write(&with, serde_json::to_string_pretty(&v).unwrap()).unwrap();
    ok(&dlsim(&["plot", with.to_str().unwrap()]));
    let svg = std::fs::read_to_string(d.join("split_curve.svg")).unwrap();
    assert!(svg.contains("95 % CI over replications"), "the title says what the whiskers are");
    // Three strokes per interval (whisker and two caps), four points.
    let paths = |s: &str| s.matches("<polyline").count();
    assert_eq!(paths(&svg), paths(&plain) + 3 * 4, "whiskers drawn");
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn with_the_scenario_the_timeline_and_cdf_are_drawn_and_checked() {
    let d = tmp("timeline");
    let report = run_sweep(&d);
    let r = report.to_str().unwrap();
    ok(&dlsim(&["plot", r, "--scenario", SWEEP, "--point", "split_2"]));
    let tl = std::fs::read_to_string(d.join("split_timeline.svg")).unwrap();
    let t = texts(&tl);
    assert!(t.iter().any(|x| x == "Per-connection timeline of split_2"), "{t:?}");
    assert!(t.iter().any(|x| x.starts_with("file_")), "files are labelled: {t:?}");
    assert!(t.iter().any(|x| x == "handshake"), "{t:?}");
    // The axis ends at the run: no tick beyond its duration.
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&report).unwrap()).unwrap();
    let duration = v["results"][1]["duration"].as_f64().unwrap();
    let ticks: Vec<f64> = t.iter().filter_map(|x| x.parse::<f64>().ok()).collect();
    assert!(!ticks.is_empty() && ticks.iter().all(|x| *x <= duration), "{ticks:?} past {duration}");
    assert!(ticks.iter().copied().fold(0.0, f64::max) >= 0.8 * duration, "{ticks:?} short of {duration}");
    assert!(d.join("split_cdf.svg").exists());
    // Another scenario than the report's is refused.
    let edited = d.join("edited.json");
    let text = std::fs::read_to_string(SWEEP).unwrap();
    let changed: serde_json::Value = {
        let mut v: serde_json::Value = serde_json::from_str(&text).unwrap();
        v["server"]["latency_ms"] = serde_json::json!(500);
        v
    };
    std::fs::write(&edited, changed.to_string()).unwrap();
    let o = dlsim(&["plot", r, "--scenario", edited.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(
        String::from_utf8_lossy(&o.stderr).contains("does not reproduce"),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    let o = dlsim(&["plot", r, "--scenario", SWEEP, "--point", "nope"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--point"));
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn a_file_that_is_no_report_is_exit_2() {
    let d = tmp("bad");
    let f = d.join("x.json");
    std::fs::write(&f, r#"{"name": 1}"#).unwrap();
    let o = dlsim(&["plot", f.to_str().unwrap()]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("is not a dlsim report"));
    let _ = std::fs::remove_dir_all(d);
}
