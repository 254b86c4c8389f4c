//! A round on a Redis Cluster. A script may only touch keys of one slot, and each
//! breaker's keys share one (their hash tag), so each breaker is its own script call;
//! the calls of a round are sent at once and the cluster connection pipelines those of
//! one node on its connection to that node, following MOVED and ASK. Each call has the
//! round's timeout of its own, so a node that is failing over makes only its breakers
//! fall back, until its replica takes over.

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
        late: &(dyn Fn(usize) + Sync),
    ) -> Vec<(Result<Reply, String>, bool)> {
        let con = match &self.con {
            Some(con) => con.clone(),
            None => match tokio::time::timeout(timeout, self.client.get_async_connection()).await {
                Ok(Ok(con)) => self.con.insert(con).clone(),
                failed => {
                    let why = match failed {
                        Ok(Err(e)) => e.to_string(),
                        _ => format!("no cluster connection within {timeout:?}"),
                    };
                    return parts.iter().map(|_| (Err(why.clone()), false)).collect();
                }
            },
        };
        let calls = parts.iter().enumerate().map(|(i, part)| {
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
                tokio::pin!(work);
                // Late: its breaker falls back at once, and the answer is still taken
                // (within the cluster client's patience, its response timeout).
                let (answer, was_late) = match tokio::time::timeout(timeout, &mut work).await {
                    Ok(answer) => (answer, false),
                    Err(_) => {
                        late(i);
                        (work.await, true)
                    }
                };
                let reply = match answer {
                    Ok(Value::Array(mut replies)) if replies.len() == 1 => {
                        parse_part(replies.remove(0))
                    }
                    Ok(other) => Err(format!("unexpected answer from the script: {other:?}")),
                    Err(e) => Err(e.to_string()),
                };
                (reply, was_late)
            }
        });
        join_all(calls).await
    }
}
