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
//!   [`CircuitBreakerLayer`] classifying responses with [`HttpClassifier`] over a
//!   timeout layer. Nothing in the scenario calls the breaker: the layer refuses, and
//!   records each response's class.

use std::fmt::Write as _;
use std::io::{self, Write};
use std::str::FromStr;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;
use failgate::http::HttpClassifier;
use failgate::tower::{CircuitBreakerLayer, CircuitBreakerService};
use failgate::{CircuitBreaker, Event, EventKind, Observer, State};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use tower::timeout::Timeout;
use tower::{Service as _, ServiceBuilder, ServiceExt as _};

use crate::service::{self, Endpoint, Server};

/// The nine calls of the seed, in order.
pub const STEPS: [Endpoint; 9] = [
    Endpoint::Failure,
    Endpoint::Failure,
    Endpoint::Failure,
    Endpoint::Success,
    Endpoint::Success,
    Endpoint::Success,
    Endpoint::Failure,
    Endpoint::Failure,
    Endpoint::Success,
];

/// The pause comes after this many steps.
pub const PAUSE_AFTER: usize = 4;

/// The breaker's name in logs and events.
pub const BREAKER_NAME: &str = "flaky";

/// Defaults of the `scenario` flags.
pub const DEFAULT_THRESHOLD: u32 = 2;
/// Default `--open-for`.
pub const DEFAULT_OPEN_FOR: Duration = Duration::from_secs(2);
/// Default `--pause`.
pub const DEFAULT_PAUSE: Duration = Duration::from_secs(3);
/// Default `--timeout` of each HTTP request.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

/// How the scenario reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Format {
    /// A timestamped log that tells the story.
    #[default]
    Human,
    /// One JSON object ([`StepReport`]) per line and step, nothing else on stdout.
    Json,
}

/// Which HTTP client makes the scenario's calls.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ClientKind {
    /// reqwest, each call wrapped in [`CircuitBreaker::call_async`] by hand.
    #[default]
    Direct,
    /// hyper-util's legacy client behind [`CircuitBreakerLayer`] with an
    /// [`HttpClassifier`].
    Tower,
}

impl ClientKind {
    /// Every kind, as `--client` spells them.
    pub const ALL: [ClientKind; 2] = [ClientKind::Direct, ClientKind::Tower];

    /// The name `--client` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            ClientKind::Direct => "direct",
            ClientKind::Tower => "tower",
        }
    }
}

impl std::fmt::Display for ClientKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for ClientKind {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == s.trim())
            .ok_or_else(|| format!("expected `direct` or `tower`, not {s:?}"))
    }
}

/// How to run the scenario.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// A running `failgate-demo serve`; `None` starts the service in-process.
    pub target: Option<Url>,
    /// Consecutive failures that open the circuit (at least 1).
    pub threshold: u32,
    /// How long the circuit stays open before a probe (non-zero).
    pub open_for: Duration,
    /// The pause between steps 4 and 5 (non-zero).
    pub pause: Duration,
    /// Timeout of each HTTP request (non-zero).
    pub timeout: Duration,
    /// Output format.
    pub format: Format,
    /// The HTTP client.
    pub client: ClientKind,
    /// More settings of the breaker, from a configuration file (`--config`): applied
    /// over `threshold` and `open_for`.
    pub settings: Option<failgate::config_file::BreakerConfig>,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            target: None,
            threshold: DEFAULT_THRESHOLD,
            open_for: DEFAULT_OPEN_FOR,
            pause: DEFAULT_PAUSE,
            timeout: DEFAULT_TIMEOUT,
            format: Format::Human,
            client: ClientKind::Direct,
            settings: None,
        }
    }
}

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

/// Checks a `--target` value: an absolute `http` URL with a host. (The flaky service
/// speaks plain HTTP, so the demo's client is built without TLS, which keeps the build
/// small.)
pub fn parse_target(s: &str) -> Result<Url, String> {
    const EXPECTED: &str = "expected an http:// URL such as http://127.0.0.1:5000";
    let url = Url::parse(s.trim()).map_err(|e| format!("{EXPECTED} ({e})"))?;
    match url.scheme() {
        "http" => {}
        "https" => {
            return Err(format!(
                "https is not supported: the demo client speaks plain HTTP, like `failgate-demo serve`; {EXPECTED}"
            ))
        }
        other => {
            return Err(format!(
                "unsupported scheme `{other}`; {EXPECTED} (did you mean http://{s}?)"
            ))
        }
    }
    if url.host_str().is_none_or(str::is_empty) {
        return Err(format!("no host in the URL; {EXPECTED}"));
    }
    Ok(url)
}

