//! A throwaway Redis Cluster: Debian's `redis-server` processes on loopback ports, formed
//! by `redis-cli --cluster create`, whose masters a test can kill as a crash would.

use std::fs::File;
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

/// How long a node may be unreachable before the cluster fails it over. Short, so a
/// failover takes a few seconds rather than the default 15.
const NODE_TIMEOUT_MS: u64 = 1000;
/// How long forming the cluster may take (`redis-cli`, then every node agreeing).
const FORM_WITHIN: Duration = Duration::from_secs(30);
/// How long one node may take to listen.
const LISTEN_WITHIN: Duration = Duration::from_secs(10);
/// How often the cluster's state is polled.
const POLL: Duration = Duration::from_millis(50);
/// A bound on each query to a node, so a stuck node cannot hang a test.
const QUERY_TIMEOUT: Duration = Duration::from_millis(500);
/// Tries at a free port pair before giving up.
const PORT_TRIES: u32 = 100;
/// Redis Cluster's hash slots: `0..SLOTS`.
const SLOTS: u16 = 16384;
/// The cluster bus listens on the node's port plus this.
const BUS_OFFSET: u16 = 10000;

/// Why a cluster could not be started, or did not do what was asked in time.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ClusterError {
    /// No `redis-server` on PATH (or at `/usr/bin/redis-server`).
    #[error("redis-server is not on PATH; install Debian's package redis-server (apt-get install redis-server)")]
    ServerNotFound,
    /// No `redis-cli` on PATH (or at `/usr/bin/redis-cli`).
    #[error("redis-cli is not on PATH; install Debian's package redis-tools (apt-get install redis-tools)")]
    CliNotFound,
    /// `redis-cli --cluster create` needs at least 3 masters.
    #[error("a Redis Cluster needs at least 3 masters, not {masters}")]
    TooFewMasters {
        /// The masters asked for.
        masters: usize,
    },
    /// A slot outside `0..16384`.
    #[error("slot {slot} is out of range: Redis Cluster's slots are 0..16384")]
    SlotOutOfRange {
        /// The slot asked for.
        slot: u16,
    },
    /// No loopback port whose cluster bus port (port + 10000) was free too.
    #[error("no free loopback port with its cluster bus port (+10000) free after {tries} tries")]
    NoPort {
        /// How many ports were tried.
        tries: u32,
    },
    /// The cluster's temporary directory could not be made, or a file in it.
    #[error("cannot write the cluster's temporary files: {0}")]
    TempDir(#[source] std::io::Error),
    /// A process did not start.
    #[error("cannot start {binary}: {source}")]
    Spawn {
        /// The binary.
        binary: String,
        /// Why.
        #[source]
        source: std::io::Error,
    },
    /// A node started but did not listen in time (or kept exiting, its ports taken).
    #[error("redis-server did not listen on 127.0.0.1:{port} within {within:?}")]
    NotListening {
        /// Its port.
        port: u16,
        /// How long it was given.
        within: Duration,
    },
    /// `redis-cli --cluster create` failed or did not finish in time.
    #[error("redis-cli --cluster create failed ({status}): {output}")]
    Create {
        /// How it ended (`timed out` if it was killed).
        status: String,
        /// Its output (stdout and stderr).
        output: String,
    },
    /// The cluster did not reach `cluster_state:ok` (with every replica linked) in time.
    #[error("the cluster did not form within {within:?}; last state seen: {state}")]
    NotFormed {
        /// How long it was given.
        within: Duration,
        /// Each node's last `cluster_state` and replication link.
        state: String,
    },
    /// Every node of the cluster has been killed or stopped.
    #[error("no node of the cluster is running")]
    NotRunning,
    /// No running master serves the slot.
    #[error("no running master serves slot {slot}")]
    NoMaster {
        /// The slot.
        slot: u16,
    },
    /// No running node took over the slot (with the cluster ok again) in time.
    #[error("no failover of slot {slot} within {within:?}; last state seen: {state}")]
    NoFailover {
        /// The slot.
        slot: u16,
        /// How long it was given.
        within: Duration,
        /// Each node's last `cluster_state` and replication link.
        state: String,
    },
    /// A query to a node failed.
    #[error("query to redis on 127.0.0.1:{port} failed: {source}")]
    Query {
        /// The node's port.
        port: u16,
        /// Why.
        #[source]
        source: redis::RedisError,
    },
}

