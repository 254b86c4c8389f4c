//! The fleet client's pub/sub listener: one connection, one pattern subscription for
//! every breaker's channel, and the announcements handed to the mirrors of the channel
//! they came on. When the subscription drops it subscribes again, backing off; meanwhile
//! the sync loop's polling keeps the mirrors current.

use crate::mirror::Mirror;
use crate::script::Announcement;
use crate::telemetry;
use futures_util::StreamExt;
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::{Mutex, Weak};
use std::time::Duration;
use tokio::sync::watch;

/// Every breaker channel matches: `failgate:<namespace>:<name>:events`, or with a hash
/// tag, `failgate:{<namespace>:<name>}:events`. Channels of breakers this process does
/// not have are ignored.
pub(crate) const PATTERN: &str = "failgate:*:events";

/// The first wait before subscribing again, and the longest.
const RETRY_FIRST: Duration = Duration::from_millis(500);
const RETRY_MAX: Duration = Duration::from_secs(4);

/// Which mirrors listen on which channel (two breakers of one process may share a name).
#[derive(Default)]
pub(crate) struct Channels {
    map: Mutex<HashMap<String, Vec<Weak<Mirror>>>>,
    /// Whether the listener is subscribed now: a mirror added meanwhile is told so.
    subscribed: AtomicBool,
}

impl Channels {
    /// Adds a mirror; it is told at once whether announcements reach it.
    pub(crate) fn add(&self, channel: &str, mirror: &std::sync::Arc<Mirror>) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        mirror.set_subscribed(self.subscribed.load(Acquire));
        let listeners = map.entry(channel.to_owned()).or_default();
        listeners.retain(|m| m.strong_count() > 0);
        listeners.push(std::sync::Arc::downgrade(mirror));
    }

    /// Drops the channels whose breakers are all gone.
    pub(crate) fn prune(&self) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.retain(|_, listeners| {
            listeners.retain(|m| m.strong_count() > 0);
            !listeners.is_empty()
        });
    }

    fn set_subscribed(&self, subscribed: bool) {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        self.subscribed.store(subscribed, Release);
        for mirror in map.values().flatten().filter_map(Weak::upgrade) {
            mirror.set_subscribed(subscribed);
        }
    }

    fn deliver(&self, channel: &str, payload: &str) {
        let mirrors: Vec<_> = {
            let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
            match map.get(channel) {
                Some(listeners) => listeners.iter().filter_map(Weak::upgrade).collect(),
                None => return,
            }
        };
        match Announcement::parse(payload) {
            Some(a) => {
                for mirror in mirrors {
                    mirror.install_announcement(&a);
                }
            }
            // The permission check an instance makes when it connects.
            None if payload.is_empty() => {}
            None => {
                for mirror in mirrors {
                    telemetry::malformed_announcement(&mirror.name, payload);
                }
            }
        }
    }
}

/// Listens until `stop` fires (the client's last breaker is gone), through the first
/// of `clients` (a cluster's nodes: any one hears every announcement), and after a
/// failure through the next.
pub(crate) async fn listen(
    channels: std::sync::Arc<Channels>,
    clients: Vec<redis::Client>,
    timeout: Duration,
    mut stop: watch::Receiver<()>,
) {
    let mut retry = RETRY_FIRST;
    for client in clients.iter().cycle() {
        let subscribed = tokio::time::timeout(timeout * 4, async {
            let mut pubsub = client.get_async_pubsub().await?;
            pubsub.psubscribe(PATTERN).await?;
            redis::RedisResult::Ok(pubsub)
        })
        .await;
        if let Ok(Ok(pubsub)) = subscribed {
            retry = RETRY_FIRST;
            channels.set_subscribed(true);
            let mut messages = pubsub.into_on_message();
            loop {
                tokio::select! {
                    message = messages.next() => {
                        let Some(message) = message else { break };
                        let payload: String = message.get_payload().unwrap_or_default();
                        channels.deliver(message.get_channel_name(), &payload);
                    }
                    _ = stop.changed() => return,
                }
            }
            // The subscription ended (Redis went away): polling carries the transitions
            // until it is back.
            channels.set_subscribed(false);
        }
        tokio::select! {
            _ = tokio::time::sleep(retry) => {}
            _ = stop.changed() => return,
        }
        retry = (retry * 2).min(RETRY_MAX);
    }
}
