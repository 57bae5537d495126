//! The engine's revocation API, revocation rules and the shared store, with engines in one
//! process sharing a `store::Memory` (tests/tests/scale_out.rs does the same on a real Redis):
//! what each revoke call covers, the longest-lifetime refusal that lets rules expire, a store
//! outage that loses nothing, and the bound of the publish queue.

mod common;

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use common::{builder, hybrid_builder, ready};
use tollgate::store::{Memory, RuleTarget};
use tollgate::{InvalidToken, Rejection, RevokeErrorKind, Tollgate};
use tollgate_mock::MockAuthServer;
use tollgate_mock::testing::{eventually, unix_now};

const WAIT: Duration = Duration::from_secs(20);

fn inactive(result: &Result<tollgate::Principal, Rejection>) -> bool {
    matches!(result, Err(Rejection::InvalidToken(InvalidToken::Inactive)))
}

async fn refused(gate: &Tollgate, token: &str) -> bool {
    eventually(WAIT, async || inactive(&gate.validate(token).await)).await
}

async fn shared(mock: &MockAuthServer, store: &Arc<Memory>) -> Tollgate {
    let gate = ready(hybrid_builder(mock).shared_store(Arc::clone(store) as _)).await;
    assert!(
        eventually(WAIT, async || gate
            .diagnostics()
            .shared_store
            .is_some_and(|s| s.connected && s.outages == 0))
        .await
    );
    gate
}

#[tokio::test]
async fn each_revoke_call_covers_what_it_names_and_nothing_else() {
    let mock = MockAuthServer::start().await;
    let gate = ready(builder(&mock)).await;
    let issuer = mock.issuer();
    let past = unix_now() - 60;
    let one = mock.token().subject("a").sign();
    let by_jti = mock.token().subject("b").claim("jti", "j-1").sign();
    let by_client = mock.token().client_id("leaky").issued_at(past).sign();
    let by_session = mock
        .token()
        .subject("c")
        .claim("sid", "s-1")
        .issued_at(past)
        .sign();
    let untouched = mock.token().subject("d").claim("sid", "s-2").sign();
    for token in [&one, &by_jti, &by_client, &by_session, &untouched] {
        assert!(
            gate.validate(token).await.is_ok(),
            "valid (and cached) first"
        );
    }

    let now = SystemTime::now();
    gate.revoke_token(&one).await.expect("a token");
    gate.revoke_jti(&issuer, "j-1").expect("a jti");
    gate.revoke_client(&issuer, "leaky", now).expect("a client");
    gate.revoke_session(&issuer, "s-1", now).expect("a session");
    for token in [&one, &by_jti, &by_client, &by_session] {
        assert!(inactive(&gate.validate(token).await));
    }
    assert!(gate.validate(&untouched).await.is_ok());
    // Issued after the cut-off: a client's new token works.
    let later = mock
        .token()
        .client_id("leaky")
        .issued_at(unix_now() + 1)
        .sign();
    assert!(gate.validate(&later).await.is_ok());
    assert_eq!(gate.diagnostics().revocation_rules, 3);
    assert_eq!(gate.diagnostics().revoked_tokens_remembered, 1);

    let refused = gate
        .revoke_subject("https://stranger.example", "a", now)
        .expect_err("untrusted");
    assert_eq!(refused.kind(), RevokeErrorKind::NotTrusted);
    assert_eq!(
        gate.revoke_rule(&issuer, RuleTarget::Subject(String::new()), None)
            .expect_err("empty")
            .kind(),
        RevokeErrorKind::Invalid
    );
    let forged = mock.token().unpublished_key().sign();
    assert_eq!(
        gate.revoke_token(&forged)
            .await
            .expect_err("not valid")
            .kind(),
        RevokeErrorKind::Token
    );
    assert_eq!(
        gate.revoke_token("opaque")
            .await
            .expect_err("not a JWT")
            .kind(),
        RevokeErrorKind::Token
    );
}

#[tokio::test]
async fn a_token_that_outlives_the_rules_is_refused() {
    let mock = MockAuthServer::start().await;
    let now = unix_now();
    let long = mock
        .token()
        .issued_at(now)
        .expires_at(now + 25 * 3600)
        .sign();
    let gate = ready(builder(&mock)).await;
    assert!(matches!(
        gate.validate(&long).await,
        Err(Rejection::InvalidToken(InvalidToken::InvalidClaim("exp")))
    ));
    let lenient =
        ready(builder(&mock).longest_token_lifetime(Duration::from_secs(48 * 3600))).await;
    assert!(lenient.validate(&long).await.is_ok());
    assert!(
        Tollgate::builder()
            .issuer(mock.issuer())
            .audience(mock.audience())
            .longest_token_lifetime(Duration::from_secs(1))
            .build()
            .is_err()
    );
}

