//! A real run of the `failgate-demo` binary, read line by line: for the tests of what
//! it prints and logs, which nothing in-process would show. Every wait is bounded.

use std::ffi::OsStr;
use std::io::{BufRead, BufReader};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::mpsc;
use std::time::{Duration, Instant};

/// The binary under test.
pub const BIN: &str = env!("CARGO_BIN_EXE_failgate-demo");

/// A running process whose stdout is read on a thread of its own, to the end (a
/// closed pipe would make its next print fail, and a watch exit). Killed on drop,
/// whatever the test's end; a process already reaped is not signalled again.
pub struct Running {
    child: Child,
    lines: mpsc::Receiver<String>,
    /// Every line read so far, for the failure messages.
    pub seen: Vec<String>,
}

impl Running {
    /// `failgate-demo ARGS`, with `RUST_LOG` unset (the binary's default level) and
    /// stderr into stdout: one stream, in write order.
    pub fn demo<S: AsRef<OsStr>>(args: &[S]) -> Self {
        let mut command = Command::new("sh");
        command
            .arg("-c")
            .arg(r#"exec "$0" "$@" 2>&1"#)
            .arg(BIN)
            .args(args)
            .env_remove("RUST_LOG");
        Self::spawn(command)
    }

    /// Spawns `command` with stdin closed and stdout piped, and starts reading its
    /// lines.
    pub fn spawn(mut command: Command) -> Self {
        let mut child = command
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the binary runs");
        let out = child.stdout.take().expect("stdout is piped");
        let (tx, lines) = mpsc::channel();
        std::thread::spawn(move || {
            for line in BufReader::new(out).lines().map_while(Result::ok) {
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        Running {
            child,
            lines,
            seen: Vec::new(),
        }
    }

    /// The process id, to send it a signal.
    pub fn pid(&self) -> rustix::process::Pid {
        rustix::process::Pid::from_child(&self.child)
    }

    /// The next line, if one comes before `deadline`.
    pub fn next_line_before(&mut self, deadline: Instant) -> Option<String> {
        let left = deadline.saturating_duration_since(Instant::now());
        let line = self.lines.recv_timeout(left).ok()?;
        self.seen.push(line.clone());
        Some(line)
    }

    /// The next line `wanted` accepts, read within `within`; panics with every line
    /// seen, saying `what` did not come.
    pub fn line_where(
        &mut self,
        what: &str,
        within: Duration,
        wanted: impl Fn(&str) -> bool,
    ) -> String {
        let deadline = Instant::now() + within;
        loop {
            let Some(line) = self.next_line_before(deadline) else {
                panic!(
                    "no line {what} within {within:?}:\n{}",
                    self.seen.join("\n")
                )
            };
            if wanted(&line) {
                return line;
            }
        }
    }

    /// The dashboard's address (`127.0.0.1:PORT`) from the line `watch` prints first
    /// among its URLs, read within `within`.
    pub fn dashboard_addr(&mut self, within: Duration) -> String {
        let line = self.line_where("with the dashboard's URL", within, |l| {
            l.starts_with("dashboard on http://")
        });
        line.trim_start_matches("dashboard on http://")
            .trim_end_matches("/dashboard")
            .to_owned()
    }

    /// Waits for the process to exit, polling it, for at most `within`.
    pub fn wait_exit(&mut self, within: Duration) -> ExitStatus {
        let deadline = Instant::now() + within;
        loop {
            if let Some(status) = self.child.try_wait().expect("the child can be waited for") {
                return status;
            }
            assert!(Instant::now() < deadline, "no exit within {within:?}");
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        // Once reaped, `Child::kill` sends nothing: the pid may be another's by now.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
