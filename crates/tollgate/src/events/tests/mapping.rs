//! The mapping table of the module documentation, event by event and subject by subject.

use serde_json::json;
use tollgate_mock::events::Subject;

use super::*;
use crate::rules::{RuleMemory, RuleStamp, TokenIds};
use crate::store::{RevocationRule, RuleTarget};

/// An earlier time than the SET's `iat`, for `event_timestamp`.
const EVENT: i64 = NOW - 300;

fn rule(issuer: &str, target: RuleTarget, issued_before: Option<i64>) -> Revocation {
    let until = issued_before.unwrap_or(NOW) + LIFE;
    Revocation::Rule(RevocationRule {
        issuer: issuer.into(),
        target,
        issued_before,
        until,
    })
}

fn sub(value: &str) -> RuleTarget {
    RuleTarget::Subject(value.into())
}

fn sid(value: &str) -> RuleTarget {
    RuleTarget::Session(value.into())
}

async fn revocations(receiver: &SecurityEventReceiver, set: String) -> Vec<Revocation> {
    let receipt = receiver
        .receive_at(&set, NOW)
        .await
        .unwrap_or_else(|refusal| panic!("{refusal}"));
    receipt.revocations().to_vec()
}

#[tokio::test]
async fn each_event_maps_as_the_table_says() {
    let server = MockAuthServer::start().await;
    let iss = server.issuer();
    let receiver = receiver(&server, Collect::default());
    let alice = || Subject::iss_sub(iss.clone(), "alice");
    let before_event = vec![rule(&iss, sub("alice"), Some(EVENT))];
    let cases: Vec<(&str, SecurityEventBuilder<'_>, Vec<Revocation>)> = vec![
        (
            "session-revoked, opaque session",
            set(&server, EventType::SessionRevoked).subject(Subject::opaque("s-1")),
            vec![rule(&iss, sid("s-1"), Some(EVENT))],
        ),
        (
            "session-revoked, complex session and user",
            set(&server, EventType::SessionRevoked).subject(Subject::session("s-1", alice())),
            vec![rule(&iss, sid("s-1"), Some(EVENT))],
        ),
        (
            "session-revoked, complex user and device",
            set(&server, EventType::SessionRevoked).subject(Subject::complex([
                ("user", alice()),
                ("device", Subject::opaque("laptop")),
            ])),
            before_event.clone(),
        ),
        (
            "session-revoked, iss_sub",
            set(&server, EventType::SessionRevoked).subject(alice()),
            before_event.clone(),
        ),
        (
            "sessions-revoked (RISC, deprecated)",
            set(&server, EventType::SessionsRevoked).subject(alice()),
            before_event.clone(),
        ),
        (
            "credential-change update",
            set(&server, EventType::CredentialChange),
            before_event.clone(),
        ),
        (
            "credential-change revoke",
            set(&server, EventType::CredentialChange).event_claim("change_type", "revoke"),
            before_event.clone(),
        ),
        (
            "credential-change delete",
            set(&server, EventType::CredentialChange).event_claim("change_type", "delete"),
            before_event.clone(),
        ),
        (
            "credential-change create",
            set(&server, EventType::CredentialChange).event_claim("change_type", "create"),
            vec![],
        ),
        (
            "account-credential-change-required",
            set(&server, EventType::AccountCredentialChangeRequired),
            before_event.clone(),
        ),
        (
            "credential-compromise",
            set(&server, EventType::CredentialCompromise),
            before_event.clone(),
        ),
        (
            "account-disabled",
            set(&server, EventType::AccountDisabled),
            before_event.clone(),
        ),
        (
            "account-purged: every token, whenever issued",
            set(&server, EventType::AccountPurged),
            vec![rule(&iss, sub("alice"), None)],
        ),
        (
            "tokens-revoked (OAuth draft)",
            set(&server, EventType::TokensRevoked).subject_in_event(alice().legacy()),
            before_event.clone(),
        ),
        (
            "token-revoked, jwt_id",
            set(&server, EventType::TokenRevoked).subject(Subject::jwt_id(iss.clone(), "j-1")),
            vec![rule(&iss, RuleTarget::Jti("j-1".into()), None)],
        ),
        (
            "token-revoked never revokes an account",
            set(&server, EventType::TokenRevoked).subject(alice()),
            vec![],
        ),
        (
            "account-enabled: ignored",
            set(&server, EventType::AccountEnabled),
            vec![],
        ),
        (
            "token-claims-change: ignored",
            set(&server, EventType::TokenClaimsChange),
            vec![],
        ),
        (
            "SSF verification: ignored",
            set(&server, EventType::Verification).subject(Subject::opaque("stream-1")),
            vec![],
        ),
        (
            "an unknown event: ignored",
            set(
                &server,
                EventType::Custom("https://example.com/events/lunch".into()),
            ),
            vec![],
        ),
    ];
    for (what, builder, expected) in cases {
        let set = builder.event_timestamp(EVENT).sign();
        assert_eq!(revocations(&receiver, set).await, expected, "{what}");
    }
}

