//! The engine's side of a shared store: one background task per namespace that applies what
//! the store publishes, and one that publishes what this instance learns, from a bounded
//! queue.
//!
//! - **Subscribe, then load.** Each namespace's task subscribes before it loads, and loads
//!   again after every [`Notice::Reconnected`]: a fact published in between arrives on the
//!   stream, in the load, or in both (applying twice is harmless), never in neither
//!   (`SharedStore::load`).
//! - **Nothing waits for the store on a request.** Facts are applied to the local memories by
//!   these tasks; what this instance learns goes into the queue and the request goes on.
//! - **Outages.** A failed publish or load starts an outage: logged at WARN once, counted, and
//!   the publisher keeps the fact at the head of its queue and tries again with a backoff
//!   (100 ms doubling to 5 s). The first success ends the outage (INFO).
//! - **The bound.** The queue holds [`QUEUE_CAPACITY`] facts. At the bound the *oldest* fact
//!   is dropped (counted): it is the one most likely to have reached the store already, and
//!   the local memories keep it whatever happens to the queue.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::time::Duration;

use futures_util::StreamExt as _;
use tokio::sync::Notify;

use super::Revocations;
use crate::log::{debug, info, warn};
use crate::store::{Fact, Namespace, Notice, SharedStore};

/// Facts the publish queue holds while the store cannot take them.
pub(crate) const QUEUE_CAPACITY: usize = 10_000;

/// The first pause after a failure; it doubles up to [`MAX_BACKOFF`].
const FIRST_BACKOFF: Duration = Duration::from_millis(100);
const MAX_BACKOFF: Duration = Duration::from_secs(5);

/// How often an idle task checks that its engine still exists.
const IDLE_CHECK: Duration = Duration::from_secs(30);

/// After an outage, how long after the first good load a namespace is loaded once more.
/// Every instance flushes its queue the moment the store is back, while this one may still
/// be resubscribing; the second load catches what was published in that moment, whether or
/// not its notice arrived.
const SETTLE: Duration = Duration::from_secs(2);

/// A shared store and the namespaces of the engine's trusted issuers (in their order).
pub(crate) struct StoreLink {
    pub(crate) store: Arc<dyn SharedStore>,
    pub(crate) namespaces: Vec<Namespace>,
    /// Whether introspection answers are shared through the store.
    pub(crate) share_answers: bool,
    queue: Mutex<VecDeque<(usize, Fact)>>,
    wake: Arc<Notify>,
    started: AtomicBool,
    down: AtomicBool,
    pub(crate) counters: Counters,
}

/// What [`Diagnostics`](crate::Diagnostics) reports of the link.
#[derive(Default)]
pub(crate) struct Counters {
    pub(crate) outages: AtomicU64,
    pub(crate) published: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) applied: AtomicU64,
    pub(crate) unparsable: AtomicU64,
    pub(crate) answers_shared: AtomicU64,
}

impl StoreLink {
    pub(crate) fn new(
        store: Arc<dyn SharedStore>,
        namespaces: Vec<Namespace>,
        share_answers: bool,
    ) -> Self {
        Self {
            store,
            namespaces,
            share_answers,
            queue: Mutex::new(VecDeque::new()),
            wake: Arc::new(Notify::new()),
            started: AtomicBool::new(false),
            down: AtomicBool::new(false),
            counters: Counters::default(),
        }
    }

    /// Facts waiting to be published.
    pub(crate) fn queued(&self) -> usize {
        lock(&self.queue).len()
    }

    /// Whether the last exchange with the store failed.
    pub(crate) fn is_down(&self) -> bool {
        self.down.load(Ordering::Relaxed)
    }

    /// Queues `fact` for the namespace of the issuer at `issuer`; never waits. At the bound,
    /// the oldest queued fact is dropped (module docs).
    pub(crate) fn publish(&self, issuer: usize, fact: Fact) {
        if issuer >= self.namespaces.len() {
            return;
        }
        {
            let mut queue = lock(&self.queue);
            if queue.len() >= QUEUE_CAPACITY {
                queue.pop_front();
                self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            }
            queue.push_back((issuer, fact));
        }
        self.wake.notify_one();
    }

