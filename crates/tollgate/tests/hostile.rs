//! Hostile and broken authorization servers: JWKS and introspection endpoints that answer with
//! huge or endless bodies, deeply nested JSON, the wrong content type, bad keys among good ones,
//! a slow drip, redirects to another host, or an `active` that is not the boolean `true`.
//!
//! tollgate must keep its last good state, answer as README, "Behaviour" says (503 with `Retry-After`
//! where it cannot decide, never a pass), read no more than its bounds, and log a warning that
//! names the trouble without ever containing a token.
//!
//! The authorization servers answer over real loopback HTTP (the mock with its faults, and a
//! server of our own for endless bodies and 307 redirects); the app behind tollgate is called
//! in process. Every test here asserts log lines, which need tollgate's `tracing` feature:
//! without it they are ignored, and say why, rather than pass without their log checks.

mod common;

use std::future::Future as _;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use bytes::Bytes;
use common::{Answer, InProcess, builder, eventually, hybrid_builder, ready, serve};
use serde_json::{Value, json};
use tollgate::{Introspection, Tollgate, TollgateBuilder};
use tollgate_mock::Algorithm;
use tollgate_mock::testing::{LogCapture, b64};
use tollgate_mock::{Endpoint, Fault, MockAuthServer};

/// Captures what tollgate logs at DEBUG and above on this test's thread, for this test only.
fn capture_logs() -> LogCapture {
    LogCapture::start("tollgate=debug")
}

/// Waits until some WARN line contains `needle`.
async fn warned(logs: &LogCapture, needle: &str) {
    logged(logs, "WARN", needle).await;
}

/// Waits until some ERROR line contains `needle`: trouble that lasts until someone fixes the
/// configuration or the AS (RFC 7662 §2.1 credentials, unusable answers).
async fn errored(logs: &LogCapture, needle: &str) {
    logged(logs, "ERROR", needle).await;
}

async fn logged(logs: &LogCapture, level: &str, needle: &str) {
    let found = eventually(Duration::from_secs(20), async || {
        logs.count(level, needle) > 0
    })
    .await;
    assert!(
        found,
        "no {level} line containing {needle:?}; got:\n{}",
        logs.text()
    );
}

/// No line logged contains one of these tokens.
fn logs_never_contain(logs: &LogCapture, tokens: &[&str]) {
    for line in logs.lines() {
        for token in tokens {
            assert!(!line.contains(token), "a log line contains a token: {line}");
            // Not even its signature, the part that makes it a credential.
            if let Some((_, signature)) = token.rsplit_once('.') {
                assert!(
                    signature.len() < 16 || !line.contains(signature),
                    "a log line contains a signature: {line}"
                );
            }
        }
    }
}

/// A builder whose key set refreshes about every second.
fn refreshing(mock: &MockAuthServer) -> TollgateBuilder {
    builder(mock)
        .jwks_refresh_interval(Duration::from_millis(500))
        .jwks_refresh_bounds(Duration::from_millis(200), Duration::from_secs(1))
}

/// The same, with introspection (a 2 s timeout).
fn refreshing_hybrid(mock: &MockAuthServer) -> TollgateBuilder {
    refreshing(mock).introspection(
        Introspection::client_secret_basic(mock.client_id(), mock.client_secret())
            .timeout(Duration::from_secs(2)),
    )
}

/// Waits for `n` more JWKS requests to reach the mock (each a refresh attempt).
async fn refreshes(mock: &MockAuthServer, n: usize) {
    let target = mock.jwks_fetches() + n;
    let reached = eventually(Duration::from_secs(30), || async {
        mock.jwks_fetches() >= target
    })
    .await;
    assert!(reached, "the key set did not try to refresh");
}

fn app(gate: &Tollgate) -> Router {
    Router::new()
        .route("/whoami", get(|| async { "ok" }))
        .route(
            "/admin",
            get(|| async { "admin" }).route_layer(gate.sensitive()),
        )
        .layer(gate.layer())
}

fn json_body(body: impl Into<Bytes>) -> Fault {
    Fault::Body {
        content_type: "application/json".into(),
        body: body.into(),
    }
}

fn assert_unavailable(answer: &Answer, what: &str) {
    assert_eq!(answer.status, 503, "{what}: {answer:?}");
    assert!(
        answer.challenge.is_none(),
        "{what}: a 503 carries no challenge"
    );
    let retry: u64 = answer
        .retry_after
        .as_deref()
        .expect("Retry-After")
        .parse()
        .expect("seconds");
    assert!(retry >= 1, "{what}");
}

