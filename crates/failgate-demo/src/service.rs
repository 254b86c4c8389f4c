//! The flaky HTTP service behind `failgate-demo serve`.
//!
//! | endpoint        | answer                                                        |
//! |-----------------|---------------------------------------------------------------|
//! | `GET /success`  | 200                                                           |
//! | `GET /failure`  | 500                                                           |
//! | `GET /random`   | 500 with probability `failure_ratio`, else 200 (seeded RNG)   |
//! | `GET /health`   | 200                                                           |
//! | `GET /stats`    | 200 with the request counters ([`StatsSnapshot`]) as JSON     |
//!
//! Every answer is a small JSON object ([`Answer`], or [`ErrorBody`] for 400/404/405).
//! `?delay=2s` overrides the configured latency for one request and `?ratio=0.9` the
//! failure ratio of `/random`. Bad values answer 400 naming the parameter and value.
//!
//! The server runs on [`serving::serve`] with [`Config::limits`]: a client has the
//! header timeout to send each request head (so an idle keep-alive connection is
//! closed after it too), a handler the request timeout to answer (else 503), and at
//! most `max_connections` connections are served at once.
//!
//! [`Server::spawn`] binds and runs the service on a background task, so tests and the
//! in-process scenario can use it; [`router`] builds the bare [`Router`] for tests that
//! drive it without a socket (e.g. under paused tokio time).

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, Request, State};
use axum::http::{Method, StatusCode, Uri};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};
use serde::{Deserialize, Serialize};
use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::serving::{self, InvalidLimit, Limits};

/// The address `serve` listens on when `--addr` is not given.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 5000);

/// The failure ratio of `/random` when `--failure-ratio` is not given.
pub const DEFAULT_FAILURE_RATIO: Ratio = Ratio(0.5);

/// The longest delay accepted from `--latency` or `?delay=`. A bound keeps a stray
/// `?delay=9999h` from pinning a connection (and graceful shutdown) for ever.
pub const MAX_DELAY: Duration = Duration::from_secs(60);

/// How long [`Server::shutdown`] waits for in-flight requests before dropping them.
pub const SHUTDOWN_GRACE: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------------
// Values: ratio and delay, shared by the CLI and the query parameters.
// ---------------------------------------------------------------------------------------

/// Why a ratio or delay value was refused. The text completes
/// "invalid value 'X' for 'parameter': ...", the form clap and the HTTP errors use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidValue {
    /// Not a decimal number at all.
    #[error("expected a number between 0 and 1, such as 0.25")]
    NotANumber,
    /// `NaN` parses as a float but is no probability.
    #[error("NaN is not a probability; expected a number between 0 and 1")]
    NaN,
    /// A number outside `[0, 1]` (infinities included).
    #[error("must be between 0 and 1 (inclusive)")]
    OutOfRange,
    /// Not a duration humantime understands.
    #[error("expected a duration such as 100ms, 2s or 1m ({0})")]
    NotADuration(String),
    /// A duration above [`MAX_DELAY`].
    #[error("must be at most {}", humantime::format_duration(MAX_DELAY))]
    TooLong,
}

/// A probability in `[0, 1]`: the share of `/random` requests that answer 500.
#[derive(Debug, Clone, Copy, PartialEq, PartialOrd)]
pub struct Ratio(f64);

impl Ratio {
    /// Checks that `value` is a finite number in `[0, 1]`.
    pub fn new(value: f64) -> Result<Self, InvalidValue> {
        if value.is_nan() {
            Err(InvalidValue::NaN)
        } else if (0.0..=1.0).contains(&value) {
            Ok(Self(value))
        } else {
            Err(InvalidValue::OutOfRange)
        }
    }

    /// The probability as a float in `[0, 1]`.
    pub fn get(self) -> f64 {
        self.0
    }
}

