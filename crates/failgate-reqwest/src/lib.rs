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
//! Outcomes are decided by an [`HttpClassifier`] (change it with
//! [`CircuitBreakerMiddleware::with_classifier`]):
//! - a response is classified by its status: 5xx is a failure (429 and 408 too, if the
//!   classifier says so), anything else a success. The outcome is recorded when the
//!   response's head arrives; reading the body is not guarded.
//! - a transport error (connection refused, reset, timeout, ...) is a failure;
//! - an error that never reached the network is ignored: a request reqwest could not
//!   build (`reqwest::Error::is_builder`), or a rejection by another failgate
//!   breaker further down the middleware chain.
//!
//! A breaker built with [`honor_retry_after`](failgate::Builder::honor_retry_after)
//! stays open at least as long as the `Retry-After` of a 503 or 429 asks, up to
//! [`max_retry_after`](failgate::Builder::max_retry_after) (one hour by default).
//!
//! # Rejections
//! A refused request is never sent. It fails with
//! [`reqwest_middleware::Error::Middleware`] holding a [`failgate::Rejected`]: take it
//! back with [`rejection`] (or `anyhow`'s `downcast_ref::<failgate::Rejected>()`):
//!
//! ```no_run
//! # async fn demo(client: reqwest_middleware::ClientWithMiddleware) {
//! match client.get("http://127.0.0.1:5000/success").send().await {
//!     Ok(response) => println!("{}", response.status()),
//!     Err(error) => match failgate_reqwest::rejection(&error) {
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
use failgate::{Breaker, Builder, CircuitBreaker, Outcome, Rejected, Report};
use http::Extensions;
use reqwest::{Request, Response, Url};
use reqwest_middleware::{Middleware, Next};

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
    classifier: HttpClassifier,
}

impl<B> CircuitBreakerMiddleware<B> {
    /// Every request goes through `breaker` (and clones of the breaker see the same
    /// state). The breaker's own classifier is not used: responses are classified by
    /// the middleware's [`HttpClassifier`].
    pub fn new(breaker: B) -> Self {
        CircuitBreakerMiddleware {
            guard: Guard::Shared(breaker),
            classifier: HttpClassifier::new(),
        }
    }
}

impl<B, T: Template> CircuitBreakerMiddleware<B, T> {
    /// Classifies responses with `classifier` instead of the default
    /// [`HttpClassifier::new`] (say, to count 429 as a failure).
    pub fn with_classifier(mut self, classifier: HttpClassifier) -> Self {
        self.classifier = classifier;
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
    /// a breaker.
    pub fn per_host(hosts: BreakerMap<String, T>) -> Self {
        CircuitBreakerMiddleware {
            guard: Guard::PerHost(hosts),
            classifier: HttpClassifier::new(),
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

/// The rejection inside `error`, if a breaker refused the request (so it was not sent).
pub fn rejection(error: &reqwest_middleware::Error) -> Option<&Rejected> {
    match error {
        reqwest_middleware::Error::Middleware(e) => e.downcast_ref::<Rejected>(),
        reqwest_middleware::Error::Reqwest(_) => None,
    }
}

/// The outcome of an error that came back from the rest of the chain.
fn error_outcome(error: &reqwest_middleware::Error) -> Outcome {
    match error {
        // Never reached the network: says nothing about the dependency.
        reqwest_middleware::Error::Reqwest(e) if e.is_builder() => Outcome::Ignore,
        reqwest_middleware::Error::Middleware(e) if e.is::<Rejected>() => Outcome::Ignore,
        _ => Outcome::Failure,
    }
}

impl<B, T: Template> CircuitBreakerMiddleware<B, T> {
    /// Runs the rest of the chain under `breaker`'s permit and records the outcome.
    async fn guarded<K: Breaker>(
        &self,
        breaker: &K,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        // Owned, so that the future stays `Send` whatever the breaker.
        let permit = breaker
            .try_acquire_owned()
            .map_err(reqwest_middleware::Error::middleware)?;
        // Held across the await: a dropped request future abandons the permit.
        let result = next.run(req, extensions).await;
        match &result {
            Ok(response) => {
                let status = response.status();
                permit.record_with_retry_after(
                    self.classifier.classify_status(status),
                    self.classifier.retry_after_of(status, response.headers()),
                );
            }
            Err(error) => permit.record(error_outcome(error)),
        }
        result
    }
}

#[async_trait::async_trait]
impl<B, T> Middleware for CircuitBreakerMiddleware<B, T>
where
    B: Breaker + Send + Sync + 'static,
    T: Template,
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
        let error = reqwest_middleware::Error::middleware(rejected);
        assert_eq!(rejection(&error), Some(&rejected));
        assert_eq!(error_outcome(&error), Outcome::Ignore);
        let other = reqwest_middleware::Error::middleware(std::io::Error::other("boom"));
        assert_eq!(rejection(&other), None);
        assert_eq!(error_outcome(&other), Outcome::Failure);
    }
}
