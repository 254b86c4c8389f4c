//! Which stripe of a striped counter the current thread writes to.
//!
//! A counter that every call increments is one cache line that every core writes:
//! two threads on one breaker would pass it back and forth on each call. A striped
//! counter is several counters, each on lines of its own, and their sum is the count.
//! Each thread is handed a number once, round robin, so threads started one after the
//! other (a pool's workers, say) write to different stripes.

use std::cell::Cell;
use std::sync::atomic::{AtomicUsize, Ordering::Relaxed};
use std::sync::OnceLock;

/// The most stripes a counter is split into.
const MAX_STRIPES: usize = 4;

static NEXT: AtomicUsize = AtomicUsize::new(0);

std::thread_local! {
    // Const-initialised and without a destructor: reading it is one load relative to
    // the thread pointer, and it never allocates or registers anything.
    static MINE: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// The current thread's number: any stripe count masks it to a stripe.
#[inline(always)]
pub(crate) fn thread_index() -> usize {
    MINE.try_with(|mine| match mine.get() {
        usize::MAX => assign(mine),
        i => i,
    })
    .unwrap_or(0)
}

#[cold]
#[inline(never)]
fn assign(mine: &Cell<usize>) -> usize {
    let i = NEXT.fetch_add(1, Relaxed) & (usize::MAX >> 1);
    mine.set(i);
    i
}

/// How many stripes to make: one per processor that can run at once, up to
/// `MAX_STRIPES`, as a power of two (so a thread's number masks to a stripe). A
/// single processor gets one stripe: nothing runs alongside to share it with.
pub(crate) fn count() -> usize {
    static COUNT: OnceLock<usize> = OnceLock::new();
    *COUNT.get_or_init(|| {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        let n = cpus.clamp(1, MAX_STRIPES);
        if n.is_power_of_two() {
            n
        } else {
            n.next_power_of_two() / 2
        }
    })
}

#[cfg(all(test, not(failgate_loom)))]
mod tests {
    use super::*;

    #[test]
    fn a_thread_keeps_its_number_and_the_next_thread_gets_another() {
        let mine = thread_index();
        assert_eq!(thread_index(), mine);
        let other = std::thread::spawn(thread_index).join().unwrap();
        assert_ne!(other, mine);
    }

    #[test]
    fn the_stripe_count_is_a_small_power_of_two() {
        let n = count();
        assert!(n.is_power_of_two() && n <= MAX_STRIPES, "{n}");
    }
}
