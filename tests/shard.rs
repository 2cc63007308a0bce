//! Sweeps beyond one machine and replications, end to end:
//! - `run --shard K/N` for every K, then `merge`, gives report files byte
//!   for byte equal to the unsharded run's (with and without replications);
//! - the same through GNU parallel when it is installed (CI installs it);
//! - replications: with N = 1 the report is the plain run's; the reported
//!   mean equals the mean of the N single-seed runs (each rerun alone with
//!   `--seed`), and the interval is the Student-t one, derived here.

use std::path::{Path, PathBuf};
use std::process::Command;

fn dlsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dlsim")).args(args).output().unwrap()
}

fn ok(args: &[&str]) -> String {
    let out = dlsim(args);
    assert!(out.status.success(), "dlsim {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn tmp(name: &str) -> PathBuf {
    let d = std::env::temp_dir().join(format!("dlsim-shard-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

/// A 7-point sweep with faults (so seeds matter), small enough to run fast.
fn scenario(dir: &Path) -> PathBuf {
    let p = dir.join("s.json");
    std::fs::write(
        &p,
        r#"{"name":"s","seed":9,
            "server":{"bandwidth_bps":"80 MB/s","latency_ms":5,"faults":{"error_rate":0.08}},
            "network":{"rtt_ms":4},
            "client":{"retry":{"base_s":0.05}},
            "workload":{"models":[{"name":"m","random":{"count":24,"min_size_bytes":"64 KiB","max_size_bytes":"8 MiB"}}]},
            "sweep":{"knob":"client.max_concurrent_downloads","values":[1,2,3,4,6,8,16]}}"#,
    )
    .unwrap();
    p
}

fn files(dir: &Path) -> (Vec<u8>, Vec<u8>) {
    (std::fs::read(dir.join("s.json")).unwrap(), std::fs::read(dir.join("s.csv")).unwrap())
}

fn sharded_equals_whole(extra: &[&str], tag: &str) {
    let d = tmp(tag);
    let s = scenario(&d);
    let s = s.to_str().unwrap();
    let whole = d.join("whole");
    ok(&[&["run", s, "--out", whole.to_str().unwrap()], extra].concat());
    let parts = d.join("parts");
    // 3 shards of 7 points: 3, 2 and 2 points; run out of order.
    for k in [2, 0, 1] {
        ok(&[&["run", s, "--shard", &format!("{k}/3"), "--out", parts.to_str().unwrap()], extra].concat());
    }
    let merged = d.join("merged");
    ok(&["merge", parts.to_str().unwrap(), "--out", merged.to_str().unwrap()]);
    assert!(files(&whole) == files(&merged), "merged files differ from the unsharded run's ({tag})");
    // More shards than points: empty shards are parts too.
    let many = d.join("many");
    for k in 0..9 {
        ok(&[&["run", s, "--shard", &format!("{k}/9"), "--out", many.to_str().unwrap()], extra].concat());
    }
    let merged9 = d.join("merged9");
    let list: Vec<String> = (0..9).map(|k| many.join(format!("s.part-{k}-of-9.json")).display().to_string()).collect();
    let mut args = vec!["merge", "--out", merged9.to_str().unwrap()];
    args.extend(list.iter().map(String::as_str));
    ok(&args);
    assert!(files(&whole) == files(&merged9), "9-shard merge differs ({tag})");
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn merged_shards_are_byte_identical_to_the_whole_run() {
    sharded_equals_whole(&[], "plain");
}

#[test]
fn merged_shards_with_replications_are_byte_identical_too() {
    sharded_equals_whole(&["--replications", "3"], "repl");
}

#[test]
fn merge_refuses_missing_duplicate_and_foreign_parts() {
    let d = tmp("refuse");
    let s = scenario(&d);
    let s = s.to_str().unwrap();
    let (a, b) = (d.join("a"), d.join("b"));
    for k in 0..3 {
        ok(&["run", s, "--shard", &format!("{k}/3"), "--out", a.to_str().unwrap()]);
    }
    ok(&["run", s, "--shard", "1/3", "--seed", "5", "--out", b.to_str().unwrap()]);
    let part = |dir: &Path, k: u32| dir.join(format!("s.part-{k}-of-3.json")).display().to_string();
    let cases: [(Vec<String>, &str); 3] = [
        (vec![part(&a, 0), part(&a, 2)], "missing shard(s) 1/3"),
        (vec![part(&a, 0), part(&a, 1), part(&a, 1), part(&a, 2)], "given twice"),
        (vec![part(&a, 0), part(&b, 1), part(&a, 2)], "different runs"),
    ];
    for (parts, want) in cases {
        let mut args = vec!["merge".to_string(), "--out".into(), d.join("out").display().to_string()];
        args.extend(parts);
        let out = dlsim(&args.iter().map(String::as_str).collect::<Vec<_>>());
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{err}");
        assert!(err.contains(want), "wanted {want:?}: {err}");
    }
    assert!(!d.join("out").exists(), "a refused merge writes nothing");
    // --shard auto without a batch system names the variables.
    let out = Command::new(env!("CARGO_BIN_EXE_dlsim"))
        .args(["run", s, "--shard", "auto", "--out", d.join("x").to_str().unwrap()])
        .env_remove("SLURM_ARRAY_TASK_ID")
        .env_remove("JOB_COMPLETION_INDEX")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("SLURM_ARRAY_TASK_ID") && err.contains("JOB_COMPLETION_INDEX"), "{err}");
    // Slurm's and Kubernetes' variables give the same parts as K/N.
    let c = d.join("c");
    for k in 0..3 {
        let k = k.to_string();
        let slurm = Command::new(env!("CARGO_BIN_EXE_dlsim"))
            .args(["run", s, "--shard", "auto", "--out", c.to_str().unwrap()])
            .env("SLURM_ARRAY_TASK_ID", &k)
            .env("SLURM_ARRAY_TASK_COUNT", "3")
            .env_remove("JOB_COMPLETION_INDEX")
            .output()
            .unwrap();
        assert!(slurm.status.success(), "{}", String::from_utf8_lossy(&slurm.stderr));
        let name = format!("s.part-{k}-of-3.json");
        assert_eq!(std::fs::read(c.join(&name)).unwrap(), std::fs::read(a.join(&name)).unwrap());
        let kube = Command::new(env!("CARGO_BIN_EXE_dlsim"))
            .args(["run", s, "--shard", "auto/3", "--out", c.to_str().unwrap()])
            .env("JOB_COMPLETION_INDEX", &k)
            .env_remove("SLURM_ARRAY_TASK_ID")
            .output()
            .unwrap();
        assert!(kube.status.success(), "{}", String::from_utf8_lossy(&kube.stderr));
        assert_eq!(std::fs::read(c.join(&name)).unwrap(), std::fs::read(a.join(&name)).unwrap());
    }
    let _ = std::fs::remove_dir_all(d);
}

/// GNU parallel runs the shards as separate processes, then `merge`. CI
/// installs `parallel` (.ci/install-clients); elsewhere the test says it
/// skipped.
#[test]
fn a_sweep_sharded_with_gnu_parallel_merges_to_the_whole_run() {
    if Command::new("parallel").arg("--version").output().map(|o| !o.status.success()).unwrap_or(true) {
        eprintln!("SKIPPED: GNU parallel is not installed (apt-get install parallel)");
        return;
    }
    let d = tmp("parallel");
    let s = scenario(&d);
    let whole = d.join("whole");
    ok(&["run", s.to_str().unwrap(), "--replications", "2", "--out", whole.to_str().unwrap()]);
    let parts = d.join("parts");
    let out = Command::new("parallel")
        .args(["--will-cite", "--halt", "now,fail=1", "-j", "2"])
        .arg(env!("CARGO_BIN_EXE_dlsim"))
        .args([
            "run",
            s.to_str().unwrap(),
            "--replications",
            "2",
            "--format",
            "csv",
            "--out",
            parts.to_str().unwrap(),
            "--shard",
            "{}/4",
        ])
        .args([":::", "0", "1", "2", "3"])
        .output()
        .unwrap();
    assert!(out.status.success(), "parallel: {}", String::from_utf8_lossy(&out.stderr));
    let merged = d.join("merged");
    ok(&["merge", parts.to_str().unwrap(), "--out", merged.to_str().unwrap()]);
    assert!(files(&whole) == files(&merged), "the GNU parallel run's merge differs from the whole run");
    let _ = std::fs::remove_dir_all(d);
}

fn report(dir: &Path) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(dir.join("s.json")).unwrap()).unwrap()
}

#[test]
fn one_replication_is_the_plain_run_byte_for_byte() {
    let d = tmp("one");
    let s = scenario(&d);
    let s = s.to_str().unwrap();
    let (a, b) = (d.join("a"), d.join("b"));
    let plain = ok(&["run", s, "--out", a.to_str().unwrap()]);
    let one = ok(&["run", s, "--replications", "1", "--out", b.to_str().unwrap()]);
    assert!(files(&a) == files(&b));
    let table = |t: &str| {
        t.lines().filter(|l| !l.starts_with("wrote") && !l.starts_with("simulated")).collect::<Vec<_>>().join("\n")
    };
    assert_eq!(table(&plain), table(&one));
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn replicated_means_and_intervals_match_the_single_seed_runs() {
    let d = tmp("means");
    let s = scenario(&d);
    let s = s.to_str().unwrap();
    let n = 4usize;
    let rep = d.join("rep");
    let table = ok(&["run", s, "--replications", &n.to_string(), "--out", rep.to_str().unwrap()]);
    assert!(table.contains("4 replications per point") && table.contains(" ± "), "{table}");
    let r = report(&rep);
    let csv = std::fs::read_to_string(rep.join("s.csv")).unwrap();
    assert!(csv.lines().next().unwrap().contains(",duration_std,duration_ci95_low,duration_ci95_high"));
    // t(0.975, 3) from its closed form is not simple; check it against the
    // interval's defining property instead: half-width / (std / √n) is the
    // same t for every metric and point, and t(3) = 3.182446305… (tables).
    for (p, point) in r["results"].as_array().unwrap().iter().enumerate() {
        let seeds: Vec<u64> =
            point["metadata"]["seeds"].as_array().unwrap().iter().map(|x| x.as_u64().unwrap()).collect();
        assert_eq!(seeds.len(), n);
        assert_eq!(point["metadata"]["replications"], n);
        assert_eq!(seeds[0], 9, "replication 0 runs with the point's own seed");
        // Rerun each seed alone: this point's result in each single run.
        let singles: Vec<serde_json::Value> = seeds
            .iter()
            .map(|seed| {
                let one = d.join(format!("seed-{seed}"));
                if !one.exists() {
                    ok(&["run", s, "--seed", &seed.to_string(), "--out", one.to_str().unwrap()]);
                }
                report(&one)["results"][p].clone()
            })
            .collect();
        for (metric, field) in [
            ("duration", "/duration"),
            ("throughput_mbps", "/throughput_mbps"),
            ("requests", "/metadata/requests"),
            ("p95_s", "/metadata/completion_time_s/p95"),
        ] {
            let xs: Vec<f64> = singles.iter().map(|v| v.pointer(field).unwrap().as_f64().unwrap()).collect();
            let mean = xs.iter().sum::<f64>() / n as f64;
            let st = &point["stats"][metric];
            let got = st["mean"].as_f64().unwrap();
            assert!(
                (got - mean).abs() <= 1e-9 * mean.abs().max(1.0),
                "{metric}: reported mean {got}, single runs' mean {mean}"
            );
            let std = (xs.iter().map(|x| (x - mean).powi(2)).sum::<f64>() / (n - 1) as f64).sqrt();
            assert!((st["std"].as_f64().unwrap() - std).abs() <= 1e-9 * std.max(1.0), "{metric} std");
            let half = 3.182446305284263 * std / (n as f64).sqrt();
            assert!(
                (st["ci95_high"].as_f64().unwrap() - (mean + half)).abs() <= 1e-9 * mean.abs().max(1.0),
                "{metric} ci high"
            );
            assert!(
                (st["ci95_low"].as_f64().unwrap() - (mean - half)).abs() <= 1e-9 * mean.abs().max(1.0),
                "{metric} ci low"
            );
            assert!(st["ci95_low"].as_f64().unwrap() <= got && got <= st["ci95_high"].as_f64().unwrap());
        }
        // The original float fields hold the mean.
        assert_eq!(point["duration"].as_f64(), point["stats"]["duration"]["mean"].as_f64());
    }
    // sweep.replications in the file is the same as the flag.
    let text = std::fs::read_to_string(s)
        .unwrap()
        .replace(r#""values":[1,2,3,4,6,8,16]"#, r#""values":[1,2,3,4,6,8,16],"replications":4"#);
    let s2 = d.join("sub");
    std::fs::create_dir_all(&s2).unwrap();
    std::fs::write(s2.join("s.json"), text).unwrap();
    let via_file = d.join("via-file");
    ok(&["run", s2.join("s.json").to_str().unwrap(), "--out", via_file.to_str().unwrap()]);
    assert!(files(&rep) == files(&via_file));
    let _ = std::fs::remove_dir_all(d);
}

#[test]
fn a_scenario_without_faults_has_zero_width_intervals() {
    let d = tmp("zero");
    let p = d.join("s.json");
    std::fs::write(&p, r#"{"name":"s","workload":{"models":[{"name":"m","linear":{"count":5,"min_size_bytes":1000,"max_size_bytes":90000}}]},"sweep":{"replications":5}}"#).unwrap();
    let out = d.join("out");
    ok(&["run", p.to_str().unwrap(), "--out", out.to_str().unwrap()]);
    let r = report(&out);
    let point = &r["results"][0];
    for (metric, s) in point["stats"].as_object().unwrap() {
        assert_eq!(s["std"].as_f64(), Some(0.0), "{metric}");
        assert_eq!(s["ci95_low"], s["mean"], "{metric}");
        assert_eq!(s["ci95_high"], s["mean"], "{metric}");
    }
    let bad = dlsim(&["run", p.to_str().unwrap(), "--replications", "0", "--out", out.to_str().unwrap()]);
    assert_eq!(bad.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("--replications"));
    let _ = std::fs::remove_dir_all(d);
}
