//! The JSON bodies the service answers.

use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use serde::{Deserialize, Serialize};

use super::config::Endpoint;
use super::values::InvalidValue;

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

impl ErrorBody {
    /// The 400 for a query string that does not parse at all; `why` is the parser's
    /// explanation.
    pub(crate) fn invalid_query(why: &str) -> Self {
        Self {
            error: "bad_request".into(),
            message: format!("invalid query string: {why}"),
            status: StatusCode::BAD_REQUEST.as_u16(),
            parameter: None,
            value: None,
            path: None,
        }
    }
}

impl IntoResponse for ErrorBody {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.status).unwrap_or(StatusCode::BAD_REQUEST);
        (status, Json(self)).into_response()
    }
}

pub(super) fn bad_parameter(parameter: &str, value: &str, why: &InvalidValue) -> Box<ErrorBody> {
    Box::new(ErrorBody {
        error: "bad_request".into(),
        message: format!("invalid value {value:?} for query parameter `{parameter}`: {why}"),
        status: StatusCode::BAD_REQUEST.as_u16(),
        parameter: Some(parameter.into()),
        value: Some(value.into()),
        path: None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
}
