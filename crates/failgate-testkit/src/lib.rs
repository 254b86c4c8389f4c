//! What the tests of failgate's crates share:
//! - [`alloc`]: the one counting global allocator behind every no-allocation and leak
//!   test;
//! - [`contract`]: test bodies for the breaker contract ([`failgate::Breaker`]), written
//!   once and run against the local breaker (in `failgate`'s tests) and the fleet
//!   breaker (in `failgate-redis`'s);
//! - [`features`]: the crate docs' list of Cargo features, checked against the
//!   manifest;
//! - [`Hinting`]: a classifier whose errors carry a "retry after".
//!
//! No crate depends on this one: `failgate`'s and `failgate-redis`'s `tests/testkit/`
//! are symlinks to these files, compiled into each test binary as `mod testkit`. A
//! dependency would not do: cargo strips a path-only dev-dependency from a packaged
//! crate (its tests would then not build), and a versioned one on a crate that itself
//! depends on `failgate` is a cycle `cargo package` cannot order, and would link a
//! second `failgate`. A symlink is packaged as the file it points to, so each published
//! crate carries the kit and tests on its own (`failgate-reqwest` links [`features`]
//! alone). The paths below are relative (`super::`), so they resolve both here and
//! inside a test's `mod testkit`.

pub mod alloc;
pub mod contract;
pub mod features;

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
