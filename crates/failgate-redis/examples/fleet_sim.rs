//! A fleet simulation at scale: N instances x M fleet breakers against one Redis (or a
//! Redis Cluster) on this machine, with a failing subset, measuring what Redis pays.
//!
//! Each instance is a process of its own (this program run again with a hidden
//! `--child` flag), because one process shares one fleet client among all its breakers:
//! N instances in one process would be one instance. Every instance builds the same M
//! breakers (`host-0`, `host-1`, ... in a namespace fresh for the run) and calls each
//! at a paced rate (`--rate`, 20 calls/s by default). The first `--failing` breakers fail
//! every call from t=2 s to t=8 s, then recover, so each trips, half-opens, probes
//! (failing, reopening) and finally closes, in every instance at once. Each instance
//! busy-polls its failing breakers' `state()` about every millisecond and reports each
//! change (with the shared generation and UNIX-epoch nanoseconds), the half-open probe
//! permits it was given, per breaker and generation, and its breakers' round trips;
//! the parent sums these and reads Redis's `INFO` around the measured interval.
//!
//! Printed, as Markdown tables:
//! - Redis commands per second (`INFO stats` `total_commands_processed`, and
//!   `INFO commandstats`, this program's own `INFO` and `CLIENT LIST` left out), and
//!   round trips per second per instance (at least the `status().round_trips` of the
//!   instance's busiest breaker, which is in every round);
//! - Redis CPU time (`INFO cpu` `used_cpu_sys + used_cpu_user`, over the interval, as a
//!   share of one core);
//! - trip propagation: for each trip (a breaker entering open with a new generation),
//!   the time from the first instance seeing it open to each other instance seeing it,
//!   p50, p99 and max (`hdrhistogram`);
//! - probes per half-open period, fleet-wide: the admitted permits whose `is_probe()`,
//!   per breaker and generation, summed over the instances. More than
//!   `--half-open-permits` in any period prints a `FAIL:` line and the program exits 1;
//! - Redis memory per breaker (`used_memory` with traffic, minus before the instances
//!   started, over M: every instance shares each breaker's keys), with and without the
//!   client buffers, and again just after the instances exited; the key count per
//!   breaker (`DBSIZE`); and `MEMORY USAGE` of one healthy breaker's keys (its state,
//!   its window, and one batch key per instance). `used_memory` also grows by memory
//!   no key accounts for, so at small sizes it overstates the cost per breaker;
//! - the breakers' health: how many reached Shared mode, sync errors and fallbacks,
//!   and whether every failing breaker closed again by the end;
//! - the per-unit rates an extrapolation needs: commands per second per
//!   breaker-instance, Redis CPU per 1,000 breaker-instances, bytes per breaker and
//!   connections per instance (`CLIENT LIST` mid-run, over N).
//!
//! With `--cluster URL,URL,...` (feature `cluster`) the breakers use
//! `FleetBuilder::redis_cluster`, and every Redis figure is the sum over exactly the
//! nodes given (give every master: the program reads only those).
//!
//! The figures are from one machine running Redis and every instance at once: on a
//! small machine the instances compete with Redis for the cores, so read them with
//! the load average printed beside them.
//!
//! ```text
//! cargo run --release -p failgate-redis --example fleet_sim -- --instances 50 --breakers 200
//! cargo run --release -p failgate-redis --example fleet_sim -- --redis redis://127.0.0.1:6379
//! cargo run --release -p failgate-redis --example fleet_sim --features cluster -- \
//!     --cluster redis://127.0.0.1:7000,redis://127.0.0.1:7001,redis://127.0.0.1:7002
//! ```
//!
//! Without `--redis` (or `--cluster`) it starts a `redis-server` of its own (a free
//! loopback port, no persistence) and kills it at the end. `--help` lists the options.