/// Checks a `--threshold` value (at least 1).
pub fn parse_threshold(s: &str) -> Result<u32, String> {
    let n: u32 = s
        .trim()
        .parse()
        .map_err(|_| format!("expected a whole number from 1 to {}", u32::MAX))?;
    if n == 0 {
        return Err(
            "must be at least 1 (the circuit opens after this many consecutive failures)".into(),
        );
    }
    Ok(n)
}

/// Checks a duration flag: humantime syntax (`100ms`, `2s`, `1m`), greater than zero.
pub fn parse_positive_duration(s: &str) -> Result<Duration, String> {
    let d = humantime::parse_duration(s.trim())
        .map_err(|e| format!("expected a duration such as 100ms, 2s or 1m ({e})"))?;
    if d.is_zero() {
        return Err("must be greater than zero".into());
    }
    Ok(d)
}

/// A state as the JSON reports spell it: `closed`, `open`, `half_open`, ...
pub fn state_name(state: State) -> String {
    state.to_string().replace('-', "_")
}

/// A state as the story spells it: `closed`, `open`, `half-open`, `forced-open`, ...
pub fn human_state(state: State) -> String {
    state.to_string().replace('_', "-")
}

/// Formats a duration for humans: `1.2s` from one second up, `350ms` below.
pub fn human_duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        let secs = d.as_secs_f64();
        if (secs - secs.round()).abs() < 0.05 {
            format!("{}s", secs.round())
        } else {
            format!("{secs:.1}s")
        }
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The story being told. The breaker's observer queues its lines (with the time they
/// happened) and the runner writes them after the line of the request that caused them,
/// so "failure 2/2: threshold reached" comes before "circuit OPEN". This is a demo's cold
/// path, so mutexes are fine here.
struct Story {
    start: Instant,
    format: Format,
    out: Mutex<Box<dyn Write + Send>>,
    queued: Mutex<Vec<(Duration, String)>>,
}

fn lock<T: ?Sized>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Story {
    fn new(format: Format, out: Box<dyn Write + Send>) -> Self {
        Self {
            start: Instant::now(),
            format,
            out: Mutex::new(out),
            queued: Mutex::new(Vec::new()),
        }
    }

    fn write_line(&self, at: Duration, line: &str) -> io::Result<()> {
        let mut out = lock(&self.out);
        writeln!(out, "[{:>8.3}s] {line}", at.as_secs_f64())?;
        out.flush()
    }

    /// Writes a line stamped now, then any queued ones (human format only).
    fn say(&self, line: &str) -> io::Result<()> {
        self.say_at(self.start.elapsed(), line)
    }

    /// Writes a line stamped `at` (time since start), then any queued ones: the state
    /// changes a request caused come right after the request's line.
    fn say_at(&self, at: Duration, line: &str) -> io::Result<()> {
        if self.format != Format::Human {
            return Ok(());
        }
        self.write_line(at, line)?;
        self.flush_queued()
    }

    /// Queues a line stamped now, to be written by the next [`Story::flush_queued`].
    fn queue(&self, line: String) {
        if self.format == Format::Human {
            lock(&self.queued).push((self.start.elapsed(), line));
        }
    }

    /// Writes the queued lines.
    fn flush_queued(&self) -> io::Result<()> {
        let queued = std::mem::take(&mut *lock(&self.queued));
        for (at, line) in queued {
            self.write_line(at, &line)?;
        }
        Ok(())
    }

    /// Writes one JSON line (JSON format only).
    fn report(&self, report: &StepReport) -> io::Result<()> {
        if self.format != Format::Json {
            return Ok(());
        }
        let line = serde_json::to_string(report).map_err(io::Error::other)?;
        let mut out = lock(&self.out);
        writeln!(out, "{line}")?;
        out.flush()
    }
}