impl FromStr for Ratio {
    type Err = InvalidValue;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let value: f64 = s.trim().parse().map_err(|_| InvalidValue::NotANumber)?;
        Self::new(value)
    }
}

impl fmt::Display for Ratio {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

/// Parses a delay such as `100ms`, `2s` or `0` (humantime syntax), at most [`MAX_DELAY`].
pub fn parse_delay(s: &str) -> Result<Duration, InvalidValue> {
    let delay = humantime::parse_duration(s.trim())
        .map_err(|e| InvalidValue::NotADuration(e.to_string()))?;
    if delay > MAX_DELAY {
        return Err(InvalidValue::TooLong);
    }
    Ok(delay)
}

// ---------------------------------------------------------------------------------------
// Configuration and counters.
// ---------------------------------------------------------------------------------------

/// How to run the service.
#[derive(Debug, Clone, PartialEq)]
pub struct Config {
    /// Where to listen; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Share of `/random` requests answered with 500.
    pub failure_ratio: Ratio,
    /// Delay before every endpoint answer (not 400/404 errors or `/stats`).
    pub latency: Duration,
    /// Seed of the `/random` RNG; `None` draws one (and logs it, so a run can be replayed).
    pub seed: Option<u64>,
    /// The header (and idle) timeout, request timeout and connection cap.
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: DEFAULT_ADDR,
            failure_ratio: DEFAULT_FAILURE_RATIO,
            latency: Duration::ZERO,
            seed: None,
            limits: Limits::default(),
        }
    }
}

impl Config {
    /// The default configuration on `127.0.0.1:0`: what tests and the in-process
    /// scenario use.
    pub fn ephemeral() -> Self {
        Self {
            addr: SocketAddr::new(DEFAULT_ADDR.ip(), 0),
            ..Self::default()
        }
    }
}

/// The four endpoints of the flaky service.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Endpoint {
    /// `GET /success`: always 200.
    Success,
    /// `GET /failure`: always 500.
    Failure,
    /// `GET /random`: 500 with the failure ratio, else 200.
    Random,
    /// `GET /health`: always 200.
    Health,
}

impl Endpoint {
    /// The endpoint's name, which is also its path without the leading slash.
    pub fn as_str(self) -> &'static str {
        match self {
            Endpoint::Success => "success",
            Endpoint::Failure => "failure",
            Endpoint::Random => "random",
            Endpoint::Health => "health",
        }
    }

    /// The endpoint's path, e.g. `/success`.
    pub fn path(self) -> &'static str {
        match self {
            Endpoint::Success => "/success",
            Endpoint::Failure => "/failure",
            Endpoint::Random => "/random",
            Endpoint::Health => "/health",
        }
    }
}

impl fmt::Display for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Requests the service saw, per endpoint. Counted on arrival, before any delay.
/// `/stats` itself is not counted.
#[derive(Debug, Default)]
pub struct Stats {
    success: AtomicU64,
    failure: AtomicU64,
    random: AtomicU64,
    random_failures: AtomicU64,
    health: AtomicU64,
    not_found: AtomicU64,
    bad_request: AtomicU64,
}

/// A copy of the counters at one moment; what `GET /stats` answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Requests to `/success`.
    pub success: u64,
    /// Requests to `/failure`.
    pub failure: u64,
    /// Requests to `/random`.
    pub random: u64,
    /// Requests to `/random` that were answered with 500.
    pub random_failures: u64,
    /// Requests to `/health`.
    pub health: u64,
    /// Requests to unknown paths or with a wrong method (404/405).
    pub not_found: u64,
    /// Requests refused with 400 for a bad query value.
    pub bad_request: u64,
    /// All of the above but `random_failures` (which is part of `random`).
    pub total: u64,
}

impl Stats {
    fn counter(&self, endpoint: Endpoint) -> &AtomicU64 {
        match endpoint {
            Endpoint::Success => &self.success,
            Endpoint::Failure => &self.failure,
            Endpoint::Random => &self.random,
            Endpoint::Health => &self.health,
        }
    }

