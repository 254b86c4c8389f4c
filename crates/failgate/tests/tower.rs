//! The tower layer keeps tower's contract (feature `tower`).
#![cfg(feature = "tower")]

use failgate::tower::per_key::{BreakerMap, PerKeyLayer};
use failgate::tower::CircuitBreakerLayer;
use failgate::{CircuitBreaker, ManualClock, Outcome, Rejected, State};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;
use tower::{BoxError, Layer, Service, ServiceExt};
use tower_test::mock;

fn breaker(clock: &ManualClock, permits: u32) -> CircuitBreaker {
    CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(Duration::from_secs(5))
        .half_open_permits(permits)
        .clock(clock.clone())
        .build()
        .unwrap()
}

fn poll_once<F: Future>(f: std::pin::Pin<&mut F>) -> Poll<F::Output> {
    f.poll(&mut Context::from_waker(Waker::noop()))
}

#[tokio::test(start_paused = true)]
async fn open_breaker_stays_ready_and_never_calls_the_inner_service() {
    let clock = ManualClock::new();
    let b = breaker(&clock, 1);
    let (inner, mut handle) = mock::pair::<&str, &str>();
    let mut svc = CircuitBreakerLayer::new(b.clone()).layer(inner);

    handle.allow(1);
    let call = svc.ready().await.unwrap().call("first");
    let (req, respond) = handle.next_request().await.unwrap();
    assert_eq!(req, "first");
    respond.send_error("boom");
    assert_eq!(call.await.unwrap_err().to_string(), "boom");
    assert_eq!(b.state(), State::Open);

    // Open: poll_ready is the inner service's (ready), and call fails at once.
    handle.allow(10);
    for _ in 0..3 {
        let ready = svc.ready().await;
        assert!(ready.is_ok(), "poll_ready must not signal 'open'");
        let refused = svc.call("refused").await.unwrap_err();
        let r = refused.downcast_ref::<Rejected>().expect("a rejection");
        assert_eq!(r.retry_after(), Some(Duration::from_secs(5)));
    }
    // The inner service saw no request.
    assert!(poll_once(pin!(handle.next_request())).is_pending());
}

#[tokio::test(start_paused = true)]
async fn the_classifier_is_applied() {
    let clock = ManualClock::new();
    let b = breaker(&clock, 1);
    let (inner, mut handle) = mock::pair::<u16, u16>();
    let layer =
        CircuitBreakerLayer::new(b.clone()).with_classifier(|r: &Result<u16, BoxError>| match r {
            Ok(status) if *status >= 500 => Outcome::Failure,
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Ignore,
        });
    let mut svc = layer.layer(inner);
    handle.allow(3);
    let f = svc.ready().await.unwrap().call(1);
    let (_, respond) = handle.next_request().await.unwrap();
    respond.send_error("cancelled by the caller");
    assert!(f.await.is_err());
    assert_eq!(b.state(), State::Closed, "an ignored error counts nothing");
    let f = svc.ready().await.unwrap().call(2);
    let (_, respond) = handle.next_request().await.unwrap();
    respond.send_response(503);
    assert_eq!(f.await.unwrap(), 503, "the response itself passes through");
    assert_eq!(
        b.state(),
        State::Open,
        "a 503 is a failure to this classifier"
    );
}

#[tokio::test(start_paused = true)]
async fn a_dropped_response_future_frees_its_half_open_slot() {
    for leaked in [false, true] {
        a_dropped_response_future_frees_its_slot(leaked).await;
    }
}

/// With a shared breaker, or a [leaked](CircuitBreaker::leak) one whose futures hold a
/// plain reference.
async fn a_dropped_response_future_frees_its_slot(leaked: bool) {
    let clock = ManualClock::new();
    let b = breaker(&clock, 1);
    let b = if leaked { b.leak() } else { b };
    let _ = b.call(|| Err::<(), ()>(()));
    clock.advance(Duration::from_secs(5));
    let (inner, mut handle) = mock::pair::<&str, &str>();
    let mut svc = CircuitBreakerLayer::new(b.clone()).layer(inner);
    handle.allow(2);

    let probe = svc.ready().await.unwrap().call("probe");
    assert_eq!(b.snapshot().half_open_probes, 1);
    // A second call while the probe is out: refused.
    let refused = svc.ready().await.unwrap().call("x").await.unwrap_err();
    assert!(refused.is::<Rejected>(), "{refused}");
    let (_req, _respond) = handle.next_request().await.unwrap();
    drop(probe); // a timeout or a cancelled request upstream
    assert_eq!(b.snapshot().half_open_probes, 0, "the slot came back");
    assert_eq!(b.state(), State::HalfOpen, "and nothing was counted");

    let probe = svc.ready().await.unwrap().call("probe 2");
    let (_, respond) = handle.next_request().await.unwrap();
    respond.send_response("ok");
    assert_eq!(probe.await.unwrap(), "ok");
    assert_eq!(b.state(), State::Closed);
}

#[tokio::test(start_paused = true)]
async fn a_stale_response_after_a_transition_is_discarded() {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .consecutive_failures(2)
        .clock(clock.clone())
        .build()
        .unwrap();
    let (inner, mut handle) = mock::pair::<&str, &str>();
    let mut svc = CircuitBreakerLayer::new(b.clone()).layer(inner);
    handle.allow(1);
    let slow = svc.ready().await.unwrap().call("slow");
    let (_, respond) = handle.next_request().await.unwrap();
    // Meanwhile an operator resets the breaker, then one failure is counted.
    b.force_open();
    b.reset();
    let _ = b.call(|| Err::<(), ()>(()));
    respond.send_error("late failure");
    assert!(slow.await.is_err());
    assert_eq!(
        b.snapshot().consecutive_failures,
        1,
        "the late failure was discarded"
    );
    assert_eq!(b.state(), State::Closed);
}

