//! The story the scenario tells: its lines, stamped with the time since the start, and
//! the words it uses for states and durations.

use std::io::{self, Write};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use failgate::{Event, EventKind, Observer, State};

use super::config::Format;
use super::report::StepReport;

/// A state as the JSON reports spell it: `closed`, `open`, `half_open`, ...
pub fn state_name(state: State) -> String {
    state.to_string().replace('-', "_")
}

/// A state as the story spells it: `closed`, `open`, `half-open`, `forced-open`, ...
pub fn human_state(state: State) -> String {
    state.to_string().replace('_', "-")
}

/// Formats a duration for humans: `1.2s` from one second up, `350ms` below.
pub fn human_duration(d: Duration) -> String {
    if d >= Duration::from_secs(1) {
        let secs = d.as_secs_f64();
        if (secs - secs.round()).abs() < 0.05 {
            format!("{}s", secs.round())
        } else {
            format!("{secs:.1}s")
        }
    } else {
        format!("{}ms", d.as_millis())
    }
}

/// The story being told. The breaker's observer queues its lines (with the time they
/// happened) and the runner writes them after the line of the request that caused them,
/// so "failure 2/2: threshold reached" comes before "circuit OPEN". This is a demo's cold
/// path, so mutexes are fine here.
pub(super) struct Story {
    pub(super) start: Instant,
    format: Format,
    out: Mutex<Box<dyn Write + Send>>,
    queued: Mutex<Vec<(Duration, String)>>,
}

fn lock<T: ?Sized>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

impl Story {
    pub(super) fn new(format: Format, out: Box<dyn Write + Send>) -> Self {
        Self {
            start: Instant::now(),
            format,
            out: Mutex::new(out),
            queued: Mutex::new(Vec::new()),
        }
    }

    fn write_line(&self, at: Duration, line: &str) -> io::Result<()> {
        let mut out = lock(&self.out);
        writeln!(out, "[{:>8.3}s] {line}", at.as_secs_f64())?;
        out.flush()
    }

    /// Writes a line stamped now, then any queued ones (human format only).
    pub(super) fn say(&self, line: &str) -> io::Result<()> {
        self.say_at(self.start.elapsed(), line)
    }

    /// Writes a line stamped `at` (time since start), then any queued ones: the state
    /// changes a request caused come right after the request's line.
    pub(super) fn say_at(&self, at: Duration, line: &str) -> io::Result<()> {
        if self.format != Format::Human {
            return Ok(());
        }
        self.write_line(at, line)?;
        self.flush_queued()
    }

    /// Queues a line stamped now, to be written by the next [`Story::flush_queued`].
    fn queue(&self, line: String) {
        if self.format == Format::Human {
            lock(&self.queued).push((self.start.elapsed(), line));
        }
    }

    /// Writes the queued lines.
    pub(super) fn flush_queued(&self) -> io::Result<()> {
        let queued = std::mem::take(&mut *lock(&self.queued));
        for (at, line) in queued {
            self.write_line(at, &line)?;
        }
        Ok(())
    }

    /// Writes one JSON line (JSON format only).
    pub(super) fn report(&self, report: &StepReport) -> io::Result<()> {
        if self.format != Format::Json {
            return Ok(());
        }
        let line = serde_json::to_string(report).map_err(io::Error::other)?;
        let mut out = lock(&self.out);
        writeln!(out, "{line}")?;
        out.flush()
    }
}

/// Prints the breaker's state changes into the story.
pub(super) struct StoryObserver {
    pub(super) story: Arc<Story>,
    pub(super) open_for: Duration,
}

impl Observer for StoryObserver {
    fn on_event(&self, event: &Event<'_>) {
        if let EventKind::StateChange { from, to, wait, .. } = &event.kind {
            let wait = human_duration(wait.unwrap_or(self.open_for));
            let line = match (from, to) {
                (State::HalfOpen, State::Open) => {
                    format!("  probe failed: circuit OPEN again for {wait}")
                }
                (_, State::Open) => format!("  circuit OPEN for {wait}"),
                (_, State::HalfOpen) => "  circuit HALF-OPEN: probing".to_string(),
                (_, State::Closed) => "  circuit CLOSED".to_string(),
                (_, other) => format!("  circuit {}", human_state(*other).to_uppercase()),
            };
            self.story.queue(line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(Duration::from_secs(2)), "2s");
        assert_eq!(human_duration(Duration::from_millis(1_234)), "1.2s");
        assert_eq!(human_duration(Duration::from_millis(1_999)), "2s");
        assert_eq!(human_duration(Duration::from_millis(350)), "350ms");
    }

    #[test]
    fn state_names_use_underscores_in_json_and_dashes_in_the_story() {
        assert_eq!(state_name(State::HalfOpen), "half_open");
        assert_eq!(state_name(State::ForcedOpen), "forced_open");
        assert_eq!(human_state(State::HalfOpen), "half-open");
        assert_eq!(state_name(State::Closed), "closed");
    }
}
