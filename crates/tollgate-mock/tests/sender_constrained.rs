//! Sender-constrained tokens: DPoP-bound (RFC 9449) and certificate-bound (RFC 8705), from
//! the token endpoint and from the builders, as tokens and as introspection answers.

mod common;

use common::{get_json, introspect, verify};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tollgate_mock::MockAuthServer;
use tollgate_mock::dpop::{DpopKey, certificate_thumbprint};
use tollgate_mock::testing::client as http;

/// A `client_credentials` request with the given `DPoP` headers.
async fn token_request(
    server: &MockAuthServer,
    proofs: &[String],
    extra: &[(&str, &str)],
) -> (StatusCode, Value) {
    let mut form = vec![("grant_type", "client_credentials")];
    form.extend_from_slice(extra);
    let mut request = http()
        .post(server.token_endpoint())
        .basic_auth(server.client_id(), Some(server.client_secret()))
        .form(&form);
    for proof in proofs {
        request = request.header("dpop", proof);
    }
    let response = request.send().await.unwrap();
    (response.status(), response.json().await.unwrap())
}

#[tokio::test]
async fn token_endpoint_binds_jwt_and_opaque_tokens_to_the_proof_key() {
    let server = MockAuthServer::start().await;
    let key = DpopKey::generate();
    let jkt = key.thumbprint();

    let proof = key.proof("POST", &server.token_endpoint()).sign();
    let (status, body) = token_request(&server, &[proof], &[]).await;
    assert_eq!(status, 200, "{body}");
    // RFC 9449 §5.
    assert_eq!(body["token_type"], "DPoP");
    let token = body["access_token"].as_str().unwrap();
    let claims = verify(&server, token).await.unwrap();
    assert_eq!(claims["cnf"], json!({ "jkt": jkt }));
    // RFC 9449 §6.2.
    let answer = introspect(&server, token).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["token_type"], "DPoP");
    assert_eq!(answer["cnf"], json!({ "jkt": jkt }));

    let proof = key.proof("POST", &server.token_endpoint()).sign();
    let (status, body) = token_request(&server, &[proof], &[("token_format", "opaque")]).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["token_type"], "DPoP");
    let answer = introspect(&server, body["access_token"].as_str().unwrap()).await;
    assert_eq!(answer["token_type"], "DPoP");
    assert_eq!(answer["cnf"], json!({ "jkt": jkt }));

    // Every key type the metadata names.
    for alg in [
        tollgate_mock::Algorithm::EdDSA,
        tollgate_mock::Algorithm::PS256,
    ] {
        let key = DpopKey::with_algorithm(alg);
        let proof = key.proof("POST", &server.token_endpoint()).sign();
        let (status, body) = token_request(&server, &[proof], &[]).await;
        assert_eq!(status, 200, "{alg:?}: {body}");
        let claims = verify(&server, body["access_token"].as_str().unwrap())
            .await
            .unwrap();
        assert_eq!(claims["cnf"]["jkt"], key.thumbprint());
    }
}

#[tokio::test]
async fn token_endpoint_without_a_proof_issues_bearer_tokens() {
    let server = MockAuthServer::start().await;
    let (status, body) = token_request(&server, &[], &[]).await;
    assert_eq!(status, 200);
    assert_eq!(body["token_type"], "Bearer");
    let token = body["access_token"].as_str().unwrap();
    assert!(verify(&server, token).await.unwrap().get("cnf").is_none());
    let answer = introspect(&server, token).await;
    assert_eq!(answer["token_type"], "Bearer");
    assert!(answer.get("cnf").is_none());
}

#[tokio::test]
async fn token_endpoint_refuses_bad_proofs_with_invalid_dpop_proof() {
    let server = MockAuthServer::start().await;
    let key = DpopKey::generate();
    let other = DpopKey::generate();
    let endpoint = server.token_endpoint();
    let good = key.proof("POST", &endpoint).sign();
    let cases: Vec<(&str, Vec<String>)> = vec![
        (
            "wrong htu",
            vec![key.proof("POST", &server.jwks_uri()).sign()],
        ),
        ("wrong htm", vec![key.proof("GET", &endpoint).sign()]),
        (
            "another key's signature",
            vec![key.proof("POST", &endpoint).signed_by(&other).sign()],
        ),
        (
            "private key",
            vec![key.proof("POST", &endpoint).with_private_key().sign()],
        ),
        (
            "alg none",
            vec![key.proof("POST", &endpoint).unsigned().sign()],
        ),
        ("two proofs", vec![good.clone(), good]),
    ];
    for (name, proofs) in cases {
        let (status, body) = token_request(&server, &proofs, &[]).await;
        assert_eq!(status, 400, "{name}");
        assert_eq!(body["error"], "invalid_dpop_proof", "{name}");
    }
}

#[tokio::test]
async fn builders_bind_tokens_to_keys_and_certificates() {
    let server = MockAuthServer::start().await;
    let key = DpopKey::generate();
    let der = b"0\x82\x01\x0a stands in for a certificate's DER";
    let x5t = certificate_thumbprint(der);

    let dpop = server.token().dpop_bound(&key).sign();
    assert_eq!(
        verify(&server, &dpop).await.unwrap()["cnf"],
        json!({ "jkt": key.thumbprint() })
    );
    let answer = introspect(&server, &dpop).await;
    assert_eq!(
        (answer["token_type"].clone(), answer["cnf"].clone()),
        (json!("DPoP"), json!({ "jkt": key.thumbprint() }))
    );

    let mtls = server.token().certificate_bound(der).sign();
    assert_eq!(
        verify(&server, &mtls).await.unwrap()["cnf"],
        json!({ "x5t#S256": x5t })
    );
    let answer = introspect(&server, &mtls).await;
    // RFC 8705: certificate-bound tokens keep the Bearer type; the binding is in `cnf`.
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["cnf"], json!({ "x5t#S256": x5t }));

    let both = server
        .token()
        .certificate_bound(der)
        .dpop_bound_to("by-thumbprint")
        .sign();
    assert_eq!(
        verify(&server, &both).await.unwrap()["cnf"],
        json!({ "x5t#S256": x5t, "jkt": "by-thumbprint" })
    );

    let opaque = server.opaque_token().dpop_bound(&key).issue();
    let answer = introspect(&server, &opaque).await;
    assert_eq!(answer["token_type"], "DPoP");
    assert_eq!(answer["cnf"], json!({ "jkt": key.thumbprint() }));
    let opaque = server.opaque_token().certificate_bound(der).issue();
    let answer = introspect(&server, &opaque).await;
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["cnf"], json!({ "x5t#S256": x5t }));
}

#[tokio::test]
async fn metadata_names_the_dpop_algorithms() {
    let server = MockAuthServer::start().await;
    let metadata = get_json(&server.oauth_metadata_url()).await;
    let algs = metadata["dpop_signing_alg_values_supported"]
        .as_array()
        .unwrap();
    assert!(algs.contains(&json!("ES256")) && algs.contains(&json!("EdDSA")));
    assert!(!algs.iter().any(|a| a.as_str().unwrap().starts_with("HS")));
}
