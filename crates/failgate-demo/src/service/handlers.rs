//! The service's router and handlers: each endpoint counts the request, draws its
//! outcome, waits out the delay and answers.

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
use serde::Deserialize;

use super::bodies::{bad_parameter, Answer, ErrorBody};
use super::config::{Config, Endpoint};
use super::stats::{bump, Stats, StatsSnapshot};
use super::values::{parse_delay, Ratio};

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
    let Query(raw) =
        query.map_err(|rejection| Box::new(ErrorBody::invalid_query(&rejection.body_text())))?;
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

/// The tracing target of the one line logged per request, at DEBUG.
pub const REQUEST_LOG: &str = "failgate_demo::request";

async fn log_request(request: Request, next: Next) -> Response {
    let method = request.method().clone();
    let uri = request.uri().clone();
    let start = tokio::time::Instant::now();
    let response = next.run(request).await;
    // DEBUG, under a target of its own: `watch` sends dozens of requests a second, and
    // at INFO they would bury its URL and its transitions; `serve` turns them on.
    tracing::debug!(
        target: REQUEST_LOG,
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
