//! Measures what three attacks on a fleet breaker's shared state do, on a real Redis (a
//! `redis-server` of its own, on a free loopback port, no persistence):
//!
//! 1. **Lost state.** Three instances, moved to generation 3 (a trip and a recovery),
//!    then `FLUSHALL` while every instance starts calling a dependency that fails 9
//!    calls in 10. Printed per round and as medians: the time until every instance has
//!    noticed (`FleetStatus::lost_state`), and until every instance refuses again.
//! 2. **Late answers.** One instance behind a `LossyProxy` that delays Redis's replies
//!    by `--latency` (2 s), with the default `redis_timeout` (50 ms): Redis runs every
//!    round trip, the instance gives up on it and sends the batch again. Calls succeed
//!    at about 1,000/s for `--seconds`, with the latency constant, then in spikes (on
//!    half of every second). Printed: the shared window's calls over the calls made.
//! 3. **PUBLISH refused.** Three instances logged in as a Redis user without channel
//!    permissions (`resetchannels`). The fleet trips, then the dependency is healthy:
//!    printed, the time from the end of the open wait until the fleet is closed again,
//!    and the calls admitted of the calls made over `--seconds`.
//!
//! ```text
//! cargo run --release -p failgate-redis --example fleet_attacks -- --rounds 5
//! ```

use failgate::State;
use failgate_redis::testing::{LossyProxy, RedisServer};
use failgate_redis::{FleetBreaker, FleetBuilder, Mode};
use std::collections::HashMap;
use std::process::ExitCode;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::Relaxed};
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};
use tokio::runtime::Runtime;

const USAGE: &str = "\
usage: fleet_attacks [--rounds N] [--seconds S] [--latency MS]

  --rounds N     lost-state rounds (default 5)
  --seconds S    length of the late-answer and PUBLISH runs (default 10)
  --latency MS   reply latency of the late-answer run (default 2000)";

type Result<T> = std::result::Result<T, String>;

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("fleet_attacks: {e}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> Result<()> {
    let (mut rounds, mut seconds, mut latency_ms) = (5usize, 10u64, 2_000u64);
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let mut value = || -> Result<u64> {
            let v = args
                .next()
                .ok_or(format!("{flag} needs a value\n{USAGE}"))?;
            v.parse()
                .map_err(|_| format!("{flag}: not a number: {v:?}"))
        };
        match flag.as_str() {
            "--rounds" => rounds = value()? as usize,
            "--seconds" => seconds = value()?,
            "--latency" => latency_ms = value()?,
            "-h" | "--help" => {
                println!("{USAGE}");
                return Ok(());
            }
            other => return Err(format!("unknown option {other:?}\n{USAGE}")),
        }
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| e.to_string())?;
    let server = RedisServer::start().map_err(|e| e.to_string())?;
    println!("load average before: {}", load_average());

    let (mut noticed, mut tripped) = (Vec::new(), Vec::new());
    for round in 0..rounds {
        let (n, t) = lost_state(&runtime, &server.url())?;
        println!("lost state, round {round}: all noticed after {n:?}, all open after {t:?}");
        noticed.push(n);
        tripped.push(t);
    }
    println!(
        "lost state: median {:?} to notice, {:?} to trip again (n {rounds})",
        median(&mut noticed),
        median(&mut tripped)
    );

    let latency = Duration::from_millis(latency_ms);
    let seconds = Duration::from_secs(seconds);
    for spiky in [false, true] {
        let (shared, made) = late_answers(&runtime, &server, latency, seconds, spiky)?;
        println!(
            "late answers ({latency:?} latency, {}): shared window {shared} calls of {made} made: {:.3}x",
            if spiky { "half of every second" } else { "constant" },
            shared as f64 / made as f64
        );
    }

    let (closed_after, admitted, made) = no_publish(&runtime, &server, seconds)?;
    println!(
        "PUBLISH refused: closed {closed_after:?} after the open wait; {admitted} of {made} calls admitted in {seconds:?}"
    );
    println!("load average after: {}", load_average());
    Ok(())
}

