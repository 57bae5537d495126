//! De-duplication: a repeat is accepted and not applied again (RFC 8935 §2).

use tollgate_mock::events::Subject;

use super::*;

#[tokio::test]
async fn a_repeat_is_accepted_and_not_applied_again() {
    let server = MockAuthServer::start().await;
    let sink = Collect::default();
    let receiver = receiver(&server, sink.clone());
    let set = set(&server, EventType::AccountDisabled).sign();
    let first = receiver.receive_at(&set, NOW).await.unwrap();
    let again = receiver.receive_at(&set, NOW + 5).await.unwrap();
    assert!(!first.is_repeat() && again.is_repeat());
    assert!(again.revocations().is_empty());
    assert_eq!(sink.calls().len(), 1);

    // Another SET with the same issuer and `jti` (a replay with other content) is a repeat
    // too: `jti` identifies the SET (RFC 8417 §2.2).
    let replay = super::set(&server, EventType::AccountPurged)
        .jti(jti_of(&set))
        .sign();
    assert!(receiver.receive_at(&replay, NOW).await.unwrap().is_repeat());
    assert_eq!(sink.calls().len(), 1);
    let stats = receiver.stats();
    assert_eq!((stats.received, stats.accepted, stats.repeats), (3, 1, 2));
}

#[tokio::test]
async fn the_same_jti_from_another_issuer_is_another_set() {
    let one = MockAuthServer::builder().fresh_key().start().await;
    let two = MockAuthServer::builder().fresh_key().start().await;
    let sink = Collect::default();
    // One receiver trusting both, with both key sets.
    let mut keys = MockKeys::of(&one);
    keys.0.extend(MockKeys::of(&two).0);
    let receiver = SecurityEventReceiver::builder(AUD)
        .transmitter(Transmitter::new(one.issuer()))
        .transmitter(Transmitter::new(two.issuer()))
        .build(keys, sink.clone())
        .unwrap();
    for server in [&one, &two] {
        let set = set(server, EventType::AccountDisabled)
            .subject(Subject::iss_sub(server.issuer(), "alice"))
            .jti("shared-jti")
            .sign();
        assert!(!receiver.receive_at(&set, NOW).await.unwrap().is_repeat());
    }
    assert_eq!(sink.calls().len(), 2);
}

#[tokio::test]
async fn a_refused_set_is_not_remembered() {
    let server = MockAuthServer::start().await;
    let sink = Collect::default();
    let receiver = receiver(&server, sink.clone());
    let set = set(&server, EventType::AccountDisabled).sign();
    sink.set_full(true);
    assert!(receiver.receive_at(&set, NOW).await.is_err());
    // Delivered again once there is room: applied, not taken for a repeat.
    sink.set_full(false);
    let receipt = receiver.receive_at(&set, NOW).await.unwrap();
    assert!(!receipt.is_repeat());
    assert_eq!(sink.calls().len(), 1);

    // A SET refused for its content is refused again, with the same code.
    let bad = super::set(&server, EventType::AccountDisabled)
        .audience("https://other.example")
        .sign();
    for _ in 0..2 {
        assert_eq!(
            code(receiver.receive_at(&bad, NOW).await),
            Some("invalid_audience")
        );
    }
}

#[tokio::test]
async fn a_repeat_is_forgotten_once_it_can_revoke_nothing_more() {
    let server = MockAuthServer::start().await;
    let sink = Collect::default();
    let receiver = receiver_with(&server, sink.clone(), |b| {
        b.longest_token_lifetime(Duration::from_secs(600))
    });
    let set = set(&server, EventType::AccountDisabled).sign();
    receiver.receive_at(&set, NOW).await.unwrap();
    assert!(
        receiver
            .receive_at(&set, NOW + 659)
            .await
            .unwrap()
            .is_repeat()
    );
    // Past iat + lifetime + leeway its rule is born expired: applying it again is harmless.
    let late = receiver.receive_at(&set, NOW + 660).await.unwrap();
    assert!(!late.is_repeat());
    let Revocation::Rule(rule) = &late.revocations()[0] else {
        panic!("a rule")
    };
    assert!(rule.until <= NOW + 660, "{rule:?}");
}

#[tokio::test]
async fn a_bounded_ledger_forgets_the_oldest_and_counts_it() {
    let server = MockAuthServer::start().await;
    let sink = Collect::default();
    let receiver = receiver_with(&server, sink.clone(), |b| b.dedup_capacity(2));
    let sets: Vec<String> = (0..3)
        .map(|_| set(&server, EventType::AccountDisabled).sign())
        .collect();
    for set in &sets {
        receiver.receive_at(set, NOW).await.unwrap();
    }
    assert_eq!(receiver.stats().ledger_evicted, 1);
    // The first was forgotten: applied again. The last is still known.
    assert!(
        !receiver
            .receive_at(&sets[0], NOW)
            .await
            .unwrap()
            .is_repeat()
    );
    assert!(
        receiver
            .receive_at(&sets[2], NOW)
            .await
            .unwrap()
            .is_repeat()
    );
}

fn jti_of(set: &str) -> String {
    let [_, payload, _] = tollgate_mock::testing::segments(set);
    let claims = tollgate_mock::testing::segment_json(&payload).unwrap();
    claims["jti"].as_str().unwrap().to_owned()
}
