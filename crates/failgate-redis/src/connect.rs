//! Reaching Redis: the clients made from the settings (URLs, credentials, TLS).

use crate::settings::{mask_password, FleetConfigError, Settings};

fn bad_url(url: &str) -> impl FnOnce(redis::RedisError) -> FleetConfigError + '_ {
    move |source| FleetConfigError::RedisUrl {
        url: mask_password(url),
        source,
    }
}

/// `url` parsed, with the settings' username and password overriding the URL's.
fn connection_info(s: &Settings, url: &str) -> Result<redis::ConnectionInfo, FleetConfigError> {
    let info = redis::IntoConnectionInfo::into_connection_info(url).map_err(bad_url(url))?;
    let mut redis_settings = info.redis_settings().clone();
    if let Some(user) = &s.username {
        redis_settings = redis_settings.set_username(user);
    }
    if let Some(password) = &s.password {
        redis_settings = redis_settings.set_password(password);
    }
    Ok(info.set_redis_settings(redis_settings))
}

/// The TLS root certificate to trust instead of the platform's, if one was given.
#[cfg(feature = "tls")]
fn certificates(s: &Settings) -> Option<redis::TlsCertificates> {
    // rustls needs a crypto provider; install ring's unless the program chose one.
    let _ = rustls::crypto::ring::default_provider().install_default();
    s.tls_root_certificate
        .as_ref()
        .map(|pem| redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(pem.clone()),
        })
}

/// The Redis client for `url`. Checks the URL; connects to nothing yet.
pub(crate) fn client(s: &Settings, url: &str) -> Result<redis::Client, FleetConfigError> {
    let info = connection_info(s, url)?;
    #[cfg(feature = "tls")]
    if let Some(certificates) = certificates(s) {
        return redis::Client::build_with_tls(info, certificates).map_err(bad_url(url));
    }
    redis::Client::open(info).map_err(bad_url(url))
}

/// The Redis Cluster client for seed nodes `nodes`: connecting and an answer bounded
/// by `patience`. Checks the URLs; connects to nothing yet.
#[cfg(feature = "cluster")]
pub(crate) fn cluster_client(
    s: &Settings,
    nodes: &[String],
    patience: std::time::Duration,
) -> Result<redis::cluster::ClusterClient, FleetConfigError> {
    let infos = nodes
        .iter()
        .map(|url| connection_info(s, url))
        .collect::<Result<Vec<_>, _>>()?;
    let mut builder = redis::cluster::ClusterClientBuilder::new(infos)
        .connection_timeout(patience)
        .response_timeout(patience);
    if let Some(user) = &s.username {
        builder = builder.username(user);
    }
    if let Some(password) = &s.password {
        builder = builder.password(password);
    }
    #[cfg(feature = "tls")]
    if let Some(certificates) = certificates(s) {
        builder = builder.certs(certificates);
    }
    builder.build().map_err(bad_url(&nodes[0]))
}
