//! Several engines as instances of one API, sharing a real `redis-server` (started here on a
//! free loopback port, stopped by its PID): revocations learnt by one reach the others'
//! routine routes, a new instance loads earlier ones, an outage loses nothing, rules and
//! pushed security events revoke on every instance, and shared introspection answers save
//! calls. No assertion is about time: waits are bounded polls for the wanted state.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use http::{Request, StatusCode};
use tollgate::events::SecurityEventReceiver;
use tollgate::{Introspection, InvalidToken, Rejection, Requirement, Tollgate};
use tollgate_mock::MockAuthServer;
use tollgate_mock::events::{EventType, Subject};
use tollgate_mock::testing::eventually;
use tollgate_redis::RedisStore;
use tower::ServiceExt as _;

#[path = "../../crates/tollgate-redis/tests/support/mod.rs"]
#[allow(clippy::all, unused, missing_docs, unreachable_pub)]
mod redis_support;

use redis_support::RedisServer;

/// How long a revocation may take to reach another instance before a test fails: generous,
/// for a slow machine; the benchmark measures the real delay.
const PROPAGATION: Duration = Duration::from_secs(20);

const RECEIVER: &str = "https://api.tollgate.test/security-events";

async fn store(redis: &RedisServer) -> Arc<RedisStore> {
    Arc::new(
        RedisStore::builder()
            .connect(&redis.url())
            .await
            .expect("redis connects"),
    )
}

/// One instance: the mock's issuer and audience, introspection, the shared store.
async fn instance(mock: &MockAuthServer, redis: &RedisServer, share_answers: bool) -> Tollgate {
    let gate = Tollgate::builder()
        .issuer(mock.issuer())
        .audience(mock.audience())
        .allow_insecure_endpoints(true)
        .introspection(Introspection::client_secret_basic(
            mock.client_id(),
            mock.client_secret(),
        ))
        .shared_store(store(redis).await)
        .share_introspection_answers(share_answers)
        .build()
        .expect("a valid configuration");
    assert!(gate.wait_for_keys(Duration::from_secs(10)).await);
    // The subscription is in place once the first load has been applied.
    assert!(
        eventually(PROPAGATION, async || gate
            .diagnostics()
            .shared_store
            .is_some_and(|s| s.connected))
        .await
    );
    gate
}

fn revoked(result: &Result<tollgate::Principal, Rejection>) -> bool {
    matches!(result, Err(Rejection::InvalidToken(InvalidToken::Inactive)))
}

async fn refused_by(gate: &Tollgate, token: &str) -> bool {
    eventually(PROPAGATION, async || revoked(&gate.validate(token).await)).await
}

#[tokio::test]
async fn an_introspection_revocation_reaches_another_instances_routine_route() {
    let Some(()) = redis_support::begin() else {
        return;
    };
    let redis = RedisServer::start();
    let mock = MockAuthServer::start().await;
    let a = instance(&mock, &redis, true).await;
    let b = instance(&mock, &redis, true).await;
    let token = mock.token().subject("alice").sign();
    assert!(b.validate(&token).await.is_ok(), "valid at first");

    mock.revoke(&token);
    let sensitive = Requirement::sensitive(Duration::ZERO);
    assert!(revoked(&a.validate_with(&token, &sensitive).await));
    // B's routine route never asks the AS: only the store can tell it.
    assert!(refused_by(&b, &token).await, "B refuses the token A learnt");
    assert_eq!(
        mock.introspection_count(),
        1,
        "only A asked the authorization server"
    );
    assert!(b.diagnostics().shared_store.unwrap().applied >= 1);
}

