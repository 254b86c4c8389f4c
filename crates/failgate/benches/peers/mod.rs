//! The peer breakers, built once here for `breaker.rs` and `memory.rs`: each peer's
//! breaker for a path, and the small adapters its API needs (an error type that is a
//! `std::error::Error`, a clock, a service to wrap).
#![allow(dead_code)] // each bench uses its own subset

use std::future::Future;
use std::task::{Context, Poll, Waker};
use std::time::Duration;

/// The guarded operation's error for peers that require `std::error::Error`.
#[derive(Debug)]
pub(crate) struct Failure;

impl std::fmt::Display for Failure {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("failure")
    }
}

impl std::error::Error for Failure {}

/// Polls a future that is ready at once (every service here answers at once).
pub(crate) fn now<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => unreachable!("the mock service answers at once"),
    }
}

/// Polls a future once and, if it waits (a lock another thread holds), blocks the
/// thread until it is ready.
pub(crate) fn settle<F: Future>(f: F) -> F::Output {
    let mut f = std::pin::pin!(f);
    match f.as_mut().poll(&mut Context::from_waker(Waker::noop())) {
        Poll::Ready(out) => out,
        Poll::Pending => futures::executor::block_on(f),
    }
}

/// The inner tower service of every peer's tower stack: echoes its request, and fails
/// when the request is 0 (so requests choose the outcome).
pub(crate) type Echo = tower::util::ServiceFn<fn(u64) -> std::future::Ready<Result<u64, ()>>>;

pub(crate) fn echo() -> Echo {
    fn answer(x: u64) -> std::future::Ready<Result<u64, ()>> {
        std::future::ready(if x == 0 { Err(()) } else { Ok(x) })
    }
    tower::service_fn(answer as fn(u64) -> _)
}

pub(crate) mod failsafe_peer {
    use super::*;
    use failsafe::{backoff, failure_policy, Config};

    /// Trips on `n` consecutive failures and stays open for `open`.
    pub(crate) fn consecutive(
        n: u32,
        open: Duration,
    ) -> impl failsafe::CircuitBreaker + Clone + Send + Sync {
        let policy = failure_policy::consecutive_failures(n, backoff::constant(open));
        Config::new().failure_policy(policy).build()
    }

    pub(crate) fn default() -> impl failsafe::CircuitBreaker {
        Config::new().build()
    }
}

pub(crate) mod circuitbreaker_rs_peer {
    use super::*;
    use circuitbreaker_rs::{CircuitBreaker, DefaultPolicy};

    pub(crate) type Breaker = CircuitBreaker<DefaultPolicy, Failure>;

    /// Trips on `n` consecutive failures (its default policy also trips on a 50% error
    /// rate over at least 10 calls), half-open after `cooldown`, closed by one success.
    pub(crate) fn consecutive(n: u64, cooldown: Duration) -> Breaker {
        CircuitBreaker::<DefaultPolicy, Failure>::builder()
            .consecutive_failures(n)
            .consecutive_successes(1)
            .cooldown(cooldown)
            .build()
    }

    pub(crate) fn default() -> Breaker {
        CircuitBreaker::<DefaultPolicy, Failure>::builder().build()
    }
}

pub(crate) mod breaker_machines_peer {
    use breaker_machines::CircuitBreaker;

    /// Trips on `n` failures in its 60 s window, half-open after `open_secs`, closed by
    /// one success.
    pub(crate) fn consecutive(n: usize, open_secs: f64) -> CircuitBreaker {
        CircuitBreaker::builder("bench")
            .failure_threshold(n)
            .half_open_timeout_secs(open_secs)
            .success_threshold(1)
            .build()
    }

    pub(crate) fn default() -> CircuitBreaker {
        CircuitBreaker::builder("bench").build()
    }
}

