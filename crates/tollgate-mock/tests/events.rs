//! Security Event Tokens from the mock: what `security_event` makes, and what `push` sends.

use std::collections::HashSet;
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::http::{HeaderMap, StatusCode};
use axum::response::IntoResponse;
use axum::routing::post;
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation, decode};
use serde_json::{Value, json};
use tollgate_mock::MockAuthServer;
use tollgate_mock::events::{EventType, Subject, push, push_with};
use tollgate_mock::testing::{jwt_header, segment_json, segments, serve, unix_now};

/// Verifies a SET's signature with plain jsonwebtoken against the JWKS the server serves;
/// returns its claims. A SET has no `exp`, so none is required.
fn verify(server: &MockAuthServer, set: &str) -> Result<Value, jsonwebtoken::errors::Error> {
    let jwks: JwkSet = serde_json::from_value(server.jwks()).unwrap();
    let kid = jwt_header(set)["kid"].as_str().unwrap().to_owned();
    let Some(jwk) = jwks.find(&kid) else {
        return Err(jsonwebtoken::errors::ErrorKind::InvalidKeyFormat.into());
    };
    let key = DecodingKey::from_jwk(jwk)?;
    let mut validation = Validation::new(tollgate_mock::Algorithm::RS256);
    validation.required_spec_claims = HashSet::new();
    validation.validate_exp = false;
    validation.set_audience(&[server.audience()]);
    decode::<Value>(set, &key, &validation).map(|data| data.claims)
}

fn claims(set: &str) -> Value {
    let [_, payload, _] = segments(set);
    segment_json(&payload).unwrap()
}

#[tokio::test]
async fn the_default_set_is_what_ssf_asks_for() {
    let server = MockAuthServer::start().await;
    let set = server.security_event(EventType::SessionRevoked).sign();
    assert_eq!(
        jwt_header(&set),
        json!({"alg": "RS256", "typ": "secevent+jwt", "kid": server.signing_kid()})
    );
    let claims = verify(&server, &set).unwrap();
    assert_eq!(claims["iss"], server.issuer());
    assert_eq!(claims["aud"], server.audience());
    assert!((claims["iat"].as_i64().unwrap() - unix_now()).abs() <= 5);
    assert!(claims["jti"].as_str().is_some_and(|jti| jti.len() >= 16));
    assert_eq!(
        claims["sub_id"],
        json!({"format": "iss_sub", "iss": server.issuer(), "sub": "alice"})
    );
    assert_eq!(
        claims["events"],
        json!({"https://schemas.openid.net/secevent/caep/event-type/session-revoked": {}})
    );
    // SSF 1.0 §4.1.2, §4.1.7.
    assert!(claims.get("sub").is_none() && claims.get("exp").is_none());
    // Each SET has its own `jti`.
    let other = server.security_event(EventType::SessionRevoked).sign();
    assert_ne!(claims["jti"], verify(&server, &other).unwrap()["jti"]);
}

