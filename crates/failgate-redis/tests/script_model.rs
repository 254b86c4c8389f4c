//! The Lua script against a reference model, on a real Redis: random sequences of
//! flushes from several instances (current, stale and resync generations, counts, probe
//! results and releases, permit requests), each answer compared with what the model
//! says, field by field. The open wait is 0 ms (so time never decides when the wait
//! ends: a request for permits does), the window 1 h and the half-open timeout 1 h (so
//! nothing expires during a case).

mod common;

use common::{unique_namespace, Target};
use failgate_redis::SYNC_LUA;
use proptest::prelude::*;

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
}

/// What the script answers: state, generation, ms left open, window calls, window
/// failures, permits granted, counts discarded.
type Reply = (String, u64, u64, u64, u64, u64, u64);

/// The shared state as the script should keep it.
#[derive(Debug)]
struct Model {
    policy: Policy,
    state: St,
    gen: u64,
    taken: u64,
    ok: u64,
    calls: u64,
    failures: u64,
}

impl Model {
    fn new(policy: Policy) -> Self {
        Model {
            policy,
            state: St::Closed,
            gen: 0,
            taken: 0,
            ok: 0,
            calls: 0,
            failures: 0,
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

    fn apply(&mut self, f: &Flush) -> Reply {
        let claimed = self.claimed(f.claim);
        // The wait (0 ms) ends when someone wants permits.
        if self.state == St::Open && f.want > 0 {
            self.enter(St::HalfOpen);
        }
        let current = claimed == self.gen as i64
            || (claimed < 0 && matches!(f.claim, Claim::Resync) && self.state == St::Closed);
        let mut discarded = 0;
        match self.state {
            St::Closed if current => {
                if f.calls > 0 {
                    self.calls += f.calls;
                    self.failures += f.failures;
                }
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
        if self.state == St::HalfOpen && f.want > 0 {
            granted = f.want.min(self.policy.permits.saturating_sub(self.taken));
            self.taken += granted;
        }
        (
            self.state.name().to_owned(),
            self.gen,
            0,
            wc,
            wf,
            granted,
            discarded,
        )
    }
}

fn flush() -> impl Strategy<Value = Flush> {
    let claim = prop_oneof![
        6 => Just(Claim::Current),
        2 => (1u64..3).prop_map(Claim::Older),
        1 => Just(Claim::Resync),
    ];
    (
        claim,
        0u64..6,
        0u64..6,
        prop_oneof![3 => Just(0u64), 1 => 1u64..3],
        prop_oneof![5 => Just(0u64), 1 => Just(1u64)],
        prop_oneof![4 => Just(0u64), 1 => 1u64..3],
        prop_oneof![2 => Just(0u64), 1 => 1u64..4],
    )
        .prop_map(
            |(claim, calls, failures, probe_ok, probe_fail, release, want)| Flush {
                claim,
                calls,
                failures: failures.min(calls),
                probe_ok,
                probe_fail,
                release,
                want,
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

fn run(
    con: &mut redis::Connection,
    policy: Policy,
    flushes: &[Flush],
) -> Result<(), TestCaseError> {
    let ns = unique_namespace("model");
    let prefix = format!("failgate:{ns}:dependency");
    let script = redis::Script::new(SYNC_LUA);
    let mut model = Model::new(policy);
    for (i, f) in flushes.iter().enumerate() {
        let claimed = model.claimed(f.claim);
        let expected = model.apply(f);
        let real: Reply = script
            .key(format!("{prefix}:state"))
            .key(format!("{prefix}:window"))
            .arg(claimed)
            .arg(f.calls)
            .arg(f.failures)
            .arg(f.probe_ok)
            .arg(f.probe_fail)
            .arg(f.release)
            .arg(f.want)
            .arg(policy.rate)
            .arg(policy.minimum_calls)
            .arg(3_600_000) // window
            .arg(10)
            .arg(0) // open for
            .arg(policy.permits)
            .arg(3_600_000) // half-open timeout
            .arg(3_600_000) // key TTL
            .arg(format!("{prefix}:events"))
            .invoke(con)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(&real, &expected, "step {}: {:?}", i, f);
        let taken: u64 = redis::cmd("HGET")
            .arg(format!("{prefix}:state"))
            .arg("taken")
            .query(con)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
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
