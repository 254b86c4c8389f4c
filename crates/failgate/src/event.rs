//! The observer hook: what happened inside a breaker, as it happened.
//!
//! An [`Observer`] is called synchronously, on the caller's thread, for every event.
//! When no observer is set, emitting an event costs one predictable branch. The
//! tracing and metrics integrations are observers; so is any closure
//! `Fn(&Event<'_>) + Send + Sync`.
//!
//! ```
//! use failgate::{CircuitBreaker, EventKind, ManualClock, State};
//! use std::sync::{Arc, Mutex};
//!
//! let changes = Arc::new(Mutex::new(Vec::new()));
//! let seen = changes.clone();
//! let breaker = CircuitBreaker::builder()
//!     .consecutive_failures(1)
//!     .clock(ManualClock::new())
//!     .observer(move |e: &failgate::Event<'_>| {
//!         if let EventKind::StateChange { from, to, .. } = e.kind {
//!             seen.lock().unwrap().push((from, to));
//!         }
//!     })
//!     .build()
//!     .unwrap();
//! let _ = breaker.call(|| Err::<(), _>("boom"));
//! assert_eq!(*changes.lock().unwrap(), vec![(State::Closed, State::Open)]);
//! ```

use crate::outcome::Outcome;
use crate::vocabulary::{Reason, State};
use std::fmt;
use std::time::Duration;

/// Receives a breaker's events. Keep it fast: it runs on the calling thread.
pub trait Observer: Send + Sync + 'static {
    /// Called once for each event.
    fn on_event(&self, event: &Event<'_>);
}

impl<F> Observer for F
where
    F: Fn(&Event<'_>) + Send + Sync + 'static,
{
    fn on_event(&self, event: &Event<'_>) {
        self(event)
    }
}

/// Several observers, called in order.
pub(crate) struct Fanout(pub(crate) Vec<std::sync::Arc<dyn Observer>>);

impl Observer for Fanout {
    fn on_event(&self, event: &Event<'_>) {
        for o in &self.0 {
            o.on_event(event);
        }
    }
}

/// One thing that happened in a breaker.
///
/// `#[non_exhaustive]`: an event may carry more (a timestamp, the generation) in a
/// minor release. Read its fields; build one with [`Event::new`] (to test an
/// [`Observer`], say), not with a struct literal:
///
/// ```compile_fail,E0639
/// use failgate::{Event, EventKind};
///
/// let event = Event { name: "db", kind: EventKind::Ignored, error: None };
/// ```
#[derive(Clone, Copy)]
#[non_exhaustive]
pub struct Event<'a> {
    /// The breaker's name.
    pub name: &'a str,
    /// What happened.
    pub kind: EventKind,
    /// What failed, for a [`Failure`](EventKind::Failure) or an
    /// [`Ignored`](EventKind::Ignored) outcome recorded with its error: a borrow of the
    /// call's error, formatted only by an observer that writes it.
    ///
    /// Set when the call's path can see an error that is `Display`: `call` and
    /// `call_async` with a classifier that [describes](crate::Classify::describe) its
    /// errors (such as [`Described`](crate::Described)), the tower layer with one, a
    /// permit's [`record_described`](crate::Report::record_described). Sampled: one
    /// described outcome in [`Builder::sample_errors`](crate::Builder::sample_errors)
    /// carries it (every one by default). `None` for every other event. Without an
    /// observer no error is looked at at all.
    pub error: Option<&'a dyn fmt::Display>,
}

impl<'a> Event<'a> {
    /// An event of breaker `name`, with no error: what an observer is called with.
    pub fn new(name: &'a str, kind: EventKind) -> Self {
        Event {
            name,
            kind,
            error: None,
        }
    }

    /// The same event, carrying `error`.
    ///
    /// ```
    /// use failgate::{Event, EventKind};
    ///
    /// let kind = EventKind::Failure { duration: None, counted: true };
    /// let event = Event::new("db", kind).with_error(&"connection refused");
    /// assert_eq!(event.error.map(|e| e.to_string()).as_deref(), Some("connection refused"));
    /// ```
    pub fn with_error(self, error: &'a dyn fmt::Display) -> Self {
        Event {
            error: Some(error),
            ..self
        }
    }
}

