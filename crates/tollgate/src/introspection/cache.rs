//! The answer cache (bounded by entries and bytes, per-entry expiry) and the single-flight table
//! of calls in progress (bounded per kind of token).
//!
//! Both are keyed by [`TokenHash`], never by the token. Only answers are cached: failures never
//! reach this module (README, "Introspection"). The cache is evictable, and anyone can fill it
//! (the "inactive" answer for a random string lands here): revocations of verified tokens live
//! in the revocation memory instead (`revoked.rs`), which nothing here can push out.

use std::collections::HashMap;
use std::mem::size_of;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use futures_util::future::{BoxFuture, Shared};
use moka::Expiry;
use serde_json::{Map, Value};

use super::{IntrospectionAnswer, IntrospectionError, TokenKind};
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
    /// Not active, for a token that was never verified (a string the AS does not know), or
    /// not valid yet. Evictable: losing it costs one more question, never a revoked token
    /// accepted (those are in the revocation memory).
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

/// What one entry costs besides the answer it points to: the key and the `Entry` itself, and
/// moka's bookkeeping (access and write order, the timer wheel, the hash table slot). Measured
/// at about 385 bytes per entry for 100,000 small entries (moka 0.12, x86-64).
const ENTRY_OVERHEAD: usize = 384;

/// The bytes an entry holds, estimated from its contents.
fn entry_bytes(entry: &Entry) -> usize {
    ENTRY_OVERHEAD
        + match entry {
            Entry::Active { answer, .. } => answer_bytes(answer),
            Entry::Inactive { .. } => 0,
        }
}

/// An answer's size: the struct behind its `Arc`, the strings it owns, and the whole parsed
/// answer kept for `Principal::claims`, which is most of it.
fn answer_bytes(answer: &IntrospectionAnswer) -> usize {
    let string = |s: &Option<String>| s.as_ref().map_or(0, String::capacity);
    2 * size_of::<usize>()
        + size_of::<IntrospectionAnswer>()
        + string(&answer.scope)
        + string(&answer.client_id)
        + string(&answer.sub)
        + string(&answer.iss)
        + string(&answer.jti)
        + answer.aud.capacity() * size_of::<String>()
        + answer.aud.iter().map(String::capacity).sum::<usize>()
        + map_bytes(&answer.raw)
}

/// A JSON object's size: per member its key, its value and a share of the tree node holding
/// them. Recursion is bounded by the parser's depth limit.
fn map_bytes(map: &Map<String, Value>) -> usize {
    /// A B-tree node's pointers and lengths, per member (nodes hold up to 11).
    const NODE_SHARE: usize = 16;
    map.iter()
        .map(|(key, value)| {
            NODE_SHARE
                + size_of::<String>()
                + key.capacity()
                + size_of::<Value>()
                + value_bytes(value)
        })
        .sum()
}

fn value_bytes(value: &Value) -> usize {
    match value {
        Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        Value::String(s) => s.capacity(),
        Value::Array(items) => {
            items.capacity() * size_of::<Value>() + items.iter().map(value_bytes).sum::<usize>()
        }
        Value::Object(map) => map_bytes(map),
    }
}

/// The weight moka charges an entry: its bytes, and at least an equal share of the byte
/// budget per allowed entry, so that one bound in bytes also bounds the number of entries.
fn weight(entry: &Entry, floor: usize) -> u32 {
    u32::try_from(entry_bytes(entry).max(floor)).unwrap_or(u32::MAX)
}

/// The answers and the calls in flight.
pub(super) struct AnswerCache {
    entries: moka::sync::Cache<TokenHash, Entry>,
    /// Calls in progress with an id, so a finished call removes its own entry and nothing else.
    /// The lock is held only to look up, insert or remove, never across an `.await`.
    in_flight: Mutex<InFlight>,
    /// How many calls of one kind may be in the table at once (waiting for a slot or running).
    max_pending: usize,
}

#[derive(Default)]
struct InFlight {
    next_id: u64,
    calls: HashMap<TokenHash, (u64, TokenKind, Flight)>,
    /// Calls in the table per kind: sensitive JWT checks, opaque lookups.
    pending: [usize; 2],
}

