//! No state is ever leaked: a million trip/recover cycles leave the live heap exactly
//! where it was, and dropping the breaker gives back everything it took. Measured with
//! the counting global allocator every allocation test shares (`failgate-testkit`).

// The test kit every crate's tests share: crates/failgate-testkit's sources, linked in
// (tests/testkit/ holds symlinks) so that the packaged crate tests on its own.
#[allow(dead_code, unreachable_pub)]
mod testkit;

use failgate::{Backoff, CircuitBreaker, Event, ManualClock, State, Window};
use std::sync::atomic::{AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

#[global_allocator]
static ALLOC: crate::testkit::alloc::Counting = crate::testkit::alloc::Counting;

/// Bytes this thread has allocated and not yet freed. The breakers under test live and
/// die on the test's own thread.
fn live() -> isize {
    crate::testkit::alloc::live_bytes()
}

/// Allocations this thread has made.
fn allocation_count() -> usize {
    crate::testkit::alloc::allocation_count()
}

const CYCLES: u64 = 1_000_000;
const WAIT: Duration = Duration::from_secs(1);

/// One trip/recover cycle: failures trip it, a call is refused, the clock passes the
/// wait, and the probes close it (one through an owned permit, one through `call`).
fn cycle(b: &CircuitBreaker, clock: &ManualClock) {
    let _ = b.call(|| Err::<(), u32>(1));
    let _ = b.call(|| Err::<(), u32>(2));
    assert_eq!(b.state(), State::Open);
    assert!(b.call(|| Ok::<(), u32>(())).is_err());
    clock.advance(WAIT);
    let probe = b.try_acquire_owned().expect("half-open admits a probe");
    assert!(probe.is_probe());
    probe.success();
    b.call(|| Ok::<(), u32>(())).expect("the second probe");
    assert_eq!(b.state(), State::Closed);
    let _ = b.snapshot();
}

/// Runs `CYCLES` cycles on the breaker `build` makes and checks the live heap; returns
/// a line for the report.
fn measure(name: &str, build: impl FnOnce(ManualClock) -> CircuitBreaker) -> String {
    let clock = ManualClock::new();
    let before_build = live();
    let breaker = build(clock.clone());

    for _ in 0..1_000 {
        cycle(&breaker, &clock); // warm-up
    }
    let warm = live();
    let allocations = allocation_count();
    let started = Instant::now();
    for _ in 0..CYCLES {
        cycle(&breaker, &clock);
    }
    let elapsed = started.elapsed();
    let after = live();
    let allocations = allocation_count() - allocations;
    let generation = breaker.snapshot().generation;
    assert_eq!(
        after - warm,
        0,
        "{name}: the live heap grew by {} bytes over {CYCLES} cycles",
        after - warm
    );
    assert_eq!(
        generation,
        3 * (CYCLES + 1_000),
        "{name}: three transitions a cycle"
    );

    drop(breaker);
    let dropped = live();
    assert_eq!(
        dropped - before_build,
        0,
        "{name}: dropping the breaker gives back every byte it took"
    );
    format!(
        "{name}: {CYCLES} cycles in {elapsed:?}; live heap before build {before_build}, \
         after warm-up {warm}, after the cycles {after} (growth {}), after drop {dropped}; \
         {allocations} allocations during the cycles",
        after - warm
    )
}

#[test]
fn a_million_trip_recover_cycles_leak_nothing() {
    let events = Arc::new(AtomicU64::new(0));
    let seen = events.clone();
    let every_feature = measure("time window, every feature", |clock| {
        CircuitBreaker::builder()
            .name("leak")
            .consecutive_failures(2)
            .failure_rate(0.9)
            .slow_calls(Duration::from_secs(5), 0.9)
            .window(Window::time(Duration::from_secs(10)).buckets(10))
            .minimum_calls(50)
            .backoff(Backoff::exponential(WAIT, 8 * WAIT))
            .half_open_permits(2)
            .half_open_timeout(Duration::from_secs(30))
            .clock(clock)
            .observer(move |_: &Event<'_>| {
                seen.fetch_add(1, SeqCst);
            })
            .build()
            .unwrap()
    });
    let count_window = measure("count window, failure rate", |clock| {
        CircuitBreaker::builder()
            .failure_rate(1.0)
            .window(Window::count(100))
            .minimum_calls(2)
            .open_for(WAIT)
            .half_open_permits(2)
            .clock(clock)
            .build()
            .unwrap()
    });
    // Printed last: the test harness's output capture allocates.
    eprintln!("{every_feature}");
    eprintln!("{count_window}");
    eprintln!("observer events: {}", events.load(SeqCst));
}
