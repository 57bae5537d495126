//! The verified-token cache: a repeated JWT skips the signature and the parsing until it
//! expires. Keyed by the hash of the whole token ([`TokenHash`], never the token), bounded by
//! entries and by an estimate of the bytes each entry holds, and valid only while the key that
//! verified an entry is still published (docs/ARCHITECTURE.md, "Caches").

use std::sync::Arc;
use std::time::Duration;

use crate::hash::TokenHash;
use crate::principal::TokenInfo;

/// Verified tokens by the hash of the whole token. Cheap to read: a hit is one lookup and
/// allocates nothing.
pub(crate) struct VerifiedCache {
    entries: moka::sync::Cache<TokenHash, Arc<TokenInfo>>,
}

impl VerifiedCache {
    /// At most `max_entries` entries and about `max_bytes` of estimated size; `leeway` keeps an
    /// expired entry long enough for the time check to refuse it with the right reason.
    pub(crate) fn new(max_entries: u64, max_bytes: u64, leeway: Duration) -> Self {
        Self {
            entries: verified_cache(max_entries, max_bytes, leeway),
        }
    }

    /// The verification of this token, if cached.
    pub(crate) fn get(&self, hash: &TokenHash) -> Option<Arc<TokenInfo>> {
        self.entries.get(hash)
    }

    /// Remembers a verification.
    pub(crate) fn insert(&self, hash: TokenHash, info: Arc<TokenInfo>) {
        self.entries.insert(hash, info);
    }

    /// Forgets a verification whose key is gone.
    pub(crate) fn invalidate(&self, hash: &TokenHash) {
        self.entries.invalidate(hash);
    }

    /// Entries held (approximate: moka applies evictions in batches).
    pub(crate) fn entry_count(&self) -> u64 {
        self.entries.entry_count()
    }

    /// The moka cache itself, for tests that inspect its bounds.
    #[cfg(test)]
    pub(crate) fn moka(&self) -> &moka::sync::Cache<TokenHash, Arc<TokenInfo>> {
        &self.entries
    }
}

/// The verified-token cache, bounded by `max_entries` and by `max_bytes` of estimated size.
///
/// moka bounds one total weight: an entry weighs its estimated bytes, but at least
/// `max_bytes / max_entries`, so that the weight bound also keeps the entry count within
/// `max_entries`. The weigher runs once per insert (a newly verified token, after a signature
/// check that costs far more); hits do not weigh anything.
fn verified_cache(
    max_entries: u64,
    max_bytes: u64,
    leeway: Duration,
) -> moka::sync::Cache<TokenHash, Arc<TokenInfo>> {
    let builder = moka::sync::Cache::builder().expire_after(UntilExpiry { leeway });
    if max_entries == 0 || max_bytes == 0 {
        return builder.max_capacity(0).build();
    }
    let floor = u32::try_from(max_bytes / max_entries).unwrap_or(u32::MAX);
    builder
        .max_capacity(max_bytes)
        .weigher(move |_, info: &Arc<TokenInfo>| {
            u32::try_from(entry_bytes(info))
                .unwrap_or(u32::MAX)
                .max(floor)
        })
        .build()
}

/// The cache's own share of an entry: moka's entry and its bookkeeping (deque nodes, frequency
/// sketch, expiry timer wheel), the key (a 32-byte hash), and the `Arc`'s counts. An estimate
/// from moka's layout; the claims dominate for every real token.
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

/// A verified token stays cached until it expires (plus leeway, so that an expired hit still
/// reaches the time check and gets the right answer).
struct UntilExpiry {
    leeway: Duration,
}

impl moka::Expiry<TokenHash, Arc<TokenInfo>> for UntilExpiry {
    fn expire_after_create(
        &self,
        _key: &TokenHash,
        value: &Arc<TokenInfo>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let exp = value
            .standard
            .expires_at
            .and_then(|e| u64::try_from(e).ok())
            .unwrap_or(0);
        Some(Duration::from_secs(exp.saturating_sub(now)) + self.leeway)
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
        let cache = gate.inner.verified.moka();
        cache.run_pending_tasks();
        let (entries, weight) = (cache.entry_count(), cache.weighted_size());
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
            gate.inner.verified.moka().run_pending_tasks();
            (
                gate.inner.verified.moka().entry_count(),
                gate.inner.verified.moka().weighted_size(),
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
            let (_, info) = gate.inner.verified.moka().iter().next().expect("one entry");
            weights.push(entry_bytes(&info));
        }
        let (small, large) = (weights[0], weights[1]);
        assert!((512..=2048).contains(&small), "{small}");
        assert!(
            (4096..=4096 + 512).contains(&(large - small)),
            "{small} {large}"
        );
    }
}
