//! The key set against tollgate-mock: discovery, background loading, refresh, single flight,
//! cooldown, stale keys and the end of the task. The mock's own documents and rotating keys
//! where a faithful server serves them, its faults for the rest.
//!
//! Longer than 400 lines for a reason: every case drives the same live server through the
//! loader's timeline, and shares its fixtures.

use std::sync::Arc;
use std::time::Duration;

use crate::alg::Algorithm;
use serde_json::{Value, json};
use tollgate_mock::{Canned, Endpoint, Fault, MockAuthServer, MockAuthServerBuilder, Shape};

use super::{client, config, es256_jwk, eventually, jwks};
use crate::keys::snapshot::VerifyKey;
use crate::keys::{KeyLookupError, KeySet, KeySetConfig, KeySource};

/// The mock's name for the algorithm of the keys it adds.
const ES256: tollgate_mock::Algorithm = tollgate_mock::Algorithm::ES256;

fn metadata(issuer: &str, jwks_uri: &str) -> Value {
    json!({
        "issuer": issuer,
        "jwks_uri": jwks_uri,
        "introspection_endpoint": format!("{issuer}/introspect"),
        "token_endpoint": format!("{issuer}/token"),
    })
}

/// A mock whose keys are ES256 (cheap to add while it runs).
fn mock() -> MockAuthServerBuilder {
    MockAuthServer::builder().signing_algorithm(ES256)
}

/// A mock whose JWKS says `max-age=0`, clamped to `min_refresh` (50 ms): refreshes come
/// quickly.
async fn refreshing() -> MockAuthServer {
    mock().jwks_cache_control("max-age=0").start().await
}

/// Makes the JWKS answer 200 with exactly this JSON and `Cache-Control: max-age=0`.
fn served(server: &MockAuthServer, body: &Value) {
    let canned = Canned::new(200)
        .json(body)
        .header("cache-control", "max-age=0");
    server.set_fault(Endpoint::Jwks, Fault::Canned(canned));
}

/// A key set on `server`'s JWKS, configured directly.
fn direct(server: &MockAuthServer, adjust: impl FnOnce(&mut KeySetConfig)) -> KeySet {
    let mut config = config(KeySource::JwksUri(server.jwks_uri()));
    adjust(&mut config);
    KeySet::new(config, client())
}

