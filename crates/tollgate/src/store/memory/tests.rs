use super::*;
use crate::store::{RevocationRule, RuleTarget};
use bytes::Bytes;

fn ns() -> Namespace {
    Namespace::new("https://as.example", ["api"])
}

fn revoked(seed: u8, until: i64) -> Fact {
    Fact::Revoked {
        token: Digest([seed; 32]),
        until,
    }
}

fn later(seconds: i64) -> i64 {
    unix_now() + seconds
}

fn answer(body: &'static str) -> StoredAnswer {
    StoredAnswer {
        fetched_at: 1,
        body: Bytes::from_static(body.as_bytes()),
    }
}

/// The next notice, if one is ready now (every `Memory` notice is sent before the call that
/// causes it returns).
fn ready(notices: &mut BoxStream<'static, Notice>) -> Option<Notice> {
    notices.next().now_or_never().flatten()
}

use futures_util::FutureExt as _;

#[tokio::test]
async fn clones_share_facts_and_notices() {
    let one = Memory::new();
    let two = one.clone();
    let mut notices = two.subscribe(&ns());
    let fact = revoked(1, later(600));
    one.publish(&ns(), &fact).await.unwrap();
    assert_eq!(ready(&mut notices), Some(Notice::Fact(fact.clone())));
    assert_eq!(two.load(&ns()).await.unwrap(), vec![fact]);
    assert_eq!(ready(&mut notices), None);
}

#[tokio::test]
async fn namespaces_are_apart() {
    let store = Memory::new();
    let other = Namespace::new("https://as.example", ["another-api"]);
    let mut theirs = store.subscribe(&other);
    store.publish(&ns(), &revoked(1, later(600))).await.unwrap();
    store
        .put_answer(
            &ns(),
            &Digest([2; 32]),
            &answer("{}"),
            Duration::from_secs(60),
        )
        .await
        .unwrap();
    assert!(
        store
            .first_use(&ns(), &Digest([3; 32]), Duration::from_secs(60))
            .await
            .unwrap()
    );

    assert_eq!(store.load(&other).await.unwrap(), vec![]);
    assert_eq!(
        store.get_answer(&other, &Digest([2; 32])).await.unwrap(),
        None
    );
    assert!(
        store
            .first_use(&other, &Digest([3; 32]), Duration::from_secs(60))
            .await
            .unwrap()
    );
    assert_eq!(ready(&mut theirs), None);
}

#[tokio::test]
async fn rules_and_tokens_are_kept_apart_and_rules_by_their_id() {
    let store = Memory::new();
    let rule = |until| {
        Fact::Rule(RevocationRule {
            issuer: "https://as.example".into(),
            target: RuleTarget::Subject("alice".into()),
            issued_before: Some(100),
            until,
        })
    };
    store.publish(&ns(), &rule(later(600))).await.unwrap();
    store.publish(&ns(), &rule(later(900))).await.unwrap();
    store.publish(&ns(), &revoked(1, later(600))).await.unwrap();
    let facts = store.load(&ns()).await.unwrap();
    assert_eq!(facts.len(), 2, "{facts:?}");
    // One rule, with the later end.
    let rules: Vec<&Fact> = facts
        .iter()
        .filter(|fact| matches!(fact, Fact::Rule(_)))
        .collect();
    assert_eq!(rules.len(), 1);
    assert!(rules[0].until() >= later(899));
}

#[tokio::test]
async fn a_fact_already_over_is_neither_kept_nor_sent() {
    let store = Memory::new();
    let mut notices = store.subscribe(&ns());
    store.publish(&ns(), &revoked(1, unix_now())).await.unwrap();
    store.publish(&ns(), &revoked(2, 1)).await.unwrap();
    assert_eq!(store.load(&ns()).await.unwrap(), vec![]);
    assert_eq!(ready(&mut notices), None);
    assert_eq!(store.fact_count(), 0);
}

#[tokio::test]
async fn publishing_again_keeps_the_later_end() {
    let store = Memory::new();
    store.publish(&ns(), &revoked(1, later(900))).await.unwrap();
    store.publish(&ns(), &revoked(1, later(300))).await.unwrap();
    let facts = store.load(&ns()).await.unwrap();
    assert_eq!(facts.len(), 1);
    assert!(facts[0].until() >= later(899), "{facts:?}");
}

#[tokio::test]
async fn facts_expire() {
    let store = Memory::new();
    // Ends at the next second boundary at the latest.
    store.publish(&ns(), &revoked(1, later(1))).await.unwrap();
    let lasting = revoked(2, later(600));
    store.publish(&ns(), &lasting).await.unwrap();
    tokio::time::sleep(Duration::from_millis(1100)).await;
    assert_eq!(store.load(&ns()).await.unwrap(), vec![lasting]);
    assert_eq!(store.fact_count(), 1);
}

#[tokio::test]
async fn at_the_bound_the_fact_that_ends_first_is_given_up() {
    let store = Memory::builder().max_facts(2).build();
    let mut notices = store.subscribe(&ns());
    store.publish(&ns(), &revoked(1, later(100))).await.unwrap();
    store.publish(&ns(), &revoked(2, later(300))).await.unwrap();
    store.publish(&ns(), &revoked(3, later(200))).await.unwrap();
    let mut kept: Vec<u8> = store
        .load(&ns())
        .await
        .unwrap()
        .iter()
        .map(|fact| match fact {
            Fact::Revoked { token, .. } => token.0[0],
            Fact::Rule(_) => 0,
        })
        .collect();
    kept.sort_unstable();
    assert_eq!(kept, vec![2, 3]);
    // A new fact that ends before every kept one is not kept, but still sent.
    store.publish(&ns(), &revoked(4, later(50))).await.unwrap();
    assert_eq!(store.fact_count(), 2);
    for seed in [1, 2, 3, 4] {
        assert!(
            matches!(ready(&mut notices), Some(Notice::Fact(Fact::Revoked { token, .. })) if token.0[0] == seed)
        );
    }
}

