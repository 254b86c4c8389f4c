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
}
