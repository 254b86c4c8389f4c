//! A tonic client behind a circuit breaker, at the tower level: a `Channel` wrapped in
//! `CircuitBreakerLayer` with a `GrpcClassifier` (UNAVAILABLE and the other outage
//! codes are failures). It calls a gRPC health service started here on 127.0.0.1:0
//! (tonic-health's generated service, implemented by hand so that it can fail) and
//! prints the story: the server answers UNAVAILABLE with `grpc-retry-pushback-ms`, the
//! breaker opens for that long and refuses calls without sending them, the server
//! recovers, a probe closes the breaker.
//!
//! ```text
//! cargo run -p failgate --example grpc --features grpc,tower
//! ```

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

use failgate::grpc::GrpcClassifier;
use failgate::tower::CircuitBreakerLayer;
use failgate::{CircuitBreaker, State};
use tonic::transport::{Channel, Server};
use tonic::{Request, Response, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::health_server::{Health, HealthServer};
use tonic_health::pb::{HealthCheckRequest, HealthCheckResponse};
use tower::ServiceBuilder;

/// How long the server asks clients to stay away while it is down.
const PUSHBACK_MS: u64 = 300;

/// The server: SERVING while up; while down, UNAVAILABLE with a pushback. Clones share
/// the switch and the count.
#[derive(Clone, Default)]
struct Flaky {
    down: Arc<AtomicBool>,
    calls: Arc<AtomicU64>,
}

#[tonic::async_trait]
impl Health for Flaky {
    async fn check(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<HealthCheckResponse>, Status> {
        self.calls.fetch_add(1, Ordering::Relaxed);
        if self.down.load(Ordering::Relaxed) {
            let mut status = Status::unavailable("restarting");
            let pushback = PUSHBACK_MS.to_string().parse().expect("digits are ASCII");
            status
                .metadata_mut()
                .insert("grpc-retry-pushback-ms", pushback);
            return Err(status);
        }
        Ok(Response::new(HealthCheckResponse {
            status: ServingStatus::Serving.into(),
        }))
    }

    type WatchStream = futures::stream::Empty<Result<HealthCheckResponse, Status>>;

    async fn watch(
        &self,
        _: Request<HealthCheckRequest>,
    ) -> Result<Response<Self::WatchStream>, Status> {
        Err(Status::unimplemented("not in this example"))
    }
}

async fn start(flaky: Flaky) -> std::io::Result<Channel> {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let addr = listener.local_addr()?;
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(
        Server::builder()
            .add_service(HealthServer::new(flaky))
            .serve_with_incoming(incoming),
    );
    Channel::from_shared(format!("http://{addr}"))
        .map_err(std::io::Error::other)?
        .connect()
        .await
        .map_err(std::io::Error::other)
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let flaky = Flaky::default();
    let channel = start(flaky.clone()).await?;
    let breaker = CircuitBreaker::builder()
        .name("health")
        .consecutive_failures(2)
        .open_for(Duration::from_millis(50))
        .honor_retry_after(true)
        .build()?;
    let svc = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(breaker.clone()).with_classifier(GrpcClassifier::new()))
        .service(channel);
    let mut client = HealthClient::new(svc);
    let request = || HealthCheckRequest {
        service: String::new(),
    };

    let answer = client.check(request()).await?.into_inner();
    println!(
        "server up:   {:?}, breaker {:?}",
        answer.status(),
        breaker.state()
    );

    flaky.down.store(true, Ordering::Relaxed);
    for _ in 0..2 {
        let status = client.check(request()).await.unwrap_err();
        println!(
            "server down: {:?}, breaker {:?}",
            status.code(),
            breaker.state()
        );
    }
    let refused = client.check(request()).await.unwrap_err();
    let wait = failgate::rejection(&refused).and_then(|r| r.retry_after());
    println!(
        "refused without a call (the server saw {} calls), retry in {wait:?}: \
         the server's {PUSHBACK_MS} ms pushback, not the 50 ms backoff",
        flaky.calls.load(Ordering::Relaxed)
    );

    flaky.down.store(false, Ordering::Relaxed);
    tokio::time::sleep(wait.unwrap_or_default()).await;
    let answer = client.check(request()).await?.into_inner();
    println!(
        "probe:       {:?}, breaker {:?}",
        answer.status(),
        breaker.state()
    );
    assert_eq!(breaker.state(), State::Closed);
    Ok(())
}
