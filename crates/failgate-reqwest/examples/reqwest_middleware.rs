//! reqwest with a circuit breaker per host, in one line on the `ClientBuilder`. Two flaky
//! services (tests/common/service.rs, on 127.0.0.1:0) play two hosts: one fails and its breaker
//! opens, refusing further calls without sending them, while the other host is served
//! as usual.
//!
//! ```text
//! cargo run -p failgate-reqwest --example reqwest_middleware
//! ```

use std::time::Duration;

use failgate::tower::per_key::BreakerMap;
use failgate::CircuitBreaker;
use failgate_reqwest::{rejection, CircuitBreakerMiddleware};
use reqwest_middleware::ClientBuilder;

// The tests' small flaky service, so the example needs nothing outside this crate.
#[path = "../tests/common/service.rs"]
#[allow(dead_code, unreachable_pub)]
mod service;
use service::Server;

type BoxError = Box<dyn std::error::Error + Send + Sync>;

#[tokio::main]
async fn main() -> Result<(), BoxError> {
    let (down, up) = (
        Server::spawn(service::Config::ephemeral()).await?,
        Server::spawn(service::Config::ephemeral()).await?,
    );

    let template = CircuitBreaker::builder()
        .name("hosts")
        .consecutive_failures(2)
        .open_for(Duration::from_secs(30));
    let hosts = BreakerMap::new(template, 100)?;
    let client = ClientBuilder::new(reqwest::Client::builder().no_proxy().build()?)
        .with(CircuitBreakerMiddleware::per_host(hosts.clone()))
        .build();

    let calls = [
        (&down, "/failure"),
        (&up, "/success"),
        (&down, "/failure"),
        (&up, "/success"),
        (&down, "/success"),
        (&down, "/failure"),
        (&up, "/success"),
    ];
    for (server, path) in calls {
        let url = format!("{}{path}", server.url());
        match client.get(&url).send().await {
            Ok(response) => println!("GET {url:<40} -> {}", response.status()),
            Err(error) => match rejection(&error) {
                Some(rejected) => println!("GET {url:<40} -> not sent: {rejected}"),
                None => println!("GET {url:<40} -> failed: {error}"),
            },
        }
    }

    let mut states = hosts.states();
    states.sort_by(|a, b| a.0.cmp(&b.0));
    for (host, state) in states {
        println!("breaker of {host}: {state}");
    }
    println!(
        "requests that reached {}: {}; {}: {}",
        down.local_addr(),
        down.stats().snapshot().total,
        up.local_addr(),
        up.stats().snapshot().total,
    );
    down.shutdown().await?;
    up.shutdown().await?;
    Ok(())
}
