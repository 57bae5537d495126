//! The revocation memory: tokens that introspection called inactive after they had been
//! verified, refused on every route until they expire (revocation is final, README "How it
//! works").
//!
//! Its own structure, not a moka cache. A moka cache admits and evicts by how often a key is
//! asked for (TinyLFU), at a time of its choosing, and silently: answers that anyone can create
//! (the "inactive" of a random string) would compete with revocations for the same room, and a
//! revocation pushed out would let a revoked JWT back onto routine routes, which never ask the
//! authorization server (AS). Here only verified tokens enter (a JWT with a good signature, an
//! opaque token that had an active answer), entries leave when they expire, and reaching the
//! bound is decided, logged and counted:
//!
//! - At the bound, expired entries are swept first. If all are live, the revocation that
//!   expires first is the one given up (the new one, if it expires first itself): it has the
//!   shortest time left to be misused. A given-up JWT is accepted again on routine routes until
//!   its `exp`; sensitive routes ask the AS anyway and are told again. A given-up opaque token
//!   is simply asked about again.
//! - Reaching the bound is logged at WARN once per episode (until the memory is back under 90 %
//!   of its bound) and counted in `Diagnostics`.
//!
//! The hot path is a lookup on every request: one atomic load while the memory is empty (the
//! common case), otherwise a read lock on one of 16 shards and a hash-map lookup. Writers
//! (a revocation learnt, a sweep) are rare and serialised by one mutex that readers never take.

use std::collections::HashMap;
use std::hash::{BuildHasher, RandomState};
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError, RwLock, RwLockReadGuard, RwLockWriteGuard};

use crate::hash::TokenHash;
use crate::log::warn;

/// Shards of the map: readers of different tokens rarely share a lock's cache line.
const SHARDS: usize = 16;

/// Seconds between two sweeps of expired entries (run by a writer, or by a reader that finds
/// one due).
const SWEEP_INTERVAL: i64 = 60;

/// The memory of revoked tokens: [`TokenHash`] to the Unix time (seconds) until which the token
/// is refused.
pub(crate) struct RevocationMemory {
    shards: Box<[RwLock<HashMap<TokenHash, i64>>]>,
    /// Picks a token's shard; seeded per process, like the maps themselves.
    shard_of: RandomState,
    /// Entries stored: counted up before an insert and down after a removal, so it is never
    /// below the truth. While it is zero, the memory is known empty without a lookup.
    len: AtomicUsize,
    capacity: usize,
    /// Serialises inserts and sweeps; held while one shard lock at a time is taken.
    writer: Mutex<()>,
    /// When the next sweep is due (Unix seconds).
    next_sweep: AtomicI64,
    /// The bound was reached and the memory has not yet fallen back under 90 % of it.
    full: AtomicBool,
    /// Revocations given up at the bound.
    dropped: AtomicU64,
    /// Times the bound was reached (episodes, each logged once).
    episodes: AtomicU64,
}

/// The earliest-expiring entry, found at the bound.
struct Earliest {
    shard: usize,
    hash: TokenHash,
    until: i64,
}

