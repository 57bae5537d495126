//! Where revocations meet: the engine's revocation memory (one token each), its revocation
//! rules (every token of a subject, client or session issued before T, or with a `jti`), and
//! the shared store that carries both to the other instances.
//!
//! A revocation arrives in one of four ways, and each is applied the same way: to local
//! memory first (the request path reads nothing else), then queued for the store when there
//! is one ([`link`]):
//!
//! | from | what | published |
//! |---|---|---|
//! | introspection (`active: false` for a verified token) | the token, until its `exp` plus the leeway | yes |
//! | the engine's API ([`Tollgate::revoke_token`], [`Tollgate::revoke_subject`], ...) | a token or a rule | yes |
//! | a pushed Security Event Token ([`Tollgate::security_event_receiver`]) | a token or a rule | yes |
//! | another instance, through the store | a token or a rule | no: it is there already |
//!
//! A token is identified by the digest the revocation memory uses: for a JWT, of its signed
//! part with the dot that ends it (so every instance computes the same one, and a token
//! re-signed with another signature is the same token); for an opaque token, of the whole
//! token.

mod api;
mod events;
pub(crate) mod link;

use std::sync::Arc;
use std::sync::atomic::Ordering;

pub use api::{RevokeError, RevokeErrorKind};

use crate::hash::TokenHash;
use crate::introspection::RevocationMemory;
use crate::issuer::IssuerName;
use crate::log::warn;
use crate::principal::TokenInfo;
use crate::rules::{Lifetimes, RuleErrorKind, RuleMemory, TokenIds};
use crate::store::{Fact, RevocationRule};
use link::StoreLink;

/// The engine's revocations: local memories and, optionally, the link to a shared store.
pub(crate) struct Revocations {
    /// Revoked tokens by digest, for every issuer.
    pub(crate) tokens: Arc<RevocationMemory>,
    /// Revocation rules, for every issuer.
    pub(crate) rules: RuleMemory,
    /// How long rules live; the engine refuses tokens that live longer than `longest`.
    pub(crate) lifetimes: Lifetimes,
    pub(crate) link: Option<Arc<StoreLink>>,
    /// The trusted issuers' names, in their order: a rule from issuer i's namespace must name
    /// a token issuer that i speaks for.
    names: Vec<IssuerName>,
}

impl Revocations {
    pub(crate) fn new(
        tokens: Arc<RevocationMemory>,
        rules: RuleMemory,
        lifetimes: Lifetimes,
        link: Option<Arc<StoreLink>>,
        names: Vec<IssuerName>,
    ) -> Self {
        Self {
            tokens,
            rules,
            lifetimes,
            link,
            names,
        }
    }

    /// Starts the store's tasks if there is a store and a runtime; one atomic load once they
    /// run.
    pub(crate) fn ensure_started(self: &Arc<Self>) {
        if let Some(link) = &self.link
            && !link.is_started()
        {
            link.ensure_started(self);
        }
    }

    /// Whether a rule covers `info`'s token at `now`: while no rule changed since the token
    /// was last found uncovered, two atomic loads and no hashing (`rules` module docs).
    pub(crate) fn covers(&self, info: &TokenInfo, now: i64) -> bool {
        let standard = &info.standard;
        let Some(issuer) = standard.issuer.as_deref() else {
            return false;
        };
        self.rules.check(
            &info.rule_stamp,
            &TokenIds {
                issuer,
                jti: standard.jti.as_deref(),
                subject: standard.subject.as_deref(),
                client_id: standard.client_id.as_deref(),
                session: standard.session.as_deref(),
                issued_at: standard.issued_at,
            },
            now,
        )
    }

    /// A token this instance learnt is revoked, for the namespace of the issuer at `issuer`:
    /// remembered, then published.
    pub(crate) fn learn_token(&self, issuer: usize, hash: TokenHash, until: i64, now: i64) {
        self.tokens.insert(hash, until, now);
        self.publish(
            issuer,
            Fact::Revoked {
                token: hash.into(),
                until,
            },
        );
    }

    /// A rule this instance learnt, for the namespace of the issuer at `issuer`: held, then
    /// published. A rule the memory refuses (full, invalid) is not published either.
    pub(crate) fn learn_rule(
        &self,
        issuer: usize,
        rule: &RevocationRule,
        now: i64,
    ) -> Result<(), crate::rules::RuleError> {
        self.rules.add(rule, now)?;
        self.publish(issuer, Fact::Rule(rule.clone()));
        Ok(())
    }

    /// Queues `fact` for the store, if there is one.
    pub(crate) fn publish(&self, issuer: usize, fact: Fact) {
        if let Some(link) = &self.link {
            link.publish(issuer, fact);
        }
    }

    /// Publishes again every live rule of the issuer at `issuer`: after an outage, for a
    /// store that may have lost them (republishing a rule the store holds changes nothing).
    pub(crate) fn republish_rules(&self, issuer: usize) {
        let now = crate::engine::now();
        for rule in self.rules.rules(now) {
            if self.issuer_of(&rule.issuer) == Some(issuer) {
                self.publish(issuer, Fact::Rule(rule));
            }
        }
    }

    /// The place of the trusted issuer whose tokens `iss` names.
    pub(crate) fn issuer_of(&self, iss: &str) -> Option<usize> {
        self.names.iter().position(|name| name.matches(iss))
    }

    /// Facts from the store, in the namespace of the issuer at `issuer`: applied to the local
    /// memories, never published again. A rule naming an issuer that this namespace does not
    /// speak for, or that does not pass the memory's checks, is ignored with a WARN.
    pub(crate) fn apply_from_store(&self, issuer: usize, facts: &[Fact]) {
        let now = crate::engine::now();
        let Some(link) = &self.link else { return };
        let counters = &link.counters;
        let mut rules = Vec::new();
        for fact in facts {
            match fact {
                Fact::Revoked { token, until } => {
                    self.tokens.insert(TokenHash::from(*token), *until, now);
                    counters.applied.fetch_add(1, Ordering::Relaxed);
                }
                Fact::Rule(rule) => {
                    if self
                        .names
                        .get(issuer)
                        .is_some_and(|name| name.matches(&rule.issuer))
                    {
                        rules.push(rule.clone());
                    } else {
                        counters.unparsable.fetch_add(1, Ordering::Relaxed);
                        warn!(
                            "shared store: a rule in the namespace of {:?} names another issuer; \
                             ignored",
                            self.names.get(issuer).map(IssuerName::as_str)
                        );
                    }
                }
            }
        }
        if rules.is_empty() {
            return;
        }
        let report = self.rules.add_all(&rules, now);
        let refused = report.refused.len();
        counters.applied.fetch_add(
            u64::try_from(rules.len() - refused).unwrap_or(0),
            Ordering::Relaxed,
        );
        for (_, error) in &report.refused {
            if error.kind() == RuleErrorKind::Invalid {
                counters.unparsable.fetch_add(1, Ordering::Relaxed);
                warn!("shared store: ignored a rule: {error}");
            }
        }
    }
}

impl From<TokenHash> for crate::store::Digest {
    fn from(hash: TokenHash) -> Self {
        Self(hash.to_bytes())
    }
}

impl From<crate::store::Digest> for TokenHash {
    fn from(digest: crate::store::Digest) -> Self {
        Self::from_bytes(digest.0)
    }
}
