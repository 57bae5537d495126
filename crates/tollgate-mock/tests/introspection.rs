//! RFC 7662 introspection and RFC 7009 revocation.

mod common;

use common::{introspect, post_basic};
use serde_json::{Value, json};
use tollgate_mock::MockAuthServer;
use tollgate_mock::testing::client;

#[tokio::test]
async fn authentication_is_required() {
    let server = MockAuthServer::builder()
        .introspection_bearer("rs-bearer")
        .start()
        .await;
    let token = server.token().sign();
    let endpoint = server.introspection_endpoint();
    let form = [("token", token.as_str())];
    let refused = [
        client().post(&endpoint).form(&form),
        client()
            .post(&endpoint)
            .basic_auth("tollgate-rs", Some("wrong"))
            .form(&form),
        client().post(&endpoint).bearer_auth("not-it").form(&form),
        client()
            .post(&endpoint)
            .header("authorization", "Digest x")
            .form(&form),
    ];
    for request in refused {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 401);
        assert!(response.headers().contains_key("www-authenticate"));
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["error"], "invalid_client");
    }
    let accepted = [
        client()
            .post(&endpoint)
            .basic_auth("tollgate-rs", Some("tollgate-secret"))
            .form(&form),
        client().post(&endpoint).form(&[
            ("token", token.as_str()),
            ("client_id", "tollgate-rs"),
            ("client_secret", "tollgate-secret"),
        ]),
        client()
            .post(&endpoint)
            .bearer_auth("rs-bearer")
            .form(&form),
    ];
    for request in accepted {
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "no-store");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["active"], true);
    }
    assert_eq!(server.introspection_count(), 7);
    assert_eq!(server.introspection_count_for(&token), 7);
    assert_eq!(server.introspection_bearer().as_deref(), Some("rs-bearer"));

    // A missing token parameter is the caller's mistake.
    let response = post_basic(&server, &endpoint, &[("token_type_hint", "access_token")]).await;
    assert_eq!(response.status(), 400);
}

#[tokio::test]
async fn active_answer_for_a_jwt() {
    let server = MockAuthServer::start().await;
    let builder = server.token().subject("bob").scope("read write");
    let claims = builder.claims();
    let token = builder.sign();
    let answer = introspect(&server, &token).await;
    let mut expected = claims.as_object().unwrap().clone();
    expected.insert("active".into(), true.into());
    expected.insert("token_type".into(), "Bearer".into());
    assert_eq!(answer, Value::Object(expected));
    for field in [
        "scope",
        "client_id",
        "sub",
        "aud",
        "iss",
        "exp",
        "iat",
        "jti",
    ] {
        assert!(answer.get(field).is_some(), "{field}");
    }

    // `aud` as issued: an array stays an array.
    let token = server.token().audiences(["a", "b"]).sign();
    assert_eq!(introspect(&server, &token).await["aud"], json!(["a", "b"]));
}

#[tokio::test]
async fn active_answer_for_an_opaque_token() {
    let server = MockAuthServer::start().await;
    let token = server
        .opaque_token()
        .subject("erin")
        .scope("admin")
        .client_id("cli")
        .audience("https://x.example")
        .claim("acr", "urn:mfa")
        .issue();
    let answer = introspect(&server, &token).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["token_type"], "Bearer");
    assert_eq!(answer["sub"], "erin");
    assert_eq!(answer["scope"], "admin");
    assert_eq!(answer["client_id"], "cli");
    assert_eq!(answer["aud"], "https://x.example");
    assert_eq!(answer["iss"], server.issuer());
    assert_eq!(answer["acr"], "urn:mfa");
    assert!(answer["exp"].as_i64().unwrap() > answer["iat"].as_i64().unwrap());
    assert!(answer["jti"].is_string());
}

