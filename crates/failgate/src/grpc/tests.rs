use super::*;
use std::convert::Infallible;

/// Every code tonic knows, in order.
const ALL_CODES: [Code; 17] = [
    Code::Ok,
    Code::Cancelled,
    Code::Unknown,
    Code::InvalidArgument,
    Code::DeadlineExceeded,
    Code::NotFound,
    Code::AlreadyExists,
    Code::PermissionDenied,
    Code::ResourceExhausted,
    Code::FailedPrecondition,
    Code::Aborted,
    Code::OutOfRange,
    Code::Unimplemented,
    Code::Internal,
    Code::Unavailable,
    Code::DataLoss,
    Code::Unauthenticated,
];

fn head(http: u16, headers: &[(&'static str, &'static str)]) -> Result<Response<()>, Infallible> {
    let mut r = Response::builder().status(http);
    for (name, value) in headers {
        r = r.header(*name, *value);
    }
    Ok(r.body(()).unwrap())
}

fn failed(status: Status) -> Result<tonic::Response<()>, Status> {
    Err(status)
}

fn with_pushback(code: Code, value: &'static str) -> Status {
    let mut status = Status::new(code, "busy");
    status
        .metadata_mut()
        .insert("grpc-retry-pushback-ms", value.parse().unwrap());
    status
}

#[test]
fn the_six_outage_codes_are_failures_and_every_other_code_a_success() {
    let c = GrpcClassifier::new();
    let outages = [
        Code::Unavailable,
        Code::DeadlineExceeded,
        Code::ResourceExhausted,
        Code::Internal,
        Code::Unknown,
        Code::DataLoss,
    ];
    for code in ALL_CODES {
        let expected = if outages.contains(&code) {
            Outcome::Failure
        } else {
            Outcome::Success
        };
        assert_eq!(c.classify_code(code), expected, "{code:?}");
        assert_eq!(
            c.classify(&failed(Status::new(code, "x"))),
            expected,
            "{code:?} as a Status"
        );
    }
    assert_eq!(
        c.classify(&Ok::<_, Status>(tonic::Response::new(()))),
        Outcome::Success
    );
}

#[test]
fn each_code_can_be_made_a_failure_a_success_or_ignored() {
    let c = GrpcClassifier::new()
        .failure(Code::NotFound)
        .success(Code::Unknown)
        .ignore(Code::Cancelled)
        .ignore(Code::Unavailable);
    assert_eq!(c.classify_code(Code::NotFound), Outcome::Failure);
    assert_eq!(c.classify_code(Code::Unknown), Outcome::Success);
    assert_eq!(c.classify_code(Code::Cancelled), Outcome::Ignore);
    assert_eq!(c.classify_code(Code::Unavailable), Outcome::Ignore);
    // The others keep their default; the last word on a code wins.
    assert_eq!(c.classify_code(Code::Internal), Outcome::Failure);
    assert_eq!(c.classify_code(Code::Ok), Outcome::Success);
    let c = c.failure(Code::Cancelled).success(Code::NotFound);
    assert_eq!(c.classify_code(Code::Cancelled), Outcome::Failure);
    assert_eq!(c.classify_code(Code::NotFound), Outcome::Success);
}

#[test]
fn a_trailers_only_response_is_classified_by_its_grpc_status_header() {
    let c = GrpcClassifier::new();
    assert_eq!(
        c.classify(&head(200, &[("grpc-status", "14")])),
        Outcome::Failure
    );
    assert_eq!(
        c.classify(&head(200, &[("grpc-status", "4")])),
        Outcome::Failure
    );
    assert_eq!(
        c.classify(&head(200, &[("grpc-status", "5")])),
        Outcome::Success
    );
    assert_eq!(
        c.classify(&head(200, &[("grpc-status", "0")])),
        Outcome::Success
    );
    // Not a code: UNKNOWN, as tonic reads it.
    assert_eq!(
        c.classify(&head(200, &[("grpc-status", "x")])),
        Outcome::Failure
    );
    let c = c.failure(Code::NotFound);
    assert_eq!(
        c.classify(&head(200, &[("grpc-status", "5")])),
        Outcome::Failure
    );
}

