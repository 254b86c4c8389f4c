use super::*;

const SEC: u64 = 1_000_000_000;

fn window() -> TimeWindow {
    // 10 s in 10 buckets of 1 s.
    TimeWindow::new(Duration::from_secs(10), 10, true, 0)
}

#[test]
fn outcomes_drop_out_after_the_span() {
    let w = window();
    w.record(0, true, false, 1);
    w.record(SEC / 2, false, true, 1);
    w.record(3 * SEC, true, false, 1);
    assert_eq!(
        w.counts(5 * SEC),
        Counts {
            calls: 3,
            failures: 2,
            slow: 1
        }
    );
    // At 10 s the first bucket (0..1 s) is out; the one from 3 s is in.
    assert_eq!(
        w.counts(10 * SEC),
        Counts {
            calls: 1,
            failures: 1,
            slow: 0
        }
    );
    // Nothing arrives, and yet the window slides: empty at 13 s.
    assert_eq!(w.counts(13 * SEC), Counts::default());
}

#[test]
fn a_recycled_bucket_forgets_its_old_period() {
    let w = window();
    w.record(SEC, true, false, 1);
    // 11 s lands in the same slot as 1 s.
    w.record(11 * SEC, false, false, 1);
    assert_eq!(
        w.counts(11 * SEC),
        Counts {
            calls: 1,
            failures: 0,
            slow: 0
        }
    );
}

#[test]
fn successes_are_judged_below_the_minimum_and_in_new_periods() {
    let w = window();
    assert!(w.record(0, false, false, 2).is_some(), "below the minimum");
    assert!(
        w.record(1, false, false, 2).is_some(),
        "reaches the minimum"
    );
    assert!(w.record(2, false, false, 2).is_none(), "nothing can change");
    assert!(
        w.record(SEC, false, false, 2).is_some(),
        "first in a new period"
    );
    assert!(
        w.record(SEC + 1, true, false, 2).is_some(),
        "failures always"
    );
}

#[test]
fn late_callers_count_in_the_newer_period() {
    let w = window();
    w.record(11 * SEC, false, false, 1);
    // A caller that read the clock long before (its period 1 shares the slot with
    // period 11) does not roll the bucket back.
    w.record(SEC, true, false, 1);
    assert_eq!(
        w.counts(11 * SEC),
        Counts {
            calls: 2,
            failures: 1,
            slow: 0
        }
    );
}

#[test]
fn located_buckets_match_division() {
    let w = TimeWindow::new(Duration::from_millis(70), 7, false, 0); // 10 ms buckets
    let ms = 1_000_000;
    for now in [
        0,
        1,
        9 * ms,
        10 * ms,
        10 * ms - 1,
        69 * ms,
        70 * ms,
        71 * ms,
        7 * ms,
        12_345 * ms,
    ] {
        let (period, slot) = w.locate(now);
        assert_eq!(period, now / (10 * ms), "period of {now}");
        assert_eq!(slot as u64, period % 7, "slot of {now}");
    }
}

#[test]
fn reset_empties() {
    let w = window();
    w.record(0, true, true, 1);
    w.reset(0);
    assert_eq!(w.counts(0), Counts::default());
    assert!(w.below_minimum.load(Relaxed));
}

#[test]
fn counts_stay_visible_far_from_the_clock_origin() {
    // Periods past 2^27 (and 2^28): fresh, reset and idle counters must never look
    // newer than the current period.
    for start in [(1u64 << 27) + 5, (1 << 28) + 3, 3 << 27] {
        let now = start * SEC;
        let w = TimeWindow::new(Duration::from_secs(10), 10, true, now);
        w.record(now, true, true, 1);
        w.record(now + 1, false, false, 1);
        assert_eq!(
            w.counts(now + 1),
            Counts {
                calls: 2,
                failures: 1,
                slow: 1
            },
            "{start}"
        );
        w.reset(now + 2);
        w.record(now + 3 * SEC, true, false, 1);
        assert_eq!(
            w.counts(now + 3 * SEC),
            Counts {
                calls: 1,
                failures: 1,
                slow: 0
            }
        );
        // A bucket idle for 2^27 periods comes back as an old period, not a new one.
        let later = now + (1 << 27) * SEC;
        w.record(later, true, false, 1);
        assert_eq!(
            w.counts(later),
            Counts {
                calls: 1,
                failures: 1,
                slow: 0
            }
        );
    }
}

