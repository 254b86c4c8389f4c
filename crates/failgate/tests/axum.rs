//! axum (feature `axum`): a `Rejected` is a 503 with `Retry-After`, a breaker's `Error`
//! is that or the inner error's own response, and the tower layer's `on_rejected` hook
//! answers a refusal inside a `Router`.
#![cfg(feature = "axum")]

use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use failgate::{CircuitBreaker, Error, ManualClock};
use http_body_util::BodyExt;
use std::time::Duration;
use tower::ServiceExt;

fn breaker(open_for: Duration) -> CircuitBreaker {
    CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(open_for)
        .clock(ManualClock::new())
        .build()
        .unwrap()
}

async fn get_path(app: Router, path: &str) -> (StatusCode, Option<String>, String) {
    let request = Request::get(path).body(Body::empty()).unwrap();
    let response = app.oneshot(request).await.unwrap();
    let status = response.status();
    let retry_after = response
        .headers()
        .get("retry-after")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        retry_after,
        String::from_utf8(body.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn rejected_is_a_503_with_retry_after_in_whole_seconds_rounded_up() {
    let b = breaker(Duration::from_millis(2_500));
    let _ = b.call(|| Err::<(), _>("down"));
    let app = Router::new().route(
        "/",
        get(move || async move { b.try_acquire().map(|_permit| "ok") }),
    );
    let (status, retry_after, body) = get_path(app, "/").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(retry_after.as_deref(), Some("3"));
    assert_eq!(body, "circuit open, retry after 2.500s");
}

#[tokio::test]
async fn rejected_without_a_known_wait_has_no_retry_after() {
    let b = breaker(Duration::from_secs(1));
    b.force_open();
    let app = Router::new().route(
        "/",
        get(move || async move { b.try_acquire().map(|_permit| "ok") }),
    );
    let (status, retry_after, body) = get_path(app, "/").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(retry_after, None);
    assert_eq!(body, "circuit forced open");
}

#[tokio::test]
async fn breaker_error_is_the_inner_response_or_the_rejection() {
    let b = breaker(Duration::from_secs(4));
    let app = Router::new().route(
        "/",
        get(move || async move {
            b.call(|| Err::<&str, _>((StatusCode::BAD_GATEWAY, "upstream down")))
        }),
    );
    let (status, retry_after, body) = get_path(app.clone(), "/").await;
    assert_eq!(
        (status, retry_after, body.as_str()),
        (StatusCode::BAD_GATEWAY, None, "upstream down")
    );
    let (status, retry_after, _) = get_path(app, "/").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(retry_after.as_deref(), Some("4"));
    let _: fn(Error<StatusCode>) -> Response = IntoResponse::into_response;
}

#[cfg(feature = "tower")]
#[tokio::test]
async fn on_rejected_serves_the_rejection_response_inside_a_router() {
    use failgate::tower::CircuitBreakerLayer;
    use failgate::{Rejected, State};
    let b = breaker(Duration::from_secs(7));
    let classify = |r: &Result<Response, std::convert::Infallible>| match r {
        Ok(response) if response.status().is_server_error() => failgate::Outcome::Failure,
        _ => failgate::Outcome::Success,
    };
    // No HandleErrorLayer: with the hook the layer's error is the route's (Infallible).
    let app = Router::new()
        .route(
            "/",
            get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "boom") }),
        )
        .layer(
            CircuitBreakerLayer::new(b.clone())
                .with_classifier(classify)
                .on_rejected(|r: &Rejected| r.into_response()),
        );
    let (status, _, body) = get_path(app.clone(), "/").await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "boom")
    );
    assert_eq!(b.state(), State::Open);
    let (status, retry_after, body) = get_path(app, "/").await;
    assert_eq!(status, StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(retry_after.as_deref(), Some("7"));
    assert_eq!(body, "circuit open, retry after 7.000s");
}
