//! The words every layer shares: the [`State`] a breaker is in, the [`Reason`] it
//! changed state, and the [`Counts`] a window holds. A leaf: the policy, the decision
//! core, the windows, the shell and the events all speak it.

use std::fmt;
use std::time::Duration;

mod duration_text;
use duration_text::write_duration;

/// The state of a breaker.
///
/// `#[non_exhaustive]`: a new operator mode or a state between closed and open may be
/// added in a minor release, so a `match` outside this crate needs a wildcard arm:
///
/// ```
/// use failgate::State;
///
/// fn colour(state: State) -> &'static str {
///     match state {
///         State::Closed | State::Disabled | State::CountOnly => "green",
///         State::Open | State::ForcedOpen => "red",
///         State::HalfOpen => "amber",
///         _ => "grey", // a state added later
///     }
/// }
/// assert_eq!(colour(State::HalfOpen), "amber");
/// ```
///
/// Without it, the same match does not compile:
///
/// ```compile_fail,E0004
/// use failgate::State;
///
/// fn colour(state: State) -> &'static str {
///     match state {
///         State::Closed | State::Disabled | State::CountOnly => "green",
///         State::Open | State::ForcedOpen => "red",
///         State::HalfOpen => "amber",
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum State {
    /// Calls pass and their outcomes are counted.
    Closed,
    /// Calls are refused until the wait is over.
    Open,
    /// A bounded number of probe calls pass; the rest are refused.
    HalfOpen,
    /// Refused until `reset()`, by an operator's order.
    ForcedOpen,
    /// Every call passes and nothing is counted, by an operator's order.
    Disabled,
    /// Every call passes and is counted, but the breaker never trips.
    CountOnly,
}

impl State {
    /// Every state, in the order of their codes (the state word's, the gauge's).
    #[cfg(any(test, feature = "serde", feature = "metrics"))]
    pub(crate) const ALL: [State; 6] = [
        State::Closed,
        State::Open,
        State::HalfOpen,
        State::ForcedOpen,
        State::Disabled,
        State::CountOnly,
    ];

    /// The name used in logs and metrics: `closed`, `open`, `half_open`, `forced_open`,
    /// `disabled` or `count_only`.
    pub fn as_str(self) -> &'static str {
        match self {
            State::Closed => "closed",
            State::Open => "open",
            State::HalfOpen => "half_open",
            State::ForcedOpen => "forced_open",
            State::Disabled => "disabled",
            State::CountOnly => "count_only",
        }
    }

    /// The state named `name` (as [`as_str`](Self::as_str) writes it), if any: how
    /// configuration files name a state.
    #[cfg(feature = "serde")]
    pub(crate) fn from_name(name: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.as_str() == name)
    }

    /// The state's number in the state word and in the `failgate_state` gauge:
    /// 0 closed, 1 open, 2 half-open, 3 forced open, 4 disabled, 5 count only.
    pub fn code(self) -> u8 {
        match self {
            State::Closed => 0,
            State::Open => 1,
            State::HalfOpen => 2,
            State::ForcedOpen => 3,
            State::Disabled => 4,
            State::CountOnly => 5,
        }
    }

    /// True for the states that admit every call.
    pub fn admits_all(self) -> bool {
        matches!(self, State::Closed | State::Disabled | State::CountOnly)
    }
}

