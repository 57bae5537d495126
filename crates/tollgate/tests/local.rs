//! Local validation (docs/ARCHITECTURE.md, "Key sets", "Local validation"; README, "Behaviour"): an axum app behind tollgate, called in process, whose
//! authorization server is tollgate-mock over real loopback HTTP. The refusals of crafted
//! tokens and requests are the attack corpus' (attacks.rs); here, what a valid token brings,
//! scopes, key rotation, the AS being down, and the integration points.

mod common;

use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use common::{InProcess, builder, ready};
use http::Method;
use serde::Deserialize;
use serde_json::{Value, json};
use tollgate::{Claims, Principal, Requirement, Tollgate};
use tollgate_mock::Algorithm;
use tollgate_mock::testing::{oneshot, unix_now};
use tollgate_mock::{Endpoint, Fault, MockAuthServer};

#[derive(Deserialize)]
struct TenantClaims {
    tenant: String,
    sub: String,
}

async fn whoami(principal: Principal) -> Json<Value> {
    Json(json!({
        "sub": principal.subject(),
        "client_id": principal.client_id(),
        "scopes": principal.scopes().to_string(),
        "aud": principal.audiences(),
        "introspected": principal.introspected(),
    }))
}

async fn tenant(principal: Principal, Claims(claims): Claims<TenantClaims>) -> String {
    assert_eq!(principal.subject(), Some(claims.sub.as_str()));
    format!("{} of {}", claims.sub, claims.tenant)
}

fn app(gate: &Tollgate) -> Router {
    Router::new()
        .route("/whoami", get(whoami))
        .route("/tenant", get(tenant))
        .route(
            "/photos",
            get(|| async { "photos" })
                .route_layer(gate.require(Requirement::routine().all_scopes(["read", "photos"]))),
        )
        .route(
            "/either",
            get(|| async { "either" })
                .route_layer(gate.require(Requirement::routine().any_scopes(["a", "b"]))),
        )
        .layer(gate.layer())
}

struct Setup {
    mock: MockAuthServer,
    gate: Tollgate,
    /// `app(&gate)`, called in process.
    app: InProcess<Router>,
}

async fn setup() -> Setup {
    let mock = MockAuthServer::start().await;
    let gate = ready(builder(&mock)).await;
    let app = InProcess::new(app(&gate));
    Setup { mock, gate, app }
}

#[tokio::test]
async fn a_valid_token_reaches_the_handler_with_principal_and_typed_claims() {
    let s = setup().await;
    let token = s
        .mock
        .token()
        .subject("alice")
        .scope("read photos")
        .claim("tenant", "acme")
        .sign();

    let answer = s.app.get("/whoami", &token).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["client_id"], s.mock.client_id());
    assert_eq!(body["scopes"], "read photos");
    assert_eq!(body["aud"], json!([s.mock.audience()]));
    assert_eq!(body["introspected"], false);

    let answer = s.app.get("/tenant", &token).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "alice of acme")
    );

    // The same token outside HTTP.
    let principal = s.gate.validate(&token).await.unwrap();
    assert_eq!(principal.subject(), Some("alice"));
    assert_eq!(principal.claim("tenant"), Some(&json!("acme")));
}

#[tokio::test]
async fn claims_that_do_not_fit_the_handler_type_are_refused() {
    let s = setup().await;
    let token = s.mock.token().sign(); // no `tenant`
    let answer = s.app.get("/tenant", &token).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.error().as_deref(), Some("invalid_token"));
    // Answered like every other refusal: with the configured realm.
    assert_eq!(answer.param("realm").as_deref(), Some("tollgate-test"));
}

#[tokio::test]
async fn compatibility_switches_accept_untyped_tokens_and_scp() {
    let mock = MockAuthServer::start().await;
    let strict = ready(builder(&mock)).await;
    let lax = ready(
        builder(&mock)
            .allow_untyped_tokens(true)
            .accept_scp_claim(true),
    )
    .await;

    let untyped = mock
        .token()
        .header("typ", json!("JWT"))
        .remove_claim("client_id")
        .claim("azp", "web")
        .sign();
    assert!(strict.validate(&untyped).await.is_err());
    let principal = lax.validate(&untyped).await.unwrap();
    assert_eq!(principal.client_id(), Some("web"));

    let scp = mock
        .token()
        .remove_header("typ")
        .remove_claim("scope")
        .claim("scp", json!(["read", "write"]))
        .sign();
    let principal = lax.validate(&scp).await.unwrap();
    assert!(principal.has_scope("read") && principal.has_scope("write"));

    // An ID token is still not an access token, even in compatibility mode.
    let id_token = mock
        .token()
        .header("typ", json!("JWT"))
        .claim("nonce", "n-0S6_WzA2Mj")
        .sign();
    assert!(lax.validate(&id_token).await.is_err());
}

