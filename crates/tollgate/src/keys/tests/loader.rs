//! The key set against a live server: discovery, background loading, refresh, single flight,
//! cooldown, stale keys and the end of the task.
//!
//! Longer than 400 lines for a reason: every case drives the same live server through the
//! loader's timeline, and shares its fixtures.

use std::sync::Arc;
use std::time::Duration;

use crate::alg::Algorithm;
use serde_json::{Value, json};

use super::server::{Route, TestServer};
use super::{client, config, es256_jwk, eventually, jwks, rsa_jwk, rsa_key};
use crate::keys::{KeyLookupError, KeySet, KeySetConfig, KeySource};

fn metadata(issuer: &str, jwks_uri: &str) -> Value {
    json!({
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "introspection_endpoint": format!("{issuer}/introspect"),
        "token_endpoint": format!("{issuer}/token"),
    })
}

fn jwks_route(keys: &[Value]) -> Route {
    Route::json(&jwks(keys))
}

/// A key set on `server`'s `/jwks`, configured directly.
fn direct(server: &TestServer, adjust: impl FnOnce(&mut KeySetConfig)) -> KeySet {
    let mut config = config(KeySource::JwksUri(server.url("/jwks")));
    adjust(&mut config);
    KeySet::new(config, client())
}

fn has_kid(set: &KeySet, kid: &str) -> bool {
    set.snapshot().is_some_and(|snapshot| {
        snapshot
            .keys()
            .iter()
            .any(|key| key.kid.as_deref() == Some(kid))
    })
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_tries_rfc8414_first_with_the_issuer_path() {
    let server = TestServer::start().await;
    let issuer = server.url("/realms/x");
    let rfc8414 = "/.well-known/oauth-authorization-server/realms/x";
    let openid = "/realms/x/.well-known/openid-configuration";
    server.set(
        rfc8414,
        Route::json(&metadata(&issuer, &server.url("/jwks"))),
    );
    server.set(
        openid,
        Route::json(&metadata(&issuer, &server.url("/other-jwks"))),
    );
    server.set("/jwks", jwks_route(&[es256_jwk("k1")]));

    let set = KeySet::new(
        config(KeySource::Discovery {
            issuer: issuer.clone(),
        }),
        client(),
    );
    assert!(set.wait_ready(Duration::from_secs(15)).await);
    assert!(
        set.snapshot()
            .unwrap()
            .find(Some("k1"), Algorithm::ES256)
            .is_ok()
    );
    assert_eq!((server.hits(rfc8414), server.hits(openid)), (1, 0));
    assert_eq!(server.hits("/other-jwks"), 0);
    let metadata = set.metadata().unwrap();
    assert_eq!(
        metadata.introspection_endpoint,
        Some(format!("{issuer}/introspect"))
    );
    let status = set.status();
    assert!(status.loaded && status.last_success.is_some() && status.last_error.is_none());
    assert_eq!((status.key_count, status.fetch_count), (1, 1));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn discovery_falls_back_to_openid() {
    let server = TestServer::start().await;
    // A trailing slash is part of the issuer and must come back exactly.
    let issuer = server.url("/realms/y/");
    server.set(
        "/realms/y/.well-known/openid-configuration",
        Route::json(&metadata(&issuer, &server.url("/jwks"))),
    );
    server.set("/jwks", jwks_route(&[es256_jwk("k1")]));

    let set = KeySet::new(
        config(KeySource::Discovery {
            issuer: issuer.clone(),
        }),
        client(),
    );
    assert!(set.wait_ready(Duration::from_secs(15)).await);
    assert_eq!(
        server.hits("/.well-known/oauth-authorization-server/realms/y"),
        1
    );
    assert!(set.metadata().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_for_another_issuer_is_discarded() {
    let server = TestServer::start().await;
    let issuer = server.url("");
    server.set(
        "/.well-known/oauth-authorization-server",
        Route::json(&metadata("https://evil.example", &server.url("/evil-jwks"))),
    );
    server.set("/evil-jwks", jwks_route(&[es256_jwk("evil")]));
    server.set("/jwks", jwks_route(&[es256_jwk("good")]));

    // Both documents lie: nothing loads, and the error says why.
    server.set(
        "/.well-known/openid-configuration",
        Route::json(&metadata(&format!("{issuer}/"), &server.url("/evil-jwks"))),
    );
    let set = KeySet::new(
        config(KeySource::Discovery {
            issuer: issuer.clone(),
        }),
        client(),
    );
    eventually("a failed discovery", || set.status().last_error.is_some()).await;
    let error = set.status().last_error.unwrap();
    assert!(error.contains("RFC 8414 §3.3"), "{error}");
    assert!(set.snapshot().is_none() && set.metadata().is_none());

    // Now the OpenID document is right: it is used, the RFC 8414 one still discarded.
    server.set(
        "/.well-known/openid-configuration",
        Route::json(&metadata(&issuer, &server.url("/jwks"))),
    );
    assert!(set.wait_ready(Duration::from_secs(15)).await);
    assert!(has_kid(&set, "good"));
    assert_eq!(server.hits("/evil-jwks"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_load_in_the_background_once_the_server_is_up() {
    // A port with nothing listening yet.
    let addr = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap();
    let set = KeySet::new(
        config(KeySource::JwksUri(format!("http://{addr}/jwks"))),
        client(),
    );
    assert!(set.snapshot().is_none());
    assert!(!set.wait_ready(Duration::from_millis(300)).await);
    eventually("a failed attempt", || set.status().last_error.is_some()).await;
    let retry = set.retry_after();
    assert!(retry >= Duration::from_secs(1) && retry <= Duration::from_secs(60));
    assert!(!set.status().loaded);

    let server = TestServer::start_at(addr).await;
    server.set("/jwks", jwks_route(&[es256_jwk("k1")]));
    assert!(set.wait_ready(Duration::from_secs(15)).await);
    assert!(has_kid(&set, "k1"));
    let status = set.status();
    assert!(status.last_error.is_none() && status.consecutive_failures == 0);
    assert!(status.fetch_count >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_unknown_kids_share_one_fetch_and_the_cooldown_holds() {
    let server = TestServer::start().await;
    server.set("/jwks", jwks_route(&[es256_jwk("old")]));
    let set = direct(&server, |_| {});
    assert!(set.wait_ready(Duration::from_secs(15)).await);
    assert_eq!(server.hits("/jwks"), 1);

    // The key rotates; the answer is slow enough for all callers to pile up.
    server.set(
        "/jwks",
        jwks_route(&[es256_jwk("old"), es256_jwk("new")]).delay(Duration::from_millis(300)),
    );
    let callers: Vec<_> = (0..50)
        .map(|_| {
            let set = set.clone();
            tokio::spawn(async move { set.refetch_unknown_kid().await })
        })
        .collect();
    for caller in callers {
        let snapshot = caller.await.unwrap().unwrap();
        assert!(snapshot.find(Some("new"), Algorithm::ES256).is_ok());
    }
    assert_eq!(server.hits("/jwks"), 2);

    // A flood of made-up kids within the cooldown: no fetch at all.
    for _ in 0..50 {
        assert!(set.refetch_unknown_kid().await.is_some());
    }
    assert_eq!(server.hits("/jwks"), 2);
    assert_eq!(set.status().fetch_count, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_refetch_is_allowed_after_the_cooldown() {
    let server = TestServer::start().await;
    server.set("/jwks", jwks_route(&[es256_jwk("k1")]));
    let set = direct(&server, |c| c.unknown_kid_cooldown = Duration::from_secs(2));
    assert!(set.wait_ready(Duration::from_secs(15)).await);

    assert!(set.refetch_unknown_kid().await.is_some());
    assert_eq!(server.hits("/jwks"), 2);
    assert!(set.refetch_unknown_kid().await.is_some());
    assert_eq!(server.hits("/jwks"), 2);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    server.set("/jwks", jwks_route(&[es256_jwk("k2")]));
    assert!(set.refetch_unknown_kid().await.is_some());
    assert_eq!(server.hits("/jwks"), 3);
    assert!(has_kid(&set, "k2") && !has_kid(&set, "k1"));
}

#[test]
fn refetch_before_the_first_load_starts_the_loader() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(TestServer::start());
    server.set("/jwks", jwks_route(&[es256_jwk("k1")]));
    // Built outside any runtime: no loader yet, and no way to start one.
    let set = direct(&server, |c| c.fetch_timeout = Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.hits("/jwks"), 0);
    assert!(set.snapshot().is_none());
    // Inside the runtime, the refetch starts the loader and waits for its attempt.
    let snapshot = runtime.block_on(set.refetch_unknown_kid());
    assert!(snapshot.is_some_and(|s| s.find(Some("k1"), Algorithm::ES256).is_ok()));
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_refreshes_keep_the_last_good_keys() {
    let server = TestServer::start().await;
    // max-age=0 is clamped to min_refresh (50 ms): refreshes come quickly.
    server.set(
        "/jwks",
        jwks_route(&[es256_jwk("k1")]).header("cache-control", "max-age=0"),
    );
    let set = direct(&server, |_| {});
    assert!(set.wait_ready(Duration::from_secs(15)).await);
    let key = Arc::clone(
        set.snapshot()
            .unwrap()
            .find(Some("k1"), Algorithm::ES256)
            .unwrap(),
    );
    eventually("refreshes", || server.hits("/jwks") >= 3).await;

    // Transport errors, non-200 answers and bodies that are not a JWK set say nothing about
    // the keys: the last good ones stay.
    for garbage in [
        Route::raw("<html>maintenance</html>"),
        Route::json(&json!({"keys": "none"})),
        Route::json(&json!([])),
        Route::status(500),
        Route::status(404),
    ] {
        let failures = set.status().consecutive_failures;
        server.set("/jwks", garbage);
        eventually("a failed refresh", || {
            set.status().consecutive_failures > failures
        })
        .await;
        let snapshot = set.snapshot().unwrap();
        assert!(Arc::ptr_eq(
            snapshot.find(Some("k1"), Algorithm::ES256).unwrap(),
            &key
        ));
        assert!(set.key_is_current(&key));
        assert!(set.status().loaded);
    }
    assert!(set.status().last_error.is_some());

    server.set(
        "/jwks",
        jwks_route(&[es256_jwk("k2")]).header("cache-control", "no-cache"),
    );
    eventually("recovery", || has_kid(&set, "k2")).await;
    assert!(!set.key_is_current(&key));
    let status = set.status();
    assert!(status.last_error.is_none() && status.consecutive_failures == 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_key_set_without_usable_keys_replaces_the_keys() {
    let server = TestServer::start().await;
    server.set(
        "/jwks",
        jwks_route(&[es256_jwk("k1")]).header("cache-control", "max-age=0"),
    );
    let set = direct(&server, |_| {});
    assert!(set.wait_ready(Duration::from_secs(15)).await);
    let key = Arc::clone(
        set.snapshot()
            .unwrap()
            .find(Some("k1"), Algorithm::ES256)
            .unwrap(),
    );

    // A 200 with a JWK set is the authorization server's word on its keys, even when none of
    // them is usable here: the old key is gone.
    let mut enc = es256_jwk("k1");
    enc["use"] = json!("enc");
    let unusable = json!({"keys": [enc, {"kty": "oct", "kid": "k2", "k": "c2VjcmV0"}]});
    for body in [unusable, json!({"keys": []})] {
        server.set(
            "/jwks",
            Route::json(&body).header("cache-control", "max-age=0"),
        );
        eventually("the key set replaced", || {
            set.snapshot().is_some_and(|s| s.len() == 0)
        })
        .await;
        assert!(!set.key_is_current(&key));
        assert!(matches!(
            set.snapshot().unwrap().find(Some("k1"), Algorithm::ES256),
            Err(KeyLookupError::UnknownKey)
        ));
        // Fetched, so not a failure; but nothing can be validated, so not ready either.
        let status = set.status();
        assert!(!status.loaded, "an empty key set is not loaded");
        assert_eq!((status.key_count, status.consecutive_failures), (0, 0));
        let error = status.last_error.expect("the cause is reported");
        assert!(error.contains("no usable signature key"), "{error}");
        assert!(!set.wait_ready(Duration::from_millis(100)).await);
    }
    // Refreshed again with the same document: still reported.
    let fetches = set.status().fetch_count;
    eventually("another refresh", || set.status().fetch_count > fetches + 1).await;
    assert!(set.status().last_error.is_some());

    server.set(
        "/jwks",
        jwks_route(&[es256_jwk("k3")]).header("cache-control", "max-age=0"),
    );
    assert!(set.wait_ready(Duration::from_secs(15)).await);
    assert!(has_kid(&set, "k3"));
    let status = set.status();
    assert!(status.loaded && status.last_error.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_keys_keep_their_identity_across_refreshes() {
    let server = TestServer::start().await;
    let a = rsa_jwk(rsa_key(0), "a", None);
    let b = rsa_jwk(rsa_key(1), "b", None);
    server.set(
        "/jwks",
        jwks_route(&[a.clone(), b]).header("cache-control", "max-age=0"),
    );
    let set = direct(&server, |_| {});
    assert!(set.wait_ready(Duration::from_secs(15)).await);
    let first = set.snapshot().unwrap();
    let key_a = Arc::clone(first.find(Some("a"), Algorithm::RS256).unwrap());
    let key_b = Arc::clone(first.find(Some("b"), Algorithm::RS256).unwrap());

    // The same document again: same keys, newer confirmation.
    eventually("a refresh", || {
        set.snapshot()
            .is_some_and(|s| s.fetched_at > first.fetched_at)
    })
    .await;
    assert!(set.key_is_current(&key_a) && set.key_is_current(&key_b));

    // `b` is retired, `c` added, `a` unchanged (the document differs, so it is parsed again).
    server.set(
        "/jwks",
        jwks_route(&[es256_jwk("c"), a]).header("cache-control", "max-age=0"),
    );
    eventually("the rotation", || has_kid(&set, "c")).await;
    let snapshot = set.snapshot().unwrap();
    assert!(Arc::ptr_eq(
        snapshot.find(Some("a"), Algorithm::RS256).unwrap(),
        &key_a
    ));
    assert!(set.key_is_current(&key_a));
    assert!(!set.key_is_current(&key_b));
    assert!(snapshot.find(Some("b"), Algorithm::RS256).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_older_than_max_stale_are_not_used() {
    let server = TestServer::start().await;
    server.set(
        "/jwks",
        jwks_route(&[es256_jwk("k1")]).header("cache-control", "max-age=0"),
    );
    let set = direct(&server, |c| c.max_stale = Duration::from_millis(500));
    assert!(set.wait_ready(Duration::from_secs(15)).await);
    let key = Arc::clone(
        set.snapshot()
            .unwrap()
            .find(Some("k1"), Algorithm::ES256)
            .unwrap(),
    );

    server.set("/jwks", Route::status(503));
    eventually("stale keys dropped", || set.snapshot().is_none()).await;
    assert!(!set.key_is_current(&key));
    let status = set.status();
    assert!(!status.loaded && status.key_count == 1);
    assert!(status.last_error.unwrap().contains("503"));
    assert!(!set.wait_ready(Duration::from_millis(100)).await);

    server.set("/jwks", jwks_route(&[es256_jwk("k1")]));
    assert!(set.wait_ready(Duration::from_secs(15)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_jwks_is_refused_and_the_set_stays_unloaded() {
    let server = TestServer::start().await;
    let mut body = serde_json::to_vec(&jwks(&[es256_jwk("k1")])).unwrap();
    body.extend(std::iter::repeat_n(b' ', 100_000));
    server.set("/jwks", Route::raw(body).chunked());
    let set = direct(&server, |_| {});
    eventually("a failed attempt", || set.status().last_error.is_some()).await;
    assert!(set.status().last_error.unwrap().contains("larger than"));
    assert!(set.snapshot().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_key_set_ends_the_task() {
    let server = TestServer::start().await;
    server.set(
        "/jwks",
        jwks_route(&[es256_jwk("k1")]).header("cache-control", "max-age=0"),
    );
    let set = direct(&server, |_| {});
    assert!(set.wait_ready(Duration::from_secs(15)).await);
    let clone = set.clone();
    // The task keeps a handle on the wake-up signal: it is released when the task ends.
    let wake = Arc::downgrade(&set.shared.wake);
    let shared = Arc::downgrade(&set.shared);
    drop(set);
    tokio::time::sleep(Duration::from_millis(200)).await;
    assert!(
        wake.upgrade().is_some(),
        "a clone still lives: the task goes on"
    );
    drop(clone);
    eventually("the task to end", || wake.upgrade().is_none()).await;
    assert!(shared.upgrade().is_none());
    let hits = server.hits("/jwks");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.hits("/jwks"), hits);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loader_ended_with_its_runtime_is_started_again() {
    let server = TestServer::start().await;
    server.set("/jwks", jwks_route(&[es256_jwk("k1")]));
    let addr = server.addr;
    // Build (and start) the key set on a runtime that then shuts down.
    let set = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let set = runtime.block_on(async {
            KeySet::new(
                config(KeySource::JwksUri(format!("http://{addr}/missing"))),
                client(),
            )
        });
        drop(runtime);
        set
    })
    .join()
    .unwrap();
    // The old loader is gone; this runtime starts a new one.
    let before = server.hits("/missing");
    set.ensure_started();
    eventually("an attempt on the new runtime", || {
        server.hits("/missing") > before
    })
    .await;
}
