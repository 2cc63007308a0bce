//! `workload.models[].manifest`: a model's files from a CSV or JSON-lines
//! file give the very same run as the files written out in the scenario,
//! and a bad line is an error naming the file, the line and the field.

use std::process::Command;

fn dlsim(args: &[&str]) -> std::process::Output {
    Command::new(env!("CARGO_BIN_EXE_dlsim")).args(args).output().unwrap()
}

fn tmp(name: &str) -> std::path::PathBuf {
    let d = std::env::temp_dir().join(format!("dlsim-manifest-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&d);
    std::fs::create_dir_all(&d).unwrap();
    d
}

const HEAD: &str = r#""server":{"bandwidth_bps":"100 MB/s","latency_ms":5,"faults":{"error_rate":0.05}},"client":{"max_concurrent_downloads":3}"#;

/// Files i = 0..n with sizes 1 MiB + (i·7919 mod 64)·256 KiB, some high priority.
fn files(n: u64) -> Vec<(String, u64, Option<&'static str>)> {
    (0..n)
        .map(|i| (format!("m/f{i:03}.bin"), (1 << 20) + (i * 7919 % 64) * (256 << 10), (i % 5 == 0).then_some("high")))
        .collect()
}

#[test]
fn a_manifest_runs_exactly_like_explicit_files() {
    let fs = files(40);
    let explicit: Vec<String> = fs
        .iter()
        .map(|(p, s, pr)| match pr {
            Some(pr) => format!(r#"{{"path":"{p}","size_bytes":{s},"priority":"{pr}"}}"#),
            None => format!(r#"{{"path":"{p}","size_bytes":{s}}}"#),
        })
        .collect();
    let (a, b, c) = (tmp("explicit"), tmp("csv"), tmp("jsonl"));
    std::fs::write(
        a.join("s.json"),
        format!(r#"{{"name":"s",{HEAD},"workload":{{"models":[{{"name":"m","files":[{}]}}]}}}}"#, explicit.join(",")),
    )
    .unwrap();
    // CSV with a header, sizes partly with units; JSON lines in a subdirectory.
    let csv: String = std::iter::once("path,size,priority\n".to_string())
        .chain(fs.iter().map(|(p, s, pr)| {
            let size = if s % (1 << 20) == 0 { format!("{} MiB", s >> 20) } else { s.to_string() };
            format!("{p},{size},{}\n", pr.unwrap_or(""))
        }))
        .collect();
    std::fs::write(b.join("files.csv"), csv).unwrap();
    std::fs::write(
        b.join("s.json"),
        format!(r#"{{"name":"s",{HEAD},"workload":{{"models":[{{"name":"m","manifest":"files.csv"}}]}}}}"#),
    )
    .unwrap();
    std::fs::create_dir_all(c.join("lists")).unwrap();
    std::fs::write(
        c.join("lists/files.jsonl"),
        explicit.iter().map(|e| e.replace("size_bytes", "size") + "\n").collect::<String>(),
    )
    .unwrap();
    std::fs::write(
        c.join("s.json"),
        format!(r#"{{"name":"s",{HEAD},"workload":{{"models":[{{"name":"m","manifest":"lists/files.jsonl"}}]}}}}"#),
    )
    .unwrap();
    let mut reports = Vec::new();
    for d in [&a, &b, &c] {
        // Run from elsewhere: the manifest is relative to the scenario file.
        let out = dlsim(&["run", d.join("s.json").to_str().unwrap(), "--out", d.join("out").to_str().unwrap()]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        reports.push((std::fs::read(d.join("out/s.json")).unwrap(), std::fs::read(d.join("out/s.csv")).unwrap()));
    }
    assert!(reports[0] == reports[1], "the CSV manifest's report differs from the explicit files'");
    assert!(reports[0] == reports[2], "the JSON-lines manifest's report differs from the explicit files'");
    for d in [a, b, c] {
        let _ = std::fs::remove_dir_all(d);
    }
}

#[test]
fn bad_manifests_name_the_file_line_and_field() {
    let d = tmp("bad");
    let cases: [(&str, &str, &[&str]); 5] = [
        (
            "size.csv",
            "a,1\nb,ten\n",
            &["workload.models[0].manifest", "size.csv line 2, field `size`", "not a byte count"],
        ),
        ("zero.csv", "path,size\na,0\n", &["zero.csv line 2, field `size`", "≥ 1"]),
        ("dup.jsonl", "{\"path\":\"a\",\"size\":1}\n{\"path\":\"a\",\"size\":2}\n", &["duplicate", "\"a\""]),
        (
            "prio.jsonl",
            "{\"path\":\"a\",\"size\":1,\"priority\":\"urgent\"}\n",
            &["prio.jsonl line 1, field `priority`"],
        ),
        ("missing.csv", "", &["missing.csv"]),
    ];
    for (name, text, wants) in cases {
        if name != "missing.csv" {
            std::fs::write(d.join(name), text).unwrap();
        }
        let s = d.join(format!("{name}.json"));
        std::fs::write(&s, format!(r#"{{"workload":{{"models":[{{"name":"m","manifest":"{name}"}}]}}}}"#)).unwrap();
        let out = dlsim(&["run", s.to_str().unwrap(), "--out", d.join("out").to_str().unwrap()]);
        let err = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{name}: {err}");
        for w in wants {
            assert!(err.contains(w), "{name}: wanted {w:?} in {err}");
        }
        assert!(!err.contains("panicked"), "{err}");
    }
    // A manifest beside explicit files is refused.
    let s = d.join("both.json");
    std::fs::write(
        &s,
        r#"{"workload":{"models":[{"name":"m","manifest":"size.csv","files":[{"path":"x","size_bytes":1}]}]}}"#,
    )
    .unwrap();
    let out = dlsim(&["run", s.to_str().unwrap(), "--out", d.join("out").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&out.stderr).contains("either `manifest`"));
    assert!(!d.join("out").exists(), "nothing is written for a refused scenario");
    let _ = std::fs::remove_dir_all(d);
}

/// W1 (issue 11) read from a CSV manifest, as bench/w1_manifest.py writes
/// it, simulates exactly what `dlsim bench --w1 N C` generates in code —
/// alone and as the points of a sweep: one whose knobs leave the workload
/// alone (its points share the scenario's file list) and one over a
/// workload knob (its points are rebuilt from the scenario's JSON, files
/// included).
#[test]
fn w1_from_a_csv_manifest_runs_like_bench_w1() {
    let (n, conns) = (3000u64, [16u32, 5]);
    let d = tmp("w1");
    let csv: String = std::iter::once("path,size\n".to_string())
        .chain((0..n).map(|i| format!("w1/{i},{}\n", dlsim::bench::w1_size_bytes(i))))
        .collect();
    std::fs::write(d.join("w1.csv"), csv).unwrap();
    let scenario = |c: u32, sweep: &str| {
        format!(
            r#"{{"name":"w1","seed":1,"server":{{"bandwidth_bps":{},"latency_ms":{},"faults":{{"error_rate":0.0}}}},
            "network":{{"rtt_ms":0.0,"handshake_rtts":0}},
            "client":{{"max_concurrent_downloads":{c},"max_concurrent_files_per_model":{c},
            "cpu":{{"per_request_us":0,"per_connection_us":0,"per_read_us":0,"per_byte_ns":0}}}},
            "workload":{{"models":[{{"name":"w1","manifest":"w1.csv"}}]}}{sweep}}}"#,
            dlsim::bench::W1_RATE_BPS,
            dlsim::bench::W1_LATENCY_MS
        )
    };
    let json = |o: &std::process::Output| -> serde_json::Value {
        assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
        serde_json::from_slice(&o.stdout).unwrap()
    };
    let bench: Vec<serde_json::Value> = conns
        .iter()
        .map(|c| json(&dlsim(&["bench", "--w1", &n.to_string(), &c.to_string(), "--format", "json"])))
        .collect();
    let same = |r: &serde_json::Value, b: &serde_json::Value| {
        assert_eq!(r["duration"], b["makespan_s"], "{r}");
        assert_eq!(r["metadata"]["events"], b["events"], "{r}");
        assert_eq!(r["files_processed"].as_u64(), Some(n), "{r}");
    };
    // Writes `name`.json and runs it: the report's JSON.
    let run = |name: &str, body: String| {
        let path = d.join(format!("{name}.json"));
        std::fs::write(&path, body).unwrap();
        let out = d.join(format!("out-{name}"));
        json(&dlsim(&["run", path.to_str().unwrap(), "--out", out.to_str().unwrap(), "--format", "json"]))
    };
    let one = run("one", scenario(conns[0], ""));
    same(&one["results"][0], &bench[0]);
    let points: Vec<String> = conns
        .iter()
        .map(|c| {
            format!(
                r#"{{"name":"c{c}","set":{{"client.max_concurrent_downloads":{c},"client.max_concurrent_files_per_model":{c}}}}}"#
            )
        })
        .collect();
    let sweep = run("sweep", scenario(1, &format!(r#","sweep":{{"points":[{}]}}"#, points.join(","))));
    for (k, b) in bench.iter().enumerate() {
        same(&sweep["results"][k], b);
    }
    let knob = r#","sweep":{"knob":"workload.models.0.priority","values":["high","low"]}"#;
    let sweep = run("workload", scenario(conns[0], knob));
    // One model: its priority orders nothing.
    for k in 0..2 {
        same(&sweep["results"][k], &bench[0]);
    }
}
