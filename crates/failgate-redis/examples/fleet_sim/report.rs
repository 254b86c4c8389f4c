//! Aggregating the children's lines and printing the report, as Markdown tables.

use crate::options::Options;
use crate::redis_stats::{Clients, Delta, Info};
use hdrhistogram::Histogram;
use std::collections::BTreeMap;
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
    /// `MEMORY USAGE` of host-0's state key, window key and batch keys: (keys, bytes).
    pub sample: [(u64, u64); 3],
}

/// `key=value` fields of a line.
fn fields(line: &str) -> BTreeMap<&str, u64> {
    line.split_whitespace()
        .filter_map(|w| w.split_once('='))
        .filter_map(|(k, v)| Some((k, v.parse().ok()?)))
        .collect()
}

#[derive(Default)]
struct Tally {
    /// Shared-mode openings by (breaker, generation): (instance, epoch ns) each.
    opens: BTreeMap<(u32, u64), Vec<(u32, u64)>>,
    local_opens: u64,
    transitions: BTreeMap<String, u64>,
    probes: BTreeMap<(u32, u64), u64>,
    done: Vec<BTreeMap<String, u64>>,
    /// Breakers outside the failing subset that left generation 0 (any instance).
    false_trips: BTreeMap<u32, ()>,
}

fn tally(run: &Run) -> Tally {
    let mut t = Tally::default();
    for (child, line) in &run.lines {
        let words: Vec<&str> = line.split_whitespace().collect();
        let f = fields(line);
        let idx = || words.get(1).and_then(|w| w.parse::<u32>().ok());
        match words.first().copied() {
            Some("state") => {
                let state = words.get(2).copied().unwrap_or("?");
                *t.transitions.entry(state.to_owned()).or_default() += 1;
                if state != "open" {
                    continue;
                }
                if !line.ends_with("mode=shared") {
                    t.local_opens += 1;
                } else if let (Some(i), Some(g), Some(at)) = (idx(), f.get("gen"), f.get("at_ns")) {
                    t.opens.entry((i, *g)).or_default().push((*child, *at));
                }
            }
            Some("probe") => {
                if let (Some(i), Some(g), Some(n)) = (idx(), f.get("gen"), f.get("n")) {
                    *t.probes.entry((i, *g)).or_default() += n;
                }
            }
            Some("done") => t
                .done
                .push(f.iter().map(|(k, v)| (k.to_string(), *v)).collect()),
            Some("generations") => {
                let gens = words.get(1).copied().unwrap_or("");
                for (i, g) in gens.split(',').enumerate() {
                    if i as u32 >= run.o.failing && g != "0" {
                        t.false_trips.insert(i as u32, ());
                    }
                }
            }
            _ => {}
        }
    }
    t
}

fn sum(t: &Tally, key: &str) -> u64 {
    t.done.iter().filter_map(|d| d.get(key)).sum()
}

