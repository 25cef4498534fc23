//! Typed errors of the model core. Each names the file, line or key at fault.

use std::path::PathBuf;
use thiserror::Error;

/// A scenario that cannot be read or makes no sense.
#[derive(Debug, Error)]
pub enum ScenarioError {
    #[error("cannot read scenario {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}{message}", file.as_ref().map(|f| format!("{}: ", f.display())).unwrap_or_default())]
    Parse { file: Option<PathBuf>, message: String },
    #[error("{}invalid value for `{key}`: {message}", file.as_ref().map(|f| format!("{}: ", f.display())).unwrap_or_default())]
    Invalid { file: Option<PathBuf>, key: String, message: String },
    #[error(transparent)]
    Trace(#[from] TraceError),
    /// The trace a scenario names is not there: the message says how to point at it instead.
    #[error("{}trace {} not found ({source}); give its location with `--trace FILE`", if origin.is_empty() { String::new() } else { format!("{origin}: ") }, path.display())]
    TraceNotFound { origin: String, path: PathBuf, source: std::io::Error },
}

impl ScenarioError {
    pub fn invalid(key: &str, message: impl Into<String>) -> Self {
        ScenarioError::Invalid { file: None, key: key.to_string(), message: message.into() }
    }

    /// Attaches the file the error came from.
    pub fn in_file(self, path: &std::path::Path) -> Self {
        match self {
            ScenarioError::Parse { message, .. } => ScenarioError::Parse { file: Some(path.to_path_buf()), message },
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
    #[error("cannot read trace {}: {source}", path.display())]
    Io { path: PathBuf, source: std::io::Error },
    #[error("{}:{line}: {message}", path.display())]
    Line { path: PathBuf, line: usize, message: String },
    #[error("{}: {message}", path.display())]
    Format { path: PathBuf, message: String },
}
