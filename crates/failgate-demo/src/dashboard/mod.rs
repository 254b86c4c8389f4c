//! `failgate-demo watch`: live traffic through named breakers, a Prometheus endpoint,
//! and a dashboard page.
//!
//! Each [`Lane`] is one breaker of a [`failgate::Registry`] (built with
//! `.with_metrics()`), whose traffic calls the flaky service's `/random` at a bounded
//! rate with a scripted failure ratio ([`lanes::Schedule`]), so breakers trip and
//! recover on their own. The server answers:
//!
//! | route | answer |
//! |---|---|
//! | `GET /dashboard` | the page (HTML, CSS and JS in one file, embedded in the binary) |
//! | `GET /events` | server-sent events: a `snapshot` ([`WatchSnapshot`]) every 500 ms |
//! | `GET /api/snapshot` | the current [`WatchSnapshot`] as JSON |
//! | `GET /api/history` | the recent samples ([`History`]) the page's charts start from |
//! | `GET /metrics` | every breaker's counters and gauges, in Prometheus text format |
//! | `POST /control/force_open?breaker=NAME` | force the breaker open |
//! | `POST /control/reset?breaker=NAME` | reset it to closed |
//! | `POST /control/ratio?breaker=NAME&ratio=R` | pin the lane's failure ratio (`auto`: back to its schedule) |
//!
//! A control call must be sent with `Content-Type: application/json` (its body is
//! ignored; send `{}`), and with the control token when one is set. It answers 200
//! with the breaker's [`BreakerView`], 400 with a JSON [`ErrorBody`] for a missing or
//! bad parameter, 404 for an unknown breaker; 415 without the JSON content type, 401
//! without the token and 403 with a wrong one. Every route answers 403 to a `Host`
//! that does not name this server (DNS rebinding) and to a foreign `Origin`; see
//! [`guard`] for the reasoning. The server runs on [`serving::serve`], with the
//! limits of [`Config::limits`].
//!
//! The metrics go to a Prometheus recorder that belongs to the [`Watch`], not the
//! process-wide one: the breakers register their handles with it when they are built,
//! and the periodic [`record_snapshot`] runs against it. Several watches can so run in
//! one process (the tests do) without mixing their series.
//!
//! Time is tokio's: the breakers' [`Clock`] reads [`tokio::time::Instant`], so under
//! paused tokio time (tests) the schedules, the traffic and the breakers' waits all
//! follow the same virtual clock.

pub mod guard;
pub mod lanes;
mod traffic;
mod views;

use std::collections::VecDeque;
use std::convert::Infallible;
use std::future::Future;
use std::io;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as AxumState};
use axum::http::{header, HeaderMap, Method, StatusCode, Uri};
use axum::middleware;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use failgate::observers::record_snapshot;
use failgate::{CircuitBreaker, Clock, ConfigError, Registry};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle, PrometheusRecorder};
use reqwest::Url;
use serde::Deserialize;
use tokio::net::TcpListener;
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio::time::{Instant, MissedTickBehavior};

use self::guard::Guard;
pub use self::guard::{
    exposure_warning, AllowedHost, ControlToken, InvalidAccess, TOKEN_ENV, TOKEN_HEADER,
};
pub use self::lanes::{default_lanes, Lane};
use self::traffic::{Caller, Counts, LaneState};
pub use self::traffic::{Target, CALL_TIMEOUT, MAX_IN_FLIGHT};
pub use self::views::{BreakerView, History, Point, Sample, WatchSnapshot};
use crate::service::{self, ErrorBody, Ratio, Server};
use crate::serving::{self, InvalidLimit, Limits, LimitsArgs};

/// The dashboard's address when `--addr` is not given.
pub const DEFAULT_ADDR: SocketAddr =
    SocketAddr::new(std::net::IpAddr::V4(std::net::Ipv4Addr::LOCALHOST), 9000);

/// Calls per second and lane when `--rate` is not given.
pub const DEFAULT_RATE: f64 = 20.0;

