//! `protected-api` driven over HTTP as a user would: with its embedded mock (no issuer), and
//! pointed at a separately started tollgate-mock (explicit issuer). What the program adds to
//! tollgate: its routes and their requirements, its configuration, its banner, its log. The
//! refusals themselves are proven in crates/tollgate/tests (the attack corpus above all).

mod common;

use std::time::Duration;

use common::{Api, LogCapture, config, eventually, revoke, start};
use serde_json::json;
use tollgate_examples::protected_api::{
    self, Compatibility, Config, IntrospectionConfig, Me, StartError, Trust,
};
use tollgate_mock::{MockAuthServer, Shape};

const ALL: &str = "read admin payments";

// ---- zero configuration: the embedded mock ----------------------------------------------

#[tokio::test]
async fn health_needs_no_token_and_unknown_paths_stay_404() {
    let api = start(config()).await;
    let answer = api.get("/health", None).await;
    assert_eq!(
        (answer.status, answer.json()),
        (200, json!({"status": "ok"}))
    );
    assert_eq!(api.get("/nowhere", None).await.status, 404);
    // Only the routes of the issue exist, with their methods.
    let token = api.mock().token().scope(ALL).sign();
    assert_eq!(api.get("/payments", Some(&token)).await.status, 405);
}

#[tokio::test]
async fn me_answers_the_principal_as_json() {
    let api = start(config()).await;
    let mock = api.mock();
    let token = mock.token().subject("alice").scope("read payments").sign();
    let answer = api.get("/me", Some(&token)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let me: Me = serde_json::from_str(&answer.body).expect("the /me JSON");
    assert_eq!(me.subject.as_deref(), Some("alice"));
    assert_eq!(me.client_id, Some(mock.client_id()));
    assert_eq!(me.scopes, ["read", "payments"]);
    assert_eq!(me.audiences, [mock.audience()]);
    let exp = mock.token().claims()["exp"].as_i64().expect("exp");
    assert!(
        me.expires_at.is_some_and(|e| (e - exp).abs() < 60),
        "{me:?}"
    );
    assert_eq!(me.token_format, "jwt");
    assert!(!me.introspected, "a routine route validates a JWT locally");
    assert_eq!(mock.introspection_count(), 0);
}

#[tokio::test]
async fn the_token_endpoint_line_of_the_banner_issues_usable_tokens() {
    let api = start(config()).await;
    let mock = api.mock();
    let answer = common::send(
        common::client()
            .post(mock.token_endpoint())
            .basic_auth(mock.client_id(), Some(mock.client_secret()))
            .form(&[("grant_type", "client_credentials"), ("scope", ALL)]),
    )
    .await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let token = answer.json()["access_token"]
        .as_str()
        .expect("access_token")
        .to_owned();
    let answer = api.get("/me", Some(&token)).await;
    assert_eq!(
        answer.json()["subject"],
        json!(mock.client_id()),
        "client credentials: the client is the subject"
    );
    assert_eq!(api.post("/admin/users", Some(&token)).await.status, 201);
}

#[tokio::test]
async fn photos_needs_scope_read() {
    let api = start(config()).await;
    let mock = api.mock();
    let writer = mock.token().scope("write").sign();
    let answer = api.get("/photos", Some(&writer)).await;
    assert_eq!(answer.status, 403, "{answer:?}");
    assert_eq!(answer.error().as_deref(), Some("insufficient_scope"));
    assert_eq!(answer.param("scope").as_deref(), Some("read"));
    assert_eq!(answer.param("realm").as_deref(), Some(protected_api::REALM));

    let reader = mock.token().subject("bob").scope("read").sign();
    let answer = api.get("/photos", Some(&reader)).await;
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json()["owner"], "bob");
    assert_eq!(
        mock.introspection_count(),
        0,
        "a routine route never asks the AS"
    );
}

#[tokio::test]
async fn admin_and_payments_are_sensitive_and_see_a_revocation_at_once() {
    let api = start(config()).await;
    let mock = api.mock();
    let token = mock.token().subject("alice").scope(ALL).sign();

    assert_eq!(api.post("/admin/users", Some(&token)).await.status, 201);
    assert_eq!(
        api.delete("/admin/users/42", Some(&token)).await.json()["deleted"],
        "42"
    );
    assert_eq!(api.post("/payments", Some(&token)).await.status, 201);
    assert_eq!(
        mock.introspection_count_for(&token),
        3,
        "freshness 0: every sensitive request asks"
    );

    revoke(mock, &token).await;
    // Local validation is a snapshot: the routine route does not know yet.
    let answer = api.get("/me", Some(&token)).await;
    assert_eq!(answer.status, 200);
    // The sensitive route asks, and is told.
    let answer = api.post("/payments", Some(&token)).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(answer.error().as_deref(), Some("invalid_token"));
    assert_eq!(
        answer.param("error_description").as_deref(),
        Some("the token is not active")
    );
    // From then on, every route refuses it without asking again.
    let calls = mock.introspection_count();
    for answer in [
        api.get("/me", Some(&token)).await,
        api.get("/photos", Some(&token)).await,
        api.delete("/admin/users/42", Some(&token)).await,
    ] {
        assert_eq!(
            (answer.status, answer.error().as_deref()),
            (401, Some("invalid_token")),
            "{answer:?}"
        );
    }
    assert_eq!(mock.introspection_count(), calls);
}

