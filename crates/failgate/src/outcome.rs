//! How the result of a call is counted.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

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
/// Implemented for [`DefaultClassifier`] (`Ok` is a success, `Err` a failure), for
/// every closure `Fn(&Result<T, E>) -> Outcome`, for the nameable [`FnClassifier`] and
/// [`DynClassifier`], (feature `http`) for `HttpClassifier` over any
/// `HttpResponse`, and (feature `grpc`) for `GrpcClassifier` over tonic's results, so a
/// breaker can carry its own default:
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
///
/// A breaker (or the tower layer) whose classifier does not fit its calls' results
/// names this trait in the compiler's error, and the ways to fix it.
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot classify a `Result<{T}, {E}>`: it does not implement `failgate::Classify<{T}, {E}>`",
    label = "the breaker's classifier must classify `Result<{T}, {E}>`",
    note = "set a classifier that does with `with_classifier`: a closure `|r: &Result<{T}, {E}>| -> failgate::Outcome`, a `failgate::FnClassifier` or `DynClassifier`, or your own `impl failgate::Classify<{T}, {E}>`",
    note = "`failgate::http::HttpClassifier` classifies `http::Response` (feature `http`) and `reqwest::Response` (feature `reqwest`); any other response type can implement `failgate::http::HttpResponse`",
    note = "`failgate::grpc::GrpcClassifier` (feature `grpc`) classifies `http::Response` and what tonic's clients return, `Result<tonic::Response<M>, tonic::Status>`: call `into_inner` after the breaker's call, not inside it"
)]
pub trait Classify<T, E> {
    /// The outcome of `result`.
    fn classify(&self, result: &Result<T, E>) -> Outcome;

    /// How long the dependency asked not to be called again, if it said so (an HTTP
    /// `Retry-After`, say). Only asked when the breaker was built with
    /// [`honor_retry_after`](crate::Builder::honor_retry_after). None by default.
    #[inline]
    fn retry_after(&self, result: &Result<T, E>) -> Option<Duration> {
        let _ = result;
        None
    }

    /// What went wrong, for the outcome event: a borrow of the error (or of anything in
    /// the result) that an observer may write, such as the tracing observer's log.
    /// `None` by default: a classifier generic over any `E` cannot display it. Wrap
    /// one in [`Described`] to describe errors that are `Display`.
    ///
    /// Only asked for an outcome that is not a success, and never formatted here: an
    /// observer that writes it formats it. Without an observer nothing reads it.
    #[inline(always)]
    fn describe<'r>(&self, result: &'r Result<T, E>) -> Option<&'r dyn fmt::Display> {
        let _ = result;
        None
    }
}

/// A classifier that classifies with `C` and [describes](Classify::describe) an `Err`
/// by the error's `Display`, so the failure events of a breaker with an observer carry
/// what failed (the [tracing observer](crate::observers::TracingObserver) logs it).
///
/// ```
/// use failgate::{CircuitBreaker, DefaultClassifier, Described, EventKind};
/// use std::sync::{Arc, Mutex};
///
/// let seen = Arc::new(Mutex::new(Vec::new()));
/// let log = seen.clone();
/// let breaker = CircuitBreaker::builder()
///     .with_classifier(Described(DefaultClassifier))
///     .observer(move |e: &failgate::Event<'_>| {
///         if let (EventKind::Failure { .. }, Some(error)) = (e.kind, e.error) {
///             log.lock().unwrap().push(error.to_string());
///         }
///     })
///     .build()?;
/// let _ = breaker.call(|| Err::<(), _>("connection refused"));
/// assert_eq!(*seen.lock().unwrap(), ["connection refused"]);
/// # Ok::<(), failgate::ConfigError>(())
/// ```
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Described<C = DefaultClassifier>(pub C);

impl<C> Described<C> {
    /// Describes the errors of the results `classifier` classifies.
    pub const fn new(classifier: C) -> Self {
        Described(classifier)
    }
}

