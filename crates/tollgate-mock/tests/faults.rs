//! Each fault kind, per endpoint and per path, and the counters that still see faulted
//! requests.

mod common;

use std::time::{Duration, Instant};

use bytes::Bytes;
use common::{get_json, post_basic};
use serde_json::Value;
use tollgate_mock::testing::client;
use tollgate_mock::{Canned, Endpoint, Fault, MockAuthServer};

#[tokio::test]
async fn latency_delays_then_answers() {
    let server = MockAuthServer::start().await;
    server.set_fault(Endpoint::Jwks, Fault::Latency(Duration::from_millis(300)));
    let started = Instant::now();
    let jwks = get_json(&server.jwks_uri()).await;
    assert!(started.elapsed() >= Duration::from_millis(300));
    assert_eq!(jwks, server.jwks());
}

#[tokio::test]
async fn status_answers_with_a_json_error() {
    let server = MockAuthServer::start().await;
    server.set_fault(Endpoint::Introspection, Fault::Status(503));
    let token = server.token().sign();
    let response = post_basic(
        &server,
        &server.introspection_endpoint(),
        &[("token", &token)],
    )
    .await;
    assert_eq!(response.status(), 503);
    let body: Value = response.json().await.unwrap();
    assert!(body["error"].is_string());
    // Counted, per token too, although the endpoint never ran.
    assert_eq!(server.introspection_count(), 1);
    assert_eq!(server.introspection_count_for(&token), 1);

    // Replacing and clearing.
    server.set_fault(Endpoint::Introspection, Fault::Status(500));
    let response = post_basic(
        &server,
        &server.introspection_endpoint(),
        &[("token", &token)],
    )
    .await;
    assert_eq!(response.status(), 500);
    server.clear_fault(Endpoint::Introspection);
    let response = post_basic(
        &server,
        &server.introspection_endpoint(),
        &[("token", &token)],
    )
    .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn an_oauth_error_answers_its_status_and_code() {
    let server = MockAuthServer::start().await;
    server.set_fault(
        Endpoint::Introspection,
        Fault::OAuthError {
            status: 400,
            error: "unsupported_token_type".into(),
        },
    );
    let token = server.token().sign();
    let response = post_basic(
        &server,
        &server.introspection_endpoint(),
        &[("token", &token)],
    )
    .await;
    assert_eq!(response.status(), 400);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["error"], "unsupported_token_type");
    assert!(body["error_description"].is_string());
    assert_eq!(server.introspection_count_for(&token), 1);
}

#[tokio::test]
async fn malformed_body_is_not_json() {
    let server = MockAuthServer::start().await;
    server.set_fault(Endpoint::Discovery, Fault::MalformedBody);
    // Discovery covers both documents.
    for url in [
        server.oauth_metadata_url(),
        server.openid_configuration_url(),
    ] {
        let response = client().get(url).send().await.unwrap();
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "application/json");
        let text = response.text().await.unwrap();
        assert!(serde_json::from_str::<Value>(&text).is_err());
    }
    assert_eq!(server.discovery_fetches(), 2);
    // Other endpoints are unaffected.
    get_json(&server.jwks_uri()).await;
}

#[tokio::test]
async fn body_is_sent_exactly() {
    let server = MockAuthServer::start().await;
    let huge = Bytes::from(vec![b' '; 3 * 1024 * 1024]);
    server.set_fault(
        Endpoint::Jwks,
        Fault::Body {
            content_type: "text/html".into(),
            body: huge.clone(),
        },
    );
    let response = client().get(server.jwks_uri()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "text/html");
    assert_eq!(response.bytes().await.unwrap(), huge);

    let nested = Bytes::from(format!("{}{}", "[".repeat(10_000), "]".repeat(10_000)));
    server.set_fault(
        Endpoint::Token,
        Fault::Body {
            content_type: "application/json".into(),
            body: nested.clone(),
        },
    );
    let response = post_basic(
        &server,
        &server.token_endpoint(),
        &[("grant_type", "client_credentials")],
    )
    .await;
    assert_eq!(response.bytes().await.unwrap(), nested);
}

