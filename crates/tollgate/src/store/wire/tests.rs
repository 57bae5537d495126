use super::*;

fn revoked() -> Fact {
    Fact::Revoked {
        token: Digest::of(b"header.payload."),
        until: 1_767_225_600,
    }
}

fn rule(target: RuleTarget, issued_before: Option<i64>) -> Fact {
    Fact::Rule(RevocationRule {
        issuer: "https://as.example".into(),
        target,
        issued_before,
        until: 1_767_225_600,
    })
}

fn all_facts() -> Vec<Fact> {
    vec![
        revoked(),
        rule(RuleTarget::Subject("alice".into()), Some(1_767_222_000)),
        rule(RuleTarget::Client("client-1".into()), None),
        rule(RuleTarget::Session("s\"ess\u{e9}".into()), Some(0)),
        rule(RuleTarget::Jti("j-1".into()), None),
    ]
}

fn refused(text: &str) -> StoreError {
    match decode_fact(text.as_bytes()) {
        Ok(fact) => panic!("accepted {text}: {fact:?}"),
        Err(error) => {
            assert_eq!(error.kind(), StoreErrorKind::Malformed, "{text}: {error}");
            error
        }
    }
}

const TOKEN: &str = "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA";

#[test]
fn every_fact_round_trips() {
    for fact in all_facts() {
        let text = encode_fact(&fact).unwrap();
        assert_eq!(decode_fact(text.as_bytes()).unwrap(), fact, "{text}");
    }
}

