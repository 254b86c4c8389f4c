//! Reaching Redis: the client made from the settings (URL, credentials, TLS), and a
//! connection that checks on arrival whether this user may PUBLISH on the breaker's
//! channel.

use crate::settings::{mask_password, FleetConfigError, Settings};
use redis::aio::MultiplexedConnection;
use redis::AsyncConnectionConfig;

/// The Redis client for `url`, with the settings' username and password overriding
/// the URL's. Checks the URL; connects to nothing yet.
pub(crate) fn client(s: &Settings, url: &str) -> Result<redis::Client, FleetConfigError> {
    let bad_url = |source| FleetConfigError::RedisUrl {
        url: mask_password(url),
        source,
    };
    let mut info = redis::IntoConnectionInfo::into_connection_info(url).map_err(bad_url)?;
    let mut redis_settings = info.redis_settings().clone();
    if let Some(user) = &s.username {
        redis_settings = redis_settings.set_username(user);
    }
    if let Some(password) = &s.password {
        redis_settings = redis_settings.set_password(password);
    }
    info = info.set_redis_settings(redis_settings);
    #[cfg(feature = "tls")]
    {
        // rustls needs a crypto provider; install ring's unless the program chose one.
        let _ = rustls::crypto::ring::default_provider().install_default();
        match &s.tls_root_certificate {
            Some(pem) => redis::Client::build_with_tls(
                info,
                redis::TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                },
            ),
            None => redis::Client::open(info),
        }
        .map_err(bad_url)
    }
    #[cfg(not(feature = "tls"))]
    redis::Client::open(info).map_err(bad_url)
}

/// A new connection, and whether Redis lets this user PUBLISH on `channel`
/// (`Some(why)` if it refuses).
pub(crate) async fn connect(
    client: &redis::Client,
    config: &AsyncConnectionConfig,
    channel: &str,
) -> redis::RedisResult<(MultiplexedConnection, Option<String>)> {
    let mut con = client
        .get_multiplexed_async_connection_with_config(config)
        .await?;
    // An empty message, which listeners ignore.
    let check: redis::RedisResult<i64> = redis::cmd("PUBLISH")
        .arg(channel)
        .arg("")
        .query_async(&mut con)
        .await;
    let refused = match check {
        Ok(_) => None,
        // As Redis words it (redis-rs displays the code as "NoPerm").
        Err(e) if e.code() == Some("NOPERM") => {
            Some(format!("NOPERM {}", e.detail().unwrap_or_default()))
        }
        Err(e) => return Err(e),
    };
    Ok((con, refused))
}
