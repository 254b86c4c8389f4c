//! The Lua script against a reference model, on a real Redis: random sequences of
//! flushes from several instances (current, stale and resync generations, counts, probe
//! results and releases, permit requests, the dependency's "retry after", operators'
//! orders, and shared states created in an initial state), each answer
//! compared with what the model says, field by field. Some steps first delete the breaker's state and window (as a
//! FLUSHALL or an eviction would), and some send the previous batch again with its id
//! (its answer was lost). The open wait is 0 ms (so time never decides when the wait
//! ends: a request for permits does, unless a hint holds it), the window 1 h and the
//! half-open timeout 1 h, and hints at least 5 s (so nothing expires during a case).
//! The model reads the server's time just before each flush; the milliseconds left
//! open it expects may differ from the script's by how long the flushes took.
//!
//! The model follows the script's documentation (`src/script.rs`): a missing state is
//! created closed at generation 0 with a new epoch; a flush naming another epoch is a
//! resynchronisation; one naming the epoch but a generation newer than the state's
//! (writes Redis lost) gives the state a new epoch and is a resynchronisation; a batch sent again changes nothing and is answered with the
//! permits it was first granted while they belong to the current generation. Its rule
//! for hints is the local breaker's, as the script's documentation states it: a hint
//! holds from the flush that carries it; an opening lasts at least until it; an open
//! state that receives it stays open until it; closing forgets it. Its half-open rule
//! is either of the two the documentation states (every probe succeeds, or the
//! probes' failure rate over all the permits, decided once certain). Its rule for
//! orders and initial states is the docs' section on them: a missing state is created
//! in the initial state; an order is a transition applied before the counts, from any
//! state; a batch with an order may name the generation after the state's;
//! forced-open, disabled and count-only are left only by an order; count-only counts
//! and never trips; a batch sent again applies no order.

#[path = "../common/mod.rs"]
mod common;
mod model;

use common::{unique_namespace, Target};
use failgate_redis::SYNC_LUA;
use model::{Claim, Flush, Model, Order, Policy, Reply, Sent, St};
use proptest::prelude::*;
use std::collections::HashMap;

fn order() -> impl Strategy<Value = Option<Order>> {
    prop_oneof![
        12 => Just(None),
        1 => prop_oneof![Just(0u64), 5_000u64..60_000].prop_map(|ms| Some(Order::Open(ms))),
        1 => Just(Some(Order::HalfOpen)),
        1 => Just(Some(Order::Close)),
        1 => Just(Some(Order::Reset)),
        1 => Just(Some(Order::ForcedOpen)),
        1 => Just(Some(Order::Disabled)),
        1 => Just(Some(Order::CountOnly)),
    ]
}

fn flush() -> impl Strategy<Value = Flush> {
    let claim = prop_oneof![
        6 => Just(Claim::Current),
        2 => (1u64..3).prop_map(Claim::Older),
        1 => Just(Claim::Resync),
    ];
    // An order comes with the generation it makes (the instance obeyed it at once), or
    // with the one before (the order was made while the batch was being prepared).
    let order = (order(), prop::bool::ANY).prop_map(|(order, ahead)| (order, ahead));
    (
        (claim, 0u64..6, 0u64..6),
        prop_oneof![3 => Just(0u64), 1 => 1u64..3],
        prop_oneof![5 => Just(0u64), 1 => Just(1u64), 1 => 2u64..4],
        prop_oneof![4 => Just(0u64), 1 => 1u64..3],
        prop_oneof![2 => Just(0u64), 1 => 1u64..4],
        prop::bool::weighted(0.06),
        prop::bool::weighted(0.2),
        prop_oneof![6 => Just(0u64), 1 => 5_000u64..60_000],
        order,
    )
        .prop_map(
            |(
                (claim, calls, failures),
                probe_ok,
                probe_fail,
                release,
                want,
                lose,
                resend,
                hint,
                (order, ahead),
            )| Flush {
                claim: match (order, claim) {
                    (Some(_), Claim::Current) if ahead => Claim::Provisional,
                    _ => claim,
                },
                calls,
                failures: failures.min(calls),
                probe_ok,
                probe_fail,
                release,
                want,
                lose,
                resend,
                hint,
                order,
            },
        )
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        prop_oneof![Just(0.25), Just(0.5), Just(1.0)],
        1u64..8,
        1u64..6,
        prop_oneof![
            2 => Just(None),
            1 => prop_oneof![Just(0.2), Just(0.25), Just(0.5), Just(0.75), Just(1.0)].prop_map(Some),
        ],
        prop_oneof![
            5 => Just(St::Closed),
            1 => Just(St::ForcedOpen),
            1 => Just(St::Disabled),
            1 => Just(St::CountOnly),
        ],
    )
        .prop_map(|(rate, minimum_calls, permits, probe_rate, initial)| Policy {
            rate,
            minimum_calls,
            permits,
            probe_rate,
            initial,
        })
}

