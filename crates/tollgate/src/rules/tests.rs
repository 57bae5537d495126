use std::time::Duration;

use super::memory::SWEEP_INTERVAL;
use super::*;
use crate::store::{RevocationRule, RuleTarget};

const ISS: &str = "https://as.example";
const NOW: i64 = 1_000_000;

fn rule(target: RuleTarget, issued_before: Option<i64>, until: i64) -> RevocationRule {
    RevocationRule {
        issuer: ISS.into(),
        target,
        issued_before,
        until,
    }
}

fn sub(value: &str) -> RuleTarget {
    RuleTarget::Subject(value.into())
}

/// A token of `ISS` with every identifier set and `iat`.
fn token(iat: Option<i64>) -> TokenIds<'static> {
    TokenIds {
        issuer: ISS,
        jti: Some("jti-1"),
        subject: Some("alice"),
        client_id: Some("app"),
        session: Some("sid-1"),
        issued_at: iat,
    }
}

#[test]
fn each_target_covers_the_tokens_that_carry_its_value() {
    for target in [
        RuleTarget::Jti("jti-1".into()),
        sub("alice"),
        RuleTarget::Client("app".into()),
        RuleTarget::Session("sid-1".into()),
    ] {
        let memory = RuleMemory::new(10);
        memory
            .add(&rule(target.clone(), Some(NOW), NOW + 100), NOW)
            .unwrap();
        assert!(memory.covers(&token(Some(NOW - 1)), NOW), "{target:?}");

        // Another value of the same claim, another issuer, or the claim absent: not covered.
        let (kind, _) = target.parts();
        let mut other = token(Some(NOW - 1));
        match kind {
            "jti" => other.jti = Some("jti-2"),
            "sub" => other.subject = Some("bob"),
            "client_id" => other.client_id = Some("other-app"),
            _ => other.session = Some("sid-2"),
        }
        assert!(!memory.covers(&other, NOW), "{target:?}: other value");
        match kind {
            "jti" => other.jti = None,
            "sub" => other.subject = None,
            "client_id" => other.client_id = None,
            _ => other.session = None,
        }
        assert!(!memory.covers(&other, NOW), "{target:?}: claim absent");
        let foreign = TokenIds {
            issuer: "https://as.example/",
            ..token(Some(NOW - 1))
        };
        assert!(!memory.covers(&foreign, NOW), "{target:?}: issuer differs");
    }
}

#[test]
fn a_value_of_one_claim_does_not_match_another_claim() {
    let memory = RuleMemory::new(10);
    // A subject rule for "app" does not cover a token whose client is "app".
    memory.add(&rule(sub("app"), None, NOW + 100), NOW).unwrap();
    assert!(!memory.covers(&token(Some(NOW - 1)), NOW));
}

#[test]
fn issued_before_t_is_strict() {
    let memory = RuleMemory::new(10);
    memory
        .add(&rule(sub("alice"), Some(NOW), NOW + 100), NOW)
        .unwrap();
    assert!(memory.covers(&token(Some(NOW - 1)), NOW));
    // The second of T itself, and later: the fresh session after the event keeps working.
    assert!(!memory.covers(&token(Some(NOW)), NOW));
    assert!(!memory.covers(&token(Some(NOW + 1)), NOW));
}

#[test]
fn a_token_without_iat_is_covered_by_every_matching_rule() {
    let memory = RuleMemory::new(10);
    memory
        .add(&rule(sub("alice"), Some(NOW), NOW + 100), NOW)
        .unwrap();
    assert!(memory.covers(&token(None), NOW));
    let bob = TokenIds {
        subject: Some("bob"),
        jti: None,
        client_id: None,
        session: None,
        ..token(None)
    };
    assert!(!memory.covers(&bob, NOW));
}

#[test]
fn a_rule_without_t_covers_every_matching_token() {
    let memory = RuleMemory::new(10);
    memory
        .add(&rule(RuleTarget::Jti("jti-1".into()), None, NOW + 100), NOW)
        .unwrap();
    for iat in [Some(0), Some(NOW), Some(NOW + 50), None] {
        assert!(memory.covers(&token(iat), NOW), "{iat:?}");
    }
}

#[test]
fn rules_end_at_their_until_and_are_swept() {
    let memory = RuleMemory::new(10);
    memory
        .add(&rule(sub("alice"), Some(NOW), NOW + 100), NOW)
        .unwrap();
    assert!(memory.covers(&token(Some(NOW - 1)), NOW + 99));
    memory.sweep(NOW + 99);
    assert_eq!(memory.stats().rules, 1);
    memory.sweep(NOW + 100);
    assert_eq!(memory.stats().rules, 0);
    assert!(!memory.covers(&token(Some(NOW - 1)), NOW + 100));
    assert!(memory.rules(NOW + 100).is_empty());
}

