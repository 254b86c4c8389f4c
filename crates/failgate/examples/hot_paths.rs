//! The hot paths (closed, with and without the clock; open; half-open; two threads on
//! one breaker), beside the hardware floor under them: what reading the time costs on
//! this machine.
//!
//! ```sh
//! cargo run -p failgate --release --example hot_paths
//! ```
//!
//! Each figure is the median over rounds of a tight loop, in nanoseconds per
//! iteration (the loop's own cost included, as in criterion's figures). On Unix a
//! round is timed in the thread's CPU time, so that time spent descheduled on a
//! loaded machine does not count (and two builds can be compared on a busy machine);
//! elsewhere, in wall time. Arguments keep only the paths whose names contain one of
//! them.
#![allow(missing_docs)]

use failgate::{CircuitBreaker, Clock, ManualClock, SystemClock, Window};
use std::hint::black_box;
use std::time::{Duration, Instant};

const ROUNDS: usize = 15;

/// Iterations per round: `HOT_PATHS_ITERS` (say, a small number under callgrind, to
/// count instructions), or two million.
fn iters() -> u64 {
    std::env::var("HOT_PATHS_ITERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2_000_000)
}

/// Nanoseconds this thread has run, if the system says.
#[cfg(unix)]
#[allow(unsafe_code)]
fn cpu_nanos() -> Option<u64> {
    let mut t = libc::timespec {
        tv_sec: 0,
        tv_nsec: 0,
    };
    // SAFETY: `t` is a valid timespec for the call to write.
    let rc = unsafe { libc::clock_gettime(libc::CLOCK_THREAD_CPUTIME_ID, &mut t) };
    (rc == 0).then(|| t.tv_sec as u64 * 1_000_000_000 + t.tv_nsec as u64)
}

#[cfg(not(unix))]
fn cpu_nanos() -> Option<u64> {
    None
}

fn round(f: &mut impl FnMut()) -> f64 {
    let iters = iters();
    let (cpu, wall) = (cpu_nanos(), Instant::now());
    for _ in 0..iters {
        f();
    }
    let nanos = match (cpu, cpu_nanos()) {
        (Some(a), Some(b)) => b - a,
        _ => wall.elapsed().as_nanos() as u64,
    };
    nanos as f64 / iters as f64
}

fn measure(name: &str, mut f: impl FnMut()) {
    round(&mut f); // warm up
    report(name, (0..ROUNDS).map(|_| round(&mut f)).collect());
}

fn report(name: &str, mut rounds: Vec<f64>) {
    rounds.sort_by(f64::total_cmp);
    println!(
        "{:>8.2} ns  (min {:>6.2})  {name}",
        rounds[rounds.len() / 2],
        rounds[0]
    );
}

/// Two threads calling `f` at once: each thread's time per call, and (wall time, so
/// only meaningful on an idle machine) the best time per call of the pair.
fn measure_two_threads(name: &str, f: &(dyn Fn() + Sync)) {
    let mut per_thread = Vec::new();
    let mut best_wall = f64::MAX;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        std::thread::scope(|s| {
            let threads: Vec<_> = (0..2).map(|_| s.spawn(|| round(&mut || f()))).collect();
            per_thread.extend(threads.into_iter().map(|t| t.join().unwrap_or(f64::NAN)));
        });
        best_wall = best_wall.min(start.elapsed().as_nanos() as f64 / (2 * iters()) as f64);
    }
    report(name, per_thread);
    println!("{best_wall:>8.2} ns  per call of the pair (best wall time)  {name}");
}

#[cfg(target_arch = "x86_64")]
#[allow(unsafe_code, unused_unsafe)]
fn rdtsc() -> u64 {
    // SAFETY: every x86_64 processor has the time-stamp counter.
    unsafe { core::arch::x86_64::_rdtsc() }
}

