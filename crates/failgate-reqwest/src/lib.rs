//! A [failgate] circuit breaker as [reqwest-middleware](reqwest_middleware): one line
//! on a [`ClientBuilder`](reqwest_middleware::ClientBuilder) puts every request behind
//! one shared breaker, or behind one breaker per host.
//!
//! ```
//! use failgate::CircuitBreaker;
//! use failgate_reqwest::CircuitBreakerMiddleware;
//! use std::time::Duration;
//!
//! let breaker = CircuitBreaker::builder()
//!     .name("payments")
//!     .consecutive_failures(5)
//!     .open_for(Duration::from_secs(30))
//!     .build()?;
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(CircuitBreakerMiddleware::new(breaker))
//!     .build();
//! # let _ = client;
//! # Ok::<(), failgate::ConfigError>(())
//! ```
//!
//! One breaker per host (`host:port`), so that one failing host never refuses calls to
//! a healthy one:
//!
//! ```
//! use failgate::tower::per_key::BreakerMap;
//! use failgate::CircuitBreaker;
//! use failgate_reqwest::CircuitBreakerMiddleware;
//!
//! let template = CircuitBreaker::builder().name("upstream").consecutive_failures(5);
//! let hosts = BreakerMap::new(template, 1_000)?; // at most 1000 hosts tracked
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(CircuitBreakerMiddleware::per_host(hosts.clone()))
//!     .build();
//! // `hosts.states()` lists each host's breaker state.
//! # let _ = client;
//! # Ok::<(), failgate::ConfigError>(())
//! ```
//!
//! Any [`Breaker`] will do, so a breaker shared by every replica of the service (a
//! fleet breaker, from `failgate-redis`) is the same line, shared or per host:
//!
//! ```no_run
//! # #[tokio::main] async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use failgate::tower::per_key::BreakerMap;
//! use failgate_redis::FleetBreaker;
//! use failgate_reqwest::CircuitBreakerMiddleware;
//!
//! let template = FleetBreaker::builder("upstream").redis("redis://127.0.0.1:6379");
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(CircuitBreakerMiddleware::per_host(BreakerMap::new(template, 1_000)?))
//!     .build();
//! # let _ = client;
//! # Ok(()) }
//! ```
//!
//! # What counts as a failure
//! The breaker's own classifier decides, as it does for the breaker's `call` and the
//! tower layer: a breaker built with
//! [`with_classifier`](failgate::Builder::with_classifier) passes its classifier to the
//! middleware with it, and it must classify
//! `Result<reqwest::Response, reqwest_middleware::Error>` (a closure, a
//! [`failgate::DynClassifier`], your own [`Classify`] or an [`HttpClassifier`]). A
//! breaker built without one ([`failgate::DefaultClassifier`], which sees only `Ok`
//! and `Err`, never a status) is classified by [`HttpClassifier::new`], and
//! [`CircuitBreakerMiddleware::with_classifier`] sets an [`HttpClassifier`] that
//! classifies every response whatever the breaker's own. The outcome is recorded when
//! the response's head arrives; reading the body is not guarded. With the
//! [`HttpClassifier`]:
//! - a response is classified by its status: 5xx is a failure (429 and 408 too, if the
//!   classifier says so), anything else a success;
//! - a transport error (connection refused, reset, timeout, ...) is a failure.
//!
//! Whatever the classifier, an error that never reached the network is ignored: a
//! request reqwest could not build (`reqwest::Error::is_builder`), or a rejection by
//! another failgate breaker further down the middleware chain.
//!
//! ```
//! use failgate::{CircuitBreaker, Outcome};
//! use failgate_reqwest::CircuitBreakerMiddleware;
//!
//! type Answer = Result<reqwest::Response, reqwest_middleware::Error>;
//! // This dependency answers 404 when it lost its data: an outage.
//! let breaker = CircuitBreaker::builder()
//!     .with_classifier(|r: &Answer| match r {
//!         Ok(response) if response.status().is_success() => Outcome::Success,
//!         _ => Outcome::Failure,
//!     })
//!     .build()?;
//! let client = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
//!     .with(CircuitBreakerMiddleware::new(breaker))
//!     .build();
//! # let _ = client;
//! # Ok::<(), failgate::ConfigError>(())
//! ```
//!
//! A breaker built with [`honor_retry_after`](failgate::Builder::honor_retry_after)
//! asks its classifier for a "retry after" ([`Classify::retry_after`]): with the
//! [`HttpClassifier`] it stays open at least as long as the `Retry-After` of a 503 or
//! 429 asks, up to
//! [`max_retry_after`](failgate::Builder::max_retry_after) (one hour by default).
//!
//! # Rejections
//! A refused request is never sent. It fails with
//! [`reqwest_middleware::Error::Middleware`]: "request not sent: refused by the
//! circuit breaker", whose [`source`](std::error::Error::source) is the
//! [`failgate::Rejected`] (its state and "retry after"). So the rejection is a link of
//! the error's chain however the application passes it up: [`failgate::rejection`]
//! finds it (so does [`rejection`], and so does `anyhow`'s `chain()` after a `?`, or
//! `downcast_ref::<failgate::Rejected>()` on the middleware's own `anyhow::Error`), and
//! `{:#}` prints each text once:
//!
//! ```no_run
//! # async fn demo(client: reqwest_middleware::ClientWithMiddleware) {
//! match client.get("http://127.0.0.1:5000/success").send().await {
//!     Ok(response) => println!("{}", response.status()),
//!     Err(error) => match failgate::rejection(&error) {
//!         Some(rejected) => println!("not sent: retry after {:?}", rejected.retry_after()),
//!         None => println!("failed: {error}"),
//!     },
//! }
//! # }
//! ```
//!
//! # Cancellation
//! The permit is held while the rest of the chain runs: if the request future is
//! dropped (a timeout around it, a cancelled task), the call is abandoned. Nothing is
//! counted and a half-open probe slot is given back at once.
//!
//! # Cargo features
//! This crate has no features of its own. It turns on failgate's `tower` and `http`
//! features, which it is built on.