#[tokio::test]
async fn sensitive_routes_check_their_scope_before_asking() {
    let api = start(config()).await;
    let mock = api.mock();
    let reader = mock.token().scope("read payments").sign();
    for answer in [
        api.post("/admin/users", Some(&reader)).await,
        api.delete("/admin/users/1", Some(&reader)).await,
    ] {
        assert_eq!(
            (answer.status, answer.param("scope").as_deref()),
            (403, Some("admin")),
            "{answer:?}"
        );
    }
    let admin = mock.token().scope("admin").sign();
    let answer = api.post("/payments", Some(&admin)).await;
    assert_eq!(
        (answer.status, answer.param("scope").as_deref()),
        (403, Some("payments"))
    );
    assert_eq!(mock.introspection_count(), 0);
}

#[tokio::test]
async fn requests_without_a_usable_token_are_refused_as_rfc_6750_says() {
    let api = start(config()).await;
    let mock = api.mock();

    // No token, or another scheme: a bare challenge, no error code, naming the RFC 9728
    // document (RFC 9728 §5.1).
    let bare = format!(
        "Bearer realm=\"{}\", resource_metadata=\"{}/.well-known/oauth-protected-resource\"",
        protected_api::REALM,
        api.url
    );
    let answer = api.get("/me", None).await;
    assert_eq!(
        (answer.status, answer.challenge.as_deref()),
        (401, Some(bare.as_str()))
    );
    let answer = common::send(
        common::client()
            .get(format!("{}/me", api.url))
            .basic_auth("alice", Some("pw")),
    )
    .await;
    assert_eq!(
        (answer.status, answer.challenge.as_deref()),
        (401, Some(bare.as_str()))
    );

    // Invalid tokens: 401 invalid_token, the description says why, the body never echoes it.
    let cases = [
        (
            mock.token().expired().scope(ALL).sign(),
            "the token has expired",
        ),
        (
            mock.token()
                .audience("https://elsewhere.example")
                .scope(ALL)
                .sign(),
            "the token is not meant for this resource",
        ),
        (
            mock.token().unpublished_key().scope(ALL).sign(),
            "the token's signature is invalid",
        ),
        (
            "not-a-jwt.at.all".to_owned(),
            "the token is not a well-formed JWT",
        ),
    ];
    for (token, why) in &cases {
        for answer in [
            api.get("/me", Some(token)).await,
            api.post("/payments", Some(token)).await,
        ] {
            assert_eq!(answer.status, 401, "{why}: {answer:?}");
            assert_eq!(answer.error().as_deref(), Some("invalid_token"));
            assert_eq!(answer.param("error_description").as_deref(), Some(*why));
            assert!(!answer.body.contains(token.as_str()));
        }
    }
    assert_eq!(
        mock.introspection_count(),
        0,
        "refused locally, the AS was never asked"
    );
}

#[tokio::test]
async fn an_opaque_token_is_checked_by_introspection_on_every_route() {
    let api = start(config()).await;
    let mock = api.mock();
    let token = mock
        .opaque_token()
        .subject("carol")
        .scope("read payments")
        .issue();
    let me: Me = serde_json::from_str(&api.get("/me", Some(&token)).await.body).expect("JSON");
    assert_eq!(
        (
            me.subject.as_deref(),
            me.token_format.as_str(),
            me.introspected
        ),
        (Some("carol"), "opaque", true)
    );
    assert_eq!(api.get("/photos", Some(&token)).await.status, 200);
    assert_eq!(api.post("/payments", Some(&token)).await.status, 201);
    assert_eq!(api.post("/admin/users", Some(&token)).await.status, 403);

    revoke(mock, &token).await;
    assert_eq!(api.post("/payments", Some(&token)).await.status, 401);
    assert_eq!(api.get("/me", Some(&token)).await.status, 401);
}

