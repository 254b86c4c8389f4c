//! The middleware against the real flaky service (and two tiny servers of its own), over
//! loopback HTTP. Time is a `ManualClock`: nothing here sleeps.

mod common;

use std::time::Duration;

use axum::http::{header::RETRY_AFTER, StatusCode};
use axum::routing::get;
use common::service::{self, Endpoint, Server};
use failgate::tower::per_key::BreakerMap;
use failgate::{Builder, CircuitBreaker, ManualClock, State};
use failgate_reqwest::{host_key, rejection, CircuitBreakerMiddleware};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use tokio::net::TcpListener;

const OPEN_FOR: Duration = Duration::from_secs(30);

fn template(clock: &ManualClock, threshold: u32) -> Builder {
    CircuitBreaker::builder()
        .name("flaky")
        .consecutive_failures(threshold)
        .open_for(OPEN_FOR)
        .clock(clock.clone())
}

async fn flaky() -> Server {
    Server::spawn(service::Config::ephemeral())
        .await
        .expect("the flaky service starts on 127.0.0.1:0")
}

fn client(middleware: CircuitBreakerMiddleware) -> ClientWithMiddleware {
    let inner = reqwest::Client::builder()
        .no_proxy()
        .timeout(Duration::from_secs(30))
        .build()
        .expect("the client builds");
    ClientBuilder::new(inner).with(middleware).build()
}

/// GET `server`'s `endpoint`: the status, or the rejection's `retry_after` as `Err`.
async fn get_status(
    client: &ClientWithMiddleware,
    server: &Server,
    endpoint: Endpoint,
) -> Result<u16, Option<Duration>> {
    match client
        .get(format!("{}{}", server.url(), endpoint.path()))
        .send()
        .await
    {
        Ok(response) => Ok(response.status().as_u16()),
        Err(error) => match rejection(&error) {
            Some(rejected) => Err(rejected.retry_after()),
            None => panic!("not a rejection: {error:?}"),
        },
    }
}

#[tokio::test]
async fn trips_on_failures_and_refuses_without_reaching_the_server() {
    let server = flaky().await;
    let clock = ManualClock::new();
    let breaker = template(&clock, 2).build().unwrap();
    let client = client(CircuitBreakerMiddleware::new(breaker.clone()));

    // 500s come back as responses, and count as failures.
    assert_eq!(
        get_status(&client, &server, Endpoint::Failure).await,
        Ok(500)
    );
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(
        get_status(&client, &server, Endpoint::Failure).await,
        Ok(500)
    );
    assert_eq!(breaker.state(), State::Open);

    // Open: refused with the time left, and nothing is sent.
    clock.advance(Duration::from_secs(10));
    for endpoint in [Endpoint::Failure, Endpoint::Success, Endpoint::Health] {
        assert_eq!(
            get_status(&client, &server, endpoint).await,
            Err(Some(Duration::from_secs(20)))
        );
    }
    let stats = server.stats().snapshot();
    assert_eq!(
        (stats.failure, stats.success, stats.health, stats.total),
        (2, 0, 0, 2),
        "refused requests never reached the server: {stats:?}"
    );

    // The rejection is also reachable with anyhow's downcast, as documented.
    let error = client
        .get(format!("{}/success", server.url()))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_middleware());
    let reqwest_middleware::Error::Middleware(inner) = &error else {
        panic!("{error:?}")
    };
    assert_eq!(
        inner
            .downcast_ref::<failgate::Rejected>()
            .map(|r| r.state()),
        Some(State::Open)
    );
    assert_eq!(
        error.to_string(),
        "request not sent: refused by the circuit breaker"
    );
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn client_errors_are_successes_to_the_breaker() {
    let server = flaky().await;
    let breaker = template(&ManualClock::new(), 1).build().unwrap();
    let client = client(CircuitBreakerMiddleware::new(breaker.clone()));
    let url = format!("{}/random?ratio=1.5", server.url()); // a 400
    for _ in 0..3 {
        assert_eq!(client.get(&url).send().await.unwrap().status(), 400);
    }
    let missing = client.get(format!("{}/nope", server.url())).send().await;
    assert_eq!(missing.unwrap().status(), 404);
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.snapshot().consecutive_failures, 0);
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn half_open_probe_closes_on_success_and_reopens_on_failure() {
    let server = flaky().await;
    let clock = ManualClock::new();
    let breaker = template(&clock, 1).half_open_permits(1).build().unwrap();
    let client = client(CircuitBreakerMiddleware::new(breaker.clone()));

    assert_eq!(
        get_status(&client, &server, Endpoint::Failure).await,
        Ok(500)
    );
    assert_eq!(breaker.state(), State::Open);
    clock.advance(OPEN_FOR);
    assert_eq!(breaker.state(), State::HalfOpen);
    // A failing probe reopens it...
    assert_eq!(
        get_status(&client, &server, Endpoint::Failure).await,
        Ok(500)
    );
    assert_eq!(breaker.state(), State::Open);
    assert_eq!(
        get_status(&client, &server, Endpoint::Success).await,
        Err(Some(OPEN_FOR))
    );
    // ...a succeeding one closes it.
    clock.advance(OPEN_FOR);
    assert_eq!(
        get_status(&client, &server, Endpoint::Success).await,
        Ok(200)
    );
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(
        get_status(&client, &server, Endpoint::Success).await,
        Ok(200)
    );

    let stats = server.stats().snapshot();
    assert_eq!((stats.failure, stats.success), (2, 2), "{stats:?}");
    server.shutdown().await.unwrap();
}

