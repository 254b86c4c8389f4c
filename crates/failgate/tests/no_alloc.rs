//! No call path allocates: proven with the counting global allocator that every
//! no-allocation test shares (`failgate-testkit`).

// The test kit every crate's tests share: crates/failgate-testkit's sources, linked in
// (tests/testkit/ holds symlinks) so that the packaged crate tests on its own.
#[allow(dead_code, unreachable_pub)]
mod testkit;

use failgate::{CircuitBreaker, ManualClock, Window};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Waker};
use std::time::Duration;

use crate::testkit::alloc::allocations_during;

#[global_allocator]
static ALLOC: crate::testkit::alloc::Counting = crate::testkit::alloc::Counting;

#[test]
fn no_call_path_allocates() {
    let clock = ManualClock::new();
    let configs: Vec<(&str, CircuitBreaker)> = vec![
        (
            "consecutive",
            CircuitBreaker::builder().consecutive_failures(3),
        ),
        (
            "count window",
            CircuitBreaker::builder()
                .failure_rate(0.5)
                .window(Window::count(100)),
        ),
        (
            "time window + slow calls",
            CircuitBreaker::builder()
                .failure_rate(0.5)
                .slow_calls(Duration::from_millis(1), 0.9)
                .window(Window::time(Duration::from_secs(10))),
        ),
    ]
    .into_iter()
    .map(|(name, b)| {
        let b = b
            .open_for(Duration::from_secs(1))
            .half_open_permits(2)
            .clock(clock.clone())
            .observer(|_: &failgate::Event<'_>| {})
            .build()
            .unwrap();
        (name, b)
    })
    .collect();
    for (name, b) in &configs {
        let n = allocations_during(|| {
            for i in 0..10_000u32 {
                // closed: successes, failures, ignores, abandoned permits
                let _ = b.call(|| if i % 7 == 0 { Err(i) } else { Ok(i) });
                let _ = b.call_with(|_| failgate::Outcome::Ignore, || Ok::<_, ()>(()));
                drop(b.try_acquire());
                // async, polled by hand with a no-op waker
                let mut fut = pin!(b.call_async(|| async { Ok::<_, ()>(1) }));
                let _ = fut.as_mut().poll(&mut Context::from_waker(Waker::noop()));
                // open, half-open, reopen, close
                if i % 100 == 0 {
                    b.force_open();
                    let _ = b.call(|| Ok::<_, ()>(()));
                    b.reset();
                    for _ in 0..5 {
                        let _ = b.call(|| Err::<(), _>(()));
                    }
                    let _ = b.call(|| Ok::<_, ()>(()));
                    clock.advance(Duration::from_secs(2));
                    let _ = b.call(|| Ok::<_, ()>(()));
                    let _ = b.call(|| Ok::<_, ()>(()));
                    let _ = b.snapshot().failure_rate;
                    let _ = b.state();
                }
            }
        });
        assert_eq!(n, 0, "{name}: {n} allocations on call paths");
    }
}

#[cfg(feature = "tower")]
#[test]
fn the_tower_service_path_does_not_allocate() {
    use tower::{Layer, Service};
    let breaker = CircuitBreaker::builder()
        .consecutive_failures(3)
        .clock(ManualClock::new())
        .build()
        .unwrap();
    // Leaking allocates once, here, not per call.
    for breaker in [breaker.clone(), breaker.leak()] {
        let inner =
            tower::service_fn(|x: u32| std::future::ready(Ok::<u32, std::convert::Infallible>(x)));
        let layer = failgate::tower::CircuitBreakerLayer::new(breaker.clone());
        let mut svc = layer.clone().layer(inner);
        let mut hooked = layer.on_rejected(|_: &failgate::Rejected| 0).layer(inner);
        let mut poll = |x| {
            let mut fut = pin!(svc.call(x));
            fut.as_mut().poll(&mut Context::from_waker(Waker::noop()))
        };
        let _ = poll(0); // warm up
        let n = allocations_during(|| {
            for i in 0..10_000 {
                let _ = poll(i);
            }
        });
        let leaked = breaker.is_leaked();
        assert_eq!(
            n, 0,
            "{n} allocations on the admitted path (leaked: {leaked})"
        );
        breaker.force_open();
        let boxed = allocations_during(|| {
            for i in 0..100 {
                assert!(poll(i).is_ready()); // refused
            }
        });
        // The refusal as an error is a boxed `Rejected`, as tower's own errors are.
        assert_eq!(boxed, 100, "one box per refusal returned as an error");
        let answered = allocations_during(|| {
            for i in 0..100 {
                let mut fut = pin!(hooked.call(i));
                let reply = fut.as_mut().poll(&mut Context::from_waker(Waker::noop()));
                assert!(matches!(reply, std::task::Poll::Ready(Ok(0))));
            }
        });
        assert_eq!(
            answered, 0,
            "{answered} allocations answering refusals with a hook"
        );
        breaker.reset();
    }
}

#[cfg(feature = "tower")]
#[test]
fn finding_a_known_key_in_a_breaker_map_does_not_allocate() {
    use failgate::tower::per_key::{BreakerMap, PerKeyLayer};
    use tower::{Layer, Service};
    let template = CircuitBreaker::builder()
        .consecutive_failures(3)
        .clock(ManualClock::new());
    let map = BreakerMap::new(template, 100).unwrap();
    let inner =
        tower::service_fn(|x: u32| std::future::ready(Ok::<u32, std::convert::Infallible>(x)));
    let mut svc = PerKeyLayer::new(map.clone(), |x: &u32| x % 10).layer(inner);
    let mut poll = |x| {
        let mut fut = pin!(svc.call(x));
        fut.as_mut().poll(&mut Context::from_waker(Waker::noop()))
    };
    for key in 0..10 {
        let _ = poll(key); // each key's breaker is made, once
    }
    let n = allocations_during(|| {
        for i in 0..10_000 {
            let _ = poll(i);
            let _ = map.get(&(i % 10)).call(|| Ok::<_, ()>(()));
        }
    });
    assert_eq!(n, 0, "{n} allocations finding known keys");
}

/// The contract's closed-state paths, as the fleet breaker's test runs them too.
#[test]
fn the_shared_contract_paths_do_not_allocate() {
    let breaker = CircuitBreaker::builder().build().unwrap();
    let n = crate::testkit::contract::allocations_of_traffic(&breaker, 10_000);
    assert_eq!(n, 0, "{n} allocations on the contract's call paths");
}

/// `FnClassifier` and `DynClassifier` allocate when made (the latter), never per call,
/// nor when the tower layer clones the classifier for each request.
#[test]
fn named_classifiers_do_not_allocate_per_call() {
    use failgate::{DynClassifier, FnClassifier, Outcome};
    fn odd_fails(r: &Result<u32, u32>) -> Outcome {
        match r {
            Err(n) if n % 2 == 1 => Outcome::Failure,
            _ => Outcome::Success,
        }
    }
    let builder = || {
        CircuitBreaker::builder()
            .consecutive_failures(3)
            .honor_retry_after(true)
            .clock(ManualClock::new())
    };
    let by_fn: CircuitBreaker<FnClassifier<u32, u32>> =
        builder().with_fn_classifier(odd_fails).build().unwrap();
    let limit = 7;
    let by_dyn: CircuitBreaker<DynClassifier<u32, u32>> = builder()
        .with_dyn_classifier(move |r: &Result<u32, u32>| match r {
            Err(n) if *n > limit => Outcome::Failure,
            _ => Outcome::Success,
        })
        .build()
        .unwrap();
    let n = allocations_during(|| {
        for i in 0..10_000u32 {
            let result = if i % 3 == 0 { Err(i) } else { Ok(i) };
            let _ = by_fn.call(|| result);
            let _ = by_dyn.call(|| result);
            let _ = by_dyn.classifier().clone();
            if i % 100 == 0 {
                by_fn.reset();
                by_dyn.reset();
            }
        }
    });
    assert_eq!(n, 0, "{n} allocations with named classifiers");
}

/// Described failures borrow their error: with or without an observer, with totals
/// kept and sampling above 1, no call path allocates, and no snapshot of the totals.
#[test]
fn described_failures_and_totals_do_not_allocate() {
    use failgate::{DefaultClassifier, Described};
    let clock = ManualClock::new();
    let builder = || {
        CircuitBreaker::builder()
            .consecutive_failures(3)
            .open_for(Duration::from_secs(1))
            .slow_calls(Duration::from_millis(1), 0.9)
            .window(Window::count(50))
            .totals(true)
            .clock(clock.clone())
            .with_classifier(Described(DefaultClassifier))
    };
    let breakers = [
        ("no observer", builder().build().unwrap()),
        (
            "an observer that reads the error",
            builder()
                .sample_errors(3)
                .observer(|e: &failgate::Event<'_>| {
                    let _ = e.error.is_some();
                })
                .build()
                .unwrap(),
        ),
    ];
    for (name, b) in &breakers {
        let n = allocations_during(|| {
            for i in 0..10_000u32 {
                let _ = b.call(|| if i % 5 == 0 { Err("refused") } else { Ok(i) });
                if i % 100 == 0 {
                    clock.advance(Duration::from_secs(2));
                    let _ = b.snapshot().totals;
                }
            }
        });
        assert_eq!(n, 0, "{name}: {n} allocations on call paths");
    }
}
