//! Introspection against a tiny in-test authorization server on 127.0.0.1.
//!
//! Longer than 400 lines for a reason: one suite against one in-test server, whose modes its cases
//! share. The server stays canned rather than tollgate-mock for now: besides answers the mock's
//! faults could give, the cases read each request as it arrived (`Authorization`, `Accept`, the
//! form body) and the most calls in flight at once, which the mock does not report, and need
//! 400 answers with bodies the mock does not send (no `error`, HTML, 100 KiB).

use std::collections::HashMap;
use std::convert::Infallible;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;

use super::*;
use crate::hash::TokenHash;

const MINUTE: Duration = Duration::from_secs(60);

/// What the server saw of one request.
#[derive(Debug, Clone)]
struct Seen {
    authorization: Option<String>,
    accept: Option<String>,
    content_type: Option<String>,
    body: String,
}

#[derive(Default)]
struct Server {
    calls: AtomicUsize,
    in_flight: AtomicUsize,
    max_in_flight: AtomicUsize,
    seen: Mutex<Vec<Seen>>,
    /// Tokens the "revocable" mode answers inactive; every other token is active.
    revoked: Mutex<Vec<String>>,
}

impl Server {
    fn calls(&self) -> usize {
        self.calls.load(Ordering::SeqCst)
    }

    fn last(&self) -> Seen {
        self.seen.lock().unwrap().last().cloned().unwrap()
    }

    fn revoke(&self, token: &str) {
        self.revoked.lock().unwrap().push(token.to_owned());
    }
}

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

fn json(body: String) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], body).into_response()
}

fn oauth_error(status: u16, error: &str) -> Response {
    let body = format!(r#"{{"error":"{error}","error_description":"from the test server"}}"#);
    (StatusCode::from_u16(status).unwrap(), json(body)).into_response()
}

fn active_body() -> String {
    let now = now();
    format!(
        r#"{{"active":true,"sub":"alice","scope":"read write","client_id":"app","aud":["api"],
            "iss":"https://as.test","exp":{},"iat":{now},"jti":"j1","token_type":"Bearer",
            "username":"alice@example.com","custom":{{"tier":"gold"}}}}"#,
        now + 3600
    )
}