/// A refreshing mock, a key set on its JWKS once loaded, the signing kid and its key.
async fn loaded(
    adjust: impl FnOnce(&mut KeySetConfig),
) -> (MockAuthServer, KeySet, String, Arc<VerifyKey>) {
    let server = refreshing().await;
    let kid = server.signing_kid();
    let set = direct(&server, adjust);
    assert!(set.wait_ready(Duration::from_secs(15)).await);
    let key = Arc::clone(
        set.snapshot()
            .unwrap()
            .find(Some(&kid), Algorithm::ES256)
            .unwrap(),
    );
    (server, set, kid, key)
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
    let server = mock().issuer_path("/realms/x").start().await;
    let issuer = server.issuer();
    let rfc8414 = "/.well-known/oauth-authorization-server/realms/x";
    let openid = "/realms/x/.well-known/openid-configuration";
    assert_eq!(
        server.oauth_metadata_url(),
        format!("{}{rfc8414}", server.base_url())
    );
    // The OpenID document points elsewhere: keys from there would show it was used.
    let other = format!("{}/other-jwks", server.base_url());
    server.set_fault_at(
        openid,
        Fault::Canned(Canned::new(200).json(&metadata(&issuer, &other))),
    );

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
            .find(Some(&server.signing_kid()), Algorithm::ES256)
            .is_ok()
    );
    assert_eq!(
        (server.requests_to(rfc8414), server.requests_to(openid)),
        (1, 0)
    );
    assert_eq!(server.requests_to("/other-jwks"), 0);
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
    // authentik: a trailing slash that is part of the issuer and must come back exactly, and
    // no RFC 8414 document (404).
    let server = MockAuthServer::builder()
        .shape(Shape::Authentik)
        .issuer_path("/realms/y")
        .start()
        .await;
    let issuer = server.issuer();
    assert_eq!(issuer, format!("{}/realms/y/", server.base_url()));

    let set = KeySet::new(
        config(KeySource::Discovery {
            issuer: issuer.clone(),
        }),
        client(),
    );
    assert!(set.wait_ready(Duration::from_secs(15)).await);
    assert_eq!(
        server.requests_to("/.well-known/oauth-authorization-server/realms/y"),
        1
    );
    assert!(set.metadata().is_some());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metadata_for_another_issuer_is_discarded() {
    let server = mock().start().await;
    let issuer = server.issuer();
    let evil_jwks = format!("{}/evil-jwks", server.base_url());
    let lie = |issuer: &str| Fault::Canned(Canned::new(200).json(&metadata(issuer, &evil_jwks)));
    server.set_fault_at(
        "/.well-known/oauth-authorization-server",
        lie("https://evil.example"),
    );
    server.set_fault_at(
        "/evil-jwks",
        Fault::Canned(Canned::new(200).json(&jwks(&[es256_jwk("evil")]))),
    );

    // Both documents lie: nothing loads, and the error says why.
    let openid = "/.well-known/openid-configuration";
    server.set_fault_at(openid, lie(&format!("{issuer}/")));
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

    // Now the OpenID document is the mock's own: it is used, the RFC 8414 one still discarded.
    server.clear_fault_at(openid);
    assert!(set.wait_ready(Duration::from_secs(15)).await);
    assert!(has_kid(&set, &server.signing_kid()));
    assert_eq!(server.requests_to("/evil-jwks"), 0);
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

    let server = mock().port(addr.port()).start().await;
    assert_eq!(server.jwks_uri(), format!("http://{addr}/jwks"));
    assert!(set.wait_ready(Duration::from_secs(15)).await);
    assert!(has_kid(&set, &server.signing_kid()));
    let status = set.status();
    assert!(status.last_error.is_none() && status.consecutive_failures == 0);
    assert!(status.fetch_count >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_unknown_kids_share_one_fetch_and_the_cooldown_holds() {
    let server = mock().start().await;
    let set = direct(&server, |_| {});
    assert!(set.wait_ready(Duration::from_secs(15)).await);
    assert_eq!(server.jwks_fetches(), 1);

    // The key rotates; the answer is slow enough for all callers to pile up.
    let new = server.add_key(ES256);
    server.set_fault(Endpoint::Jwks, Fault::Latency(Duration::from_millis(300)));
    let callers: Vec<_> = (0..50)
        .map(|_| {
            let set = set.clone();
            tokio::spawn(async move { set.refetch_unknown_kid().await })
        })
        .collect();
    for caller in callers {
        let snapshot = caller.await.unwrap().unwrap();
        assert!(snapshot.find(Some(&new), Algorithm::ES256).is_ok());
    }
    assert_eq!(server.jwks_fetches(), 2);

    // A flood of made-up kids within the cooldown: no fetch at all.
    for _ in 0..50 {
        assert!(set.refetch_unknown_kid().await.is_some());
    }
    assert_eq!(server.jwks_fetches(), 2);
    assert_eq!(set.status().fetch_count, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_new_refetch_is_allowed_after_the_cooldown() {
    let server = mock().start().await;
    let k1 = server.signing_kid();
    let set = direct(&server, |c| c.unknown_kid_cooldown = Duration::from_secs(2));
    assert!(set.wait_ready(Duration::from_secs(15)).await);

    assert!(set.refetch_unknown_kid().await.is_some());
    assert_eq!(server.jwks_fetches(), 2);
    assert!(set.refetch_unknown_kid().await.is_some());
    assert_eq!(server.jwks_fetches(), 2);
    tokio::time::sleep(Duration::from_millis(2200)).await;
    let k2 = server.add_key(ES256);
    server.set_signing_key(&k2);
    server.retire_key(&k1);
    assert!(set.refetch_unknown_kid().await.is_some());
    assert_eq!(server.jwks_fetches(), 3);
    assert!(has_kid(&set, &k2) && !has_kid(&set, &k1));
}

#[test]
fn refetch_before_the_first_load_starts_the_loader() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let server = runtime.block_on(mock().start());
    // Built outside any runtime: no loader yet, and no way to start one.
    let set = direct(&server, |c| c.fetch_timeout = Duration::from_secs(10));
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(server.jwks_fetches(), 0);
    assert!(set.snapshot().is_none());
    // Inside the runtime, the refetch starts the loader and waits for its attempt.
    let snapshot = runtime.block_on(set.refetch_unknown_kid());
    let kid = server.signing_kid();
    assert!(snapshot.is_some_and(|s| s.find(Some(&kid), Algorithm::ES256).is_ok()));
    drop(server);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn garbage_refreshes_keep_the_last_good_keys() {
    let (server, set, k1, key) = loaded(|_| {}).await;
    eventually("refreshes", || server.jwks_fetches() >= 3).await;

    // Non-200 answers and bodies that are not a JWK set say nothing about the keys: the last
    // good ones stay.
    for garbage in [
        Fault::Canned(Canned::new(200).body("<html>maintenance</html>")),
        Fault::Canned(Canned::new(200).json(&json!({"keys": "none"}))),
        Fault::Canned(Canned::new(200).json(&json!([]))),
        Fault::Status(500),
        Fault::Status(404),
    ] {
        let failures = set.status().consecutive_failures;
        server.set_fault(Endpoint::Jwks, garbage);
        eventually("a failed refresh", || {
            set.status().consecutive_failures > failures
        })
        .await;
        let snapshot = set.snapshot().unwrap();
        assert!(Arc::ptr_eq(
            snapshot.find(Some(&k1), Algorithm::ES256).unwrap(),
            &key
        ));
        assert!(set.key_is_current(&key));
        assert!(set.status().loaded);
    }
    assert!(set.status().last_error.is_some());

    // The keys rotate while the JWKS is broken; it comes back with them, saying `no-cache`.
    let k2 = server.add_key(ES256);
    server.set_signing_key(&k2);
    server.retire_key(&k1);
    server.set_jwks_cache_control("no-cache");
    server.clear_fault(Endpoint::Jwks);
    eventually("recovery", || has_kid(&set, &k2)).await;
    assert!(!set.key_is_current(&key));
    let status = set.status();
    assert!(status.last_error.is_none() && status.consecutive_failures == 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_served_key_set_without_usable_keys_replaces_the_keys() {
    let (server, set, k1, key) = loaded(|_| {}).await;

    // A 200 with a JWK set is the authorization server's word on its keys, even when none of
    // them is usable here: the old key is gone.
    let mut enc = server.jwks()["keys"][0].clone();
    enc["use"] = json!("enc");
    let unusable = json!({"keys": [enc, {"kty": "oct", "kid": "k2", "k": "c2VjcmV0"}]});
    for body in [unusable, json!({"keys": []})] {
        served(&server, &body);
        eventually("the key set replaced", || {
            set.snapshot().is_some_and(|s| s.len() == 0)
        })
        .await;
        assert!(!set.key_is_current(&key));
        assert!(matches!(
            set.snapshot().unwrap().find(Some(&k1), Algorithm::ES256),
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

    let k3 = server.add_key(ES256);
    server.retire_key(&k1);
    server.clear_fault(Endpoint::Jwks);
    assert!(set.wait_ready(Duration::from_secs(15)).await);
    assert!(has_kid(&set, &k3));
    let status = set.status();
    assert!(status.loaded && status.last_error.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unchanged_keys_keep_their_identity_across_refreshes() {
    // RSA keys: the costly ones to parse again.
    let server = MockAuthServer::builder()
        .jwks_cache_control("max-age=0")
        .start()
        .await;
    let a = server.signing_kid();
    let b = server.add_key(tollgate_mock::Algorithm::RS256);
    let set = direct(&server, |_| {});
    assert!(set.wait_ready(Duration::from_secs(15)).await);
    let first = set.snapshot().unwrap();
    let key_a = Arc::clone(first.find(Some(&a), Algorithm::RS256).unwrap());
    let key_b = Arc::clone(first.find(Some(&b), Algorithm::RS256).unwrap());

    // The same document again: same keys, newer confirmation.
    eventually("a refresh", || {
        set.snapshot()
            .is_some_and(|s| s.fetched_at > first.fetched_at)
    })
    .await;
    assert!(set.key_is_current(&key_a) && set.key_is_current(&key_b));

    // `b` is retired, `c` added, `a` unchanged (the document differs, so it is parsed again).
    // Retired first, so that no refresh sees `c` beside `b`.
    server.retire_key(&b);
    let c = server.add_key(ES256);
    eventually("the rotation", || has_kid(&set, &c)).await;
    let snapshot = set.snapshot().unwrap();
    assert!(Arc::ptr_eq(
        snapshot.find(Some(&a), Algorithm::RS256).unwrap(),
        &key_a
    ));
    assert!(set.key_is_current(&key_a));
    assert!(!set.key_is_current(&key_b));
    assert!(snapshot.find(Some(&b), Algorithm::RS256).is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_older_than_max_stale_are_not_used() {
    let (server, set, _, key) = loaded(|c| c.max_stale = Duration::from_millis(500)).await;

    server.set_fault(Endpoint::Jwks, Fault::Status(503));
    eventually("stale keys dropped", || set.snapshot().is_none()).await;
    assert!(!set.key_is_current(&key));
    let status = set.status();
    assert!(!status.loaded && status.key_count == 1);
    assert!(status.last_error.unwrap().contains("503"));
    assert!(!set.wait_ready(Duration::from_millis(100)).await);

    server.clear_fault(Endpoint::Jwks);
    assert!(set.wait_ready(Duration::from_secs(15)).await);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_huge_jwks_is_refused_and_the_set_stays_unloaded() {
    let server = mock().start().await;
    let mut body = serde_json::to_vec(&server.jwks()).unwrap();
    body.extend(std::iter::repeat_n(b' ', 100_000));
    let streamed = Canned::new(200).body(body).chunked(1024);
    server.set_fault(Endpoint::Jwks, Fault::Canned(streamed));
    let set = direct(&server, |_| {});
    eventually("a failed attempt", || set.status().last_error.is_some()).await;
    assert!(set.status().last_error.unwrap().contains("larger than"));
    assert!(set.snapshot().is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dropping_the_last_key_set_ends_the_task() {
    let server = refreshing().await;
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
    let fetches = server.jwks_fetches();
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert_eq!(server.jwks_fetches(), fetches);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_loader_ended_with_its_runtime_is_started_again() {
    let server = mock().start().await;
    let missing = format!("{}/missing", server.base_url());
    // Build (and start) the key set on a runtime that then shuts down.
    let set = std::thread::spawn(move || {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let set =
            runtime.block_on(async { KeySet::new(config(KeySource::JwksUri(missing)), client()) });
        drop(runtime);
        set
    })
    .join()
    .unwrap();
    // The old loader is gone; this runtime starts a new one.
    let before = server.requests_to("/missing");
    set.ensure_started();
    eventually("an attempt on the new runtime", || {
        server.requests_to("/missing") > before
    })
    .await;
}