#[tokio::test]
async fn inactive_answers_are_bare() {
    let server = MockAuthServer::start().await;
    let revoked = server.token().sign();
    server.revoke(&revoked);
    let revoked_opaque = server.opaque_token().issue();
    server.revoke(&revoked_opaque);
    for token in [
        "never-issued".to_owned(),
        server.token().expired().sign(),
        server.opaque_token().expired().issue(),
        server.token().expires_in(std::time::Duration::ZERO).sign(),
        revoked,
        revoked_opaque,
    ] {
        assert_eq!(
            introspect(&server, &token).await,
            json!({ "active": false })
        );
    }
}

#[tokio::test]
async fn introspection_can_disagree_with_the_jwt() {
    let server = MockAuthServer::start().await;
    let token = server
        .token()
        .introspection_claim("sub", "mallory")
        .introspection_claim("active", "true")
        .introspection_claim("scope", Value::Null)
        .sign();
    let answer = introspect(&server, &token).await;
    assert_eq!(answer["sub"], "mallory");
    assert_eq!(answer["active"], "true");
    assert!(answer.get("scope").is_none());
    assert_eq!(
        common::verify(&server, &token).await.unwrap()["sub"],
        "alice"
    );
}

#[tokio::test]
async fn an_opaque_answer_can_look_like_another_servers() {
    let server = MockAuthServer::start().await;
    // Keycloak marks a refresh token with `typ: "Refresh"`; older versions send no `token_type`.
    let token = server
        .opaque_token()
        .introspection_claim("typ", "Refresh")
        .introspection_claim("token_type", Value::Null)
        .issue();
    let answer = introspect(&server, &token).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["typ"], "Refresh");
    assert!(answer.get("token_type").is_none());
    assert_eq!(answer["sub"], "alice", "the other fields stay");
}

#[tokio::test]
async fn refresh_tokens_introspect_as_such() {
    let server = MockAuthServer::start().await;
    let refresh = server.refresh_token().issue();
    let answer = introspect(&server, &refresh).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["token_type"], "refresh_token");
}

#[tokio::test]
async fn revocation_endpoint() {
    let server = MockAuthServer::start().await;
    let endpoint = server.revocation_endpoint();
    let token = server.token().sign();

    // Client authentication required.
    let response = client()
        .post(&endpoint)
        .form(&[("token", token.as_str())])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    assert!(response.headers().contains_key("www-authenticate"));
    assert_eq!(introspect(&server, &token).await["active"], true);

    let response = post_basic(
        &server,
        &endpoint,
        &[("token", &token), ("token_type_hint", "access_token")],
    )
    .await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        introspect(&server, &token).await,
        json!({ "active": false })
    );

    // Unknown tokens: 200 all the same (RFC 7009 §2.2).
    let response = post_basic(&server, &endpoint, &[("token", "whatever")]).await;
    assert_eq!(response.status(), 200);
    // Post authentication works too.
    let opaque = server.opaque_token().issue();
    let response = client()
        .post(&endpoint)
        .form(&[
            ("token", opaque.as_str()),
            ("client_id", "tollgate-rs"),
            ("client_secret", "tollgate-secret"),
        ])
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(
        introspect(&server, &opaque).await,
        json!({ "active": false })
    );

    // Missing token.
    let response = post_basic(&server, &endpoint, &[]).await;
    assert_eq!(response.status(), 400);
    assert_eq!(server.revocation_requests(), 5);
}

#[tokio::test]
async fn revoking_a_refresh_token_cascades() {
    let server = MockAuthServer::start().await;
    let refresh = server.refresh_token().issue();
    let jwt = server.token().refresh_token(&refresh).sign();
    let opaque = server.opaque_token().refresh_token(&refresh).issue();
    let unrelated = server.token().sign();
    let response = post_basic(
        &server,
        &server.revocation_endpoint(),
        &[("token", &refresh), ("token_type_hint", "refresh_token")],
    )
    .await;
    assert_eq!(response.status(), 200);
    for token in [&refresh, &jwt, &opaque] {
        assert_eq!(introspect(&server, token).await, json!({ "active": false }));
    }
    assert_eq!(introspect(&server, &unrelated).await["active"], true);
    // Linked after the revocation: dead on arrival.
    let late = server.token().refresh_token(&refresh).sign();
    assert_eq!(introspect(&server, &late).await, json!({ "active": false }));
}