#[tokio::test]
async fn engines_sharing_a_store_share_revocations_and_survive_its_outage() {
    let mock = MockAuthServer::start().await;
    let store = Arc::new(Memory::new());
    let a = shared(&mock, &store).await;
    let b = shared(&mock, &store).await;
    let token = mock.token().subject("erin").sign();
    assert!(b.validate(&token).await.is_ok());

    // Learnt from introspection on A, refused on B's routine route.
    mock.revoke(&token);
    let sensitive = tollgate::Requirement::sensitive(Duration::ZERO);
    assert!(inactive(&a.validate_with(&token, &sensitive).await));
    assert!(refused(&b, &token).await);

    // The store goes away: A keeps serving and queues; B learns once it is back.
    store.set_available(false);
    let during = mock.token().subject("frank").sign();
    let old = mock
        .token()
        .subject("grace")
        .issued_at(unix_now() - 60)
        .sign();
    a.revoke_token(&during).await.expect("local");
    a.revoke_subject(&mock.issuer(), "grace", SystemTime::now())
        .expect("local");
    assert!(inactive(&a.validate(&during).await));
    assert!(
        eventually(WAIT, async || a
            .diagnostics()
            .shared_store
            .is_some_and(|s| s.outages == 1 && s.queued >= 1))
        .await
    );
    assert!(b.validate(&during).await.is_ok());
    store.set_available(true);
    assert!(refused(&b, &during).await);
    assert!(refused(&b, &old).await);
    let status = a.diagnostics().shared_store.expect("a store");
    assert_eq!((status.dropped, status.outages), (0, 1));

    // A third instance loads everything.
    let c = shared(&mock, &store).await;
    for token in [&token, &during, &old] {
        assert!(refused(&c, token).await);
    }
}

/// RFC 8417 §4.2: a Security Event Token must not be taken for an access token. A JWT with
/// an `events` claim is refused, also with an access token's `typ` and every claim one needs.
#[tokio::test]
async fn a_jwt_with_an_events_claim_is_not_an_access_token() {
    let mock = MockAuthServer::start().await;
    let gate = ready(builder(&mock)).await;
    let set_like = mock
        .token()
        .claim(
            "events",
            serde_json::json!({"https://schemas.openid.net/secevent/risc/event-type/account-disabled": {}}),
        )
        .sign();
    assert!(matches!(
        gate.validate(&set_like).await,
        Err(Rejection::InvalidToken(InvalidToken::NotAccessToken))
    ));
    assert!(gate.validate(&mock.token().sign()).await.is_ok());
}

/// A stored answer is held to what a fresh one is: a body that does not parse, or one whose
/// `fetched_at` lies outside the budget, is ignored and the authorization server asked.
#[tokio::test]
async fn stored_answers_that_do_not_hold_are_ignored() {
    use tollgate::store::SharedStore as _;
    use tollgate::store::{Digest, Namespace, StoredAnswer};

    let mock = MockAuthServer::start().await;
    let store = Arc::new(Memory::new());
    let gate = shared(&mock, &store).await;
    let ns = Namespace::new(&mock.issuer(), [mock.audience()]);
    let budget = tollgate::Requirement::sensitive(Duration::from_secs(60));
    let put = async |token: &str, answer: StoredAnswer| {
        let signed = &token[..=token.rfind('.').expect("a JWT")];
        store
            .put_answer(
                &ns,
                &Digest::of(signed.as_bytes()),
                &answer,
                Duration::from_secs(60),
            )
            .await
            .expect("stored");
    };

    let garbage = mock.token().subject("ivy").sign();
    put(
        &garbage,
        StoredAnswer {
            fetched_at: unix_now(),
            body: bytes::Bytes::from_static(b"{\"active\": tru"),
        },
    )
    .await;
    assert!(gate.validate_with(&garbage, &budget).await.is_ok());
    assert_eq!(mock.introspection_count_for(&garbage), 1, "asked the AS");
    let status = gate.diagnostics().shared_store.expect("a store");
    assert_eq!((status.unparsable, status.answers_shared), (1, 0));

    let stale = mock.token().subject("jon").sign();
    put(
        &stale,
        StoredAnswer {
            fetched_at: unix_now() - 600,
            body: bytes::Bytes::from_static(b"{\"active\": true}"),
        },
    )
    .await;
    assert!(gate.validate_with(&stale, &budget).await.is_ok());
    assert_eq!(
        mock.introspection_count_for(&stale),
        1,
        "too old: asked the AS"
    );
    assert_eq!(
        gate.diagnostics()
            .shared_store
            .expect("a store")
            .answers_shared,
        0
    );
}
