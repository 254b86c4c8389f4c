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

/// A breaker that opens on one failure, for 5 s of a clock that does not move.
pub(crate) fn opens_for_5s_on_one_failure() -> failgate::CircuitBreaker {
    failgate::CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(std::time::Duration::from_secs(5))
        .clock(failgate::ManualClock::new())
        .build()
        .unwrap()
}
