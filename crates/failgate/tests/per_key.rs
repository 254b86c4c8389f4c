//! A bounded map of per-key breakers keeps what it exists for: a flood of new keys
//! cannot reset, evict or share the breaker of a key that is failing (feature `tower`).
#![cfg(feature = "tower")]

use failgate::tower::per_key::BreakerMap;
use failgate::{Builder, CircuitBreaker, ManualClock, State, Window};
use std::time::Duration;

const OPEN_FOR: Duration = Duration::from_secs(30);

fn template(clock: &ManualClock) -> Builder {
    CircuitBreaker::builder()
        .name("hosts")
        .consecutive_failures(5)
        .open_for(OPEN_FOR)
        .clock(clock.clone())
}

fn fail(map: &BreakerMap<u32>, key: u32) {
    let _ = map.get(&key).call(|| Err::<(), ()>(()));
}

fn succeed(map: &BreakerMap<u32>, key: u32) {
    assert!(map.get(&key).call(|| Ok::<(), ()>(())).is_ok());
}

/// New keys, each called once and successfully: what an attacker who names many
/// distinct hosts produces.
fn flood(map: &BreakerMap<u32>, keys: std::ops::Range<u32>) {
    for key in keys {
        let _ = map.get(&key).call(|| Ok::<(), ()>(()));
    }
}

#[test]
fn a_flood_of_new_keys_cannot_reset_a_key_with_four_of_five_failures() {
    let clock = ManualClock::new();
    let map = BreakerMap::new(template(&clock), 100).unwrap();
    let victim = 0;
    for _ in 0..4 {
        fail(&map, victim);
    }
    flood(&map, 1_000..20_000);
    assert!(map.len() <= 100, "bounded: {}", map.len());
    assert_eq!(map.get(&victim).snapshot().consecutive_failures, 4);
    fail(&map, victim);
    assert_eq!(
        map.get(&victim).state(),
        State::Open,
        "the fifth failure trips"
    );
}

#[test]
fn a_flood_of_new_keys_cannot_reset_failures_in_a_count_or_time_window() {
    let clock = ManualClock::new();
    for window in [Window::count(20), Window::time(Duration::from_secs(60))] {
        let rate = CircuitBreaker::builder()
            .name("hosts")
            .failure_rate(0.5)
            .minimum_calls(4)
            .window(window)
            .clock(clock.clone());
        let map = BreakerMap::new(rate, 50).unwrap();
        fail(&map, 0);
        flood(&map, 1_000..10_000);
        assert_eq!(map.get(&0).snapshot().failures, 1, "{window:?}");
        for _ in 0..3 {
            fail(&map, 0);
        }
        assert_eq!(map.get(&0).state(), State::Open, "{window:?}");
    }
}

#[test]
fn a_flood_of_new_keys_cannot_evict_a_key_used_since_the_last_sweep() {
    let clock = ManualClock::new();
    // A count window, so that the victim's successes are counted: a fresh breaker in
    // its place would show fewer.
    let counting = template(&clock).window(Window::count(10_000));
    let map = BreakerMap::new(counting, 10).unwrap();
    flood(&map, 0..10);
    // The victim is called between every two new keys: each time the sweep reaches it,
    // it has been used since the sweep before.
    for (calls, key) in (2..).zip(100..1_000) {
        succeed(&map, 3);
        flood(&map, key..key + 1);
        assert_eq!(
            map.get(&3).snapshot().calls,
            calls,
            "evicted at new key {key}"
        );
    }
}

#[test]
fn a_flood_of_new_keys_cannot_evict_open_or_half_open_breakers() {
    let clock = ManualClock::new();
    let map = BreakerMap::new(template(&clock).open_for(Duration::from_secs(5)), 10).unwrap();
    for key in [1, 2] {
        for _ in 0..5 {
            fail(&map, key);
        }
    }
    let (open, half_open) = (map.get(&1), map.get(&2));
    clock.advance(Duration::from_secs(6));
    // Key 1 trips again from half-open, so that it is open; key 2 stays half-open.
    assert!(open.call(|| Err::<(), ()>(())).is_err());
    assert_eq!(
        (open.state(), half_open.state()),
        (State::Open, State::HalfOpen)
    );
    drop((open, half_open)); // a handle held outside the map would keep it anyway
    flood(&map, 100..10_000);
    assert_eq!(map.get(&1).state(), State::Open);
    assert_eq!(map.get(&2).state(), State::HalfOpen);
}

#[test]
fn a_key_with_a_call_in_flight_is_not_evicted() {
    let clock = ManualClock::new();
    let map = BreakerMap::new(template(&clock).consecutive_failures(1), 10).unwrap();
    // A slow call to the victim: admitted before the flood, failing after it.
    let permit = map.get(&0).try_acquire_owned().unwrap();
    flood(&map, 100..10_000);
    permit.record(failgate::Outcome::Failure);
    assert_eq!(map.get(&0).state(), State::Open, "the failure was not lost");
}

#[test]
fn a_failing_unseen_key_never_opens_a_breaker_other_unseen_keys_share() {
    let clock = ManualClock::new();
    let map = BreakerMap::new(template(&clock).consecutive_failures(1), 2).unwrap();
    for key in [1, 2] {
        fail(&map, key); // the map is full of open breakers: nothing may be evicted
    }
    for _ in 0..3 {
        fail(&map, 3);
    }
    let other = map.get(&4);
    assert_eq!(other.state(), State::Closed, "{}", other.name());
    assert!(other.call(|| Ok::<(), ()>(())).is_ok());
    assert!(!map.get(&3).same_breaker(&map.get(&4)));
}

#[test]
fn failures_of_a_key_idle_for_the_forgetting_time_are_forgotten() {
    let clock = ManualClock::new();
    let map = BreakerMap::new(template(&clock), 10).unwrap();
    for key in 0..10 {
        fail(&map, key); // one failure each: a map that new keys cannot take over...
    }
    flood(&map, 100..200);
    assert_eq!((map.len(), map.untracked()), (10, 100));
    // ...until the keys have had no call for the template's open wait.
    clock.advance(OPEN_FOR - Duration::from_secs(1));
    let _ = map.get(&5); // a call renews key 5's time
    flood(&map, 200..201);
    assert_eq!(map.untracked(), 101);
    clock.advance(Duration::from_secs(1));
    flood(&map, 300..310);
    let states = map.states();
    assert!(
        states.iter().all(|(key, _)| *key == 5 || *key >= 300),
        "{states:?}"
    );
    assert_eq!(map.get(&5).snapshot().consecutive_failures, 1);
}

/// A shorter forgetting time, set on the map, by its name and by its former one.
#[test]
#[allow(deprecated)]
fn the_former_name_forget_failures_after_still_sets_the_eviction_time() {
    let clock = ManualClock::new();
    for map in [
        BreakerMap::new(template(&clock), 1)
            .unwrap()
            .evict_failing_after(Duration::from_secs(1)),
        BreakerMap::new(template(&clock), 1)
            .unwrap()
            .forget_failures_after(Duration::from_secs(1)),
    ] {
        fail(&map, 0);
        flood(&map, 1..3); // clears the mark, then finds a failure a moment old
        assert_eq!(map.untracked(), 2);
        clock.advance(Duration::from_secs(1));
        flood(&map, 3..4);
        assert_eq!(map.states(), vec![(3, State::Closed)]);
    }
}
