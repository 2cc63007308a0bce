//! Scenario files: the serde schema, its defaults, validation and sweeps.
//!
//! A scenario is JSON with four sections — `server`, `network`, `client`,
//! `workload` — plus an optional `sweep`. Unknown fields are errors. Every
//! default is documented on its field (and in the README); client defaults
//! equal the original Python `ParallelDownloadManager`'s where it had one.
//! Units are in the field names: `_bps` is bytes per second, `_bytes` bytes,
//! `_ms`/`_s` milliseconds/seconds.

mod manifest;
mod plan;
pub mod preset;
mod schema;
mod shape;
mod sweep;
mod units;
mod validate;
pub mod warnings;
mod workload;

pub use plan::{Budget, Estimate, HORIZON, Plan, estimate, estimate_files, resolve_seed};
pub use schema::*;
pub use sweep::{MAX_POINTS, MAX_REPLICATIONS, Points, SweepPoint, expand_points, points, replications};
pub use validate::{MAX_FILES, MAX_NAME_BYTES, MIN_RATE_BPS, excerpt};
pub use workload::{
    File, FileList, FileListBuilder, FileMeta, FileSet, FileSpec, FileSpecRef, ModelSpec, Priority, SizeRange, Workload,
};

use crate::error::{Error, Result};
use serde::Deserialize as _;
use serde_json::Value;
use std::path::Path;

/// Allowed values of integer fields, by the last segment of their path,
/// for type errors (serde knows only the Rust type's range).
const INTEGER_RANGES: &[(&str, &str)] = &[
    ("size_bytes", "an integer from 1 to 18446744073709551615"),
    ("min_size_bytes", "an integer from 1 to 18446744073709551615"),
    ("max_size_bytes", "an integer from 1 to 18446744073709551615"),
    ("count", "an integer from 1 to 10000000"),
    ("chunk_size_bytes", "an integer from 1 to 18446744073709551615"),
    ("min_chunk_bytes", "an integer from 1 to 18446744073709551615"),
    ("max_chunk_bytes", "an integer from min_chunk_bytes to 18446744073709551615"),
    ("min_split_size_bytes", "an integer from 1 to 18446744073709551615"),
    ("tcp_window_bytes", "an integer from 1 to 18446744073709551615, or null"),
    ("read_size_bytes", "an integer from 1 to 1099511627776"),
    ("write_quantum_bytes", "an integer from 1 to 1073741824, or null"),
    ("streaming_threshold_bytes", "an integer from 0 to 18446744073709551615"),
    ("split", "an integer from 1 to 64 (1000 with split_rule fan_out)"),
    ("max_concurrent_downloads", "an integer from 1 to 1000000"),
    ("max_concurrent_files_per_model", "an integer from 1 to 1000000"),
    ("max_connections_per_host", "an integer from 1 to 1000000, or null"),
    ("max_attempts", "an integer from 1 to 1000"),
    ("handshake_rtts", "an integer from 0 to 10"),
    ("cores", "an integer from 1 to 1024"),
    ("seed", "an integer from 0 to 18446744073709551615"),
    ("size", "an integer from 0 to 4294967295 (≥ 1 when block is true)"),
    ("keep_alive_max_requests", "an integer from 1 to 4294967295"),
    ("max_concurrent_requests", "an integer from 1 to 4294967295, or null"),
    ("max_requests_per_connection", "an integer from 1 to 4294967295"),
    ("parallel_failures", "an integer from 1 to 4294967295, or null"),
];

/// `text` with Rust type names replaced by JSON words.
fn plain_types(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find("struct ") {
        out.push_str(&rest[..i]);
        let after = &rest[i + "struct ".len()..];
        let ident = after.find(|c: char| !c.is_ascii_alphanumeric() && c != '_').unwrap_or(after.len());
        out.push_str(if ident > 0 { "an object" } else { "struct " });
        rest = &after[ident..];
    }
    out.push_str(rest);
    for (from, to) in [
        ("invalid type: map", "invalid type: an object"),
        ("invalid type: sequence", "invalid type: an array"),
        ("expected a sequence", "expected an array"),
        ("expected f64", "expected a number"),
        ("expected option", "expected a value or null"),
        ("expected a map", "expected an object"),
        ("with 1 element", "with 1 field"),
    ] {
        out = out.replace(from, to);
    }
    out
}