#[tokio::test]
async fn when_the_as_is_down_routine_routes_serve_and_sensitive_ones_answer_503() {
    let api = start(config()).await;
    let mock = api.mock();
    let token = mock.token().scope(ALL).sign();
    mock.go_down().await;

    assert_eq!(api.get("/me", Some(&token)).await.status, 200);
    assert_eq!(api.get("/photos", Some(&token)).await.status, 200);
    for answer in [
        api.post("/payments", Some(&token)).await,
        api.post("/admin/users", Some(&token)).await,
        api.delete("/admin/users/3", Some(&token)).await,
    ] {
        assert_eq!(answer.status, 503, "{answer:?}");
        assert!(
            answer
                .retry_after
                .as_deref()
                .and_then(|r| r.parse::<u64>().ok())
                .is_some_and(|r| r >= 1)
        );
        assert!(answer.challenge.is_none(), "503 has no challenge");
        assert_eq!(
            answer.json()["error_description"],
            "the authorization server cannot be reached to confirm the token"
        );
    }

    mock.come_back().await;
    let back = eventually(Duration::from_secs(20), || async {
        api.post("/payments", Some(&token)).await.status == 201
    })
    .await;
    assert!(
        back,
        "the sensitive route did not recover once the AS came back"
    );
}

#[tokio::test]
async fn the_embedded_mock_takes_the_configured_audience_and_client() {
    let api = start(Config {
        trust: Trust {
            audiences: vec!["https://photos.example".into()],
            ..Trust::default()
        },
        introspection: IntrospectionConfig {
            client_id: Some("photos-api".into()),
            client_secret: Some("photos-secret".into()),
            ..IntrospectionConfig::default()
        },
        ..config()
    })
    .await;
    let mock = api.mock();
    assert_eq!(
        (mock.audience().as_str(), mock.client_id().as_str()),
        ("https://photos.example", "photos-api")
    );
    let token = mock.token().scope(ALL).sign();
    assert_eq!(api.post("/payments", Some(&token)).await.status, 201);
}

#[tokio::test]
async fn with_a_profile_the_embedded_mock_is_that_server_and_me_reads_its_tokens() {
    // Every profile but strict: the embedded mock imitates the server, and /me shows the
    // client, scopes and roles of its tokens through the same members.
    for name in tollgate::Profile::NAMES.iter().filter(|n| **n != "strict") {
        let api = start(Config {
            compatibility: Compatibility {
                profile: (*name).to_owned(),
                ..Compatibility::default()
            },
            ..config()
        })
        .await;
        let mock = api.mock();
        assert_eq!(mock.shape().name().replace('_', "-"), *name);
        let token = mock.token().scope("read").roles(["auditor"]).sign();
        let answer = api.get("/me", Some(&token)).await;
        assert_eq!(answer.status, 200, "{name}: {answer:?}");
        let me: Me = serde_json::from_str(&answer.body).expect("the /me JSON");
        assert_eq!(me.issuer, Some(mock.issuer()), "{name}");
        let no_client_id = *name == "spring-authorization-server";
        assert_eq!(me.client_id.is_none(), no_client_id, "{name}: {me:?}");
        let roles = !matches!(
            *name,
            "auth0"
                | "hydra"
                | "authentik"
                | "curity"
                | "spring-authorization-server"
                | "oidc-provider"
        );
        assert_eq!(
            me.roles.contains(&"auditor".to_owned()),
            roles,
            "{name}: {me:?}"
        );
        // ZITADEL and authentik put no scope in their JWTs.
        if !matches!(*name, "zitadel" | "authentik") {
            assert_eq!(api.get("/photos", Some(&token)).await.status, 200, "{name}");
        }
        // The same server's ID token is no access token.
        let id_token = mock.id_token().sign();
        assert_eq!(api.get("/me", Some(&id_token)).await.status, 401, "{name}");
    }
}

#[tokio::test]
async fn under_the_cognito_profile_the_audience_is_the_app_client() {
    let cognito = MockAuthServer::builder()
        .shape(Shape::Cognito)
        .start()
        .await;
    let pointed = |profile: &str| Config {
        trust: Trust {
            issuer: Some(cognito.issuer()),
            audiences: vec![cognito.client_id()],
            ..Trust::default()
        },
        compatibility: Compatibility {
            profile: profile.to_owned(),
            ..Compatibility::default()
        },
        ..config()
    };
    let api = start(pointed("cognito")).await;
    let token = cognito.token().scope("read").roles(["ops"]).sign();
    let answer = api.get("/me", Some(&token)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["roles"], json!(["ops"]));
    let other_client = cognito.token().client_id("another-app").sign();
    assert_eq!(api.get("/me", Some(&other_client)).await.status, 401);
    // Strict, the same token is refused.
    let strict = start(pointed("strict")).await;
    assert_eq!(strict.get("/me", Some(&token)).await.status, 401);
}

