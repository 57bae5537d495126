//! Token fingerprints: every cache in tollgate is keyed by these, never by the token itself.

use aws_lc_rs::digest;

/// The SHA-256 of a token string.
///
/// Caches key on this so that no cache holds a token, and a memory dump of a cache reveals no
/// usable credential. A token itself lives as long as the work on it: its request, or, for an
/// introspection call, that call's task, which finishes (and caches the answer) even when every
/// request waiting for it is gone.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) struct TokenHash([u8; 32]);

/// A table hash of eight bytes of the digest: they are uniform already, and tables compare the
/// whole digest on a match. Hashing them again (SipHash in a `HashMap`) stays correct and costs
/// little; the verified-token cache takes them as they are (`verified.rs`).
impl std::hash::Hash for TokenHash {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        let mut word = [0u8; 8];
        word.copy_from_slice(&self.0[..8]);
        state.write_u64(u64::from_le_bytes(word));
    }
}

impl TokenHash {
    /// The hash of a whole token: the key of the verified-token cache, and for an opaque token
    /// its only fingerprint.
    pub(crate) fn of(token: &str) -> Self {
        Self::from_digest(&digest::digest(&digest::SHA256, token.as_bytes()))
    }

    /// The hash of a compact JWS's signed part with the dot that ends it (`header.payload.`,
    /// everything up to the last `.`).
    ///
    /// What the authorization server says about a JWT (revoked, active) is kept under the
    /// signed part: the same signed content can carry more than one valid signature (ECDSA's
    /// `(r, s)` and `(r, n - s)` both verify), so a key over the whole string would let a revoked
    /// token come back with its signature rewritten (docs/ARCHITECTURE.md, "Caches"). Only a
    /// verified token is ever introspected, so an answer kept under a signed part is always about signed content. The
    /// trailing dot keeps these keys apart from those of opaque tokens: `header.payload.` has
    /// two dots, the one shape an opaque token never has, so sending `header.payload` as an
    /// opaque token cannot make the AS's "inactive" stick to the JWT.
    ///
    /// Computed on a verified-token cache miss only: a hit finds it in its entry, so a routine
    /// hit hashes the token once, in one pass over it (`verified.rs`).
    pub(crate) fn of_signed_part(token: &str) -> Self {
        let split = token.rfind('.').map_or(token.len(), |dot| dot + 1);
        Self::from_digest(&digest::digest(&digest::SHA256, &token.as_bytes()[..split]))
    }

    /// The digest's bytes: the shared store's `Digest` of the same input.
    pub(crate) fn to_bytes(self) -> [u8; 32] {
        self.0
    }

    /// A fingerprint from the shared store's `Digest`: the same hash of the same input.
    pub(crate) fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    fn from_digest(d: &digest::Digest) -> Self {
        let mut out = [0u8; 32];
        out.copy_from_slice(d.as_ref());
        Self(out)
    }
}

impl std::fmt::Debug for TokenHash {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // A short prefix is enough to correlate log lines and reveals nothing usable.
        write!(
            f,
            "TokenHash({:02x}{:02x}{:02x}{:02x}..)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_jws_signed_part_is_hashed_with_its_closing_dot() {
        let whole = TokenHash::of("aGVhZA.cGF5bG9hZA.c2ln");
        let signed = TokenHash::of_signed_part("aGVhZA.cGF5bG9hZA.c2ln");
        assert!(signed == TokenHash::of("aGVhZA.cGF5bG9hZA."));
        assert!(signed != TokenHash::of("aGVhZA.cGF5bG9hZA") && signed != whole);
        // Another signature over the same signed part: another token, the same signed part.
        let other = "aGVhZA.cGF5bG9hZA.b3RoZXI";
        assert!(TokenHash::of(other) != whole && TokenHash::of_signed_part(other) == signed);
    }
}
