//! Who may talk to the dashboard: the `Host` and `Origin` checks on every route, and
//! the JSON content type and the control token on `POST /control/...`.
//!
//! The threats are a page on another site driving the visitor's browser, and other
//! hosts on the network when the dashboard is bound beyond loopback:
//!
//! - A cross-site page can send only *simple* requests without a CORS preflight
//!   (`text/plain`, form bodies, no custom headers). A control call must say
//!   `Content-Type: application/json`, which a browser sends cross-site only after a
//!   preflight this server never approves; and browsers label such a POST with its
//!   `Origin`, which must name this server.
//! - DNS rebinding points a name the attacker controls at 127.0.0.1, which makes the
//!   attacker's page same-origin with the dashboard; its requests then carry the
//!   attacker's name in `Host`. Every route checks `Host` against the names of this
//!   server: the bound address, `localhost`, `127.0.0.1` and `[::1]` (with the bound
//!   port), and the names given with `--allowed-host`.
//! - Other hosts on the network send whatever headers they like; against them only a
//!   secret helps: the control token (`--control-token` or `FAILGATE_CONTROL_TOKEN`),
//!   sent as `X-Failgate-Token: T` or `Authorization: Bearer T` and compared in
//!   constant time. Reading (the page, `/metrics`, `/api/...`) needs no token.
//!
//! The page is never given the token by the server: a page that embedded it would hand
//! it to anyone who can fetch `/dashboard`, which is exactly who the token is meant to
//! stop. The URL printed at start carries it in the fragment (`/dashboard#token=T`),
//! which browsers do not send to the server; the page moves it to `sessionStorage` and
//! sends it on each control call.

use std::net::SocketAddr;
use std::str::FromStr;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use subtle::ConstantTimeEq as _;

use crate::service::ErrorBody;

/// The environment variable `watch` reads the control token from when
/// `--control-token` is not given.
pub const TOKEN_ENV: &str = "FAILGATE_CONTROL_TOKEN";

/// The header the page sends the token in (`Authorization: Bearer` works too).
pub const TOKEN_HEADER: &str = "x-failgate-token";

/// Why a control token or an allowed host was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvalidAccess {
    /// The token is empty or holds characters a header cannot carry as they are.
    #[error("the control token must be 1 to 256 characters from A-Z a-z 0-9 - . _ ~ + / =")]
    Token,
    /// The host is not `NAME` or `NAME:PORT`.
    #[error("invalid allowed host {0:?}: expected NAME or NAME:PORT, such as dash.lan:9000")]
    Host(String),
}

/// The secret a control call must carry when the dashboard is reachable beyond
/// loopback. Its `Debug` output hides it.
#[derive(Clone, PartialEq, Eq)]
pub struct ControlToken(String);

impl ControlToken {
    /// The token's text.
    pub fn expose(&self) -> &str {
        &self.0
    }

    fn matches(&self, offered: &[u8]) -> bool {
        // Constant time over the bytes; only the length can leak, and it is public
        // enough (a user picks it).
        bool::from(self.0.as_bytes().ct_eq(offered))
    }
}

impl std::fmt::Debug for ControlToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("ControlToken(..)")
    }
}

impl FromStr for ControlToken {
    type Err = InvalidAccess;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        // Characters that pass through a URL fragment and a header as they are.
        let plain = |b: u8| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b);
        if s.is_empty() || s.len() > 256 || !s.bytes().all(plain) {
            return Err(InvalidAccess::Token);
        }
        Ok(Self(s.to_owned()))
    }
}

/// A name the dashboard answers to besides its own address: `NAME` (with the bound
/// port) or `NAME:PORT`. IPv6 literals are written in brackets, `[fd00::1]:9000`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AllowedHost {
    name: String,
    port: Option<u16>,
}

impl FromStr for AllowedHost {
    type Err = InvalidAccess;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || InvalidAccess::Host(s.to_owned());
        let (name, port) = split_host(s.trim()).ok_or_else(invalid)?;
        let port = port
            .map(|p| p.parse::<u16>().map_err(|_| invalid()))
            .transpose()?;
        Ok(Self { name, port })
    }
}

