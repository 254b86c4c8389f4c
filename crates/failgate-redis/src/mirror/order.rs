//! An operator's orders on the mirror: obeyed here at once (provisionally, until the
//! round that carries the order confirms it with Redis's generation), kept for the
//! next batch, and the admission of the states only an order reaches.

use super::{Admission, Mirror};
use crate::order::Order;
use crate::script::SharedState;
use crate::word::MirrorWord;
use failgate::{Reason, Rejected, State};
use std::sync::atomic::Ordering::*;
use std::time::Duration;

/// The state callers see for a shared kind.
pub(super) fn state_of(kind: SharedState) -> State {
    match kind {
        SharedState::Closed => State::Closed,
        SharedState::Open => State::Open,
        SharedState::HalfOpen => State::HalfOpen,
        SharedState::ForcedOpen => State::ForcedOpen,
        SharedState::Disabled => State::Disabled,
        SharedState::CountOnly => State::CountOnly,
    }
}

/// The shared state an order leads to, its open wait in milliseconds, and the reason
/// observers are given (a local breaker's for the same order).
fn target(order: Order) -> (SharedState, u64, Reason) {
    match order {
        Order::Open(ms) => (
            SharedState::Open,
            ms,
            Reason::ManualOpen {
                wait: Duration::from_millis(ms),
            },
        ),
        Order::HalfOpen => (SharedState::HalfOpen, 0, Reason::ManualHalfOpen),
        Order::Close => (SharedState::Closed, 0, Reason::ManualClose),
        Order::Reset => (SharedState::Closed, 0, Reason::Manual),
        Order::ForcedOpen => (SharedState::ForcedOpen, 0, Reason::Manual),
        Order::Disabled => (SharedState::Disabled, 0, Reason::Manual),
        Order::CountOnly => (SharedState::CountOnly, 0, Reason::Manual),
    }
}

impl Mirror {
    /// Obeys `order` here now, and hands it to the next batch (replacing one not yet
    /// taken), waking the sync task so it goes without waiting for the flush interval.
    ///
    /// The order is stored before the word changes: a batch whose generation is the
    /// provisional one always carries the order that made it (the script allows a
    /// batch with an order to name one generation past Redis's).
    pub(crate) fn order(&self, order: Order) {
        self.telling_after(|| self.order_locked(order));
    }

    fn order_locked(&self, order: Order) {
        let _serial = self.order_lock.lock();
        order.apply_local(&self.local);
        let replaced = self.order.swap(Order::pack(Some(order)), AcqRel) != 0;
        // Outcomes of calls admitted before the order are discarded, here as in Redis.
        self.forget_pending();
        self.forget_local();
        let w = self.word.load(Acquire);
        // An order not yet sent that this one replaces already made the provisional
        // generation: the script creates one per batch.
        let gen = w.generation() + u64::from(!replaced);
        let (state, ms, reason) = target(order);
        self.install(gen, state, ms, (false, false), reason);
        if state == SharedState::Open {
            // Exactly `ms` from now (or a longer hint), even over an open state's
            // longer wait: an operator's opening starts the wait again.
            let until = self
                .clock
                .now_nanos()
                .saturating_add(ms.saturating_mul(1_000_000));
            self.open_until
                .store(until.max(self.hint_until()).max(1), Release);
        }
        self.nudge();
    }

    /// Takes the order for the batch being prepared.
    pub(super) fn take_order(&self) -> Option<Order> {
        if self.order.load(Acquire) == 0 {
            return None;
        }
        Order::unpack(self.order.swap(0, AcqRel))
    }

    /// Puts the local fallback in the operator's state `kind`, if it is one.
    pub(super) fn local_follows(&self, kind: SharedState) {
        match kind {
            SharedState::ForcedOpen => self.local.force_open(),
            SharedState::Disabled => self.local.disable(),
            SharedState::CountOnly => self.local.count_only(),
            _ => {}
        }
    }

    /// Admission in the states only an order reaches (and closed, when the word changed
    /// under the fast path): forced open refuses with no `retry_after`; disabled and
    /// count-only admit (a disabled call's outcome is
    /// dropped when recorded, a count-only one counts for the shared window).
    #[inline]
    pub(super) fn admit_ordered(&self, w: MirrorWord) -> Result<Admission, Rejected> {
        match w.kind() {
            SharedState::ForcedOpen => Err(Rejected::new(State::ForcedOpen, None)),
            _ => Ok(Admission::Counted(w.generation())),
        }
    }
}
