//! The JWKS, verification with plain jsonwebtoken, key rotation, raw signing.

mod common;

use common::{get_json, verify};
use jsonwebtoken::errors::ErrorKind;
use jsonwebtoken::{DecodingKey, Validation, decode};
use serde_json::{Value, json};
use tollgate_mock::testing::{client, jwt_header};
use tollgate_mock::{Algorithm, MockAuthServer};

#[tokio::test]
async fn jwks_content_and_cache_control() {
    let server = MockAuthServer::start().await;
    let response = client().get(server.jwks_uri()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "max-age=300");
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("application/json")
    );
    let jwks: Value = response.json().await.unwrap();
    assert_eq!(jwks, server.jwks());
    let keys = jwks["keys"].as_array().unwrap();
    assert_eq!(keys.len(), 1);
    let key = &keys[0];
    assert_eq!(key["kty"], "RSA");
    assert_eq!(key["use"], "sig");
    assert_eq!(key["alg"], "RS256");
    assert_eq!(key["kid"], server.signing_kid());
    assert_eq!(key["e"], "AQAB");
    // 2048-bit modulus: 256 bytes, 342 base64url characters.
    assert_eq!(key["n"].as_str().unwrap().len(), 342);
    assert_eq!(server.jwks_fetches(), 1);
}

#[tokio::test]
async fn jwks_cache_control_is_configurable() {
    let server = MockAuthServer::builder()
        .jwks_cache_control("no-cache")
        .start()
        .await;
    let response = client().get(server.jwks_uri()).send().await.unwrap();
    assert_eq!(response.headers()["cache-control"], "no-cache");

    let server = MockAuthServer::builder()
        .jwks_cache_control("")
        .start()
        .await;
    let response = client().get(server.jwks_uri()).send().await.unwrap();
    assert!(response.headers().get("cache-control").is_none());
}

#[tokio::test]
async fn jwks_cache_control_changes_while_running() {
    let server = MockAuthServer::start().await;
    let cache_control = || async {
        let response = client().get(server.jwks_uri()).send().await.unwrap();
        let value = response.headers().get("cache-control").cloned();
        value.map(|v| v.to_str().unwrap().to_owned())
    };
    assert_eq!(cache_control().await.as_deref(), Some("max-age=300"));
    server.set_jwks_cache_control("no-cache");
    assert_eq!(cache_control().await.as_deref(), Some("no-cache"));
    server.set_jwks_cache_control("");
    assert_eq!(cache_control().await, None);
    server.set_jwks_cache_control("max-age=0");
    assert_eq!(cache_control().await.as_deref(), Some("max-age=0"));
}

#[tokio::test]
async fn tokens_verify_for_each_algorithm() {
    for (alg, kty, crv) in [
        (Algorithm::RS256, "RSA", None),
        (Algorithm::ES256, "EC", Some("P-256")),
        (Algorithm::EdDSA, "OKP", Some("Ed25519")),
        (Algorithm::PS256, "RSA", None),
        (Algorithm::ES384, "EC", Some("P-384")),
    ] {
        let server = MockAuthServer::builder()
            .signing_algorithm(alg)
            .start()
            .await;
        let jwk = &server.jwks()["keys"][0];
        assert_eq!(jwk["kty"], kty, "{alg:?}");
        assert_eq!(jwk["alg"], format!("{alg:?}"));
        if let Some(crv) = crv {
            assert_eq!(jwk["crv"], crv);
        }
        let token = server.token().sign();
        let header = jwt_header(&token);
        assert_eq!(
            header,
            json!({ "alg": format!("{alg:?}"), "typ": "at+jwt", "kid": server.signing_kid() })
        );
        let claims = verify(&server, &token)
            .await
            .unwrap_or_else(|e| panic!("{alg:?}: {e}"));
        assert_eq!(claims["sub"], "alice");
    }
}

#[tokio::test]
async fn algorithm_choice_publishes_a_key_on_demand() {
    let server = MockAuthServer::start().await;
    let token = server.token().algorithm(Algorithm::EdDSA).sign();
    assert_eq!(jwt_header(&token)["alg"], "EdDSA");
    assert_eq!(server.jwks()["keys"].as_array().unwrap().len(), 2);
    verify(&server, &token).await.unwrap();
    // The same key is reused next time.
    let again = server.token().algorithm(Algorithm::EdDSA).sign();
    assert_eq!(jwt_header(&again)["kid"], jwt_header(&token)["kid"]);
    assert_eq!(server.jwks()["keys"].as_array().unwrap().len(), 2);
}

