//! Fleet-wide circuit breakers: [failgate]'s breaker with its state and counts
//! shared through Redis by every instance of a service, without a call ever waiting on
//! Redis.
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use failgate_redis::FleetBreaker;
//! use std::time::Duration;
//!
//! // The same namespace and name on every replica: one breaker for the fleet.
//! let breaker = FleetBreaker::builder("inventory")
//!     .namespace("shop")
//!     .redis("redis://127.0.0.1:6379")
//!     .failure_rate(0.5)
//!     .minimum_calls(20)
//!     .window(Duration::from_secs(30), 10)
//!     .open_for(Duration::from_secs(10))
//!     .half_open_permits(3) // three probes for the whole fleet
//!     .build()?;
//!
//! match breaker.call(|| Ok::<_, std::io::Error>("stock level")) {
//!     Ok(answer) => println!("{answer}"),
//!     Err(failgate::Error::Rejected(r)) => println!("refused: {r}"),
//!     Err(failgate::Error::Inner(e)) => println!("failed: {e}"),
//! }
//! # Ok(()) }
//! ```
//!
//! # How it works
//! - **Admission is local.** Each instance keeps a mirror of the shared state (closed,
//!   open with its deadline, or half-open) in one atomic word. The closed-state success
//!   path is an atomic load to admit and a load plus one `fetch_add` to count: no clock
//!   read, no lock, no allocation, no I/O.
//! - **Outcomes are flushed in batches.** A background task sends the counts every
//!   `flush_interval` (at most 100 ms), and at once when a failure could make the
//!   window trip. One Lua script adds them to the shared time window, makes any
//!   transition that is due, and answers with the shared state: transitions happen
//!   once, fleet-wide, each with a new generation. Counts of an ended generation are
//!   discarded, here and in Redis.
//! - **Changes spread by pub/sub**, and every round trip doubles as a poll: every
//!   `flush_interval` while the instance has something to send or pub/sub is down,
//!   every `idle_poll` (1 s) while it is idle and subscribed, so an idle fleet costs
//!   Redis little.
//! - **Half-open is fleet-wide.** Redis hands out the probe permits atomically (an
//!   instance asks when a call finds the wait over), so the whole fleet sends at most
//!   `half_open_permits` probes per half-open period. A permit unused for a whole round
//!   goes back; an instance that dies holding one is covered by `half_open_timeout`.
//! - **Redis down or slow.** A round trip that fails or takes longer than
//!   `redis_timeout` (50 ms by default; only the background task ever waits) switches
//!   the instance to a purely local breaker with the same configuration. This is logged
//!   once, shown by [`FleetBreaker::mode`], and (feature `metrics`) by the gauge
//!   `failgate_redis_shared`. A shared open state learnt before still holds until its
//!   deadline. On reconnect the instance sends what it counted meanwhile (in the last
//!   window at most) and adopts the shared state: a shared open state is never reset.
//! - **A lost answer counts once.** Every batch has an id. A batch whose answer never
//!   came (an error, or a timeout after Redis ran it) is sent again unchanged, with the
//!   same id, before anything new; the script remembers each instance's last id (three
//!   windows) and answers a repeat without counting it again, with the probe permits
//!   it granted the first time if they are still of the current generation. Permits
//!   granted in an answer nobody receives are thus given to the instance that asked
//!   once its repeat gets through, and otherwise return with `half_open_timeout`.
//! - **Lost shared state is detected.** The shared state carries an epoch, made when
//!   the script creates it and returned with every answer. After a FLUSHALL, an
//!   eviction or expiry of the keys, or a failover to an empty replica, the state is
//!   recreated (closed, generation 0) with a new epoch; each instance that mirrored the
//!   old one sees the change, adopts the new state whatever its generation, sends its
//!   counts into the new window, logs it once (WARN) and counts it in
//!   [`FleetStatus::lost_state`]. A shared open state that was lost is not restored:
//!   the fleet trips again once the new window's counts call for it.
//! - **PUBLISH refused.** A Redis user without channel permissions (Redis 7's default
//!   `resetchannels`) cannot PUBLISH. Each new connection checks (an empty message on
//!   the channel, which listeners ignore); the script publishes last and catches a
//!   refusal instead of failing after its writes. While refused, this is logged once,
//!   kept in [`FleetStatus::last_error`], and the instance polls every
//!   `flush_interval` instead of waiting for announcements.
//! - **A sync task that stops** (its tokio runtime shut down) is noticed where it
//!   matters: a failure that could trip, an open wait that is over, or a half-open
//!   refusal that finds no round started for ten intervals and two timeouts switches
//!   the instance to the local breaker, so a mirror nobody updates never keeps a
//!   breaker closed through failures, or open, for ever.
//! - **Keys** are `failgate:{namespace}:{name}:state` and `:window`, which expire after
//!   `key_ttl` without writes, and `:batch:<instance>` per instance, kept three windows
//!   (the channel is `:events`). Time for shared deadlines is
//!   the Redis server's, so replicas' clocks need not agree.
//!
//! The API is the local breaker's (`call`, `call_async`, `try_acquire`, and with the
//! `tower` feature a layer), so switching is a change of constructor.
//!
//! # Limits
//! - A batch whose answer is still missing when a fallback outlasts the window is
//!   dropped (its counts are older than the window), and one re-sent after Redis
//!   forgot its id (three windows) would be counted again.
//! - An outcome that finishes just as a transition is being installed can land in the
//!   new generation's counts (one outcome), as in the local breaker.
//! - A fallback that outlasts the window drops the counts it had not flushed before
//!   then: they are older than the window.
//! - Instances of this version and of one before it (without epochs) ignore each
//!   other's announcements, and rely on polling.
//!
//! # Policy
//! A failure rate over a time window with a minimum number of calls, the policy whose
//! counts add up across instances. Consecutive-failure counts do not (the order of
//! calls on different replicas is not defined), so they are not offered here.

#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod batch;
mod breaker;
mod config;
#[cfg(feature = "serde")]
pub mod config_file;
mod integrity;
mod mirror;
mod script;
mod sync;
#[cfg(feature = "tower")]
pub mod tower;

pub use breaker::{FleetBreaker, FleetStatus, OwnedPermit, Permit};
pub use config::{FleetBuilder, FleetConfigError};
#[cfg(feature = "testing")]
pub mod testing;
pub use mirror::Mode;
#[doc(hidden)]
pub use script::SYNC_LUA;