#[test]
fn a_200_without_grpc_status_in_its_headers_is_a_success_at_the_header_level() {
    let c = GrpcClassifier::new();
    assert_eq!(c.classify(&head(200, &[])), Outcome::Success);
    assert_eq!(code_of_head(StatusCode::OK, &HeaderMap::new()), None);
}

#[test]
fn a_non_200_answer_without_grpc_status_is_classified_as_grpc_maps_it() {
    let c = GrpcClassifier::new();
    for http in [429, 502, 503, 504] {
        assert_eq!(
            code_of_head(StatusCode::from_u16(http).unwrap(), &HeaderMap::new()),
            Some(Code::Unavailable),
            "{http}"
        );
        assert_eq!(c.classify(&head(http, &[])), Outcome::Failure, "{http}");
    }
    assert_eq!(c.classify(&head(404, &[])), Outcome::Success); // UNIMPLEMENTED
    assert_eq!(c.classify(&head(401, &[])), Outcome::Success); // UNAUTHENTICATED
    assert_eq!(c.classify(&head(400, &[])), Outcome::Failure); // INTERNAL
    assert_eq!(c.classify(&head(500, &[])), Outcome::Failure); // UNKNOWN
                                                               // A grpc-status header wins over the HTTP status.
    assert_eq!(
        c.classify(&head(503, &[("grpc-status", "5")])),
        Outcome::Success
    );
}

#[test]
fn a_transport_error_at_the_tower_level_is_a_failure() {
    let c = GrpcClassifier::new();
    let err: Result<Response<()>, std::io::Error> = Err(std::io::Error::other("reset"));
    assert_eq!(c.classify(&err), Outcome::Failure);
    assert_eq!(c.retry_after(&err), None);
}

#[test]
fn grpc_retry_pushback_ms_is_read_from_a_non_ok_status_and_a_trailers_only_head() {
    let c = GrpcClassifier::new();
    let ms = Duration::from_millis;
    assert_eq!(
        c.retry_after(&failed(with_pushback(Code::Unavailable, "1500"))),
        Some(ms(1500))
    );
    // Any non-OK code: the server asked, whatever the outcome.
    assert_eq!(
        c.retry_after(&failed(with_pushback(Code::NotFound, " 20 "))),
        Some(ms(20))
    );
    assert_eq!(c.retry_after(&failed(Status::unavailable("down"))), None);
    let head_with = |status: &'static str, pushback: &'static str| {
        head(
            200,
            &[
                ("grpc-status", status),
                ("grpc-retry-pushback-ms", pushback),
            ],
        )
    };
    assert_eq!(c.retry_after(&head_with("14", "250")), Some(ms(250)));
    assert_eq!(
        c.retry_after(&head_with("0", "250")),
        None,
        "OK asks nothing"
    );
    assert_eq!(
        c.retry_after(&head(200, &[("grpc-retry-pushback-ms", "250")])),
        None,
        "no status in the head: not an answer yet"
    );
}

#[test]
fn a_negative_or_malformed_pushback_asks_for_no_wait() {
    let c = GrpcClassifier::new();
    for value in [
        "-1",
        "-250",
        "soon",
        "1.5",
        "",
        "0x10",
        "99999999999999999999999",
    ] {
        assert_eq!(
            c.retry_after(&failed(with_pushback(Code::Unavailable, value))),
            None,
            "{value:?}"
        );
        let head = head(
            200,
            &[("grpc-status", "14"), ("grpc-retry-pushback-ms", value)],
        );
        assert_eq!(c.retry_after(&head), None, "{value:?} in a head");
    }
    assert_eq!(
        parse_retry_pushback(&HeaderValue::from_static("0")),
        Some(Duration::ZERO)
    );
}
