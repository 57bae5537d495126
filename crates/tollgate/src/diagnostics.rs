//! What tollgate can tell about its own state ([`Diagnostics`]): for readiness probes, metrics
//! and logs.

use std::sync::atomic::Ordering;
use std::time::Duration;

use crate::engine::Tollgate;

/// A snapshot of a [`Tollgate`]'s key sets, caches and introspection clients, from
/// [`Tollgate::diagnostics`].
///
/// Counters start at zero when the engine is built. Nothing here contains a token or a secret.
/// With several trusted issuers, the key-set members sum or combine every issuer's (as each
/// says), and [`issuers`](Self::issuers) has each one's own; the introspection counters are the
/// sums over the issuers that introspect.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Diagnostics {
    /// Signing keys are loaded, at least one of them is usable, and they are not older than the
    /// configured maximum staleness: tokens can be validated. A readiness probe can use this.
    /// With several issuers: for every one of them.
    ///
    /// False when the authorization server publishes a JWK set without a usable key (only
    /// encryption keys, say): that set replaces the old keys, every token is refused with 401,
    /// and [`last_key_error`](Self::last_key_error) says why.
    pub keys_loaded: bool,
    /// Usable keys in the current key set (the sum over the issuers).
    pub key_count: usize,
    /// Time since the key set was last fetched successfully (the oldest of the issuers').
    pub keys_age: Option<Duration>,
    /// Why the last key-set fetch failed, or why the fetched key set has no usable key; `None`
    /// after a fetch that brought usable keys (the first issuer's error, if any has one).
    pub last_key_error: Option<String>,
    /// Failed key-set fetches since the last success (the sum over the issuers).
    pub key_fetch_failures: u32,
    /// JWKS requests sent (the sum over the issuers).
    pub jwks_fetches: u64,
    /// When the key set is fetched next, if a fetch is scheduled (the soonest of the
    /// issuers').
    pub next_key_fetch_in: Option<Duration>,
    /// The JWKS URI in use, once known (configured or discovered); the first issuer's.
    pub jwks_uri: Option<String>,
    /// The introspection endpoint published in the discovered metadata, if any and if it
    /// passed the URL rules (a refused one is never used, and logged at ERROR); the first
    /// issuer's.
    pub discovered_introspection_endpoint: Option<String>,
    /// Each trusted issuer's key set, in the order they were configured (the builder's own
    /// issuer first).
    pub issuers: Vec<IssuerDiagnostics>,
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
    /// DPoP proofs this instance's replay cache holds (RFC 9449 §11.1), bounded by
    /// `Dpop::replay_capacity`; zero without DPoP.
    pub dpop_proofs_remembered: u64,
    /// DPoP requests answered 503 because their proof could not be recorded: the replay cache
    /// full of live proofs, or its shared store unreachable. Should stay zero.
    pub dpop_proofs_unrecorded: u64,
    /// Revocation rules held (every token of a subject, client or session issued before a
    /// time, or with a `jti`), from the engine's API, pushed security events and the shared
    /// store.
    pub revocation_rules: u64,
    /// Rules refused because the rule memory was full of live rules. Should stay zero.
    pub revocation_rules_refused: u64,
    /// The shared store, when one is configured (`TollgateBuilder::shared_store`).
    pub shared_store: Option<SharedStoreDiagnostics>,
}

/// The shared store's link, in [`Diagnostics::shared_store`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct SharedStoreDiagnostics {
    /// The store, as it describes itself (never with credentials).
    pub store: String,
    /// False from a failed exchange with the store until the next one succeeds.
    pub connected: bool,
    /// Outages: runs of failed exchanges, each logged once at WARN.
    pub outages: u64,
    /// Revocations waiting to be published (at most 10 000).
    pub queued: u64,
    /// Revocations published.
    pub published: u64,
    /// Revocations dropped from a full queue, oldest first (they stay in this instance's
    /// memory). Should stay zero.
    pub dropped: u64,
    /// Revocations from the store applied to local memory (loads and notices; a fact
    /// applied twice counts twice).
    pub applied: u64,
    /// Facts or shared answers from the store ignored because they did not parse or did
    /// not fit (a rule for another issuer, an answer that fails validation).
    pub unparsable: u64,
    /// Introspection answers taken from the store instead of asking the authorization
    /// server.
    pub answers_shared: u64,
}

/// One trusted issuer's key set, in [`Diagnostics::issuers`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct IssuerDiagnostics {
    /// The issuer as configured (the template, for a template issuer).
    pub issuer: String,
    /// Its signing keys are loaded, at least one is usable, and they are not stale.
    pub keys_loaded: bool,
    /// Usable keys in its current key set.
    pub key_count: usize,
    /// Time since its key set was last fetched successfully.
    pub keys_age: Option<Duration>,
    /// Why its last key-set fetch failed, or why the fetched set has no usable key.
    pub last_key_error: Option<String>,
    /// Failed key-set fetches since its last success.
    pub key_fetch_failures: u32,
    /// JWKS requests sent to it.
    pub jwks_fetches: u64,
    /// The JWKS URI in use, once known (configured or discovered).
    pub jwks_uri: Option<String>,
    /// Whether it has introspection configured.
    pub introspection: bool,
}

