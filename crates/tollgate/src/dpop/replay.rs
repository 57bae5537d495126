//! The replay cache of DPoP proofs (RFC 9449 §11.1): each `jti` is accepted once per key for
//! as long as its proof could be accepted at all.
//!
//! Entries are SHA-256 digests of the key's thumbprint and the `jti`, so a `jti` of any size
//! costs the same, and two clients choosing the same `jti` do not collide. An entry lives until
//! the end of its proof's `iat` window; after that the `iat` check refuses the proof anyway.
//!
//! **When full**, new proofs are refused with a 503-class error rather than evicting entries
//! that are still live: evicting one would let its proof be replayed, silently. Only proofs
//! that passed every other check, the token's key binding included, are recorded, so only
//! holders of valid bound tokens can fill the cache. The default capacity
//! ([`DEFAULT_CAPACITY`]) holds about 1,400 proofs a second with the default window.

use std::cmp::Reverse;
use std::collections::{BinaryHeap, HashMap};
use std::fmt;
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::Duration;

use aws_lc_rs::digest::{Context, SHA256};

use super::thumbprint::Thumbprint;
use crate::store::{Digest, Namespace, SharedStore};

/// Default number of live entries: about 100 bytes each, so about 10 MB when full. With the
/// default `iat` window (60 s back, 10 s ahead) an entry lives at most 70 s: 100,000 entries
/// are 1,400 DPoP requests a second, sustained, per instance.
pub(crate) const DEFAULT_CAPACITY: usize = 100_000;

/// The digest a proof is remembered by: SHA-256 of a label, the key's thumbprint and the `jti`.
/// The 32 bytes are what a shared store keys on (the store's digest type).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) struct ReplayKey(pub(crate) [u8; 32]);

impl ReplayKey {
    pub(crate) fn new(thumbprint: &Thumbprint, jti: &str) -> Self {
        let mut ctx = Context::new(&SHA256);
        ctx.update(b"tollgate DPoP jti v1\0");
        // The thumbprint has a fixed length, so thumbprint || jti is unambiguous.
        ctx.update(thumbprint.as_bytes());
        ctx.update(jti.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.finish().as_ref());
        Self(out)
    }
}

/// What to record for a verified proof: its key, and the last second (Unix time) at which the
/// proof could still be accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct ReplayEntry {
    pub(crate) key: ReplayKey,
    pub(crate) until: i64,
}

impl ReplayEntry {
    /// How long a shared store should keep the entry, counted from `now`; at least a second.
    pub(crate) fn ttl(&self, now: i64) -> Duration {
        Duration::from_secs(
            u64::try_from(self.until.saturating_sub(now))
                .unwrap_or(0)
                .max(1),
        )
    }
}

/// Why a proof cannot be recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ReplayError {
    /// The proof was seen before: refuse it (`invalid_dpop_proof`).
    Replayed,
    /// The cache is full of live entries: answer 503 with `Retry-After`. `newly_full` is true
    /// for the first refusal of a full period, so the caller warns once, not per request.
    Full {
        retry_after: Duration,
        newly_full: bool,
    },
}

impl ReplayError {
    /// A fixed description.
    pub(crate) fn description(self) -> &'static str {
        match self {
            Self::Replayed => "the DPoP proof was already used",
            Self::Full { .. } => "too many DPoP proofs to remember; try again shortly",
        }
    }
}

/// How long a request waits for the shared store's answer before the proof is refused (503):
/// longer than a healthy store takes, short enough that a sick one does not hold requests.
const STORE_RETRY_AFTER: Duration = Duration::from_secs(1);

/// Where proofs are remembered: in this process, or also in a store shared by the instances
/// of the API, so that a proof accepted by one is refused by every other (RFC 9449 §11.1).
///
/// The shared kind checks the local cache first (bounded, with the same rule when full) and
/// then the store (`SharedStore::first_use`); a store that cannot answer refuses the proof
/// (503), never accepts it unchecked.
pub(crate) enum ReplayCache {
    /// In this process only.
    Local(LocalReplayCache),
    /// In this process, then in the shared store under `ns`.
    Shared {
        local: LocalReplayCache,
        store: Arc<dyn SharedStore>,
        ns: Namespace,
    },
}

impl fmt::Debug for ReplayCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Local(local) => f.debug_tuple("Local").field(local).finish(),
            Self::Shared { local, ns, .. } => f
                .debug_struct("Shared")
                .field("local", local)
                .field("ns", ns)
                .finish_non_exhaustive(),
        }
    }
}

