//! HTTP outcome classes (feature `http`).
//!
//! [`HttpClassifier`] decides the [`Outcome`] of an HTTP response (an
//! `http::Response`, a `reqwest::Response` with the feature `reqwest`, or any
//! [`HttpResponse`]) the way an HTTP client should: a 5xx answer or a transport error is the dependency failing;
//! anything else (a 404, a 400) is the caller's business and counts as a success.
//! Optionally, 429 Too Many Requests and 408 Request Timeout count as failures too.
//! With [`Builder::honor_retry_after`](crate::Builder::honor_retry_after), a 503 or 429
//! that carries a `Retry-After` keeps the breaker open at least that long, up to
//! [`Builder::max_retry_after`](crate::Builder::max_retry_after) (one hour by default).
//!
//! [`retry_after_header`] turns a [`Rejected`] into the `Retry-After` value a server
//! should send with its 503.

use crate::{Classify, Outcome, Rejected};
use http::header::RETRY_AFTER;
use http::{HeaderMap, HeaderValue, Response, StatusCode};
use std::time::{Duration, SystemTime};

/// Classifies HTTP responses: 5xx and transport errors are failures.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HttpClassifier {
    too_many_requests: bool,
    request_timeouts: bool,
}

impl HttpClassifier {
    /// 5xx answers and transport errors are failures; everything else succeeds.
    pub fn new() -> Self {
        Self::default()
    }

    /// Also count 429 Too Many Requests as a failure.
    pub fn count_too_many_requests(mut self, yes: bool) -> Self {
        self.too_many_requests = yes;
        self
    }

    /// Also count 408 Request Timeout as a failure. (A timeout on the client's side
    /// arrives as an error, and errors are failures already.)
    pub fn count_request_timeouts(mut self, yes: bool) -> Self {
        self.request_timeouts = yes;
        self
    }

    /// The outcome of an answer with `status`.
    pub fn classify_status(&self, status: StatusCode) -> Outcome {
        let failure = status.is_server_error()
            || (self.too_many_requests && status == StatusCode::TOO_MANY_REQUESTS)
            || (self.request_timeouts && status == StatusCode::REQUEST_TIMEOUT);
        if failure {
            Outcome::Failure
        } else {
            Outcome::Success
        }
    }

    /// The wait a 503 or 429 answer asks for in its `Retry-After` header, if any.
    pub fn retry_after_of(&self, status: StatusCode, headers: &HeaderMap) -> Option<Duration> {
        if status != StatusCode::SERVICE_UNAVAILABLE && status != StatusCode::TOO_MANY_REQUESTS {
            return None;
        }
        parse_retry_after(headers.get(RETRY_AFTER)?, SystemTime::now())
    }
}

/// A response with a status and headers: what [`HttpClassifier`] reads. Implemented
/// for `http::Response` and, with the feature `reqwest`, for `reqwest::Response`, so
/// that a `reqwest::Client` (a tower `Service`) behind the
/// [tower layer](crate::tower) is classified like any other HTTP client. Implement it
/// for a response type of your own to classify that too.
#[diagnostic::on_unimplemented(
    message = "`HttpClassifier` classifies HTTP responses, and `{Self}` is not one: it does not implement `failgate::http::HttpResponse`",
    label = "`HttpClassifier` cannot classify this result, so it cannot be the breaker's `failgate::Classify`",
    note = "`HttpResponse` is implemented for `http::Response` and, with failgate's `reqwest` feature, for `reqwest::Response`; implement it for your own response type",
    note = "or give the breaker a classifier for these results with `with_classifier`: a closure `|r: &Result<_, _>| -> failgate::Outcome` or your own `impl failgate::Classify`"
)]
pub trait HttpResponse {
    /// The response's status.
    fn status(&self) -> StatusCode;
    /// The response's headers (for `Retry-After`).
    fn headers(&self) -> &HeaderMap;
}

impl<B> HttpResponse for Response<B> {
    #[inline]
    fn status(&self) -> StatusCode {
        Response::status(self)
    }

    #[inline]
    fn headers(&self) -> &HeaderMap {
        Response::headers(self)
    }
}

#[cfg(feature = "reqwest")]
#[cfg_attr(docsrs, doc(cfg(feature = "reqwest")))]
impl HttpResponse for reqwest::Response {
    #[inline]
    fn status(&self) -> StatusCode {
        reqwest::Response::status(self)
    }

    #[inline]
    fn headers(&self) -> &HeaderMap {
        reqwest::Response::headers(self)
    }
}

impl<R: HttpResponse, E> Classify<R, E> for HttpClassifier {
    fn classify(&self, result: &Result<R, E>) -> Outcome {
        match result {
            Ok(response) => self.classify_status(response.status()),
            Err(_) => Outcome::Failure,
        }
    }

