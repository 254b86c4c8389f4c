//! Abandoned permits: a dropped permit frees its probe slot and counts nothing.

use failgate::{CircuitBreaker, EventKind, ManualClock, Outcome, State};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::Duration;

fn half_open(permits: u32) -> (CircuitBreaker, ManualClock) {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(Duration::from_secs(1))
        .half_open_permits(permits)
        .clock(clock.clone())
        .build()
        .unwrap();
    let _ = b.call(|| Err::<(), ()>(()));
    clock.advance(Duration::from_secs(1));
    (b, clock)
}

#[test]
fn an_abandoned_probe_gives_its_slot_back() {
    let (b, _clock) = half_open(1);
    let probe = b.try_acquire().unwrap();
    assert!(b.try_acquire().is_err());
    drop(probe);
    assert_eq!(b.state(), State::HalfOpen, "abandoning decides nothing");
    let again = b.try_acquire().expect("the slot is free again");
    again.success();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn an_ignored_probe_gives_its_slot_back() {
    let (b, _clock) = half_open(2);
    let p1 = b.try_acquire().unwrap();
    let p2 = b.try_acquire().unwrap();
    p1.ignore();
    assert_eq!(b.snapshot().half_open_probes, 1);
    p2.success();
    let p3 = b.try_acquire().unwrap();
    assert!(
        b.try_acquire().is_err(),
        "one success holds its slot, one in flight"
    );
    p3.record(Outcome::Success);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn a_panicking_call_abandons_its_permit() {
    let (b, _clock) = half_open(1);
    let b2 = b.clone();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        let _ = b2.call(|| -> Result<(), ()> { panic!("boom") });
    }));
    assert!(result.is_err());
    assert_eq!(b.snapshot().half_open_probes, 0);
    assert!(b.try_acquire().is_ok());
}

#[test]
fn abandoned_closed_permits_count_nothing_and_emit_an_event() {
    let abandoned = Arc::new(AtomicUsize::new(0));
    let seen = abandoned.clone();
    let b = CircuitBreaker::builder()
        .consecutive_failures(1)
        .observer(move |e: &failgate::Event<'_>| {
            if e.kind == EventKind::Abandoned {
                seen.fetch_add(1, Ordering::Relaxed);
            }
        })
        .build()
        .unwrap();
    for _ in 0..10 {
        drop(b.try_acquire().unwrap());
    }
    assert_eq!(abandoned.load(Ordering::Relaxed), 10);
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn a_leaked_breaker_behaves_the_same_and_leaks_once() {
    let (b, _clock) = half_open(1);
    assert!(!b.is_leaked());
    let leaked = b.clone().leak();
    assert!(leaked.is_leaked() && leaked.clone().is_leaked());
    assert!(leaked.same_breaker(&b), "the same breaker, not a copy");
    let (other, _) = half_open(1);
    assert!(!leaked.same_breaker(&other) && !b.same_breaker(&other));
    assert!(
        leaked.clone().leak().same_breaker(&b),
        "leaking again is harmless"
    );
    assert!(!b.is_leaked(), "other handles are unchanged");

    // Owned permits from the leaked handle: one abandoned on another thread gives its
    // probe slot back, the next one decides, and every handle sees the result.
    let probe = leaked.try_acquire_owned().unwrap();
    assert!(probe.is_probe());
    assert!(b.try_acquire().is_err(), "the only slot is taken");
    std::thread::spawn(move || drop(probe)).join().unwrap();
    assert_eq!(b.snapshot().half_open_probes, 0);
    let probe = leaked.try_acquire_owned().unwrap();
    std::thread::spawn(move || probe.success()).join().unwrap();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn permits_show_their_generation_and_kind_when_debugged() {
    let (b, _clock) = half_open(1);
    let probe = b.try_acquire().unwrap();
    let shown = format!("{probe:?}");
    assert!(
        shown.starts_with("Permit")
            && shown.contains("generation: 2")
            && shown.contains("probe: true"),
        "{shown}"
    );
    drop(probe);
    let owned = b.try_acquire_owned().unwrap();
    let shown = format!("{owned:?}");
    assert!(
        shown.starts_with("OwnedPermit") && shown.contains("probe: true"),
        "{shown}"
    );
}
