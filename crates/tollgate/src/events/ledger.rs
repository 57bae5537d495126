//! Which SETs were already applied: de-duplication by issuer and `jti` (RFC 8417 §2.2: `jti`
//! is unique within an event feed).
//!
//! RFC 8935 §2 lets a transmitter deliver one SET several times and wants the same answer
//! each time, so a repeat is answered 202 and not applied again. The rules a SET makes are
//! idempotent (a repeat merges into the same rule), so a repeat the ledger has forgotten does
//! no harm: it is applied again. That is why the ledger may be bounded and may forget:
//!
//! - an entry lives until the SET can no longer revoke anything (its `iat` plus the longest
//!   token lifetime and the leeway: after that, every token its cut-off covers has expired);
//! - at the bound the oldest entry goes first (counted).
//!
//! The ledger is a trait so that the engine can share it through the store
//! (`SharedStore::first_use`) across instances; [`LocalLedger`] is the in-process one.

use std::collections::{HashMap, VecDeque};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, PoisonError};

use aws_lc_rs::digest;
use futures_util::future::BoxFuture;

use crate::store::Digest;

/// Where applied SETs are remembered.
pub(crate) trait SetLedger: Send + Sync + 'static {
    /// Whether the SET `key` was applied and is still remembered at `now`.
    fn seen(&self, key: &Digest, now: i64) -> BoxFuture<'_, bool>;
    /// Remembers that the SET `key` was applied, until `until`.
    fn record(&self, key: &Digest, until: i64, now: i64) -> BoxFuture<'_, ()>;
    /// SETs forgotten before their time because the ledger was full.
    fn evicted(&self) -> u64 {
        0
    }
}

/// The key of a SET: a digest of its issuer and `jti`, length-prefixed (a `jti` is unique per
/// issuer only).
pub(crate) fn key(issuer: &str, jti: &str) -> Digest {
    let mut context = digest::Context::new(&digest::SHA256);
    context.update(b"tollgate-set-v1");
    for part in [issuer, jti] {
        context.update(&(part.len() as u64).to_be_bytes());
        context.update(part.as_bytes());
    }
    let hash = context.finish();
    let mut out = [0u8; 32];
    out.copy_from_slice(hash.as_ref());
    Digest(out)
}

/// The default number of SETs the local ledger remembers.
pub(crate) const DEFAULT_LEDGER_CAPACITY: usize = 10_000;

/// An in-process ledger: a map, and the order entries came in.
pub(crate) struct LocalLedger {
    inner: Mutex<Inner>,
    capacity: usize,
    evicted: AtomicU64,
}

#[derive(Default)]
struct Inner {
    until: HashMap<Digest, i64>,
    order: VecDeque<Digest>,
}

impl LocalLedger {
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            inner: Mutex::default(),
            capacity: capacity.max(1),
            evicted: AtomicU64::new(0),
        }
    }

    pub(crate) fn seen_now(&self, key: &Digest, now: i64) -> bool {
        self.lock().until.get(key).is_some_and(|until| now < *until)
    }

    pub(crate) fn record_now(&self, key: &Digest, until: i64, now: i64) {
        let mut inner = self.lock();
        let Inner { until: map, order } = &mut *inner;
        // Entries leave in the order they came: drop the expired ones at the front.
        while let Some(front) = order.front() {
            if map.get(front).is_some_and(|until| now < *until) {
                break;
            }
            map.remove(front);
            order.pop_front();
        }
        if let Some(existing) = map.get_mut(key) {
            *existing = (*existing).max(until);
            return;
        }
        while map.len() >= self.capacity {
            let Some(oldest) = order.pop_front() else {
                break;
            };
            if map.remove(&oldest).is_some_and(|until| now < until) {
                self.evicted.fetch_add(1, Ordering::Relaxed);
            }
        }
        map.insert(*key, until);
        order.push_back(*key);
    }

    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.lock().until.len()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // Every operation leaves the map and the queue consistent before it can panic.
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl SetLedger for LocalLedger {
    fn seen(&self, key: &Digest, now: i64) -> BoxFuture<'_, bool> {
        let seen = self.seen_now(key, now);
        Box::pin(async move { seen })
    }

    fn record(&self, key: &Digest, until: i64, now: i64) -> BoxFuture<'_, ()> {
        self.record_now(key, until, now);
        Box::pin(async {})
    }

    fn evicted(&self) -> u64 {
        self.evicted.load(Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_is_per_issuer_and_jti() {
        assert_eq!(key("https://a", "1"), key("https://a", "1"));
        assert_ne!(key("https://a", "1"), key("https://b", "1"));
        assert_ne!(key("https://a", "1"), key("https://a", "2"));
        assert_ne!(key("ab", "c"), key("a", "bc"), "length-prefixed");
    }

    #[test]
    fn remembers_until_its_time() {
        let ledger = LocalLedger::new(10);
        let k = key("i", "1");
        assert!(!ledger.seen_now(&k, 100));
        ledger.record_now(&k, 200, 100);
        assert!(ledger.seen_now(&k, 199));
        assert!(!ledger.seen_now(&k, 200));
        // A later record keeps the later time.
        ledger.record_now(&k, 150, 100);
        assert!(ledger.seen_now(&k, 199));
    }

    #[test]
    fn at_the_bound_the_oldest_goes_first_and_is_counted() {
        let ledger = LocalLedger::new(2);
        ledger.record_now(&key("i", "1"), 1_000, 100);
        ledger.record_now(&key("i", "2"), 1_000, 100);
        ledger.record_now(&key("i", "3"), 1_000, 100);
        assert!(!ledger.seen_now(&key("i", "1"), 100));
        assert!(ledger.seen_now(&key("i", "2"), 100) && ledger.seen_now(&key("i", "3"), 100));
        assert_eq!((ledger.len(), ledger.evicted()), (2, 1));
        // Expired entries leave without counting as evicted.
        ledger.record_now(&key("i", "4"), 2_000, 1_000);
        assert_eq!((ledger.len(), ledger.evicted()), (1, 1));
    }
}
