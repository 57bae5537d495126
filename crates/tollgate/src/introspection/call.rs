//! One introspection call, from the wait for a slot to what is remembered of the answer, and
//! the log that says once, not per request, that the authorization server is in trouble.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::FutureExt as _;
use futures_util::future::BoxFuture;
use tokio::sync::oneshot;

use super::cache::{Entry, Flight, MAX_ENTRY_TTL, Outcome};
use super::client;
use super::introspector::{Inner, NO_SLOT};
use super::parse::{self, Verdict};
use super::{EndpointSource, IntrospectionError, TokenKind};
use crate::hash::TokenHash;
use crate::keys::AuthServerMetadata;

/// What a call is about, beside the token itself.
#[derive(Clone, Copy)]
pub(super) struct Call {
    pub(super) hash: TokenHash,
    pub(super) kind: TokenKind,
    /// The token's own expiry, when the caller knows it (a verified JWT's `exp`).
    pub(super) exp: Option<i64>,
    /// An active answer for the token was cached when the call started.
    pub(super) was_active: bool,
    /// The caller's freshness budget: a shared answer may be this old, and a fresh one is
    /// shared for at most this long.
    pub(super) max_age: Duration,
}

impl Inner {
    /// The endpoint to call, resolved per call: discovery may complete (or change) at any time.
    pub(super) fn endpoint(&self) -> Result<String, IntrospectionError> {
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
    pub(super) fn start(
        inner: Arc<Self>,
        id: u64,
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
            // Out of the in-flight table before anyone hears the answer: a check that starts
            // after a caller got it (budget zero: "ask") must start a call of its own, not
            // join this finished one. The guard in `spawn` still removes it if this task
            // never gets here (a panic, a runtime shutting down).
            inner.cache.finish(&call.hash, id);
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
    pub(super) fn spawn(inner: &Arc<Self>, hash: TokenHash, id: u64, work: BoxFuture<'static, ()>) {
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
        let Call {
            hash, exp, max_age, ..
        } = call;
        let Some(credentials) = &self.credentials else {
            return self.failed(IntrospectionError::Broken(
                "the introspection bearer credential is not a valid header value",
            ));
        };
        // Another instance may have asked within the budget (`shared.rs`); checked like a
        // fresh answer, cached like one, and not counted as a call.
        if let Some((answer, fetched)) = self.shared_answer(hash, max_age).await {
            let ttl = self.active_ttl(answer.exp, exp);
            self.cache
                .insert_active(hash, Arc::clone(&answer), fetched, ttl);
            return Ok(answer);
        }
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
                let ttl = self.active_ttl(answer.exp, exp);
                self.cache
                    .insert_active(hash, Arc::clone(&answer), fetched_at, ttl);
                // For the other instances: at most the budget, at most until `exp`.
                self.share_answer(hash, &body, ttl.min(max_age));
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

    /// How long an active answer is kept: never past the token's expiry, whichever side
    /// knows it.
    fn active_ttl(&self, answer_exp: Option<i64>, exp: Option<i64>) -> Duration {
        let until_exp = match (answer_exp, exp) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
        until_exp.map_or(self.max_active_ttl, |exp| {
            self.max_active_ttl.min(until(exp))
        })
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
            self.publish_revoked(hash, until);
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
pub(super) struct Trouble {
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