    fn retry_after(&self, result: &Result<R, E>) -> Option<Duration> {
        let response = result.as_ref().ok()?;
        self.retry_after_of(response.status(), response.headers())
    }
}

/// Parses a `Retry-After` value: delay-seconds, or an HTTP-date (taken relative to
/// `now`; a date in the past means no wait). Anything else is `None`.
pub fn parse_retry_after(value: &HeaderValue, now: SystemTime) -> Option<Duration> {
    let text = value.to_str().ok()?.trim();
    if let Ok(seconds) = text.parse::<u64>() {
        return Some(Duration::from_secs(seconds));
    }
    let date = httpdate::parse_http_date(text).ok()?;
    Some(date.duration_since(now).unwrap_or(Duration::ZERO))
}

/// The `Retry-After` value (whole seconds, rounded up, at least 1) for a server to send
/// with the 503 it answers when its breaker refuses a call. `None` when the wait is
/// unknown (forced open, or half-open with every probe slot taken): send no header, or
/// a default of your choosing.
///
/// ```
/// use failgate::{CircuitBreaker, Error};
///
/// let breaker = CircuitBreaker::builder().consecutive_failures(1).build().unwrap();
/// let _ = breaker.call(|| Err::<(), _>("down"));
/// let Err(Error::Rejected(rejected)) = breaker.call(|| Ok::<(), &str>(())) else { panic!() };
/// assert_eq!(failgate::http::retry_after_header(&rejected).unwrap(), "60");
/// ```
pub fn retry_after_header(rejected: &Rejected) -> Option<HeaderValue> {
    let wait = rejected.retry_after()?;
    let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
    Some(HeaderValue::from(seconds.max(1)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(status: u16, retry_after: Option<&str>) -> Result<Response<()>, ()> {
        let mut r = Response::builder().status(status);
        if let Some(v) = retry_after {
            r = r.header(RETRY_AFTER, v);
        }
        Ok(r.body(()).unwrap())
    }

    #[test]
    fn classes() {
        let c = HttpClassifier::new();
        for (status, outcome) in [
            (200, Outcome::Success),
            (404, Outcome::Success),
            (408, Outcome::Success),
            (429, Outcome::Success),
            (500, Outcome::Failure),
            (503, Outcome::Failure),
            (599, Outcome::Failure),
        ] {
            assert_eq!(c.classify(&response(status, None)), outcome, "{status}");
        }
        assert_eq!(
            c.classify(&Err::<Response<()>, _>("reset")),
            Outcome::Failure
        );
        let strict = c.count_too_many_requests(true).count_request_timeouts(true);
        assert_eq!(strict.classify(&response(429, None)), Outcome::Failure);
        assert_eq!(strict.classify(&response(408, None)), Outcome::Failure);
    }

    #[test]
    fn retry_after_is_read_from_503_and_429_only() {
        let c = HttpClassifier::new();
        assert_eq!(
            c.retry_after(&response(503, Some("120"))),
            Some(Duration::from_secs(120))
        );
        assert_eq!(
            c.retry_after(&response(429, Some(" 7 "))),
            Some(Duration::from_secs(7))
        );
        assert_eq!(c.retry_after(&response(500, Some("120"))), None);
        assert_eq!(c.retry_after(&response(503, Some("soon"))), None);
        assert_eq!(c.retry_after(&response(503, Some("-5"))), None);
        assert_eq!(c.retry_after(&response(503, None)), None);
    }

    #[test]
    fn http_dates_are_relative_to_now() {
        let now = SystemTime::UNIX_EPOCH + Duration::from_secs(1_445_412_480);
        let in_a_minute = HeaderValue::from_static("Wed, 21 Oct 2015 07:29:00 GMT");
        assert_eq!(
            parse_retry_after(&in_a_minute, now),
            Some(Duration::from_secs(60))
        );
        let past = HeaderValue::from_static("Wed, 21 Oct 2015 07:00:00 GMT");
        assert_eq!(parse_retry_after(&past, now), Some(Duration::ZERO));
    }

    #[test]
    fn retry_after_header_rounds_up() {
        let r = |nanos: Option<u64>| Rejected::from_nanos(crate::State::Open, nanos);
        assert_eq!(retry_after_header(&r(Some(1_500_000_000))).unwrap(), "2");
        assert_eq!(retry_after_header(&r(Some(0))).unwrap(), "1");
        assert_eq!(retry_after_header(&r(Some(3_000_000_000))).unwrap(), "3");
        assert_eq!(retry_after_header(&r(None)), None);
    }
}