impl ReplayCache {
    /// Records `entry` at `now` (Unix seconds) in the local cache; an error when it was seen
    /// or cannot be recorded. For the shared kind, [`first_use_shared`](Self::first_use_shared)
    /// must follow.
    pub(crate) fn first_use(&self, entry: &ReplayEntry, now: i64) -> Result<(), ReplayError> {
        match self {
            Self::Local(cache) | Self::Shared { local: cache, .. } => cache.first_use(entry, now),
        }
    }

    /// Proofs the local cache holds.
    pub(crate) fn local_len(&self) -> usize {
        match self {
            Self::Local(cache) | Self::Shared { local: cache, .. } => cache.len(),
        }
    }

    /// Whether a shared store must be asked too.
    pub(crate) fn is_shared(&self) -> bool {
        matches!(self, Self::Shared { .. })
    }

    /// Records `entry` in the shared store, after [`first_use`](Self::first_use) accepted it
    /// locally; nothing to do for the local kind.
    pub(crate) async fn first_use_shared(
        &self,
        entry: &ReplayEntry,
        now: i64,
    ) -> Result<(), ReplayError> {
        let Self::Shared { store, ns, .. } = self else {
            return Ok(());
        };
        match store
            .first_use(ns, &Digest(entry.key.0), entry.ttl(now))
            .await
        {
            Ok(true) => Ok(()),
            Ok(false) => Err(ReplayError::Replayed),
            Err(_) => Err(ReplayError::Full {
                retry_after: STORE_RETRY_AFTER,
                newly_full: false,
            }),
        }
    }
}

/// A bounded in-memory replay cache.
#[derive(Debug)]
pub(crate) struct LocalReplayCache {
    capacity: usize,
    inner: Mutex<Inner>,
}

#[derive(Debug, Default)]
struct Inner {
    live: HashMap<ReplayKey, i64>,
    /// The same entries, soonest expiry first, to purge without scanning.
    by_expiry: BinaryHeap<Reverse<(i64, ReplayKey)>>,
    full: bool,
}

