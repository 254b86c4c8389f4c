//! The mirror's side of [`crate::observe`]: which changes of the word callers see, and
//! telling the observers of them.

use super::order::state_of;
use super::Mirror;
use crate::script::SharedState;
use crate::word::MirrorWord;
use failgate::{Event, EventKind, Reason, State};
use std::cell::RefCell;
use std::sync::atomic::Ordering::*;
use std::time::Duration;

thread_local! {
    /// The state changes an order made on this thread, while it holds the order lock.
    static HELD: RefCell<Option<Vec<EventKind>>> = const { RefCell::new(None) };
}

impl Mirror {
    /// The state callers see while the word is `w`.
    pub(crate) fn observed(&self, w: MirrorWord) -> State {
        if w.is_local() && !self.shared_open_holds(w) {
            self.local.state()
        } else {
            state_of(w.kind())
        }
    }

    /// In the fallback, a shared open state still holds until its deadline.
    pub(super) fn shared_open_holds(&self, w: MirrorWord) -> bool {
        w.kind() == SharedState::Open && self.open_left().is_some_and(|d| !d.is_zero())
    }

    /// Notes that the word went from `before` to `after` and tells the observers, if
    /// the state callers see changed.
    pub(super) fn report(&self, before: MirrorWord, after: MirrorWord, reason: Reason) {
        let (from, to) = (self.observed(before), self.observed(after));
        if from == to {
            return;
        }
        self.changed_at.store(self.clock.now_nanos(), Relaxed);
        if self.observers.is_empty() {
            return;
        }
        let wait = match to {
            State::Open if after.is_local() && !self.shared_open_holds(after) => {
                self.local.snapshot().retry_after
            }
            State::Open => self.open_left(),
            _ => None,
        };
        let kind = EventKind::StateChange {
            from,
            to,
            reason,
            generation: after.generation(),
            wait,
        };
        self.tell(&Event::new(&self.name, kind));
    }

    /// A state change of the local fallback, passed on as it is (with the fallback's
    /// own generation count) while the fallback is what callers see.
    pub(crate) fn relay_local(&self, event: &Event<'_>) {
        let w = self.word.load(Acquire);
        let moved = match event.kind {
            EventKind::StateChange { from, to, .. } => from != to,
            _ => false,
        };
        if moved && w.is_local() && !self.shared_open_holds(w) {
            self.tell(event);
        }
    }

    /// How long since this instance saw the shared state callers see change: since the
    /// round trip or announcement that brought the change (Redis made it at most a
    /// round trip earlier), or the switch to or from the fallback.
    pub(super) fn time_in_state(&self) -> Duration {
        let since = self.changed_at.load(Relaxed);
        Duration::from_nanos(self.clock.now_nanos().saturating_sub(since))
    }

    /// Runs `order` (which takes the order lock), then tells the observers what it
    /// changed: no observer runs while the lock is held, so that one may give an order
    /// itself.
    pub(super) fn telling_after<R>(&self, order: impl FnOnce() -> R) -> R {
        if self.observers.is_empty() {
            return order();
        }
        let outer = HELD.with(|h| h.borrow_mut().replace(Vec::new()));
        let r = order();
        let held = HELD.with(|h| std::mem::replace(&mut *h.borrow_mut(), outer));
        for kind in held.unwrap_or_default() {
            self.tell(&Event::new(&self.name, kind));
        }
        r
    }

    fn tell(&self, event: &Event<'_>) {
        let held = HELD.with(|h| match h.borrow_mut().as_mut() {
            Some(held) => {
                held.push(event.kind);
                true
            }
            None => false,
        });
        if !held {
            for o in self.observers.iter() {
                o.on_event(event);
            }
        }
    }
}
