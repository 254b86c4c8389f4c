//! Criterion benchmarks: the closed, open and half-open paths, single-threaded and with
//! two threads on one breaker, each beside the peers: failsafe 1.3, recloser 1.4,
//! circuitbreaker-rs 0.1, breaker-machines 0.17, seatbelt 0.11 (its breaker, and its
//! tower layer) and tower-resilience-circuitbreaker 0.14 (a tower layer only).
//!
//! Run with `cargo bench -p failgate --bench breaker` (`--features tower` adds the
//! `tower_service` and `per_key` groups). Every group has
//! `Throughput::Elements(1)`: criterion prints time per call and calls per second.
//!
//! Which peer runs which path (benchmark group), and why not where it does not
//! (`benches/NOTES.md` has the same table):
//!
//! | group                            | failsafe | recloser | cb-rs | breaker-machines | seatbelt | tower-resilience |
//! |----------------------------------|----------|----------|-------|------------------|----------|------------------|
//! | closed_success                   | yes      | yes      | yes   | yes              | yes (1)  | tower only (2)   |
//! | two_threads_closed_success       | yes      | yes      | yes   | no (3)           | yes (1)  | yes, clones (2)  |
//! | two_threads_one_percent_failures | no (4)   | yes      | no (4)| no (3)           | no (4)   | yes, clones (2)  |
//! | open_rejection                   | yes      | yes      | yes   | yes              | yes      | yes (2)          |
//! | tower_service                    | no (5)   | no (5)   | no (5)| no (5)           | yes      | yes              |
//! | half_open_cycle                  | yes (6)  | yes (6)  | yes (6)| yes (6)         | yes (6)  | yes (2, 6)       |
//!
//! 1. Seatbelt has no consecutive-failure policy: its breaker (a `layered` service,
//!    polled once with a no-op waker) runs with its defaults, a failure rate over 30 s.
//! 2. tower-resilience-circuitbreaker is only a tower layer, so it runs as a service
//!    (`poll_ready` then `call`, as tower's contract has it) on every path; its 1-thread
//!    closed path is the `tower_service` group. Each thread drives a clone of the
//!    service; clones share one circuit.
//! 3. breaker-machines' `call` takes `&mut self`: one breaker cannot be shared by two
//!    threads without a lock around it, which would measure the lock.
//! 4. No count window: failsafe counts consecutive failures or a success rate over a
//!    time window, seatbelt a failure rate over a time window, circuitbreaker-rs's
//!    default policy a rate since the last reset.
//! 5. No tower layer.
//! 6. Only failgate takes a manual clock; the peers run with a zero open duration on
//!    the real clock (no waiting, but the state machine is the same). Seatbelt's
//!    half-open uses its "quick" mode (one probe closes).
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::time::{Duration, Instant};

mod groups;
mod peers;
use peers::{breaker_machines_peer, circuitbreaker_rs_peer, seatbelt_peer, tower_resilience_peer};

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

/// A 50% failure rate over the last 100 calls.
fn failgate_count_window() -> failgate::CircuitBreaker {
    failgate::CircuitBreaker::builder()
        .failure_rate(0.5)
        .window(failgate::Window::count(100))
        .build()
        .unwrap()
}

/// A 50% failure rate over the last 60 s, in 10 buckets of 6 s.
fn failgate_time_window() -> failgate::CircuitBreaker {
    failgate::CircuitBreaker::builder()
        .failure_rate(0.5)
        .window(failgate::Window::time(Duration::from_secs(60)))
        .build()
        .unwrap()
}

fn failsafe_consecutive() -> impl failsafe::CircuitBreaker + Clone + Send + Sync {
    peers::failsafe_peer::consecutive(5, Duration::from_secs(60))
}

