//! A throwaway Redis Cluster: Debian's `redis-server` processes on loopback ports, formed
//! by `redis-cli --cluster create`, whose masters a test can kill as a crash would.

mod error;
mod node;

pub use error::ClusterError;
use node::{field, find, kill, query, slot_master, spawn_node, url, wait_exit, Node, POLL};
use std::fs::File;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

/// How long forming the cluster may take (`redis-cli`, then every node agreeing).
const FORM_WITHIN: Duration = Duration::from_secs(30);
/// Redis Cluster's recommended upper bound on its size.
const MAX_NODES: usize = 1000;
/// Redis Cluster's hash slots: `0..SLOTS`.
const SLOTS: u16 = 16384;

/// A Redis Cluster of `redis-server` child processes on 127.0.0.1, without persistence,
/// in a temporary directory; killed (and the directory removed) on drop.
///
/// Feature `testing`; a cluster client needs feature `cluster` (the redis crate's
/// `cluster-async`). Nodes time each other out after 1 s (`--cluster-node-timeout
/// 1000`), so a killed master's replica takes over within a few seconds. A cluster client
/// learns of a failover by failing to reach the old master and rebuilding its slot map
/// between retries: with the redis crate's default retry waits (at least 1.28 s) it may
/// answer a request made during the failover only a retry wait after the replica took
/// over; short waits (`ClusterClientBuilder::min_retry_wait` and `max_retry_wait`, in
/// ms) let it follow at once.
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

    /// Starts `masters` masters (at least 3) with `replicas_per_master` replicas each (at
    /// most 1000 nodes in all),
    /// and waits (at most 30 s) until every node reports `cluster_state:ok` and every
    /// replica's link to its master is up.
    pub fn start_with(
        masters: usize,
        replicas_per_master: usize,
    ) -> Result<RedisCluster, ClusterError> {
        if masters < 3 {
            return Err(ClusterError::TooFewMasters { masters });
        }
        let count = replicas_per_master
            .checked_add(1)
            .and_then(|per_shard| per_shard.checked_mul(masters))
            .filter(|&n| n <= MAX_NODES)
            .ok_or(ClusterError::TooManyNodes {
                masters,
                replicas_per_master,
            })?;
        let server = find("redis-server").ok_or(ClusterError::ServerNotFound)?;
        let cli = find("redis-cli").ok_or(ClusterError::CliNotFound)?;
        let dir = tempfile::Builder::new()
            .prefix("failgate-cluster-")
            .tempdir()
            .map_err(ClusterError::TempDir)?;
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
    /// `cluster_state:ok`; returns that master's port (at once, the current master's, if
    /// none was killed).
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
