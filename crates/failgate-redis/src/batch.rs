//! Batch ids, so that a round trip that timed out after Redis ran it is counted once:
//! the batch whose answer never came is sent again unchanged, with the same id, before
//! anything new (which waits in the mirror's counters meanwhile). The script remembers
//! each instance's last id and answers a repeat without counting it again.

use crate::script::Flush;
use std::hash::{BuildHasher, Hasher};

/// The sync task's side: this instance's id and its unanswered batch.
#[derive(Debug)]
pub(crate) struct Batches {
    last: u64,
    unanswered: Option<Flush>,
}

/// A random id for this instance (its batch key's suffix), from std's hasher seeds.
pub(crate) fn instance_id() -> String {
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u32(std::process::id());
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    format!("{:016x}", h.finish())
}

impl Batches {
    pub(crate) fn new() -> Self {
        Batches {
            last: 0,
            unanswered: None,
        }
    }

    /// The batch to send: the unanswered one again, or `fresh()` with a new id.
    pub(crate) fn next(&mut self, fresh: impl FnOnce() -> Flush) -> Flush {
        if let Some(again) = self.unanswered {
            return again;
        }
        self.last += 1;
        Flush {
            batch: self.last,
            ..fresh()
        }
    }

    /// Whether a batch waits to be sent again.
    pub(crate) fn is_resending(&self) -> bool {
        self.unanswered.is_some()
    }

    /// The answer to `flush` arrived.
    pub(crate) fn answered(&mut self) {
        self.unanswered = None;
    }

    /// No answer (an error or a timeout): Redis may or may not have run it.
    pub(crate) fn unanswered(&mut self, flush: Flush) {
        self.unanswered = Some(flush);
    }

    /// Drops the unanswered batch's counts (an outage that outlasted the window: they
    /// are out of it, and Redis may have forgotten its id). An operator's order it
    /// carries is kept, with its id, as a resynchronisation: an order is never lost,
    /// and Redis applies it once if it still remembers the id.
    pub(crate) fn forget(&mut self) {
        self.unanswered = self
            .unanswered
            .filter(|f| f.order.is_some())
            .map(|f| Flush {
                batch: f.batch,
                epoch: f.epoch,
                generation: None,
                order: f.order,
                ..Flush::default()
            });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unanswered_batch_is_sent_again_unchanged_before_anything_new() {
        let mut b = Batches::new();
        let first = b.next(|| Flush {
            calls: 5,
            ..Flush::default()
        });
        assert_eq!((first.batch, first.calls), (1, 5));
        b.unanswered(first);
        assert!(b.is_resending());
        let again = b.next(|| unreachable!("nothing new while one is unanswered"));
        assert_eq!(again, first);
        b.answered();
        let next = b.next(|| Flush {
            calls: 2,
            ..Flush::default()
        });
        assert_eq!((next.batch, next.calls), (2, 2));
        b.unanswered(next);
        b.forget();
        assert_eq!(b.next(Flush::default).batch, 3);
    }

    #[test]
    fn a_forgotten_batch_keeps_its_order_and_id_but_not_its_counts() {
        let mut b = Batches::new();
        let first = b.next(|| Flush {
            calls: 5,
            generation: Some(3),
            order: Some(crate::order::Order::ForcedOpen),
            ..Flush::default()
        });
        b.unanswered(first);
        b.forget();
        let again = b.next(|| unreachable!("the order is sent first"));
        assert_eq!((again.batch, again.calls, again.generation), (1, 0, None));
        assert_eq!(again.order, Some(crate::order::Order::ForcedOpen));
    }

    #[test]
    fn instance_ids_differ() {
        assert_ne!(instance_id(), instance_id());
        assert_eq!(instance_id().len(), 16);
    }
}
