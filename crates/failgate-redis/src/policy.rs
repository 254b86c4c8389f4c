//! The builder's settings for the policies and figures peers offer, as far as they
//! apply to a fleet: the half-open rule judged as a failure rate over the fleet's
//! probes, and this instance's totals since creation.

use crate::FleetBuilder;

impl<C> FleetBuilder<C> {
    /// Judges the half-open round by the failure rate of the fleet's probes instead of
    /// "every probe succeeds" (the default: `half_open_permits` successes close, the
    /// first failure reopens), with the local breaker's rule
    /// ([`Builder::half_open_failure_rate`](failgate::Builder::half_open_failure_rate)),
    /// fleet-wide: the rate is failures over all
    /// [`half_open_permits`](Self::half_open_permits) probes of one generation, from
    /// every instance, in (0, 1]. The breaker closes when the rate is below `rate` and
    /// reopens when it reaches it.
    ///
    /// Redis decides as soon as the result is certain, without waiting for the rest of
    /// the probes: it reopens once the failures so far reach `rate` of the probes, and
    /// closes once the rate would stay below `rate` even if every probe not yet
    /// succeeded failed. With 10 probes and 0.5, the fifth failure reopens, and the
    /// sixth success closes, whichever instances report them. A probe that reports
    /// neither (an ignored outcome, a dropped permit) gives its permit back to the
    /// fleet. With one permit the rule is the default one.
    ///
    /// A rate outside (0, 1] (or not a number) is refused by [`build`](Self::build)
    /// with the local builder's [`ConfigError`](failgate::ConfigError) naming
    /// `half_open_failure_rate` and the value, as
    /// [`FleetConfigError::Policy`](crate::FleetConfigError::Policy). The local
    /// fallback breaker uses the same rule while Redis is away.
    pub fn half_open_failure_rate(mut self, rate: f64) -> Self {
        self.settings.half_open_failure_rate = Some(rate);
        self
    }

    /// Whether the breaker keeps this instance's [totals](failgate::Totals) since it
    /// was made, read in [`Snapshot::totals`](failgate::Snapshot::totals) and
    /// [`Snapshot::refused`](failgate::Snapshot::refused), as a local breaker's
    /// [`Builder::totals`](failgate::Builder::totals) does. Off by default (a fleet
    /// breaker's observers hear no calls to count): `true` keeps them, at the cost of one add per call
    /// on the calling thread's own stripe (a cache line no other thread usually
    /// writes).
    ///
    /// The totals are this instance's, not the fleet's: its calls by outcome
    /// (`successes`, `failures`, `ignored`: every outcome reported on its permits,
    /// late ones too, in shared mode and in the local fallback alike), its permits
    /// dropped unreported (`abandoned`) and the calls it refused (`refused`). Summed
    /// across hosts (as Prometheus does) they are the fleet's. The shared window's
    /// figures, beside them in the snapshot, are the fleet's already. A fleet breaker
    /// times no calls, so `slow_successes` and `slow_failures` stay 0.
    ///
    /// Transitions are left out (every `transitions_by` is 0): they are the fleet's,
    /// made once in Redis, and every instance would count each one it sees, so a sum
    /// across hosts would count each transition once per host, and an instance that
    /// misses generations (it was away, or pub/sub skipped them) cannot tell which
    /// transitions, for which reasons, it missed. The snapshot's
    /// [`generation`](failgate::Snapshot::generation) counts the fleet's transitions.
    ///
    /// With the `metrics` feature the totals are also exported as the counters a local
    /// breaker's [`MetricsObserver`](failgate::observers::MetricsObserver) records
    /// (`failgate_calls_total`, labelled `breaker` = the breaker's name and `outcome` =
    /// `success`, `failure`, `ignored`, `abandoned`, `rejected`), by the sync task after
    /// each round trip, so a dashboard graphs local and fleet breakers alike. They
    /// only go up, by what was counted since the last round trip.
    pub fn totals(mut self, keep: bool) -> Self {
        self.settings.totals = keep;
        self
    }
}
