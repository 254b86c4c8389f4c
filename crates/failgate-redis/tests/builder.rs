//! The builder's vocabulary, shared with failgate's own `Builder`: the window is a
//! `failgate::Window`, the classifier is set with `with_classifier`.

mod common;

use common::fleet;
use failgate::{Outcome, Window};
use failgate_redis::FleetConfigError;
use std::time::Duration;

#[tokio::test]
async fn a_count_window_is_refused_because_counts_only_add_up_by_time() {
    let e = fleet("redis://127.0.0.1:1", "x")
        .window(Window::count(100))
        .build()
        .unwrap_err();
    assert!(
        matches!(e, FleetConfigError::CountWindow { size: 100 }),
        "{e:?}"
    );
    let message = e.to_string();
    assert!(message.contains("time window"), "{message}");
    assert!(message.contains("add up by time"), "{message}");
}

#[tokio::test]
async fn the_window_takes_the_core_window_type() {
    // A time window after a count one replaces it; its buckets are validated as before.
    let b = fleet("redis://127.0.0.1:1", "x")
        .window(Window::count(100))
        .window(Window::time(Duration::from_secs(10)).buckets(5));
    assert!(b.build().is_ok());
    let e = fleet("redis://127.0.0.1:1", "x")
        .window(Window::time(Duration::from_millis(3)).buckets(10))
        .build()
        .unwrap_err();
    assert!(
        matches!(
            e,
            FleetConfigError::Invalid {
                field: "window",
                ..
            }
        ),
        "{e:?}"
    );
}

#[tokio::test]
async fn with_classifier_sets_the_classifier_call_uses() {
    // Every answer is a failure to this classifier, even an `Ok`.
    let breaker = fleet("redis://127.0.0.1:1", "x")
        .minimum_calls(2)
        .with_classifier(|_: &Result<(), ()>| Outcome::Failure)
        .build()
        .unwrap();
    for _ in 0..4 {
        let _ = breaker.call(|| Ok::<(), ()>(()));
    }
    assert!(
        breaker.call(|| Ok::<(), ()>(())).is_err(),
        "the local fallback tripped on the classifier's failures"
    );
}

/// Polls `check` from a thread that is in no runtime, for up to 5 s.
fn eventually_blocking(what: &str, check: impl Fn() -> bool) {
    let start = std::time::Instant::now();
    while !check() {
        assert!(
            start.elapsed() < Duration::from_secs(5),
            "not within 5 s: {what}"
        );
        std::thread::sleep(Duration::from_millis(5));
    }
}

#[test]
fn a_given_runtime_lets_build_run_on_a_thread_without_one() {
    let Some(redis) = common::Target::get() else {
        return;
    };
    let runtime = tokio::runtime::Runtime::new().unwrap();
    let ns = common::unique_namespace("runtime-thread");
    let breaker = std::thread::scope(|s| {
        s.spawn(|| {
            assert!(tokio::runtime::Handle::try_current().is_err());
            fleet(&redis.url, &ns)
                .runtime(runtime.handle().clone())
                .build()
        })
        .join()
        .unwrap()
    })
    .unwrap();
    eventually_blocking("the sync task reaches redis", || {
        breaker.mode() == failgate_redis::Mode::Shared
    });
}

#[test]
fn a_given_runtime_is_used_even_inside_another_one() {
    let Some(redis) = common::Target::get() else {
        return;
    };
    let given = tokio::runtime::Runtime::new().unwrap();
    let ns = common::unique_namespace("runtime-inside");
    let breaker = {
        // Built inside a runtime that is shut down right after: the tasks must live on
        // the given one, or the breaker never reaches Redis.
        let other = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let breaker = other.block_on(async {
            fleet(&redis.url, &ns)
                .runtime(given.handle().clone())
                .build()
                .unwrap()
        });
        drop(other);
        breaker
    };
    eventually_blocking("the sync task reaches redis on the given runtime", || {
        breaker.mode() == failgate_redis::Mode::Shared
    });
}

#[tokio::test]
async fn max_retry_after_is_validated_like_the_cores() {
    for bad in [
        Duration::ZERO,
        failgate::MAX_DURATION + Duration::from_nanos(1),
    ] {
        let e = fleet("redis://127.0.0.1:1", "x")
            .honor_retry_after(true)
            .max_retry_after(bad)
            .build()
            .unwrap_err();
        match e {
            FleetConfigError::Invalid { field, value, .. } => {
                assert_eq!((field, value), ("max_retry_after", format!("{bad:?}")))
            }
            other => panic!("{other:?}"),
        }
    }
    assert!(fleet("redis://127.0.0.1:1", "x")
        .honor_retry_after(true)
        .max_retry_after(failgate::MAX_DURATION)
        .build()
        .is_ok());
}
