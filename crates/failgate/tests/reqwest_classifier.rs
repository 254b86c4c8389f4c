//! `HttpClassifier` on reqwest's responses (feature `reqwest`): a `reqwest::Client`,
//! itself a tower `Service`, behind the tower layer.
#![cfg(all(feature = "reqwest", feature = "tower"))]

use axum::http::{header::RETRY_AFTER, StatusCode};
use axum::routing::get;
use failgate::http::HttpClassifier;
use failgate::tower::CircuitBreakerLayer;
use failgate::{CircuitBreaker, ManualClock, State};
use std::time::Duration;
use tower::{Service, ServiceBuilder, ServiceExt};

/// A server on a free loopback port that answers every request 503 with
/// `Retry-After: 120`.
async fn unavailable() -> String {
    let app = axum::Router::new().route(
        "/",
        get(|| async {
            (
                StatusCode::SERVICE_UNAVAILABLE,
                [(RETRY_AFTER, "120")],
                "down",
            )
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}/")
}

#[tokio::test]
async fn a_reqwest_client_behind_the_layer_trips_on_503_and_reports_its_retry_after() {
    let url = unavailable().await;
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(Duration::from_secs(1))
        .honor_retry_after(true)
        .clock(clock)
        .build()
        .unwrap();
    let client = reqwest::Client::new();
    let mut svc = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(breaker.clone()).with_classifier(HttpClassifier::new()))
        .service(client.clone());

    let request = || client.get(&url).build().unwrap();
    let first = svc.ready().await.unwrap().call(request()).await;
    assert_eq!(first.unwrap().status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(breaker.state(), State::Open, "a 503 is a failure");

    // Refused without a request (the layer's error type is not what this test is
    // about: the breaker itself says how long to wait).
    let second = svc.ready().await.unwrap().call(request()).await;
    assert!(second.is_err(), "an open breaker refuses: {second:?}");
    let rejected = breaker.try_acquire().unwrap_err();
    // The server's Retry-After, not the 1 s backoff.
    assert_eq!(rejected.retry_after(), Some(Duration::from_secs(120)));
}
