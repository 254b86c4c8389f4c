//! The breaker's state packed into one `u64`, so every change of state is a single
//! compare-and-swap.
//!
//! ```text
//!  63            40 39      30 29      20 19      10 9    4  3   2  0
//! +----------------+----------+----------+----------+------+----+-----+
//! | generation     | probe    | probe    | probes   | step | busy| kind|
//! | (24 bits)      | failures | successes| taken    |      |    |     |
//! +----------------+----------+----------+----------+------+----+-----+
//! ```
//! - `kind`: the [`State`].
//! - `busy`: a transition is being published (see `breaker/transition.rs`).
//! - `step`: reopenings since the last close, for the backoff (saturates at 63).
//! - `probes taken`: half-open probe slots in use: in flight or reported (a success,
//!   or a failure under the failure-rate rule; an ignored probe gives its slot back).
//! - `probe successes`: half-open probes that reported success.
//! - `probe failures`: half-open probes that failed (or were slow), counted only by
//!   the failure-rate rule (the default rule reopens on the first).
//! - `generation`: counts transitions (wrapping after 2^24, about 16.8 million); every
//!   permit carries the generation it was issued in. A permit is misjudged only if it
//!   is held across an exact multiple of 2^24 transitions.

use crate::policy::MAX_HALF_OPEN_PERMITS;
use crate::vocabulary::State;

const KIND_MASK: u64 = 0b111;
const BUSY: u64 = 1 << 3;
const STEP_SHIFT: u32 = 4;
const STEP_MASK: u64 = 0x3f;
const TAKEN_SHIFT: u32 = 10;
const SUCC_SHIFT: u32 = 20;
const FAIL_SHIFT: u32 = 30;
const COUNT_MASK: u64 = 0x3ff;
const GEN_SHIFT: u32 = 40;
pub(crate) const GEN_MASK: u64 = (1 << 24) - 1;
// The probe counts must hold the most probes a breaker may admit.
const _: () = assert!(MAX_HALF_OPEN_PERMITS as u64 <= COUNT_MASK);
const MAX_STEP: u32 = STEP_MASK as u32;

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct Word(pub(crate) u64);

impl Word {
    /// A closed breaker at generation 0.
    pub(crate) const INITIAL: Word = Word(0);

    #[inline]
    pub(crate) fn state(self) -> State {
        match self.0 & KIND_MASK {
            0 => State::Closed,
            1 => State::Open,
            2 => State::HalfOpen,
            3 => State::ForcedOpen,
            4 => State::Disabled,
            _ => State::CountOnly,
        }
    }

    #[inline]
    pub(crate) fn is_closed_and_idle(self) -> bool {
        self.0 & (KIND_MASK | BUSY) == 0
    }

    #[inline]
    pub(crate) fn is_open_and_idle(self) -> bool {
        self.0 & (KIND_MASK | BUSY) == 1
    }

    #[inline]
    pub(crate) fn busy(self) -> bool {
        self.0 & BUSY != 0
    }

    #[inline]
    pub(crate) fn with_busy(self) -> Word {
        Word(self.0 | BUSY)
    }

    #[inline]
    pub(crate) fn step(self) -> u32 {
        ((self.0 >> STEP_SHIFT) & STEP_MASK) as u32
    }

    #[inline]
    pub(crate) fn taken(self) -> u32 {
        ((self.0 >> TAKEN_SHIFT) & COUNT_MASK) as u32
    }

    #[inline]
    pub(crate) fn successes(self) -> u32 {
        ((self.0 >> SUCC_SHIFT) & COUNT_MASK) as u32
    }

    #[inline]
    pub(crate) fn failures(self) -> u32 {
        ((self.0 >> FAIL_SHIFT) & COUNT_MASK) as u32
    }

    #[inline]
    pub(crate) fn generation(self) -> u64 {
        self.0 >> GEN_SHIFT
    }

    /// The word with these probe counts, and its probe failures kept.
    pub(crate) fn with_probes(self, taken: u32, successes: u32) -> Word {
        self.with_probe_counts(taken, successes, self.failures())
    }

