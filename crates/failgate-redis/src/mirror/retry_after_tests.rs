//! The mirror's side of "retry after", on a manual clock. (The fleet-wide behaviour,
//! through Redis, is tested in `crate::retry_after_tests`.)

use super::tests::{core_with, reply};
use super::*;
use crate::script::Announcement;
use failgate::ManualClock;

const SECOND: Duration = Duration::from_secs(1);

fn honouring(clock: &ManualClock) -> Mirror {
    core_with(clock, |s| s.honor_retry_after = true)
}

fn refusal(m: &Mirror) -> Option<Duration> {
    m.admit().unwrap_err().retry_after()
}

#[test]
fn a_hint_noted_while_open_stretches_the_local_wait_at_once_and_is_flushed() {
    let clock = ManualClock::new();
    let m = honouring(&clock);
    m.install_reply_test(&reply(SharedState::Open, 1, 1_000, 0));
    m.take_urgent();
    m.note_retry_after(30 * SECOND);
    assert_eq!(
        refusal(&m),
        Some(30 * SECOND),
        "refused at once, for the hint"
    );
    assert!(m.is_urgent(), "the sync task was woken to carry it");
    assert!(!m.is_idle());
    clock.advance(SECOND);
    let flush = m.take_flush(false, 0);
    assert_eq!(flush.retry_after_ms, 29_000, "what is left of it");
    assert_eq!(m.take_flush(false, 0).retry_after_ms, 0, "carried once");
    // Redis answers with its wait (already stretched, or not yet): the mirror keeps
    // the longer one.
    m.install_reply_test(&reply(SharedState::Open, 1, 500, 0));
    assert_eq!(refusal(&m), Some(29 * SECOND));
    m.install_reply_test(&reply(SharedState::Open, 1, 40_000, 0));
    assert_eq!(
        refusal(&m),
        Some(40 * SECOND),
        "another instance's longer hint"
    );
}

#[test]
fn an_open_state_installed_later_lasts_at_least_the_local_hint() {
    let clock = ManualClock::new();
    let m = honouring(&clock);
    m.install_reply_test(&reply(SharedState::Closed, 1, 0, 0));
    m.note_retry_after(30 * SECOND);
    assert_eq!(m.admit(), Ok(Admission::Counted(1)), "closed still admits");
    // Redis opens for 1 s without having heard of the hint yet.
    m.install_reply_test(&reply(SharedState::Open, 2, 1_000, 0));
    assert_eq!(refusal(&m), Some(30 * SECOND));
    // The same through an announcement, in local mode (Redis slow or away).
    let m = honouring(&clock);
    m.note_retry_after(20 * SECOND);
    m.install_announcement(&Announcement {
        generation: 1,
        state: SharedState::Open,
        open_left_ms: 1_000,
        epoch: 0,
    });
    assert_eq!(refusal(&m), Some(20 * SECOND));
}

#[test]
fn an_announced_longer_wait_of_the_same_open_state_stretches_the_mirror() {
    let clock = ManualClock::new();
    let m = honouring(&clock);
    m.install_reply_test(&reply(SharedState::Open, 3, 1_000, 0));
    m.install_announcement(&Announcement {
        generation: 3,
        state: SharedState::Open,
        open_left_ms: 25_000,
        epoch: 1,
    });
    assert_eq!(refusal(&m), Some(25 * SECOND));
}

#[test]
fn max_retry_after_caps_the_local_hint() {
    let clock = ManualClock::new();
    let m = core_with(&clock, |s| {
        s.honor_retry_after = true;
        s.max_retry_after = 5 * SECOND;
    });
    m.install_reply_test(&reply(SharedState::Open, 1, 1_000, 0));
    m.note_retry_after(3600 * SECOND);
    assert_eq!(refusal(&m), Some(5 * SECOND));
    assert_eq!(m.take_flush(false, 0).retry_after_ms, 5_000);
}

#[test]
fn without_honor_retry_after_a_hint_changes_nothing() {
    let clock = ManualClock::new();
    let m = core_with(&clock, |_| {});
    assert!(!m.honors_retry_after());
    m.install_reply_test(&reply(SharedState::Open, 1, 1_000, 0));
    m.take_urgent();
    m.note_retry_after(30 * SECOND);
    assert_eq!(refusal(&m), Some(SECOND));
    assert!(!m.is_urgent());
    assert_eq!(m.take_flush(false, 0).retry_after_ms, 0);
}

#[test]
fn closing_forgets_the_local_hint() {
    let clock = ManualClock::new();
    let m = honouring(&clock);
    m.install_reply_test(&reply(SharedState::HalfOpen, 1, 0, 0));
    m.note_retry_after(30 * SECOND);
    m.install_reply_test(&reply(SharedState::Closed, 2, 0, 0));
    assert_eq!(
        m.take_flush(false, 0).retry_after_ms,
        0,
        "forgotten, not sent"
    );
    m.install_reply_test(&reply(SharedState::Open, 3, 1_000, 0));
    assert_eq!(refusal(&m), Some(SECOND));
}
