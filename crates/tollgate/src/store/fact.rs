//! What instances tell each other through a shared store.

use std::fmt;

use aws_lc_rs::digest;
use bytes::Bytes;

use super::Digest;

/// Something one instance learnt that every instance must apply.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Fact {
    /// One token is revoked: refuse it on every route until `until`.
    Revoked {
        /// The token's digest: for a JWT, the digest of its signed part with the dot that ends
        /// it (`header.payload.`), so that a rewritten signature is still refused.
        token: Digest,
        /// Unix time in seconds until which the token is refused: its `exp` plus the leeway.
        until: i64,
    },
    /// Tokens that match a rule are revoked (a user logged out everywhere, a client was
    /// compromised).
    Rule(RevocationRule),
}

impl Fact {
    /// Unix time in seconds after which the fact no longer matters and may be forgotten.
    pub fn until(&self) -> i64 {
        match self {
            Self::Revoked { until, .. } => *until,
            Self::Rule(rule) => rule.until,
        }
    }
}

impl fmt::Debug for Fact {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Revoked { token, until } => f
                .debug_struct("Revoked")
                .field("token", token)
                .field("until", until)
                .finish(),
            Self::Rule(rule) => rule.fmt(f),
        }
    }
}

/// Tokens of one issuer that match a target are revoked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevocationRule {
    /// The issuer whose tokens the rule covers, exactly as it appears in their `iss`.
    pub issuer: String,
    /// Which tokens of that issuer.
    pub target: RuleTarget,
    /// Only tokens issued (`iat`) before this Unix time in seconds; `None` for every token
    /// that matches, whenever it was issued.
    pub issued_before: Option<i64>,
    /// Unix time in seconds until which the rule applies: when it was made plus the longest
    /// token lifetime accepted, after which no token it covers can still be valid.
    pub until: i64,
}

impl RevocationRule {
    /// A digest that identifies the rule: two instances that make the same rule (same issuer,
    /// target and `issued_before`) store it under one key, whatever its `until`.
    pub fn id(&self) -> Digest {
        let (kind, value) = self.target.parts();
        let mut context = digest::Context::new(&digest::SHA256);
        context.update(b"tollgate-rule-v1");
        // Length-prefixed parts: no two different rules share an encoding.
        for part in [self.issuer.as_bytes(), kind.as_bytes(), value.as_bytes()] {
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part);
        }
        match self.issued_before {
            Some(before) => {
                context.update(&[1]);
                context.update(&before.to_be_bytes());
            }
            None => context.update(&[0]),
        }
        let hash = context.finish();
        let mut out = [0u8; 32];
        out.copy_from_slice(hash.as_ref());
        Digest(out)
    }
}

/// Which tokens of an issuer a [`RevocationRule`] covers, by a claim's value as the issuer
/// wrote it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum RuleTarget {
    /// The token whose `jti` is this (RFC 7519 §4.1.7).
    Jti(String),
    /// Every token whose `sub` is this (RFC 7519 §4.1.2).
    Subject(String),
    /// Every token issued to this `client_id` (RFC 9068 §2.2).
    Client(String),
    /// Every token of this session, `sid` (OpenID Connect Front-Channel Logout §3).
    Session(String),
}

impl RuleTarget {
    /// The claim's name and the value.
    pub(crate) fn parts(&self) -> (&'static str, &str) {
        match self {
            Self::Jti(value) => ("jti", value),
            Self::Subject(value) => ("sub", value),
            Self::Client(value) => ("client_id", value),
            Self::Session(value) => ("sid", value),
        }
    }
}

/// What a [`SharedStore::subscribe`](super::SharedStore::subscribe) stream yields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Notice {
    /// A fact published by an instance (this one included).
    Fact(Fact),
    /// The subscription is in place again after [`Lost`](Self::Lost), or facts may have been
    /// skipped (a consumer too slow for the stream): call
    /// [`load`](super::SharedStore::load) again.
    Reconnected,
    /// The connection to the store dropped: facts published from now on reach this instance
    /// only through the `load` that follows [`Reconnected`](Self::Reconnected).
    Lost,
}

/// An introspection answer shared between instances.
#[derive(Clone, PartialEq, Eq)]
pub struct StoredAnswer {
    /// When the answer was fetched from the authorization server: Unix time in milliseconds.
    /// A reader judges its freshness against its own budget from this, not from the time it
    /// read it.
    pub fetched_at: i64,
    /// The authorization server's answer, as it sent it (RFC 7662 §2.2 JSON).
    pub body: Bytes,
}

impl fmt::Debug for StoredAnswer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The body names the subject and the client; its length is enough for a log.
        f.debug_struct("StoredAnswer")
            .field("fetched_at", &self.fetched_at)
            .field("body_len", &self.body.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn rule(target: RuleTarget, issued_before: Option<i64>, until: i64) -> RevocationRule {
        RevocationRule {
            issuer: "https://as.example".into(),
            target,
            issued_before,
            until,
        }
    }

    #[test]
    fn a_rule_id_ignores_until_and_nothing_else() {
        let base = rule(RuleTarget::Subject("alice".into()), Some(100), 200);
        assert_eq!(
            base.id(),
            rule(RuleTarget::Subject("alice".into()), Some(100), 999).id()
        );
        for other in [
            rule(RuleTarget::Subject("alice".into()), Some(101), 200),
            rule(RuleTarget::Subject("alice".into()), None, 200),
            rule(RuleTarget::Subject("bob".into()), Some(100), 200),
            rule(RuleTarget::Client("alice".into()), Some(100), 200),
            rule(RuleTarget::Session("alice".into()), Some(100), 200),
            rule(RuleTarget::Jti("alice".into()), Some(100), 200),
            RevocationRule {
                issuer: "https://as.example/".into(),
                ..base.clone()
            },
        ] {
            assert_ne!(base.id(), other.id(), "{other:?}");
        }
    }

    #[test]
    fn until_is_the_facts_end() {
        let token = Fact::Revoked {
            token: Digest([1; 32]),
            until: 5,
        };
        assert_eq!(token.until(), 5);
        assert_eq!(
            Fact::Rule(rule(RuleTarget::Jti("j".into()), None, 7)).until(),
            7
        );
    }

    #[test]
    fn debug_shows_no_answer_body() {
        let answer = StoredAnswer {
            fetched_at: 1,
            body: Bytes::from_static(br#"{"active":true,"sub":"alice"}"#),
        };
        let text = format!("{answer:?}");
        assert!(!text.contains("alice"), "{text}");
        assert!(text.contains("body_len: 29"), "{text}");
    }
}