    /// Requests answered so far by `endpoint` (one refused with 400 for a bad query
    /// value is counted in [`StatsSnapshot::bad_request`] instead).
    pub fn count(&self, endpoint: Endpoint) -> u64 {
        self.counter(endpoint).load(Ordering::Relaxed)
    }

    /// Reads every counter. Counters are read one by one, so under load the snapshot is
    /// not one atomic instant; it is exact once traffic has stopped.
    pub fn snapshot(&self) -> StatsSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut s = StatsSnapshot {
            success: load(&self.success),
            failure: load(&self.failure),
            random: load(&self.random),
            random_failures: load(&self.random_failures),
            health: load(&self.health),
            not_found: load(&self.not_found),
            bad_request: load(&self.bad_request),
            total: 0,
        };
        s.total = s.success + s.failure + s.random + s.health + s.not_found + s.bad_request;
        s
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

// ---------------------------------------------------------------------------------------
// HTTP bodies.
// ---------------------------------------------------------------------------------------

/// The body of an endpoint answer, e.g. `{"endpoint":"random","outcome":"failure","status":500}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Answer {
    /// Which endpoint answered.
    pub endpoint: Endpoint,
    /// `"success"` (200) or `"failure"` (500).
    pub outcome: String,
    /// The HTTP status, repeated in the body for readers of logs.
    pub status: u16,
}

/// The body of a 400, 404 or 405 answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ErrorBody {
    /// A short machine-readable kind: `bad_request`, `not_found` or `method_not_allowed`.
    pub error: String,
    /// A sentence for humans.
    pub message: String,
    /// The HTTP status.
    pub status: u16,
    /// The query parameter that was refused (400 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub parameter: Option<String>,
    /// The refused value (400 only).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub value: Option<String>,
    /// The requested path (404/405).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub path: Option<String>,
}

impl IntoResponse for ErrorBody {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(self)).into_response()
    }
}

fn bad_parameter(parameter: &str, value: &str, why: &InvalidValue) -> Box<ErrorBody> {
    Box::new(ErrorBody {
        error: "bad_request".into(),
        message: format!("invalid value {value:?} for query parameter `{parameter}`: {why}"),
        status: StatusCode::BAD_REQUEST.as_u16(),
        parameter: Some(parameter.into()),
        value: Some(value.into()),
        path: None,
    })
}

// ---------------------------------------------------------------------------------------
// The router.
// ---------------------------------------------------------------------------------------

#[derive(Debug)]
struct AppState {
    stats: Arc<Stats>,
    // The RNG is drawn under a short std mutex: this is a demo server, not the breaker's
    // hot path, and one shared stream keeps a seeded run reproducible (the n-th /random
    // request draws the n-th number whatever the interleaving).
    rng: Mutex<StdRng>,
    failure_ratio: Ratio,
    latency: Duration,
}

impl AppState {
    /// A uniform draw in `[0, 1)`; the request fails when it is below the ratio, so a
    /// ratio of 0 never fails and 1 always does.
    fn draw(&self) -> f64 {
        let mut rng = self
            .rng
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        rng.gen::<f64>()
    }
}

/// The raw query; values are kept as text so a bad one gets our own 400 message.
#[derive(Debug, Default, Deserialize)]
struct RawParams {
    delay: Option<String>,
    ratio: Option<String>,
}

#[derive(Debug, Default)]
struct Params {
    delay: Option<Duration>,
    ratio: Option<Ratio>,
}

