//! A shared store in this process's memory: for several engines in one process, and for tests.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use futures_util::future::{self, BoxFuture};
use futures_util::stream::{self, BoxStream, StreamExt as _};
use tokio::sync::broadcast;

use super::{
    Digest, Fact, Namespace, Notice, SharedStore, StoreError, StoreErrorKind, StoredAnswer,
};
use crate::log::warn;

/// Default for [`MemoryBuilder::max_facts`].
const DEFAULT_MAX_FACTS: usize = 100_000;
/// Default for [`MemoryBuilder::max_answers`].
const DEFAULT_MAX_ANSWERS: usize = 100_000;
/// Default for [`MemoryBuilder::max_marks`].
const DEFAULT_MAX_MARKS: usize = 100_000;
/// Default for [`MemoryBuilder::channel_capacity`].
const DEFAULT_CHANNEL_CAPACITY: usize = 1024;

/// A [`SharedStore`] in this process's memory.
///
/// Engines in one process that share a `Memory` (it is cheap to clone: clones are one store)
/// see each other's revocations, answers and marks, as instances sharing Redis would. It is
/// also the store to test with: [`set_available`](Self::set_available) plays an outage.
///
/// Bounded, like everything in tollgate that outside input can fill:
///
/// - Facts ([`max_facts`](MemoryBuilder::max_facts)): at the bound, expired facts are swept
///   first; if all are live, the one that expires first is given up (the new one, if it
///   expires first itself), with a WARN once per episode: it has the shortest time left to be
///   misused, and the instances that applied it keep it in their own memory.
/// - Answers ([`max_answers`](MemoryBuilder::max_answers)): a cache; at the bound the answer
///   that expires first is dropped.
/// - One-time marks ([`max_marks`](MemoryBuilder::max_marks)): never given up early, since
///   that would let a value be used twice. At the bound, once expired marks are swept,
///   [`first_use`](SharedStore::first_use) fails with [`StoreErrorKind::Full`].
///
/// Sweeps and the search for the earliest entry walk the whole store: they run only at a
/// bound, but a store kept at its bound pays that on each write.
///
/// Each namespace has a broadcast channel of [`channel_capacity`](MemoryBuilder::channel_capacity)
/// notices; a subscriber that falls further behind gets [`Notice::Reconnected`] (reload)
/// instead of the notices it missed.
#[derive(Clone)]
pub struct Memory {
    inner: Arc<Inner>,
}

/// Configures a [`Memory`].
#[derive(Debug, Clone)]
#[must_use]
pub struct MemoryBuilder {
    max_facts: usize,
    max_answers: usize,
    max_marks: usize,
    channel_capacity: usize,
}

struct Inner {
    state: Mutex<State>,
    available: AtomicBool,
    max_facts: usize,
    max_answers: usize,
    max_marks: usize,
    channel_capacity: usize,
}

#[derive(Default)]
struct State {
    spaces: HashMap<Namespace, Space>,
    facts: usize,
    answers: usize,
    marks: usize,
    /// The fact bound was reached (and logged) and the store has not yet fallen back under
    /// 90 % of it: one WARN per episode.
    facts_full: bool,
}

struct Space {
    facts: HashMap<FactKey, Fact>,
    answers: HashMap<Digest, (StoredAnswer, Instant)>,
    marks: HashMap<Digest, Instant>,
    events: broadcast::Sender<Notice>,
}

/// One token's revocation and one rule are different facts even with equal digests.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
enum FactKey {
    Token(Digest),
    Rule(Digest),
}

impl FactKey {
    fn of(fact: &Fact) -> Self {
        match fact {
            Fact::Revoked { token, .. } => Self::Token(*token),
            Fact::Rule(rule) => Self::Rule(rule.id()),
        }
    }
}

impl Default for MemoryBuilder {
    fn default() -> Self {
        Self {
            max_facts: DEFAULT_MAX_FACTS,
            max_answers: DEFAULT_MAX_ANSWERS,
            max_marks: DEFAULT_MAX_MARKS,
            channel_capacity: DEFAULT_CHANNEL_CAPACITY,
        }
    }
}

impl MemoryBuilder {
    /// The most facts (revocations and rules) kept, all namespaces together. At least one.
    ///
    /// Defaults to 100,000.
    pub fn max_facts(mut self, max: usize) -> Self {
        self.max_facts = max.max(1);
        self
    }