#[tokio::test]
async fn each_subject_format_maps_as_the_table_says() {
    let server = MockAuthServer::start().await;
    let iss = server.issuer();
    let other = "https://second-as.example";
    let receiver = SecurityEventReceiver::builder(AUD)
        .transmitter(Transmitter::new(iss.clone()).token_issuer(other))
        .build(MockKeys::of(&server), Collect::default())
        .unwrap();
    let before = |issuer: &str, target| rule(issuer, target, Some(EVENT));
    let cases = vec![
        (
            "iss_sub: its own issuer",
            Subject::iss_sub(other, "bob"),
            vec![before(other, sub("bob"))],
        ),
        (
            "opaque: the sub, for each issuer",
            Subject::opaque("u-1"),
            vec![before(&iss, sub("u-1")), before(other, sub("u-1"))],
        ),
        (
            "email: ignored by default",
            Subject::email("a@example.com"),
            vec![],
        ),
        (
            "jwt_id: that token",
            Subject::jwt_id(other, "j-9"),
            vec![rule(other, RuleTarget::Jti("j-9".into()), None)],
        ),
        (
            "aliases: each one that maps",
            Subject::aliases([
                Subject::email("a@example.com"),
                Subject::iss_sub(iss.clone(), "alice"),
                Subject::raw(json!({"format": "phone_number", "phone_number": "+12065550100"})),
            ]),
            vec![before(&iss, sub("alice"))],
        ),
        (
            "complex: its user",
            Subject::complex([
                ("user", Subject::iss_sub(iss.clone(), "alice")),
                ("tenant", Subject::opaque("t-1")),
            ]),
            vec![before(&iss, sub("alice"))],
        ),
        (
            "complex: a device alone maps to nothing",
            Subject::complex([("device", Subject::opaque("laptop"))]),
            vec![],
        ),
        (
            "oauth_client: its tokens",
            Subject::raw(json!({"subject_type": "oauth_client", "client_id": "app"})),
            vec![
                before(&iss, RuleTarget::Client("app".into())),
                before(other, RuleTarget::Client("app".into())),
            ],
        ),
        (
            "legacy spellings",
            Subject::iss_sub(iss.clone(), "alice").legacy(),
            vec![before(&iss, sub("alice"))],
        ),
        (
            "a format tollgate does not know",
            Subject::raw(json!({"format": "x-acme-badge", "badge": 7})),
            vec![],
        ),
    ];
    for (what, subject, expected) in cases {
        let set = set(&server, EventType::CredentialCompromise)
            .subject(subject)
            .event_timestamp(EVENT)
            .sign();
        assert_eq!(revocations(&receiver, set).await, expected, "{what}");
    }
}

#[tokio::test]
async fn the_cut_off_is_event_timestamp_then_toe_then_iat() {
    let server = MockAuthServer::start().await;
    let receiver = receiver(&server, Collect::default());
    let iss = server.issuer();
    let at = |before| vec![rule(&iss, sub("alice"), Some(before))];
    let base = || set(&server, EventType::AccountDisabled);
    let cases = vec![
        ("iat", base(), at(NOW)),
        ("toe", base().claim("toe", NOW - 50), at(NOW - 50)),
        (
            "event_timestamp over toe",
            base().claim("toe", NOW - 50).event_timestamp(NOW - 70),
            at(NOW - 70),
        ),
        (
            "fractional seconds round down",
            base().event_claim("event_timestamp", (NOW - 10) as f64 + 0.9),
            at(NOW - 10),
        ),
        (
            "milliseconds (2021 CAEP drafts)",
            base().event_timestamp((NOW - 20) * 1000),
            at(NOW - 20),
        ),
    ];
    for (what, builder, expected) in cases {
        assert_eq!(
            revocations(&receiver, builder.sign()).await,
            expected,
            "{what}"
        );
    }
}

#[tokio::test]
async fn the_subject_inside_the_event_is_read_when_there_is_no_sub_id() {
    let server = MockAuthServer::start().await;
    let receiver = receiver(&server, Collect::default());
    let iss = server.issuer();
    // Older CAEP: the subject inside the event, a complex one without its format.
    let set = set(&server, EventType::SessionRevoked)
        .subject_in_event(Subject::session("s-7", Subject::iss_sub(iss.clone(), "alice")).legacy())
        .sign();
    assert_eq!(
        revocations(&receiver, set).await,
        vec![rule(&iss, sid("s-7"), Some(NOW))]
    );
    // With both, `sub_id` wins and the two are not combined (RFC 9493 §4.1).
    let both = super::set(&server, EventType::SessionRevoked)
        .subject(Subject::opaque("s-8"))
        .event_claim("subject", Subject::opaque("s-9").to_value())
        .sign();
    assert_eq!(
        revocations(&receiver, both).await,
        vec![rule(&iss, sid("s-8"), Some(NOW))]
    );
}