/// A whole scenario (a JSON object), tracking the path of a failing field.
fn deserialize<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> std::result::Result<Scenario, serde_path_to_error::Error<D::Error>> {
    serde_path_to_error::deserialize::<D, shape::Obj<Scenario>>(d).map(|o| o.0)
}

/// A serde error with the path of the field where it happened.
fn path_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> Error {
    let path = e.path().to_string();
    let mut field = if path == "." || path == "?" { String::new() } else { path };
    let inner = e.into_inner().to_string();
    // "missing field `x`" and "duplicate field `x`" are reported at the
    // enclosing object: name the field itself.
    for (prefix, what) in [("missing field `", "(it is required)"), ("duplicate field `", "(a key may appear once)")] {
        if let Some(rest) = inner.strip_prefix(prefix) {
            let key = rest.split('`').next().unwrap_or_default();
            let mut message = format!("{prefix}{key}` {what}");
            if let Some(at) = rest.find(" at line ") {
                message.push_str(&rest[at..]);
            }
            if key == "workload" && field.is_empty() {
                message.push_str(": a scenario needs \"workload\": {\"models\": [...]} with at least one model");
            }
            let field = if field.is_empty() { key.to_string() } else { format!("{field}.{key}") };
            return Error::scenario(field, message);
        }
    }
    // A section given as an array (shape.rs asks for a map only).
    if inner.starts_with("invalid type: sequence, expected struct ") {
        let field = if field.is_empty() { "(the whole scenario)".to_string() } else { field };
        return Error::scenario(field, "must be a JSON object {…}, got an array [...]");
    }
    if field.is_empty() && inner.contains("expected struct Scenario") {
        return Error::scenario("(the whole scenario)", "must be a JSON object {…}");
    }
    let mut message = if field.is_empty() { format!("not valid JSON: {inner}") } else { plain_types(&inner) };
    if message.contains("expected value") || message.contains("number out of range") {
        message.push_str(" (numbers must be finite: JSON has no NaN or Infinity)");
    }
    for ty in ["u64", "u32"] {
        // Byte-count fields (`units::bytes`) are u64 whichever form failed.
        let byte_count =
            ty == "u64" && (message.contains("not a byte count") || message.contains("largest byte count"));
        if message.contains(&format!("expected {ty}")) || byte_count {
            let last = field.rsplit('.').next().unwrap_or_default();
            let range = INTEGER_RANGES.iter().find(|(k, _)| *k == last).map(|(_, r)| *r).unwrap_or(if ty == "u64" {
                "an integer from 0 to 18446744073709551615"
            } else {
                "an integer from 0 to 4294967295"
            });
            message = format!("{message} (allowed: {range})");
        }
    }
    if field.is_empty() {
        field = String::new();
    }
    Error::scenario(field, message)
}

/// The last JSON key before `line:column` (1-based), to name the field of a
/// syntax error such as a number out of range.
fn key_before(text: &str, line: usize, column: usize) -> Option<String> {
    let offset: usize = text.split_inclusive('\n').take(line.saturating_sub(1)).map(str::len).sum::<usize>() + column;
    let before = text.get(..offset.min(text.len()))?;
    let colon = before.rfind(':')?;
    let key_end = before[..colon].trim_end().strip_suffix('"')?;
    let key_start = key_end.rfind('"')?;
    Some(format!("{} (near)", &key_end[key_start + 1..]))
}

/// Largest scenario file read, bytes (128 MiB, room for about 2 M explicit
/// files): generators (`linear`, `random`) describe big workloads in a few
/// lines, and a `manifest` lists any number of files in a file of its own.
pub const MAX_SCENARIO_FILE_BYTES: u64 = 128 << 20;

