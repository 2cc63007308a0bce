//! Units people write: byte, rate and time fields of the scenario accept a
//! plain number in the field's own unit (bytes, bytes/s, ms or s, as its
//! name says) or a string with a unit — `"9.98 GB"`, `"10 MiB"`,
//! `"100 Mbit/s"`, `"12.5 MB/s"`, `"40 ms"`, `"1.5 s"`. Prefixes mean
//! exactly what is written: `k`/`M`/`G`/`T` are 10^3, 10^6, 10^9, 10^12;
//! `Ki`/`Mi`/`Gi`/`Ti` are 2^10 … 2^40. `B` is a byte; `b` or `bit` a bit.
//! Byte counts also accept integral floats such as `9.98e9`. Values always
//! serialize back as plain numbers in the field's unit.
//!
//! Each helper is a serde `deserialize_with` function; a bad value is a
//! serde error that [`super::path_error`] reports at the field's path.

use serde::{Deserialize, Deserializer, de::Error as _};
use serde_json::Value;

const BYTE_FORMS: &str = "a whole number of bytes (e.g. 1048576 or 9.98e9) or a string such as \"9.98 GB\", \"10 MiB\", \"512 kB\", \"64 KiB\" (k/M/G/T = 10^3/10^6/10^9/10^12, Ki/Mi/Gi/Ti = 2^10/2^20/2^30/2^40; B = byte, b or bit = bit)";
const RATE_FORMS: &str = "a number of bytes/s (e.g. 125000000) or a string such as \"100 Mbit/s\", \"12.5 MB/s\", \"1 Gb/s\", \"10 MiB/s\" (k/M/G/T = 10^3/10^6/10^9/10^12, Ki/Mi/Gi/Ti = 2^10/2^20/2^30/2^40; B = byte, b or bit = bit)";
const TIME_FORMS: &str = "a number in the field's unit or a string such as \"40 ms\", \"1.5 s\", \"250 us\", \"2 min\" (units: ns, us, µs, ms, s, min, h)";

/// Split `"12.5 MB/s"` into the number text and the unit text.
fn split_number(s: &str) -> (&str, &str) {
    let s = s.trim();
    // No unit starts with `e`/`E`, so they belong to the number's exponent.
    let end = s.find(|c: char| !(c.is_ascii_digit() || matches!(c, '.' | '+' | '-' | 'e' | 'E'))).unwrap_or(s.len());
    (s[..end].trim(), s[end..].trim())
}

/// A byte-or-bit unit: (power of 10, power of 2^10, bits?). `None` if unknown.
fn data_unit(unit: &str) -> Option<(u32, u32, bool)> {
    let (prefix, base) = if let Some(p) = unit.strip_suffix("bits") {
        (p, "bit")
    } else if let Some(p) = unit.strip_suffix("bit") {
        (p, "bit")
    } else if let Some(p) = unit.strip_suffix('B') {
        (p, "B")
    } else if let Some(p) = unit.strip_suffix('b') {
        (p, "bit")
    } else {
        return None;
    };
    let (dec, bin) = match prefix {
        "" => (0, 0),
        "k" => (3, 0),
        "M" => (6, 0),
        "G" => (9, 0),
        "T" => (12, 0),
        "Ki" => (0, 1),
        "Mi" => (0, 2),
        "Gi" => (0, 3),
        "Ti" => (0, 4),
        _ => return None,
    };
    Some((dec, bin, base == "bit"))
}

/// An exact decimal: `mantissa × 10^exp10`.
fn parse_decimal(text: &str) -> Option<(u128, i32)> {
    let (digits, exp) = match text.find(['e', 'E']) {
        Some(i) => (&text[..i], text[i + 1..].parse::<i32>().ok()?),
        None => (text, 0),
    };
    let digits = digits.strip_prefix('+').unwrap_or(digits);
    let (int, frac) = digits.split_once('.').unwrap_or((digits, ""));
    if (int.is_empty() && frac.is_empty()) || !(int.chars().chain(frac.chars()).all(|c| c.is_ascii_digit())) {
        return None;
    }
    let all = format!("{int}{frac}");
    let all = all.trim_start_matches('0');
    let mantissa = if all.is_empty() { 0 } else { all.parse::<u128>().ok()? };
    Some((mantissa, exp.checked_sub(frac.len() as i32)?))
}

