//! `failgate-demo fleet` end to end: the real binary, three instances sharing one breaker
//! through a real Redis started here (Debian's `redis-server`, on a free loopback port,
//! no persistence). Without `redis-server` the Redis test skips, saying so, except on CI
//! (`CI=true`), where it fails. The flag checks and the unreachable-Redis test need no
//! server.

use failgate_redis::testing::{RedisServer, ServerError};
use std::io::Read;
use std::net::TcpListener;
use std::process::{Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

const BIN: &str = env!("CARGO_BIN_EXE_failgate-demo");

/// A redis-server of the test's own, or `None` (after saying why) when the test may
/// skip. On CI (`CI=true`) a missing server fails the test: `.ci/run` installs it.
fn redis_server() -> Option<RedisServer> {
    match RedisServer::start() {
        Ok(server) => Some(server),
        Err(ServerError::NotFound) => {
            let message = "`redis-server` is not on PATH; install Debian's package \
                           (apt-get install redis-server), as .ci/run does";
            assert!(
                std::env::var("CI").as_deref() != Ok("true"),
                "{message} (CI=true: not skipping)"
            );
            eprintln!("skipping the fleet test: {message}");
            None
        }
        Err(e) => panic!("{e}"),
    }
}

/// A loopback port that was free a moment ago.
fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("a free port")
        .port()
}

/// What a run of the binary gave.
struct Run {
    status: ExitStatus,
    stdout: String,
    stderr: String,
    took: Duration,
}

/// Runs the binary with `args`; kills it and fails the test if it outlives `limit`.
fn run(args: &[&str], limit: Duration) -> Run {
    let start = Instant::now();
    let mut child = Command::new(BIN)
        .args(args)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("the binary starts");
    // Read both pipes on threads, so a full pipe cannot stall the child.
    let read = |mut pipe: Box<dyn Read + Send>| {
        std::thread::spawn(move || {
            let mut text = String::new();
            let _ = pipe.read_to_string(&mut text);
            text
        })
    };
    let stdout = read(Box::new(child.stdout.take().expect("piped stdout")));
    let stderr = read(Box::new(child.stderr.take().expect("piped stderr")));
    let status = loop {
        if let Some(status) = child.try_wait().expect("the child can be waited on") {
            break status;
        }
        if start.elapsed() > limit {
            let _ = child.kill();
            let _ = child.wait();
            panic!(
                "{args:?} still ran after {limit:?}; stdout so far:\n{}\nstderr:\n{}",
                stdout.join().unwrap_or_default(),
                stderr.join().unwrap_or_default()
            );
        }
        std::thread::sleep(Duration::from_millis(10));
    };
    Run {
        status,
        stdout: stdout.join().expect("stdout reader"),
        stderr: stderr.join().expect("stderr reader"),
        took: start.elapsed(),
    }
}

/// The number after `prefix` in `line`, e.g. `2` in "...: 2 of 246 attempts".
fn number_after(line: &str, prefix: &str) -> u64 {
    let rest = &line[line
        .find(prefix)
        .unwrap_or_else(|| panic!("{prefix:?} in {line:?}"))
        + prefix.len()..];
    rest.split(|c: char| !c.is_ascii_digit())
        .next()
        .and_then(|digits| digits.parse().ok())
        .unwrap_or_else(|| panic!("a number after {prefix:?} in {line:?}"))
}

fn line_with<'a>(stdout: &'a str, needle: &str) -> &'a str {
    stdout
        .lines()
        .find(|line| line.contains(needle))
        .unwrap_or_else(|| panic!("no line with {needle:?} in:\n{stdout}"))
}

