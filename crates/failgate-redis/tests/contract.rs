//! The breaker contract ([`failgate::Breaker`]) kept by the fleet breaker: the same
//! test bodies (from `failgate-testkit`) that `failgate`'s `tests/contract.rs` runs
//! against the local breaker, here against a real Redis.

// The test kit every crate's tests share: crates/failgate-testkit's sources, linked in
// (tests/testkit/ holds symlinks) so that the packaged crate tests on its own.
#[allow(dead_code, unreachable_pub)]
mod testkit;

mod common;

use crate::testkit::contract::{self, Policy, Subject};
use common::{eventually, fleet, unique_namespace, Target};
use failgate_redis::{FleetBreaker, Mode};
use std::future::Future;
use std::time::Duration;

/// Fleet breakers on one Redis, each in a namespace of its own. A failure rate of 1
/// over `failures` calls opens exactly as `failures` failures in a row would.
struct Fleet {
    redis: Target,
}

impl Subject for Fleet {
    type Breaker = FleetBreaker;

    fn breaker(&mut self, p: Policy) -> impl Future<Output = FleetBreaker> {
        let breaker = fleet(&self.redis.url, &unique_namespace("contract"))
            .failure_rate(1.0)
            .minimum_calls(u64::from(p.failures))
            .open_for(p.open_for)
            .honor_retry_after(p.honor_retry_after)
            .build()
            .expect("a valid policy");
        async move {
            eventually("shared", Duration::from_secs(5), || {
                breaker.mode() == Mode::Shared
            })
            .await;
            breaker
        }
    }

    /// Two round trips after now: the first flushes what was counted, the second
    /// hears any transition it caused (a trip is installed by the first already).
    fn sync(&mut self, breaker: &FleetBreaker) -> impl Future<Output = ()> {
        let start = breaker.status().round_trips;
        let breaker = breaker.clone();
        async move {
            eventually("two round trips", Duration::from_secs(5), || {
                breaker.status().round_trips >= start + 2
            })
            .await;
        }
    }
}

fn subject() -> Option<Fleet> {
    Target::get().map(|redis| Fleet { redis })
}

macro_rules! contract_tests {
    ($($name:ident),* $(,)?) => {$(
        #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
        async fn $name() {
            let Some(mut fleet) = subject() else { return };
            contract::$name(&mut fleet).await;
        }
    )*};
}

contract_tests!(
    retry_after_reaches_the_breaker_through_call,
    retry_after_reaches_the_breaker_through_call_async,
    retry_after_is_ignored_unless_honoured,
    ignored_calls_count_nothing,
    abandoned_calls_count_nothing,
    an_open_breaker_refuses_without_running_the_call,
    permits_and_snapshots_describe_their_state,
);

#[cfg(feature = "tower")]
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retry_after_reaches_the_breaker_through_tower() {
    let Some(mut fleet) = subject() else { return };
    contract::retry_after_reaches_the_breaker_through_tower(
        &mut fleet,
        failgate_redis::tower::FleetBreakerLayer::new,
    )
    .await;
}
