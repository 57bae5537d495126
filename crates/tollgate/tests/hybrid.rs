//! Hybrid validation (docs/ARCHITECTURE.md, "Introspection", "Requirements"): live introspection on sensitive routes, opaque tokens
//! and revocation memory. The app is called in process; tollgate-mock, its authorization
//! server, answers over real loopback HTTP. What the AS does wrong (down, slow, unusable
//! answers) is resilience.rs' and hostile.rs'; answers that disagree with the JWT are rows of
//! the attack corpus.

mod common;

use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use bytes::Bytes;
use common::{Answer, InProcess, builder, hybrid_builder, ready};
use http::Method;
use tollgate::{Principal, Requirement, Tollgate};
use tollgate_mock::{Endpoint, Fault, MockAuthServer};

async fn introspected(principal: Principal) -> String {
    format!(
        "{} introspected={}",
        principal.subject().unwrap_or("-"),
        principal.introspected()
    )
}

fn app(gate: &Tollgate) -> Router {
    Router::new()
        .route("/photos", get(introspected))
        .route(
            "/admin/users",
            post(introspected).route_layer(gate.sensitive()),
        )
        .route(
            "/payments",
            post(introspected).route_layer(
                gate.require(Requirement::sensitive(Duration::ZERO).all_scopes(["payments"])),
            ),
        )
        .route(
            "/report",
            get(introspected)
                .route_layer(gate.require(Requirement::sensitive(Duration::from_secs(2)))),
        )
        .layer(gate.layer())
}

struct Setup {
    mock: MockAuthServer,
    gate: Tollgate,
    /// `app(&gate)`, called in process.
    app: InProcess<Router>,
}

impl Setup {
    async fn new() -> Self {
        let mock = MockAuthServer::start().await;
        let gate = ready(hybrid_builder(&mock)).await;
        let app = InProcess::new(app(&gate));
        Self { mock, gate, app }
    }

    async fn get(&self, path: &str, token: &str) -> Answer {
        self.app.get(path, token).await
    }

    async fn post(&self, path: &str, token: &str) -> Answer {
        self.app.call(Method::POST, path, Some(token)).await
    }
}

#[tokio::test]
async fn revocation_is_seen_by_sensitive_routes_and_then_remembered_everywhere() {
    let s = Setup::new().await;
    let token = s
        .mock
        .token()
        .subject("alice")
        .scope("read payments")
        .sign();

    let answer = s.get("/photos", &token).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "alice introspected=false")
    );
    let answer = s.post("/admin/users", &token).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "alice introspected=true")
    );
    assert_eq!(s.mock.introspection_count_for(&token), 1);

    s.mock.revoke(&token);
    // Local validation is a snapshot: the routine route cannot see the revocation yet.
    assert_eq!(s.get("/photos", &token).await.status, 200);
    assert_eq!(
        s.mock.introspection_count_for(&token),
        1,
        "routine routes never ask"
    );

    // The sensitive route asks, and is told.
    let answer = s.post("/admin/users", &token).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.error().as_deref(), Some("invalid_token"));
    assert_eq!(
        answer.param("error_description").as_deref(),
        Some("the token is not active")
    );

    // From now on every route refuses it, without asking again.
    let calls = s.mock.introspection_count();
    assert_eq!(s.get("/photos", &token).await.status, 401);
    assert_eq!(s.post("/payments", &token).await.status, 401);
    assert!(s.gate.validate(&token).await.is_err());
    assert_eq!(s.mock.introspection_count(), calls);
}

#[tokio::test]
async fn an_expired_token_is_refused_everywhere_without_introspection() {
    let s = Setup::new().await;
    let token = s.mock.token().expired().scope("payments").sign();
    assert_eq!(s.get("/photos", &token).await.status, 401);
    assert_eq!(s.post("/admin/users", &token).await.status, 401);
    assert_eq!(s.post("/payments", &token).await.status, 401);
    let other_audience = s.mock.token().audience("https://elsewhere.test").sign();
    assert_eq!(s.post("/admin/users", &other_audience).await.status, 401);
    assert_eq!(s.mock.introspection_count(), 0);
}

#[tokio::test]
async fn scopes_are_checked_before_asking() {
    let s = Setup::new().await;
    let token = s.mock.token().scope("read").sign();
    let answer = s.post("/payments", &token).await;
    assert_eq!(
        (answer.status, answer.param("scope").as_deref()),
        (403, Some("payments"))
    );
    assert_eq!(s.mock.introspection_count(), 0);
}

