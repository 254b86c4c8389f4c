//! `GrpcClassifier` against a real tonic server on loopback (feature `grpc`): the
//! tonic-health service, behind a layer that can answer trailers-only `UNAVAILABLE`
//! with `grpc-retry-pushback-ms`, called through a tonic `Channel` behind the tower
//! layer, and through `call_async` over the client's `Result<_, tonic::Status>`.
#![cfg(all(feature = "grpc", feature = "tower"))]

use failgate::grpc::GrpcClassifier;
use failgate::tower::CircuitBreakerLayer;
use failgate::{CircuitBreaker, Error, ManualClock, State};
use futures::future::{Either, Ready};
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;
use tonic::transport::{Channel, Server};
use tonic::{Code, Status};
use tonic_health::pb::health_check_response::ServingStatus;
use tonic_health::pb::health_client::HealthClient;
use tonic_health::pb::HealthCheckRequest;
use tower::{Layer, Service, ServiceBuilder};

/// What the server's outage layer does and saw.
#[derive(Default)]
struct Outage {
    /// Answer every call trailers-only `UNAVAILABLE`, with a pushback of 30 s.
    down: AtomicBool,
    /// Calls that reached the server.
    calls: AtomicU64,
}

const PUSHBACK: Duration = Duration::from_secs(30);

#[derive(Clone)]
struct OutageLayer(Arc<Outage>);

impl<S> Layer<S> for OutageLayer {
    type Service = OutageService<S>;
    fn layer(&self, inner: S) -> Self::Service {
        OutageService {
            inner,
            outage: self.0.clone(),
        }
    }
}

#[derive(Clone)]
struct OutageService<S> {
    inner: S,
    outage: Arc<Outage>,
}

type Answer<E> = Result<http::Response<tonic::body::Body>, E>;

impl<S, B> Service<http::Request<B>> for OutageService<S>
where
    S: Service<http::Request<B>, Response = http::Response<tonic::body::Body>>,
{
    type Response = S::Response;
    type Error = S::Error;
    type Future = Either<Ready<Answer<S::Error>>, S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        self.outage.calls.fetch_add(1, Ordering::Relaxed);
        if !self.outage.down.load(Ordering::Relaxed) {
            return Either::Right(self.inner.call(request));
        }
        let mut status = Status::unavailable("down for maintenance");
        let pushback = PUSHBACK.as_millis().to_string().parse().unwrap();
        status
            .metadata_mut()
            .insert("grpc-retry-pushback-ms", pushback);
        // `into_http` answers trailers-only: grpc-status in the headers, no body.
        Either::Left(futures::future::ready(Ok(status.into_http())))
    }
}

/// A tonic server on a free loopback port serving tonic-health (the empty service
/// name is SERVING, "sick" NOT_SERVING, any other name NOT_FOUND), behind the outage
/// layer.
async fn server() -> (Channel, Arc<Outage>) {
    let (reporter, health) = tonic_health::server::health_reporter();
    reporter
        .set_service_status("", tonic_health::ServingStatus::Serving)
        .await;
    reporter
        .set_service_status("sick", tonic_health::ServingStatus::NotServing)
        .await;
    let outage = Arc::new(Outage::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let router = Server::builder()
        .layer(OutageLayer(outage.clone()))
        .add_service(health);
    let incoming = tonic::transport::server::TcpIncoming::from(listener);
    tokio::spawn(async move {
        let _reporter = reporter; // keeps the statuses set
        router.serve_with_incoming(incoming).await.unwrap();
    });
    let channel = Channel::from_shared(format!("http://{addr}"))
        .unwrap()
        .connect()
        .await
        .unwrap();
    (channel, outage)
}

fn check(service: &str) -> HealthCheckRequest {
    HealthCheckRequest {
        service: service.to_owned(),
    }
}

fn breaker(clock: &ManualClock, failures: u32) -> CircuitBreaker {
    CircuitBreaker::builder()
        .consecutive_failures(failures)
        .open_for(Duration::from_secs(1))
        .honor_retry_after(true)
        .clock(clock.clone())
        .build()
        .unwrap()
}

#[tokio::test]
async fn a_channel_behind_the_layer_trips_on_trailers_only_unavailable_and_waits_the_pushback() {
    let (channel, outage) = server().await;
    let clock = ManualClock::new();
    let breaker = breaker(&clock, 2);
    let svc = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(breaker.clone()).with_classifier(GrpcClassifier::new()))
        .service(channel);
    let mut client = HealthClient::new(svc);

    let served = client.check(check("")).await.unwrap().into_inner();
    assert_eq!(served.status(), ServingStatus::Serving);
    outage.down.store(true, Ordering::Relaxed);
    for _ in 0..2 {
        let status = client.check(check("")).await.unwrap_err();
        assert_eq!(status.code(), Code::Unavailable, "{status:?}");
    }
    assert_eq!(breaker.state(), State::Open, "two UNAVAILABLE trip it");
    // The server's pushback (30 s), not the 1 s backoff.
    let rejected = breaker.try_acquire().unwrap_err();
    assert_eq!(rejected.retry_after(), Some(PUSHBACK));

    // Refused without reaching the server.
    let refused = client.check(check("")).await.unwrap_err();
    assert!(
        failgate::rejection(&refused).is_some(),
        "a refusal, found in the Status's source: {refused:?}"
    );
    assert_eq!(outage.calls.load(Ordering::Relaxed), 3);

    // The backoff's 1 s is not enough; the pushback's 30 s is.
    clock.advance(Duration::from_secs(1));
    assert_eq!(breaker.state(), State::Open);
    clock.advance(PUSHBACK - Duration::from_secs(1));
    outage.down.store(false, Ordering::Relaxed);
    let probe = client.check(check("")).await.unwrap().into_inner();
    assert_eq!(probe.status(), ServingStatus::Serving);
    assert_eq!(breaker.state(), State::Closed);
}