#[tokio::test]
async fn missing_scope_is_403_with_the_scope() {
    let s = setup().await;
    let token = s.mock.token().scope("read").sign();
    let answer = s.app.get("/photos", &token).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.error().as_deref(), Some("insufficient_scope"));
    assert_eq!(answer.param("scope").as_deref(), Some("read photos"));

    let token = s.mock.token().scope("read photos").sign();
    assert_eq!(s.app.get("/photos", &token).await.status, 200);

    let token = s.mock.token().scope("c").sign();
    let answer = s.app.get("/either", &token).await;
    assert_eq!(
        (answer.status, answer.param("scope").as_deref()),
        (403, Some("a b"))
    );
    let token = s.mock.token().scope("b").sign();
    assert_eq!(s.app.get("/either", &token).await.status, 200);
}

#[tokio::test]
async fn a_rotated_key_is_accepted_after_one_refetch() {
    let s = setup().await;
    let before = s.mock.jwks_fetches();
    let kid = s.mock.add_key(Algorithm::ES256);
    s.mock.set_signing_key(&kid);
    let token = s.mock.token().sign();
    let answer = s.app.get("/whoami", &token).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(s.mock.jwks_fetches(), before + 1);

    // Tokens signed by the previous key, still published, keep working without another fetch.
    let rsa = s.mock.jwks()["keys"][0]["kid"].as_str().unwrap().to_owned();
    let old = s.mock.token().kid(&rsa).sign();
    assert_eq!(s.app.get("/whoami", &old).await.status, 200);
    assert_eq!(s.mock.jwks_fetches(), before + 1);
}

#[tokio::test]
async fn the_service_starts_while_the_as_is_down_and_serves_once_it_is_up() {
    let mock = MockAuthServer::start().await;
    mock.go_down().await;
    let gate = builder(&mock).build().unwrap();
    let app = InProcess::new(app(&gate));
    let token = mock.token().sign();

    let answer = app.get("/whoami", &token).await;
    assert_eq!(answer.status, 503);
    assert!(answer.challenge.is_none());
    let retry: u64 = answer.retry_after.expect("Retry-After").parse().unwrap();
    assert!(retry >= 1);

    mock.come_back().await;
    let up = common::eventually(Duration::from_secs(30), async || {
        app.get("/whoami", &token).await.status == 200
    })
    .await;
    assert!(up, "never became ready after the AS came back");
}

#[tokio::test]
async fn a_garbage_jwks_keeps_the_last_good_keys() {
    let mock = MockAuthServer::start().await;
    let gate = ready(
        builder(&mock)
            .jwks_refresh_interval(Duration::from_secs(1))
            .jwks_refresh_bounds(Duration::from_millis(200), Duration::from_secs(1)),
    )
    .await;
    let app = InProcess::new(app(&gate));
    mock.set_fault(Endpoint::Jwks, Fault::MalformedBody);
    let before = mock.jwks_fetches();
    // Wait until at least one garbage refresh has happened.
    let refreshed = common::eventually(Duration::from_secs(20), async || {
        mock.jwks_fetches() > before
    })
    .await;
    assert!(refreshed, "the key set never tried to refresh");
    let token = mock.token().sign();
    assert_eq!(app.get("/whoami", &token).await.status, 200);
}

