//! The dashboard's operator routes over plain HTTP: `open_for?wait=5m`, `half_open`
//! and `close` act on the named breaker and answer its view (with the reason); a bad
//! `wait`, a missing or unknown breaker, a cross-site request or a missing token are
//! refused with a JSON 4xx naming the problem, and change nothing.

mod common;

use failgate::State;
use failgate_demo::dashboard::Watch;
use failgate_demo::service::ErrorBody;
use reqwest::header::{CONTENT_TYPE, ORIGIN};
use serde_json::Value;

use common::start_watch as start;

/// A control call as the page sends it (JSON), with the token if given.
async fn post(watch: &Watch, path: &str, token: Option<&str>) -> (u16, Value) {
    let mut request = common::client()
        .post(format!("{}{path}", watch.url()))
        .header(CONTENT_TYPE, "application/json")
        .body("{}");
    if let Some(token) = token {
        request = request.bearer_auth(token);
    }
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    (status, response.json().await.expect("a JSON body"))
}

#[track_caller]
fn assert_refused(status: u16, body: &Value, expected: u16, parameter: Option<&str>) {
    assert_eq!(status, expected, "{body}");
    let error: ErrorBody = serde_json::from_value(body.clone()).expect("an ErrorBody");
    assert_eq!(error.parameter.as_deref(), parameter, "{body}");
    assert!(!error.message.is_empty(), "{body}");
}

/// No operator's order reached any breaker (the lanes' traffic may trip them).
#[track_caller]
fn assert_untouched(watch: &Watch) {
    let snapshot = watch.snapshot();
    assert!(
        snapshot
            .breakers
            .iter()
            .all(|b| !b.reason.as_deref().unwrap_or("").contains("operator")),
        "{snapshot:?}"
    );
}

#[tokio::test]
async fn open_for_half_open_and_close_act_and_answer_the_view_with_its_reason() {
    let watch = start(None).await;
    let search = watch.registry().get("search").expect("a search breaker");

    let (status, body) = post(&watch, "/control/open_for?breaker=search&wait=5m", None).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("open")),
        "{body}"
    );
    assert_eq!(body["reason"], "opened by an operator for 5m", "{body}");
    let left = body["retry_after_ms"].as_u64().expect("a countdown");
    assert!(left > 290_000 && left <= 300_000, "{body}");
    assert_eq!(search.state(), State::Open);

    let (status, body) = post(&watch, "/control/half_open?breaker=search", None).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("half_open")),
        "{body}"
    );
    assert_eq!(body["reason"], "half-opened by an operator", "{body}");

    let (status, body) = post(&watch, "/control/close?breaker=search", None).await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("closed")),
        "{body}"
    );
    assert_eq!(body["reason"], "closed by an operator", "{body}");
    assert_eq!(search.state(), State::Closed);
    watch.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_bad_wait_or_breaker_is_a_json_400_or_404_and_changes_nothing() {
    let watch = start(None).await;
    for (query, parameter) in [
        ("breaker=search", "wait"),
        ("breaker=search&wait=", "wait"),
        ("breaker=search&wait=soon", "wait"),
        ("breaker=search&wait=-5m", "wait"),
        ("breaker=search&wait=1000000000000d", "wait"),
        ("breaker=search&wait=200years", "wait"),
        ("wait=5m", "breaker"),
    ] {
        let (status, body) = post(&watch, &format!("/control/open_for?{query}"), None).await;
        assert_refused(status, &body, 400, Some(parameter));
    }
    let (_, body) = post(&watch, "/control/open_for?breaker=search&wait=soon", None).await;
    assert!(body["message"].as_str().unwrap().contains("wait"), "{body}");
    assert_eq!(body["value"], "soon", "{body}");
    for action in ["open_for", "half_open", "close"] {
        let (status, body) = post(
            &watch,
            &format!("/control/{action}?breaker=nope&wait=5m"),
            None,
        )
        .await;
        assert_refused(status, &body, 404, Some("breaker"));
        let (status, body) = post(&watch, &format!("/control/{action}"), None).await;
        assert_refused(status, &body, 400, Some("breaker"));
    }
    assert_untouched(&watch);
    watch.shutdown().await.unwrap();
}

#[tokio::test]
async fn the_new_routes_refuse_cross_site_requests_and_need_the_token() {
    let watch = start(Some("s3cret-token")).await;
    let port = watch.local_addr().port();
    for path in [
        "/control/open_for?breaker=search&wait=5m",
        "/control/half_open?breaker=search",
        "/control/close?breaker=search",
    ] {
        let url = format!("{}{path}", watch.url());
        let response = common::client()
            .post(&url)
            .header(CONTENT_TYPE, "text/plain")
            .header(ORIGIN, "http://attacker.example")
            .bearer_auth("s3cret-token")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 403, "{path}");
        let response = common::client()
            .post(&url)
            .header(CONTENT_TYPE, "application/json")
            .header(ORIGIN, format!("http://attacker.example:{port}"))
            .bearer_auth("s3cret-token")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status().as_u16(), 403, "{path}");
        let (status, body) = post(&watch, path, None).await;
        assert_eq!(
            (status, body["error"].as_str()),
            (401, Some("missing_token")),
            "{path}"
        );
    }
    assert_untouched(&watch);
    let (status, body) = post(
        &watch,
        "/control/open_for?breaker=search&wait=90s",
        Some("s3cret-token"),
    )
    .await;
    assert_eq!(
        (status, body["state"].as_str()),
        (200, Some("open")),
        "{body}"
    );
    watch.shutdown().await.unwrap();
}
