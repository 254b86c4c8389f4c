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