/// Splits `NAME[:PORT]` (or `[V6][:PORT]`) into a lowercase name and the port text.
fn split_host(s: &str) -> Option<(String, Option<&str>)> {
    let (name, port) = if s.starts_with('[') {
        let end = s.find(']')?;
        let rest = &s[end + 1..];
        let port = match rest.strip_prefix(':') {
            Some(port) => Some(port),
            None if rest.is_empty() => None,
            None => return None,
        };
        (&s[..=end], port)
    } else {
        match s.split_once(':') {
            Some((name, port)) => (name, Some(port)),
            None => (s, None),
        }
    };
    let legal = |c: char| c.is_ascii_alphanumeric() || "-._[]:".contains(c);
    if name.is_empty() || !name.chars().all(legal) {
        return None;
    }
    Some((name.to_ascii_lowercase(), port))
}

/// The warning `watch` prints when it listens beyond loopback without a token, or
/// `None` when there is nothing to warn about.
pub fn exposure_warning(addr: SocketAddr, token: Option<&ControlToken>) -> Option<String> {
    if token.is_some() || addr.ip().to_canonical().is_loopback() {
        return None;
    }
    Some(format!(
        "the dashboard listens on {addr}, beyond loopback, without a control token: anyone \
         who can reach it can force its breakers open; set --control-token or {TOKEN_ENV}"
    ))
}

/// The checks of one dashboard server.
#[derive(Debug)]
pub(crate) struct Guard {
    /// Lowercase `name:port` pairs `Host` and `Origin` may name.
    hosts: Vec<(String, u16)>,
    token: Option<ControlToken>,
}

impl Guard {
    pub(crate) fn new(
        addr: SocketAddr,
        allowed: &[AllowedHost],
        token: Option<ControlToken>,
    ) -> Self {
        let port = addr.port();
        let bound = match addr {
            SocketAddr::V4(a) => a.ip().to_string(),
            SocketAddr::V6(a) => format!("[{}]", a.ip()),
        };
        let mut hosts: Vec<(String, u16)> = [bound.as_str(), "localhost", "127.0.0.1", "[::1]"]
            .iter()
            .map(|name| ((*name).to_owned(), port))
            .collect();
        hosts.extend(
            allowed
                .iter()
                .map(|h| (h.name.clone(), h.port.unwrap_or(port))),
        );
        Self { hosts, token }
    }

    /// Whether `authority` (a `Host` value, or an origin's host part) names this
    /// server. A missing port means 80, as in a URL.
    fn allows(&self, authority: &str) -> bool {
        let Some((name, port)) = split_host(authority) else {
            return false;
        };
        let Ok(port) = port.map_or(Ok(80), str::parse::<u16>) else {
            return false;
        };
        self.hosts.iter().any(|(n, p)| *n == name && *p == port)
    }

    fn check_host_and_origin(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let host = headers.get(header::HOST).and_then(|h| h.to_str().ok());
        match host {
            Some(host) if self.allows(host) => {}
            Some(host) => {
                return Err(Refusal::forbidden(
                    "forbidden_host",
                    format!(
                        "Host {host:?} does not name this dashboard (a DNS-rebinding \
                         guard); to reach it by that name, start it with --allowed-host {host}"
                    ),
                ))
            }
            None => {
                return Err(Refusal::forbidden(
                    "forbidden_host",
                    "the request has no Host header".into(),
                ))
            }
        }
        let Some(origin) = headers.get(header::ORIGIN) else {
            // Not from a browser page (curl, Prometheus), or a same-origin GET.
            return Ok(());
        };
        let text = origin.to_str().unwrap_or("");
        let same = text
            .strip_prefix("http://")
            .is_some_and(|authority| !authority.contains('/') && self.allows(authority));
        if same {
            Ok(())
        } else {
            Err(Refusal::forbidden(
                "forbidden_origin",
                format!("Origin {text:?} is not this dashboard: cross-site requests are refused"),
            ))
        }
    }

