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
pub use workload::{File, FileSpec, ModelSpec, Priority, SizeRange, Workload};

use crate::error::{Error, Result};
use std::path::Path;

impl Scenario {
    /// Parse and validate a scenario from JSON text.
    pub fn from_json(text: &str) -> Result<Scenario> {
        let value: serde_json::Value =
            serde_json::from_str(text).map_err(|e| Error::scenario("", format!("not valid JSON: {e}")))?;
        Scenario::from_value(value)
    }

    /// Deserialize (naming the failing field) and validate.
    pub fn from_value(value: serde_json::Value) -> Result<Scenario> {
        let s: Scenario = serde_path_to_error::deserialize(value).map_err(|e| {
            let path = e.path().to_string();
            let field = if path == "." { String::new() } else { path };
            Error::scenario(field, e.into_inner().to_string())
        })?;
        s.validate()?;
        Ok(s)
    }

    /// Read, parse and validate a scenario file.
    pub fn load(path: &Path) -> Result<Scenario> {
        let text = std::fs::read_to_string(path).map_err(|source| Error::Read { path: path.to_path_buf(), source })?;
        Scenario::from_json(&text).map_err(|e| match e {
            Error::Scenario { field, message } => {
                Error::Scenario { field, message: format!("{message} (in {})", path.display()) }
            }
            other => other,
        })
    }
}
