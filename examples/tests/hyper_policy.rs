//! The policy table in front of the hyper example's own handler
//! (`tollgate_examples::hyper_policy`), which dispatches on prefixes of the path exactly as sent.
//! Every spelling of a path must be judged at least as strictly as that handler dispatches it.
//!
//! The requests go over a raw TCP connection, byte for byte: an HTTP client library would
//! resolve the dot segments (WHATWG URL) before they reach the server.

use std::time::Duration;

use tollgate::{Introspection, Tollgate};
use tollgate_examples::hyper_policy;
use tollgate_mock::MockAuthServer;
use tollgate_mock::testing::raw_request;

/// Method, target as sent, token, status, `error`, and the start of the handler's answer.
type Case<'a> = (
    &'a str,
    &'a str,
    Option<&'a str>,
    u16,
    Option<&'a str>,
    &'a str,
);

#[tokio::test]
async fn the_table_judges_every_spelling_at_least_as_strictly_as_the_prefix_dispatcher() {
    let mock = MockAuthServer::start().await;
    let gate = Tollgate::builder()
        .issuer(mock.issuer())
        .audience(mock.audience())
        .introspection(Introspection::client_secret_basic(
            mock.client_id(),
            mock.client_secret(),
        ))
        .build()
        .expect("valid configuration");
    let policy = hyper_policy::policy().expect("valid table");
    let url = format!(
        "http://{}",
        hyper_policy::serve(&gate, policy).await.expect("bind")
    );
    assert!(
        gate.wait_for_keys(Duration::from_secs(10)).await,
        "keys did not load"
    );

    let reader = mock.token().subject("alice").scope("read").sign();
    let admin = mock.token().subject("root").scope("read admin").sign();
    let bad = Some("invalid_request");
    let cases: Vec<Case<'_>> = vec![
        // Controls: what the table is for.
        ("GET", "/health", None, 200, None, "ok"),
        (
            "GET",
            "/photos/7",
            Some(&reader),
            200,
            None,
            "photo for alice",
        ),
        ("GET", "/photos/7", None, 401, None, ""),
        (
            "DELETE",
            "/admin/users/7",
            Some(&reader),
            403,
            Some("insufficient_scope"),
            "",
        ),
        (
            "DELETE",
            "/admin/users/7",
            Some(&admin),
            200,
            None,
            "admin action by root",
        ),
        // The issue: the table read `/health`, the handler `/admin/...`.
        ("GET", "/admin/%2e%2e/health", None, 400, bad, ""),
        ("GET", "/admin/%2E%2E/health", None, 400, bad, ""),
        ("GET", "/admin/.%2e/health", None, 400, bad, ""),
        ("GET", "/admin/%2e./health", None, 400, bad, ""),
        ("GET", "/admin/../health", None, 400, bad, ""),
        ("GET", "/admin/./../health", None, 400, bad, ""),
        ("GET", "/admin/x/%2e%2e/%2e%2e/health", None, 400, bad, ""),
        // ... and a read-only token reached an admin action under the routine default.
        (
            "DELETE",
            "/admin/users/7/%2e%2e/%2e%2e/%2e%2e/x",
            Some(&reader),
            400,
            bad,
            "",
        ),
        (
            "DELETE",
            "/admin/users/7/../../../x",
            Some(&reader),
            400,
            bad,
            "",
        ),
        (
            "GET",
            "/photos/%2e%2e/admin/users",
            Some(&reader),
            400,
            bad,
            "",
        ),
        // Encoded slashes, backslashes, NUL.
        ("GET", "/admin%2f..%2fhealth", None, 400, bad, ""),
        ("GET", "/admin/x%2F..%2F..%2Fhealth", None, 400, bad, ""),
        ("GET", "/admin/\\..\\..\\health", None, 400, bad, ""),
        ("GET", "/admin/%5c..%5c..%5chealth", None, 400, bad, ""),
        ("GET", "/admin/%5C..%5C..%5Chealth", None, 400, bad, ""),
        ("GET", "/health%00", None, 400, bad, ""),
        ("GET", "/admin/%00/x", Some(&reader), 400, bad, ""),
        // Double encoding, overlong UTF-8, path parameters, empty segments.
        ("GET", "/admin/%252e%252e/health", None, 400, bad, ""),
        ("GET", "/admin/%c0%ae%c0%ae/health", None, 400, bad, ""),
        ("GET", "/admin;/../health", None, 400, bad, ""),
        ("GET", "//admin/users", Some(&reader), 400, bad, ""),
        // Spellings the handler reads differently from the table get the stricter reading:
        // the handler serves `/admin/` and `/admin/%75sers` as admin actions, and answers 404
        // for `/%61dmin/users/7`, which the table still keeps to the admin scope.
        ("GET", "/admin/", None, 401, None, ""),
        (
            "GET",
            "/admin/%75sers",
            Some(&reader),
            403,
            Some("insufficient_scope"),
            "",
        ),
        (
            "DELETE",
            "/%61dmin/users/7",
            Some(&reader),
            403,
            Some("insufficient_scope"),
            "",
        ),
        ("GET", "/health/", None, 401, None, ""),
        ("GET", "/%68ealth", None, 401, None, ""),
        ("GET", "/%68ealth", Some(&reader), 404, None, "not found"),
    ];
    let mut failures = Vec::new();
    for (method, target, token, status, error, body) in &cases {
        let answer = raw_request(&url, method, target, *token).await;
        let name = format!(
            "{method} {target} ({})",
            token.map_or("no token", |_| "token")
        );
        let got = (answer.status, answer.error());
        let want = (*status, error.map(str::to_owned));
        if got != want || !answer.body.starts_with(body) {
            failures.push(format!(
                "{name}: expected {want:?} {body:?}, got {got:?} {:?}",
                answer.body
            ));
        } else if *status == 400 && answer.body.contains(target) {
            failures.push(format!("{name}: the answer echoes the path"));
        }
    }
    assert!(
        failures.is_empty(),
        "{} of {} cases failed:\n{}",
        failures.len(),
        cases.len(),
        failures.join("\n")
    );
}