fn builder(url: &str, namespace: &str) -> FleetBuilder {
    FleetBreaker::builder("dependency")
        .namespace(namespace)
        .redis(url)
        .failure_rate(0.5)
        .minimum_calls(20)
        .window(failgate::Window::time(Duration::from_secs(10)).buckets(10))
        .open_for(Duration::from_secs(1))
        .half_open_permits(1)
}

fn build(runtime: &Runtime, b: impl Fn() -> FleetBuilder, n: usize) -> Result<Vec<FleetBreaker>> {
    let _in = runtime.enter();
    let fleet = (0..n)
        .map(|_| b().build().map_err(|e| e.to_string()))
        .collect::<Result<Vec<_>>>()?;
    wait("every instance shared", Duration::from_secs(5), || {
        fleet.iter().all(|b| b.mode() == Mode::Shared)
    })?;
    Ok(fleet)
}

/// One round: returns the time until every instance noticed, and until all refuse.
fn lost_state(runtime: &Runtime, url: &str) -> Result<(Duration, Duration)> {
    let ns = unique_namespace("lost");
    let fleet = build(runtime, || builder(url, &ns), 3)?;
    // Generation 3: a trip, the open wait, one successful probe.
    wait("trip", Duration::from_secs(5), || {
        let _ = fleet[0].call(|| Err::<(), _>("down"));
        fleet[0].state() == State::Open
    })?;
    std::thread::sleep(Duration::from_secs(1));
    wait("recover", Duration::from_secs(5), || {
        let _ = fleet[0].try_acquire().map(|p| p.success());
        fleet
            .iter()
            .all(|b| b.state() == State::Closed && b.status().generation == 3)
    })?;

    let mut con = redis::Client::open(url)
        .and_then(|c| c.get_connection())
        .map_err(|e| e.to_string())?;
    redis::cmd("FLUSHALL")
        .query::<()>(&mut con)
        .map_err(|e| e.to_string())?;
    let start = Instant::now();
    let stop = Arc::new(AtomicBool::new(false));
    let made = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = fleet
        .iter()
        .map(|b| drive(b.clone(), 9, stop.clone(), made.clone()))
        .collect();
    let mut noticed = None;
    let result = wait("the fleet trips again", Duration::from_secs(20), || {
        if noticed.is_none() && fleet.iter().all(|b| b.status().lost_state == 1) {
            noticed = Some(start.elapsed());
        }
        fleet
            .iter()
            .all(|b| b.mode() == Mode::Shared && b.state() == State::Open)
    });
    let tripped = start.elapsed();
    stop.store(true, Relaxed);
    threads.into_iter().for_each(|t| drop(t.join()));
    result?;
    Ok((noticed.unwrap_or(tripped), tripped))
}

/// Shared window calls and calls made, through a proxy whose replies are late.
fn late_answers(
    runtime: &Runtime,
    server: &RedisServer,
    latency: Duration,
    length: Duration,
    spiky: bool,
) -> Result<(u64, u64)> {
    let proxy = runtime
        .block_on(LossyProxy::start(server.port()))
        .map_err(|e| e.to_string())?;
    let ns = unique_namespace("late");
    let url = proxy.url();
    let b = build(
        runtime,
        || {
            builder(&url, &ns)
                .minimum_calls(u64::MAX / 2)
                .window(failgate::Window::time(Duration::from_secs(3600)).buckets(10))
        },
        1,
    )?;
    let stop = Arc::new(AtomicBool::new(false));
    let made = Arc::new(AtomicU64::new(0));
    let thread = drive(b[0].clone(), 0, stop.clone(), made.clone());
    let start = Instant::now();
    while start.elapsed() < length {
        let on = !spiky || start.elapsed().subsec_millis() < 500;
        proxy.delay_replies(if on { latency } else { Duration::ZERO });
        std::thread::sleep(Duration::from_millis(10));
    }
    stop.store(true, Relaxed);
    drop(thread.join());
    proxy.delay_replies(Duration::ZERO);
    // Late replies drain; the instance reconnects and sends what is left.
    std::thread::sleep(latency);
    wait("shared again", Duration::from_secs(10), || {
        b[0].mode() == Mode::Shared
    })?;
    std::thread::sleep(Duration::from_millis(500));
    let mut con = redis::Client::open(server.url())
        .and_then(|c| c.get_connection())
        .map_err(|e| e.to_string())?;
    let window: HashMap<String, u64> = redis::cmd("HGETALL")
        .arg(format!("failgate:{ns}:dependency:window"))
        .query(&mut con)
        .map_err(|e| e.to_string())?;
    let shared = window
        .iter()
        .filter(|(k, _)| k.starts_with('c'))
        .map(|(_, n)| n)
        .sum();
    Ok((shared, made.load(Relaxed)))
}

