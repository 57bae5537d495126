//! Resilience: the authorization server goes down and comes back, rotates its keys under load,
//! answers slowly; a flood of distinct tokens arrives. Routine routes keep serving with cached
//! keys, sensitive routes fail closed and recover without a restart, nothing is cached that
//! should not be, the AS is asked no more than the configured rates, and memory stays bounded.
//!
//! The app behind tollgate is called in process; the authorization server is tollgate-mock
//! (or a server of the test's own) over real loopback HTTP, where the trouble happens.
//!
//! No timing assertions: waits are generous polls, and every loop is bounded.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

use axum::Router;
use axum::routing::{get, post};
use common::{InProcess, builder, eventually, hybrid_builder, ready, serve};
use serde_json::json;
use tollgate::{Introspection, Requirement, Tollgate};
use tollgate_mock::Algorithm;
use tollgate_mock::{Endpoint, Fault, MockAuthServer};

fn app(gate: &Tollgate) -> Router {
    Router::new()
        .route("/whoami", get(|| async { "ok" }))
        .route(
            "/admin",
            get(|| async { "admin" }).route_layer(gate.sensitive()),
        )
        .route(
            "/relaxed",
            get(|principal: tollgate::Principal| async move {
                format!("introspected={}", principal.introspected())
            })
            .route_layer(
                gate.require(
                    Requirement::sensitive(Duration::ZERO).fail_open_when_unreachable(true),
                ),
            ),
        )
        .layer(gate.layer())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_outage_under_load_keeps_routine_routes_serving_and_sensitive_ones_closed_until_it_ends()
{
    let mock = MockAuthServer::start().await;
    let gate = ready(hybrid_builder(&mock)).await;
    let app = InProcess::new(app(&gate));
    let known = mock.token().sign();
    assert_eq!(app.get("/whoami", &known).await.status, 200);
    // Tokens minted before the outage but never seen by tollgate: only the cached keys can
    // vouch for them.
    let unseen: Vec<String> = (0..20)
        .map(|i| mock.token().subject(format!("user-{i}")).sign())
        .collect();
    let opaque = mock.opaque_token().issue();
    mock.go_down().await;

    let mut tasks = Vec::new();
    for (i, token) in unseen.iter().enumerate() {
        let (app, token) = (app.clone(), token.clone());
        tasks.push(tokio::spawn(async move {
            let routine = app.get("/whoami", &token).await;
            let path = if i % 2 == 0 { "/admin" } else { "/whoami" };
            let second = app.get(path, &token).await;
            (routine, path, second)
        }));
    }
    for task in tasks {
        let (routine, path, second) = task.await.unwrap();
        assert_eq!(
            routine.status, 200,
            "routine route during the outage: {routine:?}"
        );
        if path == "/admin" {
            assert_eq!(
                second.status, 503,
                "sensitive route during the outage: {second:?}"
            );
            assert!(second.retry_after.is_some() && second.challenge.is_none());
        } else {
            assert_eq!(second.status, 200);
        }
    }
    // Opaque tokens need the AS on every route.
    let answer = app.get("/whoami", &opaque).await;
    assert_eq!(answer.status, 503, "{answer:?}");

    // The failures were not remembered: once the AS is back, the same tokens pass, each with
    // a fresh call.
    mock.come_back().await;
    let back = eventually(Duration::from_secs(30), || async {
        app.get("/admin", &unseen[0]).await.status == 200
    })
    .await;
    assert!(
        back,
        "the sensitive route did not recover without a restart"
    );
    for token in unseen.iter().step_by(2).skip(1) {
        let before = mock.introspection_count_for(token);
        assert_eq!(app.get("/admin", token).await.status, 200);
        assert_eq!(mock.introspection_count_for(token), before + 1);
    }
    assert_eq!(app.get("/whoami", &opaque).await.status, 200);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_rotate_under_load_without_a_refusal() {
    let mock = MockAuthServer::start().await;
    let first = mock.signing_kid();
    let gate = ready(
        builder(&mock)
            // The shortest cooldown allowed: every rotation below is one unknown-kid refetch.
            .unknown_kid_cooldown(Duration::from_secs(1))
            .jwks_refresh_interval(Duration::from_millis(500))
            .jwks_refresh_bounds(Duration::from_millis(200), Duration::from_secs(1)),
    )
    .await;
    let app = InProcess::new(app(&gate));
    let old = mock.token().sign();
    assert_eq!(app.get("/whoami", &old).await.status, 200);

    let stop = Arc::new(AtomicBool::new(false));
    let sent = Arc::new(AtomicUsize::new(0));
    let mut workers = Vec::new();
    for _ in 0..6 {
        let (app, mock, stop, sent) = (app.clone(), mock.clone(), stop.clone(), sent.clone());
        workers.push(tokio::spawn(async move {
            let mut refused = Vec::new();
            // Bounded: at most 5000 requests per worker, whatever happens to `stop`; a pause of
            // a millisecond each keeps the load going for the whole rotation (at least 5 s on
            // any machine), in process as it would over a socket.
            for _ in 0..5000 {
                if stop.load(Ordering::Relaxed) {
                    break;
                }
                tokio::time::sleep(Duration::from_millis(1)).await;
                // A fresh token of whichever key signs right now.
                let token = mock.token().sign();
                let answer = app.get("/whoami", &token).await;
                sent.fetch_add(1, Ordering::Relaxed);
                if answer.status != 200 {
                    refused.push(format!("{answer:?}"));
                }
            }
            refused
        }));
    }
    let mut rotated = Vec::new();
    for alg in [
        Algorithm::ES256,
        Algorithm::EdDSA,
        Algorithm::RS256,
        Algorithm::ES384,
    ] {
        // Let the load run on the current key for a while (polled, not timed), then past the
        // unknown-kid cooldown that its first tokens started: one refetch per cooldown is the
        // design, so rotating faster than that would be refused by design.
        let mark = sent.load(Ordering::Relaxed) + 30;
        assert!(
            eventually(Duration::from_secs(60), || async {
                sent.load(Ordering::Relaxed) >= mark
            })
            .await,
            "the load stopped before the rotation to {alg:?}"
        );
        tokio::time::sleep(Duration::from_millis(1200)).await;
        let kid = mock.add_key(alg);
        mock.set_signing_key(&kid);
        rotated.push(kid);
    }
    let mark = sent.load(Ordering::Relaxed) + 30;
    assert!(
        eventually(Duration::from_secs(60), || async {
            sent.load(Ordering::Relaxed) >= mark
        })
        .await,
        "the load stopped before the last key had served"
    );
    stop.store(true, Ordering::Relaxed);
    for worker in workers {
        let refused = worker.await.unwrap();
        assert!(refused.is_empty(), "refused during rotation: {refused:?}");
    }

    // Retiring keys: tokens they signed, the one already verified and cached included, are
    // refused once tollgate has refreshed (docs/ARCHITECTURE.md, "Local validation": removing a key invalidates what it
    // verified); tokens of the current key keep passing.
    mock.retire_key(&first);
    let gone = eventually(Duration::from_secs(30), || async {
        app.get("/whoami", &old).await.status == 401
    })
    .await;
    assert!(gone, "a token of a retired key is still accepted");
    let current = mock.token().sign();
    assert_eq!(app.get("/whoami", &current).await.status, 200);
    let previous = mock.token().kid(&rotated[2]).sign();
    assert_eq!(
        app.get("/whoami", &previous).await.status,
        200,
        "still published"
    );
}

#[tokio::test]
async fn a_slow_as_gets_503_on_sensitive_routes_only_with_shared_calls() {
    let mock = MockAuthServer::start().await;
    let gate = ready(
        hybrid_builder(&mock)
            .jwks_refresh_interval(Duration::from_millis(500))
            .jwks_refresh_bounds(Duration::from_millis(200), Duration::from_secs(1)),
    )
    .await;
    let app = InProcess::new(app(&gate));
    let token = mock.token().sign();
    // Slower than the 1 s introspection timeout and the 2 s fetch timeout.
    mock.set_fault(
        Endpoint::Introspection,
        Fault::Latency(Duration::from_secs(3)),
    );
    mock.set_fault(Endpoint::Jwks, Fault::Latency(Duration::from_secs(4)));

    let mut tasks = Vec::new();
    for _ in 0..30 {
        let (app, token) = (app.clone(), token.clone());
        tasks.push(tokio::spawn(async move { app.get("/admin", &token).await }));
    }
    for task in tasks {
        let answer = task.await.unwrap();
        assert_eq!(answer.status, 503, "{answer:?}");
        assert!(answer.retry_after.is_some());
    }
    // Thirty concurrent asks for one token share calls (single flight): one, as long as they
    // overlap; a slow machine may spread them over a few timeouts, never thirty calls.
    assert!(
        mock.introspection_count_for(&token) <= 10,
        "{} calls",
        mock.introspection_count_for(&token)
    );
    // Routine routes serve with the keys they have, while refreshes time out.
    let fresh = mock.token().subject("bob").sign();
    assert_eq!(app.get("/whoami", &fresh).await.status, 200);

    mock.clear_faults();
    let back = eventually(Duration::from_secs(30), || async {
        app.get("/admin", &token).await.status == 200
    })
    .await;
    assert!(back);
}

#[tokio::test]
async fn failures_are_never_cached_and_revocations_always_are() {
    let mock = MockAuthServer::start().await;
    let gate = ready(hybrid_builder(&mock)).await;
    let app = InProcess::new(app(&gate));
    let token = mock.token().sign();
    let opaque = mock.opaque_token().issue();
    for fault in [
        Fault::Status(500),
        Fault::Status(429),
        Fault::Status(401),
        Fault::MalformedBody,
    ] {
        mock.set_fault(Endpoint::Introspection, fault.clone());
        for t in [&token, &opaque] {
            let before = mock.introspection_count_for(t);
            let path = if t == &token { "/admin" } else { "/whoami" };
            // Every request asks again: a failure is no answer to remember.
            for _ in 0..3 {
                assert_eq!(app.get(path, t).await.status, 503, "{fault:?}");
            }
            assert_eq!(
                mock.introspection_count_for(t),
                before + 3,
                "{fault:?} was cached"
            );
        }
    }
    mock.clear_faults();
    assert_eq!(app.get("/admin", &token).await.status, 200);
    assert_eq!(app.get("/whoami", &opaque).await.status, 200);

    // Revocation: remembered, on every route, without asking again, even when the AS is gone.
    mock.revoke(&token);
    mock.revoke(&opaque);
    assert_eq!(app.get("/admin", &token).await.status, 401);
    let calls = mock.introspection_count();
    assert_eq!(
        app.get("/whoami", &opaque).await.status,
        200,
        "routine TTL still holds"
    );
    mock.go_down().await;
    assert_eq!(app.get("/whoami", &token).await.status, 401);
    assert_eq!(
        app.get("/admin", &token).await.status,
        401,
        "not 503: the answer is known"
    );
    assert_eq!(mock.introspection_count(), calls);
}

#[tokio::test]
async fn introspection_calls_are_bounded_in_concurrency() {
    // An introspection endpoint of our own that counts how many calls it serves at once.
    let mock = MockAuthServer::start().await;
    let in_flight = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let (i, p) = (in_flight.clone(), peak.clone());
    let endpoint = post(move || {
        let (in_flight, peak) = (i.clone(), p.clone());
        async move {
            let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
            peak.fetch_max(now, Ordering::SeqCst);
            tokio::time::sleep(Duration::from_millis(200)).await;
            in_flight.fetch_sub(1, Ordering::SeqCst);
            axum::Json(json!({"active": true}))
        }
    });
    let as_url = serve(Router::new().route("/introspect", endpoint)).await;
    let introspection = Introspection::client_secret_basic(mock.client_id(), mock.client_secret())
        .endpoint(format!("{as_url}/introspect"))
        .max_concurrent(4)
        .timeout(Duration::from_secs(30));
    let gate = ready(builder(&mock).introspection(introspection)).await;
    let app = InProcess::new(app(&gate));
    let tokens: Vec<String> = (0..40)
        .map(|i| mock.token().subject(format!("u{i}")).sign())
        .collect();
    let mut tasks = Vec::new();
    for token in tokens {
        let app = app.clone();
        tasks.push(tokio::spawn(async move {
            app.get("/admin", &token).await.status
        }));
    }
    for task in tasks {
        assert_eq!(task.await.unwrap(), 200);
    }
    let peak = peak.load(Ordering::SeqCst);
    assert!(
        (1..=4).contains(&peak),
        "{peak} introspection calls at once; the bound is 4"
    );
}

/// The resident set size of this process, in bytes (Linux).
#[cfg(target_os = "linux")]
fn rss() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").expect("/proc/self/status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .expect("value")
        .parse()
        .expect("number");
    kib * 1024
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_flood_of_distinct_tokens_leaves_memory_bounded_and_the_as_untouched() {
    const TOKENS: usize = 50_000;
    const CAPACITY: u64 = 1_000;
    let mock = MockAuthServer::start().await;
    let es = mock.add_key(Algorithm::ES256);
    let gate = ready(builder(&mock).verified_cache_capacity(CAPACITY)).await;
    let fetches = mock.jwks_fetches();
    let mut payload = mock.token().claims();
    // 3 KiB of claims per token: an unbounded cache would hold well over 150 MB at the end.
    payload["filler"] = json!("f".repeat(3 * 1024));
    let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": es});

    // Signed and validated in chunks, two at a time on the two workers.
    let validate_chunk = |from: usize, to: usize| {
        let (mock, gate, header, mut payload, kid) = (
            mock.clone(),
            gate.clone(),
            header.clone(),
            payload.clone(),
            es.clone(),
        );
        async move {
            for i in from..to {
                payload["jti"] = json!(format!("flood-{i}"));
                let token = mock.sign_raw(&header, &payload, &kid);
                assert!(gate.validate(&token).await.is_ok(), "token {i} refused");
            }
        }
    };
    #[cfg(target_os = "linux")]
    let mut before = 0;
    let chunks = 10;
    for chunk in 0..chunks {
        let (from, to) = (chunk * TOKENS / chunks, (chunk + 1) * TOKENS / chunks);
        // Two chunks at a time, on the two workers.
        let half = from + (to - from) / 2;
        let (a, b) = tokio::join!(
            tokio::spawn(validate_chunk(from, half)),
            tokio::spawn(validate_chunk(half, to))
        );
        a.unwrap();
        b.unwrap();
        // The first chunk fills the cache and warms the allocator; growth is measured after it.
        #[cfg(target_os = "linux")]
        if chunk == 0 {
            before = rss();
        }
    }
    // The cache's own count: bounded by its capacity (moka's count is approximate, and
    // evictions run in batches, hence the slack).
    let entries = gate.diagnostics().verified_cache_entries;
    assert!(
        entries <= 2 * CAPACITY + 1_000,
        "{entries} entries in a cache of {CAPACITY}"
    );
    #[cfg(target_os = "linux")]
    {
        let grown = rss().saturating_sub(before);
        assert!(
            grown < 96 << 20,
            "RSS grew by {} MiB over {} distinct tokens",
            grown >> 20,
            TOKENS * 9 / 10
        );
    }
    // A flood of distinct tokens of a known key costs the AS nothing.
    assert_eq!(mock.jwks_fetches(), fetches);
    assert_eq!(mock.introspection_count(), 0);

    // And a flood of unknown kids: at most one JWKS fetch per cooldown (60 s here).
    let mut tasks = Vec::new();
    for i in 0..2_000 {
        let header = json!({"alg": "ES256", "typ": "at+jwt", "kid": format!("random-{i}")});
        let token = mock.sign_raw(&header, &payload, &es);
        let gate = gate.clone();
        tasks.push(tokio::spawn(
            async move { gate.validate(&token).await.is_err() },
        ));
    }
    for task in tasks {
        assert!(task.await.unwrap(), "an unknown kid passed");
    }
    assert!(
        mock.jwks_fetches() <= fetches + 1,
        "{} fetches",
        mock.jwks_fetches() - fetches
    );
}

#[tokio::test]
async fn fail_open_opens_only_when_the_as_cannot_be_reached() {
    let mock = MockAuthServer::start().await;
    let evil = MockAuthServer::start().await;
    let gate = ready(hybrid_builder(&mock)).await;
    let app = InProcess::new(app(&gate));
    let token = mock.token().sign();
    let relaxed = "/relaxed";
    assert_eq!(
        app.get(relaxed, &token).await.body,
        "introspected=true",
        "control"
    );

    // The AS answers, but unusably: our credentials (401/403, invalid_client), a malformed
    // answer, a redirect. Fail-open must not open: a broken configuration would otherwise
    // turn live checks off for good, silently.
    let closed = [
        Fault::Status(401),
        Fault::Status(403),
        Fault::OAuthError {
            status: 401,
            error: "invalid_client".into(),
        },
        Fault::OAuthError {
            status: 400,
            error: "invalid_client".into(),
        },
        Fault::MalformedBody,
        Fault::Body {
            content_type: "application/json".into(),
            body: bytes::Bytes::from_static(br#"{"active":"true"}"#),
        },
        Fault::Redirect(evil.introspection_endpoint()),
        Fault::Status(404),
    ];
    for fault in closed {
        mock.set_fault(Endpoint::Introspection, fault.clone());
        let answer = app.get(relaxed, &token).await;
        assert_eq!(answer.status, 503, "{fault:?} opened fail-open: {answer:?}");
        assert!(answer.retry_after.is_some() && answer.challenge.is_none());
    }
    assert_eq!(evil.introspection_count(), 0);

    // The AS cannot be reached: 5xx, too slow, refusing connections. Fail-open opens, on
    // local validation alone.
    let reached = [
        Fault::Status(500),
        Fault::Status(502),
        Fault::Status(503),
        Fault::Latency(Duration::from_secs(3)),
    ];
    for fault in reached {
        mock.set_fault(Endpoint::Introspection, fault.clone());
        let answer = app.get(relaxed, &token).await;
        assert_eq!(
            (answer.status, answer.body.as_str()),
            (200, "introspected=false"),
            "{fault:?}"
        );
        // A route without the switch stays closed.
        assert_eq!(app.get("/admin", &token).await.status, 503);
    }
    mock.clear_faults();
    mock.go_down().await;
    assert_eq!(
        app.get(relaxed, &token).await.body,
        "introspected=false",
        "connection refused"
    );
    mock.come_back().await;
    let back = eventually(Duration::from_secs(30), || async {
        app.get(relaxed, &token).await.body == "introspected=true"
    })
    .await;
    assert!(back);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn junk_opaque_tokens_in_flight_against_a_slow_as_do_not_starve_sensitive_routes() {
    const JUNK: usize = 400;
    let mock = MockAuthServer::start().await;
    let gate = ready(
        builder(&mock).introspection(
            Introspection::client_secret_basic(mock.client_id(), mock.client_secret())
                .timeout(Duration::from_secs(3)),
        ),
    )
    .await;
    let app = InProcess::new(app(&gate));
    let tokens: Vec<String> = (0..10)
        .map(|i| mock.token().subject(format!("admin-{i}")).sign())
        .collect();
    // Every answer takes a while, the sensitive ones too: well within the timeout for one
    // call, far beyond it for hundreds of calls queued behind one another.
    mock.set_fault(
        Endpoint::Introspection,
        Fault::Latency(Duration::from_millis(600)),
    );

    // Hundreds of distinct junk strings at once, each one a new question for the AS.
    let mut junk = Vec::new();
    for i in 0..JUNK {
        let gate = gate.clone();
        junk.push(tokio::spawn(async move {
            let token = format!("junk-{i:05}-{}", "x".repeat(32));
            gate.validate(&token).await
        }));
    }
    // Wait until the junk is in flight at the AS.
    let started = eventually(Duration::from_secs(30), || async {
        mock.introspection_count() >= 16
    })
    .await;
    assert!(started, "the junk never reached the AS");

    let mut sensitive = Vec::new();
    for token in tokens {
        let app = app.clone();
        sensitive.push(tokio::spawn(async move { app.get("/admin", &token).await }));
    }
    for task in sensitive {
        let answer = task.await.unwrap();
        assert_eq!(
            answer.status, 200,
            "a sensitive request was starved: {answer:?}"
        );
    }
    for task in junk {
        let result = task.await.unwrap();
        assert!(result.is_err(), "a junk token passed");
    }
    // tollgate's own limits turned the excess away (503) rather than queueing it.
    let status = gate.diagnostics();
    assert!(
        status.introspection_rate_limited + status.introspection_saturated > 0,
        "{status:?}"
    );
}