impl<T, E: fmt::Display, C: Classify<T, E>> Classify<T, E> for Described<C> {
    #[inline]
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        self.0.classify(result)
    }

    #[inline]
    fn retry_after(&self, result: &Result<T, E>) -> Option<Duration> {
        self.0.retry_after(result)
    }

    #[inline]
    fn describe<'r>(&self, result: &'r Result<T, E>) -> Option<&'r dyn fmt::Display> {
        match result {
            Err(error) => Some(error),
            Ok(_) => self.0.describe(result),
        }
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
    fn retry_after(&self, _: &Result<T, E>) -> Option<Duration> {
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

/// A classifier that is a plain function `fn(&Result<T, E>) -> Outcome`, under a
/// name a struct field can spell: `CircuitBreaker<FnClassifier<Response, MyError>>`.
///
/// A closure that captures nothing is such a function. It is `Copy`, holds one
/// pointer, and calls through it (no allocation, ever). It never asks for a "retry
/// after"; a classifier that does goes in a [`DynClassifier`].
///
/// ```
/// use failgate::{CircuitBreaker, FnClassifier, Outcome};
///
/// #[derive(Debug)]
/// enum ApiError { NotFound, Unavailable }
///
/// fn outage_only(result: &Result<u32, ApiError>) -> Outcome {
///     match result {
///         Ok(_) | Err(ApiError::NotFound) => Outcome::Success,
///         Err(ApiError::Unavailable) => Outcome::Failure,
///     }
/// }
///
/// struct Client {
///     breaker: CircuitBreaker<FnClassifier<u32, ApiError>>,
/// }
///
/// let client = Client {
///     breaker: CircuitBreaker::builder().with_fn_classifier(outage_only).build()?,
/// };
/// let _ = client.breaker.call(|| Err::<u32, _>(ApiError::NotFound));
/// assert_eq!(client.breaker.snapshot().consecutive_failures, 0);
/// # Ok::<(), failgate::ConfigError>(())
/// ```
pub struct FnClassifier<T, E> {
    classify: fn(&Result<T, E>) -> Outcome,
}

impl<T, E> FnClassifier<T, E> {
    /// Classifies with `classify`.
    pub const fn new(classify: fn(&Result<T, E>) -> Outcome) -> Self {
        FnClassifier { classify }
    }
}

impl<T, E> Clone for FnClassifier<T, E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<T, E> Copy for FnClassifier<T, E> {}

impl<T, E> std::fmt::Debug for FnClassifier<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_tuple("FnClassifier")
            .field(&(self.classify as *const ()))
            .finish()
    }
}

impl<T, E> Classify<T, E> for FnClassifier<T, E> {
    #[inline]
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        (self.classify)(result)
    }
}

/// Any classifier of `Result<T, E>`, behind one shared pointer, under a name a struct
/// field can spell: `CircuitBreaker<DynClassifier<Response, MyError>>`.
///
/// For a classifier that is not a plain function: a closure that captures, a type of
/// your own with a [`retry_after`](Classify::retry_after). It is allocated once, by
/// [`new`](Self::new); a call (and a clone, which the tower layer makes per request)
/// only follows or counts the pointer, and never allocates.
///
/// ```
/// use failgate::{CircuitBreaker, Classify, DynClassifier, Outcome};
/// use std::time::Duration;
///
/// #[derive(Debug)]
/// struct Busy { retry_in: Duration }
///
/// /// Counts only `Busy` as a failure, and asks for its wait.
/// struct BusyOnly;
///
/// impl Classify<u32, Busy> for BusyOnly {
///     fn classify(&self, _: &Result<u32, Busy>) -> Outcome {
///         Outcome::Failure
///     }
///     fn retry_after(&self, result: &Result<u32, Busy>) -> Option<Duration> {
///         result.as_ref().err().map(|busy| busy.retry_in)
///     }
/// }
///
/// struct Client {
///     breaker: CircuitBreaker<DynClassifier<u32, Busy>>,
/// }
///
/// let client = Client {
///     breaker: CircuitBreaker::builder()
///         .consecutive_failures(1)
///         .honor_retry_after(true)
///         .with_dyn_classifier(BusyOnly)
///         .build()?,
/// };
/// let _ = client.breaker.call(|| Err::<u32, _>(Busy { retry_in: Duration::from_secs(90) }));
/// let wait = client.breaker.try_acquire().unwrap_err().retry_after().unwrap();
/// assert!(wait > Duration::from_secs(89));
/// # Ok::<(), failgate::ConfigError>(())
/// ```
pub struct DynClassifier<T, E> {
    classifier: Arc<dyn Classify<T, E> + Send + Sync>,
}

impl<T, E> DynClassifier<T, E> {
    /// Classifies with `classifier` (a closure `Fn(&Result<T, E>) -> Outcome`, or any
    /// [`Classify<T, E>`]).
    pub fn new(classifier: impl Classify<T, E> + Send + Sync + 'static) -> Self {
        DynClassifier {
            classifier: Arc::new(classifier),
        }
    }
}

impl<T: 'static, E: 'static> From<FnClassifier<T, E>> for DynClassifier<T, E> {
    fn from(classifier: FnClassifier<T, E>) -> Self {
        DynClassifier::new(classifier)
    }
}

impl<T, E> Clone for DynClassifier<T, E> {
    fn clone(&self) -> Self {
        DynClassifier {
            classifier: Arc::clone(&self.classifier),
        }
    }
}

impl<T, E> std::fmt::Debug for DynClassifier<T, E> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynClassifier").finish_non_exhaustive()
    }
}

impl<T, E> Classify<T, E> for DynClassifier<T, E> {
    #[inline]
    fn classify(&self, result: &Result<T, E>) -> Outcome {
        self.classifier.classify(result)
    }

    #[inline]
    fn retry_after(&self, result: &Result<T, E>) -> Option<Duration> {
        self.classifier.retry_after(result)
    }

    #[inline]
    fn describe<'r>(&self, result: &'r Result<T, E>) -> Option<&'r dyn fmt::Display> {
        self.classifier.describe(result)
    }
}