#[tokio::test]
async fn each_event_type_has_its_uri_and_required_members() {
    let server = MockAuthServer::start().await;
    let caep = "https://schemas.openid.net/secevent/caep/event-type/";
    let risc = "https://schemas.openid.net/secevent/risc/event-type/";
    let oauth = "https://schemas.openid.net/secevent/oauth/event-type/";
    let cases = [
        (
            EventType::SessionRevoked,
            format!("{caep}session-revoked"),
            json!({}),
        ),
        (
            EventType::CredentialChange,
            format!("{caep}credential-change"),
            json!({"credential_type": "password", "change_type": "update"}),
        ),
        (
            EventType::AccountCredentialChangeRequired,
            format!("{risc}account-credential-change-required"),
            json!({}),
        ),
        (
            EventType::AccountPurged,
            format!("{risc}account-purged"),
            json!({}),
        ),
        (
            EventType::AccountDisabled,
            format!("{risc}account-disabled"),
            json!({}),
        ),
        (
            EventType::AccountEnabled,
            format!("{risc}account-enabled"),
            json!({}),
        ),
        (
            EventType::CredentialCompromise,
            format!("{risc}credential-compromise"),
            json!({"credential_type": "password"}),
        ),
        (
            EventType::SessionsRevoked,
            format!("{risc}sessions-revoked"),
            json!({}),
        ),
        (
            EventType::TokenRevoked,
            format!("{oauth}token-revoked"),
            json!({}),
        ),
        (
            EventType::TokensRevoked,
            format!("{oauth}tokens-revoked"),
            json!({}),
        ),
        (
            EventType::Custom("urn:example:lunch".into()),
            "urn:example:lunch".to_owned(),
            json!({}),
        ),
    ];
    for (event, uri, payload) in cases {
        assert_eq!(event.uri(), uri);
        let set = server.security_event(event).sign();
        assert_eq!(
            claims(&set)["events"],
            json!({ uri.clone(): payload }),
            "{uri}"
        );
    }
    // SSF verification carries a random `state`.
    let set = server.security_event(EventType::Verification).sign();
    let events = &claims(&set)["events"];
    let state = &events["https://schemas.openid.net/secevent/ssf/event-type/verification"]["state"];
    assert!(state.as_str().is_some_and(|s| !s.is_empty()), "{events}");
}

#[tokio::test]
async fn every_member_can_be_changed_or_removed() {
    let server = MockAuthServer::start().await;
    let set = server
        .security_event(EventType::CredentialChange)
        .subject(Subject::opaque("s-1"))
        .audience("https://receiver.example")
        .issuer("https://someone-else.example")
        .issued_at(1_000)
        .jti("same")
        .event_timestamp(900)
        .event_claim("change_type", "revoke")
        .remove_event_claim("credential_type")
        .claim("txn", "t-1")
        .remove_claim("iat")
        .header("typ", "JWT")
        .remove_header("kid")
        .sign();
    assert_eq!(jwt_header(&set), json!({"alg": "RS256", "typ": "JWT"}));
    let claims = claims(&set);
    assert_eq!(claims["sub_id"], json!({"format": "opaque", "id": "s-1"}));
    assert_eq!(claims["aud"], "https://receiver.example");
    assert_eq!(claims["iss"], "https://someone-else.example");
    assert_eq!(
        (claims.get("iat"), &claims["jti"], &claims["txn"]),
        (None, &json!("same"), &json!("t-1"))
    );
    assert_eq!(
        claims["events"]["https://schemas.openid.net/secevent/caep/event-type/credential-change"],
        json!({"change_type": "revoke", "event_timestamp": 900})
    );
}

#[tokio::test]
async fn unsigned_and_forged_sets_do_not_verify() {
    let server = MockAuthServer::start().await;
    let unsigned = server
        .security_event(EventType::AccountDisabled)
        .unsigned()
        .sign();
    assert!(unsigned.ends_with('.'));
    assert_eq!(
        jwt_header(&unsigned),
        json!({"alg": "none", "typ": "secevent+jwt"})
    );

    let forged = server
        .security_event(EventType::AccountDisabled)
        .unpublished_key()
        .sign();
    assert_eq!(jwt_header(&forged)["kid"], server.signing_kid());
    assert!(verify(&server, &forged).is_err());

    let es256 = server.add_key(tollgate_mock::Algorithm::ES256);
    let set = server
        .security_event(EventType::AccountDisabled)
        .kid(&es256)
        .sign();
    assert_eq!(jwt_header(&set)["alg"], "ES256");
    let set = server
        .security_event(EventType::AccountDisabled)
        .algorithm(tollgate_mock::Algorithm::EdDSA)
        .sign();
    assert_eq!(jwt_header(&set)["alg"], "EdDSA");
    assert!(
        server.jwks()["keys"].as_array().unwrap().len() >= 3,
        "EdDSA key published"
    );
}

