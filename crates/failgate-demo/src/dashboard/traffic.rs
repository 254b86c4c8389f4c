//! The traffic of `watch`: each lane calls the flaky service's `/random?ratio=R` at a
//! bounded rate through its breaker.
//!
//! Calls go over HTTP (reqwest) to a URL, or, for tests under paused tokio time,
//! straight into the service's [`Router`] without a socket. A lane ticks at its rate;
//! each tick starts one call unless [`MAX_IN_FLIGHT`] are already running (a slow
//! target then gets fewer calls, never a pile-up), and a call the breaker refuses
//! sends nothing.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Body;
use axum::Router;
use failgate::{CircuitBreaker, Error, Registry};
use reqwest::Url;
use tokio::sync::watch;
use tokio::task::JoinSet;
use tokio::time::{Instant, MissedTickBehavior};
use tower::ServiceExt as _;

use super::lanes::{Pin, Schedule};
use crate::service::Ratio;

/// The most calls of one lane in flight at once.
pub const MAX_IN_FLIGHT: usize = 8;

/// The timeout of one HTTP call.
pub const CALL_TIMEOUT: Duration = Duration::from_secs(2);

/// Where the calls go.
#[derive(Debug, Clone)]
pub enum Target {
    /// A running flaky service (`failgate-demo serve`), over HTTP.
    Url(Url),
    /// The flaky service's router, called in-process without a socket: for tests under
    /// paused tokio time.
    Router(Router),
}

/// Why a call counts as a failure.
#[derive(Debug, thiserror::Error)]
pub(crate) enum CallError {
    #[error("HTTP {0}")]
    Status(u16),
    #[error("no answer: {0}")]
    Transport(String),
}

#[derive(Debug, Clone)]
pub(crate) enum Caller {
    Http { client: reqwest::Client, url: Url },
    Router(Router),
}

impl Caller {
    pub(crate) fn new(target: &Target) -> Result<Self, reqwest::Error> {
        Ok(match target {
            Target::Url(base) => {
                let mut url = base.clone();
                url.set_path("/random");
                url.set_query(None);
                let client = reqwest::Client::builder()
                    .timeout(CALL_TIMEOUT)
                    // Loopback by default: a proxy from the environment must not
                    // intercept the demo's own traffic.
                    .no_proxy()
                    .build()?;
                Caller::Http { client, url }
            }
            Target::Router(router) => Caller::Router(router.clone()),
        })
    }

    /// One `GET /random?ratio=R`: a 5xx or no answer is a failure.
    async fn call(&self, ratio: Ratio) -> Result<(), CallError> {
        let status = match self {
            Caller::Http { client, url } => client
                .get(with_ratio(url, ratio))
                .send()
                .await
                .map_err(|e| CallError::Transport(e.to_string()))?
                .status()
                .as_u16(),
            Caller::Router(router) => {
                let request = http::Request::get(format!("/random?ratio={ratio}"))
                    .body(Body::empty())
                    .map_err(|e| CallError::Transport(e.to_string()))?;
                match router.clone().oneshot(request).await {
                    Ok(response) => response.status().as_u16(),
                    Err(never) => match never {},
                }
            }
        };
        if status >= 500 {
            Err(CallError::Status(status))
        } else {
            Ok(())
        }
    }
}

fn with_ratio(url: &Url, ratio: Ratio) -> Url {
    let mut url = url.clone();
    url.query_pairs_mut()
        .clear()
        .append_pair("ratio", &ratio.to_string());
    url
}

/// What one lane's traffic did, since start.
#[derive(Debug, Default)]
pub(crate) struct Counts {
    pub(crate) succeeded: AtomicU64,
    pub(crate) failed: AtomicU64,
    pub(crate) rejected: AtomicU64,
    /// Ticks that found [`MAX_IN_FLIGHT`] calls running and started none.
    pub(crate) skipped: AtomicU64,
}

/// A lane as the running watch holds it.
#[derive(Debug)]
pub(crate) struct LaneState {
    pub(crate) name: String,
    /// What trips the breaker, in words (a reload may change it).
    pub(crate) policy: Mutex<String>,
    pub(crate) schedule: Schedule,
    pub(crate) pin: Pin,
    pub(crate) counts: Counts,
    /// Where the lane's breaker is: asked at each call, so that a breaker a reload
    /// rebuilt takes the traffic from the next call on.
    pub(crate) registry: Registry,
    /// Why the breaker is in its state, written by an observer of its transitions
    /// and of its rebuilding.
    pub(crate) reason: LastReason,
}

/// Why a lane's breaker is in its state, for the page's "why:" line.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(crate) enum Why {
    /// Its last change of state.
    Change(failgate::Reason),
    /// A reload made it, in place of a breaker whose settings changed and which was
    /// in `previous`: it starts as its settings say (closed, unless they set
    /// `initial_state`), with empty counts.
    Rebuilt { previous: failgate::State },
}

