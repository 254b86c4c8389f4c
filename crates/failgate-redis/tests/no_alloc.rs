//! No call path of the fleet breaker allocates, in shared mode and in fallback: the
//! contract's call paths (`crate::testkit::contract::traffic`, which the local
//! breaker's test runs too), under the counting global allocator every allocation test
//! shares (per thread, so the background tasks, which do allocate for their round
//! trips, are not counted).

// The test kit every crate's tests share: crates/failgate-testkit's sources, linked in
// (tests/testkit/ holds symlinks) so that the packaged crate tests on its own.
#[allow(dead_code, unreachable_pub)]
mod testkit;

mod common;

use common::{eventually, fleet, unique_namespace, Redis, Target};
use failgate::State;
use failgate_redis::Mode;
use std::time::Duration;

use crate::testkit::alloc::allocations_during;
use crate::testkit::contract::traffic;

#[global_allocator]
static ALLOC: crate::testkit::alloc::Counting = crate::testkit::alloc::Counting;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_call_path_allocates_shared_or_local() {
    let Some(redis) = Target::get() else { return };
    let b = fleet(&redis.url, &unique_namespace("no-alloc"))
        .minimum_calls(1_000_000) // stays closed under the traffic below
        .build()
        .unwrap();
    let second = Duration::from_secs(1);
    eventually("shared", 5 * second, || b.mode() == Mode::Shared).await;
    let _ = b.call(|| Ok::<_, ()>(())); // warm up
    let n = allocations_during(|| traffic(&b, 10_000));
    assert_eq!(n, 0, "{n} allocations on the shared closed path");
    assert_eq!(b.mode(), Mode::Shared);

    // Open: refusals, and the wake-up asking Redis for probe permits.
    let tripping = fleet(&redis.url, &unique_namespace("no-alloc-open"))
        .open_for(Duration::from_millis(200))
        .build()
        .unwrap();
    eventually("shared", 5 * second, || tripping.mode() == Mode::Shared).await;
    let n = allocations_during(|| {
        for _ in 0..8 {
            let _ = tripping.call(|| Err::<(), _>("down"));
        }
    });
    assert_eq!(
        n, 0,
        "{n} allocations while failing (and waking the sync task)"
    );
    eventually("open", 2 * second, || tripping.state() == State::Open).await;
    let n = allocations_during(|| traffic(&tripping, 1_000));
    assert_eq!(n, 0, "{n} allocations while refusing");
    tokio::time::sleep(Duration::from_millis(250)).await;
    let n = allocations_during(|| drop(tripping.try_acquire()));
    assert_eq!(n, 0, "{n} allocations asking for probe permits");
    eventually("half-open", 2 * second, || {
        tripping.state() == State::HalfOpen
    })
    .await;
    let n = allocations_during(|| traffic(&tripping, 1_000));
    assert_eq!(n, 0, "{n} allocations probing");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_local_fallback_does_not_allocate_either() {
    let Some(mut redis) = Redis::start() else {
        return;
    };
    let b = fleet(&redis.url(), &unique_namespace("no-alloc-local"))
        .redis_timeout(Duration::from_millis(50))
        .build()
        .unwrap();
    let second = Duration::from_secs(1);
    eventually("shared", 5 * second, || b.mode() == Mode::Shared).await;
    redis.stop();
    eventually("local", 2 * second, || b.mode() == Mode::Local).await;
    let n = allocations_during(|| traffic(&b, 10_000));
    assert_eq!(n, 0, "{n} allocations on the local fallback");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn noting_a_retry_after_does_not_allocate() {
    let Some(redis) = Target::get() else { return };
    let b = fleet(&redis.url, &unique_namespace("no-alloc-hint"))
        .minimum_calls(1_000_000)
        .honor_retry_after(true)
        .build()
        .unwrap();
    eventually("shared", Duration::from_secs(5), || {
        b.mode() == Mode::Shared
    })
    .await;
    let hinted = b.clone().with_classifier(crate::testkit::Hinting);
    let _ = hinted.call(|| Err::<(), u64>(1)); // warm up
    let n = allocations_during(|| {
        for _ in 0..1_000 {
            let _ = hinted.call(|| Err::<(), u64>(1));
            if let Ok(p) = b.try_acquire() {
                p.record_with_retry_after(failgate::Outcome::Success, Some(Duration::from_secs(2)));
            }
        }
    });
    assert_eq!(n, 0, "{n} allocations noting retry-after hints");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keeping_totals_does_not_allocate() {
    let Some(redis) = Target::get() else { return };
    let b = fleet(&redis.url, &unique_namespace("no-alloc-totals"))
        .totals(true)
        .minimum_calls(1_000_000) // stays closed under the traffic below
        .build()
        .unwrap();
    let tripping = fleet(&redis.url, &unique_namespace("no-alloc-totals-open"))
        .totals(true)
        .build()
        .unwrap();
    eventually("shared", Duration::from_secs(5), || {
        b.mode() == Mode::Shared && tripping.mode() == Mode::Shared
    })
    .await;
    let _ = b.call(|| Ok::<_, ()>(())); // warm up
    let n = allocations_during(|| traffic(&b, 10_000));
    assert_eq!(n, 0, "{n} allocations counting totals");
    let n = allocations_during(|| {
        for _ in 0..8 {
            let _ = tripping.call(|| Err::<(), _>("down"));
        }
    });
    assert_eq!(n, 0, "{n} allocations counting failures");
    eventually("open", Duration::from_secs(2), || {
        tripping.state() == State::Open
    })
    .await;
    let n = allocations_during(|| traffic(&tripping, 1_000));
    assert_eq!(n, 0, "{n} allocations counting refusals");
    assert!(tripping.snapshot().refused().unwrap() > 0);
}
