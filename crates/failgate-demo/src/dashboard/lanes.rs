//! The lanes of `watch`: one named breaker each, with its policy and the scripted
//! failure ratio its traffic asks the flaky service for.
//!
//! A [`Schedule`] is a pure function of the time since start: a cycle of phases that
//! repeats, so each breaker trips and recovers on its own every minute or so. An
//! operator (or a test) can pin a lane's ratio with `POST /control/ratio`, and unpin it
//! with `ratio=auto`; the pin is one atomic word, read by the traffic on every tick.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use failgate::config_file::{BackoffConfig, BreakerConfig, HumanDuration, WindowConfig};

use crate::service::Ratio;

/// One step of a schedule: from `from` (into the cycle) on, the ratio is `ratio`.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Phase {
    /// When the phase starts, measured from the start of the cycle.
    pub from: Duration,
    /// The share of requests the flaky service is asked to fail.
    pub ratio: Ratio,
}

/// A cycle of phases that repeats for ever.
#[derive(Debug, Clone, PartialEq)]
pub struct Schedule {
    cycle: Duration,
    phases: Vec<Phase>,
}

/// Why a [`Schedule`] was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// A schedule needs a cycle longer than zero.
    #[error("the cycle must be longer than zero")]
    EmptyCycle,
    /// The first phase must start at zero, so every instant has a ratio.
    #[error("the first phase must start at 0s")]
    NoPhaseAtZero,
    /// Phases must start in increasing order, inside the cycle.
    #[error("phases must start in increasing order, before the end of the cycle")]
    Unordered,
}

impl Schedule {
    /// A schedule of `phases` (the first from 0, in increasing order) repeating every
    /// `cycle`.
    pub fn new(cycle: Duration, phases: Vec<Phase>) -> Result<Self, ScheduleError> {
        if cycle.is_zero() {
            return Err(ScheduleError::EmptyCycle);
        }
        if phases.first().map(|p| p.from) != Some(Duration::ZERO) {
            return Err(ScheduleError::NoPhaseAtZero);
        }
        let ordered = phases.windows(2).all(|w| w[0].from < w[1].from);
        if !ordered || phases.iter().any(|p| p.from >= cycle) {
            return Err(ScheduleError::Unordered);
        }
        Ok(Self { cycle, phases })
    }

    /// A schedule with one ratio for ever.
    pub fn constant(ratio: Ratio) -> Self {
        Self {
            cycle: Duration::from_secs(1),
            phases: vec![Phase {
                from: Duration::ZERO,
                ratio,
            }],
        }
    }

    /// The ratio `elapsed` after the start.
    pub fn ratio_at(&self, elapsed: Duration) -> Ratio {
        let cycle = self.cycle.as_nanos();
        let into = Duration::from_nanos((elapsed.as_nanos() % cycle) as u64);
        self.phases
            .iter()
            .rev()
            .find(|p| p.from <= into)
            .unwrap_or(&self.phases[0])
            .ratio
    }

    /// The length of one cycle.
    pub fn cycle(&self) -> Duration {
        self.cycle
    }

    /// The phases, in order.
    pub fn phases(&self) -> &[Phase] {
        &self.phases
    }
}

/// One lane: a breaker's name, how it is built, and the ratio its traffic asks for.
#[derive(Debug, Clone)]
pub struct Lane {
    /// The breaker's name in the registry, the metrics and the page.
    pub name: String,
    /// A line for the page: what trips the breaker and how long it stays open.
    pub policy: String,
    /// The breaker's settings, as a configuration file would give them (the watch
    /// adds its metrics observer and clock; a file that names the lane replaces them).
    pub settings: BreakerConfig,
    /// The scripted failure ratio.
    pub schedule: Schedule,
}

/// A schedule from `(second, ratio)` literals over a one-minute cycle. The default
/// lanes' literals are all valid (a unit test checks that their schedules are the
/// scripted ones, not this fallback); a bad one would give the service's default ratio.
fn schedule(phases: &[(u64, f64)]) -> Schedule {
    let phases: Option<Vec<Phase>> = phases
        .iter()
        .map(|&(from, r)| {
            Some(Phase {
                from: Duration::from_secs(from),
                ratio: Ratio::new(r).ok()?,
            })
        })
        .collect();
    phases
        .and_then(|p| Schedule::new(Duration::from_secs(60), p).ok())
        .unwrap_or_else(|| Schedule::constant(crate::service::DEFAULT_FAILURE_RATIO))
}

