//! The two clients that make the scenario's calls through the breaker: reqwest under
//! `call_async`, or hyper-util's client behind the breaker's tower layer.

use std::time::Duration;

use bytes::Bytes;
use failgate::http::HttpClassifier;
use failgate::tower::{CircuitBreakerLayer, CircuitBreakerService};
use failgate::CircuitBreaker;
use http_body_util::{BodyExt as _, Empty};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use reqwest::{StatusCode, Url};
use tower::timeout::Timeout;
use tower::{Service as _, ServiceBuilder, ServiceExt as _};

use super::config::{ClientKind, Config};
use super::report::{BoxError, ScenarioError};
use crate::service::Endpoint;

/// Why a call through the breaker failed, as the breaker sees it.
#[derive(Debug)]
pub(super) enum CallError {
    /// The server answered 5xx: the failure the breaker counts.
    Status(StatusCode),
    /// No answer at all. Also a failure for the breaker; the scenario then stops.
    Transport(BoxError),
}

impl std::fmt::Display for CallError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CallError::Status(status) => write!(f, "server answered {status}"),
            CallError::Transport(e) => write!(f, "request failed: {e}"),
        }
    }
}

impl std::error::Error for CallError {}

/// Joins an endpoint onto the target, keeping any path prefix of the target.
pub(super) fn endpoint_url(base: &Url, endpoint: Endpoint) -> Result<Url, ScenarioError> {
    let mut base = base.clone();
    if !base.path().ends_with('/') {
        let path = format!("{}/", base.path());
        base.set_path(&path);
    }
    base.join(endpoint.as_str())
        .map_err(|e| ScenarioError::Invalid {
            field: "target",
            reason: format!("cannot join /{endpoint} onto {base}: {e}"),
        })
}

/// The tower client: the breaker's layer (responses classified by their status) over a
/// timeout, over hyper-util's pooled HTTP/1 client.
type TowerClient = CircuitBreakerService<
    Timeout<hyper_util::client::legacy::Client<HttpConnector, Empty<Bytes>>>,
    failgate::CircuitBreaker<HttpClassifier>,
>;

/// What makes the calls: reqwest under `call_async`, or the tower stack.
pub(super) enum Caller {
    Direct {
        breaker: CircuitBreaker,
        client: reqwest::Client,
    },
    /// Boxed: the stack's service is large, and a caller is made once per run.
    Tower(Box<TowerClient>),
}

impl Caller {
    pub(super) fn new(
        config: &Config,
        breaker: &CircuitBreaker,
        loopback: bool,
    ) -> Result<Self, ScenarioError> {
        Ok(match config.client {
            ClientKind::Direct => {
                let mut client = reqwest::Client::builder().timeout(config.timeout);
                if loopback {
                    client = client.no_proxy();
                }
                Caller::Direct {
                    breaker: breaker.clone(),
                    client: client.build().map_err(ScenarioError::Client)?,
                }
            }
            ClientKind::Tower => {
                Caller::Tower(Box::new(tower_client(breaker.clone(), config.timeout)))
            }
        })
    }

    /// GET `url` through the breaker: the 2xx-4xx status, or why not.
    pub(super) async fn get(
        &mut self,
        url: &Url,
    ) -> Result<StatusCode, failgate::Error<CallError>> {
        match self {
            Caller::Direct { breaker, client } => {
                breaker
                    .call_async(|| async {
                        let response = client
                            .get(url.clone())
                            .send()
                            .await
                            .map_err(|e| CallError::Transport(e.into()))?;
                        let status = response.status();
                        // Read the body so the connection can be reused.
                        let _ = response.bytes().await;
                        if status.is_server_error() {
                            Err(CallError::Status(status))
                        } else {
                            Ok(status)
                        }
                    })
                    .await
            }
            Caller::Tower(service) => {
                let transport = |e: BoxError| failgate::Error::Inner(CallError::Transport(e));
                let uri: http::Uri = url
                    .as_str()
                    .parse()
                    .map_err(|e: http::uri::InvalidUri| transport(e.into()))?;
                let request = http::Request::get(uri)
                    .body(Empty::new())
                    .map_err(|e| transport(e.into()))?;
                // The layer refuses or admits, and classifies the response: a 5xx is
                // a failure to the breaker though it arrives as `Ok`.
                let response = service
                    .ready()
                    .await
                    .map_err(through_the_layer)?
                    .call(request)
                    .await
                    .map_err(through_the_layer)?;
                let status = response.status();
                // Read the body so the connection can be reused.
                let _ = response.into_body().collect().await;
                if status.is_server_error() {
                    Err(failgate::Error::Inner(CallError::Status(status)))
                } else {
                    Ok(status)
                }
            }
        }
    }
}

/// The tower stack's error (a `BoxError`: a boxed `Rejected` for a refusal), spelled
/// as the direct client's.
fn through_the_layer(error: BoxError) -> failgate::Error<CallError> {
    match error.downcast::<failgate::Rejected>() {
        Ok(rejected) => failgate::Error::Rejected(*rejected),
        Err(e) => failgate::Error::Inner(CallError::Transport(e)),
    }
}

/// Builds the tower client: `breaker` in front, classifying with [`HttpClassifier`].
fn tower_client(breaker: CircuitBreaker, timeout: Duration) -> TowerClient {
    let client = hyper_util::client::legacy::Client::builder(TokioExecutor::new())
        .build(HttpConnector::new());
    ServiceBuilder::new()
        .layer(CircuitBreakerLayer::new(breaker).with_classifier(HttpClassifier::new()))
        .timeout(timeout)
        .service(client)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn endpoint_urls_keep_a_path_prefix() {
        let base = Url::parse("http://127.0.0.1:5000").unwrap();
        assert_eq!(
            endpoint_url(&base, Endpoint::Failure).unwrap().as_str(),
            "http://127.0.0.1:5000/failure"
        );
        let base = Url::parse("http://h/flaky").unwrap();
        assert_eq!(
            endpoint_url(&base, Endpoint::Success).unwrap().as_str(),
            "http://h/flaky/success"
        );
    }
}
