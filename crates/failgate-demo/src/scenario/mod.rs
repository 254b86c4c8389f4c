//! `failgate-demo scenario`: the seed's `main.py`, nine calls through a breaker.
//!
//! The calls ([`STEPS`]) go to `/failure` and `/success` of a flaky service, with a pause
//! after the fourth. With the defaults (threshold 2, open for 2s, pause 3s) the story is:
//!
//! | step | call    | outcome  | state after |
//! |------|---------|----------|-------------|
//! | 1    | failure | failure  | closed      |
//! | 2    | failure | failure  | open (threshold reached) |
//! | 3    | failure | rejected | open        |
//! | 4    | success | rejected | open        |
//! |      | pause   |          |             |
//! | 5    | success | success  | closed (the half-open probe succeeded) |
//! | 6    | success | success  | closed      |
//! | 7    | failure | failure  | closed      |
//! | 8    | failure | failure  | open        |
//! | 9    | success | rejected | open        |
//!
//! Rejected calls never reach the server. A pause shorter than `open_for` leaves the
//! circuit open at step 5, and the report says so.
//!
//! The calls go through one of two clients ([`ClientKind`]), with the same story:
//! - `direct` (the default): reqwest, each call wrapped by hand in
//!   [`CircuitBreaker::call_async`];
//! - `tower`: hyper-util's legacy client behind a tower stack, a
//!   [`CircuitBreakerLayer`](failgate::tower::CircuitBreakerLayer) classifying responses
//!   with [`HttpClassifier`](failgate::http::HttpClassifier) over a timeout layer.
//!   Nothing in the scenario calls the breaker: the layer refuses, and records each
//!   response's class.

mod client;
mod config;
mod report;
mod steps;
mod story;

use std::io::Write;
use std::sync::Arc;

use failgate::CircuitBreaker;
use reqwest::Url;

use self::client::Caller;
use self::config::validate;
pub use self::config::{
    parse_positive_duration, parse_target, parse_threshold, ClientKind, Config, Format,
    BREAKER_NAME, DEFAULT_OPEN_FOR, DEFAULT_PAUSE, DEFAULT_THRESHOLD, DEFAULT_TIMEOUT, PAUSE_AFTER,
    STEPS,
};
pub use self::report::{ScenarioError, StepOutcome, StepReport};
use self::steps::run_steps;
pub use self::story::{human_duration, human_state, state_name};
use self::story::{Story, StoryObserver};
use crate::service::{self, Server};

/// Runs the nine steps and writes the report to `out`. Returns the step reports.
///
/// Without a target, the flaky service is started in-process on `127.0.0.1:0` and
/// stopped at the end.
pub async fn run(
    config: Config,
    out: Box<dyn Write + Send>,
) -> Result<Vec<StepReport>, ScenarioError> {
    validate(&config)?;
    let story = Arc::new(Story::new(config.format, out));
    let breaker = build_breaker(&config, &story)?;
    let (base, server) = start_target(&config).await?;
    // Loopback (the in-process service): never through a proxy from the environment.
    // (The tower client never uses one.)
    let mut client = match Caller::new(&config, &breaker, server.is_some()) {
        Ok(client) => client,
        Err(error) => {
            if let Some(server) = server {
                server.shutdown().await?;
            }
            return Err(error);
        }
    };
    introduce(&config, &base, server.is_some(), &story)?;

    let result = run_steps(&config, &story, &breaker, &mut client, &base).await;

    if let Some(server) = server {
        server.shutdown().await?;
    }
    let reports = result?;
    conclude(&reports, &story)?;
    Ok(reports)
}

/// The breaker of `config`, telling its state changes into the story.
fn build_breaker(config: &Config, story: &Arc<Story>) -> Result<CircuitBreaker, ScenarioError> {
    let mut builder = CircuitBreaker::builder()
        .name(BREAKER_NAME)
        .consecutive_failures(config.threshold)
        .open_for(config.open_for);
    if let Some(settings) = &config.settings {
        builder = settings.apply(builder);
    }
    Ok(builder
        .observer(StoryObserver {
            story: Arc::clone(story),
            open_for: config.open_for,
        })
        .build()?)
}

/// The target's URL; without one, the flaky service started in-process.
async fn start_target(config: &Config) -> Result<(Url, Option<Server>), ScenarioError> {
    Ok(match &config.target {
        Some(url) => (url.clone(), None),
        None => {
            let server = Server::spawn(service::Config::ephemeral()).await?;
            let url = parse_target(&server.url()).map_err(|reason| ScenarioError::Invalid {
                field: "target",
                reason,
            })?;
            (url, Some(server))
        }
    })
}

/// The story's first line: the breaker and the target.
fn introduce(
    config: &Config,
    base: &Url,
    in_process: bool,
    story: &Story,
) -> Result<(), ScenarioError> {
    let where_ = if in_process {
        format!("in-process flaky service at {base}")
    } else {
        format!("{base}")
    };
    story.say(&format!(
        "breaker {BREAKER_NAME:?}: opens after {} consecutive failure{}, stays open {}; target: {where_}",
        config.threshold,
        if config.threshold == 1 { "" } else { "s" },
        human_duration(config.open_for),
    ))?;
    Ok(())
}

/// The story's last line: how many calls reached the server and how many were refused.
fn conclude(reports: &[StepReport], story: &Story) -> Result<(), ScenarioError> {
    let sent = reports
        .iter()
        .filter(|r| r.outcome != StepOutcome::Rejected)
        .count();
    let refused = reports.len() - sent;
    story.say(&format!(
        "done: {sent} request{} reached the server, {refused} {} refused by the breaker without a request",
        if sent == 1 { "" } else { "s" },
        if refused == 1 { "was" } else { "were" },
    ))?;
    Ok(())
}