// The error is boxed: an ErrorBody is large, and this is the rare path.
fn parse_params(query: Result<Query<RawParams>, QueryRejection>) -> Result<Params, Box<ErrorBody>> {
    let Query(raw) = query.map_err(|rejection| {
        Box::new(ErrorBody {
            error: "bad_request".into(),
            message: format!("invalid query string: {}", rejection.body_text()),
            status: StatusCode::BAD_REQUEST.as_u16(),
            parameter: None,
            value: None,
            path: None,
        })
    })?;
    let delay = raw
        .delay
        .as_deref()
        .map(|v| parse_delay(v).map_err(|e| bad_parameter("delay", v, &e)))
        .transpose()?;
    let ratio = raw
        .ratio
        .as_deref()
        .map(|v| {
            v.parse::<Ratio>()
                .map_err(|e| bad_parameter("ratio", v, &e))
        })
        .transpose()?;
    Ok(Params { delay, ratio })
}

async fn answer(
    endpoint: Endpoint,
    app: Arc<AppState>,
    query: Result<Query<RawParams>, QueryRejection>,
) -> Response {
    let params = match parse_params(query) {
        Ok(params) => params,
        Err(body) => {
            bump(&app.stats.bad_request);
            return body.into_response();
        }
    };
    bump(app.stats.counter(endpoint));
    let failed = match endpoint {
        Endpoint::Success | Endpoint::Health => false,
        Endpoint::Failure => true,
        Endpoint::Random => {
            let ratio = params.ratio.unwrap_or(app.failure_ratio);
            let failed = app.draw() < ratio.get();
            if failed {
                bump(&app.stats.random_failures);
            }
            failed
        }
    };
    let delay = params.delay.unwrap_or(app.latency);
    if !delay.is_zero() {
        tokio::time::sleep(delay).await;
    }
    let (status, outcome) = if failed {
        (StatusCode::INTERNAL_SERVER_ERROR, "failure")
    } else {
        (StatusCode::OK, "success")
    };
    let body = Answer {
        endpoint,
        outcome: outcome.into(),
        status: status.as_u16(),
    };
    (status, Json(body)).into_response()
}

async fn stats_handler(State(app): State<Arc<AppState>>) -> Json<StatsSnapshot> {
    Json(app.stats.snapshot())
}

async fn not_found(State(app): State<Arc<AppState>>, uri: Uri) -> ErrorBody {
    bump(&app.stats.not_found);
    ErrorBody {
        error: "not_found".into(),
        message: format!(
            "no endpoint at {}; try /success, /failure, /random, /health or /stats",
            uri.path()
        ),
        status: StatusCode::NOT_FOUND.as_u16(),
        parameter: None,
        value: None,
        path: Some(uri.path().into()),
    }
}

async fn method_not_allowed(
    State(app): State<Arc<AppState>>,
    method: Method,
    uri: Uri,
) -> ErrorBody {
    bump(&app.stats.not_found);
    ErrorBody {
        error: "method_not_allowed".into(),
        message: format!("{method} is not allowed on {}; use GET", uri.path()),
        status: StatusCode::METHOD_NOT_ALLOWED.as_u16(),
        parameter: None,
        value: None,
        path: Some(uri.path().into()),
    }
}

async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let start = tokio::time::Instant::now();
    let response = next.run(request).await;
    tracing::info!(
        %method,
        %uri,
        status = response.status().as_u16(),
        elapsed_ms = start.elapsed().as_millis() as u64,
        "request"
    );
    response
}

/// Builds the service's router with the given counters and RNG seed (the seed in
/// `config` is ignored in favour of `seed`, which the caller has resolved).
pub fn router(config: &Config, seed: u64, stats: Arc<Stats>) -> Router {
    let app = Arc::new(AppState {
        stats,
        rng: Mutex::new(StdRng::seed_from_u64(seed)),
        failure_ratio: config.failure_ratio,
        latency: config.latency,
    });
    let route = |endpoint: Endpoint| {
        get(move |State(app): State<Arc<AppState>>, query| answer(endpoint, app, query))
    };
    Router::new()
        .route(Endpoint::Success.path(), route(Endpoint::Success))
        .route(Endpoint::Failure.path(), route(Endpoint::Failure))
        .route(Endpoint::Random.path(), route(Endpoint::Random))
        .route(Endpoint::Health.path(), route(Endpoint::Health))
        .route("/stats", get(stats_handler))
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .layer(middleware::from_fn(log_request))
        .with_state(app)
}

