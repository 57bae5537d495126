//! Introspection against tollgate-mock on 127.0.0.1: its real answers where a faithful
//! authorization server gives them (active, inactive, revoked, expired), its faults for the
//! answers no faithful server gives, and its request records for what the introspector sent.
//!
//! Longer than 400 lines for a reason: one suite of the introspector against one kind of
//! server, whose fixtures its cases share.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD as BASE64;
use bytes::Bytes;
use tollgate_mock::{Canned, Endpoint, Fault, MockAuthServer, MockAuthServerBuilder};

use super::*;
use crate::hash::TokenHash;

const MINUTE: Duration = Duration::from_secs(60);
const HOUR: Duration = Duration::from_secs(3600);

fn now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

/// A mock AS that knows the credentials of [`basic`] and issues tokens that live an hour.
fn mock() -> MockAuthServerBuilder {
    MockAuthServer::builder()
        .client("resource-server", "secret")
        .token_lifetime(HOUR)
}

async fn start() -> MockAuthServer {
    mock().start().await
}

/// Makes the introspection endpoint answer as `fault` says.
fn answers(server: &MockAuthServer, fault: Fault) {
    server.set_fault(Endpoint::Introspection, fault);
}

/// Holds each introspection request this long before the mock's own answer.
fn delays(server: &MockAuthServer, delay: Duration) {
    answers(server, Fault::Latency(delay));
}

/// A mock that holds each introspection `delay`, an introspector on it, and a token it issued.
async fn delayed(config: Introspection, delay: Duration) -> (MockAuthServer, Introspector, String) {
    let server = start().await;
    delays(&server, delay);
    let introspector = introspector(config, &server);
    let token = server.opaque_token().issue();
    (server, introspector, token)
}

/// Answers 200 with this JSON text, for every token: answers no faithful server gives.
fn json(body: impl Into<String>) -> Fault {
    Fault::Body {
        content_type: "application/json".into(),
        body: Bytes::from(body.into()),
    }
}

fn active_body() -> String {
    let now = now();
    format!(
        r#"{{"active":true,"sub":"alice","scope":"read write","client_id":"app","aud":["api"],
            "iss":"https://as.test","exp":{},"iat":{now},"jti":"j1","token_type":"Bearer"}}"#,
        now + 3600
    )
}

