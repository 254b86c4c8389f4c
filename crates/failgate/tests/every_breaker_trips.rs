//! Property: every configuration that `build()` accepts makes a breaker that can trip.
//! Whatever the builder was given, in any order, enough consecutive failures on a
//! `ManualClock` (standing anywhere, even at the end of its range) open it: no
//! accepted setting, alone or combined, may neutralise every trip condition. (The
//! manual states `disable` and `count_only` stop tripping by design, and are not
//! builder settings.)
//!
//! Values that decide how many failures a trip takes (thresholds, window sizes,
//! minimums) are drawn small or out of range, so that "enough" stays a few hundred
//! calls; the largest accepted minimum is reached in `protection.rs`, and the largest
//! consecutive threshold by a compile-time assertion in `breaker/shared.rs`. Every other value
//! ranges over everything, valid or not.

use failgate::{
    Backoff, ManualClock, State, Window, MAX_CONSECUTIVE_FAILURES, MAX_COUNT_WINDOW, MAX_DURATION,
    MAX_HALF_OPEN_PERMITS, MAX_MINIMUM_CALLS, MAX_TIME_BUCKETS,
};
use proptest::prelude::*;
use std::time::Duration;

#[path = "support/settings.rs"]
mod settings;
use settings::{apply, Setting};

/// More failures than any generated configuration needs: thresholds, count windows and
/// minimums are at most `SMALL`.
const SMALL: u32 = 64;
const ENOUGH: u32 = 2 * SMALL;

fn dur() -> impl Strategy<Value = Duration> {
    prop_oneof![
        1 => Just(Duration::ZERO),
        4 => (1u64..1_000_000).prop_map(Duration::from_nanos),
        4 => (1u64..=MAX_DURATION.as_secs()).prop_map(Duration::from_secs),
        1 => Just(MAX_DURATION),
        1 => Just(MAX_DURATION + Duration::from_nanos(1)),
        1 => Just(Duration::MAX),
    ]
}

fn rate() -> impl Strategy<Value = f64> {
    prop_oneof![
        6 => f64::MIN_POSITIVE..=1.0f64,
        2 => Just(1.0),
        1 => Just(f64::MIN_POSITIVE),
        1 => Just(0.0),
        1 => Just(f64::NAN),
        1 => any::<f64>(),
    ]
}

/// A count that bounds the failures needed: small, or refused by `build()`.
fn small_or_refused(refused_above: u64) -> impl Strategy<Value = u64> {
    prop_oneof![
        8 => 1..=u64::from(SMALL),
        1 => Just(0u64),
        1 => refused_above + 1..=u64::MAX,
    ]
}

fn to_u32(n: u64) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

fn setting() -> impl Strategy<Value = Setting> {
    let window = prop_oneof![
        small_or_refused(u64::from(MAX_COUNT_WINDOW)).prop_map(|n| Window::count(to_u32(n))),
        (dur(), 0u32..=MAX_TIME_BUCKETS + 1).prop_map(|(d, b)| Window::time(d).buckets(b)),
        dur().prop_map(Window::time),
    ];
    let backoff = prop_oneof![
        dur().prop_map(Backoff::constant),
        (dur(), dur(), rate()).prop_map(|(b, m, j)| Backoff::exponential(b, m).with_jitter(j)),
    ];
    prop_oneof![
        ".{0,3}".prop_map(Setting::Name),
        small_or_refused(u64::from(MAX_CONSECUTIVE_FAILURES))
            .prop_map(|n| Setting::ConsecutiveFailures(to_u32(n))),
        rate().prop_map(Setting::FailureRate),
        (dur(), rate()).prop_map(|(d, r)| Setting::SlowCalls(d, r)),
        window.prop_map(Setting::Window),
        small_or_refused(MAX_MINIMUM_CALLS).prop_map(Setting::MinimumCalls),
        dur().prop_map(Setting::OpenFor),
        backoff.prop_map(Setting::Backoff),
        (0u32..=MAX_HALF_OPEN_PERMITS + 1).prop_map(Setting::HalfOpenPermits),
        dur().prop_map(Setting::HalfOpenTimeout),
        any::<bool>().prop_map(Setting::HonorRetryAfter),
        dur().prop_map(Setting::MaxRetryAfter),
        rate().prop_map(Setting::HalfOpenFailureRate),
        dur().prop_map(Setting::ForgetFailuresAfter),
    ]
}

fn start() -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0u64),
        any::<u64>(),
        (0u64..1 << 20).prop_map(|n| u64::MAX - n),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

    #[test]
    fn every_accepted_configuration_trips_on_enough_consecutive_failures(
        settings in proptest::collection::vec(setting(), 0..10),
        start in start(),
    ) {
        let clock = ManualClock::new();
        clock.advance(Duration::from_nanos(start));
        let Ok(b) = apply(&settings, Some(&clock)).0.build() else {
            return Ok(()); // refused: `fuzz_builder.rs` checks the error names a field
        };
        for _ in 0..ENOUGH {
            if b.state() == State::Open {
                return Ok(());
            }
            prop_assert!(b.call(|| Err::<(), ()>(())).is_err());
        }
        prop_assert_eq!(b.state(), State::Open, "{} failures in a row", ENOUGH);
    }
}
