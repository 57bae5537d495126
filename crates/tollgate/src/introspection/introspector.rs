//! [`Introspector`]: the configured client, its cache and its single-flight calls.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;

use super::cache::{AnswerCache, Entry, NotStarted};
use super::call::{Call, Trouble};
use super::client::Credentials;
use super::limits::TokenBucket;
use super::revoked::RevocationMemory;
use super::shared::SharedLink;
use super::{
    EndpointSource, Introspection, IntrospectionAnswer, IntrospectionError, OpaqueShape, TokenKind,
};
use crate::hash::TokenHash;

/// The introspection client with its cache. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Introspector {
    pub(super) inner: Arc<Inner>,
}

pub(super) struct Inner {
    pub(super) http: reqwest::Client,
    pub(super) endpoint: EndpointSource,
    /// `None` only for a bearer credential that is not a header value (refused by `validate`).
    pub(super) credentials: Option<Credentials>,
    pub(super) timeout: Duration,
    pub(super) max_body_bytes: usize,
    pub(super) leeway: Duration,
    pub(super) routine_ttl: Duration,
    /// The longest an active answer is kept: max(routine_ttl, max_cache_ttl).
    pub(super) max_active_ttl: Duration,
    pub(super) inactive_ttl: Duration,
    pub(super) accept_answers_without_audience: bool,
    /// Slots for sensitive-route JWT checks ([`Introspection::max_concurrent`]).
    pub(super) jwt_permits: Semaphore,
    /// Slots for opaque-token lookups ([`Introspection::max_concurrent_opaque`]): a budget of
    /// their own, so that junk opaque tokens can never take a sensitive check's slot.
    pub(super) opaque_permits: Semaphore,
    /// Lookups of opaque tokens with nothing cached ([`Introspection::opaque_lookup_rate`]).
    pub(super) unknown_opaque: TokenBucket,
    pub(super) shape: OpaqueShape,
    pub(super) cache: AnswerCache,
    /// The engine's revocation memory, shared by every issuer's introspector: answers learnt
    /// here are refused on every route, whoever issued the token.
    pub(super) revoked: Arc<RevocationMemory>,
    pub(super) stats: Stats,
    pub(super) trouble: Trouble,
    /// The shared store, when the engine has one (`shared.rs`).
    pub(super) shared: OnceLock<SharedLink>,
}

#[derive(Default)]
pub(super) struct Stats {
    pub(super) calls: AtomicU64,
    pub(super) cache_hits: AtomicU64,
    pub(super) coalesced: AtomicU64,
    pub(super) failures: AtomicU64,
    pub(super) rate_limited: AtomicU64,
    pub(super) saturated: AtomicU64,
    pub(super) shape_refused: AtomicU64,
}

/// What is cached for a token, looked up without waiting.
pub(crate) enum Lookup {
    /// An active answer within the caller's freshness budget.
    Active(Arc<IntrospectionAnswer>),
    /// Known not active: revoked, or an answer for a token the AS does not know.
    Inactive,
    /// Nothing usable: the AS must be asked.
    Miss,
}

/// Refusal reasons of tollgate's own limits (`IntrospectionError::Saturated`).
pub(super) const RATE_LIMITED: &str = "lookups of unknown opaque tokens are over the rate limit";
pub(super) const TOO_MANY_PENDING: &str = "too many introspection calls are waiting";
pub(super) const NO_SLOT: &str = "no introspection slot came free within the timeout";

impl Introspector {
    /// A configured endpoint ([`Introspection::endpoint`]) wins over `endpoint`. Revocations
    /// learnt go into `revoked`, the engine's memory (docs/ARCHITECTURE.md, "Caches").
    pub(crate) fn new(
        config: Introspection,
        client: reqwest::Client,
        endpoint: EndpointSource,
        revoked: Arc<RevocationMemory>,
    ) -> Self {
        let endpoint = match &config.endpoint {
            Some(url) => EndpointSource::Fixed(url.clone()),
            None => endpoint,
        };
        Self {
            inner: Arc::new(Inner {
                http: client,
                endpoint,
                credentials: Credentials::new(&config.auth),
                timeout: config.timeout,
                max_body_bytes: config.max_body_bytes,
                leeway: config.leeway,
                routine_ttl: config.routine_ttl,
                max_active_ttl: config.routine_ttl.max(config.max_cache_ttl),
                inactive_ttl: config.inactive_ttl,
                accept_answers_without_audience: config.accept_answers_without_audience,
                // `validate` keeps these within bounds; clamp anyway, as `Semaphore::new`
                // panics above MAX_PERMITS.
                jwt_permits: Semaphore::new(config.max_concurrent.min(Semaphore::MAX_PERMITS)),
                opaque_permits: Semaphore::new(
                    config.max_concurrent_opaque.min(Semaphore::MAX_PERMITS),
                ),
                unknown_opaque: TokenBucket::new(
                    config.opaque_lookup_rate.0,
                    config.opaque_lookup_rate.1,
                ),
                shape: config.opaque_shape,
                cache: AnswerCache::new(
                    config.cache_capacity,
                    config.cache_max_bytes,
                    config.max_pending,
                ),
                revoked,
                stats: Stats::default(),
                trouble: Trouble::default(),
                shared: OnceLock::new(),
            }),
        }
    }

