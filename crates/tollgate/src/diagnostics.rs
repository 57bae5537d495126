//! What tollgate can tell about its own state ([`Diagnostics`]): for readiness probes, metrics
//! and logs.

use std::time::Duration;

use crate::engine::Tollgate;

/// A snapshot of a [`Tollgate`]'s key set, caches and introspection client, from
/// [`Tollgate::diagnostics`].
///
/// Counters start at zero when the engine is built. Nothing here contains a token or a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostics {
    /// Signing keys are loaded, at least one of them is usable, and they are not older than the
    /// configured maximum staleness: tokens can be validated. A readiness probe can use this.
    ///
    /// False when the authorization server publishes a JWK set without a usable key (only
    /// encryption keys, say): that set replaces the old keys, every token is refused with 401,
    /// and [`last_key_error`](Self::last_key_error) says why.
    pub keys_loaded: bool,
    /// Usable keys in the current key set.
    pub key_count: usize,
    /// Time since the key set was last fetched successfully.
    pub keys_age: Option<Duration>,
    /// Why the last key-set fetch failed, or why the fetched key set has no usable key; `None`
    /// after a fetch that brought usable keys.
    pub last_key_error: Option<String>,
    /// Failed key-set fetches since the last success.
    pub key_fetch_failures: u32,
    /// JWKS requests sent.
    pub jwks_fetches: u64,
    /// When the key set is fetched next, if a fetch is scheduled.
    pub next_key_fetch_in: Option<Duration>,
    /// The JWKS URI in use, once known (configured or discovered).
    pub jwks_uri: Option<String>,
    /// The introspection endpoint published in the discovered metadata, if any and if it
    /// passed the URL rules (a refused one is never used, and logged at ERROR).
    pub discovered_introspection_endpoint: Option<String>,
    /// Tokens in the verified-token cache (approximate).
    pub verified_cache_entries: u64,
    /// Introspection requests sent to the authorization server.
    pub introspection_calls: u64,
    /// Introspection checks answered from the cache.
    pub introspection_cache_hits: u64,
    /// Introspection checks that joined a call already in flight for the same token.
    pub introspection_coalesced: u64,
    /// Introspection calls that failed (timeout, refused, bad status, unparsable answer).
    pub introspection_failures: u64,
    /// Answers in the introspection cache: active ones, and "inactive" for strings the
    /// authorization server does not know (approximate, as `verified_cache_entries`).
    pub introspection_cache_entries: u64,
    /// The estimated bytes those answers hold; bounded by `Introspection::cache_max_bytes`
    /// (approximate).
    pub introspection_cache_bytes: u64,
    /// Lookups of opaque tokens with nothing cached that the rate limit refused (503), per
    /// `Introspection::opaque_lookup_rate`. Growing steadily: a flood of made-up tokens, or a
    /// limit too low for the real traffic.
    pub introspection_rate_limited: u64,
    /// Introspection checks refused by tollgate's own bounds (503): no slot of the concurrency
    /// budget came free within the timeout, or `Introspection::max_pending` calls were
    /// pending already.
    pub introspection_saturated: u64,
    /// Opaque tokens refused without a call because they are outside
    /// `Introspection::opaque_token_shape` (401).
    pub opaque_tokens_refused_by_shape: u64,
    /// Tokens in the revocation memory: verified tokens that introspection called inactive,
    /// refused on every route until they expire (expired ones included until the next sweep).
    pub revoked_tokens_remembered: u64,
    /// Revocations given up because the revocation memory was full
    /// (`Introspection::revocation_capacity`): each such JWT is accepted again on routine
    /// routes until its `exp`. Should stay zero.
    pub revocations_dropped: u64,
    /// Times the revocation memory reached its bound, each logged once at WARN. Should stay
    /// zero.
    pub revocation_memory_full: u64,
}

impl Tollgate {
    /// Waits until the signing keys are loaded, at most `timeout`; true when they are, and at
    /// least one of them is usable (as [`Diagnostics::keys_loaded`](Diagnostics::keys_loaded)).
    ///
    /// Optional: without it the service starts at once and answers 503 with `Retry-After`
    /// until the keys arrive.
    pub async fn wait_for_keys(&self, timeout: Duration) -> bool {
        self.inner.issuer.keys.wait_ready(timeout).await
    }

    /// The engine's current state: key set, caches, introspection counters.
    pub fn diagnostics(&self) -> Diagnostics {
        let inner = &self.inner;
        let issuer = &inner.issuer;
        let keys = issuer.keys.status();
        let mut status = Diagnostics {
            keys_loaded: keys.loaded,
            key_count: keys.key_count,
            keys_age: keys.last_success.map(|t| t.elapsed()),
            last_key_error: keys.last_error,
            key_fetch_failures: keys.consecutive_failures,
            jwks_fetches: keys.fetch_count,
            next_key_fetch_in: keys
                .next_attempt
                .map(|t| t.saturating_duration_since(std::time::Instant::now())),
            verified_cache_entries: inner.verified.entry_count(),
            ..Diagnostics::default()
        };
        if let Some(metadata) = issuer.keys.metadata() {
            status.jwks_uri.clone_from(&metadata.jwks_uri);
            status
                .discovered_introspection_endpoint
                .clone_from(&metadata.introspection_endpoint);
        }
        if let Some(introspector) = &issuer.introspector {
            status.introspection_calls = introspector.calls();
            status.introspection_cache_hits = introspector.cache_hits();
            status.introspection_coalesced = introspector.coalesced();
            status.introspection_failures = introspector.failures();
            (
                status.introspection_cache_entries,
                status.introspection_cache_bytes,
            ) = introspector.cached_answers();
            status.introspection_rate_limited = introspector.rate_limited();
            status.introspection_saturated = introspector.saturated();
            status.opaque_tokens_refused_by_shape = introspector.shape_refused();
        }
        if let Some(memory) = &inner.revoked {
            status.revoked_tokens_remembered = u64::try_from(memory.len()).unwrap_or(u64::MAX);
            status.revocations_dropped = memory.dropped();
            status.revocation_memory_full = memory.full_episodes();
        }
        status
    }
}
