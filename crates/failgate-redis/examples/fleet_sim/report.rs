//! Aggregating the children's lines and printing the report, as Markdown tables.

use crate::options::Options;
use crate::redis_stats::{Clients, Delta, Info};
use crate::tally::{probes, propagation, sum, tally, Tally};
use std::time::Duration;

/// The commands the sync script runs (`src/script.lua`): counted by `INFO` too.
const SCRIPT_CALLS: &[&str] = &[
    "time", "hmget", "del", "get", "hincrby", "hgetall", "hdel", "hset", "pexpire", "exists",
    "set", "publish",
];

/// Everything the parent measured.
pub struct Run<'a> {
    pub o: &'a Options,
    pub namespace: String,
    pub load_start: String,
    pub load_end: String,
    pub wall: Duration,
    /// Per child: breakers in Shared mode when it said ready, and how long that took.
    pub ready: Vec<(u32, u64)>,
    /// Every other line, with the child it came from.
    pub lines: Vec<(u32, String)>,
    pub delta: Delta,
    pub clients: Clients,
    pub before: Info,
    pub traffic: Info,
    /// Just after the instances exited (their connections closed, the keys still there).
    pub exited: Info,
    pub keys_before: u64,
    pub keys_traffic: u64,
    pub keys_exited: u64,
    /// `MEMORY USAGE` of a healthy breaker's state key, window key and batch keys:
    /// (keys, bytes).
    pub sample: [(u64, u64); 3],
}

/// Prints the report; false if a half-open period had more probes than allowed.
pub fn print(run: &Run) -> bool {
    let t = tally(run);
    parameters(run);
    println!("| figure | value |");
    println!("| --- | --- |");
    let load = redis_load(run, &t);
    let ok = behaviour(run, &t);
    let mem = memory(run);
    println!();
    per_unit(run, &load, &mem);
    println!();
    println!("namespace: {}", run.namespace);
    println!();
    println!("Redis commands over the interval (ours left out):");
    let secs = run.delta.seconds.max(1e-9);
    for (name, c, usec) in &run.delta.by_command {
        println!(
            "  {name:<16} {:>10.1}/s  {:>8.1} µs/call",
            *c as f64 / secs,
            *usec as f64 / (*c).max(1) as f64
        );
    }
    ok
}

fn parameters(run: &Run) {
    let o = run.o;
    println!(
        "## Fleet simulation: {} instances x {} breakers",
        o.instances, o.breakers
    );
    println!();
    println!("| parameter | value |");
    println!("| --- | --- |");
    let cpus = std::thread::available_parallelism().map_or(1, |c| c.get());
    println!(
        "| machine | {cpus} CPUs (nproc), Redis {} |",
        run.before.version
    );
    println!(
        "| load average (1, 5, 15 min) | {} at start, {} at end |",
        run.load_start, run.load_end
    );
    println!(
        "| instances x breakers | {} x {} ({} breaker-instances) |",
        o.instances,
        o.breakers,
        o.instances * o.breakers
    );
    println!(
        "| failing subset | {} breakers, every call fails from t=2 s to t=8 s |",
        o.failing
    );
    println!(
        "| traffic | {} calls/s per breaker per instance, {} s |",
        o.rate, o.seconds
    );
    println!(
        "| breaker settings | flush {} ms, Redis timeout {} ms, open {} ms, {} half-open \
         permits, window 1 s, failure rate 0.5, minimum 20 calls |",
        o.flush_interval, o.redis_timeout, o.open_for, o.half_open_permits
    );
    println!(
        "| run time (whole program) | {:.1} s |",
        run.wall.as_secs_f64()
    );
    println!();
}

/// What the load cost Redis, for the per-unit rates.
struct Load {
    commands_per_s: f64,
    cpu_pct: f64,
    /// Breaker parts Redis ran per second, and its time per part (µs).
    parts_per_s: f64,
    usec_per_part: f64,
}

fn redis_load(run: &Run, t: &Tally) -> Load {
    let (o, d) = (run.o, &run.delta);
    let n = f64::from(o.instances);
    let secs = d.seconds.max(1e-9);
    let calls_of = |name: &str| {
        d.by_command
            .iter()
            .find(|c| c.0 == name)
            .map_or((0, 0), |c| (c.1, c.2))
    };
    let evalsha = calls_of("evalsha");
    // The script runs one HMGET per breaker part: the parts Redis actually ran.
    let parts = calls_of("hmget").0 as f64;
    let inside: u64 = d
        .by_command
        .iter()
        .filter(|c| SCRIPT_CALLS.contains(&c.0.as_str()))
        .map(|c| c.1)
        .sum();
    let load = Load {
        commands_per_s: d.commands as f64 / secs,
        cpu_pct: d.cpu_seconds / secs * 100.0,
        parts_per_s: parts / secs,
        usec_per_part: evalsha.1 as f64 / parts.max(1.0),
    };
    println!("| measured interval | {secs:.2} s |");
    println!(
        "| calls made (all instances) | {:.0}/s ({} rejected, {} failed) |",
        sum(t, "calls") as f64 / secs,
        sum(t, "rejected"),
        sum(t, "failures")
    );
    println!(
        "| Redis commands processed | {:.0}/s (our own INFO and CLIENT LIST left out) |",
        load.commands_per_s
    );
    println!(
        "| of which sent by the instances | {:.0}/s; the rest ({:.0}/s) ran inside the script |",
        d.commands.saturating_sub(inside) as f64 / secs,
        inside as f64 / secs
    );
    println!(
        "| EVALSHA | {:.0}/s, {:.0} µs each in Redis, {:.1} breakers per call, {:.1} µs per \
         breaker |",
        evalsha.0 as f64 / secs,
        evalsha.1 as f64 / evalsha.0.max(1) as f64,
        parts / evalsha.0.max(1) as f64,
        load.usec_per_part
    );
    println!(
        "| Redis CPU (used_cpu_sys + used_cpu_user) | {:.1} % of one core |",
        load.cpu_pct
    );
    let rounds_max: u64 = t.done.iter().filter_map(|d| d.get("rounds_max")).sum();
    println!(
        "| round trips per instance | {:.2}/s (at least: its busiest breaker's; \
         1/flush_interval = {:.0}/s) |",
        rounds_max as f64 / n / secs,
        1000.0 / o.flush_interval as f64
    );
    println!(
        "| breaker-rounds per instance (sum of status().round_trips, tried) | {:.0}/s; Redis \
         ran {:.0}/s |",
        sum(t, "rounds_sum") as f64 / n / secs,
        load.parts_per_s / n
    );
    let c = run.clients;
    println!(
        "| Redis connections per instance | {:.2} (CLIENT LIST mid-run, {} in all, {} of them \
         pub/sub with {} bytes of output unread) |",
        c.connections as f64 / n,
        c.connections,
        c.subscribers,
        c.subscriber_output
    );
    load
}