#[path = "fleet_sim/child.rs"]
mod child;
#[path = "fleet_sim/options.rs"]
mod options;
#[path = "fleet_sim/redis_stats.rs"]
mod redis_stats;
#[path = "fleet_sim/report.rs"]
mod report;
#[path = "fleet_sim/tally.rs"]
mod tally;

use clap::Parser;
use failgate_redis::testing::RedisServer;
use options::Options;
use redis_stats::Nodes;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, Command, ExitCode, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// How long the instances may take to build their breakers and reach Redis.
const READY_WITHIN: Duration = Duration::from_secs(120);
/// How long after the traffic the instances may take to report.
const DONE_WITHIN: Duration = Duration::from_secs(60);

fn main() -> ExitCode {
    let o = Options::parse();
    if let Some(namespace) = &o.child {
        return match child::run(&o, namespace) {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                child::say(&format!("error {e}"));
                ExitCode::FAILURE
            }
        };
    }
    if let Err(e) = o.validate() {
        eprintln!("fleet_sim: {e}");
        return ExitCode::from(2);
    }
    match parent(o) {
        Ok(true) => ExitCode::SUCCESS,
        Ok(false) => ExitCode::FAILURE,
        Err(e) => {
            eprintln!("fleet_sim: {e}");
            ExitCode::FAILURE
        }
    }
}

/// The instances, killed if the parent gives up on them.
struct Instances {
    children: Vec<Child>,
    stdins: Vec<ChildStdin>,
    lines: mpsc::Receiver<(u32, String)>,
}

impl Drop for Instances {
    fn drop(&mut self) {
        self.stdins.clear();
        for child in &mut self.children {
            if matches!(child.try_wait(), Ok(None)) {
                let _ = child.kill();
            }
            let _ = child.wait();
        }
    }
}

fn spawn(o: &Options, namespace: &str) -> Result<Instances, String> {
    let exe = std::env::current_exe().map_err(|e| format!("cannot find this program: {e}"))?;
    let (tx, lines) = mpsc::channel();
    let mut instances = Instances {
        children: Vec::new(),
        stdins: Vec::new(),
        lines,
    };
    for i in 0..o.instances {
        let mut child = Command::new(&exe)
            .args(o.child_args(namespace))
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .map_err(|e| format!("cannot start instance {i}: {e}"))?;
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            return Err(format!("instance {i} has no pipes"));
        };
        instances.children.push(child);
        instances.stdins.push(stdin);
        let tx = tx.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if tx.send((i, line)).is_err() {
                    return;
                }
            }
            let _ = tx.send((i, "eof".into()));
        });
    }
    Ok(instances)
}

/// Collects lines until every instance has sent a line starting with `word`; returns
/// those lines, and keeps the others in `rest`.
fn wait_for(
    instances: &Instances,
    word: &str,
    within: Duration,
    rest: &mut Vec<(u32, String)>,
) -> Result<Vec<String>, String> {
    let n = instances.children.len();
    let mut got: Vec<Option<String>> = vec![None; n];
    let deadline = Instant::now() + within;
    while got.iter().any(Option::is_none) {
        let left = deadline.saturating_duration_since(Instant::now());
        let (i, line) = instances.lines.recv_timeout(left).map_err(|_| {
            let missing = got.iter().filter(|g| g.is_none()).count();
            format!("{missing} instances sent no `{word}` within {within:?}")
        })?;
        if line.starts_with(word) {
            got[i as usize] = Some(line);
        } else if let Some(e) = line.strip_prefix("error ") {
            return Err(format!("instance {i}: {e}"));
        } else if line == "eof" {
            return Err(format!("instance {i} exited before `{word}`"));
        } else {
            rest.push((i, line));
        }
    }
    Ok(got.into_iter().flatten().collect())
}

