//! This instance's totals since the breaker was made ([`FleetBuilder::totals`]): its
//! calls by outcome, its abandoned permits and its refusals, on the core's striped
//! counters (each thread adds on a cache line of its own), and, with the `metrics`
//! feature, their export as the core's `failgate_calls_total` counters. A leaf below
//! the mirror (`mirror/totals.rs` counts a call's outcome in them) and the permits.
//!
//! [`FleetBuilder::totals`]: crate::FleetBuilder::totals

pub(crate) use failgate::TotalsCount as Count;
use failgate::TotalsTally as Tally;

/// The counters, and what of them was exported to `metrics`.
#[derive(Debug)]
pub(crate) struct Totals {
    tally: Tally,
    #[cfg(feature = "metrics")]
    exported: export::Exported,
}

impl Totals {
    /// Every total at zero, for the breaker `name` (its metrics' label).
    pub(crate) fn new(name: &str) -> Self {
        #[cfg(not(feature = "metrics"))]
        let _ = name;
        Totals {
            tally: Tally::new(),
            #[cfg(feature = "metrics")]
            exported: export::Exported::new(name),
        }
    }
}

impl Totals {
    /// Counts one `what` on the calling thread's stripe.
    #[inline(always)]
    pub(crate) fn add(&self, what: Count) {
        self.tally.add(what);
    }

    /// The totals so far.
    pub(crate) fn read(&self) -> failgate::Totals {
        self.tally.totals()
    }

    /// Adds to the exported counters what was counted since the last export.
    #[cfg(feature = "metrics")]
    pub(crate) fn export(&self) {
        self.exported.export(&self.tally.totals());
    }
}

#[cfg(feature = "metrics")]
mod export {
    use metrics::{counter, Counter};
    use std::sync::Mutex;

    /// Reads one total.
    type Read = fn(&failgate::Totals) -> u64;

    /// The outcomes exported, in the core's `outcome` label values, with the total
    /// each reads.
    const OUTCOMES: [(&str, Read); 5] = [
        ("success", |t| t.successes),
        ("failure", |t| t.failures),
        ("ignored", |t| t.ignored),
        ("abandoned", |t| t.abandoned),
        ("rejected", |t| t.refused),
    ];

    /// The `failgate_calls_total` handles, registered once, and the totals they have
    /// been given so far. Only the sync task takes the lock: no call path does.
    #[derive(Debug)]
    pub(super) struct Exported {
        counters: [Counter; OUTCOMES.len()],
        sent: Mutex<[u64; OUTCOMES.len()]>,
    }

    impl Exported {
        pub(super) fn new(name: &str) -> Self {
            Exported {
                counters: OUTCOMES.map(|(outcome, _)| {
                    counter!("failgate_calls_total", "breaker" => name.to_owned(), "outcome" => outcome)
                }),
                sent: Mutex::new([0; OUTCOMES.len()]),
            }
        }

        /// Increments each counter by how far its total has gone past what it was given.
        pub(super) fn export(&self, totals: &failgate::Totals) {
            let Ok(mut sent) = self.sent.lock() else {
                return;
            };
            for (i, (_, read)) in OUTCOMES.iter().enumerate() {
                let now = read(totals);
                if now > sent[i] {
                    self.counters[i].increment(now - sent[i]);
                    sent[i] = now;
                }
            }
        }
    }
}
