//! gRPC outcome classes (feature `grpc`), for tonic clients.
//!
//! [`GrpcClassifier`] decides the [`Outcome`] of a gRPC call from its status code, the
//! way [`HttpClassifier`](crate::http::HttpClassifier) does from an HTTP status: the
//! codes that say the server or the network is in trouble (`UNAVAILABLE`,
//! `DEADLINE_EXCEEDED`, `RESOURCE_EXHAUSTED`, `INTERNAL`, `UNKNOWN`, `DATA_LOSS`) are
//! failures; every other code, `OK` included, is the caller's business (a `NOT_FOUND`,
//! an `INVALID_ARGUMENT`) and counts as a success. Each code can be made a failure, a
//! success, or ignored ([`failure`](GrpcClassifier::failure),
//! [`success`](GrpcClassifier::success), [`ignore`](GrpcClassifier::ignore)).
//!
//! It classifies two kinds of results:
//! - **What a tonic client returns**, `Result<tonic::Response<M>, tonic::Status>`, in
//!   [`call_async`](crate::CircuitBreaker::call_async) (and `call`): `Err(status)` by
//!   `status.code()`, `Ok` as a success.
//! - **The response head, in the [tower layer](crate::tower)**: a tonic `Channel` (or any
//!   service answering `http::Response`s) behind
//!   [`CircuitBreakerLayer`](crate::tower::CircuitBreakerLayer). A response with
//!   `grpc-status` in its headers (a *trailers-only* response, the form a server
//!   answers an error in when it sends no message) is classified by that code; a
//!   response whose HTTP status is not 200 and has no `grpc-status` (a proxy's 503, say)
//!   by the code gRPC maps that HTTP status to (429, 502, 503 and 504 are
//!   `UNAVAILABLE`); a transport error (`Err`) is a failure.
//!
//! # A status in the trailers is not seen by the tower layer
//! The layer classifies the response when its head arrives, before the body is
//! streamed. A server that has sent a message and then fails puts its `grpc-status` in
//! the trailers, after the body: the layer sees a 200 without `grpc-status` and counts
//! a success. Tonic's own servers answer a unary error trailers-only, so for unary calls
//! the layer sees what matters; for streaming calls (or servers that always send a
//! body), put the breaker around the client call instead, with
//! [`call_async`](crate::CircuitBreaker::call_async): tonic has read the trailers by
//! the time it returns a `Status`.
//!
//! # `grpc-retry-pushback-ms`
//! With [`Builder::honor_retry_after`](crate::Builder::honor_retry_after), a non-`OK`
//! answer carrying `grpc-retry-pushback-ms` (in the trailers-only headers, or in a
//! `Status`'s metadata) keeps the breaker open at least that many milliseconds, up to
//! [`Builder::max_retry_after`](crate::Builder::max_retry_after), as an HTTP
//! `Retry-After` does. A value that is not a whole number of milliseconds is ignored.
//! gRPC's retry design (A6) reads a negative value as "do not retry this call": that
//! is a retry policy's decision about one call and says nothing of how long the
//! server wants to be left alone, so the breaker takes no wait from it either (its
//! backoff decides).
//!
//! ```
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! use failgate::grpc::GrpcClassifier;
//! use failgate::{CircuitBreaker, ManualClock, State};
//! use std::time::Duration;
//! use tonic::{Code, Status};
//!
//! let breaker = CircuitBreaker::builder()
//!     .consecutive_failures(2)
//!     .open_for(Duration::from_secs(1))
//!     .honor_retry_after(true)
//!     .clock(ManualClock::new())
//!     .with_classifier(GrpcClassifier::new().ignore(Code::Cancelled))
//!     .build()
//!     .unwrap();
//! // A call as tonic's generated clients make it: `Result<tonic::Response<M>, Status>`.
//! let call = |answer: Result<&'static str, Status>| async move {
//!     answer.map(tonic::Response::new)
//! };
//!
//! let _ = breaker.call_async(|| call(Err(Status::not_found("no such user")))).await;
//! let _ = breaker.call_async(|| call(Err(Status::cancelled("gave up")))).await;
//! assert_eq!(breaker.snapshot().consecutive_failures, 0); // neither is an outage
//!
//! let mut busy = Status::unavailable("overloaded");
//! busy.metadata_mut().insert("grpc-retry-pushback-ms", "30000".parse().unwrap());
//! let _ = breaker.call_async(|| call(Err(Status::unavailable("down")))).await;
//! let _ = breaker.call_async(|| call(Err(busy))).await;
//! assert_eq!(breaker.state(), State::Open);
//! // Open for the server's 30 s pushback, not the 1 s backoff.
//! let rejected = breaker.try_acquire().unwrap_err();
//! assert_eq!(rejected.retry_after(), Some(Duration::from_secs(30)));
//! # }
//! ```

