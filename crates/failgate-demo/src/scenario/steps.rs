//! The nine steps: each calls its endpoint through the breaker and tells what happened,
//! the breaker's state changes right after the request that caused them.

use std::fmt::Write as _;
use std::time::Duration;

use failgate::{CircuitBreaker, Rejected, State};
use reqwest::Url;

use super::client::{endpoint_url, CallError, Caller};
use super::config::{Config, PAUSE_AFTER, STEPS};
use super::report::{ScenarioError, StepOutcome, StepReport};
use super::story::{human_duration, human_state, state_name, Story};
use crate::service::Endpoint;

/// Runs [`STEPS`] in order, with the pause after [`PAUSE_AFTER`] of them.
pub(super) async fn run_steps(
    config: &Config,
    story: &Story,
    breaker: &CircuitBreaker,
    client: &mut Caller,
    base: &Url,
) -> Result<Vec<StepReport>, ScenarioError> {
    let mut reports = Vec::with_capacity(STEPS.len());
    let mut failures = Consecutive {
        seen: 0,
        threshold: config.threshold,
    };
    for (index, endpoint) in STEPS.into_iter().enumerate() {
        if index == PAUSE_AFTER {
            pause(config, story).await?;
        }
        let step = index as u32 + 1;
        let report = take_step(step, endpoint, story, breaker, client, base, &mut failures).await?;
        story.flush_queued()?;
        story.report(&report)?;
        reports.push(report);
    }
    Ok(reports)
}

/// The pause between steps 4 and 5, announced (with a warning when it is shorter than
/// the open wait).
async fn pause(config: &Config, story: &Story) -> Result<(), ScenarioError> {
    let mut line = format!("pausing {}", human_duration(config.pause));
    if config.pause < config.open_for {
        let _ = write!(
            line,
            " (shorter than open-for {}: the circuit will still be open)",
            human_duration(config.open_for)
        );
    }
    story.say(&line)?;
    tokio::time::sleep(config.pause).await;
    Ok(())
}

/// Consecutive failures seen while closed, to tell "failure 1/2" from "2/2".
struct Consecutive {
    seen: u32,
    threshold: u32,
}

impl Consecutive {
    /// The note on a failure seen while the breaker was `before`.
    fn note(&mut self, before: State) -> String {
        if before != State::Closed {
            return format!("failure while {}", human_state(before));
        }
        self.seen += 1;
        if self.seen >= self.threshold {
            self.seen = 0;
            format!(
                "failure {}/{}: threshold reached",
                self.threshold, self.threshold
            )
        } else {
            format!("failure {}/{}", self.seen, self.threshold)
        }
    }
}

/// One step: the call through the breaker, its line in the story, and its report.
async fn take_step(
    step: u32,
    endpoint: Endpoint,
    story: &Story,
    breaker: &CircuitBreaker,
    client: &mut Caller,
    base: &Url,
    failures: &mut Consecutive,
) -> Result<StepReport, ScenarioError> {
    let url = endpoint_url(base, endpoint)?;
    // Querying the state first also performs a due open -> half-open transition,
    // so its "HALF-OPEN" line comes before the probe's request line.
    let before = breaker.state();
    story.flush_queued()?;
    let sent_at = story.start.elapsed();
    let result = client.get(&url).await;
    let mut report = StepReport {
        step,
        endpoint,
        outcome: StepOutcome::Rejected,
        state: state_name(breaker.state()),
        status: None,
        retry_after_ms: None,
    };
    let head = format!("step {step}: GET {}", endpoint.path());
    match result {
        Ok(status) if status.is_success() => {
            failures.seen = 0;
            report.outcome = StepOutcome::Success;
            report.status = Some(status.as_u16());
            story.say_at(sent_at, &format!("{head} -> {status}"))?;
        }
        Ok(status) => {
            return Err(ScenarioError::UnexpectedStatus { step, url, status });
        }
        Err(failgate::Error::Inner(CallError::Status(status))) => {
            report.outcome = StepOutcome::Failure;
            report.status = Some(status.as_u16());
            let note = failures.note(before);
            story.say_at(sent_at, &format!("{head} -> {status} ({note})"))?;
        }
        Err(failgate::Error::Inner(CallError::Transport(source))) => {
            return Err(ScenarioError::Unreachable { step, url, source });
        }
        Err(failgate::Error::Rejected(rejected)) => {
            let retry_after = rejected.retry_after();
            report.retry_after_ms = retry_after.map(|d| d.as_millis() as u64);
            story.say_at(sent_at, &refusal_line(&head, &rejected, retry_after))?;
        }
    }
    Ok(report)
}

/// "step 3: GET /failure refused: circuit open, retry after 2s (not sent)".
fn refusal_line(head: &str, rejected: &Rejected, retry_after: Option<Duration>) -> String {
    let mut line = format!("{head} refused: circuit {}", human_state(rejected.state()));
    if let Some(d) = retry_after {
        let _ = write!(line, ", retry after {}", human_duration(d));
    }
    line.push_str(" (not sent)");
    line
}
