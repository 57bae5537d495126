//! Local validation (docs/ARCHITECTURE.md, "Key sets", "Local validation"; README, "Behaviour") over real loopback HTTP, against tollgate-mock.

mod common;

use std::time::Duration;

use axum::routing::get;
use axum::{Json, Router};
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use common::{builder, get as get_with, ready, send, serve};
use serde::Deserialize;
use serde_json::{Value, json};
use tollgate::{Claims, Principal, Requirement, Tollgate};
use tollgate_mock::Algorithm;
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
    url: String,
}

async fn setup() -> Setup {
    let mock = MockAuthServer::start().await;
    let gate = ready(builder(&mock)).await;
    let url = serve(app(&gate)).await;
    Setup { mock, gate, url }
}

fn b64(value: &Value) -> String {
    URL_SAFE_NO_PAD.encode(value.to_string())
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

    let answer = get_with(&format!("{}/whoami", s.url), &token).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    let body: Value = serde_json::from_str(&answer.body).unwrap();
    assert_eq!(body["sub"], "alice");
    assert_eq!(body["client_id"], s.mock.client_id());
    assert_eq!(body["scopes"], "read photos");
    assert_eq!(body["aud"], json!([s.mock.audience()]));
    assert_eq!(body["introspected"], false);

    let answer = get_with(&format!("{}/tenant", s.url), &token).await;
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
    let answer = get_with(&format!("{}/tenant", s.url), &token).await;
    assert_eq!(answer.status, 401);
    assert_eq!(answer.error().as_deref(), Some("invalid_token"));
    // Answered like every other refusal: with the configured realm.
    assert_eq!(answer.param("realm").as_deref(), Some("tollgate-test"));
}