// ---------------------------------------------------------------------------------------
// The server.
// ---------------------------------------------------------------------------------------

/// Why the service could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A connection limit is out of range.
    #[error(transparent)]
    Limit(#[from] InvalidLimit),
    /// The listening socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The requested address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// The server failed while running.
    #[error("server error: {0}")]
    Io(#[from] io::Error),
    /// The server task panicked or was cancelled.
    #[error("server task ended abnormally: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// A running service on a background task. Dropping it starts a graceful shutdown
/// without waiting for it; [`Server::shutdown`] waits.
#[derive(Debug)]
pub struct Server {
    addr: SocketAddr,
    seed: u64,
    stats: Arc<Stats>,
    shutdown: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl Server {
    /// Checks `config.limits`, binds `config.addr` and serves on a spawned task with
    /// those limits ([`serving::serve`]). Needs a tokio runtime.
    pub async fn spawn(config: Config) -> Result<Self, ServeError> {
        config.limits.validate()?;
        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| ServeError::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr()?;
        let seed = config.seed.unwrap_or_else(rand::random);
        let stats = Arc::new(Stats::default());
        let app = router(&config, seed, Arc::clone(&stats));
        let (tx, rx) = oneshot::channel::<()>();
        let limits = config.limits;
        let task = tokio::spawn(serving::serve(listener, app, limits, async move {
            // A send or a dropped sender both mean: stop.
            let _ = rx.await;
        }));
        tracing::info!(
            %addr,
            seed,
            failure_ratio = config.failure_ratio.get(),
            latency = %humantime::format_duration(config.latency),
            "flaky service started"
        );
        Ok(Self {
            addr,
            seed,
            stats,
            shutdown: Some(tx),
            task,
        })
    }

    /// The bound address (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The base URL, e.g. `http://127.0.0.1:43121`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The seed of the `/random` RNG (drawn at start when none was configured).
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// The live request counters.
    pub fn stats(&self) -> &Arc<Stats> {
        &self.stats
    }

    /// Serves until `signal` completes, then shuts down gracefully.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> Result<(), ServeError> {
        tokio::select! {
            () = signal => self.shutdown().await,
            ended = &mut self.task => {
                // The server stopped by itself: report why.
                ended??;
                Ok(())
            }
        }
    }

    /// Stops accepting connections and waits up to [`SHUTDOWN_GRACE`] for in-flight
    /// requests; after that they are dropped.
    pub async fn shutdown(mut self) -> Result<(), ServeError> {
        if let Some(tx) = self.shutdown.take() {
            let _ = tx.send(());
        }
        match tokio::time::timeout(SHUTDOWN_GRACE, &mut self.task).await {
            Ok(ended) => Ok(ended??),
            Err(_elapsed) => {
                tracing::warn!(
                    grace = %humantime::format_duration(SHUTDOWN_GRACE),
                    "in-flight requests did not finish in time; dropping them"
                );
                self.task.abort();
                Ok(())
            }
        }
    }
}

/// A future that completes on Ctrl-C or (on Unix) SIGTERM.
///
/// The handlers are installed when this is called, not when the future is first
/// polled: call it before announcing the server, so that a signal sent as soon as the
/// address is printed is already caught. If a handler cannot be installed, the error
/// is logged and that signal is ignored.
pub fn shutdown_signal() -> impl Future<Output = ()> {
    #[cfg(unix)]
    let (interrupt, terminate) = {
        use tokio::signal::unix::{signal, SignalKind};
        let install = |kind: SignalKind, name: &str| match signal(kind) {
            Ok(s) => Some(s),
            Err(error) => {
                tracing::warn!(%error, "cannot listen for {name}");
                None
            }
        };
        (
            install(SignalKind::interrupt(), "Ctrl-C"),
            install(SignalKind::terminate(), "SIGTERM"),
        )
    };
    async move {
        #[cfg(unix)]
        {
            async fn recv(signal: Option<tokio::signal::unix::Signal>) {
                match signal {
                    Some(mut s) => {
                        s.recv().await;
                    }
                    None => std::future::pending().await,
                }
            }
            tokio::select! {
                () = recv(interrupt) => tracing::info!("Ctrl-C received, shutting down"),
                () = recv(terminate) => tracing::info!("SIGTERM received, shutting down"),
            }
        }
        #[cfg(not(unix))]
        {
            if let Err(error) = tokio::signal::ctrl_c().await {
                tracing::warn!(%error, "cannot listen for Ctrl-C");
                std::future::pending::<()>().await;
            }
            tracing::info!("Ctrl-C received, shutting down");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ratio_accepts_the_closed_unit_interval() {
        assert_eq!("0".parse::<Ratio>().map(Ratio::get), Ok(0.0));
        assert_eq!("1".parse::<Ratio>().map(Ratio::get), Ok(1.0));
        assert_eq!(" 0.25 ".parse::<Ratio>().map(Ratio::get), Ok(0.25));
    }

    #[test]
    fn ratio_refuses_everything_else() {
        assert_eq!("1.5".parse::<Ratio>(), Err(InvalidValue::OutOfRange));
        assert_eq!("-0.1".parse::<Ratio>(), Err(InvalidValue::OutOfRange));
        assert_eq!("inf".parse::<Ratio>(), Err(InvalidValue::OutOfRange));
        assert_eq!("NaN".parse::<Ratio>(), Err(InvalidValue::NaN));
        assert_eq!("nan".parse::<Ratio>(), Err(InvalidValue::NaN));
        assert_eq!("abc".parse::<Ratio>(), Err(InvalidValue::NotANumber));
        assert_eq!("".parse::<Ratio>(), Err(InvalidValue::NotANumber));
    }

    #[test]
    fn delay_parses_humantime() {
        assert_eq!(parse_delay("0"), Ok(Duration::ZERO));
        assert_eq!(parse_delay("50ms"), Ok(Duration::from_millis(50)));
        assert_eq!(parse_delay("2s"), Ok(Duration::from_secs(2)));
        assert_eq!(parse_delay("1m"), Ok(MAX_DELAY));
    }

    #[test]
    fn delay_refuses_garbage_and_huge_values() {
        assert!(matches!(
            parse_delay("abc"),
            Err(InvalidValue::NotADuration(_))
        ));
        assert!(matches!(
            parse_delay("50"),
            Err(InvalidValue::NotADuration(_))
        ));
        assert!(matches!(
            parse_delay("-1s"),
            Err(InvalidValue::NotADuration(_))
        ));
        assert_eq!(parse_delay("61s"), Err(InvalidValue::TooLong));
        assert_eq!(parse_delay("9999999h"), Err(InvalidValue::TooLong));
    }

    #[test]
    fn error_messages_name_parameter_and_value() {
        let body = bad_parameter("ratio", "1.5", &InvalidValue::OutOfRange);
        assert_eq!(
            body.message,
            "invalid value \"1.5\" for query parameter `ratio`: must be between 0 and 1 (inclusive)"
        );
        assert_eq!(body.parameter.as_deref(), Some("ratio"));
        assert_eq!(body.value.as_deref(), Some("1.5"));
    }

    #[test]
    fn snapshot_totals_everything_but_random_failures() {
        let stats = Stats::default();
        bump(&stats.success);
        bump(&stats.random);
        bump(&stats.random_failures);
        bump(&stats.not_found);
        let s = stats.snapshot();
        assert_eq!(
            (s.success, s.random, s.random_failures, s.total),
            (1, 1, 1, 3)
        );
    }
}
