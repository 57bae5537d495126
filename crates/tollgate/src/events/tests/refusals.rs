//! Every refusal of a SET, with its RFC 8935 §2.4 code.

use serde_json::json;
use tollgate_mock::events::Subject;
use tollgate_mock::testing::b64_json;

use super::*;

async fn refused(receiver: &SecurityEventReceiver, set: &str) -> Option<&'static str> {
    code(receiver.receive_at(set, NOW).await)
}

#[tokio::test]
async fn a_correct_set_is_accepted() {
    let server = MockAuthServer::start().await;
    let receiver = receiver(&server, Collect::default());
    let receipt = receiver
        .receive_at(&set(&server, EventType::AccountDisabled).sign(), NOW)
        .await
        .unwrap();
    assert!(!receipt.is_repeat());
    assert_eq!(receipt.revocations().len(), 1);
}

#[tokio::test]
async fn what_is_not_a_signed_set_is_invalid_request() {
    let server = MockAuthServer::start().await;
    let receiver = receiver(&server, Collect::default());
    let good = set(&server, EventType::AccountDisabled).sign();
    let (header, rest) = good.split_once('.').unwrap();
    let header_json: Value = serde_json::from_slice(
        &base64::Engine::decode(&base64::engine::general_purpose::URL_SAFE_NO_PAD, header).unwrap(),
    )
    .unwrap();
    let with_header = |header: &Value| format!("{}.{rest}", b64_json(header));
    let jwe = "eyJhbGciOiJSU0EtT0FFUCJ9.a.b.c.d".to_owned();
    let padded = format!("{good}=");
    let repeated_header = format!(
        "{}.{rest}",
        base64::Engine::encode(
            &base64::engine::general_purpose::URL_SAFE_NO_PAD,
            br#"{"alg":"RS256","typ":"secevent+jwt","typ":"JWT"}"#
        )
    );
    for (what, bad) in [
        ("garbage", "not a token".to_owned()),
        ("two segments", good.rsplit_once('.').unwrap().0.to_owned()),
        ("a JWE", jwe),
        ("padding", padded),
        ("a repeated header member", repeated_header),
        (
            "no typ",
            with_header(&json!({"alg": header_json["alg"], "kid": header_json["kid"]})),
        ),
        (
            "typ JWT",
            with_header(
                &json!({"alg": header_json["alg"], "kid": header_json["kid"], "typ": "JWT"}),
            ),
        ),
        (
            "typ at+jwt",
            with_header(
                &json!({"alg": header_json["alg"], "kid": header_json["kid"], "typ": "at+jwt"}),
            ),
        ),
        (
            "crit",
            with_header(
                &json!({"alg": header_json["alg"], "kid": header_json["kid"], "typ": "secevent+jwt", "crit": ["exp"]}),
            ),
        ),
        (
            "no alg",
            with_header(&json!({"kid": header_json["kid"], "typ": "secevent+jwt"})),
        ),
    ] {
        assert_eq!(
            refused(&receiver, &bad).await,
            Some("invalid_request"),
            "{what}"
        );
    }
    // The media-type spellings RFC 7515 §4.1.9 allows are the same `typ`.
    for typ in [
        "application/secevent+jwt",
        "SECEVENT+JWT",
        "Application/SecEvent+JWT",
    ] {
        let set = set(&server, EventType::AccountDisabled)
            .header("typ", typ)
            .sign();
        assert!(receiver.receive_at(&set, NOW).await.is_ok(), "{typ}");
    }
}