impl std::fmt::Display for Why {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Why::Change(reason) => reason.fmt(f),
            Why::Rebuilt { previous } => write!(
                f,
                "rebuilt by a reload of its settings (was {})",
                previous.as_str()
            ),
        }
    }
}

/// What the observers of a lane's breakers last said, and which breaker said it.
#[derive(Debug, Default)]
pub(crate) struct Said {
    /// The breaker the lane uses: the number of its observer (see [`Said::hear`]).
    breaker: u64,
    why: Option<Why>,
}

impl Said {
    /// What observer `breaker` (numbered in the order the breakers were built) heard.
    /// A breaker built before the lane's current one is one a reload replaced, whose
    /// late transitions (a call still in flight on it) no longer say anything about
    /// the lane.
    pub(crate) fn hear(&mut self, breaker: u64, kind: &failgate::EventKind) {
        use failgate::EventKind;
        if breaker < self.breaker {
            return;
        }
        match *kind {
            EventKind::StateChange { reason, .. } => self.why = Some(Why::Change(reason)),
            EventKind::Reconfigured { previous } => {
                self.breaker = breaker;
                self.why = Some(Why::Rebuilt { previous });
            }
            _ => {}
        }
    }
}

/// What the lane's breakers last said (`None` before the first change).
pub(crate) type LastReason = Arc<std::sync::Mutex<Said>>;

impl LaneState {
    /// The lane's breaker now (`None` only if the registry lost it, which a reload
    /// of the lanes' configuration never does).
    pub(crate) fn breaker(&self) -> Option<CircuitBreaker> {
        self.registry.get(&self.name)
    }

    /// What trips the breaker, in words.
    pub(crate) fn policy(&self) -> String {
        self.policy
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }

    pub(crate) fn set_policy(&self, policy: &str) {
        *self.policy.lock().unwrap_or_else(|p| p.into_inner()) = policy.to_owned();
    }

    /// Why the breaker is in its state: its last change, or its rebuilding by a
    /// reload; `None` before either.
    pub(crate) fn last_reason(&self) -> Option<Why> {
        self.reason.lock().unwrap_or_else(|p| p.into_inner()).why
    }

    /// The ratio asked for now: the pin if there is one, else the schedule's.
    pub(crate) fn ratio(&self, elapsed: Duration) -> Ratio {
        self.pin
            .get()
            .unwrap_or_else(|| self.schedule.ratio_at(elapsed))
    }
}

/// Runs one lane's traffic at `rate` calls per second until `stop` changes (or its
/// sender is dropped). Calls still in flight then are dropped: the breaker counts them
/// as abandoned.
pub(crate) async fn drive(
    lane: Arc<LaneState>,
    caller: Caller,
    rate: f64,
    start: Instant,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(Duration::from_secs_f64(1.0 / rate));
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    let mut calls = JoinSet::new();
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        while calls.try_join_next().is_some() {}
        if calls.len() >= MAX_IN_FLIGHT {
            lane.counts.skipped.fetch_add(1, Ordering::Relaxed);
            continue;
        }
        let ratio = lane.ratio(start.elapsed());
        let Some(breaker) = lane.breaker() else {
            lane.counts.skipped.fetch_add(1, Ordering::Relaxed);
            continue;
        };
        let lane = Arc::clone(&lane);
        let caller = caller.clone();
        calls.spawn(async move {
            let counter = match breaker.call_async(|| caller.call(ratio)).await {
                Ok(()) => &lane.counts.succeeded,
                Err(Error::Inner(_)) => &lane.counts.failed,
                Err(Error::Rejected(_)) => &lane.counts.rejected,
            };
            counter.fetch_add(1, Ordering::Relaxed);
        });
    }
}

#[cfg(test)]
mod tests {
    use super::{Said, Why};
    use failgate::{EventKind, Reason, State};

    fn change(reason: Reason) -> EventKind {
        EventKind::StateChange {
            from: State::Closed,
            to: State::Open,
            reason,
            wait: None,
            generation: 1,
        }
    }

    #[test]
    fn a_replaced_breakers_late_transition_does_not_overwrite_the_lanes_reason() {
        let mut said = Said::default();
        said.hear(1, &change(Reason::Manual));
        assert_eq!(said.why, Some(Why::Change(Reason::Manual)));
        said.hear(
            2,
            &EventKind::Reconfigured {
                previous: State::ForcedOpen,
            },
        );
        let rebuilt = Why::Rebuilt {
            previous: State::ForcedOpen,
        };
        assert_eq!(said.why, Some(rebuilt));
        assert_eq!(
            rebuilt.to_string(),
            "rebuilt by a reload of its settings (was forced_open)"
        );
        said.hear(1, &change(Reason::ProbeFailed));
        assert_eq!(said.why, Some(rebuilt), "breaker 1 was replaced");
        said.hear(2, &change(Reason::ProbeFailed));
        assert_eq!(said.why, Some(Why::Change(Reason::ProbeFailed)));
    }
}
