//! The dashboard's HTTP API: the page, the snapshots, the event stream and the metrics;
//! the control routes are in [`control`](super::control).

use std::convert::Infallible;
use std::sync::Arc;

use axum::extract::State as AxumState;
use axum::http::{header, Method, StatusCode, Uri};
use axum::middleware;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use axum::{Json, Router};

use super::control::{control, Action};
use super::guard;
use super::state::{AppState, Shared};
use super::views::{History, WatchSnapshot};
use crate::service::ErrorBody;

/// The page, embedded: HTML, CSS and JS with no build step and nothing fetched from
/// elsewhere.
pub const PAGE: &str = include_str!("page.html");

/// The dashboard's router over a running watch's state. Every route, fallbacks
/// included, first checks `Host` and `Origin` ([`guard`]).
pub(super) fn router(shared: Arc<Shared>) -> Router {
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
        .route(
            "/control/open_for",
            post(|s, h, q| control(Action::OpenFor, s, h, q)),
        )
        .route(
            "/control/half_open",
            post(|s, h, q| control(Action::HalfOpen, s, h, q)),
        )
        .route(
            "/control/close",
            post(|s, h, q| control(Action::Close, s, h, q)),
        )
        .fallback(not_found)
        .method_not_allowed_fallback(method_not_allowed)
        .with_state(shared)
        .layer(middleware::from_fn_with_state(guard, guard::check_host))
}

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
