//! A call's outcome, abandon or refusal counted in this instance's totals, when kept
//! ([`crate::totals`]).

use super::Mirror;
use crate::totals::{Count, Totals};
use failgate::{Outcome, Rejected};

impl Mirror {
    /// Counts one `what`, when totals are kept (a branch on a field otherwise).
    #[inline(always)]
    fn count(&self, what: Count) {
        if let Some(t) = &self.totals {
            t.add(what);
        }
    }

    /// Counts an outcome reported on one of this instance's permits.
    #[inline(always)]
    pub(crate) fn count_outcome(&self, outcome: Outcome) {
        self.count(match outcome {
            Outcome::Success => Count::Success,
            Outcome::Failure => Count::Failure,
            Outcome::Ignore => Count::Ignored,
        });
    }

    /// Counts a permit dropped without an outcome.
    #[inline]
    pub(crate) fn count_abandoned(&self) {
        self.count(Count::Abandoned);
    }

    /// Counts the refusal `r` and hands it back.
    #[cold]
    #[inline(never)]
    pub(crate) fn refused(&self, r: Rejected) -> Rejected {
        self.count(Count::Refused);
        r
    }

    /// The totals so far, when kept.
    pub(crate) fn totals(&self) -> Option<failgate::Totals> {
        self.totals.as_ref().map(Totals::read)
    }

    /// Adds to the exported counters what was counted since the last export. Called by
    /// the sync task after each round trip, never on a call path.
    #[cfg(feature = "metrics")]
    pub(crate) fn export_totals(&self) {
        if let Some(t) = &self.totals {
            t.export();
        }
    }
}
