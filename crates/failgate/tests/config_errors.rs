//! Every bad configuration value is a `ConfigError` that names its field and value.

use failgate::{Backoff, CircuitBreaker, ConfigError, Window};
use std::time::Duration;

fn error(f: impl FnOnce(failgate::Builder) -> failgate::Builder) -> ConfigError {
    f(CircuitBreaker::builder())
        .build()
        .expect_err("the builder should refuse this")
}

#[track_caller]
fn check(e: ConfigError, field: &str, value: &str) {
    assert_eq!(e.field(), field, "{e}");
    assert_eq!(e.value(), value, "{e}");
    let text = e.to_string();
    assert!(text.contains(field) && text.contains(value), "{text}");
}

const S: Duration = Duration::from_secs(1);

#[test]
fn each_field_is_checked() {
    check(error(|b| b.name("")), "name", "\"\"");
    check(
        error(|b| b.consecutive_failures(0)),
        "consecutive_failures",
        "0",
    );
    check(
        error(|b| b.consecutive_failures(1 << 30)),
        "consecutive_failures",
        "1073741824",
    );
    for bad in [0.0, -0.5, 1.5, f64::NAN, f64::INFINITY] {
        check(
            error(|b| b.failure_rate(bad)),
            "failure_rate",
            &format!("{bad:?}"),
        );
        check(
            error(|b| b.slow_calls(S, bad)),
            "slow_calls.rate",
            &format!("{bad:?}"),
        );
    }
    check(
        error(|b| b.slow_calls(Duration::ZERO, 0.5)),
        "slow_calls.threshold",
        "0ns",
    );
    check(
        error(|b| b.failure_rate(0.5).window(Window::count(0))),
        "window.count",
        "0",
    );
    check(
        error(|b| {
            b.failure_rate(0.5)
                .window(Window::count(failgate::MAX_COUNT_WINDOW + 1))
        }),
        "window.count",
        "1048577",
    );
    check(
        error(|b| b.failure_rate(0.5).window(Window::time(Duration::ZERO))),
        "window.time",
        "0ns",
    );
    check(
        error(|b| b.failure_rate(0.5).window(Window::time(S).buckets(0))),
        "window.buckets",
        "0",
    );
    check(
        error(|b| b.failure_rate(0.5).window(Window::time(S).buckets(1001))),
        "window.buckets",
        "1001",
    );
    check(
        error(|b| b.failure_rate(0.5).window(Window::time(S).buckets(2000))),
        "window.buckets",
        "2000",
    );
    check(
        error(|b| b.failure_rate(0.5).minimum_calls(0)),
        "minimum_calls",
        "0",
    );
    check(
        error(|b| {
            b.failure_rate(0.5)
                .window(Window::count(10))
                .minimum_calls(11)
        }),
        "minimum_calls",
        "11",
    );
    check(error(|b| b.open_for(Duration::ZERO)), "open_for", "0ns");
    check(
        error(|b| b.open_for(Duration::MAX)),
        "open_for",
        &format!("{:?}", Duration::MAX),
    );
    check(
        error(|b| b.backoff(Backoff::exponential(Duration::ZERO, S))),
        "backoff.base",
        "0ns",
    );
    check(
        error(|b| b.backoff(Backoff::exponential(2 * S, S))),
        "backoff.max",
        "1s",
    );
    for bad in [-0.1, 1.0, f64::NAN] {
        check(
            error(|b| b.backoff(Backoff::constant(S).with_jitter(bad))),
            "backoff.jitter",
            &format!("{bad:?}"),
        );
    }
    check(error(|b| b.half_open_permits(0)), "half_open_permits", "0");
    check(
        error(|b| b.half_open_permits(1024)),
        "half_open_permits",
        "1024",
    );
    check(
        error(|b| b.half_open_timeout(Duration::ZERO)),
        "half_open_timeout",
        "0ns",
    );
}

#[test]
fn limits_themselves_are_accepted() {
    CircuitBreaker::builder()
        .consecutive_failures(failgate::MAX_CONSECUTIVE_FAILURES)
        .failure_rate(1.0)
        .slow_calls(failgate::MAX_DURATION, 1.0)
        .window(Window::count(failgate::MAX_COUNT_WINDOW))
        .minimum_calls(u64::from(failgate::MAX_COUNT_WINDOW))
        .backoff(Backoff::exponential(S, failgate::MAX_DURATION).with_jitter(0.99))
        .half_open_permits(failgate::MAX_HALF_OPEN_PERMITS)
        .half_open_timeout(failgate::MAX_DURATION)
        .build()
        .unwrap();
    CircuitBreaker::builder()
        .failure_rate(0.5)
        .window(Window::time(Duration::from_secs(60)).buckets(failgate::MAX_TIME_BUCKETS))
        .minimum_calls(failgate::MAX_MINIMUM_CALLS)
        .honor_retry_after(true)
        .max_retry_after(failgate::MAX_DURATION)
        .build()
        .unwrap();
}

#[test]
fn a_builder_shows_its_settings_when_debugged() {
    let b = failgate::CircuitBreaker::builder()
        .name("payments")
        .consecutive_failures(3)
        .observer(|_: &failgate::Event<'_>| {});
    let shown = format!("{b:?}");
    for part in [
        "Builder",
        "\"payments\"",
        "consecutive_failures: Some(3)",
        "observers: 1",
    ] {
        assert!(shown.contains(part), "{part} in {shown}");
    }
}