    /// Revocation memory: true while this verified token is remembered revoked (tests; the
    /// engine asks its memory directly).
    #[cfg(test)]
    pub(super) fn known_inactive(&self, hash: &TokenHash) -> bool {
        self.inner.revoked.contains(hash)
    }

    /// Whether an opaque token has the configured [`OpaqueShape`]; counts the ones refused.
    pub(crate) fn admits_shape(&self, token: &str) -> bool {
        let inner = &self.inner;
        if inner.shape.is_open() || inner.shape.admits(token) {
            return true;
        }
        inner.stats.shape_refused.fetch_add(1, Ordering::Relaxed);
        crate::log::trace!("introspection: an opaque token outside the configured shape");
        false
    }

    /// An active answer no older than `max_age`, from the cache or a fresh call.
    ///
    /// - `max_age` zero never reuses a stored answer, but concurrent asks for the same token
    ///   still share one call (single flight), as do all asks that need a fresh answer.
    /// - `exp` is the token's own expiry when the caller knows it (a JWT's `exp` claim): an
    ///   inactive answer is remembered until then, and an active one is never kept past it.
    /// - A token remembered inactive is answered [`IntrospectionError::Inactive`] without a call.
    /// - tollgate's own limits answer [`IntrospectionError::Saturated`]: an opaque token with
    ///   nothing cached over the rate limit, too many calls of this kind pending, no slot of
    ///   this kind's budget within the timeout.
    pub(crate) async fn check(
        &self,
        token: &str,
        hash: TokenHash,
        kind: TokenKind,
        max_age: Duration,
        exp: Option<i64>,
    ) -> Result<Arc<IntrospectionAnswer>, IntrospectionError> {
        let inner = &self.inner;
        if inner.revoked.contains(&hash) {
            inner.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
            crate::log::trace!("introspection: {hash:?} remembered revoked");
            return Err(IntrospectionError::Inactive);
        }
        let entry = inner.cache.get(&hash);
        // An active answer seen before: an inactive one now is a revocation (kept in the
        // revocation memory), and a refresh costs nothing from the rate limit.
        let was_active = matches!(entry, Some(Entry::Active { .. }));
        match entry {
            Some(Entry::Inactive { .. }) => {
                inner.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                crate::log::trace!("introspection: {hash:?} remembered inactive");
                return Err(IntrospectionError::Inactive);
            }
            // `elapsed() <= 0` could hold on a coarse clock: zero must mean "ask", always.
            Some(Entry::Active {
                answer, fetched_at, ..
            }) if !max_age.is_zero() && fetched_at.elapsed() <= max_age => {
                inner.stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                crate::log::trace!("introspection: {hash:?} active answer from the cache");
                return Ok(answer);
            }
            _ => {}
        }

        let endpoint = inner.endpoint()?;
        let admitted = inner.cache.join_or_start(hash, kind, |id| {
            // Only a new call for an opaque token nothing is known about spends the bucket:
            // anyone can make up such a token; a JWT here has been verified.
            if kind == TokenKind::Opaque && !was_active && !inner.unknown_opaque.try_take() {
                inner.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                return Err(IntrospectionError::Saturated(RATE_LIMITED));
            }
            Ok(Inner::start(
                Arc::clone(inner),
                id,
                endpoint,
                token.to_owned(),
                Call {
                    hash,
                    kind,
                    exp,
                    was_active,
                    max_age,
                },
            ))
        });
        let (flight, started) = match admitted {
            Ok(admitted) => admitted,
            Err(NotStarted::Refused(error)) => {
                crate::log::debug!("introspection: {hash:?} refused: {error:?}");
                return Err(error);
            }
            Err(NotStarted::TooManyPending) => {
                inner.stats.saturated.fetch_add(1, Ordering::Relaxed);
                crate::log::debug!("introspection: {hash:?} refused: {TOO_MANY_PENDING}");
                return Err(IntrospectionError::Saturated(TOO_MANY_PENDING));
            }
        };
        match started {
            Some((id, work)) => Inner::spawn(inner, hash, id, work),
            None => {
                inner.stats.coalesced.fetch_add(1, Ordering::Relaxed);
                crate::log::trace!("introspection: {hash:?} joins the call in flight");
            }
        }
        flight.await
    }