#[tokio::test]
async fn no_token_or_another_scheme_is_401_without_error_code() {
    let s = setup().await;
    let client = common::client();
    for request in [
        client.get(format!("{}/whoami", s.url)),
        client
            .get(format!("{}/whoami", s.url))
            .header("authorization", "Basic dXNlcjpwYXNz"),
    ] {
        let answer = send(request).await;
        assert_eq!(answer.status, 401);
        assert_eq!(
            answer.challenge.as_deref(),
            Some(r#"Bearer realm="tollgate-test""#)
        );
        assert_eq!(answer.error(), None);
    }
}

#[tokio::test]
async fn the_scheme_is_case_insensitive() {
    let s = setup().await;
    let token = s.mock.token().sign();
    for scheme in ["bearer", "BEARER", "Bearer", "bEaReR"] {
        let request = common::client()
            .get(format!("{}/whoami", s.url))
            .header("authorization", format!("{scheme} {token}"));
        assert_eq!(send(request).await.status, 200, "{scheme}");
    }
}

#[tokio::test]
async fn malformed_requests_are_400_invalid_request() {
    let s = setup().await;
    let token = s.mock.token().sign();
    let url = format!("{}/whoami", s.url);
    let client = common::client();
    let requests = [
        client
            .get(&url)
            .header("authorization", format!("Bearer {token}"))
            .header("authorization", format!("Bearer {token}")),
        client.get(&url).header("authorization", "Bearer"),
        client.get(&url).header("authorization", "Bearer    "),
        client
            .get(format!("{url}?access_token={token}"))
            .bearer_auth(&token),
    ];
    for request in requests {
        let answer = send(request).await;
        assert_eq!(answer.status, 400, "{answer:?}");
        assert_eq!(answer.error().as_deref(), Some("invalid_request"));
    }
}

/// Every one of these is refused with 401 `invalid_token`.
#[tokio::test]
async fn invalid_tokens_are_401_invalid_token() {
    let s = setup().await;
    let mock = &s.mock;
    let rsa_kid = mock.signing_kid();
    let es_kid = mock.add_key(Algorithm::ES256);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs() as i64;
    let payload = mock.token().claims();

    let mut cases: Vec<(&str, String)> = vec![
        ("expired", mock.token().expired().sign()),
        ("not yet valid", mock.token().not_yet_valid().sign()),
        (
            "issued in the future",
            mock.token().issued_at(now + 3600).sign(),
        ),
        (
            "wrong issuer",
            mock.token().issuer("https://evil.example").sign(),
        ),
        (
            "issuer with trailing slash",
            mock.token().issuer(format!("{}/", mock.issuer())).sign(),
        ),
        (
            "wrong audience",
            mock.token().audience("https://other.example").sign(),
        ),
        ("typ JWT", mock.token().header("typ", json!("JWT")).sign()),
        ("typ absent", mock.token().remove_header("typ").sign()),
        ("bad signature", mock.token().unpublished_key().sign()),
        ("unknown kid", mock.token().unpublished_kid().sign()),
        (
            "unknown crit",
            mock.token()
                .header("crit", json!(["exp-ext"]))
                .header("exp-ext", json!(1))
                .sign(),
        ),
        (
            "b64 false",
            mock.token()
                .header("b64", json!(false))
                .header("crit", json!(["b64"]))
                .sign(),
        ),
        (
            "ES256 header with an RSA kid",
            mock.sign_raw(
                &json!({"alg": "ES256", "typ": "at+jwt", "kid": rsa_kid}),
                &payload,
                &es_kid,
            ),
        ),
        (
            "scope as an array",
            mock.token().claim("scope", json!(["read"])).sign(),
        ),
        (
            "exp as a string",
            mock.token()
                .claim("exp", json!((now + 300).to_string()))
                .sign(),
        ),
    ];
    for claim in ["iss", "aud", "exp", "sub", "client_id", "iat", "jti"] {
        cases.push((claim, mock.token().remove_claim(claim).sign()));
    }
    // `alg: none` in several spellings, with and without a signature segment.
    for alg in ["none", "None", "NONE", "nOnE"] {
        let header = json!({"alg": alg, "typ": "at+jwt", "kid": rsa_kid});
        cases.push(("alg none", format!("{}.{}.", b64(&header), b64(&payload))));
        cases.push((
            "alg none, signed",
            format!("{}.{}.c2lnbmF0dXJl", b64(&header), b64(&payload)),
        ));
    }
    // HS256 signed with the RSA public key (its PEM) as the HMAC secret: the classic key confusion.
    let header = json!({"alg": "HS256", "typ": "at+jwt", "kid": rsa_kid});
    let confused = mock.sign_raw_bytes(
        header.to_string().as_bytes(),
        payload.to_string().as_bytes(),
        &rsa_kid,
        Algorithm::HS256,
    );
    cases.push(("HS256 with the RSA public key", confused));

    for (name, token) in cases {
        let answer = get_with(&format!("{}/whoami", s.url), &token).await;
        assert_eq!(answer.status, 401, "{name}: {answer:?}");
        assert_eq!(answer.error().as_deref(), Some("invalid_token"), "{name}");
        assert!(answer.param("error_description").is_some(), "{name}");
        assert!(
            !answer.body.contains(&token),
            "{name}: the body echoes the token"
        );
    }
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
    let answer = get_with(&format!("{}/photos", s.url), &token).await;
    assert_eq!(answer.status, 403);
    assert_eq!(answer.error().as_deref(), Some("insufficient_scope"));
    assert_eq!(answer.param("scope").as_deref(), Some("read photos"));

    let token = s.mock.token().scope("read photos").sign();
    assert_eq!(
        get_with(&format!("{}/photos", s.url), &token).await.status,
        200
    );

    let token = s.mock.token().scope("c").sign();
    let answer = get_with(&format!("{}/either", s.url), &token).await;
    assert_eq!(
        (answer.status, answer.param("scope").as_deref()),
        (403, Some("a b"))
    );
    let token = s.mock.token().scope("b").sign();
    assert_eq!(
        get_with(&format!("{}/either", s.url), &token).await.status,
        200
    );
}

#[tokio::test]
async fn a_rotated_key_is_accepted_after_one_refetch() {
    let s = setup().await;
    let before = s.mock.jwks_fetches();
    let kid = s.mock.add_key(Algorithm::ES256);
    s.mock.set_signing_key(&kid);
    let token = s.mock.token().sign();
    let answer = get_with(&format!("{}/whoami", s.url), &token).await;
    assert_eq!(answer.status, 200, "{answer:?}");
    assert_eq!(s.mock.jwks_fetches(), before + 1);

    // Tokens signed by the previous key, still published, keep working without another fetch.
    let rsa = s.mock.jwks()["keys"][0]["kid"].as_str().unwrap().to_owned();
    let old = s.mock.token().kid(&rsa).sign();
    assert_eq!(
        get_with(&format!("{}/whoami", s.url), &old).await.status,
        200
    );
    assert_eq!(s.mock.jwks_fetches(), before + 1);
}

#[tokio::test]
async fn a_flood_of_unknown_kids_causes_at_most_one_fetch_per_cooldown() {
    let s = setup().await;
    let before = s.mock.jwks_fetches();
    let payload = s.mock.token().claims();
    let signer = s.mock.signing_kid();
    let mut tasks = Vec::new();
    for i in 0..200 {
        let header =
            json!({"alg": "RS256", "typ": "at+jwt", "kid": format!("random-{i}-{}", i * 7919)});
        let token = s.mock.sign_raw(&header, &payload, &signer);
        let url = format!("{}/whoami", s.url);
        tasks.push(tokio::spawn(
            async move { get_with(&url, &token).await.status },
        ));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 401);
    }
    let fetches = s.mock.jwks_fetches() - before;
    assert!(
        fetches <= 1,
        "{fetches} JWKS fetches for 200 unknown kids within one cooldown"
    );
}

