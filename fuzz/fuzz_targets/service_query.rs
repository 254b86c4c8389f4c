//! Fuzzes the flaky service's query parsing (`?delay=`, `?ratio=`) end to end: an
//! arbitrary request goes through the real router (axum's query extraction, then
//! `parse_delay` and `Ratio`), in paused tokio time so a delay costs nothing.
//!
//! Acceptable: 200 or 500 as the endpoint says, or a 400 whose JSON body names the bad
//! parameter; for a structured query, 400 exactly when the parsers refuse a value.

#![no_main]

use std::sync::{Arc, OnceLock};

use arbitrary::Arbitrary;
use axum::body::Body;
use axum::http::{Request, StatusCode};
use axum::Router;
use failgate_demo::service::{self, Answer, ErrorBody, Ratio, Stats};
use libfuzzer_sys::fuzz_target;
use tokio::runtime::Runtime;
use tower::ServiceExt as _;

#[derive(Arbitrary, Debug)]
enum Query {
    /// `delay` and `ratio`, each percent-encoded byte by byte.
    Structured {
        delay: Option<String>,
        ratio: Option<String>,
    },
    /// Whatever follows the `?`, as given (skipped if it makes no valid URI).
    Raw(String),
}

#[derive(Arbitrary, Debug)]
struct Input {
    endpoint: u8,
    query: Query,
}

const ENDPOINTS: [&str; 4] = ["/success", "/failure", "/random", "/health"];

fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| {
        tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime")
    })
}

fn app() -> &'static Router {
    static APP: OnceLock<Router> = OnceLock::new();
    APP.get_or_init(|| service::router(&service::Config::default(), 7, Arc::new(Stats::default())))
}

fn encode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

fuzz_target!(|input: Input| {
    let path = ENDPOINTS[usize::from(input.endpoint) % ENDPOINTS.len()];
    let (uri, expect_bad) = match &input.query {
        Query::Structured { delay, ratio } => {
            let mut parts = Vec::new();
            let mut bad = None;
            if let Some(d) = delay {
                parts.push(format!("delay={}", encode(d)));
                if service::parse_delay(d).is_err() {
                    bad = Some(("delay", d.clone()));
                }
            }
            if let Some(r) = ratio {
                parts.push(format!("ratio={}", encode(r)));
                if bad.is_none() && r.parse::<Ratio>().is_err() {
                    bad = Some(("ratio", r.clone()));
                }
            }
            (format!("{path}?{}", parts.join("&")), Some(bad))
        }
        Query::Raw(q) => (format!("{path}?{q}"), None),
    };
    let Ok(request) = Request::builder().uri(&uri).body(Body::empty()) else {
        return; // not a URI at all: refused before any service sees it
    };
    let (status, body) = runtime().block_on(async {
        let response = app().clone().oneshot(request).await.expect("infallible");
        let status = response.status();
        let body = axum::body::to_bytes(response.into_body(), usize::MAX)
            .await
            .expect("a body");
        (status, body)
    });
    if status == StatusCode::BAD_REQUEST {
        let e: ErrorBody = serde_json::from_slice(&body).expect("a 400 has a JSON body");
        assert_eq!(e.status, 400);
        assert_eq!(e.error, "bad_request");
        if let Some(expected) = expect_bad {
            let (parameter, value) = expected.expect("400 for values the parsers accept");
            assert_eq!(e.parameter.as_deref(), Some(parameter), "{uri}");
            assert_eq!(e.value.as_deref(), Some(value.as_str()), "{uri}");
        }
        return;
    }
    if let Some(expected) = expect_bad {
        assert!(expected.is_none(), "{uri} answered {status}, not 400");
    }
    let a: Answer = serde_json::from_slice(&body).expect("an answer has a JSON body");
    assert_eq!(a.status, status.as_u16());
    let expected_failure = match path {
        "/success" | "/health" => Some(false),
        "/failure" => Some(true),
        _ => None,
    };
    match expected_failure {
        Some(true) => assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR),
        Some(false) => assert_eq!(status, StatusCode::OK),
        None => assert!(status == StatusCode::OK || status == StatusCode::INTERNAL_SERVER_ERROR),
    }
});