/// One node: its port (the bus is on port + 10000) and its process while it runs.
#[derive(Debug)]
struct Node {
    port: u16,
    child: Option<Child>,
}

/// A Redis Cluster of `redis-server` child processes on 127.0.0.1, without persistence,
/// in a temporary directory; killed (and the directory removed) on drop.
///
/// Feature `testing`; a cluster client needs feature `cluster` (the redis crate's
/// `cluster-async`). Nodes time each other out after 1 s (`--cluster-node-timeout
/// 1000`), so a killed master's replica takes over within a few seconds.
///
/// ```no_run
/// use failgate_redis::testing::RedisCluster;
/// use std::time::Duration;
///
/// let mut cluster = RedisCluster::start()?; // 3 masters, 1 replica each
/// let seeds = cluster.urls(); // for redis::cluster::ClusterClient::new(seeds)
/// let slot = cluster.slot_of_key("failgate:{payments:db}:state")?;
/// let killed = cluster.kill_master_of_slot(slot)?;
/// let promoted = cluster.wait_for_failover(slot, Duration::from_secs(20))?;
/// assert_ne!(killed, promoted);
/// # Ok::<(), failgate_redis::testing::ClusterError>(())
/// ```
#[derive(Debug)]
pub struct RedisCluster {
    nodes: Vec<Node>,
    dir: Option<tempfile::TempDir>,
}

impl RedisCluster {
    /// Starts 3 masters with 1 replica each (6 processes) and waits until the cluster is
    /// ok and every replica is linked to its master.
    pub fn start() -> Result<RedisCluster, ClusterError> {
        Self::start_with(3, 1)
    }

    /// Starts `masters` masters (at least 3) with `replicas_per_master` replicas each,
    /// and waits (at most 30 s) until every node reports `cluster_state:ok` and every
    /// replica's link to its master is up.
    pub fn start_with(
        masters: usize,
        replicas_per_master: usize,
    ) -> Result<RedisCluster, ClusterError> {
        if masters < 3 {
            return Err(ClusterError::TooFewMasters { masters });
        }
        let server = find("redis-server").ok_or(ClusterError::ServerNotFound)?;
        let cli = find("redis-cli").ok_or(ClusterError::CliNotFound)?;
        let dir = tempfile::Builder::new()
            .prefix("failgate-cluster-")
            .tempdir()
            .map_err(ClusterError::TempDir)?;
        let count = masters * (1 + replicas_per_master);
        let mut cluster = RedisCluster {
            nodes: Vec::with_capacity(count),
            dir: None,
        };
        for _ in 0..count {
            // Each node listens before the next port is picked, so the OS's own check
            // (a bind) sees every port already taken.
            let node = spawn_node(&server, dir.path())?;
            cluster.nodes.push(node);
        }
        cluster.dir = Some(dir);
        cluster.create(&cli, replicas_per_master)?;
        let expected_replicas = masters * replicas_per_master;
        let deadline = Instant::now() + FORM_WITHIN;
        loop {
            let health = cluster.health();
            if health.all_ok && health.linked_replicas >= expected_replicas {
                return Ok(cluster);
            }
            if Instant::now() > deadline {
                return Err(ClusterError::NotFormed {
                    within: FORM_WITHIN,
                    state: health.state,
                });
            }
            std::thread::sleep(POLL);
        }
    }

    /// Every node's `redis://127.0.0.1:<port>`, killed ones included: the seed list for
    /// a cluster client (which skips seeds it cannot reach).
    pub fn urls(&self) -> Vec<String> {
        self.nodes.iter().map(|n| url(n.port)).collect()
    }

    /// The port of the master serving `slot`, as the first running node that answers
    /// `CLUSTER NODES` sees it (until a failover, a killed master is still the one).
    /// `None` if no node answers or none serves the slot.
    pub fn master_of_slot(&self, slot: u16) -> Option<u16> {
        self.running()
            .find_map(|port| query::<String>(port, &["CLUSTER", "NODES"]).ok())
            .and_then(|nodes| slot_master(&nodes, slot))
    }

