//! One fleet-wide breaker per host, in one line: the middleware's per-host mode over a
//! map of fleet breakers (failgate-redis), against a real Redis and two flaky services.
//! Two clients with maps of their own stand for two replicas of a service.

mod common;

use common::service::{self, Endpoint, Server};
use failgate::tower::per_key::BreakerMap;
use failgate::{State, Window};
use failgate_redis::testing::{RedisServer, ServerError};
use failgate_redis::{FleetBreaker, FleetBuilder, Mode};
use failgate_reqwest::{host_key, rejection, CircuitBreakerMiddleware};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};
use std::time::{Duration, Instant};

/// `.ci/run`'s Redis, or one of this test's own; `None` (skip) without `redis-server`,
/// except on CI.
fn redis() -> Option<(String, Option<RedisServer>)> {
    if let Ok(url) = std::env::var("FAILGATE_TEST_REDIS_URL") {
        return Some((url, None));
    }
    match RedisServer::start() {
        Ok(server) => Some((server.url(), Some(server))),
        Err(ServerError::NotFound) if std::env::var("CI").as_deref() != Ok("true") => {
            eprintln!("skipping: redis-server is not on PATH");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

fn template(url: &str, namespace: &str) -> FleetBuilder {
    FleetBreaker::builder("flaky")
        .namespace(namespace)
        .redis(url)
        .failure_rate(0.5)
        .minimum_calls(2)
        .window(Window::time(Duration::from_secs(10)))
        .open_for(Duration::from_secs(30))
        .flush_interval(Duration::from_millis(20))
        .redis_timeout(Duration::from_millis(500))
}

fn client(
    middleware: CircuitBreakerMiddleware<FleetBreaker, FleetBuilder>,
) -> ClientWithMiddleware {
    let inner = reqwest::Client::builder().no_proxy().build().unwrap();
    ClientBuilder::new(inner).with(middleware).build()
}

async fn until(what: &str, mut check: impl FnMut() -> bool) {
    let start = Instant::now();
    while !check() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "not within 5 s: {what}"
        );
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// GET `endpoint`: the status, or `Err` if a breaker refused to send it.
async fn get(
    client: &ClientWithMiddleware,
    server: &Server,
    endpoint: Endpoint,
) -> Result<u16, ()> {
    match client
        .get(format!("{}{}", server.url(), endpoint.path()))
        .send()
        .await
    {
        Ok(response) => Ok(response.status().as_u16()),
        Err(error) if rejection(&error).is_some() => Err(()),
        Err(error) => panic!("not a rejection: {error:?}"),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_replica_shares_one_fleet_breaker_per_host() {
    let Some((url, _own)) = redis() else { return };
    let namespace = format!("reqwest-{}", std::process::id());
    let (down, up) = (
        Server::spawn(service::Config::ephemeral()).await.unwrap(),
        Server::spawn(service::Config::ephemeral()).await.unwrap(),
    );
    let key = |s: &Server| host_key(&reqwest::Url::parse(&s.url()).unwrap()).unwrap();
    let hosts_a = BreakerMap::new(template(&url, &namespace), 100).unwrap();
    let hosts_b = BreakerMap::new(template(&url, &namespace), 100).unwrap();
    let replica_a = client(CircuitBreakerMiddleware::per_host(hosts_a.clone()));
    let replica_b = client(CircuitBreakerMiddleware::per_host(hosts_b.clone()));
    for hosts in [&hosts_a, &hosts_b] {
        for server in [&down, &up] {
            let breaker = hosts.get(&key(server));
            until("shared", || breaker.mode() == Mode::Shared).await;
        }
    }

    assert_eq!(get(&replica_a, &down, Endpoint::Failure).await, Ok(500));
    assert_eq!(get(&replica_a, &down, Endpoint::Failure).await, Ok(500));
    let b_down = hosts_b.get(&key(&down));
    until("replica B hears of the trip", || {
        b_down.state() == State::Open
    })
    .await;
    assert_eq!(
        get(&replica_b, &down, Endpoint::Success).await,
        Err(()),
        "B refuses the failing host"
    );
    assert_eq!(
        get(&replica_b, &up, Endpoint::Success).await,
        Ok(200),
        "and serves the other"
    );
    assert_eq!(
        down.stats().snapshot().total,
        2,
        "the refusal was never sent"
    );
    down.shutdown().await.unwrap();
    up.shutdown().await.unwrap();
}
