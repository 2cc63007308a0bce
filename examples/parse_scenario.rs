//! Time the loading of one scenario file, for the README's manifest
//! figures: `cargo run --release --example parse_scenario -- FILE [MODE]`.
//! MODE `load` (default) is `Scenario::load` (what `dlsim run` does);
//! `typed` is serde_json's typed deserialisation alone (the floor);
//! `value` parses into a `serde_json::Value` (what a second, untyped pass
//! would add). Prints files, seconds and the process's peak RSS.

use dlsim::Scenario;
use std::time::Instant;

fn main() {
    let args: Vec<String> = std::env::args().collect();
    let path = std::path::Path::new(args.get(1).expect("usage: parse_scenario FILE [load|typed|value]"));
    let mode = args.get(2).map_or("load", String::as_str);
    let t = Instant::now();
    let files = match mode {
        "load" => {
            let s = Scenario::load(path).unwrap_or_else(|e| panic!("{e}"));
            s.workload.models.iter().map(|m| m.files.len()).sum::<usize>()
        }
        "typed" => {
            let text = std::fs::read_to_string(path).expect("readable");
            let s: Scenario = serde_json::from_str(&text).expect("a scenario");
            s.workload.models.iter().map(|m| m.files.len()).sum::<usize>()
        }
        "tracked" => {
            let text = std::fs::read_to_string(path).expect("readable");
            let mut de = serde_json::Deserializer::from_str(&text);
            let s: Scenario = serde_path_to_error::deserialize(&mut de).expect("a scenario");
            s.workload.models.iter().map(|m| m.files.len()).sum::<usize>()
        }
        "value" => {
            let text = std::fs::read_to_string(path).expect("readable");
            let v: serde_json::Value = serde_json::from_str(&text).expect("JSON");
            v["workload"]["models"][0]["files"].as_array().map_or(0, Vec::len)
        }
        other => panic!("unknown mode {other}"),
    };
    let s = t.elapsed().as_secs_f64();
    let rss = dlsim::bench::peak_rss_bytes().unwrap_or(0) as f64 / 1048576.0;
    println!("{mode}: {files} files in {s:.3} s, peak RSS {rss:.1} MiB");
}
