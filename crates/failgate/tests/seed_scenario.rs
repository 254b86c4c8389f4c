//! The original take-home's scenario, at library level: threshold 2, wait 60 s.

use failgate::{CircuitBreaker, Error, ManualClock, State};
use std::time::Duration;

fn fail() -> Result<&'static str, &'static str> {
    Err("500")
}

fn succeed() -> Result<&'static str, &'static str> {
    Ok("200")
}

#[test]
fn seed_scenario() {
    let clock = ManualClock::new();
    let breaker = CircuitBreaker::builder()
        .name("seed")
        .consecutive_failures(2)
        .open_for(Duration::from_secs(60))
        .clock(clock.clone())
        .build()
        .unwrap();

    // 1. fail, fail: open.
    assert_eq!(breaker.call(fail), Err(Error::Inner("500")));
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.call(fail), Err(Error::Inner("500")));
    assert_eq!(breaker.state(), State::Open);

    // 2. fail, success: both refused, with retry_after of about 60 s.
    clock.advance(Duration::from_millis(10));
    for op in [fail, succeed] {
        match breaker.call(op) {
            Err(Error::Rejected(r)) => {
                assert_eq!(r.state(), State::Open);
                assert_eq!(r.retry_after(), Some(Duration::from_millis(59_990)));
            }
            other => panic!("expected a rejection, got {other:?}"),
        }
    }

    // 3. advance the clock 100 s.
    clock.advance(Duration::from_secs(100));
    assert_eq!(breaker.state(), State::HalfOpen);

    // 4. success, success: closed.
    assert_eq!(breaker.call(succeed), Ok("200"));
    assert_eq!(breaker.state(), State::Closed);
    assert_eq!(breaker.call(succeed), Ok("200"));

    // 5. fail, fail: open.
    assert_eq!(breaker.call(fail), Err(Error::Inner("500")));
    assert_eq!(breaker.call(fail), Err(Error::Inner("500")));
    assert_eq!(breaker.state(), State::Open);

    // 6. success: refused, with the full wait again (the breaker closed in between,
    // so the backoff starts over).
    match breaker.call(succeed) {
        Err(Error::Rejected(r)) => assert_eq!(r.retry_after(), Some(Duration::from_secs(60))),
        other => panic!("expected a rejection, got {other:?}"),
    }
}
