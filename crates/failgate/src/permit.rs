//! Permits: the right to make one call, and the duty to report how it went.

use crate::breaker::shared::Core;
use crate::breaker::ticket::{Ticket, TicketKind};
use crate::contract::Report;
use crate::outcome::Outcome;
use std::fmt;
use std::ops::Deref;
use std::sync::Arc;
use std::time::Duration;

/// How an owned permit holds its breaker: a counted reference, or a plain one to a
/// breaker that was [leaked](crate::CircuitBreaker::leak) and so lives for ever.
pub(crate) enum CoreRef {
    Shared(Arc<Core>),
    Forever(&'static Core),
}

impl Deref for CoreRef {
    type Target = Core;

    #[inline(always)]
    fn deref(&self) -> &Core {
        match self {
            CoreRef::Shared(core) => core,
            CoreRef::Forever(core) => core,
        }
    }
}

/// What both kinds of permit hold. Dropping it unreported abandons the call.
struct Holder<R: Deref<Target = Core>> {
    core: R,
    ticket: Ticket,
}

impl<R: Deref<Target = Core>> Holder<R> {
    #[inline(always)]
    fn record(mut self, outcome: Outcome) {
        let ticket = self.ticket;
        self.ticket.mark_recorded(); // so the drop below abandons nothing
        self.core.record(ticket, outcome);
    }

    #[inline(always)]
    fn record_with_retry_after(self, outcome: Outcome, retry_after: Option<Duration>) {
        self.record_described(outcome, retry_after, None);
    }

    /// With no error (a constant `None`), this folds to the plain recording.
    #[inline(always)]
    fn record_described(
        mut self,
        outcome: Outcome,
        retry_after: Option<Duration>,
        error: Option<&dyn fmt::Display>,
    ) {
        let ticket = self.ticket;
        self.ticket.mark_recorded(); // so the drop abandons nothing
        self.core
            .record_described(ticket, outcome, retry_after, error);
    }

    #[inline(always)]
    fn record_in_place(&mut self, outcome: Outcome, retry_after: Option<Duration>) {
        self.record_in_place_described(outcome, retry_after, None);
    }

    #[inline(always)]
    fn record_in_place_described(
        &mut self,
        outcome: Outcome,
        retry_after: Option<Duration>,
        error: Option<&dyn fmt::Display>,
    ) {
        if self.ticket.is_recorded() {
            return;
        }
        let ticket = self.ticket;
        self.ticket.mark_recorded();
        self.core
            .record_described(ticket, outcome, retry_after, error);
    }
}

impl<R: Deref<Target = Core>> Drop for Holder<R> {
    #[inline]
    fn drop(&mut self) {
        if !self.ticket.is_recorded() {
            self.core.abandon(self.ticket);
        }
    }
}

macro_rules! permit_methods {
    () => {
        /// The call succeeded.
        #[inline]
        pub fn success(self) {
            self.inner.record(Outcome::Success);
        }

        /// The call failed.
        #[inline]
        pub fn failure(self) {
            self.inner.record(Outcome::Failure);
        }

        /// The call's outcome says nothing about the dependency: count nothing.
        #[inline]
        pub fn ignore(self) {
            self.inner.record(Outcome::Ignore);
        }

        /// Reports `outcome`.
        #[inline]
        pub fn record(self, outcome: Outcome) {
            self.inner.record(outcome);
        }

        /// Reports `outcome`, with the dependency's request not to be called again for
        /// `retry_after` (say, from an HTTP `Retry-After`). A breaker built with
        /// [`honor_retry_after`](crate::Builder::honor_retry_after) stays open at least
        /// that long; others ignore it.
        #[inline]
        pub fn record_with_retry_after(self, outcome: Outcome, retry_after: Option<Duration>) {
            self.inner.record_with_retry_after(outcome, retry_after);
        }

        /// True if this permit is a half-open probe.
        pub fn is_probe(&self) -> bool {
            self.inner.ticket.kind() == TicketKind::Probe
        }

        /// The generation of the breaker when the permit was issued.
        pub fn generation(&self) -> u64 {
            self.inner.ticket.generation()
        }
    };
}

/// Permission to make one call, from [`CircuitBreaker::try_acquire`](crate::CircuitBreaker::try_acquire).
///
/// Report the outcome with [`success`](Self::success), [`failure`](Self::failure),
/// [`ignore`](Self::ignore) or [`record`](Self::record). A permit dropped without a
/// report is *abandoned*: nothing is counted, and a half-open probe slot is given back,
/// so a cancelled future never leaks a probe.
///
/// An outcome reported after the breaker has changed state (a call admitted while
/// closed that ends after the breaker opened) is discarded.
#[must_use = "a permit must be given an outcome; dropping it abandons the call"]
pub struct Permit<'a> {
    inner: Holder<&'a Core>,
}

impl<'a> Permit<'a> {
    #[inline]
    pub(crate) fn new(core: &'a Core, ticket: Ticket) -> Self {
        Permit {
            inner: Holder { core, ticket },
        }
    }

    permit_methods!();
}

/// A [`Permit`] that holds a handle on its breaker, so it can move to another thread
/// or live in a `'static` future. From
/// [`CircuitBreaker::try_acquire_owned`](crate::CircuitBreaker::try_acquire_owned).
#[must_use = "a permit must be given an outcome; dropping it abandons the call"]
pub struct OwnedPermit {
    inner: Holder<CoreRef>,
}

impl OwnedPermit {
    #[inline]
    pub(crate) fn new(core: CoreRef, ticket: Ticket) -> Self {
        OwnedPermit {
            inner: Holder { core, ticket },
        }
    }

    permit_methods!();
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("generation", &self.generation())
            .field("probe", &self.is_probe())
            .finish()
    }
}

impl fmt::Debug for OwnedPermit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("OwnedPermit")
            .field("generation", &self.generation())
            .field("probe", &self.is_probe())
            .finish()
    }
}

macro_rules! report {
    ($permit:ty) => {
        impl Report for $permit {
            #[inline(always)]
            fn record_with_retry_after(self, outcome: Outcome, retry_after: Option<Duration>) {
                self.inner.record_with_retry_after(outcome, retry_after);
            }

            #[inline(always)]
            fn record_in_place(&mut self, outcome: Outcome, retry_after: Option<Duration>) {
                self.inner.record_in_place(outcome, retry_after);
            }

            #[inline(always)]
            fn record_described(
                self,
                outcome: Outcome,
                retry_after: Option<Duration>,
                error: Option<&dyn fmt::Display>,
            ) {
                self.inner.record_described(outcome, retry_after, error);
            }

            #[inline(always)]
            fn record_in_place_described(
                &mut self,
                outcome: Outcome,
                retry_after: Option<Duration>,
                error: Option<&dyn fmt::Display>,
            ) {
                self.inner
                    .record_in_place_described(outcome, retry_after, error);
            }

            #[inline(always)]
            fn honors_retry_after(&self) -> bool {
                self.inner.core.honors_retry_after()
            }

            #[inline(always)]
            fn is_probe(&self) -> bool {
                self.inner.ticket.kind() == TicketKind::Probe
            }

            #[inline(always)]
            fn generation(&self) -> u64 {
                self.inner.ticket.generation()
            }

            #[inline(always)]
            fn record(self, outcome: Outcome) {
                self.inner.record(outcome);
            }
        }
    };
}

report!(Permit<'_>);
report!(OwnedPermit);
