//! The mirror's unit tests.

use super::*;
use crate::script::{Announcement, Reply};
use failgate::ManualClock;

fn core(clock: &ManualClock) -> Mirror {
    core_with(clock, |_| {})
}

/// A mirror whose settings `tweak` changes first.
pub(super) fn core_with(clock: &ManualClock, tweak: impl FnOnce(&mut Settings)) -> Mirror {
    let local = failgate::CircuitBreaker::builder()
        .failure_rate(0.5)
        .minimum_calls(4)
        .window(failgate::Window::time(Duration::from_secs(10)))
        .clock(clock.clone())
        .build()
        .unwrap();
    let mut s = Settings::new("n");
    s.namespace = "ns".into();
    s.failure_rate = 0.5;
    s.minimum_calls = 4;
    s.clock = Arc::new(clock.clone());
    // Never stale within a test: ten rounds of 100 ms and two timeouts of 30 min.
    s.redis_timeout = Duration::from_secs(1800);
    tweak(&mut s);
    Mirror::new(local, &s, crate::wake::Link::detached())
}

impl Mirror {
    pub(super) fn install_reply_test(&self, reply: &Reply) -> Option<u64> {
        self.install_reply(reply, false)
    }
}

pub(super) fn reply(state: SharedState, generation: u64, open_left_ms: u64, granted: u64) -> Reply {
    Reply::example(state, generation, open_left_ms, granted)
}

#[test]
fn starts_local_and_a_reply_makes_it_shared() {
    let clock = ManualClock::new();
    let c = core(&clock);
    assert_eq!(c.mode(), Mode::Local);
    assert_eq!(c.admit(), Ok(Admission::Local));
    c.install_reply_test(&reply(SharedState::Closed, 3, 0, 0));
    assert_eq!(c.mode(), Mode::Shared);
    assert_eq!(c.admit(), Ok(Admission::Counted(3)));
}

#[test]
fn open_refuses_with_the_time_left_then_asks_for_probes() {
    let clock = ManualClock::new();
    let c = core(&clock);
    c.install_reply_test(&reply(SharedState::Open, 1, 2_000, 0));
    let r = c.admit().unwrap_err();
    assert_eq!(
        (r.state(), r.retry_after()),
        (State::Open, Some(Duration::from_secs(2)))
    );
    clock.advance(Duration::from_secs(2));
    let r = c.admit().unwrap_err();
    assert_eq!(r.retry_after(), Some(Duration::ZERO));
    assert!(c.is_urgent(), "the sync task was woken to ask for probes");
    let flush = c.take_flush(false, 0);
    assert_eq!(flush.want_probes, u64::MAX);
    assert_eq!(flush.generation, Some(1));
}

#[test]
fn probes_come_only_from_granted_tokens_of_the_current_generation() {
    let clock = ManualClock::new();
    let c = core(&clock);
    c.install_reply_test(&reply(SharedState::HalfOpen, 2, 0, 2));
    assert_eq!(c.admit(), Ok(Admission::Probe(2)));
    assert_eq!(c.admit(), Ok(Admission::Probe(2)));
    assert_eq!(c.admit().unwrap_err().state(), State::HalfOpen);
    // A newer generation invalidates what is left.
    c.install_reply_test(&reply(SharedState::HalfOpen, 4, 0, 1));
    assert_eq!(c.held_tokens(), 1);
    c.install_reply_test(&reply(SharedState::HalfOpen, 6, 0, 0));
    assert_eq!(c.held_tokens(), 0);
    assert!(c.admit().is_err());
}

#[test]
fn stale_outcomes_and_announcements_are_discarded() {
    let clock = ManualClock::new();
    let c = core(&clock);
    c.install_reply_test(&reply(SharedState::Closed, 5, 0, 0));
    let Ok(Admission::Counted(g)) = c.admit() else {
        panic!()
    };
    c.record_counted(g, Outcome::Success);
    assert!(c.install_announcement(&Announcement {
        generation: 6,
        state: SharedState::Open,
        open_left_ms: 1_000,
        epoch: 1,
    }));
    c.record_counted(g, Outcome::Failure); // late: admitted in generation 5
    let flush = c.take_flush(false, 0);
    assert_eq!(
        (flush.calls, flush.failures),
        (0, 0),
        "the success of generation 5 was not flushed before it ended, the failure came late"
    );
    assert_eq!(flush.generation, Some(6));
    // An older announcement changes nothing.
    assert!(!c.install_announcement(&Announcement {
        generation: 5,
        state: SharedState::Closed,
        open_left_ms: 0,
        epoch: 1,
    }));
    assert_eq!(c.state(), State::Open);
}

#[test]
fn a_fallback_counts_local_outcomes_for_the_shared_window_once() {
    let clock = ManualClock::new();
    let c = core(&clock);
    c.install_reply_test(&reply(SharedState::Closed, 1, 0, 0));
    c.record_counted(1, Outcome::Success);
    for outcome in [Outcome::Success, Outcome::Failure, Outcome::Ignore] {
        c.record_local(outcome);
    }
    let resync = c.take_flush(true, 0);
    assert_eq!(
        (
            resync.calls,
            resync.failures,
            resync.generation,
            resync.epoch
        ),
        (3, 1, None, 1)
    );
    assert_eq!(c.take_flush(true, 0).calls, 0, "taken once");
    c.record_local(Outcome::Failure);
    c.forget_local();
    assert_eq!(c.take_flush(true, 0).calls, 0);
}

