//! The one contract both breakers meet, as Python sees it: take a permit or be refused,
//! report the permit's outcome, read state and snapshot, obey an operator. Written once
//! over `failgate::Breaker` + `failgate::Control`, so `_Core` never asks which it has.

use crate::fleet::Fleet;
use failgate::{Breaker, CircuitBreaker, Control, Outcome, Rejected, Report, Snapshot, State};
use std::time::Duration;

pub(crate) enum Engine {
    Local(CircuitBreaker),
    // Boxed: the fleet's template is large, and the local breaker is the common case.
    Fleet(Box<Fleet>),
}

/// A call's permit: reported once, or dropped (abandoned: counts for nothing and frees
/// a half-open slot).
pub(crate) enum Slot {
    Local(failgate::OwnedPermit),
    Fleet(failgate_redis::OwnedPermit),
}

impl Slot {
    pub(crate) fn record(self, outcome: Outcome, retry_after: Option<Duration>) {
        match self {
            Slot::Local(p) => p.record_with_retry_after(outcome, retry_after),
            Slot::Fleet(p) => p.record_with_retry_after(outcome, retry_after),
        }
    }

    pub(crate) fn is_probe(&self) -> bool {
        match self {
            Slot::Local(p) => Report::is_probe(p),
            Slot::Fleet(p) => Report::is_probe(p),
        }
    }
}

impl Engine {
    pub(crate) fn acquire(&self) -> Result<Slot, Rejected> {
        match self {
            Engine::Local(b) => b.try_acquire_owned().map(Slot::Local),
            Engine::Fleet(f) => f.current().try_acquire_owned().map(Slot::Fleet),
        }
    }

    pub(crate) fn name(&self) -> &str {
        match self {
            Engine::Local(b) => b.name(),
            Engine::Fleet(f) => f.name(),
        }
    }

    pub(crate) fn state(&self) -> State {
        match self {
            Engine::Local(b) => Breaker::state(b),
            Engine::Fleet(f) => Breaker::state(&*f.current()),
        }
    }

    pub(crate) fn snapshot(&self) -> Snapshot {
        match self {
            Engine::Local(b) => Breaker::snapshot(b),
            Engine::Fleet(f) => Breaker::snapshot(&*f.current()),
        }
    }

    /// Runs an operator's action on whichever breaker this is.
    pub(crate) fn control<T>(&self, act: impl FnOnce(&dyn Control) -> T) -> T {
        match self {
            Engine::Local(b) => act(b),
            Engine::Fleet(f) => act(&*f.current()),
        }
    }
}
