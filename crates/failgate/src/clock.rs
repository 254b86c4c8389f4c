//! Time, injected.
//!
//! The breaker never asks the operating system for the time directly: it reads a
//! [`Clock`]. Production code uses the default [`SystemClock`]; tests (yours and ours)
//! use [`ManualClock`] and move time by hand, so nothing ever sleeps.
//!
//! The clock is read only where a decision needs it: when a time window records an
//! outcome, around a call when slow-call detection is on, when an open breaker checks
//! whether its wait is over, and when the state changes. The closed-state success path
//! of the consecutive-failures and count-window policies never reads it.

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// A monotonic source of time, in nanoseconds from an arbitrary origin.
///
/// Implementations must never go backwards. The origin does not matter: the breaker
/// only ever subtracts two readings of the same clock.
pub trait Clock: Send + Sync + fmt::Debug + 'static {
    /// The current time in nanoseconds since this clock's origin.
    fn now_nanos(&self) -> u64;
}

/// The default clock: monotonic, and fast.
///
/// With the `quanta` feature (on by default) it reads the CPU's time-stamp counter
/// through [quanta](https://docs.rs/quanta), which costs a few nanoseconds; without it,
/// it uses [`std::time::Instant`].
///
/// Every `SystemClock` reads one calibrated counter shared by the whole process, and
/// holds only its origin: a copy costs a breaker 8 bytes (16 without `quanta`), and
/// making one costs one reading of the counter after the first.
#[derive(Debug, Clone)]
pub struct SystemClock {
    #[cfg(feature = "quanta")]
    origin: u64,
    #[cfg(not(feature = "quanta"))]
    origin: std::time::Instant,
}

/// The process's calibrated counter: calibrating one queries the CPU, which is slow,
/// and a copy per breaker would cost each one a calibration's 40 bytes.
#[cfg(feature = "quanta")]
#[inline(always)]
fn counter() -> &'static quanta::Clock {
    static COUNTER: std::sync::OnceLock<quanta::Clock> = std::sync::OnceLock::new();
    COUNTER.get_or_init(quanta::Clock::new)
}

impl SystemClock {
    /// A clock whose origin is now.
    pub fn new() -> Self {
        #[cfg(feature = "quanta")]
        {
            SystemClock {
                origin: counter().raw(),
            }
        }
        #[cfg(not(feature = "quanta"))]
        {
            SystemClock {
                origin: std::time::Instant::now(),
            }
        }
    }
}

impl Default for SystemClock {
    fn default() -> Self {
        Self::new()
    }
}

/// A shared clock is a clock: `Arc<dyn Clock>` lets a breaker and the code around it
/// (a fleet-wide breaker's local mirror, say) read one clock chosen at run time.
impl<K: Clock + ?Sized> Clock for Arc<K> {
    #[inline]
    fn now_nanos(&self) -> u64 {
        (**self).now_nanos()
    }
}

impl Clock for SystemClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        #[cfg(feature = "quanta")]
        {
            let counter = counter();
            counter.delta_as_nanos(self.origin, counter.raw())
        }
        #[cfg(not(feature = "quanta"))]
        {
            u64::try_from(self.origin.elapsed().as_nanos()).unwrap_or(u64::MAX)
        }
    }
}

/// A clock that only moves when told to: for tests, simulations and demos.
///
/// Clones share one time, so a test can keep a handle while the breaker holds another.
///
/// ```
/// use failgate::ManualClock;
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let handle = clock.clone();
/// handle.advance(Duration::from_secs(5));
/// assert_eq!(clock.now(), Duration::from_secs(5));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ManualClock {
    nanos: Arc<AtomicU64>,
}

impl ManualClock {
    /// A clock standing at zero.
    pub fn new() -> Self {
        Self::default()
    }

    /// Moves time forward by `by` (saturating at the far end of `u64` nanoseconds).
    pub fn advance(&self, by: Duration) {
        let by = duration_to_nanos(by);
        // fetch_update never fails here: the closure always returns Some.
        let _ = self
            .nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| {
                Some(n.saturating_add(by))
            });
    }

    /// Sets the time to `to`, if that is not earlier than now (a clock never goes back).
    pub fn set(&self, to: Duration) {
        self.nanos
            .fetch_max(duration_to_nanos(to), Ordering::AcqRel);
    }

    /// The current time since the clock's origin.
    pub fn now(&self) -> Duration {
        Duration::from_nanos(self.nanos.load(Ordering::Acquire))
    }
}