    /// The slot of `key` (hash tags honoured), as the cluster computes it
    /// (`CLUSTER KEYSLOT` on a running node).
    pub fn slot_of_key(&self, key: &str) -> Result<u16, ClusterError> {
        let port = self.running().next().ok_or(ClusterError::NotRunning)?;
        query(port, &["CLUSTER", "KEYSLOT", key])
    }

    /// Kills the master serving `slot` as a crash would (SIGKILL; it had no persistence)
    /// and returns its port. Its replica takes over after the node timeout (1 s) plus
    /// an election: see [`wait_for_failover`](Self::wait_for_failover).
    pub fn kill_master_of_slot(&mut self, slot: u16) -> Result<u16, ClusterError> {
        if slot >= SLOTS {
            return Err(ClusterError::SlotOutOfRange { slot });
        }
        let port = self
            .master_of_slot(slot)
            .ok_or(ClusterError::NoMaster { slot })?;
        let child = self
            .nodes
            .iter_mut()
            .find(|n| n.port == port)
            .and_then(|n| n.child.take())
            .ok_or(ClusterError::NoMaster { slot })?;
        kill(child);
        Ok(port)
    }

    /// Waits (at most `timeout`, polling every 50 ms) until every running node agrees
    /// that one running node is the master of `slot`, and every running node reports
    /// `cluster_state:ok`; returns that master's port.
    pub fn wait_for_failover(&self, slot: u16, timeout: Duration) -> Result<u16, ClusterError> {
        if slot >= SLOTS {
            return Err(ClusterError::SlotOutOfRange { slot });
        }
        let deadline = Instant::now() + timeout;
        loop {
            let health = self.health();
            if health.all_ok {
                if let Some(port) = self.agreed_running_master(slot) {
                    return Ok(port);
                }
            }
            if Instant::now() > deadline {
                return Err(ClusterError::NoFailover {
                    slot,
                    within: timeout,
                    state: health.state,
                });
            }
            std::thread::sleep(POLL);
        }
    }

    /// Kills every node and removes the temporary directory (a no-op the second time).
    pub fn stop(&mut self) {
        for node in &mut self.nodes {
            if let Some(child) = node.child.take() {
                kill(child);
            }
        }
        if let Some(dir) = self.dir.take() {
            let _ = dir.close();
        }
    }

    /// The ports of the nodes still running.
    fn running(&self) -> impl Iterator<Item = u16> + '_ {
        self.nodes
            .iter()
            .filter(|n| n.child.is_some())
            .map(|n| n.port)
    }

    /// `redis-cli --cluster create` on every node, killed if it takes over 30 s.
    fn create(&self, cli: &Path, replicas: usize) -> Result<(), ClusterError> {
        let dir = self
            .dir
            .as_ref()
            .map(|d| d.path())
            .unwrap_or(Path::new("."));
        let log = dir.join("create.log");
        let out = File::create(&log).map_err(ClusterError::TempDir)?;
        let err = out.try_clone().map_err(ClusterError::TempDir)?;
        let addrs = self.nodes.iter().map(|n| format!("127.0.0.1:{}", n.port));
        let mut child = Command::new(cli)
            .args(["--cluster", "create"])
            .args(addrs)
            .args(["--cluster-replicas", &replicas.to_string(), "--cluster-yes"])
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|source| ClusterError::Spawn {
                binary: cli.display().to_string(),
                source,
            })?;
        let status = wait_exit(&mut child, FORM_WITHIN);
        let output = || std::fs::read_to_string(&log).unwrap_or_default();
        match status {
            Some(s) if s.success() => Ok(()),
            Some(s) => Err(ClusterError::Create {
                status: s.to_string(),
                output: output(),
            }),
            None => {
                kill(child);
                Err(ClusterError::Create {
                    status: format!("timed out after {FORM_WITHIN:?}"),
                    output: output(),
                })
            }
        }
    }

    /// Every running node's `cluster_state` and replication link.
    fn health(&self) -> Health {
        let mut health = Health {
            all_ok: true,
            linked_replicas: 0,
            state: String::new(),
        };
        for port in self.running() {
            let info = query::<String>(port, &["CLUSTER", "INFO"]);
            let replication = query::<String>(port, &["INFO", "replication"]);
            let (info, replication) = match (info, replication) {
                (Ok(i), Ok(r)) => (i, r),
                (Err(e), _) | (_, Err(e)) => {
                    health.all_ok = false;
                    health.state += &format!("{port}: {e}; ");
                    continue;
                }
            };
            let state = field(&info, "cluster_state").unwrap_or("?");
            let role = field(&replication, "role").unwrap_or("?");
            let link = field(&replication, "master_link_status");
            health.all_ok &= state == "ok" && link.is_none_or(|l| l == "up");
            health.linked_replicas += usize::from(role == "slave" && link == Some("up"));
            health.state += &format!("{port}: cluster_state:{state} role:{role}");
            if let Some(link) = link {
                health.state += &format!(" master_link_status:{link}");
            }
            health.state += "; ";
        }
        health
    }

    /// The master of `slot` if every running node names the same one and it runs.
    fn agreed_running_master(&self, slot: u16) -> Option<u16> {
        let mut agreed = None;
        for port in self.running() {
            let nodes = query::<String>(port, &["CLUSTER", "NODES"]).ok()?;
            let master = slot_master(&nodes, slot)?;
            if agreed.is_some_and(|a| a != master) {
                return None;
            }
            agreed = Some(master);
        }
        agreed.filter(|m| self.running().any(|p| p == *m))
    }
}

