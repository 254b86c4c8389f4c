//! Which stripe of a striped counter the calling thread writes.
//!
//! A counter that every call writes is a cache line that every core wants to own; two
//! threads on one breaker then pay for moving it between them on every call. Striping
//! gives each thread one of several lines instead. Threads are dealt stripes in turn
//! when they first ask, so the first threads of a process all get lines of their own.
//! Sharing a stripe is always correct, only slower: every striped structure here uses
//! read-modify-writes on its stripe.

/// The most stripes a structure gets, whatever the number of CPUs.
const MAX_STRIPES: usize = 4;

/// How many stripes to give a new structure: one per CPU this process may use, as a
/// power of two, at most [`MAX_STRIPES`]. Read once per process (asking the system is
/// a system call, and cgroup files on Linux).
#[cfg(not(failgate_loom))]
pub(crate) fn count() -> usize {
    static STRIPES: std::sync::OnceLock<usize> = std::sync::OnceLock::new();
    *STRIPES.get_or_init(|| {
        std::thread::available_parallelism()
            .map_or(1, |n| n.get())
            .min(MAX_STRIPES)
            .next_power_of_two()
    })
}

/// Under the model checker: two stripes, so two threads each get one.
#[cfg(failgate_loom)]
pub(crate) fn count() -> usize {
    2
}

/// The calling thread's stripe among `stripes` (a power of two).
#[inline(always)]
pub(crate) fn index(stripes: usize) -> usize {
    thread_number() & (stripes - 1)
}

#[cfg(not(failgate_loom))]
#[inline(always)]
fn thread_number() -> usize {
    use std::cell::Cell;
    const UNSET: usize = usize::MAX;
    thread_local! {
        static NUMBER: Cell<usize> = const { Cell::new(UNSET) };
    }
    #[cold]
    #[inline(never)]
    fn deal(cell: &Cell<usize>) -> usize {
        use std::sync::atomic::{AtomicUsize, Ordering};
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed) & (UNSET >> 1);
        cell.set(n);
        n
    }
    // A thread that is being torn down (a breaker used from another thread-local's
    // destructor) uses stripe 0.
    NUMBER
        .try_with(|cell| match cell.get() {
            UNSET => deal(cell),
            n => n,
        })
        .unwrap_or(0)
}

/// Under the model checker: the model's own thread number (0 for the main thread, then
/// 1, 2, ... in spawning order), so every execution deals the same stripes.
#[cfg(failgate_loom)]
fn thread_number() -> usize {
    let id = format!("{:?}", loom::thread::current().id());
    id.chars()
        .filter(char::is_ascii_digit)
        .collect::<String>()
        .parse()
        .unwrap_or(0)
}

#[cfg(all(test, not(failgate_loom)))]
mod tests {
    use super::*;

    #[test]
    fn stripes_are_a_power_of_two_and_threads_keep_theirs() {
        let n = count();
        assert!(n.is_power_of_two() && n <= MAX_STRIPES);
        assert_eq!(index(1), 0);
        let numbers: Vec<usize> = (0..8)
            .map(|_| std::thread::spawn(|| (thread_number(), thread_number())))
            .map(|t| t.join().unwrap())
            .map(|(first, again)| {
                assert_eq!(first, again, "a thread keeps its number");
                first
            })
            .collect();
        let mut distinct = numbers.clone();
        distinct.sort_unstable();
        distinct.dedup();
        assert_eq!(
            distinct.len(),
            numbers.len(),
            "threads are dealt distinct numbers"
        );
    }
}
