//! The permits a fleet breaker hands out: what a caller reports an outcome on, and how
//! each kind of permit counts it. They keep the core's permit contract,
//! [`failgate::Report`].

use crate::mirror::Mirror;
use failgate::{Outcome, Report};
use std::sync::Arc;
use std::time::Duration;

/// How a permit's outcome is counted.
#[derive(Debug)]
pub(crate) enum Kind<L> {
    /// Closed fleet-wide: counted locally, flushed to the shared window.
    Counted(u64),
    /// A fleet-wide half-open probe.
    Probe(u64),
    /// Fallback: the local breaker's permit.
    Local(L),
    /// Reported.
    Done,
}

impl<L: Report> Kind<L> {
    #[inline(always)]
    fn record(&mut self, core: &Mirror, outcome: Outcome, retry_after: Option<Duration>) {
        if let Some(wait) = retry_after {
            core.note_retry_after(wait); // ignored unless the breaker honours hints
        }
        if !matches!(self, Kind::Done) {
            core.count_outcome(outcome);
        }
        match std::mem::replace(self, Kind::Done) {
            Kind::Counted(g) => core.record_counted(g, outcome),
            Kind::Probe(g) => core.record_probe(
                g,
                match outcome {
                    Outcome::Success => Some(true),
                    Outcome::Failure => Some(false),
                    Outcome::Ignore => None,
                },
            ),
            Kind::Local(p) => {
                core.record_local(outcome);
                p.record_with_retry_after(outcome, retry_after)
            }
            Kind::Done => {}
        }
    }

    fn abandon(&mut self, core: &Mirror) {
        let kind = std::mem::replace(self, Kind::Done);
        if !matches!(kind, Kind::Done) {
            core.count_abandoned();
        }
        if let Kind::Probe(g) = kind {
            core.record_probe(g, None);
        }
        // A counted call abandoned counts nothing; a local permit abandons on drop.
    }

    fn is_probe(&self) -> bool {
        match self {
            Kind::Probe(_) => true,
            Kind::Local(p) => p.is_probe(),
            _ => false,
        }
    }

    fn generation(&self) -> u64 {
        match self {
            Kind::Counted(g) | Kind::Probe(g) => *g,
            Kind::Local(p) => p.generation(),
            Kind::Done => 0,
        }
    }
}

macro_rules! permit_methods {
    () => {
        /// The call succeeded.
        #[inline]
        pub fn success(self) {
            self.record(Outcome::Success)
        }

        /// The call failed.
        #[inline]
        pub fn failure(self) {
            self.record(Outcome::Failure)
        }

        /// The outcome says nothing about the dependency: count nothing.
        #[inline]
        pub fn ignore(self) {
            self.record(Outcome::Ignore)
        }

        /// Reports `outcome`.
        #[inline]
        pub fn record(mut self, outcome: Outcome) {
            self.kind.record(&self.core, outcome, None);
        }

        /// Reports `outcome`, with the dependency's request not to be called again for
        /// `retry_after` (say, from an HTTP `Retry-After`). A breaker built with
        /// [`honor_retry_after`](crate::FleetBuilder::honor_retry_after) stays open,
        /// fleet-wide, at least that long; others ignore it.
        #[inline]
        pub fn record_with_retry_after(mut self, outcome: Outcome, retry_after: Option<Duration>) {
            self.kind.record(&self.core, outcome, retry_after);
        }

        /// True if this permit is one of the fleet's half-open probes (or, in fallback,
        /// one of the local breaker's).
        pub fn is_probe(&self) -> bool {
            self.kind.is_probe()
        }

        /// The generation of the state the permit was issued in: the fleet's shared
        /// generation, or in fallback the local breaker's. An outcome reported after it
        /// has moved on is discarded.
        pub fn generation(&self) -> u64 {
            self.kind.generation()
        }

        /// True if the local fallback breaker issued this permit.
        pub fn is_local(&self) -> bool {
            matches!(self.kind, Kind::Local(_))
        }
    };
}

macro_rules! report {
    ($permit:ty) => {
        impl Report for $permit {
            #[inline(always)]
            fn record_with_retry_after(mut self, outcome: Outcome, retry_after: Option<Duration>) {
                self.kind.record(&self.core, outcome, retry_after);
            }

            #[inline(always)]
            fn record_in_place(&mut self, outcome: Outcome, retry_after: Option<Duration>) {
                self.kind.record(&self.core, outcome, retry_after);
            }

            #[inline(always)]
            fn honors_retry_after(&self) -> bool {
                self.core.honors_retry_after()
            }

            fn is_probe(&self) -> bool {
                self.kind.is_probe()
            }

            fn generation(&self) -> u64 {
                self.kind.generation()
            }
        }
    };
}

/// Permission to make one call, from
/// [`FleetBreaker::try_acquire`](crate::FleetBreaker::try_acquire). Dropped unreported,
/// the call is abandoned: nothing is counted and a probe permit goes back.
///
/// A fleet breaker's observers hear state changes only, not calls, so
/// [`Report::record_described`](failgate::Report::record_described) (and
/// `record_in_place_described`) keep the contract's default: the error is ignored,
/// never formatted, and the outcome counts exactly as
/// [`record_with_retry_after`](Self::record_with_retry_after)'s does, fleet-wide (a
/// described failure is a failure in the shared window, or a failed probe).
#[must_use = "a permit must be given an outcome; dropping it abandons the call"]
#[derive(Debug)]
pub struct Permit<'a> {
    core: &'a Mirror,
    kind: Kind<failgate::Permit<'a>>,
}

impl<'a> Permit<'a> {
    pub(crate) fn new(core: &'a Mirror, kind: Kind<failgate::Permit<'a>>) -> Self {
        Permit { core, kind }
    }

    permit_methods!();
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        self.kind.abandon(self.core);
    }
}

/// A [`Permit`] that holds a handle on its breaker. From
/// [`FleetBreaker::try_acquire_owned`](crate::FleetBreaker::try_acquire_owned).
/// Like a [`Permit`], it ignores the error given to `record_described`.
#[must_use = "a permit must be given an outcome; dropping it abandons the call"]
#[derive(Debug)]
pub struct OwnedPermit {
    core: Arc<Mirror>,
    kind: Kind<failgate::OwnedPermit>,
}

impl OwnedPermit {
    pub(crate) fn new(core: Arc<Mirror>, kind: Kind<failgate::OwnedPermit>) -> Self {
        OwnedPermit { core, kind }
    }

    permit_methods!();
}

impl Drop for OwnedPermit {
    fn drop(&mut self) {
        self.kind.abandon(&self.core);
    }
}

report!(Permit<'_>);
report!(OwnedPermit);
