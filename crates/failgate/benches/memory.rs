//! Bytes per breaker, measured: a global allocator that counts live heap bytes, and
//! N = 100,000 breakers of each kind kept in a `Vec` (whose slots count the breaker's
//! inline size). Prints one line per kind; no timing.
//!
//! Run with `cargo bench -p failgate --bench memory --features registry` (the feature
//! adds 1,000,000 named breakers in a `failgate::Registry`).
#![allow(missing_docs)]
// A global allocator is an unsafe trait; this one only counts and forwards to System.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicIsize, Ordering};
use std::time::Duration;

mod peers;

struct Counting;

/// Heap bytes currently allocated (by every thread).
static LIVE: AtomicIsize = AtomicIsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size() as isize, Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        LIVE.fetch_add(
            new_size as isize - layout.size() as isize,
            Ordering::Relaxed,
        );
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

const N: usize = 100_000;

/// Builds `n` values with `make` into a `Vec` of exactly `n` slots and returns the
/// bytes per value that stay allocated while they live.
fn bytes_per<T>(n: usize, mut make: impl FnMut(usize) -> T) -> f64 {
    let before = LIVE.load(Ordering::Relaxed);
    let mut all = Vec::with_capacity(n);
    for i in 0..n {
        all.push(make(i));
    }
    let after = LIVE.load(Ordering::Relaxed);
    drop(std::hint::black_box(all));
    (after - before) as f64 / n as f64
}

fn report(name: &str, bytes: f64) {
    println!("{name:<44} {bytes:>10.1} bytes per breaker");
}

fn failgate_breakers() {
    let build = |b: failgate::Builder| b.build().expect("a valid configuration");
    let default = || build(failgate::CircuitBreaker::builder());
    report("failgate, default policy", bytes_per(N, |_| default()));
    let count = || {
        build(
            failgate::CircuitBreaker::builder()
                .failure_rate(0.5)
                .window(failgate::Window::count(100)),
        )
    };
    report("failgate, count window of 100", bytes_per(N, |_| count()));
    let time = || {
        build(
            failgate::CircuitBreaker::builder()
                .failure_rate(0.5)
                .window(failgate::Window::time(Duration::from_secs(60))),
        )
    };
    report("failgate, time window of 60 s", bytes_per(N, |_| time()));
}

#[cfg(feature = "registry")]
fn failgate_registry() {
    const NAMED: usize = 1_000_000;
    let before = LIVE.load(Ordering::Relaxed);
    let registry = failgate::Registry::new(failgate::CircuitBreaker::builder())
        .expect("a valid configuration");
    for i in 0..NAMED {
        let name = format!("breaker-{i}");
        drop(
            registry
                .get_or_create(&name)
                .expect("a valid configuration"),
        );
    }
    let after = LIVE.load(Ordering::Relaxed);
    let label = "failgate Registry, 1,000,000 named (default)";
    report(label, (after - before) as f64 / NAMED as f64);
    drop(std::hint::black_box(registry));
}

#[cfg(not(feature = "registry"))]
fn failgate_registry() {
    println!("(the Registry figure needs --features registry)");
}

fn peer_breakers() {
    use peers::*;
    report(
        "failsafe 1.3, default",
        bytes_per(N, |_| failsafe_peer::default()),
    );
    report(
        "recloser 1.4, default",
        bytes_per(N, |_| recloser::Recloser::default()),
    );
    let cb = bytes_per(N, |_| circuitbreaker_rs_peer::default());
    report("circuitbreaker-rs 0.1, default", cb);
    let bm = bytes_per(N, |_| breaker_machines_peer::default());
    report("breaker-machines 0.17, default", bm);
    let (clock, _driver) = seatbelt_peer::clock();
    let sb = bytes_per(N, |_| seatbelt_peer::service(&seatbelt_peer::layer(&clock)));
    report("seatbelt 0.11, default (service)", sb);
    let tr = bytes_per(N, |_| tower_resilience_peer::default());
    report("tower-resilience-circuitbreaker 0.14 (service)", tr);
}

fn main() {
    // `cargo bench` passes `--bench` (and any filter); there is nothing to filter.
    failgate_breakers();
    failgate_registry();
    peer_breakers();
}