    /// The most introspection answers kept, all namespaces together. At least one.
    ///
    /// Defaults to 100,000.
    pub fn max_answers(mut self, max: usize) -> Self {
        self.max_answers = max.max(1);
        self
    }

    /// The most one-time marks ([`first_use`](SharedStore::first_use)) kept, all namespaces
    /// together. At least one.
    ///
    /// Defaults to 100,000.
    pub fn max_marks(mut self, max: usize) -> Self {
        self.max_marks = max.max(1);
        self
    }

    /// How many notices a subscriber may fall behind before it is told to reload
    /// ([`Notice::Reconnected`]). At least one.
    ///
    /// Defaults to 1024.
    pub fn channel_capacity(mut self, capacity: usize) -> Self {
        self.channel_capacity = capacity.max(1);
        self
    }

    /// The store.
    pub fn build(self) -> Memory {
        Memory {
            inner: Arc::new(Inner {
                state: Mutex::default(),
                available: AtomicBool::new(true),
                max_facts: self.max_facts,
                max_answers: self.max_answers,
                max_marks: self.max_marks,
                channel_capacity: self.channel_capacity,
            }),
        }
    }
}

impl Default for Memory {
    fn default() -> Self {
        Self::new()
    }
}

impl std::fmt::Debug for Memory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.inner.lock();
        f.debug_struct("Memory")
            .field("namespaces", &state.spaces.len())
            .field("facts", &state.facts)
            .field("answers", &state.answers)
            .field("marks", &state.marks)
            .field("available", &self.is_available())
            .finish()
    }
}

impl Memory {
    /// A store with the default bounds.
    pub fn new() -> Self {
        Self::builder().build()
    }

    /// A store with other bounds.
    pub fn builder() -> MemoryBuilder {
        MemoryBuilder::default()
    }

    /// Plays an outage (`false`) and the return (`true`), as Redis going down and coming back
    /// would: while unavailable, every call fails with [`StoreErrorKind::Unavailable`] and
    /// nothing is recorded; subscribers get [`Notice::Lost`] when it starts and
    /// [`Notice::Reconnected`] when it ends. What was recorded before survives.
    ///
    /// Defaults to available.
    pub fn set_available(&self, available: bool) {
        let state = self.inner.lock();
        let was = self.inner.available.swap(available, Ordering::SeqCst);
        if was != available {
            let notice = if available {
                Notice::Reconnected
            } else {
                Notice::Lost
            };
            for space in state.spaces.values() {
                // No subscriber is not an error.
                let _ = space.events.send(notice.clone());
            }
        }
    }

    /// Whether the store answers (see [`set_available`](Self::set_available)).
    pub fn is_available(&self) -> bool {
        self.inner.available.load(Ordering::SeqCst)
    }

    /// Facts recorded, all namespaces together (expired ones until the next sweep included).
    pub fn fact_count(&self) -> usize {
        self.inner.lock().facts
    }

    fn check_available(&self, what: &str) -> Result<(), StoreError> {
        if self.is_available() {
            Ok(())
        } else {
            Err(StoreError::new(
                StoreErrorKind::Unavailable,
                format!(
                    "{what} in the in-memory store: the store is unavailable (set_available(false))"
                ),
            ))
        }
    }

    fn publish_now(&self, ns: &Namespace, fact: &Fact) -> Result<(), StoreError> {
        self.check_available("publish")?;
        let now = unix_now();
        let until = fact.until();
        if until <= now {
            return Ok(());
        }
        let key = FactKey::of(fact);
        let mut state = self.inner.lock();
        let state = &mut *state;
        let space = state.space(ns, self.inner.channel_capacity);
        match space.facts.get_mut(&key) {
            // Publishing again keeps the later end.
            Some(existing) => {
                if existing.until() < until {
                    *existing = fact.clone();
                }
            }
            None => {
                if state.facts >= self.inner.max_facts {
                    state.sweep_facts(now);
                }
                let mut keep = true;
                if state.facts >= self.inner.max_facts {
                    if !state.facts_full {
                        state.facts_full = true;
                        warn!(
                            "the in-memory shared store holds {} facts, its bound: the facts \
                             that expire first are given up (instances that applied them keep \
                             them in their own memory)",
                            self.inner.max_facts
                        );
                    }
                    match state.earliest_fact() {
                        Some((space_ns, earliest, earliest_until)) if earliest_until < until => {
                            if let Some(space) = state.spaces.get_mut(&space_ns) {
                                space.facts.remove(&earliest);
                                state.facts -= 1;
                            }
                        }
                        _ => keep = false,
                    }
                } else if state.facts < self.inner.max_facts / 10 * 9 {
                    state.facts_full = false;
                }
                if keep {
                    state
                        .space(ns, self.inner.channel_capacity)
                        .facts
                        .insert(key, fact.clone());
                    state.facts += 1;
                }
            }
        }
        // Published even when given up at the bound: the instances listening now apply it.
        let _ = state
            .space(ns, self.inner.channel_capacity)
            .events
            .send(Notice::Fact(fact.clone()));
        Ok(())
    }

