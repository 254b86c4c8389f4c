//! The mirror word and the probe tokens: the two atomic words a call reads, typed so
//! that their bit layout is written down once, here.
//!
//! The mirror word packs `kind (3 bits) | local (1 bit) | generation (60 bits)`:
//! - kind: closed, open, half-open, or an operator's forced-open, disabled or
//!   count-only, as Redis last said (or as an order this instance made says, until the
//!   round that carries it confirms it);
//! - local: set while Redis is unreachable (or not reached yet), when calls go through
//!   the local fallback breaker instead;
//! - generation: Redis's, bumped by every shared transition.
//!
//! One word, so that one atomic load admits a call in the closed state.

use crate::script::SharedState;
use std::sync::atomic::{AtomicU64, Ordering};

const CLOSED: u64 = 0;
const OPEN: u64 = 1;
const HALF_OPEN: u64 = 2;
const FORCED_OPEN: u64 = 3;
/// Closed's kind with one more bit: `kind & COUNTING_MASK == 0` for the two kinds whose
/// calls count for the shared window.
const COUNT_ONLY: u64 = 4;
const DISABLED: u64 = 5;
const KIND: u64 = 0b111;
const COUNTING_MASK: u64 = 0b011;
const LOCAL: u64 = 0b1000;
const GEN_SHIFT: u32 = 4;

/// Whether the fleet breaker decides with the shared state or on its own.
///
/// Exhaustive on purpose: either Redis's shared state decides or the local fallback
/// does, so a `match` needs no wildcard arm:
///
/// ```
/// fn label(mode: failgate_redis::Mode) -> &'static str {
///     match mode {
///         failgate_redis::Mode::Shared => "fleet",
///         failgate_redis::Mode::Local => "local fallback",
///     }
/// }
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Mode {
    /// Redis answers: admission follows the fleet's shared state.
    Shared,
    /// Redis is unreachable (or not reached yet): a purely local breaker with the same
    /// configuration decides, and the shared state is resynchronised on reconnect.
    Local,
}

/// One value of the mirror: the shared state's kind and generation, and whether the
/// local fallback decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
pub(crate) struct MirrorWord(u64);

impl MirrorWord {
    /// Before the first round trip: closed, generation 0, local until Redis answers.
    pub(crate) const START: MirrorWord = MirrorWord(CLOSED | LOCAL);

    #[inline(always)]
    pub(crate) fn new(kind: SharedState, local: bool, generation: u64) -> Self {
        let kind = match kind {
            SharedState::Closed => CLOSED,
            SharedState::Open => OPEN,
            SharedState::HalfOpen => HALF_OPEN,
            SharedState::ForcedOpen => FORCED_OPEN,
            SharedState::CountOnly => COUNT_ONLY,
            SharedState::Disabled => DISABLED,
        };
        MirrorWord(generation << GEN_SHIFT | if local { LOCAL } else { 0 } | kind)
    }

    #[inline(always)]
    pub(crate) fn kind(self) -> SharedState {
        match self.0 & KIND {
            CLOSED => SharedState::Closed,
            OPEN => SharedState::Open,
            HALF_OPEN => SharedState::HalfOpen,
            FORCED_OPEN => SharedState::ForcedOpen,
            COUNT_ONLY => SharedState::CountOnly,
            _ => SharedState::Disabled,
        }
    }

    /// Closed or count-only: calls admitted now count for the shared window.
    #[inline(always)]
    pub(crate) fn is_counting(self) -> bool {
        self.0 & COUNTING_MASK == 0
    }

    /// Closed and shared: the one test on the closed-state call path.
    #[inline(always)]
    pub(crate) fn is_shared_closed(self) -> bool {
        self.0 & (KIND | LOCAL) == CLOSED
    }

    #[inline(always)]
    pub(crate) fn is_local(self) -> bool {
        self.0 & LOCAL != 0
    }

    #[inline(always)]
    pub(crate) fn generation(self) -> u64 {
        self.0 >> GEN_SHIFT
    }

    #[inline]
    pub(crate) fn mode(self) -> Mode {
        if self.is_local() {
            Mode::Local
        } else {
            Mode::Shared
        }
    }
}

