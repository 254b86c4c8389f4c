//! Cancellation: a `call_async` future dropped at any of its await points gives back
//! what it took and counts nothing.
//!
//! Futures are polled by hand with a no-op waker. The operation's future is pending a
//! chosen number of times, so the call can be dropped before its first poll (it has
//! taken nothing yet), after one poll (the permit is held across the operation's
//! await), or after k polls. In every admitting state (closed, a half-open probe,
//! count-only, disabled) the drop must leave the counts and probe slots as they were
//! and emit exactly one `Abandoned` per admitted call; open and forced-open breakers
//! must refuse at the first poll, before any await, without running the operation.

use failgate::{CircuitBreaker, Event, EventKind, ManualClock, Outcome, State, Window};
use std::cell::Cell;
use std::future::Future;
use std::pin::{pin, Pin};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

const WAIT: Duration = Duration::from_secs(1);

/// A future that is pending `left` times, then ready with `result`.
struct PendingThen {
    left: usize,
    result: Result<u32, &'static str>,
}

impl Future for PendingThen {
    type Output = Result<u32, &'static str>;

    fn poll(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        if self.left == 0 {
            Poll::Ready(self.result)
        } else {
            self.left -= 1;
            cx.waker().wake_by_ref();
            Poll::Pending
        }
    }
}

type Log = Arc<Mutex<Vec<EventKind>>>;

