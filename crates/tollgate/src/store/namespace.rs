//! What keys in a shared store are made of: the namespace of an issuer and its audiences, and
//! the digests that stand for tokens.

use std::fmt;

use aws_lc_rs::digest;
use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

/// The part of a shared store that belongs to one issuer and one set of audiences.
///
/// Two APIs that trust the same issuer but serve different audiences do not share
/// revocations or answers: a token revoked for one may not even be valid for the other, and an
/// answer checked against one audience says nothing about another. Instances of one API (same
/// issuer, same audiences in any order) land in the same namespace.
///
/// The name is a short base64url SHA-256 of the issuer and the sorted, de-duplicated
/// audiences: it contains neither `{`, `}` nor `:`, so a store may use it as a Redis Cluster
/// hash tag and a key separator.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Namespace(String);

/// Bytes of the SHA-256 kept in a namespace's name: 128 bits, 22 base64url characters.
const NAMESPACE_BYTES: usize = 16;

impl Namespace {
    /// The namespace of `issuer` (exactly as configured, RFC 8414 §3.3 compares it as a
    /// string) and `audiences` (order and repetition do not matter).
    pub fn new<I, A>(issuer: &str, audiences: I) -> Self
    where
        I: IntoIterator<Item = A>,
        A: AsRef<str>,
    {
        let mut audiences: Vec<String> = audiences
            .into_iter()
            .map(|audience| audience.as_ref().to_owned())
            .collect();
        audiences.sort_unstable();
        audiences.dedup();
        let mut context = digest::Context::new(&digest::SHA256);
        // Each part is length-prefixed: ("ab", ["c"]) and ("a", ["bc"]) must not collide.
        context.update(b"tollgate-namespace-v1");
        for part in std::iter::once(issuer).chain(audiences.iter().map(String::as_str)) {
            context.update(&(part.len() as u64).to_be_bytes());
            context.update(part.as_bytes());
        }
        let hash = context.finish();
        Self(URL_SAFE_NO_PAD.encode(&hash.as_ref()[..NAMESPACE_BYTES]))
    }

    /// The namespace's name: 22 base64url characters.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Namespace {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Namespace({})", self.0)
    }
}

/// The SHA-256 of what a store keys on: a token (for a JWT, its signed part, so that a
/// rewritten signature cannot escape a revocation), a DPoP proof's `jti`, and so on.
///
/// A digest reveals no usable credential, so it may sit in a shared store, in logs and in
/// messages between instances. Its `Debug` shows a short prefix only, enough to correlate.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest(pub [u8; 32]);

impl Digest {
    /// The SHA-256 of `bytes`.
    pub fn of(bytes: &[u8]) -> Self {
        let hash = digest::digest(&digest::SHA256, bytes);
        let mut out = [0u8; 32];
        out.copy_from_slice(hash.as_ref());
        Self(out)
    }

    /// The digest as 43 base64url characters without padding (RFC 4648 §5), the form used in
    /// store keys and in the [wire format](super::wire).
    pub fn to_base64url(&self) -> String {
        URL_SAFE_NO_PAD.encode(self.0)
    }

    /// Reads the form [`to_base64url`](Self::to_base64url) writes, and only that form: exactly
    /// 43 characters of the URL-safe alphabet, canonical (no stray bits in the last one).
    pub fn from_base64url(text: &str) -> Option<Self> {
        if text.len() != 43 {
            return None;
        }
        // The decoder refuses non-canonical trailing bits, so each digest has one spelling.
        let bytes = URL_SAFE_NO_PAD.decode(text).ok()?;
        Some(Self(bytes.try_into().ok()?))
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "Digest({:02x}{:02x}{:02x}{:02x}..)",
            self.0[0], self.0[1], self.0[2], self.0[3]
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_namespace_ignores_audience_order_and_repetition() {
        let one = Namespace::new("https://as.example", ["b", "a"]);
        assert_eq!(one, Namespace::new("https://as.example", ["a", "b", "a"]));
        assert_eq!(one.as_str().len(), 22);
        assert!(
            one.as_str()
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        );
    }

    #[test]
    fn namespaces_differ_by_issuer_audience_and_boundaries() {
        let base = Namespace::new("https://as.example", ["api"]);
        assert_ne!(base, Namespace::new("https://as.example/", ["api"]));
        assert_ne!(base, Namespace::new("https://as.example", ["api2"]));
        assert_ne!(base, Namespace::new("https://as.example", ["api", "other"]));
        // Moving a character from the issuer to the audience is another namespace.
        assert_ne!(
            Namespace::new("ab", ["c"]),
            Namespace::new("a", ["bc"]),
            "parts are length-prefixed"
        );
        let none: [&str; 0] = [];
        assert_ne!(Namespace::new("a", none), Namespace::new("a", [""]));
    }

    #[test]
    fn a_digest_has_one_spelling() {
        let digest = Digest::of(b"header.payload.");
        let text = digest.to_base64url();
        assert_eq!(text.len(), 43);
        assert_eq!(Digest::from_base64url(&text), Some(digest));
        // Padding, the standard alphabet, wrong lengths and stray trailing bits are refused.
        assert_eq!(Digest::from_base64url(&format!("{text}=")), None);
        assert_eq!(Digest::from_base64url(&text[..42]), None);
        let standard = text.replace('-', "+").replace('_', "/");
        if standard != text {
            assert_eq!(Digest::from_base64url(&standard), None);
        }
        // 43 characters carry 258 bits: the last character's low two bits must be zero.
        let zeros = "A".repeat(42);
        assert_eq!(
            Digest::from_base64url(&format!("{zeros}A")),
            Some(Digest([0; 32]))
        );
        assert_eq!(Digest::from_base64url(&format!("{zeros}B")), None);
    }

    #[test]
    fn a_digest_debug_shows_a_prefix_only() {
        let digest = Digest([0xab; 32]);
        assert_eq!(format!("{digest:?}"), "Digest(abababab..)");
    }
}