#[tokio::test]
async fn opaque_tokens_work_everywhere_and_are_refused_everywhere_once_revoked() {
    let s = Setup::new().await;
    let token = s
        .mock
        .opaque_token()
        .subject("olga")
        .scope("read payments")
        .issue();
    assert!(!token.contains('.'));
    assert_eq!(
        s.get("/photos", &token).await.body,
        "olga introspected=true"
    );
    assert_eq!(s.post("/payments", &token).await.status, 200);
    assert_eq!(s.post("/admin/users", &token).await.status, 200);

    let principal = s.gate.validate(&token).await.unwrap();
    assert_eq!(principal.subject(), Some("olga"));
    assert_eq!(principal.format(), tollgate::TokenFormat::Opaque);
    assert!(principal.has_scope("payments"));
    assert!(principal.expires_at().is_some());

    s.mock.revoke(&token);
    assert_eq!(s.post("/admin/users", &token).await.status, 401);
    assert_eq!(s.get("/photos", &token).await.status, 401);
    assert_eq!(s.post("/payments", &token).await.status, 401);
}

#[tokio::test]
async fn opaque_scopes_come_from_the_introspection_answer() {
    let s = Setup::new().await;
    let token = s.mock.opaque_token().scope("read").issue();
    let answer = s.post("/payments", &token).await;
    assert_eq!(
        (answer.status, answer.param("scope").as_deref()),
        (403, Some("payments"))
    );
}

#[tokio::test]
async fn opaque_tokens_without_introspection_are_401() {
    let mock = MockAuthServer::start().await;
    let gate = ready(builder(&mock)).await;
    let token = mock.opaque_token().issue();
    let answer = InProcess::new(app(&gate)).get("/photos", &token).await;
    assert_eq!(
        (answer.status, answer.error().as_deref()),
        (401, Some("invalid_token"))
    );
}

