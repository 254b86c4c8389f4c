//! Loom models of the count window's striped positions (`windows/count`): chunks taken
//! from the shared head, positions taken from a stripe's cursor, and the occupancy
//! count that says how many calls the window holds.
//!
//! Under loom there are two stripes; the main thread has stripe 0 and the first
//! spawned thread stripe 1. A window of 16 then hands out chunks of 2, and a window
//! built with one stripe makes two threads race for one cursor.

use crate::vocabulary::Counts;
use crate::windows::count::CountWindow;
use loom::sync::Arc;
use loom::thread;

fn counts(calls: u64, failures: u64) -> Counts {
    Counts {
        calls,
        failures,
        slow: 0,
    }
}

/// Two threads record 2 and 2 outcomes (2 failures in all) into a window of 16: every
/// position is handed out once, so nothing is overwritten and the counts are exact.
fn every_outcome_gets_its_own_slot(stripes: usize) {
    loom::model(move || {
        let w = Arc::new(CountWindow::with_stripes(16, false, stripes));
        let w2 = w.clone();
        let t = thread::spawn(move || {
            w2.record(true, false, u64::MAX);
            w2.record(false, false, u64::MAX);
        });
        w.record(false, false, u64::MAX);
        w.record(true, false, u64::MAX);
        t.join().unwrap();
        assert_eq!(w.counts(), counts(4, 2));
    });
}

#[test]
fn loom_count_window_threads_with_stripes_of_their_own() {
    every_outcome_gets_its_own_slot(2);
}

#[test]
fn loom_count_window_threads_racing_for_one_cursor() {
    every_outcome_gets_its_own_slot(1);
}

#[test]
fn loom_count_window_reports_reaching_the_minimum_exactly_once() {
    loom::model(|| {
        let w = Arc::new(CountWindow::with_stripes(16, false, 2));
        let w2 = w.clone();
        let t = thread::spawn(move || {
            (0..2)
                .filter(|_| w2.record(false, false, 3).is_some())
                .count()
        });
        let mine = (0..2)
            .filter(|_| w.record(false, false, 3).is_some())
            .count();
        let theirs = t.join().unwrap();
        assert_eq!(mine + theirs, 1, "the third call, and only it, is judged");
        assert_eq!(w.counts(), counts(4, 0));
    });
}

/// A stale outcome racing a reset may land on either side of it (or half on each: a
/// slot counted without its failure bit), but the window is never left unable to
/// fill: a turn of outcomes after it (16, and 4 for the two chunks the other thread
/// may hold unused) fills it again.
#[test]
fn loom_count_window_reset_racing_a_record_leaves_it_able_to_fill() {
    loom::model(|| {
        let w = Arc::new(CountWindow::with_stripes(16, false, 2));
        w.record(true, false, u64::MAX);
        let w2 = w.clone();
        let t = thread::spawn(move || {
            w2.record(true, false, u64::MAX);
        });
        w.reset();
        t.join().unwrap();
        let c = w.counts();
        assert!(c.calls <= 1 && c.failures <= c.calls, "{c:?}");
        for _ in 0..20 {
            w.record(false, false, u64::MAX);
        }
        assert_eq!(w.counts(), counts(16, 0));
    });
}