// ---- a hostile server of our own: endless bodies, 307 redirects -------------------------

/// One response body the hostile server sent: how much of it went out, and whether the peer
/// hung up (the body was dropped).
#[derive(Clone, Default)]
struct Sent {
    bytes: Arc<AtomicU64>,
    dropped: Arc<AtomicBool>,
}

/// An endless body: `prefix`, then spaces forever, as fast as the peer reads (or one byte per
/// `every`, when set).
struct Endless {
    prefix: Option<Bytes>,
    every: Option<Duration>,
    sleep: Option<Pin<Box<tokio::time::Sleep>>>,
    sent: Sent,
}

impl futures_util::Stream for Endless {
    type Item = Result<Bytes, std::io::Error>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        if let Some(prefix) = self.prefix.take() {
            self.sent
                .bytes
                .fetch_add(prefix.len() as u64, Ordering::Relaxed);
            return Poll::Ready(Some(Ok(prefix)));
        }
        let chunk = match self.every {
            Some(every) => {
                let sleep = self
                    .sleep
                    .get_or_insert_with(|| Box::pin(tokio::time::sleep(every)));
                if sleep.as_mut().poll(cx).is_pending() {
                    return Poll::Pending;
                }
                self.sleep = None;
                Bytes::from_static(b" ")
            }
            None => Bytes::from(vec![b' '; 64 * 1024]),
        };
        self.sent
            .bytes
            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
        Poll::Ready(Some(Ok(chunk)))
    }
}

impl Drop for Endless {
    fn drop(&mut self) {
        self.sent.dropped.store(true, Ordering::Relaxed);
    }
}

#[derive(Clone, Default)]
struct Hostile {
    bodies: Arc<Mutex<Vec<Sent>>>,
    /// Where `/redirect` sends its 307.
    redirect_to: Arc<Mutex<String>>,
}

impl Hostile {
    fn endless(&self, prefix: &'static [u8], every: Option<Duration>) -> Response {
        let sent = Sent::default();
        self.bodies.lock().unwrap().push(sent.clone());
        let body = Endless {
            prefix: Some(Bytes::from_static(prefix)),
            every,
            sleep: None,
            sent,
        };
        (
            [(header::CONTENT_TYPE, "application/json")],
            Body::from_stream(body),
        )
            .into_response()
    }

    fn sent(&self) -> Vec<Sent> {
        self.bodies.lock().unwrap().clone()
    }

    /// Every body sent was dropped (the peer hung up) and none went past `limit` bytes.
    async fn all_cut_off_below(&self, limit: u64) {
        let cut = eventually(Duration::from_secs(30), || async {
            let sent = self.sent();
            !sent.is_empty() && sent.iter().all(|s| s.dropped.load(Ordering::Relaxed))
        })
        .await;
        assert!(cut, "an endless body is still being read");
        for s in self.sent() {
            let bytes = s.bytes.load(Ordering::Relaxed);
            assert!(
                bytes < limit,
                "{bytes} bytes were read from one endless body"
            );
        }
    }
}

