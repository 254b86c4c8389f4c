//! Half-open admission under concurrency: never more than n probes.

use failgate::{CircuitBreaker, ManualClock, State};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Barrier};
use std::time::Duration;

#[test]
fn half_open_never_admits_more_than_n_probes_over_many_cycles() {
    for permits in 1..=4u32 {
        let clock = ManualClock::new();
        let breaker = CircuitBreaker::builder()
            .consecutive_failures(1)
            .open_for(Duration::from_secs(1))
            .half_open_permits(permits)
            .clock(clock.clone())
            .build()
            .unwrap();
        let threads = 4;
        let cycles = 300;
        let barrier = Arc::new(Barrier::new(threads + 1));
        let in_flight = Arc::new(AtomicUsize::new(0));
        let max_seen = Arc::new(AtomicUsize::new(0));
        let admitted = Arc::new(AtomicUsize::new(0));
        let stop = Arc::new(AtomicBool::new(false));
        let handles: Vec<_> = (0..threads)
            .map(|_| {
                let (b, barrier, in_flight, max_seen, admitted, stop) = (
                    breaker.clone(),
                    barrier.clone(),
                    in_flight.clone(),
                    max_seen.clone(),
                    admitted.clone(),
                    stop.clone(),
                );
                std::thread::spawn(move || loop {
                    barrier.wait(); // a cycle starts: the breaker is half-open
                    if stop.load(Ordering::Relaxed) {
                        return;
                    }
                    let mut held = Vec::new();
                    for _ in 0..permits + 2 {
                        if let Ok(p) = b.try_acquire() {
                            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                            max_seen.fetch_max(now, Ordering::SeqCst);
                            admitted.fetch_add(1, Ordering::SeqCst);
                            held.push(p);
                        }
                    }
                    // Give the slots back without an outcome, then report the cycle done.
                    in_flight.fetch_sub(held.len(), Ordering::SeqCst);
                    drop(held);
                    barrier.wait();
                })
            })
            .collect();
        for _ in 0..cycles {
            let _ = breaker.call(|| Err::<(), ()>(()));
            // Open only if it was closed; after an abandoned round it is still half-open.
            clock.advance(Duration::from_secs(1));
            assert_eq!(breaker.state(), State::HalfOpen);
            admitted.store(0, Ordering::SeqCst);
            barrier.wait();
            barrier.wait();
            let round = admitted.load(Ordering::SeqCst);
            assert!(
                round >= permits as usize,
                "at least one full round of probes: {round}"
            );
            assert_eq!(
                breaker.snapshot().half_open_probes,
                0,
                "all slots came back"
            );
            // Close it through a probe so the next cycle starts from closed.
            breaker.call(|| Ok::<(), ()>(())).unwrap();
            if permits > 1 {
                for _ in 1..permits {
                    breaker.call(|| Ok::<(), ()>(())).unwrap();
                }
            }
            assert_eq!(breaker.state(), State::Closed);
        }
        stop.store(true, Ordering::Relaxed);
        barrier.wait();
        for h in handles {
            h.join().unwrap();
        }
        assert!(
            max_seen.load(Ordering::SeqCst) <= permits as usize,
            "permits {permits}: saw {} probes in flight",
            max_seen.load(Ordering::SeqCst)
        );
    }
}

#[test]
fn probes_all_succeed_then_close_under_contention() {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(Duration::from_secs(1))
        .half_open_permits(3)
        .clock(clock.clone())
        .build()
        .unwrap();
    let _ = breaker.call(|| Err::<(), ()>(()));
    clock.advance(Duration::from_secs(1));
    let successes = Arc::new(AtomicUsize::new(0));
    std::thread::scope(|s| {
        for _ in 0..4 {
            let (b, successes) = (&breaker, &successes);
            s.spawn(move || {
                for _ in 0..1000 {
                    if b.call(|| Ok::<(), ()>(())).is_ok() {
                        successes.fetch_add(1, Ordering::Relaxed);
                    }
                }
            });
        }
    });
    assert_eq!(breaker.state(), State::Closed);
    assert!(successes.load(Ordering::Relaxed) >= 3);
}

#[test]
fn the_call_that_ends_the_open_wait_is_the_first_probe() {
    let clock = ManualClock::new();
    let changes = Arc::new(std::sync::Mutex::new(Vec::new()));
    let seen = changes.clone();
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(3)
        .open_for(Duration::from_secs(1))
        .half_open_permits(2)
        .clock(clock.clone())
        .observer(move |e: &failgate::Event<'_>| {
            if let failgate::EventKind::StateChange {
                from, to, reason, ..
            } = e.kind
            {
                seen.lock().unwrap().push((from, to, reason));
            }
        })
        .build()
        .unwrap();
    for _ in 0..3 {
        let _ = breaker.call(|| Err::<(), ()>(()));
    }
    // The tripping failure is reported with the count that reached the threshold,
    // and the new generation starts from zero.
    assert_eq!(
        changes.lock().unwrap().last().unwrap().2,
        failgate::Reason::ConsecutiveFailures {
            count: 3,
            threshold: 3
        }
    );
    assert_eq!(breaker.snapshot().consecutive_failures, 0);
    clock.advance(Duration::from_secs(1));
    let first = breaker.try_acquire().expect("the wait is over");
    assert!(first.is_probe());
    let m = breaker.snapshot();
    assert_eq!((m.state, m.half_open_probes), (State::HalfOpen, 1));
    assert_eq!(first.generation(), m.generation);
    let second = breaker.try_acquire().expect("a second permit");
    assert!(second.is_probe());
    assert!(breaker.try_acquire().is_err(), "two permits, two probes");
    drop(first); // abandoned: its slot comes back
    assert_eq!(breaker.snapshot().half_open_probes, 1);
    second.success();
    breaker.try_acquire().unwrap().success();
    assert_eq!(breaker.state(), State::Closed);
    let to: Vec<_> = changes.lock().unwrap().iter().map(|c| c.1).collect();
    assert_eq!(to, [State::Open, State::HalfOpen, State::Closed]);
}