/// The mirror word, shared between the calls and the sync task.
#[derive(Debug)]
#[repr(transparent)]
pub(crate) struct AtomicWord(AtomicU64);

impl AtomicWord {
    pub(crate) fn new(word: MirrorWord) -> Self {
        AtomicWord(AtomicU64::new(word.0))
    }

    #[inline(always)]
    pub(crate) fn load(&self, order: Ordering) -> MirrorWord {
        MirrorWord(self.0.load(order))
    }

    #[inline]
    pub(crate) fn compare_exchange(
        &self,
        current: MirrorWord,
        new: MirrorWord,
        success: Ordering,
        failure: Ordering,
    ) -> Result<MirrorWord, MirrorWord> {
        self.0
            .compare_exchange(current.0, new.0, success, failure)
            .map(MirrorWord)
            .map_err(MirrorWord)
    }

    /// Sets the local bit; returns the word before.
    #[inline]
    pub(crate) fn set_local(&self, order: Ordering) -> MirrorWord {
        MirrorWord(self.0.fetch_or(LOCAL, order))
    }
}

/// Probe permits Redis handed this instance: `tag (48 bits) | count (16 bits)`, the tag
/// being the low 48 bits of the generation they belong to, so that permits of an ended
/// generation are never used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(transparent)]
pub(crate) struct ProbeTokens(u64);

impl ProbeTokens {
    const COUNT_BITS: u32 = 16;
    const MAX_COUNT: u64 = (1 << Self::COUNT_BITS) - 1;

    pub(crate) const NONE: ProbeTokens = ProbeTokens(0);

    #[inline]
    fn tag(generation: u64) -> u64 {
        generation & ((1 << (64 - Self::COUNT_BITS)) - 1)
    }

    /// `count` permits of `generation` (at most the 16 bits' maximum).
    #[inline]
    pub(crate) fn of(generation: u64, count: u64) -> Self {
        ProbeTokens(Self::tag(generation) << Self::COUNT_BITS | count.min(Self::MAX_COUNT))
    }

    /// How many permits of `generation` these are (0 if they are another's).
    #[inline]
    pub(crate) fn held_for(self, generation: u64) -> u64 {
        if self.0 >> Self::COUNT_BITS == Self::tag(generation) {
            self.0 & Self::MAX_COUNT
        } else {
            0
        }
    }

    /// The same permits, `n` fewer (`n` at most the count held).
    #[inline]
    pub(crate) fn minus(self, n: u64) -> Self {
        ProbeTokens(self.0 - n)
    }

    #[inline(always)]
    pub(crate) fn from_bits(bits: u64) -> Self {
        ProbeTokens(bits)
    }

    #[inline(always)]
    pub(crate) fn bits(self) -> u64 {
        self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_word_keeps_its_kind_local_bit_and_generation() {
        for kind in [
            SharedState::Closed,
            SharedState::Open,
            SharedState::HalfOpen,
            SharedState::ForcedOpen,
            SharedState::Disabled,
            SharedState::CountOnly,
        ] {
            for local in [false, true] {
                for generation in [0, 1, 7, (1 << 60) - 1] {
                    let w = MirrorWord::new(kind, local, generation);
                    assert_eq!(
                        (w.kind(), w.is_local(), w.generation()),
                        (kind, local, generation)
                    );
                    assert_eq!(w.is_shared_closed(), kind == SharedState::Closed && !local);
                    assert_eq!(
                        w.is_counting(),
                        matches!(kind, SharedState::Closed | SharedState::CountOnly)
                    );
                }
            }
        }
        assert_eq!(
            MirrorWord::START,
            MirrorWord::new(SharedState::Closed, true, 0)
        );
    }

    #[test]
    fn tokens_count_only_for_their_generation() {
        let t = ProbeTokens::of(5, 3);
        assert_eq!((t.held_for(5), t.held_for(6)), (3, 0));
        assert_eq!(t.minus(2).held_for(5), 1);
        assert_eq!(ProbeTokens::of(5, u64::MAX).held_for(5), 0xFFFF);
        assert_eq!(ProbeTokens::NONE.held_for(1), 0);
    }
}