use crate::{Classify, Outcome};
use http::{HeaderMap, HeaderName, HeaderValue, Response, StatusCode};
use std::time::Duration;
use tonic::{Code, Status};

/// The header (or trailer, or `Status` metadata key) a gRPC server says its status
/// code in.
pub const GRPC_STATUS: HeaderName = HeaderName::from_static("grpc-status");

/// The header (or trailer, or `Status` metadata key) a gRPC server asks a client to
/// wait in, in milliseconds, before calling again (gRPC's retry design, A6).
pub const GRPC_RETRY_PUSHBACK_MS: HeaderName = HeaderName::from_static("grpc-retry-pushback-ms");

/// The codes that count as failures by default.
pub const DEFAULT_FAILURE_CODES: [Code; 6] = [
    Code::Unavailable,
    Code::DeadlineExceeded,
    Code::ResourceExhausted,
    Code::Internal,
    Code::Unknown,
    Code::DataLoss,
];

/// Classifies gRPC calls by status code: `UNAVAILABLE`, `DEADLINE_EXCEEDED`,
/// `RESOURCE_EXHAUSTED`, `INTERNAL`, `UNKNOWN` and `DATA_LOSS` are failures (and
/// transport errors, at the tower level); everything else succeeds. See the
/// [module docs](self) for what it reads where.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GrpcClassifier {
    /// One bit per code (`1 << code`): a failure.
    failures: u32,
    /// One bit per code: ignored (neither a success nor a failure).
    ignored: u32,
}

const fn bit(code: Code) -> u32 {
    // Codes are 0..=16.
    1 << (code as u32)
}

impl Default for GrpcClassifier {
    fn default() -> Self {
        let mut failures = 0;
        let mut i = 0;
        while i < DEFAULT_FAILURE_CODES.len() {
            failures |= bit(DEFAULT_FAILURE_CODES[i]);
            i += 1;
        }
        GrpcClassifier {
            failures,
            ignored: 0,
        }
    }
}

impl GrpcClassifier {
    /// The [`DEFAULT_FAILURE_CODES`] are failures; every other code succeeds.
    pub fn new() -> Self {
        Self::default()
    }

    /// Counts `code` as a failure.
    pub fn failure(mut self, code: Code) -> Self {
        self.failures |= bit(code);
        self.ignored &= !bit(code);
        self
    }

    /// Counts `code` as a success (`OK` and the codes not in
    /// [`DEFAULT_FAILURE_CODES`] are, unless changed).
    pub fn success(mut self, code: Code) -> Self {
        self.failures &= !bit(code);
        self.ignored &= !bit(code);
        self
    }

    /// Counts nothing for `code` ([`Outcome::Ignore`]): say, `CANCELLED` when the
    /// caller cancels its own calls, which says nothing of the server.
    pub fn ignore(mut self, code: Code) -> Self {
        self.failures &= !bit(code);
        self.ignored |= bit(code);
        self
    }

    /// The outcome of an answer with `code`.
    #[inline]
    pub fn classify_code(&self, code: Code) -> Outcome {
        if self.failures & bit(code) != 0 {
            Outcome::Failure
        } else if self.ignored & bit(code) != 0 {
            Outcome::Ignore
        } else {
            Outcome::Success
        }
    }

    /// The outcome of a call that ended with `status` (by its code).
    #[inline]
    pub fn classify_status(&self, status: &Status) -> Outcome {
        self.classify_code(status.code())
    }

