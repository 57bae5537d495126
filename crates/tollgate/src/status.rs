//! What tollgate can tell about its own state: for readiness probes, metrics and logs.

use std::time::Duration;

use crate::engine::Tollgate;

/// A snapshot of a [`Tollgate`]'s key set, caches and introspection client.
///
/// Counters start at zero when the engine is built. Nothing here contains a token or a secret.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Status {
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
}

impl Tollgate {
    /// The engine's current state.
    pub fn status(&self) -> Status {
        let inner = &self.inner;
        let keys = inner.keys.status();
        let mut status = Status {
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
            ..Status::default()
        };
        if let Some(metadata) = inner.keys.metadata() {
            status.jwks_uri.clone_from(&metadata.jwks_uri);
            status
                .discovered_introspection_endpoint
                .clone_from(&metadata.introspection_endpoint);
        }
        if let Some(introspector) = &inner.introspector {
            status.introspection_calls = introspector.calls();
            status.introspection_cache_hits = introspector.cache_hits();
            status.introspection_coalesced = introspector.coalesced();
            status.introspection_failures = introspector.failures();
        }
        status
    }
}