#[tokio::test]
async fn subjects_in_every_spelling() {
    let alice = Subject::iss_sub("https://as.example", "alice");
    assert_eq!(
        Subject::session("s-1", alice.clone()).to_value(),
        json!({"format": "complex", "session": {"format": "opaque", "id": "s-1"},
               "user": {"format": "iss_sub", "iss": "https://as.example", "sub": "alice"}})
    );
    assert_eq!(
        Subject::session("s-1", alice.clone()).legacy().to_value(),
        json!({"session": {"subject_type": "opaque", "id": "s-1"},
               "user": {"subject_type": "iss-sub", "iss": "https://as.example", "sub": "alice"}})
    );
    assert_eq!(
        Subject::aliases([
            Subject::email("a@example.com"),
            Subject::jwt_id("https://as.example", "j")
        ])
        .to_value(),
        json!({"format": "aliases", "identifiers": [
            {"format": "email", "email": "a@example.com"},
            {"format": "jwt_id", "iss": "https://as.example", "jti": "j"}]})
    );
    assert_eq!(
        Subject::oauth_access_token("tok").to_value(),
        json!({"subject_type": "oauth_token", "token_type": "access_token",
               "token_identifier_alg": "plain", "token": "tok"})
    );

    // Inside the event, as older transmitters put it: no `sub_id` then.
    let server = MockAuthServer::start().await;
    let set = server
        .security_event(EventType::TokenRevoked)
        .subject_in_event(Subject::oauth_access_token("tok"))
        .sign();
    let claims = claims(&set);
    assert!(claims.get("sub_id").is_none());
    assert_eq!(
        claims["events"]["https://schemas.openid.net/secevent/oauth/event-type/token-revoked"]["subject"]
            ["token"],
        "tok"
    );
}

#[tokio::test]
async fn several_events_in_one_set() {
    let server = MockAuthServer::start().await;
    let set = server
        .security_event(EventType::AccountDisabled)
        .also_event(EventType::CredentialCompromise)
        .sign();
    assert_eq!(claims(&set)["events"].as_object().unwrap().len(), 2);
}

/// What a receiver saw of a push.
#[derive(Debug, Clone)]
struct Seen {
    headers: HeaderMap,
    body: String,
}

#[tokio::test]
async fn push_delivers_as_rfc_8935_says_and_reads_the_answer() {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let record = seen.clone();
    let app = Router::new().route(
        "/events",
        post(move |headers: HeaderMap, body: String| {
            let record = record.clone();
            async move {
                let refuse = body.contains("refuse-me");
                record.lock().unwrap().push(Seen { headers, body });
                if refuse {
                    (
                        StatusCode::BAD_REQUEST,
                        [
                            ("content-type", "application/json"),
                            ("content-language", "en"),
                        ],
                        r#"{"err":"invalid_key","description":"no"}"#,
                    )
                        .into_response()
                } else {
                    StatusCode::ACCEPTED.into_response()
                }
            }
        }),
    );
    let url = format!("{}/events", serve(app).await);
    let server = MockAuthServer::start().await;
    let set = server.security_event(EventType::AccountPurged).sign();

    let answer = push(&url, &set).await;
    assert_eq!((answer.status, answer.body.as_str()), (202, ""));
    let first = seen.lock().unwrap()[0].clone();
    assert_eq!(first.body, set);
    assert_eq!(first.headers["content-type"], "application/secevent+jwt");
    assert_eq!(first.headers["accept"], "application/json");

    let answer = push_with(
        &url,
        "refuse-me",
        &[
            ("content-type", "application/jwt"),
            ("authorization", "Bearer s"),
        ],
    )
    .await;
    assert_eq!(answer.status, 400);
    assert_eq!(answer.err().as_deref(), Some("invalid_key"));
    assert_eq!(answer.content_type.as_deref(), Some("application/json"));
    assert_eq!(answer.content_language.as_deref(), Some("en"));
    let second = seen.lock().unwrap()[1].clone();
    let types: Vec<_> = second.headers.get_all("content-type").iter().collect();
    assert_eq!(types, ["application/jwt"], "a replaced header travels once");
    assert_eq!(second.headers["authorization"], "Bearer s");
}
