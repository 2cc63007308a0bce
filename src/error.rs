//! Typed errors for bad user input. Every variant names what was wrong and
//! what is allowed; the CLI prints it and exits with code 2.

use std::fmt;
use std::path::PathBuf;

#[derive(Debug)]
pub enum Error {
    /// A scenario field is missing, malformed or out of range.
    Scenario { field: String, message: String },
    /// A scenario file could not be read.
    Read { path: PathBuf, source: std::io::Error },
    /// An output file or directory could not be written.
    Write { path: PathBuf, source: std::io::Error },
    /// A command-line flag is invalid.
    Flag { flag: String, message: String },
    /// A run refused because its estimated work or memory exceeds the
    /// budget; the message says how much it would need and which flag
    /// raises the limit.
    Budget(String),
    /// Anything else the user can fix (a refused port, a bad report file…).
    Other(String),
}

pub type Result<T> = std::result::Result<T, Error>;

impl Error {
    pub fn scenario(field: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Scenario { field: field.into(), message: message.into() }
    }
    pub fn flag(flag: impl Into<String>, message: impl Into<String>) -> Self {
        Error::Flag { flag: flag.into(), message: message.into() }
    }
    /// Name the scenario file a scenario error (or a budget refusal) came from.
    pub fn in_file(self, path: &std::path::Path) -> Self {
        match self {
            Error::Scenario { field, message } => {
                let tag = format!("(in {})", path.display());
                let message = if message.contains(&tag) { message } else { format!("{message} {tag}") };
                Error::Scenario { field, message }
            }
            Error::Budget(m) => Error::Budget(format!("{}: {m}", path.display())),
            other => other,
        }
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Error::Scenario { field, message } if field.is_empty() => {
                write!(f, "invalid scenario: {message}")
            }
            Error::Scenario { field, message } => {
                write!(f, "invalid scenario: field `{field}`: {message}")
            }
            Error::Read { path, source } => write!(f, "cannot read {}: {source}", path.display()),
            Error::Write { path, source } => write!(f, "cannot write {}: {source}", path.display()),
            Error::Flag { flag, message } => write!(f, "invalid flag {flag}: {message}"),
            Error::Budget(m) => write!(f, "refused: {m}"),
            Error::Other(m) => f.write_str(m),
        }
    }
}

impl std::error::Error for Error {}
