//! Which classifier decides a response's outcome: the breaker's own, when it has one.

use axum::http::{header::RETRY_AFTER, StatusCode};
use axum::routing::get;
use failgate::http::HttpClassifier;
use failgate::{CircuitBreaker, Classify, ManualClock, Outcome, State};
use failgate_reqwest::CircuitBreakerMiddleware;
use reqwest_middleware::ClientBuilder;
use std::time::Duration;

/// `/missing` answers 404, `/down` 503 with `Retry-After: 45`, on a free loopback port.
async fn server() -> String {
    let app = axum::Router::new()
        .route("/missing", get(|| async { StatusCode::NOT_FOUND }))
        .route(
            "/down",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, [(RETRY_AFTER, "45")]) }),
        );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{addr}")
}

type Answer = Result<reqwest::Response, reqwest_middleware::Error>;

/// A classifier of this service's own: a 404 means the dependency lost its data.
#[derive(Debug, Clone)]
struct MissingIsAnOutage;

impl Classify<reqwest::Response, reqwest_middleware::Error> for MissingIsAnOutage {
    fn classify(&self, result: &Answer) -> Outcome {
        match result {
            Ok(r) if r.status() == StatusCode::NOT_FOUND => Outcome::Failure,
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure,
        }
    }

    fn retry_after(&self, result: &Answer) -> Option<Duration> {
        result.as_ref().ok().map(|_| Duration::from_secs(600))
    }
}

fn breaker(clock: &ManualClock) -> failgate::Builder {
    CircuitBreaker::builder()
        .consecutive_failures(2)
        .open_for(Duration::from_secs(1))
        .honor_retry_after(true)
        .clock(clock.clone())
}

async fn get_twice(middleware: impl reqwest_middleware::Middleware, url: &str) {
    let client = ClientBuilder::new(reqwest::Client::builder().no_proxy().build().unwrap())
        .with(middleware)
        .build();
    for _ in 0..2 {
        let _ = client.get(url).send().await;
    }
}

#[tokio::test]
async fn the_middleware_classifies_with_the_breakers_own_classifier() {
    let base = server().await;
    let clock = ManualClock::new();

    // A custom classifier: two 404s trip it, and its "retry after" is asked for.
    let custom = breaker(&clock)
        .with_classifier(MissingIsAnOutage)
        .build()
        .unwrap();
    get_twice(
        CircuitBreakerMiddleware::new(custom.clone()),
        &format!("{base}/missing"),
    )
    .await;
    assert_eq!(
        custom.state(),
        State::Open,
        "the breaker's classifier counts 404s"
    );
    let wait = custom.try_acquire().unwrap_err().retry_after();
    assert_eq!(wait, Some(Duration::from_secs(600)));

    // A closure works the same way.
    let closure = breaker(&clock)
        .with_classifier(|r: &Answer| match r {
            Ok(r) if r.status().is_client_error() => Outcome::Failure,
            _ => Outcome::Success,
        })
        .build()
        .unwrap();
    get_twice(
        CircuitBreakerMiddleware::new(closure.clone()),
        &format!("{base}/missing"),
    )
    .await;
    assert_eq!(closure.state(), State::Open);

    // A breaker without a classifier of its own gets the HTTP rule: 404 is fine, 503
    // fails and its Retry-After is read.
    let plain = breaker(&clock).build().unwrap();
    get_twice(
        CircuitBreakerMiddleware::new(plain.clone()),
        &format!("{base}/missing"),
    )
    .await;
    assert_eq!(
        plain.state(),
        State::Closed,
        "a 404 is the caller's business"
    );
    get_twice(
        CircuitBreakerMiddleware::new(plain.clone()),
        &format!("{base}/down"),
    )
    .await;
    assert_eq!(plain.state(), State::Open);
    let wait = plain.try_acquire().unwrap_err().retry_after();
    assert_eq!(wait, Some(Duration::from_secs(45)));

    // The middleware's own `with_classifier` wins over the breaker's.
    let overridden = breaker(&clock)
        .with_classifier(MissingIsAnOutage)
        .build()
        .unwrap();
    let middleware =
        CircuitBreakerMiddleware::new(overridden.clone()).with_classifier(HttpClassifier::new());
    get_twice(middleware, &format!("{base}/missing")).await;
    assert_eq!(overridden.state(), State::Closed);
}
