//! The trusted issuers: what tollgate trusts about each authorization server (its rules, its
//! key set, its introspection client), and how a token finds the one it names.
//!
//! - `trusted` is the public configuration of one issuer ([`TrustedIssuer`]), `profile` its
//!   presets ([`Profile`]).
//! - `name` is an issuer's identifier: exact, or a tenant template.
//! - `select` picks the issuer by a token's unverified `iss` (RFC 8725 §3.8): the `iss` only
//!   chooses whose rules and keys apply; the token is then verified with that issuer's keys
//!   alone, so a key of one issuer never verifies a token that names another.

mod name;
mod profile;
mod select;
mod trusted;

use std::sync::Arc;

pub(crate) use self::name::{IssuerName, TENANT_PLACEHOLDER, Tenants};
pub use self::profile::Profile;
pub(crate) use self::select::Issuers;
pub use self::trusted::TrustedIssuer;

use crate::claims::{self, ClaimRules, Hints};
use crate::dpop::SenderConstraint;
use crate::introspection::Introspector;
use crate::jws::{self, HeaderRules, Jws};
use crate::keys::{KeyLookupError, KeySet, VerifyKey};
use crate::principal::TokenInfo;
use crate::rejection::{InvalidToken, Rejection, Responder, Unavailable};

/// What tollgate trusts about one authorization server.
pub(crate) struct Issuer {
    /// `iss`, the audiences, the leeway and the narrow switches.
    pub(crate) claims: ClaimRules,
    /// The algorithm allowlist and the `typ` rule.
    pub(crate) header: HeaderRules,
    /// The signing keys, loaded and refreshed in the background.
    pub(crate) keys: KeySet,
    /// The introspection client and its answer cache, if configured. Revocations it learns go
    /// into the engine's memory.
    pub(crate) introspector: Option<Introspector>,
    /// Which strict-mode hints this issuer has logged.
    pub(crate) hints: Hints,
    /// How its tokens may be presented: bearer, DPoP, or either.
    pub(crate) sender: SenderConstraint,
}

/// The outcome of a local verification that does not refuse the token.
pub(crate) enum Verified {
    /// Signature and claims hold; shared with the verified-token cache.
    Token(Arc<TokenInfo>),
    /// The header's `kid` is not in the key set: refetch once, then verify again.
    UnknownKey,
}

impl Issuer {
    /// The issuer as configured (the template, for a template issuer), for logs.
    pub(crate) fn name(&self) -> &str {
        self.claims.issuer.as_str()
    }

    /// The header, the key, the signature and the claims of a JWT that names this issuer, at
    /// `now` (Unix seconds). `index` is the issuer's place in the engine's list.
    ///
    /// # Errors
    /// The refusal: a header this issuer's rules refuse (401), keys not loaded (503), a key
    /// bound to another algorithm, a bad signature, a claim that fails (401).
    pub(crate) fn verify(
        &self,
        jws: Jws<'_>,
        now: i64,
        responder: &Arc<Responder>,
        index: usize,
    ) -> Result<Verified, Rejection> {
        let invalid = Rejection::InvalidToken;
        let alg = self.header.check(&jws).map_err(|refused| {
            if refused == InvalidToken::Type
                && let Some(hint) = jws::typ_hint(&jws)
            {
                self.hints.note(hint, self.name());
            }
            invalid(refused)
        })?;
        let Some(keys) = self.keys.snapshot() else {
            self.keys.ensure_started();
            return Err(Rejection::Unavailable {
                reason: Unavailable::Keys,
                retry_after: self.keys.retry_after(),
            });
        };
        let key = match keys.find(jws.kid(), alg) {
            Ok(key) => Arc::clone(key),
            Err(KeyLookupError::UnknownKey) => return Ok(Verified::UnknownKey),
            Err(KeyLookupError::AlgorithmMismatch) => {
                return Err(invalid(InvalidToken::KeyMismatch));
            }
            Err(KeyLookupError::Ambiguous) => return Err(invalid(InvalidToken::UnknownKey)),
        };
        if !key.verify(jws.signing_input.as_bytes(), &jws.signature) {
            return Err(invalid(InvalidToken::Signature));
        }
        let claims = jws.claims;
        if !key_speaks_for(&key, &claims) {
            return Err(invalid(InvalidToken::Issuer));
        }
        let cx = claims::Context {
            rules: &self.claims,
            hints: &self.hints,
            now,
            responder,
            issuer_index: index,
        };
        claims::token_info(claims, key, &cx)
            .map(|info| Verified::Token(Arc::new(info)))
            .map_err(invalid)
    }
}

/// A key whose JWK names an `issuer` (Entra ID's keys do, as a `{tenantid}` template) verifies
/// only tokens of that issuer: the placeholder is replaced with the token's `tid` and the
/// result must equal its `iss`, as Entra ID's documentation asks ("Validate the signing key
/// issuer"). Keys without the member speak for the issuer whose key set holds them.
fn key_speaks_for(key: &VerifyKey, claims: &serde_json::Map<String, serde_json::Value>) -> bool {
    let Some(key_issuer) = key.issuer.as_deref() else {
        return true;
    };
    let Some(iss) = claims.get("iss").and_then(serde_json::Value::as_str) else {
        return false;
    };
    match key_issuer.split_once(TENANT_PLACEHOLDER) {
        None => iss == key_issuer,
        Some((prefix, suffix)) => claims
            .get("tid")
            .and_then(serde_json::Value::as_str)
            .is_some_and(|tid| {
                !tid.is_empty()
                    && iss
                        .strip_prefix(prefix)
                        .and_then(|rest| rest.strip_suffix(suffix))
                        == Some(tid)
            }),
    }
}
