//! Helpers shared by the integration tests.
#![allow(dead_code, unreachable_pub)]

use failgate_demo::service::{self, Server};

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
