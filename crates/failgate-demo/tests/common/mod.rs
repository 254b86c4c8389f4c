//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

pub mod process;

use failgate_demo::dashboard::{BreakerView, WatchSnapshot};
use failgate_demo::service::{self, Server};
use serde_json::Value;
use std::time::{Duration, Instant};

/// Starts the flaky service on 127.0.0.1:0 with `config`'s other settings.
pub async fn start(config: service::Config) -> Server {
    let config = service::Config {
        addr: service::Config::ephemeral().addr,
        ..config
    };
    Server::spawn(config)
        .await
        .expect("the service starts on port 0")
}

/// A client that never goes through a proxy: the tests talk to loopback only.
pub fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .timeout(std::time::Duration::from_secs(30))
        .build()
        .expect("the HTTP client builds")
}

/// A watch on 127.0.0.1:0 whose traffic calls the flaky router in-process, with an
/// optional control token.
pub async fn start_watch(token: Option<&str>) -> failgate_demo::dashboard::Watch {
    use failgate_demo::dashboard::{Config, ControlToken, Target, Watch};
    let router = service::router(
        &service::Config::ephemeral(),
        7,
        std::sync::Arc::new(service::Stats::default()),
    );
    Watch::spawn(Config {
        target: Some(Target::Router(router)),
        control_token: token.map(|t| t.parse::<ControlToken>().expect("a valid token")),
        ..Config::ephemeral()
    })
    .await
    .expect("the watch starts on port 0")
}

/// A watch on 127.0.0.1:0 with its own flaky service, on the schedules of seed 7.
pub async fn start_seeded() -> failgate_demo::dashboard::Watch {
    use failgate_demo::dashboard::{Config, Watch};
    Watch::spawn(Config {
        seed: Some(7),
        ..Config::ephemeral()
    })
    .await
    .expect("the watch starts on port 0")
}

/// A control call as the page sends it: JSON, so not a request another site can make.
pub async fn post(url: &str) -> (u16, Value) {
    let response = client()
        .post(url)
        .header(reqwest::header::CONTENT_TYPE, "application/json")
        .body("{}")
        .send()
        .await
        .expect("the server answers");
    let status = response.status().as_u16();
    let body = response.json().await.expect("a JSON body");
    (status, body)
}

/// The dashboard's JSON, `GET {base}/api/snapshot`.
pub async fn snapshot(base: &str) -> WatchSnapshot {
    client()
        .get(format!("{base}/api/snapshot"))
        .send()
        .await
        .expect("the server answers")
        .json()
        .await
        .expect("a snapshot")
}

/// The lane called `name` in a snapshot.
pub fn breaker<'a>(s: &'a WatchSnapshot, name: &str) -> &'a BreakerView {
    s.breakers
        .iter()
        .find(|b| b.name == name)
        .unwrap_or_else(|| panic!("no breaker {name} in {s:?}"))
}

/// Polls the dashboard's JSON until `done` holds, for at most `within`; panics with
/// the last snapshot, saying `what` did not come.
pub async fn wait_for(
    base: &str,
    what: &str,
    within: Duration,
    done: impl Fn(&WatchSnapshot) -> bool,
) -> WatchSnapshot {
    let deadline = Instant::now() + within;
    loop {
        let s = snapshot(base).await;
        if done(&s) {
            return s;
        }
        assert!(
            Instant::now() < deadline,
            "{what} within {within:?}: {s:#?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