/// The highest `--rate` accepted, per lane.
pub const MAX_RATE: f64 = 50.0;

/// How often the registry is sampled (for `/events`, the history and the gauges).
pub const DEFAULT_SAMPLE_EVERY: Duration = Duration::from_millis(500);

/// How many samples the history keeps: 3 minutes at the default interval.
pub const DEFAULT_HISTORY: usize = 360;

/// The page, embedded: HTML, CSS and JS with no build step and nothing fetched from
/// elsewhere.
pub const PAGE: &str = include_str!("page.html");

/// How to run a [`Watch`].
#[derive(Debug, Clone)]
pub struct Config {
    /// Where the dashboard listens; port 0 picks a free port.
    pub addr: SocketAddr,
    /// Where the traffic goes; `None` starts the flaky service in-process on a free
    /// loopback port.
    pub target: Option<Target>,
    /// Seed of the in-process service's RNG (random when `None`).
    pub seed: Option<u64>,
    /// Calls per second of each lane, in `(0, MAX_RATE]`.
    pub rate: f64,
    /// The lanes: at least one, with distinct names.
    pub lanes: Vec<Lane>,
    /// How often to sample the registry (non-zero).
    pub sample_every: Duration,
    /// How many samples to keep for the charts (at least 1).
    pub history: usize,
    /// The secret `POST /control/...` must carry; `None` asks for none (fine on
    /// loopback; beyond it, [`Watch::spawn`] warns).
    pub control_token: Option<ControlToken>,
    /// Names the dashboard answers to besides its address, `localhost`, `127.0.0.1`
    /// and `[::1]`: every other `Host` is refused (a DNS-rebinding guard).
    pub allowed_hosts: Vec<AllowedHost>,
    /// The dashboard server's header (and idle) timeout, request timeout and
    /// connection cap.
    pub limits: Limits,
}

impl Default for Config {
    fn default() -> Self {
        Self {
            addr: DEFAULT_ADDR,
            target: None,
            seed: None,
            rate: DEFAULT_RATE,
            lanes: default_lanes(),
            sample_every: DEFAULT_SAMPLE_EVERY,
            history: DEFAULT_HISTORY,
            control_token: None,
            allowed_hosts: Vec::new(),
            limits: Limits::default(),
        }
    }
}

impl Config {
    /// The defaults with the dashboard on `127.0.0.1:0`: what tests use.
    pub fn ephemeral() -> Self {
        Self {
            addr: SocketAddr::new(DEFAULT_ADDR.ip(), 0),
            ..Self::default()
        }
    }
}