#[tokio::test]
async fn an_untrusted_issuer_is_invalid_issuer_before_any_key_is_looked_up() {
    let server = MockAuthServer::start().await;
    let receiver = receiver(&server, Collect::default());
    for issuer in ["https://evil.example", &format!("{}/", server.issuer())] {
        let set = set(&server, EventType::AccountDisabled)
            .issuer(issuer)
            .sign();
        assert_eq!(
            refused(&receiver, &set).await,
            Some("invalid_issuer"),
            "{issuer}"
        );
    }
    // Even unsigned: the issuer is judged first.
    let set = set(&server, EventType::AccountDisabled)
        .issuer("https://evil.example")
        .unsigned()
        .sign();
    assert_eq!(refused(&receiver, &set).await, Some("invalid_issuer"));
    // No `iss` at all is not a SET.
    let set = super::set(&server, EventType::AccountDisabled)
        .remove_claim("iss")
        .sign();
    assert_eq!(refused(&receiver, &set).await, Some("invalid_request"));
}

#[tokio::test]
async fn unsigned_forged_and_tampered_sets_are_invalid_key() {
    let server = MockAuthServer::start().await;
    let sink = Collect::default();
    let receiver = receiver(&server, sink.clone());
    let unsigned = set(&server, EventType::AccountDisabled).unsigned().sign();
    assert!(unsigned.ends_with('.'));
    // `alg: none` with a signature anyway, and a real algorithm without one.
    let none_signed = format!("{}sig", unsigned);
    let good = set(&server, EventType::AccountDisabled).sign();
    let stripped = format!("{}.", good.rsplit_once('.').unwrap().0);
    let forged = set(&server, EventType::AccountDisabled)
        .unpublished_key()
        .sign();
    let unknown_kid = set(&server, EventType::AccountDisabled)
        .header("kid", "no-such-key")
        .sign();
    let hmac = {
        let parts: Vec<&str> = good.split('.').collect();
        let header =
            b64_json(&json!({"alg": "HS256", "typ": "secevent+jwt", "kid": server.signing_kid()}));
        format!("{header}.{}.{}", parts[1], parts[2])
    };
    // Another payload under the real signature.
    let tampered = {
        let other = set(&server, EventType::AccountPurged).sign();
        let parts: Vec<&str> = good.split('.').collect();
        let other_payload = other.split('.').nth(1).unwrap();
        format!("{}.{other_payload}.{}", parts[0], parts[2])
    };
    // The header says another algorithm than the key's.
    let wrong_alg = set(&server, EventType::AccountDisabled)
        .header("alg", "PS256")
        .sign();
    for (what, bad) in [
        ("unsigned", unsigned),
        ("alg none with a signature", none_signed),
        ("no signature", stripped),
        ("forged", forged),
        ("unknown kid", unknown_kid),
        ("HMAC", hmac),
        ("tampered", tampered),
        ("another algorithm", wrong_alg),
    ] {
        assert_eq!(
            refused(&receiver, &bad).await,
            Some("invalid_key"),
            "{what}"
        );
    }
    assert!(sink.calls().is_empty(), "nothing was applied");
}

#[tokio::test]
async fn a_set_for_another_receiver_is_invalid_audience() {
    let server = MockAuthServer::start().await;
    let receiver = receiver(&server, Collect::default());
    let other = set(&server, EventType::AccountDisabled)
        .audience("https://other.example/events")
        .sign();
    let none = set(&server, EventType::AccountDisabled)
        .remove_claim("aud")
        .sign();
    let not_a_string = set(&server, EventType::AccountDisabled)
        .claim("aud", 5)
        .sign();
    let others = set(&server, EventType::AccountDisabled)
        .claim("aud", json!(["https://a.example", "https://b.example"]))
        .sign();
    for (what, bad) in [
        ("another", other),
        ("none", none),
        ("a number", not_a_string),
        ("an array of others", others),
    ] {
        assert_eq!(
            refused(&receiver, &bad).await,
            Some("invalid_audience"),
            "{what}"
        );
    }
    let among = set(&server, EventType::AccountDisabled)
        .claim("aud", json!(["https://a.example", AUD]))
        .sign();
    assert!(receiver.receive_at(&among, NOW).await.is_ok());
}