#[tokio::test]
async fn an_entra_tenant_template_with_its_tenants_and_narrow_switches() {
    let entra = MockAuthServer::builder()
        .shape(Shape::EntraV2 {
            tenant: "9188040d-6c67-4c5b-b112-36a304b66dad".into(),
        })
        .start()
        .await;
    let args = [
        "protected-api",
        "--listen=127.0.0.1:0",
        "--profile=entra-v2",
        "--issuer",
        &entra.tenant_issuer("{tenantid}").unwrap(),
        "--discovery-url",
        &entra.multi_tenant_metadata_url().unwrap(),
        "--tenant=9188040d-6c67-4c5b-b112-36a304b66dad",
        "--audience",
        &entra.audience(),
        "--roles-claim=wids",
    ];
    let config = Config::try_from_args(args).expect("the flags parse");
    let api = start(config).await;
    let token = entra
        .token()
        .tenant("9188040d-6c67-4c5b-b112-36a304b66dad")
        .claim("wids", json!(["b79fbf4d-3ef9-4689-8143-76b194e85509"]))
        .roles(["Reader"])
        .sign();
    let answer = api.get("/me", Some(&token)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.json()["roles"],
        json!(["Reader", "b79fbf4d-3ef9-4689-8143-76b194e85509"])
    );
    let other_tenant = entra
        .token()
        .tenant("72f988bf-86f1-41af-91ab-2d7cd011db47")
        .sign();
    assert_eq!(api.get("/me", Some(&other_tenant)).await.status, 401);
}

// ---- an explicit issuer: a separately started tollgate-mock ------------------------------

/// A mock that looks like a Keycloak realm, with its own audience and client.
async fn separate_mock() -> MockAuthServer {
    MockAuthServer::builder()
        .issuer_path("/realms/shop")
        .audience("https://shop-api.example")
        .client("shop-api", "shop-secret")
        .start()
        .await
}

fn pointed_at(mock: &MockAuthServer) -> Config {
    Config {
        trust: Trust {
            issuer: Some(mock.issuer()),
            audiences: vec![mock.audience()],
            ..Trust::default()
        },
        introspection: IntrospectionConfig {
            client_id: Some(mock.client_id()),
            client_secret: Some(mock.client_secret()),
            ..IntrospectionConfig::default()
        },
        ..config()
    }
}

#[tokio::test]
async fn with_an_explicit_issuer_the_whole_api_works() {
    let mock = separate_mock().await;
    let api = start(pointed_at(&mock)).await;
    assert!(api.server.embedded_mock().is_none());
    assert_eq!(api.server.issuer(), mock.issuer());

    assert_eq!(api.get("/health", None).await.status, 200);
    let token = mock.token().subject("erin").scope(ALL).sign();
    let me: Me = serde_json::from_str(&api.get("/me", Some(&token)).await.body).expect("JSON");
    assert_eq!(
        (me.subject.as_deref(), me.audiences.clone()),
        (Some("erin"), vec![mock.audience()])
    );
    assert_eq!(api.get("/photos", Some(&token)).await.status, 200);
    assert_eq!(api.post("/admin/users", Some(&token)).await.status, 201);
    assert_eq!(api.post("/payments", Some(&token)).await.status, 201);
    assert_eq!(mock.introspection_count_for(&token), 2);

    revoke(&mock, &token).await;
    assert_eq!(
        api.get("/photos", Some(&token)).await.status,
        200,
        "routine: still a valid snapshot"
    );
    assert_eq!(api.post("/payments", Some(&token)).await.status, 401);
    assert_eq!(
        api.get("/photos", Some(&token)).await.status,
        401,
        "revocation is remembered"
    );

    // Tokens of another issuer are not trusted, whatever they claim.
    let stranger = MockAuthServer::start().await;
    let foreign = stranger.token().audience(mock.audience()).scope(ALL).sign();
    let answer = api.get("/me", Some(&foreign)).await;
    assert_eq!(
        (answer.status, answer.error().as_deref()),
        (401, Some("invalid_token")),
        "{answer:?}"
    );

    // The banner names the issuer but never the secret.
    let mut banner = Vec::new();
    api.server.write_banner(&mut banner).expect("banner");
    let banner = String::from_utf8(banner).expect("UTF-8");
    assert!(
        banner.contains(&mock.issuer()) && banner.contains("shop-api"),
        "{banner}"
    );
    assert!(
        !banner.contains("shop-secret") && !banner.contains("curl"),
        "{banner}"
    );
}

