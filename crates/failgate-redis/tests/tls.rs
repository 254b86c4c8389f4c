//! `rediss://` (feature `tls`): a breaker reaches a TLS-only Redis whose certificate is
//! signed by a private CA it was told to trust, and one that does not trust it stays
//! local.
#![cfg(feature = "tls")]

mod common;

use common::{eventually, fleet, unique_namespace, Redis};
use failgate::State;
use failgate_redis::Mode;
use std::time::Duration;

/// A CA, and a certificate it signed for 127.0.0.1 and localhost, written to `dir`.
/// Returns the CA's PEM.
fn certificates(dir: &std::path::Path) -> String {
    use rcgen::{BasicConstraints, CertificateParams, IsCa, KeyPair};
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = ca.self_signed(&ca_key).unwrap();
    let key = KeyPair::generate().unwrap();
    let server = CertificateParams::new(vec!["127.0.0.1".into(), "localhost".into()])
        .unwrap()
        .signed_by(&key, &ca, &ca_key)
        .unwrap();
    std::fs::write(dir.join("ca.crt"), ca.pem()).unwrap();
    std::fs::write(dir.join("server.crt"), server.pem()).unwrap();
    std::fs::write(dir.join("server.key"), key.serialize_pem()).unwrap();
    ca.pem()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_tls_redis_with_a_private_ca() {
    let temp = tempfile::Builder::new()
        .prefix("failgate-tls-")
        .tempdir()
        .unwrap();
    let dir = temp.path();
    let ca = certificates(dir);
    let path = |f: &str| dir.join(f).to_string_lossy().into_owned();
    let tls_port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
        .to_string();
    let Some(redis) = Redis::start_with(&[
        "--tls-port",
        &tls_port,
        "--tls-cert-file",
        &path("server.crt"),
        "--tls-key-file",
        &path("server.key"),
        "--tls-ca-cert-file",
        &path("ca.crt"),
        "--tls-auth-clients",
        "no",
    ]) else {
        return;
    };
    let url = format!("rediss://127.0.0.1:{tls_port}");
    let ns = unique_namespace("tls");
    let trusting = fleet(&url, &ns).tls_root_certificate(ca).build().unwrap();
    let doubting = fleet(&url, &ns).build().unwrap();
    let second = Duration::from_secs(1);
    eventually("TLS round trips", 5 * second, || {
        trusting.mode() == Mode::Shared
    })
    .await;
    for _ in 0..4 {
        let _ = trusting.call(|| Err::<(), _>("down"));
    }
    eventually("tripped over TLS", 2 * second, || {
        trusting.state() == State::Open
    })
    .await;
    eventually("the doubter failed", 5 * second, || {
        doubting.status().sync_errors >= 2
    })
    .await;
    assert_eq!(
        doubting.mode(),
        Mode::Local,
        "an untrusted certificate is refused"
    );
    drop(redis);
}
