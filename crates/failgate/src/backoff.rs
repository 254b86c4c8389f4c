//! How long an open breaker waits before it probes: a [`Backoff`], or a function of
//! the opening ([`BreakContext`] to a `Duration`, behind [`BreakDuration`]).

use crate::clock::duration_to_nanos;
use crate::vocabulary::Reason;
use std::fmt;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::sync::Arc;
use std::time::Duration;

/// The wait between opening and probing.
///
/// `step` counts the reopenings since the breaker last closed: the first opening is
/// step 0, a failed probe round moves to step 1, and so on. Closing (or `reset`)
/// returns to step 0.
///
/// ```
/// use failgate::Backoff;
/// use std::time::Duration;
///
/// let b = Backoff::exponential(Duration::from_secs(1), Duration::from_secs(60));
/// assert_eq!(b.wait(0), Duration::from_secs(1));
/// assert_eq!(b.wait(3), Duration::from_secs(8));
/// assert_eq!(b.wait(10), Duration::from_secs(60)); // capped
/// assert_eq!(Backoff::constant(Duration::from_secs(5)).wait(7), Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Backoff {
    pub(crate) base: Duration,
    pub(crate) max: Duration,
    pub(crate) exponential: bool,
    pub(crate) jitter: f64,
}

impl Backoff {
    /// The same wait after every opening.
    pub fn constant(wait: Duration) -> Self {
        Backoff {
            base: wait,
            max: wait,
            exponential: false,
            jitter: 0.0,
        }
    }

    /// `base` after the first opening, doubling on each reopening without a close in
    /// between, never more than `max`.
    pub fn exponential(base: Duration, max: Duration) -> Self {
        Backoff {
            base,
            max,
            exponential: true,
            jitter: 0.0,
        }
    }

    /// Shortens each wait by a random fraction of up to `fraction` (in [0, 1)), so a
    /// fleet of breakers that opened together does not probe together. The "random"
    /// fraction is a hash of the breaker's generation: deterministic for a given
    /// history, different for each opening.
    pub fn with_jitter(mut self, fraction: f64) -> Self {
        self.jitter = fraction;
        self
    }

    /// The wait at `step`, without jitter.
    pub fn wait(&self, step: u32) -> Duration {
        Duration::from_nanos(self.wait_nanos(step, None))
    }

    /// The wait at `step` in nanoseconds; with jitter drawn from `seed` when given.
    /// Only transitions and snapshots ask (an open breaker compares the clock with the
    /// deadline it was given), so the waits are kept as given and converted here.
    #[inline]
    pub(crate) fn wait_nanos(&self, step: u32, seed: Option<u64>) -> u64 {
        let base = duration_to_nanos(self.base);
        let wait = if self.exponential {
            let factor = 1u64.checked_shl(step).unwrap_or(u64::MAX);
            base.saturating_mul(factor).min(duration_to_nanos(self.max))
        } else {
            base
        };
        match seed {
            Some(seed) if self.jitter > 0.0 => {
                let cut = (wait as f64 * self.jitter * unit_interval(seed)) as u64;
                wait - cut.min(wait)
            }
            _ => wait,
        }
    }
}

/// What a custom break duration (see
/// [`Builder::break_duration`](crate::Builder::break_duration)) is told about the
/// opening it sets the wait of.
///
/// `#[non_exhaustive]`: more figures may be added; read the fields, do not build one.
#[derive(Debug, Clone, Copy, PartialEq)]
#[non_exhaustive]
pub struct BreakContext {
    /// Reopenings since the breaker last closed: 0 for the opening from closed, 1
    /// after the first failed round of probes, and so on (the backoff's `step`; it
    /// saturates at 63).
    pub attempt: u32,
    /// Why the breaker opens: on the opening from closed, the trip condition with its
    /// figures ([`Reason::ConsecutiveFailures`], [`Reason::FailureRate`],
    /// [`Reason::SlowCallRate`], with counts and rates); on a reopening, what ended the
    /// half-open round ([`Reason::ProbeFailed`], [`Reason::ProbeSlow`],
    /// [`Reason::HalfOpenTimeout`], [`Reason::ProbeFailureRate`]).
    pub reason: Reason,
    /// The wait the configured [`Backoff`] gives at this attempt (jitter included):
    /// what the breaker would wait without the function.
    pub backoff_wait: Duration,
}

