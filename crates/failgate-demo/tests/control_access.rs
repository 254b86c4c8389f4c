//! The dashboard's control endpoints resist cross-site requests: a simple (no-cors)
//! POST, a foreign `Origin`, a rebinding `Host` and, when a control token is set, a
//! missing or wrong token are all refused with a JSON 4xx, and change nothing.

mod common;

use failgate_demo::dashboard::Watch;
use failgate_demo::service::ErrorBody;
use reqwest::header::{CONTENT_TYPE, HOST, ORIGIN};
use serde_json::Value;

use common::start_watch as start;

async fn answer(request: reqwest::RequestBuilder) -> (u16, Value) {
    let response = request.send().await.expect("the server answers");
    let status = response.status().as_u16();
    let body = response.json().await.expect("a JSON body");
    (status, body)
}

/// The status and `error` of a refusal, checking its body is an [`ErrorBody`].
fn refusal(status: u16, body: &Value) -> (u16, String) {
    assert!(status >= 400, "accepted with {status}: {body}");
    let error: ErrorBody = serde_json::from_value(body.clone()).expect("an ErrorBody");
    assert_eq!(error.status, status, "{body}");
    assert!(!error.message.is_empty(), "{body}");
    (status, error.error)
}

fn state(watch: &Watch, name: &str) -> String {
    let snapshot = watch.snapshot();
    let view = snapshot.breakers.iter().find(|b| b.name == name);
    view.map(|b| b.state.clone()).unwrap_or_default()
}

fn force_open(watch: &Watch) -> reqwest::RequestBuilder {
    common::client().post(format!("{}/control/force_open?breaker=search", watch.url()))
}

#[tokio::test]
async fn a_text_plain_post_from_another_site_is_refused_and_the_breaker_stays_closed() {
    let watch = start(None).await;
    // What a page elsewhere can send with `fetch(url, {method: "POST", mode: "no-cors"})`.
    let (status, body) = answer(
        force_open(&watch)
            .header(CONTENT_TYPE, "text/plain;charset=UTF-8")
            .header(ORIGIN, "http://attacker.example")
            .body("{}"),
    )
    .await;
    assert_eq!(refusal(status, &body), (403, "forbidden_origin".into()));
    // The same simple request without an Origin (curl, a form post that hides it).
    let (status, body) = answer(
        force_open(&watch)
            .header(CONTENT_TYPE, "text/plain")
            .body("{}"),
    )
    .await;
    assert_eq!(
        refusal(status, &body),
        (415, "unsupported_media_type".into())
    );
    let (status, body) = answer(force_open(&watch)).await;
    assert_eq!(
        refusal(status, &body),
        (415, "unsupported_media_type".into())
    );
    assert_ne!(state(&watch, "search"), "forced_open");
    watch.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_json_control_request_from_a_foreign_origin_is_refused() {
    let watch = start(None).await;
    let port = watch.local_addr().port();
    for origin in [
        "http://attacker.example".to_string(),
        format!("http://attacker.example:{port}"),
        format!("https://127.0.0.1:{port}"),
        format!("http://127.0.0.1:{}", port.wrapping_add(1)),
        "null".to_string(),
    ] {
        let (status, body) = answer(
            force_open(&watch)
                .header(CONTENT_TYPE, "application/json")
                .header(ORIGIN, &origin)
                .body("{}"),
        )
        .await;
        assert_eq!(
            refusal(status, &body),
            (403, "forbidden_origin".into()),
            "{origin}"
        );
    }
    assert_ne!(state(&watch, "search"), "forced_open");
    watch.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_rebinding_host_header_is_refused_on_every_route() {
    let watch = start(None).await;
    let port = watch.local_addr().port();
    let host = format!("attacker.example:{port}");
    let (status, body) = answer(
        force_open(&watch)
            .header(HOST, &host)
            .header(CONTENT_TYPE, "application/json")
            .header(ORIGIN, format!("http://{host}"))
            .body("{}"),
    )
    .await;
    assert_eq!(refusal(status, &body), (403, "forbidden_host".into()));
    for path in ["/dashboard", "/api/snapshot", "/metrics"] {
        let (status, body) = answer(
            common::client()
                .get(format!("{}{path}", watch.url()))
                .header(HOST, &host),
        )
        .await;
        assert_eq!(
            refusal(status, &body),
            (403, "forbidden_host".into()),
            "{path}"
        );
    }
    assert_ne!(state(&watch, "search"), "forced_open");
    watch.shutdown().await.unwrap();
}

#[tokio::test]
async fn a_same_origin_json_control_request_works() {
    let watch = start(None).await;
    let port = watch.local_addr().port();
    let (status, body) = answer(
        force_open(&watch)
            .header(CONTENT_TYPE, "application/json")
            .header(ORIGIN, format!("http://127.0.0.1:{port}"))
            .body("{}"),
    )
    .await;
    assert_eq!((status, body["state"].as_str()), (200, Some("forced_open")));
    // `localhost` names the same server; a client without an Origin (curl) is fine.
    let (status, body) = answer(
        common::client()
            .post(format!("{}/control/reset?breaker=search", watch.url()))
            .header(HOST, format!("localhost:{port}"))
            .header(CONTENT_TYPE, "application/json; charset=utf-8")
            .body("{}"),
    )
    .await;
    assert_eq!((status, body["state"].as_str()), (200, Some("closed")));
    watch.shutdown().await.unwrap();
}

#[tokio::test]
async fn control_requests_need_the_token_when_one_is_set() {
    let watch = start(Some("s3cret-token")).await;
    let json = |request: reqwest::RequestBuilder| {
        request.header(CONTENT_TYPE, "application/json").body("{}")
    };
    let (status, body) = answer(json(force_open(&watch))).await;
    assert_eq!(refusal(status, &body), (401, "missing_token".into()));
    let (status, body) = answer(json(force_open(&watch)).header("x-failgate-token", "guess")).await;
    assert_eq!(refusal(status, &body), (403, "wrong_token".into()));
    let (status, body) =
        answer(json(force_open(&watch)).bearer_auth("s3cret-token-and-more")).await;
    assert_eq!(refusal(status, &body), (403, "wrong_token".into()));
    assert_ne!(state(&watch, "search"), "forced_open");

    let (status, body) =
        answer(json(force_open(&watch)).header("x-failgate-token", "s3cret-token")).await;
    assert_eq!((status, body["state"].as_str()), (200, Some("forced_open")));
    let (status, body) = answer(
        json(common::client().post(format!("{}/control/reset?breaker=search", watch.url())))
            .bearer_auth("s3cret-token"),
    )
    .await;
    assert_eq!((status, body["state"].as_str()), (200, Some("closed")));
    // Reading needs no token: Prometheus scrapes /metrics as it is.
    let metrics = common::client()
        .get(format!("{}/metrics", watch.url()))
        .send()
        .await
        .unwrap();
    assert_eq!(metrics.status().as_u16(), 200);
    watch.shutdown().await.unwrap();
}
