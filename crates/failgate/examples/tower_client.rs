//! An HTTP client behind a circuit breaker, as a tower stack: hyper-util's legacy client
//! wrapped in `CircuitBreakerLayer` with an `HttpClassifier` (5xx and transport errors
//! are failures). It calls a tiny flaky server started here on 127.0.0.1:0 and prints
//! the story: the upstream fails, the breaker opens and refuses calls without sending
//! them, the upstream recovers, a probe closes the breaker.
//!
//! ```text
//! cargo run -p failgate --example tower_client --all-features
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use axum::http::StatusCode;
use axum::routing::get;
use bytes::Bytes;
use failgate::http::HttpClassifier;
use failgate::tower::CircuitBreakerLayer;
use failgate::{CircuitBreaker, State};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{Service, ServiceBuilder, ServiceExt as _};

/// The upstream: answers 200 while healthy, 500 otherwise, and counts requests.
#[derive(Default)]
struct Upstream {
    healthy: AtomicBool,
    requests: AtomicU64,
}

async fn start_upstream(upstream: Arc<Upstream>) -> std::io::Result<std::net::SocketAddr> {
    let app = axum::Router::new().route(
        "/",
        get(move || async move {
            upstream.requests.fetch_add(1, Ordering::Relaxed);
            if upstream.healthy.load(Ordering::Relaxed) {
                (StatusCode::OK, "fine")
            } else {
                (StatusCode::INTERNAL_SERVER_ERROR, "on fire")
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, app).await });
    Ok(addr)
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    let upstream = Arc::new(Upstream::default());
    upstream.healthy.store(true, Ordering::Relaxed);
    let addr = start_upstream(Arc::clone(&upstream)).await?;
    let uri: http::Uri = format!("http://{addr}/").parse()?;

    let breaker = CircuitBreaker::builder()
        .name("upstream")
        .consecutive_failures(3)
        .open_for(Duration::from_millis(500))
        .build()?;
    // The whole integration: one layer, with the HTTP classifier.
    let mut client = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(breaker.clone()).with_classifier(HttpClassifier::new()))
        .service(Client::builder(TokioExecutor::new()).build_http::<Empty<Bytes>>());

    let mut call = async |n: u32| -> Result<(), BoxError> {
        let request = http::Request::get(uri.clone()).body(Empty::new())?;
        let line = match client.ready().await?.call(request).await {
            // A 5xx is a response like any other: the layer counted it as a failure.
            Ok(response) => {
                let status = response.status();
                let body = response.into_body().collect().await?.to_bytes();
                format!("{status} {:?}", String::from_utf8_lossy(&body))
            }
            // The layer's errors are `tower::BoxError`: a refusal is a boxed `Rejected`.
            Err(error) => match failgate::rejection(&*error) {
                Some(rejected) => format!("refused, not sent ({rejected})"),
                None => format!("transport error: {error}"),
            },
        };
        println!("call {n}: {line:<56} breaker: {}", breaker.state());
        Ok(())
    };

    println!("upstream at http://{addr}/ is healthy");
    for n in 1..=2 {
        call(n).await?;
    }
    println!("upstream goes down");
    upstream.healthy.store(false, Ordering::Relaxed);
    for n in 3..=7 {
        call(n).await?;
    }
    let sent = upstream.requests.load(Ordering::Relaxed);
    println!("the upstream saw {sent} requests: the refused calls never left the client");

    println!("upstream recovers; waiting out the open state (500ms)");
    upstream.healthy.store(true, Ordering::Relaxed);
    tokio::time::sleep(Duration::from_millis(500)).await;
    for n in 8..=9 {
        call(n).await?;
    }
    assert_eq!(breaker.state(), State::Closed);
    println!(
        "done: breaker {:?} is {}, the upstream saw {} requests in all",
        breaker.name(),
        breaker.state(),
        upstream.requests.load(Ordering::Relaxed),
    );
    Ok(())
}
