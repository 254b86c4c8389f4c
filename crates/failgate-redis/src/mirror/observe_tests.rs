//! What the mirror tells its observers (`FleetBuilder::observer`): the changes of the
//! state callers see, once each, with the reason of where they came from.

use super::tests::{core_with, reply};
use super::*;
use crate::order::Order;
use crate::script::Announcement;
use failgate::{Event, EventKind, ManualClock, Reason};
use std::sync::Mutex;

type Heard = Arc<Mutex<Vec<(State, State, Reason, u64, Option<Duration>)>>>;

fn observed(clock: &ManualClock) -> (Mirror, Heard) {
    let heard: Heard = Arc::default();
    let keep = heard.clone();
    let observer = move |e: &Event<'_>| {
        if let EventKind::StateChange {
            from,
            to,
            reason,
            generation,
            wait,
        } = e.kind
        {
            keep.lock()
                .unwrap()
                .push((from, to, reason, generation, wait));
        }
    };
    let core = core_with(clock, |s| s.observers.push(Arc::new(observer)));
    (core, heard)
}

fn announce(c: &Mirror, state: SharedState, generation: u64, open_left_ms: u64) {
    c.install_announcement(&Announcement {
        generation,
        state,
        open_left_ms,
        epoch: c.integrity.epoch(),
    });
}

#[test]
fn each_change_of_the_shared_state_is_told_once_with_the_fleet_reason() {
    let clock = ManualClock::new();
    let (c, heard) = observed(&clock);
    // Local and closed, then shared and closed: nothing callers see changed.
    c.install_reply_test(&reply(SharedState::Closed, 1, 0, 0));
    assert!(heard.lock().unwrap().is_empty());

    c.install_reply_test(&reply(SharedState::Open, 2, 5_000, 0));
    // The same generation again (a poll after pub/sub): no second event.
    announce(&c, SharedState::Open, 2, 4_000);
    c.install_reply_test(&reply(SharedState::Open, 2, 4_000, 0));
    // An older generation arriving late is not installed, so not told.
    announce(&c, SharedState::Closed, 1, 0);
    announce(&c, SharedState::HalfOpen, 3, 0);
    announce(&c, SharedState::Open, 4, 5_000);
    // A newer generation of the state it is in (the half-open round of generation 5
    // came and went unseen) is no change callers see.
    announce(&c, SharedState::Open, 6, 5_000);
    announce(&c, SharedState::Closed, 7, 0);
    let fleet = Reason::Fleet;
    assert_eq!(
        *heard.lock().unwrap(),
        vec![
            (
                State::Closed,
                State::Open,
                fleet,
                2,
                Some(Duration::from_secs(5))
            ),
            (State::Open, State::HalfOpen, fleet, 3, None),
            (
                State::HalfOpen,
                State::Open,
                fleet,
                4,
                Some(Duration::from_secs(5))
            ),
            (State::Open, State::Closed, fleet, 7, None),
        ]
    );
}

#[test]
fn an_order_given_here_carries_the_operators_reason() {
    let clock = ManualClock::new();
    let (c, heard) = observed(&clock);
    c.install_reply_test(&reply(SharedState::Closed, 1, 0, 0));
    c.order(Order::ForcedOpen);
    c.order(Order::Open(2_000));
    c.order(Order::Close);
    let moves: Vec<_> = heard
        .lock()
        .unwrap()
        .iter()
        .map(|&(f, t, r, _, w)| (f, t, r, w))
        .collect();
    let wait = Duration::from_secs(2);
    assert_eq!(
        moves,
        vec![
            (State::Closed, State::ForcedOpen, Reason::Manual, None),
            (
                State::ForcedOpen,
                State::Open,
                Reason::ManualOpen { wait },
                Some(wait)
            ),
            (State::Open, State::Closed, Reason::ManualClose, None),
        ]
    );
}

#[test]
fn falling_back_is_told_only_when_it_changes_what_callers_see() {
    let clock = ManualClock::new();
    let (c, heard) = observed(&clock);
    c.install_reply_test(&reply(SharedState::HalfOpen, 1, 0, 0));
    heard.lock().unwrap().clear();
    // Half-open fleet-wide, then Redis goes away: the fallback starts closed.
    assert!(c.enter_local());
    assert_eq!(c.state(), State::Closed);
    // Back: the fleet's open state replaces the fallback's closed one.
    c.install_reply_test(&reply(SharedState::Open, 2, 1_000, 0));
    assert_eq!(
        *heard.lock().unwrap(),
        vec![
            (State::HalfOpen, State::Closed, Reason::Fleet, 1, None),
            (
                State::Closed,
                State::Open,
                Reason::Fleet,
                2,
                Some(Duration::from_secs(1))
            ),
        ]
    );
    // An open fleet falling back keeps refusing until its wait ends: no change.
    heard.lock().unwrap().clear();
    assert!(c.enter_local());
    assert_eq!(c.state(), State::Open);
    assert!(heard.lock().unwrap().is_empty());
}

#[test]
fn time_in_state_counts_from_the_change_this_instance_saw() {
    let clock = ManualClock::new();
    let (c, _) = observed(&clock);
    c.install_reply_test(&reply(SharedState::Closed, 1, 0, 0));
    clock.advance(Duration::from_secs(2));
    c.install_reply_test(&reply(SharedState::Open, 2, 60_000, 0));
    clock.advance(Duration::from_secs(3));
    // A poll of the same state starts nothing anew.
    c.install_reply_test(&reply(SharedState::Open, 2, 57_000, 0));
    assert_eq!(c.snapshot().time_in_state, Duration::from_secs(3));
    announce(&c, SharedState::Closed, 3, 0);
    clock.advance(Duration::from_secs(1));
    assert_eq!(c.snapshot().time_in_state, Duration::from_secs(1));
}
