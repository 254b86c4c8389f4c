//! Stress tests on real threads: workers make calls with every outcome (successes,
//! failures, ignored, abandoned, slow, permits held across other calls) while a
//! controller thread moves a `ManualClock` and makes operator transitions, so the
//! breaker cycles closed -> open -> half-open -> closed/open many times under
//! contention. Each scenario runs for a bounded wall-clock time (`MIN_RUN`, longer
//! only on an overloaded machine, up to `MAX_RUN`).
//!
//! Checked:
//! - never more than n half-open probes of one generation in flight at once (counted
//!   by the workers around each probe, with `Permit::is_probe`);
//! - every admitted call is reported exactly once: admitted = successes + failures +
//!   ignored + abandoned, as tallied by an observer, and rejections match too;
//! - once the workers stop, no probe slot is leaked and a final round of probes closes
//!   the breaker (it always gets out of half-open);
//! - nothing panics (worker and controller threads are joined).

use failgate::{
    Backoff, CircuitBreaker, Event, EventKind, ManualClock, Outcome, OwnedPermit, State, Window,
};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering::SeqCst};
use std::sync::Arc;
use std::time::{Duration, Instant};

/// Wall-clock time each scenario's threads run for at least...
const MIN_RUN: Duration = Duration::from_millis(500);
/// ...and at most, if the breaker has not yet made `MIN_EPISODES` half-open rounds and
/// `MIN_CLOSES` closes through its probes (only on a badly overloaded machine).
const MAX_RUN: Duration = Duration::from_secs(4);
const MIN_EPISODES: u64 = 20;
const MIN_CLOSES: u64 = 5;
/// One controller step of the manual clock.
const TICK: Duration = Duration::from_millis(1);
/// In-flight probe counters, indexed by generation modulo this. Two generations alias
/// only if 65,536 transitions happen while one probe is held (a few microseconds).
const GENERATION_SLOTS: usize = 1 << 16;

/// What the observer saw.
#[derive(Default)]
struct Tally {
    successes: AtomicU64,
    failures: AtomicU64,
    ignored: AtomicU64,
    abandoned: AtomicU64,
    rejected: AtomicU64,
    slow: AtomicU64,
    to_half_open: AtomicU64,
    closed_by_probes: AtomicU64,
    reopened: AtomicU64,
}

impl Tally {
    fn see(&self, e: &Event<'_>) {
        let counter = match e.kind {
            EventKind::Success { .. } => &self.successes,
            EventKind::Failure { .. } => &self.failures,
            EventKind::Ignored => &self.ignored,
            EventKind::Abandoned => &self.abandoned,
            EventKind::Rejected { .. } => &self.rejected,
            EventKind::Slow { .. } => &self.slow,
            EventKind::StateChange {
                from: State::Open,
                to: State::HalfOpen,
                ..
            } => &self.to_half_open,
            EventKind::StateChange {
                from: State::HalfOpen,
                to: State::Closed,
                reason: failgate::Reason::ProbesSucceeded { .. },
                ..
            } => &self.closed_by_probes,
            EventKind::StateChange {
                from: State::HalfOpen,
                to: State::Open,
                ..
            } => &self.reopened,
            _ => return,
        };
        counter.fetch_add(1, SeqCst);
    }
}

/// What the workers did, counted by themselves.
#[derive(Default)]
struct Counts {
    admitted: AtomicU64,
    rejected: AtomicU64,
    probes: AtomicU64,
}

/// Probes in flight, per generation, and the most ever seen at once.
struct InFlight {
    by_generation: Vec<AtomicU32>,
    max: AtomicU32,
}

impl InFlight {
    fn new() -> Self {
        InFlight {
            by_generation: (0..GENERATION_SLOTS).map(|_| AtomicU32::new(0)).collect(),
            max: AtomicU32::new(0),
        }
    }

    fn slot(&self, generation: u64) -> &AtomicU32 {
        &self.by_generation[generation as usize % GENERATION_SLOTS]
    }

    fn enter(&self, generation: u64, limit: u32) {
        let now = self.slot(generation).fetch_add(1, SeqCst) + 1;
        self.max.fetch_max(now, SeqCst);
        assert!(
            now <= limit,
            "{now} probes of generation {generation} in flight, limit {limit}"
        );
    }

    fn leave(&self, generation: u64) {
        self.slot(generation).fetch_sub(1, SeqCst);
    }
}

/// xorshift64*: a small deterministic generator per thread.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) >> 33) % n
    }

    fn outcome(&mut self) -> Outcome {
        match self.below(10) {
            0..=5 => Outcome::Success,
            6..=8 => Outcome::Failure,
            _ => Outcome::Ignore,
        }
    }
}

struct Scenario {
    permits: u32,
    threads: usize,
    builder: failgate::Builder,
    /// The longest open wait, to get out of open at the end.
    max_wait: Duration,
}

/// A probe or call held by a worker, with whether it is a probe of some generation.
struct Held {
    permit: OwnedPermit,
    probe: Option<u64>,
}