#[tokio::test]
async fn concurrent_requests_with_one_token_share_one_call() {
    let s = Setup::new().await;
    let token = s.mock.token().sign();
    // Slow answers make the 100 requests overlap.
    s.mock.set_fault(
        Endpoint::Introspection,
        Fault::Latency(Duration::from_millis(300)),
    );
    let mut tasks = Vec::new();
    for _ in 0..100 {
        let (app, token) = (s.app.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            app.call(Method::POST, "/admin/users", Some(&token))
                .await
                .status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    assert_eq!(s.mock.introspection_count_for(&token), 1);
}

#[tokio::test]
async fn a_freshness_budget_reuses_answers_until_it_runs_out() {
    let s = Setup::new().await;
    let token = s.mock.token().sign();
    assert_eq!(s.get("/report", &token).await.status, 200);
    assert_eq!(s.get("/report", &token).await.status, 200);
    assert_eq!(s.mock.introspection_count_for(&token), 1);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    assert_eq!(s.get("/report", &token).await.status, 200);
    assert_eq!(s.mock.introspection_count_for(&token), 2);

    // Zero budget: sequential requests ask every time.
    assert_eq!(s.post("/admin/users", &token).await.status, 200);
    assert_eq!(s.post("/admin/users", &token).await.status, 200);
    assert_eq!(s.mock.introspection_count_for(&token), 4);
}

#[tokio::test]
async fn validate_with_works_outside_http() {
    let s = Setup::new().await;
    let token = s.mock.token().scope("payments").sign();
    let sensitive = Requirement::sensitive(Duration::ZERO).all_scopes(["payments"]);
    let principal = s.gate.validate_with(&token, &sensitive).await.unwrap();
    assert!(principal.introspected());
    let rejection = s
        .gate
        .validate_with(&token, &Requirement::routine().all_scopes(["admin"]))
        .await
        .unwrap_err();
    assert_eq!(rejection.status(), 403);
    s.mock.revoke(&token);
    let rejection = s.gate.validate_with(&token, &sensitive).await.unwrap_err();
    assert_eq!(
        rejection,
        tollgate::Rejection::InvalidToken(tollgate::InvalidToken::Inactive)
    );
}

// ---- only access tokens pass (RFC 7662 §2.2 `token_type`) --------------------------------

#[tokio::test]
async fn a_refresh_token_presented_as_a_bearer_token_is_refused_on_every_route() {
    let s = Setup::new().await;
    // The mock answers `token_type: "refresh_token"` for it, and it has no `aud`.
    let refresh = s.mock.refresh_token().scope("read payments").issue();
    for answer in [
        s.get("/photos", &refresh).await,
        s.post("/admin/users", &refresh).await,
        s.post("/payments", &refresh).await,
    ] {
        assert_eq!(
            (answer.status, answer.error().as_deref()),
            (401, Some("invalid_token")),
            "{answer:?}"
        );
    }
    // Asked again on the routine route too: the refusal does not depend on a cached answer.
    assert_eq!(s.get("/photos", &refresh).await.status, 401);

    // A JWT whose introspection answer says it is a refresh token, on a sensitive route.
    let jwt = s
        .mock
        .token()
        .introspection_claim("token_type", "refresh_token")
        .sign();
    let answer = s.post("/admin/users", &jwt).await;
    assert_eq!(
        (answer.status, answer.param("error_description").as_deref()),
        (401, Some("the token is not an access token"))
    );
    let rejection = s
        .gate
        .validate_with(&jwt, &Requirement::sensitive(Duration::ZERO))
        .await
        .unwrap_err();
    assert_eq!(
        rejection,
        tollgate::Rejection::InvalidToken(tollgate::InvalidToken::NotAccessToken)
    );
}

#[tokio::test]
async fn an_opaque_answer_without_audience_is_refused_unless_allowed() {
    let s = Setup::new().await;
    let without = s
        .mock
        .opaque_token()
        .claim("aud", serde_json::Value::Null)
        .issue();
    let elsewhere = s
        .mock
        .opaque_token()
        .audience("https://elsewhere.test")
        .issue();
    let control = s.mock.opaque_token().issue();
    assert_eq!(s.get("/photos", &control).await.status, 200);
    let answer = s.get("/photos", &without).await;
    assert_eq!(
        (answer.status, answer.error().as_deref()),
        (401, Some("invalid_token")),
        "an answer without aud passed by default"
    );
    assert_eq!(s.get("/photos", &elsewhere).await.status, 401);

    // The switch accepts answers without `aud`, never answers for another audience.
    let gate = ready(
        builder(&s.mock).introspection(
            tollgate::Introspection::client_secret_basic(
                s.mock.client_id(),
                s.mock.client_secret(),
            )
            .accept_answers_without_audience(true),
        ),
    )
    .await;
    let principal = gate.validate(&without).await.unwrap();
    assert!(principal.audiences().is_empty());
    assert_eq!(
        gate.validate(&elsewhere).await.unwrap_err(),
        tollgate::Rejection::InvalidToken(tollgate::InvalidToken::Audience)
    );
    // A refresh token has no `aud` either: the switch does not let it through.
    let refresh = s.mock.refresh_token().issue();
    assert_eq!(
        gate.validate(&refresh).await.unwrap_err(),
        tollgate::Rejection::InvalidToken(tollgate::InvalidToken::NotAccessToken)
    );
}

// ---- answers about the token, answers about us (RFC 6749 §5.2, RFC 7009 §2.2.1) -----------

#[tokio::test]
async fn an_as_that_cannot_confirm_a_token_gets_401_not_503_and_nothing_is_remembered() {
    let s = Setup::new().await;
    let token = s.mock.token().sign();
    let opaque = s.mock.opaque_token().issue();
    for error in ["unsupported_token_type", "invalid_request", "invalid_token"] {
        s.mock.set_fault(
            Endpoint::Introspection,
            Fault::OAuthError {
                status: 400,
                error: error.into(),
            },
        );
        for (path, t, sensitive) in [("/admin/users", &token, true), ("/photos", &opaque, false)] {
            let before = s.mock.introspection_count_for(t);
            for _ in 0..2 {
                let answer = if sensitive {
                    s.post(path, t).await
                } else {
                    s.get(path, t).await
                };
                assert_eq!(
                    (
                        answer.status,
                        answer.error().as_deref(),
                        answer.param("error_description").as_deref()
                    ),
                    (
                        401,
                        Some("invalid_token"),
                        Some("the authorization server cannot confirm the token")
                    ),
                    "{error} on {path}"
                );
            }
            // Not cached: every request asked.
            assert_eq!(s.mock.introspection_count_for(t), before + 2, "{error}");
        }
        // Not a revocation: the JWT still passes where it is checked locally.
        assert_eq!(s.get("/photos", &token).await.status, 200, "{error}");
    }
    s.mock.clear_faults();
    assert_eq!(s.post("/admin/users", &token).await.status, 200);
    assert_eq!(s.get("/photos", &opaque).await.status, 200);

    // `invalid_client` is about us, whatever the status: 503, not 401.
    for status in [400, 401] {
        s.mock.set_fault(
            Endpoint::Introspection,
            Fault::OAuthError {
                status,
                error: "invalid_client".into(),
            },
        );
        let answer = s.post("/admin/users", &token).await;
        assert_eq!(
            answer.status, 503,
            "invalid_client with {status}: {answer:?}"
        );
        assert!(answer.retry_after.is_some() && answer.challenge.is_none());
    }
}

// ---- encrypted tokens (RFC 7516) ------------------------------------------------------------

/// A compact JWE: five base64url segments (RFC 7516 §7.1).
fn jwe() -> String {
    use tollgate_mock::testing::b64;
    format!(
        "{}.{}.{}.{}.{}",
        b64(r#"{"alg":"RSA-OAEP-256","enc":"A256GCM"}"#),
        b64("encrypted key"),
        b64("initialization vector"),
        b64("ciphertext"),
        b64("authentication tag")
    )
}

#[tokio::test]
async fn a_jwe_is_refused_locally_unless_introspecting_encrypted_tokens_is_on() {
    let s = Setup::new().await;
    let jwe = jwe();
    // An AS that would call anything active for this API.
    let active = serde_json::json!({"active": true, "aud": s.mock.audience(), "sub": "eve"});
    s.mock.set_fault(
        Endpoint::Introspection,
        Fault::Body {
            content_type: "application/json".into(),
            body: Bytes::from(active.to_string()),
        },
    );
    for answer in [
        s.get("/photos", &jwe).await,
        s.post("/admin/users", &jwe).await,
    ] {
        assert_eq!(
            (answer.status, answer.param("error_description").as_deref()),
            (401, Some("encrypted tokens are not accepted here")),
            "{answer:?}"
        );
    }
    assert_eq!(
        s.mock.introspection_count_for(&jwe),
        0,
        "a JWE cost an introspection call"
    );

    // Opted in: introspected as an opaque token.
    let gate = ready(hybrid_builder(&s.mock).introspect_encrypted_tokens(true)).await;
    let answer = InProcess::new(app(&gate)).get("/photos", &jwe).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "eve introspected=true")
    );
    assert_eq!(s.mock.introspection_count_for(&jwe), 1);

    // Opted in without introspection: still refused, without any call.
    let local = ready(builder(&s.mock).introspect_encrypted_tokens(true)).await;
    assert_eq!(
        local.validate(&jwe).await.unwrap_err(),
        tollgate::Rejection::InvalidToken(tollgate::InvalidToken::Encrypted)
    );
    assert_eq!(s.mock.introspection_count_for(&jwe), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_revoked_jwt_stays_refused_after_more_junk_than_every_cache_holds() {
    // Small caches, so that the junk below is many times what each of them holds.
    const CAPACITY: u64 = 16;
    let mock = MockAuthServer::start().await;
    let gate = ready(
        builder(&mock)
            .verified_cache_capacity(CAPACITY)
            .introspection(
                tollgate::Introspection::client_secret_basic(
                    mock.client_id(),
                    mock.client_secret(),
                )
                .cache_capacity(CAPACITY)
                .timeout(Duration::from_secs(5)),
            ),
    )
    .await;
    let token = mock.token().sign();
    let sensitive = Requirement::sensitive(Duration::ZERO);
    assert!(gate.validate_with(&token, &sensitive).await.is_ok());
    mock.revoke(&token);
    assert_eq!(
        gate.validate_with(&token, &sensitive).await.unwrap_err(),
        tollgate::Rejection::InvalidToken(tollgate::InvalidToken::Inactive)
    );

    // Junk opaque strings the AS never issued: each is "inactive", and each is sent a few
    // times, as often as the revoked token was seen, so that no cache can tell them apart by
    // how often they are asked for.
    for i in 0..20 * CAPACITY {
        let junk = format!("junk-{i:06}-{}", "j".repeat(24));
        for _ in 0..4 {
            assert!(gate.validate(&junk).await.is_err());
        }
    }
    // Revocation is final: the routine route (local validation only) still refuses it.
    assert_eq!(
        gate.validate(&token).await.unwrap_err(),
        tollgate::Rejection::InvalidToken(tollgate::InvalidToken::Inactive)
    );
    let status = gate.diagnostics();
    assert_eq!(status.revoked_tokens_remembered, 1, "{status:?}");
    assert_eq!(
        (status.revocations_dropped, status.revocation_memory_full),
        (0, 0)
    );
    assert!(status.introspection_cache_entries <= CAPACITY, "{status:?}");
}
