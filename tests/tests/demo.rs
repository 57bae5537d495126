//! The demo's story runs end to end and every step behaves (what `cargo run -p
//! tollgate-examples --bin demo` shows a new user).

#[tokio::test]
async fn the_demo_story_behaves_as_told() {
    let mut out = Vec::new();
    let report = tollgate_examples::demo::run(&mut out)
        .await
        .expect("the demo runs");
    let text = String::from_utf8(out).expect("UTF-8 output");
    assert!(
        report.succeeded(),
        "failures: {:#?}\n\n{text}",
        report.failures()
    );
    assert!(report.checks() >= 20, "{text}");

    // The story's turning points are in the output, with the reasons a client sees.
    for expected in [
        "GET /photos -> 401 Unauthorized",
        "POST /payments -> 401 Unauthorized",
        "invalid_token: the token is not active",
        "invalid_token: the token has expired",
        "invalid_token: the token is not meant for this resource",
        "insufficient_scope",
        "GET /account/security -> 401 Unauthorized",
        r#"insufficient_user_authentication: a stronger or more recent user authentication is required (acr_values="urn:tollgate:mfa") (max_age="300")"#,
        "GET /account/security -> 200 OK",
        "POST /payments -> 503 Service Unavailable",
        "Retry-After",
        "The authorization server saw",
        "checks behaved as expected",
    ] {
        assert!(text.contains(expected), "missing {expected:?} in\n{text}");
    }
    assert!(!text.contains("FAIL"), "{text}");

    // Two sensitive requests, the one that meets the revocation, two for the opaque token and
    // at least one after the outage.
    assert!(
        report.introspection_calls() >= 6,
        "{}",
        report.introspection_calls()
    );
    // The initial key set, and one refetch for the rotated key.
    assert_eq!(report.jwks_fetches(), 2, "{text}");
    let closing = format!(
        "saw {} introspection calls and {} JWKS fetches",
        report.introspection_calls(),
        report.jwks_fetches()
    );
    assert!(text.contains(&closing), "{text}");
}