#[tokio::test]
async fn without_introspection_credentials_sensitive_routes_answer_503() {
    let mock = separate_mock().await;
    let api = start(Config {
        introspection: IntrospectionConfig::default(),
        ..pointed_at(&mock)
    })
    .await;
    let token = mock.token().scope(ALL).sign();
    assert_eq!(api.get("/photos", Some(&token)).await.status, 200);
    let answer = api.post("/payments", Some(&token)).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(answer.retry_after.is_some());
    assert_eq!(
        answer.json()["error_description"],
        "this resource requires token introspection, which is not configured"
    );
    // Opaque tokens cannot be checked at all then.
    let opaque = mock.opaque_token().scope(ALL).issue();
    assert_eq!(api.get("/me", Some(&opaque)).await.status, 401);
}

#[tokio::test]
async fn an_explicit_introspection_endpoint_is_used() {
    let mock = separate_mock().await;
    let pointed = pointed_at(&mock);
    let api = start(Config {
        introspection: IntrospectionConfig {
            endpoint: Some(mock.introspection_endpoint()),
            ..pointed.introspection.clone()
        },
        ..pointed
    })
    .await;
    let token = mock.token().scope(ALL).sign();
    assert_eq!(api.post("/payments", Some(&token)).await.status, 201);
    assert_eq!(mock.introspection_count_for(&token), 1);
}

#[tokio::test]
async fn a_freshness_budget_saves_calls_and_delays_the_revocation_by_as_much() {
    let mock = separate_mock().await;
    // An hour: far longer than this test runs, so the answer is always reused here.
    let pointed = pointed_at(&mock);
    let api = start(Config {
        introspection: IntrospectionConfig {
            freshness: Duration::from_secs(3600),
            ..pointed.introspection.clone()
        },
        ..pointed
    })
    .await;
    let token = mock.token().scope(ALL).sign();
    assert_eq!(api.post("/payments", Some(&token)).await.status, 201);
    assert_eq!(api.post("/admin/users", Some(&token)).await.status, 201);
    assert_eq!(
        mock.introspection_count_for(&token),
        1,
        "the answer is reused within the budget"
    );

    // The trade-off: a revocation is seen at most one budget late. (The token's own expiry
    // bounds it too: tokens of this mock live 5 minutes.)
    revoke(&mock, &token).await;
    assert_eq!(api.post("/payments", Some(&token)).await.status, 201);
    assert_eq!(mock.introspection_count_for(&token), 1);
}

#[tokio::test]
async fn the_api_starts_while_the_as_is_down_and_serves_once_it_is_up() {
    let mock = separate_mock().await;
    mock.go_down().await;
    let server = protected_api::start(pointed_at(&mock))
        .await
        .expect("starts without the AS");
    let api = Api::new(server);
    let token = mock.token().scope(ALL).sign();
    let answer = api.get("/me", Some(&token)).await;
    assert_eq!(answer.status, 503, "{answer:?}");
    assert!(answer.retry_after.is_some());
    assert_eq!(api.get("/health", None).await.status, 200);

    mock.come_back().await;
    let up = eventually(Duration::from_secs(60), || async {
        api.get("/me", Some(&token)).await.status == 200
    })
    .await;
    assert!(up, "never served after the AS came back");
}

#[tokio::test]
async fn a_bad_configuration_or_a_taken_port_is_a_start_error() {
    let bad_issuer = Config {
        trust: Trust {
            issuer: Some("not a url".into()),
            audiences: vec!["https://api.example".into()],
            ..Trust::default()
        },
        ..config()
    };
    let error = protected_api::start(bad_issuer).await.expect_err("refused");
    assert!(matches!(error, StartError::Config(_)), "{error}");
    assert!(error.to_string().contains("issuer"), "{error}");

    let api = start(config()).await;
    let taken = Config {
        listen: api.server.addr(),
        ..config()
    };
    let error = protected_api::start(taken)
        .await
        .expect_err("the port is taken");
    assert!(matches!(error, StartError::Bind(..)), "{error}");
}

#[tokio::test]
async fn shutdown_stops_serving() {
    let api = start(config()).await;
    let url = api.url.clone();
    assert_eq!(api.get("/health", None).await.status, 200);
    api.server.shutdown().await.expect("clean shutdown");
    let refused = common::client().get(format!("{url}/health")).send().await;
    assert!(refused.is_err(), "still serving after shutdown");
}

// ---- the request log --------------------------------------------------------------------