#[tokio::test]
async fn one_breaker_per_host_keeps_hosts_apart() {
    let (down, up) = (flaky().await, flaky().await);
    assert_ne!(down.local_addr().port(), up.local_addr().port());
    let hosts = BreakerMap::new(template(&ManualClock::new(), 1), 100).unwrap();
    let client = client(CircuitBreakerMiddleware::per_host(hosts.clone()));

    assert_eq!(get_status(&client, &down, Endpoint::Failure).await, Ok(500));
    // The other host is untouched...
    for _ in 0..3 {
        assert_eq!(get_status(&client, &up, Endpoint::Success).await, Ok(200));
    }
    // ...while the failing one is refused, on every path.
    assert_eq!(
        get_status(&client, &down, Endpoint::Success).await,
        Err(Some(OPEN_FOR))
    );

    let key = |s: &Server| host_key(&reqwest::Url::parse(&s.url()).unwrap()).unwrap();
    assert_eq!(
        key(&down),
        format!("127.0.0.1:{}", down.local_addr().port())
    );
    let mut states = hosts.states();
    states.sort_by(|a, b| a.0.cmp(&b.0));
    let mut expected = vec![(key(&down), State::Open), (key(&up), State::Closed)];
    expected.sort_by(|a, b| a.0.cmp(&b.0));
    assert_eq!(states, expected);

    assert_eq!(down.stats().snapshot().total, 1, "the refusal was not sent");
    assert_eq!(up.stats().snapshot().success, 3);
    down.shutdown().await.unwrap();
    up.shutdown().await.unwrap();
}

/// What an application does with the client's errors: `?` into `anyhow`.
async fn fetch(client: &ClientWithMiddleware, url: &str) -> anyhow::Result<u16> {
    Ok(client.get(url).send().await?.status().as_u16())
}

#[tokio::test]
async fn a_rejection_passed_up_with_question_mark_is_found_in_anyhow_chain() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/success", listener.local_addr().unwrap());
    drop(listener);
    let breaker = template(&ManualClock::new(), 1).build().unwrap();
    let client = client(CircuitBreakerMiddleware::new(breaker.clone()));

    let failed = fetch(&client, &url).await.unwrap_err();
    let sent = failed.downcast_ref::<reqwest_middleware::Error>();
    assert!(sent.is_some_and(|e| e.is_connect()), "{failed:#}");
    assert!(failgate::rejection(failed.as_ref()).is_none());

    let refused = fetch(&client, &url).await.unwrap_err();
    let in_chain = refused
        .chain()
        .find_map(|e| e.downcast_ref::<failgate::Rejected>());
    let rejected = in_chain.expect("the rejection is a link of anyhow's chain");
    assert_eq!(rejected.state(), State::Open);
    assert_eq!(rejected.retry_after(), Some(OPEN_FOR));
    assert_eq!(failgate::rejection(refused.as_ref()), Some(rejected));
    assert_eq!(
        format!("{refused:#}"),
        "request not sent: refused by the circuit breaker: circuit open, retry after 30.000s"
    );
}

