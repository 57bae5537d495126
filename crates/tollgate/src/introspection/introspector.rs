//! [`Introspector`]: the configured client, its cache and its single-flight calls.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use tokio::sync::{Semaphore, oneshot};

use super::cache::{AnswerCache, Entry, Flight, MAX_ENTRY_TTL, NotStarted, Outcome};
use super::client::{self, Credentials};
use super::limits::TokenBucket;
use super::parse::{self, Verdict};
use super::revoked::RevocationMemory;
use super::{
    EndpointSource, Introspection, IntrospectionAnswer, IntrospectionError, OpaqueShape, TokenKind,
};
use crate::hash::TokenHash;
use crate::keys::AuthServerMetadata;

/// The introspection client with its cache. Cheap to clone.
#[derive(Clone)]
pub(crate) struct Introspector {
    inner: Arc<Inner>,
}

struct Inner {
    http: reqwest::Client,
    endpoint: EndpointSource,
    /// `None` only for a bearer credential that is not a header value (refused by `validate`).
    credentials: Option<Credentials>,
    timeout: Duration,
    max_body_bytes: usize,
    leeway: Duration,
    routine_ttl: Duration,
    /// The longest an active answer is kept: max(routine_ttl, max_cache_ttl).
    max_active_ttl: Duration,
    inactive_ttl: Duration,
    accept_answers_without_audience: bool,
    /// Slots for sensitive-route JWT checks ([`Introspection::max_concurrent`]).
    jwt_permits: Semaphore,
    /// Slots for opaque-token lookups ([`Introspection::max_concurrent_opaque`]): a budget of
    /// their own, so that junk opaque tokens can never take a sensitive check's slot.
    opaque_permits: Semaphore,
    /// Lookups of opaque tokens with nothing cached ([`Introspection::opaque_lookup_rate`]).
    unknown_opaque: TokenBucket,
    shape: OpaqueShape,
    cache: AnswerCache,
    revoked: RevocationMemory,
    stats: Stats,
    trouble: Trouble,
}

