//! The shared state of one breaker ([`Core`]): its atomics, its settings, and the
//! reads that every call path starts from. The call paths themselves live beside it:
//! admission, transitions, recording and snapshots.

use crate::clock::ClockSource;
use crate::event::{Event, EventKind, Observer};
use crate::loom::{fence, AtomicU64, CacheLine, Ordering};
use crate::policy::Settings;
use crate::state_machine::{Since, Word, GEN_MASK};
use crate::totals::{Reporting, Tally};
use crate::windows::Windows;
use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// Consecutive-failure counter: the generation (as in the state word, 24 bits) above
/// bit 30, the count in the low 30.
pub(super) const CONSECUTIVE_SHIFT: u32 = 30;
pub(super) const CONSECUTIVE_MASK: u64 = (1 << CONSECUTIVE_SHIFT) - 1;

/// The shared state of one breaker.
///
/// Everything a closed-state call reads is in [`Hot`], on one cache line of its own;
/// the rest is read on slow paths (transitions, the open state, snapshots, events).
pub(crate) struct Core {
    pub(super) hot: CacheLine<Hot>,
    /// When the current state began.
    pub(super) entered_at: AtomicU64,
    /// The time until which the dependency asked not to be called (`Retry-After`), or
    /// 0; only used with `honor_retry_after`.
    pub(super) retry_hint: AtomicU64,
    pub(crate) settings: Settings,
    /// Who hears the breaker's events and what it totals; made only when there is an
    /// observer or totals are kept, so a plain breaker pays one pointer for both.
    pub(super) reporter: Option<Box<Reporter>>,
    pub(super) name: Arc<str>,
}

/// What a breaker reports to, beyond deciding: its observer and its totals.
pub(crate) struct Reporter {
    pub(super) observer: Option<Arc<dyn Observer>>,
    /// The totals since creation, when kept (see [`Reporting`]).
    pub(super) tally: Option<Tally>,
    /// Every how many described failures an event carries the error (0: never).
    sample_errors: u32,
    /// Described failures seen, for the sampling (only written when it is above 1).
    described: AtomicU64,
}

/// What every call reads, on one line: a call loads this line and nothing else of the
/// core (a window, slow-call timing and the clock add what they read), and so does the
/// open state's refusal. Nothing here is written on every call: `state` changes with
/// transitions and half-open probes, `open_until` with transitions (and honoured
/// `Retry-After`s), `consecutive` with a failure and the first success after one. So
/// `state` and `consecutive` share the line: a write to either costs the other threads
/// one miss, which they would take on the counter's own line anyway, since every
/// success reads it.
pub(crate) struct Hot {
    /// Read by every call; written only on transitions and by half-open probes.
    pub(super) state: AtomicU64,
    pub(super) consecutive: AtomicU64,
    /// While open: when probing may start (the backoff's wait after `entered_at`, or a
    /// longer `Retry-After`). Written with `entered_at` (and by a `Retry-After` when
    /// they are honoured), so the open path compares one number with the clock, read
    /// from the line it reads the state from.
    pub(super) open_until: AtomicU64,
    /// A pointer to the window, made only when one is configured.
    pub(super) window: Option<Windows>,
    pub(super) clock: ClockSource,
    /// `settings.minimum_calls` (at most [`crate::policy::MAX_MINIMUM_CALLS`]).
    pub(super) minimum_calls: u32,
    /// `settings.consecutive_failures.is_some()`.
    pub(super) counts_consecutive: bool,
    /// `settings.slow.is_some()`: calls are timed.
    pub(super) measures_calls: bool,
    /// `settings.honor_retry_after`.
    pub(super) honor_retry_after: bool,
    /// No observer, no totals and no slow-call timing: a closed-state success emits
    /// and counts nothing beyond the policy's counters, and takes the short path in
    /// [`Core::record`].
    pub(super) plain_success: bool,
}

impl fmt::Debug for Core {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Core")
            .field("name", &self.name)
            .field("state", &self.word())
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

impl Core {
    pub(super) fn new(
        name: String,
        settings: Settings,
        clock: ClockSource,
        observer: Option<Arc<dyn Observer>>,
        initial: crate::vocabulary::State,
        reporting: Reporting,
    ) -> Self {
        let now = clock.now();
        let tally = reporting
            .totals
            .unwrap_or(observer.is_some())
            .then(Tally::new);
        let plain = observer.is_none() && tally.is_none();
        let reporter = (!plain).then(|| {
            Box::new(Reporter {
                observer,
                tally,
                sample_errors: reporting.sample_errors,
                described: AtomicU64::new(0),
            })
        });
        let window = settings
            .window
            .map(|kind| Windows::new(kind, settings.slow.is_some(), now));
        let hot = Hot {
            state: AtomicU64::new(Word::initial(initial).0),
            consecutive: AtomicU64::new(0),
            open_until: AtomicU64::new(0),
            window,
            clock,
            minimum_calls: u32::try_from(settings.minimum_calls).unwrap_or(u32::MAX),
            counts_consecutive: settings.consecutive_failures.is_some(),
            measures_calls: settings.slow.is_some(),
            honor_retry_after: settings.honor_retry_after,
            plain_success: plain && settings.slow.is_none(),
        };
        Core {
            hot: CacheLine(hot),
            entered_at: AtomicU64::new(now),
            retry_hint: AtomicU64::new(0),
            settings,
            reporter,
            name: Arc::from(name),
        }
    }