/// Prints the report; false if a half-open period had more probes than allowed.
pub fn print(run: &Run) -> bool {
    let o = run.o;
    let t = tally(run);
    let n = f64::from(o.instances);
    let m = f64::from(o.breakers);
    let d = &run.delta;
    let secs = d.seconds.max(1e-9);

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
        "| breaker settings | flush {} ms, Redis timeout {} ms, open {} ms, {} half-open permits, window 1 s, failure rate 0.5, minimum 20 calls |",
        o.flush_interval, o.redis_timeout, o.open_for, o.half_open_permits
    );
    println!(
        "| run time (whole program) | {:.1} s |",
        run.wall.as_secs_f64()
    );
    println!();

    let calls = sum(&t, "calls");
    let rounds_max: Vec<u64> = t
        .done
        .iter()
        .filter_map(|d| d.get("rounds_max").copied())
        .collect();
    let rounds_per_instance = rounds_max.iter().sum::<u64>() as f64 / n / secs;
    let breaker_rounds = sum(&t, "rounds_sum") as f64 / n / secs;
    let evalsha = d
        .by_command
        .iter()
        .find(|c| c.0 == "evalsha")
        .map_or((0, 0), |c| (c.1, c.2));
    let cpu_pct = d.cpu_seconds / secs * 100.0;
    let mem_keys = |i: &Info| i.used_memory.saturating_sub(i.mem_clients);
    let bytes = run
        .traffic
        .used_memory
        .saturating_sub(run.before.used_memory) as f64
        / m;
    let key_bytes = mem_keys(&run.traffic).saturating_sub(mem_keys(&run.before)) as f64 / m;
    let exited = run
        .exited
        .used_memory
        .saturating_sub(run.before.used_memory) as f64
        / m;
    let keys = run.keys_traffic.saturating_sub(run.keys_before) as f64 / m;

    println!("| figure | value |");
    println!("| --- | --- |");
    println!("| measured interval | {secs:.2} s |");
    println!(
        "| calls made (all instances) | {:.0}/s ({} rejected, {} failed) |",
        calls as f64 / secs,
        sum(&t, "rejected"),
        sum(&t, "failures")
    );
    let inside: u64 = d
        .by_command
        .iter()
        .filter(|c| SCRIPT_CALLS.contains(&c.0.as_str()))
        .map(|c| c.1)
        .sum();
    // The script runs one HMGET per breaker part: the parts Redis actually ran.
    let parts = d
        .by_command
        .iter()
        .find(|c| c.0 == "hmget")
        .map_or(0.0, |c| c.1 as f64);
    println!(
        "| Redis commands processed | {:.0}/s (our own INFO and CLIENT LIST left out) |",
        d.commands as f64 / secs
    );
    println!(
        "| of which sent by the instances | {:.0}/s; the rest ({:.0}/s) ran inside the script |",
        d.commands.saturating_sub(inside) as f64 / secs,
        inside as f64 / secs
    );
    println!("| EVALSHA | {:.0}/s, {:.0} µs each in Redis, {:.1} breakers per call, {:.1} µs per breaker |", evalsha.0 as f64 / secs, evalsha.1 as f64 / evalsha.0.max(1) as f64, parts / evalsha.0.max(1) as f64, evalsha.1 as f64 / parts.max(1.0));
    println!("| Redis CPU (used_cpu_sys + used_cpu_user) | {cpu_pct:.1} % of one core |");
    println!("| round trips per instance | {rounds_per_instance:.2}/s (at least; 1/flush_interval = {:.0}/s) |", 1000.0 / o.flush_interval as f64);
    println!("| breaker-rounds per instance (sum of status().round_trips, tried) | {breaker_rounds:.0}/s; Redis ran {:.0}/s |", parts / n / secs);
    let c = run.clients;
    println!("| Redis connections per instance | {:.2} (CLIENT LIST mid-run, {} in all, {} of them pub/sub with {} bytes of output unread) |", c.connections as f64 / n, c.connections, c.subscribers, c.subscriber_output);
    let ready_shared: u64 = run.ready.iter().map(|r| u64::from(r.0)).sum();
    let slowest_ready = run.ready.iter().map(|r| r.1).max().unwrap_or(0);
    println!(
        "| breakers shared at start | {ready_shared} of {} (slowest instance {slowest_ready} ms) |",
        o.instances * o.breakers
    );
    println!("| fallbacks | {} sync errors, {} breakers local at the end, {} local permits ({} local probes), {} lost-state events |", sum(&t, "sync_errors"), sum(&t, "local_at_end"), sum(&t, "local_permits"), sum(&t, "local_probes"), sum(&t, "lost_state"));
    propagation(&t, o.instances);
    let ok = probes(&t, o.half_open_permits);
    println!(
        "| transitions seen (failing breakers, all instances) | {} |",
        t.transitions
            .iter()
            .map(|(k, v)| format!("{k} {v}"))
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "| healthy breakers that ever tripped | {} |",
        t.false_trips.len()
    );
    println!(
        "| failing breakers closed again at the end | {} of {} (all instances) |",
        sum(&t, "failing_closed"),
        o.failing * o.instances
    );
    let [state, window, batch] = run.sample;
    let batch_each = batch.1 as f64 / batch.0.max(1) as f64;
    let usage = (state.1 + window.1) as f64 + batch_each * n;
    println!("| Redis memory per breaker (used_memory) | {bytes:.0} bytes ({key_bytes:.0} without client buffers; {exited:.0} once the instances exited) |");
    println!("| Redis memory per breaker (MEMORY USAGE of host-0's keys) | {usage:.0} bytes: state {} B, window {} B, {} batch keys (one per instance) of {batch_each:.0} B |", state.1, window.1, batch.0);
    println!(
        "| keys per breaker (DBSIZE) | {keys:.1} ({:.1} once the instances exited) |",
        run.keys_exited.saturating_sub(run.keys_before) as f64 / m
    );
    println!();
    println!("Per-unit rates (for extrapolating):");
    println!();
    println!("| rate | value |");
    println!("| --- | --- |");
    println!(
        "| Redis commands/s per breaker-instance | {:.4} |",
        d.commands as f64 / secs / (n * m)
    );
    println!(
        "| Redis CPU per 1,000 breaker-instances | {:.2} % of one core |",
        cpu_pct / (n * m) * 1000.0
    );
    println!("| Redis memory per breaker | {bytes:.0} bytes (used_memory), {usage:.0} + {batch_each:.0} per more instance (MEMORY USAGE) |");
    println!(
        "| Redis connections per instance | {:.2} |",
        c.connections as f64 / n
    );
    println!();
    println!("namespace: {}", run.namespace);
    println!();
    println!("Redis commands over the interval (ours left out):");
    for (name, c, usec) in &d.by_command {
        println!(
            "  {name:<16} {:>10.1}/s  {:>8.1} µs/call",
            *c as f64 / secs,
            *usec as f64 / (*c).max(1) as f64
        );
    }
    ok
}