#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// This crate's README (the one crates.io shows) runs as doctests too.
#[doc = include_str!("../README.md")]
#[cfg(doctest)]
pub struct CrateReadmeDoctests;

use failgate::http::HttpClassifier;
use failgate::tower::per_key::{BreakerMap, Template};
use failgate::{
    Breaker, Builder, CircuitBreaker, Classify, DefaultClassifier, Outcome, Rejected, Report,
};
use http::Extensions;
use reqwest::{Request, Response, Url};
use reqwest_middleware::{Middleware, Next};
use std::any::TypeId;

/// Which breaker guards a request.
#[derive(Debug, Clone)]
enum Guard<B, T: Template> {
    /// One breaker for every request.
    Shared(B),
    /// One breaker per `host:port`.
    PerHost(BreakerMap<String, T>),
}

/// A [`Middleware`] that sends each request through a circuit breaker.
///
/// Build it with [`new`](Self::new) (one breaker for every request) or
/// [`per_host`](Self::per_host) (one per `host:port`), and add it with
/// [`ClientBuilder::with`](reqwest_middleware::ClientBuilder::with). Put it before a
/// retry middleware (outermost) if each retry should not count on its own, after it
/// (innermost) if each attempt should.
///
/// Any [`Breaker`] will do: the local [`CircuitBreaker`] or a fleet-wide one (from
/// `failgate-redis`), and per host, a [`BreakerMap`] of either.
#[derive(Debug, Clone)]
pub struct CircuitBreakerMiddleware<B = CircuitBreaker, T: Template = Builder> {
    guard: Guard<B, T>,
    /// Set by `with_classifier`: classifies every response, whatever the breaker's own.
    http: Option<HttpClassifier>,
}

/// What the middleware's breakers classify.
type Answer = Result<Response, reqwest_middleware::Error>;

impl<B> CircuitBreakerMiddleware<B>
where
    B: Breaker,
    B::Classifier: Classify<Response, reqwest_middleware::Error>,
{
    /// Every request goes through `breaker` (and clones of the breaker see the same
    /// state), and the breaker's own classifier decides each outcome: one set with
    /// [`with_classifier`](failgate::Builder::with_classifier), or, for a breaker built
    /// without one, [`HttpClassifier::new`] (see [the crate docs](crate#what-counts-as-a-failure)).
    pub fn new(breaker: B) -> Self {
        CircuitBreakerMiddleware {
            guard: Guard::Shared(breaker),
            http: None,
        }
    }
}

