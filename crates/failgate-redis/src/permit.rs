//! The permits a fleet breaker hands out: what a caller reports an outcome on, and how
//! each kind of permit counts it.

use crate::mirror::Mirror;
use failgate::Outcome;
use std::sync::Arc;

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

impl<L: LocalPermit> Kind<L> {
    #[inline(always)]
    fn record(&mut self, core: &Mirror, outcome: Outcome) {
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
                p.record(outcome)
            }
            Kind::Done => {}
        }
    }

    fn abandon(&mut self, core: &Mirror) {
        if let Kind::Probe(g) = std::mem::replace(self, Kind::Done) {
            core.record_probe(g, None);
        }
        // A counted call abandoned counts nothing; a local permit abandons on drop.
    }
}

/// The local breaker's two permit types, recorded alike.
pub(crate) trait LocalPermit {
    fn record(self, outcome: Outcome);
}

impl LocalPermit for failgate::Permit<'_> {
    fn record(self, outcome: Outcome) {
        failgate::Permit::record(self, outcome)
    }
}

impl LocalPermit for failgate::OwnedPermit {
    fn record(self, outcome: Outcome) {
        failgate::OwnedPermit::record(self, outcome)
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
            self.kind.record(&self.core, outcome);
        }

        /// True if this permit is one of the fleet's half-open probes (or, in fallback,
        /// one of the local breaker's).
        pub fn is_probe(&self) -> bool {
            match &self.kind {
                Kind::Probe(_) => true,
                Kind::Local(p) => p.is_probe(),
                _ => false,
            }
        }

        /// True if the local fallback breaker issued this permit.
        pub fn is_local(&self) -> bool {
            matches!(self.kind, Kind::Local(_))
        }
    };
}

/// Permission to make one call, from
/// [`FleetBreaker::try_acquire`](crate::FleetBreaker::try_acquire). Dropped unreported,
/// the call is abandoned: nothing is counted and a probe permit goes back.
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
