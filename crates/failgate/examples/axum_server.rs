//! An axum server that calls a dependency through a circuit breaker and, while the
//! breaker is open, answers `503 Service Unavailable` with a `Retry-After` header at
//! once instead of waiting on a dependency that is down.
//!
//! Two ways are shown:
//! - `GET /quote`: the handler calls the dependency through a breaker (here a tower
//!   client behind `CircuitBreakerLayer`) and answers a refusal with the `Rejected`
//!   itself: with the `axum` feature it is a response, 503 with `Retry-After`;
//! - `GET /report`: the route itself is layered with `CircuitBreakerLayer` and its
//!   `on_rejected` hook, so a handler that keeps answering 5xx is shed with 503s
//!   (no `HandleErrorLayer`: with the hook, a refusal is a response, not an error).
//!
//! The example starts a failing dependency and the server on 127.0.0.1:0, calls the
//! server a few times, prints what came back, and exits.
//!
//! ```text
//! cargo run -p failgate --example axum_server --all-features
//! ```

use std::time::Duration;

use axum::extract::State;
use axum::http::header::RETRY_AFTER;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;
use bytes::Bytes;
use failgate::http::HttpClassifier;
use failgate::tower::{CircuitBreakerLayer, CircuitBreakerService};
use failgate::{CircuitBreaker, Rejected};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{ServiceBuilder, ServiceExt as _};

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// The client the handler calls the dependency with: the breaker in front.
type Dependency =
    CircuitBreakerService<Client<HttpConnector, Empty<Bytes>>, CircuitBreaker<HttpClassifier>>;

#[derive(Clone)]
struct App {
    dependency: Dependency,
    dependency_uri: http::Uri,
}

/// `GET /quote`: calls the dependency through the breaker.
async fn quote(State(app): State<App>) -> Response {
    let request = match http::Request::get(app.dependency_uri.clone()).body(Empty::new()) {
        Ok(request) => request,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, e.to_string()).into_response(),
    };
    match app.dependency.oneshot(request).await {
        Ok(response) if response.status().is_success() => {
            let body = response.into_body().collect().await.map(|b| b.to_bytes());
            (StatusCode::OK, body.unwrap_or_default()).into_response()
        }
        // The dependency answered 5xx (the breaker counted it): a bad gateway.
        Ok(response) => (
            StatusCode::BAD_GATEWAY,
            format!("dependency answered {}\n", response.status()),
        )
            .into_response(),
        // A refusal: 503 with `Retry-After` (whole seconds, rounded up; no header when
        // the wait is unknown, e.g. forced open).
        Err(error) => match failgate::rejection(&*error) {
            Some(rejected) => rejected.into_response(),
            None => (StatusCode::BAD_GATEWAY, format!("dependency: {error}\n")).into_response(),
        },
    }
}

/// `GET /report`: a handler that fails; the breaker around the route sheds its load.
async fn report() -> (StatusCode, &'static str) {
    (
        StatusCode::INTERNAL_SERVER_ERROR,
        "report generator crashed\n",
    )
}

async fn serve(router: Router) -> std::io::Result<std::net::SocketAddr> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    tokio::spawn(async move { axum::serve(listener, router).await });
    Ok(addr)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), BoxError> {
    // A dependency that is down.
    let dependency_addr = serve(Router::new().route(
        "/",
        get(|| async { (StatusCode::INTERNAL_SERVER_ERROR, "down") }),
    ))
    .await?;

    let client = Client::builder(TokioExecutor::new()).build_http();
    let dependency_breaker = CircuitBreaker::builder()
        .name("quotes")
        .consecutive_failures(2)
        .open_for(Duration::from_secs(30))
        .build()?;
    let app = App {
        dependency: ServiceBuilder::new()
            .layer(
                CircuitBreakerLayer::new(dependency_breaker).with_classifier(HttpClassifier::new()),
            )
            .service(client.clone()),
        dependency_uri: format!("http://{dependency_addr}/").parse()?,
    };

    let report_breaker = CircuitBreaker::builder()
        .name("report")
        .consecutive_failures(2)
        .open_for(Duration::from_secs(10))
        .build()?;
    let router = Router::new()
        .route("/quote", get(quote))
        .route(
            "/report",
            get(report).layer(
                CircuitBreakerLayer::new(report_breaker)
                    .with_classifier(HttpClassifier::new())
                    .on_rejected(|rejected: &Rejected| rejected.into_response()),
            ),
        )
        .with_state(app);
    let addr = serve(router).await?;
    println!("serving on http://{addr}/ (dependency at http://{dependency_addr}/)");

    for path in ["/quote", "/report"] {
        for n in 1..=3 {
            let uri: http::Uri = format!("http://{addr}{path}").parse()?;
            let response = client.get(uri).await?;
            let status = response.status();
            let retry_after = response
                .headers()
                .get(RETRY_AFTER)
                .map(|v| format!(" Retry-After: {}", v.to_str().unwrap_or("?")))
                .unwrap_or_default();
            let body = response.into_body().collect().await?.to_bytes();
            println!(
                "GET {path} #{n}: {status}{retry_after}  {}",
                String::from_utf8_lossy(&body).trim_end()
            );
        }
    }
    Ok(())
}
