//! Helpers shared by the mock's integration tests: requests to its endpoints, and JWT
//! verification against the JWKS it serves. The generic ones come from
//! `tollgate_mock::testing`.

#![allow(dead_code)] // each test binary uses its own subset

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;
use tollgate_mock::MockAuthServer;
use tollgate_mock::testing::client;

pub async fn get_json(url: &str) -> Value {
    let response = client().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {url}");
    response.json().await.unwrap()
}

/// POSTs a form to `url` with the server's first client in `Authorization: Basic`.
pub async fn post_basic(
    server: &MockAuthServer,
    url: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    client()
        .post(url)
        .basic_auth(server.client_id(), Some(server.client_secret()))
        .form(form)
        .send()
        .await
        .unwrap()
}

/// Introspects `token` with the server's first client; asserts a 200 and returns the answer.
pub async fn introspect(server: &MockAuthServer, token: &str) -> Value {
    let response = post_basic(
        server,
        &server.introspection_endpoint(),
        &[("token", token)],
    )
    .await;
    assert_eq!(response.status(), 200);
    response.json().await.unwrap()
}

/// Verifies `token` with plain jsonwebtoken against the JWKS fetched over HTTP, checking
/// issuer and audience; returns the claims.
pub async fn verify(
    server: &MockAuthServer,
    token: &str,
) -> Result<Value, jsonwebtoken::errors::Error> {
    let jwks: JwkSet = client()
        .get(server.jwks_uri())
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let header = decode_header(token)?;
    let kid = header.kid.expect("the token has a kid");
    let Some(jwk) = jwks.find(&kid) else {
        return Err(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into());
    };
    let key = DecodingKey::from_jwk(jwk)?;
    let alg: Algorithm = jwk.common.key_algorithm.unwrap().to_string().parse()?;
    let mut validation = Validation::new(alg);
    validation.set_issuer(&[server.issuer()]);
    validation.set_audience(&[server.audience()]);
    validation.leeway = 0;
    decode::<Value>(token, &key, &validation).map(|data| data.claims)
}