#[test]
fn a_reader_sweeps_what_has_expired_without_a_writer() {
    let memory = RuleMemory::new(10);
    memory.add(&rule(sub("alice"), None, NOW + 5), NOW).unwrap();
    memory.add(&rule(sub("bob"), None, NOW + 100), NOW).unwrap();
    // Nothing has expired yet: no sweep.
    assert!(memory.covers(&token(None), NOW + 4));
    assert_eq!(memory.stats().rules, 2);
    // Alice's rule has: the reader sweeps it.
    assert!(!memory.covers(&token(None), NOW + 5));
    assert_eq!(memory.stats().rules, 1);
    // At most one reader sweep per interval.
    memory
        .add(&rule(sub("carol"), None, NOW + 6), NOW + 5)
        .unwrap();
    let _ = memory.covers(&token(None), NOW + 6);
    assert_eq!(memory.stats().rules, 2, "within the interval");
    let _ = memory.covers(&token(None), NOW + 5 + SWEEP_INTERVAL);
    assert_eq!(memory.stats().rules, 1);
}

#[test]
fn an_already_expired_rule_is_not_held() {
    let memory = RuleMemory::new(10);
    assert_eq!(
        memory.add(&rule(sub("alice"), Some(NOW - 10), NOW), NOW),
        Ok(Applied::Expired)
    );
    assert_eq!(memory.stats().rules, 0);
    assert!(!memory.covers(&token(None), NOW));
}

#[test]
fn rules_for_one_target_merge_without_covering_less() {
    let memory = RuleMemory::new(10);
    let base = rule(sub("alice"), Some(NOW), NOW + 100);
    assert_eq!(memory.add(&base, NOW), Ok(Applied::Added));
    assert_eq!(memory.add(&base, NOW), Ok(Applied::Unchanged));
    // An earlier T and shorter life: already covered.
    assert_eq!(
        memory.add(&rule(sub("alice"), Some(NOW - 5), NOW + 50), NOW),
        Ok(Applied::Unchanged)
    );
    // A later T: widened.
    assert_eq!(
        memory.add(&rule(sub("alice"), Some(NOW + 10), NOW + 110), NOW),
        Ok(Applied::Widened)
    );
    assert!(memory.covers(&token(Some(NOW + 9)), NOW));
    // "Every token" kept apart from "before T": after it ends, the T rule still holds.
    assert_eq!(
        memory.add(&rule(sub("alice"), None, NOW + 20), NOW),
        Ok(Applied::Widened)
    );
    assert_eq!(memory.stats().rules, 1, "one target, one entry");
    let mut held = memory.rules(NOW);
    held.sort_by_key(|rule| rule.issued_before);
    assert_eq!(
        held,
        vec![
            rule(sub("alice"), None, NOW + 20),
            rule(sub("alice"), Some(NOW + 10), NOW + 110)
        ]
    );
    assert!(memory.covers(&token(Some(NOW + 500)), NOW + 19));
    assert!(!memory.covers(&token(Some(NOW + 500)), NOW + 20));
    assert!(memory.covers(&token(Some(NOW + 9)), NOW + 20));
    // The reader's sweep at NOW + 20 removed the part that ended, and kept the other.
    assert_eq!(
        memory.rules(NOW + 20),
        vec![rule(sub("alice"), Some(NOW + 10), NOW + 110)]
    );
}

#[test]
fn an_expired_part_does_not_widen_a_merge() {
    let memory = RuleMemory::new(10);
    memory
        .add(&rule(sub("alice"), Some(NOW + 50), NOW + 10), NOW)
        .unwrap();
    // At NOW + 20 the first rule is gone; a new one with an earlier T must not inherit its T.
    memory
        .add(&rule(sub("alice"), Some(NOW), NOW + 100), NOW + 20)
        .unwrap();
    assert!(!memory.covers(&token(Some(NOW + 10)), NOW + 20));
    assert!(memory.covers(&token(Some(NOW - 1)), NOW + 20));
}