fn main() {
    let only: Vec<String> = std::env::args().skip(1).collect();
    let wanted = |name: &str| only.is_empty() || only.iter().any(|o| name.contains(o.as_str()));
    let run = |name: &str, f: &mut dyn FnMut()| {
        if wanted(name) {
            measure(name, f);
        }
    };

    run("floor: empty loop", &mut || black_box(()));
    #[cfg(target_arch = "x86_64")]
    run("floor: bare _rdtsc", &mut || {
        black_box(rdtsc());
    });
    let q = quanta::Clock::new();
    run("floor: quanta Clock::raw", &mut || {
        black_box(q.raw());
    });
    let origin = q.raw();
    run("floor: quanta raw + delta_as_nanos", &mut || {
        black_box(q.delta_as_nanos(origin, q.raw()));
    });
    let sc = SystemClock::new();
    run("floor: SystemClock::now_nanos", &mut || {
        black_box(black_box(&sc).now_nanos());
    });
    let std_origin = Instant::now();
    run("floor: std Instant::elapsed", &mut || {
        black_box(std_origin.elapsed());
    });
    let counter = std::sync::atomic::AtomicU64::new(0);
    run("floor: uncontended compare_exchange", &mut || {
        let c = counter.load(std::sync::atomic::Ordering::Relaxed);
        let _ = black_box(&counter).compare_exchange(
            c,
            c + 1,
            std::sync::atomic::Ordering::AcqRel,
            std::sync::atomic::Ordering::Relaxed,
        );
    });

    let open = CircuitBreaker::builder()
        .consecutive_failures(5)
        .build()
        .expect("a valid breaker");
    for _ in 0..5 {
        let _ = open.call(|| Err::<(), ()>(()));
    }
    run("open_rejection: call", &mut || {
        black_box(open.call(|| Ok::<u64, ()>(black_box(1))).is_ok());
    });
    run("open_rejection: try_acquire", &mut || {
        black_box(open.try_acquire().is_err());
    });

    let clock = ManualClock::new();
    let cycling = CircuitBreaker::builder()
        .consecutive_failures(1)
        .open_for(Duration::from_secs(1))
        .half_open_permits(1)
        .clock(clock.clone())
        .build()
        .expect("a valid breaker");
    run("half_open_cycle: trip, wait, closing probe", &mut || {
        let _ = cycling.call(|| Err::<(), ()>(()));
        clock.advance(Duration::from_secs(1));
        black_box(cycling.call(|| Ok::<u64, ()>(black_box(1))).is_ok());
    });
    run("half_open_cycle: ManualClock::advance alone", &mut || {
        clock.advance(Duration::from_nanos(1));
    });
    assert_eq!(cycling.state(), failgate::State::Closed);

    let closed = CircuitBreaker::builder()
        .consecutive_failures(5)
        .build()
        .expect("a valid breaker");
    run("closed_success: consecutive", &mut || {
        black_box(closed.call(|| Ok::<u64, ()>(black_box(1))).is_ok());
    });
    clock_paths(&wanted);
}

/// The closed-state paths that read the clock, and two threads on one breaker.
fn clock_paths(wanted: &dyn Fn(&str) -> bool) {
    let build = |b: failgate::Builder| b.build().expect("a valid breaker");
    let consecutive = build(CircuitBreaker::builder().consecutive_failures(5));
    let count_window = build(
        CircuitBreaker::builder()
            .failure_rate(0.5)
            .window(Window::count(100)),
    );
    let time_window = build(
        CircuitBreaker::builder()
            .failure_rate(0.5)
            .window(Window::time(Duration::from_secs(60))),
    );
    let slow_calls = build(CircuitBreaker::builder().slow_calls(Duration::from_secs(1), 0.5));
    let slow_observed = build(
        CircuitBreaker::builder()
            .slow_calls(Duration::from_secs(1), 0.5)
            .observer(|e: &failgate::Event<'_>| {
                black_box(e);
            }),
    );
    let call = |b: &CircuitBreaker| {
        black_box(b.call(|| Ok::<u64, ()>(black_box(1))).is_ok());
    };
    let one = [
        ("closed_success: count window", &count_window),
        ("closed_success: time window", &time_window),
        ("closed_success: slow calls", &slow_calls),
        ("closed_success: slow calls, observed", &slow_observed),
    ];
    for (name, breaker) in one {
        if wanted(name) {
            measure(name, || call(breaker));
        }
    }
    let two = [
        ("two_threads: consecutive", &consecutive),
        ("two_threads: count window", &count_window),
        ("two_threads: time window", &time_window),
    ];
    for (name, breaker) in two {
        if wanted(name) {
            measure_two_threads(name, &|| call(breaker));
        }
    }
}
