//! Heap bytes per breaker stay within budget (a budget in bytes, not a timing): each
//! figure is what `benches/memory.rs` reports, measured the same way, with the counting
//! allocator every allocation test shares (`failgate-testkit`).

// The test kit every crate's tests share: crates/failgate-testkit's sources, linked in
// (tests/testkit/ holds symlinks) so that the packaged crate tests on its own.
#[allow(dead_code, unreachable_pub)]
mod testkit;

use crate::testkit::alloc::live_bytes_per as bytes_per;
use failgate::{CircuitBreaker, Window};
use std::time::Duration;

#[global_allocator]
static ALLOC: crate::testkit::alloc::Counting = crate::testkit::alloc::Counting;

const N: usize = 1000;

fn assert_within(what: &str, bytes: f64, budget: usize) {
    assert!(
        bytes <= budget as f64,
        "{what}: {bytes} bytes per breaker, over its budget of {budget}"
    );
}

#[test]
fn a_default_breaker_stays_within_its_memory_budget() {
    let bytes = bytes_per(N, |_| CircuitBreaker::builder().build().unwrap());
    // The handle (16), the shared state (64 for the counts, 256 for the core) and the
    // name ("default", 23 bytes after its counts, 24 with the vector's alignment).
    assert_within("default policy", bytes, 360);
}

#[test]
fn a_time_window_breaker_pays_only_for_its_own_window() {
    let time = |_| {
        CircuitBreaker::builder()
            .failure_rate(0.5)
            .window(Window::time(Duration::from_secs(60)))
            .build()
            .unwrap()
    };
    // The default breaker, the window (72) and its ten buckets (240).
    assert_within("time window of 60 s", bytes_per(N, time), 360 + 72 + 240);
}

#[test]
fn a_count_window_breaker_stays_within_its_memory_budget() {
    let count = |_| {
        CircuitBreaker::builder()
            .failure_rate(0.5)
            .window(Window::count(100))
            .build()
            .unwrap()
    };
    // The default breaker, the window (80), its bitmaps (failures and occupancy, two
    // words each), and the shared head with one cursor per stripe, each on 128 bytes of
    // its own: one stripe per CPU, as a power of two, at most four.
    let stripes = std::thread::available_parallelism()
        .map_or(1, |n| n.get())
        .min(4)
        .next_power_of_two();
    let budget = 360 + 80 + 32 + (1 + stripes) * 128;
    assert_within("count window of 100", bytes_per(N, count), budget);
}

#[cfg(feature = "registry")]
#[test]
fn a_named_breaker_in_a_registry_stays_within_its_memory_budget() {
    const NAMED: usize = 100_000;
    let before = crate::testkit::alloc::live_bytes();
    let registry = failgate::Registry::new(CircuitBreaker::builder()).unwrap();
    for i in 0..NAMED {
        drop(registry.get_or_create(&format!("breaker-{i}")).unwrap());
    }
    let after = crate::testkit::alloc::live_bytes();
    let bytes = (after - before) as f64 / NAMED as f64;
    // Half the 1,276 bytes a named breaker took when the core was padded to pairs of
    // lines: the breaker, its name, the map's key and the map's share.
    assert_within("Registry, named (default)", bytes, 638);
    drop(std::hint::black_box(registry));
}
