//! `POST /control/...`: force a breaker open, reset it, or pin its lane's failure ratio.
//! A bad request changes nothing: every parameter is checked before the action.

use std::sync::Arc;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::Deserialize;

use super::state::{AppState, Shared};
use super::traffic::LaneState;
use crate::service::{ErrorBody, Ratio};

/// What a control route does.
#[derive(Debug, Clone, Copy)]
pub(super) enum Action {
    ForceOpen,
    Reset,
    Ratio,
}

/// The raw query; values are kept as text so a bad one gets our own 400 message.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ControlParams {
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

/// A 404 naming the breaker.
fn no_such_breaker(name: &str, message: String) -> Response {
    ErrorBody {
        error: "not_found".into(),
        message,
        status: StatusCode::NOT_FOUND.as_u16(),
        parameter: Some("breaker".into()),
        value: Some(name.into()),
        path: None,
    }
    .into_response()
}

/// The handler of every control route: checks the caller, then the parameters, then
/// acts and answers the breaker's view.
pub(super) async fn control(
    action: Action,
    AxumState(shared): AppState,
    headers: HeaderMap,
    query: Result<Query<ControlParams>, QueryRejection>,
) -> Response {
    // Refuse a simple (cross-site-able) request or a missing token before anything.
    if let Err(refusal) = shared.guard.check_control(&headers) {
        return refusal.into_response();
    }
    let params = match parse_query(query) {
        Ok(params) => params,
        Err(response) => return *response,
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
        Action::Ratio => match parse_ratio(params.ratio.as_deref()) {
            Ok(ratio) => ratio,
            Err(response) => return *response,
        },
        Action::ForceOpen | Action::Reset => None,
    };
    let Some(lane) = shared.lane(name) else {
        let known: Vec<&str> = shared.lanes.iter().map(|l| l.name.as_str()).collect();
        return no_such_breaker(
            name,
            format!("no breaker named {name:?}; known: {}", known.join(", ")),
        );
    };
    if let Err(unknown) = act(&shared, action, name, lane, ratio) {
        // A lane's breaker is always in the registry; say so rather than panic.
        return no_such_breaker(name, unknown.to_string());
    }
    tracing::info!(breaker = name, ?action, ratio = ?ratio.map(Ratio::get), "control");
    answer_view(&shared, name)
}

/// The query's parameters, or a 400 for a query that does not parse.
fn parse_query(
    query: Result<Query<ControlParams>, QueryRejection>,
) -> Result<ControlParams, Box<Response>> {
    match query {
        Ok(Query(params)) => Ok(params),
        Err(rejection) => Err(Box::new(
            ErrorBody::invalid_query(&rejection.body_text()).into_response(),
        )),
    }
}

/// `ratio=R` (`Some`) or `ratio=auto` (`None`: back to the schedule), or a 400.
fn parse_ratio(ratio: Option<&str>) -> Result<Option<Ratio>, Box<Response>> {
    match ratio.map(str::trim) {
        None => Err(Box::new(bad_request(
            "ratio",
            None,
            "missing query parameter `ratio` (0 to 1, or `auto` for the schedule)".into(),
        ))),
        Some("auto") => Ok(None),
        Some(text) => text.parse::<Ratio>().map(Some).map_err(|why| {
            Box::new(bad_request(
                "ratio",
                Some(text),
                format!(
                    "invalid value {text:?} for query parameter `ratio`: {why} (or `auto` for the schedule)"
                ),
            ))
        }),
    }
}

/// Does what the route asks, to the breaker `name` of `lane`.
fn act(
    shared: &Shared,
    action: Action,
    name: &str,
    lane: &LaneState,
    ratio: Option<Ratio>,
) -> Result<(), failgate::UnknownBreaker> {
    match action {
        Action::ForceOpen => shared.registry.force_open(name),
        Action::Reset => shared.registry.reset(name),
        Action::Ratio => {
            lane.pin.set(ratio);
            Ok(())
        }
    }
}

/// 200 with the breaker's view as it is now.
fn answer_view(shared: &Arc<Shared>, name: &str) -> Response {
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