impl RevocationMemory {
    /// `capacity` is at least one (`Introspection::validate` refuses zero; clamped anyway).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            shards: (0..SHARDS).map(|_| RwLock::default()).collect(),
            shard_of: RandomState::new(),
            len: AtomicUsize::new(0),
            capacity: capacity.max(1),
            writer: Mutex::new(()),
            next_sweep: AtomicI64::new(0),
            full: AtomicBool::new(false),
            dropped: AtomicU64::new(0),
            episodes: AtomicU64::new(0),
        }
    }

    /// Whether `hash` is remembered revoked at `now()`. One atomic load while the memory is
    /// empty.
    pub(crate) fn contains(&self, hash: &TokenHash) -> bool {
        if self.len.load(Ordering::SeqCst) == 0 {
            return false;
        }
        self.contains_at(hash, super::call::unix_now())
    }

    /// The same at `now` (Unix seconds), for a caller that has read the clock already.
    pub(crate) fn contains_at(&self, hash: &TokenHash, now: i64) -> bool {
        if self.len.load(Ordering::SeqCst) == 0 {
            return false;
        }
        let found = read(&self.shards[self.shard(hash)])
            .get(hash)
            .is_some_and(|until| now < *until);
        // Entries that expired while no revocation arrived are released by a reader, so that
        // the memory becomes empty again (and the lookup one atomic load). Never waits: if a
        // writer is busy, it sweeps soon enough itself.
        if now >= self.next_sweep.load(Ordering::Relaxed)
            && let Ok(guard) = self.writer.try_lock()
        {
            self.sweep(&guard, now);
        }
        found
    }

    /// Remembers `hash` as revoked until `until` (Unix seconds, exclusive). At the bound, the
    /// revocation that expires first is given up (see the module documentation).
    pub(crate) fn insert(&self, hash: TokenHash, until: i64, now: i64) {
        if until <= now {
            return;
        }
        let guard = self.lock_writer();
        if now >= self.next_sweep.load(Ordering::Relaxed) {
            self.sweep(&guard, now);
        }
        let shard = self.shard(&hash);
        if let Some(existing) = write(&self.shards[shard]).get_mut(&hash) {
            *existing = (*existing).max(until);
            return;
        }
        if self.len.load(Ordering::SeqCst) >= self.capacity {
            let Some(earliest) = self.earliest() else {
                // Unreachable while `len` counts truly; never grow past the bound regardless.
                return;
            };
            // An entry that expired since the last sweep makes room without loss.
            if earliest.until > now {
                self.at_bound();
                // The new revocation would be the first to go: it is the one given up.
                if earliest.until >= until {
                    return;
                }
            }
            if write(&self.shards[earliest.shard])
                .remove(&earliest.hash)
                .is_some()
            {
                self.len.fetch_sub(1, Ordering::SeqCst);
            }
        }
        self.len.fetch_add(1, Ordering::SeqCst);
        write(&self.shards[shard]).insert(hash, until);
        drop(guard);
    }

    /// Entries stored (expired ones until the next sweep included).
    pub(crate) fn len(&self) -> usize {
        self.len.load(Ordering::SeqCst)
    }

    /// Revocations given up because the memory was full.
    pub(crate) fn dropped(&self) -> u64 {
        self.dropped.load(Ordering::Relaxed)
    }

    /// Times the memory reached its bound.
    pub(crate) fn full_episodes(&self) -> u64 {
        self.episodes.load(Ordering::Relaxed)
    }

    fn at_bound(&self) {
        self.dropped.fetch_add(1, Ordering::Relaxed);
        if !self.full.swap(true, Ordering::Relaxed) {
            self.episodes.fetch_add(1, Ordering::Relaxed);
            warn!(
                "the revocation memory is full ({} tokens): revocations that expire first are \
                 given up, and those JWTs are accepted again on routine routes until they \
                 expire; raise Introspection::revocation_capacity",
                self.capacity
            );
        }
    }

    /// The entry that expires first, shard by shard (only at the bound, under the writer lock).
    fn earliest(&self) -> Option<Earliest> {
        let mut earliest: Option<Earliest> = None;
        for (index, shard) in self.shards.iter().enumerate() {
            let map = read(shard);
            if let Some((hash, until)) = map.iter().min_by_key(|(_, until)| **until)
                && earliest.as_ref().is_none_or(|e| *until < e.until)
            {
                earliest = Some(Earliest {
                    shard: index,
                    hash: *hash,
                    until: *until,
                });
            }
        }
        earliest
    }

    /// Removes what has expired. The writer guard proves the caller serialises with inserts.
    fn sweep(&self, _writer: &MutexGuard<'_, ()>, now: i64) {
        self.next_sweep
            .store(now.saturating_add(SWEEP_INTERVAL), Ordering::Relaxed);
        for shard in &self.shards {
            let mut map = write(shard);
            let before = map.len();
            map.retain(|_, until| now < *until);
            let removed = before - map.len();
            if removed > 0 {
                self.len.fetch_sub(removed, Ordering::SeqCst);
            }
            if map.is_empty() && map.capacity() > 0 {
                // A burst of revocations long gone should not pin its memory.
                map.shrink_to_fit();
            }
        }
        // The episode ends with some room to spare, so a memory hovering at its bound warns
        // once, not on every insert.
        if self.len.load(Ordering::SeqCst) < self.capacity - self.capacity / 10 {
            self.full.store(false, Ordering::Relaxed);
        }
    }

    fn shard(&self, hash: &TokenHash) -> usize {
        // The remainder is below SHARDS, so the cast cannot truncate.
        (self.shard_of.hash_one(hash) % SHARDS as u64) as usize
    }

    fn lock_writer(&self) -> MutexGuard<'_, ()> {
        // The guarded data is `()`: a panic elsewhere cannot leave it inconsistent.
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

// Each operation under a shard lock is a single map operation (or a `retain`), so a map behind
// a poisoned lock is still consistent and usable.
fn read<T>(lock: &RwLock<T>) -> RwLockReadGuard<'_, T> {
    lock.read().unwrap_or_else(PoisonError::into_inner)
}