    /// A stored active answer no older than `max_age`, without waiting: lets a sensitive route
    /// whose answer is cached be decided synchronously. `max_age` zero never reuses one.
    pub(crate) fn cached(
        &self,
        hash: &TokenHash,
        max_age: Duration,
    ) -> Option<Arc<IntrospectionAnswer>> {
        match self.lookup(hash, max_age) {
            Lookup::Active(answer) => Some(answer),
            Lookup::Inactive | Lookup::Miss => None,
        }
    }

    /// What is cached for `hash`, without waiting: an active answer no older than `max_age`
    /// (zero never reuses one), a remembered inactive answer, or nothing. Lets an opaque token
    /// be decided synchronously, junk included, once it has been answered.
    pub(crate) fn lookup(&self, hash: &TokenHash, max_age: Duration) -> Lookup {
        let stats = &self.inner.stats;
        match self.inner.cache.get(hash) {
            Some(Entry::Active {
                answer, fetched_at, ..
            }) if !max_age.is_zero() && fetched_at.elapsed() <= max_age => {
                stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                Lookup::Active(answer)
            }
            Some(Entry::Inactive { .. }) => {
                stats.cache_hits.fetch_add(1, Ordering::Relaxed);
                Lookup::Inactive
            }
            Some(Entry::Active { .. }) | None => Lookup::Miss,
        }
    }

    /// Whether an opaque token's answer may lack `aud`
    /// ([`Introspection::accept_answers_without_audience`]).
    pub(crate) fn accepts_answers_without_audience(&self) -> bool {
        self.inner.accept_answers_without_audience
    }

    /// The cache TTL for active answers on routine routes (opaque tokens).
    pub(crate) fn routine_ttl(&self) -> Duration {
        self.inner.routine_ttl
    }

    /// Introspection requests sent to the AS (diagnostics).
    pub(crate) fn calls(&self) -> u64 {
        self.inner.stats.calls.load(Ordering::Relaxed)
    }

    /// Checks answered from the cache, active or inactive (diagnostics).
    pub(crate) fn cache_hits(&self) -> u64 {
        self.inner.stats.cache_hits.load(Ordering::Relaxed)
    }

    /// Checks that joined a call already in flight (diagnostics).
    pub(crate) fn coalesced(&self) -> u64 {
        self.inner.stats.coalesced.load(Ordering::Relaxed)
    }

    /// Calls that ended without a usable answer: the AS unreachable or answering unusably, or
    /// tollgate's own limits (diagnostics). An answer that cannot confirm the token is an
    /// answer, not a failure.
    pub(crate) fn failures(&self) -> u64 {
        self.inner.stats.failures.load(Ordering::Relaxed)
    }

    /// Lookups of unknown opaque tokens refused by the rate limit (diagnostics).
    pub(crate) fn rate_limited(&self) -> u64 {
        self.inner.stats.rate_limited.load(Ordering::Relaxed)
    }

    /// Checks refused because a concurrency budget or the bound on pending calls was full
    /// (diagnostics).
    pub(crate) fn saturated(&self) -> u64 {
        self.inner.stats.saturated.load(Ordering::Relaxed)
    }

    /// Opaque tokens refused for their shape, without a call (diagnostics).
    pub(crate) fn shape_refused(&self) -> u64 {
        self.inner.stats.shape_refused.load(Ordering::Relaxed)
    }

    /// Tokens in the revocation memory (tests; diagnostics read the engine's memory).
    #[cfg(test)]
    pub(super) fn revoked_tokens(&self) -> usize {
        self.inner.revoked.len()
    }

    /// Revocations given up because the revocation memory was full (tests).
    #[cfg(test)]
    pub(super) fn revocations_dropped(&self) -> u64 {
        self.inner.revoked.dropped()
    }

    /// Times the revocation memory reached its bound (tests).
    #[cfg(test)]
    pub(super) fn revocation_memory_full(&self) -> u64 {
        self.inner.revoked.full_episodes()
    }

    /// Answers in the cache, and their estimated bytes (diagnostics; approximate).
    pub(crate) fn cached_answers(&self) -> (u64, u64) {
        (
            self.inner.cache.entry_count(),
            self.inner.cache.weighted_size(),
        )
    }

    #[cfg(test)]
    pub(super) fn in_flight(&self) -> usize {
        self.inner.cache.in_flight()
    }

    /// Applies the answer cache's pending evictions (tests).
    #[cfg(test)]
    pub(super) fn sync_cache(&self) {
        self.inner.cache.sync();
    }
}