fn parent(mut o: Options) -> Result<bool, String> {
    let started = Instant::now();
    let load_start = load_average();
    let mut server = None;
    if !o.nodes_given() {
        let s = RedisServer::start().map_err(|e| format!("cannot start redis-server: {e}"))?;
        o.redis = Some(s.url());
        server = Some(s);
    }
    let mut nodes = Nodes::connect(&o.nodes())?;
    let namespace = format!("sim-{}-{}", std::process::id(), child::epoch_ns());
    let before = nodes.info()?;
    let keys_before = nodes.dbsize()?;

    eprintln!(
        "fleet_sim: starting {} instances x {} breakers against {}",
        o.instances,
        o.breakers,
        o.nodes().join(",")
    );
    let mut instances = spawn(&o, &namespace)?;
    let mut lines = Vec::new();
    let ready = wait_for(&instances, "ready", READY_WITHIN, &mut lines)?;
    let ready = ready.iter().map(|l| ready_fields(l)).collect();

    let (delta, clients) = measure(&mut instances, &mut nodes, &o)?;

    // `done` is an instance's last line; it then waits for our stdin to close.
    let done = wait_for(&instances, "done", DONE_WITHIN, &mut lines)?;
    lines.extend(done.into_iter().map(|l| (u32::MAX, l)));
    let traffic = nodes.info()?;
    let keys_traffic = nodes.dbsize()?;
    let sample = sample_keys(&mut nodes, &o, &namespace)?;
    drop(instances);
    // At once: the batch keys expire three windows (3 s) after their last write.
    let exited = nodes.info()?;
    let keys_exited = nodes.dbsize()?;
    drop(server);

    let run = report::Run {
        o: &o,
        namespace,
        load_start,
        load_end: load_average(),
        wall: started.elapsed(),
        ready,
        lines,
        delta,
        clients,
        before,
        traffic,
        exited,
        keys_before,
        keys_traffic,
        keys_exited,
        sample,
    };
    Ok(report::print(&run))
}

/// A `ready` line's breakers in Shared mode, and milliseconds to get there.
fn ready_fields(line: &str) -> (u32, u64) {
    let f = |k: &str| {
        line.split_whitespace()
            .find_map(|w| w.strip_prefix(k))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
    };
    (f("shared=") as u32, f("ms="))
}

/// Starts the traffic in every instance at once, and reads Redis over its interval.
fn measure(
    instances: &mut Instances,
    nodes: &mut Nodes,
    o: &Options,
) -> Result<(redis_stats::Delta, redis_stats::Clients), String> {
    let t0 = child::epoch_ns() + 500_000_000;
    for stdin in &mut instances.stdins {
        writeln!(stdin, "start {t0}").map_err(|e| format!("cannot start an instance: {e}"))?;
    }
    let at = |offset: Duration| {
        let target = t0 + offset.as_nanos();
        let now = child::epoch_ns();
        if target > now {
            std::thread::sleep(Duration::from_nanos((target - now) as u64));
        }
    };
    at(Duration::ZERO);
    let a = nodes.info()?;
    at(Duration::from_secs(o.seconds) / 2);
    let clients = nodes.clients()?;
    at(Duration::from_secs(o.seconds));
    let b = nodes.info()?;
    Ok((redis_stats::delta(&a, &b, &nodes.own), clients))
}

/// `MEMORY USAGE` of one healthy breaker's state, window and batch keys (a failing
/// one's window may be gone: a transition clears it).
fn sample_keys(nodes: &mut Nodes, o: &Options, ns: &str) -> Result<[(u64, u64); 3], String> {
    let host = format!("host-{}", o.failing.min(o.breakers - 1));
    let prefix = match o.target() {
        options::Target::Single(_) => format!("failgate:{ns}:{host}"),
        #[cfg(feature = "cluster")]
        options::Target::Cluster(_) => format!("failgate:{{{ns}:{host}}}"),
    };
    let limit = o.instances as usize;
    Ok([
        nodes.memory_of(&format!("{prefix}:state"), 1)?,
        nodes.memory_of(&format!("{prefix}:window"), 1)?,
        nodes.memory_of(&format!("{prefix}:batch:*"), limit)?,
    ])
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}
