//! The half-open failure-rate rule and the forgetting of consecutive failures,
//! checked against reference models written from their docs
//! (`Builder::half_open_failure_rate`, `Builder::forget_failures_after`).

use failgate::{CircuitBreaker, EventKind, ManualClock, Outcome, OwnedPermit, Reason, State};
use proptest::prelude::*;
use std::sync::{Arc, Mutex};
use std::time::Duration;

const S: Duration = Duration::from_secs(1);

/// What a probe does: take a slot, or report on the `i`-th held probe (modulo).
#[derive(Debug, Clone, Copy)]
enum ProbeOp {
    Acquire,
    Report(usize, Outcome),
    Drop(usize),
}

fn probe_op() -> impl Strategy<Value = ProbeOp> {
    prop_oneof![
        3 => Just(ProbeOp::Acquire),
        3 => any::<usize>().prop_map(|i| ProbeOp::Report(i, Outcome::Failure)),
        3 => any::<usize>().prop_map(|i| ProbeOp::Report(i, Outcome::Success)),
        1 => any::<usize>().prop_map(|i| ProbeOp::Report(i, Outcome::Ignore)),
        1 => any::<usize>().prop_map(Drop),
    ]
}

use ProbeOp::Drop;

/// The docs' rule: the rate is failures over all `probes` (the permits); reopen
/// once the failures reach `rate` of them, close once the rate stays below `rate`
/// even if every probe not yet succeeded fails. An ignored or dropped probe gives
/// its slot back.
struct RateModel {
    probes: u32,
    rate: f64,
    in_flight: u32,
    successes: u32,
    failures: u32,
    state: State,
}

impl RateModel {
    fn share(&self, n: u32) -> f64 {
        f64::from(n) / f64::from(self.probes)
    }

    fn acquire(&mut self) -> bool {
        let taken = self.in_flight + self.successes + self.failures;
        let granted = self.state == State::HalfOpen && taken < self.probes;
        self.in_flight += u32::from(granted);
        granted
    }

    /// A report from a probe of this round; the reason of the decision, if any.
    fn report(&mut self, outcome: Option<Outcome>) -> Option<(State, Reason)> {
        if self.state != State::HalfOpen {
            return None;
        }
        self.in_flight -= 1;
        match outcome {
            Some(Outcome::Success) => self.successes += 1,
            Some(Outcome::Failure) => self.failures += 1,
            _ => return None,
        }
        let (failures, successes, probes, threshold) =
            (self.failures, self.successes, self.probes, self.rate);
        if self.share(self.failures) >= self.rate {
            self.state = State::Open;
            Some((
                State::Open,
                Reason::ProbeFailureRate {
                    failures,
                    successes,
                    probes,
                    threshold,
                },
            ))
        } else if self.share(self.probes - self.successes) < self.rate {
            self.state = State::Closed;
            Some((
                State::Closed,
                Reason::ProbeFailureRateBelow {
                    failures,
                    successes,
                    probes,
                    threshold,
                },
            ))
        } else {
            None
        }
    }
}

type Changes = Arc<Mutex<Vec<(State, Reason)>>>;

fn observed(b: failgate::Builder) -> (failgate::Builder, Changes) {
    let changes: Changes = Arc::default();
    let sink = changes.clone();
    let b = b.observer(move |e: &failgate::Event<'_>| {
        if let EventKind::StateChange { to, reason, .. } = e.kind {
            sink.lock().unwrap().push((to, reason));
        }
    });
    (b, changes)
}

fn rate_round(probes: u32, rate: f64, ops: &[ProbeOp]) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let (b, changes) = observed(
        CircuitBreaker::builder()
            .consecutive_failures(1)
            .open_for(S)
            .half_open_permits(probes)
            .half_open_failure_rate(rate)
            .clock(clock.clone()),
    );
    let b = b.build().unwrap();
    let _ = b.call(|| Err::<(), ()>(()));
    clock.advance(S);
    // A query makes the transition that is due, without taking a probe.
    prop_assert_eq!(b.state(), State::HalfOpen);
    let mut model = RateModel {
        probes,
        rate,
        in_flight: 0,
        successes: 0,
        failures: 0,
        state: State::HalfOpen,
    };
    let mut held: Vec<OwnedPermit> = Vec::new();
    for op in ops {
        let before = changes.lock().unwrap().len();
        let expected = match *op {
            ProbeOp::Acquire => {
                let granted = b.try_acquire_owned();
                prop_assert_eq!(granted.is_ok(), model.acquire(), "acquire");
                held.extend(granted.ok());
                None
            }
            ProbeOp::Report(_, _) | Drop(_) if held.is_empty() => None,
            ProbeOp::Report(i, outcome) => {
                held.swap_remove(i % held.len()).record(outcome);
                model.report(Some(outcome))
            }
            Drop(i) => {
                drop(held.swap_remove(i % held.len()));
                model.report(None)
            }
        };
        prop_assert_eq!(b.state(), model.state, "after {:?}", op);
        let changes = changes.lock().unwrap();
        match expected {
            Some(change) => prop_assert_eq!(changes.last().copied(), Some(change)),
            None => prop_assert_eq!(changes.len(), before, "no change of state"),
        }
        if model.state != State::HalfOpen {
            break;
        }
    }
    Ok(())
}

/// The docs' rule for `forget_failures_after`: a failure more than `span` after the
/// previous failure starts the count again at 1; a success resets it; the count
/// trips at the threshold. The snapshot shows 0 once the span has passed.
fn forgetting_run(
    threshold: u32,
    steps: &[(u64, bool)],
    span: Duration,
) -> Result<(), TestCaseError> {
    let clock = ManualClock::new();
    let b = CircuitBreaker::builder()
        .consecutive_failures(threshold)
        .forget_failures_after(span)
        .clock(clock.clone())
        .build()
        .unwrap();
    let span = span.as_nanos() as u64;
    let (mut now, mut count, mut last_failure) = (0u64, 0u32, 0u64);
    for &(gap, failure) in steps {
        clock.advance(Duration::from_nanos(gap));
        now += gap;
        let visible = if now - last_failure > span { 0 } else { count };
        prop_assert_eq!(
            b.snapshot().consecutive_failures,
            visible,
            "before the call"
        );
        if failure {
            count = if count > 0 && now - last_failure > span {
                1
            } else {
                count + 1
            };
            last_failure = now;
            let _ = b.call(|| Err::<(), ()>(()));
        } else {
            count = 0;
            let _ = b.call(|| Ok::<(), ()>(()));
        }
        if count >= threshold {
            prop_assert_eq!(b.state(), State::Open, "trips at {}", threshold);
            return Ok(());
        }
        prop_assert_eq!(b.state(), State::Closed);
        prop_assert_eq!(b.snapshot().consecutive_failures, count);
    }
    Ok(())
}

fn gap(span: u64) -> impl Strategy<Value = u64> {
    prop_oneof![
        Just(0),
        Just(span - 1),
        Just(span),
        Just(span + 1),
        0..3 * span,
    ]
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn half_open_rate_rule_matches_its_docs(
        probes in 1u32..=12,
        rate in prop_oneof![Just(0.5), Just(1.0), 0.01f64..=1.0],
        ops in prop::collection::vec(probe_op(), 0..60),
    ) {
        rate_round(probes, rate, &ops)?;
    }

    #[test]
    fn forgotten_failures_match_their_docs(
        threshold in 1u32..=5,
        steps in prop::collection::vec((gap(10), any::<bool>()), 0..30),
    ) {
        forgetting_run(threshold, &steps, Duration::from_nanos(10))?;
    }
}