/// Prints the breaker's state changes into the story.
struct StoryObserver {
    story: Arc<Story>,
    open_for: Duration,
}

impl Observer for StoryObserver {
    fn on_event(&self, event: &Event<'_>) {
        if let EventKind::StateChange { from, to, wait, .. } = &event.kind {
            let wait = human_duration(wait.unwrap_or(self.open_for));
            let line = match (from, to) {
                (State::HalfOpen, State::Open) => {
                    format!("  probe failed: circuit OPEN again for {wait}")
                }
                (_, State::Open) => format!("  circuit OPEN for {wait}"),
                (_, State::HalfOpen) => "  circuit HALF-OPEN: probing".to_string(),
                (_, State::Closed) => "  circuit CLOSED".to_string(),
                (_, other) => format!("  circuit {}", human_state(*other).to_uppercase()),
            };
            self.story.queue(line);
        }
    }
}

/// A transport error of either client.
type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Why a call through the breaker failed, as the breaker sees it.
#[derive(Debug)]
enum CallError {
    /// The server answered 5xx: the failure the breaker counts.
    Status(StatusCode),
    /// No answer at all. Also a failure for the breaker; the scenario then stops.
    Transport(BoxError),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Status(status) => write!(f, "server answered {status}"),
            CallError::Transport(e) => write!(f, "request failed: {e}"),
        }
    }
}

impl std::error::Error for CallError {}

/// Joins an endpoint onto the target, keeping any path prefix of the target.
fn endpoint_url(base: &Url, endpoint: Endpoint) -> Result<Url, ScenarioError> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base.join(endpoint.as_str())
        .map_err(|e| ScenarioError::Invalid {
            field: "target",
            reason: format!("cannot join /{endpoint} onto {base}: {e}"),
        })
}

fn validate(config: &Config) -> Result<(), ScenarioError> {
    let invalid = |field, reason: &str| {
        Err(ScenarioError::Invalid {
            field,
            reason: reason.to_string(),
        })
    };
    if config.threshold == 0 {
        return invalid("threshold", "must be at least 1");
    }
    if config.open_for.is_zero() {
        return invalid("open-for", "must be greater than zero");
    }
    if config.pause.is_zero() {
        return invalid("pause", "must be greater than zero");
    }
    if config.timeout.is_zero() {
        return invalid("timeout", "must be greater than zero");
    }
    Ok(())
}

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
    let mut builder = CircuitBreaker::builder()
        .name(BREAKER_NAME)
        .consecutive_failures(config.threshold)
        .open_for(config.open_for);
    if let Some(settings) = &config.settings {
        builder = settings.apply(builder);
    }
    let breaker = builder
        .observer(StoryObserver {
            story: Arc::clone(&story),
            open_for: config.open_for,
        })
        .build()?;

    let (base, server) = match &config.target {
        Some(url) => (url.clone(), None),
        None => {
            let server = Server::spawn(service::Config::ephemeral()).await?;
            let url = parse_target(&server.url()).map_err(|reason| ScenarioError::Invalid {
                field: "target",
                reason,
            })?;
            (url, Some(server))
        }
    };
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

    let where_ = match &server {
        Some(_) => format!("in-process flaky service at {base}"),
        None => format!("{base}"),
    };
    story.say(&format!(
        "breaker {BREAKER_NAME:?}: opens after {} consecutive failure{}, stays open {}; target: {where_}",
        config.threshold,
        if config.threshold == 1 { "" } else { "s" },
        human_duration(config.open_for),
    ))?;

    let result = run_steps(&config, &story, &breaker, &mut client, &base).await;

    if let Some(server) = server {
        server.shutdown().await?;
    }
    let reports = result?;

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
    Ok(reports)
}

/// The tower client: the breaker's layer (responses classified by their status) over a
/// timeout, over hyper-util's pooled HTTP/1 client.
type TowerClient = CircuitBreakerService<
    Timeout<hyper_util::client::legacy::Client<HttpConnector, Empty<Bytes>>>,
    HttpClassifier,
>;

/// What makes the calls: reqwest under `call_async`, or the tower stack.
enum Caller {
    Direct {
        breaker: CircuitBreaker,
        client: reqwest::Client,
    },
    Tower(TowerClient),
}