    #[inline]
    pub(super) fn word(&self) -> Word {
        Word(self.hot.state.load(Ordering::Acquire))
    }

    #[inline]
    pub(super) fn emit(&self, kind: EventKind) {
        self.emit_with(kind, None);
    }

    /// Emits an outcome event that carries the call's error.
    #[inline]
    pub(super) fn emit_with(&self, kind: EventKind, error: Option<&dyn fmt::Display>) {
        if let Some(observer) = self.observer() {
            observer.on_event(&Event {
                name: &self.name,
                kind,
                error,
            });
        }
    }

    /// The observer, if there is one.
    #[inline]
    pub(super) fn observer(&self) -> Option<&dyn Observer> {
        self.reporter.as_ref()?.observer.as_deref()
    }

    /// The totals' counters, if they are kept.
    #[inline]
    pub(super) fn tally(&self) -> Option<&Tally> {
        self.reporter.as_ref()?.tally.as_ref()
    }

    /// Counts `what` in the totals, if they are kept.
    #[inline]
    pub(super) fn count(&self, what: crate::totals::Count) {
        if let Some(tally) = self.tally() {
            tally.add(what);
        }
    }

    /// Whether an outcome event should carry this described error: every
    /// `sample_errors`-th one does (the first included).
    #[inline]
    pub(super) fn sample_error<'e>(
        &self,
        error: &'e dyn fmt::Display,
    ) -> Option<&'e dyn fmt::Display> {
        let Some(r) = &self.reporter else {
            return None;
        };
        let keep = match r.sample_errors {
            0 => false,
            1 => true,
            n => r.described.fetch_add(1, Ordering::Relaxed) % u64::from(n) == 0,
        };
        keep.then_some(error)
    }

    #[inline]
    pub(super) fn measures_calls(&self) -> bool {
        self.hot.measures_calls
    }

    /// Until when the dependency asked not to be called, or 0.
    #[inline]
    pub(super) fn hint_until(&self) -> u64 {
        if self.hot.honor_retry_after {
            self.retry_hint.load(Ordering::Relaxed)
        } else {
            0
        }
    }

    /// Notes that the dependency asked not to be called for `retry_after` from now
    /// (at most `max_retry_after`).
    #[cold]
    #[inline(never)]
    pub(super) fn note_retry_after(&self, retry_after: Duration) {
        let wait = crate::clock::duration_to_nanos(retry_after).min(self.settings.max_retry_after);
        let until = self.hot.clock.now().saturating_add(wait);
        self.retry_hint.fetch_max(until, Ordering::Relaxed);
        // Only read while open; a trip later takes the hint from `retry_hint`.
        self.hot.open_until.fetch_max(until, Ordering::Relaxed);
    }

    /// When the open state in `w` starts probing, or `None` if the state changed while
    /// we looked.
    #[inline]
    pub(super) fn open_until(&self, w: Word) -> Option<u64> {
        let until = self.hot.open_until.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        let again = Word(self.hot.state.load(Ordering::Relaxed));
        (!again.busy() && again.generation() == w.generation()).then_some(until)
    }

    /// When the state in `w` began and when its open wait ends, or `None` if the
    /// state changed while we looked.
    pub(super) fn since(&self, w: Word) -> Option<Since> {
        let entered_at = self.entered_at.load(Ordering::Relaxed);
        let until = self.hot.open_until.load(Ordering::Relaxed);
        fence(Ordering::Acquire);
        let again = Word(self.hot.state.load(Ordering::Relaxed));
        (!again.busy() && again.generation() == w.generation())
            .then_some(Since { entered_at, until })
    }
}

#[allow(dead_code)]
const _: () = assert!(
    GEN_MASK <= u64::MAX >> CONSECUTIVE_SHIFT,
    "the consecutive counter's tag must hold a generation"
);
// The counter saturates at its mask: the largest threshold accepted must be reachable.
const _: () = assert!(CONSECUTIVE_MASK >= crate::policy::MAX_CONSECUTIVE_FAILURES as u64);
// What every call reads fits one line (a larger `Hot` would take two whole lines).
#[cfg(not(failgate_loom))]
const _: () = assert!(std::mem::size_of::<CacheLine<Hot>>() == 64);
// The largest minimum accepted fits the hot line's copy.
const _: () = assert!(crate::policy::MAX_MINIMUM_CALLS <= u32::MAX as u64);