#[tokio::test]
async fn answers_live_for_their_ttl() {
    let store = Memory::new();
    let key = Digest([7; 32]);
    assert_eq!(store.get_answer(&ns(), &key).await.unwrap(), None);
    store
        .put_answer(
            &ns(),
            &key,
            &answer(r#"{"active":true}"#),
            Duration::from_millis(50),
        )
        .await
        .unwrap();
    assert_eq!(
        store.get_answer(&ns(), &key).await.unwrap(),
        Some(answer(r#"{"active":true}"#))
    );
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert_eq!(store.get_answer(&ns(), &key).await.unwrap(), None);
    // A zero TTL stores nothing.
    store
        .put_answer(&ns(), &key, &answer("{}"), Duration::ZERO)
        .await
        .unwrap();
    assert_eq!(store.get_answer(&ns(), &key).await.unwrap(), None);
}

#[tokio::test]
async fn at_the_bound_the_answer_that_ends_first_goes() {
    let store = Memory::builder().max_answers(2).build();
    let put = |seed: u8, secs: u64| {
        let store = store.clone();
        async move {
            store
                .put_answer(
                    &ns(),
                    &Digest([seed; 32]),
                    &answer("{}"),
                    Duration::from_secs(secs),
                )
                .await
                .unwrap();
        }
    };
    put(1, 100).await;
    put(2, 10).await;
    put(1, 200).await; // replaces, no eviction
    put(3, 50).await;
    assert!(
        store
            .get_answer(&ns(), &Digest([1; 32]))
            .await
            .unwrap()
            .is_some()
    );
    assert!(
        store
            .get_answer(&ns(), &Digest([2; 32]))
            .await
            .unwrap()
            .is_none()
    );
    assert!(
        store
            .get_answer(&ns(), &Digest([3; 32]))
            .await
            .unwrap()
            .is_some()
    );
}

#[tokio::test]
async fn first_use_is_true_once_per_ttl() {
    let store = Memory::new();
    let key = Digest([9; 32]);
    assert!(
        store
            .first_use(&ns(), &key, Duration::from_millis(50))
            .await
            .unwrap()
    );
    assert!(
        !store
            .first_use(&ns(), &key, Duration::from_millis(50))
            .await
            .unwrap()
    );
    tokio::time::sleep(Duration::from_millis(80)).await;
    assert!(
        store
            .first_use(&ns(), &key, Duration::from_millis(50))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn a_full_mark_store_refuses_rather_than_forgets() {
    let store = Memory::builder().max_marks(1).build();
    assert!(
        store
            .first_use(&ns(), &Digest([1; 32]), Duration::from_secs(60))
            .await
            .unwrap()
    );
    let error = store
        .first_use(&ns(), &Digest([2; 32]), Duration::from_secs(60))
        .await
        .unwrap_err();
    assert_eq!(error.kind(), StoreErrorKind::Full);
    // The first mark still holds.
    assert!(
        !store
            .first_use(&ns(), &Digest([1; 32]), Duration::from_secs(60))
            .await
            .unwrap()
    );
}

#[tokio::test]
async fn an_outage_fails_every_call_and_is_noticed() {
    let store = Memory::new();
    let fact = revoked(1, later(600));
    store.publish(&ns(), &fact).await.unwrap();
    let mut notices = store.subscribe(&ns());
    store.set_available(false);
    assert_eq!(ready(&mut notices), Some(Notice::Lost));
    let mut late = store.subscribe(&ns());
    assert_eq!(ready(&mut late), Some(Notice::Lost));

    let key = Digest([2; 32]);
    let ttl = Duration::from_secs(60);
    let kinds = [
        store
            .publish(&ns(), &revoked(3, later(600)))
            .await
            .unwrap_err()
            .kind(),
        store.load(&ns()).await.unwrap_err().kind(),
        store.get_answer(&ns(), &key).await.unwrap_err().kind(),
        store
            .put_answer(&ns(), &key, &answer("{}"), ttl)
            .await
            .unwrap_err()
            .kind(),
        store.first_use(&ns(), &key, ttl).await.unwrap_err().kind(),
    ];
    assert_eq!(kinds, [StoreErrorKind::Unavailable; 5]);
    // Saying it twice is one outage.
    store.set_available(false);
    assert_eq!(ready(&mut notices), None);

    store.set_available(true);
    assert_eq!(ready(&mut notices), Some(Notice::Reconnected));
    assert_eq!(ready(&mut late), Some(Notice::Reconnected));
    assert_eq!(store.load(&ns()).await.unwrap(), vec![fact]);
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_told_to_reload() {
    let store = Memory::builder().channel_capacity(2).build();
    let mut notices = store.subscribe(&ns());
    for seed in 1..=5 {
        store
            .publish(&ns(), &revoked(seed, later(600)))
            .await
            .unwrap();
    }
    assert_eq!(ready(&mut notices), Some(Notice::Reconnected));
    // Then the notices still in the channel.
    assert!(matches!(ready(&mut notices), Some(Notice::Fact(_))));
}

#[tokio::test]
async fn the_stream_ends_with_the_store() {
    let store = Memory::new();
    let mut notices = store.subscribe(&ns());
    drop(store);
    assert_eq!(notices.next().await, None);
}