impl<B, T: Template> CircuitBreakerMiddleware<B, T> {
    /// Classifies every response with `classifier`, whatever the breaker's own (say, to
    /// count 429 as a failure).
    pub fn with_classifier(mut self, classifier: HttpClassifier) -> Self {
        self.http = Some(classifier);
        self
    }

    /// The shared breaker, if this middleware has one (built with [`new`](Self::new)).
    pub fn breaker(&self) -> Option<&B> {
        match &self.guard {
            Guard::Shared(breaker) => Some(breaker),
            Guard::PerHost(_) => None,
        }
    }

    /// The per-host breakers, if this middleware has them (built with
    /// [`per_host`](Self::per_host)).
    pub fn hosts(&self) -> Option<&BreakerMap<String, T>> {
        match &self.guard {
            Guard::Shared(_) => None,
            Guard::PerHost(map) => Some(map),
        }
    }
}

impl<T: Template> CircuitBreakerMiddleware<T::Breaker, T> {
    /// Each request goes through the breaker of its URL's `host:port` (the scheme's
    /// default port when the URL names none; see [`host_key`]), taken from `hosts`:
    /// built on first use from the map's template, and bounded by its capacity. A new
    /// host that finds the map full of breakers it may not evict is guarded by an
    /// untracked breaker of its own (see [`BreakerMap`]; [`BreakerMap::untracked`]
    /// counts them). Keep a clone of `hosts` to read the breakers' states.
    ///
    /// A request whose URL has no host (which reqwest refuses anyway) is sent without
    /// a breaker. Outcomes are decided as [`new`](CircuitBreakerMiddleware::new)'s are,
    /// by the breakers' own classifier (the template's).
    pub fn per_host(hosts: BreakerMap<String, T>) -> Self {
        CircuitBreakerMiddleware {
            guard: Guard::PerHost(hosts),
            http: None,
        }
    }
}

/// The key of a URL's per-host breaker: `host:port`, e.g. `api.example.com:443` or
/// `[::1]:8080`, normalised by [`failgate::tower::per_key::host_key`] (lower case, no
/// trailing dot: `VICTIM.Example.` and `victim.example` share a breaker). `None` when
/// the URL has no host.
pub fn host_key(url: &Url) -> Option<String> {
    let host = url.host_str().filter(|h| !h.is_empty())?;
    Some(failgate::tower::per_key::host_key(
        host,
        url.port_or_known_default(),
    ))
}

/// The rejection inside `error`, if a breaker refused the request (so it was not
/// sent): this crate's, or a `Rejected` another middleware put in its `anyhow::Error`
/// (whose own type is no link of reqwest-middleware's transparent chain).
pub fn rejection(error: &reqwest_middleware::Error) -> Option<&Rejected> {
    match error {
        reqwest_middleware::Error::Middleware(e) => e
            .downcast_ref::<Rejected>()
            .or_else(|| failgate::rejection(e.as_ref())),
        reqwest_middleware::Error::Reqwest(_) => None,
    }
}

/// The error of a request `rejected` refused: the rejection under a context that says
/// the request was not sent. An `anyhow` context's source is the error it wraps, so the
/// `Rejected` is a link of every chain above (reqwest-middleware's error is
/// transparent: its source is the `anyhow::Error`'s), and `downcast_ref` on the
/// middleware's `anyhow::Error` finds it too.
fn refused(rejected: Rejected) -> reqwest_middleware::Error {
    let error =
        anyhow::Error::new(rejected).context("request not sent: refused by the circuit breaker");
    reqwest_middleware::Error::Middleware(error)
}

/// Whether `error` never reached the network (a request reqwest could not build, or a
/// refusal by a breaker further down), so says nothing about the dependency.
fn never_sent(error: &reqwest_middleware::Error) -> bool {
    match error {
        reqwest_middleware::Error::Reqwest(e) => e.is_builder(),
        reqwest_middleware::Error::Middleware(_) => rejection(error).is_some(),
    }
}