    pub(crate) fn with_probe_counts(self, taken: u32, successes: u32, failures: u32) -> Word {
        let cleared = self.0
            & !((COUNT_MASK << TAKEN_SHIFT)
                | (COUNT_MASK << SUCC_SHIFT)
                | (COUNT_MASK << FAIL_SHIFT));
        Word(
            cleared
                | ((u64::from(taken) & COUNT_MASK) << TAKEN_SHIFT)
                | ((u64::from(successes) & COUNT_MASK) << SUCC_SHIFT)
                | ((u64::from(failures) & COUNT_MASK) << FAIL_SHIFT),
        )
    }

    /// The word after a transition to `to`: the next generation, no probes, and the
    /// backoff step moved by the rule in the crate docs (a failed half-open round
    /// steps up; probing keeps the step; every other state starts again from 0).
    pub(crate) fn transition(self, to: State) -> Word {
        let step = match (self.state(), to) {
            (State::HalfOpen, State::Open) => (self.step() + 1).min(MAX_STEP),
            (_, State::Open) | (_, State::HalfOpen) => self.step(),
            _ => 0,
        };
        let generation = (self.generation() + 1) & GEN_MASK;
        Word((generation << GEN_SHIFT) | (u64::from(step) << STEP_SHIFT) | kind_bits(to))
    }
}

impl Word {
    /// A breaker built in `state`, at generation 0.
    pub(crate) fn initial(state: State) -> Word {
        Word(Word::INITIAL.0 | kind_bits(state))
    }

    /// The same word with the backoff step set to `step` (saturating), for an
    /// operator's opening, which keeps the step it found instead of stepping up.
    pub(crate) fn with_step(self, step: u32) -> Word {
        let cleared = self.0 & !(STEP_MASK << STEP_SHIFT);
        Word(cleared | (u64::from(step.min(MAX_STEP)) << STEP_SHIFT))
    }
}

fn kind_bits(state: State) -> u64 {
    u64::from(state.code())
}

impl std::fmt::Debug for Word {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Word")
            .field("state", &self.state())
            .field("busy", &self.busy())
            .field("step", &self.step())
            .field("taken", &self.taken())
            .field("successes", &self.successes())
            .field("failures", &self.failures())
            .field("generation", &self.generation())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fields_round_trip_without_touching_each_other() {
        for s in State::ALL {
            let w = Word::INITIAL
                .transition(s)
                .with_probe_counts(1023, 511, 1022);
            assert_eq!(w.state(), s);
            assert_eq!(w.taken(), 1023);
            assert_eq!(w.successes(), 511);
            assert_eq!(w.failures(), 1022);
            assert_eq!(w.with_probes(3, 2).failures(), 1022);
            assert_eq!(w.generation(), 1);
            assert!(!w.busy());
            assert!(w.with_busy().busy());
            assert_eq!(w.with_busy().state(), s);
        }
        assert!(Word::INITIAL.is_closed_and_idle());
        let open = Word::INITIAL.transition(State::Open);
        assert!(open.is_open_and_idle());
        assert!(!open.with_busy().is_open_and_idle());
        assert!(!Word::INITIAL
            .transition(State::ForcedOpen)
            .is_open_and_idle());
        assert!(!Word::INITIAL.with_busy().is_closed_and_idle());
    }

    #[test]
    fn transitions_bump_the_generation_and_clear_probes() {
        let w = Word::INITIAL
            .transition(State::Open)
            .transition(State::HalfOpen)
            .with_probe_counts(3, 2, 1);
        let reopened = w.transition(State::Open);
        assert_eq!(reopened.generation(), 3);
        assert_eq!(
            (reopened.taken(), reopened.successes(), reopened.failures()),
            (0, 0, 0)
        );
        assert_eq!(reopened.step(), 1, "a failed half-open round steps up");
        let probing = reopened.transition(State::HalfOpen);
        assert_eq!(probing.step(), 1, "probing keeps the step");
        assert_eq!(probing.transition(State::Closed).step(), 0);
        assert_eq!(probing.transition(State::ForcedOpen).step(), 0);
    }

    #[test]
    fn step_saturates_and_generation_wraps() {
        let mut w = Word::INITIAL.transition(State::Open);
        for _ in 0..100 {
            w = w.transition(State::HalfOpen).transition(State::Open);
        }
        assert_eq!(w.step(), 63);
        let last = Word((GEN_MASK << GEN_SHIFT) | kind_bits(State::Closed));
        assert_eq!(last.transition(State::Open).generation(), 0);
    }
}
