//! Helpers shared by the integration tests: a loopback HTTP client and JWT verification
//! against the JWKS the mock serves.

#![allow(dead_code)] // each test binary uses its own subset

use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{Algorithm, DecodingKey, Validation, decode, decode_header};
use serde_json::Value;
use tollgate_mock::MockAuthServer;

/// A client that does not follow redirects (the `Redirect` fault must be visible).
pub fn http() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .no_proxy()
        .build()
        .unwrap()
}

pub async fn get_json(url: &str) -> Value {
    let response = http().get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "GET {url}");
    response.json().await.unwrap()
}

/// POSTs a form to `url` with the server's first client in `Authorization: Basic`.
pub async fn post_basic(
    server: &MockAuthServer,
    url: &str,
    form: &[(&str, &str)],
) -> reqwest::Response {
    http()
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
    let jwks: JwkSet = http()
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

/// The decoded (unverified) JOSE header of a compact JWT.
pub fn header_of(token: &str) -> Value {
    use base64::Engine as _;
    let part = token.split('.').next().unwrap();
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(part)
        .unwrap();
    serde_json::from_slice(&bytes).unwrap()
}
