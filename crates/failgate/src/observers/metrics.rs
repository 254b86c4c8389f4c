//! An observer that counts through the `metrics` facade.

use crate::vocabulary::REASON_NAMES;
use crate::{Event, EventKind, Observer, Outcome, Snapshot, State};
use metrics::{counter, gauge, histogram, Counter, Gauge, Histogram};

/// Counts a breaker's calls and transitions through the [`metrics`] facade, so any
/// recorder (Prometheus, StatsD, …) exports them. Every metric carries the label
/// `breaker` = the breaker's name; handles are registered once, when the observer is
/// made, never per call.
///
/// | metric | kind | labels |
/// |---|---|---|
/// | `failgate_calls_total` | counter | `outcome`: `success`, `failure`, `ignored`, `slow`, `slow_success`, `slow_failure`, `rejected`, `abandoned` |
/// | `failgate_transitions_total` | counter | `to`: the state entered |
/// | `failgate_transition_reasons_total` | counter | `reason`: [`Reason::as_str`](crate::Reason::as_str) of why |
/// | `failgate_state` | gauge | 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled, 5 count only |
/// | `failgate_call_duration_seconds` | histogram | (recorded when slow-call detection times calls) |
///
/// A slow call counts three times: as `slow`, as `slow_success` or `slow_failure`, and
/// as its outcome (`success` or `failure`), so `slow` = `slow_success` +
/// `slow_failure`, and summing every `outcome` counts slow calls more than once.
/// Refusals are `rejected`, one per refused call (resilience4j's not-permitted calls).
/// Outcomes that arrive after a change of state are counted too (they are calls that
/// happened); only the breaker's own window discards them.
///
/// Every counter only goes up, by one per event: none is ever set to an absolute
/// value, so a reset of the breaker never makes a Prometheus `rate()` see a counter
/// reset. Transitions by reason are a metric of their own, beside
/// `failgate_transitions_total`, so that the series of that one keep their labels.
/// The only gauges are the state and [`record_snapshot`]'s window figures, which go
/// down as the window does. The error an outcome event may carry is not recorded
/// (it would be a label of unbounded cardinality).
#[derive(Debug)]
pub struct MetricsObserver {
    success: Counter,
    failure: Counter,
    ignored: Counter,
    slow: Counter,
    slow_success: Counter,
    slow_failure: Counter,
    rejected: Counter,
    abandoned: Counter,
    transitions: [Counter; 6],
    reasons: [Counter; REASON_NAMES.len()],
    state: Gauge,
    duration: Histogram,
}

fn index(state: State) -> usize {
    usize::from(state.code())
}

impl MetricsObserver {
    /// Registers the handles of the breaker called `name` with the installed recorder.
    /// The state gauge starts at 0 (closed), as a new breaker does.
    pub fn new(name: &str) -> Self {
        let name = name.to_owned();
        let calls = |outcome: &'static str| counter!("failgate_calls_total", "breaker" => name.clone(), "outcome" => outcome);
        let observer = MetricsObserver {
            success: calls("success"),
            failure: calls("failure"),
            ignored: calls("ignored"),
            slow: calls("slow"),
            slow_success: calls("slow_success"),
            slow_failure: calls("slow_failure"),
            rejected: calls("rejected"),
            abandoned: calls("abandoned"),
            transitions: State::ALL.map(|s| {
                counter!("failgate_transitions_total", "breaker" => name.clone(), "to" => s.as_str())
            }),
            reasons: REASON_NAMES.map(|reason| {
                counter!("failgate_transition_reasons_total", "breaker" => name.clone(), "reason" => reason)
            }),
            state: gauge!("failgate_state", "breaker" => name.clone()),
            duration: histogram!("failgate_call_duration_seconds", "breaker" => name.clone()),
        };
        observer.state.set(0.0);
        observer
    }
}

impl Observer for MetricsObserver {
    fn on_event(&self, event: &Event<'_>) {
        match event.kind {
            EventKind::Success { duration, .. } => {
                self.success.increment(1);
                if let Some(d) = duration {
                    self.duration.record(d.as_secs_f64());
                }
            }
            EventKind::Failure { duration, .. } => {
                self.failure.increment(1);
                if let Some(d) = duration {
                    self.duration.record(d.as_secs_f64());
                }
            }
            EventKind::Ignored => self.ignored.increment(1),
            EventKind::Slow { outcome, .. } => {
                self.slow.increment(1);
                match outcome {
                    Outcome::Failure => self.slow_failure.increment(1),
                    _ => self.slow_success.increment(1),
                }
            }
            EventKind::Rejected { .. } => self.rejected.increment(1),
            EventKind::Abandoned => self.abandoned.increment(1),
            // The new breaker's gauge starts closed.
            EventKind::Reconfigured { .. } => self.state.set(index(State::Closed) as f64),
            EventKind::StateChange { to, reason, .. } => {
                self.transitions[index(to)].increment(1);
                self.reasons[reason.index()].increment(1);
                self.state.set(index(to) as f64);
            }
        }
    }
}

/// Sets the gauges of a [`Snapshot`], for a periodic exporter:
/// `failgate_window_calls`, `failgate_failure_rate` and `failgate_slow_call_rate`
/// (labelled `breaker`). A rate that is not known yet (fewer calls than the minimum)
/// is not set at all: never a made-up -1 or 0.
pub fn record_snapshot(m: &Snapshot) {
    let name = m.name.to_string();
    gauge!("failgate_window_calls", "breaker" => name.clone()).set(m.calls as f64);
    if let Some(rate) = m.failure_rate {
        gauge!("failgate_failure_rate", "breaker" => name.clone()).set(rate);
    }
    if let Some(rate) = m.slow_call_rate {
        gauge!("failgate_slow_call_rate", "breaker" => name).set(rate);
    }
}