impl Caller {
    fn new(
        config: &Config,
        breaker: &CircuitBreaker,
        loopback: bool,
    ) -> Result<Self, ScenarioError> {
        Ok(match config.client {
            ClientKind::Direct => {
                let mut client = reqwest::Client::builder().timeout(config.timeout);
                if loopback {
                    client = client.no_proxy();
                }
                Caller::Direct {
                    breaker: breaker.clone(),
                    client: client.build().map_err(ScenarioError::Client)?,
                }
            }
            ClientKind::Tower => Caller::Tower(tower_client(breaker.clone(), config.timeout)),
        })
    }

    /// GET `url` through the breaker: the 2xx-4xx status, or why not.
    async fn get(&mut self, url: &Url) -> Result<StatusCode, failgate::Error<CallError>> {
        match self {
            Caller::Direct { breaker, client } => {
                breaker
                    .call_async(|| async {
                        let response = client
                            .get(url.clone())
                            .send()
                            .await
                            .map_err(|e| CallError::Transport(e.into()))?;
                        let status = response.status();
                        // Read the body so the connection can be reused.
                        let _ = response.bytes().await;
                        if status.is_server_error() {
                            Err(CallError::Status(status))
                        } else {
                            Ok(status)
                        }
                    })
                    .await
            }
            Caller::Tower(service) => {
                let transport = |e: BoxError| failgate::Error::Inner(CallError::Transport(e));
                let uri: http::Uri = url
                    .as_str()
                    .parse()
                    .map_err(|e: http::uri::InvalidUri| transport(e.into()))?;
                let request = http::Request::get(uri)
                    .body(Empty::new())
                    .map_err(|e| transport(e.into()))?;
                // The layer refuses or admits, and classifies the response: a 5xx is
                // a failure to the breaker though it arrives as `Ok`.
                let response = service
                    .ready()
                    .await
                    .map_err(through_the_layer)?
                    .call(request)
                    .await
                    .map_err(through_the_layer)?;
                let status = response.status();
                // Read the body so the connection can be reused.
                let _ = response.into_body().collect().await;
                if status.is_server_error() {
                    Err(failgate::Error::Inner(CallError::Status(status)))
                } else {
                    Ok(status)
                }
            }
        }
    }
}

/// The tower stack's error, with a transport error spelled as the direct client's.
fn through_the_layer(error: failgate::Error<BoxError>) -> failgate::Error<CallError> {
    match error {
        failgate::Error::Rejected(rejected) => failgate::Error::Rejected(rejected),
        failgate::Error::Inner(e) => failgate::Error::Inner(CallError::Transport(e)),
    }
}

/// Builds the tower client: `breaker` in front, classifying with [`HttpClassifier`].
fn tower_client(breaker: CircuitBreaker, timeout: Duration) -> TowerClient {
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build(HttpConnector::new());
    ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(breaker).with_classifier(HttpClassifier::new()))
        .timeout(timeout)
        .service(client)
}

