//! A configuration file that could not be used ([`FileError`]), and how a builder's
//! [`ConfigError`] becomes one with its path in the file.

use super::limits::Limit;
use crate::policy::ConfigError;
use std::fmt;

/// A configuration file that could not be used: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    path: String,
    message: String,
    limit: Option<Limit>,
}

impl FileError {
    pub(super) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FileError {
            path: path.into(),
            message: message.into(),
            limit: None,
        }
    }

    pub(super) fn over(limit: Limit) -> Self {
        FileError {
            path: String::new(),
            message: limit.to_string(),
            limit: Some(limit),
        }
    }

    /// The limit the file went over, if that is why it was refused (before parsing).
    pub fn limit(&self) -> Option<Limit> {
        self.limit
    }

    /// Where the problem is: a dotted path such as `breakers.payments.failure_rate`
    /// (empty for the file as a whole).
    pub fn path(&self) -> &str {
        &self.path
    }

    /// What is wrong.
    pub fn message(&self) -> &str {
        &self.message
    }
}

impl fmt::Display for FileError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.path.is_empty() {
            f.write_str(&self.message)
        } else {
            write!(f, "{}: {}", self.path, self.message)
        }
    }
}

impl std::error::Error for FileError {}

/// A builder's refusal, with the path of the settings it came from.
pub(super) fn config_error(path: &str, e: &ConfigError) -> FileError {
    let full = if path.is_empty() {
        e.field().to_string()
    } else {
        format!("{path}.{}", e.field())
    };
    FileError::new(full, format!("{} {}", e.value(), e.problem()))
}