#[tokio::test]
async fn the_service_starts_while_the_as_is_down_and_serves_once_it_is_up() {
    let mock = MockAuthServer::start().await;
    mock.go_down().await;
    let gate = builder(&mock).build().unwrap();
    let url = serve(app(&gate)).await;
    let token = mock.token().sign();

    let answer = get_with(&format!("{url}/whoami"), &token).await;
    assert_eq!(answer.status, 503);
    assert!(answer.challenge.is_none());
    let retry: u64 = answer.retry_after.expect("Retry-After").parse().unwrap();
    assert!(retry >= 1);

    mock.come_back().await;
    let up = common::eventually(Duration::from_secs(30), || {
        let (url, token) = (url.clone(), token.clone());
        async move { get_with(&format!("{url}/whoami"), &token).await.status == 200 }
    })
    .await;
    assert!(up, "never became ready after the AS came back");
}

#[tokio::test]
async fn cached_keys_keep_serving_while_the_as_is_down() {
    let s = setup().await;
    let token = s.mock.token().sign();
    s.mock.go_down().await;
    assert_eq!(
        get_with(&format!("{}/whoami", s.url), &token).await.status,
        200
    );
    let fresh = s.mock.token().subject("bob").sign();
    assert_eq!(
        get_with(&format!("{}/whoami", s.url), &fresh).await.status,
        200
    );
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
    let url = serve(app(&gate)).await;
    mock.set_fault(Endpoint::Jwks, Fault::MalformedBody);
    let before = mock.jwks_fetches();
    // Wait until at least one garbage refresh has happened.
    let refreshed = common::eventually(Duration::from_secs(20), || {
        let m = mock.clone();
        async move { m.jwks_fetches() > before }
    })
    .await;
    assert!(refreshed);
    let token = mock.token().sign();
    assert_eq!(get_with(&format!("{url}/whoami"), &token).await.status, 200);
}

#[tokio::test]
async fn a_plain_tower_service_works_without_axum() {
    use http_body_util::{BodyExt, Full};
    use hyper::body::Incoming;
    use hyper_util::rt::TokioIo;
    use hyper_util::service::TowerToHyperService;
    use tower::ServiceBuilder;

    let mock = MockAuthServer::start().await;
    let gate = ready(builder(&mock)).await;
    let service = ServiceBuilder::new().layer(gate.layer()).service_fn(
        |request: http::Request<Incoming>| async move {
            let sub = request
                .extensions()
                .get::<Principal>()
                .and_then(|p| p.subject().map(str::to_owned))
                .unwrap_or_default();
            let _ = request.into_body().collect().await;
            Ok::<_, std::convert::Infallible>(http::Response::new(Full::new(bytes::Bytes::from(
                sub,
            ))))
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                return;
            };
            let service = TowerToHyperService::new(service.clone());
            tokio::spawn(async move {
                let _ = hyper::server::conn::http1::Builder::new()
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    let token = mock.token().subject("carol").sign();
    let answer = get_with(&format!("http://{addr}/anything"), &token).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "carol"));
    let answer = send(common::client().get(format!("http://{addr}/anything"))).await;
    assert_eq!(answer.status, 401);
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
    let url = serve(app).await;
    let answer = send(common::client().get(format!("{url}/required"))).await;
    assert_eq!(answer.status, 500);
    assert!(
        answer
            .body
            .contains("Did you forget to add the tollgate layer"),
        "{}",
        answer.body
    );
    let answer = send(common::client().get(format!("{url}/optional"))).await;
    assert_eq!((answer.status, answer.body.as_str()), (200, "true true"));
}

#[tokio::test]
async fn route_annotations_keep_unknown_paths_404() {
    let s = setup().await;
    let app = Router::new().route(
        "/photos",
        get(|| async { "photos" }).route_layer(s.gate.require(Requirement::routine())),
    );
    let url = serve(app).await;
    assert_eq!(
        send(common::client().get(format!("{url}/nowhere")))
            .await
            .status,
        404
    );
    assert_eq!(
        send(common::client().get(format!("{url}/photos")))
            .await
            .status,
        401
    );
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
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs();
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
