//! The summary a running watch logs at INFO every few seconds: one line naming every
//! lane's state and counts, so that the log stays readable at dozens of calls a second
//! (each call is logged at DEBUG only).

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::watch;
use tokio::time::MissedTickBehavior;

use super::state::Shared;
use super::views::WatchSnapshot;

/// Logs [`line`] every `every`, until stopped.
pub(super) async fn summarize(
    shared: Arc<Shared>,
    every: Duration,
    mut stop: watch::Receiver<bool>,
) {
    let mut tick = tokio::time::interval(every);
    tick.set_missed_tick_behavior(MissedTickBehavior::Delay);
    tick.tick().await; // the first tick is immediate: nothing to say yet
    loop {
        tokio::select! {
            _ = tick.tick() => {}
            _ = stop.changed() => break,
        }
        tracing::info!("{}", line(&shared.snapshot()));
    }
}

/// `summary at 10s: checkout closed (180 ok, 20 failed, 0 refused; breaker: 200 calls,
/// 0 refused, 0 transitions); search open ...`, the lane's counts since the start, then
/// the breaker's own totals (when it keeps them).
pub(super) fn line(snapshot: &WatchSnapshot) -> String {
    let lanes: Vec<String> = snapshot
        .breakers
        .iter()
        .map(|b| {
            let totals = b.totals.as_ref().map_or(String::new(), |t| {
                format!(
                    "; breaker: {} calls, {} refused, {} transitions",
                    t.successes + t.failures + t.ignored,
                    t.refused,
                    t.transitions
                )
            });
            format!(
                "{} {} ({} ok, {} failed, {} refused{totals})",
                b.name, b.state, b.succeeded, b.failed, b.rejected
            )
        })
        .collect();
    let uptime = Duration::from_secs(snapshot.uptime_ms / 1000);
    format!(
        "summary at {}: {}",
        humantime::format_duration(uptime),
        lanes.join("; ")
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::dashboard::{WatchArgs, DEFAULT_SUMMARY_EVERY};
    use clap::Parser;

    #[test]
    fn the_flag_defaults_to_the_constant() {
        #[derive(Parser)]
        struct Cli {
            #[command(flatten)]
            watch: WatchArgs,
        }
        let cli = Cli::try_parse_from(["watch"]).unwrap();
        assert_eq!(cli.watch.summary_every, DEFAULT_SUMMARY_EVERY);
    }

    #[test]
    fn the_line_names_every_lane_with_its_state_and_counts() {
        let view = |name: &str, state: &str| super::super::BreakerView {
            name: name.into(),
            state: state.into(),
            policy: String::new(),
            failure_rate: None,
            window_calls: 0,
            window_failures: 0,
            consecutive_failures: 0,
            retry_after_ms: None,
            time_in_state_ms: 0,
            generation: 0,
            ratio: 0.0,
            pinned: false,
            succeeded: 7,
            failed: 2,
            rejected: 1,
            settings: Default::default(),
            reason: None,
            totals: None,
        };
        let mut search = view("search", "open");
        search.totals = Some(crate::dashboard::TotalsView {
            successes: 7,
            failures: 2,
            refused: 1,
            transitions: 1,
            ..Default::default()
        });
        let snapshot = WatchSnapshot {
            uptime_ms: 10_400,
            breakers: vec![view("checkout", "closed"), search],
            reloads: None,
        };
        assert_eq!(
            line(&snapshot),
            "summary at 10s: checkout closed (7 ok, 2 failed, 1 refused); \
             search open (7 ok, 2 failed, 1 refused; breaker: 9 calls, 1 refused, 1 transitions)"
        );
    }
}
