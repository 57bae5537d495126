//! The token endpoint: grants, client authentication, errors.

mod common;

use common::{introspect, post_basic, verify};
use reqwest::StatusCode;
use serde_json::{Value, json};
use tollgate_mock::MockAuthServer;
use tollgate_mock::testing::client;

async fn json_of(response: reqwest::Response) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    (status, headers, response.json().await.unwrap())
}

#[tokio::test]
async fn client_credentials_with_basic_auth() {
    let server = MockAuthServer::start().await;
    let response = post_basic(
        &server,
        &server.token_endpoint(),
        &[
            ("grant_type", "client_credentials"),
            ("scope", "read write"),
        ],
    )
    .await;
    let (status, headers, body) = json_of(response).await;
    assert_eq!(status, 200);
    assert_eq!(headers["cache-control"], "no-store");
    assert_eq!(body["token_type"], "Bearer");
    assert_eq!(body["expires_in"], 300);
    assert_eq!(body["scope"], "read write");
    assert!(body.get("refresh_token").is_none());
    let claims = verify(&server, body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(claims["sub"], "tollgate-rs");
    assert_eq!(claims["client_id"], "tollgate-rs");
    assert_eq!(claims["scope"], "read write");
    assert_eq!(server.token_requests(), 1);
}

#[tokio::test]
async fn client_credentials_with_post_auth_and_default_scope() {
    let server = MockAuthServer::builder()
        .client("first", "one")
        .client("second", "two")
        .start()
        .await;
    let response = client()
        .post(server.token_endpoint())
        .form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "second"),
            ("client_secret", "two"),
        ])
        .send()
        .await
        .unwrap();
    let (status, _, body) = json_of(response).await;
    assert_eq!(status, 200);
    assert_eq!(body["scope"], "read");
    let claims = verify(&server, body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(claims["client_id"], "second");
}

#[tokio::test]
async fn opaque_format_and_refresh_grant() {
    let server = MockAuthServer::start().await;
    let endpoint = server.token_endpoint();
    let form = [
        ("grant_type", "client_credentials"),
        ("scope", "read offline_access"),
        ("token_format", "opaque"),
    ];
    let (status, _, body) = json_of(post_basic(&server, &endpoint, &form).await).await;
    assert_eq!(status, 200);
    let access = body["access_token"].as_str().unwrap().to_owned();
    assert!(!access.contains('.'));
    let refresh = body["refresh_token"].as_str().unwrap().to_owned();
    let answer = introspect(&server, &access).await;
    assert_eq!(answer["active"], true);
    assert_eq!(answer["scope"], "read offline_access");

    // Refresh, narrowing the scope; JWT by default.
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", &refresh),
        ("scope", "read"),
    ];
    let (status, _, body) = json_of(post_basic(&server, &endpoint, &form).await).await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["refresh_token"], refresh);
    assert_eq!(body["scope"], "read");
    let refreshed = body["access_token"].as_str().unwrap().to_owned();
    assert_eq!(verify(&server, &refreshed).await.unwrap()["scope"], "read");

    // Widening is refused.
    let form = [
        ("grant_type", "refresh_token"),
        ("refresh_token", &refresh),
        ("scope", "admin"),
    ];
    let (status, _, body) = json_of(post_basic(&server, &endpoint, &form).await).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_scope"))
    );

    // Revoking the refresh token takes both access tokens along.
    server.revoke(&refresh);
    assert_eq!(
        introspect(&server, &access).await,
        json!({ "active": false })
    );
    assert_eq!(
        introspect(&server, &refreshed).await,
        json!({ "active": false })
    );
    let form = [("grant_type", "refresh_token"), ("refresh_token", &refresh)];
    let (status, _, body) = json_of(post_basic(&server, &endpoint, &form).await).await;
    assert_eq!(
        (status, body["error"].clone()),
        (StatusCode::BAD_REQUEST, json!("invalid_grant"))
    );
}

