//! The service's request counters: what reached it, whatever its clients believe.

use std::sync::atomic::{AtomicU64, Ordering};

use serde::{Deserialize, Serialize};

use super::config::Endpoint;

/// Requests the service saw, per endpoint. Counted on arrival, before any delay.
/// `/stats` itself is not counted.
#[derive(Debug, Default)]
pub struct Stats {
    pub(super) success: AtomicU64,
    pub(super) failure: AtomicU64,
    pub(super) random: AtomicU64,
    pub(super) random_failures: AtomicU64,
    pub(super) health: AtomicU64,
    pub(super) not_found: AtomicU64,
    pub(super) bad_request: AtomicU64,
}

/// A copy of the counters at one moment; what `GET /stats` answers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatsSnapshot {
    /// Requests to `/success`.
    pub success: u64,
    /// Requests to `/failure`.
    pub failure: u64,
    /// Requests to `/random`.
    pub random: u64,
    /// Requests to `/random` that were answered with 500.
    pub random_failures: u64,
    /// Requests to `/health`.
    pub health: u64,
    /// Requests to unknown paths or with a wrong method (404/405).
    pub not_found: u64,
    /// Requests refused with 400 for a bad query value.
    pub bad_request: u64,
    /// All of the above but `random_failures` (which is part of `random`).
    pub total: u64,
}

impl Stats {
    pub(super) fn counter(&self, endpoint: Endpoint) -> &AtomicU64 {
        match endpoint {
            Endpoint::Success => &self.success,
            Endpoint::Failure => &self.failure,
            Endpoint::Random => &self.random,
            Endpoint::Health => &self.health,
        }
    }

    /// Requests answered so far by `endpoint` (one refused with 400 for a bad query
    /// value is counted in [`StatsSnapshot::bad_request`] instead).
    pub fn count(&self, endpoint: Endpoint) -> u64 {
        self.counter(endpoint).load(Ordering::Relaxed)
    }

    /// Reads every counter. Counters are read one by one, so under load the snapshot is
    /// not one atomic instant; it is exact once traffic has stopped.
    pub fn snapshot(&self) -> StatsSnapshot {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        let mut s = StatsSnapshot {
            success: load(&self.success),
            failure: load(&self.failure),
            random: load(&self.random),
            random_failures: load(&self.random_failures),
            health: load(&self.health),
            not_found: load(&self.not_found),
            bad_request: load(&self.bad_request),
            total: 0,
        };
        s.total = s.success + s.failure + s.random + s.health + s.not_found + s.bad_request;
        s
    }
}

pub(super) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn snapshot_totals_everything_but_random_failures() {
        let stats = Stats::default();
        bump(&stats.success);
        bump(&stats.random);
        bump(&stats.random_failures);
        bump(&stats.not_found);
        let s = stats.snapshot();
        assert_eq!(
            (s.success, s.random, s.random_failures, s.total),
            (1, 1, 1, 3)
        );
    }
}
