//! Criterion benchmarks: the closed, open and half-open paths, single-threaded and with
//! two threads on one breaker, each beside failsafe 1.3 and recloser 1.4.
//!
//! Run with `cargo bench -p failgate --bench breaker` (`--features tower` adds the
//! `tower_service` and `per_key` groups). Every group has
//! `Throughput::Elements(1)`: criterion prints time per call and calls per second.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::time::{Duration, Instant};

/// The guarded operation: as cheap as an operation can be, so the figures show the
/// breaker's own cost. Only the value goes through `black_box`, and every benchmark
/// consumes the result as real code does (a match, here `is_ok`): sending a whole
/// 24-byte `Result` through `black_box` costs a store-forwarding stall that would
/// drown what is being measured (see `NOTES.md`).
fn op() -> Result<u64, ()> {
    Ok(black_box(1))
}

fn failgate_consecutive() -> failgate::CircuitBreaker {
    failgate::CircuitBreaker::builder()
        .consecutive_failures(5)
        .build()
        .unwrap()
}

fn failsafe_consecutive() -> impl failsafe::CircuitBreaker + Clone + Send + Sync {
    use failsafe::{backoff, failure_policy, Config};
    let policy =
        failure_policy::consecutive_failures(5, backoff::constant(Duration::from_secs(60)));
    Config::new().failure_policy(policy).build()
}

fn recloser_default() -> recloser::Recloser {
    recloser::Recloser::default()
}

/// Runs `iters` calls split over `threads` threads; returns the wall time.
fn parallel(threads: u64, iters: u64, call: impl Fn() + Sync) -> Duration {
    let per_thread = iters / threads + 1;
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            s.spawn(|| {
                for _ in 0..per_thread {
                    call();
                }
            });
        }
    });
    start.elapsed()
}

mod closed {
    use super::*;

    pub(crate) fn bench(c: &mut Criterion) {
        let mut g = c.benchmark_group("closed_success");
        g.throughput(Throughput::Elements(1));
        g.bench_function("baseline_direct_call", |b| b.iter(|| op().is_ok()));

        let fg = failgate_consecutive();
        g.bench_function("failgate_consecutive", |b| b.iter(|| fg.call(op).is_ok()));

        let fg = failgate::CircuitBreaker::builder()
            .failure_rate(0.5)
            .window(failgate::Window::count(100))
            .build()
            .unwrap();
        g.bench_function("failgate_count_window", |b| b.iter(|| fg.call(op).is_ok()));

        let fg = failgate::CircuitBreaker::builder()
            .failure_rate(0.5)
            .window(failgate::Window::time(Duration::from_secs(60)))
            .build()
            .unwrap();
        g.bench_function("failgate_time_window", |b| b.iter(|| fg.call(op).is_ok()));

        let fg = failgate::CircuitBreaker::builder()
            .slow_calls(Duration::from_secs(1), 0.5)
            .build()
            .unwrap();
        g.bench_function("failgate_slow_calls", |b| b.iter(|| fg.call(op).is_ok()));

        let fs = failsafe_consecutive();
        g.bench_function("failsafe_consecutive", |b| {
            b.iter(|| failsafe::CircuitBreaker::call(&fs, op).is_ok())
        });

        let rc = recloser_default();
        g.bench_function("recloser_default", |b| b.iter(|| rc.call(op).is_ok()));
        g.finish();
    }
}

mod open {
    use super::*;

    pub(crate) fn bench(c: &mut Criterion) {
        let mut g = c.benchmark_group("open_rejection");
        g.throughput(Throughput::Elements(1));

        let fg = failgate_consecutive();
        for _ in 0..5 {
            let _ = fg.call(|| Err::<(), ()>(()));
        }
        assert_eq!(fg.state(), failgate::State::Open);
        g.bench_function("failgate", |b| b.iter(|| fg.call(op).is_ok()));

        let fs = failsafe_consecutive();
        for _ in 0..5 {
            let _ = failsafe::CircuitBreaker::call(&fs, || Err::<(), ()>(()));
        }
        g.bench_function("failsafe", |b| {
            b.iter(|| failsafe::CircuitBreaker::call(&fs, op).is_ok())
        });

        let rc = recloser::Recloser::custom().closed_len(1).build();
        for _ in 0..3 {
            let _ = rc.call(|| Err::<(), ()>(()));
        }
        g.bench_function("recloser", |b| b.iter(|| rc.call(op).is_ok()));
        g.finish();
    }
}

mod half_open {
    use super::*;

    pub(crate) fn bench(c: &mut Criterion) {
        let mut g = c.benchmark_group("half_open");
        g.throughput(Throughput::Elements(1));
        let clock = failgate::ManualClock::new();
        let fg = failgate::CircuitBreaker::builder()
            .consecutive_failures(1)
            .open_for(Duration::from_secs(1))
            .half_open_permits(4)
            .clock(clock.clone())
            .build()
            .unwrap();
        let _ = fg.call(|| Err::<(), ()>(()));
        clock.advance(Duration::from_secs(1));
        assert_eq!(fg.state(), failgate::State::HalfOpen);
        // Admit a probe and give its slot back: two compare-and-swaps.
        g.bench_function("failgate_probe_admit_and_release", |b| {
            b.iter(|| fg.try_acquire().unwrap().ignore())
        });
        // All slots taken: the refusal path.
        let _held: Vec<_> = (0..4).map(|_| fg.try_acquire().unwrap()).collect();
        g.bench_function("failgate_probe_refused", |b| {
            b.iter(|| black_box(fg.try_acquire().is_err()))
        });
        g.finish();
    }
}