#[tokio::test]
async fn a_transport_error_is_a_failure() {
    // A port that was free a moment ago: connections to it are refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);

    let breaker = template(&ManualClock::new(), 1).build().unwrap();
    let client = client(CircuitBreakerMiddleware::new(breaker.clone()));
    let url = format!("http://{addr}/success");
    let error = client.get(&url).send().await.unwrap_err();
    assert!(error.is_connect(), "{error:?}");
    assert_eq!(breaker.state(), State::Open);
    let error = client.get(&url).send().await.unwrap_err();
    assert!(rejection(&error).is_some(), "{error:?}");

    // A request reqwest refuses to send says nothing about the dependency.
    let breaker = template(&ManualClock::new(), 1).build().unwrap();
    let client = self::client(CircuitBreakerMiddleware::new(breaker.clone()));
    let error = client
        .get(format!("ftp://{addr}/"))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_builder(), "{error:?}");
    assert_eq!(breaker.state(), State::Closed);
}

/// A server that answers 503 with `Retry-After: 120`.
async fn overloaded() -> std::net::SocketAddr {
    let app = axum::Router::new().route(
        "/",
        get(|| async { (StatusCode::SERVICE_UNAVAILABLE, [(RETRY_AFTER, "120")]) }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });
    addr
}

#[tokio::test]
async fn retry_after_is_honoured_when_the_breaker_asks_for_it() {
    let addr = overloaded().await;
    for (honor, wait) in [(true, 120), (false, 30)] {
        let breaker = template(&ManualClock::new(), 1)
            .honor_retry_after(honor)
            .build()
            .unwrap();
        let client = client(CircuitBreakerMiddleware::new(breaker.clone()));
        let response = client.get(format!("http://{addr}/")).send().await.unwrap();
        assert_eq!(response.status(), 503);
        let error = client
            .get(format!("http://{addr}/"))
            .send()
            .await
            .unwrap_err();
        assert_eq!(
            rejection(&error).and_then(|r| r.retry_after()),
            Some(Duration::from_secs(wait)),
            "honor_retry_after({honor})"
        );
    }
}

#[tokio::test]
async fn a_dropped_request_gives_its_probe_slot_back() {
    // A server whose /hang says it was reached, then never answers.
    let (reached_tx, mut reached) = tokio::sync::mpsc::unbounded_channel::<()>();
    let app = axum::Router::new().route(
        "/hang",
        get(move || {
            let _ = reached_tx.send(());
            std::future::pending::<&'static str>()
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await });

    let clock = ManualClock::new();
    let breaker = template(&clock, 1).half_open_permits(1).build().unwrap();
    let _ = breaker.call(|| Err::<(), ()>(()));
    clock.advance(OPEN_FOR);
    let client = client(CircuitBreakerMiddleware::new(breaker.clone()));

    let probe = tokio::spawn({
        let client = client.clone();
        async move { client.get(format!("http://{addr}/hang")).send().await }
    });
    reached.recv().await.expect("the probe reached the server");
    assert_eq!(breaker.snapshot().half_open_probes, 1);
    let error = client
        .get(format!("http://{addr}/hang"))
        .send()
        .await
        .unwrap_err();
    assert_eq!(
        rejection(&error).map(|r| r.state()),
        Some(State::HalfOpen),
        "the only probe slot is taken"
    );

    probe.abort(); // a cancelled request
    assert!(probe.await.unwrap_err().is_cancelled());
    assert_eq!(breaker.snapshot().half_open_probes, 0, "the slot came back");
    assert_eq!(breaker.state(), State::HalfOpen, "and nothing was counted");
}

#[tokio::test]
async fn host_keys_ignore_case_and_one_trailing_dot() {
    // A port that was free a moment ago: connections to it are refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let port = addr.port();

    let hosts = BreakerMap::new(template(&ManualClock::new(), 1), 100).unwrap();
    let inner = reqwest::Client::builder()
        .no_proxy()
        .resolve("victim.example", addr)
        .resolve("victim.example.", addr)
        .build()
        .expect("the client builds");
    let client = ClientBuilder::new(inner)
        .with(CircuitBreakerMiddleware::per_host(hosts.clone()))
        .build();

    let error = client
        .get(format!("http://VICTIM.Example.:{port}/"))
        .send()
        .await
        .unwrap_err();
    assert!(error.is_connect(), "sent, and refused: {error:?}");
    let error = client
        .get(format!("http://victim.example:{port}/"))
        .send()
        .await
        .unwrap_err();
    assert!(
        rejection(&error).is_some(),
        "one breaker for both spellings: {error:?}"
    );
    assert_eq!(
        hosts.states(),
        vec![(format!("victim.example:{port}"), State::Open)]
    );
}