/// The text of a scenario file, reading at most [`MAX_SCENARIO_FILE_BYTES`]
/// (so `/dev/zero` or a huge file fails at once, not after gigabytes).
pub fn read_scenario_file(path: &Path) -> Result<String> {
    use std::io::Read;
    let err = |source| Error::Read { path: path.to_path_buf(), source };
    let file = std::fs::File::open(path).map_err(err)?;
    let mut bytes = Vec::new();
    file.take(MAX_SCENARIO_FILE_BYTES + 1).read_to_end(&mut bytes).map_err(err)?;
    if bytes.len() as u64 > MAX_SCENARIO_FILE_BYTES {
        return Err(Error::Other(format!(
            "{} is larger than {} MiB, the most a scenario file may be (list many files in a `manifest`, or use a `linear` or `random` workload generator)",
            path.display(),
            MAX_SCENARIO_FILE_BYTES >> 20
        )));
    }
    String::from_utf8(bytes)
        .map_err(|e| err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not UTF-8 text ({e})"))))
}

impl Scenario {
    /// Parse and validate a scenario from JSON text (manifests relative to
    /// the current directory).
    pub fn from_json(text: &str) -> Result<Scenario> {
        Scenario::from_json_in(text, Path::new("."))
    }

    /// Parse and validate a scenario from JSON text; `manifest` files are
    /// relative to `dir`.
    pub fn from_json_in(text: &str, dir: &Path) -> Result<Scenario> {
        if text.starts_with('\u{feff}') {
            return Err(Error::scenario(
                "",
                "the file starts with a UTF-8 byte-order mark (BOM); save it as plain UTF-8 without a BOM",
            ));
        }
        // One pass, straight into typed structs (no intermediate `Value`,
        // which for a 1 M-file scenario would cost more than the parse);
        // sections refuse arrays as they are read (shape.rs). Tracking the
        // path of each field doubles the cost of a parse, so only a failed
        // parse is repeated with tracking, to name the failing field.
        let mut de = serde_json::Deserializer::from_str(text);
        let parsed = shape::Obj::<Scenario>::deserialize(&mut de).and_then(|o| de.end().map(|()| o.0));
        let s = match parsed {
            Ok(s) => s,
            Err(_) => {
                let mut de = serde_json::Deserializer::from_str(text);
                let s = deserialize(&mut de).map_err(|e| {
                    let (line, column) = (e.inner().line(), e.inner().column());
                    match path_error(e) {
                        Error::Scenario { field, message } if field.is_empty() => {
                            Error::Scenario { field: key_before(text, line, column).unwrap_or_default(), message }
                        }
                        other => other,
                    }
                })?;
                de.end().map_err(|e| Error::scenario("", format!("not valid JSON: {e}")))?;
                s
            }
        };
        let mut s = s;
        if s.client.preset.is_some() {
            // Types are checked (with line and column) above; the preset's
            // values are filled in on the JSON tree, so a scenario naming a
            // preset is read twice.
            let value: Value = serde_json::from_str(text).expect("text that deserialized into a scenario is JSON");
            s = deserialize(preset::resolve_scenario(value)).map_err(path_error)?;
        }
        manifest::resolve(&mut s, dir)?;
        s.validate()?;
        Ok(s)
    }

    /// Deserialize (naming the failing field) and validate.
    pub fn from_value(value: Value) -> Result<Scenario> {
        let mut s = deserialize(preset::resolve_scenario(value)).map_err(path_error)?;
        manifest::resolve(&mut s, Path::new("."))?;
        s.validate()?;
        Ok(s)
    }

    /// Read (at most [`MAX_SCENARIO_FILE_BYTES`]), parse and validate a scenario file.
    pub fn load(path: &Path) -> Result<Scenario> {
        let text = read_scenario_file(path)?;
        let dir = path.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
        Scenario::from_json_in(&text, dir).map_err(|e| e.in_file(path))
    }
}
