//! The verified-token cache: a repeated JWT skips the signature and the parsing until it
//! expires. Keyed by the hash of the whole token ([`TokenHash`], never the token), bounded by
//! entries and by an estimate of the bytes each entry holds, and valid only while the key that
//! verified an entry is still published (docs/ARCHITECTURE.md, "Caches").
//!
//! A `quick_cache` sharded cache (CLOCK-Pro-like admission, eviction on insert), not moka: a
//! hit is a shard's read lock and one hash-table probe, where moka also records the read for
//! its frequency sketch and reads the clock for its expiry. Measured side by side
//! (`benches/cache_lookup.rs`), a moka lookup cost about nine times as much (BENCHMARKS.md).
//! Expiry needs no timer here: every hit checks the token's times anyway, a hit that finds the
//! token expired removes the entry, and entries nobody asks for again leave when room is
//! needed. The weight bound is what bounds memory, as before.

use std::hash::{BuildHasher, Hasher};
use std::sync::Arc;

use quick_cache::Weighter;

use crate::hash::TokenHash;
use crate::principal::TokenInfo;

/// What the cache keeps for a verified token. A struct so that what a hit must check can be
/// carried along without a second lookup.
#[derive(Clone)]
pub(crate) struct Verification {
    /// What the token says, shared by every request that presents it.
    pub(crate) info: Arc<TokenInfo>,
    /// The hash of the token's signed part (`header.payload.`, [`TokenHash::of_signed_part`]), which
    /// keys the revocation memory and the introspection answers: kept here so that a hit
    /// hashes the token once.
    pub(crate) live: TokenHash,
}

/// The cache proper: a hit costs a shard's read lock and one probe, and allocates nothing.
type Entries = quick_cache::sync::Cache<TokenHash, Verification, ByEstimate, KeyBits>;

/// Verified tokens by the hash of the whole token.
pub(crate) struct VerifiedCache {
    /// `None` when either bound is zero: nothing is cached.
    entries: Option<Entries>,
}

impl VerifiedCache {
    /// At most `max_entries` entries and about `max_bytes` of estimated size.
    ///
    /// One total weight bounds both: an entry weighs its estimated bytes, but at least
    /// `max_bytes / max_entries`, so that the weight bound also keeps the entry count within
    /// `max_entries`. The weigher runs once per insert (a newly verified token, after a
    /// signature check that costs far more); hits weigh nothing.
    pub(crate) fn new(max_entries: u64, max_bytes: u64) -> Self {
        if max_entries == 0 || max_bytes == 0 {
            return Self { entries: None };
        }
        let floor = (max_bytes / max_entries).max(1);
        let entries = Entries::with(
            usize::try_from(max_entries).unwrap_or(usize::MAX),
            max_bytes,
            ByEstimate { floor },
            KeyBits,
            quick_cache::sync::DefaultLifecycle::default(),
        );
        Self {
            entries: Some(entries),
        }
    }

    /// The verification of this token, if cached.
    pub(crate) fn get(&self, hash: &TokenHash) -> Option<Verification> {
        self.entries.as_ref()?.get(hash)
    }

    /// Remembers a verification.
    pub(crate) fn insert(&self, hash: TokenHash, verification: Verification) {
        if let Some(entries) = &self.entries {
            entries.insert(hash, verification);
        }
    }

    /// Forgets a verification whose key is gone or whose token expired.
    pub(crate) fn invalidate(&self, hash: &TokenHash) {
        if let Some(entries) = &self.entries {
            entries.remove(hash);
        }
    }

    /// Entries held.
    pub(crate) fn entry_count(&self) -> u64 {
        self.entries.as_ref().map_or(0, |e| e.len() as u64)
    }

    /// The total weight held (estimated bytes, each entry at least the floor), for tests.
    #[cfg(test)]
    fn weight(&self) -> u64 {
        self.entries.as_ref().map_or(0, Entries::weight)
    }
}

/// Weighs an entry by its estimated bytes, at least `floor` (see [`VerifiedCache::new`]).
#[derive(Clone)]
struct ByEstimate {
    floor: u64,
}

impl Weighter<TokenHash, Verification> for ByEstimate {
    fn weight(&self, _key: &TokenHash, value: &Verification) -> u64 {
        u64::try_from(entry_bytes(&value.info))
            .unwrap_or(u64::MAX)
            .max(self.floor)
    }
}