#[tokio::test]
async fn a_new_instance_loads_earlier_revocations() {
    let Some(()) = redis_support::begin() else {
        return;
    };
    let redis = RedisServer::start();
    let mock = MockAuthServer::start().await;
    let a = instance(&mock, &redis, true).await;
    let token = mock.token().subject("bob").sign();
    a.revoke_token(&token).await.expect("revoked");
    let issued_before = SystemTime::now() + Duration::from_secs(5);
    a.revoke_subject(&mock.issuer(), "carol", issued_before)
        .expect("a rule");
    let carol = mock.token().subject("carol").sign();
    assert!(
        eventually(PROPAGATION, async || a
            .diagnostics()
            .shared_store
            .is_some_and(|s| s.published >= 2))
        .await
    );

    let late = instance(&mock, &redis, true).await;
    assert!(refused_by(&late, &token).await, "the revoked token");
    assert!(refused_by(&late, &carol).await, "the subject rule");
    assert!(
        late.validate(&mock.token().subject("dave").sign())
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn revocations_learnt_during_an_outage_arrive_after_it() {
    let Some(()) = redis_support::begin() else {
        return;
    };
    let logs = redis_support::LogCapture::default();
    // Shown if the revocations do not arrive: what each side saw of the outage.
    let _guard = logs.install();
    let mut redis = RedisServer::start();
    let mock = MockAuthServer::start().await;
    let a = instance(&mock, &redis, true).await;
    let b = instance(&mock, &redis, true).await;
    let first = mock.token().subject("erin").sign();
    let second = mock.token().subject("frank").sign();
    assert!(b.validate(&first).await.is_ok());

    redis.kill();
    a.revoke_token(&first).await.expect("revoked locally");
    a.revoke_token(&second).await.expect("revoked locally");
    // Both keep serving from local memory, and A knows at once.
    assert!(revoked(&a.validate(&first).await));
    assert!(b.validate(&first).await.is_ok(), "B cannot know yet");
    assert!(
        eventually(PROPAGATION, async || a
            .diagnostics()
            .shared_store
            .is_some_and(|s| !s.connected && s.outages >= 1))
        .await,
        "the outage is seen and counted"
    );
    assert!(a.diagnostics().shared_store.unwrap().queued >= 1);

    redis.restart();
    let arrived = refused_by(&b, &first).await;
    assert!(
        arrived,
        "queued revocations arrive: A {:?} B {:?} {}",
        a.diagnostics().shared_store,
        b.diagnostics().shared_store,
        logs.text()
    );
    assert!(refused_by(&b, &second).await);
    let status = a.diagnostics().shared_store.unwrap();
    assert_eq!(status.dropped, 0);
    assert!(
        eventually(PROPAGATION, async || a
            .diagnostics()
            .shared_store
            .is_some_and(|s| s.queued == 0 && s.connected))
        .await
    );
}

#[tokio::test]
async fn a_subject_rule_refuses_older_tokens_on_every_instance() {
    let Some(()) = redis_support::begin() else {
        return;
    };
    let redis = RedisServer::start();
    let mock = MockAuthServer::start().await;
    let gates = [
        instance(&mock, &redis, true).await,
        instance(&mock, &redis, true).await,
        instance(&mock, &redis, true).await,
    ];
    let now = tollgate_now();
    let old = mock.token().subject("grace").issued_at(now - 120).sign();
    let other = mock.token().subject("heidi").issued_at(now - 120).sign();
    for gate in &gates {
        assert!(gate.validate(&old).await.is_ok(), "cached before the rule");
    }
    // "Grace changed her password a minute ago."
    gates[0]
        .revoke_subject(
            &mock.issuer(),
            "grace",
            SystemTime::now() - Duration::from_secs(60),
        )
        .expect("a rule");
    let fresh = mock.token().subject("grace").sign();
    for gate in &gates {
        assert!(
            refused_by(gate, &old).await,
            "the old token, from the cache too"
        );
        assert!(gate.validate(&fresh).await.is_ok(), "issued after T");
        assert!(gate.validate(&other).await.is_ok(), "another subject");
        assert!(gate.diagnostics().revocation_rules >= 1);
    }
}

#[tokio::test]
async fn a_pushed_security_event_revokes_on_every_instance() {
    let Some(()) = redis_support::begin() else {
        return;
    };
    let redis = RedisServer::start();
    let mock = MockAuthServer::start().await;
    let a = instance(&mock, &redis, true).await;
    let b = instance(&mock, &redis, true).await;
    let receiver = a
        .security_event_receiver(SecurityEventReceiver::builder(RECEIVER))
        .expect("a receiver");
    let token = mock
        .token()
        .subject("ivan")
        .issued_at(tollgate_now() - 30)
        .sign();
    assert!(b.validate(&token).await.is_ok());

    let set = mock
        .security_event(EventType::CredentialChange)
        .subject(Subject::iss_sub(mock.issuer(), "ivan"))
        .audience(RECEIVER)
        .sign();
    assert_eq!(push(&receiver, set).await, StatusCode::ACCEPTED);
    assert!(refused_by(&a, &token).await);
    assert!(refused_by(&b, &token).await, "the other instance too");
}

#[tokio::test]
async fn forged_replayed_misaddressed_and_unsigned_sets_are_refused() {
    let Some(()) = redis_support::begin() else {
        return;
    };
    let redis = RedisServer::start();
    let mock = MockAuthServer::start().await;
    let a = instance(&mock, &redis, true).await;
    let receiver = a
        .security_event_receiver(SecurityEventReceiver::builder(RECEIVER))
        .expect("a receiver");
    let event = || {
        mock.security_event(EventType::AccountDisabled)
            .subject(Subject::iss_sub(mock.issuer(), "judy"))
            .audience(RECEIVER)
    };
    let token = mock
        .token()
        .subject("judy")
        .issued_at(tollgate_now() - 30)
        .sign();

    assert_eq!(
        push(&receiver, event().unpublished_key().sign()).await,
        StatusCode::BAD_REQUEST,
        "signed with a key the issuer does not publish"
    );
    assert_eq!(
        push(&receiver, event().unsigned().sign()).await,
        StatusCode::BAD_REQUEST,
        "alg none"
    );
    assert_eq!(
        push(
            &receiver,
            event().audience("https://other.example/events").sign()
        )
        .await,
        StatusCode::BAD_REQUEST,
        "for another receiver"
    );
    assert!(a.validate(&token).await.is_ok(), "nothing was applied");
    assert_eq!(a.diagnostics().revocation_rules, 0);

    let set = event().jti("set-1").sign();
    assert_eq!(push(&receiver, set.clone()).await, StatusCode::ACCEPTED);
    assert!(refused_by(&a, &token).await);
    let rules = a.diagnostics().revocation_rules;
    assert_eq!(push(&receiver, set).await, StatusCode::ACCEPTED, "a replay");
    assert_eq!(receiver.stats().repeats, 1, "recognised, not applied again");
    assert_eq!(a.diagnostics().revocation_rules, rules);
}

#[tokio::test]
async fn three_instances_share_introspection_answers() {
    let Some(()) = redis_support::begin() else {
        return;
    };
    let redis = RedisServer::start();
    let budget = Requirement::sensitive(Duration::from_secs(600));

    // Without shared answers: each instance asks once.
    let mock = MockAuthServer::start().await;
    let alone = [
        instance(&mock, &redis, false).await,
        instance(&mock, &redis, false).await,
        instance(&mock, &redis, false).await,
    ];
    let token = mock.token().subject("kim").sign();
    for gate in &alone {
        assert!(gate.validate_with(&token, &budget).await.is_ok());
    }
    assert_eq!(mock.introspection_count(), 3);

    // With them: the first asks, and stores the answer for the others.
    let mock = MockAuthServer::start().await;
    let shared = [
        instance(&mock, &redis, true).await,
        instance(&mock, &redis, true).await,
        instance(&mock, &redis, true).await,
    ];
    let token = mock.token().subject("kim").sign();
    assert!(shared[0].validate_with(&token, &budget).await.is_ok());
    // The answer is stored in the background; wait until another instance can take it.
    assert!(
        eventually(PROPAGATION, async || {
            shared[1].validate_with(&token, &budget).await.is_ok()
                && shared[1].diagnostics().shared_store.unwrap().answers_shared == 1
        })
        .await
    );
    assert!(shared[2].validate_with(&token, &budget).await.is_ok());
    assert_eq!(
        mock.introspection_count(),
        1,
        "one call for three instances"
    );

    // Budget zero still asks the authorization server every time.
    let strict = Requirement::sensitive(Duration::ZERO);
    for gate in &shared {
        assert!(gate.validate_with(&token, &strict).await.is_ok());
    }
    assert_eq!(mock.introspection_count(), 4);
}

async fn push(receiver: &SecurityEventReceiver, set: String) -> StatusCode {
    let request = Request::post("/security-events")
        .header("content-type", "application/secevent+jwt")
        .body(axum::body::Body::from(set))
        .expect("a request");
    receiver
        .clone()
        .oneshot(request)
        .await
        .expect("an answer")
        .status()
}

fn tollgate_now() -> i64 {
    i64::try_from(
        SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .expect("after 1970")
            .as_secs(),
    )
    .expect("in range")
}
