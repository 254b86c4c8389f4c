//! The settings of the peers' policies (resilience4j's half-open failure rate, Polly's
//! break-duration generator, gobreaker's interval), kept in one box beside the
//! [`Settings`] that breakers without them never allocate.

use super::Settings;
use crate::backoff::BreakDuration;
use crate::loom::AtomicU64;
use std::num::NonZeroU64;

/// The half-open failure-rate rule, the custom break duration and the forgetting of
/// consecutive failures: set together rarely, read only off the closed-success path.
#[derive(Debug, Clone, Default)]
pub(crate) struct PeerPolicies {
    /// The half-open rule: `None` for "every probe succeeds", or the probes' failure
    /// rate at which the breaker reopens.
    pub(crate) half_open_failure_rate: Option<f64>,
    /// A function that sets each open wait in place of the backoff.
    pub(crate) break_duration: Option<BreakDuration>,
    /// In nanoseconds: a failure more than this after the previous one starts the
    /// consecutive count again.
    pub(crate) forget_failures_after: Option<NonZeroU64>,
    /// When the last failure was counted (with `forget_failures_after`). The one piece
    /// of a breaker's state kept here, beside the setting that needs it, so that it
    /// costs the breakers without the setting nothing; a clone starts from zero, as a
    /// new breaker does.
    pub(crate) last_failure: LastFailure,
}

/// A breaker's last failure time, in the clock's nanoseconds.
pub(crate) struct LastFailure(pub(crate) AtomicU64);

impl Default for LastFailure {
    fn default() -> Self {
        LastFailure(AtomicU64::new(0))
    }
}

impl Clone for LastFailure {
    fn clone(&self) -> Self {
        LastFailure::default()
    }
}

impl std::fmt::Debug for LastFailure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("LastFailure")
    }
}

impl Settings {
    /// The half-open failure-rate rule's threshold, if set.
    #[inline]
    pub(crate) fn half_open_failure_rate(&self) -> Option<f64> {
        self.peer.as_ref().and_then(|p| p.half_open_failure_rate)
    }

    /// The custom break duration, if set.
    #[inline]
    pub(crate) fn break_duration(&self) -> Option<&BreakDuration> {
        self.peer.as_ref().and_then(|p| p.break_duration.as_ref())
    }

    /// The span after which consecutive failures are forgotten (in nanoseconds), with
    /// the breaker's last failure time, if set.
    #[inline]
    pub(crate) fn forget_failures_after(&self) -> Option<(u64, &AtomicU64)> {
        let p = self.peer.as_ref()?;
        p.forget_failures_after
            .map(|span| (span.get(), &p.last_failure.0))
    }
}
