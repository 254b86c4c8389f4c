//! The flaky service over real HTTP on 127.0.0.1:0, and its router in paused time.

mod common;

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use failgate_demo::service::{self, Answer, Endpoint, ErrorBody, Ratio, Stats, StatsSnapshot};
use serde_json::json;
use tower::ServiceExt as _;

fn url(server: &service::Server, path: &str) -> String {
    format!("{}{path}", server.url())
}

async fn get_json(client: &reqwest::Client, url: &str) -> (StatusCode, serde_json::Value) {
    let response = client
        .get(url)
        .send()
        .await
        .expect("the request is answered");
    let status = StatusCode::from_u16(response.status().as_u16()).expect("a valid status");
    let body = response.json().await.expect("the body is JSON");
    (status, body)
}

#[tokio::test]
async fn endpoints_answer_their_status_with_a_json_body() {
    let server = common::start(service::Config::default()).await;
    let client = common::client();
    let cases = [
        ("/success", StatusCode::OK, "success", "success"),
        (
            "/failure",
            StatusCode::INTERNAL_SERVER_ERROR,
            "failure",
            "failure",
        ),
        ("/health", StatusCode::OK, "health", "success"),
    ];
    for (path, status, endpoint, outcome) in cases {
        let (got, body) = get_json(&client, &url(&server, path)).await;
        assert_eq!(got, status, "{path}");
        assert_eq!(
            body,
            json!({"endpoint": endpoint, "outcome": outcome, "status": status.as_u16()}),
            "{path}"
        );
    }
    let stats = server.stats().snapshot();
    assert_eq!(
        (stats.success, stats.failure, stats.health, stats.total),
        (1, 1, 1, 3)
    );
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn the_bound_address_is_real_when_port_0_is_asked() {
    let server = common::start(service::Config::default()).await;
    assert_ne!(server.local_addr().port(), 0);
    assert!(
        server.url().starts_with("http://127.0.0.1:"),
        "{}",
        server.url()
    );
}

#[tokio::test]
async fn random_fails_at_the_configured_ratio_for_a_fixed_seed() {
    const N: u64 = 1000;
    let config = service::Config {
        failure_ratio: Ratio::new(0.3).expect("0.3 is a ratio"),
        seed: Some(42),
        ..service::Config::default()
    };
    let mut failures_by_run = Vec::new();
    for _run in 0..2 {
        let server = common::start(config.clone()).await;
        let client = common::client();
        let mut failures = 0u64;
        for _ in 0..N {
            let (status, body) = get_json(&client, &url(&server, "/random")).await;
            let answer: Answer = serde_json::from_value(body).expect("an Answer body");
            assert_eq!(answer.endpoint, Endpoint::Random);
            assert_eq!(answer.status, status.as_u16());
            match status {
                StatusCode::OK => assert_eq!(answer.outcome, "success"),
                StatusCode::INTERNAL_SERVER_ERROR => {
                    assert_eq!(answer.outcome, "failure");
                    failures += 1;
                }
                other => panic!("unexpected status {other}"),
            }
        }
        // Binomial(1000, 0.3): mean 300, sd ~14.5. Six sd either way is generous.
        assert!(
            (213..=387).contains(&failures),
            "{failures} failures out of {N}"
        );
        let stats = server.stats().snapshot();
        assert_eq!((stats.random, stats.random_failures), (N, failures));
        failures_by_run.push(failures);
    }
    // The same seed replays the same draws.
    assert_eq!(failures_by_run[0], failures_by_run[1]);
}

#[tokio::test]
async fn ratio_query_overrides_the_failure_ratio() {
    let server = common::start(service::Config::default()).await;
    let client = common::client();
    for _ in 0..20 {
        let (status, _) = get_json(&client, &url(&server, "/random?ratio=1")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
        let (status, _) = get_json(&client, &url(&server, "/random?ratio=0")).await;
        assert_eq!(status, StatusCode::OK);
    }
}

#[tokio::test]
async fn bad_query_values_answer_400_naming_parameter_and_value() {
    let server = common::start(service::Config::default()).await;
    let client = common::client();
    let cases = [
        ("/success?delay=abc", "delay", "abc", "expected a duration"),
        ("/random?ratio=1.5", "ratio", "1.5", "between 0 and 1"),
        ("/random?ratio=nan", "ratio", "nan", "NaN"),
        ("/random?ratio=-0.1", "ratio", "-0.1", "between 0 and 1"),
        ("/failure?delay=2h", "delay", "2h", "at most 1m"),
        ("/health?delay=", "delay", "", "expected a duration"),
    ];
    for (path, parameter, value, reason) in cases {
        let (status, body) = get_json(&client, &url(&server, path)).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{path}");
        let error: ErrorBody = serde_json::from_value(body).expect("an ErrorBody");
        assert_eq!(error.error, "bad_request", "{path}");
        assert_eq!(error.status, 400, "{path}");
        assert_eq!(error.parameter.as_deref(), Some(parameter), "{path}");
        assert_eq!(error.value.as_deref(), Some(value), "{path}");
        assert!(
            error.message.contains(&format!("`{parameter}`")),
            "{}",
            error.message
        );
        assert!(error.message.contains(reason), "{path}: {}", error.message);
    }
    // A refused request is counted as such, not as a call of the endpoint.
    let stats = server.stats().snapshot();
    assert_eq!(stats.bad_request, cases.len() as u64);
    assert_eq!(
        stats.success + stats.failure + stats.random + stats.health,
        0
    );
}

#[tokio::test]
async fn a_malformed_query_string_answers_400_in_json() {
    let server = common::start(service::Config::default()).await;
    let (status, body) = get_json(
        &common::client(),
        &url(&server, "/success?ratio=0.1&ratio=0.2"),
    )
    .await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert_eq!(body["error"], "bad_request");
    assert!(
        body["message"]
            .as_str()
            .is_some_and(|m| m.contains("ratio")),
        "{body}"
    );
}

#[tokio::test]
async fn unknown_paths_answer_404_and_wrong_methods_405_in_json() {
    let server = common::start(service::Config::default()).await;
    let client = common::client();
    let (status, body) = get_json(&client, &url(&server, "/nope")).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert_eq!(body["error"], "not_found");
    assert_eq!(body["path"], "/nope");
    assert_eq!(body["status"], 404);

    let response = client
        .post(url(&server, "/success"))
        .send()
        .await
        .expect("answered");
    assert_eq!(response.status().as_u16(), 405);
    let body: serde_json::Value = response.json().await.expect("JSON");
    assert_eq!(body["error"], "method_not_allowed");
    assert_eq!(server.stats().snapshot().not_found, 2);
}

#[tokio::test]
async fn stats_endpoint_reports_the_counters() {
    let server = common::start(service::Config::default()).await;
    let client = common::client();
    for path in ["/success", "/success", "/failure", "/health", "/missing"] {
        client
            .get(url(&server, path))
            .send()
            .await
            .expect("answered");
    }
    let (status, body) = get_json(&client, &url(&server, "/stats")).await;
    assert_eq!(status, StatusCode::OK);
    let stats: StatsSnapshot = serde_json::from_value(body).expect("a StatsSnapshot");
    assert_eq!(stats, server.stats().snapshot());
    assert_eq!(
        (
            stats.success,
            stats.failure,
            stats.health,
            stats.not_found,
            stats.total
        ),
        (2, 1, 1, 1, 5)
    );
}

/// A short, bounded load check on loopback: 2,000 requests, 32 at a time, all 200.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn holds_thousands_of_requests_on_loopback() {
    const REQUESTS: usize = 2_000;
    const CONCURRENCY: usize = 32;
    let server = common::start(service::Config::default()).await;
    let client = common::client();
    let target = url(&server, "/success");

    let load = async {
        let mut workers = tokio::task::JoinSet::new();
        for worker in 0..CONCURRENCY {
            let client = client.clone();
            let target = target.clone();
            // Spread REQUESTS over the workers.
            let share = REQUESTS / CONCURRENCY + usize::from(worker < REQUESTS % CONCURRENCY);
            workers.spawn(async move {
                let mut ok = 0usize;
                for _ in 0..share {
                    let response = client.get(&target).send().await?;
                    if response.status() == reqwest::StatusCode::OK {
                        ok += 1;
                    }
                    response.bytes().await?;
                }
                Ok::<_, reqwest::Error>(ok)
            });
        }
        let mut ok = 0;
        while let Some(joined) = workers.join_next().await {
            ok += joined
                .expect("worker did not panic")
                .expect("no request error");
        }
        ok
    };
    let started = std::time::Instant::now();
    let ok = tokio::time::timeout(Duration::from_secs(60), load)
        .await
        .expect("2,000 loopback requests finish within 60s");
    assert_eq!(ok, REQUESTS);
    assert_eq!(server.stats().count(Endpoint::Success), REQUESTS as u64);
    eprintln!("{REQUESTS} requests in {:?}", started.elapsed());
    server.shutdown().await.expect("clean shutdown");
}

#[tokio::test]
async fn shutdown_stops_listening() {
    let server = common::start(service::Config::default()).await;
    let addr = server.local_addr();
    server.shutdown().await.expect("clean shutdown");
    assert!(tokio::net::TcpStream::connect(addr).await.is_err());
}

#[tokio::test]
async fn binding_a_taken_port_is_a_clear_error() {
    let first = common::start(service::Config::default()).await;
    let config = service::Config {
        addr: first.local_addr(),
        ..service::Config::default()
    };
    let error = service::Server::spawn(config)
        .await
        .expect_err("the port is taken");
    let message = error.to_string();
    assert!(
        message.starts_with(&format!("cannot listen on {}", first.local_addr())),
        "{message}"
    );
}

// ----- the router in paused time: delays without waiting -----

async fn oneshot(app: &axum::Router, uri: &str) -> (StatusCode, Duration) {
    let start = tokio::time::Instant::now();
    let request = Request::get(uri)
        .body(Body::empty())
        .expect("a valid request");
    let response = app.clone().oneshot(request).await.expect("infallible");
    (response.status(), start.elapsed())
}

#[tokio::test(start_paused = true)]
async fn latency_delays_every_answer_and_delay_overrides_it() {
    let config = service::Config {
        latency: Duration::from_secs(5),
        ..service::Config::default()
    };
    let app = service::router(&config, 7, Arc::new(Stats::default()));

    let (status, elapsed) = oneshot(&app, "/health").await;
    assert_eq!(status, StatusCode::OK);
    assert!(elapsed >= Duration::from_secs(5), "{elapsed:?}");

    let (status, elapsed) = oneshot(&app, "/failure?delay=2s").await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert!(
        elapsed >= Duration::from_secs(2) && elapsed < Duration::from_secs(5),
        "{elapsed:?}"
    );

    let (status, elapsed) = oneshot(&app, "/success?delay=0ms").await;
    assert_eq!(status, StatusCode::OK);
    assert!(elapsed < Duration::from_millis(1), "{elapsed:?}");

    // Errors are answered at once.
    let (status, elapsed) = oneshot(&app, "/success?delay=abc").await;
    assert_eq!(status, StatusCode::BAD_REQUEST);
    assert!(elapsed < Duration::from_millis(1), "{elapsed:?}");
}

#[tokio::test(start_paused = true)]
async fn delay_query_applies_without_configured_latency() {
    let app = service::router(&service::Config::default(), 7, Arc::new(Stats::default()));
    let (status, elapsed) = oneshot(&app, "/random?delay=1500ms&ratio=0").await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        elapsed >= Duration::from_millis(1500) && elapsed < Duration::from_secs(2),
        "{elapsed:?}"
    );
}
