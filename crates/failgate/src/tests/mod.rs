//! Tests of the concurrent core that need crate internals.

#[cfg(failgate_loom)]
mod loom_count_window;
#[cfg(failgate_loom)]
mod loom_models;

/// A budget, not a timing: the shared state of one breaker is four cache lines (the
/// line every call reads, then everything else), and it stays so. Heap bytes per
/// breaker, allocations included, are checked by `tests/memory_budget.rs`.
#[cfg(not(failgate_loom))]
#[test]
fn core_stays_within_four_cache_lines() {
    use crate::breaker::shared::Core;
    use std::mem::{align_of, size_of};
    assert_eq!(align_of::<Core>(), 64, "lines of 64 bytes, not pairs");
    assert!(
        size_of::<Core>() <= 256,
        "Core is {} bytes",
        size_of::<Core>()
    );
    let settings = size_of::<crate::policy::Settings>();
    assert!(settings <= 144, "Settings is {settings} bytes");
    let clock = size_of::<crate::clock::ClockSource>();
    assert!(clock <= 16, "ClockSource is {clock} bytes");
}