impl LocalReplayCache {
    /// A cache of at most `capacity` live entries (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            capacity: capacity.max(1),
            inner: Mutex::new(Inner::default()),
        }
    }

    /// Live entries now (expired ones included until the next insertion purges them).
    pub(crate) fn len(&self) -> usize {
        self.lock().live.len()
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        // A panic elsewhere while the lock was held cannot leave the maps half-updated in a
        // way that matters (at worst an entry is in one and not the other), so carry on.
        self.inner
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn first_use(&self, entry: &ReplayEntry, now: i64) -> Result<(), ReplayError> {
        let mut inner = self.lock();
        let inner = &mut *inner;
        while let Some(Reverse((until, key))) = inner.by_expiry.peek().copied() {
            if until >= now {
                break;
            }
            inner.by_expiry.pop();
            if inner.live.get(&key) == Some(&until) {
                inner.live.remove(&key);
            }
        }
        if inner.live.contains_key(&entry.key) {
            return Err(ReplayError::Replayed);
        }
        if inner.live.len() >= self.capacity {
            let soonest = inner
                .by_expiry
                .peek()
                .map_or(now, |Reverse((until, _))| *until);
            let wait = u64::try_from(soonest.saturating_sub(now)).unwrap_or(0) + 1;
            let newly_full = !std::mem::replace(&mut inner.full, true);
            return Err(ReplayError::Full {
                retry_after: Duration::from_secs(wait),
                newly_full,
            });
        }
        inner.full = false;
        inner.live.insert(entry.key, entry.until);
        inner.by_expiry.push(Reverse((entry.until, entry.key)));
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn thumbprint(seed: u8) -> Thumbprint {
        super::super::thumbprint::certificate_thumbprint(&[seed])
    }

    fn entry(seed: u8, jti: &str, until: i64) -> ReplayEntry {
        ReplayEntry {
            key: ReplayKey::new(&thumbprint(seed), jti),
            until,
        }
    }

    #[test]
    fn a_jti_is_accepted_once_per_key_while_live() {
        let cache = ReplayCache::Local(LocalReplayCache::new(10));
        assert_eq!(cache.first_use(&entry(1, "j", 160), 100), Ok(()));
        assert_eq!(
            cache.first_use(&entry(1, "j", 160), 100),
            Err(ReplayError::Replayed)
        );
        // Still refused at the last second of its window, with another expiry claimed.
        assert_eq!(
            cache.first_use(&entry(1, "j", 999), 160),
            Err(ReplayError::Replayed)
        );
        // The same jti under another key is another proof.
        assert_eq!(cache.first_use(&entry(2, "j", 160), 100), Ok(()));
        // After the window the entry is gone (the iat check refuses such a proof anyway).
        assert_eq!(cache.first_use(&entry(1, "j", 221), 161), Ok(()));
    }

    #[test]
    fn keys_separate_thumbprint_and_jti() {
        assert_ne!(
            ReplayKey::new(&thumbprint(1), "a"),
            ReplayKey::new(&thumbprint(1), "b")
        );
        assert_ne!(
            ReplayKey::new(&thumbprint(1), "a"),
            ReplayKey::new(&thumbprint(2), "a")
        );
        assert_eq!(
            ReplayKey::new(&thumbprint(1), "a"),
            ReplayKey::new(&thumbprint(1), "a")
        );
    }

    #[test]
    fn a_full_cache_refuses_and_never_forgets_a_live_entry() {
        let local = LocalReplayCache::new(2);
        assert_eq!(local.first_use(&entry(1, "a", 150), 100), Ok(()));
        assert_eq!(local.first_use(&entry(1, "b", 160), 100), Ok(()));
        let full = local.first_use(&entry(1, "c", 170), 110);
        assert_eq!(
            full,
            Err(ReplayError::Full {
                retry_after: Duration::from_secs(41),
                newly_full: true
            })
        );
        // Only the first refusal of the episode asks for a warning.
        assert!(matches!(
            local.first_use(&entry(1, "d", 170), 110),
            Err(ReplayError::Full {
                newly_full: false,
                ..
            })
        ));
        // A replay is still a replay, not a capacity problem.
        assert_eq!(
            local.first_use(&entry(1, "a", 150), 120),
            Err(ReplayError::Replayed)
        );
        // Once the first entry expires there is room again, and the episode is over.
        assert_eq!(local.first_use(&entry(1, "c", 170), 151), Ok(()));
        assert_eq!(local.len(), 2);
        assert_eq!(
            local.first_use(&entry(1, "b", 160), 152),
            Err(ReplayError::Replayed)
        );
        assert!(matches!(
            local.first_use(&entry(1, "e", 170), 152),
            Err(ReplayError::Full {
                newly_full: true,
                ..
            })
        ));
    }

    #[test]
    fn expired_entries_are_purged_in_bulk() {
        let local = LocalReplayCache::new(1000);
        for i in 0..500u16 {
            let jti = i.to_string();
            assert_eq!(
                local.first_use(&entry(1, &jti, 100 + i64::from(i % 10)), 90),
                Ok(())
            );
        }
        assert_eq!(local.len(), 500);
        assert_eq!(local.first_use(&entry(1, "late", 300), 200), Ok(()));
        assert_eq!(local.len(), 1);
    }

    #[tokio::test]
    async fn a_shared_cache_refuses_what_another_instance_accepted() {
        let store: Arc<dyn SharedStore> = Arc::new(crate::store::Memory::new());
        let ns = Namespace::new("https://api.example", ["dpop"]);
        let shared = || ReplayCache::Shared {
            local: LocalReplayCache::new(10),
            store: Arc::clone(&store),
            ns: ns.clone(),
        };
        let (one, two) = (shared(), shared());
        let now = crate::engine::now();
        let proof = entry(1, "j", now + 60);
        assert_eq!(one.first_use(&proof, now), Ok(()));
        assert_eq!(one.first_use_shared(&proof, now).await, Ok(()));
        // The other instance has not seen it locally, but the store has.
        assert_eq!(two.first_use(&proof, now), Ok(()));
        assert_eq!(
            two.first_use_shared(&proof, now).await,
            Err(ReplayError::Replayed)
        );
        assert!(one.is_shared() && !ReplayCache::Local(LocalReplayCache::new(1)).is_shared());
        // A local cache has nothing more to ask.
        let local = ReplayCache::Local(LocalReplayCache::new(1));
        assert_eq!(local.first_use_shared(&proof, now).await, Ok(()));
    }

    #[test]
    fn ttl_for_a_shared_store() {
        assert_eq!(entry(1, "a", 160).ttl(100), Duration::from_secs(60));
        assert_eq!(entry(1, "a", 100).ttl(100), Duration::from_secs(1));
        assert_eq!(entry(1, "a", 10).ttl(100), Duration::from_secs(1));
    }
}