/// `protected-api` logs one line per request (method, path, status, decision) and never a
/// token, not even in the request headers it logs at DEBUG.
#[tokio::test]
async fn one_line_per_request_with_the_decision_and_never_a_token() {
    // tollgate's own per-request decisions (DEBUG, TRACE) are captured too, and must not leak
    // a token either; so are the request headers (DEBUG), where the Authorization header must
    // show redacted. (The test's HTTP client logs its URLs; it is not the server.) The server
    // runs on this test's runtime, hence on its thread: the capture sees all of it.
    let captured = LogCapture::start("protected_api=debug,tollgate=trace");

    let api = start(config()).await;
    let mock = api.mock();
    let token = mock.token().subject("alice").scope("read payments").sign();
    let reader = mock.token().scope("read").sign();
    let opaque = mock.opaque_token().scope("read").issue();

    assert_eq!(api.get("/health", None).await.status, 200);
    assert_eq!(api.get("/me", Some(&token)).await.status, 200);
    assert_eq!(api.post("/payments", Some(&token)).await.status, 201);
    assert_eq!(api.get("/photos", None).await.status, 401);
    assert_eq!(api.post("/payments", Some(&reader)).await.status, 403);
    assert_eq!(api.get("/me", Some(&opaque)).await.status, 200);
    let expired = mock.token().expired().sign();
    assert_eq!(api.get("/photos", Some(&expired)).await.status, 401);
    assert_eq!(api.get("/nowhere", Some(&token)).await.status, 404);
    // A token in the query is refused, and the query is not logged.
    let answer =
        common::send(common::client().get(format!("{}/photos?access_token={token}", api.url)))
            .await;
    assert_eq!(answer.status, 400);

    let log = captured.text();
    let lines: Vec<&str> = log
        .lines()
        .filter(|l| l.contains(" INFO ") && l.contains("protected_api:"))
        .collect();
    let expected = [
        "GET /health 200 no token checked",
        "GET /me 200 allowed (validated locally)",
        "POST /payments 201 allowed (confirmed by introspection)",
        "GET /photos 401 refused: a bearer token is required",
        "POST /payments 403 refused: insufficient_scope: the token lacks a scope this resource requires",
        "GET /me 200 allowed (confirmed by introspection)",
        "GET /photos 401 refused: invalid_token: the token has expired",
        "GET /nowhere 404 no token checked",
        "GET /photos 400 refused: invalid_request:",
    ];
    assert_eq!(lines.len(), expected.len(), "one line per request:\n{log}");
    for (line, expected) in lines.iter().zip(expected) {
        assert!(
            line.contains(expected),
            "expected {expected:?} in {line:?}\n{log}"
        );
    }
    // The headers of every request are logged, the Authorization header marked sensitive
    // before the trace layer sees it: six requests sent one.
    let headers: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("request received"))
        .collect();
    assert_eq!(
        headers.len(),
        expected.len(),
        "headers once per request:\n{log}"
    );
    let redacted = headers
        .iter()
        .filter(|l| l.contains(r#""authorization": Sensitive"#))
        .count();
    assert_eq!(
        redacted, 6,
        "the Authorization header is not redacted:\n{log}"
    );
    // The trace span names the path without its query.
    assert!(
        log.contains("request{method=GET path=/photos}"),
        "no request span:\n{log}"
    );
    for secret in [&token, &reader, &opaque, &expired] {
        assert!(
            !log.contains(secret.as_str()),
            "a token reached the log:\n{log}"
        );
    }
    assert!(
        !log.contains("access_token="),
        "the query reached the log:\n{log}"
    );
}

// ---- sender-constrained tokens and the RFC 9728 document ------------------------------

fn dpop_config(mode: &str, public_url: Option<&str>) -> Config {
    let mut args = vec![
        "protected-api".to_owned(),
        "--listen=127.0.0.1:0".to_owned(),
        format!("--dpop={mode}"),
    ];
    if let Some(url) = public_url {
        args.push(format!("--public-url={url}"));
    }
    Config::try_from_args(args).expect("the flags parse")
}

/// `GET url path` with `Authorization: DPoP token` and a proof for `htu`.
async fn dpop_get(
    api: &Api,
    path: &str,
    htu: &str,
    key: &tollgate_mock::dpop::DpopKey,
    token: &str,
) -> common::Answer {
    let headers = key.request_headers("GET", htu, token);
    common::send(
        common::client()
            .get(format!("{}{path}", api.url))
            .headers(headers),
    )
    .await
}

#[tokio::test]
async fn dpop_required_takes_bound_tokens_with_their_proof_and_refuses_bearer_tokens() {
    let api = start(dpop_config("required", None)).await;
    let mock = api.mock();
    let key = tollgate_mock::dpop::DpopKey::generate();
    let bound = mock
        .token()
        .subject("alice")
        .scope(ALL)
        .dpop_bound(&key)
        .sign();
    let url = format!("{}/me", api.url);
    let answer = dpop_get(&api, "/me", &url, &key, &bound).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["subject"], "alice");
    // A bearer token, and the bound token as one: refused with the DPoP challenge.
    for token in [mock.token().scope(ALL).sign(), bound.clone()] {
        let answer = api.get("/me", Some(&token)).await;
        assert_eq!(answer.status, 401, "{answer:?}");
        let challenge = answer.challenge.clone().unwrap_or_default();
        assert!(challenge.starts_with("DPoP "), "{challenge}");
        assert_eq!(
            tollgate_mock::challenge::param(&challenge, "error").as_deref(),
            Some("invalid_token")
        );
    }
    // Sensitive routes too, with introspection of the bound token.
    let payments = format!("{}/payments", api.url);
    let answer = common::send(
        common::client()
            .post(&payments)
            .headers(key.request_headers("POST", &payments, &bound)),
    )
    .await;
    assert_eq!(answer.status, 201, "{answer:?}");
}

