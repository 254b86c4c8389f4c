//! The mirror as a [`failgate::Snapshot`]: what [`failgate::Breaker::snapshot`] shows of
//! a fleet breaker.

use super::Mirror;
use crate::script::SharedState;
use failgate::{Snapshot, State};
use std::sync::atomic::Ordering::{Acquire, Relaxed};

impl Mirror {
    /// The state calls see, and the shared window as of the last round trip. In local
    /// fallback, the local breaker's own snapshot (under the fleet breaker's name).
    pub(crate) fn snapshot(&self) -> Snapshot {
        let state = self.state();
        let w = self.word.load(Acquire);
        if w.is_local() && state != State::Open {
            let mut local = self.local.snapshot();
            local.name = self.name.as_str().into();
            // Its time in state is the fallback's own (it was reset on falling back).
            local.totals = self.totals();
            return local;
        }
        let mut s = Snapshot::new(self.name.as_str(), state);
        s.generation = w.generation();
        s.window = true;
        s.calls = self.shared_calls.load(Relaxed);
        s.failures = self.shared_failures.load(Relaxed).min(s.calls);
        s.successes = s.calls - s.failures;
        if s.calls >= self.minimum_calls && s.calls > 0 {
            s.failure_rate = Some(s.failures as f64 / s.calls as f64);
        }
        if w.kind() == SharedState::Open {
            s.retry_after = self.open_left();
        }
        s.totals = self.totals();
        s.time_in_state = self.time_in_state();
        s
    }
}

impl Mirror {
    /// `None` unless closed; then whether a failure is counted, here or (as of the last
    /// round trip) in the shared window, which a per-key map must not forget by
    /// evicting the breaker.
    #[cfg(feature = "tower")]
    pub(crate) fn closed_failing(&self) -> Option<bool> {
        let w = self.word.load(Acquire);
        if w.is_local() {
            return <failgate::Builder as failgate::tower::per_key::Template>::closed_failing(
                &self.local,
            );
        }
        (w.kind() == SharedState::Closed).then(|| {
            self.pending_failures.load(Relaxed) > 0 || self.shared_failures.load(Relaxed) > 0
        })
    }
}
