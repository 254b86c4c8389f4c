//! axum responses for refusals (feature `axum`): a [`Rejected`] is a 503 with
//! `Retry-After`, so a handler returns `Result<T, Rejected>` (or a breaker's
//! [`Error`]) and `?` does the rest.

use crate::{Error, Rejected};
use axum_core::response::{IntoResponse, Response};
use http::{header::RETRY_AFTER, StatusCode};

/// `503 Service Unavailable`, with `Retry-After` in whole seconds (rounded up, as
/// [`retry_after_header`](crate::http::retry_after_header) gives it) when the wait is
/// known, and without it when nobody knows (a forced-open breaker, a half-open one
/// waiting for its probes). The body is the rejection's text, as plain text.
///
/// ```
/// use axum_core::response::IntoResponse;
/// use failgate::{Rejected, State};
/// use std::time::Duration;
///
/// let response = Rejected::new(State::Open, Some(Duration::from_millis(1500))).into_response();
/// assert_eq!(response.status(), 503);
/// assert_eq!(response.headers()["retry-after"], "2");
/// ```
impl IntoResponse for Rejected {
    fn into_response(self) -> Response {
        let mut response = (StatusCode::SERVICE_UNAVAILABLE, self.to_string()).into_response();
        if let Some(value) = crate::http::retry_after_header(&self) {
            response.headers_mut().insert(RETRY_AFTER, value);
        }
        response
    }
}

/// A refusal is the [`Rejected`] response; the operation's own error is its own
/// response.
impl<E: IntoResponse> IntoResponse for Error<E> {
    fn into_response(self) -> Response {
        match self {
            Error::Rejected(rejected) => rejected.into_response(),
            Error::Inner(e) => e.into_response(),
        }
    }
}