fn write<T>(lock: &RwLock<T>) -> RwLockWriteGuard<'_, T> {
    lock.write().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hash(i: u32) -> TokenHash {
        TokenHash::of(&format!("token-{i}"))
    }

    #[test]
    fn remembers_until_the_given_time_only() {
        let memory = RevocationMemory::new(10);
        assert!(!memory.contains_at(&hash(1), 1_000));
        memory.insert(hash(1), 1_100, 1_000);
        assert!(memory.contains_at(&hash(1), 1_000));
        assert!(memory.contains_at(&hash(1), 1_099));
        assert!(!memory.contains_at(&hash(1), 1_100));
        assert!(!memory.contains_at(&hash(2), 1_000));
        // Already expired: nothing to remember.
        memory.insert(hash(3), 900, 1_000);
        assert!(!memory.contains_at(&hash(3), 899));
        assert_eq!(memory.len(), 1);
    }

    #[test]
    fn a_repeated_revocation_keeps_the_later_expiry() {
        let memory = RevocationMemory::new(10);
        memory.insert(hash(1), 2_000, 1_000);
        memory.insert(hash(1), 1_500, 1_000);
        assert!(memory.contains_at(&hash(1), 1_900));
        assert_eq!(memory.len(), 1);
    }

    #[test]
    fn expired_entries_are_swept_and_the_memory_is_empty_again() {
        let memory = RevocationMemory::new(10);
        for i in 0..5 {
            memory.insert(hash(i), 1_010, 1_000);
        }
        assert_eq!(memory.len(), 5);
        // A reader past the sweep interval releases them.
        assert!(!memory.contains_at(&hash(0), 1_000 + SWEEP_INTERVAL + 1));
        assert_eq!(memory.len(), 0);
    }

    #[test]
    fn at_the_bound_the_earliest_expiring_revocation_is_given_up() {
        let memory = RevocationMemory::new(3);
        memory.insert(hash(1), 5_000, 1_000);
        memory.insert(hash(2), 2_000, 1_000);
        memory.insert(hash(3), 4_000, 1_000);
        assert_eq!((memory.dropped(), memory.full_episodes()), (0, 0));

        // Full: the one expiring first (2) makes room for a later one.
        memory.insert(hash(4), 3_000, 1_001);
        assert_eq!(memory.len(), 3);
        assert!(!memory.contains_at(&hash(2), 1_001));
        for kept in [1, 3, 4] {
            assert!(memory.contains_at(&hash(kept), 1_001), "{kept}");
        }
        // A new revocation expiring before all the others is the one given up.
        memory.insert(hash(5), 1_500, 1_002);
        assert!(!memory.contains_at(&hash(5), 1_002));
        assert_eq!(memory.len(), 3);
        // One episode, however many revocations it costs.
        assert_eq!((memory.dropped(), memory.full_episodes()), (2, 1));

        // Expired entries make room before anything live is given up.
        memory.insert(hash(6), 9_000, 4_500);
        assert!(memory.contains_at(&hash(6), 4_500));
        assert!(memory.contains_at(&hash(1), 4_500));
        assert_eq!(memory.dropped(), 2);
        // Back under 90 %: the next time the bound is reached is a new episode.
        memory.insert(hash(7), 9_000, 5_100);
        memory.insert(hash(8), 9_000, 5_100);
        memory.insert(hash(9), 9_500, 5_100);
        assert_eq!((memory.dropped(), memory.full_episodes()), (3, 2));
    }

    #[test]
    fn an_expired_entry_not_yet_swept_makes_room_without_loss() {
        let memory = RevocationMemory::new(2);
        // The first insert sweeps; the next sweep is due a minute later.
        memory.insert(hash(1), 1_010, 1_000);
        memory.insert(hash(2), 5_000, 1_000);
        memory.insert(hash(3), 5_000, 1_020);
        assert!(memory.contains_at(&hash(2), 1_020) && memory.contains_at(&hash(3), 1_020));
        assert_eq!(
            (memory.len(), memory.dropped(), memory.full_episodes()),
            (2, 0, 0)
        );
    }

    #[test]
    fn never_grows_past_its_bound() {
        let memory = RevocationMemory::new(100);
        for i in 0..1_000 {
            memory.insert(hash(i), 10_000 + i64::from(i), 1_000);
        }
        assert_eq!(memory.len(), 100);
        assert_eq!(memory.dropped(), 900);
        assert_eq!(memory.full_episodes(), 1);
        // The latest-expiring ones are kept.
        assert!(memory.contains_at(&hash(999), 1_000));
        assert!(!memory.contains_at(&hash(0), 1_000));
    }
}