    /// The wait a non-`OK` `status` asks for in its `grpc-retry-pushback-ms`
    /// metadata, if any.
    pub fn retry_after_of_status(&self, status: &Status) -> Option<Duration> {
        if status.code() == Code::Ok {
            return None;
        }
        let value = status.metadata().get(GRPC_RETRY_PUSHBACK_MS.as_str())?;
        parse_pushback(value.to_str().ok()?.as_bytes())
    }

    /// The wait a response head with a non-`OK` `grpc-status` asks for in its
    /// `grpc-retry-pushback-ms` header, if any.
    pub fn retry_after_of(&self, headers: &HeaderMap) -> Option<Duration> {
        match code_of_head(StatusCode::OK, headers) {
            Some(code) if code != Code::Ok => {}
            _ => return None,
        }
        parse_pushback(headers.get(GRPC_RETRY_PUSHBACK_MS)?.as_bytes())
    }
}

/// The gRPC code a response head says: its `grpc-status` header (a trailers-only
/// response; a value that is not a code is `UNKNOWN`, as tonic reads it), or, without
/// one, the code gRPC maps a non-200 HTTP `status` to (400 is `INTERNAL`, 401
/// `UNAUTHENTICATED`, 403 `PERMISSION_DENIED`, 404 `UNIMPLEMENTED`; 429, 502, 503 and
/// 504 `UNAVAILABLE`; any other `UNKNOWN`). `None` for a 200 without `grpc-status`:
/// the code comes in the trailers, after the body.
pub fn code_of_head(status: StatusCode, headers: &HeaderMap) -> Option<Code> {
    if let Some(value) = headers.get(GRPC_STATUS) {
        return Some(Code::from_bytes(value.as_bytes()));
    }
    let code = match status {
        StatusCode::OK => return None,
        StatusCode::BAD_REQUEST => Code::Internal,
        StatusCode::UNAUTHORIZED => Code::Unauthenticated,
        StatusCode::FORBIDDEN => Code::PermissionDenied,
        StatusCode::NOT_FOUND => Code::Unimplemented,
        StatusCode::TOO_MANY_REQUESTS
        | StatusCode::BAD_GATEWAY
        | StatusCode::SERVICE_UNAVAILABLE
        | StatusCode::GATEWAY_TIMEOUT => Code::Unavailable,
        _ => Code::Unknown,
    };
    Some(code)
}

/// Parses a `grpc-retry-pushback-ms` value: a whole, non-negative number of
/// milliseconds. Anything else (a negative number, which gRPC reads as "do not retry
/// this call", or text) is `None`: no wait.
pub fn parse_retry_pushback(value: &HeaderValue) -> Option<Duration> {
    parse_pushback(value.as_bytes())
}

fn parse_pushback(bytes: &[u8]) -> Option<Duration> {
    let text = std::str::from_utf8(bytes).ok()?.trim();
    text.parse::<u64>().ok().map(Duration::from_millis)
}

/// What tonic's generated clients return: `Err(status)` by its code, `Ok` a success.
impl<M> Classify<tonic::Response<M>, Status> for GrpcClassifier {
    #[inline]
    fn classify(&self, result: &Result<tonic::Response<M>, Status>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(status) => self.classify_status(status),
        }
    }

    fn retry_after(&self, result: &Result<tonic::Response<M>, Status>) -> Option<Duration> {
        self.retry_after_of_status(result.as_ref().err()?)
    }
}

/// The tower level: a response by the code its head says (see [`code_of_head`]; a 200
/// without `grpc-status` is a success), a transport error a failure.
impl<B, E> Classify<Response<B>, E> for GrpcClassifier {
    #[inline]
    fn classify(&self, result: &Result<Response<B>, E>) -> Outcome {
        match result {
            Ok(response) => match code_of_head(response.status(), response.headers()) {
                Some(code) => self.classify_code(code),
                None => Outcome::Success,
            },
            Err(_) => Outcome::Failure,
        }
    }

    fn retry_after(&self, result: &Result<Response<B>, E>) -> Option<Duration> {
        self.retry_after_of(result.as_ref().ok()?.headers())
    }
}

#[cfg(test)]
mod tests;