fn breaker(permits: u32) -> (CircuitBreaker, ManualClock, Log) {
    let clock = ManualClock::new();
    let log: Log = Arc::default();
    let sink = log.clone();
    let b = CircuitBreaker::builder()
        .consecutive_failures(3)
        .failure_rate(0.9)
        .window(Window::count(10))
        .minimum_calls(10)
        .open_for(WAIT)
        .half_open_permits(permits)
        .clock(clock.clone())
        .observer(move |e: &Event<'_>| sink.lock().unwrap().push(e.kind))
        .build()
        .unwrap();
    (b, clock, log)
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Target {
    Closed,
    HalfOpen,
    CountOnly,
    Disabled,
    Open,
    ForcedOpen,
}

/// Brings the breaker to `target`, with some outcomes already counted where the state
/// counts them, so that a stray count would show.
fn enter(target: Target, b: &CircuitBreaker, clock: &ManualClock) {
    let fail = || Err::<(), ()>(());
    let ok = || Ok::<(), ()>(());
    match target {
        Target::Closed => {
            b.call(ok).unwrap();
            let _ = b.call(fail);
            let _ = b.call(fail);
        }
        Target::HalfOpen | Target::Open => {
            for _ in 0..3 {
                let _ = b.call(fail);
            }
            if target == Target::HalfOpen {
                clock.advance(WAIT);
            } else {
                clock.advance(WAIT / 4);
            }
        }
        Target::CountOnly => {
            b.count_only();
            for _ in 0..4 {
                let _ = b.call(fail);
            }
            b.call(ok).unwrap();
        }
        Target::Disabled => b.disable(),
        Target::ForcedOpen => b.force_open(),
    }
    let expected = match target {
        Target::Closed => State::Closed,
        Target::HalfOpen => State::HalfOpen,
        Target::CountOnly => State::CountOnly,
        Target::Disabled => State::Disabled,
        Target::Open => State::Open,
        Target::ForcedOpen => State::ForcedOpen,
    };
    assert_eq!(b.state(), expected);
}

/// What a cancelled call must not change.
#[derive(Debug, PartialEq)]
struct Counted {
    state: State,
    generation: u64,
    calls: u64,
    failures: u64,
    consecutive_failures: u32,
    half_open_probes: u32,
    half_open_successes: u32,
}

fn counted(b: &CircuitBreaker) -> Counted {
    let m = b.snapshot();
    Counted {
        state: m.state,
        generation: m.generation,
        calls: m.calls,
        failures: m.failures,
        consecutive_failures: m.consecutive_failures,
        half_open_probes: m.half_open_probes,
        half_open_successes: m.half_open_successes,
    }
}

fn take(log: &Log) -> Vec<EventKind> {
    std::mem::take(&mut *log.lock().unwrap())
}

/// Polls a fresh `call_async` future `polls` times (its operation is pending far
/// longer, and would fail if it finished), then drops it.
fn cancel_after(target: Target, permits: u32, polls: usize) {
    let (b, clock, log) = breaker(permits);
    enter(target, &b, &clock);
    let before = counted(&b);
    take(&log);
    let ran = Cell::new(false);
    let admits = matches!(
        target,
        Target::Closed | Target::HalfOpen | Target::CountOnly | Target::Disabled
    );
    {
        let mut fut = pin!(b.call_async(|| {
            ran.set(true);
            PendingThen {
                left: 1_000,
                result: Err("it would have failed"),
            }
        }));
        let mut cx = Context::from_waker(Waker::noop());
        for i in 0..polls {
            let poll = fut.as_mut().poll(&mut cx);
            if admits {
                assert!(poll.is_pending(), "{target:?}: poll {i} is pending");
                if target == Target::HalfOpen {
                    assert_eq!(
                        b.snapshot().half_open_probes,
                        before.half_open_probes + 1,
                        "the probe holds a slot while pending"
                    );
                }
            } else {
                // Refused at the first poll, before any await; then it is finished.
                let Poll::Ready(Err(e)) = poll else {
                    panic!("{target:?}: the first poll refuses, got {poll:?}")
                };
                let r = *e.rejected().expect("a rejection, not the call's error");
                match target {
                    Target::Open => {
                        assert_eq!(r.state(), State::Open);
                        assert_eq!(r.retry_after(), Some(WAIT - WAIT / 4));
                    }
                    _ => {
                        assert_eq!(r.state(), State::ForcedOpen);
                        assert_eq!(r.retry_after(), None);
                    }
                }
                break;
            }
        }
    } // dropped here
    let expected_events = match (polls, admits) {
        (0, _) => vec![],
        (_, true) => vec![EventKind::Abandoned],
        (_, false) => vec![EventKind::Rejected {
            state: before.state,
            retry_after: (target == Target::Open).then_some(WAIT - WAIT / 4),
        }],
    };
    assert_eq!(
        take(&log),
        expected_events,
        "{target:?}, dropped after {polls} polls"
    );
    assert_eq!(
        ran.get(),
        polls > 0 && admits,
        "{target:?}: did the op run?"
    );
    assert_eq!(
        counted(&b),
        before,
        "{target:?}, dropped after {polls} polls: nothing counted, every slot back"
    );
    if target == Target::HalfOpen {
        // Every slot is free again: n probes are admitted, and their successes close it.
        let probes: Vec<_> = (0..permits)
            .map(|_| b.try_acquire().expect("a free slot"))
            .collect();
        assert!(b.try_acquire().is_err(), "and no more than n");
        for p in probes {
            p.success();
        }
        assert_eq!(b.state(), State::Closed);
    }
}

const DROP_POINTS: [usize; 4] = [0, 1, 2, 7];

#[test]
fn closed_call_dropped_at_each_await_point() {
    for polls in DROP_POINTS {
        cancel_after(Target::Closed, 1, polls);
    }
}

#[test]
fn half_open_probe_dropped_at_each_await_point() {
    for permits in 1..=4 {
        for polls in DROP_POINTS {
            cancel_after(Target::HalfOpen, permits, polls);
        }
    }
}

#[test]
fn metrics_only_call_dropped_at_each_await_point() {
    for polls in DROP_POINTS {
        cancel_after(Target::CountOnly, 1, polls);
    }
}

#[test]
fn disabled_call_dropped_at_each_await_point() {
    for polls in DROP_POINTS {
        cancel_after(Target::Disabled, 1, polls);
    }
}

#[test]
fn open_and_forced_open_refuse_before_any_await() {
    for target in [Target::Open, Target::ForcedOpen] {
        for polls in DROP_POINTS {
            cancel_after(target, 1, polls);
        }
    }
}

/// The control: the same future, polled to the end, is counted. (So the checks above
/// would see a count if a dropped call made one.)
#[test]
fn a_call_polled_to_completion_is_counted() {
    let (b, clock, log) = breaker(2);
    enter(Target::Closed, &b, &clock);
    let before = counted(&b);
    take(&log);
    let mut fut = pin!(b.call_async(|| PendingThen {
        left: 3,
        result: Err("boom"),
    }));
    let mut cx = Context::from_waker(Waker::noop());
    for _ in 0..3 {
        assert!(fut.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(
        fut.as_mut().poll(&mut cx),
        Poll::Ready(Err(failgate::Error::Inner("boom")))
    );
    assert_eq!(
        take(&log),
        vec![
            EventKind::StateChange {
                from: State::Closed,
                to: State::Open,
                reason: failgate::Reason::ConsecutiveFailures {
                    count: 3,
                    threshold: 3
                },
                generation: before.generation + 1,
                wait: Some(WAIT),
            },
            EventKind::Failure {
                duration: None,
                counted: true
            },
        ]
    );
    assert_eq!(
        b.state(),
        State::Open,
        "the third failure in a row trips it"
    );
}

/// Several probes pending at once, dropped one by one in a different order than they
/// were admitted: each drop gives back exactly one slot.
#[test]
fn pending_probes_dropped_one_by_one_give_back_one_slot_each() {
    let permits = 4;
    let (b, clock, log) = breaker(permits);
    enter(Target::HalfOpen, &b, &clock);
    take(&log);
    let mut cx = Context::from_waker(Waker::noop());
    let mut futs: Vec<Pin<Box<_>>> = (0..permits)
        .map(|_| {
            Box::pin(b.call_async(|| PendingThen {
                left: 1_000,
                result: Ok(1),
            }))
        })
        .collect();
    for f in futs.iter_mut() {
        assert!(f.as_mut().poll(&mut cx).is_pending());
    }
    assert_eq!(b.snapshot().half_open_probes, permits);
    // The next one is refused at its first poll: the slots are all taken.
    let mut extra = pin!(b.call_async(|| PendingThen {
        left: 0,
        result: Ok(2),
    }));
    assert!(matches!(
        extra.as_mut().poll(&mut cx),
        Poll::Ready(Err(failgate::Error::Rejected(_)))
    ));
    take(&log);
    for (i, index) in [2usize, 0, 1, 0].into_iter().enumerate() {
        drop(futs.remove(index));
        assert_eq!(b.snapshot().half_open_probes, permits - 1 - i as u32);
        assert_eq!(take(&log), vec![EventKind::Abandoned]);
    }
    assert_eq!(b.state(), State::HalfOpen, "abandoning decides nothing");
}

/// A call admitted in one state and dropped after the breaker moved on: one
/// `Abandoned`, and nothing changes in the new state.
#[test]
fn a_call_dropped_after_a_transition_changes_nothing_in_the_new_state() {
    for (admitted_in, then) in [
        (Target::Closed, Target::ForcedOpen),
        (Target::CountOnly, Target::Closed),
        (Target::HalfOpen, Target::HalfOpen), // reopened by a failed probe, then probing again
    ] {
        let (b, clock, log) = breaker(2);
        enter(admitted_in, &b, &clock);
        let mut cx = Context::from_waker(Waker::noop());
        // Boxed, so that `drop` below really drops the future.
        let mut fut = Box::pin(b.call_async(|| PendingThen {
            left: 1_000,
            result: Ok(1),
        }));
        assert!(fut.as_mut().poll(&mut cx).is_pending());
        match then {
            Target::ForcedOpen => b.force_open(),
            Target::Closed => b.reset(),
            _ => {
                let p = b.try_acquire().expect("the second probe slot");
                p.failure();
                assert_eq!(b.state(), State::Open);
                clock.advance(WAIT * 2);
                assert_eq!(b.state(), State::HalfOpen);
            }
        }
        let before = counted(&b);
        take(&log);
        drop(fut);
        assert_eq!(take(&log), vec![EventKind::Abandoned], "{admitted_in:?}");
        assert_eq!(counted(&b), before, "{admitted_in:?} -> {then:?}");
    }
}

/// `call_async_with` follows the same rules: a dropped call is abandoned, not ignored.
#[test]
fn call_async_with_dropped_while_pending_is_abandoned_once() {
    let (b, clock, log) = breaker(1);
    enter(Target::HalfOpen, &b, &clock);
    take(&log);
    {
        let mut fut = pin!(b.call_async_with(
            |_: &Result<u32, &str>| Outcome::Success,
            || PendingThen {
                left: 5,
                result: Ok(1),
            }
        ));
        let mut cx = Context::from_waker(Waker::noop());
        for _ in 0..3 {
            assert!(fut.as_mut().poll(&mut cx).is_pending());
        }
        assert_eq!(b.snapshot().half_open_probes, 1);
    }
    assert_eq!(take(&log), vec![EventKind::Abandoned]);
    assert_eq!(b.snapshot().half_open_probes, 0);
    assert_eq!(b.state(), State::HalfOpen);
}
