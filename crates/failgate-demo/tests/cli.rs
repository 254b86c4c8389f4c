//! The `failgate-demo` binary's command line: bad flags fail clearly, `serve` starts,
//! answers and shuts down on SIGTERM.

use std::io::{BufRead, BufReader};
use std::process::{Command, Output, Stdio};
use std::sync::mpsc;
use std::time::Duration;

const BIN: &str = env!("CARGO_BIN_EXE_failgate-demo");

fn run(args: &[&str]) -> Output {
    Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs")
}

/// Runs `args`, expects a non-zero exit, and returns stderr.
fn fails(args: &[&str]) -> String {
    let output = run(args);
    let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
    assert!(
        !output.status.success(),
        "{args:?} succeeded; stderr: {stderr}"
    );
    assert!(output.stdout.is_empty(), "{args:?} printed to stdout");
    stderr
}

fn assert_mentions(stderr: &str, needles: &[&str]) {
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "stderr lacks {needle:?}:\n{stderr}"
        );
    }
}

#[test]
fn serve_refuses_a_failure_ratio_above_1() {
    let stderr = fails(&["serve", "--failure-ratio", "2"]);
    assert_mentions(&stderr, &["'2'", "--failure-ratio", "between 0 and 1"]);
}

#[test]
fn serve_refuses_a_nan_failure_ratio() {
    let stderr = fails(&["serve", "--failure-ratio", "nan"]);
    assert_mentions(&stderr, &["--failure-ratio", "NaN"]);
}

#[test]
fn serve_refuses_a_nonsense_address() {
    let stderr = fails(&["serve", "--addr", "nonsense"]);
    assert_mentions(&stderr, &["'nonsense'", "--addr", "IP:PORT"]);
}

#[test]
fn serve_refuses_a_bad_latency() {
    let stderr = fails(&["serve", "--latency", "abc"]);
    assert_mentions(&stderr, &["'abc'", "--latency", "expected a duration"]);
}

#[test]
fn serve_reports_a_port_it_cannot_bind() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").expect("a free port");
    let addr = taken.local_addr().expect("bound").to_string();
    let stderr = fails(&["serve", "--addr", &addr]);
    assert_mentions(&stderr, &["error: cannot listen on", &addr]);
}

#[test]
fn scenario_refuses_threshold_0() {
    let stderr = fails(&["scenario", "--threshold", "0"]);
    assert_mentions(&stderr, &["'0'", "--threshold", "at least 1"]);
}

#[test]
fn scenario_refuses_zero_durations() {
    let stderr = fails(&["scenario", "--open-for", "0s"]);
    assert_mentions(&stderr, &["--open-for", "greater than zero"]);
    let stderr = fails(&["scenario", "--pause", "0ms"]);
    assert_mentions(&stderr, &["--pause", "greater than zero"]);
    let stderr = fails(&["scenario", "--pause", "later"]);
    assert_mentions(&stderr, &["--pause", "expected a duration"]);
}

#[test]
fn scenario_refuses_bad_urls() {
    let stderr = fails(&["scenario", "--target", "nonsense"]);
    assert_mentions(&stderr, &["--target", "expected an http:// URL"]);
    let stderr = fails(&["scenario", "--target", "localhost:5000"]);
    assert_mentions(&stderr, &["did you mean http://localhost:5000"]);
}

#[test]
fn flags_without_a_subcommand_go_to_the_scenario() {
    let stderr = fails(&["--threshold", "0"]);
    assert_mentions(&stderr, &["--threshold", "at least 1"]);
}

#[test]
fn scenario_reports_an_unreachable_target() {
    // A port that was free a moment ago: nothing listens there.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port();
    let target = format!("http://127.0.0.1:{port}");
    for client in ["direct", "tower"] {
        let stderr = fails(&[
            "scenario", "--json", "--client", client, "--target", &target,
        ]);
        assert_mentions(
            &stderr,
            &[
                "error: step 1: GET",
                "is `failgate-demo serve` running there?",
                "caused by:",
            ],
        );
    }
}

#[test]
fn scenario_refuses_an_unknown_client() {
    let stderr = fails(&["scenario", "--client", "curl"]);
    assert_mentions(&stderr, &["--client", "expected `direct` or `tower`"]);
}