#[tokio::test]
async fn refresh_grant_checks_the_token_and_its_client() {
    let server = MockAuthServer::builder()
        .client("a", "sa")
        .client("b", "sb")
        .start()
        .await;
    let refresh = server
        .refresh_token()
        .client_id("a")
        .subject("dave")
        .scope("read write")
        .issue();
    let send = |id: &'static str, secret: &'static str, token: String| {
        client()
            .post(server.token_endpoint())
            .basic_auth(id, Some(secret))
            .form(&[
                ("grant_type", "refresh_token".to_owned()),
                ("refresh_token", token),
            ])
            .send()
    };
    let (status, _, body) = json_of(send("a", "sa", refresh.clone()).await.unwrap()).await;
    assert_eq!(status, 200);
    let claims = verify(&server, body["access_token"].as_str().unwrap())
        .await
        .unwrap();
    assert_eq!(
        (claims["sub"].clone(), claims["scope"].clone()),
        (json!("dave"), json!("read write"))
    );

    for (id, secret, token) in [
        ("b", "sb", refresh.clone()),
        ("a", "sa", "unknown".to_owned()),
        (
            "a",
            "sa",
            server.refresh_token().client_id("a").expired().issue(),
        ),
        ("a", "sa", server.opaque_token().client_id("a").issue()),
    ] {
        let (status, _, body) = json_of(send(id, secret, token).await.unwrap()).await;
        assert_eq!(
            (status, body["error"].clone()),
            (StatusCode::BAD_REQUEST, json!("invalid_grant"))
        );
    }
}

#[tokio::test]
async fn client_authentication_failures() {
    let server = MockAuthServer::start().await;
    let endpoint = server.token_endpoint();
    let grant = [("grant_type", "client_credentials")];
    let cases = [
        client().post(&endpoint).form(&grant),
        client()
            .post(&endpoint)
            .basic_auth("tollgate-rs", Some("wrong"))
            .form(&grant),
        client()
            .post(&endpoint)
            .basic_auth("nobody", Some("tollgate-secret"))
            .form(&grant),
        client()
            .post(&endpoint)
            .bearer_auth("tollgate-secret")
            .form(&grant),
        client()
            .post(&endpoint)
            .header("authorization", "Basic !!!")
            .form(&grant),
        client().post(&endpoint).form(&[
            ("grant_type", "client_credentials"),
            ("client_id", "tollgate-rs"),
            ("client_secret", "nope"),
        ]),
    ];
    for request in cases {
        let (status, headers, body) = json_of(request.send().await.unwrap()).await;
        assert_eq!(status, 401);
        assert!(
            headers["www-authenticate"]
                .to_str()
                .unwrap()
                .starts_with("Basic")
        );
        assert_eq!(body["error"], "invalid_client");
    }
}

#[tokio::test]
async fn request_errors() {
    let server = MockAuthServer::start().await;
    let endpoint = server.token_endpoint();
    let cases: Vec<(Vec<(&str, &str)>, &str)> = vec![
        (vec![], "invalid_request"),
        (vec![("grant_type", "password")], "unsupported_grant_type"),
        (
            vec![
                ("grant_type", "client_credentials"),
                ("token_format", "xml"),
            ],
            "invalid_request",
        ),
        (vec![("grant_type", "refresh_token")], "invalid_request"),
        // Two authentication methods at once (RFC 6749 §2.3).
        (
            vec![
                ("grant_type", "client_credentials"),
                ("client_secret", "tollgate-secret"),
            ],
            "invalid_request",
        ),
    ];
    for (form, error) in cases {
        let (status, _, body) = json_of(post_basic(&server, &endpoint, &form).await).await;
        assert_eq!(
            (status, body["error"].as_str().unwrap()),
            (StatusCode::BAD_REQUEST, error),
            "{form:?}"
        );
    }

    // Bodies that are not forms: 400 invalid_request, never a crash.
    let basic = |request: reqwest::RequestBuilder| {
        request.basic_auth("tollgate-rs", Some("tollgate-secret"))
    };
    let bad_bodies = [
        basic(client().post(&endpoint)).json(&json!({ "grant_type": "client_credentials" })),
        basic(client().post(&endpoint))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(vec![0xff, 0xfe, b'=', 0xc0]),
        basic(client().post(&endpoint))
            .header("content-type", "application/x-www-form-urlencoded")
            .body("grant_type=client_credentials&grant_type=refresh_token"),
        basic(client().post(&endpoint))
            .header("content-type", "application/x-www-form-urlencoded")
            .body(vec![b'a'; 100_000]),
    ];
    for request in bad_bodies {
        let (status, _, body) = json_of(request.send().await.unwrap()).await;
        assert_eq!(
            (status, body["error"].clone()),
            (StatusCode::BAD_REQUEST, json!("invalid_request"))
        );
    }

    // Wrong method.
    let response = client().get(&endpoint).send().await.unwrap();
    assert_eq!(response.status(), 405);
    assert_eq!(server.token_requests(), 10);
}
