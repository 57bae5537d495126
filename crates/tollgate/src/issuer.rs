//! One trusted issuer: the rules its tokens are held to, its key set and its introspection
//! client. The engine holds one today; everything per issuer lives here so that it can hold
//! several.

use std::sync::Arc;

use crate::claims::{self, ClaimRules};
use crate::introspection::Introspector;
use crate::jws::{self, HeaderRules};
use crate::keys::{KeyLookupError, KeySet};
use crate::principal::TokenInfo;
use crate::rejection::{InvalidToken, Rejection, Responder, Unavailable};

/// What tollgate trusts about one authorization server.
pub(crate) struct Issuer {
    /// `iss`, the audiences, the leeway and the claim relaxations.
    pub(crate) claims: ClaimRules,
    /// The algorithm allowlist and the `typ` rule.
    pub(crate) header: HeaderRules,
    /// The signing keys, loaded and refreshed in the background.
    pub(crate) keys: KeySet,
    /// The introspection client, its answer cache and its revocation memory, if configured.
    pub(crate) introspector: Option<Introspector>,
}

/// The outcome of a local verification that does not refuse the token.
pub(crate) enum Verified {
    /// Signature and claims hold; shared with the verified-token cache.
    Token(Arc<TokenInfo>),
    /// The header's `kid` is not in the key set: refetch once, then verify again.
    UnknownKey,
}

impl Issuer {
    /// The header, the key, the signature and the claims of a JWT, at `now` (Unix seconds).
    ///
    /// # Errors
    /// The refusal: a malformed token or one the header rules refuse (401), keys not loaded
    /// (503), a key bound to another algorithm, a bad signature, a claim that fails (401).
    pub(crate) fn verify(
        &self,
        token: &str,
        now: i64,
        responder: &Arc<Responder>,
    ) -> Result<Verified, Rejection> {
        let invalid = Rejection::InvalidToken;
        let jws = jws::parse(token, &self.header).map_err(invalid)?;
        let Some(keys) = self.keys.snapshot() else {
            self.keys.ensure_started();
            return Err(Rejection::Unavailable {
                reason: Unavailable::Keys,
                retry_after: self.keys.retry_after(),
            });
        };
        let key = match keys.find(jws.kid(), jws.alg) {
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
        let claims = jws::claims(&jws).map_err(invalid)?;
        claims::token_info(claims, &self.claims, now, key, responder)
            .map(|info| Verified::Token(Arc::new(info)))
            .map_err(invalid)
    }
}
