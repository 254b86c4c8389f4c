//! Criterion benchmark: the fleet breaker's closed-state success path, beside the local
//! failgate breakers with the same policy and a direct call.
//!
//! Run with `cargo bench -p failgate-redis --bench fleet`. The benchmark starts its own
//! `redis-server` (Debian's, on a free loopback port, no persistence) and kills it at
//! the end; a multi-thread tokio runtime runs the fleet breaker's background task. The
//! fleet breaker is measured only once it is in `Mode::Shared` (its first round trip to
//! Redis done), so the figure is the shared path, not the local fallback. Without
//! `redis-server` it says so and measures only the local breakers.
//!
//! Target: the fleet breaker's closed success at most twice the local breaker's with the
//! same policy (`failgate_time_window_60s_10_buckets`).
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use failgate_redis::testing::RedisServer;
use failgate_redis::{FleetBreaker, Mode};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The guarded operation, as in failgate's own benchmark: only the value goes through
/// `black_box`, and the result is consumed with `is_ok`.
fn op() -> Result<u64, ()> {
    Ok(black_box(1))
}

/// The fleet breaker, shared, with what keeps it alive (its runtime and its server).
struct Fleet {
    breaker: FleetBreaker,
    // Dropped in this order: the breaker (its tasks stop), the runtime, the server.
    _runtime: tokio::runtime::Runtime,
    _server: RedisServer,
}

fn fleet() -> Result<Fleet, String> {
    let server = RedisServer::start().map_err(|e| e.to_string())?;
    // One worker: the background task wakes every 100 ms; the other core stays free
    // for the measuring thread and redis-server.
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .map_err(|e| format!("tokio runtime: {e}"))?;
    let breaker = {
        let _in_runtime = runtime.enter();
        FleetBreaker::builder("dependency")
            .namespace(format!("bench-{}", std::process::id()))
            .redis(server.url())
            .failure_rate(0.5)
            .minimum_calls(10)
            .window(failgate::Window::time(Duration::from_secs(60)).buckets(10))
            .build()
            .map_err(|e| format!("FleetBreaker::build: {e}"))?
    };
    let start = Instant::now();
    while breaker.mode() != Mode::Shared {
        if start.elapsed() > Duration::from_secs(10) {
            return Err(format!(
                "the fleet breaker did not reach Mode::Shared within 10 s: {:?}",
                breaker.status()
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    eprintln!(
        "fleet breaker shared after {:?} (redis-server on port {})",
        start.elapsed(),
        server.port()
    );
    Ok(Fleet {
        breaker,
        _runtime: runtime,
        _server: server,
    })
}

fn closed_success(c: &mut Criterion) {
    let mut g = c.benchmark_group("closed_success");
    g.throughput(Throughput::Elements(1));
    g.bench_function("baseline_direct_call", |b| b.iter(|| op().is_ok()));

    let fg = failgate::CircuitBreaker::builder()
        .consecutive_failures(5)
        .build()
        .expect("a valid policy");
    g.bench_function("failgate_consecutive", |b| b.iter(|| fg.call(op).is_ok()));

    let fg = failgate::CircuitBreaker::builder()
        .failure_rate(0.5)
        .minimum_calls(10)
        .window(failgate::Window::time(Duration::from_secs(60)).buckets(10))
        .build()
        .expect("a valid policy");
    g.bench_function("failgate_time_window_60s_10_buckets", |b| {
        b.iter(|| fg.call(op).is_ok())
    });

    match fleet() {
        Ok(fleet) => {
            let breaker = &fleet.breaker;
            g.bench_function("fleet_shared", |b| {
                b.iter(|| breaker.call(|| Ok::<u64, ()>(black_box(1))).is_ok())
            });
            let status = breaker.status();
            eprintln!(
                "fleet breaker after the benchmark: mode {:?}, state {:?}, {} round trips, {} sync errors",
                status.mode, status.state, status.round_trips, status.sync_errors
            );
            if status.mode != Mode::Shared || status.state != failgate::State::Closed {
                eprintln!(
                    "warning: the fleet breaker left the shared closed state during the \
                     benchmark; its figure may mix in the fallback path"
                );
            }
        }
        Err(why) => eprintln!("skipping the fleet breaker: {why}"),
    }
    g.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = closed_success
}
criterion_main!(benches);
