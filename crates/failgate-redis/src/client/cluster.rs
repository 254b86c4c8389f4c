//! A round on a Redis Cluster. A script may only touch keys of one slot, and each
//! breaker's keys share one (their hash tag), so each breaker is its own script call;
//! the calls of a round are sent at once and the cluster connection pipelines those of
//! one node on its connection to that node, following MOVED and ASK. Each call has the
//! round's timeout of its own and is given up at it (unlike on one server, where a late
//! round is awaited): a cluster's nodes fail apart, and a node that is failing over
//! must make only its own breakers fall back, until its replica takes over, without
//! holding back the rounds of the others.

use super::transport::{call, is_noscript, Part};
use crate::script::{parse_part, Reply};
use futures_util::future::join_all;
use redis::cluster::ClusterClient;
use redis::cluster_async::ClusterConnection;
use redis::{Script, Value};
use std::time::Duration;

pub(crate) struct Cluster {
    client: ClusterClient,
    con: Option<ClusterConnection>,
}

impl Cluster {
    pub(crate) fn new(client: ClusterClient) -> Self {
        Cluster { client, con: None }
    }

    pub(crate) async fn sync(
        &mut self,
        script: &Script,
        parts: &[Part<'_>],
        timeout: Duration,
        _late: &(dyn Fn(usize) + Sync),
    ) -> Vec<(Result<Reply, String>, bool)> {
        let con = match &self.con {
            Some(con) => con.clone(),
            // Bounded by the client's connection timeout (the patience). The breakers
            // are local until their first answer anyway, and once made, the cluster
            // connection reconnects to its nodes by itself.
            None => match self.client.get_async_connection().await {
                Ok(con) => self.con.insert(con).clone(),
                Err(e) => {
                    let why = e.to_string();
                    return parts.iter().map(|_| (Err(why.clone()), false)).collect();
                }
            },
        };
        let calls = parts.iter().map(|part| {
            let mut con = con.clone();
            let cmd = call(script, std::slice::from_ref(part));
            async move {
                let work = async {
                    let answer = cmd.query_async::<Value>(&mut con).await;
                    if !is_noscript(&answer) {
                        return answer;
                    }
                    // This node forgot the script (a promoted replica, a restart): load
                    // it on every master, and call again.
                    script.load_async(&mut con).await?;
                    cmd.query_async::<Value>(&mut con).await
                };
                // Given up at the timeout: the next round, which does not wait for this
                // one's slow node, sends the batch again (a cluster's nodes fail apart,
                // so a slow one must not hold back the breakers of the others).
                let reply = match tokio::time::timeout(timeout, work).await {
                    Ok(Ok(Value::Array(mut replies))) if replies.len() == 1 => {
                        parse_part(replies.remove(0))
                    }
                    Ok(Ok(other)) => Err(format!("unexpected answer from the script: {other:?}")),
                    Ok(Err(e)) => Err(e.to_string()),
                    Err(_) => Err(format!("no answer within {timeout:?}")),
                };
                (reply, false)
            }
        });
        join_all(calls).await
    }
}