impl fmt::Debug for Event<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Event");
        d.field("name", &self.name).field("kind", &self.kind);
        match self.error {
            Some(error) => d.field("error", &format_args!("Some({error})")),
            None => d.field("error", &format_args!("None")),
        };
        d.finish()
    }
}

/// Events are equal when their names and kinds are, and their errors read the same.
impl PartialEq for Event<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
            && self.kind == other.kind
            && match (self.error, other.error) {
                (None, None) => true,
                (Some(a), Some(b)) => a.to_string() == b.to_string(),
                _ => false,
            }
    }
}

/// The kinds of [`Event`].
///
/// `#[non_exhaustive]`: each new thing a breaker learns to report is a new kind, so an
/// observer's `match` outside this crate ends with a wildcard arm (that ignores what it
/// does not know):
///
/// ```
/// use failgate::{Event, EventKind};
///
/// fn log(event: &Event<'_>) -> Option<String> {
///     match event.kind {
///         EventKind::StateChange { from, to, .. } => Some(format!("{from} -> {to}")),
///         EventKind::Rejected { .. } => Some("rejected".into()),
///         EventKind::Success { .. } | EventKind::Failure { .. } | EventKind::Ignored => None,
///         EventKind::Slow { .. } | EventKind::Abandoned => None,
///         _ => None, // a kind added later
///     }
/// }
/// assert_eq!(log(&Event::new("db", EventKind::Ignored)), None);
/// ```
///
/// Without the wildcard, the same match does not compile:
///
/// ```compile_fail,E0004
/// # use failgate::{Event, EventKind};
/// fn log(event: &Event<'_>) -> Option<String> {
///     match event.kind {
///         EventKind::StateChange { from, to, .. } => Some(format!("{from} -> {to}")),
///         EventKind::Rejected { .. } => Some("rejected".into()),
///         EventKind::Success { .. } | EventKind::Failure { .. } | EventKind::Ignored => None,
///         EventKind::Slow { .. } | EventKind::Abandoned => None,
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum EventKind {
    /// The breaker changed state. Exactly one event is emitted per transition, by the
    /// thread that made it.
    StateChange {
        /// The state it left.
        from: State,
        /// The state it entered.
        to: State,
        /// Why.
        reason: Reason,
        /// The generation the breaker entered (it counts transitions).
        generation: u64,
        /// How long it will stay open before probing, when `to` is [`State::Open`]: the
        /// wait applied, which is the backoff's (or the operator's, for
        /// [`open_for`](crate::CircuitBreaker::open_for)) or a longer (capped) `Retry-After`, the
        /// same a refusal right after reports in [`Rejected::retry_after`](crate::Rejected::retry_after).
        wait: Option<Duration>,
    },
    /// A call was refused.
    Rejected {
        /// The state that refused it.
        state: State,
        /// When to try again, if known.
        retry_after: Option<Duration>,
    },
    /// A call's outcome was recorded as a success.
    Success {
        /// How long the call took, when slow-call detection measures calls.
        duration: Option<Duration>,
        /// False when the breaker had changed state since the call was admitted, so
        /// the outcome was not counted.
        counted: bool,
    },
    /// A call's outcome was recorded as a failure.
    Failure {
        /// How long the call took, when slow-call detection measures calls.
        duration: Option<Duration>,
        /// False when the outcome arrived after a change of state and was discarded.
        counted: bool,
    },
    /// A call's outcome was classified [`Outcome::Ignore`]: nothing was counted.
    Ignored,
    /// A call took at least the slow-call threshold. Emitted besides its success or
    /// failure event.
    Slow {
        /// How long it took.
        duration: Duration,
        /// Its outcome.
        outcome: Outcome,
    },
    /// A permit was dropped without an outcome (a cancelled future, a panic): nothing
    /// was counted, and a half-open probe slot was given back.
    Abandoned,
    /// The breaker was made by a [`Registry::reload`](crate::Registry::reload) to take
    /// the place of a breaker of the same name whose settings changed: the first
    /// event of the new breaker, which starts closed with empty counts.
    Reconfigured {
        /// The state the breaker it replaces was in (handles on that one keep it).
        previous: State,
    },
}
