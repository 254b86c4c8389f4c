//! `Report::record_described` on fleet permits: the fleet breaker has no observers, so
//! the error is ignored (the contract's default) and the outcome counts as any other,
//! fleet-wide. On a real Redis, with two instances standing for two hosts.

mod common;

use common::{eventually, fleet, instances, unique_namespace, Target};
use failgate::{Classify, Outcome, Report, State};
use std::time::Duration;

/// Every `Err` is a failure, described by its text.
#[derive(Clone, Copy)]
struct Describing;

impl Classify<(), String> for Describing {
    fn classify(&self, result: &Result<(), String>) -> Outcome {
        match result {
            Ok(()) => Outcome::Success,
            Err(_) => Outcome::Failure,
        }
    }

    fn describe<'a>(&self, result: &'a Result<(), String>) -> Option<&'a dyn std::fmt::Display> {
        result.as_ref().err().map(|e| e as &dyn std::fmt::Display)
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_described_failure_counts_as_a_failure_fleet_wide() {
    let Some(redis) = Target::get() else { return };
    let ns = unique_namespace("described");
    let fleet = instances(2, || fleet(&redis.url, &ns).totals(true)).await;
    let error = String::from("connection reset");
    // Two failures described on permits, moved and in place, then two through a
    // classifier that describes its errors: four failures, the test policy's minimum.
    fleet[0]
        .try_acquire()
        .unwrap()
        .record_described(Outcome::Failure, None, Some(&error));
    let mut permit = fleet[0].try_acquire_owned().unwrap();
    permit.record_in_place_described(Outcome::Failure, None, Some(&error));
    drop(permit); // spent: dropping it abandons nothing
    let describing = fleet[0].clone().with_classifier(Describing);
    for _ in 0..2 {
        let _ = describing.call(|| Err::<(), _>(error.clone()));
    }
    eventually(
        "the other instance refuses",
        2 * Duration::from_secs(1),
        || fleet[1].state() == State::Open,
    )
    .await;
    let t = fleet[0].snapshot().totals.unwrap();
    assert_eq!((t.failures, t.abandoned), (4, 0), "{t:?}");
}
