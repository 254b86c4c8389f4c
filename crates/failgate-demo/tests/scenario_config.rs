//! `scenario --config FILE` says whether the file's breaker `flaky` or its defaults
//! set the scenario's breaker.

use std::process::{Command, Output, Stdio};

const BIN: &str = env!("CARGO_BIN_EXE_failgate-demo");

fn scenario_with(text: &str) -> Output {
    let dir = tempfile::tempdir().expect("a temporary directory");
    let path = dir.path().join("breakers.toml");
    std::fs::write(&path, text).expect("config written");
    let output = Command::new(BIN)
        .args(["scenario", "--json", "--pause", "300ms", "--config"])
        .arg(&path)
        .env_remove("RUST_LOG")
        .stdin(Stdio::null())
        .output()
        .expect("the binary runs");
    assert!(
        output.status.success(),
        "{}",
        String::from_utf8_lossy(&output.stderr)
    );
    output
}

#[test]
fn a_config_file_without_a_flaky_breaker_says_that_its_defaults_apply() {
    let output = scenario_with(
        "[defaults]\nconsecutive_failures = 2\nopen_for = \"200ms\"\n\n\
         [breakers.payments]\nconsecutive_failures = 9\n",
    );
    let stderr = String::from_utf8_lossy(&output.stderr);
    for needle in [
        "no breaker named \"flaky\"",
        "its defaults apply",
        "consecutive_failures = 2",
        "open_for = 200ms",
    ] {
        assert!(
            stderr.contains(needle),
            "stderr lacks {needle:?}:\n{stderr}"
        );
    }
    // stdout stays one JSON object a line.
    for line in String::from_utf8_lossy(&output.stdout).lines() {
        serde_json::from_str::<serde_json::Value>(line).expect("JSON");
    }

    let own = scenario_with("[breakers.flaky]\nconsecutive_failures = 1\nopen_for = \"200ms\"\n");
    let stderr = String::from_utf8_lossy(&own.stderr);
    assert!(!stderr.contains("defaults apply"), "{stderr}");
}
