//! Per-call CPU time of the paths that read the clock, and of the clock itself.
//!
//! Criterion measures wall time, which a loaded machine inflates by whatever else runs;
//! this measures each thread's own CPU time (Linux's `/proc/thread-self/schedstat`),
//! so two builds can be compared on a busy machine. Each figure is the minimum and
//! median over rounds of one batch of calls each.
//!
//! ```sh
//! cargo run -p failgate --profile bench --example clock_paths
//! ```
#![allow(missing_docs)]

use failgate::{CircuitBreaker, Clock, SystemClock, Window};
use std::hint::black_box;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::{Duration, Instant};

const ROUNDS: usize = 9;
const CALLS: u64 = 10_000_000;

/// This thread's CPU time so far, in nanoseconds.
fn cpu_nanos() -> u64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

/// CPU nanoseconds per call of `f` over one batch.
fn batch(f: &impl Fn()) -> f64 {
    let start = cpu_nanos();
    for _ in 0..CALLS {
        f();
    }
    (cpu_nanos() - start) as f64 / CALLS as f64
}

fn report(name: &str, mut per_call: Vec<f64>) {
    per_call.sort_by(f64::total_cmp);
    println!(
        "{name:40} min {:6.2} ns  median {:6.2} ns",
        per_call[0],
        per_call[per_call.len() / 2]
    );
}

fn one_thread(name: &str, f: impl Fn()) {
    batch(&f); // warm up
    report(name, (0..ROUNDS).map(|_| batch(&f)).collect());
}

/// Two threads calling `f` at once: the CPU time per call of each, and calls per
/// second of the pair (wall time, so only meaningful on an idle machine).
fn two_threads(name: &str, f: impl Fn() + Sync) {
    let mut cpu = Vec::new();
    let mut best_wall = f64::MAX;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let per_thread: Vec<f64> = std::thread::scope(|s| {
            let handles: Vec<_> = (0..2).map(|_| s.spawn(|| batch(&f))).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        best_wall = best_wall.min(start.elapsed().as_nanos() as f64 / (2 * CALLS) as f64);
        cpu.extend(per_thread);
    }
    report(name, cpu);
    println!(
        "{:40} best wall {best_wall:6.2} ns per call of the pair",
        ""
    );
}

fn op() -> Result<u64, ()> {
    Ok(black_box(1))
}

fn main() {
    let clock = quanta::Clock::new();
    one_thread("floor/quanta_raw", || {
        black_box(clock.raw());
    });
    let system = SystemClock::new();
    one_thread("floor/system_clock_now_nanos", || {
        black_box(system.now_nanos());
    });
    let counter = AtomicU64::new(0);
    one_thread("floor/fetch_add", || {
        black_box(counter.fetch_add(1, Relaxed));
    });

    let consecutive = CircuitBreaker::builder()
        .consecutive_failures(5)
        .build()
        .unwrap();
    let time_window = CircuitBreaker::builder()
        .failure_rate(0.5)
        .window(Window::time(Duration::from_secs(60)))
        .build()
        .unwrap();
    let slow_calls = CircuitBreaker::builder()
        .slow_calls(Duration::from_secs(1), 0.5)
        .build()
        .unwrap();
    let slow_observed = CircuitBreaker::builder()
        .slow_calls(Duration::from_secs(1), 0.5)
        .observer(|e: &failgate::Event<'_>| {
            black_box(e);
        })
        .build()
        .unwrap();
    let call = |b: &CircuitBreaker| {
        black_box(b.call(op).is_ok());
    };
    one_thread("closed/consecutive", || call(&consecutive));
    one_thread("closed/time_window", || call(&time_window));
    one_thread("closed/slow_calls", || call(&slow_calls));
    one_thread("closed/slow_calls_observed", || call(&slow_observed));
    two_threads("two_threads/consecutive", || call(&consecutive));
    two_threads("two_threads/time_window", || call(&time_window));
}