impl Clock for ManualClock {
    #[inline]
    fn now_nanos(&self) -> u64 {
        self.nanos.load(Ordering::Acquire)
    }
}

/// Saturating conversion of a duration to nanoseconds.
pub(crate) fn duration_to_nanos(d: Duration) -> u64 {
    u64::try_from(d.as_nanos()).unwrap_or(u64::MAX)
}

/// The clock a breaker reads, dispatched without a virtual call for the two clocks
/// the crate ships. A custom clock sits behind a thin pointer, so that the whole
/// source takes 16 bytes of the line every call reads.
#[derive(Debug, Clone)]
pub(crate) enum ClockSource {
    System(SystemClock),
    Manual(ManualClock),
    Custom(Arc<Arc<dyn Clock>>),
}

impl ClockSource {
    pub(crate) fn from_clock<K: Clock>(clock: K) -> Self {
        let any: Box<dyn Any> = Box::new(clock);
        let any = match any.downcast::<ManualClock>() {
            Ok(manual) => return ClockSource::Manual(*manual),
            Err(other) => other,
        };
        let any = match any.downcast::<SystemClock>() {
            Ok(system) => return ClockSource::System(*system),
            Err(other) => other,
        };
        // A clock already shared as `Arc<dyn Clock>` is kept as it is, not wrapped again.
        match any.downcast::<Arc<dyn Clock>>() {
            Ok(shared) => ClockSource::Custom(Arc::new(*shared)),
            Err(other) => match other.downcast::<K>() {
                Ok(custom) => ClockSource::Custom(Arc::new(Arc::new(*custom))),
                // Unreachable: `other` was boxed from a `K` just above.
                Err(_) => ClockSource::System(SystemClock::new()),
            },
        }
    }

    #[inline]
    pub(crate) fn now(&self) -> u64 {
        match self {
            ClockSource::System(c) => c.now_nanos(),
            ClockSource::Manual(c) => c.now_nanos(),
            ClockSource::Custom(c) => c.now_nanos(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn manual_clock_is_shared_and_monotonic() {
        let a = ManualClock::new();
        let b = a.clone();
        a.advance(Duration::from_millis(1500));
        assert_eq!(b.now_nanos(), 1_500_000_000);
        b.set(Duration::from_secs(1));
        assert_eq!(a.now(), Duration::from_millis(1500), "set never goes back");
        b.set(Duration::from_secs(3));
        assert_eq!(a.now(), Duration::from_secs(3));
        a.advance(Duration::MAX);
        assert_eq!(a.now_nanos(), u64::MAX, "advance saturates");
    }

    #[test]
    fn system_clock_moves_forward() {
        let c = SystemClock::new();
        let t1 = c.now_nanos();
        let mut t2 = c.now_nanos();
        while t2 == t1 {
            t2 = c.now_nanos();
        }
        assert!(t2 > t1);
    }

    #[test]
    fn clock_source_recognises_the_shipped_clocks() {
        assert!(matches!(
            ClockSource::from_clock(ManualClock::new()),
            ClockSource::Manual(_)
        ));
        assert!(matches!(
            ClockSource::from_clock(SystemClock::new()),
            ClockSource::System(_)
        ));
        #[derive(Debug)]
        struct Fixed;
        impl Clock for Fixed {
            fn now_nanos(&self) -> u64 {
                42
            }
        }
        let c = ClockSource::from_clock(Fixed);
        assert!(matches!(c, ClockSource::Custom(_)));
        assert_eq!(c.now(), 42);
        let shared: Arc<dyn Clock> = Arc::new(Fixed);
        let c = ClockSource::from_clock(shared.clone());
        match &c {
            ClockSource::Custom(inner) => {
                assert!(Arc::ptr_eq(&**inner, &shared), "not wrapped again")
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(c.now(), 42);
    }
}
