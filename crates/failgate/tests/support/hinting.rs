//! A classifier whose errors carry a "retry after N seconds", as an HTTP `Retry-After`
//! would: `Ok` is a success, `Err(n)` a failure asking not to be called for `n` s.

use failgate::{Classify, Outcome};
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub(crate) struct Hinting;

impl Classify<(), u64> for Hinting {
    fn classify(&self, r: &Result<(), u64>) -> Outcome {
        if r.is_ok() {
            Outcome::Success
        } else {
            Outcome::Failure
        }
    }

    fn retry_after(&self, r: &Result<(), u64>) -> Option<Duration> {
        r.as_ref().err().map(|s| Duration::from_secs(*s))
    }
}
