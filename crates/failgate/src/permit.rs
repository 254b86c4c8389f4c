//! Permits: the right to make one call, and the duty to report how it went.

use crate::breaker::Core;
use crate::Outcome;
use std::fmt;

/// How a permit's outcome is counted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TicketKind {
    /// Closed or metrics-only: the outcome goes to the counters.
    Counted,
    /// A half-open probe: the outcome moves the state.
    Probe,
    /// Disabled: nothing is counted.
    Untracked,
}

/// What a permit remembers: the generation it was issued in, when the call started
/// (when calls are timed), and how its outcome counts.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Ticket {
    pub(crate) generation: u64,
    pub(crate) started: u64,
    pub(crate) kind: TicketKind,
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
    core: &'a Core,
    ticket: Ticket,
}

impl<'a> Permit<'a> {
    #[inline]
    pub(crate) fn new(core: &'a Core, ticket: Ticket) -> Self {
        Permit { core, ticket }
    }

    /// The call succeeded.
    #[inline]
    pub fn success(self) {
        self.record(Outcome::Success);
    }

    /// The call failed.
    #[inline]
    pub fn failure(self) {
        self.record(Outcome::Failure);
    }

    /// The call's outcome says nothing about the dependency: count nothing.
    #[inline]
    pub fn ignore(self) {
        self.record(Outcome::Ignore);
    }

    /// Reports `outcome`.
    #[inline]
    pub fn record(self, outcome: Outcome) {
        // Recorded: the drop (which would abandon the call) must not run.
        let this = std::mem::ManuallyDrop::new(self);
        this.core.record(this.ticket, outcome);
    }

    /// True if this permit is a half-open probe.
    pub fn is_probe(&self) -> bool {
        self.ticket.kind == TicketKind::Probe
    }

    /// The generation of the breaker when the permit was issued.
    pub fn generation(&self) -> u64 {
        self.ticket.generation
    }
}

impl Drop for Permit<'_> {
    #[inline]
    fn drop(&mut self) {
        self.core.abandon(self.ticket);
    }
}

impl fmt::Debug for Permit<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Permit")
            .field("generation", &self.ticket.generation)
            .field("probe", &self.is_probe())
            .finish()
    }
}
