//! Measures two things about fleet breakers on a real Redis:
//!
//! 1. **Trip propagation.** Three instances share one breaker (same namespace and name,
//!    default 100 ms flush interval). Instance 0 records failures until it sees its own
//!    state open (t0); instances 1 and 2 are busy-polled until they see it too. Printed:
//!    the delay of the slower of the two per round, and each instance's, as median, p99
//!    and max over the rounds (a fresh namespace per round, so every round starts
//!    closed). Target: every instance refuses within 200 ms of the trip.
//! 2. **Redis load.** Three instances, each driven by its own thread at a paced rate
//!    (100,000 calls/s by default; 0.5 % failures, so the breaker stays closed), for a
//!    fixed interval. Printed: Redis commands per second from `INFO stats`
//!    `total_commands_processed` (this program's own `INFO` calls subtracted), the
//!    per-command breakdown from `INFO commandstats`, and the breakers' own round-trip
//!    counts, in total and per instance, with the call rate achieved.
//!
//! ```text
//! cargo run --release -p failgate-redis --example fleet_measure -- --redis redis://127.0.0.1:6379
//! ```
//!
//! Without `--redis` it starts its own `redis-server` (on a free loopback port, no
//! persistence) and kills it at the end. `--help` lists the options.

use failgate::State;
use failgate_redis::testing::RedisServer;
use failgate_redis::{FleetBreaker, Mode};
use redis::aio::MultiplexedConnection;
use std::collections::BTreeMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::runtime::Runtime;

const USAGE: &str = "\
usage: fleet_measure [options]

  --redis URL        the Redis to use (default: start a redis-server of our own)
  --rounds N         trip-propagation rounds (default 100)
  --rate N           calls per second per instance in the load test (default 100000)
  --seconds S        length of the load test's measured interval (default 10)
  --only WHAT        run only `propagation` or only `load`
  -h, --help         this text";

/// The breaker's name; every round has a namespace of its own.
const NAME: &str = "dependency";
const INSTANCES: usize = 3;
const MINIMUM_CALLS: u64 = 10;

#[derive(Debug)]
struct Options {
    redis: Option<String>,
    rounds: usize,
    rate: u64,
    seconds: f64,
    propagation: bool,
    load: bool,
}

/// `Ok(None)`: `--help` was asked for.
fn parse_args(args: impl IntoIterator<Item = String>) -> Result<Option<Options>, String> {
    let mut o = Options {
        redis: None,
        rounds: 100,
        rate: 100_000,
        seconds: 10.0,
        propagation: true,
        load: true,
    };
    let mut args = args.into_iter();
    while let Some(arg) = args.next() {
        // `--flag=value` and `--flag value` alike.
        let (flag, inline) = match arg.split_once('=') {
            Some((f, v)) if f.starts_with("--") => (f.to_owned(), Some(v.to_owned())),
            _ => (arg.clone(), None),
        };
        if flag == "-h" || flag == "--help" {
            return Ok(None);
        }
        let mut value = |name: &str| {
            inline
                .clone()
                .or_else(|| args.next())
                .ok_or_else(|| format!("{name} needs a value"))
        };
        match flag.as_str() {
            "--redis" => o.redis = Some(value("--redis")?),
            "--rounds" => {
                let v = value("--rounds")?;
                o.rounds = v
                    .parse()
                    .ok()
                    .filter(|&n| n > 0)
                    .ok_or_else(|| format!("--rounds {v:?}: expected a positive integer"))?;
            }
            "--rate" => {
                let v = value("--rate")?;
                o.rate = v
                    .parse()
                    .ok()
                    .filter(|&n| n > 0 && n <= 100_000_000)
                    .ok_or_else(|| {
                        format!("--rate {v:?}: expected an integer from 1 to 100000000")
                    })?;
            }
            "--seconds" => {
                let v = value("--seconds")?;
                o.seconds = v
                    .parse()
                    .ok()
                    .filter(|s: &f64| s.is_finite() && *s >= 0.1 && *s <= 3600.0)
                    .ok_or_else(|| {
                        format!("--seconds {v:?}: expected a number from 0.1 to 3600")
                    })?;
            }
            "--only" => match value("--only")?.as_str() {
                "propagation" => (o.propagation, o.load) = (true, false),
                "load" => (o.propagation, o.load) = (false, true),
                other => {
                    return Err(format!(
                        "--only {other:?}: expected `propagation` or `load`"
                    ))
                }
            },
            other => return Err(format!("unknown argument {other:?}")),
        }
    }
    Ok(Some(o))
}