#[tokio::test]
async fn dpop_allowed_takes_both_and_the_public_url_is_what_proofs_name() {
    let public = "https://api.example.com/v1";
    let api = start(dpop_config("allowed", Some(public))).await;
    let mock = api.mock();
    let key = tollgate_mock::dpop::DpopKey::generate();
    let bound = mock.token().subject("alice").dpop_bound(&key).sign();
    // The proof names the public URL, not the address the API listens on.
    let answer = dpop_get(&api, "/me", &format!("{public}/me"), &key, &bound).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let answer = dpop_get(&api, "/me", &format!("{}/me", api.url), &key, &bound).await;
    assert_eq!(answer.status, 401, "{answer:?}");
    assert_eq!(
        answer.param("error"),
        None,
        "the Bearer challenge comes first, bare"
    );
    // Bearer tokens still work.
    let plain = mock.token().subject("bob").sign();
    assert_eq!(api.get("/me", Some(&plain)).await.status, 200);

    // The RFC 9728 document, member by member.
    let answer = api.get("/.well-known/oauth-protected-resource", None).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(
        answer.json(),
        json!({
            "resource": public,
            "authorization_servers": [api.server.issuer()],
            "scopes_supported": ["read", "admin", "payments"],
            "bearer_methods_supported": ["header"],
            "resource_name": "protected-api",
            "dpop_signing_alg_values_supported":
                ["ES256", "ES384", "EdDSA", "PS256", "PS384", "PS512", "RS256", "RS384", "RS512"],
            "dpop_bound_access_tokens_required": false,
        })
    );
    // The path-suffixed form of RFC 9728 §3.1 for a resource with a path.
    let answer = api
        .get("/.well-known/oauth-protected-resource/v1", None)
        .await;
    assert_eq!(answer.status, 200, "{answer:?}");
}

#[tokio::test]
async fn dpop_off_refuses_bound_tokens_and_the_environment_sets_the_mode() {
    let api = start(config()).await;
    let mock = api.mock();
    let key = tollgate_mock::dpop::DpopKey::generate();
    let bound = mock.token().dpop_bound(&key).sign();
    assert_eq!(api.get("/me", Some(&bound)).await.status, 401);
    let document = api
        .get("/.well-known/oauth-protected-resource", None)
        .await
        .json();
    assert_eq!(document["dpop_bound_access_tokens_required"], false);
    assert!(document.get("dpop_signing_alg_values_supported").is_none());
    let parsed = Config::try_from_args(["protected-api", "--dpop=sometimes"]);
    assert!(parsed.is_err(), "an unknown mode is refused");
    let required = dpop_config("required", None);
    assert_eq!(
        required.sender.constraint(),
        tollgate::SenderConstraint::DpopRequired
    );
}

