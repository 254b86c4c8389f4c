//! A counting global allocator: allocations and live bytes, per thread, and only what
//! the thread under test does (the test harness and background tasks allocate on other
//! threads). A test binary installs it with
//!
//! ```text
//! mod testkit; // tests/testkit/, linked to these sources
//! #[global_allocator]
//! static ALLOC: testkit::alloc::Counting = testkit::alloc::Counting;
//! ```
// A global allocator is an unsafe trait; this one only counts and forwards every call
// to System unchanged.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;

/// The allocator: forwards to [`System`], counting on the calling thread.
#[derive(Debug, Clone, Copy, Default)]
pub struct Counting;

thread_local! {
    /// Bytes allocated minus bytes freed by this thread.
    static LIVE: Cell<isize> = const { Cell::new(0) };
    /// Allocations (and reallocations) made by this thread.
    static COUNT: Cell<usize> = const { Cell::new(0) };
}

fn note_alloc(size: usize) {
    // `try_with`: the allocator also runs while a thread's locals are torn down.
    let _ = LIVE.try_with(|l| l.set(l.get() + size as isize));
    let _ = COUNT.try_with(|c| c.set(c.get() + 1));
}

fn note_free(size: usize) {
    let _ = LIVE.try_with(|l| l.set(l.get() - size as isize));
}

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc(layout) };
        if !p.is_null() {
            note_alloc(layout.size());
        }
        p
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let p = unsafe { System.alloc_zeroed(layout) };
        if !p.is_null() {
            note_alloc(layout.size());
        }
        p
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        unsafe { System.dealloc(ptr, layout) };
        note_free(layout.size());
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let p = unsafe { System.realloc(ptr, layout, new_size) };
        if !p.is_null() {
            note_free(layout.size());
            note_alloc(new_size);
        }
        p
    }
}

/// Bytes this thread has allocated and not yet freed (meaningful only in a binary
/// that installed [`Counting`]).
pub fn live_bytes() -> isize {
    LIVE.with(Cell::get)
}

/// Allocations this thread has made so far.
pub fn allocation_count() -> usize {
    COUNT.with(Cell::get)
}

/// How many allocations `f` made on this thread.
pub fn allocations_during(f: impl FnOnce()) -> usize {
    let before = allocation_count();
    f();
    allocation_count() - before
}

/// The bytes per value that stay allocated on this thread while `n` values made by
/// `make` live in a `Vec` of exactly `n` slots: each value's inline size plus all it
/// allocates (meaningful only in a binary that installed [`Counting`]).
pub fn live_bytes_per<T>(n: usize, mut make: impl FnMut(usize) -> T) -> f64 {
    let before = live_bytes();
    let mut all = Vec::with_capacity(n);
    for i in 0..n {
        all.push(make(i));
    }
    let after = live_bytes();
    drop(std::hint::black_box(all));
    (after - before) as f64 / n.max(1) as f64
}
