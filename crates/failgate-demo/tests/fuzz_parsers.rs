//! The demo's parsers fuzzed on stable: the proptest twin of `fuzz/fuzz_targets/
//! {cli_values,service_query}.rs`.
//!
//! Every value parser behind a command-line flag (`--target`, `--threshold`,
//! `--open-for`/`--pause`/`--timeout`, `--latency`, `--failure-ratio`) and behind a query
//! parameter (`?delay=`, `?ratio=`) answers Ok or a clean error for any string, never
//! panics, and agrees with the rule it documents. Queries also go through the real
//! router (axum's extraction included), in paused time: 400 exactly when a parser
//! refuses a value, naming the parameter and the value.
//!
//! The clap `Cli` type itself lives in `src/main.rs`, out of reach of tests; its flags
//! are covered through the value parsers it uses (and `tests/cli.rs` runs the binary).

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use failgate_demo::scenario::{parse_positive_duration, parse_target, parse_threshold};
use failgate_demo::service::{self, parse_delay, Answer, ErrorBody, Ratio, Stats, MAX_DELAY};
use proptest::prelude::*;
use proptest::test_runner::FileFailurePersistence;
use tower::ServiceExt as _;

/// Any string, or one that looks like a flag value (so the Ok paths are reached too).
fn text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "\\PC{0,12}",
        "[ \t]{0,2}[-+]?[0-9]{0,12}(\\.[0-9]{0,6})?([eE][-+]?[0-9]{1,3})?[ \t]{0,2}",
        "[0-9]{1,6} ?(ns|us|ms|s|m|min|h|d|w|M|y|sec|msec|hours?)( [0-9]{1,3}(ms|s|m))?",
        "(nan|NaN|inf|-inf|infinity|-0|0x10|1_000|١)",
        "(http|https|ftp|HTTP)?(://)?[a-z0-9.\\[\\]:@%]{0,15}(:[0-9]{0,6})?(/[a-z%./?#]{0,8})?",
        Just(String::new()),
    ]
}

fn config() -> ProptestConfig {
    ProptestConfig {
        cases: 512,
        failure_persistence: Some(Box::new(FileFailurePersistence::WithSource("regressions"))),
        ..ProptestConfig::default()
    }
}

proptest! {
    #![proptest_config(config())]

    #[test]
    fn threshold_is_a_whole_number_from_1(s in text()) {
        match parse_threshold(&s) {
            Ok(n) => {
                prop_assert!(n >= 1);
                prop_assert_eq!(s.trim().parse::<u32>(), Ok(n));
            }
            Err(e) => {
                prop_assert!(!e.is_empty());
                prop_assert!(!matches!(s.trim().parse::<u32>(), Ok(n) if n >= 1), "{:?}", s);
            }
        }
    }

    #[test]
    fn duration_flags_are_humantime_above_zero(s in text()) {
        let reference = humantime::parse_duration(s.trim());
        match parse_positive_duration(&s) {
            Ok(d) => {
                prop_assert!(!d.is_zero());
                prop_assert_eq!(reference.ok(), Some(d));
            }
            Err(e) => {
                prop_assert!(!e.is_empty());
                prop_assert!(!matches!(reference, Ok(d) if !d.is_zero()), "{:?}", s);
            }
        }
    }

    #[test]
    fn delays_are_humantime_up_to_the_maximum(s in text()) {
        let reference = humantime::parse_duration(s.trim());
        match parse_delay(&s) {
            Ok(d) => {
                prop_assert!(d <= MAX_DELAY);
                prop_assert_eq!(reference.ok(), Some(d));
            }
            Err(e) => {
                prop_assert!(!e.to_string().is_empty());
                prop_assert!(!matches!(reference, Ok(d) if d <= MAX_DELAY), "{:?}", s);
            }
        }
    }

    #[test]
    fn ratios_are_numbers_from_0_to_1_that_read_back(s in text()) {
        match s.parse::<Ratio>() {
            Ok(r) => {
                prop_assert!((0.0..=1.0).contains(&r.get()));
                prop_assert_eq!(r.to_string().parse::<Ratio>(), Ok(r));
            }
            Err(e) => {
                prop_assert!(!e.to_string().is_empty());
                prop_assert!(
                    !matches!(s.trim().parse::<f64>(), Ok(v) if (0.0..=1.0).contains(&v)),
                    "{:?}",
                    s
                );
            }
        }
    }

    #[test]
    fn targets_are_http_urls_with_a_host(s in text()) {
        match parse_target(&s) {
            Ok(url) => {
                prop_assert_eq!(url.scheme(), "http");
                prop_assert!(url.host_str().is_some_and(|h| !h.is_empty()));
                prop_assert!(parse_target(url.as_str()).is_ok(), "{:?} -> {}", s, url);
            }
            Err(e) => prop_assert!(!e.is_empty()),
        }
    }
}