async fn hostile_server() -> (Hostile, String) {
    let hostile = Hostile::default();
    let h = hostile.clone();
    let jwks = get(move || {
        let h = h.clone();
        async move { h.endless(br#"{"keys":["#, None) }
    });
    let h = hostile.clone();
    let introspect = post(move || {
        let h = h.clone();
        async move { h.endless(br#"{"active":true,"x":""#, None) }
    });
    let h = hostile.clone();
    let drip = post(move || {
        let h = h.clone();
        async move { h.endless(br#"{"active":"#, Some(Duration::from_millis(100))) }
    });
    let h = hostile.clone();
    let redirect = post(move || {
        let h = h.clone();
        async move {
            let to = h.redirect_to.lock().unwrap().clone();
            (
                StatusCode::TEMPORARY_REDIRECT,
                [(header::LOCATION, HeaderValue::from_str(&to).unwrap())],
            )
                .into_response()
        }
    });
    let router = Router::new()
        .route("/endless-jwks", jwks)
        .route("/endless-introspect", introspect)
        .route("/drip-introspect", drip)
        .route("/redirect", redirect);
    let url = serve(router).await;
    (hostile, url)
}

// ---- huge and endless bodies ------------------------------------------------------------

#[tokio::test]
#[cfg_attr(not(feature = "tracing"), ignore = "log checks need tracing")]
async fn an_endless_jwks_is_read_only_up_to_the_bound() {
    let logs = capture_logs();
    let mock = MockAuthServer::start().await;
    let (hostile, url) = hostile_server().await;
    let gate = builder(&mock)
        .jwks_uri(format!("{url}/endless-jwks"))
        .build()
        .unwrap();
    let app = InProcess::new(app(&gate));
    // Let the loader try at least twice.
    let tried = eventually(Duration::from_secs(20), || async {
        hostile.sent().len() >= 2
    })
    .await;
    assert!(tried);
    let token = mock.token().sign();
    assert_unavailable(&app.get("/whoami", &token).await, "no keys");
    // 256 KiB is the bound; socket buffers on loopback add a few MiB at most. An unbounded read
    // would have taken gigabytes by now.
    hostile.all_cut_off_below(32 << 20).await;
    warned(&logs, "body larger than").await;
    logs_never_contain(&logs, &[&token]);
}

#[tokio::test]
#[cfg_attr(not(feature = "tracing"), ignore = "log checks need tracing")]
async fn an_endless_introspection_answer_is_read_only_up_to_the_bound() {
    let logs = capture_logs();
    let mock = MockAuthServer::start().await;
    let (hostile, url) = hostile_server().await;
    let introspection = Introspection::client_secret_basic(mock.client_id(), mock.client_secret())
        .endpoint(format!("{url}/endless-introspect"))
        .timeout(Duration::from_secs(5));
    let gate = ready(builder(&mock).introspection(introspection)).await;
    let app = InProcess::new(app(&gate));
    let token = mock.token().sign();
    assert_unavailable(&app.get("/admin", &token).await, "endless answer");
    assert_eq!(
        app.get("/whoami", &token).await.status,
        200,
        "routine routes keep serving"
    );
    hostile.all_cut_off_below(32 << 20).await;
    errored(&logs, "introspection answer larger than max_body_bytes").await;
    logs_never_contain(&logs, &[&token]);
}

#[tokio::test]
#[cfg_attr(not(feature = "tracing"), ignore = "log checks need tracing")]
async fn a_body_dripping_forever_is_cut_by_the_timeout() {
    let logs = capture_logs();
    let mock = MockAuthServer::start().await;
    let (hostile, url) = hostile_server().await;
    let introspection = Introspection::client_secret_basic(mock.client_id(), mock.client_secret())
        .endpoint(format!("{url}/drip-introspect"))
        .timeout(Duration::from_secs(1));
    let gate = ready(builder(&mock).introspection(introspection)).await;
    let app = InProcess::new(app(&gate));
    let token = mock.token().sign();
    // A generous bound: the point is that the request ends at all.
    let answer = tokio::time::timeout(Duration::from_secs(30), app.get("/admin", &token))
        .await
        .expect("the request hung on a dripping answer");
    assert_unavailable(&answer, "dripping answer");
    hostile.all_cut_off_below(1 << 20).await;
    warned(&logs, "introspection timed out").await;
    logs_never_contain(&logs, &[&token]);
}

#[tokio::test]
#[cfg_attr(not(feature = "tracing"), ignore = "log checks need tracing")]
async fn huge_bodies_keep_the_last_good_state_and_are_not_cached() {
    let logs = capture_logs();
    let mock = MockAuthServer::start().await;
    let gate = ready(refreshing_hybrid(&mock)).await;
    let app = InProcess::new(app(&gate));
    let token = mock.token().sign();

    // A JWKS of 1 MiB (with its Content-Length) during refreshes: the last good keys stay.
    let mut huge = br#"{"keys":[],"padding":""#.to_vec();
    huge.resize(1 << 20, b'x');
    huge.extend_from_slice(b"\"}");
    mock.set_fault(Endpoint::Jwks, json_body(huge.clone()));
    refreshes(&mock, 2).await;
    assert_eq!(app.get("/whoami", &token).await.status, 200);
    let fresh = mock.token().subject("bob").sign();
    assert_eq!(
        app.get("/whoami", &fresh).await.status,
        200,
        "new tokens of known keys pass"
    );
    warned(&logs, "keeping the last good keys").await;
    mock.clear_faults();

    // An introspection answer of 1 MiB: 503, and not cached.
    mock.set_fault(Endpoint::Introspection, json_body(huge));
    assert_unavailable(&app.get("/admin", &token).await, "huge answer");
    mock.clear_faults();
    let before = mock.introspection_count_for(&token);
    assert_eq!(app.get("/admin", &token).await.status, 200);
    assert_eq!(
        mock.introspection_count_for(&token),
        before + 1,
        "the failure was cached"
    );
    logs_never_contain(&logs, &[&token, &fresh]);
}

// ---- deeply nested JSON, wrong content types ---------------------------------------------

#[tokio::test]
#[cfg_attr(not(feature = "tracing"), ignore = "log checks need tracing")]
async fn deeply_nested_json_is_refused_without_harm() {
    let logs = capture_logs();
    let mock = MockAuthServer::start().await;
    let gate = ready(refreshing_hybrid(&mock)).await;
    let app = InProcess::new(app(&gate));
    let token = mock.token().sign();

    // 100 000 levels would overflow the stack of a naive recursive parser.
    let depth = 100_000;
    let nested = |open: &str, inner: &str, close: &str| -> Bytes {
        let mut s = String::with_capacity(depth * 2 + 64);
        s.push_str(open);
        s.push_str(&"[".repeat(depth));
        s.push_str(inner);
        s.push_str(&"]".repeat(depth));
        s.push_str(close);
        Bytes::from(s)
    };
    mock.set_fault(Endpoint::Jwks, json_body(nested(r#"{"keys":"#, "", "}")));
    refreshes(&mock, 2).await;
    assert_eq!(
        app.get("/whoami", &token).await.status,
        200,
        "last good keys"
    );
    warned(&logs, "JWKS is not").await;
    mock.clear_faults();

    // Within the 64 KiB bound, 30 000 levels.
    for (name, body) in [
        (
            "nested active answer",
            format!(
                r#"{{"active":true,"x":{}{}}}"#,
                "[".repeat(30_000),
                "]".repeat(30_000)
            ),
        ),
        (
            "nested inactive answer",
            format!(
                r#"{{"active":false,"x":{}{}}}"#,
                "[".repeat(30_000),
                "]".repeat(30_000)
            ),
        ),
        (
            "nested objects",
            format!(
                r#"{{"active":true,"x":{}1{}}}"#,
                r#"{"a":"#.repeat(10_000),
                "}".repeat(10_000)
            ),
        ),
    ] {
        mock.set_fault(Endpoint::Introspection, json_body(body));
        assert_unavailable(&app.get("/admin", &token).await, name);
    }
    mock.clear_faults();
    assert_eq!(app.get("/admin", &token).await.status, 200);
    logs_never_contain(&logs, &[&token]);
}

#[tokio::test]
#[cfg_attr(not(feature = "tracing"), ignore = "log checks need tracing")]
async fn wrong_content_types() {
    let logs = capture_logs();
    let mock = MockAuthServer::start().await;
    let gate = ready(refreshing_hybrid(&mock)).await;
    let app = InProcess::new(app(&gate));
    let token = mock.token().sign();
    let html = |body: &str| Fault::Body {
        content_type: "text/html; charset=utf-8".into(),
        body: Bytes::from(body.to_owned()),
    };
    let portal = "<html><body>Please log in to the Wi-Fi</body></html>";

    // A captive portal's page where the JWKS should be: the last good keys stay.
    mock.set_fault(Endpoint::Jwks, html(portal));
    refreshes(&mock, 2).await;
    assert_eq!(app.get("/whoami", &token).await.status, 200);

    // A real JWKS under a sloppy content type is still a JWKS (the JSON parser decides, as
    // documented): a key published there is picked up.
    let kid = mock.add_key(Algorithm::ES256);
    mock.set_fault(
        Endpoint::Jwks,
        Fault::Body {
            content_type: "text/plain".into(),
            body: Bytes::from(mock.jwks().to_string()),
        },
    );
    let new_key = mock.token().kid(&kid).sign();
    let picked_up = eventually(Duration::from_secs(20), || async {
        app.get("/whoami", &new_key).await.status == 200
    })
    .await;
    assert!(picked_up, "a JWKS served as text/plain was not used");

    // The portal page as an introspection answer: 503, never a pass, not cached.
    mock.set_fault(Endpoint::Introspection, html(portal));
    assert_unavailable(&app.get("/admin", &token).await, "HTML answer");
    mock.set_fault(Endpoint::Introspection, html(r#"{"active":"true"}"#));
    assert_unavailable(&app.get("/admin", &token).await, "HTML-typed string active");
    mock.clear_faults();
    assert_eq!(app.get("/admin", &token).await.status, 200);
    errored(&logs, "unusable introspection answer").await;
    logs_never_contain(&logs, &[&token, &new_key]);
}

// ---- bad keys among good ones --------------------------------------------------------------

#[tokio::test]
#[cfg_attr(not(feature = "tracing"), ignore = "log checks need tracing")]
async fn invalid_keys_among_good_ones_are_skipped_with_a_warning() {
    let logs = capture_logs();
    let mock = MockAuthServer::start().await;
    let rsa = mock.signing_kid();
    let es = mock.add_key(Algorithm::ES256);
    let jwks = mock.jwks();
    let good: Vec<Value> = jwks["keys"].as_array().unwrap().clone();
    let rsa_jwk = good
        .iter()
        .find(|k| k["kid"] == rsa.as_str())
        .unwrap()
        .clone();
    let es_jwk = good
        .iter()
        .find(|k| k["kid"] == es.as_str())
        .unwrap()
        .clone();
    let with = |base: &Value, changes: Value| {
        let mut key = base.clone();
        for (k, v) in changes.as_object().unwrap() {
            key[k] = v.clone();
        }
        key
    };
    let pem = mock.public_key_pem(&rsa);
    let mut keys = vec![
        json!(42),
        json!("a string"),
        json!(null),
        json!([]),
        json!({}),
        json!({"kty": "RSA", "kid": "bad-n", "n": "!!not base64!!", "e": "AQAB"}),
        json!({"kty": "RSA", "kid": "short-rsa", "n": "AQAB", "e": "AQAB"}),
        with(&rsa_jwk, json!({"kid": "even-e", "e": "AAE"})),
        with(&rsa_jwk, json!({"kid": "leaky", "d": "c2VjcmV0"})),
        with(&rsa_jwk, json!({"kid": "alg-none", "alg": "none"})),
        with(&rsa_jwk, json!({"kid": "alg-es256", "alg": "ES256"})),
        with(&rsa_jwk, json!({"kid": "n-number", "n": 12345})),
        with(&es_jwk, json!({"kid": "enc-key", "use": "enc"})),
        with(&es_jwk, json!({"kid": "wrap-only", "key_ops": ["wrapKey"]})),
        with(&es_jwk, json!({"kid": "short-x", "x": "AAAA"})),
        with(
            &es_jwk,
            json!({"kid": "off-curve", "x": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE", "y": "AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"}),
        ),
        with(&es_jwk, json!({"kid": "p384-claims", "crv": "P-384"})),
        json!({"kty": "oct", "kid": "oct", "k": b64(pem.as_bytes()), "alg": "HS256"}),
        json!({"kty": "OKP", "crv": "Ed25519", "kid": "short-ed", "x": "AAAA"}),
        json!({"kty": "RSA", "kid": "k".repeat(1000), "n": rsa_jwk["n"], "e": "AQAB"}),
    ];
    keys.extend(good);
    let body = json!({ "keys": keys }).to_string();
    mock.set_fault(Endpoint::Jwks, json_body(body));

    let gate = ready(builder(&mock)).await;
    let app = InProcess::new(app(&gate));
    // The good keys work, whatever sits before them.
    let rsa_token = mock.token().sign();
    let es_token = mock.token().kid(&es).sign();
    assert_eq!(app.get("/whoami", &rsa_token).await.status, 200);
    assert_eq!(app.get("/whoami", &es_token).await.status, 200);
    // The bad ones verify nothing, even with a signature their public part would accept.
    let payload = mock.token().claims();
    for (kid, signer, alg) in [
        ("leaky", &rsa, "RS256"),
        ("alg-none", &rsa, "RS256"),
        ("even-e", &rsa, "RS256"),
        ("enc-key", &es, "ES256"),
        ("wrap-only", &es, "ES256"),
        ("p384-claims", &es, "ES256"),
    ] {
        let token = mock.sign_raw(
            &json!({"alg": alg, "typ": "at+jwt", "kid": kid}),
            &payload,
            signer,
        );
        let answer = app.get("/whoami", &token).await;
        assert_eq!(
            (answer.status, answer.error().as_deref()),
            (401, Some("invalid_token")),
            "{kid}"
        );
    }
    let hs = mock.sign_raw_bytes(
        json!({"alg": "HS256", "typ": "at+jwt", "kid": "oct"})
            .to_string()
            .as_bytes(),
        payload.to_string().as_bytes(),
        &rsa,
        Algorithm::HS256,
    );
    assert_eq!(
        app.get("/whoami", &hs).await.status,
        401,
        "an oct key from a JWKS"
    );
    warned(&logs, "\"leaky\" contains private key material").await;
    warned(
        &logs,
        "symmetric (kty \"oct\") keys are never taken from a JWKS",
    )
    .await;
    logs_never_contain(&logs, &[&rsa_token, &es_token, &hs]);
}

#[tokio::test]
#[cfg_attr(not(feature = "tracing"), ignore = "log checks need tracing")]
async fn a_served_key_set_without_usable_keys_is_authoritative() {
    let logs = capture_logs();
    let mock = MockAuthServer::start().await;
    let gate = ready(refreshing(&mock)).await;
    let app = InProcess::new(app(&gate));
    let token = mock.token().sign();
    // Verified once: the verified-token cache holds it.
    assert_eq!(app.get("/whoami", &token).await.status, 200);

    // A failing JWKS endpoint says nothing about the keys: the last good ones stay.
    for fault in [Fault::Status(500), Fault::MalformedBody] {
        mock.set_fault(Endpoint::Jwks, fault);
        refreshes(&mock, 2).await;
        assert_eq!(app.get("/whoami", &token).await.status, 200);
        assert!(gate.diagnostics().keys_loaded);
    }

    // A 200 with a JWK set whose keys are all unusable here (encryption keys, a symmetric
    // key) is the authorization server's word: the old keys are gone, and so is every token
    // they signed, the cached one included.
    let mut keys: Vec<Value> = mock.jwks()["keys"].as_array().unwrap().clone();
    for key in &mut keys {
        key["use"] = json!("enc");
    }
    keys.push(
        json!({"kty": "oct", "kid": "shared", "k": b64(b"0123456789abcdef0123456789abcdef")}),
    );
    mock.set_fault(
        Endpoint::Jwks,
        json_body(json!({ "keys": keys }).to_string()),
    );
    let replaced = eventually(Duration::from_secs(20), || async {
        gate.diagnostics().key_count == 0
    })
    .await;
    assert!(replaced, "the key set was not replaced");
    let answer = app.get("/whoami", &token).await;
    assert_eq!(
        (answer.status, answer.error().as_deref()),
        (401, Some("invalid_token")),
        "{answer:?}"
    );
    assert_eq!(
        answer.param("error_description").as_deref(),
        Some("the token was signed with an unknown key")
    );
    let status = gate.diagnostics();
    assert!(!status.keys_loaded, "a readiness probe sees no usable key");
    let error = status.last_key_error.expect("the cause is reported");
    assert!(error.contains("no usable signature key"), "{error}");
    errored(&logs, "no usable signature key").await;

    // Usable keys again: tokens pass again.
    mock.clear_faults();
    let back = eventually(Duration::from_secs(20), || async {
        gate.diagnostics().keys_loaded
    })
    .await;
    assert!(back, "the keys did not come back");
    assert_eq!(app.get("/whoami", &token).await.status, 200);
    logs_never_contain(&logs, &[&token]);
}

// ---- configuration trouble: said once, not per request ------------------------------------

#[tokio::test]
#[cfg_attr(not(feature = "tracing"), ignore = "log checks need tracing")]
async fn a_sensitive_route_without_introspection_warns_once_not_per_request() {
    let logs = capture_logs();
    let mock = MockAuthServer::start().await;
    let gate = ready(builder(&mock)).await;
    let app = InProcess::new(app(&gate));
    let needle = "a sensitive route needs introspection, but none is configured";
    for _ in 0..5 {
        let token = mock.token().sign();
        assert_unavailable(&app.get("/admin", &token).await, "no introspection");
    }
    warned(&logs, needle).await;
    assert_eq!(
        logs.count("WARN", needle),
        1,
        "one warning per misconfiguration, not one per request"
    );
}

// ---- slow drip ------------------------------------------------------------------------------

#[tokio::test]
#[cfg_attr(not(feature = "tracing"), ignore = "log checks need tracing")]
async fn slow_drip_answers_time_out_and_recover() {
    let logs = capture_logs();
    let mock = MockAuthServer::start().await;
    let drip = Fault::SlowDrip {
        chunk: 8,
        every: Duration::from_millis(400),
    };
    // Before the first key set: 503 with Retry-After, then ready once the drip stops.
    mock.set_fault(Endpoint::Jwks, drip.clone());
    let gate = hybrid_builder(&mock).build().unwrap();
    let app = InProcess::new(app(&gate));
    let token = mock.token().sign();
    assert!(
        !gate.wait_for_keys(Duration::from_secs(3)).await,
        "a dripping JWKS cannot be ready in 3 s"
    );
    assert_unavailable(&app.get("/whoami", &token).await, "dripping JWKS");
    warned(&logs, "key set not loaded yet").await;
    mock.clear_faults();
    assert!(
        gate.wait_for_keys(Duration::from_secs(60)).await,
        "never recovered from the drip"
    );
    assert_eq!(app.get("/whoami", &token).await.status, 200);

    // Introspection dripping past its 1 s timeout: 503, routine routes unaffected, then back.
    mock.set_fault(Endpoint::Introspection, drip);
    assert_unavailable(&app.get("/admin", &token).await, "dripping answer");
    assert_eq!(app.get("/whoami", &token).await.status, 200);
    mock.clear_faults();
    assert_eq!(app.get("/admin", &token).await.status, 200);
    logs_never_contain(&logs, &[&token]);
}

// ---- redirects ------------------------------------------------------------------------------

#[tokio::test]
#[cfg_attr(not(feature = "tracing"), ignore = "log checks need tracing")]
async fn redirects_to_another_host_are_not_followed() {
    let logs = capture_logs();
    let mock = MockAuthServer::start().await;
    let evil = MockAuthServer::start().await;
    let evil_kid = evil.add_key(Algorithm::ES256);

    // The JWKS redirects to the attacker's: with tollgate's default client nothing is followed,
    // so no keys (503), and the attacker's server sees no request.
    mock.set_fault(Endpoint::Jwks, Fault::Redirect(evil.jwks_uri()));
    let gate = hybrid_builder(&mock).build().unwrap();
    let app = InProcess::new(app(&gate));
    assert!(!gate.wait_for_keys(Duration::from_secs(2)).await);
    let forged = evil
        .token()
        .kid(&evil_kid)
        .issuer(mock.issuer())
        .audience(mock.audience())
        .sign();
    assert_unavailable(&app.get("/whoami", &forged).await, "redirected JWKS");
    warned(&logs, "redirects are not followed").await;
    mock.clear_faults();
    assert!(gate.wait_for_keys(Duration::from_secs(30)).await);
    assert_eq!(app.get("/whoami", &forged).await.status, 401);

    // The introspection endpoint redirects to the attacker's, which would call anything active.
    let token = mock.token().sign();
    mock.revoke(&token);
    mock.set_fault(
        Endpoint::Introspection,
        Fault::Redirect(evil.introspection_endpoint()),
    );
    assert_unavailable(&app.get("/admin", &token).await, "redirected introspection");
    assert_eq!(evil.requests_to("/jwks"), 0);
    assert_eq!(evil.introspection_count(), 0);
    assert_eq!(evil.discovery_fetches(), 0);
    mock.clear_faults();
    assert_eq!(app.get("/admin", &token).await.status, 401, "revoked");
    logs_never_contain(&logs, &[&token, &forged]);
}

/// A client that follows redirects (reqwest's default), as a user may supply one.
fn following_client() -> reqwest::Client {
    reqwest::Client::builder().no_proxy().build().unwrap()
}

#[tokio::test]
#[cfg_attr(not(feature = "tracing"), ignore = "log checks need tracing")]
async fn a_client_that_follows_redirects_gets_no_keys_from_another_host() {
    let logs = capture_logs();
    let mock = MockAuthServer::start().await;
    let evil = MockAuthServer::start().await;
    let evil_kid = evil.add_key(Algorithm::ES256);
    mock.set_fault(Endpoint::Jwks, Fault::Redirect(evil.jwks_uri()));
    let gate = builder(&mock)
        .http_client(following_client())
        .build()
        .unwrap();
    let app = InProcess::new(app(&gate));
    assert!(
        !gate.wait_for_keys(Duration::from_secs(2)).await,
        "keys from another host were used"
    );
    let forged = evil
        .token()
        .kid(&evil_kid)
        .issuer(mock.issuer())
        .audience(mock.audience())
        .sign();
    assert_unavailable(
        &app.get("/whoami", &forged).await,
        "keys from another origin",
    );
    warned(&logs, "redirected to another origin").await;
    logs_never_contain(&logs, &[&forged]);
}

#[tokio::test]
#[cfg_attr(not(feature = "tracing"), ignore = "log checks need tracing")]
async fn a_client_that_follows_redirects_trusts_no_answer_from_another_host() {
    let logs = capture_logs();
    let mock = MockAuthServer::start().await;
    let evil = MockAuthServer::start().await;
    let (hostile, hostile_url) = hostile_server().await;
    // The attacker's endpoint calls every token active.
    evil.set_fault(Endpoint::Introspection, json_body(r#"{"active":true}"#));
    *hostile.redirect_to.lock().unwrap() = evil.introspection_endpoint();
    let introspection = Introspection::client_secret_post(mock.client_id(), mock.client_secret())
        .endpoint(format!("{hostile_url}/redirect"))
        .timeout(Duration::from_secs(2));
    let gate = ready(
        builder(&mock)
            .http_client(following_client())
            .introspection(introspection),
    )
    .await;
    let app = InProcess::new(app(&gate));
    let token = mock.token().sign();
    mock.revoke(&token);
    let answer = app.get("/admin", &token).await;
    assert_unavailable(&answer, "an answer from another origin");
    errored(&logs, "another origin").await;
    logs_never_contain(&logs, &[&token]);
}

// ---- `active` that is not the boolean true --------------------------------------------------

#[tokio::test]
#[cfg_attr(not(feature = "tracing"), ignore = "log checks need tracing")]
async fn an_active_that_is_not_the_boolean_true_is_never_a_pass_nor_cached() {
    let logs = capture_logs();
    let mock = MockAuthServer::start().await;
    let gate = ready(hybrid_builder(&mock)).await;
    let app = InProcess::new(app(&gate));
    let bodies = [
        r#"{"active":"true"}"#,
        r#"{"active":"false"}"#,
        r#"{"active":1}"#,
        r#"{"active":0}"#,
        r#"{"active":null}"#,
        r#"{"active":[true]}"#,
        r#"{"active":{"value":true}}"#,
        r#"{"active":"yes"}"#,
        r#"{"Active":true}"#,
        r#"{}"#,
        r#"[{"active":true}]"#,
        r#"{"active":false,"active":true}"#,
        r#"{"active":true} {"active":true}"#,
        r#"{"active":true,"exp":"soon"}"#,
        r#"{"active":true,"scope":["read"]}"#,
        "",
    ];
    let mut tokens = Vec::new();
    for body in bodies {
        let token = mock.token().sign();
        mock.set_fault(Endpoint::Introspection, json_body(body));
        assert_unavailable(&app.get("/admin", &token).await, body);
        assert_eq!(
            app.get("/whoami", &token).await.status,
            200,
            "{body}: routine"
        );
        mock.clear_faults();
        let before = mock.introspection_count_for(&token);
        assert_eq!(app.get("/admin", &token).await.status, 200, "{body}: after");
        assert_eq!(
            mock.introspection_count_for(&token),
            before + 1,
            "{body} was cached"
        );
        tokens.push(token);
    }
    // `false` is an answer, and a final one.
    let token = mock.token().sign();
    mock.set_fault(Endpoint::Introspection, json_body(r#"{"active":false}"#));
    assert_eq!(app.get("/admin", &token).await.status, 401);
    mock.clear_faults();
    assert_eq!(
        app.get("/whoami", &token).await.status,
        401,
        "revocation is remembered"
    );
    errored(&logs, "`active` is not a JSON boolean").await;
    tokens.push(token);
    let refs: Vec<&str> = tokens.iter().map(String::as_str).collect();
    logs_never_contain(&logs, &refs);
}

// ---- our credentials refused: one ERROR per misconfiguration, never a secret ---------------

#[tokio::test]
#[cfg_attr(not(feature = "tracing"), ignore = "log checks need tracing")]
async fn rejected_credentials_log_one_error_per_outage_without_token_or_secret() {
    let logs = capture_logs();
    let mock = MockAuthServer::start().await;
    let gate = ready(hybrid_builder(&mock)).await;
    let app = InProcess::new(app(&gate));
    let token = mock.token().sign();
    let needle = "(HTTP 403)";
    mock.set_fault(Endpoint::Introspection, Fault::Status(403));
    for _ in 0..5 {
        assert_unavailable(&app.get("/admin", &token).await, "HTTP 403");
    }
    errored(&logs, needle).await;
    errored(&logs, "check the client id, secret or credential").await;
    assert_eq!(
        logs.count("ERROR", needle),
        1,
        "one ERROR per misconfiguration, not per request"
    );
    // Fixed, then broken again: a new misconfiguration, a new ERROR.
    mock.clear_faults();
    assert_eq!(app.get("/admin", &token).await.status, 200);
    mock.set_fault(Endpoint::Introspection, Fault::Status(403));
    assert_unavailable(&app.get("/admin", &token).await, "HTTP 403 again");
    assert_eq!(logs.count("ERROR", needle), 2, "{}", logs.text());
    let secret = mock.client_secret();
    let basic = {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.encode(format!("{}:{secret}", mock.client_id()))
    };
    logs_never_contain(&logs, &[&token, &secret, &basic]);
}