#[tokio::test]
async fn email_subjects_map_only_when_the_issuer_uses_them_as_sub() {
    let server = MockAuthServer::start().await;
    let iss = server.issuer();
    let email = || {
        set(&server, EventType::AccountDisabled)
            .subject(Subject::email("alice@example.com"))
            .sign()
    };
    let receiver = receiver(&server, Collect::default());
    let receipt = receiver.receive_at(&email(), NOW).await.unwrap();
    assert_eq!(
        (receipt.revocations().len(), receipt.ignored_events()),
        (0, 1)
    );

    let receiver = receiver_with(&server, Collect::default(), |b| b.email_is_subject(true));
    assert_eq!(
        revocations(&receiver, email()).await,
        vec![rule(&iss, sub("alice@example.com"), Some(NOW))]
    );
}

#[tokio::test]
async fn a_revoked_access_token_is_remembered_by_digest_never_by_value() {
    let server = MockAuthServer::start().await;
    let receiver = receiver(&server, Collect::default());
    let token = server.token().sign();
    let set = set(&server, EventType::TokenRevoked)
        .subject_in_event(Subject::oauth_access_token(token.clone()))
        .sign();
    let got = revocations(&receiver, set).await;
    let signed_part = &token[..=token.rfind('.').unwrap()];
    assert_eq!(
        got,
        vec![Revocation::Token {
            issuer: server.issuer(),
            token: crate::store::Digest::of(signed_part.as_bytes()),
            until: NOW + LIFE,
        }]
    );
    assert!(!format!("{got:?}").contains(&token[..20]));
    // An opaque token: its whole value.
    let set = super::set(&server, EventType::TokenRevoked)
        .subject_in_event(Subject::oauth_access_token("opaque-123"))
        .sign();
    let Revocation::Token { token, .. } = &revocations(&receiver, set).await[0] else {
        panic!("a token")
    };
    assert_eq!(*token, crate::store::Digest::of(b"opaque-123"));
}

#[tokio::test]
async fn several_events_in_one_set_are_all_mapped() {
    let server = MockAuthServer::start().await;
    let receiver = receiver(&server, Collect::default());
    let iss = server.issuer();
    let set = set(&server, EventType::AccountDisabled)
        .also_event(EventType::AccountEnabled)
        .also_event(EventType::AccountPurged)
        .sign();
    let receipt = receiver.receive_at(&set, NOW).await.unwrap();
    assert_eq!(receipt.ignored_events(), 1);
    let mut got = receipt.revocations().to_vec();
    got.sort_by_key(|r| match r {
        Revocation::Rule(rule) => rule.issued_before,
        _ => None,
    });
    assert_eq!(
        got,
        vec![
            rule(&iss, sub("alice"), None),
            rule(&iss, sub("alice"), Some(NOW))
        ]
    );
}

/// The whole path: a pushed SET becomes a rule in the rule memory, which refuses Alice's
/// older tokens and keeps her fresh one.
#[tokio::test]
async fn a_set_applied_to_the_rule_memory_refuses_older_tokens_only() {
    struct Rules(Arc<RuleMemory>);
    impl RevocationSink for Rules {
        fn apply(&self, revocations: &[Revocation]) -> Result<(), SinkError> {
            for revocation in revocations {
                if let Revocation::Rule(rule) = revocation {
                    self.0.add(rule, NOW).map_err(|_| SinkError::full())?;
                }
            }
            Ok(())
        }
    }
    let server = MockAuthServer::start().await;
    let memory = Arc::new(RuleMemory::new(10));
    let receiver = SecurityEventReceiver::builder(AUD)
        .transmitter(Transmitter::new(server.issuer()))
        .build(MockKeys::of(&server), Rules(memory.clone()))
        .unwrap();
    let stamp = RuleStamp::new();
    let issuer = server.issuer();
    let alice = |iat| TokenIds {
        issuer: &issuer,
        jti: Some("j"),
        subject: Some("alice"),
        client_id: Some("app"),
        session: Some("s"),
        issued_at: Some(iat),
    };
    assert!(!memory.check(&stamp, &alice(EVENT - 1), NOW));

    let set = set(&server, EventType::CredentialChange)
        .event_timestamp(EVENT)
        .sign();
    receiver.receive_at(&set, NOW).await.unwrap();
    assert!(
        memory.check(&stamp, &alice(EVENT - 1), NOW),
        "issued before the change"
    );
    assert!(
        !memory.check(&RuleStamp::new(), &alice(EVENT), NOW),
        "issued after it"
    );

    // At the memory's bound, the SET is answered 503 and nothing is lost: delivered again
    // once there is room, it applies.
    let full = Arc::new(RuleMemory::new(1));
    let receiver = SecurityEventReceiver::builder(AUD)
        .transmitter(Transmitter::new(server.issuer()))
        .build(MockKeys::of(&server), Rules(full.clone()))
        .unwrap();
    full.add(
        &RevocationRule {
            issuer: issuer.clone(),
            target: sub("bob"),
            issued_before: None,
            until: NOW + 10,
        },
        NOW,
    )
    .unwrap();
    let set = super::set(&server, EventType::AccountDisabled).sign();
    let refusal = receiver.receive_at(&set, NOW).await.unwrap_err();
    assert_eq!(refusal.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    full.sweep(NOW + 10);
    receiver.receive_at(&set, NOW).await.unwrap();
    assert!(full.covers(&alice(NOW - 1), NOW));
}
