//! `failgate_redis::testing::RedisCluster`: a real Redis Cluster serves keys on every
//! master through the redis crate's cluster client, and a killed master's replica takes
//! over its slots. Without `redis-server`/`redis-cli` the tests skip (saying so), except
//! on CI (`CI=true`), where they fail, as the crate's other Redis tests do.

mod common;

use failgate_redis::testing::{ClusterError, RedisCluster};
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use std::collections::BTreeSet;
use std::time::{Duration, Instant};

/// A cluster of the test's own (3 masters, 1 replica each), or `None` (after saying why)
/// when the test may skip.
fn cluster() -> Option<RedisCluster> {
    started(RedisCluster::start())
}

fn started(result: Result<RedisCluster, ClusterError>) -> Option<RedisCluster> {
    common::cluster_or_skip(result)
}

async fn connect(cluster: &RedisCluster) -> ClusterConnection {
    ClusterClient::new(cluster.urls())
        .unwrap()
        .get_async_connection()
        .await
        .unwrap()
}

/// A plain (non-cluster) GET on one node: it answers only for keys of its own slots
/// (others get MOVED), so it shows where a key really is.
fn get_on_node(port: u16, key: &str) -> redis::RedisResult<String> {
    // A node just promoted may still refuse for a moment (its first answers as a master
    // can lag the cluster's agreement on a loaded machine): retry, bounded.
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let answer = redis::Client::open(format!("redis://127.0.0.1:{port}"))
            .and_then(|c| c.get_connection())
            .and_then(|mut con| redis::cmd("GET").arg(key).query(&mut con));
        match answer {
            Err(e) if Instant::now() < deadline => {
                eprintln!("GET on {port}: {e}; again");
                std::thread::sleep(Duration::from_millis(50));
            }
            answer => return answer,
        }
    }
}

#[tokio::test]
async fn a_started_cluster_serves_keys_on_every_master_through_a_cluster_client() {
    let Some(cluster) = cluster() else {
        return;
    };
    let mut con = connect(&cluster).await;
    let keys: Vec<String> = (0..100).map(|i| format!("{{tag-{i}}}:key")).collect();
    for (i, key) in keys.iter().enumerate() {
        let () = redis::cmd("SET")
            .arg(key)
            .arg(i)
            .query_async(&mut con)
            .await
            .unwrap();
    }
    let mut masters = BTreeSet::new();
    for (i, key) in keys.iter().enumerate() {
        let value: usize = redis::cmd("GET")
            .arg(key)
            .query_async(&mut con)
            .await
            .unwrap();
        assert_eq!(value, i, "{key}");
        let slot = cluster.slot_of_key(key).unwrap();
        let master = cluster.master_of_slot(slot).unwrap();
        assert_eq!(get_on_node(master, key).unwrap(), i.to_string(), "{key}");
        masters.insert(master);
    }
    assert_eq!(masters.len(), 3, "keys on every master: {masters:?}");
}

#[tokio::test]
async fn killing_a_master_promotes_its_replica_and_the_slot_serves_again() {
    let Some(mut cluster) = cluster() else {
        return;
    };
    let mut con = connect(&cluster).await;
    let key = "failgate:{failover:db}:state";
    let slot = cluster.slot_of_key(key).unwrap();
    let master = cluster.master_of_slot(slot).unwrap();
    // Replication is asynchronous: write on the master directly and wait, on the same
    // connection (WAIT counts that connection's writes), until the replica has it, so
    // the promoted replica must still serve it.
    let mut direct = redis::Client::open(format!("redis://127.0.0.1:{master}"))
        .unwrap()
        .get_connection()
        .unwrap();
    let () = redis::cmd("SET")
        .arg(key)
        .arg("before")
        .query(&mut direct)
        .unwrap();
    let acked: usize = redis::cmd("WAIT")
        .arg(1)
        .arg(2000)
        .query(&mut direct)
        .unwrap();
    assert_eq!(acked, 1, "the replica acknowledged the write");

    assert!(matches!(
        cluster.kill_master_of_slot(16384),
        Err(ClusterError::SlotOutOfRange { slot: 16384 })
    ));
    let killed = cluster.kill_master_of_slot(slot).unwrap();
    assert_eq!(killed, master);
    let promoted = cluster
        .wait_for_failover(slot, Duration::from_secs(30))
        .unwrap();
    assert_ne!(promoted, killed);
    assert_eq!(get_on_node(promoted, key).unwrap(), "before");

    // The client still maps the slot to the killed master: its request fails there (the
    // connection is gone), then it reconnects and rebuilds its slot map (or follows a
    // MOVED from the promoted replica) and retries, within its own retry budget. Should
    // that run out before it has the new topology, the request fails: try again, bounded.
    let deadline = Instant::now() + Duration::from_secs(30);
    let mut attempts = 0;
    loop {
        attempts += 1;
        let attempt = async {
            redis::cmd("SET")
                .arg(key)
                .arg("after")
                .query_async::<()>(&mut con)
                .await?;
            redis::cmd("GET")
                .arg(key)
                .query_async::<String>(&mut con)
                .await
        };
        match tokio::time::timeout(Duration::from_secs(2), attempt).await {
            Ok(Ok(value)) => {
                assert_eq!(value, "after");
                break;
            }
            outcome => assert!(
                Instant::now() < deadline,
                "the slot did not serve again through the cluster client after {attempts} \
                 attempts: {outcome:?}"
            ),
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    eprintln!("served again after {attempts} attempt(s)");
    assert_eq!(get_on_node(promoted, key).unwrap(), "after");
}

#[test]
fn a_cluster_of_fewer_than_three_masters_or_over_a_thousand_nodes_is_refused_with_a_typed_error() {
    let err = RedisCluster::start_with(2, 1).unwrap_err();
    assert!(
        matches!(err, ClusterError::TooFewMasters { masters: 2 }),
        "{err}"
    );
    for (masters, replicas) in [(501, 1), (3, usize::MAX), (usize::MAX, 2)] {
        let err = RedisCluster::start_with(masters, replicas).unwrap_err();
        assert!(matches!(err, ClusterError::TooManyNodes { .. }), "{err}");
    }
}

#[test]
fn start_with_runs_the_masters_and_replicas_asked_for() {
    let Some(cluster) = started(RedisCluster::start_with(3, 2)) else {
        return;
    };
    assert_eq!(cluster.urls().len(), 9);
    let mut replicas = 0;
    for url in cluster.urls() {
        let mut con = redis::Client::open(url).unwrap().get_connection().unwrap();
        let info: String = redis::cmd("INFO")
            .arg("replication")
            .query(&mut con)
            .unwrap();
        replicas += usize::from(info.contains("role:slave"));
        assert!(!info.contains("master_link_status:down"), "{info}");
    }
    assert_eq!(replicas, 6);
}