fn finish(held: Held, in_flight: &InFlight, what: Option<Outcome>) {
    // Leave the in-flight count before the slot can be handed out again.
    if let Some(generation) = held.probe {
        in_flight.leave(generation);
    }
    match what {
        Some(outcome) => held.permit.record(outcome),
        None => drop(held.permit),
    }
}

fn worker(
    breaker: CircuitBreaker,
    permits: u32,
    seed: u64,
    stop: Arc<AtomicBool>,
    counts: Arc<Counts>,
    in_flight: Arc<InFlight>,
) {
    let mut rng = Rng(seed | 1);
    let mut held: Vec<Held> = Vec::new();
    while !stop.load(SeqCst) {
        match rng.below(10) {
            // A whole call through `call` / `call_with`, with every outcome. Its permit
            // is not visible, so a probe here is not in the in-flight count (which is
            // then a lower bound; the other paths count every probe they take).
            0 | 1 => {
                let outcome = rng.outcome();
                let spin = rng.below(3) == 0;
                let r = breaker.call_with(
                    |_: &Result<(), ()>| outcome,
                    || {
                        if spin {
                            std::thread::yield_now(); // lets the clock move: maybe slow
                        }
                        Ok(())
                    },
                );
                match r {
                    Ok(()) => {
                        counts.admitted.fetch_add(1, SeqCst);
                    }
                    Err(_) => {
                        counts.rejected.fetch_add(1, SeqCst);
                        std::thread::yield_now(); // a refused caller does not spin
                    }
                }
            }
            // A permit, used at once or held across the next iterations.
            2..=7 => match breaker.try_acquire_owned() {
                Ok(permit) => {
                    counts.admitted.fetch_add(1, SeqCst);
                    let probe = permit.is_probe().then(|| permit.generation());
                    if let Some(generation) = probe {
                        counts.probes.fetch_add(1, SeqCst);
                        in_flight.enter(generation, permits);
                    }
                    let h = Held { permit, probe };
                    match rng.below(4) {
                        0 if held.len() < 3 => held.push(h),
                        1 => {
                            std::thread::yield_now();
                            finish(h, &in_flight, None) // abandoned
                        }
                        _ => {
                            let outcome = rng.outcome();
                            if rng.below(4) == 0 {
                                std::thread::yield_now();
                            }
                            finish(h, &in_flight, Some(outcome))
                        }
                    }
                }
                Err(_) => {
                    counts.rejected.fetch_add(1, SeqCst);
                    std::thread::yield_now();
                }
            },
            // Finish a held permit: an outcome, or abandon it.
            _ => {
                if !held.is_empty() {
                    let h = held.swap_remove(rng.below(held.len() as u64) as usize);
                    let what = (rng.below(5) != 0).then(|| rng.outcome());
                    finish(h, &in_flight, what);
                }
            }
        }
    }
    for h in held {
        finish(h, &in_flight, None);
    }
}

/// Moves the clock one tick at a time and, now and then, makes an operator transition
/// and undoes it with `reset` a few ticks later. Runs for `MIN_RUN`, or until the
/// breaker has cycled enough (at most `MAX_RUN`).
fn controller(breaker: CircuitBreaker, clock: ManualClock, seed: u64, tally: &Tally) -> u64 {
    let mut rng = Rng(seed | 1);
    let started = Instant::now();
    let mut ticks = 0;
    let mut manual_until = None;
    loop {
        let elapsed = started.elapsed();
        let enough = tally.to_half_open.load(SeqCst) >= MIN_EPISODES
            && tally.closed_by_probes.load(SeqCst) >= MIN_CLOSES;
        if elapsed >= MAX_RUN || (elapsed >= MIN_RUN && enough) {
            break;
        }
        clock.advance(TICK);
        ticks += 1;
        match manual_until {
            Some(t) if ticks >= t => {
                breaker.reset();
                manual_until = None;
            }
            None if rng.below(60) == 0 => {
                match rng.below(4) {
                    0 => breaker.force_open(),
                    1 => breaker.count_only(),
                    2 => breaker.disable(),
                    _ => breaker.reset(),
                }
                manual_until = Some(ticks + 1 + rng.below(8));
            }
            _ => {}
        }
        // Real threads run for a bounded time here: let the workers work between ticks.
        std::thread::sleep(Duration::from_micros(100));
    }
    ticks
}