/// `"9.98 GB"` → 9 980 000 000, exactly (no float rounding).
pub(super) fn bytes_from_str(s: &str) -> Result<u64, String> {
    let bad = || format!("{s:?} is not a byte count: expected {BYTE_FORMS}");
    let (num, unit) = split_number(s);
    let (dec, bin, bits) = if unit.is_empty() { (0, 0, false) } else { data_unit(unit).ok_or_else(bad)? };
    let (mut m, mut e) = parse_decimal(num).ok_or_else(bad)?;
    if m == 0 {
        return Ok(0);
    }
    let too_big = || format!("{s:?} is more than 18446744073709551615 bytes, the largest byte count");
    e += dec as i32;
    m = m.checked_mul(1u128 << (10 * bin)).ok_or_else(too_big)?;
    let mut den: u128 = if bits { 8 } else { 1 };
    while e > 0 {
        m = m.checked_mul(10).ok_or_else(too_big)?;
        e -= 1;
    }
    while e < 0 {
        den = den.checked_mul(10).ok_or_else(bad)?;
        e += 1;
    }
    if m % den != 0 {
        return Err(format!("{s:?} is not a whole number of bytes"));
    }
    u64::try_from(m / den).map_err(|_| too_big())
}

/// A rate or time: number × factor of the unit, from `units`.
fn scaled_from_str(s: &str, factor: impl Fn(&str) -> Option<f64>, forms: &str, what: &str) -> Result<f64, String> {
    let bad = || format!("{s:?} is not a {what}: expected {forms}");
    let (num, unit) = split_number(s);
    let x: f64 = num.parse().map_err(|_| bad())?;
    let f = if unit.is_empty() { 1.0 } else { factor(unit).ok_or_else(bad)? };
    let v = x * f;
    if v.is_finite() { Ok(v) } else { Err(bad()) }
}

fn rate_factor(unit: &str) -> Option<f64> {
    let per = unit.strip_suffix("/s")?;
    let (dec, bin, bits) = data_unit(per)?;
    let f = 10f64.powi(dec as i32) * 1024f64.powi(bin as i32);
    Some(if bits { f / 8.0 } else { f })
}

/// Seconds per unit.
fn seconds_per(unit: &str) -> Option<f64> {
    Some(match unit {
        "ns" => 1e-9,
        "us" | "µs" | "μs" => 1e-6,
        "ms" => 1e-3,
        "s" => 1.0,
        "min" => 60.0,
        "h" => 3600.0,
        _ => return None,
    })
}

fn bytes_from_value(v: Value) -> Result<u64, String> {
    match v {
        Value::Number(n) => {
            if let Some(u) = n.as_u64() {
                return Ok(u);
            }
            let f = n.as_f64().unwrap_or(f64::NAN);
            // 2^64 is exactly representable; every float below it that is
            // integral converts exactly.
            if (0.0..18446744073709551616.0).contains(&f) && f.fract() == 0.0 {
                Ok(f as u64)
            } else {
                Err(format!("{n} is not a byte count: expected {BYTE_FORMS}"))
            }
        }
        Value::String(s) => bytes_from_str(&s),
        other => Err(format!("invalid type: {}, expected {BYTE_FORMS}", kind(&other))),
    }
}

fn kind(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

fn f64_from_value(v: Value, factor: impl Fn(&str) -> Option<f64>, forms: &str, what: &str) -> Result<f64, String> {
    match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("{n} is not a {what}")),
        Value::String(s) => scaled_from_str(&s, factor, forms, what),
        other => Err(format!("invalid type: {}, expected {forms}", kind(&other))),
    }
}

