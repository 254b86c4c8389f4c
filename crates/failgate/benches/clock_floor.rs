//! The hardware floor under the clock-reading paths: what one time-stamp-counter read,
//! one quanta reading (raw, and scaled to nanoseconds), one `std::time::Instant::now`
//! and one uncontended `fetch_add` cost on this machine. A breaker path that reads the
//! clock and bumps a counter cannot be cheaper than the sum of its parts.
//!
//! ```sh
//! cargo bench -p failgate --bench clock_floor -- --warm-up-time 1 --measurement-time 3
//! ```
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion, Throughput};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("clock_floor");
    g.throughput(Throughput::Elements(1));

    #[cfg(target_arch = "x86_64")]
    {
        g.bench_function("rdtsc", |b| b.iter(|| black_box(rdtsc())));
        // Two reads per iteration, as slow-call detection makes (admission and record).
        g.bench_function("rdtsc_twice", |b| {
            b.iter(|| {
                let start = black_box(rdtsc());
                black_box(rdtsc().wrapping_sub(start))
            })
        });
        // One read and one counter increment, as a time window's success makes.
        let counter = AtomicU64::new(0);
        g.bench_function("rdtsc_and_fetch_add", |b| {
            b.iter(|| {
                black_box(rdtsc());
                black_box(counter.fetch_add(1, Relaxed))
            })
        });
        g.bench_function("rdtscp", |b| b.iter(|| black_box(rdtscp())));
    }

    let clock = quanta::Clock::new();
    g.bench_function("quanta_raw", |b| b.iter(|| black_box(clock.raw())));
    let origin = clock.raw();
    g.bench_function("quanta_raw_delta_as_nanos", |b| {
        b.iter(|| black_box(clock.delta_as_nanos(origin, clock.raw())))
    });
    g.bench_function("quanta_now", |b| b.iter(|| black_box(clock.now())));

    let system = failgate::SystemClock::new();
    g.bench_function("failgate_system_clock", |b| {
        b.iter(|| black_box(failgate::Clock::now_nanos(&system)))
    });

    g.bench_function("std_instant_now", |b| b.iter(|| black_box(Instant::now())));

    let counter = AtomicU64::new(0);
    g.bench_function("fetch_add_uncontended", |b| {
        b.iter(|| black_box(counter.fetch_add(1, Relaxed)))
    });
    let word = AtomicU64::new(0);
    g.bench_function("relaxed_load", |b| b.iter(|| black_box(word.load(Relaxed))));
    g.finish();
}

/// One read of the time-stamp counter.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn rdtsc() -> u64 {
    // Reading the counter has no precondition; older toolchains still mark it unsafe.
    #[allow(unused_unsafe, unsafe_code)]
    unsafe {
        core::arch::x86_64::_rdtsc()
    }
}

/// One read of the time-stamp counter that waits for earlier instructions, and the
/// processor's id (`TSC_AUX`) with it.
#[cfg(target_arch = "x86_64")]
#[inline(always)]
fn rdtscp() -> (u64, u32) {
    let mut aux = 0u32;
    // SAFETY: `aux` is a valid place for the instruction to write the processor's id.
    #[allow(unsafe_code)]
    let t = unsafe { core::arch::x86_64::__rdtscp(&mut aux) };
    (t, aux)
}

criterion_group! {
    name = benches;
    config = Criterion::default()
        .warm_up_time(Duration::from_millis(500))
        .measurement_time(Duration::from_secs(2));
    targets = bench
}
criterion_main!(benches);
