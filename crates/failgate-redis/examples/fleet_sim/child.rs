//! One instance of the simulated fleet: a process of its own (so its breakers share one
//! fleet client, as a real replica's do), driven by the parent through stdin and
//! reporting to it in lines on stdout.

use crate::options::{Options, FAIL_FROM, FAIL_UNTIL};
use failgate::State;
use failgate_redis::{FleetBreaker, Mode};
use std::collections::BTreeMap;
use std::io::{BufRead, Write};
use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// How long a child waits for every breaker's first round trip before it says ready.
const SHARED_WITHIN: Duration = Duration::from_secs(30);
/// The driver's pacing tick.
const TICK: Duration = Duration::from_millis(5);

/// UNIX-epoch nanoseconds: the clock every process agrees on.
pub fn epoch_ns() -> u128 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos())
}

/// The child's whole life; `Err` is reported as an `error` line by the caller.
pub fn run(o: &Options, namespace: &str) -> Result<(), String> {
    let breakers = (0..o.breakers)
        .map(|i| build(o, namespace, i))
        .collect::<Result<Vec<_>, _>>()?;
    let start = Instant::now();
    while start.elapsed() < SHARED_WITHIN && !all_shared(&breakers) {
        std::thread::sleep(Duration::from_millis(10));
    }
    let shared = breakers.iter().filter(|b| b.mode() == Mode::Shared).count();
    say(&format!(
        "ready shared={shared} of={} ms={}",
        breakers.len(),
        start.elapsed().as_millis()
    ));

    let mut stdin = std::io::stdin().lock();
    let t0 = read_start(&mut stdin)?;
    sleep_until(t0);
    let rounds_before: Vec<u64> = breakers.iter().map(|b| b.status().round_trips).collect();
    let end = Instant::now() + Duration::from_secs(o.seconds);
    let stop = AtomicBool::new(false);
    let failing = &breakers[..o.failing as usize];
    let driven = std::thread::scope(|s| {
        s.spawn(|| watch(failing, &stop));
        let driven = drive(&breakers, o, end);
        stop.store(true, Relaxed);
        driven
    });
    report(&breakers, failing.len(), &rounds_before, &driven);
    // The breakers (and their keys' writer) live until the parent has measured Redis.
    let mut rest = String::new();
    while stdin.read_line(&mut rest).is_ok_and(|n| n > 0) {
        rest.clear();
    }
    Ok(())
}

fn build(o: &Options, namespace: &str, i: u32) -> Result<FleetBreaker, String> {
    let builder = FleetBreaker::builder(&format!("host-{i}"))
        .namespace(namespace)
        .failure_rate(0.5)
        .minimum_calls(20)
        .window(failgate::Window::time(Duration::from_secs(1)).buckets(10))
        .open_for(Duration::from_millis(o.open_for))
        .half_open_permits(o.half_open_permits)
        .flush_interval(Duration::from_millis(o.flush_interval))
        .redis_timeout(Duration::from_millis(o.redis_timeout));
    let builder = match o.target() {
        crate::options::Target::Single(url) => builder.redis(url),
        #[cfg(feature = "cluster")]
        crate::options::Target::Cluster(nodes) => builder.redis_cluster(nodes),
    };
    builder.build().map_err(|e| format!("host-{i}: {e}"))
}

fn all_shared(breakers: &[FleetBreaker]) -> bool {
    breakers.iter().all(|b| b.mode() == Mode::Shared)
}

/// One line to the parent (println! locks stdout for the line).
pub fn say(line: &str) {
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "{line}");
    let _ = out.flush();
}

fn read_start(stdin: &mut impl BufRead) -> Result<u128, String> {
    let mut line = String::new();
    stdin
        .read_line(&mut line)
        .map_err(|e| format!("reading the start line: {e}"))?;
    line.trim()
        .strip_prefix("start ")
        .and_then(|t| t.parse().ok())
        .ok_or_else(|| format!("expected `start <epoch ns>` from the parent, got {line:?}"))
}

fn sleep_until(t0: u128) {
    let now = epoch_ns();
    if t0 > now {
        std::thread::sleep(Duration::from_nanos((t0 - now) as u64));
    }
}