    fn load_now(&self, ns: &Namespace) -> Result<Vec<Fact>, StoreError> {
        self.check_available("load")?;
        let now = unix_now();
        let mut state = self.inner.lock();
        let Some(space) = state.spaces.get_mut(ns) else {
            return Ok(Vec::new());
        };
        let before = space.facts.len();
        space.facts.retain(|_, fact| now < fact.until());
        let removed = before - space.facts.len();
        let facts = space.facts.values().cloned().collect();
        state.facts -= removed;
        Ok(facts)
    }

    fn get_answer_now(
        &self,
        ns: &Namespace,
        key: &Digest,
    ) -> Result<Option<StoredAnswer>, StoreError> {
        self.check_available("get_answer")?;
        let now = Instant::now();
        let mut state = self.inner.lock();
        let Some(space) = state.spaces.get_mut(ns) else {
            return Ok(None);
        };
        match space.answers.get(key) {
            Some((answer, expires)) if now < *expires => Ok(Some(answer.clone())),
            Some(_) => {
                space.answers.remove(key);
                state.answers -= 1;
                Ok(None)
            }
            None => Ok(None),
        }
    }

    fn put_answer_now(
        &self,
        ns: &Namespace,
        key: &Digest,
        answer: &StoredAnswer,
        ttl: Duration,
    ) -> Result<(), StoreError> {
        self.check_available("put_answer")?;
        if ttl.is_zero() {
            return Ok(());
        }
        let now = Instant::now();
        let expires = now + ttl;
        let mut state = self.inner.lock();
        let state = &mut *state;
        let exists = state
            .spaces
            .get(ns)
            .is_some_and(|space| space.answers.contains_key(key));
        if !exists {
            if state.answers >= self.inner.max_answers {
                state.sweep_answers(now);
            }
            if state.answers >= self.inner.max_answers {
                let earliest = state
                    .spaces
                    .iter()
                    .flat_map(|(ns, space)| {
                        space
                            .answers
                            .iter()
                            .map(move |(key, (_, expires))| (ns, key, *expires))
                    })
                    .min_by_key(|(_, _, expires)| *expires)
                    .map(|(ns, key, _)| (ns.clone(), *key));
                if let Some((earliest_ns, earliest_key)) = earliest
                    && let Some(space) = state.spaces.get_mut(&earliest_ns)
                    && space.answers.remove(&earliest_key).is_some()
                {
                    state.answers -= 1;
                }
            }
            state.answers += 1;
        }
        state
            .space(ns, self.inner.channel_capacity)
            .answers
            .insert(*key, (answer.clone(), expires));
        Ok(())
    }

    fn first_use_now(
        &self,
        ns: &Namespace,
        key: &Digest,
        ttl: Duration,
    ) -> Result<bool, StoreError> {
        self.check_available("first_use")?;
        let now = Instant::now();
        let mut state = self.inner.lock();
        let state = &mut *state;
        if let Some(space) = state.spaces.get_mut(ns)
            && let Some(expires) = space.marks.get(key)
        {
            if now < *expires {
                return Ok(false);
            }
            space.marks.remove(key);
            state.marks -= 1;
        }
        if state.marks >= self.inner.max_marks {
            state.sweep_marks(now);
        }
        if state.marks >= self.inner.max_marks {
            return Err(StoreError::new(
                StoreErrorKind::Full,
                format!(
                    "first_use in the in-memory store: {} live one-time marks, its bound",
                    self.inner.max_marks
                ),
            ));
        }
        state
            .space(ns, self.inner.channel_capacity)
            .marks
            .insert(*key, now + ttl);
        state.marks += 1;
        Ok(true)
    }

