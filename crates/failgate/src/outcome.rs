//! How the result of a call is counted.

/// What a call's result means to the breaker.
///
/// Exhaustive on purpose: a result counts for the dependency's health, against it, or
/// not at all (slowness is measured apart, from the call's duration), so a
/// [`Breaker`](crate::Breaker) implemented elsewhere can match every outcome and give
/// each its meaning, with no wildcard arm to guess at:
///
/// ```
/// use failgate::Outcome;
///
/// fn weight(outcome: Outcome) -> i32 {
///     match outcome {
///         Outcome::Success => 1,
///         Outcome::Failure => -1,
///         Outcome::Ignore => 0,
///     }
/// }
/// assert_eq!(weight(Outcome::Ignore), 0);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Outcome {
    /// The dependency worked. Resets the consecutive-failure count; in half-open, counts
    /// towards closing.
    Success,
    /// The dependency failed. Counts towards tripping; in half-open, reopens.
    Failure,
    /// The result says nothing about the dependency's health (a validation error, a
    /// cancelled request, a 404). Nothing is counted; in half-open the probe slot is
    /// given back.
    Ignore,
}

/// Decides the [`Outcome`] of a `Result<T, E>`.
///
/// Implemented for [`DefaultClassifier`] (`Ok` is a success, `Err` a failure) and for
/// every closure `Fn(&Result<T, E>) -> Outcome`, so a breaker can carry its own default:
///
/// ```
/// use failgate::{CircuitBreaker, Outcome};
///
/// #[derive(Debug)]
/// enum ApiError { NotFound, Unavailable }
///
/// let breaker = CircuitBreaker::builder()
///     .with_classifier(|r: &Result<u32, ApiError>| match r {
///         Ok(_) | Err(ApiError::NotFound) => Outcome::Success,
///         Err(ApiError::Unavailable) => Outcome::Failure,
///     })
///     .build()
///     .unwrap();
/// assert!(breaker.call(|| Err::<u32, _>(ApiError::NotFound)).is_err());
/// assert_eq!(breaker.snapshot().consecutive_failures, 0); // a 404 is not an outage
/// ```
pub trait Classify<T, E> {
    /// The outcome of `result`.
    fn classify(&self, result: &Result<T, E>) -> Outcome;

    /// How long the dependency asked not to be called again, if it said so (an HTTP
    /// `Retry-After`, say). Only asked when the breaker was built with
    /// [`honor_retry_after`](crate::Builder::honor_retry_after). None by default.
    #[inline]
    fn retry_after(&self, result: &Result<T, E>) -> Option<std::time::Duration> {
        let _ = result;
        None
    }
}

/// The classifier every breaker starts with: `Ok` is a success, `Err` a failure.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DefaultClassifier;

impl<T, E> Classify<T, E> for DefaultClassifier {
    #[inline]
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        match result {
            Ok(_) => Outcome::Success,
            Err(_) => Outcome::Failure,
        }
    }

    #[inline(always)]
    fn retry_after(&self, _: &Result<T, E>) -> Option<std::time::Duration> {
        None
    }
}

impl<T, E, F> Classify<T, E> for F
where
    F: Fn(&Result<T, E>) -> Outcome,
{
    #[inline]
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        self(result)
    }
}