// ----- the query, through the router --------------------------------------------------------

fn encode(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

/// A delay that is usually valid and short, or any text.
fn delay_text() -> impl Strategy<Value = String> {
    prop_oneof![
        (0u64..=61_000).prop_map(|ms| format!("{ms}ms")),
        (0u64..=61).prop_map(|s| format!("{s}s")),
        text(),
    ]
}

fn ratio_text() -> impl Strategy<Value = String> {
    prop_oneof![(0.0..=1.0f64).prop_map(|r| r.to_string()), text()]
}

#[derive(Debug, Clone)]
enum Query {
    /// `delay` and `ratio`, percent-encoded byte by byte.
    Structured(Option<String>, Option<String>),
    /// Whatever follows the `?`, as given.
    Raw(String),
}

fn query() -> impl Strategy<Value = Query> {
    prop_oneof![
        3 => (
            proptest::option::of(delay_text()),
            proptest::option::of(ratio_text())
        )
            .prop_map(|(d, r)| Query::Structured(d, r)),
        1 => "[a-z=&%0-9.+;]{0,24}".prop_map(Query::Raw),
        1 => any::<String>().prop_map(Query::Raw),
    ]
}

const ENDPOINTS: [&str; 4] = ["/success", "/failure", "/random", "/health"];

proptest! {
    #![proptest_config(ProptestConfig { cases: 256, ..config() })]

    #[test]
    fn queries_answer_as_the_parsers_say(endpoint in 0usize..4, q in query()) {
        let path = ENDPOINTS[endpoint];
        // None: anything goes but a panic; Some(None): no 400; Some(Some(..)): this 400.
        let (uri, expect_bad) = match &q {
            Query::Structured(delay, ratio) => {
                let mut parts = Vec::new();
                let mut bad = None;
                if let Some(d) = delay {
                    parts.push(format!("delay={}", encode(d)));
                    if parse_delay(d).is_err() {
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
            Query::Raw(raw) => (format!("{path}?{raw}"), None),
        };
        let Ok(request) = Request::builder().uri(&uri).body(Body::empty()) else {
            // Not a URI: refused by the HTTP layer before any service sees it.
            return Ok(());
        };
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_time()
            .start_paused(true)
            .build()
            .expect("a runtime");
        let app = service::router(&service::Config::default(), 7, Arc::new(Stats::default()));
        let (status, body, waited) = runtime.block_on(async {
            let start = tokio::time::Instant::now();
            let response = app.oneshot(request).await.expect("infallible");
            let waited = start.elapsed();
            let status = response.status();
            let body = axum::body::to_bytes(response.into_body(), usize::MAX)
                .await
                .expect("a body");
            (status, body, waited)
        });
        if status == StatusCode::BAD_REQUEST {
            let e: ErrorBody = serde_json::from_slice(&body).expect("a 400 has a JSON body");
            prop_assert_eq!(e.status, 400);
            prop_assert_eq!(&e.error, "bad_request");
            prop_assert_eq!(waited, Duration::ZERO, "a refused request does not wait");
            if let Some(expected) = expect_bad {
                let Some((parameter, value)) = expected else {
                    return Err(TestCaseError::fail(format!("{uri}: 400 for good values")));
                };
                prop_assert_eq!(e.parameter.as_deref(), Some(parameter), "{}", uri);
                prop_assert_eq!(e.value.as_deref(), Some(value.as_str()), "{}", uri);
            }
            return Ok(());
        }
        if let Some(expected) = &expect_bad {
            prop_assert!(expected.is_none(), "{} answered {}, not 400", uri, status);
        }
        let a: Answer = serde_json::from_slice(&body).expect("an answer has a JSON body");
        prop_assert_eq!(a.status, status.as_u16());
        prop_assert!(waited <= MAX_DELAY, "waited {:?}", waited);
        if let Query::Structured(Some(d), _) = &q {
            // tokio's timer rounds a sleep up to the next millisecond.
            let delay = parse_delay(d).expect("accepted");
            prop_assert!(
                delay <= waited && waited <= delay + Duration::from_millis(1),
                "{}: waited {:?}",
                uri,
                waited
            );
        }
        match path {
            "/failure" => prop_assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR),
            "/random" => prop_assert!(
                status == StatusCode::OK || status == StatusCode::INTERNAL_SERVER_ERROR
            ),
            _ => prop_assert_eq!(status, StatusCode::OK),
        }
    }
}
