//! What the tests of failgate's crates share:
//! - [`alloc`]: the one counting global allocator behind every no-allocation and leak
//!   test;
//! - [`contract`]: test bodies for the breaker contract ([`failgate::Breaker`]), written
//!   once and run against the local breaker (in `failgate`'s tests) and the fleet
//!   breaker (in `failgate-redis`'s);
//! - [`Hinting`]: a classifier whose errors carry a "retry after".

pub mod alloc;
pub mod contract;

use failgate::{Classify, Outcome};
use std::time::Duration;

/// A classifier whose errors carry a "retry after N seconds", as an HTTP `Retry-After`
/// would: `Ok` is a success, `Err(n)` a failure asking not to be called for `n` s.
#[derive(Debug, Clone, Copy, Default)]
pub struct Hinting;

impl<T> Classify<T, u64> for Hinting {
    fn classify(&self, r: &Result<T, u64>) -> Outcome {
        if r.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }

    fn retry_after(&self, r: &Result<T, u64>) -> Option<Duration> {
        r.as_ref().err().map(|s| Duration::from_secs(*s))
    }
}

/// An error asking not to be called for that many seconds: what a service behind a
/// tower layer fails with (a layer's errors are boxed, so they must be errors).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hint(pub u64);

impl std::fmt::Display for Hint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "overloaded: retry after {}s", self.0)
    }
}

impl std::error::Error for Hint {}

impl<T> Classify<T, Hint> for Hinting {
    fn classify(&self, r: &Result<T, Hint>) -> Outcome {
        Classify::<(), u64>::classify(self, &r.as_ref().map(|_| ()).map_err(|h| h.0))
    }

    fn retry_after(&self, r: &Result<T, Hint>) -> Option<Duration> {
        Classify::<(), u64>::retry_after(self, &r.as_ref().map(|_| ()).map_err(|h| h.0))
    }
}
