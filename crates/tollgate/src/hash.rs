//! Token fingerprints: every cache in tollgate is keyed by these, never by the token itself.

use aws_lc_rs::digest;

/// The SHA-256 of a token string.
///
/// Caches key on this so that no cache holds a token, and a memory dump of a cache reveals no
/// usable credential. A token itself lives as long as the work on it: its request, or, for an
/// introspection call, that call's task, which finishes (and caches the answer) even when every
/// request waiting for it is gone.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct TokenHash([u8; 32]);

impl TokenHash {
    pub(crate) fn of(token: &str) -> Self {
        Self::from_digest(&digest::digest(&digest::SHA256, token.as_bytes()))
    }

    /// The hash of a compact JWS, and the hash of its signed part with the dot that ends it
    /// (`header.payload.`, everything up to the last `.`), in one pass.
    ///
    /// What the authorization server says about a JWT (revoked, active) is kept under the
    /// signed part: the same signed content can carry more than one valid signature (ECDSA's
    /// `(r, s)` and `(r, n - s)` both verify), so a key over the whole string would let a revoked
    /// token come back with its signature rewritten (docs/ARCHITECTURE.md, "Caches"). Only a verified token is ever
    /// introspected, so an answer kept under a signed part is always about signed content. The
    /// trailing dot keeps these keys apart from those of opaque tokens: `header.payload.` has
    /// two dots, the one shape an opaque token never has, so sending `header.payload` as an
    /// opaque token cannot make the AS's "inactive" stick to the JWT.
    pub(crate) fn of_jws(token: &str) -> (Self, Self) {
        let split = token.rfind('.').map_or(token.len(), |dot| dot + 1);
        let (signed, rest) = token.as_bytes().split_at(split);
        let mut context = digest::Context::new(&digest::SHA256);
        context.update(signed);
        let signed_hash = Self::from_digest(&context.clone().finish());
        context.update(rest);
        (Self::from_digest(&context.finish()), signed_hash)
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
    fn a_jws_and_its_signed_part_hash_in_one_pass() {
        let (whole, signed) = TokenHash::of_jws("aGVhZA.cGF5bG9hZA.c2ln");
        assert!(whole == TokenHash::of("aGVhZA.cGF5bG9hZA.c2ln"));
        assert!(signed == TokenHash::of("aGVhZA.cGF5bG9hZA."));
        assert!(signed != TokenHash::of("aGVhZA.cGF5bG9hZA"));
        // Another signature over the same signed part: another token, the same signed part.
        let (other, same) = TokenHash::of_jws("aGVhZA.cGF5bG9hZA.b3RoZXI");
        assert!(other != whole && same == signed);
    }
}