/// One breaker's answer in a call of the full argument list: the [`Reply`] and
/// whether the script published.
type Full = (String, u64, u64, u64, u64, u64, u64, String, String, u8);

fn fail(e: redis::RedisError) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// The server's time, in milliseconds, as the script reads it.
fn server_ms(con: &mut redis::Connection) -> Result<u64, TestCaseError> {
    let (secs, micros): (u64, u64) = redis::cmd("TIME").query(con).map_err(fail)?;
    Ok(secs * 1000 + micros / 1000)
}

fn run(
    con: &mut redis::Connection,
    policy: Policy,
    flushes: &[Flush],
) -> Result<Vec<String>, TestCaseError> {
    let mut states = Vec::new();
    let ns = unique_namespace("model");
    let prefix = format!("failgate:{ns}:dependency");
    let script = redis::Script::new(SYNC_LUA);
    let mut model = Model::new(policy);
    // The real epoch of each of the model's, and the one the instance knows.
    let mut epochs: HashMap<u32, String> = HashMap::new();
    let mut known: Option<u32> = None;
    let mut previous: Option<Sent> = None;
    let mut slowest = 0;
    for (i, f) in flushes.iter().enumerate() {
        if f.lose {
            redis::cmd("DEL")
                .arg(format!("{prefix}:state"))
                .arg(format!("{prefix}:window"))
                .query::<()>(con)
                .map_err(fail)?;
            model.missing = true;
        }
        let sent = match previous.filter(|_| f.resend) {
            Some(again) => again,
            None => Sent {
                claimed: model.claimed(f.claim),
                epoch: known,
                batch: i as u64 + 1,
                flush: *f,
            },
        };
        let before = server_ms(con)?;
        let (expected, epoch) = model.apply(&sent, before);
        let g = &sent.flush;
        // Every argument of a breaker (so the multi-breaker form: one reply per breaker).
        let answers: Vec<Full> = script
            .key(format!("{prefix}:state"))
            .key(format!("{prefix}:window"))
            .key(format!("{prefix}:batch:model"))
            .arg(sent.claimed)
            .arg(g.calls)
            .arg(g.failures)
            .arg(g.probe_ok)
            .arg(g.probe_fail)
            .arg(g.release)
            .arg(g.want)
            .arg(policy.rate)
            .arg(policy.minimum_calls)
            .arg(3_600_000) // window
            .arg(10)
            .arg(0) // open for
            .arg(policy.permits)
            .arg(3_600_000) // half-open timeout
            .arg(3_600_000) // key TTL
            .arg(format!("{prefix}:events"))
            .arg(sent.epoch.map_or("0", |e| epochs[&e].as_str()))
            .arg(sent.batch)
            .arg(3_600_000) // batch id TTL
            .arg(g.hint)
            .arg(0) // no PUBLISH check
            .arg(Order::arg(g.order))
            .arg(policy.probe_rate.unwrap_or(-1.0))
            .arg(policy.initial.name())
            .invoke(con)
            .map_err(fail)?;
        prop_assert_eq!(answers.len(), 1, "one breaker, one answer");
        let real: Reply = answers[0].clone();
        // The script's `now` lies in [before, after]; every deadline it keeps was set
        // at most the slowest flush's duration after the model's.
        let took = server_ms(con)? - before;
        slowest = slowest.max(took);
        let (left, expected_left) = (real.2 as i64, expected.2 as i64);
        prop_assert!(
            left >= expected_left - took as i64 - 1 && left <= expected_left + slowest as i64 + 1,
            "step {}: {} ms left open, the model says {} (flushes took up to {} ms): {:?}",
            i,
            left,
            expected_left,
            slowest,
            sent
        );
        states.push(real.0.clone());
        let real_epoch = real.7.clone();
        let without_epoch = (real.0, real.1, real.3, real.4, real.5, real.6);
        let e = expected;
        prop_assert_eq!(
            without_epoch,
            (e.0, e.1, e.3, e.4, e.5, e.6),
            "step {}: {:?}",
            i,
            sent
        );
        prop_assert_eq!(&real.8, "", "step {}: nothing refuses PUBLISH here", i);
        match epochs.get(&epoch) {
            Some(same) => prop_assert_eq!(same, &real_epoch, "step {}: the epoch held", i),
            None => {
                prop_assert!(
                    !epochs.values().any(|old| *old == real_epoch),
                    "step {}: a recreated state has a new epoch, not {}",
                    i,
                    real_epoch
                );
                epochs.insert(epoch, real_epoch);
            }
        }
        known = Some(epoch);
        previous = Some(sent);
        let taken: u64 = redis::cmd("HGET")
            .arg(format!("{prefix}:state"))
            .arg("taken")
            .query(con)
            .map_err(fail)?;
        prop_assert!(
            taken <= policy.permits,
            "step {}: {} permits out of {}",
            i,
            taken,
            policy.permits
        );
    }
    Ok(states)
}

