//! `failgate-demo watch` over real HTTP: the control endpoints, /metrics, the page,
//! its history and event stream; and the scripted schedules under paused tokio time.
//! The binary is `dashboard_binary.rs`, the page in a real browser `dashboard.rs`.

mod common;

use std::sync::Arc;
use std::time::Duration;

use common::{breaker, client, post, snapshot, start_seeded as start};
use failgate::State;
use failgate_demo::dashboard::{self, Config, Target, Watch, WatchSnapshot};
use failgate_demo::service::{self, ErrorBody, Stats};
use serde_json::Value;

fn assert_error(status: u16, body: &Value, expected: u16, parameter: Option<&str>) {
    assert_eq!(status, expected, "{body}");
    let error: ErrorBody = serde_json::from_value(body.clone()).expect("an ErrorBody");
    assert_eq!(error.status, expected);
    assert_eq!(error.parameter.as_deref(), parameter, "{body}");
    assert!(!error.message.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_endpoints_refuse_bad_input_with_json_400_and_404() {
    let watch = start().await;
    let base = watch.url();
    for action in ["force_open", "reset", "ratio"] {
        let (status, body) = post(&format!("{base}/control/{action}")).await;
        assert_error(status, &body, 400, Some("breaker"));
        let (status, body) = post(&format!("{base}/control/{action}?breaker=")).await;
        assert_error(status, &body, 400, Some("breaker"));
        let (status, body) = post(&format!("{base}/control/{action}?breaker=nope&ratio=0.5")).await;
        assert_error(status, &body, 404, Some("breaker"));
        assert!(
            body["message"].as_str().unwrap().contains("checkout"),
            "the 404 lists the known breakers: {body}"
        );
    }
    for bad in ["1.5", "-0.1", "nan", "abc", "", "inf"] {
        let (status, body) = post(&format!(
            "{base}/control/ratio?breaker=checkout&ratio={bad}"
        ))
        .await;
        assert_error(status, &body, 400, Some("ratio"));
    }
    let (status, body) = post(&format!("{base}/control/ratio?breaker=checkout")).await;
    assert_error(status, &body, 400, Some("ratio"));
    // A query string that is not one.
    let (status, body) = post(&format!("{base}/control/reset?breaker=a&breaker=b")).await;
    assert_eq!(status, 400, "{body}");
    // The refused requests changed nothing.
    let s = watch.snapshot();
    assert!(s.breakers.iter().all(|b| !b.pinned), "{s:?}");
    assert!(s.breakers.iter().all(|b| b.state != "forced_open"), "{s:?}");
    // Controls are POST only; other paths are JSON 404s.
    let response = client()
        .get(format!("{base}/control/reset?breaker=checkout"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 405);
    let body: Value = response.json().await.unwrap();
    assert_error(405, &body, 405, None);
    let response = client().get(format!("{base}/nope")).send().await.unwrap();
    assert_eq!(response.status().as_u16(), 404);
    watch.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn control_endpoints_force_open_reset_and_pin_ratios() {
    let watch = start().await;
    let base = watch.url();
    let search = watch.registry().get("search").expect("a search breaker");

    let (status, body) = post(&format!("{base}/control/force_open?breaker=search")).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("forced_open")));
    assert_eq!(search.state(), State::ForcedOpen);

    let (status, body) = post(&format!("{base}/control/reset?breaker=search")).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("closed")));
    assert_eq!(search.state(), State::Closed);

    let (status, body) = post(&format!("{base}/control/ratio?breaker=search&ratio=0.9")).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(
        (body["ratio"].as_f64(), body["pinned"].as_bool()),
        (Some(0.9), Some(true))
    );
    let s = snapshot(&base).await;
    assert!(breaker(&s, "search").pinned);
    assert!(!breaker(&s, "checkout").pinned, "only the named lane");

    let (status, body) = post(&format!("{base}/control/ratio?breaker=search&ratio=auto")).await;
    assert_eq!((status, body["pinned"].as_bool()), (200, Some(false)));
    watch.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_endpoint_serves_prometheus_text_for_every_breaker() {
    let watch = start().await;
    let response = client()
        .get(format!("{}/metrics", watch.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status().as_u16(), 200);
    let content_type = response.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let text = response.text().await.unwrap();
    for name in ["checkout", "search", "payments"] {
        for series in [
            format!("failgate_calls_total{{breaker=\"{name}\",outcome=\"success\"}}"),
            format!("failgate_calls_total{{breaker=\"{name}\",outcome=\"rejected\"}}"),
            format!("failgate_transitions_total{{breaker=\"{name}\",to=\"open\"}}"),
            format!("failgate_state{{breaker=\"{name}\"}}"),
            format!("failgate_window_calls{{breaker=\"{name}\"}}"),
        ] {
            assert!(text.contains(&series), "no {series} in:\n{text}");
        }
    }
    // checkout trips on consecutive failures and keeps no window: its failure rate is
    // never known, so its gauge never appears (never a made-up value).
    assert!(
        !text.contains("failgate_failure_rate{breaker=\"checkout\""),
        "{text}"
    );
    watch.shutdown().await.expect("clean shutdown");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_page_history_and_event_stream_are_served() {
    let watch = start().await;
    let base = watch.url();
    let page = client()
        .get(format!("{base}/dashboard"))
        .send()
        .await
        .unwrap();
    assert_eq!(page.status().as_u16(), 200);
    assert!(page.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/html"));
    let html = page.text().await.unwrap();
    assert_eq!(html, dashboard::PAGE);
    assert!(html.contains("new EventSource(\"/events\")"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "nothing fetched from elsewhere"
    );

    let history: dashboard::History = client()
        .get(format!("{base}/api/history"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(history.names, ["checkout", "search", "payments"]);
    assert!(!history.samples.is_empty(), "sampled at start");
    assert!(history.samples.iter().all(|s| s.points.len() == 3));

    // The stream's first event is the latest snapshot, at once.
    let mut events = client().get(format!("{base}/events")).send().await.unwrap();
    assert!(events.headers()[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("text/event-stream"));
    let mut text = String::new();
    while !text.contains("\n\n") {
        let chunk = tokio::time::timeout(Duration::from_secs(5), events.chunk())
            .await
            .expect("an event within 5 s")
            .unwrap()
            .expect("the stream is open");
        text.push_str(&String::from_utf8_lossy(&chunk));
    }
    let data = text
        .lines()
        .find_map(|l| l.strip_prefix("data:"))
        .unwrap_or_else(|| panic!("no data line in {text:?}"));
    assert!(text.starts_with("event: snapshot\n"), "{text:?}");
    let first: WatchSnapshot = serde_json::from_str(data.trim()).unwrap();
    assert_eq!(first.breakers.len(), 3);
    drop(events);

    // Shutting down ends open streams rather than waiting on them.
    let _open = client().get(format!("{base}/events")).send().await.unwrap();
    tokio::time::timeout(Duration::from_secs(5), watch.shutdown())
        .await
        .expect("shutdown does not wait on an open event stream")
        .expect("clean shutdown");
}

/// The scripted schedules, under paused tokio time with the flaky service's router
/// called in-process: over a minute and a bit, every breaker trips and closes again on
/// its own; each lane stays within its rate; refused calls never reach the service.
#[tokio::test(start_paused = true)]
async fn schedules_trip_and_heal_every_breaker_within_a_minute() {
    let stats = Arc::new(Stats::default());
    let router = service::router(&service::Config::ephemeral(), 7, Arc::clone(&stats));
    let watch = Watch::spawn(Config {
        target: Some(Target::Router(router)),
        ..Config::ephemeral()
    })
    .await
    .unwrap();
    let run = Duration::from_secs(65);
    tokio::time::sleep(run).await;

    let metrics = watch.render_metrics();
    let value = |series: &str| -> f64 {
        metrics
            .lines()
            .find_map(|l| l.strip_prefix(series)?.trim().parse().ok())
            .unwrap_or_else(|| panic!("no {series} in:\n{metrics}"))
    };
    let s = watch.snapshot();
    let mut sent = 0;
    for b in &s.breakers {
        let name = &b.name;
        let opened = value(&format!(
            "failgate_transitions_total{{breaker=\"{name}\",to=\"open\"}}"
        ));
        let closed = value(&format!(
            "failgate_transitions_total{{breaker=\"{name}\",to=\"closed\"}}"
        ));
        assert!(
            opened >= 1.0 && closed >= 1.0,
            "{name}: opened {opened}, closed {closed}"
        );
        // The Prometheus counters agree with the lane's own.
        let success = value(&format!(
            "failgate_calls_total{{breaker=\"{name}\",outcome=\"success\"}}"
        ));
        let rejected = value(&format!(
            "failgate_calls_total{{breaker=\"{name}\",outcome=\"rejected\"}}"
        ));
        assert_eq!(
            (success, rejected),
            (b.succeeded as f64, b.rejected as f64),
            "{name}"
        );
        assert!(b.rejected > 0, "{name}: refused nothing while open");
        let calls = b.succeeded + b.failed + b.rejected;
        let bound = (dashboard::DEFAULT_RATE * run.as_secs_f64()) as u64 + 1;
        assert!(
            calls <= bound,
            "{name}: {calls} calls in {run:?}, above {bound}"
        );
        assert!(
            calls >= bound * 9 / 10,
            "{name}: only {calls} calls in {run:?}"
        );
        sent += b.succeeded + b.failed;
    }
    // The rate gauges of windowed breakers are known by now; checkout has no window.
    assert!(metrics.contains("failgate_failure_rate{breaker=\"search\"}"));
    assert!(metrics.contains("failgate_failure_rate{breaker=\"payments\"}"));
    assert!(!metrics.contains("failgate_failure_rate{breaker=\"checkout\"}"));
    // The history saw the openings too, and keeps its bound.
    let history = watch.history();
    assert!(history.samples.len() <= dashboard::DEFAULT_HISTORY);
    for (i, name) in history.names.iter().enumerate() {
        assert!(
            history.samples.iter().any(|s| s.points[i].state == "open"),
            "{name} never sampled open"
        );
    }
    watch.shutdown().await.unwrap();
    assert_eq!(
        stats.snapshot().random,
        sent,
        "the service saw exactly the calls the breakers let through"
    );
}