#[test]
fn three_instances_trip_refuse_probe_and_close_together() {
    let Some(redis) = redis_server() else { return };
    let url = redis.url();
    let out = run(
        &["fleet", "--instances", "3", "--redis", &url],
        Duration::from_secs(30),
    );
    let stdout = &out.stdout;
    assert!(
        out.status.success(),
        "fleet failed ({}):\nstdout:\n{stdout}\nstderr:\n{}",
        out.status,
        out.stderr
    );
    assert!(
        out.took < Duration::from_secs(15),
        "the story took {:?}",
        out.took
    );
    assert!(
        stdout.contains(&format!("on {url}, shared by 3 instances")),
        "{stdout}"
    );
    assert!(stdout.contains("all 3 instances reached Redis"), "{stdout}");

    // 1: every instance closed, calling /success.
    for i in 1..=3 {
        line_with(
            stdout,
            &format!("instance {i}: closed, GET /success -> 200 200"),
        );
    }
    // 2: instance 1's failures trip the breaker, fleet-wide.
    line_with(stdout, "the fleet breaker trips OPEN");
    // 3: each instance refuses, by its own observation; nothing reaches the service.
    for i in 1..=3 {
        let line = line_with(stdout, &format!("instance {i}: refused "));
        assert!(line.contains("after the trip (circuit open"), "{line}");
        let line = line_with(stdout, &format!("instance {i}: 10 attempts, "));
        assert!(line.ends_with("10 refused, 0 sent"), "{line}");
    }
    let open = line_with(stdout, "requests while the breaker was open");
    assert_eq!(number_after(open, "the service received "), 0, "{open}");
    // 4: at most the permits' worth of probes reached the service, fleet-wide.
    let probes = line_with(stdout, "probes that reached the service, fleet-wide: ");
    let reached = number_after(probes, "fleet-wide: ");
    let permits = number_after(probes, "half_open_permits = ");
    assert!(
        (1..=permits).contains(&reached),
        "{reached} probes, {permits} permits: {probes}"
    );
    assert!(
        number_after(probes, " of ") > reached,
        "the others tried too: {probes}"
    );
    // 5: every instance closed.
    for i in 1..=3 {
        let line = line_with(stdout, &format!("instance {i}: closed, saw CLOSED "));
        assert!(line.contains("after the open wait ended"), "{line}");
    }
    line_with(stdout, "3 of 3 instances saw CLOSED");
    line_with(stdout, "every instance calls /success again: 200 200 200");
    let summary = line_with(stdout, "summary: ");
    assert!(
        summary.contains("3/3 instances refused while open")
            && summary.contains("0 requests reached the service while open")
            && summary.contains("3/3 instances closed"),
        "{summary}"
    );
}

#[test]
fn an_unreachable_redis_fails_fast_and_names_the_url() {
    // Nothing listens on a port that was free a moment ago.
    let url = format!("redis://127.0.0.1:{}", free_port());
    let out = run(&["fleet", "--redis", &url], Duration::from_secs(20));
    assert!(!out.status.success(), "fleet succeeded:\n{}", out.stdout);
    assert!(
        out.took < Duration::from_secs(10),
        "took {:?} to give up",
        out.took
    );
    for needle in [
        "error: cannot reach Redis at ",
        url.as_str(),
        "FleetBreaker::mode() is Local",
        "Connection refused",
    ] {
        assert!(
            out.stderr.contains(needle),
            "stderr lacks {needle:?}:\n{}",
            out.stderr
        );
    }
    assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
}

#[test]
fn instances_must_be_1_to_64() {
    for bad in ["0", "65", "-1", "three"] {
        // `--instances=-1`: clap would read a separate "-1" as a flag.
        let flag = format!("--instances={bad}");
        let out = run(&["fleet", &flag], Duration::from_secs(10));
        assert!(!out.status.success(), "--instances {bad} was accepted");
        assert_eq!(
            out.status.code(),
            Some(2),
            "clap's usage error: {}",
            out.stderr
        );
        assert!(
            out.stderr.contains("--instances") && out.stderr.contains(&format!("'{bad}'")),
            "{}",
            out.stderr
        );
        assert!(out.stdout.is_empty(), "{}", out.stdout);
    }
    let out = run(&["fleet", "--instances", "0"], Duration::from_secs(10));
    assert!(out.stderr.contains("0 is not in 1..=64"), "{}", out.stderr);
}

#[test]
fn bad_redis_urls_are_refused_clearly() {
    for (bad, expected) in [
        ("nonsense", "expected a redis:// URL"),
        ("localhost:6379", "did you mean redis://localhost:6379"),
        ("http://127.0.0.1:6379", "unsupported scheme `http`"),
        ("rediss://127.0.0.1:6379", "TLS"),
        ("redis://127.0.0.1:99999", "expected a redis:// URL"),
        ("redis://127.0.0.1/cache", "database number"),
    ] {
        let out = run(&["fleet", "--redis", bad], Duration::from_secs(10));
        assert_eq!(out.status.code(), Some(2), "--redis {bad}: {}", out.stderr);
        assert!(
            out.stderr.contains("--redis") && out.stderr.contains(expected),
            "--redis {bad}: stderr lacks {expected:?}:\n{}",
            out.stderr
        );
        assert!(!out.stderr.contains("panicked"), "{}", out.stderr);
    }
}