#[tokio::test]
async fn slow_drip_delivers_the_normal_body() {
    let server = MockAuthServer::start().await;
    server.set_fault(
        Endpoint::Jwks,
        Fault::SlowDrip {
            chunk: 64,
            every: Duration::from_millis(2),
        },
    );
    let response = client().get(server.jwks_uri()).send().await.unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["cache-control"], "max-age=300");
    assert!(response.headers().get("content-length").is_none());
    let mut response = response;
    let (mut chunks, mut body) = (0, Vec::new());
    while let Some(chunk) = response.chunk().await.unwrap() {
        assert!(chunk.len() <= 64);
        chunks += 1;
        body.extend_from_slice(&chunk);
    }
    assert!(chunks > 1);
    assert_eq!(
        serde_json::from_slice::<Value>(&body).unwrap(),
        server.jwks()
    );
}

#[tokio::test]
async fn redirect_points_elsewhere() {
    let server = MockAuthServer::start().await;
    let target = format!("{}/elsewhere", server.base_url());
    server.set_fault(Endpoint::Revocation, Fault::Redirect(target.clone()));
    let response = post_basic(&server, &server.revocation_endpoint(), &[("token", "x")]).await;
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers()["location"], target.as_str());
    assert_eq!(server.revocation_requests(), 1);
    assert_eq!(server.requests_to("/elsewhere"), 0);
}

#[tokio::test]
async fn clear_faults_restores_every_endpoint() {
    let server = MockAuthServer::start().await;
    server.set_fault(Endpoint::Jwks, Fault::Status(500));
    server.set_fault(Endpoint::Discovery, Fault::Status(502));
    assert_eq!(
        client()
            .get(server.jwks_uri())
            .send()
            .await
            .unwrap()
            .status(),
        500
    );
    assert_eq!(
        client()
            .get(server.openid_configuration_url())
            .send()
            .await
            .unwrap()
            .status(),
        502
    );
    server.clear_faults();
    get_json(&server.jwks_uri()).await;
    get_json(&server.openid_configuration_url()).await;
    assert_eq!(server.jwks_fetches(), 2);
    assert_eq!(server.discovery_fetches(), 2);
}

#[tokio::test]
async fn canned_answers_exactly_its_status_headers_and_body() {
    let server = MockAuthServer::start().await;
    let token = server.opaque_token().issue();
    let url = server.introspection_endpoint();
    let form = [("token", token.as_str())];
    let introspect = || post_basic(&server, &url, &form);

    // A 400 that is no RFC 6749 §5.2 error: an HTML page.
    server.set_fault(
        Endpoint::Introspection,
        Fault::Canned(
            Canned::new(400)
                .content_type("text/html")
                .body("<html>Bad Request</html>"),
        ),
    );
    let response = introspect().await;
    assert_eq!(response.status(), 400);
    assert_eq!(response.headers()["content-type"], "text/html");
    assert_eq!(response.text().await.unwrap(), "<html>Bad Request</html>");

    // A 500 whose body looks like an active answer.
    let active = serde_json::json!({ "active": true, "sub": "alice" });
    server.set_fault(
        Endpoint::Introspection,
        Fault::Canned(Canned::new(500).json(&active)),
    );
    let response = introspect().await;
    assert_eq!(response.status(), 500);
    assert_eq!(response.headers()["content-type"], "application/json");
    assert_eq!(response.json::<Value>().await.unwrap(), active);

    // No body and no header of its own; a code that is no final status becomes 500.
    for (code, expected) in [(204, 204), (503, 503), (101, 500), (42, 500)] {
        server.set_fault(Endpoint::Introspection, Fault::Canned(Canned::new(code)));
        let response = introspect().await;
        assert_eq!(response.status(), expected, "{code}");
        assert!(response.headers().get("content-type").is_none(), "{code}");
        assert!(response.bytes().await.unwrap().is_empty(), "{code}");
    }
    // Every request was counted, faulted or not.
    assert_eq!(server.introspection_count_for(&token), 6);
}