/// The table hash of a key: its first eight bytes. A key is a SHA-256 already, uniform and out
/// of anyone's control (only verified tokens are inserted, and a lookup of anything else finds
/// nothing), so hashing it again would only cost time.
#[derive(Clone, Copy, Default)]
struct KeyBits;

impl BuildHasher for KeyBits {
    type Hasher = KeyBitsHasher;

    fn build_hasher(&self) -> KeyBitsHasher {
        KeyBitsHasher(0)
    }
}

/// See [`KeyBits`]: takes the `u64` that `TokenHash`'s `Hash` writes.
struct KeyBitsHasher(u64);

impl Hasher for KeyBitsHasher {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write_u64(&mut self, bits: u64) {
        self.0 = bits;
    }

    fn write(&mut self, bytes: &[u8]) {
        // Not reached by `TokenHash`; anything else is folded in, eight bytes at a time.
        for chunk in bytes.chunks(8) {
            let mut word = [0u8; 8];
            word[..chunk.len()].copy_from_slice(chunk);
            self.0 = self.0.rotate_left(5) ^ u64::from_le_bytes(word);
        }
    }
}

/// The cache's own share of an entry: its slot (key, value and the cache's per-entry state),
/// the hash-table bucket, the revocation key it carries, and the `Arc`'s counts. An estimate;
/// the claims dominate for every real token.
const CACHE_ENTRY_OVERHEAD: usize = 256;

/// A `serde_json::Map` member beyond its key and value: the ordered map's node share.
const MAP_MEMBER_OVERHEAD: usize = 16;

/// The estimated heap and inline size of a cached verification.
fn entry_bytes(info: &TokenInfo) -> usize {
    use std::mem::size_of;
    let string = |s: &String| s.capacity();
    let optional = |s: &Option<String>| s.as_ref().map_or(0, string);
    let strings =
        |v: &Vec<String>| v.capacity() * size_of::<String>() + v.iter().map(string).sum::<usize>();
    CACHE_ENTRY_OVERHEAD
        + size_of::<TokenInfo>()
        + optional(&info.standard.issuer)
        + optional(&info.standard.subject)
        + optional(&info.standard.client_id)
        + optional(&info.standard.acr)
        + optional(&info.standard.jti)
        + strings(&info.standard.audiences)
        + strings(&info.standard.amr)
        + strings(&info.standard.roles)
        + strings(&info.standard.permissions)
        + info
            .standard.scopes
            .iter()
            .map(|s| size_of::<String>() + s.len())
            .sum::<usize>()
        // The claims `Value` itself sits inside `TokenInfo`.
        + json_bytes(&info.claims)
        - size_of::<serde_json::Value>()
}

