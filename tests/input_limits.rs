//! Issue 12: physically meaningful lower bounds for rates, and scenario
//! files read with a size limit.

use dlsim::Scenario;
use dlsim::scenario::{MAX_SCENARIO_FILE_BYTES, MIN_RATE_BPS};

fn with(section: &str) -> String {
    format!(
        r#"{{ {section}, "workload": {{"models": [{{"name": "m", "files": [{{"path": "a", "size_bytes": 1}}]}}]}} }}"#
    )
}

#[test]
fn rates_below_one_byte_per_second_are_refused_naming_field_and_bound() {
    let fields = [
        ("server.bandwidth_bps", r#""server": {"bandwidth_bps": RATE}"#),
        ("network.per_connection_bps", r#""network": {"per_connection_bps": RATE}"#),
        ("client.bandwidth_limit.rate_bps", r#""client": {"bandwidth_limit": {"rate_bps": RATE}}"#),
    ];
    assert_eq!(MIN_RATE_BPS, 1.0);
    for (field, template) in fields {
        for bad in ["1e-300", "1e-15", "0.999", "0", "-1"] {
            let e = Scenario::from_json(&with(&template.replace("RATE", bad))).expect_err(bad).to_string();
            assert!(e.contains(field) && e.contains("≥ 1 B/s"), "{field} = {bad}: {e}");
        }
        for good in ["1", "1.5", "1e12"] {
            Scenario::from_json(&with(&template.replace("RATE", good))).unwrap();
        }
    }
}

/// `dlsim validate` on a scenario with a tiny server rate exited 0 with no
/// file completed; it is refused up front (exit 2), naming the field.
#[test]
fn validate_refuses_a_tiny_server_rate() {
    let dir = std::env::temp_dir().join(format!("dlsim-limits-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let sc = dir.join("tiny.json");
    std::fs::write(&sc, with(r#""server": {"bandwidth_bps": 1e-15}"#)).unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_dlsim"))
        .args(["validate", "--repeats", "1", "--out"])
        .arg(dir.join("out"))
        .arg(&sc)
        .output()
        .unwrap();
    let _ = std::fs::remove_dir_all(&dir);
    assert_eq!(out.status.code(), Some(2), "{out:?}");
    assert!(String::from_utf8_lossy(&out.stderr).contains("server.bandwidth_bps"), "{out:?}");
}

#[test]
fn scenario_files_are_read_with_a_size_limit() {
    let dir = std::env::temp_dir().join(format!("dlsim-size-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    // Valid JSON padded with whitespace just past the limit: refused by size, not by parsing.
    let text = with(r#""name": "big""#);
    let big = dir.join("big.json");
    let pad = MAX_SCENARIO_FILE_BYTES as usize + 1 - text.len();
    std::fs::write(&big, format!("{text}{}", " ".repeat(pad))).unwrap();
    let e = Scenario::load(&big).expect_err("too big").to_string();
    assert!(e.contains(&format!("larger than {} MiB", MAX_SCENARIO_FILE_BYTES >> 20)), "{e}");
    // One byte less is read and accepted.
    std::fs::write(&big, format!("{text}{}", " ".repeat(pad - 1))).unwrap();
    assert_eq!(Scenario::load(&big).unwrap().name, "big");
    let _ = std::fs::remove_dir_all(&dir);
    #[cfg(unix)]
    {
        let t = std::time::Instant::now();
        let e = Scenario::load(std::path::Path::new("/dev/zero")).expect_err("refused").to_string();
        assert!(e.contains(&format!("larger than {} MiB", MAX_SCENARIO_FILE_BYTES >> 20)), "{e}");
        assert!(t.elapsed() < std::time::Duration::from_secs(10));
    }
}
