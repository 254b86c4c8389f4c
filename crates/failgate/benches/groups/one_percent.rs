//! Two threads on one breaker with a count window of 100 (a 50% failure rate trips it),
//! each thread failing every 100th call: the window fills and slides, and never trips.
use crate::peers::tower_resilience_peer;
use crate::{black_box, parallel_with};
use criterion::{Criterion, Throughput};

/// The guarded operation, failing on every 100th call of a thread. The failure is the
/// last of each hundred: a sample of fewer than 100 calls per thread (criterion starts
/// with such samples) has none, so no sample fails more than 1% of its calls.
fn op_at(i: u64) -> Result<u64, ()> {
    match black_box(i) % 100 {
        99 => Err(()),
        _ => Ok(1),
    }
}

pub(crate) fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("two_threads_one_percent_failures");
    g.throughput(Throughput::Elements(1));
    let fg = crate::failgate_count_window();
    g.bench_function("failgate_count_window", |b| {
        b.iter_custom(|iters| {
            parallel_with(
                2,
                iters,
                || (),
                |_, i| {
                    black_box(fg.call(|| op_at(i)).is_ok());
                },
            )
        })
    });
    assert_eq!(fg.state(), failgate::State::Closed);

    // The limit for this path on this machine: the same calls, but each thread on a
    // breaker of its own, so the two share nothing. One breaker can at best match it.
    g.bench_function("failgate_count_window_one_breaker_each", |b| {
        b.iter_custom(|iters| {
            parallel_with(2, iters, crate::failgate_count_window, |fg, i| {
                black_box(fg.call(|| op_at(i)).is_ok());
            })
        })
    });

    // Recloser's default: a 50% failure rate over a ring buffer of the last 100 calls.
    let rc = recloser::Recloser::default();
    g.bench_function("recloser_count_window", |b| {
        b.iter_custom(|iters| {
            parallel_with(
                2,
                iters,
                || (),
                |_, i| {
                    black_box(rc.call(|| op_at(i)).is_ok());
                },
            )
        })
    });

    let tr = tower_resilience_peer::count_window();
    g.bench_function("tower_resilience_layer_count_window", |b| {
        b.iter_custom(|iters| {
            parallel_with(
                2,
                iters,
                || tr.clone(),
                |tr, i| {
                    // The echo service fails on request 0.
                    let req = u64::from(op_at(i).is_ok());
                    black_box(tower_resilience_peer::ready_call(tr, req));
                },
            )
        })
    });
    assert!(!tr.is_open());
    g.finish();
}
