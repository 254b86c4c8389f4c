use super::*;

fn c(calls: u64, failures: u64, slow: u64) -> Counts {
    Counts {
        calls,
        failures,
        slow,
    }
}

#[test]
fn ring_keeps_exactly_the_last_n() {
    let w = CountWindow::new(4, true);
    assert_eq!(w.record(true, false, 10), Some(c(1, 1, 0)));
    assert_eq!(w.record(false, false, 10), None);
    assert_eq!(w.record(true, true, 10), Some(c(3, 2, 1)));
    assert_eq!(w.record(false, false, 10), None);
    assert_eq!(w.counts(), c(4, 2, 1));
    // the 5th outcome evicts the 1st (a failure)
    assert_eq!(w.record(false, false, 10), None);
    assert_eq!(w.counts(), c(4, 1, 1));
    // the 6th evicts the 2nd (a success) and adds a failure
    assert_eq!(w.record(true, false, 10), Some(c(4, 2, 1)));
    // the 7th evicts the slow failure
    w.record(false, false, 10);
    assert_eq!(w.counts(), c(4, 1, 0));
}

#[test]
fn success_reports_counts_when_reaching_the_minimum() {
    let w = CountWindow::new(100, false);
    w.record(true, false, 3);
    assert_eq!(w.record(false, false, 3), None);
    assert_eq!(w.record(false, false, 3), Some(c(3, 1, 0)));
    assert_eq!(w.record(false, false, 3), None);
}

#[test]
fn reset_empties_and_restarts_the_count() {
    let w = CountWindow::new(70, true);
    for i in 0..150 {
        w.record(i % 3 == 0, i % 5 == 0, 1);
    }
    assert_eq!(w.counts().calls, 70);
    w.reset();
    assert_eq!(w.counts(), c(0, 0, 0));
    w.record(true, false, 1);
    assert_eq!(w.counts(), c(1, 1, 0));
}

#[test]
fn windows_that_span_several_bitmap_words() {
    let w = CountWindow::new(200, false);
    for i in 0..200 {
        w.record(i < 130, false, 1);
    }
    assert_eq!(w.counts(), c(200, 130, 0));
    for _ in 0..100 {
        w.record(false, false, 1);
    }
    assert_eq!(w.counts(), c(200, 30, 0));
}

#[test]
fn the_windows_enum_hands_a_count_window_its_calls() {
    use crate::policy::WindowKind;
    use crate::windows::Windows;
    let w = Windows::new(WindowKind::Count(3), true, 0);
    assert!(!w.needs_clock(), "a count window never reads the clock");
    assert_eq!(w.record(0, true, true, 10), Some(c(1, 1, 1)));
    assert_eq!(w.record(0, false, false, 10), None);
    assert_eq!(w.counts(0), c(2, 1, 1));
    w.reset(0);
    assert_eq!(w.counts(0), c(0, 0, 0));
}

/// The reference: the last `size` outcomes, in order.
struct Ring {
    size: usize,
    outcomes: std::collections::VecDeque<(bool, bool)>,
}

impl Ring {
    fn push(&mut self, failure: bool, slow: bool) {
        if self.outcomes.len() == self.size {
            self.outcomes.pop_front();
        }
        self.outcomes.push_back((failure, slow));
    }

    fn counts(&self) -> Counts {
        let n = |f: fn(&(bool, bool)) -> bool| self.outcomes.iter().filter(|o| f(o)).count() as u64;
        c(self.outcomes.len() as u64, n(|o| o.0), n(|o| o.1))
    }
}

#[test]
fn one_thread_sees_exactly_the_last_n_through_chunks() {
    // Window sizes that give no chunks, small chunks and the largest, for 1 to 8 stripes.
    for (size, stripes) in [
        (5, 1),
        (64, 2),
        (100, 2),
        (100, 8),
        (1000, 1),
        (1000, 4),
        (10_000, 2),
    ] {
        let w = CountWindow::with_stripes(size, true, stripes);
        let mut model = Ring {
            size: size as usize,
            outcomes: Default::default(),
        };
        let mut x = 0x2545_f491_4f6c_dd1d_u64 ^ u64::from(size);
        for i in 0..3 * size as u64 + 17 {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            let (failure, slow) = (x.is_multiple_of(5), x.is_multiple_of(7));
            w.record(failure, slow, u64::MAX);
            model.push(failure, slow);
            if i.is_multiple_of(97) || i > 3 * size as u64 {
                assert_eq!(
                    w.counts(),
                    model.counts(),
                    "size {size}, stripes {stripes}, call {i}"
                );
            }
        }
    }
}

#[test]
fn reaching_the_minimum_through_chunks_is_reported_once() {
    let w = CountWindow::with_stripes(1000, false, 2);
    let reports: Vec<u64> = (1..=1000)
        .filter_map(|i| w.record(false, false, 300).map(|_| i))
        .collect();
    assert_eq!(reports, [300]);
}

#[test]
fn a_chunk_claimed_by_another_thread_is_not_counted_as_calls() {
    let w = std::sync::Arc::new(CountWindow::with_stripes(1000, false, 8));
    assert!(w.chunk_mask > 0, "the window must use chunks for this test");
    // Another thread records one failure and leaves the rest of its chunk unused.
    let other = w.clone();
    std::thread::spawn(move || other.record(true, false, u64::MAX))
        .join()
        .unwrap();
    for _ in 0..10 {
        w.record(false, false, u64::MAX);
    }
    assert_eq!(w.counts(), c(11, 1, 0));
    // Once a whole turn of the ring later, only this thread's outcomes are left.
    for _ in 0..2000 {
        w.record(false, false, u64::MAX);
    }
    assert_eq!(w.counts(), c(1000, 0, 0));
}

#[test]
fn threads_never_overfill_the_window_and_counts_follow_the_bits() {
    let w = CountWindow::new(256, true);
    let record_on_threads = |failure: bool| {
        std::thread::scope(|s| {
            for _ in 0..4 {
                s.spawn(|| {
                    for _ in 0..20_000 {
                        let counts = w.record(failure, failure, u64::MAX);
                        if let Some(counts) = counts {
                            assert!(counts.calls <= 256 && counts.failures <= counts.calls);
                        }
                    }
                });
            }
        });
    };
    record_on_threads(true);
    assert_eq!(w.counts(), c(256, 256, 256), "every slot holds a failure");
    record_on_threads(false);
    assert_eq!(w.counts(), c(256, 0, 0), "every failure was overwritten");
    w.reset();
    assert_eq!(w.counts(), c(0, 0, 0));
    w.record(true, false, u64::MAX);
    assert_eq!(w.counts(), c(1, 1, 0));
}
