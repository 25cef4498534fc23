//! Typed errors of the model core. Each names the file, line or key at fault.

use std::path::PathBuf;
use thiserror::Error;

/// A scenario that cannot be read or makes no sense.
#[derive(Debug, Error)]
pub enum ScenarioError {
    /// The scenario file could not be read.
    #[error("cannot read scenario {}: {source}", path.display())]
    Io {
        /// The scenario file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The text is not valid TOML or does not match the scenario schema (e.g. an unknown key).
    #[error("{}{source}", file.as_ref().map(|f| format!("{}: ", f.display())).unwrap_or_default())]
    Parse {
        /// The file it came from, once known.
        file: Option<PathBuf>,
        /// What is wrong, with the line, column and key.
        source: Box<toml::de::Error>,
    },
    /// A value parsed but is impossible (out of range, inconsistent with another key).
    #[error("{}invalid value for `{key}`: {message}", file.as_ref().map(|f| format!("{}: ", f.display())).unwrap_or_default())]
    Invalid {
        /// The file it came from, once known.
        file: Option<PathBuf>,
        /// The dotted key at fault, e.g. `channel.bandwidth_hz`.
        key: String,
        /// Why the value is rejected.
        message: String,
    },
    /// The mobility trace the scenario names could not be read.
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// The trace a scenario names is not there: the message says how to point at it instead.
    #[error("{}trace {} not found ({source}); give its location with `--trace FILE`", if origin.is_empty() { String::new() } else { format!("{origin}: ") }, path.display())]
    TraceNotFound {
        /// The scenario (file or name) that named the trace; empty if unknown.
        origin: String,
        /// The trace path that was looked for.
        path: PathBuf,
        /// The I/O error from opening it.
        source: std::io::Error,
    },
}

impl ScenarioError {
    /// An [`ScenarioError::Invalid`] for `key`, not yet tied to a file (see [`Self::in_file`]).
    pub fn invalid(key: &str, message: impl Into<String>) -> Self {
        ScenarioError::Invalid { file: None, key: key.to_string(), message: message.into() }
    }

    /// Attaches the file the error came from.
    pub fn in_file(self, path: &std::path::Path) -> Self {
        match self {
            ScenarioError::Parse { source, .. } => ScenarioError::Parse { file: Some(path.to_path_buf()), source },
            ScenarioError::Invalid { key, message, .. } => {
                ScenarioError::Invalid { file: Some(path.to_path_buf()), key, message }
            }
            other => other,
        }
    }
}

/// A mobility trace that cannot be read.
#[derive(Debug, Error)]
pub enum TraceError {
    /// The trace file could not be opened or read.
    #[error("cannot read trace {}: {source}", path.display())]
    Io {
        /// The trace file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// One line of the trace is malformed.
    #[error("{}:{line}: {message}", path.display())]
    Line {
        /// The trace file.
        path: PathBuf,
        /// The 1-based line number at fault.
        line: usize,
        /// What is wrong with it.
        message: String,
    },
    /// The trace as a whole is not in a known format (bad header, empty, not FCD XML...).
    #[error("{}: {message}", path.display())]
    Format {
        /// The trace file.
        path: PathBuf,
        /// What is wrong with it.
        message: String,
    },
}
