//! `protected-api` logs one line per request (method, path, status, decision) and never a
//! token, not even in the request headers it logs at DEBUG. Its own test binary: the
//! captured subscriber is process-wide.

mod common;

use std::io::Write;
use std::sync::{Arc, Mutex, PoisonError};

use common::{config, start};
use tracing_subscriber::EnvFilter;

/// Everything the subscriber writes, kept for inspection.
#[derive(Clone, Default)]
struct Captured(Arc<Mutex<Vec<u8>>>);

impl Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap_or_else(PoisonError::into_inner)).into_owned()
    }
}

#[tokio::test]
async fn one_line_per_request_with_the_decision_and_never_a_token() {
    let captured = Captured::default();
    let writer = captured.clone();
    // tollgate's own per-request decisions (DEBUG, TRACE) are captured too, and must not leak
    // a token either; so are the request headers (DEBUG), where the Authorization header must
    // show redacted. (The test's HTTP client logs its URLs; it is not the server.)
    tracing_subscriber::fmt()
        .with_env_filter(EnvFilter::new("protected_api=debug,tollgate=trace"))
        .with_ansi(false)
        .with_writer(move || writer.clone())
        .init();

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
