//! How a breaker's mirror reaches the fleet client that syncs it, without knowing the
//! client: a wake-up for the client's sync task, and a handle that keeps the client
//! alive as long as the mirror. A leaf, below both.

use futures_util::task::AtomicWaker;
use std::sync::atomic::{AtomicBool, Ordering::*};
use std::sync::Arc;

/// The fleet client's wake-up: set by any of its breakers' calls, taken by its sync
/// task at the start of a round.
#[derive(Debug, Default)]
pub(crate) struct Wake {
    urgent: AtomicBool,
    waker: AtomicWaker,
}

impl Wake {
    /// Asks for a round now. Lock-free: a call that could trip a breaker does this.
    pub(crate) fn wake(&self) {
        self.urgent.store(true, Release);
        self.waker.wake();
    }

    /// For the sync task's wait: registers it, and says whether a round was asked for.
    pub(crate) fn poll_urgent(&self, cx: &std::task::Context<'_>) -> bool {
        self.waker.register(cx.waker());
        self.urgent.load(Acquire)
    }

    /// Takes the request (the round that follows serves it).
    pub(crate) fn take(&self) -> bool {
        self.urgent.swap(false, AcqRel)
    }
}

/// What a mirror holds of its client.
pub(crate) struct Link {
    pub(crate) wake: Arc<Wake>,
    /// Keeps the client (its connections and tasks) alive while the mirror is.
    pub(crate) _client: Option<Arc<dyn Send + Sync>>,
}

impl Link {
    /// A link to no client (the mirror's unit tests).
    #[cfg(test)]
    pub(crate) fn detached() -> Self {
        Link {
            wake: Arc::default(),
            _client: None,
        }
    }
}
