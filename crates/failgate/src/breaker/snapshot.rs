//! Snapshots: what the breaker reports about itself, after any transition that is
//! due.

use super::shared::Core;
use crate::snapshot::Snapshot;
use crate::state_machine;
use crate::vocabulary::State;
use std::time::Duration;

impl Core {
    /// `None` unless closed; then whether a failure or a slow call is counted (in the
    /// consecutive count or the window). What a per-key map asks before evicting.
    #[cfg(feature = "tower")]
    pub(super) fn closed_failing(&self) -> Option<bool> {
        let w = self.refresh();
        if w.busy() || w.state() != State::Closed {
            return None;
        }
        let consecutive = self.consecutive_count(w) != 0;
        let window = self.hot.window.as_ref().is_some_and(|window| {
            let now = if window.needs_clock() {
                self.hot.clock.now()
            } else {
                0
            };
            let counts = window.counts(now);
            counts.failures > 0 || counts.slow > 0
        });
        Some(consecutive || window)
    }

    pub(super) fn snapshot(&self) -> Snapshot {
        let w = self.refresh();
        let now = self.hot.clock.now();
        let since = self.since(w);
        let entered = since.map(|s| s.entered_at);
        let counts = self
            .hot
            .window
            .as_ref()
            .map(|window| window.counts(now))
            .unwrap_or_default();
        let consecutive_failures = self.consecutive_count(w);
        let retry_after = match (w.state(), since) {
            (State::Open, Some(since)) => {
                state_machine::time_left(since.until.max(self.hint_until()), now)
                    .map(Duration::from_nanos)
            }
            _ => None,
        };
        let slow_failures = self
            .hot
            .window
            .as_ref()
            .map_or(0, |window| window.slow_failures(now).min(counts.slow));
        let (window_rates, counted) = if self.hot.window.is_some() {
            (
                (
                    counts.failure_rate(self.settings.minimum_calls),
                    counts.slow_rate(self.settings.minimum_calls),
                ),
                true,
            )
        } else {
            ((None, None), false)
        };
        Snapshot {
            name: self.name.clone(),
            state: w.state(),
            generation: w.generation(),
            consecutive_failures,
            window: counted,
            calls: counts.calls,
            successes: counts.calls - counts.failures,
            failures: counts.failures,
            slow_calls: counts.slow,
            failure_rate: window_rates.0,
            slow_call_rate: window_rates.1,
            half_open_probes: w.taken(),
            half_open_successes: w.successes(),
            retry_after,
            time_in_state: entered.map_or(Duration::ZERO, |e| {
                Duration::from_nanos(now.saturating_sub(e))
            }),
            slow_successes: counts.slow - slow_failures,
            slow_failures,
            totals: self.tally().map(|tally| tally.totals()),
        }
    }
}
