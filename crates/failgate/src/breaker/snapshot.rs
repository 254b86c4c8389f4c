//! Snapshots: what the breaker reports about itself, after any transition that is
//! due.

use super::shared::{Core, CONSECUTIVE_MASK, CONSECUTIVE_SHIFT};
use crate::loom::Ordering;
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
        let c = self.hot.consecutive.load(Ordering::Relaxed);
        let consecutive = c >> CONSECUTIVE_SHIFT == w.generation() && c & CONSECUTIVE_MASK != 0;
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
        let entered = self.entered_at(w);
        let counts = self
            .hot
            .window
            .as_ref()
            .map(|window| window.counts(now))
            .unwrap_or_default();
        let c = self.hot.consecutive.load(Ordering::Relaxed);
        let consecutive_failures = if c >> CONSECUTIVE_SHIFT == w.generation() {
            (c & CONSECUTIVE_MASK) as u32
        } else {
            0
        };
        let retry_after = match (w.state(), entered) {
            (State::Open, Some(entered)) => state_machine::time_left(
                state_machine::open_deadline(w, entered, &self.settings).max(self.hint_until()),
                now,
            )
            .map(Duration::from_nanos),
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
                    counts.failure_rate(&self.settings),
                    counts.slow_rate(&self.settings),
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
