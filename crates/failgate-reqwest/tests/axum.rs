//! In an axum server, a breaker's refusal becomes `503 Service Unavailable` with a
//! `Retry-After` header, over real HTTP (the README's "In an axum server"): a handler
//! that calls the flaky service through a breaker, and a route layered with
//! `CircuitBreakerLayer` and its `on_rejected` hook. Time is a `ManualClock`.

mod common;

use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::header::RETRY_AFTER;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use common::service::{self, Server};
use failgate::http::{retry_after_header, HttpClassifier};
use failgate::tower::CircuitBreakerLayer;
use failgate::{CircuitBreaker, ManualClock, Rejected, State as BreakerState};
use tokio::net::TcpListener;

/// What the handler's dependency call can fail with.
#[derive(Debug)]
enum Upstream {
    Status(reqwest::StatusCode),
    Transport(reqwest::Error),
}

impl std::fmt::Display for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Upstream::Status(status) => write!(f, "upstream answered {status}"),
            Upstream::Transport(e) => write!(f, "upstream unreachable: {e}"),
        }
    }
}

/// The README's mapping: a refusal is a 503 with `Retry-After`; a failed call a 502.
struct ApiError(failgate::Error<Upstream>);

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        match self.0 {
            failgate::Error::Rejected(r) => (
                StatusCode::SERVICE_UNAVAILABLE,
                retry_after_header(&r).map(|value| [(RETRY_AFTER, value)]),
                r.to_string(),
            )
                .into_response(),
            failgate::Error::Inner(e) => (StatusCode::BAD_GATEWAY, e.to_string()).into_response(),
        }
    }
}

#[derive(Clone)]
struct App {
    breaker: CircuitBreaker,
    client: reqwest::Client,
    upstream: String,
}

/// `GET /proxy/{endpoint}`: calls the flaky service's endpoint through the breaker.
async fn proxy(State(app): State<App>, Path(endpoint): Path<String>) -> Result<String, ApiError> {
    let url = format!("{}/{endpoint}", app.upstream);
    app.breaker
        .call_async(|| async {
            let response = app
                .client
                .get(&url)
                .send()
                .await
                .map_err(Upstream::Transport)?;
            match response.status() {
                status if status.is_server_error() => Err(Upstream::Status(status)),
                status => Ok(format!("upstream said {status}")),
            }
        })
        .await
        .map_err(ApiError)
}

async fn serve(router: Router) -> SocketAddr {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, router).await });
    addr
}

fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .unwrap()
}

/// GETs `url`: the status and the `Retry-After` header, if any.
async fn fetch(client: &reqwest::Client, url: &str) -> (u16, Option<String>) {
    let response = client.get(url).send().await.unwrap();
    let retry_after = response
        .headers()
        .get(RETRY_AFTER)
        .map(|v| v.to_str().unwrap().to_owned());
    (response.status().as_u16(), retry_after)
}

#[tokio::test]
async fn a_handler_answers_503_with_retry_after_while_its_dependency_is_refused() {
    let flaky = Server::spawn(service::Config::ephemeral()).await.unwrap();
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .name("flaky")
        .consecutive_failures(2)
        .open_for(Duration::from_millis(29_500)) // rounded up: Retry-After: 30
        .clock(clock.clone())
        .build()
        .unwrap();
    let app = App {
        breaker: breaker.clone(),
        client: client(),
        upstream: flaky.url(),
    };
    let addr = serve(
        Router::new()
            .route("/proxy/{endpoint}", get(proxy))
            .with_state(app),
    )
    .await;
    let client = client();
    let proxy = |endpoint: &str| format!("http://{addr}/proxy/{endpoint}");

    assert_eq!(fetch(&client, &proxy("success")).await, (200, None));
    assert_eq!(fetch(&client, &proxy("failure")).await, (502, None));
    assert_eq!(fetch(&client, &proxy("failure")).await, (502, None));
    assert_eq!(breaker.state(), BreakerState::Open);

    // Open: 503 at once, with the wait in whole seconds (rounded up), and the flaky
    // service is not called.
    assert_eq!(
        fetch(&client, &proxy("success")).await,
        (503, Some("30".into()))
    );
    clock.advance(Duration::from_secs(20));
    assert_eq!(
        fetch(&client, &proxy("success")).await,
        (503, Some("10".into()))
    );
    let stats = flaky.stats().snapshot();
    assert_eq!((stats.success, stats.failure), (1, 2), "{stats:?}");

    // After the wait, the probe goes through and the handler answers again.
    clock.advance(Duration::from_secs(10));
    assert_eq!(fetch(&client, &proxy("success")).await, (200, None));
    assert_eq!(breaker.state(), BreakerState::Closed);
    assert_eq!(flaky.stats().snapshot().success, 2);
    flaky.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_route_behind_the_layer_sheds_its_load_with_503s() {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .name("report")
        .consecutive_failures(2)
        .open_for(Duration::from_secs(10))
        .clock(clock.clone())
        .build()
        .unwrap();
    let calls = Arc::new(AtomicU64::new(0));
    let handler = {
        let calls = Arc::clone(&calls);
        move || async move {
            calls.fetch_add(1, Ordering::Relaxed);
            (StatusCode::INTERNAL_SERVER_ERROR, "crashed")
        }
    };
    // A refusal is answered by the hook: no error, so no `HandleErrorLayer`.
    let shed = |r: &Rejected| {
        (
            StatusCode::SERVICE_UNAVAILABLE,
            retry_after_header(r).map(|value| [(RETRY_AFTER, value)]),
            r.to_string(),
        )
            .into_response()
    };
    let router = Router::new().route(
        "/report",
        get(handler).layer(
            CircuitBreakerLayer::new(breaker.clone())
                .with_classifier(HttpClassifier::new())
                .on_rejected(shed),
        ),
    );
    let addr = serve(router).await;
    let client = client();
    let url = format!("http://{addr}/report");

    assert_eq!(fetch(&client, &url).await, (500, None));
    assert_eq!(fetch(&client, &url).await, (500, None));
    assert_eq!(breaker.state(), BreakerState::Open);
    for _ in 0..3 {
        assert_eq!(fetch(&client, &url).await, (503, Some("10".into())));
    }
    assert_eq!(calls.load(Ordering::Relaxed), 2, "shed requests never ran");

    clock.advance(Duration::from_secs(10));
    assert_eq!(fetch(&client, &url).await, (500, None), "the probe ran");
    assert_eq!(calls.load(Ordering::Relaxed), 3);
    assert_eq!(breaker.state(), BreakerState::Open, "and failed again");
}
