//! The engine's revocation API: one token, a `jti`, every token of a subject, client or
//! session issued before a time.

use std::fmt;
use std::time::{SystemTime, UNIX_EPOCH};

use crate::engine::{Hashes, Local, Tollgate, now};
use crate::hash::TokenHash;
use crate::jws;
use crate::rejection::{InvalidToken, Rejection};
use crate::rules::RuleErrorKind;
use crate::store::RuleTarget;

/// Why the engine did not take a revocation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RevokeError {
    kind: RevokeErrorKind,
    message: String,
}

/// What kind of failure a [`RevokeError`] is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum RevokeErrorKind {
    /// The issuer named is not one the engine trusts.
    NotTrusted,
    /// The token to revoke does not validate here (bad signature, expired, not a JWT, ...):
    /// nothing is known that would identify it to the other instances.
    Token,
    /// The rule memory is full of live rules (`TollgateBuilder::revocation_rule_capacity`).
    Full,
    /// An empty or too long value, or a time before 1970.
    Invalid,
}

impl RevokeError {
    fn new(kind: RevokeErrorKind, message: impl Into<String>) -> Self {
        Self {
            kind,
            message: message.into(),
        }
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> RevokeErrorKind {
        self.kind
    }
}

impl fmt::Display for RevokeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for RevokeError {}

impl Tollgate {
    /// Revokes one access token (a JWT this engine validates): refused on every route of
    /// this instance from now on, and, with a shared store, of every instance, until it
    /// expires (its `exp` plus the leeway).
    ///
    /// The token is validated first (signature and claims; not a route's requirement): only
    /// what the engine would accept can be revoked, and its `exp` bounds how long it is
    /// remembered. A token already refused for being revoked counts as revoked.
    ///
    /// # Errors
    /// [`RevokeErrorKind::Token`] for a token that does not validate or is not a JWT.
    pub async fn revoke_token(&self, token: &str) -> Result<(), RevokeError> {
        if !jws::is_jwt_shaped(token) || token.len() > self.inner.limits.max_token_bytes {
            return Err(RevokeError::new(
                RevokeErrorKind::Token,
                "revoke: only a JWT this engine validates can be revoked by the token",
            ));
        }
        let (whole, live) = (TokenHash::of(token), TokenHash::of_signed_part(token));
        if self.inner.revoked.contains(&live) {
            return Ok(());
        }
        let refused = |rejection: Rejection| {
            RevokeError::new(
                RevokeErrorKind::Token,
                format!("revoke: the token does not validate: {rejection}"),
            )
        };
        let mut result = self.local(token, Hashes { whole, live }, now());
        if let Ok(Local::UnknownKey(index)) = result {
            if let Some(issuer) = self.inner.issuers.get(index) {
                issuer.keys.refetch_unknown_kid().await;
            }
            result = self.local(token, Hashes { whole, live }, now());
        }
        let info = match result {
            Ok(Local::Verified(info)) => info,
            Ok(Local::UnknownKey(_)) => {
                return Err(refused(Rejection::InvalidToken(InvalidToken::UnknownKey)));
            }
            // Covered by a rule already: revoked.
            Err(Rejection::InvalidToken(InvalidToken::Inactive)) => return Ok(()),
            Err(rejection) => return Err(refused(rejection)),
        };
        let leeway = self
            .inner
            .issuers
            .get(info.issuer_index)
            .map_or(0, |issuer| issuer.claims.leeway);
        let Some(exp) = info.standard.expires_at else {
            return Err(refused(Rejection::InvalidToken(
                InvalidToken::MissingClaim("exp"),
            )));
        };
        let now = now();
        self.inner.revocations.learn_token(
            info.issuer_index,
            live,
            exp.saturating_add(leeway),
            now,
        );
        self.inner.verified.invalidate(&whole);
        Ok(())
    }

    /// Revokes the token of `issuer` with this `jti` (RFC 7519 §4.1.7), whenever it was
    /// issued, on this instance and, with a shared store, on every instance.
    ///
    /// # Errors
    /// An issuer that is not trusted, an empty value, a full rule memory.
    pub fn revoke_jti(&self, issuer: &str, jti: &str) -> Result<(), RevokeError> {
        self.revoke_rule(issuer, RuleTarget::Jti(jti.to_owned()), None)
    }

    /// Revokes every token of `subject` (`sub`) from `issuer` issued before `before` (its
    /// `iat` strictly earlier): "the user changed their password at T". Tokens issued at or
    /// after `before` keep working. On this instance and, with a shared store, on every one.
    ///
    /// # Errors
    /// An issuer that is not trusted, an empty value, a full rule memory.
    pub fn revoke_subject(
        &self,
        issuer: &str,
        subject: &str,
        before: SystemTime,
    ) -> Result<(), RevokeError> {
        self.revoke_rule(
            issuer,
            RuleTarget::Subject(subject.to_owned()),
            Some(before),
        )
    }

    /// Revokes every token issued to the client `client_id` by `issuer` before `before`.
    ///
    /// # Errors
    /// An issuer that is not trusted, an empty value, a full rule memory.
    pub fn revoke_client(
        &self,
        issuer: &str,
        client_id: &str,
        before: SystemTime,
    ) -> Result<(), RevokeError> {
        self.revoke_rule(
            issuer,
            RuleTarget::Client(client_id.to_owned()),
            Some(before),
        )
    }

    /// Revokes every token of the session `sid` (OpenID Connect Front-Channel Logout §3)
    /// issued by `issuer` before `before`.
    ///
    /// # Errors
    /// An issuer that is not trusted, an empty value, a full rule memory.
    pub fn revoke_session(
        &self,
        issuer: &str,
        sid: &str,
        before: SystemTime,
    ) -> Result<(), RevokeError> {
        self.revoke_rule(issuer, RuleTarget::Session(sid.to_owned()), Some(before))
    }

    /// Revokes the tokens of `issuer` that `target` names, issued before `before` (every
    /// such token, whenever issued, with `None`). The rule lives until no token it covers
    /// can still be valid: `before` (or now) plus the longest accepted token lifetime
    /// (`TollgateBuilder::longest_token_lifetime`) plus the leeway.
    ///
    /// # Errors
    /// An issuer that is not trusted, an empty value, a full rule memory.
    pub fn revoke_rule(
        &self,
        issuer: &str,
        target: RuleTarget,
        before: Option<SystemTime>,
    ) -> Result<(), RevokeError> {
        let revocations = &self.inner.revocations;
        revocations.ensure_started();
        let Some(index) = revocations.issuer_of(issuer) else {
            return Err(RevokeError::new(
                RevokeErrorKind::NotTrusted,
                "revoke: the issuer is not trusted by this engine",
            ));
        };
        let before = match before {
            None => None,
            Some(time) => Some(
                time.duration_since(UNIX_EPOCH)
                    .ok()
                    .and_then(|d| i64::try_from(d.as_secs()).ok())
                    .ok_or_else(|| {
                        RevokeError::new(RevokeErrorKind::Invalid, "revoke: a time before 1970")
                    })?,
            ),
        };
        let now = now();
        let rule = revocations.lifetimes.rule(issuer, target, before, now);
        revocations.learn_rule(index, &rule, now).map_err(|error| {
            let kind = match error.kind() {
                RuleErrorKind::Full => RevokeErrorKind::Full,
                RuleErrorKind::Invalid => RevokeErrorKind::Invalid,
            };
            RevokeError::new(kind, error.to_string())
        })
    }
}
