//! Verification keys, parsed once, and the immutable snapshot that holds one key set.

use std::collections::HashMap;
use std::fmt;
use std::sync::Arc;
use std::time::Instant;

use crate::alg::Algorithm;
use aws_lc_rs::hmac;
use aws_lc_rs::signature::ParsedPublicKey;

use super::KeyLookupError;
use crate::log::warn;

/// One verification key, parsed once, bound to one algorithm.
///
/// The key material is kept in the form the crypto library verifies with, so a verification
/// never rebuilds the key. The algorithm is fixed when the key is built: an RS256 key cannot
/// verify a PS256 signature, whatever a token header says (RFC 8725 §3.1).
pub(crate) struct VerifyKey {
    /// The JWK's `kid`; `None` for a key without one and for a configured secret.
    pub(crate) kid: Option<String>,
    /// The one algorithm this key verifies.
    pub(crate) alg: Algorithm,
    /// The issuer the JWK says it signs for (Entra ID's per-key `issuer`, possibly a
    /// `{tenantid}` template): it then verifies only tokens of that issuer.
    pub(crate) issuer: Option<Box<str>>,
    material: Material,
    /// The public parameters as published, so that a refresh recognises an unchanged JWK and
    /// keeps its `Arc` (the verified-token cache relies on that identity). Empty for HMAC.
    fingerprint: Box<[u8]>,
}

enum Material {
    Public(ParsedPublicKey),
    /// Boxed: the HMAC key state is large, and HMAC is the rare case.
    Hmac(Box<hmac::Key>),
}

impl VerifyKey {
    /// A public key, already bound to `alg` through the verification algorithm of `key`.
    pub(super) fn public(
        kid: Option<String>,
        alg: Algorithm,
        key: ParsedPublicKey,
        fingerprint: Box<[u8]>,
    ) -> Self {
        Self {
            kid,
            alg,
            issuer: None,
            material: Material::Public(key),
            fingerprint,
        }
    }

    /// An HMAC key for one of HS256/384/512; `None` for any other algorithm or a secret shorter
    /// than the hash output, which RFC 7518 §3.2 forbids.
    pub(super) fn hmac(alg: Algorithm, secret: &[u8]) -> Option<Self> {
        let algorithm = match alg {
            Algorithm::HS256 => hmac::HMAC_SHA256,
            Algorithm::HS384 => hmac::HMAC_SHA384,
            Algorithm::HS512 => hmac::HMAC_SHA512,
            _ => return None,
        };
        let min_len = alg.hmac_min_len();
        if secret.len() < min_len {
            warn!(
                "HMAC secret of {} bytes is too short for {alg:?} (at least {min_len} bytes, \
                 RFC 7518 §3.2); {alg:?} tokens will be refused",
                secret.len()
            );
            return None;
        }
        Some(Self {
            kid: None,
            alg,
            issuer: None,
            material: Material::Hmac(Box::new(hmac::Key::new(algorithm, secret))),
            fingerprint: Box::default(),
        })
    }

    /// Verifies `signature` (already base64url-decoded) over `message` (`header.payload`).
    pub(crate) fn verify(&self, message: &[u8], signature: &[u8]) -> bool {
        match &self.material {
            Material::Public(key) => key.verify_sig(message, signature).is_ok(),
            // `hmac::verify` compares in constant time.
            Material::Hmac(key) => hmac::verify(key, message, signature).is_ok(),
        }
    }

    /// True when this key was built from exactly these published parameters.
    pub(super) fn same_content(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
        fingerprint: &[u8],
    ) -> bool {
        !self.fingerprint.is_empty()
            && self.kid.as_deref() == kid
            && self.alg == alg
            && *self.fingerprint == *fingerprint
    }
}

impl fmt::Debug for VerifyKey {
    // Hand-written: key material (an HMAC secret in particular) never appears in Debug output.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("VerifyKey")
            .field("kid", &self.kid)
            .field("alg", &self.alg)
            .finish_non_exhaustive()
    }
}

/// Up to this many keys, [`KeySnapshot::contains`] compares pointers rather than hashing the
/// `kid`.
const SCAN_KEYS: usize = 16;

