//! Breakers with a custom classifier, stored in a struct by a type that can be named:
//! `FnClassifier` (a function pointer) and `DynClassifier` (any classifier, shared).

use failgate::{CircuitBreaker, DynClassifier, FnClassifier, ManualClock, Outcome, State};
use std::time::Duration;

#[derive(Debug, PartialEq)]
enum ApiError {
    NotFound,
    Unavailable { retry_in: u64 },
}

type Answer = Result<u32, ApiError>;

fn outage_only(result: &Answer) -> Outcome {
    match result {
        Ok(_) | Err(ApiError::NotFound) => Outcome::Success,
        Err(ApiError::Unavailable { .. }) => Outcome::Failure,
    }
}

/// A classifier with state of its own and a "retry after", which no function pointer
/// can carry.
#[derive(Debug)]
struct Unavailable {
    not_found_counts: bool,
}

impl failgate::Classify<u32, ApiError> for Unavailable {
    fn classify(&self, result: &Answer) -> Outcome {
        match result {
            Err(ApiError::NotFound) if self.not_found_counts => Outcome::Failure,
            Ok(_) | Err(ApiError::NotFound) => Outcome::Success,
            Err(ApiError::Unavailable { .. }) => Outcome::Failure,
        }
    }

    fn retry_after(&self, result: &Answer) -> Option<Duration> {
        match result {
            Err(ApiError::Unavailable { retry_in }) => Some(Duration::from_secs(*retry_in)),
            _ => None,
        }
    }
}

struct FnClient {
    breaker: CircuitBreaker<FnClassifier<u32, ApiError>>,
}

struct DynClient {
    breaker: CircuitBreaker<DynClassifier<u32, ApiError>>,
}

#[test]
fn a_function_classifier_is_stored_by_name_without_a_cast() {
    let client = FnClient {
        breaker: CircuitBreaker::builder()
            .consecutive_failures(2)
            .with_fn_classifier(outage_only)
            .build()
            .unwrap(),
    };
    for _ in 0..5 {
        let _ = client.breaker.call(|| Err(ApiError::NotFound));
    }
    assert_eq!(
        client.breaker.state(),
        State::Closed,
        "a 404 is not an outage"
    );
    for _ in 0..2 {
        let _ = client
            .breaker
            .call(|| Err(ApiError::Unavailable { retry_in: 1 }));
    }
    assert_eq!(client.breaker.state(), State::Open);

    // A closure that captures nothing is a function too.
    let closure = FnClient {
        breaker: CircuitBreaker::builder()
            .consecutive_failures(1)
            .with_fn_classifier(|_: &Answer| Outcome::Ignore)
            .build()
            .unwrap(),
    };
    let _ = closure
        .breaker
        .call(|| Err(ApiError::Unavailable { retry_in: 1 }));
    assert_eq!(closure.breaker.state(), State::Closed);
}

#[test]
fn a_boxed_classifier_is_stored_by_name_and_keeps_its_retry_after() {
    let clock = ManualClock::new();
    let client = DynClient {
        breaker: CircuitBreaker::builder()
            .consecutive_failures(1)
            .open_for(Duration::from_secs(1))
            .honor_retry_after(true)
            .clock(clock)
            .with_dyn_classifier(Unavailable {
                not_found_counts: false,
            })
            .build()
            .unwrap(),
    };
    let _ = client.breaker.call(|| Err(ApiError::NotFound));
    assert_eq!(client.breaker.state(), State::Closed);
    let _ = client
        .breaker
        .call(|| Err(ApiError::Unavailable { retry_in: 30 }));
    let rejected = client.breaker.try_acquire().unwrap_err();
    assert_eq!(rejected.retry_after(), Some(Duration::from_secs(30)));

    // Any classifier fits the same field: a closure that captures, a function.
    let strict = true;
    let others = [
        DynClassifier::new(move |r: &Answer| match r {
            Err(ApiError::NotFound) if strict => Outcome::Failure,
            other => outage_only(other),
        }),
        DynClassifier::new(Unavailable {
            not_found_counts: true,
        }),
        DynClassifier::from(FnClassifier::new(outage_only)),
    ];
    let expected = [State::Open, State::Open, State::Closed];
    for (classifier, expected) in others.into_iter().zip(expected) {
        let client = DynClient {
            breaker: CircuitBreaker::builder()
                .consecutive_failures(1)
                .build()
                .unwrap()
                .with_classifier(classifier),
        };
        let _ = client.breaker.call(|| Err(ApiError::NotFound));
        assert_eq!(client.breaker.state(), expected);
    }
}
