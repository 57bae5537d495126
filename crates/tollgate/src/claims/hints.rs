//! Strict-mode hints: when an issuer's rules refuse a token for a reason one narrow switch
//! would fix, a WARN names that switch and the profiles that set it, once per issuer and
//! reason. A misconfiguration warns once, not per request; the refusal itself stays a DEBUG
//! decision like any other.

use std::sync::atomic::{AtomicU16, Ordering};

use crate::log::warn;

/// A refusal a narrow switch would have avoided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Hint {
    /// `typ: JWT` in the header.
    TypJwt,
    /// No `typ` in the header.
    TypMissing,
    /// No client id where the rules look, but `azp`.
    ClientIdAzp,
    /// No client id where the rules look, but `appid`.
    ClientIdAppid,
    /// No client id where the rules look, but `cid`.
    ClientIdCid,
    /// Scopes in `scp`, which the rules do not read.
    Scp,
    /// `scope` as an array.
    ScopeArray,
    /// No `jti`, but `uti`.
    JtiUti,
    /// No `jti` at all.
    JtiMissing,
    /// No `aud`.
    AudienceAbsent,
    /// `aud: []`.
    AudienceEmpty,
}

impl Hint {
    fn bit(self) -> u16 {
        1 << (self as u16)
    }

    /// What happened, and the switch (and profiles) that would accept it.
    fn message(self) -> &'static str {
        match self {
            Self::TypJwt => {
                "refused an access token with `typ: JWT` (RFC 9068 §2.1 requires at+jwt); if \
                 the authorization server does not follow RFC 9068, TrustedIssuer::accept_typ_jwt \
                 accepts it, as the profiles keycloak, entra-v1, entra-v2, auth0, hydra, zitadel, \
                 authentik and curity do (TollgateBuilder::allow_untyped_tokens also does)"
            }
            Self::TypMissing => {
                "refused an access token without `typ` (RFC 9068 §2.1 requires at+jwt); if the \
                 authorization server does not follow RFC 9068, TrustedIssuer::accept_missing_typ \
                 accepts it, as the profiles okta, cognito, curity and \
                 spring-authorization-server do (TollgateBuilder::allow_untyped_tokens also does)"
            }
            Self::ClientIdAzp => {
                "refused an access token without `client_id` (RFC 9068 §2.2) that has `azp`; \
                 TrustedIssuer::client_id_claims([ClientIdClaim::Azp]) reads the client id from \
                 it, as the profiles keycloak, entra-v2, auth0 and authentik do"
            }
            Self::ClientIdAppid => {
                "refused an access token without `client_id` (RFC 9068 §2.2) that has `appid`; \
                 TrustedIssuer::client_id_claims([ClientIdClaim::Appid]) reads the client id \
                 from it, as the profile entra-v1 does"
            }
            Self::ClientIdCid => {
                "refused an access token without `client_id` (RFC 9068 §2.2) that has `cid`; \
                 TrustedIssuer::client_id_claims([ClientIdClaim::Cid]) reads the client id from \
                 it, as the profile okta does"
            }
            Self::Scp => {
                "an access token carries its scopes in `scp`, which is not read (RFC 9068 \
                 §2.2.3 names `scope`), so it grants no scope here; TrustedIssuer::scope_sources \
                 with ScopeSource::ScpString or ScopeSource::ScpArray reads it, as the profiles \
                 entra-v1, entra-v2, okta and hydra do"
            }
            Self::ScopeArray => {
                "refused an access token whose `scope` is an array (RFC 9068 §2.2.3: a \
                 space-delimited string); TrustedIssuer::scope_sources with \
                 ScopeSource::ScopeArray reads it, as the profile spring-authorization-server does"
            }
            Self::JtiUti => {
                "refused an access token without `jti` (RFC 9068 §2.2) that has `uti`; \
                 TrustedIssuer::jti(JtiPolicy::alias(\"uti\")) reads it instead, as the profiles \
                 entra-v1 and entra-v2 do"
            }
            Self::JtiMissing => {
                "refused an access token without `jti` (RFC 9068 §2.2); \
                 TrustedIssuer::jti(JtiPolicy::Optional) accepts it, as the profiles auth0 and \
                 authentik do (this weakens security)"
            }
            Self::AudienceAbsent => {
                "refused an access token without `aud` (RFC 9068 §2.2); \
                 TrustedIssuer::audience_policy(AudiencePolicy::AbsentWithClientAllowlist) with \
                 allowed_clients accepts it for the listed clients, as the profile cognito does \
                 (this weakens security)"
            }
            Self::AudienceEmpty => {
                "refused an access token whose `aud` is empty (RFC 9068 §4 step 4); \
                 TrustedIssuer::audience_policy(AudiencePolicy::EmptyWithClientAllowlist) with \
                 allowed_clients accepts it for the listed clients, as the profile hydra does \
                 (this weakens security)"
            }
        }
    }
}

/// Which hints one issuer has given.
#[derive(Debug, Default)]
pub(crate) struct Hints {
    given: AtomicU16,
}

impl Hints {
    /// Logs `hint` for `issuer` at WARN the first time; later calls cost one atomic load.
    pub(crate) fn note(&self, hint: Hint, issuer: &str) {
        let bit = hint.bit();
        if self.given.load(Ordering::Relaxed) & bit != 0 {
            return;
        }
        if self.given.fetch_or(bit, Ordering::Relaxed) & bit == 0 {
            warn!("issuer {issuer}: {}", hint.message());
        }
    }

    /// Whether `hint` was given (tests).
    #[cfg(test)]
    pub(crate) fn given(&self, hint: Hint) -> bool {
        self.given.load(Ordering::Relaxed) & hint.bit() != 0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_hint_is_given_once_and_on_its_own() {
        let hints = Hints::default();
        hints.note(Hint::TypJwt, "https://as.test");
        hints.note(Hint::TypJwt, "https://as.test");
        assert!(hints.given(Hint::TypJwt));
        assert!(!hints.given(Hint::TypMissing));
        hints.note(Hint::AudienceEmpty, "https://as.test");
        assert!(hints.given(Hint::AudienceEmpty) && hints.given(Hint::TypJwt));
    }
}
