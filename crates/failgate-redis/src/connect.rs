//! Reaching Redis: the client made from the settings (URL, credentials, TLS).

use crate::settings::{mask_password, FleetConfigError, Settings};

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