#[tokio::test]
async fn envelope_claims_are_checked_after_the_signature() {
    let server = MockAuthServer::start().await;
    let receiver = receiver_with(&server, Collect::default(), |b| {
        b.max_set_age(Duration::from_secs(3600))
    });
    let base = || set(&server, EventType::AccountDisabled);
    for (what, bad) in [
        ("sub", base().claim("sub", "alice").sign()),
        ("exp", base().claim("exp", NOW + 60).sign()),
        ("no iat", base().remove_claim("iat").sign()),
        ("iat a string", base().claim("iat", "now").sign()),
        ("iat negative", base().claim("iat", -1).sign()),
        ("iat in the future", base().issued_at(NOW + 61).sign()),
        ("iat too old", base().issued_at(NOW - 3600 - 61).sign()),
        ("no jti", base().remove_claim("jti").sign()),
        ("empty jti", base().jti("").sign()),
        ("toe a string", base().claim("toe", "yesterday").sign()),
        ("txn a number", base().claim("txn", 5).sign()),
        ("no events", base().remove_claim("events").sign()),
        ("events empty", base().claim("events", json!({})).sign()),
        ("events an array", base().claim("events", json!([])).sign()),
        (
            "payload not an object",
            base()
                .claim("events", json!({uri::RISC_ACCOUNT_DISABLED: true}))
                .sign(),
        ),
        (
            "event not a URI",
            base()
                .claim("events", json!({"account-disabled": {}}))
                .sign(),
        ),
        (
            "sub_id malformed",
            base()
                .subject(Subject::raw(
                    json!({"format": "iss_sub", "iss": server.issuer()}),
                ))
                .sign(),
        ),
        ("repeated member in a subject", {
            // serde_json cannot write it: splice the repetition into the payload text.
            let claims = base().claims().to_string();
            let spliced = claims.replacen(
                "\"format\":\"iss_sub\"",
                "\"format\":\"opaque\",\"format\":\"iss_sub\"",
                1,
            );
            assert_ne!(claims, spliced);
            let header =
                json!({"alg": "RS256", "typ": "secevent+jwt", "kid": server.signing_kid()});
            server.sign_raw_bytes(
                header.to_string().as_bytes(),
                spliced.as_bytes(),
                &server.signing_kid(),
                tollgate_mock::Algorithm::RS256,
            )
        }),
    ] {
        assert_eq!(
            refused(&receiver, &bad).await,
            Some("invalid_request"),
            "{what}"
        );
    }
    // Within the leeway and the age bound: accepted.
    assert!(
        receiver
            .receive_at(&base().issued_at(NOW + 60).sign(), NOW)
            .await
            .is_ok()
    );
    assert!(
        receiver
            .receive_at(&base().issued_at(NOW - 3600).sign(), NOW)
            .await
            .is_ok()
    );
}

#[tokio::test]
async fn without_an_age_bound_an_old_set_is_accepted_and_revokes_nothing_live() {
    let server = MockAuthServer::start().await;
    let receiver = receiver(&server, Collect::default());
    let old = set(&server, EventType::AccountDisabled)
        .issued_at(NOW - 30 * 24 * 3600)
        .sign();
    let receipt = receiver.receive_at(&old, NOW).await.unwrap();
    let [Revocation::Rule(rule)] = receipt.revocations() else {
        panic!("{receipt:?}")
    };
    assert!(rule.until < NOW, "the rule is born expired: {rule:?}");
}