/// `op` for the peers whose error type must be a `std::error::Error`.
fn op_e() -> Result<u64, peers::Failure> {
    Ok(black_box(1))
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

/// Like `parallel`, with a per-thread state made by `make` and the thread's call index.
fn parallel_with<S: Send>(
    threads: u64,
    iters: u64,
    mut make: impl FnMut() -> S,
    call: impl Fn(&mut S, u64) + Sync,
) -> Duration {
    let per_thread = iters / threads + 1;
    let states: Vec<S> = (0..threads).map(|_| make()).collect();
    let start = Instant::now();
    std::thread::scope(|s| {
        for mut state in states {
            let call = &call;
            s.spawn(move || {
                for i in 0..per_thread {
                    call(&mut state, i);
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

        // Totals kept without an observer: one add on the thread's stripe per call.
        let fg = failgate::CircuitBreaker::builder()
            .consecutive_failures(5)
            .totals(true)
            .build()
            .unwrap();
        g.bench_function("failgate_consecutive_totals", |b| {
            b.iter(|| fg.call(op).is_ok())
        });

        let fg = failgate_count_window();
        g.bench_function("failgate_count_window", |b| b.iter(|| fg.call(op).is_ok()));

        let fg = failgate_time_window();
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

        let cb = circuitbreaker_rs_peer::consecutive(5, Duration::from_secs(60));
        g.bench_function("circuitbreaker_rs_consecutive", |b| {
            b.iter(|| cb.call(op_e).is_ok())
        });
        let mut bm = breaker_machines_peer::consecutive(5, 60.0);
        g.bench_function("breaker_machines_consecutive", |b| {
            b.iter(|| bm.call(op).is_ok())
        });
        let (clock, _driver) = seatbelt_peer::clock();
        let sb = seatbelt_peer::service(&seatbelt_peer::layer(&clock));
        g.bench_function("seatbelt_default", |b| {
            b.iter(|| peers::now(layered::Service::execute(&sb, black_box(1))).is_ok())
        });
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

        let fg = failgate::CircuitBreaker::builder()
            .consecutive_failures(5)
            .totals(true)
            .build()
            .unwrap();
        for _ in 0..5 {
            let _ = fg.call(|| Err::<(), ()>(()));
        }
        assert_eq!(fg.state(), failgate::State::Open);
        g.bench_function("failgate_totals", |b| b.iter(|| fg.call(op).is_ok()));

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

        let cb = circuitbreaker_rs_peer::consecutive(5, Duration::from_secs(60));
        for _ in 0..5 {
            let _ = cb.call(|| Err::<(), _>(peers::Failure));
        }
        assert_eq!(cb.current_state(), circuitbreaker_rs::State::Open);
        g.bench_function("circuitbreaker_rs", |b| b.iter(|| cb.call(op_e).is_ok()));

        let mut bm = breaker_machines_peer::consecutive(5, 60.0);
        for _ in 0..5 {
            let _ = bm.call(|| Err::<(), ()>(()));
        }
        assert!(bm.is_open());
        g.bench_function("breaker_machines", |b| b.iter(|| bm.call(op).is_ok()));

        let (clock, _driver) = seatbelt_peer::clock();
        let layer = seatbelt_peer::tripping(&clock, Duration::from_secs(60));
        let sb = seatbelt_peer::service(&layer);
        let _ = peers::now(layered::Service::execute(&sb, 0));
        g.bench_function("seatbelt", |b| {
            b.iter(|| peers::now(layered::Service::execute(&sb, black_box(1))).is_ok())
        });

        let mut tr = tower_resilience_peer::consecutive(5, Duration::from_secs(60));
        for _ in 0..5 {
            tower_resilience_peer::ready_call(&mut tr, 0);
        }
        assert!(tr.is_open());
        g.bench_function("tower_resilience_layer", |b| {
            b.iter(|| tower_resilience_peer::ready_call(&mut tr, black_box(1)))
        });
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
        // The limit for this path on this machine: each thread on a breaker of its own,
        // sharing nothing. One breaker whose path writes nothing shared can at best
        // match it.
        g.bench_function("failgate_consecutive_one_breaker_each", |b| {
            b.iter_custom(|iters| {
                parallel_with(2, iters, failgate_consecutive, |fg, _| {
                    black_box(fg.call(op).is_ok());
                })
            })
        });
        let fg = failgate_count_window();
        g.bench_function("failgate_count_window", |b| {
            b.iter_custom(|iters| {
                parallel(2, iters, || {
                    black_box(fg.call(op).is_ok());
                })
            })
        });
        let fg = failgate_time_window();
        g.bench_function("failgate_time_window", |b| {
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
        let cb = circuitbreaker_rs_peer::consecutive(5, Duration::from_secs(60));
        g.bench_function("circuitbreaker_rs_consecutive", |b| {
            b.iter_custom(|iters| {
                parallel(2, iters, || {
                    black_box(cb.call(op_e).is_ok());
                })
            })
        });
        let (clock, _driver) = seatbelt_peer::clock();
        let sb = seatbelt_peer::service(&seatbelt_peer::layer(&clock));
        g.bench_function("seatbelt_default", |b| {
            b.iter_custom(|iters| {
                parallel(2, iters, || {
                    black_box(peers::now(layered::Service::execute(&sb, black_box(1))).is_ok());
                })
            })
        });
        let tr = tower_resilience_peer::consecutive(5, Duration::from_secs(60));
        g.bench_function("tower_resilience_layer", |b| {
            b.iter_custom(|iters| {
                parallel_with(
                    2,
                    iters,
                    || tr.clone(),
                    |tr, _| {
                        black_box(tower_resilience_peer::ready_call(tr, black_box(1)));
                    },
                )
            })
        });
        g.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = closed::bench, open::bench, half_open::bench, two_threads::bench, groups::tower_service::bench,
        groups::per_key::bench, groups::one_percent::bench, groups::half_open_cycle::bench
}
criterion_main!(benches);