fn main() -> ExitCode {
    let options = match parse_args(std::env::args().skip(1)) {
        Ok(Some(o)) => o,
        Ok(None) => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        Err(e) => {
            eprintln!("fleet_measure: {e}\n\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    match run(&options) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => {
            eprintln!("fleet_measure: a target was missed or a check failed (see above)");
            ExitCode::from(1)
        }
        Err(e) => {
            eprintln!("fleet_measure: {e}");
            ExitCode::from(1)
        }
    }
}

/// Returns whether every target was met and every check passed.
fn run(o: &Options) -> Result<bool, String> {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot build the tokio runtime: {e}"))?;
    // The server we started, if any, is killed when `run` returns.
    let (_server, url) = match &o.redis {
        Some(url) => (None, url.clone()),
        None => {
            let server =
                RedisServer::start().map_err(|e| format!("no --redis URL given, and {e}"))?;
            let url = server.url();
            println!("started redis-server on {url}");
            (Some(server), url)
        }
    };
    let mut raw = runtime
        .block_on(async {
            redis::Client::open(url.as_str())?
                .get_multiplexed_async_connection()
                .await
        })
        .map_err(|e| format!("cannot connect to {url}: {e}"))?;
    let version = info(&runtime, &mut raw, "server")
        .ok()
        .and_then(|i| i.get("redis_version").cloned())
        .unwrap_or_else(|| "?".into());
    println!("redis {version} at {url}; {} CPUs", cpus());
    println!("load average at start: {}", load_average());

    let mut all_good = true;
    if o.propagation {
        all_good &= propagation(&runtime, &url, &mut raw, o.rounds)?;
    }
    if o.load {
        all_good &= load(&runtime, &url, &mut raw, o.rate, o.seconds)?;
    }
    println!("load average at end: {}", load_average());
    Ok(all_good)
}

// ---- trip propagation -----------------------------------------------------------------

/// One round's times, in milliseconds.
struct Round {
    /// From just before the failure that completed the minimum (the one that lets the
    /// window trip) to each instance seeing open: end to end, an upper bound on both
    /// the trip and its propagation.
    from_failure_ms: [f64; INSTANCES],
    /// Instances 1 and 2, after t0 (instance 0 seeing open).
    delays_ms: [f64; 2],
    /// All three were first seen open in the same polling sweep.
    same_sweep: bool,
    /// Whether instances 1 and 2 had heard an announcement over pub/sub by then.
    by_pubsub: [bool; 2],
    failures: u64,
}

fn propagation(
    runtime: &Runtime,
    url: &str,
    raw: &mut MultiplexedConnection,
    rounds: usize,
) -> Result<bool, String> {
    println!();
    println!(
        "== trip propagation: {INSTANCES} instances, flush interval 100 ms (default), \
         failure_rate 0.5, minimum_calls {MINIMUM_CALLS}, {rounds} rounds"
    );
    let mut results = Vec::with_capacity(rounds);
    let mut unconfirmed_subscriptions = 0;
    // Rounds where all three were shared before all three were subscribed, and the
    // longest such gap.
    let (mut late_subscriptions, mut longest_gap) = (0, Duration::ZERO);
    let mut setup = Duration::ZERO;
    let started = Instant::now();
    for round in 0..rounds {
        let namespace = unique_namespace(&format!("propagation{round}"));
        let setup_start = Instant::now();
        let breakers = fleet(runtime, url, &namespace, MINIMUM_CALLS)?;
        wait_shared(&breakers)?;
        // A long-lived instance is subscribed; wait until all three are, so the figure
        // is pub/sub's and not the subscription's start-up.
        match wait_subscribed(runtime, raw, &namespace)? {
            None => unconfirmed_subscriptions += 1,
            Some(gap) if !gap.is_zero() => {
                late_subscriptions += 1;
                longest_gap = longest_gap.max(gap);
            }
            Some(_) => {}
        }
        setup += setup_start.elapsed();
        let round = trip_and_watch(&breakers)?;
        drop(breakers);
        delete_keys(runtime, raw, &namespace);
        results.push(round);
    }
    println!(
        "{} rounds in {:.2} s (set-up: building, reaching Mode::Shared, subscribing: {:.1} ms a round)",
        results.len(),
        started.elapsed().as_secs_f64(),
        setup.as_secs_f64() * 1e3 / rounds as f64
    );
    println!(
        "in {late_subscriptions} of {rounds} rounds the pub/sub subscriptions were not all in \
         place yet when all three instances were in Mode::Shared (waited for them; longest \
         gap {:.1} ms)",
        longest_gap.as_secs_f64() * 1e3
    );
    if unconfirmed_subscriptions > 0 {
        println!(
            "warning: in {unconfirmed_subscriptions} rounds PUBSUB NUMSUB never showed all \
             {INSTANCES} subscriptions within 5 s; those rounds relied on polling"
        );
    }
    let column = |f: &dyn Fn(&Round) -> f64| results.iter().map(f).collect::<Vec<f64>>();
    let slower = column(&|r| r.delays_ms[0].max(r.delays_ms[1]));
    println!("delay after t0 (instance 0 sees its own state open), ms:");
    print_stats("  max(instance 1, instance 2)", &slower);
    print_stats("  instance 1", &column(&|r| r.delays_ms[0]));
    print_stats("  instance 2", &column(&|r| r.delays_ms[1]));
    println!("end to end, from the failure completing the minimum to seeing open, ms:");
    print_stats(
        "  instance 0 (the trip)",
        &column(&|r| r.from_failure_ms[0]),
    );
    print_stats("  instance 1", &column(&|r| r.from_failure_ms[1]));
    print_stats("  instance 2", &column(&|r| r.from_failure_ms[2]));
    let end_to_end = column(&|r| r.from_failure_ms.iter().copied().fold(f64::MIN, f64::max));
    print_stats("  slowest of the three", &end_to_end);
    print_stats(
        "failures recorded on instance 0",
        &column(&|r| r.failures as f64),
    );
    let same_sweep = results.iter().filter(|r| r.same_sweep).count();
    println!(
        "  in {same_sweep} of {} rounds all three were first seen open in the same polling \
         sweep (their delay after t0 is then below what the poller resolves)",
        results.len()
    );
    let pubsub = results
        .iter()
        .map(|r| r.by_pubsub.iter().filter(|&&b| b).count())
        .sum::<usize>();
    println!(
        "  {pubsub} of {} instance-rounds had heard a pub/sub announcement when seen open",
        2 * results.len()
    );
    let worst = slower.iter().copied().fold(f64::MIN, f64::max);
    let met = worst <= 200.0;
    println!(
        "target (every instance refuses within 200 ms of the trip): {} (worst {worst:.3} ms \
         after t0; worst end to end {:.3} ms)",
        if met { "MET" } else { "MISSED" },
        end_to_end.iter().copied().fold(f64::MIN, f64::max)
    );
    Ok(met)
}

/// Records failures on instance 0 until it sees open, while busy-polling all three.
fn trip_and_watch(breakers: &[FleetBreaker]) -> Result<Round, String> {
    let mut seen: [Option<(Instant, u64)>; INSTANCES] = [None; INSTANCES];
    let mut failures = 0u64;
    let mut minimum_reached = Instant::now();
    let start = Instant::now();
    let mut sweep = 0u64;
    loop {
        if seen[0].is_none() {
            // Failures until instance 0 sees open (only the first `MINIMUM_CALLS` are
            // needed; more only add to the shared window of this round).
            if failures + 1 == MINIMUM_CALLS {
                minimum_reached = Instant::now();
            }
            let _ = breakers[0].call(|| Err::<(), ()>(()));
            failures += 1;
        }
        for (i, b) in breakers.iter().enumerate() {
            if seen[i].is_none() && b.state() == State::Open {
                seen[i] = Some((Instant::now(), sweep));
            }
        }
        if seen.iter().all(Option::is_some) {
            break;
        }
        if start.elapsed() > Duration::from_secs(10) {
            let states: Vec<_> = breakers.iter().map(FleetBreaker::status).collect();
            return Err(format!(
                "not every instance saw the trip within 10 s ({failures} failures recorded \
                 on instance 0); seen: {seen:?}; statuses: {states:#?}"
            ));
        }
        sweep += 1;
        std::thread::yield_now();
    }
    let seen = seen.map(|s| s.expect("all seen"));
    let t = seen.map(|(t, _)| t);
    let ms = |a: Instant, b: Instant| {
        if a >= b {
            (a - b).as_secs_f64() * 1e3
        } else {
            -(b - a).as_secs_f64() * 1e3
        }
    };
    // Every instance must refuse now (a refused try_acquire counts nothing).
    for (i, b) in breakers.iter().enumerate() {
        if b.try_acquire().is_ok() {
            return Err(format!("instance {i} reports open but admitted a call"));
        }
    }
    Ok(Round {
        from_failure_ms: t.map(|t| ms(t, minimum_reached)),
        delays_ms: [ms(t[1], t[0]), ms(t[2], t[0])],
        same_sweep: seen.iter().all(|&(_, s)| s == seen[0].1),
        by_pubsub: [
            breakers[1].status().announcements > 0,
            breakers[2].status().announcements > 0,
        ],
        failures,
    })
}

// ---- Redis load -----------------------------------------------------------------------

/// What one snapshot of the server and the breakers holds.
struct Snapshot {
    at: Instant,
    total_commands: u64,
    commands: BTreeMap<String, u64>,
    round_trips: Vec<u64>,
    calls: Vec<u64>,
}

fn load(
    runtime: &Runtime,
    url: &str,
    raw: &mut MultiplexedConnection,
    rate: u64,
    seconds: f64,
) -> Result<bool, String> {
    println!();
    println!(
        "== redis load: {INSTANCES} instances, each driven by its own thread at {rate} calls/s \
         (0.5 % failures), flush interval 100 ms, failure_rate 0.5, minimum_calls \
         {MINIMUM_CALLS}, {seconds} s measured after 1 s of warm-up"
    );
    // What our own two INFO calls add to total_commands_processed, measured before the
    // breakers exist (on a server no one else uses, nothing else runs in between).
    let a = snapshot(runtime, raw, &[], &[])?;
    let b = snapshot(runtime, raw, &[], &[])?;
    let own_per_snapshot = b.total_commands.saturating_sub(a.total_commands);
    println!("our own commands per snapshot (INFO commandstats + INFO stats): {own_per_snapshot}");

    let namespace = unique_namespace("load");
    let breakers = fleet(runtime, url, &namespace, MINIMUM_CALLS)?;
    wait_shared(&breakers)?;
    if wait_subscribed(runtime, raw, &namespace)?.is_none() {
        println!("warning: PUBSUB NUMSUB never showed all {INSTANCES} subscriptions within 5 s");
    }

    let stop = Arc::new(AtomicBool::new(false));
    let counters: Vec<Arc<Driven>> = (0..INSTANCES).map(|_| Arc::default()).collect();
    let threads: Vec<_> = breakers
        .iter()
        .zip(&counters)
        .enumerate()
        .map(|(i, (breaker, counter))| {
            let (breaker, counter, stop) = (breaker.clone(), counter.clone(), stop.clone());
            std::thread::Builder::new()
                .name(format!("instance-{i}"))
                .spawn(move || drive(&breaker, rate, &counter, &stop))
                .map_err(|e| format!("cannot start a driver thread: {e}"))
        })
        .collect::<Result<_, _>>()?;

    std::thread::sleep(Duration::from_secs(1));
    let before = snapshot(runtime, raw, &breakers, &counters);
    let measured = before.and_then(|before| {
        std::thread::sleep(Duration::from_secs_f64(seconds));
        let after = snapshot(runtime, raw, &breakers, &counters)?;
        Ok((before, after))
    });
    stop.store(true, Relaxed);
    for t in threads {
        if t.join().is_err() {
            return Err("a driver thread panicked".into());
        }
    }
    let (before, after) = measured?;

    let dt = (after.at - before.at).as_secs_f64();
    let total = after
        .total_commands
        .saturating_sub(before.total_commands)
        .saturating_sub(own_per_snapshot);
    println!("measured interval: {dt:.3} s");
    let mut total_rate = 0.0;
    for i in 0..INSTANCES {
        let calls = (after.calls[i] - before.calls[i]) as f64 / dt;
        let trips = (after.round_trips[i] - before.round_trips[i]) as f64 / dt;
        total_rate += calls;
        println!(
            "  instance {i}: {calls:.0} calls/s achieved, {trips:.2} round trips/s \
             (status().round_trips)"
        );
    }
    let trips: u64 = (0..INSTANCES)
        .map(|i| after.round_trips[i] - before.round_trips[i])
        .sum();
    println!(
        "  all: {total_rate:.0} calls/s achieved, {:.2} round trips/s",
        trips as f64 / dt
    );
    println!(
        "redis total_commands_processed: {total} over the interval = {:.1} commands/s total, \
         {:.1} per instance ({:.2} per round trip)",
        total as f64 / dt,
        total as f64 / dt / INSTANCES as f64,
        if trips > 0 {
            total as f64 / trips as f64
        } else {
            0.0
        }
    );
    println!("INFO commandstats, calls over the interval (our own INFO included):");
    for (name, n) in &after.commands {
        let d = n.saturating_sub(before.commands.get(name).copied().unwrap_or(0));
        if d > 0 {
            println!("  {name:<14} {d:>8}  {:>9.1}/s", d as f64 / dt);
        }
    }

    let mut good = true;
    for (i, (b, c)) in breakers.iter().zip(&counters).enumerate() {
        let s = b.status();
        let rejected = c.rejected.load(Relaxed);
        if s.mode != Mode::Shared || s.state != State::Closed || rejected > 0 {
            good = false;
            println!(
                "CHECK FAILED: instance {i} should have stayed shared and closed: {s:?}, \
                 {rejected} calls rejected"
            );
        } else if i == 0 {
            println!(
                "check: all instances stayed shared and closed, no call rejected \
                 (shared window: {} calls, {} failures; {} sync errors on instance 0)",
                s.shared_calls, s.shared_failures, s.sync_errors
            );
        }
    }
    let low = (0..INSTANCES)
        .map(|i| (after.calls[i] - before.calls[i]) as f64 / dt)
        .any(|r| r < 0.95 * rate as f64);
    if low {
        println!("warning: an instance achieved less than 95 % of the requested call rate");
    }
    drop(breakers);
    delete_keys(runtime, raw, &namespace);
    Ok(good)
}

/// One driver thread's counts.
#[derive(Default)]
struct Driven {
    calls: AtomicU64,
    rejected: AtomicU64,
}

/// Calls `breaker` at `rate` calls/s until `stop`: every 200th call fails. Paced by
/// catching up with the schedule every half millisecond, sleeping in between.
fn drive(breaker: &FleetBreaker, rate: u64, counter: &Driven, stop: &AtomicBool) {
    let start = Instant::now();
    let mut done = 0u64;
    let mut rejected = 0u64;
    while !stop.load(Relaxed) {
        let due = (start.elapsed().as_secs_f64() * rate as f64) as u64;
        while done < due {
            let fail = done % 200 == 199;
            let result = breaker.call(|| if fail { Err(()) } else { Ok(()) });
            if let Err(failgate::Error::Rejected(_)) = result {
                rejected += 1;
            }
            done += 1;
        }
        counter.calls.store(done, Relaxed);
        counter.rejected.store(rejected, Relaxed);
        std::thread::sleep(Duration::from_micros(500));
    }
}

fn snapshot(
    runtime: &Runtime,
    raw: &mut MultiplexedConnection,
    breakers: &[FleetBreaker],
    counters: &[Arc<Driven>],
) -> Result<Snapshot, String> {
    let commands = info(runtime, raw, "commandstats")?
        .into_iter()
        .filter_map(|(k, v)| {
            let name = k.strip_prefix("cmdstat_")?.to_owned();
            let calls = v
                .split(',')
                .find_map(|kv| kv.strip_prefix("calls="))?
                .parse()
                .ok()?;
            Some((name, calls))
        })
        .collect();
    let at = Instant::now();
    let round_trips = breakers.iter().map(|b| b.status().round_trips).collect();
    let calls = counters.iter().map(|c| c.calls.load(Relaxed)).collect();
    let total_commands = info(runtime, raw, "stats")?
        .get("total_commands_processed")
        .and_then(|v| v.parse().ok())
        .ok_or("INFO stats has no total_commands_processed")?;
    Ok(Snapshot {
        at,
        total_commands,
        commands,
        round_trips,
        calls,
    })
}

// ---- helpers --------------------------------------------------------------------------

/// Three instances of one breaker (same namespace and name), each with its own
/// background tasks and connections, as three replicas would have.
fn fleet(
    runtime: &Runtime,
    url: &str,
    namespace: &str,
    minimum_calls: u64,
) -> Result<Vec<FleetBreaker>, String> {
    let _in_runtime = runtime.enter();
    (0..INSTANCES)
        .map(|_| {
            FleetBreaker::builder(NAME)
                .namespace(namespace)
                .redis(url)
                .failure_rate(0.5)
                .minimum_calls(minimum_calls)
                .window(failgate::Window::time(Duration::from_secs(60)).buckets(10))
                .build()
                .map_err(|e| format!("FleetBreaker::build: {e}"))
        })
        .collect()
}

fn wait_shared(breakers: &[FleetBreaker]) -> Result<(), String> {
    let start = Instant::now();
    while breakers.iter().any(|b| b.mode() != Mode::Shared) {
        if start.elapsed() > Duration::from_secs(5) {
            let statuses: Vec<_> = breakers.iter().map(FleetBreaker::status).collect();
            return Err(format!(
                "not every instance reached Mode::Shared within 5 s: {statuses:#?}"
            ));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

/// Waits (up to 5 s) until `PUBSUB NUMSUB` shows every instance subscribed to the
/// breaker's channel. Returns how long that took (zero if they were already), or `None`
/// if it never happened.
fn wait_subscribed(
    runtime: &Runtime,
    raw: &mut MultiplexedConnection,
    namespace: &str,
) -> Result<Option<Duration>, String> {
    let channel = format!("failgate:{namespace}:{NAME}:events");
    let start = Instant::now();
    for check in 0.. {
        let (_, n): (String, u64) = runtime
            .block_on(
                redis::cmd("PUBSUB")
                    .arg("NUMSUB")
                    .arg(&channel)
                    .query_async(raw),
            )
            .map_err(|e| format!("PUBSUB NUMSUB: {e}"))?;
        if n >= INSTANCES as u64 {
            return Ok(Some(if check == 0 {
                Duration::ZERO
            } else {
                start.elapsed()
            }));
        }
        if start.elapsed() > Duration::from_secs(5) {
            break;
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(None)
}

/// Removes a finished round's keys (they would expire anyway).
fn delete_keys(runtime: &Runtime, raw: &mut MultiplexedConnection, namespace: &str) {
    let prefix = format!("failgate:{namespace}:{NAME}");
    let _: redis::RedisResult<u64> = runtime.block_on(
        redis::cmd("DEL")
            .arg(format!("{prefix}:state"))
            .arg(format!("{prefix}:window"))
            .query_async(raw),
    );
}

/// `INFO section` as key-value pairs.
fn info(
    runtime: &Runtime,
    raw: &mut MultiplexedConnection,
    section: &str,
) -> Result<BTreeMap<String, String>, String> {
    let text: String = runtime
        .block_on(redis::cmd("INFO").arg(section).query_async(raw))
        .map_err(|e| format!("INFO {section}: {e}"))?;
    Ok(text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.trim_end().split_once(':'))
        .map(|(k, v)| (k.to_owned(), v.to_owned()))
        .collect())
}

fn unique_namespace(what: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0);
    format!("fleet-measure-{what}-{}-{nanos}", std::process::id())
}

/// Median, p99 and max, from an HDR histogram of thousandths (microseconds for the
/// delays) up to an hour's worth, at 3 significant digits: each figure is within 0.1 %
/// of the value it stands for. A negative delay (clocks read on different threads)
/// counts as zero, and is reported.
fn print_stats(label: &str, values: &[f64]) {
    let Ok(mut h) = hdrhistogram::Histogram::<u64>::new_with_bounds(1, 3_600_000_000, 3) else {
        return;
    };
    let mut negative = 0;
    for &ms in values {
        negative += usize::from(ms < 0.0);
        h.saturating_record((ms.max(0.0) * 1e3).round() as u64);
    }
    if h.is_empty() {
        println!("{label}: no values");
        return;
    }
    let ms = |us: u64| us as f64 / 1e3;
    let negative = match negative {
        0 => String::new(),
        n => format!(", {n} negative counted as 0"),
    };
    println!(
        "{label}: median {:.3}, p99 {:.3}, max {:.3} (min {:.3}, n {}{negative})",
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max()),
        ms(h.min()),
        h.len()
    );
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn cpus() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}
