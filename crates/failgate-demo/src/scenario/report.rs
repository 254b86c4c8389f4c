//! What the scenario reports: each step's outcome, or why it could not run to its end.

use std::io;

use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};

use crate::service::{self, Endpoint};

/// A transport error of either client.
pub(super) type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// What happened to one call.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StepOutcome {
    /// The call reached the server and got a 2xx.
    Success,
    /// The call reached the server and got a 5xx.
    Failure,
    /// The breaker refused the call; nothing was sent.
    Rejected,
}

/// One line of `--json` output.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StepReport {
    /// 1 to 9.
    pub step: u32,
    /// The endpoint the step calls.
    pub endpoint: Endpoint,
    /// What happened.
    pub outcome: StepOutcome,
    /// The breaker's state after the call: `closed`, `open`, `half_open`, ...
    pub state: String,
    /// The HTTP status, when a request was sent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<u16>,
    /// When refused: how long until the breaker admits a call again.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
}

/// Why the scenario could not run to its end.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// A flag is out of range.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The flag or field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// The breaker refused the configuration.
    #[error("invalid breaker configuration: {0}")]
    Breaker(#[from] failgate::ConfigError),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[source] reqwest::Error),
    /// The in-process service did not start or stop cleanly.
    #[error("in-process flaky service: {0}")]
    Service(#[from] service::ServeError),
    /// A request did not get an answer (connection refused, timeout, ...).
    #[error("step {step}: GET {url} failed; is `failgate-demo serve` running there?")]
    Unreachable {
        /// The step.
        step: u32,
        /// The URL called.
        url: Url,
        /// The transport error (reqwest's, or the tower stack's).
        #[source]
        source: BoxError,
    },
    /// The target answered something the flaky service never answers.
    #[error("step {step}: GET {url} answered {status}; is the target a `failgate-demo serve`?")]
    UnexpectedStatus {
        /// The step.
        step: u32,
        /// The URL called.
        url: Url,
        /// The status received.
        status: StatusCode,
    },
    /// Writing the report failed (e.g. a closed pipe).
    #[error("cannot write the report: {0}")]
    Output(#[from] io::Error),
}
