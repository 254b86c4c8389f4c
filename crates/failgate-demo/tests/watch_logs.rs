//! What `failgate-demo watch` logs at the default level: its URL first, transitions and
//! a periodic summary, and no line per request. A short real run of the binary (the
//! log format is the binary's, so nothing in-process would show it); every wait is
//! bounded.

mod common;

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use common::process::Running;

/// `POST /control/{action}?breaker=checkout` on `addr`, with the JSON the route asks for.
fn control(addr: &str, action: &str) -> String {
    let mut stream = TcpStream::connect(addr).expect("the dashboard accepts");
    write!(
        stream,
        "POST /control/{action}?breaker=checkout HTTP/1.1\r\nHost: {addr}\r\n\
         Content-Type: application/json\r\nContent-Length: 2\r\nConnection: close\r\n\r\n{{}}"
    )
    .unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    answer
}

#[test]
fn watch_logs_its_url_first_then_transitions_and_summaries_but_no_request_lines() {
    let mut child = Running::demo(&[
        "watch",
        "--addr",
        "127.0.0.1:0",
        "--seed",
        "7",
        "--summary-every",
        "300ms",
    ]);
    let deadline = Instant::now() + Duration::from_secs(15);
    let mut addr = None;
    let mut forced = false;
    let done = |seen: &[String]| {
        let summaries = seen.iter().filter(|l| l.contains("summary")).count();
        let reopened = seen
            .iter()
            .any(|l| l.contains("checkout") && l.contains("circuit closed"));
        summaries >= 2 && reopened
    };
    while !done(&child.seen) {
        let Some(line) = child.next_line_before(deadline) else {
            panic!(
                "watch did not log what it should within 15 s:\n{}",
                child.seen.join("\n")
            )
        };
        if addr.is_none() {
            addr = line
                .strip_prefix("dashboard on http://")
                .and_then(|rest| rest.split('/').next())
                .map(str::to_owned);
        }
        if let (Some(addr), false) = (&addr, forced) {
            forced = true;
            assert!(control(addr, "force_open").starts_with("HTTP/1.1 200"));
            assert!(control(addr, "reset").starts_with("HTTP/1.1 200"));
        }
    }
    let seen = std::mem::take(&mut child.seen);
    let log = seen.join("\n");

    let url_line = seen
        .iter()
        .position(|l| l.starts_with("dashboard on http://"));
    assert!(
        url_line.is_some_and(|i| i < 5),
        "the URL is among the first lines:\n{log}"
    );
    let per_request = seen.iter().filter(|l| l.contains("uri=")).count();
    assert_eq!(per_request, 0, "no line per request at INFO:\n{log}");
    assert!(
        seen.iter().any(|l| l.contains("checkout")
            && l.contains("circuit opened")
            && l.contains("forced")),
        "the forced opening is logged:\n{log}"
    );
    let summary = seen.iter().find(|l| l.contains("summary")).unwrap();
    for lane in ["checkout", "search", "payments"] {
        assert!(
            summary.contains(lane),
            "the summary names {lane}: {summary}"
        );
    }
    assert!(seen.len() < 40, "a short, readable log:\n{log}");
}
