//! What tells an instance that the shared state it mirrors is still the one it knows
//! (the state's epoch), and whether transitions can reach it by pub/sub (PUBLISH may be
//! refused to its user). A leaf: the mirror holds one, the sync task writes it.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering::*};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

#[derive(Debug, Default)]
pub(crate) struct Integrity {
    /// The epoch of the shared state last heard from Redis (0: none yet).
    epoch: AtomicU64,
    /// How many times the shared state was found lost and recreated.
    lost: AtomicU64,
    /// When it last was, in milliseconds since the Unix epoch (0: never).
    last_lost_ms: AtomicU64,
    /// Redis refuses PUBLISH on the breaker's channel to this instance's user.
    publish_denied: AtomicBool,
}

impl Integrity {
    /// The epoch the mirror follows (0 before the first answer).
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Acquire)
    }

    /// Takes the epoch of an answer. Returns the one it replaces if that was another
    /// known epoch: the state the instance mirrored is gone, and was recreated.
    pub(crate) fn observe(&self, epoch: u64) -> Option<u64> {
        let before = self.epoch.swap(epoch, AcqRel);
        if before == 0 || before == epoch {
            return None;
        }
        self.lost.fetch_add(1, Relaxed);
        let ms = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(1, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
        self.last_lost_ms.store(ms.max(1), Relaxed);
        Some(before)
    }

    pub(crate) fn lost(&self) -> u64 {
        self.lost.load(Relaxed)
    }

    pub(crate) fn last_lost(&self) -> Option<SystemTime> {
        match self.last_lost_ms.load(Relaxed) {
            0 => None,
            ms => Some(UNIX_EPOCH + Duration::from_millis(ms)),
        }
    }

    /// Records whether PUBLISH is refused. Returns true if that changed.
    pub(crate) fn set_publish_denied(&self, denied: bool) -> bool {
        self.publish_denied.swap(denied, AcqRel) != denied
    }

    pub(crate) fn publish_denied(&self) -> bool {
        self.publish_denied.load(Acquire)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_change_from_a_known_epoch_is_a_loss() {
        let i = Integrity::default();
        assert_eq!(i.observe(5), None, "the first epoch is learnt, not lost");
        assert_eq!(i.observe(5), None);
        assert_eq!((i.lost(), i.last_lost()), (0, None));
        assert_eq!(i.observe(9), Some(5));
        assert_eq!(i.epoch(), 9);
        assert_eq!(i.lost(), 1);
        assert!(i.last_lost().is_some());
    }

    #[test]
    fn publish_denial_reports_changes_only() {
        let i = Integrity::default();
        assert!(!i.set_publish_denied(false));
        assert!(i.set_publish_denied(true));
        assert!(!i.set_publish_denied(true));
        assert!(i.publish_denied());
        assert!(i.set_publish_denied(false));
    }
}