/// Busy-polls the failing breakers' state (about every millisecond) and reports each
/// change, with the shared generation and the time, until `stop`.
fn watch(breakers: &[FleetBreaker], stop: &AtomicBool) {
    let mut seen: Vec<State> = breakers.iter().map(|b| b.state()).collect();
    while !stop.load(Relaxed) {
        for (i, b) in breakers.iter().enumerate() {
            let state = b.state();
            if state != seen[i] {
                let at = epoch_ns();
                seen[i] = state;
                let status = b.status();
                let mode = match status.mode {
                    Mode::Shared => "shared",
                    _ => "local",
                };
                say(&format!(
                    "state {i} {} gen={} at_ns={at} mode={mode}",
                    state_word(state),
                    status.generation
                ));
            }
        }
        std::thread::sleep(Duration::from_millis(1));
    }
}

pub fn state_word(state: State) -> &'static str {
    match state {
        State::Closed => "closed",
        State::Open => "open",
        State::HalfOpen => "half_open",
        _ => "other",
    }
}

/// What the driver did.
#[derive(Default)]
struct Driven {
    calls: u64,
    rejected: u64,
    failures: u64,
    local_permits: u64,
    local_probes: u64,
    /// Fleet-wide probe permits admitted, by (breaker, generation).
    probes: BTreeMap<(u32, u64), u64>,
}

/// Paced traffic: each breaker gets `rate` calls a second until `end`; the failing
/// subset fails every call from `FAIL_FROM` to `FAIL_UNTIL`.
fn drive(breakers: &[FleetBreaker], o: &Options, end: Instant) -> Driven {
    let start = Instant::now();
    let mut d = Driven::default();
    let mut done = vec![0u64; breakers.len()];
    while Instant::now() < end {
        let elapsed = start.elapsed();
        let due = (elapsed.as_secs_f64() * f64::from(o.rate)) as u64;
        let failing_now = elapsed >= FAIL_FROM && elapsed < FAIL_UNTIL;
        for (i, b) in breakers.iter().enumerate() {
            while done[i] < due {
                done[i] += 1;
                d.calls += 1;
                let fails = failing_now && (i as u32) < o.failing;
                call(b, i as u32, fails, &mut d);
            }
        }
        std::thread::sleep(TICK);
    }
    d
}

fn call(b: &FleetBreaker, i: u32, fails: bool, d: &mut Driven) {
    let Ok(permit) = b.try_acquire() else {
        d.rejected += 1;
        return;
    };
    if permit.is_local() {
        d.local_permits += 1;
        d.local_probes += u64::from(permit.is_probe());
    } else if permit.is_probe() {
        *d.probes.entry((i, permit.generation())).or_default() += 1;
    }
    if fails {
        d.failures += 1;
        permit.failure();
    } else {
        permit.success();
    }
}

fn report(breakers: &[FleetBreaker], failing: usize, rounds_before: &[u64], d: &Driven) {
    for ((i, gen), n) in &d.probes {
        say(&format!("probe {i} gen={gen} n={n}"));
    }
    let statuses: Vec<_> = breakers.iter().map(|b| b.status()).collect();
    let rounds: Vec<u64> = statuses
        .iter()
        .zip(rounds_before)
        .map(|(s, before)| s.round_trips.saturating_sub(*before))
        .collect();
    let generations: Vec<String> = statuses.iter().map(|s| s.generation.to_string()).collect();
    say(&format!("generations {}", generations.join(",")));
    say(&format!(
        "done calls={} rejected={} failures={} local_permits={} local_probes={} \
         rounds_max={} rounds_sum={} sync_errors={} local_at_end={} lost_state={} \
         failing_closed={}",
        d.calls,
        d.rejected,
        d.failures,
        d.local_permits,
        d.local_probes,
        rounds.iter().max().copied().unwrap_or(0),
        rounds.iter().sum::<u64>(),
        statuses.iter().map(|s| s.sync_errors).sum::<u64>(),
        statuses.iter().filter(|s| s.mode != Mode::Shared).count(),
        statuses.iter().map(|s| s.lost_state).sum::<u64>(),
        statuses[..failing]
            .iter()
            .filter(|s| s.state == State::Closed)
            .count(),
    ));
}