/// A custom break duration: a shared function from a [`BreakContext`] to the wait.
/// Made by [`Builder::break_duration`](crate::Builder::break_duration).
#[derive(Clone)]
pub(crate) struct BreakDuration(Arc<BreakFn>);

type BreakFn = dyn Fn(&BreakContext) -> Duration + Send + Sync;

impl BreakDuration {
    pub(crate) fn new(f: impl Fn(&BreakContext) -> Duration + Send + Sync + 'static) -> Self {
        BreakDuration(Arc::new(f))
    }

    /// The function's wait (uncapped). A function that panics gives the backoff's
    /// wait: the panic is caught, so that the transition that asked still publishes
    /// its state (a breaker is never left busy).
    pub(crate) fn wait(&self, ctx: &BreakContext) -> Duration {
        let f = &self.0;
        catch_unwind(AssertUnwindSafe(|| f(ctx))).unwrap_or(ctx.backoff_wait)
    }
}

impl fmt::Debug for BreakDuration {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("BreakDuration(<function>)")
    }
}

/// A number in [0, 1) from a seed (splitmix64's finaliser).
fn unit_interval(seed: u64) -> f64 {
    let mut z = seed.wrapping_add(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^= z >> 31;
    (z >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    use super::*;

    const S: Duration = Duration::from_secs(1);

    #[test]
    fn exponential_doubles_and_caps() {
        let b = Backoff::exponential(S, 10 * S);
        let waits: Vec<_> = (0..6).map(|s| b.wait(s).as_secs()).collect();
        assert_eq!(waits, [1, 2, 4, 8, 10, 10]);
        assert_eq!(b.wait(63), 10 * S);
        assert_eq!(
            b.wait(200),
            10 * S,
            "huge steps saturate instead of wrapping"
        );
    }

    #[test]
    fn jitter_only_shortens_and_varies_with_the_seed() {
        let b = Backoff::constant(10 * S).with_jitter(0.5);
        let full = duration_to_nanos(10 * S);
        let waits: Vec<u64> = (0..100).map(|g| b.wait_nanos(0, Some(g))).collect();
        assert!(waits.iter().all(|&w| w <= full && w >= full / 2));
        let distinct: std::collections::HashSet<_> = waits.iter().collect();
        assert!(distinct.len() > 90, "jitter should differ per generation");
        assert_eq!(b.wait_nanos(0, None), full);
        assert_eq!(b.wait_nanos(0, Some(7)), b.wait_nanos(0, Some(7)));
    }

    #[test]
    fn unit_interval_stays_in_range() {
        for seed in [0, 1, u64::MAX, 12345] {
            let u = unit_interval(seed);
            assert!((0.0..1.0).contains(&u));
        }
    }

    #[test]
    fn unit_interval_is_splitmix64() {
        // The first three outputs of splitmix64 from state 0 (Vigna's reference): each
        // call hashes state + golden gamma, so seeds 0, gamma and 2 * gamma give them.
        let gamma = 0x9E37_79B9_7F4A_7C15u64;
        for (seed, output) in [
            (0, 0xE220_A839_7B1D_CDAFu64),
            (gamma, 0x6E78_9E6A_A1B9_65F4),
            (gamma.wrapping_mul(2), 0x06C4_5D18_8009_454F),
        ] {
            let expected = (output >> 11) as f64 / (1u64 << 53) as f64;
            assert_eq!(unit_interval(seed), expected, "seed {seed:#x}");
        }
        // And the cut it makes: 10 s with jitter 0.5 at generation 0.
        let b = Backoff::constant(10 * S).with_jitter(0.5);
        let cut = (10e9 * 0.5 * unit_interval(0)) as u64;
        assert_eq!(b.wait_nanos(0, Some(0)), 10_000_000_000 - cut);
    }
}
