//! End to end: the real binary runs the scenario against a service started here, and the
//! service's counters show what reached it.

mod common;

use std::process::{Command, Output, Stdio};

use failgate_demo::scenario::{StepOutcome, StepReport};
use failgate_demo::service::{self, Endpoint};

const BIN: &str = env!("CARGO_BIN_EXE_failgate-demo");

/// Runs the binary off the async runtime, so the in-test server keeps serving.
async fn run(args: Vec<String>) -> Output {
    tokio::task::spawn_blocking(move || {
        Command::new(BIN)
            .args(&args)
            .env_remove("RUST_LOG")
            .stdin(Stdio::null())
            .output()
            .expect("the binary runs")
    })
    .await
    .expect("the runner thread joined")
}

fn args(list: &[&str]) -> Vec<String> {
    list.iter().map(|s| s.to_string()).collect()
}

fn parse_reports(output: &Output) -> Vec<StepReport> {
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "scenario failed: {stderr}");
    stdout
        .lines()
        .map(|line| {
            serde_json::from_str(line)
                .unwrap_or_else(|e| panic!("not a step report: {line:?}: {e}"))
        })
        .collect()
}

/// Both clients (`--client direct`, the default, and `--client tower`) tell the same
/// nine steps, and only six requests reach the server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_seed_scenario_runs_against_a_served_target_with_either_client() {
    let mut sequences = Vec::new();
    for client in ["direct", "tower"] {
        let reports = the_seed_scenario_with(client).await;
        let sequence: Vec<_> = reports
            .iter()
            .map(|r| (r.step, r.endpoint, r.outcome, r.state.clone(), r.status))
            .collect();
        sequences.push((client, sequence));
    }
    assert_eq!(
        sequences[0].1, sequences[1].1,
        "{} and {} differ",
        sequences[0].0, sequences[1].0
    );
}