/// Why [`AnswerCache::join_or_start`] started nothing.
pub(super) enum NotStarted {
    /// As many calls of this kind as allowed are in flight already.
    TooManyPending,
    /// The caller's own admission refused (the rate limit).
    Refused(IntrospectionError),
}

fn slot(kind: TokenKind) -> usize {
    match kind {
        TokenKind::Jwt => 0,
        TokenKind::Opaque => 1,
    }
}

impl AnswerCache {
    /// At most `max_entries` entries and about `max_bytes` bytes of answers; at most
    /// `max_pending` calls of each kind in flight. Each is at least one (`Introspection::
    /// validate` refuses zero).
    pub(super) fn new(max_entries: u64, max_bytes: u64, max_pending: usize) -> Self {
        let max_bytes = max_bytes.max(1);
        let floor = usize::try_from(max_bytes.div_ceil(max_entries.max(1))).unwrap_or(usize::MAX);
        Self {
            entries: moka::sync::Cache::builder()
                .max_capacity(max_bytes)
                .weigher(move |_, entry: &Entry| weight(entry, floor))
                .expire_after(EntryExpiry)
                .build(),
            in_flight: Mutex::new(InFlight::default()),
            max_pending: max_pending.max(1),
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
        self.entries.insert(hash, Entry::Inactive { ttl });
    }

    /// Forgets the answer for `hash` (its revocation is remembered elsewhere now).
    pub(super) fn remove(&self, hash: &TokenHash) {
        self.entries.invalidate(hash);
    }

    /// Entries held (approximate: moka applies evictions in batches).
    pub(super) fn entry_count(&self) -> u64 {
        self.entries.entry_count()
    }

    /// The weight held, in estimated bytes (approximate, as the count).
    pub(super) fn weighted_size(&self) -> u64 {
        self.entries.weighted_size()
    }

    /// Applies pending evictions now, so that the counts are exact (tests).
    #[cfg(test)]
    pub(super) fn sync(&self) {
        self.entries.run_pending_tasks();
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
    /// caller to run once the lock is released. `start` runs under the lock, and only when a new
    /// call is needed and there is room for one of this `kind`: it must only build (and may
    /// refuse), not run anything that could take this lock (dropping a guard that calls
    /// `finish` would).
    pub(super) fn join_or_start<W>(
        &self,
        hash: TokenHash,
        kind: TokenKind,
        start: impl FnOnce(u64) -> Result<(Flight, W), IntrospectionError>,
    ) -> Result<(Flight, Option<(u64, W)>), NotStarted> {
        let mut in_flight = self.lock();
        if let Some((_, _, flight)) = in_flight.calls.get(&hash) {
            return Ok((flight.clone(), None));
        }
        // A bound on calls waiting, not only on calls running: beyond it, refuse at once
        // rather than queue without end.
        if in_flight.pending[slot(kind)] >= self.max_pending {
            return Err(NotStarted::TooManyPending);
        }
        // The call's id, handed to the work so that it can leave the table before it answers.
        let id = in_flight.next_id;
        let (flight, work) = start(id).map_err(NotStarted::Refused)?;
        in_flight.next_id = in_flight.next_id.wrapping_add(1);
        in_flight.pending[slot(kind)] += 1;
        in_flight.calls.insert(hash, (id, kind, flight.clone()));
        Ok((flight, Some((id, work))))
    }

    /// Forgets the call `id` for `hash` once it has finished (or was abandoned).
    pub(super) fn finish(&self, hash: &TokenHash, id: u64) {
        let mut in_flight = self.lock();
        if let Some((current, kind, _)) = in_flight.calls.get(hash)
            && *current == id
        {
            let kind = *kind;
            in_flight.calls.remove(hash);
            let pending = &mut in_flight.pending[slot(kind)];
            *pending = pending.saturating_sub(1);
        }
    }

    /// How many calls are in flight (tests and diagnostics).
    #[cfg(test)]
    pub(super) fn in_flight(&self) -> usize {
        self.lock().calls.len()
    }
}