#[tokio::test]
async fn errors_are_box_errors_as_tower_middleware_returns_them() {
    let b = CircuitBreaker::builder()
        .consecutive_failures(1)
        .build()
        .unwrap();
    let inner = tower::service_fn(|_: ()| async { Err::<(), BoxError>("down".into()) });
    let mut svc = CircuitBreakerLayer::new(b).layer(inner);
    let inner_error: BoxError = svc.ready().await.unwrap().call(()).await.unwrap_err();
    assert_eq!(inner_error.to_string(), "down");
    let rejected: BoxError = svc.ready().await.unwrap().call(()).await.unwrap_err();
    assert!(rejected.is::<Rejected>(), "{rejected:?}");
    assert!(
        rejected.to_string().starts_with("circuit open"),
        "{rejected}"
    );
}

#[tokio::test]
async fn per_key_breakers_are_isolated_listed_and_bounded() {
    let template = CircuitBreaker::builder()
        .name("hosts")
        .consecutive_failures(1);
    let map = BreakerMap::new(template, 3).unwrap();
    let layer = PerKeyLayer::new(map.clone(), |req: &(u32, bool)| req.0);
    let mut svc = layer.layer(tower::service_fn(|(_, ok): (u32, bool)| async move {
        if ok {
            Ok(())
        } else {
            Err("503")
        }
    }));
    let mut call = |host: u32, ok: bool| svc.call((host, ok));
    // Host 1 fails and opens; hosts 2 and 3 stay closed.
    assert_eq!(call(1, false).await.unwrap_err().to_string(), "503");
    assert!(call(2, true).await.is_ok());
    assert!(call(3, true).await.is_ok());
    assert!(call(1, true).await.unwrap_err().is::<Rejected>());
    let mut states = map.states();
    states.sort_by_key(|s| s.0);
    assert_eq!(
        states,
        vec![(1, State::Open), (2, State::Closed), (3, State::Closed)]
    );
    assert_eq!(map.breakers()[0].1.name().split(':').next(), Some("hosts"));

    // Full, and every breaker used since the sweep last passed: a 4th host is guarded
    // by an untracked breaker of its own. The sweep cleared the marks, so the next new
    // host evicts an idle closed breaker (never the open one).
    assert!(call(4, true).await.is_ok());
    assert_eq!((map.len(), map.untracked()), (3, 1));
    assert!(call(5, true).await.is_ok());
    assert!(map.len() <= 3, "bounded: {}", map.len());
    let states = map.states();
    assert!(
        states.contains(&(1, State::Open)),
        "open breakers are never evicted"
    );
    assert!(states.iter().any(|s| s.0 == 5));

    // Many new hosts never grow the map past its bound.
    for host in 10..100 {
        assert!(call(host, true).await.is_ok());
        assert!(map.len() <= 3);
    }
    assert!(map.states().contains(&(1, State::Open)));
}

#[tokio::test]
async fn per_key_map_full_of_open_breakers_gives_new_keys_untracked_breakers() {
    let template = CircuitBreaker::builder()
        .name("hosts")
        .consecutive_failures(1);
    let map = BreakerMap::new(template, 2).unwrap();
    for host in [1u32, 2] {
        let _ = map.get(&host).call(|| Err::<(), ()>(()));
    }
    let b = map.get(&3);
    assert_eq!((b.name(), b.state()), ("hosts:3", State::Closed));
    assert!(
        !b.same_breaker(&map.get(&3)),
        "not kept: each call gets a new one"
    );
    assert!(map.try_get(&3).is_none(), "try_get refuses instead");
    assert_eq!((map.len(), map.untracked()), (2, 3));
    assert!(BreakerMap::<u32>::new(CircuitBreaker::builder(), 0).is_err());
    assert!(BreakerMap::<u32>::new(CircuitBreaker::builder().consecutive_failures(0), 5).is_err());
}

/// Through the layer, a 503's `Retry-After` holds the breaker open that long, but only
/// on a breaker built to honour it.
#[cfg(feature = "http")]
#[tokio::test(start_paused = true)]
async fn the_layer_passes_retry_after_to_a_breaker_that_honours_it() {
    use failgate::http::HttpClassifier;
    for honour in [true, false] {
        let clock = ManualClock::new();
        let b = CircuitBreaker::builder()
            .consecutive_failures(1)
            .open_for(Duration::from_secs(1))
            .honor_retry_after(honour)
            .clock(clock.clone())
            .build()
            .unwrap();
        let inner = tower::service_fn(|_: ()| async {
            Ok::<_, std::convert::Infallible>(
                http::Response::builder()
                    .status(503)
                    .header("retry-after", "30")
                    .body(())
                    .unwrap(),
            )
        });
        let mut svc = CircuitBreakerLayer::new(b.clone())
            .with_classifier(HttpClassifier::new())
            .layer(inner);
        let response = svc.ready().await.unwrap().call(()).await.unwrap();
        assert_eq!(response.status(), 503);
        assert_eq!(b.state(), State::Open);
        let retry = b.try_acquire().unwrap_err().retry_after().unwrap();
        let expected = if honour { 30 } else { 1 };
        assert_eq!(
            retry,
            Duration::from_secs(expected),
            "honour_retry_after({honour})"
        );
    }
}
