//! An application's own error type, to be found by type in an error's chain
//! (`error_chain.rs`, `rejections.rs`).

use std::fmt;

/// A dependency's answer as an error: its status.
#[derive(Debug, PartialEq)]
pub(crate) struct Upstream(pub(crate) u16);

impl fmt::Display for Upstream {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "upstream answered {}", self.0)
    }
}

impl std::error::Error for Upstream {}
