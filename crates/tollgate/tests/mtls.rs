//! Certificate-bound access tokens (RFC 8705 §3) over real TLS: a rustls acceptor with
//! client authentication, serving an axum app behind tollgate through hyper-util, fills the
//! `ClientCertificate` extension of every request of a connection with the leaf certificate
//! the client presented. A token bound to that certificate passes; without a certificate, or
//! with another one, it is refused; tokens bound to nothing do not care.
//!
//! The acceptor here is what the documentation of `ClientCertificate` describes, and what an
//! API that accepts certificate-bound tokens runs.

mod common;

use std::sync::Arc;

use axum::Router;
use axum::routing::get;
use bytes::Bytes;
use common::{builder, ready};
use http::Request;
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use hyper_util::service::TowerToHyperService;
use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, IsCa, KeyPair};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, PrivatePkcs8KeyDer};
use tokio::net::TcpListener;
use tollgate::{ClientCertificate, Principal};
use tollgate_mock::MockAuthServer;
use tower::ServiceExt as _;

/// A CA for client certificates, a server certificate for 127.0.0.1, and two clients.
struct Pki {
    server_cert: CertificateDer<'static>,
    server_key: Vec<u8>,
    client_ca: CertificateDer<'static>,
    /// Certificate and key, PEM, for reqwest's `Identity`.
    alice_pem: String,
    alice_der: Vec<u8>,
    mallory_pem: String,
}

fn pki() -> Pki {
    let server = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_owned()]).unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let client = |name: &str| {
        let key = KeyPair::generate().unwrap();
        let cert = CertificateParams::new(vec![name.to_owned()])
            .unwrap()
            .signed_by(&key, &ca)
            .unwrap();
        (
            format!("{}{}", cert.pem(), key.serialize_pem()),
            cert.der().to_vec(),
        )
    };
    let (alice_pem, alice_der) = client("alice.client.example");
    let (mallory_pem, _) = client("mallory.client.example");
    Pki {
        server_cert: server.cert.der().clone(),
        server_key: server.signing_key.serialize_der(),
        client_ca: ca.der().clone(),
        alice_pem,
        alice_der,
        mallory_pem,
    }
}

/// Serves `app` over TLS on 127.0.0.1; clients may present a certificate of the client CA.
/// Returns the base URL.
async fn serve_tls(app: Router, pki: &Pki) -> String {
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let mut roots = rustls::RootCertStore::empty();
    roots.add(pki.client_ca.clone()).unwrap();
    // A client without a certificate may still connect: tokens bound to nothing need none,
    // and tollgate refuses a certificate-bound token that comes without one.
    let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
        Arc::new(roots),
        provider.clone(),
    )
    .allow_unauthenticated()
    .build()
    .unwrap();
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_client_cert_verifier(verifier)
        .with_single_cert(
            vec![pki.server_cert.clone()],
            PrivateKeyDer::Pkcs8(PrivatePkcs8KeyDer::from(pki.server_key.clone())),
        )
        .unwrap();
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(config));
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        while let Ok((tcp, _)) = listener.accept().await {
            let (acceptor, app) = (acceptor.clone(), app.clone());
            tokio::spawn(async move {
                let Ok(tls) = acceptor.accept(tcp).await else {
                    return;
                };
                // The leaf certificate the client presented in the handshake (RFC 8705 §3),
                // for every request of this connection. Only the acceptor sets it.
                let certificate = tls
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|chain| chain.first())
                    .map(|leaf| ClientCertificate(Bytes::copy_from_slice(leaf.as_ref())));
                let service = app.map_request(move |mut request: Request<Incoming>| {
                    if let Some(certificate) = &certificate {
                        request.extensions_mut().insert(certificate.clone());
                    }
                    request
                });
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(tls), TowerToHyperService::new(service))
                    .await;
            });
        }
    });
    format!("https://{addr}")
}

/// A client that trusts the test server, presenting `identity` (certificate and key, PEM).
fn client(pki: &Pki, identity: Option<&str>) -> reqwest::Client {
    let mut client = reqwest::Client::builder()
        .no_proxy()
        .tls_certs_only([reqwest::Certificate::from_der(&pki.server_cert).unwrap()]);
    if let Some(pem) = identity {
        client = client.identity(reqwest::Identity::from_pem(pem.as_bytes()).unwrap());
    }
    client.build().unwrap()
}

async fn fetch(client: &reqwest::Client, url: &str, token: &str) -> (u16, String, String) {
    let response = client.get(url).bearer_auth(token).send().await.unwrap();
    let status = response.status().as_u16();
    let challenge = response
        .headers()
        .get("www-authenticate")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (status, challenge, response.text().await.unwrap())
}

#[tokio::test]
async fn a_certificate_bound_token_needs_its_certificate_over_tls() {
    let mock = MockAuthServer::start().await;
    let gate = ready(builder(&mock)).await;
    let app = Router::new()
        .route(
            "/me",
            get(|principal: Principal| async move {
                format!(
                    "{} bound={}",
                    principal.subject().unwrap_or("-"),
                    principal.is_sender_constrained()
                )
            }),
        )
        .layer(gate.layer());
    let pki = pki();
    let base = serve_tls(app, &pki).await;
    let url = format!("{base}/me");

    let bound = mock
        .token()
        .subject("alice")
        .certificate_bound(&pki.alice_der)
        .sign();
    let plain = mock.token().subject("bob").sign();
    let alice = client(&pki, Some(&pki.alice_pem));
    let mallory = client(&pki, Some(&pki.mallory_pem));
    let anonymous = client(&pki, None);

    // With its certificate: accepted.
    let (status, _, body) = fetch(&alice, &url, &bound).await;
    assert_eq!((status, body.as_str()), (200, "alice bound=true"));
    // Without a certificate, or with another client's: refused.
    for (who, client, why) in [
        (
            "no certificate",
            &anonymous,
            "the token requires a TLS client certificate",
        ),
        (
            "another certificate",
            &mallory,
            "the TLS client certificate does not match the token",
        ),
    ] {
        let (status, challenge, _) = fetch(client, &url, &bound).await;
        assert_eq!(status, 401, "{who}");
        assert_eq!(
            tollgate_mock::challenge::param(&challenge, "error").as_deref(),
            Some("invalid_token"),
            "{who}: {challenge}"
        );
        assert_eq!(
            tollgate_mock::challenge::param(&challenge, "error_description").as_deref(),
            Some(why),
            "{who}"
        );
    }
    // A token bound to nothing passes with or without a certificate.
    for client in [&alice, &anonymous] {
        let (status, _, body) = fetch(client, &url, &plain).await;
        assert_eq!((status, body.as_str()), (200, "bob bound=false"));
    }
}