async fn answer(
    State(server): State<Arc<Server>>,
    Path(mode): Path<String>,
    headers: HeaderMap,
    body: String,
) -> Response {
    server.calls.fetch_add(1, Ordering::SeqCst);
    let current = server.in_flight.fetch_add(1, Ordering::SeqCst) + 1;
    server.max_in_flight.fetch_max(current, Ordering::SeqCst);
    let header = |name| {
        headers
            .get(name)
            .and_then(|v: &http::HeaderValue| v.to_str().ok())
            .map(str::to_owned)
    };
    let token = form_fields(&body).remove("token").unwrap_or_default();
    server.seen.lock().unwrap().push(Seen {
        authorization: header(header::AUTHORIZATION),
        accept: header(header::ACCEPT),
        content_type: header(header::CONTENT_TYPE),
        body,
    });

    let now = now();
    let response = match mode.as_str() {
        "active" => json(active_body()),
        "revocable" if server.revoked.lock().unwrap().contains(&token) => {
            json(r#"{"active":false}"#.into())
        }
        "revocable" => json(active_body()),
        "padded" => json(format!(
            r#"{{"active":true,"sub":"alice","padding":"{}"}}"#,
            "p".repeat(8 * 1024)
        )),
        "inactive" => json(r#"{"active":false}"#.into()),
        "string-active" => json(r#"{"active":"true","sub":"alice"}"#.into()),
        "number-active" => json(r#"{"active":1}"#.into()),
        "null-active" => json(r#"{"active":null}"#.into()),
        "missing-active" => json(r#"{"sub":"alice","scope":"read"}"#.into()),
        "array" => json(r#"[{"active":true}]"#.into()),
        "garbage" => json("<html>this is not json</html>".into()),
        "status-500" => (StatusCode::INTERNAL_SERVER_ERROR, active_body()).into_response(),
        "status-401" => (StatusCode::UNAUTHORIZED, "{}").into_response(),
        "status-403" => (StatusCode::FORBIDDEN, "{}").into_response(),
        "status-204" => StatusCode::NO_CONTENT.into_response(),
        "status-302" => (
            StatusCode::FOUND,
            [(header::LOCATION, "http://127.0.0.1:9/elsewhere")],
        )
            .into_response(),
        "status-404" => (StatusCode::NOT_FOUND, "{}").into_response(),
        "status-429" => (StatusCode::TOO_MANY_REQUESTS, "{}").into_response(),
        "status-502" => (StatusCode::BAD_GATEWAY, "<html>bad gateway</html>").into_response(),
        "status-503" => StatusCode::SERVICE_UNAVAILABLE.into_response(),
        // RFC 6749 §5.2 error answers, as servers give them.
        "400-unsupported_token_type" => oauth_error(400, "unsupported_token_type"),
        "400-invalid_request" => oauth_error(400, "invalid_request"),
        "400-invalid_token" => oauth_error(400, "invalid_token"),
        "400-invalid_client" => oauth_error(400, "invalid_client"),
        "401-invalid_client" => oauth_error(401, "invalid_client"),
        "400-other" => oauth_error(400, "server_error"),
        "400-no-error" => (StatusCode::BAD_REQUEST, "{}").into_response(),
        "400-garbage" => (StatusCode::BAD_REQUEST, "<html>Bad Request</html>").into_response(),
        "400-huge" => (
            StatusCode::BAD_REQUEST,
            format!(
                r#"{{"error":"invalid_request","padding":"{}"}}"#,
                "x".repeat(100 * 1024)
            ),
        )
            .into_response(),
        "slow" => {
            tokio::time::sleep(Duration::from_secs(2)).await;
            json(active_body())
        }
        "delayed" => {
            tokio::time::sleep(Duration::from_millis(200)).await;
            json(active_body())
        }
        "slow-inactive" => {
            tokio::time::sleep(Duration::from_millis(300)).await;
            json(r#"{"active":false}"#.into())
        }
        "huge" => json(format!(
            r#"{{"active":true,"padding":"{}"}}"#,
            "x".repeat(100 * 1024)
        )),
        "chunked" => {
            // No Content-Length: the bound must hold while streaming.
            let chunks = [
                r#"{"active":true,"padding":""#.to_owned(),
                "y".repeat(40 * 1024),
                "y".repeat(40 * 1024),
                r#""}"#.to_owned(),
            ];
            let stream = futures_util::stream::iter(chunks.map(Ok::<_, Infallible>));
            Body::from_stream(stream).into_response()
        }
        "short-exp" => json(format!(r#"{{"active":true,"exp":{}}}"#, now + 3)),
        "expired" => json(format!(r#"{{"active":true,"exp":{}}}"#, now - 3600)),
        "premature" => json(format!(r#"{{"active":true,"nbf":{}}}"#, now + 3600)),
        _ => StatusCode::NOT_FOUND.into_response(),
    };
    server.in_flight.fetch_sub(1, Ordering::SeqCst);
    response
}

/// Starts the server on 127.0.0.1:0; answers `POST /{mode}`.
async fn start() -> (String, Arc<Server>) {
    let server = Arc::new(Server::default());
    let app = Router::new()
        .route("/{mode}", post(answer))
        .with_state(Arc::clone(&server));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{address}"), server)
}

fn http_client() -> reqwest::Client {
    reqwest::Client::builder()
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// The URL rules under an https issuer; the test servers are on loopback.
fn rules() -> crate::url_rules::UrlRules {
    crate::url_rules::UrlRules::new("https://as.example", false)
}

fn basic() -> Introspection {
    Introspection::client_secret_basic("resource-server", "secret")
}

fn introspector(config: Introspection, url: String) -> Introspector {
    config.validate(&rules()).unwrap();
    let memory = own_memory(&config);
    Introspector::new(config, http_client(), EndpointSource::Fixed(url), memory)
}

/// A revocation memory of the configured bound, as the engine makes for one issuer.
fn own_memory(config: &Introspection) -> Arc<RevocationMemory> {
    Arc::new(RevocationMemory::new(config.revocation_bound()))
}

async fn check(
    introspector: &Introspector,
    token: &str,
    max_age: Duration,
) -> Result<Arc<IntrospectionAnswer>, IntrospectionError> {
    introspector
        .check(
            token,
            TokenHash::of(token),
            TokenKind::Opaque,
            max_age,
            None,
        )
        .await
}

/// Decodes application/x-www-form-urlencoded (test side of the encoder).
fn form_decode(input: &str) -> String {
    let bytes = input.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' => {
                out.push(u8::from_str_radix(&input[i + 1..i + 3], 16).unwrap());
                i += 2;
            }
            byte => out.push(byte),
        }
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

fn form_fields(body: &str) -> HashMap<String, String> {
    body.split('&')
        .map(|pair| {
            let (name, value) = pair.split_once('=').unwrap();
            (form_decode(name), form_decode(value))
        })
        .collect()
}

#[tokio::test]
async fn client_secret_basic_encodes_id_and_secret_before_base64() {
    let (base, server) = start().await;
    let id = "my client:1";
    let secret = "s3cr:t/+ é&=%";
    let introspector = introspector(
        Introspection::client_secret_basic(id, secret),
        format!("{base}/active"),
    );
    let token = "tok/en+1 ü";
    check(&introspector, token, MINUTE).await.unwrap();

    let seen = server.last();
    let authorization = seen.authorization.unwrap();
    let encoded = authorization.strip_prefix("Basic ").unwrap();
    let decoded = String::from_utf8(BASE64.decode(encoded).unwrap()).unwrap();
    // RFC 6749 §2.3.1: each part form-urlencoded, so the `:` in the id does not split it.
    assert_eq!(decoded, "my+client%3A1:s3cr%3At%2F%2B+%C3%A9%26%3D%25");
    let (user, password) = decoded.split_once(':').unwrap();
    assert_eq!(form_decode(user), id);
    assert_eq!(form_decode(password), secret);

    assert_eq!(seen.accept.as_deref(), Some("application/json"));
    assert_eq!(
        seen.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let fields = form_fields(&seen.body);
    assert_eq!(fields.len(), 2, "{fields:?}");
    assert_eq!(fields["token"], token);
    assert_eq!(fields["token_type_hint"], "access_token");
}

#[tokio::test]
async fn client_secret_post_sends_credentials_in_the_form() {
    let (base, server) = start().await;
    let introspector = introspector(
        Introspection::client_secret_post("rs&1", "p=ss word"),
        format!("{base}/active"),
    );
    check(&introspector, "opaque-1", MINUTE).await.unwrap();

    let seen = server.last();
    assert_eq!(seen.authorization, None);
    assert_eq!(
        seen.content_type.as_deref(),
        Some("application/x-www-form-urlencoded")
    );
    let fields = form_fields(&seen.body);
    assert_eq!(fields.len(), 4, "{fields:?}");
    assert_eq!(fields["token"], "opaque-1");
    assert_eq!(fields["token_type_hint"], "access_token");
    assert_eq!(fields["client_id"], "rs&1");
    assert_eq!(fields["client_secret"], "p=ss word");
}

#[tokio::test]
async fn bearer_credential_goes_in_the_authorization_header() {
    let (base, server) = start().await;
    let introspector = introspector(
        Introspection::bearer("introspection-token-xyz"),
        format!("{base}/active"),
    );
    check(&introspector, "opaque-1", MINUTE).await.unwrap();

    let seen = server.last();
    assert_eq!(
        seen.authorization.as_deref(),
        Some("Bearer introspection-token-xyz")
    );
    let fields = form_fields(&seen.body);
    assert_eq!(fields.len(), 2, "{fields:?}");
    assert!(!fields.contains_key("client_secret"));
}

#[tokio::test]
async fn active_answer_is_parsed_and_reused_within_max_age() {
    let (base, server) = start().await;
    let introspector = introspector(basic(), format!("{base}/active"));

    let answer = check(&introspector, "t1", MINUTE).await.unwrap();
    assert_eq!(answer.sub.as_deref(), Some("alice"));
    assert_eq!(answer.scope.as_deref(), Some("read write"));
    assert_eq!(answer.client_id.as_deref(), Some("app"));
    assert_eq!(answer.aud, ["api"]);
    assert_eq!(answer.iss.as_deref(), Some("https://as.test"));
    assert_eq!(answer.jti.as_deref(), Some("j1"));
    assert_eq!(answer.raw["token_type"], "Bearer");
    assert_eq!(answer.raw["username"], "alice@example.com");
    assert!(answer.exp.is_some_and(|exp| exp > now()));
    assert_eq!(answer.raw["custom"]["tier"], "gold");
    assert_eq!(answer.raw["active"], true);

    let again = check(&introspector, "t1", MINUTE).await.unwrap();
    assert!(Arc::ptr_eq(&answer, &again));
    assert_eq!(server.calls(), 1);
    assert_eq!(introspector.calls(), 1);
    assert_eq!(introspector.cache_hits(), 1);
    assert!(!introspector.known_inactive(&TokenHash::of("t1")));

    // Another token is asked about separately.
    check(&introspector, "t2", MINUTE).await.unwrap();
    assert_eq!(server.calls(), 2);
}

#[tokio::test]
async fn max_age_zero_asks_every_time() {
    let (base, server) = start().await;
    let introspector = introspector(basic(), format!("{base}/active"));
    check(&introspector, "t", Duration::ZERO).await.unwrap();
    check(&introspector, "t", Duration::ZERO).await.unwrap();
    assert_eq!(server.calls(), 2);
    // The fresh answer was stored: a lenient caller reuses it.
    check(&introspector, "t", MINUTE).await.unwrap();
    assert_eq!(server.calls(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checks_share_one_call() {
    let (base, server) = start().await;
    let introspector = introspector(basic(), format!("{base}/delayed"));

    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let introspector = introspector.clone();
            tokio::spawn(async move { check(&introspector, "shared", Duration::ZERO).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().sub.as_deref(), Some("alice"));
    }
    assert_eq!(server.calls(), 1);
    assert_eq!(introspector.calls(), 1);
    assert_eq!(introspector.coalesced(), 99);
    assert_eq!(introspector.in_flight(), 0);

    // The flight is over: the next strict check asks again.
    check(&introspector, "shared", Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(server.calls(), 2);
}

#[tokio::test]
async fn concurrent_checks_in_one_task_share_one_call() {
    let (base, server) = start().await;
    let introspector = introspector(basic(), format!("{base}/delayed"));
    let checks = (0..20).map(|_| check(&introspector, "shared", Duration::ZERO));
    let results = futures_util::future::join_all(checks).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(server.calls(), 1);
}

#[tokio::test]
async fn a_cancelled_caller_does_not_cancel_the_call() {
    let (base, server) = start().await;
    let introspector = introspector(basic(), format!("{base}/delayed"));
    // Give up long before the server answers (200 ms).
    let gave_up =
        tokio::time::timeout(Duration::from_millis(20), check(&introspector, "t", MINUTE)).await;
    assert!(gave_up.is_err());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The call finished in its own task and its answer was cached.
    assert_eq!(introspector.in_flight(), 0);
    check(&introspector, "t", MINUTE).await.unwrap();
    assert_eq!(server.calls(), 1);
}

/// A check for a verified JWT (the engine calls it only after local validation).
async fn check_jwt(
    introspector: &Introspector,
    token: &str,
    exp: Option<i64>,
) -> Result<Arc<IntrospectionAnswer>, IntrospectionError> {
    introspector
        .check(
            token,
            TokenHash::of(token),
            TokenKind::Jwt,
            Duration::ZERO,
            exp,
        )
        .await
}

#[tokio::test]
async fn inactive_for_an_unknown_opaque_token_is_cached_but_no_revocation() {
    let (base, server) = start().await;
    let introspector = introspector(basic(), format!("{base}/inactive"));
    let hash = TokenHash::of("junk");
    assert_eq!(
        check(&introspector, "junk", Duration::ZERO).await.err(),
        Some(IntrospectionError::Inactive)
    );
    // Never verified: not in the revocation memory, but answered from the cache.
    assert!(!introspector.known_inactive(&hash));
    assert!(matches!(
        introspector.lookup(&hash, MINUTE),
        super::Lookup::Inactive
    ));
    assert_eq!(
        check(&introspector, "junk", Duration::ZERO).await.err(),
        Some(IntrospectionError::Inactive)
    );
    assert_eq!(server.calls(), 1);
    assert_eq!(introspector.revoked_tokens(), 0);
}

#[tokio::test]
async fn a_verified_token_called_inactive_is_remembered_revoked() {
    let (base, server) = start().await;
    let introspector = introspector(basic(), format!("{base}/revocable"));

    // A verified JWT.
    let exp = now() + 3600;
    assert_eq!(
        check_jwt(&introspector, "jwt", Some(exp)).await.err(),
        None,
        "active at first"
    );
    server.revoke("jwt");
    assert_eq!(
        check_jwt(&introspector, "jwt", Some(exp)).await.err(),
        Some(IntrospectionError::Inactive)
    );
    assert!(introspector.known_inactive(&TokenHash::of("jwt")));

    // An opaque token that was active before.
    check(&introspector, "opaque", MINUTE).await.unwrap();
    server.revoke("opaque");
    assert_eq!(
        check(&introspector, "opaque", Duration::ZERO).await.err(),
        Some(IntrospectionError::Inactive)
    );
    assert!(introspector.known_inactive(&TokenHash::of("opaque")));
    // Its active answer is gone: nobody is handed it again.
    assert!(
        introspector
            .cached(&TokenHash::of("opaque"), MINUTE)
            .is_none()
    );

    // Revocation is final: even a caller that wants a fresh answer gets no new call.
    let calls = server.calls();
    for token in ["jwt", "opaque"] {
        assert_eq!(
            check(&introspector, token, Duration::ZERO).await.err(),
            Some(IntrospectionError::Inactive)
        );
    }
    assert_eq!(server.calls(), calls);
    assert_eq!(introspector.revoked_tokens(), 2);
    assert!(!introspector.known_inactive(&TokenHash::of("other")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_survive_more_junk_than_the_answer_cache_holds() {
    const CAPACITY: u64 = 8;
    let (base, _server) = start().await;
    let introspector = introspector(basic().cache_capacity(CAPACITY), format!("{base}/inactive"));
    let exp = now() + 3600;
    assert_eq!(
        check_jwt(&introspector, "revoked-jwt", Some(exp))
            .await
            .err(),
        Some(IntrospectionError::Inactive)
    );
    let revoked = TokenHash::of("revoked-jwt");
    // Each junk string asked as often as the revoked token, so that no cache could tell them
    // apart by frequency.
    for i in 0..50 * CAPACITY {
        let junk = format!("junk-{i}");
        for _ in 0..3 {
            assert!(check(&introspector, &junk, MINUTE).await.is_err());
            let _ = introspector.known_inactive(&revoked);
        }
    }
    introspector.sync_cache();
    assert!(introspector.known_inactive(&revoked));
    // The junk stayed in the cache's bounds.
    let (entries, _) = introspector.cached_answers();
    assert!(entries <= CAPACITY, "{entries} entries");
    assert_eq!(introspector.revoked_tokens(), 1);
}

#[tokio::test]
async fn the_revocation_memory_bound_is_counted_once_per_episode() {
    let (base, _server) = start().await;
    let introspector = introspector(basic().revocation_capacity(2), format!("{base}/inactive"));
    let now = now();
    for (token, exp) in [("a", now + 1_000), ("b", now + 3_000), ("c", now + 2_000)] {
        assert_eq!(
            check_jwt(&introspector, token, Some(exp)).await.err(),
            Some(IntrospectionError::Inactive)
        );
    }
    // Full at "c": the revocation expiring first ("a") was given up.
    assert!(!introspector.known_inactive(&TokenHash::of("a")));
    assert!(introspector.known_inactive(&TokenHash::of("b")));
    assert!(introspector.known_inactive(&TokenHash::of("c")));
    // One more, expiring before the others: it is the one given up.
    check_jwt(&introspector, "d", Some(now + 1_500)).await.ok();
    assert!(!introspector.known_inactive(&TokenHash::of("d")));
    assert_eq!(introspector.revoked_tokens(), 2);
    assert_eq!(introspector.revocations_dropped(), 2);
    // Two drops, one episode (one WARN).
    assert_eq!(introspector.revocation_memory_full(), 1);
}

#[tokio::test]
async fn inactive_is_remembered_until_the_tokens_exp() {
    let (base, _server) = start().await;
    let introspector = introspector(basic().leeway(Duration::ZERO), format!("{base}/inactive"));
    let hash = TokenHash::of("jwt");
    let exp = now() + 3;
    let result = introspector
        .check("jwt", hash, TokenKind::Jwt, Duration::ZERO, Some(exp))
        .await;
    assert_eq!(result.err(), Some(IntrospectionError::Inactive));
    assert!(introspector.known_inactive(&hash));
    tokio::time::sleep(Duration::from_millis(3100)).await;
    // Past exp the token is rejected locally anyway; the memory is released.
    assert!(!introspector.known_inactive(&hash));
}

#[tokio::test]
async fn active_but_expired_or_premature_is_inactive() {
    let (base, _server) = start().await;
    let expired = introspector(basic(), format!("{base}/expired"));
    assert_eq!(
        check(&expired, "t", MINUTE).await.err(),
        Some(IntrospectionError::Inactive)
    );
    assert!(matches!(
        expired.lookup(&TokenHash::of("t"), MINUTE),
        super::Lookup::Inactive
    ));

    let premature = introspector(basic(), format!("{base}/premature"));
    assert_eq!(
        check(&premature, "t", MINUTE).await.err(),
        Some(IntrospectionError::Inactive)
    );
}

/// How a failed introspection is classified: the class decides 401 or 503, and whether
/// `fail_open_when_unreachable` may open.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Class {
    Unconfirmable,
    Unreachable,
    Broken,
}

fn class(result: &Result<Arc<IntrospectionAnswer>, IntrospectionError>) -> Option<Class> {
    match result {
        Err(IntrospectionError::Unconfirmable(_)) => Some(Class::Unconfirmable),
        Err(IntrospectionError::Unreachable(_)) => Some(Class::Unreachable),
        Err(IntrospectionError::Broken(_)) => Some(Class::Broken),
        _ => None,
    }
}

#[tokio::test]
async fn failures_are_classified_by_whose_fault_they_are_and_never_cached() {
    use Class::*;
    let (base, server) = start().await;
    for (mode, expected) in [
        // The AS cannot be reached (5xx): the only class fail-open may pass.
        ("status-500", Unreachable),
        ("status-502", Unreachable),
        ("status-503", Unreachable),
        // It answers, but not usably: closed.
        ("string-active", Broken),
        ("number-active", Broken),
        ("null-active", Broken),
        ("missing-active", Broken),
        ("array", Broken),
        ("garbage", Broken),
        ("status-401", Broken),
        ("status-403", Broken),
        ("status-204", Broken),
        ("status-302", Broken),
        ("status-404", Broken),
        ("status-429", Broken),
        ("huge", Broken),
        ("chunked", Broken),
        // RFC 6749 §5.2: `invalid_client` is about us, whatever the status.
        ("400-invalid_client", Broken),
        ("401-invalid_client", Broken),
        // A 400 that names no error about the token.
        ("400-other", Broken),
        ("400-no-error", Broken),
        ("400-garbage", Broken),
        ("400-huge", Broken),
        // About the token: it cannot be confirmed (RFC 7009 §2.2.1 unsupported_token_type).
        ("400-unsupported_token_type", Unconfirmable),
        ("400-invalid_request", Unconfirmable),
        ("400-invalid_token", Unconfirmable),
    ] {
        let introspector = introspector(basic(), format!("{base}/{mode}"));
        let before = server.calls();
        for _ in 0..2 {
            let result = check(&introspector, "t", MINUTE).await;
            assert_eq!(class(&result), Some(expected), "{mode}: {result:?}");
        }
        // Asked twice: nothing was remembered, not even as a revocation.
        assert_eq!(server.calls() - before, 2, "{mode}");
        assert!(!introspector.known_inactive(&TokenHash::of("t")), "{mode}");
        // Only failures of the AS count as failures; an answer about the token does not.
        let failures = if expected == Unconfirmable { 0 } else { 2 };
        assert_eq!(introspector.failures(), failures, "{mode}");
    }
}

#[tokio::test]
async fn body_bound_applies_to_streamed_answers() {
    let (base, _server) = start().await;
    // The streamed answer is about 80 KiB: over the default 64 KiB, under 100 KiB.
    let roomy = introspector(
        basic().max_body_bytes(100 * 1024),
        format!("{base}/chunked"),
    );
    check(&roomy, "t", MINUTE).await.unwrap();
    let tight = introspector(basic(), format!("{base}/chunked"));
    assert!(matches!(
        check(&tight, "t", MINUTE).await.err(),
        Some(IntrospectionError::Broken(_))
    ));
}

#[tokio::test]
async fn timeout_is_unavailable_and_not_cached() {
    let (base, server) = start().await;
    let introspector = introspector(
        basic().timeout(Duration::from_millis(200)),
        format!("{base}/slow"),
    );
    let started = Instant::now();
    let result = check(&introspector, "t", MINUTE).await;
    assert_eq!(
        result.err(),
        Some(IntrospectionError::Unreachable("introspection timed out"))
    );
    assert!(started.elapsed() < Duration::from_millis(1800));
    let result = check(&introspector, "t", MINUTE).await;
    assert!(matches!(result, Err(IntrospectionError::Unreachable(_))));
    assert_eq!(server.calls(), 2);
    assert_eq!(introspector.failures(), 2);
}

#[tokio::test]
async fn unreachable_endpoint_is_unavailable() {
    // A port that was free a moment ago: connections are refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let introspector = introspector(basic(), format!("http://{address}/active"));
    for _ in 0..2 {
        assert!(matches!(
            check(&introspector, "t", MINUTE).await.err(),
            Some(IntrospectionError::Unreachable(_))
        ));
    }
    assert_eq!(introspector.calls(), 2);
}

/// Asks twice (the second from the cache), waits `wait`, asks again: true if that asked the AS.
async fn asks_again_after(
    introspector: &Introspector,
    server: &Server,
    exp: Option<i64>,
    wait: Duration,
) -> bool {
    let hour = Duration::from_secs(3600);
    let hash = TokenHash::of("t");
    let ask = || introspector.check("t", hash, TokenKind::Jwt, hour, exp);
    let before = server.calls();
    ask().await.unwrap();
    ask().await.unwrap();
    assert_eq!(server.calls() - before, 1);
    tokio::time::sleep(wait).await;
    ask().await.unwrap();
    server.calls() - before == 2
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_entry_is_not_reused_past_exp_or_max_cache_ttl() {
    let wait = Duration::from_millis(3200);
    // The answer's exp is 3 s ahead (whole seconds): the entry lives between 2 and 3 s.
    let (base, answer_exp) = start().await;
    let by_answer = introspector(basic(), format!("{base}/short-exp"));
    // The answer's exp is an hour ahead, but the JWT's own exp (from the engine) is 3 s ahead.
    let (base, jwt_exp) = start().await;
    let by_jwt = introspector(basic(), format!("{base}/active"));
    // No exp within reach: the configured upper bound applies.
    let (base, bounded) = start().await;
    let by_bound = introspector(
        basic()
            .routine_ttl(Duration::ZERO)
            .max_cache_ttl(Duration::from_secs(2)),
        format!("{base}/active"),
    );
    let (a, b, c) = tokio::join!(
        asks_again_after(&by_answer, &answer_exp, None, wait),
        asks_again_after(&by_jwt, &jwt_exp, Some(now() + 3), wait),
        asks_again_after(&by_bound, &bounded, None, wait),
    );
    assert!(a && b && c, "{a} {b} {c}");
}

#[tokio::test]
async fn accessors_report_the_configuration() {
    let (base, _server) = start().await;
    let introspector = introspector(
        basic().routine_ttl(Duration::from_secs(7)),
        format!("{base}/active"),
    );
    assert_eq!(introspector.routine_ttl(), Duration::from_secs(7));
}

#[test]
fn each_failure_has_one_answer_with_a_true_reason() {
    use crate::rejection::{InvalidToken, Rejection, Unavailable};
    let unavailable = |error: IntrospectionError, kind| match error.rejection(kind) {
        Rejection::Unavailable {
            reason,
            retry_after,
        } => Some((reason, retry_after.as_secs())),
        _ => None,
    };
    for kind in [TokenKind::Jwt, TokenKind::Opaque] {
        assert_eq!(
            unavailable(IntrospectionError::Unreachable("x"), kind),
            Some((Unavailable::Introspection, 5))
        );
        // The AS rejects our credentials or answers nonsense: not "cannot be reached".
        assert_eq!(
            unavailable(IntrospectionError::Broken("x"), kind),
            Some((Unavailable::IntrospectionFailed, 5))
        );
        // tollgate's own limits: a short wait.
        assert_eq!(
            unavailable(IntrospectionError::Saturated("x"), kind),
            Some((Unavailable::Overloaded, 1))
        );
        assert_eq!(
            IntrospectionError::Inactive.rejection(kind),
            Rejection::InvalidToken(InvalidToken::Inactive)
        );
        assert_eq!(
            IntrospectionError::Unconfirmable("x").rejection(kind),
            Rejection::InvalidToken(InvalidToken::Unconfirmable)
        );
    }
    assert_eq!(
        unavailable(IntrospectionError::NoEndpoint, TokenKind::Jwt),
        Some((Unavailable::NoIntrospection, 60))
    );
    assert_eq!(
        IntrospectionError::NoEndpoint.rejection(TokenKind::Opaque),
        Rejection::InvalidToken(InvalidToken::OpaqueUnsupported)
    );
    // Only an outage opens a fail-open route.
    assert!(IntrospectionError::Unreachable("x").is_unreachable());
    for closed in [
        IntrospectionError::Broken("x"),
        IntrospectionError::Saturated("x"),
        IntrospectionError::NoEndpoint,
    ] {
        assert!(!closed.is_unreachable(), "{closed:?}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_concurrent_bounds_calls_in_flight_per_kind() {
    for kind in [TokenKind::Jwt, TokenKind::Opaque] {
        let (base, server) = start().await;
        let config = match kind {
            TokenKind::Jwt => basic().max_concurrent(2),
            TokenKind::Opaque => basic().max_concurrent_opaque(2),
        };
        let introspector = introspector(
            config.timeout(Duration::from_secs(20)),
            format!("{base}/delayed"),
        );
        let tasks: Vec<_> = (0..8)
            .map(|i| {
                let introspector = introspector.clone();
                tokio::spawn(async move {
                    let token = format!("t{i}");
                    let hash = TokenHash::of(&token);
                    introspector.check(&token, hash, kind, MINUTE, None).await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(server.calls(), 8);
        let peak = server.max_in_flight.load(Ordering::SeqCst);
        assert!(peak <= 2, "{kind:?}: {peak} at once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_lookups_never_take_a_sensitive_checks_slot() {
    let (base, _server) = start().await;
    // One slot each; the opaque lookups alone need far longer than the timeout.
    let introspector = introspector(
        basic()
            .max_concurrent(1)
            .max_concurrent_opaque(1)
            .timeout(Duration::from_secs(1)),
        format!("{base}/delayed"),
    );
    let junk: Vec<_> = (0..20)
        .map(|i| {
            let introspector = introspector.clone();
            tokio::spawn(async move { check(&introspector, &format!("junk-{i}"), MINUTE).await })
        })
        .collect();
    // The junk is queued and in flight.
    while introspector.in_flight() < 20 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A sensitive check still has its slot.
    check_jwt(&introspector, "admin-jwt", None).await.unwrap();
    let mut saturated = 0;
    let mut outcomes = Vec::new();
    for task in junk {
        let outcome = task.await.unwrap();
        outcomes.push(format!("{:?}", outcome.as_ref().map(|_| ())));
        match outcome {
            Ok(_) => {}
            Err(IntrospectionError::Saturated(_)) => saturated += 1,
            // A slot came free late, and the call ran out of time in the exchange.
            Err(IntrospectionError::Unreachable("introspection timed out")) => {}
            Err(other) => panic!("{other:?}"),
        }
    }
    // Twenty calls of 200 ms in one slot within one second: most got no slot, and said so.
    assert!(saturated >= 10, "{saturated}: {outcomes:?}");
    assert_eq!(introspector.saturated(), saturated);
}

#[tokio::test]
async fn the_rate_limit_spends_only_on_unknown_opaque_tokens() {
    let (base, server) = start().await;
    let introspector = introspector(basic().opaque_lookup_rate(1, 3), format!("{base}/active"));
    let started = Instant::now();
    let mut refused = 0;
    for i in 0..10 {
        match check(&introspector, &format!("new-{i}"), MINUTE).await {
            Ok(_) => {}
            Err(IntrospectionError::Saturated(_)) => refused += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    // A burst of three, then one per second.
    let allowed = 3 + usize::try_from(started.elapsed().as_secs()).unwrap() + 1;
    assert!(server.calls() <= allowed, "{} calls", server.calls());
    assert_eq!(server.calls() + refused, 10);
    assert_eq!(introspector.rate_limited(), u64::try_from(refused).unwrap());

    // Even with the bucket empty: a cached token is answered, a known token refreshed, a
    // sensitive JWT check asked, none of them spending the bucket.
    let mut drained = 0;
    while check(&introspector, &format!("drain-{drained}"), MINUTE)
        .await
        .is_ok()
    {
        drained += 1;
        assert!(drained < 100, "the bucket never ran dry");
    }
    let limited = introspector.rate_limited();
    check(&introspector, "new-0", MINUTE).await.unwrap();
    check(&introspector, "new-0", Duration::ZERO).await.unwrap();
    check_jwt(&introspector, "jwt-1", None).await.unwrap();
    check_jwt(&introspector, "jwt-2", None).await.unwrap();
    assert_eq!(introspector.rate_limited(), limited);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_calls_are_bounded_per_kind() {
    let (base, server) = start().await;
    let introspector = introspector(
        basic().max_pending(2).timeout(Duration::from_secs(10)),
        format!("{base}/slow"),
    );
    let spawn = |token: &'static str, kind: TokenKind| {
        let introspector = introspector.clone();
        tokio::spawn(async move {
            introspector
                .check(token, TokenHash::of(token), kind, MINUTE, None)
                .await
        })
    };
    let first = [spawn("a", TokenKind::Opaque), spawn("b", TokenKind::Opaque)];
    while introspector.in_flight() < 2 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A third opaque call is refused at once...
    assert_eq!(
        check(&introspector, "c", MINUTE).await.err(),
        Some(IntrospectionError::Saturated(
            super::introspector::TOO_MANY_PENDING
        ))
    );
    assert_eq!(introspector.saturated(), 1);
    // ... but a request for a pending token shares its call, and a sensitive JWT check has
    // its own bound.
    let joined = spawn("a", TokenKind::Opaque);
    let jwt = spawn("jwt", TokenKind::Jwt);
    for task in first.into_iter().chain([joined, jwt]) {
        task.await.unwrap().unwrap();
    }
    assert_eq!(server.calls(), 3);
    assert_eq!(introspector.coalesced(), 1);
}

#[tokio::test]
async fn the_answer_cache_is_bounded_in_bytes() {
    const BYTES: u64 = 64 * 1024;
    let (base, _server) = start().await;
    let introspector = introspector(basic().cache_max_bytes(BYTES), format!("{base}/padded"));
    for i in 0..100 {
        check(&introspector, &format!("t{i}"), MINUTE)
            .await
            .unwrap();
    }
    introspector.sync_cache();
    let (entries, bytes) = introspector.cached_answers();
    // Each answer holds over 8 KiB: a few of them fill 64 KiB.
    assert!(bytes <= BYTES, "{bytes} bytes");
    assert!((1..=8).contains(&entries), "{entries} entries");
}

#[tokio::test]
async fn configured_endpoint_wins_over_the_source() {
    let (base, server) = start().await;
    let config = basic().endpoint(format!("{base}/active"));
    config.validate(&rules()).unwrap();
    assert_eq!(
        config.configured_endpoint(),
        Some(format!("{base}/active").as_str())
    );
    let memory = own_memory(&config);
    let introspector = Introspector::new(
        config,
        http_client(),
        EndpointSource::Fixed("http://127.0.0.1:9/nowhere".into()),
        memory,
    );
    check(&introspector, "t", MINUTE).await.unwrap();
    assert_eq!(server.calls(), 1);
}

#[test]
fn validation_refuses_unusable_configurations() {
    use crate::ConfigErrorKind as Kind;
    let kind = |config: Introspection| config.validate(&rules()).unwrap_err().kind();

    assert!(basic().validate(&rules()).is_ok());
    assert!(
        basic()
            .endpoint("https://as.example/oauth2/introspect")
            .validate(&rules())
            .is_ok()
    );
    assert!(Introspection::bearer("abc.def").validate(&rules()).is_ok());

    assert_eq!(
        kind(Introspection::client_secret_basic("", "s")),
        Kind::Credentials
    );
    assert_eq!(
        kind(Introspection::client_secret_post("id", "")),
        Kind::Credentials
    );
    assert_eq!(kind(Introspection::bearer("")), Kind::Credentials);
    assert_eq!(
        kind(Introspection::bearer("line\nbreak")),
        Kind::Credentials
    );
    // RFC 7662 §4: the token travels in the body; plain http only on loopback.
    assert_eq!(
        kind(basic().endpoint("http://as.example/introspect")),
        Kind::InvalidUrl
    );
    assert!(
        basic()
            .endpoint("http://127.0.0.1:8080/introspect")
            .validate(&rules())
            .is_ok()
    );
    assert_eq!(kind(basic().endpoint("/introspect")), Kind::InvalidUrl);
    assert_eq!(
        kind(basic().endpoint("ftp://as.example/i")),
        Kind::InvalidUrl
    );
    assert_eq!(
        kind(basic().endpoint("https://u:p@as.example/i")),
        Kind::InvalidUrl
    );
    assert_eq!(kind(basic().endpoint("not a url")), Kind::InvalidUrl);
    assert_eq!(kind(basic().timeout(Duration::ZERO)), Kind::Bounds);
    assert_eq!(kind(basic().max_concurrent(0)), Kind::Bounds);
    assert_eq!(kind(basic().max_concurrent(usize::MAX)), Kind::Bounds);
    assert_eq!(kind(basic().cache_capacity(0)), Kind::Bounds);
    assert_eq!(kind(basic().cache_max_bytes(0)), Kind::Bounds);
    assert_eq!(kind(basic().revocation_capacity(0)), Kind::Bounds);
    assert_eq!(kind(basic().max_concurrent_opaque(0)), Kind::Bounds);
    assert_eq!(
        kind(basic().max_concurrent_opaque(usize::MAX)),
        Kind::Bounds
    );
    assert_eq!(kind(basic().max_pending(0)), Kind::Bounds);
    assert_eq!(kind(basic().opaque_lookup_rate(0, 10)), Kind::Bounds);
    assert_eq!(kind(basic().opaque_lookup_rate(10, 0)), Kind::Bounds);
    assert_eq!(
        kind(basic().opaque_token_shape(OpaqueShape::new().min_len(9).max_len(8))),
        Kind::Bounds
    );
    assert_eq!(kind(basic().max_body_bytes(0)), Kind::Bounds);

    // The messages never echo a credential.
    let error = Introspection::bearer("sec\nret")
        .validate(&rules())
        .unwrap_err();
    assert!(!error.to_string().contains("sec"));
}

#[test]
fn debug_never_prints_secrets() {
    for config in [
        Introspection::client_secret_basic("rs", "hunter2-secret"),
        Introspection::client_secret_post("rs", "hunter2-secret"),
        Introspection::bearer("hunter2-secret"),
    ] {
        let debug = format!("{config:?}");
        assert!(!debug.contains("hunter2"), "{debug}");
        assert!(debug.contains("timeout"), "{debug}");
    }
}

#[test]
fn defaults_are_as_documented() {
    let config = basic();
    assert_eq!(config.timeout, Duration::from_secs(2));
    assert_eq!(config.max_concurrent, 64);
    assert_eq!(config.max_concurrent_opaque, 32);
    assert_eq!(config.max_pending, 1_024);
    assert_eq!(config.opaque_lookup_rate, (100, 200));
    assert_eq!(config.opaque_shape, OpaqueShape::new());
    assert_eq!(config.cache_capacity, 10_000);
    assert_eq!(config.cache_max_bytes, 16 * 1024 * 1024);
    assert_eq!(config.revocation_capacity, 100_000);
    assert_eq!(config.routine_ttl, Duration::from_secs(30));
    assert_eq!(config.max_cache_ttl, Duration::from_secs(300));
    assert_eq!(config.inactive_ttl, Duration::from_secs(3600));
    assert_eq!(config.max_body_bytes, 64 * 1024);
    assert_eq!(config.leeway, Duration::from_secs(60));
    assert_eq!(config.configured_endpoint(), None);
    assert!(!config.accept_answers_without_audience);
}
