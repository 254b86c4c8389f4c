//! What the parent reads from Redis: `INFO all` (one command per node, so our own
//! share of the command counts is known exactly), `DBSIZE`, `CLIENT LIST` and
//! `MEMORY USAGE`, summed over the nodes it was given.

use std::collections::BTreeMap;
use std::time::Instant;

/// Connections to the nodes, counting the commands we send ourselves.
pub struct Nodes {
    cons: Vec<redis::Connection>,
    /// Commands this program sent, per node, by name as `INFO commandstats` has it.
    pub own: BTreeMap<String, u64>,
}

/// `CLIENT LIST`, summed over the nodes.
#[derive(Debug, Default, Clone, Copy)]
pub struct Clients {
    pub connections: u64,
    /// Connections subscribed to a channel or pattern (pub/sub).
    pub subscribers: u64,
    /// Their output buffers (`omem`): announcements not yet read by the instances.
    pub subscriber_output: u64,
}

/// One `INFO all`, summed over the nodes.
#[derive(Debug, Default, Clone)]
pub struct Info {
    pub at: Option<Instant>,
    pub total_commands: u64,
    pub cpu_seconds: f64,
    pub used_memory: u64,
    pub mem_clients: u64,
    /// `used_memory_dataset`: the keys and values, without Redis's overheads.
    pub dataset: u64,
    /// `cmdstat_<name>`: calls and microseconds.
    pub commands: BTreeMap<String, (u64, u64)>,
    /// Commands we had sent (all nodes) when we sent this INFO.
    pub own_before: u64,
    pub version: String,
}

impl Nodes {
    pub fn connect(urls: &[String]) -> Result<Nodes, String> {
        let cons = urls
            .iter()
            .map(|url| {
                redis::Client::open(url.as_str())
                    .and_then(|c| c.get_connection())
                    .map_err(|e| format!("cannot connect to {url} (--redis or --cluster): {e}"))
            })
            .collect::<Result<_, _>>()?;
        Ok(Nodes {
            cons,
            own: BTreeMap::new(),
        })
    }

    fn query<T: redis::FromRedisValue>(
        &mut self,
        node: usize,
        stat: &str,
        cmd: &redis::Cmd,
    ) -> Result<T, String> {
        *self.own.entry(stat.to_owned()).or_default() += 1;
        cmd.query(&mut self.cons[node])
            .map_err(|e| format!("{stat} on node {node}: {e}"))
    }

    fn own_total(&self) -> u64 {
        self.own.values().sum()
    }

    pub fn info(&mut self) -> Result<Info, String> {
        let mut sum = Info {
            own_before: self.own_total(),
            ..Info::default()
        };
        for node in 0..self.cons.len() {
            let text: String = self.query(node, "info", redis::cmd("INFO").arg("all"))?;
            add(&mut sum, &text);
        }
        sum.at = Some(Instant::now());
        Ok(sum)
    }

    pub fn dbsize(&mut self) -> Result<u64, String> {
        (0..self.cons.len()).try_fold(0, |n, node| {
            Ok(n + self.query::<u64>(node, "dbsize", &redis::cmd("DBSIZE"))?)
        })
    }

    /// Client connections, ours (one per node) left out.
    pub fn clients(&mut self) -> Result<Clients, String> {
        let mut c = Clients::default();
        for node in 0..self.cons.len() {
            let list: String = self.query(node, "client|list", redis::cmd("CLIENT").arg("LIST"))?;
            c.connections += list.lines().count() as u64 - 1;
            for line in list.lines() {
                let field = |name: &str| {
                    line.split_whitespace()
                        .find_map(|w| w.strip_prefix(name))
                        .and_then(|v| v.parse::<u64>().ok())
                        .unwrap_or(0)
                };
                if field("psub=") + field("sub=") > 0 {
                    c.subscribers += 1;
                    c.subscriber_output += field("omem=");
                }
            }
        }
        Ok(c)
    }

