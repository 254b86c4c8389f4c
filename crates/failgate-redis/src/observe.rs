//! Observers of a fleet breaker: the state changes this instance sees, as the
//! [`EventKind::StateChange`] events a local breaker's observers receive, so that one
//! observer (a log line, a Python listener) serves both kinds of breaker.
//!
//! A fleet breaker reports state changes only, not every call: its calls are counted
//! in Redis, and an event per call would put a dynamic call on the hot path, which
//! is one load and one add. The local fallback's own transitions are relayed while it
//! decides.

use crate::mirror::Mirror;
use crate::FleetBuilder;
use failgate::{Event, EventKind, Observer};
use std::sync::{Arc, OnceLock, Weak};

impl<C> FleetBuilder<C> {
    /// Adds an observer of this instance's changes of state: it receives an
    /// [`EventKind::StateChange`] each time the state [`state`](crate::FleetBreaker::state)
    /// reports changes, on the thread that saw it (the sync task, for a transition
    /// made in Redis or announced over pub/sub; the caller's, for an operator's order
    /// or a trip of the local fallback). Keep it fast.
    ///
    /// The reason is the operator's (`Manual`, `ManualOpen`, ...) for an order given
    /// on this instance, the local breaker's while the fallback decides, and
    /// [`Reason::Fleet`](failgate::Reason::Fleet) for a transition made in Redis:
    /// Redis keeps no reason. Generations this instance never saw (it was away, or the
    /// state moved on twice between two round trips) are not reported, and neither is
    /// a new generation of the state it is in. Other events (calls, refusals) are not
    /// reported: [`status`](crate::FleetBreaker::status) and the totals count them.
    ///
    /// ```
    /// use failgate::{Event, EventKind};
    /// use failgate_redis::FleetBreaker;
    ///
    /// let builder = FleetBreaker::builder("payments").observer(|event: &Event<'_>| {
    ///     if let EventKind::StateChange { from, to, reason, .. } = event.kind {
    ///         eprintln!("{}: {from} -> {to} ({reason})", event.name);
    ///     }
    /// });
    /// # let _ = builder;
    /// ```
    pub fn observer(self, observer: impl Observer) -> Self {
        self.shared_observer(Arc::new(observer))
    }

    /// Same as [`observer`](Self::observer), for an observer that is already shared.
    pub fn shared_observer(mut self, observer: Arc<dyn Observer>) -> Self {
        self.settings.observers.push(observer);
        self
    }
}

/// The local fallback's observer: relays its state changes while the fallback decides
/// (not those it makes following the fleet, which the mirror reports itself).
#[derive(Default)]
pub(crate) struct Relay {
    mirror: OnceLock<Weak<Mirror>>,
}

impl Relay {
    /// Ties the relay to the mirror whose fallback it observes.
    pub(crate) fn attach(&self, mirror: &Arc<Mirror>) {
        let _ = self.mirror.set(Arc::downgrade(mirror));
    }
}

impl Observer for Relay {
    fn on_event(&self, event: &Event<'_>) {
        if let EventKind::StateChange { .. } = event.kind {
            if let Some(mirror) = self.mirror.get().and_then(Weak::upgrade) {
                mirror.relay_local(event);
            }
        }
    }
}