/// The breakers' behaviour; false if a half-open period had too many probes.
fn behaviour(run: &Run, t: &Tally) -> bool {
    let o = run.o;
    let ready_shared: u64 = run.ready.iter().map(|r| u64::from(r.0)).sum();
    let slowest_ready = run.ready.iter().map(|r| r.1).max().unwrap_or(0);
    println!(
        "| breakers shared at start | {ready_shared} of {} (slowest instance {slowest_ready} ms) |",
        o.instances * o.breakers
    );
    println!(
        "| fallbacks | {} sync errors, {} breakers local at the end, {} local permits ({} \
         local probes), {} lost-state events |",
        sum(t, "sync_errors"),
        sum(t, "local_at_end"),
        sum(t, "local_permits"),
        sum(t, "local_probes"),
        sum(t, "lost_state")
    );
    propagation(t, o.instances);
    let ok = probes(t, o.half_open_permits);
    let transitions: Vec<String> = t
        .transitions
        .iter()
        .map(|(k, v)| format!("{k} {v}"))
        .collect();
    println!(
        "| transitions seen (failing breakers, all instances) | {} |",
        transitions.join(", ")
    );
    println!(
        "| healthy breakers that ever tripped | {} |",
        t.false_trips.len()
    );
    println!(
        "| failing breakers closed again at the end | {} of {} (all instances) |",
        sum(t, "failing_closed"),
        o.failing * o.instances
    );
    ok
}

/// Redis memory per breaker.
struct Memory {
    /// `used_memory` with traffic, minus before, per breaker.
    bytes: f64,
    /// `MEMORY USAGE` of one breaker's keys, and of one instance's batch key.
    usage: f64,
    batch_each: f64,
}

fn memory(run: &Run) -> Memory {
    let m = f64::from(run.o.breakers);
    let per_breaker = |after: u64, before: u64| after.saturating_sub(before) as f64 / m;
    let (before, traffic, exited) = (&run.before, &run.traffic, &run.exited);
    let keys_only = |i: &Info| i.used_memory.saturating_sub(i.mem_clients);
    let [state, window, batch] = run.sample;
    let batch_each = batch.1 as f64 / batch.0.max(1) as f64;
    let mem = Memory {
        bytes: per_breaker(traffic.used_memory, before.used_memory),
        usage: (state.1 + window.1) as f64 + batch_each * f64::from(run.o.instances),
        batch_each,
    };
    println!(
        "| Redis memory per breaker (used_memory) | {:.0} bytes ({:.0} without client buffers; \
         {:.0} once the instances exited; used_memory_dataset {:.0}) |",
        mem.bytes,
        per_breaker(keys_only(traffic), keys_only(before)),
        per_breaker(exited.used_memory, before.used_memory),
        per_breaker(exited.dataset, before.dataset)
    );
    println!(
        "| Redis memory per breaker (MEMORY USAGE of a healthy breaker's keys) | {:.0} bytes: state {} B, \
         window {} B, {} batch keys (one per instance) of {batch_each:.0} B |",
        mem.usage, state.1, window.1, batch.0
    );
    println!(
        "| keys per breaker (DBSIZE) | {:.1} ({:.1} once the instances exited) |",
        per_breaker(run.keys_traffic, run.keys_before),
        per_breaker(run.keys_exited, run.keys_before)
    );
    mem
}

fn per_unit(run: &Run, load: &Load, mem: &Memory) {
    let n = f64::from(run.o.instances);
    let breaker_instances = n * f64::from(run.o.breakers);
    println!("Per-unit rates (for extrapolating):");
    println!();
    println!("| rate | value |");
    println!("| --- | --- |");
    println!(
        "| Redis commands/s per breaker-instance | {:.2} (the script's own included) |",
        load.commands_per_s / breaker_instances
    );
    println!(
        "| breaker-rounds Redis ran per breaker-instance | {:.2}/s, {:.1} µs of Redis time each |",
        load.parts_per_s / breaker_instances,
        load.usec_per_part
    );
    println!(
        "| Redis CPU per 1,000 breaker-instances | {:.2} % of one core |",
        load.cpu_pct / breaker_instances * 1000.0
    );
    println!(
        "| Redis memory per breaker | {:.0} bytes (used_memory); MEMORY USAGE {:.0}, of which \
         {:.0} per instance |",
        mem.bytes, mem.usage, mem.batch_each
    );
    println!(
        "| Redis connections per instance | {:.2} |",
        run.clients.connections as f64 / n
    );
}