fn run(s: Scenario) {
    let clock = ManualClock::new();
    let tally = Arc::new(Tally::default());
    let sink = tally.clone();
    let breaker = s
        .builder
        .half_open_permits(s.permits)
        .clock(clock.clone())
        .observer(move |e: &Event<'_>| sink.see(e))
        .build()
        .unwrap();
    let stop = Arc::new(AtomicBool::new(false));
    let counts = Arc::new(Counts::default());
    let in_flight = Arc::new(InFlight::new());

    let workers: Vec<_> = (0..s.threads)
        .map(|i| {
            let (b, stop, counts, in_flight) = (
                breaker.clone(),
                stop.clone(),
                counts.clone(),
                in_flight.clone(),
            );
            let seed = 0x9E37_79B9_7F4A_7C15 ^ (u64::from(s.permits) << 32) ^ i as u64;
            std::thread::spawn(move || worker(b, s.permits, seed, stop, counts, in_flight))
        })
        .collect();
    let control = {
        let (b, c, t) = (breaker.clone(), clock.clone(), tally.clone());
        std::thread::spawn(move || controller(b, c, u64::from(s.permits), &t))
    };
    let ticks = control.join().expect("the controller does not panic");
    stop.store(true, SeqCst);
    for w in workers {
        w.join().expect("no worker panics");
    }

    // Every admitted call was reported exactly once; every refusal was seen.
    let admitted = counts.admitted.load(SeqCst);
    let reported = tally.successes.load(SeqCst)
        + tally.failures.load(SeqCst)
        + tally.ignored.load(SeqCst)
        + tally.abandoned.load(SeqCst);
    assert_eq!(admitted, reported, "admitted = recorded + abandoned");
    assert_eq!(counts.rejected.load(SeqCst), tally.rejected.load(SeqCst));

    // The run exercised what it claims to.
    let cycles = tally.to_half_open.load(SeqCst);
    let closed = tally.closed_by_probes.load(SeqCst);
    let summary = format!(
        "n={} threads={} ticks={ticks} admitted={admitted} rejected={} probes={} \
         half-open episodes={cycles} closed by probes={closed} reopened={} slow={} \
         max probes in flight={}",
        s.permits,
        s.threads,
        counts.rejected.load(SeqCst),
        counts.probes.load(SeqCst),
        tally.reopened.load(SeqCst),
        tally.slow.load(SeqCst),
        in_flight.max.load(SeqCst),
    );
    eprintln!("{summary}");
    assert!(
        cycles >= MIN_EPISODES,
        "too few half-open episodes: {summary}"
    );
    assert!(closed >= MIN_CLOSES, "too few closes by probes: {summary}");
    assert!(in_flight.max.load(SeqCst) <= s.permits, "{summary}");
    assert!(in_flight.by_generation.iter().all(|c| c.load(SeqCst) == 0));

    // No permit is held now: no slot may be leaked, and a final round of probes closes
    // the breaker whatever state the run left it in.
    let m = breaker.snapshot();
    assert_eq!(
        m.half_open_probes, m.half_open_successes,
        "a probe slot leaked: {m:?}"
    );
    if matches!(
        m.state,
        State::ForcedOpen | State::Disabled | State::CountOnly
    ) {
        breaker.reset();
    }
    for _ in 0..3 {
        match breaker.state() {
            State::Closed => break,
            State::Open => clock.advance(s.max_wait),
            State::HalfOpen => {
                for _ in 0..s.permits {
                    if breaker.state() != State::HalfOpen {
                        break;
                    }
                    let probe = breaker
                        .try_acquire()
                        .expect("every probe slot is free once the workers stopped");
                    assert!(probe.is_probe());
                    probe.success();
                }
            }
            other => panic!("unexpected state {other}"),
        }
    }
    assert_eq!(breaker.state(), State::Closed, "the final probes close it");
}

#[test]
fn one_probe_two_threads_consecutive_failures() {
    run(Scenario {
        permits: 1,
        threads: 2,
        builder: CircuitBreaker::builder()
            .consecutive_failures(3)
            .open_for(2 * TICK),
        max_wait: 2 * TICK,
    });
}

#[test]
fn two_probes_four_threads_count_window_slow_calls_exponential() {
    run(Scenario {
        permits: 2,
        threads: 4,
        builder: CircuitBreaker::builder()
            .failure_rate(0.5)
            .slow_calls(TICK, 0.8)
            .window(Window::count(20))
            .minimum_calls(5)
            .backoff(Backoff::exponential(TICK, 8 * TICK))
            .half_open_timeout(10 * TICK),
        max_wait: 8 * TICK,
    });
}

#[test]
fn three_probes_eight_threads_time_window_and_consecutive() {
    run(Scenario {
        permits: 3,
        threads: 8,
        builder: CircuitBreaker::builder()
            .consecutive_failures(3)
            .failure_rate(0.5)
            .window(Window::time(50 * TICK).buckets(5))
            .minimum_calls(5)
            .open_for(3 * TICK)
            .half_open_timeout(20 * TICK),
        max_wait: 3 * TICK,
    });
}

#[test]
fn four_probes_three_threads_every_policy() {
    run(Scenario {
        permits: 4,
        threads: 3,
        builder: CircuitBreaker::builder()
            .consecutive_failures(4)
            .failure_rate(0.6)
            .slow_calls(3 * TICK, 0.5)
            .window(Window::count(32))
            .minimum_calls(8)
            .backoff(Backoff::exponential(TICK, 16 * TICK))
            .half_open_timeout(10 * TICK),
        max_wait: 16 * TICK,
    });
}
