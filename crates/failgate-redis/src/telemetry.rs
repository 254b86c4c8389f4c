//! What the fleet breaker tells operators: its metrics (feature `metrics`) and its log
//! lines. A leaf, apart from the API and the sync logic, so that every message and
//! metric name is found in one place.

/// The metric handles of one breaker, registered once.
#[cfg(feature = "metrics")]
pub(crate) struct MetricHandles {
    /// 1 while shared, 0 while on the local fallback: `failgate_redis_shared`.
    pub(crate) shared: metrics::Gauge,
    /// `failgate_redis_round_trips_total`.
    pub(crate) round_trips: metrics::Counter,
    /// `failgate_redis_sync_errors_total`.
    pub(crate) sync_errors: metrics::Counter,
}

#[cfg(feature = "metrics")]
impl MetricHandles {
    pub(crate) fn new(namespace: &str, name: &str) -> Self {
        let labels = [
            ("namespace", namespace.to_owned()),
            ("breaker", name.to_owned()),
        ];
        MetricHandles {
            shared: metrics::gauge!("failgate_redis_shared", &labels),
            round_trips: metrics::counter!("failgate_redis_round_trips_total", &labels),
            sync_errors: metrics::counter!("failgate_redis_sync_errors_total", &labels),
        }
    }
}

/// Which breaker a log line is about.
#[derive(Clone, Copy)]
pub(crate) struct Names<'a> {
    pub(crate) name: &'a str,
    pub(crate) namespace: &'a str,
}

pub(crate) fn sync_task_stopped(b: Names<'_>) {
    tracing::warn!(
        breaker = %b.name, namespace = %b.namespace,
        "the fleet breaker's sync task has stopped (was its tokio runtime shut down?): \
         falling back to a local breaker"
    );
}

pub(crate) fn reachable_again(b: Names<'_>) {
    tracing::info!(
        breaker = %b.name, namespace = %b.namespace,
        "redis reachable again: fleet-wide breaking resumes"
    );
}

pub(crate) fn unreachable(b: Names<'_>, redis: &str, error: &str) {
    tracing::warn!(
        breaker = %b.name, namespace = %b.namespace,
        redis = %redis, %error,
        "redis unreachable: falling back to a local breaker with the same configuration"
    );
}

pub(crate) fn lost_state(b: Names<'_>, redis: &str, lost_epoch: u64, epoch: u64) {
    tracing::warn!(
        breaker = %b.name, namespace = %b.namespace,
        redis = %redis, lost_epoch, epoch,
        "the fleet breaker's shared state is gone from redis (FLUSHALL, eviction, \
         expiry, or a failover to an empty replica): re-established, counting anew"
    );
}

/// The note kept in `last_error` while Redis refuses PUBLISH on `channel`.
pub(crate) fn publish_refused_note(
    channel: &str,
    why: &str,
    interval: std::time::Duration,
) -> String {
    format!(
        "redis refuses PUBLISH on {channel} to this user ({why}): transitions reach \
         this instance by polling every {interval:?}, not by pub/sub; grant the channel \
         (ACL SETUSER <user> &failgate:*)"
    )
}

pub(crate) fn publish_refused(b: Names<'_>, note: &str) {
    tracing::warn!(breaker = %b.name, namespace = %b.namespace, "{note}");
}

pub(crate) fn publish_accepted(b: Names<'_>, channel: &str) {
    tracing::info!(
        breaker = %b.name, namespace = %b.namespace,
        "redis accepts PUBLISH on {channel} again: transitions spread by pub/sub"
    );
}

pub(crate) fn malformed_announcement(name: &str, payload: &str) {
    tracing::debug!(breaker = %name, %payload, "ignored a malformed announcement");
}