async fn the_seed_scenario_with(client: &str) -> Vec<StepReport> {
    let server = common::start(service::Config::default()).await;
    let output = run(args(&[
        "scenario",
        "--json",
        "--client",
        client,
        "--open-for",
        "200ms",
        "--pause",
        "300ms",
        "--target",
        &server.url(),
    ]))
    .await;
    let reports = parse_reports(&output);

    use Endpoint::{Failure as F, Success as S};
    use StepOutcome::{Failure, Rejected, Success};
    let expected = [
        (F, Failure, "closed"),
        (F, Failure, "open"),
        (F, Rejected, "open"),
        (S, Rejected, "open"),
        (S, Success, "closed"),
        (S, Success, "closed"),
        (F, Failure, "closed"),
        (F, Failure, "open"),
        (S, Rejected, "open"),
    ];
    assert_eq!(reports.len(), expected.len(), "{reports:#?}");
    for (i, (report, (endpoint, outcome, state))) in reports.iter().zip(expected).enumerate() {
        assert_eq!(report.step as usize, i + 1);
        assert_eq!(
            (report.endpoint, report.outcome, report.state.as_str()),
            (endpoint, outcome, state),
            "{client}: step {}",
            i + 1
        );
        match outcome {
            Rejected => {
                let retry = report.retry_after_ms.expect("a refusal says when to retry");
                assert!(retry <= 200, "step {}: retry after {retry}ms", i + 1);
                assert_eq!(report.status, None);
            }
            Success => assert_eq!(report.status, Some(200)),
            Failure => assert_eq!(report.status, Some(500)),
        }
    }

    // Refused calls never reached the server: steps 1, 2, 7, 8 to /failure, 5, 6 to
    // /success.
    let stats = server.stats().snapshot();
    assert_eq!(
        (stats.failure, stats.success, stats.total),
        (4, 2, 6),
        "{client}: {stats:?}"
    );
    server.shutdown().await.expect("clean shutdown");
    reports
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pause_shorter_than_open_for_leaves_step_5_refused() {
    let server = common::start(service::Config::default()).await;
    let output = run(args(&[
        "scenario",
        "--json",
        "--open-for",
        "10s",
        "--pause",
        "50ms",
        "--target",
        &server.url(),
    ]))
    .await;
    let reports = parse_reports(&output);
    assert_eq!(reports.len(), 9);
    let outcomes: Vec<_> = reports.iter().map(|r| r.outcome).collect();
    let mut expected = vec![StepOutcome::Failure; 2];
    expected.extend([StepOutcome::Rejected; 7]);
    assert_eq!(outcomes, expected);
    assert!(reports[2..].iter().all(|r| r.state == "open"));
    assert_eq!(server.stats().snapshot().total, 2);
}

/// The human story, with the service in-process (no `--target`) and no subcommand;
/// `--client tower` tells the very same story.
#[tokio::test]
async fn the_default_command_tells_the_story() {
    let direct = the_story_with(&[]).await;
    let tower = the_story_with(&["--client", "tower"]).await;
    assert_eq!(
        normalized(&direct),
        normalized(&tower),
        "--- direct ---\n{direct}\n--- tower ---\n{tower}"
    );
}

/// The story without what varies from run to run: timestamps, the service's port and
/// the milliseconds left to wait.
fn normalized(story: &str) -> Vec<String> {
    story
        .lines()
        .map(|line| {
            let line = line.split_once("s] ").map_or(line, |(_, rest)| rest);
            let mut words: Vec<String> = line.split(' ').map(str::to_string).collect();
            for i in 0..words.len() {
                if let Some(at) = words[i].find("127.0.0.1:") {
                    words[i].truncate(at + "127.0.0.1:".len());
                }
                if i >= 2 && words[i - 2] == "retry" && words[i - 1] == "after" {
                    words[i] = "_".into();
                }
            }
            words.join(" ")
        })
        .collect()
}

async fn the_story_with(extra: &[&str]) -> String {
    let mut list = vec!["--open-for", "200ms", "--pause", "300ms"];
    list.extend(extra);
    let output = run(args(&list)).await;
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    assert!(
        output.status.success(),
        "failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    // The key lines, in this order.
    let story = [
        "in-process flaky service at http://127.0.0.1:",
        "step 1: GET /failure -> 500 Internal Server Error (failure 1/2)",
        "step 2: GET /failure -> 500 Internal Server Error (failure 2/2: threshold reached)",
        "circuit OPEN for 200ms",
        "step 3: GET /failure refused: circuit open, retry after",
        "step 4: GET /success refused: circuit open, retry after",
        "pausing 300ms",
        "circuit HALF-OPEN: probing",
        "step 5: GET /success -> 200 OK",
        "circuit CLOSED",
        "step 6: GET /success -> 200 OK",
        "step 7: GET /failure -> 500 Internal Server Error (failure 1/2)",
        "step 8: GET /failure -> 500 Internal Server Error (failure 2/2: threshold reached)",
        "circuit OPEN for 200ms",
        "step 9: GET /success refused: circuit open, retry after",
        "done: 6 requests reached the server, 3 were refused",
    ];
    let mut rest = stdout.as_str();
    for line in story {
        match rest.find(line) {
            Some(at) => rest = &rest[at + line.len()..],
            None => panic!("missing or out of order: {line:?}\n--- stdout ---\n{stdout}"),
        }
    }
    // Every line is timestamped.
    assert!(
        stdout
            .lines()
            .all(|l| l.starts_with('[') && l.contains("s] ")),
        "{stdout}"
    );
    stdout
}

/// The library refuses bad settings with a typed error naming the field, before any
/// request or server start.
#[tokio::test]
async fn invalid_settings_are_errors_not_panics() {
    use failgate_demo::scenario::{self, Config, ScenarioError};
    use std::time::Duration;

    let cases = [
        (
            Config {
                threshold: 0,
                ..Config::default()
            },
            "threshold",
        ),
        (
            Config {
                open_for: Duration::ZERO,
                ..Config::default()
            },
            "open-for",
        ),
        (
            Config {
                pause: Duration::ZERO,
                ..Config::default()
            },
            "pause",
        ),
        (
            Config {
                timeout: Duration::ZERO,
                ..Config::default()
            },
            "timeout",
        ),
    ];
    for (config, field) in cases {
        let error = scenario::run(config, Box::new(std::io::sink()))
            .await
            .expect_err("refused");
        assert!(
            matches!(&error, ScenarioError::Invalid { field: f, .. } if *f == field),
            "{error:?}"
        );
        assert!(
            error.to_string().starts_with(&format!("invalid {field}: ")),
            "{error}"
        );
    }
}
