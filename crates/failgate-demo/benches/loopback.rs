//! What the tower layer costs on a real HTTP call: `GET /success` of the flaky service on
//! 127.0.0.1:0, through hyper-util's legacy client (HTTP/1, keep-alive), bare and behind
//! `failgate::tower::CircuitBreakerLayer` with an `HttpClassifier` (closed breaker, the
//! path every healthy call takes).
//!
//! Server and client share one current-thread tokio runtime, so both cases run the same
//! code on one core and differ only by the layer. Each case measures for 5 s.
//!
//! ```text
//! cargo bench -p failgate-demo --bench loopback
//! ```

use std::time::{Duration, Instant};

use bytes::Bytes;
use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use failgate::http::HttpClassifier;
use failgate::tower::CircuitBreakerLayer;
use failgate::CircuitBreaker;
use failgate_demo::service::{self, Server};
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;
use tower::{Service, ServiceBuilder, ServiceExt as _};

type Request = http::Request<Empty<Bytes>>;

/// GETs `uri` `iters` times through `svc`, reading each body; the elapsed time.
async fn run<S>(svc: &mut S, uri: &http::Uri, iters: u64) -> Duration
where
    S: Service<Request, Response = http::Response<hyper::body::Incoming>>,
    S::Error: std::fmt::Debug,
{
    let start = Instant::now();
    for _ in 0..iters {
        let request = http::Request::get(uri.clone())
            .body(Empty::new())
            .expect("a valid request");
        let response = svc
            .ready()
            .await
            .expect("ready")
            .call(request)
            .await
            .expect("the flaky service answers");
        assert!(response.status().is_success());
        let body = response.into_body().collect().await.expect("a body");
        std::hint::black_box(body);
    }
    start.elapsed()
}

fn loopback(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("a tokio runtime");
    let server = runtime
        .block_on(Server::spawn(service::Config::ephemeral()))
        .expect("the flaky service starts on 127.0.0.1:0");
    let uri: http::Uri = format!("{}/success", server.url())
        .parse()
        .expect("a valid URI");

    let client: Client<HttpConnector, Empty<Bytes>> =
        Client::builder(TokioExecutor::new()).build(HttpConnector::new());
    let breaker = CircuitBreaker::builder()
        .name("loopback")
        .consecutive_failures(5)
        .build()
        .expect("a valid breaker");
    let mut bare = client.clone();
    let mut layered = ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(breaker.clone()).with_classifier(HttpClassifier::new()))
        .service(client);

    let mut group = c.benchmark_group("loopback_get_success");
    group
        .throughput(Throughput::Elements(1))
        .warm_up_time(Duration::from_secs(2))
        .measurement_time(Duration::from_secs(5))
        .sample_size(50);
    group.bench_function("hyper_bare", |b| {
        b.iter_custom(|iters| runtime.block_on(run(&mut bare, &uri, iters)))
    });
    group.bench_function("hyper_with_breaker_layer", |b| {
        b.iter_custom(|iters| runtime.block_on(run(&mut layered, &uri, iters)))
    });
    group.finish();

    paired(&runtime, &mut bare, &mut layered, &uri);

    assert_eq!(
        breaker.snapshot().consecutive_failures,
        0,
        "every call was a success"
    );
    runtime
        .block_on(server.shutdown())
        .expect("a clean shutdown");
}

/// Criterion measures one case after the other, so on a shared machine a change of
/// load between the two windows reads as a difference. This measures the two in
/// alternating rounds of `ROUND` calls (which goes first alternates too) for 5 s, and
/// reports the median per-call time of each and the median of the per-round
/// differences, which load drift affects far less.
fn paired<A, B>(runtime: &tokio::runtime::Runtime, bare: &mut A, layered: &mut B, uri: &http::Uri)
where
    A: Service<Request, Response = http::Response<hyper::body::Incoming>>,
    A::Error: std::fmt::Debug,
    B: Service<Request, Response = http::Response<hyper::body::Incoming>>,
    B::Error: std::fmt::Debug,
{
    const ROUND: u64 = 200;
    let per_call = |d: Duration| d.as_secs_f64() * 1e6 / ROUND as f64;
    let (mut a, mut b, mut diff) = (Vec::new(), Vec::new(), Vec::new());
    let deadline = Instant::now() + Duration::from_secs(5);
    let mut round = 0u64;
    while Instant::now() < deadline {
        let (x, y) = runtime.block_on(async {
            if round.is_multiple_of(2) {
                let x = run(bare, uri, ROUND).await;
                (x, run(layered, uri, ROUND).await)
            } else {
                let y = run(layered, uri, ROUND).await;
                (run(bare, uri, ROUND).await, y)
            }
        });
        let (x, y) = (per_call(x), per_call(y));
        a.push(x);
        b.push(y);
        diff.push((y - x) / x * 100.0);
        round += 1;
    }
    let median = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (quartile_low, quartile_high) = {
        let mut d = diff.clone();
        d.sort_by(f64::total_cmp);
        (d[d.len() / 4], d[d.len() * 3 / 4])
    };
    println!(
        "paired rounds ({round} x {ROUND} calls each): bare {:.2} µs, with the layer {:.2} µs; \
         per-round difference: median {:+.2}% (interquartile {:+.2}% to {:+.2}%)",
        median(&mut a),
        median(&mut b),
        median(&mut diff),
        quartile_low,
        quartile_high,
    );
}

criterion_group!(benches, loopback);
criterion_main!(benches);
