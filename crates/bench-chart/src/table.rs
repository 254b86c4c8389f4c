//! The same measurements as a Markdown table, for the README: one row per benchmark,
//! with failgate's figure compared to the best peer of its group.

use crate::Measurement;
use std::fmt::Write;

/// A Markdown table of `measurements` (as [`read`](crate::read) returns them): group,
/// benchmark, median ns per call, millions of calls per second, and for failgate's
/// benchmarks how many times faster than the group's fastest peer they are.
pub fn markdown(measurements: &[Measurement]) -> String {
    let mut out = String::from(
        "| path | breaker | median per call | calls/s | vs best peer |\n|---|---|---|---|---|\n",
    );
    for m in measurements {
        let best_peer = measurements
            .iter()
            .filter(|p| p.group == m.group && is_peer(&p.bench))
            .map(|p| p.median_ns)
            .min_by(f64::total_cmp);
        let versus = match (m.bench.starts_with("failgate"), best_peer) {
            (true, Some(peer)) => format!("{:.1}×", peer / m.median_ns),
            _ => String::new(),
        };
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} |",
            m.group,
            m.bench,
            nanos(m.median_ns),
            rate(m.calls_per_sec()),
            versus
        );
    }
    out
}

fn is_peer(bench: &str) -> bool {
    !(bench.starts_with("failgate") || bench.starts_with("baseline") || bench.starts_with("bare"))
}

fn nanos(ns: f64) -> String {
    match ns {
        ns if ns >= 1000.0 => format!("{:.2} µs", ns / 1000.0),
        ns if ns >= 10.0 => format!("{ns:.1} ns"),
        ns => format!("{ns:.2} ns"),
    }
}

fn rate(per_sec: f64) -> String {
    match per_sec {
        r if r >= 1e9 => format!("{:.2} G/s", r / 1e9),
        r if r >= 1e6 => format!("{:.1} M/s", r / 1e6),
        r => format!("{:.0} k/s", r / 1e3),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(group: &str, bench: &str, median_ns: f64) -> Measurement {
        Measurement {
            group: group.into(),
            bench: bench.into(),
            median_ns,
        }
    }

    #[test]
    fn failgate_rows_compare_with_the_fastest_peer_of_their_group() {
        let table = markdown(&[
            m("open_rejection", "failgate", 10.0),
            m("open_rejection", "failsafe", 30.0),
            m("open_rejection", "recloser", 35.0),
            m("closed_success", "baseline_direct_call", 0.35),
            m("closed_success", "failgate_consecutive", 2.5),
            m("half_open_cycle", "failgate", 1500.0),
        ]);
        let rows: Vec<&str> = table.lines().collect();
        assert_eq!(
            rows[2],
            "| open_rejection | failgate | 10.0 ns | 100.0 M/s | 3.0× |"
        );
        assert_eq!(
            rows[3],
            "| open_rejection | failsafe | 30.0 ns | 33.3 M/s |  |"
        );
        assert_eq!(
            rows[5],
            "| closed_success | baseline_direct_call | 0.35 ns | 2.86 G/s |  |"
        );
        assert_eq!(
            rows[6],
            "| closed_success | failgate_consecutive | 2.50 ns | 400.0 M/s |  |"
        );
        assert_eq!(
            rows[7],
            "| half_open_cycle | failgate | 1.50 µs | 667 k/s |  |"
        );
    }
}