/// The estimated size of a JSON value: its own slot and everything it owns. Claims come from
/// serde_json, whose recursion limit (128) bounds the depth.
fn json_bytes(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    use std::mem::size_of;
    size_of::<Value>()
        + match value {
            Value::String(s) => s.capacity(),
            Value::Array(items) => {
                (items.capacity() - items.len()) * size_of::<Value>()
                    + items.iter().map(json_bytes).sum::<usize>()
            }
            Value::Object(members) => members
                .iter()
                .map(|(name, value)| {
                    MAP_MEMBER_OVERHEAD + size_of::<String>() + name.capacity() + json_bytes(value)
                })
                .sum(),
            Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Tollgate, TollgateBuilder};

    fn base() -> TollgateBuilder {
        Tollgate::builder()
            .issuer("https://as.test")
            .audience("api")
    }

    /// An HS256 token of `base()`'s issuer and audience, with `filler` bytes of extra claims.
    fn hs256(secret: &[u8], jti: &str, filler: usize) -> String {
        use aws_lc_rs::hmac;
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = serde_json::json!({
            "iss": "https://as.test", "aud": "api", "sub": "s", "client_id": "c", "jti": jti,
            "iat": now, "exp": now + 600, "filler": "f".repeat(filler),
        });
        let mut token = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"at+jwt"}"#);
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), token.as_bytes());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(tag.as_ref()));
        token
    }

    #[tokio::test]
    async fn a_cached_signature_on_another_payload_is_verified_not_answered_from_the_cache() {
        // The cache key covers the whole token (docs/ARCHITECTURE.md, "What a cache hit is
        // keyed by"): a cached token's signature spliced onto a payload of the caller's choice
        // must meet the signature check, not a cached answer.
        let secret = [7u8; 32];
        let gate = base().hmac_secret(secret.to_vec()).build().unwrap();
        let token = hs256(&secret, "spliced", 0);
        assert!(gate.validate(&token).await.is_ok());
        assert_eq!(gate.inner.verified.entry_count(), 1);
        let other = hs256(&secret, "admin", 0);
        let (signed, _) = other.rsplit_once('.').unwrap();
        let (_, signature) = token.rsplit_once('.').unwrap();
        let spliced = format!("{signed}.{signature}");
        assert_eq!(
            gate.validate(&spliced).await.unwrap_err(),
            crate::Rejection::InvalidToken(crate::InvalidToken::Signature)
        );
        // The real one is still answered, by its entry.
        assert!(gate.validate(&token).await.is_ok());
        assert_eq!(gate.inner.verified.entry_count(), 1);
    }

    #[tokio::test]
    async fn the_verified_cache_is_bounded_by_bytes_not_only_by_entries() {
        // 12 000 distinct tokens with 4 KiB of claims each, through the default cache: bounded
        // by entries alone it would keep 10 000 of them, over 40 MiB of claims, though a
        // typical entry is a tenth of that.
        const FILLER: usize = 4096;
        let secret = [7u8; 32];
        let gate = base().hmac_secret(secret.to_vec()).build().unwrap();
        for i in 0..12_000 {
            let token = hs256(&secret, &format!("flood-{i}"), FILLER);
            assert!(gate.validate(&token).await.is_ok(), "token {i}");
        }
        let cache = &gate.inner.verified;
        let (entries, weight) = (cache.entry_count(), cache.weight());
        assert!(entries > 0);
        assert!(
            weight <= 32 << 20,
            "{weight} bytes weighed in a cache of 32 MiB"
        );
        assert!(
            entries * FILLER as u64 <= 32 << 20,
            "{entries} entries of over {FILLER} bytes each in a cache of 32 MiB"
        );
    }

    #[tokio::test]
    async fn both_cache_bounds_hold_and_entries_are_weighed_by_their_claims() {
        let secret = [7u8; 32];
        let cached = |gate: &Tollgate| {
            (
                gate.inner.verified.entry_count(),
                gate.inner.verified.weight(),
            )
        };
        // The byte bound: 1 MiB holds at most 256 entries of 4 KiB of claims.
        let gate = base()
            .hmac_secret(secret.to_vec())
            .verified_cache_max_bytes(1 << 20)
            .build()
            .unwrap();
        for i in 0..1_000 {
            assert!(
                gate.validate(&hs256(&secret, &format!("b{i}"), 4096))
                    .await
                    .is_ok()
            );
        }
        let (entries, weight) = cached(&gate);
        assert!(entries > 0 && entries <= 256, "{entries}");
        assert!(weight <= 1 << 20, "{weight}");
        // The entry bound, for small tokens: at most 100 of them, whatever their size.
        let gate = base()
            .hmac_secret(secret.to_vec())
            .verified_cache_capacity(100)
            .build()
            .unwrap();
        for i in 0..1_000 {
            assert!(
                gate.validate(&hs256(&secret, &format!("e{i}"), 0))
                    .await
                    .is_ok()
            );
        }
        let (entries, _) = cached(&gate);
        assert!(entries > 0 && entries <= 100, "{entries}");
        // Zero of either caches nothing.
        for gate in [
            base()
                .hmac_secret(secret.to_vec())
                .verified_cache_capacity(0),
            base()
                .hmac_secret(secret.to_vec())
                .verified_cache_max_bytes(0),
        ] {
            let gate = gate.build().unwrap();
            assert!(gate.validate(&hs256(&secret, "z", 0)).await.is_ok());
            assert_eq!(cached(&gate).0, 0);
        }
        // The estimate follows the claims: a small token weighs about a kilobyte, 4 KiB more
        // of claims about 4 KiB more.
        let mut weights = Vec::new();
        for filler in [0, 4096] {
            let gate = base().hmac_secret(secret.to_vec()).build().unwrap();
            assert!(gate.validate(&hs256(&secret, "w", filler)).await.is_ok());
            let entries = gate.inner.verified.entries.as_ref().expect("a cache");
            let (_, entry) = entries.iter().next().expect("one entry");
            weights.push(entry_bytes(&entry.info));
        }
        let (small, large) = (weights[0], weights[1]);
        assert!((512..=2048).contains(&small), "{small}");
        assert!(
            (4096..=4096 + 512).contains(&(large - small)),
            "{small} {large}"
        );
    }
}