#[tokio::test]
async fn canned_headers_repeat_and_a_chunked_body_has_no_length() {
    let server = MockAuthServer::start().await;
    let keys = server.jwks();
    server.set_fault(
        Endpoint::Jwks,
        Fault::Canned(
            Canned::new(200)
                .json(&keys)
                .header("cache-control", "public")
                .header("Cache-Control", "max-age=0"),
        ),
    );
    let response = client().get(server.jwks_uri()).send().await.unwrap();
    let lines: Vec<_> = response.headers().get_all("cache-control").iter().collect();
    assert_eq!(lines, ["public", "max-age=0"]);
    let length = serde_json::to_vec(&keys).unwrap().len().to_string();
    assert_eq!(response.headers()["content-length"], length.as_str());
    assert_eq!(response.json::<Value>().await.unwrap(), keys);

    let body = Bytes::from(vec![b' '; 3000]);
    server.set_fault(
        Endpoint::Jwks,
        Fault::Canned(Canned::new(200).body(body.clone()).chunked(1024)),
    );
    let response = client().get(server.jwks_uri()).send().await.unwrap();
    assert!(response.headers().get("content-length").is_none());
    assert_eq!(response.headers()["transfer-encoding"], "chunked");
    // A body without a content type, as some servers send their JWKS.
    assert!(response.headers().get("content-type").is_none());
    assert_eq!(response.bytes().await.unwrap(), body);
}

#[test]
fn canned_refuses_what_is_no_header() {
    let refused = |make: fn() -> Canned| std::panic::catch_unwind(make).is_err();
    assert!(refused(|| Canned::new(200).header("bad name", "x")));
    assert!(refused(|| Canned::new(200).header("x-ok", "line\nbreak")));
    assert!(refused(|| Canned::new(200).content_type("text/\nhtml")));
    assert!(!refused(|| Canned::new(200).header("x-ok", "fine")));
}

#[tokio::test]
async fn a_path_fault_wins_over_its_endpoint_and_answers_on_unknown_paths() {
    let server = MockAuthServer::builder()
        .issuer_path("/realms/x")
        .start()
        .await;
    let status = |url: String| async move { client().get(url).send().await.unwrap().status() };
    let oauth = server.oauth_metadata_url();
    let oauth_path = "/.well-known/oauth-authorization-server/realms/x";
    assert!(oauth.ends_with(oauth_path));
    let lie = serde_json::json!({ "issuer": "https://evil.example", "jwks_uri": "x" });

    // Both documents are Discovery; a path fault makes one of them lie.
    server.set_fault_at(oauth_path, Fault::Canned(Canned::new(200).json(&lie)));
    assert_eq!(get_json(&oauth).await, lie);
    let openid = get_json(&server.openid_configuration_url()).await;
    assert_eq!(openid["issuer"], server.issuer());

    // It wins over the endpoint's fault, and goes when cleared.
    server.set_fault(Endpoint::Discovery, Fault::Status(502));
    assert_eq!(get_json(&oauth).await, lie);
    assert_eq!(status(server.openid_configuration_url()).await, 502);
    server.clear_fault_at(oauth_path);
    assert_eq!(status(oauth.clone()).await, 502);
    server.clear_fault(Endpoint::Discovery);
    assert_eq!(get_json(&oauth).await["issuer"], server.issuer());

    // On a path the server does not serve, it answers instead of the 404.
    let elsewhere = format!("{}/elsewhere", server.base_url());
    assert_eq!(status(elsewhere.clone()).await, 404);
    server.set_fault_at("/elsewhere", Fault::Canned(Canned::new(200).json(&lie)));
    assert_eq!(get_json(&elsewhere).await, lie);
    server.clear_faults();
    assert_eq!(status(elsewhere).await, 404);
    assert_eq!(server.requests_to("/elsewhere"), 3);
    assert_eq!(server.requests_to(oauth_path), 4);
    assert_eq!(server.discovery_fetches(), 6);
}
