//! Why a [`RedisCluster`](super::RedisCluster) could not start or do what was asked.

use std::time::Duration;

/// Why a cluster could not be started, or did not do what was asked in time.
///
/// `#[non_exhaustive]`: each new cluster operation can bring its own failure, so a
/// `match` outside this crate needs a wildcard arm.
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
    /// More nodes than Redis Cluster's recommended 1000.
    #[error("a cluster of {masters} masters with {replicas_per_master} replicas each is more than 1000 nodes")]
    TooManyNodes {
        /// The masters asked for.
        masters: usize,
        /// The replicas per master asked for.
        replicas_per_master: usize,
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
