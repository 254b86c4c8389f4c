//! An observer that logs through `tracing`.

use crate::{Event, EventKind, Observer, State};
use std::sync::atomic::{AtomicU64, Ordering};

/// Logs a breaker's changes of state, and samples its rejections.
///
/// - Opening (to open or forced open) is logged at `WARN`, other changes at `INFO`,
///   with the breaker's name, the states, the reason with its figures, and the wait.
/// - Rejections are logged at `DEBUG`, sampled so that an open breaker under load does
///   not flood the log: the 1st, 2nd, 4th, 8th, … rejection since the last change of
///   state, each with the count so far.
/// - Slow calls are logged at `DEBUG`; other outcomes at `TRACE`. A failure (or an
///   ignored outcome) whose event carries its error ([`Event::error`]) is logged with
///   it, as the field `error`, at `DEBUG`; it is formatted only if that level is on.
///
/// One observer per breaker ([`Builder::with_tracing`](crate::Builder::with_tracing)
/// does that): the sampling count is the observer's.
#[derive(Debug, Default)]
pub struct TracingObserver {
    rejections: AtomicU64,
}

impl TracingObserver {
    /// A new observer.
    pub fn new() -> Self {
        Self::default()
    }
}

impl Observer for TracingObserver {
    fn on_event(&self, event: &Event<'_>) {
        let breaker = event.name;
        match event.kind {
            EventKind::StateChange {
                from,
                to,
                reason,
                generation,
                wait,
            } => {
                let rejected = self.rejections.swap(0, Ordering::Relaxed);
                if matches!(to, State::Open | State::ForcedOpen) {
                    tracing::warn!(
                        breaker,
                        %from,
                        %to,
                        %reason,
                        wait = ?wait,
                        generation,
                        "circuit opened"
                    );
                } else {
                    tracing::info!(
                        breaker,
                        %from,
                        %to,
                        %reason,
                        generation,
                        rejected_while_open = rejected,
                        "circuit {}",
                        verb(to)
                    );
                }
            }
            EventKind::Rejected { state, retry_after } => {
                let n = self.rejections.fetch_add(1, Ordering::Relaxed) + 1;
                if n.is_power_of_two() {
                    tracing::debug!(breaker, %state, retry_after = ?retry_after, rejected = n, "call rejected");
                }
            }
            EventKind::Slow { duration, outcome } => {
                tracing::debug!(breaker, ?duration, ?outcome, "slow call");
            }
            EventKind::Success { duration, counted } => {
                tracing::trace!(breaker, ?duration, counted, "call succeeded");
            }
            EventKind::Failure { duration, counted } => match event.error {
                Some(error) => {
                    tracing::debug!(breaker, ?duration, counted, %error, "call failed");
                }
                None => tracing::trace!(breaker, ?duration, counted, "call failed"),
            },
            EventKind::Ignored => match event.error {
                Some(error) => tracing::debug!(breaker, %error, "call ignored"),
                None => tracing::trace!(breaker, "call ignored"),
            },
            EventKind::Abandoned => tracing::trace!(breaker, "call abandoned"),
            EventKind::Reconfigured { previous } => {
                tracing::info!(breaker, %previous, "rebuilt with new settings");
            }
        }
    }
}

fn verb(to: State) -> &'static str {
    match to {
        State::Closed => "closed",
        State::HalfOpen => "half-open: probing",
        State::Disabled => "disabled",
        State::CountOnly => "counting only",
        State::Open | State::ForcedOpen => "opened",
    }
}