#[test]
fn at_the_bound_a_new_target_is_refused_and_no_live_rule_dropped() {
    let memory = RuleMemory::new(3);
    for name in ["a", "b", "c"] {
        memory.add(&rule(sub(name), None, NOW + 100), NOW).unwrap();
    }
    let error = memory
        .add(&rule(sub("d"), None, NOW + 100), NOW)
        .unwrap_err();
    assert_eq!(error.kind(), RuleErrorKind::Full);
    assert!(error.to_string().contains("3 live rules"), "{error}");
    let refused = memory.add(&rule(sub("e"), None, NOW + 100), NOW);
    assert!(refused.is_err());
    let stats = memory.stats();
    assert_eq!((stats.rules, stats.refused, stats.full_episodes), (3, 2, 1));
    for name in ["a", "b", "c"] {
        let ids = TokenIds {
            subject: Some(name),
            ..token(None)
        };
        assert!(memory.covers(&ids, NOW), "{name} is still covered");
    }
    // A rule for a held target merges even at the bound.
    assert_eq!(
        memory.add(&rule(sub("a"), None, NOW + 200), NOW),
        Ok(Applied::Widened)
    );
}

#[test]
fn at_the_bound_expired_rules_make_room_first() {
    let memory = RuleMemory::new(2);
    memory.add(&rule(sub("a"), None, NOW + 10), NOW).unwrap();
    memory.add(&rule(sub("b"), None, NOW + 100), NOW).unwrap();
    assert_eq!(
        memory.add(&rule(sub("c"), None, NOW + 100), NOW + 10),
        Ok(Applied::Added)
    );
    let stats = memory.stats();
    assert_eq!((stats.rules, stats.refused), (2, 0));

    // Back under 90 % of the bound after a full episode: the next one is new.
    memory
        .add(&rule(sub("d"), None, NOW + 100), NOW + 10)
        .unwrap_err();
    memory.sweep(NOW + 100);
    memory
        .add(&rule(sub("e"), None, NOW + 300), NOW + 100)
        .unwrap();
    memory
        .add(&rule(sub("f"), None, NOW + 300), NOW + 100)
        .unwrap();
    memory
        .add(&rule(sub("g"), None, NOW + 300), NOW + 100)
        .unwrap_err();
    assert_eq!(memory.stats().full_episodes, 2);
}

#[test]
fn invalid_rules_are_refused() {
    let memory = RuleMemory::new(10);
    let long = "x".repeat(MAX_TARGET_BYTES + 1);
    for bad in [
        rule(sub(""), None, NOW + 10),
        rule(sub(&long), None, NOW + 10),
        rule(sub("a"), Some(-1), NOW + 10),
        RevocationRule {
            issuer: String::new(),
            ..rule(sub("a"), None, NOW + 10)
        },
    ] {
        let error = memory.add(&bad, NOW).unwrap_err();
        assert_eq!(error.kind(), RuleErrorKind::Invalid, "{bad:?}");
    }
    assert_eq!(memory.stats().rules, 0);
}

#[test]
fn a_batch_is_applied_in_one_step_and_reported() {
    let memory = RuleMemory::new(3);
    let epoch = memory.epoch();
    let report = memory.add_all(
        &[
            rule(sub("a"), None, NOW + 10),
            rule(sub("a"), None, NOW + 5),
            rule(sub("a"), None, NOW + 20),
            rule(sub("b"), None, NOW - 1),
            rule(sub(""), None, NOW + 10),
            rule(sub("c"), None, NOW + 10),
            rule(sub("d"), None, NOW + 10),
            rule(sub("e"), None, NOW + 10),
        ],
        NOW,
    );
    assert_eq!(
        (
            report.added,
            report.widened,
            report.unchanged,
            report.expired
        ),
        (3, 1, 1, 1)
    );
    let kinds: Vec<_> = report.refused.iter().map(|(_, e)| e.kind()).collect();
    assert_eq!(
        kinds,
        [RuleErrorKind::Invalid, RuleErrorKind::Full],
        "{report:?}"
    );
    assert_eq!(memory.epoch(), epoch + 1, "one snapshot, one bump");
}

#[test]
fn the_epoch_moves_only_when_more_tokens_are_covered() {
    let memory = RuleMemory::new(10);
    let start = memory.epoch();
    memory
        .add(&rule(sub("a"), Some(NOW), NOW + 10), NOW)
        .unwrap();
    let after_add = memory.epoch();
    assert!(after_add > start);
    memory
        .add(&rule(sub("a"), Some(NOW), NOW + 10), NOW)
        .unwrap();
    memory
        .add(&rule(sub("x"), Some(NOW), NOW - 1), NOW)
        .unwrap();
    assert_eq!(memory.epoch(), after_add, "unchanged and expired rules");
    memory
        .add(&rule(sub("a"), Some(NOW + 1), NOW + 10), NOW)
        .unwrap();
    assert!(memory.epoch() > after_add, "a widened rule");
    let widened = memory.epoch();
    memory.sweep(NOW + 10);
    assert_eq!(memory.epoch(), widened, "a sweep uncovers only");
}

