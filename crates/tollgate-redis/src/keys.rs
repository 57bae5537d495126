//! The key layout (the crate docs describe it for operators).
//!
//! Every key and the channel of a namespace carry the namespace as a hash tag, `{<ns>}`, so
//! in Redis Cluster they all hash to one slot: the publish script may touch several of them,
//! and `MGET` may read many at once.

use tollgate::store::{Digest, Fact, Namespace, StoreError, StoreErrorKind};

/// The prefix of every key and channel.
const PREFIX: &str = "tollgate";

fn base(ns: &Namespace) -> String {
    format!("{PREFIX}:{{{}}}:", ns.as_str())
}

/// The member a fact has in the index, which is also the end of its key: `rev:<digest>` for
/// a revoked token, `rule:<rule id>` for a rule.
pub(crate) fn fact_member(fact: &Fact) -> Result<String, StoreError> {
    match fact {
        Fact::Revoked { token, .. } => Ok(format!("rev:{}", token.to_base64url())),
        Fact::Rule(rule) => Ok(format!("rule:{}", rule.id().to_base64url())),
        _ => Err(StoreError::new(
            StoreErrorKind::Unsupported,
            "publish: this version of tollgate-redis does not know this kind of fact",
        )),
    }
}

/// `tollgate:{<ns>}:<member>`.
pub(crate) fn fact_key(ns: &Namespace, member: &str) -> String {
    format!("{}{member}", base(ns))
}

/// `tollgate:{<ns>}:idx`: a sorted set of fact members, scored by expiry (Unix ms).
pub(crate) fn index(ns: &Namespace) -> String {
    format!("{}idx", base(ns))
}

/// `tollgate:{<ns>}:ans:<digest>`.
pub(crate) fn answer(ns: &Namespace, key: &Digest) -> String {
    format!("{}ans:{}", base(ns), key.to_base64url())
}

/// `tollgate:{<ns>}:once:<digest>`.
pub(crate) fn once(ns: &Namespace, key: &Digest) -> String {
    format!("{}once:{}", base(ns), key.to_base64url())
}

/// `tollgate:{<ns>}:events`.
pub(crate) fn channel(ns: &Namespace) -> String {
    format!("{}events", base(ns))
}

#[cfg(test)]
mod tests {
    use super::*;
    use tollgate::store::{RevocationRule, RuleTarget};

    #[test]
    fn every_key_of_a_namespace_shares_its_hash_tag() {
        let ns = Namespace::new("https://as.example", ["api"]);
        let tag = format!("tollgate:{{{}}}:", ns.as_str());
        let digest = Digest([0; 32]);
        let revoked = Fact::Revoked {
            token: digest,
            until: 5,
        };
        let rule = Fact::Rule(RevocationRule {
            issuer: "https://as.example".into(),
            target: RuleTarget::Subject("alice".into()),
            issued_before: None,
            until: 5,
        });
        let member = fact_member(&revoked).unwrap();
        assert_eq!(member, format!("rev:{}", "A".repeat(43)));
        assert!(fact_member(&rule).unwrap().starts_with("rule:"));
        for key in [
            fact_key(&ns, &member),
            index(&ns),
            answer(&ns, &digest),
            once(&ns, &digest),
            channel(&ns),
        ] {
            assert!(key.starts_with(&tag), "{key}");
            // One hash tag only: the first `{...}` decides the slot.
            assert_eq!(key.matches('{').count(), 1, "{key}");
        }
        assert_eq!(channel(&ns), format!("{tag}events"));
    }
}