#[tokio::test]
async fn keys_rotate_while_running() {
    let server = MockAuthServer::start().await;
    let first = server.signing_kid();
    let old_token = server.token().sign();

    let second = server.add_key(Algorithm::ES256);
    assert_ne!(first, second);
    assert_eq!(server.signing_kid(), first, "adding a key does not switch");
    let kids: Vec<Value> = get_json(&server.jwks_uri()).await["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| k["kid"].clone())
        .collect();
    assert_eq!(kids, vec![json!(first), json!(second)]);

    server.set_signing_key(&second);
    let new_token = server.token().sign();
    assert_eq!(jwt_header(&new_token)["kid"], second);
    assert_eq!(jwt_header(&new_token)["alg"], "ES256");
    verify(&server, &new_token).await.unwrap();
    verify(&server, &old_token).await.unwrap();

    server.retire_key(&first);
    let jwks = get_json(&server.jwks_uri()).await;
    assert_eq!(jwks["keys"].as_array().unwrap().len(), 1);
    assert_eq!(jwks["keys"][0]["kid"], second);
    assert!(
        verify(&server, &old_token).await.is_err(),
        "retired key no longer verifies"
    );
    verify(&server, &new_token).await.unwrap();

    // A retired key still signs on request; such tokens do not verify.
    let stale = server.token().kid(&first).sign();
    assert_eq!(jwt_header(&stale)["kid"], first);
    assert!(verify(&server, &stale).await.is_err());
}

#[tokio::test]
async fn added_keys_have_fresh_material() {
    let server = MockAuthServer::start().await;
    let first = server.signing_kid();
    let second = server.add_key(Algorithm::RS256);
    // A token signed by the second key under the first key's kid must not verify.
    let token = server.token().kid(&second).header("kid", first).sign();
    assert_eq!(
        verify(&server, &token).await.unwrap_err().kind(),
        &ErrorKind::InvalidSignature
    );
}

#[tokio::test]
async fn unpublished_keys_fail_to_verify() {
    let server = MockAuthServer::start().await;
    let forged = server.token().unpublished_key().sign();
    assert_eq!(jwt_header(&forged)["kid"], server.signing_kid());
    assert_eq!(
        verify(&server, &forged).await.unwrap_err().kind(),
        &ErrorKind::InvalidSignature
    );

    let unknown = server.token().unpublished_kid().sign();
    let kid = jwt_header(&unknown)["kid"].as_str().unwrap().to_owned();
    assert!(kid.starts_with("unpublished-"));
    assert!(
        server.jwks()["keys"]
            .as_array()
            .unwrap()
            .iter()
            .all(|k| k["kid"] != kid)
    );
    assert!(verify(&server, &unknown).await.is_err());

    // Forgeries are not known to introspection.
    assert_eq!(
        common::introspect(&server, &forged).await,
        json!({ "active": false })
    );
}

#[tokio::test]
async fn public_key_pem_verifies_and_enables_key_confusion_tests() {
    let server = MockAuthServer::start().await;
    let kid = server.signing_kid();
    let pem = server.public_key_pem(&kid);
    assert!(pem.starts_with("-----BEGIN PUBLIC KEY-----\n"));

    let token = server.token().sign();
    let mut validation = Validation::new(Algorithm::RS256);
    validation.set_audience(&[server.audience()]);
    // jsonwebtoken's `from_rsa_pem` needs its `use_pem` feature; the DER form needs nothing.
    let key = DecodingKey::from_rsa_der(&pem_to_der(&pem));
    decode::<Value>(&token, &key, &validation).unwrap();
    let key = DecodingKey::from_rsa_der(&server.public_key_der(&kid));
    decode::<Value>(&token, &key, &validation).unwrap();

    // HS256 with the public key PEM as the secret: the classic confusion attack.
    let header = br#"{"alg":"HS256","typ":"at+jwt"}"#;
    let payload = serde_json::to_vec(&server.token().claims()).unwrap();
    let attack = server.sign_raw_bytes(header, &payload, &kid, Algorithm::HS256);
    let mut hs = Validation::new(Algorithm::HS256);
    hs.set_audience(&[server.audience()]);
    let secret = DecodingKey::from_secret(pem.as_bytes()).unwrap();
    decode::<Value>(&attack, &secret, &hs).expect("signed with the PEM as HMAC secret");
}

#[tokio::test]
async fn raw_signing_is_verbatim() {
    let server = MockAuthServer::start().await;
    let kid = server.signing_kid();
    let header =
        json!({ "alg": "RS256", "kid": kid, "jku": format!("{}/evil-jwks", server.base_url()) });
    let payload = json!({ "sub": "mallory", "aud": server.audience(), "exp": 4_000_000_000_i64 });
    let token = server.sign_raw(&header, &payload, &kid);
    assert_eq!(jwt_header(&token), header, "no typ added");
    assert!(signature_ok(&server, &token, &kid));

    // Bytes are kept exactly, duplicate keys included.
    let dup = br#"{"sub":"alice","sub":"mallory"}"#;
    let token = server.sign_raw_bytes(br#"{"alg":"RS256"}"#, dup, &kid, Algorithm::RS256);
    use base64::Engine as _;
    let payload = token.split('.').nth(1).unwrap();
    assert_eq!(
        base64::engine::general_purpose::URL_SAFE_NO_PAD
            .decode(payload)
            .unwrap(),
        dup
    );
    // The signature is right even though the payload is hostile.
    assert!(signature_ok(&server, &token, &kid));
    // Raw tokens are crafted, not issued: introspection does not know them.
    assert_eq!(
        common::introspect(&server, &token).await,
        json!({ "active": false })
    );
    assert_eq!(server.requests_to("/evil-jwks"), 0);
}

/// Checks only the RS256 signature of `token` against key `kid`.
fn signature_ok(server: &MockAuthServer, token: &str, kid: &str) -> bool {
    let key = DecodingKey::from_rsa_der(&server.public_key_der(kid));
    let (message, signature) = token.rsplit_once('.').unwrap();
    jsonwebtoken::crypto::verify(signature, message.as_bytes(), &key, Algorithm::RS256).unwrap()
}

fn pem_to_der(pem: &str) -> Vec<u8> {
    use base64::Engine as _;
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
    base64::engine::general_purpose::STANDARD
        .decode(body)
        .unwrap()
}
