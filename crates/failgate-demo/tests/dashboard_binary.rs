//! The `failgate-demo watch` binary: its flags are checked, it prints its URLs,
//! serves, and stops on SIGTERM. Real processes, every wait bounded.

mod common;

use std::process::{Command, Stdio};
use std::time::Duration;

use common::process::{Running, BIN};
use common::snapshot;
use rustix::process::{kill_process, Signal};

#[test]
fn watch_refuses_a_rate_above_50() {
    let output = Command::new(BIN)
        .args(["watch", "--rate", "51"])
        .stdin(Stdio::null())
        .output()
        .unwrap();
    assert!(!output.status.success());
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("--rate") && stderr.contains("at most 50"),
        "{stderr}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watch_binary_prints_its_urls_serves_and_stops_on_sigterm() {
    let mut command = Command::new(BIN);
    command
        .args(["watch", "--addr", "127.0.0.1:0", "--seed", "3"])
        .env("RUST_LOG", "warn")
        .stderr(Stdio::null());
    let mut watch = Running::spawn(command);
    let within = Duration::from_secs(20);
    let line = watch.line_where("at all", within, |_| true);
    let url = line
        .strip_prefix("dashboard on ")
        .unwrap_or_else(|| panic!("unexpected first line {line:?}"));
    let base = url.strip_suffix("/dashboard").unwrap().to_owned();
    assert_eq!(
        watch.line_where("after the dashboard's", within, |_| true),
        format!("metrics on {base}/metrics")
    );
    let traffic = watch.line_where("after the metrics'", within, |_| true);
    assert!(
        traffic.starts_with("traffic to http://127.0.0.1:"),
        "the in-process service on loopback: {traffic:?}"
    );
    assert!(!base.ends_with(":0"), "{base}");
    let s = snapshot(&base).await;
    assert_eq!(s.breakers.len(), 3);

    kill_process(watch.pid(), Signal::TERM).expect("SIGTERM sent");
    let exit = tokio::task::spawn_blocking(move || {
        let exit = watch.wait_exit(within);
        (exit, watch)
    })
    .await
    .unwrap()
    .0;
    assert!(exit.success(), "watch exited with {exit}");
}
