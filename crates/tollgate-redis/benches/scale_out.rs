//! Engines as instances of one API on a `redis-server` started on 127.0.0.1 for the run:
//! how long a revocation made on one instance takes to be refused by another's routine
//! route, and how many introspection calls three instances make with and without shared
//! answers.
//!
//! Run with: `cargo bench -p tollgate-redis --bench scale_out` (needs Debian's
//! `redis-server`). Prints percentiles and counts; asserts nothing.

#[path = "../tests/support/mod.rs"]
mod support;

use std::sync::Arc;
use std::time::{Duration, Instant};

use tollgate::{Introspection, Requirement, Tollgate};
use tollgate_mock::MockAuthServer;
use tollgate_redis::RedisStore;

/// Revocations timed one by one, after a warm-up.
const ROUNDS: usize = 500;
const WARM_UP: usize = 50;
/// Tokens for the introspection count, each checked this many times by each instance.
const TOKENS: usize = 100;
const CHECKS: usize = 5;
/// The sensitive route's freshness budget.
const BUDGET: Duration = Duration::from_secs(60);

fn main() {
    if !support::redis_available() {
        return;
    }
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("a runtime");
    runtime.block_on(run());
}

async fn run() {
    let redis = support::RedisServer::start();
    let mock = MockAuthServer::start().await;
    propagation(&mock, &redis).await;
    for share in [false, true] {
        let mock = MockAuthServer::start().await;
        let calls = introspection_calls(&mock, &redis, share).await;
        println!(
            "introspection calls, 3 instances, {TOKENS} tokens x {CHECKS} checks each, budget \
             {BUDGET:?}, shared answers {}: {calls}",
            if share { "on" } else { "off" }
        );
    }
}

async fn instance(mock: &MockAuthServer, redis: &support::RedisServer, share: bool) -> Tollgate {
    let store = RedisStore::connect(&redis.url()).await.expect("connects");
    let gate = Tollgate::builder()
        .issuer(mock.issuer())
        .audience(mock.audience())
        .allow_insecure_endpoints(true)
        .introspection(Introspection::client_secret_basic(
            mock.client_id(),
            mock.client_secret(),
        ))
        .shared_store(Arc::new(store))
        .share_introspection_answers(share)
        .build()
        .expect("a valid configuration");
    assert!(gate.wait_for_keys(Duration::from_secs(10)).await);
    let deadline = Instant::now() + Duration::from_secs(10);
    while !gate.diagnostics().shared_store.is_some_and(|s| s.connected) {
        assert!(Instant::now() < deadline, "the store did not connect");
        tokio::time::sleep(Duration::from_millis(10)).await;
    }
    gate
}

/// From `revoke_token` returning on A to B's routine route refusing the token.
async fn propagation(mock: &MockAuthServer, redis: &support::RedisServer) {
    let a = instance(mock, redis, true).await;
    let b = instance(mock, redis, true).await;
    // Let the subscriptions settle.
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut delays = Vec::with_capacity(ROUNDS);
    let mut calls = Vec::with_capacity(ROUNDS);
    for round in 0..ROUNDS + WARM_UP {
        let token = mock.token().subject(format!("user-{round}")).sign();
        assert!(b.validate(&token).await.is_ok(), "valid before");
        // From the call on A (which verifies the token, remembers and queues it) to the
        // first refusal on B: the whole way through A's publisher, Redis and B's subscriber.
        let start = Instant::now();
        a.revoke_token(&token).await.expect("revoked");
        let revoked = start.elapsed();
        loop {
            if b.validate(&token).await.is_err() {
                break;
            }
            assert!(
                start.elapsed() < Duration::from_secs(10),
                "the revocation did not arrive"
            );
            tokio::task::yield_now().await;
        }
        if round >= WARM_UP {
            delays.push(start.elapsed());
            calls.push(revoked);
        }
    }
    for (what, mut samples) in [
        (
            "revocation propagation, revoke_token on A to refused on B",
            delays,
        ),
        ("of which revoke_token on A itself", calls),
    ] {
        samples.sort_unstable();
        let at = |p: f64| samples[((samples.len() as f64 * p) as usize).min(samples.len() - 1)];
        println!(
            "{what} ({ROUNDS} tokens): p50 {:?}, p90 {:?}, p99 {:?}, max {:?}",
            at(0.50),
            at(0.90),
            at(0.99),
            samples[samples.len() - 1]
        );
    }
}

/// Sensitive checks with a budget on three instances, round-robin, like a load balancer.
async fn introspection_calls(
    mock: &MockAuthServer,
    redis: &support::RedisServer,
    share: bool,
) -> usize {
    let gates = [
        instance(mock, redis, share).await,
        instance(mock, redis, share).await,
        instance(mock, redis, share).await,
    ];
    let requirement = Requirement::sensitive(BUDGET);
    let tokens: Vec<String> = (0..TOKENS)
        .map(|i| mock.token().subject(format!("user-{i}")).sign())
        .collect();
    let before = mock.introspection_count();
    for check in 0..CHECKS * gates.len() {
        let gate = &gates[check % gates.len()];
        for token in &tokens {
            assert!(gate.validate_with(token, &requirement).await.is_ok());
        }
        // One request after another reaches the next instance: give the background store
        // writes of the previous round a moment, as real traffic spreads over time.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    mock.introspection_count() - before
}