    /// `MEMORY USAGE` of the keys matching `pattern` (at most `limit` of them) on any
    /// node: (keys, bytes).
    pub fn memory_of(&mut self, pattern: &str, limit: usize) -> Result<(u64, u64), String> {
        let (mut keys, mut bytes) = (0, 0);
        for node in 0..self.cons.len() {
            let mut cursor = 0u64;
            loop {
                let scan = redis::cmd("SCAN")
                    .arg(cursor)
                    .arg("MATCH")
                    .arg(pattern)
                    .arg("COUNT")
                    .arg(10_000)
                    .clone();
                let (next, found): (u64, Vec<String>) = self.query(node, "scan", &scan)?;
                for key in found.iter().take(limit.saturating_sub(keys as usize)) {
                    let usage = redis::cmd("MEMORY").arg("USAGE").arg(key).clone();
                    let b: Option<u64> = self.query(node, "memory|usage", &usage)?;
                    keys += 1;
                    bytes += b.unwrap_or(0);
                }
                cursor = next;
                if cursor == 0 || keys as usize >= limit {
                    break;
                }
            }
        }
        Ok((keys, bytes))
    }
}

fn add(sum: &mut Info, text: &str) {
    for (k, v) in text
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.trim_end().split_once(':'))
    {
        let int = || v.parse::<u64>().unwrap_or(0);
        match k {
            "total_commands_processed" => sum.total_commands += int(),
            "used_cpu_sys" | "used_cpu_user" => sum.cpu_seconds += v.parse().unwrap_or(0.0),
            "used_memory" => sum.used_memory += int(),
            "mem_clients_normal" => sum.mem_clients += int(),
            "used_memory_dataset" => sum.dataset += int(),
            "redis_version" => sum.version = v.to_owned(),
            _ => {
                if let Some(name) = k.strip_prefix("cmdstat_") {
                    let field = |f: &str| {
                        v.split(',')
                            .find_map(|kv| kv.strip_prefix(f))
                            .and_then(|n| n.parse::<u64>().ok())
                            .unwrap_or(0)
                    };
                    let e = sum.commands.entry(name.to_owned()).or_default();
                    e.0 += field("calls=");
                    e.1 += field("usec=");
                }
            }
        }
    }
}

/// What Redis did between two INFOs, our own commands left out.
pub struct Delta {
    pub seconds: f64,
    /// Commands processed by everyone else.
    pub commands: u64,
    pub cpu_seconds: f64,
    /// Per command (ours subtracted): calls and microseconds, busiest first.
    pub by_command: Vec<(String, u64, u64)>,
}

/// `a` to `b`; `own` is what we sent in between, by command. An INFO's counts leave
/// out that INFO itself, so ours are the commands sent from `a` (included) to `b`
/// (excluded).
pub fn delta(a: &Info, b: &Info, own: &BTreeMap<String, u64>) -> Delta {
    let seconds = match (a.at, b.at) {
        (Some(a), Some(b)) => (b - a).as_secs_f64(),
        _ => 0.0,
    };
    let ours = b.own_before - a.own_before;
    let mut by_command: Vec<(String, u64, u64)> = b
        .commands
        .iter()
        .map(|(name, (calls, usec))| {
            let (c0, u0) = a.commands.get(name).copied().unwrap_or_default();
            (name.clone(), calls - c0, usec - u0)
        })
        .filter(|(_, calls, _)| *calls > 0)
        .collect();
    // The breakers send none of the commands we send (INFO, CLIENT LIST, ...).
    by_command.retain(|(name, _, _)| !own.contains_key(name));
    by_command.sort_by_key(|c| std::cmp::Reverse(c.1));
    Delta {
        seconds,
        commands: (b.total_commands - a.total_commands).saturating_sub(ours),
        cpu_seconds: b.cpu_seconds - a.cpu_seconds,
        by_command,
    }
}
