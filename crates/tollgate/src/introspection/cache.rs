//! The answer cache (bounded, per-entry expiry) and the single-flight table of calls in progress.
//!
//! Both are keyed by [`TokenHash`], never by the token. Only answers are cached: failures never
//! reach this module (DESIGN §5).

use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, Shared};
use moka::Expiry;

use super::{IntrospectionAnswer, IntrospectionError};
use crate::hash::TokenHash;

/// What one call (or one share of a call) yields.
pub(super) type Outcome = Result<Arc<IntrospectionAnswer>, IntrospectionError>;

/// A call in progress, awaited by every caller that needs a fresh answer for the same token.
pub(super) type Flight = Shared<BoxFuture<'static, Outcome>>;

/// Upper bound on any entry's lifetime, whatever the configuration or a token's `exp` says: keeps
/// absurd values (`Duration::MAX`, an `exp` in the year 3000) away from the cache's clock.
pub(super) const MAX_ENTRY_TTL: Duration = Duration::from_secs(366 * 24 * 60 * 60);

/// A remembered answer.
#[derive(Clone)]
pub(super) enum Entry {
    /// `active: true`, usable by a caller whose freshness budget covers `fetched_at`.
    Active {
        answer: Arc<IntrospectionAnswer>,
        /// Taken before the request was sent, so the age errs on the old side.
        fetched_at: Instant,
        ttl: Duration,
    },
    /// `active: false` (or expired): the revocation memory.
    Inactive { ttl: Duration },
}

impl Entry {
    fn ttl(&self) -> Duration {
        match self {
            Self::Active { ttl, .. } | Self::Inactive { ttl } => *ttl,
        }
    }
}

/// Each entry carries its own lifetime, computed from the answer when it is stored.
struct EntryExpiry;

impl Expiry<TokenHash, Entry> for EntryExpiry {
    fn expire_after_create(&self, _: &TokenHash, entry: &Entry, _: Instant) -> Option<Duration> {
        Some(entry.ttl())
    }

    fn expire_after_update(
        &self,
        _: &TokenHash,
        entry: &Entry,
        _: Instant,
        _: Option<Duration>,
    ) -> Option<Duration> {
        // A replaced answer starts its own lifetime; the old one's remainder is irrelevant.
        Some(entry.ttl())
    }
}

/// The answers and the calls in flight.
pub(super) struct AnswerCache {
    entries: moka::sync::Cache<TokenHash, Entry>,
    /// Inactive entries stored and not yet removed: counted up before each insert and down when
    /// the cache lets one go, so it is never below the truth. While it is zero, the revocation
    /// memory is known empty without a lookup (the common case on every routine request).
    inactive: Arc<AtomicUsize>,
    /// Calls in progress with an id, so a finished call removes its own entry and nothing else.
    /// The lock is held only to look up, insert or remove, never across an `.await`.
    in_flight: Mutex<InFlight>,
}

#[derive(Default)]
struct InFlight {
    next_id: u64,
    calls: HashMap<TokenHash, (u64, Flight)>,
}

impl AnswerCache {
    pub(super) fn new(capacity: u64) -> Self {
        let inactive = Arc::new(AtomicUsize::new(0));
        let released = Arc::clone(&inactive);
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(capacity)
                .expire_after(EntryExpiry)
                .eviction_listener(move |_, entry, _| {
                    if matches!(entry, Entry::Inactive { .. }) {
                        released.fetch_sub(1, Ordering::Relaxed);
                    }
                })
                .build(),
            inactive,
            in_flight: Mutex::new(InFlight::default()),
        }
    }

    /// The remembered answer, if it has not expired. Synchronous: this is on the hot path.
    pub(super) fn get(&self, hash: &TokenHash) -> Option<Entry> {
        self.entries.get(hash)
    }

    /// Remembers an active answer for `ttl` (not at all when `ttl` is zero).
    pub(super) fn insert_active(
        &self,
        hash: TokenHash,
        answer: Arc<IntrospectionAnswer>,
        fetched_at: Instant,
        ttl: Duration,
    ) {
        if ttl.is_zero() {
            return;
        }
        let ttl = ttl.min(MAX_ENTRY_TTL);
        self.entries.insert(
            hash,
            Entry::Active {
                answer,
                fetched_at,
                ttl,
            },
        );
    }

    /// Remembers that the token is not active, for `ttl`.
    pub(super) fn insert_inactive(&self, hash: TokenHash, ttl: Duration) {
        if ttl.is_zero() {
            return;
        }
        let ttl = ttl.min(MAX_ENTRY_TTL);
        self.inactive.fetch_add(1, Ordering::SeqCst);
        self.entries.insert(hash, Entry::Inactive { ttl });
    }

    /// Whether an inactive answer is remembered for `hash`. Synchronous and, while nothing is
    /// remembered inactive, one atomic load.
    pub(super) fn is_inactive(&self, hash: &TokenHash) -> bool {
        self.inactive.load(Ordering::SeqCst) != 0
            && matches!(self.entries.get(hash), Some(Entry::Inactive { .. }))
    }

    fn lock(&self) -> MutexGuard<'_, InFlight> {
        // A panic while holding the lock cannot leave the map inconsistent (each operation is a
        // single insert or remove), so a poisoned lock is still usable.
        self.in_flight
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// Joins the call in flight for `hash`, or registers the one `start` builds.
    ///
    /// Returns the flight to await and, when this caller registered it, its id (for
    /// [`finish`](Self::finish)) with the work that `start` returned beside the flight, for the
    /// caller to run once the lock is released. `start` runs under the lock: it must only build,
    /// not run anything that could take this lock (dropping a guard that calls `finish` would).
    pub(super) fn join_or_start<W>(
        &self,
        hash: TokenHash,
        start: impl FnOnce() -> (Flight, W),
    ) -> (Flight, Option<(u64, W)>) {
        let mut in_flight = self.lock();
        if let Some((_, flight)) = in_flight.calls.get(&hash) {
            return (flight.clone(), None);
        }
        let id = in_flight.next_id;
        in_flight.next_id = in_flight.next_id.wrapping_add(1);
        let (flight, work) = start();
        in_flight.calls.insert(hash, (id, flight.clone()));
        (flight, Some((id, work)))
    }

    /// Forgets the call `id` for `hash` once it has finished (or was abandoned).
    pub(super) fn finish(&self, hash: &TokenHash, id: u64) {
        let mut in_flight = self.lock();
        if in_flight
            .calls
            .get(hash)
            .is_some_and(|(current, _)| *current == id)
        {
            in_flight.calls.remove(hash);
        }
    }

    /// How many calls are in flight (tests and diagnostics).
    #[cfg(test)]
    pub(super) fn in_flight(&self) -> usize {
        self.lock().calls.len()
    }
}