/// The three lanes `watch` runs by default. Each one's failures come and go within a
/// one-minute cycle, at different moments, under a different policy:
///
/// | lane | policy | failing |
/// |---|---|---|
/// | `checkout` | 5 consecutive failures; open 4 s | 20–35 s of each minute |
/// | `search` | ≥ 50 % of the last 40 calls (from 20); open 5 s | 35–50 s |
/// | `payments` | ≥ 25 % over 10 s (from 20 calls); open 2 s, doubling to 16 s | 5–20 s |
pub fn default_lanes() -> Vec<Lane> {
    let secs = |s| HumanDuration(Duration::from_secs(s));
    let mut checkout = BreakerConfig::default();
    checkout.consecutive_failures = Some(5);
    checkout.open_for = Some(secs(4));
    checkout.half_open_permits = Some(2);
    let mut search = BreakerConfig::default();
    search.failure_rate = Some(0.5);
    search.window = Some(WindowConfig {
        count: Some(40),
        time: None,
        buckets: None,
    });
    search.minimum_calls = Some(20);
    search.open_for = Some(secs(5));
    search.half_open_permits = Some(3);
    let mut payments = BreakerConfig::default();
    payments.failure_rate = Some(0.25);
    payments.window = Some(WindowConfig {
        count: None,
        time: Some(secs(10)),
        buckets: None,
    });
    payments.minimum_calls = Some(20);
    payments.backoff = Some(BackoffConfig {
        base: secs(2),
        max: secs(16),
        jitter: None,
    });
    payments.half_open_permits = Some(2);
    vec![
        Lane {
            name: "checkout".into(),
            policy: "5 consecutive failures; open 4s".into(),
            settings: checkout,
            schedule: schedule(&[(0, 0.05), (20, 0.9), (35, 0.05)]),
        },
        Lane {
            name: "search".into(),
            policy: "failure rate >= 50% of the last 40 calls (from 20); open 5s".into(),
            settings: search,
            schedule: schedule(&[(0, 0.1), (35, 0.75), (50, 0.1)]),
        },
        Lane {
            name: "payments".into(),
            policy: "failure rate >= 25% over 10s (from 20 calls); open 2s, doubling to 16s".into(),
            settings: payments,
            schedule: schedule(&[(0, 0.02), (5, 0.6), (20, 0.02)]),
        },
    ]
}

/// No pin: the lane follows its schedule.
const UNPINNED: u64 = u64::MAX;

/// A lane's operator override of its ratio: one atomic word, `UNPINNED` or the bits of
/// a ratio (a ratio's bits are never `u64::MAX`, which is a NaN).
#[derive(Debug)]
pub(crate) struct Pin(AtomicU64);

impl Pin {
    pub(crate) fn new() -> Self {
        Self(AtomicU64::new(UNPINNED))
    }

    pub(crate) fn set(&self, ratio: Option<Ratio>) {
        let bits = ratio.map_or(UNPINNED, |r| r.get().to_bits());
        self.0.store(bits, Ordering::Relaxed);
    }

    pub(crate) fn get(&self) -> Option<Ratio> {
        match self.0.load(Ordering::Relaxed) {
            UNPINNED => None,
            bits => Ratio::new(f64::from_bits(bits)).ok(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn r(v: f64) -> Ratio {
        Ratio::new(v).unwrap()
    }

    fn secs(s: u64) -> Duration {
        Duration::from_secs(s)
    }

    #[test]
    fn a_schedule_is_a_step_function_that_repeats() {
        let s = Schedule::new(
            secs(60),
            vec![
                Phase {
                    from: secs(0),
                    ratio: r(0.1),
                },
                Phase {
                    from: secs(20),
                    ratio: r(0.9),
                },
            ],
        )
        .unwrap();
        assert_eq!(s.ratio_at(secs(0)), r(0.1));
        assert_eq!(s.ratio_at(Duration::from_millis(19_999)), r(0.1));
        assert_eq!(s.ratio_at(secs(20)), r(0.9));
        assert_eq!(s.ratio_at(secs(59)), r(0.9));
        assert_eq!(s.ratio_at(secs(60)), r(0.1));
        assert_eq!(s.ratio_at(secs(6_000 + 25)), r(0.9));
    }

    #[test]
    fn bad_schedules_are_refused() {
        let p = |from, v| Phase {
            from: secs(from),
            ratio: r(v),
        };
        assert_eq!(
            Schedule::new(Duration::ZERO, vec![p(0, 0.0)]),
            Err(ScheduleError::EmptyCycle)
        );
        assert_eq!(
            Schedule::new(secs(10), vec![]),
            Err(ScheduleError::NoPhaseAtZero)
        );
        assert_eq!(
            Schedule::new(secs(10), vec![p(1, 0.0)]),
            Err(ScheduleError::NoPhaseAtZero)
        );
        assert_eq!(
            Schedule::new(secs(10), vec![p(0, 0.0), p(5, 0.1), p(5, 0.2)]),
            Err(ScheduleError::Unordered)
        );
        assert_eq!(
            Schedule::new(secs(10), vec![p(0, 0.0), p(10, 0.1)]),
            Err(ScheduleError::Unordered)
        );
    }

    #[test]
    fn every_default_lane_fails_and_recovers_within_each_minute() {
        for lane in default_lanes() {
            let s = &lane.schedule;
            assert_eq!(s.cycle(), secs(60), "{}", lane.name);
            assert!(s.phases().len() >= 3, "{}: not the scripted one", lane.name);
            let ratios: Vec<f64> = (0..60).map(|t| s.ratio_at(secs(t)).get()).collect();
            assert!(
                ratios.iter().any(|&v| v >= 0.6),
                "{}: never fails",
                lane.name
            );
            assert!(ratios[0] <= 0.1, "{}: starts unhealthy", lane.name);
            assert!(ratios[59] <= 0.1, "{}: ends unhealthy", lane.name);
            lane.settings
                .apply(failgate::CircuitBreaker::builder().name(lane.name.clone()))
                .build()
                .unwrap();
        }
    }

    #[test]
    fn a_pin_holds_a_ratio_or_nothing() {
        let pin = Pin::new();
        assert_eq!(pin.get(), None);
        pin.set(Some(r(1.0)));
        assert_eq!(pin.get(), Some(r(1.0)));
        pin.set(Some(r(0.0)));
        assert_eq!(pin.get(), Some(r(0.0)));
        pin.set(None);
        assert_eq!(pin.get(), None);
    }
}
