//! Bytes per breaker, measured: the shared counting allocator (`failgate-testkit`), and
//! N = 100,000 breakers of each kind kept in a `Vec` (whose slots count the breaker's
//! inline size). Prints one line per kind; no timing.
//!
//! Run with `cargo bench -p failgate --bench memory --features registry` (the feature
//! adds 1,000,000 named breakers in a `failgate::Registry`).
#![allow(missing_docs)]

// The test kit every crate's tests share: crates/failgate-testkit's sources, linked in
// (tests/testkit/ holds symlinks) so that the packaged crate tests on its own.
#[path = "../tests/testkit/mod.rs"]
#[allow(dead_code, unreachable_pub)]
mod testkit;

use std::time::Duration;

mod peers;

// Builds n values into a `Vec` of exactly n slots; the bytes per value that stay
// allocated while they live.
use crate::testkit::alloc::live_bytes_per as bytes_per;

// The counting allocator every allocation test shares: it counts this thread's live
// bytes, and every breaker here is built on the main thread.
#[global_allocator]
static ALLOC: crate::testkit::alloc::Counting = crate::testkit::alloc::Counting;

const N: usize = 100_000;

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
    let before = crate::testkit::alloc::live_bytes();
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
    let after = crate::testkit::alloc::live_bytes();
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