#[tokio::test]
async fn a_plain_tower_service_works_without_axum() {
    use bytes::Bytes;
    use http_body_util::{BodyExt, Full};
    use tower::ServiceBuilder;

    let mock = MockAuthServer::start().await;
    let gate = ready(builder(&mock)).await;
    // A service of plain `http` types, with a body type of its own: no axum anywhere.
    let service = ServiceBuilder::new().layer(gate.layer()).service_fn(
        |request: http::Request<Full<Bytes>>| async move {
            let sub = request
                .extensions()
                .get::<Principal>()
                .and_then(|p| p.subject().map(str::to_owned))
                .unwrap_or_default();
            let received = request.into_body().collect().await?.to_bytes();
            let answer = format!("{sub} {}", String::from_utf8_lossy(&received));
            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(Bytes::from(answer))))
        },
    );
    let token = mock.token().subject("carol").sign();
    let request = http::Request::post("/anything")
        .header("authorization", format!("Bearer {token}"))
        .body(Full::new(Bytes::from_static(b"payload")))
        .unwrap();
    let answer = oneshot(service.clone(), request).await;
    assert_eq!(
        (answer.status, answer.body.as_str()),
        (200, "carol payload")
    );
    let request = http::Request::get("/anything")
        .body(Full::new(Bytes::new()))
        .unwrap();
    let answer = oneshot(service, request).await;
    assert_eq!(
        (answer.status, answer.challenge.as_deref()),
        (401, Some(r#"Bearer realm="tollgate-test""#))
    );
}

#[tokio::test]
async fn rejections_travel_in_the_response_and_the_body_hook_replaces_only_the_body() {
    use tollgate::{Rejection, RejectionBody};
    use tower::ServiceExt;

    let mock = MockAuthServer::start().await;
    let gate = ready(builder(&mock).rejection_body(|rejection: &Rejection| {
        RejectionBody::new(
            http::HeaderValue::from_static("text/plain"),
            format!("denied: {}", rejection.description()),
        )
    }))
    .await;
    let app = Router::new()
        .route("/", get(|| async { "ok" }))
        .layer(gate.layer());
    let token = mock.token().expired().sign();
    let request = http::Request::get("/")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::empty())
        .unwrap();
    let response = app.oneshot(request).await.unwrap();
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.extensions().get::<Rejection>(),
        Some(&Rejection::InvalidToken(tollgate::InvalidToken::Expired))
    );
    let challenge = response.headers()["www-authenticate"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(
        challenge.contains(r#"error="invalid_token""#),
        "{challenge}"
    );
    assert_eq!(response.headers()["content-type"], "text/plain");
    let body = http_body_util::BodyExt::collect(response.into_body())
        .await
        .unwrap()
        .to_bytes();
    assert_eq!(&body[..], b"denied: the token has expired");
}

#[tokio::test]
async fn extractors_say_which_layer_is_missing_and_option_forms_are_none() {
    let app = Router::new()
        .route(
            "/required",
            get(|p: Principal| async move { format!("{:?}", p.subject()) }),
        )
        .route(
            "/optional",
            get(
                |p: Option<Principal>, c: Option<Claims<Value>>| async move {
                    format!("{} {}", p.is_none(), c.is_none())
                },
            ),
        );
    let app = InProcess::new(app);
    let answer = app.call(Method::GET, "/required", None).await;
    assert_eq!(answer.status, 500);
    assert!(
        answer
            .body
            .contains("Did you forget to add the tollgate layer"),
        "{}",
        answer.body
    );
    let answer = app.call(Method::GET, "/optional", None).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "true true"));
}

#[tokio::test]
async fn route_annotations_keep_unknown_paths_404() {
    let s = setup().await;
    let app = Router::new().route(
        "/photos",
        get(|| async { "photos" }).route_layer(s.gate.require(Requirement::routine())),
    );
    let app = InProcess::new(app);
    assert_eq!(app.call(Method::GET, "/nowhere", None).await.status, 404);
    assert_eq!(app.call(Method::GET, "/photos", None).await.status, 401);
}

#[tokio::test]
async fn an_explicit_hmac_secret_verifies_hs256_tokens_and_nothing_else() {
    let secret = b"a-shared-secret-of-at-least-32-bytes!".to_vec();
    let gate = Tollgate::builder()
        .issuer("https://as.internal")
        .audience("api")
        .hmac_secret(secret.clone())
        .build()
        .unwrap();
    let now = unix_now();
    let claims = json!({"iss": "https://as.internal", "aud": "api", "sub": "svc", "client_id": "svc",
        "iat": now, "exp": now + 60, "jti": "1", "scope": "read"});
    let mut header = jsonwebtoken::Header::new(Algorithm::HS256);
    header.typ = Some("at+jwt".into());
    let sign = |key: &[u8]| {
        jsonwebtoken::encode(
            &header,
            &claims,
            &jsonwebtoken::EncodingKey::from_secret(key).unwrap(),
        )
        .unwrap()
    };
    assert_eq!(
        gate.validate(&sign(&secret)).await.unwrap().subject(),
        Some("svc")
    );
    assert!(
        gate.validate(&sign(b"another-secret-that-is-also-long-enough"))
            .await
            .is_err()
    );
}
