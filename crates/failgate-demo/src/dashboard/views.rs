//! What the dashboard's API answers: the breakers now ([`WatchSnapshot`]) and the
//! recent samples the page's charts start from ([`History`]).

use failgate::config_file::BreakerConfig;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

/// One breaker as the page and the API show it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct BreakerView {
    /// The breaker's (and lane's) name.
    pub name: String,
    /// `closed`, `open`, `half_open`, `forced_open`, `disabled` or `count_only`.
    pub state: String,
    /// What trips it, in words.
    pub policy: String,
    /// Failures / calls in the window, once judged (`null` before).
    pub failure_rate: Option<f64>,
    /// Counted calls in the window.
    pub window_calls: u64,
    /// Failures in the window.
    pub window_failures: u64,
    /// Failures in a row.
    pub consecutive_failures: u32,
    /// While open: milliseconds until probing.
    pub retry_after_ms: Option<u64>,
    /// Milliseconds in the current state.
    pub time_in_state_ms: u64,
    /// Transitions so far.
    pub generation: u64,
    /// The failure ratio the lane's traffic asks for now.
    pub ratio: f64,
    /// Whether that ratio is pinned by `/control/ratio` (else it is the schedule's).
    pub pinned: bool,
    /// Calls that succeeded, since start.
    pub succeeded: u64,
    /// Calls that failed (5xx or no answer), since start.
    pub failed: u64,
    /// Calls the breaker refused, since start.
    pub rejected: u64,
    /// The breaker's settings now, as a configuration file writes them (they change
    /// with a reload of `--config`).
    #[serde(default)]
    pub settings: BreakerConfig,
    /// Why the breaker is in its state, in words (`null` before its first change):
    /// its last change ("opened by an operator for 5m", "a probe failed", ...), or,
    /// once a reload replaced it, "rebuilt by a reload of its settings (was open)"
    /// until the new breaker changes state.
    #[serde(default)]
    pub reason: Option<String>,
    /// What the breaker itself counted since it was made (`null` if it keeps no
    /// totals): its outcomes, refusals and transitions, which no reset empties.
    pub totals: Option<TotalsView>,
}

/// A breaker's own [`failgate::Totals`], as the page and the API show them.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TotalsView {
    /// Outcomes recorded as successes (slow ones included).
    pub successes: u64,
    /// Outcomes recorded as failures (slow ones included).
    pub failures: u64,
    /// Outcomes the classifier ignored.
    pub ignored: u64,
    /// Slow successes.
    pub slow_successes: u64,
    /// Slow failures.
    pub slow_failures: u64,
    /// Permits dropped without an outcome.
    pub abandoned: u64,
    /// Calls the breaker refused.
    pub refused: u64,
    /// Transitions, for any reason.
    pub transitions: u64,
    /// Transitions by reason ([`failgate::Reason::as_str`]), the reasons seen only.
    pub transitions_by_reason: BTreeMap<String, u64>,
}

impl From<&failgate::Totals> for TotalsView {
    fn from(t: &failgate::Totals) -> Self {
        TotalsView {
            successes: t.successes,
            failures: t.failures,
            ignored: t.ignored,
            slow_successes: t.slow_successes,
            slow_failures: t.slow_failures,
            abandoned: t.abandoned,
            refused: t.refused,
            transitions: t.transitions(),
            transitions_by_reason: t
                .transitions_by_reason()
                .filter(|&(_, n)| n > 0)
                .map(|(reason, n)| (reason.to_owned(), n))
                .collect(),
        }
    }
}

/// Every breaker at one moment.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct WatchSnapshot {
    /// Milliseconds since the watch started.
    pub uptime_ms: u64,
    /// One view per lane, in the lanes' order.
    pub breakers: Vec<BreakerView>,
    /// With `--config`: what its reloads did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reloads: Option<ReloadView>,
}

/// What the reloads of the configuration file did.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadView {
    /// The file.
    pub file: String,
    /// Reloads applied (a file that changed nothing counts too).
    pub applied: u64,
    /// Files refused (unreadable or invalid): nothing changed.
    pub refused: u64,
    /// What the last applied reload changed.
    pub last_change: Option<String>,
    /// Why the last reload was refused, if it was (cleared by a good one).
    pub last_error: Option<String>,
}

/// One breaker in one sample of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Point {
    /// The breaker's state.
    pub state: String,
    /// Its failure rate, once judged.
    pub failure_rate: Option<f64>,
    /// The ratio its traffic asked for.
    pub ratio: f64,
}

/// One sample of the history.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// Milliseconds since the watch started.
    pub uptime_ms: u64,
    /// One point per breaker, in the order of [`History::names`].
    pub points: Vec<Point>,
}

/// The recent samples, oldest first: what `GET /api/history` answers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct History {
    /// Milliseconds between samples.
    pub sample_every_ms: u64,
    /// The breakers' names, in the order of each sample's points.
    pub names: Vec<String>,
    /// The samples.
    pub samples: Vec<Sample>,
}