#[derive(Default)]
struct Stats {
    calls: AtomicU64,
    cache_hits: AtomicU64,
    coalesced: AtomicU64,
    failures: AtomicU64,
    rate_limited: AtomicU64,
    saturated: AtomicU64,
    shape_refused: AtomicU64,
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
    /// A configured endpoint ([`Introspection::endpoint`]) wins over `endpoint`.
    pub(crate) fn new(
        config: Introspection,
        client: reqwest::Client,
        endpoint: EndpointSource,
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
                revoked: RevocationMemory::new(config.revocation_capacity),
                stats: Stats::default(),
                trouble: Trouble::default(),
            }),
        }
    }

    /// Revocation memory: true while this verified token is remembered revoked.
    ///
    /// Synchronous and cheap: the engine asks on every request. While nothing is remembered,
    /// one atomic load.
    pub(crate) fn known_inactive(&self, hash: &TokenHash) -> bool {
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
        let admitted = inner.cache.join_or_start(hash, kind, || {
            // Only a new call for an opaque token nothing is known about spends the bucket:
            // anyone can make up such a token; a JWT here has been verified.
            if kind == TokenKind::Opaque && !was_active && !inner.unknown_opaque.try_take() {
                inner.stats.rate_limited.fetch_add(1, Ordering::Relaxed);
                return Err(IntrospectionError::Saturated(RATE_LIMITED));
            }
            Ok(Inner::start(
                Arc::clone(inner),
                endpoint,
                token.to_owned(),
                Call {
                    hash,
                    kind,
                    exp,
                    was_active,
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

    /// Tokens in the revocation memory (diagnostics).
    pub(crate) fn revoked_tokens(&self) -> usize {
        self.inner.revoked.len()
    }

    /// Revocations given up because the revocation memory was full (diagnostics).
    pub(crate) fn revocations_dropped(&self) -> u64 {
        self.inner.revoked.dropped()
    }

    /// Times the revocation memory reached its bound (diagnostics).
    pub(crate) fn revocation_memory_full(&self) -> u64 {
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

/// What a call is about, beside the token itself.
#[derive(Clone, Copy)]
struct Call {
    hash: TokenHash,
    kind: TokenKind,
    /// The token's own expiry, when the caller knows it (a verified JWT's `exp`).
    exp: Option<i64>,
    /// An active answer for the token was cached when the call started.
    was_active: bool,
}

impl Inner {
    /// The endpoint to call, resolved per call: discovery may complete (or change) at any time.
    fn endpoint(&self) -> Result<String, IntrospectionError> {
        match &self.endpoint {
            EndpointSource::Fixed(url) => Ok(url.clone()),
            EndpointSource::Discovered(keys) => {
                resolve_discovered(keys.metadata().as_deref()).map(str::to_owned)
            }
        }
    }

    /// Builds the flight for a new call and the work that answers it. Runs under the in-flight
    /// lock, so it only builds: the work is spawned by [`spawn`](Self::spawn) once the lock is
    /// free.
    fn start(
        inner: Arc<Self>,
        endpoint: String,
        token: String,
        call: Call,
    ) -> (Flight, BoxFuture<'static, ()>) {
        let (sender, receiver) = oneshot::channel::<Outcome>();
        let work = async move {
            crate::log::debug!(
                "introspection: asking the AS about {:?} ({:?})",
                call.hash,
                call.kind
            );
            let outcome = inner.fetch(&endpoint, &token, call).await;
            // Nobody may be waiting any more (all requests cancelled): the answer is cached
            // all the same, so the send result does not matter.
            let _ = sender.send(outcome);
        }
        .boxed();
        let flight = receiver
            .map(|received| {
                // The sender is dropped unsent only if the task died (panic, runtime shutdown).
                received.unwrap_or(Err(IntrospectionError::Unreachable(
                    "introspection task ended without an answer",
                )))
            })
            .boxed()
            .shared();
        (flight, work)
    }

    /// Runs the work built by `start` as its own task, so that the call finishes (and its
    /// answer is cached) even when every request waiting for it is cancelled, and removes the
    /// flight when done, however the task ends.
    fn spawn(inner: &Arc<Self>, hash: TokenHash, id: u64, work: BoxFuture<'static, ()>) {
        let guard = FlightGuard {
            inner: Arc::clone(inner),
            hash,
            id,
        };
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => {
                // The guard moves into the task: dropped when the task finishes, panics or is
                // dropped unpolled, it removes the flight in each case.
                drop(runtime.spawn(async move {
                    let _guard = guard;
                    work.await;
                }));
            }
            Err(_) => {
                // Without a runtime there is no HTTP client either; waiters see the dropped
                // sender as Unavailable.
                crate::log::warn!("introspection needs a tokio runtime");
                drop(work);
                drop(guard);
            }
        }
    }

    /// One call: wait for a slot, POST, read, parse, remember what may be remembered.
    async fn fetch(&self, endpoint: &str, token: &str, call: Call) -> Outcome {
        let Call { hash, exp, .. } = call;
        let Some(credentials) = &self.credentials else {
            return self.failed(IntrospectionError::Broken(
                "the introspection bearer credential is not a valid header value",
            ));
        };
        let fetched_at = Instant::now();
        // The timeout covers the wait for a slot too: a caller never waits longer than it.
        let deadline = tokio::time::Instant::now() + self.timeout;
        // Each kind has its own budget: opaque lookups (which anyone can cause with made-up
        // tokens) never hold a slot that a sensitive check needs.
        let permits = match call.kind {
            TokenKind::Jwt => &self.jwt_permits,
            TokenKind::Opaque => &self.opaque_permits,
        };
        // A slot freed at the deadline still completes the wait (`timeout_at` polls before it
        // looks at the clock): a call left with no time is refused, not sent to fail at once.
        let permit = tokio::time::timeout_at(deadline, permits.acquire())
            .await
            .ok()
            .filter(|_| tokio::time::Instant::now() < deadline);
        let _permit = match permit {
            Some(Ok(permit)) => permit,
            Some(Err(_)) => {
                return self.failed(IntrospectionError::Saturated("introspection is shut down"));
            }
            // tollgate's own limit, not the AS's fault: no fail-open, always 503.
            None => {
                self.stats.saturated.fetch_add(1, Ordering::Relaxed);
                crate::log::debug!("introspection: {hash:?} refused: {NO_SLOT}");
                return Err(IntrospectionError::Saturated(NO_SLOT));
            }
        };
        self.stats.calls.fetch_add(1, Ordering::Relaxed);
        let exchange = client::exchange(
            &self.http,
            endpoint,
            credentials,
            token,
            self.max_body_bytes,
        );
        let body = match tokio::time::timeout_at(deadline, exchange).await {
            Ok(Ok(body)) => body,
            // About the token, not the AS: the AS works, so the trouble (if any) is over.
            Ok(Err(error @ IntrospectionError::Unconfirmable(_))) => {
                self.trouble.clear();
                crate::log::debug!("introspection: the AS cannot confirm {hash:?}; not cached");
                return Err(error);
            }
            Ok(Err(error)) => return self.failed(error),
            Err(_) => {
                crate::log::debug!(
                    "introspection timed out after {:?} (includes waiting for a free slot)",
                    self.timeout
                );
                return self.failed(IntrospectionError::Unreachable("introspection timed out"));
            }
        };

        let now = unix_now();
        let leeway = i64::try_from(self.leeway.as_secs()).unwrap_or(i64::MAX);
        let verdict = match parse::parse(&body, now, leeway) {
            Ok(verdict) => verdict,
            Err(reason) => return self.failed(IntrospectionError::Broken(reason)),
        };
        self.trouble.clear();
        match verdict {
            Verdict::Active(answer) => {
                // Never kept past the token's expiry, whichever side knows it.
                let until_exp = match (answer.exp, exp) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                let ttl = until_exp.map_or(self.max_active_ttl, |exp| {
                    self.max_active_ttl.min(until(exp))
                });
                self.cache
                    .insert_active(hash, Arc::clone(&answer), fetched_at, ttl);
                Ok(answer)
            }
            Verdict::Inactive { exp: answer_exp } => {
                // Revocation is final: remember until the token expires anyway. The caller's
                // `exp` (from the verified JWT) is the authority; an inactive answer rarely
                // carries one (RFC 7662 §2.2).
                self.remember_inactive(call, exp.or(answer_exp), now, leeway);
                Err(IntrospectionError::Inactive)
            }
            Verdict::Expired => {
                crate::log::debug!("introspection: {hash:?} active but expired");
                self.remember_inactive(call, exp, now, leeway);
                Err(IntrospectionError::Inactive)
            }
            Verdict::NotYetValid { nbf } => {
                // Not a revocation: remember only until it becomes valid.
                let ttl = until(nbf.saturating_sub(leeway)).min(self.inactive_ttl);
                crate::log::debug!("introspection: {hash:?} active but not valid before {nbf}");
                self.cache.insert_inactive(hash, ttl);
                Err(IntrospectionError::Inactive)
            }
        }
    }

    /// Stores an inactive answer where it belongs. A verified token (a JWT that passed local
    /// validation, an opaque token that was active before) goes to the revocation memory,
    /// which nothing an unauthenticated client sends can push out; anything else (a string the
    /// AS does not know) to the evictable answer cache.
    fn remember_inactive(&self, call: Call, exp: Option<i64>, now: i64, leeway: i64) {
        let hash = call.hash;
        let inactive_secs = i64::try_from(self.inactive_ttl.as_secs()).unwrap_or(i64::MAX);
        let longest = now.saturating_add(i64::try_from(MAX_ENTRY_TTL.as_secs()).unwrap_or(0));
        let until = exp
            .map(|exp| exp.saturating_add(leeway))
            .filter(|until| *until > now)
            // Unknown, or already expired: an expired token is dead for good, so remembering
            // it longer is never wrong.
            .unwrap_or_else(|| now.saturating_add(inactive_secs))
            .min(longest);
        let verified = match call.kind {
            TokenKind::Jwt => true,
            TokenKind::Opaque => {
                call.was_active || matches!(self.cache.get(&hash), Some(Entry::Active { .. }))
            }
        };
        if verified {
            crate::log::debug!("introspection: {hash:?} is revoked; remembered until {until}");
            self.cache.remove(&hash);
            self.revoked.insert(hash, until, now);
        } else {
            let ttl = Duration::from_secs(u64::try_from(until.saturating_sub(now)).unwrap_or(0));
            crate::log::debug!("introspection: {hash:?} is not active; cached {ttl:?}");
            self.cache.insert_inactive(hash, ttl);
        }
    }

    /// A call that gave no usable answer: counted, logged (once per outage or
    /// misconfiguration), never cached.
    fn failed(&self, error: IntrospectionError) -> Outcome {
        self.stats.failures.fetch_add(1, Ordering::Relaxed);
        self.trouble.report(&error);
        Err(error)
    }
}

/// The failure last logged at WARN or ERROR, so that an outage or a misconfiguration is logged
/// once rather than on every request; the next usable answer ends it. A different failure is
/// logged at once.
#[derive(Default)]
struct Trouble {
    /// Whether `last` holds anything: lets every usable answer skip the lock.
    any: AtomicBool,
    last: Mutex<Option<&'static str>>,
}

impl Trouble {
    fn report(&self, error: &IntrospectionError) {
        let reason = match error {
            IntrospectionError::Unreachable(reason)
            | IntrospectionError::Broken(reason)
            | IntrospectionError::Saturated(reason) => *reason,
            IntrospectionError::Inactive
            | IntrospectionError::Unconfirmable(_)
            | IntrospectionError::NoEndpoint => return,
        };
        let repeated = {
            let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
            let repeated = *last == Some(reason);
            *last = Some(reason);
            repeated
        };
        self.any.store(true, Ordering::Relaxed);
        if repeated {
            crate::log::debug!("introspection still failing: {reason}");
            return;
        }
        // The reasons are fixed texts written here and in the parser: never a token or secret.
        match error {
            // Closed until someone fixes the configuration or the AS: say what to fix.
            IntrospectionError::Broken(_) => {
                if reason.starts_with("introspection answer:") {
                    crate::log::error!(
                        "unusable introspection answer: {reason}. Requests that need \
                         introspection get 503 until the endpoint answers RFC 7662 JSON; check \
                         that it is the authorization server's introspection endpoint"
                    );
                } else {
                    crate::log::error!(
                        "introspection failing: {reason}. Requests that need introspection get \
                         503 until this is fixed"
                    );
                }
            }
            IntrospectionError::Saturated(_) => crate::log::warn!(
                "introspection held back by tollgate's own limits: {reason}. Requests that need \
                 introspection get 503 until the load drops"
            ),
            _ => crate::log::warn!(
                "introspection failing: {reason}. Requests that need introspection get 503 \
                 (routes that fail open serve on local validation) until the authorization \
                 server answers"
            ),
        }
    }

    fn clear(&self) {
        if self.any.swap(false, Ordering::Relaxed) {
            *self.last.lock().unwrap_or_else(PoisonError::into_inner) = None;
        }
    }
}

/// Removes a flight from the table when its task ends, however it ends.
struct FlightGuard {
    inner: Arc<Inner>,
    hash: TokenHash,
    id: u64,
}

impl Drop for FlightGuard {
    fn drop(&mut self) {
        self.inner.cache.finish(&self.hash, self.id);
    }
}

/// The introspection endpoint from discovered metadata: `Unavailable` until discovery has
/// succeeded, `NoEndpoint` when the AS does not advertise one (RFC 8414 §2).
fn resolve_discovered(metadata: Option<&AuthServerMetadata>) -> Result<&str, IntrospectionError> {
    match metadata {
        None => Err(IntrospectionError::Unreachable(
            "authorization server metadata not discovered yet",
        )),
        Some(metadata) => metadata
            .introspection_endpoint
            .as_deref()
            .filter(|url| !url.is_empty())
            .ok_or(IntrospectionError::NoEndpoint),
    }
}

/// Seconds since the Unix epoch; a clock before 1970 reads as 0 rather than panicking.
pub(super) fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_secs()).unwrap_or(i64::MAX))
}

/// Time from now until the Unix timestamp `at`; zero when `at` has passed.
fn until(at: i64) -> Duration {
    let Ok(secs) = u64::try_from(at) else {
        return Duration::ZERO;
    };
    let Some(at) = UNIX_EPOCH.checked_add(Duration::from_secs(secs)) else {
        return Duration::MAX;
    };
    at.duration_since(SystemTime::now())
        .unwrap_or(Duration::ZERO)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn discovered_endpoint_resolution() {
        assert!(matches!(
            resolve_discovered(None),
            Err(IntrospectionError::Unreachable(_))
        ));
        let without = AuthServerMetadata::default();
        assert_eq!(
            resolve_discovered(Some(&without)),
            Err(IntrospectionError::NoEndpoint)
        );
        let with = AuthServerMetadata {
            introspection_endpoint: Some("https://as.example/introspect".into()),
            ..AuthServerMetadata::default()
        };
        assert_eq!(
            resolve_discovered(Some(&with)),
            Ok("https://as.example/introspect")
        );
    }

    #[test]
    fn until_handles_the_past_and_absurd_futures() {
        assert_eq!(until(0), Duration::ZERO);
        assert_eq!(until(-5), Duration::ZERO);
        assert!(until(unix_now() + 100) > Duration::from_secs(98));
        assert!(until(i64::MAX) > Duration::from_secs(1 << 40));
    }
}
