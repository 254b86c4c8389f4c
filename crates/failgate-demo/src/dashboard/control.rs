//! `POST /control/...`: force a breaker open, reset it, open it for a while
//! (`open_for?wait=5m`), half-open or close it now, or pin its lane's failure ratio.
//! A bad request changes nothing: every parameter is checked before the action.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::rejection::QueryRejection;
use axum::extract::{Query, State as AxumState};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use failgate::ControlError;
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
    OpenFor,
    HalfOpen,
    Close,
}

/// The raw query; values are kept as text so a bad one gets our own 400 message.
#[derive(Debug, Default, Deserialize)]
pub(super) struct ControlParams {
    breaker: Option<String>,
    ratio: Option<String>,
    wait: Option<String>,
}

/// What an action needs besides the breaker, checked before acting.
#[derive(Debug, Clone, Copy)]
enum Value {
    None,
    Ratio(Option<Ratio>),
    Wait(Duration),
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
    // Parse the value before acting, so a bad request changes nothing.
    let parsed = match action {
        Action::Ratio => parse_ratio(params.ratio.as_deref()).map(Value::Ratio),
        Action::OpenFor => parse_wait(params.wait.as_deref()).map(Value::Wait),
        Action::ForceOpen | Action::Reset | Action::HalfOpen | Action::Close => Ok(Value::None),
    };
    let value = match parsed {
        Ok(value) => value,
        Err(response) => return *response,
    };
    let Some(lane) = shared.lane(name) else {
        let known: Vec<&str> = shared.lanes.iter().map(|l| l.name.as_str()).collect();
        return no_such_breaker(
            name,
            format!("no breaker named {name:?}; known: {}", known.join(", ")),
        );
    };
    match act(&shared, action, name, lane, value) {
        Ok(()) => {}
        // A lane's breaker is always in the registry; say so rather than panic.
        Err(ControlError::Unknown(unknown)) => return no_such_breaker(name, unknown.to_string()),
        // `parse_wait` checks the bound first; a refusal here still changed nothing.
        Err(e) => return bad_request("wait", params.wait.as_deref(), e.to_string()),
    }
    tracing::info!(breaker = name, ?action, ?value, "control");
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

/// `wait=5m` (humantime, at most failgate's `MAX_DURATION`), or a 400 naming `wait`.
fn parse_wait(wait: Option<&str>) -> Result<Duration, Box<Response>> {
    let Some(text) = wait.map(str::trim) else {
        return Err(Box::new(bad_request(
            "wait",
            None,
            "missing query parameter `wait` (a duration such as `5m` or `90s`)".into(),
        )));
    };
    let refuse = |why: String| {
        Box::new(bad_request(
            "wait",
            Some(text),
            format!("invalid value {text:?} for query parameter `wait`: {why}"),
        ))
    };
    let wait = humantime::parse_duration(text).map_err(|e| refuse(e.to_string()))?;
    if wait > failgate::MAX_DURATION {
        return Err(refuse(format!(
            "must be at most {:?}",
            failgate::MAX_DURATION
        )));
    }
    Ok(wait)
}

/// Does what the route asks, to the breaker `name` of `lane`.
fn act(
    shared: &Shared,
    action: Action,
    name: &str,
    lane: &LaneState,
    value: Value,
) -> Result<(), ControlError> {
    let registry = &shared.registry;
    match (action, value) {
        (Action::ForceOpen, _) => registry.force_open(name)?,
        (Action::Reset, _) => registry.reset(name)?,
        (Action::OpenFor, Value::Wait(wait)) => registry.open_for(name, wait)?,
        (Action::HalfOpen, _) => registry.half_open(name)?,
        (Action::Close, _) => registry.close(name)?,
        (Action::Ratio, Value::Ratio(ratio)) => lane.pin.set(ratio),
        // The value is parsed for its action above; nothing else reaches here.
        (Action::OpenFor | Action::Ratio, _) => {}
    }
    Ok(())
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