impl fmt::Display for State {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a breaker changed state.
///
/// `#[non_exhaustive]`: every new trip condition or transition brings its reason, so a
/// `match` outside this crate needs a wildcard arm:
///
/// ```
/// use failgate::Reason;
///
/// fn tripped(reason: &Reason) -> bool {
///     match reason {
///         Reason::ConsecutiveFailures { .. }
///         | Reason::FailureRate { .. }
///         | Reason::SlowCallRate { .. } => true,
///         Reason::WaitElapsed
///         | Reason::ProbesSucceeded { .. }
///         | Reason::ProbeFailed
///         | Reason::ProbeSlow
///         | Reason::HalfOpenTimeout
///         | Reason::Manual => false,
///         _ => false, // a reason added later
///     }
/// }
/// assert!(!tripped(&Reason::Manual));
/// ```
///
/// Without the wildcard, the same match does not compile:
///
/// ```compile_fail,E0004
/// # use failgate::Reason;
/// fn tripped(reason: &Reason) -> bool {
///     match reason {
///         Reason::ConsecutiveFailures { .. }
///         | Reason::FailureRate { .. }
///         | Reason::SlowCallRate { .. } => true,
///         Reason::WaitElapsed
///         | Reason::ProbesSucceeded { .. }
///         | Reason::ProbeFailed
///         | Reason::ProbeSlow
///         | Reason::HalfOpenTimeout
///         | Reason::Manual => false,
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub enum Reason {
    /// `count` failures in a row reached the threshold.
    ConsecutiveFailures {
        /// Failures in a row.
        count: u32,
        /// The configured threshold.
        threshold: u32,
    },
    /// The failure rate over the window reached the threshold.
    FailureRate {
        /// The measured rate, in [0, 1].
        rate: f64,
        /// The configured threshold.
        threshold: f64,
        /// Failures in the window.
        failures: u64,
        /// Counted calls (successes and failures) in the window.
        calls: u64,
    },
    /// The slow-call rate over the window reached the threshold.
    SlowCallRate {
        /// The measured rate, in [0, 1].
        rate: f64,
        /// The configured threshold.
        threshold: f64,
        /// Slow calls in the window.
        slow: u64,
        /// Counted calls in the window.
        calls: u64,
    },
    /// The open wait elapsed: probing begins.
    WaitElapsed,
    /// All half-open probes succeeded.
    ProbesSucceeded {
        /// How many.
        probes: u32,
    },
    /// A half-open probe failed.
    ProbeFailed,
    /// A half-open probe was slow.
    ProbeSlow,
    /// The probes did not report back within the maximum half-open time.
    HalfOpenTimeout,
    /// An operator called `force_open`, `disable`, `count_only` or `reset`.
    Manual,
    /// An operator opened the breaker for `wait` (`open_for`, or `open_until` converted
    /// to a wait at the call); it half-opens by itself once the wait is over.
    ManualOpen {
        /// The wait the operator asked for.
        wait: Duration,
    },
    /// An operator moved the breaker to half-open (`half_open`).
    ManualHalfOpen,
    /// An operator closed the breaker (`close`).
    ManualClose,
    /// Under [`half_open_failure_rate`](crate::Builder::half_open_failure_rate): the
    /// probes' failure rate reached the threshold, or can no longer fall below it.
    ProbeFailureRate {
        /// Probes that failed (or were slow) so far.
        failures: u32,
        /// Probes that succeeded so far.
        successes: u32,
        /// The probes the rate is judged over (`half_open_permits`).
        probes: u32,
        /// The configured threshold.
        threshold: f64,
    },
    /// Under [`half_open_failure_rate`](crate::Builder::half_open_failure_rate): the
    /// probes' failure rate is below the threshold, and stays below it whatever the
    /// probes still out report.
    ProbeFailureRateBelow {
        /// Probes that failed (or were slow) so far.
        failures: u32,
        /// Probes that succeeded so far.
        successes: u32,
        /// The probes the rate is judged over (`half_open_permits`).
        probes: u32,
        /// The configured threshold.
        threshold: f64,
    },
    /// A fleet breaker followed its shared state: a transition made in Redis (by this
    /// instance's counts or another's), or a switch to or from its local fallback.
    /// Redis does not record why the fleet's state changed.
    Fleet,
}

impl Reason {
    /// A short, stable name for the variant, whatever its figures: the `reason` label of
    /// `failgate_transition_reasons_total` and the key of
    /// [`Totals::transitions_by_reason`](crate::Totals::transitions_by_reason).
    /// `consecutive_failures`, `failure_rate`, `slow_call_rate`, `wait_elapsed`,
    /// `probes_succeeded`, `probe_failed`, `probe_slow`, `half_open_timeout`, `manual`,
    /// `manual_open`, `manual_half_open`, `manual_close`, `probe_failure_rate`,
    /// `probe_failure_rate_below`, `fleet`.
    ///
    /// ```
    /// use failgate::Reason;
    ///
    /// assert_eq!(Reason::ProbesSucceeded { probes: 3 }.as_str(), "probes_succeeded");
    /// ```
    pub fn as_str(&self) -> &'static str {
        REASON_NAMES[self.index()]
    }