/// Trip propagation: from the first instance seeing a trip to each other's seeing it.
fn propagation(t: &Tally, instances: u32) {
    let Ok(mut h) = Histogram::<u64>::new_with_bounds(1, 600_000_000, 3) else {
        return;
    };
    let mut partial = 0;
    for seen in t.opens.values() {
        if seen.len() < instances as usize {
            partial += 1;
        }
        let first = seen.iter().map(|s| s.1).min().unwrap_or(0);
        let mut first_skipped = false;
        for &(_, at) in seen {
            if at == first && !first_skipped {
                first_skipped = true; // the first instance's own zero is no propagation
                continue;
            }
            let _ = h.record((at - first) / 1_000);
        }
    }
    let ms = |v: u64| v as f64 / 1_000.0;
    let pairs = h.len();
    println!(
        "| trip propagation (first instance to each other, {} trips, {pairs} pairs) | p50 {:.1} ms, p99 {:.1} ms, max {:.1} ms |",
        t.opens.len(),
        ms(h.value_at_quantile(0.5)),
        ms(h.value_at_quantile(0.99)),
        ms(h.max()),
    );
    println!(
        "| trips not seen open by every instance | {partial} of {} ({} local-mode openings) |",
        t.opens.len(),
        t.local_opens
    );
}

/// Probes per half-open period, fleet-wide; false (and a FAIL line) if any exceeded.
fn probes(t: &Tally, permits: u32) -> bool {
    let max = t.probes.values().max().copied().unwrap_or(0);
    println!(
        "| probes per half-open period, fleet-wide | max {max} (limit {permits}), {} periods with probes, {} probes |",
        t.probes.len(),
        t.probes.values().sum::<u64>()
    );
    let over: Vec<_> = t
        .probes
        .iter()
        .filter(|(_, n)| **n > u64::from(permits))
        .collect();
    for ((i, g), n) in &over {
        println!("FAIL: host-{i} generation {g} had {n} probes, more than {permits}");
    }
    over.is_empty()
}