pub(crate) mod seatbelt_peer {
    use super::*;
    use layered::{Execute, Layer};
    use seatbelt::breaker::{Breaker, BreakerLayer, HalfOpenMode};
    use seatbelt::typestates::Set;
    use seatbelt::{RecoveryInfo, ResilienceContext};

    type Out = Result<u64, ()>;

    /// The system clock, with its driver: the driver is kept alive beside the clock.
    pub(crate) fn clock() -> (tick::Clock, tick::runtime::ClockDriver) {
        tick::runtime::InactiveClock::default().activate(Waker::noop().clone())
    }

    /// Seatbelt's breaker with its defaults (a 10% failure rate over 30 s, from 100 calls).
    pub(crate) fn layer(clock: &tick::Clock) -> BreakerLayer<u64, Out, Set, Set> {
        let context = ResilienceContext::<u64, Out>::new(clock);
        Breaker::layer("bench", &context)
            .recovery_with(|out: &Out, _| match out {
                Ok(_) => RecoveryInfo::never(),
                Err(_) => RecoveryInfo::retry(),
            })
            .rejected_input_error(|_, _| ())
    }

    /// Trips on the first failure (rate 100% over at least one call), half-open after
    /// `open`, closed by one successful probe.
    pub(crate) fn tripping(
        clock: &tick::Clock,
        open: Duration,
    ) -> BreakerLayer<u64, Out, Set, Set> {
        layer(clock)
            .min_throughput(1)
            .break_duration(open)
            .half_open_mode(HalfOpenMode::quick())
    }

    /// The breaker as a `layered` service (its own API) around `op`.
    pub(crate) fn service(
        layer: &BreakerLayer<u64, Out, Set, Set>,
    ) -> impl layered::Service<u64, Out = Out> {
        layer.layer(Execute::new(|x: u64| async move {
            if x == 0 {
                Err(())
            } else {
                Ok(x)
            }
        }))
    }

    /// The breaker as a tower service around `echo`.
    pub(crate) fn tower(
        layer: &BreakerLayer<u64, Out, Set, Set>,
    ) -> impl tower::Service<u64, Response = u64, Error = ()> {
        layer.layer(echo())
    }
}

pub(crate) mod tower_resilience_peer {
    use super::*;
    use tower::Layer;
    use tower_resilience_circuitbreaker::{CircuitBreakerLayer, SlidingWindowType};

    pub(crate) type Service = tower_resilience_circuitbreaker::CircuitBreaker<
        Echo,
        tower_resilience_circuitbreaker::DefaultClassifier,
    >;

    /// Trips on `n` consecutive failures, half-open after `open`, closed by one probe.
    pub(crate) fn consecutive(n: usize, open: Duration) -> Service {
        let layer = CircuitBreakerLayer::builder()
            .consecutive_failures(n)
            .wait_duration_in_open(open)
            .permitted_calls_in_half_open(1)
            .build()
            .expect("a valid configuration");
        layer.layer(echo())
    }

    /// A 50% failure rate over the last 100 calls.
    pub(crate) fn count_window() -> Service {
        let layer = CircuitBreakerLayer::builder()
            .failure_rate_threshold(0.5)
            .sliding_window_type(SlidingWindowType::CountBased)
            .sliding_window_size(100)
            .minimum_number_of_calls(100)
            .build()
            .expect("a valid configuration");
        layer.layer(echo())
    }

    pub(crate) fn default() -> Service {
        let layer = CircuitBreakerLayer::builder()
            .build()
            .expect("the default configuration");
        layer.layer(echo())
    }

    /// One call as tower's contract has it: `poll_ready`, then `call`. The call's
    /// future takes the circuit's async lock, which waits while another thread holds it.
    pub(crate) fn ready_call(svc: &mut Service, req: u64) -> bool {
        use tower::Service as _;
        let ready = svc.poll_ready(&mut Context::from_waker(Waker::noop()));
        matches!(ready, Poll::Ready(Ok(()))) && settle(svc.call(req)).is_ok()
    }
}