#[tokio::test]
async fn malformed_events_are_invalid_request() {
    let server = MockAuthServer::start().await;
    let receiver = receiver(&server, Collect::default());
    for (what, bad) in [
        (
            "credential-change without change_type",
            set(&server, EventType::CredentialChange)
                .remove_event_claim("change_type")
                .sign(),
        ),
        (
            "credential-change without credential_type",
            set(&server, EventType::CredentialChange)
                .remove_event_claim("credential_type")
                .sign(),
        ),
        (
            "an unknown change_type",
            set(&server, EventType::CredentialChange)
                .event_claim("change_type", "rotate")
                .sign(),
        ),
        (
            "credential-compromise without credential_type",
            set(&server, EventType::CredentialCompromise)
                .remove_event_claim("credential_type")
                .sign(),
        ),
        (
            "no subject at all",
            set(&server, EventType::AccountDisabled)
                .remove_claim("sub_id")
                .sign(),
        ),
        (
            "a malformed legacy subject",
            set(&server, EventType::AccountDisabled)
                .subject_in_event(Subject::raw(json!({"format": "opaque"})))
                .sign(),
        ),
        (
            "event_timestamp a string",
            set(&server, EventType::SessionRevoked)
                .event_claim("event_timestamp", "now")
                .sign(),
        ),
        (
            "event_timestamp in the future",
            set(&server, EventType::SessionRevoked)
                .event_timestamp(NOW + 61)
                .sign(),
        ),
    ] {
        assert_eq!(
            refused(&receiver, &bad).await,
            Some("invalid_request"),
            "{what}"
        );
    }
    // A malformed event refuses the whole SET, even beside a good one.
    let mixed = set(&server, EventType::AccountDisabled)
        .claim(
            "events",
            json!({
                uri::RISC_ACCOUNT_DISABLED: {},
                uri::CAEP_CREDENTIAL_CHANGE: {"credential_type": "password"},
            }),
        )
        .sign();
    assert_eq!(refused(&receiver, &mixed).await, Some("invalid_request"));
}

#[tokio::test]
async fn tokens_of_an_issuer_the_transmitter_does_not_speak_for_are_access_denied() {
    let server = MockAuthServer::start().await;
    let sink = Collect::default();
    let receiver = receiver(&server, sink.clone());
    for subject in [
        Subject::iss_sub("https://other-as.example", "alice"),
        Subject::jwt_id("https://other-as.example", "j-1"),
        Subject::session("s-1", Subject::iss_sub("https://other-as.example", "alice")),
    ] {
        let bad = set(&server, EventType::SessionRevoked)
            .subject(subject.clone())
            .sign();
        assert_eq!(
            refused(&receiver, &bad).await,
            Some("access_denied"),
            "{subject:?}"
        );
    }
    assert!(sink.calls().is_empty());

    // Configured for it, the same SET is accepted.
    let receiver = SecurityEventReceiver::builder(AUD)
        .transmitter(Transmitter::new(server.issuer()).token_issuer("https://other-as.example"))
        .build(MockKeys::of(&server), Collect::default())
        .unwrap();
    let ok = set(&server, EventType::SessionRevoked)
        .subject(Subject::iss_sub("https://other-as.example", "alice"))
        .sign();
    assert!(receiver.receive_at(&ok, NOW).await.is_ok());
}