/// An active answer padded to `bytes` more bytes of `fill`.
fn padded_active(fill: &str, bytes: usize) -> String {
    format!(r#"{{"active":true,"padding":"{}"}}"#, fill.repeat(bytes))
}

/// The last request the introspection endpoint saw.
fn last_seen(server: &MockAuthServer) -> tollgate_mock::SeenRequest {
    server.last_request(Endpoint::Introspection).unwrap()
}

fn form_fields(seen: &tollgate_mock::SeenRequest) -> HashMap<String, String> {
    seen.form().into_iter().collect()
}

/// Decodes one application/x-www-form-urlencoded part.
fn form_decode(part: &str) -> String {
    form_urlencoded::parse(format!("v={part}").as_bytes())
        .next()
        .unwrap()
        .1
        .into_owned()
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

fn introspector(config: Introspection, server: &MockAuthServer) -> Introspector {
    introspector_at(config, server.introspection_endpoint())
}

fn introspector_at(config: Introspection, url: String) -> Introspector {
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
async fn client_secret_basic_encodes_id_and_secret_before_base64() {
    let id = "my client:1";
    let secret = "s3cr:t/+ é&=%";
    let server = mock().client(id, secret).start().await;
    let introspector = introspector(Introspection::client_secret_basic(id, secret), &server);
    let token = "tok/en+1 ü";
    // The mock took the credentials (a 401 would be Broken) and read the token: one it never
    // issued, so inactive.
    assert_eq!(
        check(&introspector, token, MINUTE).await.err(),
        Some(IntrospectionError::Inactive)
    );

    let seen = last_seen(&server);
    let authorization = seen.header("authorization").unwrap();
    let encoded = authorization.strip_prefix("Basic ").unwrap();
    let decoded = String::from_utf8(BASE64.decode(encoded).unwrap()).unwrap();
    // RFC 6749 §2.3.1: each part form-urlencoded, so the `:` in the id does not split it.
    assert_eq!(decoded, "my+client%3A1:s3cr%3At%2F%2B+%C3%A9%26%3D%25");
    let (user, password) = decoded.split_once(':').unwrap();
    assert_eq!(form_decode(user), id);
    assert_eq!(form_decode(password), secret);

    assert_eq!(seen.header("accept"), Some("application/json"));
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let fields = form_fields(&seen);
    assert_eq!(fields.len(), 2, "{fields:?}");
    assert_eq!(fields["token"], token);
    assert_eq!(fields["token_type_hint"], "access_token");
    assert_eq!(server.introspection_count_for(token), 1);
}

#[tokio::test]
async fn client_secret_post_sends_credentials_in_the_form() {
    let server = mock().client("rs&1", "p=ss word").start().await;
    let introspector = introspector(
        Introspection::client_secret_post("rs&1", "p=ss word"),
        &server,
    );
    let token = server.opaque_token().issue();
    check(&introspector, &token, MINUTE).await.unwrap();

    let seen = last_seen(&server);
    assert_eq!(seen.header("authorization"), None);
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    let fields = form_fields(&seen);
    assert_eq!(fields.len(), 4, "{fields:?}");
    assert_eq!(fields["token"], token);
    assert_eq!(fields["token_type_hint"], "access_token");
    assert_eq!(fields["client_id"], "rs&1");
    assert_eq!(fields["client_secret"], "p=ss word");
}

#[tokio::test]
async fn bearer_credential_goes_in_the_authorization_header() {
    let server = mock()
        .introspection_bearer("introspection-token-xyz")
        .start()
        .await;
    let introspector = introspector(Introspection::bearer("introspection-token-xyz"), &server);
    let token = server.opaque_token().issue();
    check(&introspector, &token, MINUTE).await.unwrap();

    let seen = last_seen(&server);
    assert_eq!(
        seen.header("authorization"),
        Some("Bearer introspection-token-xyz")
    );
    let fields = form_fields(&seen);
    assert_eq!(fields.len(), 2, "{fields:?}");
    assert!(!fields.contains_key("client_secret"));
}

#[tokio::test]
async fn active_answer_is_parsed_and_reused_within_max_age() {
    let server = start().await;
    let introspector = introspector(basic(), &server);
    let t1 = server
        .opaque_token()
        .scope("read write")
        .client_id("app")
        .audiences(["api"])
        .claim("jti", "j1")
        .claim("username", "alice@example.com")
        .claim("custom", serde_json::json!({"tier": "gold"}))
        .issue();

    let answer = check(&introspector, &t1, MINUTE).await.unwrap();
    assert_eq!(answer.sub.as_deref(), Some("alice"));
    assert_eq!(answer.scope.as_deref(), Some("read write"));
    assert_eq!(answer.client_id.as_deref(), Some("app"));
    assert_eq!(answer.aud, ["api"]);
    assert_eq!(answer.iss, Some(server.issuer()));
    assert_eq!(answer.jti.as_deref(), Some("j1"));
    assert_eq!(answer.raw["token_type"], "Bearer");
    assert_eq!(answer.raw["username"], "alice@example.com");
    assert!(answer.exp.is_some_and(|exp| exp > now()));
    assert_eq!(answer.raw["custom"]["tier"], "gold");
    assert_eq!(answer.raw["active"], true);

    let again = check(&introspector, &t1, MINUTE).await.unwrap();
    assert!(Arc::ptr_eq(&answer, &again));
    assert_eq!(server.introspection_count(), 1);
    assert_eq!(introspector.calls(), 1);
    assert_eq!(introspector.cache_hits(), 1);
    assert!(!introspector.known_inactive(&TokenHash::of(&t1)));

    // Another token is asked about separately.
    let t2 = server.opaque_token().issue();
    check(&introspector, &t2, MINUTE).await.unwrap();
    assert_eq!(server.introspection_count(), 2);
}

#[tokio::test]
async fn max_age_zero_asks_every_time() {
    let server = start().await;
    let introspector = introspector(basic(), &server);
    let t = server.opaque_token().issue();
    check(&introspector, &t, Duration::ZERO).await.unwrap();
    check(&introspector, &t, Duration::ZERO).await.unwrap();
    assert_eq!(server.introspection_count(), 2);
    // The fresh answer was stored: a lenient caller reuses it.
    check(&introspector, &t, MINUTE).await.unwrap();
    assert_eq!(server.introspection_count(), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_checks_share_one_call() {
    let (server, introspector, shared) = delayed(basic(), Duration::from_millis(200)).await;

    let tasks: Vec<_> = (0..100)
        .map(|_| {
            let introspector = introspector.clone();
            let shared = shared.clone();
            tokio::spawn(async move { check(&introspector, &shared, Duration::ZERO).await })
        })
        .collect();
    for task in tasks {
        assert_eq!(task.await.unwrap().unwrap().sub.as_deref(), Some("alice"));
    }
    assert_eq!(server.introspection_count(), 1);
    assert_eq!(introspector.calls(), 1);
    assert_eq!(introspector.coalesced(), 99);
    assert_eq!(introspector.in_flight(), 0);

    // The flight is over: the next strict check asks again.
    check(&introspector, &shared, Duration::ZERO).await.unwrap();
    assert_eq!(server.introspection_count(), 2);
}

/// Budget zero means "ask": a check that starts after another's answer arrived must not
/// join that finished call. The call leaves the in-flight table before its answer is sent,
/// so the caller that got it never finds it there (on any worker thread).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_call_is_gone_before_its_answer_arrives() {
    let server = start().await;
    let introspector = introspector(basic(), &server);
    let t = server.opaque_token().issue();
    for round in 1..=300 {
        check(&introspector, &t, Duration::ZERO).await.unwrap();
        assert_eq!(introspector.in_flight(), 0, "round {round}");
    }
    assert_eq!(server.introspection_count(), 300);
}

#[tokio::test]
async fn concurrent_checks_in_one_task_share_one_call() {
    let (server, introspector, shared) = delayed(basic(), Duration::from_millis(200)).await;
    let checks = (0..20).map(|_| check(&introspector, &shared, Duration::ZERO));
    let results = futures_util::future::join_all(checks).await;
    assert!(results.iter().all(Result::is_ok));
    assert_eq!(server.introspection_count(), 1);
}

#[tokio::test]
async fn a_cancelled_caller_does_not_cancel_the_call() {
    let (server, introspector, t) = delayed(basic(), Duration::from_millis(200)).await;
    // Give up long before the server answers (200 ms).
    let gave_up =
        tokio::time::timeout(Duration::from_millis(20), check(&introspector, &t, MINUTE)).await;
    assert!(gave_up.is_err());
    tokio::time::sleep(Duration::from_millis(1500)).await;
    // The call finished in its own task and its answer was cached.
    assert_eq!(introspector.in_flight(), 0);
    check(&introspector, &t, MINUTE).await.unwrap();
    assert_eq!(server.introspection_count(), 1);
}

#[tokio::test]
async fn inactive_for_an_unknown_opaque_token_is_cached_but_no_revocation() {
    let server = start().await;
    let introspector = introspector(basic(), &server);
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
    assert_eq!(server.introspection_count(), 1);
    assert_eq!(introspector.revoked_tokens(), 0);
}

#[tokio::test]
async fn a_verified_token_called_inactive_is_remembered_revoked() {
    let server = start().await;
    let introspector = introspector(basic(), &server);

    // A verified JWT.
    let jwt = server.token().sign();
    let exp = now() + 3600;
    assert_eq!(
        check_jwt(&introspector, &jwt, Some(exp)).await.err(),
        None,
        "active at first"
    );
    server.revoke(&jwt);
    assert_eq!(
        check_jwt(&introspector, &jwt, Some(exp)).await.err(),
        Some(IntrospectionError::Inactive)
    );
    assert!(introspector.known_inactive(&TokenHash::of(&jwt)));

    // An opaque token that was active before.
    let opaque = server.opaque_token().issue();
    check(&introspector, &opaque, MINUTE).await.unwrap();
    server.revoke(&opaque);
    assert_eq!(
        check(&introspector, &opaque, Duration::ZERO).await.err(),
        Some(IntrospectionError::Inactive)
    );
    assert!(introspector.known_inactive(&TokenHash::of(&opaque)));
    // Its active answer is gone: nobody is handed it again.
    assert!(
        introspector
            .cached(&TokenHash::of(&opaque), MINUTE)
            .is_none()
    );

    // Revocation is final: even a caller that wants a fresh answer gets no new call.
    let calls = server.introspection_count();
    for token in [&jwt, &opaque] {
        assert_eq!(
            check(&introspector, token, Duration::ZERO).await.err(),
            Some(IntrospectionError::Inactive)
        );
    }
    assert_eq!(server.introspection_count(), calls);
    assert_eq!(introspector.revoked_tokens(), 2);
    assert!(!introspector.known_inactive(&TokenHash::of("other")));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revocations_survive_more_junk_than_the_answer_cache_holds() {
    const CAPACITY: u64 = 8;
    let server = start().await;
    let introspector = introspector(basic().cache_capacity(CAPACITY), &server);
    let exp = now() + 3600;
    // The mock never issued any of these: it calls them all inactive.
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
    let server = start().await;
    let introspector = introspector(basic().revocation_capacity(2), &server);
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
    let server = start().await;
    let introspector = introspector(basic().leeway(Duration::ZERO), &server);
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
    // The mock itself calls an expired token inactive; these answers say `active` and mean
    // otherwise.
    let server = start().await;
    answers(
        &server,
        json(format!(r#"{{"active":true,"exp":{}}}"#, now() - 3600)),
    );
    let expired = introspector(basic(), &server);
    assert_eq!(
        check(&expired, "t", MINUTE).await.err(),
        Some(IntrospectionError::Inactive)
    );
    assert!(matches!(
        expired.lookup(&TokenHash::of("t"), MINUTE),
        super::Lookup::Inactive
    ));

    answers(
        &server,
        json(format!(r#"{{"active":true,"nbf":{}}}"#, now() + 3600)),
    );
    let premature = introspector(basic(), &server);
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
    let canned = |status, content_type: &str, body: &str| {
        Fault::Canned(
            Canned::new(status)
                .content_type(content_type)
                .body(body.to_owned()),
        )
    };
    let bare = |status| Fault::Canned(Canned::new(status));
    let oauth = |status, error: &str| Fault::OAuthError {
        status,
        error: error.into(),
    };
    let huge_error = format!(
        r#"{{"error":"invalid_request","padding":"{}"}}"#,
        "x".repeat(100 * 1024)
    );
    let server = start().await;
    for (mode, fault, expected) in [
        // The AS cannot be reached (5xx): the only class fail-open may pass.
        (
            "status-500",
            canned(500, "application/json", &active_body()),
            Unreachable,
        ),
        (
            "status-502",
            canned(502, "text/html", "<html>bad gateway</html>"),
            Unreachable,
        ),
        ("status-503", bare(503), Unreachable),
        // It answers, but not usably: closed.
        (
            "string-active",
            json(r#"{"active":"true","sub":"alice"}"#),
            Broken,
        ),
        ("number-active", json(r#"{"active":1}"#), Broken),
        ("null-active", json(r#"{"active":null}"#), Broken),
        (
            "missing-active",
            json(r#"{"sub":"alice","scope":"read"}"#),
            Broken,
        ),
        ("array", json(r#"[{"active":true}]"#), Broken),
        ("garbage", json("<html>this is not json</html>"), Broken),
        ("status-401", canned(401, "application/json", "{}"), Broken),
        ("status-403", canned(403, "application/json", "{}"), Broken),
        ("status-204", bare(204), Broken),
        (
            "status-302",
            Fault::Redirect("http://127.0.0.1:9/elsewhere".into()),
            Broken,
        ),
        ("status-404", canned(404, "application/json", "{}"), Broken),
        ("status-429", canned(429, "application/json", "{}"), Broken),
        ("huge", json(padded_active("x", 100 * 1024)), Broken),
        ("chunked", chunked_active(), Broken),
        // RFC 6749 §5.2: `invalid_client` is about us, whatever the status.
        ("400-invalid_client", oauth(400, "invalid_client"), Broken),
        ("401-invalid_client", oauth(401, "invalid_client"), Broken),
        // A 400 that names no error about the token.
        ("400-other", oauth(400, "server_error"), Broken),
        (
            "400-no-error",
            canned(400, "application/json", "{}"),
            Broken,
        ),
        (
            "400-garbage",
            canned(400, "text/html", "<html>Bad Request</html>"),
            Broken,
        ),
        (
            "400-huge",
            canned(400, "application/json", &huge_error),
            Broken,
        ),
        // About the token: it cannot be confirmed (RFC 7009 §2.2.1 unsupported_token_type).
        (
            "400-unsupported_token_type",
            oauth(400, "unsupported_token_type"),
            Unconfirmable,
        ),
        (
            "400-invalid_request",
            oauth(400, "invalid_request"),
            Unconfirmable,
        ),
        (
            "400-invalid_token",
            oauth(400, "invalid_token"),
            Unconfirmable,
        ),
    ] {
        answers(&server, fault);
        let introspector = introspector(basic(), &server);
        let before = server.introspection_count();
        for _ in 0..2 {
            let result = check(&introspector, "t", MINUTE).await;
            assert_eq!(class(&result), Some(expected), "{mode}: {result:?}");
        }
        // Asked twice: nothing was remembered, not even as a revocation.
        assert_eq!(server.introspection_count() - before, 2, "{mode}");
        assert!(!introspector.known_inactive(&TokenHash::of("t")), "{mode}");
        // Only failures of the AS count as failures; an answer about the token does not.
        let failures = if expected == Unconfirmable { 0 } else { 2 };
        assert_eq!(introspector.failures(), failures, "{mode}");
    }
}

/// An active answer of about 80 KiB, streamed without `Content-Length`: the bound must hold
/// while streaming.
fn chunked_active() -> Fault {
    let body = padded_active("y", 80 * 1024);
    Fault::Canned(
        Canned::new(200)
            .content_type("application/json")
            .body(body)
            .chunked(40 * 1024),
    )
}

#[tokio::test]
async fn body_bound_applies_to_streamed_answers() {
    let server = start().await;
    answers(&server, chunked_active());
    // The streamed answer is about 80 KiB: over the default 64 KiB, under 100 KiB.
    let roomy = introspector(basic().max_body_bytes(100 * 1024), &server);
    check(&roomy, "t", MINUTE).await.unwrap();
    let tight = introspector(basic(), &server);
    assert!(matches!(
        check(&tight, "t", MINUTE).await.err(),
        Some(IntrospectionError::Broken(_))
    ));
}

#[tokio::test]
async fn timeout_is_unavailable_and_not_cached() {
    let (server, introspector, t) = delayed(
        basic().timeout(Duration::from_millis(200)),
        Duration::from_secs(2),
    )
    .await;
    let started = Instant::now();
    let result = check(&introspector, &t, MINUTE).await;
    assert_eq!(
        result.err(),
        Some(IntrospectionError::Unreachable("introspection timed out"))
    );
    assert!(started.elapsed() < Duration::from_millis(1800));
    let result = check(&introspector, &t, MINUTE).await;
    assert!(matches!(result, Err(IntrospectionError::Unreachable(_))));
    assert_eq!(server.introspection_count(), 2);
    assert_eq!(introspector.failures(), 2);
}

#[tokio::test]
async fn unreachable_endpoint_is_unavailable() {
    // A port that was free a moment ago: connections are refused.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let address = listener.local_addr().unwrap();
    drop(listener);
    let introspector = introspector_at(basic(), format!("http://{address}/introspect"));
    for _ in 0..2 {
        assert!(matches!(
            check(&introspector, "t", MINUTE).await.err(),
            Some(IntrospectionError::Unreachable(_))
        ));
    }
    assert_eq!(introspector.calls(), 2);
}

/// Asks about `token` twice (the second from the cache), waits `wait`, asks again: whether
/// that asked the AS, and how the third check came out.
async fn asks_again_after(
    introspector: &Introspector,
    server: &MockAuthServer,
    token: &str,
    exp: Option<i64>,
    wait: Duration,
) -> (bool, Result<(), IntrospectionError>) {
    let hash = TokenHash::of(token);
    let ask = || introspector.check(token, hash, TokenKind::Jwt, HOUR, exp);
    let before = server.introspection_count();
    ask().await.unwrap();
    ask().await.unwrap();
    assert_eq!(server.introspection_count() - before, 1);
    tokio::time::sleep(wait).await;
    let third = ask().await.map(|_| ());
    (server.introspection_count() - before == 2, third)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn active_entry_is_not_reused_past_exp_or_max_cache_ttl() {
    let wait = Duration::from_millis(3200);
    // The answer's exp is 3 s ahead (whole seconds): the entry lives between 2 and 3 s.
    let answer_exp = start().await;
    let short = answer_exp
        .opaque_token()
        .expires_in(Duration::from_secs(3))
        .issue();
    let by_answer = introspector(basic(), &answer_exp);
    // The answer's exp is an hour ahead, but the JWT's own exp (from the engine) is 3 s ahead.
    let jwt_exp = start().await;
    let long = jwt_exp.opaque_token().issue();
    let by_jwt = introspector(basic(), &jwt_exp);
    // No exp within reach: the configured upper bound applies.
    let bounded = start().await;
    let bounded_token = bounded.opaque_token().issue();
    let by_bound = introspector(
        basic()
            .routine_ttl(Duration::ZERO)
            .max_cache_ttl(Duration::from_secs(2)),
        &bounded,
    );
    let (a, b, c) = tokio::join!(
        asks_again_after(&by_answer, &answer_exp, &short, None, wait),
        asks_again_after(&by_jwt, &jwt_exp, &long, Some(now() + 3), wait),
        asks_again_after(&by_bound, &bounded, &bounded_token, None, wait),
    );
    assert!(a.0 && b.0 && c.0, "{a:?} {b:?} {c:?}");
    // Asked again past its exp, the mock calls the short-lived token inactive.
    assert_eq!(a.1, Err(IntrospectionError::Inactive));
    assert_eq!((b.1, c.1), (Ok(()), Ok(())));
}

#[tokio::test]
async fn accessors_report_the_configuration() {
    let server = start().await;
    let introspector = introspector(basic().routine_ttl(Duration::from_secs(7)), &server);
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
        let server = start().await;
        delays(&server, Duration::from_millis(200));
        let config = match kind {
            TokenKind::Jwt => basic().max_concurrent(2),
            TokenKind::Opaque => basic().max_concurrent_opaque(2),
        };
        let introspector = introspector(config.timeout(Duration::from_secs(20)), &server);
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let introspector = introspector.clone();
                let token = server.opaque_token().issue();
                tokio::spawn(async move {
                    let hash = TokenHash::of(&token);
                    introspector.check(&token, hash, kind, MINUTE, None).await
                })
            })
            .collect();
        for task in tasks {
            task.await.unwrap().unwrap();
        }
        assert_eq!(server.introspection_count(), 8);
        let peak = server.max_in_flight(Endpoint::Introspection);
        assert!(peak <= 2, "{kind:?}: {peak} at once");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn opaque_lookups_never_take_a_sensitive_checks_slot() {
    let server = start().await;
    delays(&server, Duration::from_millis(200));
    // One slot each; the opaque lookups alone need far longer than the timeout.
    let introspector = introspector(
        basic()
            .max_concurrent(1)
            .max_concurrent_opaque(1)
            .timeout(Duration::from_secs(1)),
        &server,
    );
    let junk: Vec<_> = (0..20)
        .map(|_| {
            let introspector = introspector.clone();
            let token = server.opaque_token().issue();
            tokio::spawn(async move { check(&introspector, &token, MINUTE).await })
        })
        .collect();
    // The junk is queued and in flight.
    while introspector.in_flight() < 20 {
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
    // A sensitive check still has its slot.
    let admin = server.token().sign();
    check_jwt(&introspector, &admin, None).await.unwrap();
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
    let server = start().await;
    let introspector = introspector(basic().opaque_lookup_rate(1, 3), &server);
    let new: Vec<String> = (0..10).map(|_| server.opaque_token().issue()).collect();
    let started = Instant::now();
    let mut refused = 0;
    for token in &new {
        match check(&introspector, token, MINUTE).await {
            Ok(_) => {}
            Err(IntrospectionError::Saturated(_)) => refused += 1,
            Err(other) => panic!("{other:?}"),
        }
    }
    // A burst of three, then one per second.
    let calls = server.introspection_count();
    let allowed = 3 + usize::try_from(started.elapsed().as_secs()).unwrap() + 1;
    assert!(calls <= allowed, "{calls} calls");
    assert_eq!(calls + refused, 10);
    assert_eq!(introspector.rate_limited(), u64::try_from(refused).unwrap());

    // Even with the bucket empty: a cached token is answered, a known token refreshed, a
    // sensitive JWT check asked, none of them spending the bucket.
    let mut drained = 0;
    while check(&introspector, &server.opaque_token().issue(), MINUTE)
        .await
        .is_ok()
    {
        drained += 1;
        assert!(drained < 100, "the bucket never ran dry");
    }
    let limited = introspector.rate_limited();
    check(&introspector, &new[0], MINUTE).await.unwrap();
    check(&introspector, &new[0], Duration::ZERO).await.unwrap();
    check_jwt(&introspector, &server.token().sign(), None)
        .await
        .unwrap();
    check_jwt(&introspector, &server.token().sign(), None)
        .await
        .unwrap();
    assert_eq!(introspector.rate_limited(), limited);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pending_calls_are_bounded_per_kind() {
    let server = start().await;
    delays(&server, Duration::from_secs(2));
    let introspector = introspector(
        basic().max_pending(2).timeout(Duration::from_secs(10)),
        &server,
    );
    let spawn = |token: &str, kind: TokenKind| {
        let introspector = introspector.clone();
        let token = token.to_owned();
        tokio::spawn(async move {
            introspector
                .check(&token, TokenHash::of(&token), kind, MINUTE, None)
                .await
        })
    };
    let (a, b) = (server.opaque_token().issue(), server.opaque_token().issue());
    let first = [spawn(&a, TokenKind::Opaque), spawn(&b, TokenKind::Opaque)];
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
    let joined = spawn(&a, TokenKind::Opaque);
    let jwt = spawn(&server.token().sign(), TokenKind::Jwt);
    for task in first.into_iter().chain([joined, jwt]) {
        task.await.unwrap().unwrap();
    }
    assert_eq!(server.introspection_count(), 3);
    assert_eq!(introspector.coalesced(), 1);
}

#[tokio::test]
async fn the_answer_cache_is_bounded_in_bytes() {
    const BYTES: u64 = 64 * 1024;
    let server = start().await;
    let introspector = introspector(basic().cache_max_bytes(BYTES), &server);
    let padding = "p".repeat(8 * 1024);
    for _ in 0..100 {
        let token = server
            .opaque_token()
            .claim("padding", padding.as_str())
            .issue();
        check(&introspector, &token, MINUTE).await.unwrap();
    }
    introspector.sync_cache();
    let (entries, bytes) = introspector.cached_answers();
    // Each answer holds over 8 KiB: a few of them fill 64 KiB.
    assert!(bytes <= BYTES, "{bytes} bytes");
    assert!((1..=8).contains(&entries), "{entries} entries");
}

#[tokio::test]
async fn configured_endpoint_wins_over_the_source() {
    let server = start().await;
    let config = basic().endpoint(server.introspection_endpoint());
    config.validate(&rules()).unwrap();
    assert_eq!(
        config.configured_endpoint(),
        Some(server.introspection_endpoint().as_str())
    );
    let memory = own_memory(&config);
    let introspector = Introspector::new(
        config,
        http_client(),
        EndpointSource::Fixed("http://127.0.0.1:9/nowhere".into()),
        memory,
    );
    check(&introspector, &server.opaque_token().issue(), MINUTE)
        .await
        .unwrap();
    assert_eq!(server.introspection_count(), 1);
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