#[test]
fn a_stamp_skips_the_lookup_until_the_epoch_moves() {
    let memory = RuleMemory::new(10);
    let stamp = RuleStamp::new();
    let alice = token(Some(NOW - 1));
    assert!(!memory.check(&stamp, &alice, NOW));
    assert!(
        stamp.is(memory.epoch()),
        "marked after a lookup found nothing"
    );

    // A rule added behind the snapshot's back would be missed while the epoch stands: the
    // stamp alone answers. (Only `add` changes rules, and it always bumps; this shows that
    // the stamp is what is read.)
    let rule_for_alice = rule(sub("alice"), Some(NOW), NOW + 100);
    memory.add(&rule_for_alice, NOW).unwrap();
    assert!(!stamp.is(memory.epoch()));
    assert!(
        memory.check(&stamp, &alice, NOW),
        "the new epoch forces a lookup"
    );
    // A covered token is never marked: it is looked up again (and refused) every time.
    assert!(memory.check(&stamp, &alice, NOW));

    // A token the rule does not cover is marked at the new epoch.
    let fresh = token(Some(NOW + 1));
    let fresh_stamp = RuleStamp::new();
    assert!(!memory.check(&fresh_stamp, &fresh, NOW));
    assert!(fresh_stamp.is(memory.epoch()));
}

#[test]
fn a_stamp_never_moves_back() {
    let stamp = RuleStamp::new();
    stamp.mark(5);
    stamp.mark(3);
    assert!(stamp.is(5));
}

#[test]
fn concurrent_readers_see_a_rule_once_its_epoch_is_visible() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};

    let memory = Arc::new(RuleMemory::new(1_000));
    let done = Arc::new(AtomicBool::new(false));
    let readers: Vec<_> = (0..2)
        .map(|_| {
            let memory = memory.clone();
            let done = done.clone();
            std::thread::spawn(move || {
                let stamp = RuleStamp::new();
                let mut checks = 0_u32;
                while !done.load(Ordering::Acquire) && checks < 200_000 {
                    let epoch = memory.epoch();
                    let covered = memory.check(&stamp, &token(Some(NOW - 1)), NOW);
                    // Once the epoch of alice's rule is visible, no check may pass her token.
                    if epoch >= 3 {
                        assert!(covered, "a reader passed a covered token at epoch {epoch}");
                    }
                    checks += 1;
                }
            })
        })
        .collect();
    // Epoch 2: an unrelated rule; epoch 3: alice's.
    memory.add(&rule(sub("bob"), None, NOW + 100), NOW).unwrap();
    memory
        .add(&rule(sub("alice"), Some(NOW), NOW + 100), NOW)
        .unwrap();
    assert_eq!(memory.epoch(), 3);
    done.store(true, Ordering::Release);
    for reader in readers {
        reader.join().unwrap();
    }
}

#[test]
fn lifetimes_give_rules_their_until() {
    let lifetimes = Lifetimes {
        longest: Duration::from_secs(3600),
        leeway: Duration::from_secs(60),
    };
    assert_eq!(lifetimes.until(Some(NOW), NOW + 5), NOW + 3660);
    assert_eq!(lifetimes.until(None, NOW), NOW + 3660);
    let made = lifetimes.rule(ISS, sub("alice"), Some(NOW - 10), NOW);
    assert_eq!(made, rule(sub("alice"), Some(NOW - 10), NOW + 3650));
    assert_eq!(
        Lifetimes::default().until(None, 0),
        24 * 3600 + 60,
        "documented default"
    );
}

#[test]
fn rules_from_the_store_round_trip() {
    let memory = RuleMemory::new(10);
    let rules = vec![
        rule(RuleTarget::Jti("j".into()), None, NOW + 10),
        rule(RuleTarget::Client("app".into()), Some(NOW), NOW + 10),
        rule(RuleTarget::Session("s".into()), Some(NOW), NOW + 10),
        RevocationRule {
            issuer: "https://other.example".into(),
            ..rule(sub("alice"), Some(NOW), NOW + 10)
        },
    ];
    assert_eq!(memory.add_all(&rules, NOW).added, 4);
    let mut held = memory.rules(NOW);
    let key = |rule: &RevocationRule| rule.id().0;
    held.sort_by_key(key);
    let mut expected = rules;
    expected.sort_by_key(key);
    assert_eq!(held, expected);
}

#[test]
fn debug_shows_counts_only() {
    let memory = RuleMemory::new(10);
    memory
        .add(&rule(sub("alice"), None, NOW + 10), NOW)
        .unwrap();
    let text = format!("{memory:?}");
    assert!(!text.contains("alice"), "{text}");
    assert!(text.contains("rules: 1"), "{text}");
}
