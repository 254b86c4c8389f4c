//! The fleet client's connection to Redis, and one round trip for many breakers. On one
//! server the script is called once per [`PER_CALL`] breakers, and the calls are
//! pipelined, so a round costs one write and one wait whatever the number of breakers
//! in it. On a cluster see [`super::cluster`].

use crate::script::{parse_part, Flush, Reply, ScriptArgs};
use redis::aio::MultiplexedConnection;
use redis::{AsyncConnectionConfig, RedisResult, Script, Value};
use std::time::Duration;

/// Breakers per script call. The script runs their parts one after the other, and
/// Redis runs nothing else meanwhile: a bound keeps each call short, so other clients
/// of the same Redis wait at most one call's worth.
pub(crate) const PER_CALL: usize = 100;

/// One breaker's part of a round: its keys and policy, what it sends, and whether to
/// check that this user may PUBLISH on its channel.
pub(crate) struct Part<'a> {
    pub(crate) args: &'a ScriptArgs,
    pub(crate) flush: Flush,
    pub(crate) check: bool,
}

/// How the client reaches Redis.
pub(crate) enum Transport {
    Single(Single),
    #[cfg(feature = "cluster")]
    Cluster(super::cluster::Cluster),
}

impl Transport {
    /// Whether a late round means every breaker's is late: on one server, yes; on a
    /// cluster, only those on the slow node.
    pub(crate) fn shares_fate(&self) -> bool {
        match self {
            Transport::Single(_) => true,
            #[cfg(feature = "cluster")]
            Transport::Cluster(_) => false,
        }
    }

    /// One round for `parts`: each breaker's reply, or why it has none (the round's
    /// failure, or its own part's), and whether it came after `timeout`. A part not
    /// answered within `timeout` is reported to `late` at once (its breaker falls back
    /// meanwhile), and still awaited: a round is never abandoned to Redis while the next
    /// one is sent, which under overload would only pile more work on it. The wait is
    /// bounded by the transport's patience (see [`super::patience`]).
    pub(crate) async fn sync(
        &mut self,
        script: &Script,
        parts: &[Part<'_>],
        timeout: Duration,
        late: &(dyn Fn(usize) + Sync),
    ) -> Vec<(Result<Reply, String>, bool)> {
        match self {
            Transport::Single(t) => {
                let (result, was_late) = {
                    let work = t.sync(script, parts);
                    tokio::pin!(work);
                    match tokio::time::timeout(timeout, &mut work).await {
                        Ok(result) => (result, false),
                        Err(_) => {
                            (0..parts.len()).for_each(late);
                            (work.await, true)
                        }
                    }
                };
                match result {
                    Ok(replies) => replies.into_iter().map(|r| (r, was_late)).collect(),
                    Err(e) => {
                        // No answer at all, or not even within the patience: the next
                        // round reconnects.
                        t.con = None;
                        let why = e.to_string();
                        parts.iter().map(|_| (Err(why.clone()), was_late)).collect()
                    }
                }
            }
            #[cfg(feature = "cluster")]
            Transport::Cluster(t) => t.sync(script, parts, timeout, late).await,
        }
    }
}

/// A connection to one Redis server, made on first use and again after a failure.
pub(crate) struct Single {
    client: redis::Client,
    config: AsyncConnectionConfig,
    con: Option<MultiplexedConnection>,
}

impl Single {
    /// A transport that waits at most `patience` to connect, and for an answer (the
    /// round's timeout makes its breakers fall back meanwhile).
    pub(crate) fn new(client: redis::Client, patience: Duration) -> Self {
        Single {
            client,
            config: AsyncConnectionConfig::new()
                .set_connection_timeout(Some(patience))
                .set_response_timeout(Some(patience)),
            con: None,
        }
    }

    /// One round trip for `parts`: each breaker's reply, or why its part failed. An
    /// error here (no connection, no answer) is every part's.
    async fn sync(
        &mut self,
        script: &Script,
        parts: &[Part<'_>],
    ) -> RedisResult<Vec<Result<Reply, String>>> {
        let con = match &mut self.con {
            Some(con) => con,
            None => {
                let mut fresh = self
                    .client
                    .get_multiplexed_async_connection_with_config(&self.config)
                    .await?;
                // A Redis that wants a password closes an unauthenticated connection
                // at the first long command, the script call, and the client then
                // sees a broken pipe rather than why. A PING is short: Redis refuses
                // it with NOAUTH and keeps the connection open to say so.
                redis::cmd("PING").query_async::<()>(&mut fresh).await?;
                self.con.insert(fresh)
            }
        };
        let calls: Vec<redis::Cmd> = parts
            .chunks(PER_CALL)
            .map(|chunk| call(script, chunk))
            .collect();
        let mut answers = pipelined(con, calls.iter()).await?;
        // Redis forgot the script (a restart, a failover, SCRIPT FLUSH): load it and
        // send again the calls it refused, which ran nothing.
        let refused: Vec<usize> = (0..answers.len())
            .filter(|&i| is_noscript(&answers[i]))
            .collect();
        if !refused.is_empty() {
            script.load_async(con).await?;
            let again = pipelined(con, refused.iter().map(|&i| &calls[i])).await?;
            for (i, answer) in refused.into_iter().zip(again) {
                answers[i] = answer;
            }
        }
        let mut replies = Vec::with_capacity(parts.len());
        for (chunk, answer) in parts.chunks(PER_CALL).zip(answers) {
            match answer {
                Ok(Value::Array(values)) if values.len() == chunk.len() => {
                    replies.extend(values.into_iter().map(parse_part));
                }
                Ok(other) => {
                    let why = format!("unexpected answer from the script: {other:?}");
                    replies.extend(chunk.iter().map(|_| Err(why.clone())));
                }
                Err(e) => replies.extend(chunk.iter().map(|_| Err(e.to_string()))),
            }
        }
        Ok(replies)
    }
}

/// The script call for one chunk of breakers: their keys, then their arguments,
/// written into the command's one buffer.
pub(crate) fn call(script: &Script, chunk: &[Part<'_>]) -> redis::Cmd {
    let mut cmd = redis::cmd("EVALSHA");
    cmd.arg(script.get_hash()).arg(chunk.len() * 3);
    for part in chunk {
        part.args.push_keys(&mut cmd);
    }
    for part in chunk {
        part.args.push_args(&mut cmd, &part.flush, part.check);
    }
    cmd
}

/// Sends `calls` in one pipeline; each call's answer or error.
async fn pipelined<'a>(
    con: &mut MultiplexedConnection,
    calls: impl Iterator<Item = &'a redis::Cmd>,
) -> RedisResult<Vec<RedisResult<Value>>> {
    let mut pipe = redis::pipe();
    pipe.ignore_errors();
    for c in calls {
        pipe.add_command(c.clone());
    }
    pipe.query_async(con).await
}

pub(crate) fn is_noscript(answer: &RedisResult<Value>) -> bool {
    matches!(answer, Err(e) if e.kind() == redis::ErrorKind::Server(redis::ServerErrorKind::NoScript))
}
