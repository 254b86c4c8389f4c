//! Operator control on the fleet breaker: [`failgate::Control`] for [`FleetBreaker`],
//! every order fleet-wide.

use crate::order::Order;
use crate::FleetBreaker;
use failgate::{ConfigError, Control};
use std::time::Duration;

/// Every order is obeyed by this instance when the method returns (its
/// [`state`](FleetBreaker::state) and its admissions follow it), and reaches the whole
/// fleet with the next round trip, sent at once: Redis applies it as a transition with
/// a new generation, written to the shared state and announced over pub/sub, so the
/// other instances follow within a round trip (at once by pub/sub, else by their next
/// poll). Outcomes of calls admitted before it are discarded.
///
/// - While Redis is unreachable ([`Mode::Local`](crate::Mode::Local)) the order applies
///   to the local fallback breaker at once and is sent when Redis answers again; it
///   then holds fleet-wide from that moment (an `open_for` wait counts from then, in
///   Redis's time). A later order replaces one not yet sent; an order is never lost,
///   and a batch sent again (its answer was lost) does not apply it twice.
/// - `force_open` refuses every call with no `retry_after`; `disable` admits every call
///   and counts nothing; `count_only` admits every call and adds its outcomes to the
///   shared window, but never trips. No time transition leaves these states: only an
///   order does. [`state`](FleetBreaker::state) reports them as
///   [`State::ForcedOpen`](failgate::State::ForcedOpen),
///   [`Disabled`](failgate::State::Disabled) and
///   [`CountOnly`](failgate::State::CountOnly).
/// - `open_for(wait)` opens for exactly `wait` of Redis's time (or until a longer
///   `Retry-After` the fleet honours), then half-opens lazily as after a trip. A wait
///   above [`failgate::MAX_DURATION`] is the local breaker's [`ConfigError`] naming
///   `open_for`, and nothing is sent.
/// - `half_open` admits fresh probes (the fleet's `half_open_permits`); `close` and
///   `reset` close with an empty window, and forget a `Retry-After`.
///
/// An order given on this instance reaches its [observers](crate::FleetBuilder::observer)
/// with the local breaker's reason for it (`Manual`, `ManualOpen`, `ManualHalfOpen`,
/// `ManualClose`); the other instances' observers hear it as
/// [`Reason::Fleet`](failgate::Reason::Fleet).
impl<C> Control for FleetBreaker<C> {
    fn force_open(&self) {
        self.core().order(Order::ForcedOpen);
    }

    fn disable(&self) {
        self.core().order(Order::Disabled);
    }

    fn count_only(&self) {
        self.core().order(Order::CountOnly);
    }

    fn reset(&self) {
        self.core().order(Order::Reset);
    }

    fn open_for(&self, wait: Duration) -> Result<(), ConfigError> {
        // The local breaker's check and error; the order then opens the fallback too.
        failgate::control::check_open_for(wait)?;
        // Whole milliseconds, rounded up: never shorter than asked.
        let ms = u64::try_from(wait.as_nanos().div_ceil(1_000_000)).unwrap_or(u64::MAX);
        self.core().order(Order::Open(ms));
        Ok(())
    }

    fn half_open(&self) {
        self.core().order(Order::HalfOpen);
    }

    fn close(&self) {
        self.core().order(Order::Close);
    }
}
