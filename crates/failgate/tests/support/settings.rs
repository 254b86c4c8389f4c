//! One builder method call as a value, for the properties that generate builders
//! (`fuzz_builder.rs`, `every_breaker_trips.rs`).

use failgate::{Backoff, Builder, CircuitBreaker, ManualClock, Window};
use std::time::Duration;

/// One builder method call, with its argument.
#[derive(Debug, Clone)]
pub(crate) enum Setting {
    Name(String),
    ConsecutiveFailures(u32),
    FailureRate(f64),
    SlowCalls(Duration, f64),
    Window(Window),
    MinimumCalls(u64),
    OpenFor(Duration),
    Backoff(Backoff),
    HalfOpenPermits(u32),
    HalfOpenTimeout(Duration),
    HonorRetryAfter(bool),
    MaxRetryAfter(Duration),
    HalfOpenFailureRate(f64),
    ForgetFailuresAfter(Duration),
}

/// Applies the settings in order; returns the builder and the half-open permits asked for.
pub(crate) fn apply(settings: &[Setting], clock: Option<&ManualClock>) -> (Builder, u32) {
    let mut b = CircuitBreaker::builder();
    let mut permits = 1;
    for s in settings.iter().cloned() {
        b = match s {
            Setting::Name(n) => b.name(n),
            Setting::ConsecutiveFailures(n) => b.consecutive_failures(n),
            Setting::FailureRate(r) => b.failure_rate(r),
            Setting::SlowCalls(d, r) => b.slow_calls(d, r),
            Setting::Window(w) => b.window(w),
            Setting::MinimumCalls(n) => b.minimum_calls(n),
            Setting::OpenFor(d) => b.open_for(d),
            Setting::Backoff(k) => b.backoff(k),
            Setting::HalfOpenPermits(n) => {
                permits = n;
                b.half_open_permits(n)
            }
            Setting::HalfOpenTimeout(d) => b.half_open_timeout(d),
            Setting::HonorRetryAfter(h) => b.honor_retry_after(h),
            Setting::MaxRetryAfter(d) => b.max_retry_after(d),
            Setting::HalfOpenFailureRate(r) => b.half_open_failure_rate(r),
            Setting::ForgetFailuresAfter(d) => b.forget_failures_after(d),
        };
    }
    if let Some(c) = clock {
        b = b.clock(c.clone());
    }
    (b, permits)
}