#[test]
fn the_documented_examples_are_what_is_written() {
    let revoked = Fact::Revoked {
        token: Digest([0; 32]),
        until: 1_767_225_600,
    };
    assert_eq!(
        encode_fact(&revoked).unwrap(),
        format!(r#"{{"v":1,"type":"revoked","token":"{TOKEN}","until":1767225600}}"#)
    );
    assert_eq!(
        encode_fact(&rule(
            RuleTarget::Subject("alice".into()),
            Some(1_767_222_000)
        ))
        .unwrap(),
        r#"{"v":1,"type":"rule","iss":"https://as.example","target":{"sub":"alice"},"issued_before":1767222000,"until":1767225600}"#
    );
    let answer = StoredAnswer {
        fetched_at: 1_767_222_000_123,
        body: Bytes::from_static(br#"{"active":true}"#),
    };
    assert_eq!(
        encode_answer(&answer).unwrap(),
        r#"{"v":1,"fetched_at":1767222000123,"body":"{\"active\":true}"}"#
    );
}

#[test]
fn members_may_come_in_any_order() {
    let text = format!(r#"{{"until":5,"token":"{TOKEN}","type":"revoked","v":1}}"#);
    assert_eq!(
        decode_fact(text.as_bytes()).unwrap(),
        Fact::Revoked {
            token: Digest([0; 32]),
            until: 5
        }
    );
}

#[test]
fn garbage_is_refused_whole() {
    let cases = [
        "".to_owned(),
        " ".to_owned(),
        "null".to_owned(),
        "[]".to_owned(),
        "{}".to_owned(),
        "not json".to_owned(),
        "\u{0}\u{1}\u{2}".to_owned(),
        // Version: missing, another number, another type.
        format!(r#"{{"type":"revoked","token":"{TOKEN}","until":5}}"#),
        format!(r#"{{"v":2,"type":"revoked","token":"{TOKEN}","until":5}}"#),
        format!(r#"{{"v":0,"type":"revoked","token":"{TOKEN}","until":5}}"#),
        format!(r#"{{"v":"1","type":"revoked","token":"{TOKEN}","until":5}}"#),
        format!(r#"{{"v":1.0,"type":"revoked","token":"{TOKEN}","until":5}}"#),
        format!(r#"{{"v":-1,"type":"revoked","token":"{TOKEN}","until":5}}"#),
        // Type: unknown, missing, another case.
        format!(r#"{{"v":1,"type":"revoke","token":"{TOKEN}","until":5}}"#),
        format!(r#"{{"v":1,"type":"Revoked","token":"{TOKEN}","until":5}}"#),
        format!(r#"{{"v":1,"token":"{TOKEN}","until":5}}"#),
        // Members: unknown, repeated, trailing data.
        format!(r#"{{"v":1,"type":"revoked","token":"{TOKEN}","until":5,"extra":1}}"#),
        format!(r#"{{"v":1,"type":"revoked","token":"{TOKEN}","token":"{TOKEN}","until":5}}"#),
        format!(r#"{{"v":1,"type":"revoked","token":"{TOKEN}","until":5,"until":6}}"#),
        format!(r#"{{"v":1,"type":"revoked","token":"{TOKEN}","until":5}} x"#),
        format!(r#"{{"v":1,"type":"revoked","token":"{TOKEN}","until":5}}{{}}"#),
        format!(r#"{{"v":1,"type":"revoked","token":"{TOKEN}","until":5"#),
        // The token: wrong length, padding, standard alphabet, stray bits, another type.
        r#"{"v":1,"type":"revoked","token":"AAAA","until":5}"#.to_owned(),
        format!(r#"{{"v":1,"type":"revoked","token":"{TOKEN}A","until":5}}"#),
        format!(r#"{{"v":1,"type":"revoked","token":"{TOKEN}=","until":5}}"#),
        format!(
            r#"{{"v":1,"type":"revoked","token":"{}+","until":5}}"#,
            &TOKEN[..42]
        ),
        format!(
            r#"{{"v":1,"type":"revoked","token":"{}B","until":5}}"#,
            &TOKEN[..42]
        ),
        r#"{"v":1,"type":"revoked","token":null,"until":5}"#.to_owned(),
        r#"{"v":1,"type":"revoked","token":[0],"until":5}"#.to_owned(),
        r#"{"v":1,"type":"revoked","until":5}"#.to_owned(),
        // Until: missing, zero, negative, a float, a string, out of range.
        format!(r#"{{"v":1,"type":"revoked","token":"{TOKEN}"}}"#),
        format!(r#"{{"v":1,"type":"revoked","token":"{TOKEN}","until":0}}"#),
        format!(r#"{{"v":1,"type":"revoked","token":"{TOKEN}","until":-5}}"#),
        format!(r#"{{"v":1,"type":"revoked","token":"{TOKEN}","until":5.5}}"#),
        format!(r#"{{"v":1,"type":"revoked","token":"{TOKEN}","until":"5"}}"#),
        format!(r#"{{"v":1,"type":"revoked","token":"{TOKEN}","until":1e3}}"#),
        format!(r#"{{"v":1,"type":"revoked","token":"{TOKEN}","until":99999999999999999999}}"#),
        // A revoked token with parts of a rule, a rule with a token.
        format!(r#"{{"v":1,"type":"revoked","token":"{TOKEN}","iss":"i","until":5}}"#),
        format!(r#"{{"v":1,"type":"revoked","token":"{TOKEN}","issued_before":1,"until":5}}"#),
        format!(
            r#"{{"v":1,"type":"rule","token":"{TOKEN}","iss":"i","target":{{"sub":"a"}},"until":5}}"#
        ),
        // Rules: missing parts, bad targets, empty values.
        r#"{"v":1,"type":"rule","target":{"sub":"a"},"until":5}"#.to_owned(),
        r#"{"v":1,"type":"rule","iss":"i","until":5}"#.to_owned(),
        r#"{"v":1,"type":"rule","iss":"i","target":{},"until":5}"#.to_owned(),
        r#"{"v":1,"type":"rule","iss":"i","target":{"sub":"a","jti":"b"},"until":5}"#.to_owned(),
        r#"{"v":1,"type":"rule","iss":"i","target":{"email":"a"},"until":5}"#.to_owned(),
        r#"{"v":1,"type":"rule","iss":"i","target":{"sub":5},"until":5}"#.to_owned(),
        r#"{"v":1,"type":"rule","iss":"i","target":"sub","until":5}"#.to_owned(),
        r#"{"v":1,"type":"rule","iss":"i","target":["sub","a"],"until":5}"#.to_owned(),
        r#"{"v":1,"type":"rule","iss":"i","target":{"sub":""},"until":5}"#.to_owned(),
        r#"{"v":1,"type":"rule","iss":"","target":{"sub":"a"},"until":5}"#.to_owned(),
        r#"{"v":1,"type":"rule","iss":"i","target":{"sub":"a"},"issued_before":-1,"until":5}"#
            .to_owned(),
        r#"{"v":1,"type":"rule","iss":"i","target":{"sub":"a"},"issued_before":"1","until":5}"#
            .to_owned(),
        format!(
            r#"{{"v":1,"type":"rule","iss":"i","target":{{"sub":"{}"}},"until":5}}"#,
            "a".repeat(1025)
        ),
        format!(
            r#"{{"v":1,"type":"rule","iss":"{}","target":{{"sub":"a"}},"until":5}}"#,
            "i".repeat(2049)
        ),
        // Too large as a whole, even if well formed otherwise.
        format!(
            r#"{{"v":1,"type":"revoked","token":"{TOKEN}","until":5}}{}"#,
            " ".repeat(MAX_FACT_BYTES)
        ),
    ];
    for case in &cases {
        refused(case);
    }
    // Not UTF-8.
    assert_eq!(
        decode_fact(
            b"{\"v\":1,\"type\":\"rule\",\"iss\":\"\xff\",\"target\":{\"sub\":\"a\"},\"until\":5}"
        )
        .unwrap_err()
        .kind(),
        StoreErrorKind::Malformed
    );
}

#[test]
fn a_newer_version_is_named_as_such() {
    let error = refused(r#"{"v":2,"type":"revoked","hash":"x","until":5,"new":true}"#);
    assert!(error.to_string().contains("wire version 2"), "{error}");
}

#[test]
fn error_texts_never_quote_the_value() {
    for case in [
        r#"{"v":1,"type":"SECRET-TYPE","token":"x","until":5}"#,
        r#"{"v":1,"type":"revoked","token":"SECRET-TOKEN-VALUE","until":5}"#,
        r#"{"v":1,"type":"revoked","SECRET-MEMBER":1,"until":5}"#,
        r#"{"v":1,"type":"revoked","token":"x","until":"SECRET"}"#,
        r#"{"v":"SECRET","type":"revoked"}"#,
        r#"SECRET-not-json"#,
    ] {
        let error = refused(case);
        assert!(!error.to_string().contains("SECRET"), "{case}: {error}");
    }
}

#[test]
fn writers_refuse_what_readers_would() {
    let bad = [
        Fact::Revoked {
            token: Digest([0; 32]),
            until: 0,
        },
        rule(RuleTarget::Subject(String::new()), None),
        rule(RuleTarget::Jti("j".repeat(1025)), None),
        rule(RuleTarget::Client("c".into()), Some(-1)),
        Fact::Rule(RevocationRule {
            issuer: String::new(),
            target: RuleTarget::Subject("a".into()),
            issued_before: None,
            until: 5,
        }),
    ];
    for fact in bad {
        assert_eq!(
            encode_fact(&fact).unwrap_err().kind(),
            StoreErrorKind::Malformed,
            "{fact:?}"
        );
    }
}

#[test]
fn answers_round_trip_and_garbage_is_refused() {
    let answer = StoredAnswer {
        fetched_at: 1_767_222_000_123,
        body: Bytes::from_static("{\"active\":true,\"sub\":\"\u{e9}l\u{e8}ve\\n\"}".as_bytes()),
    };
    let text = encode_answer(&answer).unwrap();
    assert_eq!(decode_answer(text.as_bytes()).unwrap(), answer);

    for case in [
        "",
        "{}",
        r#"{"v":1,"fetched_at":5}"#,
        r#"{"v":1,"body":"{}"}"#,
        r#"{"v":2,"fetched_at":5,"body":"{}"}"#,
        r#"{"v":1,"fetched_at":-5,"body":"{}"}"#,
        r#"{"v":1,"fetched_at":5.5,"body":"{}"}"#,
        r#"{"v":1,"fetched_at":5,"body":{}}"#,
        r#"{"v":1,"fetched_at":5,"body":"{}","extra":0}"#,
        r#"{"v":1,"fetched_at":5,"body":"{}","body":"{}"}"#,
        r#"{"v":1,"fetched_at":5,"body":"{}"} trailing"#,
    ] {
        assert_eq!(
            decode_answer(case.as_bytes()).unwrap_err().kind(),
            StoreErrorKind::Malformed,
            "{case}"
        );
    }
    let huge = format!(
        r#"{{"v":1,"fetched_at":5,"body":"{}"}}"#,
        "a".repeat(MAX_ANSWER_BYTES)
    );
    assert!(decode_answer(huge.as_bytes()).is_err());
}

#[test]
fn answers_that_cannot_be_written_are_refused() {
    for answer in [
        StoredAnswer {
            fetched_at: 1,
            body: Bytes::from_static(b"\xff\xfe"),
        },
        StoredAnswer {
            fetched_at: -1,
            body: Bytes::from_static(b"{}"),
        },
        StoredAnswer {
            fetched_at: 1,
            body: Bytes::from("a".repeat(MAX_ANSWER_BYTES)),
        },
    ] {
        assert_eq!(
            encode_answer(&answer).unwrap_err().kind(),
            StoreErrorKind::Malformed
        );
    }
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #![proptest_config(ProptestConfig { cases: 512, ..ProptestConfig::default() })]

        /// Any bytes: refused or decoded, never a panic; what decodes re-encodes to a value
        /// that decodes to the same fact.
        #[test]
        fn decoding_arbitrary_bytes_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..256)) {
            if let Ok(fact) = decode_fact(&bytes) {
                let again = encode_fact(&fact).unwrap();
                prop_assert_eq!(decode_fact(again.as_bytes()).unwrap(), fact);
            }
            let _ = decode_answer(&bytes);
        }

        /// A valid encoding with one byte changed: refused, or a fact that re-encodes cleanly.
        #[test]
        fn one_changed_byte_is_refused_or_still_a_whole_fact(index in any::<prop::sample::Index>(), byte in any::<u8>(), which in 0usize..5) {
            let mut text = encode_fact(&all_facts()[which]).unwrap().into_bytes();
            let at = index.index(text.len());
            text[at] = byte;
            if let Ok(fact) = decode_fact(&text) {
                let again = encode_fact(&fact).unwrap();
                prop_assert_eq!(decode_fact(again.as_bytes()).unwrap(), fact);
            }
        }
    }
}