/// Why a [`Watch`] could not start or stopped with an error.
#[derive(Debug, thiserror::Error)]
pub enum WatchError {
    /// A setting is out of range.
    #[error("invalid {field}: {reason}")]
    Invalid {
        /// The flag or field.
        field: &'static str,
        /// What is wrong with it.
        reason: String,
    },
    /// A connection limit is out of range.
    #[error(transparent)]
    Limit(#[from] InvalidLimit),
    /// A lane's breaker settings were refused.
    #[error("invalid breaker configuration: {0}")]
    Breaker(#[from] ConfigError),
    /// The dashboard's socket could not be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The requested address.
        addr: SocketAddr,
        /// The OS error.
        source: io::Error,
    },
    /// The in-process flaky service did not start or stop cleanly.
    #[error("in-process flaky service: {0}")]
    Service(#[from] service::ServeError),
    /// The HTTP client could not be built.
    #[error("cannot build the HTTP client: {0}")]
    Client(#[from] reqwest::Error),
    /// The dashboard server failed.
    #[error("dashboard server error: {0}")]
    Io(#[from] io::Error),
    /// A task panicked or was cancelled.
    #[error("task ended abnormally: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// The breakers' clock: tokio's, so paused tokio time moves it too.
#[derive(Debug, Clone, Copy)]
struct TokioClock {
    origin: Instant,
}

impl Clock for TokioClock {
    fn now_nanos(&self) -> u64 {
        u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
    }
}

/// What the handlers and the sampler share.
struct Shared {
    start: Instant,
    registry: Registry,
    lanes: Vec<Arc<LaneState>>,
    recorder: PrometheusRecorder,
    prometheus: PrometheusHandle,
    sample_every: Duration,
    history_len: usize,
    history: Mutex<VecDeque<Sample>>,
    snapshots: watch::Receiver<Arc<WatchSnapshot>>,
    guard: Arc<Guard>,
}

impl std::fmt::Debug for Shared {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("registry", &self.registry)
            .field("lanes", &self.lanes.len())
            .finish_non_exhaustive()
    }
}

impl Shared {
    fn lane(&self, name: &str) -> Option<&Arc<LaneState>> {
        self.lanes.iter().find(|l| l.name == name)
    }

    /// The registry's snapshot, joined with the lanes' ratios and counts.
    fn snapshot(&self) -> WatchSnapshot {
        let elapsed = self.start.elapsed();
        let metrics = self.registry.snapshot();
        let millis = |d: Duration| u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        let load = |c: &std::sync::atomic::AtomicU64| c.load(std::sync::atomic::Ordering::Relaxed);
        let breakers = self
            .lanes
            .iter()
            .filter_map(|lane| {
                let m = metrics.iter().find(|m| *m.name == *lane.name)?;
                Some(BreakerView {
                    name: lane.name.clone(),
                    state: m.state.as_str().to_owned(),
                    policy: lane.policy.clone(),
                    failure_rate: m.failure_rate,
                    window_calls: m.calls,
                    window_failures: m.failures,
                    consecutive_failures: m.consecutive_failures,
                    retry_after_ms: m.retry_after.map(millis),
                    time_in_state_ms: millis(m.time_in_state),
                    generation: m.generation,
                    ratio: lane.ratio(elapsed).get(),
                    pinned: lane.pin.get().is_some(),
                    succeeded: load(&lane.counts.succeeded),
                    failed: load(&lane.counts.failed),
                    rejected: load(&lane.counts.rejected),
                })
            })
            .collect();
        WatchSnapshot {
            uptime_ms: millis(elapsed),
            breakers,
        }
    }

    /// Samples the registry: sets the rate gauges (only those that are known), keeps
    /// the sample for the charts, and returns the snapshot for `/events`.
    fn sample(&self) -> WatchSnapshot {
        metrics::with_local_recorder(&self.recorder, || {
            for m in self.registry.snapshot() {
                record_snapshot(&m);
            }
        });
        self.prometheus.run_upkeep();
        let snapshot = self.snapshot();
        let sample = Sample {
            uptime_ms: snapshot.uptime_ms,
            points: snapshot
                .breakers
                .iter()
                .map(|b| Point {
                    state: b.state.clone(),
                    failure_rate: b.failure_rate,
                    ratio: b.ratio,
                })
                .collect(),
        };
        let mut history = self
            .history
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        if history.len() == self.history_len {
            history.pop_front();
        }
        history.push_back(sample);
        snapshot
    }

    fn history(&self) -> History {
        let history = self
            .history
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        History {
            sample_every_ms: u64::try_from(self.sample_every.as_millis()).unwrap_or(u64::MAX),
            names: self.lanes.iter().map(|l| l.name.clone()).collect(),
            samples: history.iter().cloned().collect(),
        }
    }
}

/// A running watch: the traffic, the sampler and the dashboard server on background
/// tasks. Dropping it stops them without waiting; [`Watch::shutdown`] waits.
#[derive(Debug)]
pub struct Watch {
    addr: SocketAddr,
    target: String,
    shared: Arc<Shared>,
    stop: watch::Sender<bool>,
    server: JoinHandle<io::Result<()>>,
    tasks: JoinSet<()>,
    service: Option<Server>,
}

fn validate(config: &Config) -> Result<(), WatchError> {
    let invalid = |field, reason: String| Err(WatchError::Invalid { field, reason });
    if !(config.rate > 0.0 && config.rate <= MAX_RATE) {
        return invalid(
            "rate",
            format!(
                "{} is not a rate in (0, {MAX_RATE}] calls per second",
                config.rate
            ),
        );
    }
    if config.lanes.is_empty() {
        return invalid("lanes", "at least one lane is needed".into());
    }
    for (i, lane) in config.lanes.iter().enumerate() {
        if config.lanes[..i].iter().any(|l| l.name == lane.name) {
            return invalid("lanes", format!("two lanes are named {:?}", lane.name));
        }
    }
    if config.sample_every.is_zero() {
        return invalid("sample_every", "must be longer than zero".into());
    }
    if config.history == 0 {
        return invalid("history", "must keep at least one sample".into());
    }
    Ok(())
}

impl Watch {
    /// Builds the breakers, starts the in-process service (without a target), binds the
    /// dashboard and starts the traffic. Needs a tokio runtime.
    pub async fn spawn(config: Config) -> Result<Self, WatchError> {
        validate(&config)?;
        config.limits.validate()?;
        let start = Instant::now();
        let clock = TokioClock { origin: start };
        let recorder = PrometheusBuilder::new().build_recorder();
        let prometheus = recorder.handle();

        let mut registry = Registry::builder(CircuitBreaker::builder().with_metrics().clock(clock));
        for lane in &config.lanes {
            registry = registry.with_override(
                &lane.name,
                lane.settings.clone().with_metrics().clock(clock),
            );
        }
        let registry = registry.build()?;
        // The breakers register their metrics handles with this watch's recorder.
        let breakers = metrics::with_local_recorder(&recorder, || {
            config
                .lanes
                .iter()
                .map(|lane| registry.get_or_create(&lane.name))
                .collect::<Result<Vec<_>, _>>()
        })?;
        let lanes: Vec<Arc<LaneState>> = config
            .lanes
            .iter()
            .zip(breakers)
            .map(|(lane, breaker)| {
                Arc::new(LaneState {
                    name: lane.name.clone(),
                    policy: lane.policy.clone(),
                    schedule: lane.schedule.clone(),
                    pin: lanes::Pin::new(),
                    counts: Counts::default(),
                    breaker,
                })
            })
            .collect();

        let listener = TcpListener::bind(config.addr)
            .await
            .map_err(|source| WatchError::Bind {
                addr: config.addr,
                source,
            })?;
        let addr = listener.local_addr()?;
        if let Some(warning) = exposure_warning(addr, config.control_token.as_ref()) {
            tracing::warn!("{warning}");
        }
        let guard = Arc::new(Guard::new(
            addr,
            &config.allowed_hosts,
            config.control_token.clone(),
        ));

        let (service, target) = match config.target {
            Some(target) => (None, target),
            None => {
                let server = Server::spawn(service::Config {
                    seed: config.seed,
                    ..service::Config::ephemeral()
                })
                .await?;
                let url = Url::parse(&server.url()).map_err(|e| WatchError::Invalid {
                    field: "target",
                    reason: e.to_string(),
                })?;
                (Some(server), Target::Url(url))
            }
        };
        let target_text = match &target {
            Target::Url(url) => url.to_string(),
            Target::Router(_) => "the flaky service's router (in-process, no socket)".into(),
        };
        let caller = Caller::new(&target)?;

        let (stop, stopped) = watch::channel(false);
        let (publish, snapshots) = watch::channel(Arc::new(WatchSnapshot {
            uptime_ms: 0,
            breakers: Vec::new(),
        }));
        let shared = Arc::new(Shared {
            start,
            registry,
            lanes,
            recorder,
            prometheus,
            sample_every: config.sample_every,
            history_len: config.history,
            history: Mutex::new(VecDeque::with_capacity(config.history)),
            snapshots,
            guard,
        });
        publish.send_replace(Arc::new(shared.sample()));

        let mut tasks = JoinSet::new();
        for lane in &shared.lanes {
            tasks.spawn(traffic::drive(
                Arc::clone(lane),
                caller.clone(),
                config.rate,
                start,
                stopped.clone(),
            ));
        }
        tasks.spawn(sampler(Arc::clone(&shared), publish, stopped.clone()));

        let app = router(Arc::clone(&shared));
        let mut server_stop = stopped;
        let limits = config.limits;
        let server = tokio::spawn(serving::serve(listener, app, limits, async move {
            // A stop or a dropped sender both mean: stop.
            let _ = server_stop.changed().await;
        }));
        tracing::info!(%addr, target = %target_text, rate = config.rate, "watch started");
        Ok(Self {
            addr,
            target: target_text,
            shared,
            stop,
            server,
            tasks,
            service,
        })
    }

    /// The dashboard's bound address (with the real port when port 0 was asked for).
    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    /// The dashboard server's base URL, e.g. `http://127.0.0.1:9000`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Where the traffic goes, in words.
    pub fn target(&self) -> &str {
        &self.target
    }

    /// The registry of the lanes' breakers.
    pub fn registry(&self) -> &Registry {
        &self.shared.registry
    }

    /// Every breaker now, as `GET /api/snapshot` answers.
    pub fn snapshot(&self) -> WatchSnapshot {
        self.shared.snapshot()
    }

    /// The recent samples, as `GET /api/history` answers.
    pub fn history(&self) -> History {
        self.shared.history()
    }

    /// The Prometheus text `GET /metrics` answers.
    pub fn render_metrics(&self) -> String {
        self.shared.prometheus.render()
    }

    /// Pins a lane's failure ratio (`None`: back to its schedule), as
    /// `POST /control/ratio` does.
    pub fn pin_ratio(
        &self,
        lane: &str,
        ratio: Option<Ratio>,
    ) -> Result<(), failgate::UnknownBreaker> {
        let lane = self
            .shared
            .lane(lane)
            .ok_or_else(|| failgate::UnknownBreaker(lane.to_owned()))?;
        lane.pin.set(ratio);
        Ok(())
    }

    /// Runs until `signal` completes, then shuts down.
    pub async fn run_until(mut self, signal: impl Future<Output = ()>) -> Result<(), WatchError> {
        tokio::select! {
            () = signal => self.shutdown().await,
            ended = &mut self.server => {
                // The server stopped by itself: report why.
                ended??;
                Ok(())
            }
        }
    }

    /// Stops the traffic (calls in flight are abandoned), ends the event streams and
    /// the dashboard server, and stops the in-process service.
    pub async fn shutdown(mut self) -> Result<(), WatchError> {
        let _ = self.stop.send(true);
        while let Some(ended) = self.tasks.join_next().await {
            ended?;
        }
        match tokio::time::timeout(service::SHUTDOWN_GRACE, &mut self.server).await {
            Ok(ended) => ended??,
            Err(_elapsed) => self.server.abort(),
        }
        if let Some(service) = self.service.take() {
            service.shutdown().await?;
        }
        Ok(())
    }
}

/// Samples the registry every `sample_every` and publishes the snapshot, until stopped.
/// Dropping `publish` at the end ends every `/events` stream.
async fn sampler(
    shared: Arc<Shared>,
    publish: watch::Sender<Arc<WatchSnapshot>>,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(shared.sample_every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate, and spawn() sampled already
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        publish.send_replace(Arc::new(shared.sample()));
    }
}

// ---------------------------------------------------------------------------------------
// The HTTP API.
// ---------------------------------------------------------------------------------------

/// The dashboard's router over a running watch's state. Every route, fallbacks
/// included, first checks `Host` and `Origin` ([`guard`]).
fn router(shared: Arc<Shared>) -> Router {
    let guard = Arc::clone(&shared.guard);
    Router::new()
        .route("/", get(|| async { Redirect::to("/dashboard") }))
        .route("/dashboard", get(|| async { Html(PAGE) }))
        .route("/events", get(events))
        .route("/api/snapshot", get(snapshot))
        .route("/api/history", get(history))
        .route("/metrics", get(prometheus))
        .route(
            "/control/force_open",
            post(|s, h, q| control(Action::ForceOpen, s, h, q)),
        )
        .route(
            "/control/reset",
            post(|s, h, q| control(Action::Reset, s, h, q)),
        )
        .route(
            "/control/ratio",
            post(|s, h, q| control(Action::Ratio, s, h, q)),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(shared)
        .layer(middleware::from_fn_with_state(guard, guard::check_host))
}

type AppState = AxumState<Arc<Shared>>;

async fn snapshot(AxumState(shared): AppState) -> Json<WatchSnapshot> {
    Json(shared.snapshot())
}

async fn history(AxumState(shared): AppState) -> Json<History> {
    Json(shared.history())
}

async fn prometheus(AxumState(shared): AppState) -> Response {
    (
        [(
            header::CONTENT_TYPE,
            "text/plain; version=0.0.4; charset=utf-8",
        )],
        shared.prometheus.render(),
    )
        .into_response()
}

/// The latest snapshot at once, then each new one, until the watch stops.
async fn events(
    AxumState(shared): AppState,
) -> Sse<impl futures::Stream<Item = Result<Event, Infallible>>> {
    let rx = shared.snapshots.clone();
    let stream = futures::stream::unfold((rx, true), |(mut rx, first)| async move {
        if !first {
            // Err: the sampler has stopped, so the stream ends.
            rx.changed().await.ok()?;
        }
        let snapshot = Arc::clone(&rx.borrow_and_update());
        let event = Event::default()
            .event("snapshot")
            .json_data(&*snapshot)
            .unwrap_or_else(|e| Event::default().comment(format!("unserializable: {e}")));
        Some((Ok(event), (rx, false)))
    });
    Sse::new(stream).keep_alive(KeepAlive::default())
}

#[derive(Debug, Clone, Copy)]
enum Action {
    ForceOpen,
    Reset,
    Ratio,
}

/// The raw query; values are kept as text so a bad one gets our own 400 message.
#[derive(Debug, Default, Deserialize)]
struct ControlParams {
    breaker: Option<String>,
    ratio: Option<String>,
}

fn bad_request(parameter: &str, value: Option<&str>, message: String) -> Response {
    ErrorBody {
        error: "bad_request".into(),
        message,
        status: StatusCode::BAD_REQUEST.as_u16(),
        parameter: Some(parameter.into()),
        value: value.map(Into::into),
        path: None,
    }
    .into_response()
}

async fn control(
    action: Action,
    AxumState(shared): AppState,
    headers: HeaderMap,
    query: Result<Query<ControlParams>, QueryRejection>,
) -> Response {
    // Refuse a simple (cross-site-able) request or a missing token before anything.
    if let Err(refusal) = shared.guard.check_control(&headers) {
        return refusal.into_response();
    }
    let Query(params) = match query {
        Ok(q) => q,
        Err(rejection) => {
            return ErrorBody {
                error: "bad_request".into(),
                message: format!("invalid query string: {}", rejection.body_text()),
                status: StatusCode::BAD_REQUEST.as_u16(),
                parameter: None,
                value: None,
                path: None,
            }
            .into_response()
        }
    };
    let Some(name) = params.breaker.as_deref().filter(|n| !n.is_empty()) else {
        return bad_request(
            "breaker",
            params.breaker.as_deref(),
            "missing query parameter `breaker` (the breaker's name)".into(),
        );
    };
    // Parse the ratio before acting, so a bad request changes nothing.
    let ratio = match action {
        Action::Ratio => match params.ratio.as_deref().map(str::trim) {
            None => {
                return bad_request(
                    "ratio",
                    None,
                    "missing query parameter `ratio` (0 to 1, or `auto` for the schedule)"
                        .into(),
                )
            }
            Some("auto") => None,
            Some(text) => match text.parse::<Ratio>() {
                Ok(ratio) => Some(ratio),
                Err(why) => {
                    return bad_request(
                        "ratio",
                        Some(text),
                        format!(
                            "invalid value {text:?} for query parameter `ratio`: {why} (or `auto` for the schedule)"
                        ),
                    )
                }
            },
        },
        Action::ForceOpen | Action::Reset => None,
    };
    let Some(lane) = shared.lane(name) else {
        let known: Vec<&str> = shared.lanes.iter().map(|l| l.name.as_str()).collect();
        return ErrorBody {
            error: "not_found".into(),
            message: format!("no breaker named {name:?}; known: {}", known.join(", ")),
            status: StatusCode::NOT_FOUND.as_u16(),
            parameter: Some("breaker".into()),
            value: Some(name.into()),
            path: None,
        }
        .into_response();
    };
    let done = match action {
        Action::ForceOpen => shared.registry.force_open(name),
        Action::Reset => shared.registry.reset(name),
        Action::Ratio => {
            lane.pin.set(ratio);
            Ok(())
        }
    };
    if let Err(unknown) = done {
        // A lane's breaker is always in the registry; say so rather than panic.
        return ErrorBody {
            error: "not_found".into(),
            message: unknown.to_string(),
            status: StatusCode::NOT_FOUND.as_u16(),
            parameter: Some("breaker".into()),
            value: Some(name.into()),
            path: None,
        }
        .into_response();
    }
    tracing::info!(breaker = name, ?action, ratio = ?ratio.map(Ratio::get), "control");
    match shared
        .snapshot()
        .breakers
        .into_iter()
        .find(|b| b.name == name)
    {
        Some(view) => Json(view).into_response(),
        None => StatusCode::NO_CONTENT.into_response(),
    }
}

async fn not_found(uri: Uri) -> ErrorBody {
    ErrorBody {
        error: "not_found".into(),
        message: format!(
            "no endpoint at {}; try /dashboard, /metrics, /events, /api/snapshot, /api/history or POST /control/...",
            uri.path()
        ),
        status: StatusCode::NOT_FOUND.as_u16(),
        parameter: None,
        value: None,
        path: Some(uri.path().into()),
    }
}

async fn method_not_allowed(method: Method, uri: Uri) -> ErrorBody {
    let allowed = if uri.path().starts_with("/control/") {
        "POST"
    } else {
        "GET"
    };
    ErrorBody {
        error: "method_not_allowed".into(),
        message: format!("{method} is not allowed on {}; use {allowed}", uri.path()),
        status: StatusCode::METHOD_NOT_ALLOWED.as_u16(),
        parameter: None,
        value: None,
        path: Some(uri.path().into()),
    }
}

// ---------------------------------------------------------------------------------------
// The command line.
// ---------------------------------------------------------------------------------------

/// The flags of `failgate-demo watch`.
#[derive(Debug, Clone, clap::Args)]
pub struct WatchArgs {
    /// Address of the dashboard server (IP:PORT); port 0 picks a free port.
    #[arg(long, default_value_t = DEFAULT_ADDR, value_parser = parse_addr)]
    pub addr: SocketAddr,

    /// URL of a running `failgate-demo serve`; without it the flaky service runs
    /// in-process on a free loopback port.
    #[arg(long, value_name = "URL", value_parser = crate::scenario::parse_target)]
    pub target: Option<Url>,

    /// Seed of the in-process service's RNG, to reproduce a run.
    #[arg(long)]
    pub seed: Option<u64>,

    /// Calls per second of each breaker's traffic (at most 50).
    #[arg(long, value_name = "N", default_value_t = DEFAULT_RATE, value_parser = parse_rate)]
    pub rate: f64,

    /// A configuration file (.toml, .yaml or .json): a lane named under `breakers`
    /// (checkout, search, payments) takes its settings from the file, over the file's
    /// defaults; the other lanes keep theirs.
    #[arg(long, value_name = "FILE")]
    pub config: Option<std::path::PathBuf>,

    /// The secret POST /control/... must carry (as X-Failgate-Token or Authorization:
    /// Bearer); the printed dashboard URL hands it to the page. Set one whenever
    /// --addr is not a loopback address.
    #[arg(long, value_name = "TOKEN", env = TOKEN_ENV, hide_env_values = true)]
    pub control_token: Option<ControlToken>,

    /// A name the dashboard answers to (NAME or NAME:PORT; repeatable), besides its
    /// address, localhost, 127.0.0.1 and `[::1]`: any other Host header is refused.
    #[arg(long = "allowed-host", value_name = "HOST")]
    pub allowed_hosts: Vec<AllowedHost>,

    /// The dashboard server's connection limits.
    #[command(flatten)]
    pub limits: LimitsArgs,
}

/// The default lanes, with the settings a configuration file gives them.
pub fn lanes_from(config: &failgate::config_file::RegistryConfig) -> Result<Vec<Lane>, WatchError> {
    let mut lanes = default_lanes();
    for name in config.breakers.keys() {
        if !lanes.iter().any(|l| &l.name == name) {
            let known: Vec<&str> = lanes.iter().map(|l| l.name.as_str()).collect();
            return Err(WatchError::Invalid {
                field: "config",
                reason: format!(
                    "breakers.{name}: no such lane (the lanes are {})",
                    known.join(", ")
                ),
            });
        }
    }
    for lane in &mut lanes {
        if config.breakers.contains_key(&lane.name) {
            lane.settings = config.builder_for(&lane.name);
            lane.policy = "from the configuration file".into();
        }
    }
    Ok(lanes)
}

fn parse_addr(s: &str) -> Result<SocketAddr, String> {
    s.trim().parse().map_err(|_| {
        "expected IP:PORT such as 127.0.0.1:9000 (port 0 picks a free port)".to_string()
    })
}

/// Parses `--rate`: a number of calls per second in `(0, MAX_RATE]`.
pub fn parse_rate(s: &str) -> Result<f64, String> {
    match s.trim().parse::<f64>() {
        Ok(rate) if rate > 0.0 && rate <= MAX_RATE => Ok(rate),
        Ok(_) => Err(format!(
            "must be more than 0 and at most {MAX_RATE} calls per second"
        )),
        Err(_) => Err("expected a number of calls per second, such as 20".into()),
    }
}

/// Runs `watch` until Ctrl-C or SIGTERM, printing the dashboard's URLs on `out`.
pub async fn run(args: WatchArgs, out: &mut (dyn io::Write + Send)) -> Result<(), WatchError> {
    let lanes = match &args.config {
        Some(path) => {
            let file = failgate::config_file::RegistryConfig::from_path(path).map_err(|e| {
                WatchError::Invalid {
                    field: "config",
                    reason: e.to_string(),
                }
            })?;
            lanes_from(&file)?
        }
        None => default_lanes(),
    };
    let watch = Watch::spawn(Config {
        addr: args.addr,
        target: args.target.map(Target::Url),
        seed: args.seed,
        rate: args.rate,
        lanes,
        control_token: args.control_token.clone(),
        allowed_hosts: args.allowed_hosts,
        limits: args.limits.into(),
        ..Config::default()
    })
    .await?;
    let signal = service::shutdown_signal();
    let url = watch.url();
    // The fragment is never sent to the server: the page reads the token from it.
    let fragment = args
        .control_token
        .as_ref()
        .map(|t| format!("#token={}", t.expose()))
        .unwrap_or_default();
    writeln!(out, "dashboard on {url}/dashboard{fragment}")?;
    writeln!(out, "metrics on {url}/metrics")?;
    writeln!(out, "traffic to {}", watch.target())?;
    out.flush()?;
    watch.run_until(signal).await?;
    tracing::info!("stopped");
    Ok(())
}