impl Tollgate {
    /// Waits until the signing keys of every trusted issuer are loaded, at most `timeout`;
    /// true when they are, and at least one key of each is usable (as
    /// [`Diagnostics::keys_loaded`](Diagnostics::keys_loaded)).
    ///
    /// Optional: without it the service starts at once and answers 503 with `Retry-After`
    /// until the keys arrive.
    pub async fn wait_for_keys(&self, timeout: Duration) -> bool {
        // The key sets load side by side in the background; waiting for them one after the
        // other takes as long as the slowest.
        let deadline = tokio::time::Instant::now() + timeout;
        for issuer in self.inner.issuers.iter() {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            if !issuer.keys.wait_ready(left).await {
                return false;
            }
        }
        true
    }

    /// The engine's current state: key sets, caches, introspection counters.
    pub fn diagnostics(&self) -> Diagnostics {
        let inner = &self.inner;
        let now = std::time::Instant::now();
        let mut status = Diagnostics {
            keys_loaded: true,
            verified_cache_entries: inner.verified.entry_count(),
            ..Diagnostics::default()
        };
        for (index, issuer) in inner.issuers.iter().enumerate() {
            let keys = issuer.keys.status();
            let metadata = issuer.keys.metadata();
            let jwks_uri = metadata
                .as_ref()
                .and_then(|m| m.jwks_uri.clone())
                .or_else(|| issuer.keys.configured_jwks_uri().map(str::to_owned));
            let age = keys.last_success.map(|t| t.elapsed());
            status.keys_loaded &= keys.loaded;
            status.key_count += keys.key_count;
            status.keys_age = status.keys_age.max(age);
            if status.last_key_error.is_none() {
                status.last_key_error.clone_from(&keys.last_error);
            }
            status.key_fetch_failures = status
                .key_fetch_failures
                .saturating_add(keys.consecutive_failures);
            status.jwks_fetches = status.jwks_fetches.saturating_add(keys.fetch_count);
            if let Some(next) = keys.next_attempt.map(|t| t.saturating_duration_since(now)) {
                status.next_key_fetch_in = Some(
                    status
                        .next_key_fetch_in
                        .map_or(next, |soonest| soonest.min(next)),
                );
            }
            if index == 0 {
                status.jwks_uri.clone_from(&jwks_uri);
                status.discovered_introspection_endpoint = metadata
                    .as_ref()
                    .and_then(|m| m.introspection_endpoint.clone());
            }
            status.issuers.push(IssuerDiagnostics {
                issuer: issuer.name().to_owned(),
                keys_loaded: keys.loaded,
                key_count: keys.key_count,
                keys_age: age,
                last_key_error: keys.last_error,
                key_fetch_failures: keys.consecutive_failures,
                jwks_fetches: keys.fetch_count,
                jwks_uri,
                introspection: issuer.introspector.is_some(),
            });
            if let Some(introspector) = &issuer.introspector {
                let (entries, bytes) = introspector.cached_answers();
                let add = |total: &mut u64, n: u64| *total = total.saturating_add(n);
                add(&mut status.introspection_calls, introspector.calls());
                add(
                    &mut status.introspection_cache_hits,
                    introspector.cache_hits(),
                );
                add(
                    &mut status.introspection_coalesced,
                    introspector.coalesced(),
                );
                add(&mut status.introspection_failures, introspector.failures());
                add(&mut status.introspection_cache_entries, entries);
                add(&mut status.introspection_cache_bytes, bytes);
                add(
                    &mut status.introspection_rate_limited,
                    introspector.rate_limited(),
                );
                add(
                    &mut status.introspection_saturated,
                    introspector.saturated(),
                );
                add(
                    &mut status.opaque_tokens_refused_by_shape,
                    introspector.shape_refused(),
                );
            }
        }
        if let Some(dpop) = &inner.dpop {
            status.dpop_proofs_remembered =
                u64::try_from(dpop.replay.local_len()).unwrap_or(u64::MAX);
            status.dpop_proofs_unrecorded = dpop.unrecorded.load(Ordering::Relaxed);
        }
        let memory = &inner.revoked;
        status.revoked_tokens_remembered = u64::try_from(memory.len()).unwrap_or(u64::MAX);
        status.revocations_dropped = memory.dropped();
        status.revocation_memory_full = memory.full_episodes();
        let rules = inner.revocations.rules.stats();
        status.revocation_rules = u64::try_from(rules.rules).unwrap_or(u64::MAX);
        status.revocation_rules_refused = rules.refused;
        if let Some(link) = &inner.revocations.link {
            let counters = &link.counters;
            let load = |n: &std::sync::atomic::AtomicU64| n.load(Ordering::Relaxed);
            status.shared_store = Some(SharedStoreDiagnostics {
                store: link.store.describe(),
                connected: !link.is_down(),
                outages: load(&counters.outages),
                queued: u64::try_from(link.queued()).unwrap_or(u64::MAX),
                published: load(&counters.published),
                dropped: load(&counters.dropped),
                applied: load(&counters.applied),
                unparsable: load(&counters.unparsable),
                answers_shared: load(&counters.answers_shared),
            });
        }
        status
    }
}