    /// The variant's place in [`REASON_NAMES`].
    pub(crate) fn index(&self) -> usize {
        match self {
            Reason::ConsecutiveFailures { .. } => 0,
            Reason::FailureRate { .. } => 1,
            Reason::SlowCallRate { .. } => 2,
            Reason::WaitElapsed => 3,
            Reason::ProbesSucceeded { .. } => 4,
            Reason::ProbeFailed => 5,
            Reason::ProbeSlow => 6,
            Reason::HalfOpenTimeout => 7,
            Reason::Manual => 8,
            Reason::ManualOpen { .. } => 9,
            Reason::ManualHalfOpen => 10,
            Reason::ManualClose => 11,
            Reason::ProbeFailureRate { .. } => 12,
            Reason::ProbeFailureRateBelow { .. } => 13,
            Reason::Fleet => 14,
        }
    }
}

/// The name of each [`Reason`] variant, in the order of `Reason::index`.
pub(crate) const REASON_NAMES: [&str; 15] = [
    "consecutive_failures",
    "failure_rate",
    "slow_call_rate",
    "wait_elapsed",
    "probes_succeeded",
    "probe_failed",
    "probe_slow",
    "half_open_timeout",
    "manual",
    "manual_open",
    "manual_half_open",
    "manual_close",
    "probe_failure_rate",
    "probe_failure_rate_below",
    "fleet",
];

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Reason::ConsecutiveFailures { count, threshold } => {
                write!(f, "{count} consecutive failures (threshold {threshold})")
            }
            Reason::FailureRate {
                rate,
                threshold,
                failures,
                calls,
            } => write!(
                f,
                "failure rate {:.1}% ({failures}/{calls}) >= {:.1}%",
                rate * 100.0,
                threshold * 100.0
            ),
            Reason::SlowCallRate {
                rate,
                threshold,
                slow,
                calls,
            } => write!(
                f,
                "slow-call rate {:.1}% ({slow}/{calls}) >= {:.1}%",
                rate * 100.0,
                threshold * 100.0
            ),
            Reason::WaitElapsed => f.write_str("open wait elapsed"),
            Reason::ProbesSucceeded { probes } => write!(f, "{probes} probe(s) succeeded"),
            Reason::ProbeFailed => f.write_str("a probe failed"),
            Reason::ProbeSlow => f.write_str("a probe was slow"),
            Reason::HalfOpenTimeout => f.write_str("probes did not report in time"),
            Reason::Manual => f.write_str("manual"),
            Reason::ManualOpen { wait } => {
                f.write_str("opened by an operator for ")?;
                write_duration(f, wait)
            }
            Reason::ManualHalfOpen => f.write_str("half-opened by an operator"),
            Reason::ManualClose => f.write_str("closed by an operator"),
            Reason::Fleet => f.write_str("the fleet's shared state changed"),
            Reason::ProbeFailureRate {
                failures,
                probes,
                threshold,
                ..
            } => write!(
                f,
                "{failures} of {probes} probes failed (>= {:.1}%)",
                threshold * 100.0
            ),
            Reason::ProbeFailureRateBelow {
                successes,
                probes,
                threshold,
                ..
            } => write!(
                f,
                "{successes} of {probes} probes succeeded (failure rate < {:.1}%)",
                threshold * 100.0
            ),
        }
    }
}

/// What a window holds: counted calls (successes and failures), failures, slow calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Counts {
    pub(crate) calls: u64,
    pub(crate) failures: u64,
    pub(crate) slow: u64,
}

impl Counts {
    /// The failure rate, once the window holds `minimum_calls`.
    pub(crate) fn failure_rate(self, minimum_calls: u64) -> Option<f64> {
        self.judged(minimum_calls)
            .then(|| self.failures as f64 / self.calls as f64)
    }

    /// The slow-call rate, once the window holds `minimum_calls`.
    pub(crate) fn slow_rate(self, minimum_calls: u64) -> Option<f64> {
        self.judged(minimum_calls)
            .then(|| self.slow as f64 / self.calls as f64)
    }

    fn judged(self, minimum_calls: u64) -> bool {
        self.calls >= minimum_calls && self.calls > 0
    }
}