mod two_threads {
    use super::*;

    pub(crate) fn bench(c: &mut Criterion) {
        let mut g = c.benchmark_group("two_threads_closed_success");
        g.throughput(Throughput::Elements(1));
        g.bench_function("baseline_direct_call", |b| {
            b.iter_custom(|iters| {
                parallel(2, iters, || {
                    black_box(op().is_ok());
                })
            })
        });
        let fg = failgate_consecutive();
        g.bench_function("failgate_consecutive", |b| {
            b.iter_custom(|iters| {
                parallel(2, iters, || {
                    black_box(fg.call(op).is_ok());
                })
            })
        });
        let fg = failgate::CircuitBreaker::builder()
            .failure_rate(0.5)
            .window(failgate::Window::count(100))
            .build()
            .unwrap();
        g.bench_function("failgate_count_window", |b| {
            b.iter_custom(|iters| {
                parallel(2, iters, || {
                    black_box(fg.call(op).is_ok());
                })
            })
        });
        let fs = failsafe_consecutive();
        g.bench_function("failsafe_consecutive", |b| {
            b.iter_custom(|iters| {
                parallel(2, iters, || {
                    black_box(failsafe::CircuitBreaker::call(&fs, op).is_ok());
                })
            })
        });
        let rc = recloser_default();
        g.bench_function("recloser_default", |b| {
            b.iter_custom(|iters| {
                parallel(2, iters, || {
                    black_box(rc.call(op).is_ok());
                })
            })
        });
        g.finish();
    }
}

#[cfg(feature = "tower")]
mod tower_service {
    use super::*;
    use std::future::Future;
    use std::task::{Context, Poll, Waker};
    use tower::{Layer, Service};

    /// Polls a future that is ready at once.
    fn now<F: Future>(f: F) -> F::Output {
        let mut f = std::pin::pin!(f);
        match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
            Poll::Ready(out) => out,
            Poll::Pending => unreachable!("the mock service answers at once"),
        }
    }

    pub(crate) fn bench(c: &mut Criterion) {
        let mut g = c.benchmark_group("tower_service");
        g.throughput(Throughput::Elements(1));
        let inner = tower::service_fn(|x: u64| std::future::ready(Ok::<u64, ()>(x)));

        let mut bare = inner;
        g.bench_function("bare_service", |b| {
            b.iter(|| now(bare.call(black_box(1))).is_ok())
        });
        let mut layered =
            failgate::tower::CircuitBreakerLayer::new(failgate_consecutive()).layer(inner);
        g.bench_function("failgate_layer_consecutive", |b| {
            b.iter(|| now(layered.call(black_box(1))).is_ok())
        });
        // The same breaker leaked: response futures borrow it, no reference counting.
        let mut leaked =
            failgate::tower::CircuitBreakerLayer::new(failgate_consecutive().leak()).layer(inner);
        g.bench_function("failgate_layer_consecutive_leaked", |b| {
            b.iter(|| now(leaked.call(black_box(1))).is_ok())
        });
        g.finish();
    }
}

#[cfg(not(feature = "tower"))]
mod tower_service {
    pub(crate) fn bench(_: &mut criterion::Criterion) {}
}

/// Per-key breakers: a key already in the map, and an unseen key on a full map (each
/// unseen key evicts an idle one, or, when every breaker holds failures, gets an
/// untracked breaker after the sweep's bounded search).
#[cfg(feature = "tower")]
mod per_key {
    use super::*;
    use failgate::tower::per_key::BreakerMap;

    fn full_map(keys: u64, failing: bool) -> BreakerMap<u64> {
        let template = failgate::CircuitBreaker::builder()
            .name("hosts")
            .consecutive_failures(5);
        let map = BreakerMap::new(template, keys as usize).unwrap();
        for key in 0..keys {
            let breaker = map.get(&key);
            let _ = breaker.call(|| if failing { Err(()) } else { Ok(()) });
        }
        map.evict_idle(); // clears the marks of insertion: nothing was used since
        map
    }

    pub(crate) fn bench(c: &mut Criterion) {
        let mut g = c.benchmark_group("per_key");
        g.throughput(Throughput::Elements(1));
        let map = full_map(1_000, false);
        g.bench_function("existing_key", |b| {
            b.iter(|| map.get(black_box(&500)).call(op).is_ok())
        });
        for (keys, failing) in [(1_000, false), (100_000, false), (100_000, true)] {
            let map = full_map(keys, failing);
            let mut next = keys;
            let name = match failing {
                false => format!("unseen_key_full_map_{keys}"),
                true => format!("unseen_key_full_map_{keys}_all_failing"),
            };
            g.bench_function(name, |b| {
                b.iter(|| {
                    next += 1;
                    map.get(black_box(&next)).call(op).is_ok()
                })
            });
        }
        g.finish();
    }
}

#[cfg(not(feature = "tower"))]
mod per_key {
    pub(crate) fn bench(_: &mut criterion::Criterion) {}
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = closed::bench, open::bench, half_open::bench, two_threads::bench, tower_service::bench,
        per_key::bench
}
criterion_main!(benches);