/// An immutable view of the key set, swapped whole on refresh.
pub(crate) struct KeySnapshot {
    /// When the key set in this snapshot was last confirmed by the authorization server (the
    /// last successful fetch), or built from a configured secret.
    pub(crate) fetched_at: Instant,
    /// The same moment on the wall clock (Unix seconds), for the check a cache hit makes with
    /// the clock reading its request already took (`Loader::is_fresh_at`).
    pub(crate) fetched_at_unix: i64,
    /// Every key, in the order of the JWKS.
    keys: Vec<Arc<VerifyKey>>,
    by_kid: HashMap<String, Arc<VerifyKey>>,
    /// A configured secret has no `kid`: the header's `kid` is not used to choose the key.
    ignore_kid: bool,
}

impl KeySnapshot {
    /// Builds a snapshot; of several keys with the same `kid`, the first one wins.
    pub(super) fn new(keys: Vec<Arc<VerifyKey>>, fetched_at: Instant, ignore_kid: bool) -> Self {
        let mut by_kid = HashMap::with_capacity(keys.len());
        for key in &keys {
            if let Some(kid) = &key.kid {
                by_kid.entry(kid.clone()).or_insert_with(|| Arc::clone(key));
            }
        }
        Self {
            fetched_at,
            fetched_at_unix: crate::engine::now(),
            keys,
            by_kid,
            ignore_kid,
        }
    }

    /// The same keys (the same `Arc`s), confirmed again at `fetched_at`.
    pub(super) fn reconfirmed(&self, fetched_at: Instant) -> Self {
        Self {
            fetched_at,
            fetched_at_unix: crate::engine::now(),
            keys: self.keys.clone(),
            by_kid: self.by_kid.clone(),
            ignore_kid: self.ignore_kid,
        }
    }

    /// The key for a token header.
    ///
    /// With a `kid`, that key, whose algorithm must be the header's `alg` (RFC 8725 §3.1: the
    /// key decides the algorithm, not the token). Without a `kid`, the only key for `alg`;
    /// with several candidates the token is refused rather than tried against each.
    /// Allocation free: this runs for every token that misses the verified-token cache.
    pub(crate) fn find(
        &self,
        kid: Option<&str>,
        alg: Algorithm,
    ) -> Result<&Arc<VerifyKey>, KeyLookupError> {
        match kid {
            Some(kid) if !self.ignore_kid => {
                let key = self.by_kid.get(kid).ok_or(KeyLookupError::UnknownKey)?;
                if key.alg == alg {
                    Ok(key)
                } else {
                    Err(KeyLookupError::AlgorithmMismatch)
                }
            }
            _ => {
                let mut candidates = self.keys.iter().filter(|key| key.alg == alg);
                match (candidates.next(), candidates.next()) {
                    (Some(key), None) => Ok(key),
                    (None, _) => Err(KeyLookupError::UnknownKey),
                    (Some(_), Some(_)) => Err(KeyLookupError::Ambiguous),
                }
            }
        }
    }

    /// True when this exact key (same `Arc`) is part of the snapshot. Asked on every
    /// verified-token cache hit: a few pointer comparisons for a small set (most JWKS hold a
    /// handful of keys), a `kid` lookup for a large one.
    pub(crate) fn contains(&self, key: &Arc<VerifyKey>) -> bool {
        if self.keys.len() <= SCAN_KEYS {
            return self.keys.iter().any(|current| Arc::ptr_eq(current, key));
        }
        match &key.kid {
            Some(kid) => self
                .by_kid
                .get(kid.as_str())
                .is_some_and(|current| Arc::ptr_eq(current, key)),
            None => self.keys.iter().any(|current| Arc::ptr_eq(current, key)),
        }
    }

    /// The keys in JWKS order.
    pub(crate) fn keys(&self) -> &[Arc<VerifyKey>] {
        &self.keys
    }

    /// The number of usable keys.
    pub(crate) fn len(&self) -> usize {
        self.keys.len()
    }
}

impl fmt::Debug for KeySnapshot {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("KeySnapshot")
            .field("fetched_at", &self.fetched_at)
            .field("keys", &self.keys)
            .finish_non_exhaustive()
    }
}