/// Time from the open wait's end until closed, and calls admitted of calls made.
fn no_publish(
    runtime: &Runtime,
    server: &RedisServer,
    length: Duration,
) -> Result<(Duration, u64, u64)> {
    let mut con = redis::Client::open(server.url())
        .and_then(|c| c.get_connection())
        .map_err(|e| e.to_string())?;
    redis::cmd("ACL")
        .arg(&[
            "SETUSER",
            "fleet",
            "on",
            ">pw",
            "~*",
            "+@all",
            "resetchannels",
        ])
        .query::<()>(&mut con)
        .map_err(|e| e.to_string())?;
    let ns = unique_namespace("no-publish");
    let url = server.url();
    let fleet = build(
        runtime,
        || builder(&url, &ns).username("fleet").password("pw"),
        3,
    )?;
    wait("trip", Duration::from_secs(5), || {
        let _ = fleet[0].call(|| Err::<(), _>("down"));
        fleet.iter().all(|b| b.state() == State::Open)
    })?;
    // When the open wait ends, by the server's clock.
    let (until, (secs, micros)): (u64, (u64, u64)) = redis::pipe()
        .cmd("HGET")
        .arg(format!("failgate:{ns}:dependency:state"))
        .arg("until")
        .cmd("TIME")
        .query(&mut con)
        .map_err(|e| e.to_string())?;
    let server_ms = secs * 1_000 + micros / 1_000;
    let wait_over = Instant::now() + Duration::from_millis(until.saturating_sub(server_ms));
    let stop = Arc::new(AtomicBool::new(false));
    let made = Arc::new(AtomicU64::new(0));
    let admitted: Vec<_> = fleet
        .iter()
        .map(|b| drive(b.clone(), 0, stop.clone(), made.clone()))
        .collect();
    let start = Instant::now();
    let mut closed = None;
    while start.elapsed() < length {
        if closed.is_none()
            && fleet
                .iter()
                .all(|b| b.mode() == Mode::Shared && b.state() == State::Closed)
        {
            closed = Some(Instant::now().saturating_duration_since(wait_over));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    stop.store(true, Relaxed);
    let admitted: u64 = admitted.into_iter().map(|t| t.join().unwrap_or(0)).sum();
    let closed = closed.ok_or("the fleet never closed")?;
    Ok((closed, admitted, made.load(Relaxed)))
}

/// Calls `b` about 1,000 times a second, `failing` calls in 10 failing, until `stop`.
/// Returns the calls admitted; adds the calls made to `made`.
fn drive(
    b: FleetBreaker,
    failing: u64,
    stop: Arc<AtomicBool>,
    made: Arc<AtomicU64>,
) -> std::thread::JoinHandle<u64> {
    std::thread::spawn(move || {
        let mut admitted = 0;
        let mut i = 0u64;
        while !stop.load(Relaxed) {
            i += 1;
            made.fetch_add(1, Relaxed);
            let fails = i % 10 < failing;
            if !matches!(
                b.call(|| if fails { Err(()) } else { Ok(()) }),
                Err(failgate::Error::Rejected(_))
            ) {
                admitted += 1;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
        admitted
    })
}

fn wait(what: &str, within: Duration, mut check: impl FnMut() -> bool) -> Result<()> {
    let start = Instant::now();
    while !check() {
        if start.elapsed() > within {
            return Err(format!("not within {within:?}: {what}"));
        }
        std::thread::sleep(Duration::from_millis(1));
    }
    Ok(())
}

fn median(v: &mut [Duration]) -> Duration {
    v.sort();
    v.get(v.len() / 2).copied().unwrap_or_default()
}

fn unique_namespace(what: &str) -> String {
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos());
    format!("attacks-{what}-{}-{nanos}", std::process::id())
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