    /// The checks of a control call: a JSON content type, then the token if one is set.
    pub(crate) fn check_control(&self, headers: &HeaderMap) -> Result<(), Refusal> {
        let content_type = headers
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .unwrap_or("");
        let essence = content_type.split(';').next().unwrap_or("").trim();
        if !essence.eq_ignore_ascii_case("application/json") {
            let got = if content_type.is_empty() {
                "none".to_owned()
            } else {
                format!("{content_type:?}")
            };
            return Err(Refusal {
                status: StatusCode::UNSUPPORTED_MEDIA_TYPE,
                error: "unsupported_media_type",
                message: format!(
                    "a control call must be sent with Content-Type: application/json (got {got}); \
                     its body is ignored, send {{}}"
                ),
            });
        }
        let Some(token) = &self.token else {
            return Ok(());
        };
        let offered = headers.get(TOKEN_HEADER).map(|v| v.as_bytes()).or_else(|| {
            headers
                .get(header::AUTHORIZATION)
                .and_then(|v| v.as_bytes().strip_prefix(b"Bearer "))
        });
        match offered {
            Some(offered) if token.matches(offered) => Ok(()),
            Some(_) => Err(Refusal::forbidden(
                "wrong_token",
                "the control token is wrong".into(),
            )),
            None => Err(Refusal {
                status: StatusCode::UNAUTHORIZED,
                error: "missing_token",
                message: format!(
                    "this dashboard's controls need its token, as {TOKEN_HEADER} or \
                     Authorization: Bearer; open the page from the URL `watch` printed \
                     (it ends in #token=...)"
                ),
            }),
        }
    }
}

/// A refused request: a status and a JSON [`ErrorBody`] naming what was wrong.
pub(crate) struct Refusal {
    status: StatusCode,
    error: &'static str,
    message: String,
}

impl Refusal {
    fn forbidden(error: &'static str, message: String) -> Self {
        Self {
            status: StatusCode::FORBIDDEN,
            error,
            message,
        }
    }
}

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        tracing::warn!(error = self.error, "refused: {}", self.message);
        ErrorBody {
            error: self.error.into(),
            message: self.message,
            status: self.status.as_u16(),
            parameter: None,
            value: None,
            path: None,
        }
        .into_response()
    }
}

/// Middleware for every route: `Host` and `Origin` must name this server.
pub(crate) async fn check_host(
    State(guard): State<Arc<Guard>>,
    request: Request,
    next: Next,
) -> Response {
    match guard.check_host_and_origin(request.headers()) {
        Ok(()) => next.run(request).await,
        Err(refusal) => refusal.into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn addr(s: &str) -> SocketAddr {
        s.parse().unwrap()
    }

    #[test]
    fn binding_beyond_loopback_without_a_token_warns() {
        let token: ControlToken = "t0ken".parse().unwrap();
        for beyond in ["0.0.0.0:9000", "[::]:9000", "192.168.1.5:9000"] {
            let warning = exposure_warning(addr(beyond), None).expect("a warning");
            assert!(
                warning.contains(beyond) && warning.contains("--control-token"),
                "{warning}"
            );
            assert_eq!(exposure_warning(addr(beyond), Some(&token)), None);
        }
        for loopback in [
            "127.0.0.1:9000",
            "[::1]:9000",
            "127.0.0.2:0",
            "[::ffff:127.0.0.1]:1",
        ] {
            assert_eq!(exposure_warning(addr(loopback), None), None, "{loopback}");
        }
    }

    #[test]
    fn tokens_are_visible_ascii_and_hidden_from_debug() {
        assert_eq!("".parse::<ControlToken>(), Err(InvalidAccess::Token));
        assert_eq!("a b".parse::<ControlToken>(), Err(InvalidAccess::Token));
        assert_eq!("é".parse::<ControlToken>(), Err(InvalidAccess::Token));
        let token: ControlToken = "s3cret".parse().unwrap();
        assert!(token.matches(b"s3cret") && !token.matches(b"s3cre") && !token.matches(b"s3cret!"));
        assert!(!format!("{token:?}").contains("s3cret"));
    }

    #[test]
    fn host_names_of_the_server_are_allowed_and_others_not() {
        let extra: Vec<AllowedHost> = ["Dash.LAN", "10.0.0.7:80"]
            .iter()
            .map(|h| h.parse().unwrap())
            .collect();
        let guard = Guard::new(addr("0.0.0.0:9000"), &extra, None);
        for ok in [
            "localhost:9000",
            "127.0.0.1:9000",
            "[::1]:9000",
            "0.0.0.0:9000",
            "dash.lan:9000",
            "10.0.0.7",
            "LOCALHOST:9000",
        ] {
            assert!(guard.allows(ok), "{ok}");
        }
        for refused in [
            "localhost",
            "localhost:9001",
            "evil.example:9000",
            "dash.lan",
            "127.0.0.1:x",
            "",
            "[::1",
            "a/b:9000",
        ] {
            assert!(!guard.allows(refused), "{refused}");
        }
        assert_eq!(
            "no good:1".parse::<AllowedHost>(),
            Err(InvalidAccess::Host("no good:1".into()))
        );
        assert!("h:99999".parse::<AllowedHost>().is_err());
    }
}