#[test]
fn help_lists_both_subcommands() {
    let output = run(&["--help"]);
    assert!(output.status.success());
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert_mentions(&stdout, &["serve", "scenario", "--open-for"]);
}

/// The child's first stdout line, read on a thread so a silent child cannot hang the
/// test (it is killed after 30 s without one).
fn first_line(child: &mut std::process::Child) -> String {
    let stdout = child.stdout.take().expect("piped stdout");
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    match rx.recv_timeout(Duration::from_secs(30)) {
        Ok(line) => line,
        Err(e) => {
            let _ = child.kill();
            panic!("no address printed: {e}");
        }
    }
}

/// `serve --addr 127.0.0.1:0` prints the bound address, answers, and stops cleanly on
/// SIGTERM.
#[cfg(unix)]
#[tokio::test]
async fn serve_prints_its_address_and_stops_on_sigterm() {
    let mut child = Command::new(BIN)
        .args(["serve", "--addr", "127.0.0.1:0", "--seed", "1"])
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("the binary starts");

    let line = first_line(&mut child);
    let url = line
        .trim()
        .strip_prefix("listening on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();
    assert!(
        url.starts_with("http://127.0.0.1:") && !url.ends_with(":0"),
        "{url}"
    );

    let client = reqwest::Client::builder()
        .no_proxy()
        .build()
        .expect("client");
    let response = client.get(format!("{url}/health")).send().await;
    let status = response.map(|r| r.status().as_u16());

    sigterm(&child).expect("SIGTERM sent");
    let exit = tokio::task::spawn_blocking(move || child.wait())
        .await
        .expect("waiter joined")
        .expect("the child exits");
    assert_eq!(status.expect("/health answered"), 200);
    assert!(exit.success(), "serve exited with {exit} on SIGTERM");
}

/// Sends SIGTERM to `child`.
fn sigterm(child: &std::process::Child) -> std::io::Result<()> {
    use rustix::process::{kill_process, Pid, Signal};
    kill_process(Pid::from_child(child), Signal::TERM).map_err(Into::into)
}

/// A file named `name` (its extension picks the format) in a fresh temporary
/// directory, removed with it when dropped.
struct ConfigFile {
    path: std::path::PathBuf,
    _dir: tempfile::TempDir,
}

impl ConfigFile {
    fn arg(&self) -> &str {
        self.path.to_str().expect("a UTF-8 temporary path")
    }
}

/// Writes `text` to a fresh file named `name`.
fn config_file(name: &str, text: &str) -> ConfigFile {
    let dir = tempfile::Builder::new()
        .prefix("failgate-demo-cli-")
        .tempdir()
        .expect("temp dir");
    let path = dir.path().join(name);
    std::fs::write(&path, text).expect("config written");
    ConfigFile { path, _dir: dir }
}

#[test]
fn config_files_with_bad_values_are_refused_with_their_path() {
    let bad = config_file("bad.toml", "[breakers.flaky]\nfailure_rate = 1.5\n");
    let stderr = fails(&["scenario", "--config", bad.arg()]);
    assert_mentions(
        &stderr,
        &["breakers.flaky.failure_rate: 1.5 is not in (0, 1]"],
    );
    let unknown = config_file("unknown.yaml", "breakers:\n  flaky:\n    treshold: 2\n");
    let stderr = fails(&["scenario", "--config", unknown.arg()]);
    assert_mentions(&stderr, &["breakers.flaky.treshold", "unknown field"]);
    let stderr = fails(&["scenario", "--config", "/nonexistent/failgate.toml"]);
    assert_mentions(&stderr, &["cannot read /nonexistent/failgate.toml"]);
    let lane = config_file(
        "lane.json",
        r#"{"breakers": {"shipping": {"consecutive_failures": 2}}}"#,
    );
    let stderr = fails(&["watch", "--addr", "127.0.0.1:0", "--config", lane.arg()]);
    assert_mentions(
        &stderr,
        &[
            "breakers.shipping: no such lane",
            "checkout, search, payments",
        ],
    );
}

#[test]
fn the_scenario_takes_its_breaker_from_a_config_file() {
    // Threshold 1 from the file: the first failure opens the circuit.
    let file = config_file(
        "flaky.toml",
        "[defaults]\nopen_for = \"200ms\"\n\n[breakers.flaky]\nconsecutive_failures = 1\n",
    );
    let output = run(&[
        "scenario",
        "--json",
        "--pause",
        "400ms",
        "--config",
        file.arg(),
    ]);
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    let outcomes: Vec<String> = stdout
        .lines()
        .map(|l| {
            let v: serde_json::Value = serde_json::from_str(l).expect("one JSON object a line");
            format!(
                "{}:{}",
                v["outcome"].as_str().unwrap(),
                v["state"].as_str().unwrap()
            )
        })
        .collect();
    assert_eq!(
        outcomes,
        [
            "failure:open",
            "rejected:open",
            "rejected:open",
            "rejected:open",
            "success:closed",
            "success:closed",
            "failure:open",
            "rejected:open",
            "rejected:open",
        ]
    );
}

/// Under `ulimit -n 64`, `serve` is sent more connections than it has descriptors;
/// they all stay open, idle. The server's accepts fail with EMFILE; it backs off
/// instead of spinning or exiting, its header timeout closes the idle connections it
/// holds, and a real request (queued behind them) is answered.
#[cfg(unix)]
#[test]
fn serve_outlives_emfile_and_answers_behind_idle_connections() {
    use std::io::{Read as _, Write as _};
    use std::net::TcpStream;

    let mut child = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "ulimit -n 64 && exec '{BIN}' serve --addr 127.0.0.1:0 --header-timeout 200ms"
        ))
        .env("RUST_LOG", "error")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("sh starts");
    let line = first_line(&mut child);
    let addr = line
        .trim()
        .strip_prefix("listening on http://")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
        .to_string();

    // More connections than the server's descriptors; all idle, all kept open.
    let idle: Vec<TcpStream> = (0..100)
        .map(|_| TcpStream::connect(&addr).expect("connects (the backlog takes it)"))
        .collect();
    let answered = (|| -> std::io::Result<String> {
        let mut stream = TcpStream::connect(&addr)?;
        stream.set_read_timeout(Some(Duration::from_secs(10)))?;
        stream
            .write_all(b"GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")?;
        let mut answer = String::new();
        stream.read_to_string(&mut answer)?;
        Ok(answer)
    })();
    let still_running = child.try_wait().expect("try_wait").is_none();
    drop(idle);

    let killed = sigterm(&child);
    let output = child.wait_with_output().expect("the child exits");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(still_running, "serve exited under EMFILE: {stderr}");
    let answer = answered.unwrap_or_else(|e| panic!("no answer behind the idle connections: {e}"));
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer:?}");
    assert!(
        killed.is_ok() && output.status.success(),
        "{killed:?}: {stderr}"
    );
    // Backing off, not spinning: a busy loop would log an error per failed accept,
    // millions of them in the time this took.
    let failures = stderr.matches("accept failed").count();
    assert!(
        failures > 0 && failures < 1000,
        "{failures} accept failures logged: {}",
        stderr.lines().next().unwrap_or("")
    );
}

#[test]
fn limit_and_access_flags_refuse_bad_values_naming_them() {
    let stderr = fails(&["serve", "--header-timeout", "0s"]);
    assert_mentions(
        &stderr,
        &["--header-timeout", "header_timeout", "longer than zero"],
    );
    let stderr = fails(&["serve", "--request-timeout", "soon"]);
    assert_mentions(&stderr, &["--request-timeout", "expected a duration"]);
    let stderr = fails(&["watch", "--max-connections", "0"]);
    assert_mentions(&stderr, &["--max-connections", "between 1 and 65536"]);
    let stderr = fails(&["watch", "--control-token", "has space"]);
    assert_mentions(&stderr, &["--control-token", "1 to 256 characters"]);
    let output = Command::new(BIN)
        .args(["watch", "--addr", "127.0.0.1:0"])
        .env("FAILGATE_CONTROL_TOKEN", "")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "an empty FAILGATE_CONTROL_TOKEN was taken"
    );
    assert_mentions(&stderr, &["--control-token", "1 to 256 characters"]);
    let stderr = fails(&["watch", "--allowed-host", "dash lan"]);
    assert_mentions(&stderr, &["--allowed-host", "\"dash lan\"", "NAME:PORT"]);
}