async fn run_steps(
    config: &Config,
    story: &Story,
    breaker: &CircuitBreaker,
    client: &mut Caller,
    base: &Url,
) -> Result<Vec<StepReport>, ScenarioError> {
    let mut reports = Vec::with_capacity(STEPS.len());
    // Consecutive failures seen while closed, to tell "failure 1/2" from "2/2".
    let mut consecutive = 0u32;
    for (index, endpoint) in STEPS.into_iter().enumerate() {
        let step = index as u32 + 1;
        if index == PAUSE_AFTER {
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
        }
        let url = endpoint_url(base, endpoint)?;
        // Querying the state first also performs a due open -> half-open transition,
        // so its "HALF-OPEN" line comes before the probe's request line.
        let before = breaker.state();
        story.flush_queued()?;
        let sent_at = story.start.elapsed();
        let result = client.get(&url).await;
        let after = breaker.state();
        let mut report = StepReport {
            step,
            endpoint,
            outcome: StepOutcome::Rejected,
            state: state_name(after),
            status: None,
            retry_after_ms: None,
        };
        let head = format!("step {step}: GET {}", endpoint.path());
        match result {
            Ok(status) if status.is_success() => {
                consecutive = 0;
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
                let note = if before == State::Closed {
                    consecutive += 1;
                    if consecutive >= config.threshold {
                        consecutive = 0;
                        format!(
                            "failure {}/{}: threshold reached",
                            config.threshold, config.threshold
                        )
                    } else {
                        format!("failure {consecutive}/{}", config.threshold)
                    }
                } else {
                    format!("failure while {}", human_state(before))
                };
                story.say_at(sent_at, &format!("{head} -> {status} ({note})"))?;
            }
            Err(failgate::Error::Inner(CallError::Transport(source))) => {
                return Err(ScenarioError::Unreachable { step, url, source });
            }
            Err(failgate::Error::Rejected(rejected)) => {
                let retry_after = rejected.retry_after();
                report.retry_after_ms = retry_after.map(|d| d.as_millis() as u64);
                let mut line = format!("{head} refused: circuit {}", human_state(rejected.state()));
                if let Some(d) = retry_after {
                    let _ = write!(line, ", retry after {}", human_duration(d));
                }
                line.push_str(" (not sent)");
                story.say_at(sent_at, &line)?;
            }
        }
        story.flush_queued()?;
        story.report(&report)?;
        reports.push(report);
    }
    Ok(reports)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn targets_must_be_absolute_http_urls() {
        assert!(parse_target("http://127.0.0.1:5000").is_ok());
        assert!(parse_target("http://example.invalid/prefix").is_ok());
        let err = parse_target("https://example.invalid/").unwrap_err();
        assert!(err.contains("https is not supported"), "{err}");
        let err = parse_target("nonsense").unwrap_err();
        assert!(err.contains("expected an http://"), "{err}");
        let err = parse_target("localhost:5000").unwrap_err();
        assert!(err.contains("did you mean http://localhost:5000"), "{err}");
        assert!(parse_target("ftp://host/").is_err());
        assert!(parse_target("http://").is_err());
    }

    #[test]
    fn clients_are_named_as_the_flag_spells_them() {
        for kind in ClientKind::ALL {
            assert_eq!(kind.to_string().parse::<ClientKind>(), Ok(kind));
        }
        assert_eq!(" tower ".parse::<ClientKind>(), Ok(ClientKind::Tower));
        assert_eq!(Config::default().client, ClientKind::Direct);
        assert!("reqwest".parse::<ClientKind>().is_err());
    }

    #[test]
    fn threshold_must_be_positive() {
        assert_eq!(parse_threshold("2"), Ok(2));
        assert!(parse_threshold("0").unwrap_err().contains("at least 1"));
        assert!(parse_threshold("-1").is_err());
        assert!(parse_threshold("two").is_err());
    }

    #[test]
    fn durations_must_be_positive() {
        assert_eq!(
            parse_positive_duration("100ms"),
            Ok(Duration::from_millis(100))
        );
        assert_eq!(parse_positive_duration("60s"), Ok(Duration::from_secs(60)));
        assert!(parse_positive_duration("0s")
            .unwrap_err()
            .contains("greater than zero"));
        assert!(parse_positive_duration("soon").is_err());
    }

    #[test]
    fn endpoint_urls_keep_a_path_prefix() {
        let base = Url::parse("http://127.0.0.1:5000").unwrap();
        assert_eq!(
            endpoint_url(&base, Endpoint::Failure).unwrap().as_str(),
            "http://127.0.0.1:5000/failure"
        );
        let base = Url::parse("http://h/flaky").unwrap();
        assert_eq!(
            endpoint_url(&base, Endpoint::Success).unwrap().as_str(),
            "http://h/flaky/success"
        );
    }

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(Duration::from_secs(2)), "2s");
        assert_eq!(human_duration(Duration::from_millis(1_234)), "1.2s");
        assert_eq!(human_duration(Duration::from_millis(1_999)), "2s");
        assert_eq!(human_duration(Duration::from_millis(350)), "350ms");
    }

    #[test]
    fn state_names_use_underscores_in_json_and_dashes_in_the_story() {
        assert_eq!(state_name(State::HalfOpen), "half_open");
        assert_eq!(state_name(State::ForcedOpen), "forced_open");
        assert_eq!(human_state(State::HalfOpen), "half-open");
        assert_eq!(state_name(State::Closed), "closed");
    }
}