impl Drop for RedisCluster {
    fn drop(&mut self) {
        self.stop();
    }
}

/// What [`RedisCluster::health`] saw.
struct Health {
    /// Every running node answered, with `cluster_state:ok` and, if a replica, its link up.
    all_ok: bool,
    /// Replicas whose link to their master is up.
    linked_replicas: usize,
    /// A line per node, for errors.
    state: String,
}

/// `name` on PATH, else Debian's `/usr/bin/<name>`, if either exists.
fn find(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")
        .and_then(|path| {
            std::env::split_paths(&path)
                .map(|dir| dir.join(name))
                .find(|p| p.is_file())
        })
        .or_else(|| {
            let debian = Path::new("/usr/bin").join(name);
            debian.is_file().then_some(debian)
        })
}

fn url(port: u16) -> String {
    format!("redis://127.0.0.1:{port}")
}

/// A free loopback port whose bus port (+10000) is free too. redis-server cannot take
/// port 0, so the port is picked here and is free only until someone else binds it:
/// [`spawn_node`] retries if the node then fails to bind.
fn free_port() -> Result<u16, ClusterError> {
    for _ in 0..PORT_TRIES {
        let Ok(port) = TcpListener::bind("127.0.0.1:0").and_then(|l| l.local_addr()) else {
            continue;
        };
        let Some(bus) = port.port().checked_add(BUS_OFFSET) else {
            continue;
        };
        if TcpListener::bind(("127.0.0.1", bus)).is_ok() {
            return Ok(port.port());
        }
    }
    Err(ClusterError::NoPort { tries: PORT_TRIES })
}

/// Starts one cluster node on a free port pair and waits until it listens; picks another
/// port if the node exits (its port or bus port taken meanwhile).
fn spawn_node(server: &Path, dir: &Path) -> Result<Node, ClusterError> {
    let mut port = 0;
    for _ in 0..PORT_TRIES {
        port = free_port()?;
        let config = dir.join(format!("nodes-{port}.conf"));
        let log = dir.join(format!("node-{port}.log"));
        let timeout = NODE_TIMEOUT_MS.to_string();
        let mut child = Command::new(server)
            .args(["--port", &port.to_string(), "--bind", "127.0.0.1"])
            .args([
                "--cluster-enabled",
                "yes",
                "--cluster-node-timeout",
                &timeout,
            ])
            .arg("--cluster-config-file")
            .arg(&config)
            .args(["--save", "", "--appendonly", "no", "--dir"])
            .arg(dir)
            .arg("--logfile")
            .arg(&log)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| ClusterError::Spawn {
                binary: server.display().to_string(),
                source,
            })?;
        let deadline = Instant::now() + LISTEN_WITHIN;
        loop {
            if matches!(child.try_wait(), Ok(Some(_))) {
                break; // exited: try another port
            }
            if TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Ok(Node {
                    port,
                    child: Some(child),
                });
            }
            if Instant::now() > deadline {
                kill(child);
                return Err(ClusterError::NotListening {
                    port,
                    within: LISTEN_WITHIN,
                });
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }
    Err(ClusterError::NotListening {
        port,
        within: LISTEN_WITHIN,
    })
}

