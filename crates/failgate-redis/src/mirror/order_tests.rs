//! The mirror's side of an operator's order: obeyed at once, provisionally, in the
//! generation the script will give it, and handed to the next batch.

use super::tests::{core_with, reply};
use super::*;
use crate::order::Order;
use failgate::ManualClock;

#[test]
fn an_order_is_obeyed_at_once_and_wakes_the_sync_task_for_the_next_batch() {
    let clock = ManualClock::new();
    let m = core_with(&clock, |_| {});
    m.install_reply_test(&reply(SharedState::Closed, 3, 0, 0));
    m.take_urgent();
    let gen = m.admit().map(|a| match a {
        Admission::Counted(g) => g,
        other => panic!("{other:?}"),
    });
    assert_eq!(gen, Ok(3));
    m.record_counted(3, Outcome::Failure);
    m.order(Order::ForcedOpen);
    assert_eq!(m.state(), State::ForcedOpen);
    let r = m.admit().unwrap_err();
    assert_eq!((r.state(), r.retry_after()), (State::ForcedOpen, None));
    assert!(m.is_urgent(), "the sync task is woken");
    assert!(!m.is_idle());
    // A later order replaces the unsent one, in the same provisional generation.
    m.order(Order::CountOnly);
    assert_eq!(m.state(), State::CountOnly);
    assert_eq!(m.word.load(Acquire).generation(), 4);
    assert!(matches!(m.admit(), Ok(Admission::Counted(4))));
    m.record_counted(4, Outcome::Failure);
    let flush = m.take_flush(false, 0);
    assert_eq!(flush.order, Some(Order::CountOnly));
    assert_eq!(flush.generation, Some(4), "the generation the order makes");
    assert_eq!(
        (flush.calls, flush.failures),
        (1, 1),
        "only the failure after the order"
    );
    assert_eq!(m.take_flush(false, 0).order, None, "sent once");
    // Redis confirms.
    m.install_reply_test(&reply(SharedState::CountOnly, 4, 0, 0));
    assert_eq!(m.state(), State::CountOnly);
    // Disabled admits and counts nothing.
    m.order(Order::Disabled);
    assert!(matches!(m.admit(), Ok(Admission::Counted(5))));
    m.record_counted(5, Outcome::Failure);
    let flush = m.take_flush(false, 0);
    assert_eq!((flush.calls, flush.generation), (0, Some(5)));
}

#[test]
fn an_open_order_waits_exactly_its_time_here_then_asks_for_probes() {
    let clock = ManualClock::new();
    let m = core_with(&clock, |_| {});
    m.install_reply_test(&reply(SharedState::Open, 1, 60_000, 0));
    // An operator's opening starts the wait again, shorter than the trip's.
    m.order(Order::Open(2_000));
    let left = m.admit().unwrap_err().retry_after().unwrap();
    assert_eq!(left, Duration::from_secs(2));
    clock.advance(Duration::from_secs(2));
    m.take_urgent();
    let r = m.admit().unwrap_err();
    assert_eq!(
        (r.state(), r.retry_after()),
        (State::Open, Some(Duration::ZERO))
    );
    assert!(m.is_urgent(), "probes asked for");
}

#[test]
fn while_local_an_order_applies_to_the_fallback_and_a_fallback_keeps_an_operator_state() {
    let clock = ManualClock::new();
    let m = core_with(&clock, |_| {});
    assert_eq!(m.mode(), Mode::Local);
    m.order(Order::ForcedOpen);
    assert_eq!(m.local.state(), State::ForcedOpen);
    assert_eq!(m.state(), State::ForcedOpen);
    assert_eq!(m.mode(), Mode::Local);
    // Shared and disabled fleet-wide, then Redis goes away: the fallback is disabled too.
    m.install_reply_test(&reply(SharedState::Disabled, 7, 0, 0));
    m.local.reset();
    assert!(m.enter_local());
    assert_eq!(m.local.state(), State::Disabled);
    assert_eq!(m.state(), State::Disabled);
}