/// The outcome of `result`, and the "retry after" it asks for when `hint` is set, by
/// `own` (a breaker's classifier) unless `http` replaces it.
fn classify<C>(
    own: &C,
    http: Option<&HttpClassifier>,
    result: &Answer,
    hint: bool,
) -> (Outcome, Option<std::time::Duration>)
where
    C: Classify<Response, reqwest_middleware::Error> + 'static,
{
    if let Err(error) = result {
        if never_sent(error) {
            return (Outcome::Ignore, None);
        }
    }
    // `DefaultClassifier` sees only Ok and Err, never a status: a breaker built without
    // a classifier gets the HTTP rule instead, which is what an HTTP client means.
    let plain = TypeId::of::<C>() == TypeId::of::<DefaultClassifier>();
    let decide = |k: &dyn Classify<Response, reqwest_middleware::Error>| {
        let outcome = k.classify(result);
        (outcome, if hint { k.retry_after(result) } else { None })
    };
    match http {
        Some(http) => decide(http),
        None if plain => decide(&HttpClassifier::new()),
        None => decide(own),
    }
}

impl<B, T: Template> CircuitBreakerMiddleware<B, T> {
    /// Runs the rest of the chain under `breaker`'s permit and records the outcome.
    async fn guarded<K>(
        &self,
        breaker: &K,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response>
    where
        K: Breaker,
        K::Classifier: Classify<Response, reqwest_middleware::Error> + 'static,
    {
        // Owned, so that the future stays `Send` whatever the breaker.
        let permit = breaker.try_acquire_owned().map_err(refused)?;
        // Held across the await: a dropped request future abandons the permit.
        let result = next.run(req, extensions).await;
        let hint = permit.honors_retry_after();
        let (outcome, retry_after) =
            classify(breaker.classifier(), self.http.as_ref(), &result, hint);
        // What failed, for an observer's event: the error, or the status of an answer
        // classified as a failure. A borrow, formatted only by an observer that writes it.
        let status = result.as_ref().ok().map(Response::status);
        let error: Option<&dyn std::fmt::Display> = match (&result, &status) {
            (Err(error), _) => Some(error),
            (Ok(_), Some(status)) => Some(status),
            (Ok(_), None) => None,
        };
        permit.record_described(outcome, retry_after, error);
        result
    }
}

#[async_trait::async_trait]
impl<B, T> Middleware for CircuitBreakerMiddleware<B, T>
where
    B: Breaker + Send + Sync + 'static,
    B::Classifier: Classify<Response, reqwest_middleware::Error> + 'static,
    T: Template,
    <T::Breaker as Breaker>::Classifier: Classify<Response, reqwest_middleware::Error> + 'static,
{
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        match &self.guard {
            Guard::Shared(breaker) => self.guarded(breaker, req, extensions, next).await,
            Guard::PerHost(hosts) => match host_key(req.url()) {
                Some(key) => {
                    let breaker = hosts.get(&key);
                    self.guarded(&breaker, req, extensions, next).await
                }
                None => next.run(req, extensions).await,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_keys_name_host_and_port() {
        let key = |s: &str| host_key(&Url::parse(s).unwrap());
        assert_eq!(
            key("http://127.0.0.1:5000/x").as_deref(),
            Some("127.0.0.1:5000")
        );
        assert_eq!(
            key("https://api.example.com/v1").as_deref(),
            Some("api.example.com:443")
        );
        assert_eq!(
            key("http://api.example.com/v1").as_deref(),
            Some("api.example.com:80")
        );
        assert_eq!(key("http://[::1]:8080/").as_deref(), Some("[::1]:8080"));
        assert_eq!(
            key("https://VICTIM.Example./").as_deref(),
            Some("victim.example:443")
        );
        assert_eq!(
            key("http://victim.example.:81/"),
            key("http://victim.example:81/")
        );
        assert_eq!(key("data:text/plain,hi"), None);
    }

    #[test]
    fn rejections_are_found_and_other_errors_are_not() {
        let rejected = {
            let b = CircuitBreaker::builder()
                .consecutive_failures(1)
                .build()
                .unwrap();
            let _ = b.call(|| Err::<(), ()>(()));
            b.try_acquire().unwrap_err()
        };
        for error in [
            refused(rejected),
            reqwest_middleware::Error::middleware(rejected),
        ] {
            assert_eq!(rejection(&error), Some(&rejected));
            assert!(never_sent(&error));
        }
        let other = reqwest_middleware::Error::middleware(std::io::Error::other("boom"));
        assert_eq!(rejection(&other), None);
        assert!(!never_sent(&other));
    }
}