/// SIGKILL (what `Child::kill` sends on Unix), then reaps the process.
fn kill(mut child: Child) {
    let _ = child.kill();
    let _ = child.wait();
}

/// Waits for `child` to exit, at most `within`; `None` if it still runs.
fn wait_exit(child: &mut Child, within: Duration) -> Option<ExitStatus> {
    let deadline = Instant::now() + within;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Some(status),
            Ok(None) if Instant::now() < deadline => std::thread::sleep(POLL),
            _ => return None,
        }
    }
}

/// One command to one node, on a fresh connection with bounded waits.
fn query<T: redis::FromRedisValue>(port: u16, args: &[&str]) -> Result<T, ClusterError> {
    let fail = |source| ClusterError::Query { port, source };
    let client = redis::Client::open(url(port)).map_err(fail)?;
    let mut con = client
        .get_connection_with_timeout(QUERY_TIMEOUT)
        .map_err(fail)?;
    con.set_read_timeout(Some(QUERY_TIMEOUT)).map_err(fail)?;
    con.set_write_timeout(Some(QUERY_TIMEOUT)).map_err(fail)?;
    let mut cmd = redis::cmd(args[0]);
    for arg in &args[1..] {
        cmd.arg(*arg);
    }
    cmd.query(&mut con).map_err(fail)
}

/// `name:value` in an `INFO`-style reply.
fn field<'a>(info: &'a str, name: &str) -> Option<&'a str> {
    info.lines()
        .find_map(|line| line.strip_prefix(name)?.strip_prefix(':'))
        .map(str::trim)
}

/// The port of the master serving `slot` in a `CLUSTER NODES` reply (lines of `<id>
/// <ip:port@bus[,host]> <flags> <master> <ping> <pong> <epoch> <link> <slot ranges>...`).
fn slot_master(nodes: &str, slot: u16) -> Option<u16> {
    nodes.lines().find_map(|line| {
        let fields: Vec<&str> = line.split_whitespace().collect();
        let (addr, flags) = (fields.get(1)?, fields.get(2)?);
        if !flags.split(',').any(|f| f == "master") {
            return None;
        }
        let serves = fields.iter().skip(8).any(|range| {
            // `[slot->-id]` / `[slot-<-id]`: a slot being migrated, not served.
            let (start, end) = range.split_once('-').unwrap_or((range, range));
            matches!((start.parse::<u16>(), end.parse::<u16>()), (Ok(s), Ok(e)) if s <= slot && slot <= e)
        });
        let port = addr.split(['@', ',']).next()?.rsplit(':').next()?;
        serves.then(|| port.parse().ok()).flatten()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slot_master_reads_ranges_and_single_slots_and_skips_replicas_and_migrations() {
        let nodes = "\
a 127.0.0.1:7000@17000 myself,master - 0 0 1 connected 0-5460 [5461->-b]
b 127.0.0.1:7001@17001,host master - 0 0 2 connected 5461-10922 16000
c 127.0.0.1:7002@17002 slave b 0 0 2 connected
d 127.0.0.1:7003@17003 master,fail - 0 0 3 disconnected 10923-15999 16001-16383
";
        assert_eq!(slot_master(nodes, 0), Some(7000));
        assert_eq!(slot_master(nodes, 5460), Some(7000));
        assert_eq!(slot_master(nodes, 5461), Some(7001));
        assert_eq!(slot_master(nodes, 16000), Some(7001));
        assert_eq!(slot_master(nodes, 12000), Some(7003));
        assert_eq!(slot_master("", 1), None);
    }

    #[test]
    fn field_reads_an_info_line() {
        let info = "# Replication\r\nrole:slave\r\nmaster_link_status:up\r\n";
        assert_eq!(field(info, "role"), Some("slave"));
        assert_eq!(field(info, "master_link_status"), Some("up"));
        assert_eq!(field(info, "master"), None);
    }
}
