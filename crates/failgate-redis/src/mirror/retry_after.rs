//! The dependency's "retry after", fleet-wide: noted on the call path, carried to Redis
//! by the next flush, and held locally meanwhile.
//!
//! The rule is the local breaker's: the request holds from the moment it is recorded
//! until its time passes; an opening within that time lasts at least until then, and
//! an open breaker that receives it stays open at least until then; closing forgets
//! it. Here the instance that records it keeps it in `hint_until` (its own clock) and
//! stretches its open wait at once; Redis keeps the fleet's copy in server time (the
//! flush sends the time left, not a deadline, so clocks need not agree), stretches
//! the shared open wait, and announces it; every installed open state lasts at least
//! until the local hint too, so it holds while Redis is slow or away.

use super::Mirror;
use crate::script::SharedState;
use std::sync::atomic::Ordering::*;
use std::time::Duration;

impl Mirror {
    /// Whether the breaker was built to obey "retry after" (the permits then ask the
    /// classifier for it).
    #[inline]
    pub(crate) fn honors_retry_after(&self) -> bool {
        self.honor_retry_after
    }

    /// Notes that the dependency asked not to be called for `retry_after` from now (at
    /// most `max_retry_after`), whatever the call's outcome. Lock-free and
    /// allocation-free: it is on the call path.
    #[cold]
    #[inline(never)]
    pub(crate) fn note_retry_after(&self, retry_after: Duration) {
        if !self.honor_retry_after {
            return;
        }
        let wait = u64::try_from(retry_after.as_nanos())
            .unwrap_or(u64::MAX)
            .min(self.max_retry_after);
        if wait == 0 {
            return;
        }
        let until = self.clock.now_nanos().saturating_add(wait);
        // SeqCst with `install`'s: either this sees the open word, or the installer sees
        // this hint after it published the word (then it stretches the wait itself).
        self.hint_until.fetch_max(until, SeqCst);
        if self.word.load(SeqCst).kind() == SharedState::Open {
            // Refuse here at once, without waiting for Redis.
            self.open_until.fetch_max(until, AcqRel);
        }
        self.hint_pending.store(true, Release);
        self.nudge();
    }

    /// The local hint's deadline (0: none), for an open state being installed.
    pub(super) fn hint_until(&self) -> u64 {
        self.hint_until.load(SeqCst)
    }

    /// Closing forgets the hint.
    pub(super) fn forget_hint(&self) {
        self.hint_until.store(0, SeqCst);
    }

    /// The milliseconds left of a hint noted since the last flush (rounded up), or 0:
    /// what this flush tells Redis.
    pub(super) fn take_hint_ms(&self) -> u64 {
        if !self.hint_pending.swap(false, AcqRel) {
            return 0;
        }
        let left = self.hint_until().saturating_sub(self.clock.now_nanos());
        left.div_ceil(1_000_000)
    }
}