#[tokio::test]
async fn account_security_asks_for_a_step_up_exactly_as_rfc_9470_says() {
    let api = start(config()).await;
    let mock = api.mock();
    let now = tollgate_mock::testing::unix_now();
    let mfa = protected_api::STEP_UP_ACR;
    for (what, token) in [
        (
            "a password login",
            mock.token()
                .claim("acr", "pwd")
                .claim("auth_time", now)
                .sign(),
        ),
        (
            "no auth_time while a max age applies",
            mock.token().claim("acr", mfa).sign(),
        ),
        (
            "an old login",
            mock.token()
                .claim("acr", mfa)
                .claim("auth_time", now - 3600)
                .sign(),
        ),
        ("no acr", mock.token().claim("auth_time", now).sign()),
    ] {
        let answer = api.get("/account/security", Some(&token)).await;
        assert_eq!(answer.status, 401, "{what}: {answer:?}");
        assert_eq!(
            answer.error().as_deref(),
            Some("insufficient_user_authentication"),
            "{what}"
        );
        assert_eq!(answer.param("acr_values").as_deref(), Some(mfa), "{what}");
        assert_eq!(answer.param("max_age").as_deref(), Some("300"), "{what}");
    }
    let fresh = mock
        .token()
        .claim("acr", mfa)
        .claim("auth_time", now - 5)
        .sign();
    let answer = api.get("/account/security", Some(&fresh)).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(answer.json()["acr"], mfa);
}

// ---- several instances: --redis and --security-events -----------------------------------

#[path = "../../crates/tollgate-redis/tests/support/mod.rs"]
#[allow(clippy::all, unused, missing_docs, unreachable_pub)]
mod redis_support;

/// Two processes' worth of `protected-api` behind one Redis, as two instances of one API.
fn instance_of(mock: &MockAuthServer, redis: &redis_support::RedisServer) -> Config {
    let mut config = pointed_at(mock);
    config.scale_out = protected_api::ScaleOut {
        redis: Some(redis.url()),
        security_events: Some("/security-events".to_owned()),
    };
    config
}

#[tokio::test]
async fn two_instances_share_revocations_through_redis() {
    let Some(()) = redis_support::begin() else {
        return;
    };
    let redis = redis_support::RedisServer::start();
    let mock = separate_mock().await;
    let a = start(instance_of(&mock, &redis)).await;
    let b = start(instance_of(&mock, &redis)).await;
    let connected = async |api: &Api| {
        eventually(Duration::from_secs(20), async || {
            api.server
                .gate()
                .diagnostics()
                .shared_store
                .is_some_and(|s| s.connected)
        })
        .await
    };
    assert!(connected(&a).await && connected(&b).await);
    let mut banner = Vec::new();
    a.server.write_banner(&mut banner).expect("banner");
    let banner = String::from_utf8(banner).expect("UTF-8");
    assert!(
        banner.contains(&format!("shared store:  {}0", redis.url())),
        "{banner}"
    );
    assert!(
        banner.contains(&format!("security events: POST {}/security-events", a.url)),
        "{banner}"
    );

    // Learnt by A's sensitive route, refused by B's routine route.
    let token = mock.token().subject("mallory").scope(ALL).sign();
    assert_eq!(b.get("/photos", Some(&token)).await.status, 200);
    revoke(&mock, &token).await;
    assert_eq!(a.post("/payments", Some(&token)).await.status, 401);
    assert!(
        eventually(Duration::from_secs(20), async || b
            .get("/photos", Some(&token))
            .await
            .status
            == 401)
        .await,
        "B refuses what A learnt"
    );

    // A security event pushed to B revokes on A.
    let older = mock
        .token()
        .subject("niaj")
        .scope(ALL)
        .issued_at(unix_now() - 30)
        .sign();
    assert_eq!(a.get("/photos", Some(&older)).await.status, 200);
    let events = b.server.security_events_url().expect("mounted");
    let set = mock
        .security_event(tollgate_mock::events::EventType::SessionsRevoked)
        .subject(tollgate_mock::events::Subject::iss_sub(
            mock.issuer(),
            "niaj",
        ))
        .audience(events.clone())
        .sign();
    let answer = common::send(
        common::client()
            .post(&events)
            .header("content-type", "application/secevent+jwt")
            .body(set),
    )
    .await;
    assert_eq!(answer.status, 202, "{answer:?}");
    assert!(
        eventually(Duration::from_secs(20), async || a
            .get("/photos", Some(&older))
            .await
            .status
            == 401)
        .await,
        "A refuses what B was told"
    );
}

#[test]
fn the_redis_url_stays_out_of_debug_output() {
    let config = Config::try_from_args([
        "protected-api",
        "--redis",
        "redis://tollgate:hunter2@127.0.0.1:6379/0",
        "--security-events",
        "/events",
    ])
    .expect("parses");
    assert_eq!(
        config.scale_out.redis.as_deref(),
        Some("redis://tollgate:hunter2@127.0.0.1:6379/0")
    );
    assert!(!format!("{config:?}").contains("hunter2"));
    assert!(Config::try_from_args(["protected-api", "--security-events", "events"]).is_err());
}

fn unix_now() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs(),
    )
    .expect("in range")
}
