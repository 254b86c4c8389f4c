//! The Lua script against a reference model, on a real Redis: random sequences of
//! flushes from several instances (current, stale and resync generations, counts, probe
//! results and releases, permit requests), each answer compared with what the model
//! says, field by field. Some steps first delete the breaker's state and window (as a
//! FLUSHALL or an eviction would), and some send the previous batch again with its id
//! (its answer was lost). The open wait is 0 ms (so time never decides when the wait
//! ends: a request for permits does), the window 1 h and the half-open timeout 1 h (so
//! nothing expires during a case).
//!
//! The model follows the script's documentation (`src/script.rs`): a missing state is
//! created closed at generation 0 with a new epoch; a flush naming another epoch is a
//! resynchronisation; a batch sent again changes nothing and is answered with the
//! permits it was first granted while they belong to the current generation.

mod common;

use common::{unique_namespace, Target};
use failgate_redis::SYNC_LUA;
use proptest::prelude::*;
use std::collections::HashMap;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum St {
    Closed,
    Open,
    HalfOpen,
}

impl St {
    fn name(self) -> &'static str {
        match self {
            St::Closed => "closed",
            St::Open => "open",
            St::HalfOpen => "half_open",
        }
    }
}

/// The script's policy for every case.
#[derive(Debug, Clone, Copy)]
struct Policy {
    rate: f64,
    minimum_calls: u64,
    permits: u64,
}

/// Which generation a flush claims.
#[derive(Debug, Clone, Copy)]
enum Claim {
    /// The one the model holds now.
    Current,
    /// One this many generations older (a late batch); where there is none that old,
    /// one as many newer (an instance that outlived a Redis restart, which lost the
    /// shared state).
    Older(u64),
    /// None: a resynchronisation after a fallback.
    Resync,
}

#[derive(Debug, Clone, Copy)]
struct Flush {
    claim: Claim,
    calls: u64,
    failures: u64,
    probe_ok: u64,
    probe_fail: u64,
    release: u64,
    want: u64,
    /// The state and window are deleted before this step.
    lose: bool,
    /// This step sends the previous step's batch again, unchanged, with its id.
    resend: bool,
}

/// A batch as sent: the generation claimed, the epoch named (by its number in the
/// model; `None` before the first answer), its id and its counts.
#[derive(Debug, Clone, Copy)]
struct Sent {
    claimed: i64,
    epoch: Option<u32>,
    batch: u64,
    flush: Flush,
}

/// What the script answers: state, generation, ms left open, window calls, window
/// failures, permits granted, counts discarded, epoch, PUBLISH error.
type Reply = (String, u64, u64, u64, u64, u64, u64, String, String);

/// The shared state as the script should keep it.
#[derive(Debug)]
struct Model {
    policy: Policy,
    /// No state in Redis: the next flush creates one, with a new epoch.
    missing: bool,
    /// The epoch, numbered by creation in the model.
    epoch: u32,
    state: St,
    gen: u64,
    taken: u64,
    ok: u64,
    calls: u64,
    failures: u64,
    /// The instance's last batch: id, epoch, generation and permits of its answer.
    last_batch: Option<(u64, u32, u64, u64)>,
}

impl Model {
    fn new(policy: Policy) -> Self {
        Model {
            policy,
            missing: true,
            epoch: 0,
            state: St::Closed,
            gen: 0,
            taken: 0,
            ok: 0,
            calls: 0,
            failures: 0,
            last_batch: None,
        }
    }

    fn enter(&mut self, state: St) {
        self.state = state;
        self.gen += 1;
        self.taken = 0;
        self.ok = 0;
        self.calls = 0;
        self.failures = 0;
    }

    /// The generation a flush sends (`-1` for a resync).
    fn claimed(&self, claim: Claim) -> i64 {
        match claim {
            Claim::Current => self.gen as i64,
            Claim::Older(k) if self.gen >= k => (self.gen - k) as i64,
            Claim::Older(k) => (self.gen + k) as i64,
            Claim::Resync => -1,
        }
    }

