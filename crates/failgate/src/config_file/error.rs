//! A configuration file that could not be used ([`FileError`]), the [`Limit`] it may
//! have gone over, and how a builder's [`ConfigError`] becomes one with its path in
//! the file. A leaf of `config_file`: the scans and the loading report through it.

use crate::policy::ConfigError;
use std::fmt;
use std::path::{Path, PathBuf};

/// A limit a file went over: which one, and by how much.
///
/// `#[non_exhaustive]`: a new check before parsing brings its limit, so a `match`
/// outside this crate needs a wildcard arm.
///
/// ```compile_fail,E0004
/// fn what(limit: failgate::config_file::Limit) -> &'static str {
///     use failgate::config_file::Limit;
///     match limit {
///         Limit::Size { .. } => "size",
///         Limit::Depth { .. } => "depth",
///         Limit::UnscannableYaml { .. } => "yaml",
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Limit {
    /// The file has `found` bytes, more than `limit` ([`MAX_FILE_BYTES`](super::MAX_FILE_BYTES)).
    Size {
        /// The limit.
        limit: usize,
        /// The file's size (at least; a file is read no further than the limit).
        found: usize,
    },
    /// Collections nest `found` deep, more than `limit` ([`MAX_DEPTH`](super::MAX_DEPTH)).
    Depth {
        /// The limit.
        limit: usize,
        /// The deepest nesting the scan found.
        found: usize,
    },
    /// A YAML construct whose nesting the scan cannot bound (see the module docs),
    /// at this line (from 1).
    UnscannableYaml {
        /// The line, from 1.
        line: usize,
        /// What was found there.
        what: &'static str,
    },
}

impl fmt::Display for Limit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Limit::Size { limit, found } => {
                write!(f, "the file has {found} bytes, over the limit of {limit}")
            }
            Limit::Depth { limit, found } => {
                write!(f, "nesting depth {found} is over the limit of {limit}")
            }
            Limit::UnscannableYaml { line, what } => write!(
                f,
                "line {line}: {what} is not accepted (its nesting cannot be bounded before parsing)"
            ),
        }
    }
}

/// A configuration file that could not be used: where, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileError {
    path: String,
    message: String,
    limit: Option<Limit>,
    file: Option<PathBuf>,
}

impl FileError {
    pub(super) fn new(path: impl Into<String>, message: impl Into<String>) -> Self {
        FileError {
            path: path.into(),
            message: message.into(),
            limit: None,
            file: None,
        }
    }

    pub(super) fn over(limit: Limit) -> Self {
        FileError {
            path: String::new(),
            message: limit.to_string(),
            limit: Some(limit),
            file: None,
        }
    }

    /// The same error, naming the file it is in (shown first by `Display`).
    #[cfg(feature = "registry")]
    pub(super) fn in_file(mut self, file: &Path) -> Self {
        self.file = Some(file.to_path_buf());
        self
    }

    /// The file the error is in, when the caller gave one
    /// ([`Registry::reload_file`](crate::Registry::reload_file) does).
    pub fn file(&self) -> Option<&Path> {
        self.file.as_deref()
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
        if let Some(file) = &self.file {
            write!(f, "{}: ", file.display())?;
        }
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
