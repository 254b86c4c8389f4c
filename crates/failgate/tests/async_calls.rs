//! `call_async` on any executor, and cancellation at its await point.

use failgate::{CircuitBreaker, Error, ManualClock, State};
use std::future::Future;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

fn breaker(clock: &ManualClock) -> CircuitBreaker {
    CircuitBreaker::builder()
        .consecutive_failures(2)
        .open_for(Duration::from_secs(1))
        .clock(clock.clone())
        .build()
        .unwrap()
}

#[test]
fn call_async_on_a_plain_executor() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    futures::executor::block_on(async {
        assert_eq!(b.call_async(|| async { Ok::<_, ()>(7) }).await, Ok(7));
        let _ = b.call_async(|| async { Err::<(), _>("e") }).await;
        let _ = b.call_async(|| async { Err::<(), _>("e") }).await;
        let r = b.call_async(|| async { Ok::<_, &str>(()) }).await;
        assert!(matches!(r, Err(Error::Rejected(_))));
    });
    assert_eq!(b.state(), State::Open);
}

#[tokio::test(start_paused = true)]
async fn call_async_on_tokio_with_paused_time() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    let slow = b.call_async(|| async {
        tokio::time::sleep(Duration::from_secs(30)).await;
        Ok::<_, ()>("done")
    });
    assert_eq!(slow.await, Ok("done"));
    let b2 = b.clone();
    let task = tokio::spawn(async move { b2.call_async(|| async { Err::<(), _>(()) }).await });
    assert_eq!(task.await.unwrap(), Err(Error::Inner(())));
    assert_eq!(b.snapshot().consecutive_failures, 1);
}

#[test]
fn dropping_a_pending_probe_future_frees_the_slot() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    let _ = b.call(|| Err::<(), ()>(()));
    let _ = b.call(|| Err::<(), ()>(()));
    clock.advance(Duration::from_secs(1));
    {
        let mut fut = pin!(b.call_async(std::future::pending::<Result<(), ()>>));
        let mut cx = Context::from_waker(Waker::noop());
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        assert_eq!(b.snapshot().half_open_probes, 1, "the probe is in flight");
        assert!(b.try_acquire().is_err());
    } // dropped while pending: cancelled
    assert_eq!(b.snapshot().half_open_probes, 0);
    assert_eq!(b.state(), State::HalfOpen);
    b.call(|| Ok::<(), ()>(())).unwrap();
    assert_eq!(b.state(), State::Closed);
}

#[test]
fn dropping_a_future_before_its_first_poll_takes_no_permit() {
    let clock = ManualClock::new();
    let b = breaker(&clock);
    let _ = b.call(|| Err::<(), ()>(()));
    let _ = b.call(|| Err::<(), ()>(()));
    clock.advance(Duration::from_secs(1));
    drop(b.call_async(|| async { Ok::<(), ()>(()) }));
    assert_eq!(b.snapshot().half_open_probes, 0);
    let mut fut = pin!(b.call_async(|| async { Ok::<(), ()>(()) }));
    let poll = fut.as_mut().poll(&mut Context::from_waker(Waker::noop()));
    assert_eq!(poll, Poll::Ready(Ok(())));
    assert_eq!(b.state(), State::Closed);
}