    /// The answer, with the epoch as the model numbers it.
    fn apply(&mut self, sent: &Sent) -> (Reply, u32) {
        if self.missing {
            *self = Model {
                missing: false,
                epoch: self.epoch + 1,
                last_batch: self.last_batch,
                ..Model::new(self.policy)
            };
        }
        let seen = self.last_batch.filter(|b| b.0 == sent.batch);
        let mut f = sent.flush;
        if seen.is_some() {
            (
                f.calls,
                f.failures,
                f.probe_ok,
                f.probe_fail,
                f.release,
                f.want,
            ) = (0, 0, 0, 0, 0, 0);
        }
        // A batch naming a lost state's epoch is a resynchronisation.
        let stale = sent.epoch.is_some_and(|e| e != self.epoch);
        let claimed = if stale { -1 } else { sent.claimed };
        // The wait (0 ms) ends when someone wants permits.
        if self.state == St::Open && f.want > 0 {
            self.enter(St::HalfOpen);
        }
        let current = claimed == self.gen as i64 || (claimed < 0 && self.state == St::Closed);
        let mut discarded = 0;
        match self.state {
            St::Closed if current => {
                self.calls += f.calls;
                self.failures += f.failures;
            }
            St::HalfOpen if current => {
                self.taken = self.taken.saturating_sub(f.release);
                if f.probe_fail > 0 {
                    self.enter(St::Open);
                } else if f.probe_ok > 0 {
                    self.ok += f.probe_ok;
                    if self.ok >= self.policy.permits {
                        self.enter(St::Closed);
                    }
                }
            }
            _ => discarded = f.calls + f.probe_ok + f.probe_fail,
        }
        let (mut wc, mut wf) = (0, 0);
        if self.state == St::Closed {
            (wc, wf) = (self.calls, self.failures);
            if wc > 0
                && wc >= self.policy.minimum_calls
                && wf as f64 >= self.policy.rate * wc as f64
            {
                self.enter(St::Open);
                (wc, wf) = (0, 0);
            }
        }
        let mut granted = 0;
        match seen {
            Some((_, epoch, gen, first)) => {
                if self.state == St::HalfOpen && epoch == self.epoch && gen == self.gen {
                    granted = first;
                }
            }
            None => {
                if self.state == St::HalfOpen && f.want > 0 {
                    granted = f.want.min(self.policy.permits.saturating_sub(self.taken));
                    self.taken += granted;
                }
                self.last_batch = Some((sent.batch, self.epoch, self.gen, granted));
            }
        }
        let reply = (
            self.state.name().to_owned(),
            self.gen,
            0,
            wc,
            wf,
            granted,
            discarded,
            String::new(), // compared through the epoch map
            String::new(),
        );
        (reply, self.epoch)
    }
}

fn flush() -> impl Strategy<Value = Flush> {
    let claim = prop_oneof![
        6 => Just(Claim::Current),
        2 => (1u64..3).prop_map(Claim::Older),
        1 => Just(Claim::Resync),
    ];
    (
        (claim, 0u64..6, 0u64..6),
        prop_oneof![3 => Just(0u64), 1 => 1u64..3],
        prop_oneof![5 => Just(0u64), 1 => Just(1u64)],
        prop_oneof![4 => Just(0u64), 1 => 1u64..3],
        prop_oneof![2 => Just(0u64), 1 => 1u64..4],
        prop::bool::weighted(0.06),
        prop::bool::weighted(0.2),
    )
        .prop_map(
            |((claim, calls, failures), probe_ok, probe_fail, release, want, lose, resend)| Flush {
                claim,
                calls,
                failures: failures.min(calls),
                probe_ok,
                probe_fail,
                release,
                want,
                lose,
                resend,
            },
        )
}

fn policy() -> impl Strategy<Value = Policy> {
    (
        prop_oneof![Just(0.25), Just(0.5), Just(1.0)],
        1u64..8,
        1u64..4,
    )
        .prop_map(|(rate, minimum_calls, permits)| Policy {
            rate,
            minimum_calls,
            permits,
        })
}

fn fail(e: redis::RedisError) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

fn run(
    con: &mut redis::Connection,
    policy: Policy,
    flushes: &[Flush],
) -> Result<(), TestCaseError> {
    let ns = unique_namespace("model");
    let prefix = format!("failgate:{ns}:dependency");
    let script = redis::Script::new(SYNC_LUA);
    let mut model = Model::new(policy);
    // The real epoch of each of the model's, and the one the instance knows.
    let mut epochs: HashMap<u32, String> = HashMap::new();
    let mut known: Option<u32> = None;
    let mut previous: Option<Sent> = None;
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
        let (expected, epoch) = model.apply(&sent);
        let g = &sent.flush;
        let real: Reply = script
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
            .invoke(con)
            .map_err(fail)?;
        let real_epoch = real.7.clone();
        let without_epoch = (real.0, real.1, real.2, real.3, real.4, real.5, real.6);
        let e = expected;
        prop_assert_eq!(
            without_epoch,
            (e.0, e.1, e.2, e.3, e.4, e.5, e.6),
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
    Ok(())
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
