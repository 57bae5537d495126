//! What the token builders put in tokens, and how plain jsonwebtoken judges them.

mod common;

use std::time::Duration;

use common::{introspect, verify};
use jsonwebtoken::errors::ErrorKind;
use serde_json::{Value, json};
use tollgate_mock::MockAuthServer;
use tollgate_mock::testing::{jwt_header, unix_now as now};

#[tokio::test]
async fn defaults_are_a_valid_rfc9068_token() {
    let server = MockAuthServer::start().await;
    let token = server.token().sign();
    assert_eq!(jwt_header(&token)["typ"], "at+jwt");
    let claims = verify(&server, &token).await.unwrap();
    assert_eq!(claims["iss"], server.issuer());
    assert_eq!(claims["sub"], "alice");
    assert_eq!(claims["aud"], "https://api.tollgate.test");
    assert_eq!(claims["aud"], server.audience());
    assert_eq!(claims["client_id"], "tollgate-rs");
    assert_eq!(claims["scope"], "read");
    let iat = claims["iat"].as_i64().unwrap();
    assert!((iat - now()).abs() < 60);
    assert_eq!(claims["exp"].as_i64().unwrap() - iat, 300);
    let jti = claims["jti"].as_str().unwrap();
    assert!(jti.len() >= 16);
    let other = verify(&server, &server.token().sign()).await.unwrap();
    assert_ne!(other["jti"], jti, "jti is unique");
    assert_eq!(server.client_id(), "tollgate-rs");
    assert_eq!(server.client_secret(), "tollgate-secret");
}

#[tokio::test]
async fn builder_settings_reach_the_tokens() {
    let server = MockAuthServer::builder()
        .audience("https://orders.example")
        .client("orders-api", "s1")
        .client("other", "s2")
        .token_lifetime(Duration::from_secs(60))
        .start()
        .await;
    let claims = server.token().claims();
    assert_eq!(claims["aud"], "https://orders.example");
    assert_eq!(claims["client_id"], "orders-api");
    assert_eq!(
        claims["exp"].as_i64().unwrap() - claims["iat"].as_i64().unwrap(),
        60
    );
    assert_eq!(server.client_id(), "orders-api");
    assert_eq!(server.client_secret(), "s1");
}

#[tokio::test]
async fn setters_override_and_remove() {
    let server = MockAuthServer::start().await;
    let token = server
        .token()
        .subject("bob")
        .client_id("app")
        .scope("read write")
        .claim("acr", "urn:mfa")
        .claim("amr", json!(["pwd", "otp"]))
        .claim("auth_time", 1_700_000_000_i64)
        .expires_in(Duration::from_secs(120))
        .remove_claim("jti")
        .sign();
    let claims = verify(&server, &token).await.unwrap();
    assert_eq!(claims["sub"], "bob");
    assert_eq!(claims["client_id"], "app");
    assert_eq!(claims["scope"], "read write");
    assert_eq!(claims["acr"], "urn:mfa");
    assert_eq!(claims["amr"], json!(["pwd", "otp"]));
    assert_eq!(claims["auth_time"], 1_700_000_000_i64);
    assert!(claims.get("jti").is_none());
    assert!((claims["exp"].as_i64().unwrap() - now() - 120).abs() < 60);

    let token = server
        .token()
        .issued_at(1000)
        .not_before(1000)
        .expires_at(4_000_000_000)
        .sign();
    let claims = verify(&server, &token).await.unwrap();
    assert_eq!(
        (claims["iat"].clone(), claims["nbf"].clone()),
        (json!(1000), json!(1000))
    );
    assert_eq!(claims["exp"], 4_000_000_000_i64);
}

#[tokio::test]
async fn audience_and_issuer_variants() {
    let server = MockAuthServer::start().await;
    let token = server
        .token()
        .audiences([server.audience(), "https://other.example".into()])
        .sign();
    let claims = verify(&server, &token).await.unwrap();
    assert_eq!(
        claims["aud"],
        json!([server.audience(), "https://other.example"])
    );

    let token = server.token().audience("https://elsewhere.example").sign();
    assert_eq!(
        verify(&server, &token).await.unwrap_err().kind(),
        &ErrorKind::InvalidAudience
    );

    let token = server.token().issuer("https://evil.example").sign();
    assert_eq!(
        verify(&server, &token).await.unwrap_err().kind(),
        &ErrorKind::InvalidIssuer
    );
}

#[tokio::test]
async fn expired_and_not_yet_valid() {
    let server = MockAuthServer::start().await;
    let expired = server.token().expired().sign();
    let claims = server.token().expired().claims();
    assert!(claims["exp"].as_i64().unwrap() <= now() - 600);
    assert!(claims["iat"].as_i64().unwrap() < claims["exp"].as_i64().unwrap());
    assert_eq!(
        verify(&server, &expired).await.unwrap_err().kind(),
        &ErrorKind::ExpiredSignature
    );

    let early = server.token().not_yet_valid().sign();
    assert!(
        server.token().not_yet_valid().claims()["nbf"]
            .as_i64()
            .unwrap()
            >= now() + 600
    );
    // jsonwebtoken checks nbf only when asked.
    let jwks: jsonwebtoken::jwk::JwkSet = serde_json::from_value(server.jwks()).unwrap();
    let key = jsonwebtoken::DecodingKey::from_jwk(&jwks.keys[0]).unwrap();
    let mut validation = jsonwebtoken::Validation::new(tollgate_mock::Algorithm::RS256);
    validation.set_audience(&[server.audience()]);
    validation.validate_nbf = true;
    let error = jsonwebtoken::decode::<Value>(&early, &key, &validation).unwrap_err();
    assert_eq!(error.kind(), &ErrorKind::ImmatureSignature);

    // Introspection agrees.
    assert_eq!(
        introspect(&server, &expired).await,
        json!({ "active": false })
    );
    assert_eq!(
        introspect(&server, &early).await,
        json!({ "active": false })
    );
}

#[tokio::test]
async fn header_overrides() {
    let server = MockAuthServer::start().await;
    let kid = server.signing_kid();
    let token = server
        .token()
        .header("typ", "JWT")
        .header("crit", json!(["exp-policy"]))
        .header("jku", "https://evil.example/jwks")
        .sign();
    assert_eq!(
        jwt_header(&token),
        json!({ "alg": "RS256", "typ": "JWT", "kid": kid, "crit": ["exp-policy"], "jku": "https://evil.example/jwks" })
    );
    let token = server
        .token()
        .remove_header("typ")
        .remove_header("kid")
        .sign();
    assert_eq!(jwt_header(&token), json!({ "alg": "RS256" }));
    // `alg` in the header changes the header only; the RSA signature stays.
    let token = server.token().header("alg", "none").sign();
    assert_eq!(jwt_header(&token)["alg"], "none");
    assert_eq!(token.split('.').nth(2).unwrap().len(), 342);
}

#[tokio::test]
async fn claims_preview_matches_the_signed_token() {
    let server = MockAuthServer::start().await;
    let builder = server.token().subject("carol");
    let preview = builder.claims();
    let token = builder.sign();
    assert_eq!(verify(&server, &token).await.unwrap(), preview);
}

#[tokio::test]
async fn opaque_tokens_are_not_jwt_shaped() {
    let server = MockAuthServer::start().await;
    let a = server.opaque_token().issue();
    let b = server.opaque_token().issue();
    assert_ne!(a, b);
    assert!(!a.contains('.'));
    assert!(a.len() >= 43);
    assert!(
        a.bytes()
            .all(|c| c.is_ascii_alphanumeric() || c == b'-' || c == b'_')
    );
}
