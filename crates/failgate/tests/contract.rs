//! The breaker contract ([`failgate::Breaker`]) kept by the local breaker: the shared
//! test bodies of `failgate-testkit`, which `failgate-redis`'s `tests/contract.rs` runs
//! against the fleet breaker.

// The test kit every crate's tests share: crates/failgate-testkit's sources, linked in
// (tests/testkit/ holds symlinks) so that the packaged crate tests on its own.
#[allow(dead_code, unreachable_pub)]
mod testkit;

use crate::testkit::contract::{self, Policy, Subject};
use failgate::CircuitBreaker;
use futures::executor::block_on;
use std::future::Future;

/// Local breakers: decided at once, so `sync` has nothing to wait for.
struct Local;

impl Subject for Local {
    type Breaker = CircuitBreaker;

    fn breaker(&mut self, p: Policy) -> impl Future<Output = CircuitBreaker> {
        let breaker = CircuitBreaker::builder()
            .consecutive_failures(p.failures)
            .open_for(p.open_for)
            .honor_retry_after(p.honor_retry_after)
            .build()
            .expect("a valid policy");
        std::future::ready(breaker)
    }

    fn sync(&mut self, _: &CircuitBreaker) -> impl Future<Output = ()> {
        std::future::ready(())
    }
}

#[test]
fn retry_after_reaches_the_breaker_through_call() {
    block_on(contract::retry_after_reaches_the_breaker_through_call(
        &mut Local,
    ));
}

#[test]
fn retry_after_reaches_the_breaker_through_call_async() {
    block_on(contract::retry_after_reaches_the_breaker_through_call_async(&mut Local));
}

#[cfg(feature = "tower")]
#[test]
fn retry_after_reaches_the_breaker_through_tower() {
    block_on(contract::retry_after_reaches_the_breaker_through_tower(
        &mut Local,
        failgate::tower::CircuitBreakerLayer::new,
    ));
}

#[test]
fn retry_after_is_ignored_unless_honoured() {
    block_on(contract::retry_after_is_ignored_unless_honoured(&mut Local));
}

#[test]
fn ignored_calls_count_nothing() {
    block_on(contract::ignored_calls_count_nothing(&mut Local));
}

#[test]
fn abandoned_calls_count_nothing() {
    block_on(contract::abandoned_calls_count_nothing(&mut Local));
}

#[test]
fn an_open_breaker_refuses_without_running_the_call() {
    block_on(contract::an_open_breaker_refuses_without_running_the_call(
        &mut Local,
    ));
}

#[test]
fn permits_and_snapshots_describe_their_state() {
    block_on(contract::permits_and_snapshots_describe_their_state(
        &mut Local,
    ));
}