    /// Starts the tasks once, when a tokio runtime is there to run them; `false` while none
    /// is (the engine tries again on its next request).
    pub(crate) fn ensure_started(self: &Arc<Self>, revocations: &Arc<Revocations>) -> bool {
        if self.started.load(Ordering::Acquire) {
            return true;
        }
        let Ok(runtime) = tokio::runtime::Handle::try_current() else {
            return false;
        };
        if self.started.swap(true, Ordering::AcqRel) {
            return true;
        }
        for index in 0..self.namespaces.len() {
            runtime.spawn(subscriber(
                Arc::downgrade(self),
                Arc::downgrade(revocations),
                index,
            ));
        }
        runtime.spawn(publisher(Arc::downgrade(self)));
        true
    }

    /// Whether the tasks run.
    pub(crate) fn is_started(&self) -> bool {
        self.started.load(Ordering::Relaxed)
    }

    /// A failed exchange: the first one of an outage is logged at WARN and counted.
    pub(crate) fn failed(&self, what: &str, error: &dyn std::fmt::Display) {
        if !self.down.swap(true, Ordering::Relaxed) {
            self.counters.outages.fetch_add(1, Ordering::Relaxed);
            warn!(
                "shared store {} failed ({what}: {error}): every instance keeps serving from \
                 its own memory; revocations learnt meanwhile are queued (at most \
                 {QUEUE_CAPACITY}) and published once it is back",
                self.store.describe()
            );
        } else {
            debug!("shared store still failing ({what}: {error})");
        }
    }

    /// A successful exchange ends an outage.
    pub(crate) fn succeeded(&self) {
        if self.down.swap(false, Ordering::Relaxed) {
            info!(
                "shared store {} is back; {} revocations queued",
                self.store.describe(),
                self.queued()
            );
        }
    }

    fn pop(&self) -> Option<(usize, Fact)> {
        lock(&self.queue).pop_front()
    }

    /// Puts back a fact whose publish failed, at the head, unless the queue filled meanwhile
    /// (then it is the oldest, and the one dropped).
    fn put_back(&self, item: (usize, Fact)) {
        let mut queue = lock(&self.queue);
        if queue.len() >= QUEUE_CAPACITY {
            self.counters.dropped.fetch_add(1, Ordering::Relaxed);
            return;
        }
        queue.push_front(item);
    }
}

/// Publishes the queue, in order, one fact at a time; after a failure it waits and tries the
/// same fact again.
async fn publisher(link: Weak<StoreLink>) {
    let mut backoff = FIRST_BACKOFF;
    loop {
        let Some(strong) = link.upgrade() else { return };
        let Some((issuer, fact)) = strong.pop() else {
            // A notice sent between here and the wait is kept by `Notify` as a permit.
            let wake = Arc::clone(&strong.wake);
            drop(strong);
            let _ = tokio::time::timeout(IDLE_CHECK, wake.notified()).await;
            continue;
        };
        let result = {
            let ns = &strong.namespaces[issuer];
            strong.store.publish(ns, &fact).await
        };
        match result {
            Ok(()) => {
                strong.counters.published.fetch_add(1, Ordering::Relaxed);
                strong.succeeded();
                backoff = FIRST_BACKOFF;
            }
            Err(error) => {
                strong.failed("publish", &error);
                strong.put_back((issuer, fact));
                drop(strong);
                tokio::time::sleep(backoff).await;
                backoff = (backoff * 2).min(MAX_BACKOFF);
            }
        }
    }
}