fn ms_from_value(v: Value) -> Result<f64, String> {
    f64_from_value(v, |u| seconds_per(u).map(|s| s * 1e3), TIME_FORMS, "duration")
}
fn s_from_value(v: Value) -> Result<f64, String> {
    f64_from_value(v, seconds_per, TIME_FORMS, "duration")
}
fn rate_from_value(v: Value) -> Result<f64, String> {
    f64_from_value(v, rate_factor, RATE_FORMS, "rate")
}

fn required<'de, D: Deserializer<'de>, T>(d: D, f: fn(Value) -> Result<T, String>) -> Result<T, D::Error> {
    f(Value::deserialize(d)?).map_err(D::Error::custom)
}
fn optional<'de, D: Deserializer<'de>, T>(d: D, f: fn(Value) -> Result<T, String>) -> Result<Option<T>, D::Error> {
    match Value::deserialize(d)? {
        Value::Null => Ok(None),
        v => f(v).map(Some).map_err(D::Error::custom),
    }
}

/// A byte count: `1048576`, `9.98e9`, `"10 MiB"`, `"9.98 GB"`. Read with
/// a visitor, not through a `Value`: a 1 M-file scenario has a million.
pub fn bytes<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct Bytes;
    impl<'de> serde::de::Visitor<'de> for Bytes {
        type Value = u64;
        fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
            f.write_str(BYTE_FORMS)
        }
        fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<u64, E> {
            bytes_from_value(Value::from(v)).map_err(E::custom)
        }
        fn visit_f64<E: serde::de::Error>(self, v: f64) -> Result<u64, E> {
            bytes_from_value(Value::from(v)).map_err(E::custom)
        }
        fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<u64, E> {
            bytes_from_str(v).map_err(E::custom)
        }
        fn visit_bool<E: serde::de::Error>(self, v: bool) -> Result<u64, E> {
            bytes_from_value(Value::from(v)).map_err(E::custom)
        }
        fn visit_unit<E: serde::de::Error>(self) -> Result<u64, E> {
            bytes_from_value(Value::Null).map_err(E::custom)
        }
        fn visit_seq<A: serde::de::SeqAccess<'de>>(self, _: A) -> Result<u64, A::Error> {
            bytes_from_value(Value::Array(vec![])).map_err(serde::de::Error::custom)
        }
        fn visit_map<A: serde::de::MapAccess<'de>>(self, _: A) -> Result<u64, A::Error> {
            bytes_from_value(Value::Object(Default::default())).map_err(serde::de::Error::custom)
        }
    }
    d.deserialize_any(Bytes)
}
/// A byte count or `null`.
pub fn opt_bytes<'de, D: Deserializer<'de>>(d: D) -> Result<Option<u64>, D::Error> {
    optional(d, bytes_from_value)
}
/// A byte count held as a float (a bucket size) or `null`.
pub fn opt_bytes_f64<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    optional(d, |v| match v {
        Value::Number(n) => n.as_f64().ok_or_else(|| format!("{n} is not a byte count")),
        v => bytes_from_value(v).map(|b| b as f64),
    })
}
/// A rate in bytes/s: `125000000`, `"1 Gbit/s"`, `"12.5 MB/s"`.
pub fn rate<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    required(d, rate_from_value)
}
/// A rate in bytes/s or `null`.
pub fn opt_rate<'de, D: Deserializer<'de>>(d: D) -> Result<Option<f64>, D::Error> {
    optional(d, rate_from_value)
}
/// A duration in milliseconds: `40`, `"40 ms"`, `"1.5 s"`.
pub fn millis<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    required(d, ms_from_value)
}
/// A duration in seconds: `30`, `"30 s"`, `"500 ms"`.
pub fn seconds<'de, D: Deserializer<'de>>(d: D) -> Result<f64, D::Error> {
    required(d, s_from_value)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn b(v: Value) -> Result<u64, String> {
        bytes_from_value(v)
    }

    #[test]
    fn the_byte_visitor_agrees_with_the_value_path() {
        for text in ["1048576", "9.98e9", "-1", "1.5", "\"10 MiB\"", "\"x\"", "true", "null", "[1]", "{}", "0"] {
            let v: Value = serde_json::from_str(text).unwrap();
            let via_visitor = bytes(&mut serde_json::Deserializer::from_str(text)).map_err(|e| e.to_string());
            match (b(v), via_visitor) {
                (Ok(x), Ok(y)) => assert_eq!(x, y, "{text}"),
                (Err(x), Err(y)) => assert!(y.starts_with(&x), "{text}: {x} vs {y}"),
                (x, y) => panic!("{text}: {x:?} vs {y:?}"),
            }
        }
    }

    #[test]
    fn byte_counts_use_prefixes_exactly_as_written() {
        assert_eq!(b(json!(1048576)), Ok(1 << 20));
        assert_eq!(b(json!(9.98e9)), Ok(9_980_000_000));
        assert_eq!(b(json!("9.98 GB")), Ok(998 * 10u64.pow(7)));
        assert_eq!(b(json!("10 MiB")), Ok(10 << 20));
        assert_eq!(b(json!("10MiB")), Ok(10 << 20));
        assert_eq!(b(json!("512 kB")), Ok(512 * 1000));
        assert_eq!(b(json!("64 KiB")), Ok(64 << 10));
        assert_eq!(b(json!("1.5 KiB")), Ok(1024 + 512));
        assert_eq!(b(json!("2 TB")), Ok(2 * 10u64.pow(12)));
        assert_eq!(b(json!("1 TiB")), Ok(1 << 40));
        assert_eq!(b(json!("1 GiB")), Ok(1 << 30));
        assert_eq!(b(json!("8 Mbit")), Ok(10u64.pow(6)));
        assert_eq!(b(json!("8 kb")), Ok(1000));
        assert_eq!(b(json!("100")), Ok(100));
        assert_eq!(b(json!("1e3 B")), Ok(1000));
        assert_eq!(b(json!("0 B")), Ok(0));
    }

    #[test]
    fn byte_count_errors_name_the_accepted_forms() {
        for bad in [json!("10 XB"), json!("ten MB"), json!("10 KB"), json!("10 mb/s"), json!(""), json!("1 MiBB")] {
            let e = b(bad.clone()).unwrap_err();
            assert!(e.contains("Ki/Mi/Gi/Ti") && e.contains("\"10 MiB\""), "{bad}: {e}");
        }
        assert!(b(json!("1.0001 kB")).unwrap_err().contains("not a whole number of bytes"));
        assert!(b(json!("1 bit")).unwrap_err().contains("not a whole number of bytes"));
        assert!(b(json!(1.5)).unwrap_err().contains("not a byte count"));
        assert!(b(json!(-1)).unwrap_err().contains("not a byte count"));
        assert!(b(json!(1.9e19)).unwrap_err().contains("not a byte count"));
        assert!(b(json!("17 EiB")).is_err());
        assert!(b(json!("20000000 TB")).unwrap_err().contains("largest byte count"));
        assert!(b(json!(true)).unwrap_err().contains("invalid type: a boolean"));
    }

    #[test]
    fn rates_convert_bits_and_prefixes() {
        let r = |v: Value| rate_from_value(v).unwrap();
        assert_eq!(r(json!(125e6)), 125e6);
        assert_eq!(r(json!("100 Mbit/s")), 100e6 / 8.0);
        assert_eq!(r(json!("100 Mb/s")), 100e6 / 8.0);
        assert_eq!(r(json!("12.5 MB/s")), 12.5e6);
        assert_eq!(r(json!("10 MiB/s")), 10.0 * 1024.0 * 1024.0);
        assert_eq!(r(json!("1 Gbit/s")), 1e9 / 8.0);
        assert_eq!(r(json!("1 kB/s")), 1e3);
        assert_eq!(r(json!("3 B/s")), 3.0);
    }

    #[test]
    fn rate_errors_name_the_accepted_forms() {
        for bad in [json!("100 Mbps"), json!("100 MB"), json!("fast"), json!("1e999 B/s"), json!([1])] {
            let e = rate_from_value(bad.clone()).unwrap_err();
            assert!(e.contains("\"100 Mbit/s\""), "{bad}: {e}");
        }
    }

    #[test]
    fn durations_convert_to_the_fields_unit() {
        let ms = |v: Value| ms_from_value(v).unwrap();
        let s = |v: Value| s_from_value(v).unwrap();
        assert_eq!(ms(json!(40)), 40.0);
        assert_eq!(ms(json!("40 ms")), 40.0);
        assert_eq!(ms(json!("1.5 s")), 1500.0);
        assert_eq!(ms(json!("250 us")), 0.25);
        assert_eq!(ms(json!("250 µs")), 0.25);
        assert_eq!(s(json!("1.5 s")), 1.5);
        assert_eq!(s(json!("500 ms")), 0.5);
        assert_eq!(s(json!("2 min")), 120.0);
        assert_eq!(s(json!("1 h")), 3600.0);
        assert_eq!(s(json!("2000000 ns")), 2e-3);
    }

    #[test]
    fn duration_errors_name_the_accepted_forms() {
        for bad in [json!("40 sec"), json!("40 MS"), json!("soon"), json!(null)] {
            let e = ms_from_value(bad.clone()).unwrap_err();
            assert!(e.contains("ns, us, µs, ms, s, min, h"), "{bad}: {e}");
        }
    }

    #[test]
    fn optional_fields_take_null() {
        #[derive(Deserialize)]
        struct T {
            #[serde(deserialize_with = "opt_rate")]
            r: Option<f64>,
            #[serde(deserialize_with = "opt_bytes")]
            w: Option<u64>,
        }
        let t: T = serde_json::from_value(json!({"r": null, "w": "1 MiB"})).unwrap();
        assert_eq!((t.r, t.w), (None, Some(1 << 20)));
        let t: T = serde_json::from_str(r#"{"r": "8 Mbit/s", "w": null}"#).unwrap();
        assert_eq!((t.r, t.w), (Some(1e6), None));
    }
}

#[cfg(test)]
mod scenario_tests {
    use crate::error::Error;
    use crate::scenario::Scenario;

    const MODELS: &str =
        r#""workload": {"models": [{"name": "m", "files": [{"path": "a", "size_bytes": "9.98 GB"}]}]}"#;

    #[test]
    fn a_scenario_with_units_equals_one_in_plain_numbers() {
        let with_units = Scenario::from_json(&format!(
            r#"{{"server": {{"bandwidth_bps": "1 Gbit/s", "latency_ms": "0.01 s"}},
                "network": {{"rtt_ms": "40 ms", "tcp_window_bytes": "64 KiB"}},
                "client": {{"read_timeout_s": "30000 ms", "chunking": {{"chunk_size_bytes": "8 MiB"}}}}, {MODELS}}}"#
        ))
        .unwrap();
        assert_eq!(with_units.server.bandwidth_bps, Some(1e9 / 8.0));
        assert_eq!(with_units.server.latency_ms, 10.0);
        assert_eq!(with_units.network.rtt_ms, 40.0);
        assert_eq!(with_units.network.tcp_window_bytes, Some(64 * 1024));
        assert_eq!(with_units.client.read_timeout_s, 30.0);
        assert_eq!(with_units.client.chunking.chunk_size_bytes, 8 << 20);
        assert_eq!(with_units.workload.models[0].files.get(0).unwrap().size_bytes, 9_980_000_000);
        // Serialized back, the values are plain numbers in the field's unit.
        let v = serde_json::to_value(&with_units).unwrap();
        assert_eq!(v["network"]["rtt_ms"], serde_json::json!(40.0));
        assert_eq!(v["workload"]["models"][0]["files"][0]["size_bytes"], serde_json::json!(9_980_000_000u64));
    }

    #[test]
    fn a_bad_unit_names_the_field() {
        let e = Scenario::from_json(&format!(r#"{{"network": {{"rtt_ms": "40 sec"}}, {MODELS}}}"#)).unwrap_err();
        match e {
            Error::Scenario { field, message } => {
                assert!(field.starts_with("network.rtt_ms"), "{field}");
                assert!(message.contains("\"40 ms\""), "{message}");
            }
            other => panic!("{other}"),
        }
    }
}