#[test]
fn tags_compare_across_wraparound() {
    assert!(
        runs_ahead(9, TAG_MASK, 10),
        "one window ahead, across the wrap"
    );
    assert!(runs_ahead(44, 4, 10) && runs_ahead(14, 4, 10));
    assert!(
        !runs_ahead(54, 4, 10),
        "more than four windows: an old period"
    );
    assert!(!runs_ahead(5, 4, 10), "not the same slot");
    assert!(!runs_ahead(4, 4, 10));
    assert!(
        !runs_ahead(0, 1 << 27, 10),
        "a fresh counter is not newer than anything"
    );
}

#[test]
fn the_windows_enum_hands_a_time_window_its_calls_and_the_time() {
    use crate::policy::WindowKind;
    use crate::windows::Windows;
    let kind = WindowKind::Time {
        span: Duration::from_secs(10),
        buckets: 10,
    };
    let w = Windows::new(kind, true, 0);
    assert!(w.needs_clock(), "a time window reads the clock");
    let one = Counts {
        calls: 1,
        failures: 1,
        slow: 1,
    };
    assert_eq!(w.record(SEC, true, true, 10), Some(one));
    assert_eq!(w.counts(SEC), one);
    assert_eq!(
        w.counts(11 * SEC),
        Counts::default(),
        "the time is passed on"
    );
    w.reset(SEC);
    assert_eq!(w.counts(SEC), Counts::default());
}

#[test]
fn a_bucket_count_saturates_below_its_tag() {
    let tag = 5;
    let word = AtomicU64::new((tag << TAG_SHIFT) | (COUNT_CEILING - 1));
    assert_eq!(bump(&word, tag, 10), (tag, false));
    assert_eq!(word.load(Relaxed), (tag << TAG_SHIFT) | COUNT_CEILING);
    // At the ceiling the count stops growing, far from carrying into the tag.
    assert_eq!(bump(&word, tag, 10), (tag, false));
    assert_eq!(word.load(Relaxed), (tag << TAG_SHIFT) | COUNT_CEILING);
    const { assert!(COUNT_CEILING < COUNT_MASK && COUNT_CEILING > 1 << 35) };
}

const MS: u64 = 1_000_000;

#[test]
fn a_counter_idle_for_2_pow_28_periods_is_not_taken_for_a_current_one() {
    // 1 ms buckets; period p and p + 2^28 share both a slot and a tag.
    let w = TimeWindow::new(Duration::from_millis(16), 16, false, 0);
    let p = 1u64 << 20;
    assert!(w.record(p * MS, true, false, 1).is_some());
    let failure = Counts {
        calls: 1,
        failures: 1,
        slow: 0,
    };
    assert_eq!(w.counts(p * MS), failure);
    let later = (p + (1 << 28)) * MS;
    assert_eq!(w.counts(later), Counts::default(), "nothing recorded since");
    w.record(later, false, false, 1);
    let success = Counts {
        calls: 1,
        failures: 0,
        slow: 0,
    };
    assert_eq!(
        w.counts(later),
        success,
        "the old failure does not come back"
    );
}

#[test]
fn after_a_reset_anywhere_on_the_tag_circle_a_new_period_is_new() {
    // A success first in a new period is judged (the window may have lost outcomes),
    // wherever the reset left the tags: mid-circle, and just before they wrap.
    for p in [4, TAG_MASK - 1, TAG_MASK] {
        let w = TimeWindow::new(Duration::from_millis(10), 10, false, p * MS);
        assert!(
            w.record(p * MS, false, false, 1).is_some(),
            "below the minimum"
        );
        assert!(
            w.record((p + 1) * MS, false, false, 1).is_some(),
            "first in period {} after a reset at {p}",
            p + 1
        );
        assert_eq!(w.counts((p + 1) * MS).calls, 2);
    }
}

#[test]
fn recycling_a_counter_just_before_the_tags_wrap() {
    // Period 2^28 - 10 is one window short of the wrap: its counter, left expired
    // by the reset, is recycled for it and counts the call.
    let p = TAG_MASK - 9;
    let w = TimeWindow::new(Duration::from_millis(10), 10, false, p * MS);
    w.record(p * MS, false, false, 1);
    assert_eq!(w.counts(p * MS).calls, 1);
}