#[tokio::test]
async fn tonic_healths_not_found_is_a_success_at_the_tower_level_unless_made_a_failure() {
    let (channel, outage) = server().await;
    let clock = ManualClock::new();

    let lenient = breaker(&clock, 1);
    let mut client = HealthClient::new(
        ServiceBuilder::new()
            .layer(CircuitBreakerLayer::new(lenient.clone()).with_classifier(GrpcClassifier::new()))
            .service(channel.clone()),
    );
    for _ in 0..3 {
        let status = client.check(check("no-such-service")).await.unwrap_err();
        assert_eq!(status.code(), Code::NotFound, "{status:?}");
    }
    // NOT_SERVING is an OK answer that carries a status: the caller's business.
    let sick = client.check(check("sick")).await.unwrap().into_inner();
    assert_eq!(sick.status(), ServingStatus::NotServing);
    assert_eq!(lenient.state(), State::Closed);
    assert_eq!(lenient.snapshot().consecutive_failures, 0);

    let strict = breaker(&clock, 1);
    let mut client = HealthClient::new(
        ServiceBuilder::new()
            .layer(
                CircuitBreakerLayer::new(strict.clone())
                    .with_classifier(GrpcClassifier::new().failure(Code::NotFound)),
            )
            .service(channel),
    );
    let status = client.check(check("no-such-service")).await.unwrap_err();
    assert_eq!(status.code(), Code::NotFound);
    assert_eq!(
        strict.state(),
        State::Open,
        "NOT_FOUND made a failure trips it"
    );
    // No pushback in that answer: the backoff alone decides.
    let rejected = strict.try_acquire().unwrap_err();
    assert_eq!(rejected.retry_after(), Some(Duration::from_secs(1)));
    assert_eq!(outage.calls.load(Ordering::Relaxed), 5);
}

#[tokio::test]
async fn call_async_over_a_tonic_client_classifies_the_status_and_honours_its_pushback() {
    let (channel, outage) = server().await;
    let clock = ManualClock::new();
    let breaker = breaker(&clock, 2).with_classifier(GrpcClassifier::new());
    let client = HealthClient::new(channel);
    let call = |service: &'static str| {
        let mut client = client.clone();
        breaker.call_async(move || async move { client.check(check(service)).await })
    };

    assert!(call("").await.is_ok());
    for _ in 0..3 {
        match call("no-such-service").await {
            Err(Error::Inner(status)) => assert_eq!(status.code(), Code::NotFound),
            other => panic!("NOT_FOUND, passed through: {other:?}"),
        }
    }
    assert_eq!(
        breaker.snapshot().consecutive_failures,
        0,
        "NOT_FOUND succeeds"
    );

    outage.down.store(true, Ordering::Relaxed);
    for _ in 0..2 {
        match call("").await {
            Err(Error::Inner(status)) => assert_eq!(status.code(), Code::Unavailable),
            other => panic!("UNAVAILABLE, passed through: {other:?}"),
        }
    }
    assert_eq!(breaker.state(), State::Open);
    // tonic put the trailers-only headers in the Status's metadata, pushback included.
    let Err(Error::Rejected(rejected)) = call("").await else {
        panic!("refused while open")
    };
    assert_eq!(rejected.retry_after(), Some(PUSHBACK));
    assert_eq!(outage.calls.load(Ordering::Relaxed), 6);

    clock.advance(PUSHBACK);
    outage.down.store(false, Ordering::Relaxed);
    assert!(call("").await.is_ok(), "the probe succeeds");
    assert_eq!(breaker.state(), State::Closed);
}
