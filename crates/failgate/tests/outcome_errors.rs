//! Outcome events that carry what failed: the error's `Display`, borrowed, sampled,
//! and never looked at when no observer wants it.

use failgate::{CircuitBreaker, Described, Event, EventKind, Outcome, Report};
use std::fmt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

/// The errors the observer saw, as text, with the kind of their event.
type Seen = Arc<Mutex<Vec<(&'static str, Option<String>)>>>;

fn recording(seen: &Seen) -> impl Fn(&Event<'_>) + Send + Sync + 'static {
    let seen = seen.clone();
    move |e: &Event<'_>| {
        let kind = match e.kind {
            EventKind::Success { .. } => "success",
            EventKind::Failure { .. } => "failure",
            EventKind::Ignored => "ignored",
            _ => return,
        };
        seen.lock()
            .unwrap()
            .push((kind, e.error.map(|error| error.to_string())));
    }
}

#[test]
fn failure_event_carries_the_error_display_when_sampled() {
    let seen = Seen::default();
    let b = CircuitBreaker::builder()
        .consecutive_failures(100)
        .sample_errors(2)
        .with_classifier(Described::new(|r: &Result<u32, String>| match r {
            Err(e) if e == "not found" => Outcome::Ignore,
            Err(_) => Outcome::Failure,
            Ok(_) => Outcome::Success,
        }))
        .observer(recording(&seen))
        .build()
        .unwrap();
    for i in 0..4 {
        let _ = b.call(|| Err::<u32, _>(format!("refused #{i}")));
    }
    b.call(|| Ok::<u32, String>(1)).unwrap();
    let _ = b.call(|| Err::<u32, _>("not found".to_owned()));
    let _ = b.call(|| Err::<u32, _>("not found".to_owned()));
    let seen = seen.lock().unwrap().clone();
    let text = |s: &str| Some(s.to_owned());
    assert_eq!(
        seen,
        [
            ("failure", text("refused #0")),
            ("failure", None),
            ("failure", text("refused #2")),
            ("failure", None),
            ("success", None),
            ("ignored", text("not found")),
            ("ignored", None),
        ],
        "one described outcome in two carries its error, the first included"
    );
}

#[test]
fn every_failure_carries_its_error_by_default_and_a_permit_can_describe_one() {
    let seen = Seen::default();
    let b = CircuitBreaker::builder()
        .consecutive_failures(100)
        .with_classifier(Described(failgate::DefaultClassifier))
        .observer(recording(&seen))
        .build()
        .unwrap();
    let _ = b.call(|| Err::<(), _>("timed out"));
    let _ = b.call(|| Err::<(), _>("reset by peer"));
    // A permit reports what failed itself; a success's description is dropped.
    b.try_acquire()
        .unwrap()
        .record_described(Outcome::Failure, None, Some(&"bad gateway"));
    b.try_acquire()
        .unwrap()
        .record_described(Outcome::Success, None, Some(&"fine"));
    // The default classifier cannot describe: its failures carry nothing.
    let plain = b.clone().with_classifier(failgate::DefaultClassifier);
    let _ = plain.call(|| Err::<(), _>("not described"));
    let errors: Vec<Option<String>> = seen.lock().unwrap().iter().map(|s| s.1.clone()).collect();
    assert_eq!(
        errors,
        [
            Some("timed out".to_owned()),
            Some("reset by peer".to_owned()),
            Some("bad gateway".to_owned()),
            None,
            None
        ]
    );
}

#[tokio::test]
async fn call_async_describes_its_failures_too() {
    let seen = Seen::default();
    let b = CircuitBreaker::builder()
        .with_classifier(Described(failgate::DefaultClassifier))
        .observer(recording(&seen))
        .build()
        .unwrap();
    let _ = b
        .call_async(|| async { Err::<(), _>("503 from upstream") })
        .await;
    assert_eq!(
        *seen.lock().unwrap(),
        [("failure", Some("503 from upstream".to_owned()))]
    );
}

/// An error whose `Display` counts how often it is formatted.
#[derive(Debug, Clone)]
struct Counted(Arc<AtomicUsize>);

impl fmt::Display for Counted {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fetch_add(1, Ordering::Relaxed);
        f.write_str("counted")
    }
}

#[test]
fn no_error_text_is_made_without_an_observer() {
    let formatted = Arc::new(AtomicUsize::new(0));
    let error = Counted(formatted.clone());
    let fail = |b: &CircuitBreaker<Described>| {
        for _ in 0..10 {
            let _ = b.call(|| Err::<(), _>(error.clone()));
        }
    };
    let described = || {
        CircuitBreaker::builder()
            .consecutive_failures(1000)
            .with_classifier(Described(failgate::DefaultClassifier))
    };
    fail(&described().build().unwrap());
    assert_eq!(formatted.load(Ordering::Relaxed), 0, "no observer");
    fail(&described().observer(|_: &Event<'_>| {}).build().unwrap());
    assert_eq!(
        formatted.load(Ordering::Relaxed),
        0,
        "an observer that does not write the error does not format it"
    );
    let writes = |e: &Event<'_>| {
        if let Some(error) = e.error {
            let _ = error.to_string();
        }
    };
    fail(
        &described()
            .sample_errors(0)
            .observer(writes)
            .build()
            .unwrap(),
    );
    assert_eq!(
        formatted.load(Ordering::Relaxed),
        0,
        "sampling 0 carries none"
    );
    fail(
        &described()
            .sample_errors(5)
            .observer(writes)
            .build()
            .unwrap(),
    );
    assert_eq!(formatted.load(Ordering::Relaxed), 2, "one in five of ten");
}

#[cfg(feature = "tower")]
#[tokio::test]
async fn the_tower_layer_describes_failures_with_a_describing_classifier() {
    use failgate::tower::CircuitBreakerLayer;
    use tower::{Layer, Service, ServiceExt};

    let seen = Seen::default();
    let b = CircuitBreaker::builder()
        .with_classifier(Described(failgate::DefaultClassifier))
        .observer(recording(&seen))
        .build()
        .unwrap();
    let inner = tower::service_fn(|fail: bool| async move {
        if fail {
            Err::<(), failgate::tower::BoxError>("upstream closed the stream".into())
        } else {
            Ok(())
        }
    });
    let mut svc = CircuitBreakerLayer::new(b).layer(inner);
    svc.ready().await.unwrap().call(false).await.unwrap();
    let _ = svc.ready().await.unwrap().call(true).await;
    assert_eq!(
        *seen.lock().unwrap(),
        [
            ("success", None),
            ("failure", Some("upstream closed the stream".to_owned()))
        ]
    );
}