#[test]
fn a_new_epoch_is_a_lost_state_and_is_adopted_whatever_its_generation() {
    let clock = ManualClock::new();
    let c = core(&clock);
    c.install_reply_test(&reply(SharedState::HalfOpen, 2, 0, 2));
    assert_eq!(c.held_tokens(), 2);
    let in_epoch_2 = |state, generation| Reply {
        epoch: 2,
        ..reply(state, generation, 0, 0)
    };
    assert_eq!(
        c.install_reply_test(&in_epoch_2(SharedState::Closed, 0)),
        Some(1)
    );
    assert_eq!(
        (c.state(), c.word.load(Acquire).generation()),
        (State::Closed, 0)
    );
    assert_eq!(c.integrity.lost(), 1);
    // The new state reaches the generation the lost one's permits were of.
    assert_eq!(
        c.install_reply_test(&in_epoch_2(SharedState::Open, 1)),
        None
    );
    assert_eq!(
        c.install_reply_test(&in_epoch_2(SharedState::HalfOpen, 2)),
        None
    );
    assert_eq!(c.held_tokens(), 0, "the lost state's permits are void");
    assert_eq!(c.integrity.lost(), 1, "lost once");
    // An announcement of the old epoch asks for a round trip instead of installing.
    assert!(!c.install_announcement(&Announcement {
        generation: 9,
        state: SharedState::Open,
        open_left_ms: 1_000,
        epoch: 1,
    }));
    assert!(c.is_urgent());
    assert_eq!(c.state(), State::HalfOpen);
}

#[test]
fn failures_that_could_trip_wake_the_sync_task() {
    let clock = ManualClock::new();
    let c = core(&clock);
    c.install_reply_test(&reply(SharedState::Closed, 1, 0, 0));
    c.record_counted(1, Outcome::Success);
    c.record_counted(1, Outcome::Failure);
    assert!(!c.is_urgent(), "2 calls: below the minimum of 4");
    c.record_counted(1, Outcome::Success);
    c.record_counted(1, Outcome::Failure);
    assert!(c.is_urgent(), "4 calls, half failed: could trip");
}

#[test]
fn local_mode_keeps_a_shared_open_state_until_its_deadline() {
    let clock = ManualClock::new();
    let c = core(&clock);
    c.install_reply_test(&reply(SharedState::Open, 1, 1_000, 0));
    assert!(c.enter_local());
    assert!(!c.enter_local(), "once");
    assert_eq!(c.admit().unwrap_err().state(), State::Open);
    clock.advance(Duration::from_secs(1));
    assert_eq!(c.admit(), Ok(Admission::Local));
}

#[test]
fn a_late_grant_of_an_ended_generation_changes_nothing() {
    let clock = ManualClock::new();
    let c = core(&clock);
    c.install_reply_test(&reply(SharedState::HalfOpen, 4, 0, 2));
    c.install_reply_test(&reply(SharedState::HalfOpen, 3, 0, 5)); // answered before 4 began
    assert_eq!(c.held_tokens(), 2, "generation 4 keeps its two permits");
    assert_eq!(c.admit(), Ok(Admission::Probe(4)));
    assert_eq!(c.admit(), Ok(Admission::Probe(4)));
    assert!(c.admit().is_err());
}

#[test]
fn racing_calls_never_take_more_probes_than_granted_per_generation() {
    use std::sync::atomic::AtomicUsize;
    const GENERATIONS: usize = 20_000;
    const GRANTED: u64 = 2;
    let clock = ManualClock::new();
    let c = core(&clock);
    let taken: Vec<AtomicUsize> = (0..=GENERATIONS + 1).map(|_| AtomicUsize::new(0)).collect();
    let done = AtomicBool::new(false);
    std::thread::scope(|s| {
        for _ in 0..3 {
            s.spawn(|| {
                while !done.load(Relaxed) {
                    if let Ok(Admission::Probe(g)) = c.admit() {
                        taken[g as usize].fetch_add(1, Relaxed);
                    }
                }
            });
        }
        s.spawn(|| {
            for g in 1..=GENERATIONS as u64 {
                // Half-open with two permits, then (every other time) a late answer
                // granting permits of the generation before: it must neither add
                // probes to that ended generation nor take this one's permits away.
                c.install_reply_test(&reply(SharedState::HalfOpen, g, 0, GRANTED));
                if g.is_multiple_of(2) {
                    c.install_reply_test(&reply(SharedState::HalfOpen, g - 1, 0, GRANTED));
                }
                for _ in 0..50 {
                    std::hint::spin_loop();
                }
            }
            done.store(true, Relaxed);
        });
    });
    let total: usize = taken.iter().map(|t| t.load(Relaxed)).sum();
    assert!(total > 0, "the workers did take probes");
    for (g, t) in taken.iter().enumerate() {
        let t = t.load(Relaxed) as u64;
        assert!(
            t <= GRANTED,
            "generation {g}: {t} probes for {GRANTED} permits"
        );
    }
}