/// Under the failure-rate rule (4 permits, 0.5), one probe failure sent again (its
/// answer lost) counts once: 1 in 4 is below 0.5, so the fleet stays half-open, where
/// counting it twice would reach 0.5 and reopen. The model says so too.
#[test]
fn a_probe_failure_sent_again_counts_once_under_the_rate_rule() {
    let Some(redis) = Target::get() else { return };
    let mut con = redis::Client::open(redis.url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let policy = Policy {
        rate: 0.5,
        minimum_calls: 1,
        permits: 4,
        probe_rate: Some(0.5),
        initial: St::Closed,
    };
    let step = |calls, failures, probe_fail, want, resend| Flush {
        claim: Claim::Current,
        calls,
        failures,
        probe_ok: 0,
        probe_fail,
        release: 0,
        want,
        lose: false,
        resend,
        hint: 0,
        order: None,
    };
    let flushes = [
        step(1, 1, 0, 0, false), // trips: open at once (0 ms wait)
        step(0, 0, 0, 4, false), // half-open, 4 permits granted
        step(0, 0, 1, 0, false), // one probe failure
        step(0, 0, 1, 0, true),  // the same batch again
        step(0, 0, 0, 0, false),
    ];
    let states = run(&mut con, policy, &flushes).unwrap();
    assert_eq!(
        states,
        ["open", "half_open", "half_open", "half_open", "half_open"]
    );
}

#[test]
fn the_script_matches_its_model() {
    let Some(redis) = Target::get() else { return };
    // proptest's closure is `Fn`: the connection sits in a RefCell.
    let con = std::cell::RefCell::new(
        redis::Client::open(redis.url.as_str())
            .unwrap()
            .get_connection()
            .unwrap(),
    );
    let config = ProptestConfig {
        cases: 300,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    proptest!(config, |(policy in policy(), flushes in prop::collection::vec(flush(), 1..40))| {
        run(&mut con.borrow_mut(), policy, &flushes)?;
    });
}

#[test]
fn a_batch_sent_again_does_not_apply_its_order_a_second_time() {
    let Some(redis) = Target::get() else { return };
    let mut con = redis::Client::open(redis.url.as_str())
        .unwrap()
        .get_connection()
        .unwrap();
    let ns = unique_namespace("order-repeat");
    let prefix = format!("failgate:{ns}:dependency");
    let script = redis::Script::new(SYNC_LUA);
    // Batch `id` claiming generation `gen`, with `order`: the state and generation.
    let mut send = |id: u64, gen: i64, epoch: &str, order: &str| -> Full {
        let answers: Vec<Full> = script
            .key(format!("{prefix}:state"))
            .key(format!("{prefix}:window"))
            .key(format!("{prefix}:batch:model"))
            .arg(gen)
            .arg(3) // calls
            .arg(0)
            .arg(0)
            .arg(0)
            .arg(0)
            .arg(0)
            .arg(0.5)
            .arg(1)
            .arg(3_600_000)
            .arg(10)
            .arg(60_000) // open for
            .arg(1)
            .arg(3_600_000)
            .arg(3_600_000)
            .arg(format!("{prefix}:events"))
            .arg(epoch)
            .arg(id)
            .arg(3_600_000)
            .arg(0)
            .arg(0)
            .arg(order)
            .arg(-1)
            .arg("closed")
            .invoke(&mut con)
            .unwrap();
        answers[0].clone()
    };
    let first = send(1, -1, "0", "none");
    assert_eq!((first.0.as_str(), first.1), ("closed", 0));
    let epoch = first.7.clone();
    // The order, obeyed at once by the instance: its counts name generation 1.
    let ordered = send(2, 1, &epoch, "count_only");
    assert_eq!(
        (ordered.0.as_str(), ordered.1, ordered.3),
        ("count_only", 1, 3)
    );
    assert_eq!(ordered.9, 1, "announced");
    // Its answer was lost: the same batch again changes nothing.
    let again = send(2, 1, &epoch, "count_only");
    assert_eq!((again.0.as_str(), again.1, again.3), ("count_only", 1, 3));
    assert_eq!((again.7.as_str(), again.9), (epoch.as_str(), 0));
    // A new batch with an order does apply it.
    let reset = send(3, 2, &epoch, "reset");
    assert_eq!((reset.0.as_str(), reset.1, reset.3), ("closed", 2, 3));
}
