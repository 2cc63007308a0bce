//! Scenario files: the serde schema, its defaults, validation and sweeps.
//!
//! A scenario is JSON with four sections — `server`, `network`, `client`,
//! `workload` — plus an optional `sweep`. Unknown fields are errors. Every
//! default is documented on its field (and in the README); client defaults
//! equal the original Python `ParallelDownloadManager`'s where it had one.
//! Units are in the field names: `_bps` is bytes per second, `_bytes` bytes,
//! `_ms`/`_s` milliseconds/seconds.

mod schema;
mod sweep;
mod validate;
mod workload;

pub use schema::*;
pub use sweep::{SweepPoint, expand_points};
pub use validate::MIN_RATE_BPS;
pub use workload::{File, FileSpec, ModelSpec, Priority, SizeRange, Workload};

use crate::error::{Error, Result};
use std::path::Path;

/// A serde error with the path of the field where it happened.
fn path_error<E: std::fmt::Display>(e: serde_path_to_error::Error<E>) -> Error {
    let path = e.path().to_string();
    let field = if path == "." || path == "?" { String::new() } else { path };
    let inner = e.into_inner().to_string();
    let mut message = if field.is_empty() && !inner.starts_with("missing field") {
        format!("not valid JSON: {inner}")
    } else {
        inner
    };
    if message.starts_with("expected value") || message.starts_with("number out of range") {
        message.push_str(" (numbers must be finite: JSON has no NaN or Infinity)");
    }
    for (ty, range) in
        [("u64", "an integer from 0 to 18446744073709551615"), ("u32", "an integer from 0 to 4294967295")]
    {
        if message.contains(&format!("expected {ty}")) {
            message = format!("{message} (allowed: {range})");
        }
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

/// Largest scenario file read, bytes (16 MiB): generators (`linear`,
/// `random`) describe big workloads in a few lines.
pub const MAX_SCENARIO_FILE_BYTES: u64 = 16 << 20;

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
            "{} is larger than {} MiB, the most a scenario file may be (use a `linear` or `random` workload generator for many files)",
            path.display(),
            MAX_SCENARIO_FILE_BYTES >> 20
        )));
    }
    String::from_utf8(bytes)
        .map_err(|e| err(std::io::Error::new(std::io::ErrorKind::InvalidData, format!("not UTF-8 text ({e})"))))
}

impl Scenario {
    /// Parse and validate a scenario from JSON text.
    pub fn from_json(text: &str) -> Result<Scenario> {
        let mut de = serde_json::Deserializer::from_str(text);
        let s: Scenario = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            let (line, column) = (e.inner().line(), e.inner().column());
            match path_error(e) {
                Error::Scenario { field, message } if field.is_empty() => {
                    Error::Scenario { field: key_before(text, line, column).unwrap_or_default(), message }
                }
                other => other,
            }
        })?;
        de.end().map_err(|e| Error::scenario("", format!("not valid JSON: {e}")))?;
        s.validate()?;
        Ok(s)
    }

    /// Deserialize (naming the failing field) and validate.
    pub fn from_value(value: serde_json::Value) -> Result<Scenario> {
        let s: Scenario = serde_path_to_error::deserialize(value).map_err(path_error)?;
        s.validate()?;
        Ok(s)
    }

    /// Read, parse and validate a scenario file.
    pub fn load(path: &Path) -> Result<Scenario> {
        let text = read_scenario_file(path)?;
        Scenario::from_json(&text).map_err(|e| match e {
            Error::Scenario { field, message } => {
                Error::Scenario { field, message: format!("{message} (in {})", path.display()) }
            }
            other => other,
        })
    }
}