/// Subscribes to one namespace, loads it, applies what arrives; loads again after each
/// reconnection.
async fn subscriber(link: Weak<StoreLink>, revocations: Weak<Revocations>, index: usize) {
    let Some(strong) = link.upgrade() else { return };
    let ns = strong.namespaces[index].clone();
    // Subscribe first, then load (`SharedStore::load`).
    let mut notices = strong.store.subscribe(&ns);
    drop(strong);
    let mut backoff = FIRST_BACKOFF;
    // Load at once, and again after a reconnection, until a load succeeds.
    let mut must_load = true;
    // Whether the connection was lost (or a load failed) since the last load: a store that
    // restarted may have lost what it held, so this instance's rules are published again,
    // and the namespace is loaded once more a moment later (`SETTLE`).
    let mut was_lost = false;
    let mut settle: Option<tokio::time::Instant> = None;
    loop {
        if must_load {
            let (Some(link), Some(revocations)) = (link.upgrade(), revocations.upgrade()) else {
                return;
            };
            match link.store.load(&ns).await {
                Ok(facts) => {
                    link.succeeded();
                    revocations.apply_from_store(index, &facts);
                    if std::mem::take(&mut was_lost) {
                        revocations.republish_rules(index);
                        settle = Some(tokio::time::Instant::now() + SETTLE);
                    }
                    must_load = false;
                    backoff = FIRST_BACKOFF;
                }
                Err(error) => {
                    link.failed("load", &error);
                    was_lost = true;
                    drop((link, revocations));
                    tokio::time::sleep(backoff).await;
                    backoff = (backoff * 2).min(MAX_BACKOFF);
                    continue;
                }
            }
        }
        let idle = tokio::time::Instant::now() + IDLE_CHECK;
        let wake = settle.map_or(idle, |at| at.min(idle));
        let notice = match tokio::time::timeout_at(wake, notices.next()).await {
            Ok(Some(notice)) => notice,
            // The stream lives as long as the store: it ended with it.
            Ok(None) => return,
            Err(_) => {
                if link.strong_count() == 0 || revocations.strong_count() == 0 {
                    return;
                }
                if settle.is_some_and(|at| at <= tokio::time::Instant::now()) {
                    settle = None;
                    must_load = true;
                }
                continue;
            }
        };
        let (Some(link), Some(revocations)) = (link.upgrade(), revocations.upgrade()) else {
            return;
        };
        match notice {
            Notice::Fact(fact) => revocations.apply_from_store(index, std::slice::from_ref(&fact)),
            Notice::Reconnected => {
                link.succeeded();
                must_load = true;
            }
            Notice::Lost => {
                was_lost = true;
                link.failed("subscription", &"connection lost");
            }
        }
    }
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::{Digest, Memory};

    fn fact(n: u32) -> Fact {
        Fact::Revoked {
            token: Digest::of(&n.to_be_bytes()),
            until: i64::MAX / 2,
        }
    }

    #[test]
    fn at_the_bound_the_oldest_fact_is_dropped_and_counted() {
        let link = StoreLink::new(
            Arc::new(Memory::new()),
            vec![Namespace::new("https://as.example", ["api"])],
            true,
        );
        for n in 0..=u32::try_from(QUEUE_CAPACITY).unwrap() {
            link.publish(0, fact(n));
        }
        assert_eq!(link.queued(), QUEUE_CAPACITY);
        assert_eq!(link.counters.dropped.load(Ordering::Relaxed), 1);
        assert_eq!(link.pop(), Some((0, fact(1))), "the oldest, 0, went first");
        // A fact put back after a failed publish goes to the head, unless the queue is full.
        link.put_back((0, fact(0)));
        assert_eq!(link.pop(), Some((0, fact(0))));
        link.publish(0, fact(99_999));
        link.put_back((0, fact(0)));
        assert_eq!(link.counters.dropped.load(Ordering::Relaxed), 2);
        // A fact for an issuer the link has no namespace for is not queued.
        link.publish(7, fact(1));
        assert_eq!(link.queued(), QUEUE_CAPACITY);
    }

    #[test]
    fn an_outage_is_counted_once_until_a_success() {
        let link = StoreLink::new(Arc::new(Memory::new()), Vec::new(), false);
        link.failed("publish", &"down");
        link.failed("load", &"down");
        assert!(link.is_down());
        assert_eq!(link.counters.outages.load(Ordering::Relaxed), 1);
        link.succeeded();
        assert!(!link.is_down());
        link.failed("publish", &"down again");
        assert_eq!(link.counters.outages.load(Ordering::Relaxed), 2);
    }
}
