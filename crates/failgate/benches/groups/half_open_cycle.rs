//! One full cycle per iteration: a failure trips the breaker, the open duration passes,
//! and one successful probe closes it again. Failgate runs on a `ManualClock` (the
//! iteration advances it); the peers, which read the real clock, run with a zero open
//! duration, so no iteration waits.
use crate::peers::{
    breaker_machines_peer, circuitbreaker_rs_peer, failsafe_peer, now, seatbelt_peer,
    tower_resilience_peer, Failure,
};
use crate::{op, op_e};
use criterion::{Criterion, Throughput};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

pub(crate) fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("half_open_cycle");
    g.throughput(Throughput::Elements(1));
    failgate(&mut g);
    peers_with_a_call(&mut g);
    services(&mut g);
    g.finish();
}

type Group<'a> = criterion::BenchmarkGroup<'a, criterion::measurement::WallTime>;

fn failgate(g: &mut Group<'_>) {
    let clock = failgate::ManualClock::new();
    let fg = failgate::CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(Duration::from_secs(1))
        .half_open_permits(1)
        .clock(clock.clone())
        .build()
        .unwrap();
    let cycle = || {
        let _ = fg.call(|| Err::<(), ()>(()));
        clock.advance(Duration::from_secs(1));
        fg.call(op).is_ok()
    };
    let _ = fg.call(|| Err::<(), ()>(()));
    assert_eq!(fg.state(), failgate::State::Open);
    clock.advance(Duration::from_secs(1));
    assert!(fg.call(op).is_ok());
    assert_eq!(fg.state(), failgate::State::Closed);
    g.bench_function("failgate", |b| b.iter(cycle));
    assert_eq!(fg.state(), failgate::State::Closed);
}

fn peers_with_a_call(g: &mut Group<'_>) {
    let fs = failsafe_peer::consecutive(1, Duration::ZERO);
    g.bench_function("failsafe", |b| {
        b.iter(|| {
            let _ = failsafe::CircuitBreaker::call(&fs, || Err::<(), ()>(()));
            failsafe::CircuitBreaker::call(&fs, op).is_ok()
        })
    });

    let rc = recloser::Recloser::custom()
        .closed_len(1)
        .half_open_len(1)
        .open_wait(Duration::ZERO)
        .build();
    g.bench_function("recloser", |b| {
        b.iter(|| {
            let _ = rc.call(|| Err::<(), ()>(()));
            rc.call(op).is_ok()
        })
    });

    let cb = circuitbreaker_rs_peer::consecutive(1, Duration::ZERO);
    let _ = cb.call(|| Err::<(), _>(Failure));
    assert_eq!(cb.current_state(), circuitbreaker_rs::State::Open);
    assert!(cb.call(op_e).is_ok());
    assert_eq!(cb.current_state(), circuitbreaker_rs::State::Closed);
    g.bench_function("circuitbreaker_rs", |b| {
        b.iter(|| {
            let _ = cb.call(|| Err::<(), _>(Failure));
            cb.call(op_e).is_ok()
        })
    });

    let mut bm = breaker_machines_peer::consecutive(1, 0.0);
    let _ = bm.call(|| Err::<(), ()>(()));
    assert!(bm.is_open());
    assert!(bm.call(op).is_ok());
    assert!(bm.is_closed());
    g.bench_function("breaker_machines", |b| {
        b.iter(|| {
            let _ = bm.call(|| Err::<(), ()>(()));
            bm.call(op).is_ok()
        })
    });
}

/// A failure (request 0) trips it, a success (request 1) probes and closes it.
fn seatbelt_cycle(sb: &impl layered::Service<u64, Out = Result<u64, ()>>) -> bool {
    let _ = now(sb.execute(0));
    now(sb.execute(1)).is_ok()
}

fn services(g: &mut Group<'_>) {
    let (clock, _driver) = seatbelt_peer::clock();
    // Seatbelt has no state to read: count its transitions on a twin breaker.
    let (opened, closed) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicU64::new(0)));
    let (o, c) = (opened.clone(), closed.clone());
    let twin = seatbelt_peer::tripping(&clock, Duration::ZERO)
        .on_opened(move |_, _| {
            o.fetch_add(1, Ordering::Relaxed);
        })
        .on_closed(move |_, _| {
            c.fetch_add(1, Ordering::Relaxed);
        });
    let twin = seatbelt_peer::service(&twin);
    for _ in 0..3 {
        assert!(seatbelt_cycle(&twin));
    }
    assert_eq!(
        (
            opened.load(Ordering::Relaxed),
            closed.load(Ordering::Relaxed)
        ),
        (3, 3)
    );
    let sb = seatbelt_peer::service(&seatbelt_peer::tripping(&clock, Duration::ZERO));
    g.bench_function("seatbelt", |b| b.iter(|| seatbelt_cycle(&sb)));

    let mut tr = tower_resilience_peer::consecutive(1, Duration::ZERO);
    tower_resilience_peer::ready_call(&mut tr, 0);
    assert!(tr.is_open());
    assert!(tower_resilience_peer::ready_call(&mut tr, 1));
    assert!(!tr.is_open());
    g.bench_function("tower_resilience_layer", |b| {
        b.iter(|| {
            tower_resilience_peer::ready_call(&mut tr, 0);
            tower_resilience_peer::ready_call(&mut tr, 1)
        })
    });
}