    fn subscribe_now(&self, ns: &Namespace) -> BoxStream<'static, Notice> {
        let mut state = self.inner.lock();
        let receiver = state
            .space(ns, self.inner.channel_capacity)
            .events
            .subscribe();
        // Subscribed during an outage: say so first; `Reconnected` follows when it ends.
        let first = (!self.is_available()).then_some(Notice::Lost);
        drop(state);
        let notices = stream::unfold(receiver, |mut receiver| async move {
            match receiver.recv().await {
                Ok(notice) => Some((notice, receiver)),
                // Notices were skipped: the subscriber must reload to miss nothing.
                Err(broadcast::error::RecvError::Lagged(_)) => {
                    Some((Notice::Reconnected, receiver))
                }
                Err(broadcast::error::RecvError::Closed) => None,
            }
        });
        stream::iter(first).chain(notices).boxed()
    }
}

impl SharedStore for Memory {
    fn publish(&self, ns: &Namespace, fact: &Fact) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(future::ready(self.publish_now(ns, fact)))
    }

    fn load(&self, ns: &Namespace) -> BoxFuture<'_, Result<Vec<Fact>, StoreError>> {
        Box::pin(future::ready(self.load_now(ns)))
    }

    fn subscribe(&self, ns: &Namespace) -> BoxStream<'static, Notice> {
        self.subscribe_now(ns)
    }

    fn get_answer(
        &self,
        ns: &Namespace,
        key: &Digest,
    ) -> BoxFuture<'_, Result<Option<StoredAnswer>, StoreError>> {
        Box::pin(future::ready(self.get_answer_now(ns, key)))
    }

    fn put_answer(
        &self,
        ns: &Namespace,
        key: &Digest,
        answer: &StoredAnswer,
        ttl: Duration,
    ) -> BoxFuture<'_, Result<(), StoreError>> {
        Box::pin(future::ready(self.put_answer_now(ns, key, answer, ttl)))
    }

    fn first_use(
        &self,
        ns: &Namespace,
        key: &Digest,
        ttl: Duration,
    ) -> BoxFuture<'_, Result<bool, StoreError>> {
        Box::pin(future::ready(self.first_use_now(ns, key, ttl)))
    }

    fn describe(&self) -> String {
        "in-memory shared store".to_owned()
    }
}

impl Inner {
    fn lock(&self) -> MutexGuard<'_, State> {
        // No code holding the lock panics; if some did, the maps are still consistent
        // enough to go on with (counts are only bounds).
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl State {
    fn space(&mut self, ns: &Namespace, capacity: usize) -> &mut Space {
        self.spaces.entry(ns.clone()).or_insert_with(|| Space {
            facts: HashMap::new(),
            answers: HashMap::new(),
            marks: HashMap::new(),
            events: broadcast::channel(capacity).0,
        })
    }

    fn sweep_facts(&mut self, now: i64) {
        let mut removed = 0;
        for space in self.spaces.values_mut() {
            let before = space.facts.len();
            space.facts.retain(|_, fact| now < fact.until());
            removed += before - space.facts.len();
        }
        self.facts -= removed;
    }

    fn sweep_answers(&mut self, now: Instant) {
        let mut removed = 0;
        for space in self.spaces.values_mut() {
            let before = space.answers.len();
            space.answers.retain(|_, (_, expires)| now < *expires);
            removed += before - space.answers.len();
        }
        self.answers -= removed;
    }

    fn sweep_marks(&mut self, now: Instant) {
        let mut removed = 0;
        for space in self.spaces.values_mut() {
            let before = space.marks.len();
            space.marks.retain(|_, expires| now < *expires);
            removed += before - space.marks.len();
        }
        self.marks -= removed;
    }

    /// The live fact that expires first, and where it is.
    fn earliest_fact(&self) -> Option<(Namespace, FactKey, i64)> {
        self.spaces
            .iter()
            .flat_map(|(ns, space)| {
                space
                    .facts
                    .iter()
                    .map(move |(key, fact)| (ns, *key, fact.until()))
            })
            .min_by_key(|(_, _, until)| *until)
            .map(|(ns, key, until)| (ns.clone(), key, until))
    }
}

/// Unix time in seconds; a clock before 1970 reads as 0.
fn unix_now() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |since| {
            i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
        })
}

#[cfg(test)]
mod tests;