#[tokio::test]
async fn keys_not_loaded_and_a_full_memory_are_503_with_retry_after() {
    let server = MockAuthServer::start().await;
    let receiver = SecurityEventReceiver::builder(AUD)
        .transmitter(Transmitter::new(server.issuer()))
        .build(NoKeysYet, Collect::default())
        .unwrap();
    let refusal = receiver
        .receive_at(&set(&server, EventType::AccountDisabled).sign(), NOW)
        .await
        .unwrap_err();
    assert_eq!(refusal.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(
        (refusal.code(), refusal.retry_after()),
        (None, Some(Duration::from_secs(7)))
    );

    let sink = Collect::default();
    sink.set_full(true);
    let receiver = super::receiver(&server, sink);
    let refusal = receiver
        .receive_at(&set(&server, EventType::AccountDisabled).sign(), NOW)
        .await
        .unwrap_err();
    assert_eq!(refusal.status(), http::StatusCode::SERVICE_UNAVAILABLE);
    assert!(refusal.retry_after().is_some());
}

#[tokio::test]
async fn descriptions_never_repeat_the_set() {
    let server = MockAuthServer::start().await;
    let receiver = receiver(&server, Collect::default());
    let secret = "alice-secret-subject";
    for bad in [
        set(&server, EventType::AccountDisabled)
            .subject(Subject::raw(json!({"format": "iss_sub", "iss": secret})))
            .sign(),
        set(&server, EventType::AccountDisabled)
            .issuer(secret)
            .sign(),
        set(&server, EventType::AccountDisabled)
            .audience(secret)
            .sign(),
    ] {
        let refusal = receiver.receive_at(&bad, NOW).await.unwrap_err();
        assert!(!refusal.to_string().contains(secret), "{refusal}");
        assert!(refusal.code().is_some(), "{refusal}");
    }
}

#[test]
fn every_rfc_8935_code_is_spelled_as_registered() {
    let codes: Vec<&str> = ErrorCode::ALL.iter().map(|code| code.as_str()).collect();
    assert_eq!(
        codes,
        [
            "invalid_request",
            "invalid_key",
            "invalid_issuer",
            "invalid_audience",
            "authentication_failed",
            "access_denied"
        ]
    );
}

#[test]
fn the_builder_refuses_what_cannot_work() {
    let build = |builder: ReceiverBuilder| builder.build(NoKeysYet, Collect::default()).map(|_| ());
    let transmitter = || Transmitter::new("https://as.example");
    let kinds = [
        build(SecurityEventReceiver::builder(AUD)),
        build(SecurityEventReceiver::builder("").transmitter(transmitter())),
        build(SecurityEventReceiver::builder(AUD).transmitter(Transmitter::new(""))),
        build(
            SecurityEventReceiver::builder(AUD)
                .transmitter(transmitter())
                .transmitter(transmitter()),
        ),
        build(
            SecurityEventReceiver::builder(AUD)
                .transmitter(transmitter())
                .leeway(Duration::from_secs(3601)),
        ),
        build(
            SecurityEventReceiver::builder(AUD)
                .transmitter(transmitter())
                .longest_token_lifetime(Duration::ZERO),
        ),
        build(
            SecurityEventReceiver::builder(AUD)
                .transmitter(transmitter())
                .max_body_bytes(0),
        ),
        build(
            SecurityEventReceiver::builder(AUD)
                .transmitter(transmitter())
                .max_body_bytes(2 << 20),
        ),
        build(
            SecurityEventReceiver::builder(AUD)
                .transmitter(transmitter())
                .authorization("Bearer a\nb"),
        ),
        build(
            SecurityEventReceiver::builder(AUD).transmitter(transmitter().only_token_issuers([""])),
        ),
        build(
            SecurityEventReceiver::builder(AUD)
                .transmitter(transmitter().only_token_issuers(Vec::<String>::new())),
        ),
    ]
    .map(|result| result.unwrap_err().kind());
    use crate::ConfigErrorKind::*;
    assert_eq!(
        kinds,
        [
            Missing,
            Audience,
            Missing,
            Bounds,
            Bounds,
            Bounds,
            Bounds,
            Bounds,
            Credentials,
            Missing,
            Missing
        ]
    );
    assert!(build(SecurityEventReceiver::builder(AUD).transmitter(transmitter())).is_ok());
}

#[tokio::test]
async fn a_transmitter_for_other_issuers_only_may_not_revoke_its_own_tokens() {
    let server = MockAuthServer::start().await;
    let other = "https://users.example";
    let transmitter = Transmitter::new(server.issuer())
        .only_token_issuers([other, other])
        .token_issuer(other);
    assert_eq!(transmitter.token_issuers(), [other]);
    let receiver = SecurityEventReceiver::builder(AUD)
        .transmitter(transmitter)
        .build(MockKeys::of(&server), Collect::default())
        .unwrap();
    let own = set(&server, EventType::AccountDisabled).sign();
    assert_eq!(refused(&receiver, &own).await, Some("access_denied"));
    let theirs = set(&server, EventType::AccountDisabled)
        .subject(Subject::iss_sub(other, "alice"))
        .sign();
    assert!(receiver.receive_at(&theirs, NOW).await.is_ok());
}
