//! [`RuleMemory`]: the rules, an immutable snapshot readers load without locking.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicI64, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use arc_swap::ArcSwap;

use super::{Applied, RuleError, RuleStamp, TokenIds, validate};
use crate::log::warn;
use crate::store::{RevocationRule, RuleTarget};

/// Seconds between two sweeps started by a reader (a writer at the bound sweeps at once).
pub(super) const SWEEP_INTERVAL: i64 = 10;

/// The revocation rules of every issuer, bounded, checked without locking.
pub(crate) struct RuleMemory {
    current: ArcSwap<Snapshot>,
    /// Bumped after every snapshot that covers more than the one before (module docs).
    epoch: AtomicU64,
    /// Serialises writers (adds and sweeps); readers never take it.
    writer: Mutex<()>,
    capacity: usize,
    /// When a reader may start the next sweep (Unix seconds).
    next_sweep: AtomicI64,
    /// The bound was reached and the memory has not yet fallen back under 90 % of it.
    full: AtomicBool,
    /// Rules refused at the bound.
    refused: AtomicU64,
    /// Times the bound was reached (episodes, each logged once).
    episodes: AtomicU64,
}

/// What the memory holds and has refused, for `Diagnostics`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct RuleStats {
    /// Targets with a rule (expired ones until the next sweep included).
    pub(crate) rules: usize,
    /// The bound on `rules`.
    pub(crate) capacity: usize,
    /// Rules refused because the memory was full of live rules.
    pub(crate) refused: u64,
    /// Times the memory reached its bound.
    pub(crate) full_episodes: u64,
    /// The current epoch.
    pub(crate) epoch: u64,
}

/// What [`RuleMemory::add_all`] did with each rule of a batch.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct ApplyReport {
    /// Rules for new targets.
    pub(crate) added: usize,
    /// Rules that widened a target's rule.
    pub(crate) widened: usize,
    /// Rules already covered.
    pub(crate) unchanged: usize,
    /// Rules whose `until` had passed.
    pub(crate) expired: usize,
    /// Rules refused, with why (at the bound, or invalid).
    pub(crate) refused: Vec<(RevocationRule, RuleError)>,
}

impl ApplyReport {
    fn count(&mut self, applied: Applied) {
        match applied {
            Applied::Added => self.added += 1,
            Applied::Widened => self.widened += 1,
            Applied::Unchanged => self.unchanged += 1,
            Applied::Expired => self.expired += 1,
        }
    }
}

/// One immutable state of the rules.
#[derive(Clone, Default)]
struct Snapshot {
    issuers: HashMap<Arc<str>, Arc<IssuerRules>>,
    /// Targets held, over all issuers.
    len: usize,
    /// The earliest `until` held (`None` when empty): no sweep is needed before it.
    next_expiry: Option<i64>,
}

/// One issuer's rules, by target kind.
#[derive(Clone, Default)]
struct IssuerRules {
    by_kind: [HashMap<Arc<str>, Entry>; KINDS],
}

const KINDS: usize = 4;

fn kind_of(target: &RuleTarget) -> (usize, &str) {
    match target {
        RuleTarget::Jti(value) => (0, value),
        RuleTarget::Subject(value) => (1, value),
        RuleTarget::Client(value) => (2, value),
        RuleTarget::Session(value) => (3, value),
    }
}

fn target_of(kind: usize, value: &str) -> RuleTarget {
    let value = value.to_owned();
    match kind {
        0 => RuleTarget::Jti(value),
        1 => RuleTarget::Subject(value),
        2 => RuleTarget::Client(value),
        _ => RuleTarget::Session(value),
    }
}

/// The merged rules of one target: "every token" and "issued before T" kept apart, so that a
/// merge covers exactly what its rules covered (see `merge`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct Entry {
    /// Every matching token is covered until this time.
    always: Option<i64>,
    /// Tokens issued before `.0` are covered until `.1`.
    before: Option<(i64, i64)>,
}

impl Entry {
    fn covers(&self, issued_at: Option<i64>, now: i64) -> bool {
        if self.always.is_some_and(|until| now < until) {
            return true;
        }
        // A token without `iat` cannot show it was issued after T (module docs).
        self.before
            .is_some_and(|(before, until)| now < until && issued_at.is_none_or(|iat| iat < before))
    }

    /// The entry with `rule` merged in. Two "before" rules become one with the later T and
    /// the later `until`: exact when `until` is T plus one lifetime for both, and otherwise
    /// more than the two covered, never less.
    fn merge(self, rule: &RevocationRule) -> Self {
        let mut next = self;
        match rule.issued_before {
            None => next.always = Some(self.always.map_or(rule.until, |u| u.max(rule.until))),
            Some(before) => {
                next.before = Some(match self.before {
                    None => (before, rule.until),
                    Some((b, u)) => (b.max(before), u.max(rule.until)),
                });
            }
        }
        next
    }

    /// The entry without what has expired at `now`; `None` when nothing is left.
    fn live(self, now: i64) -> Option<Self> {
        let next = Self {
            always: self.always.filter(|until| now < *until),
            before: self.before.filter(|(_, until)| now < *until),
        };
        (next.always.is_some() || next.before.is_some()).then_some(next)
    }

    /// The earliest `until` of the entry.
    fn first_expiry(&self) -> Option<i64> {
        match (self.always, self.before.map(|(_, until)| until)) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }
}

impl RuleMemory {
    /// An empty memory holding at most `capacity` targets (at least one).
    pub(crate) fn new(capacity: usize) -> Self {
        Self {
            current: ArcSwap::from_pointee(Snapshot::default()),
            epoch: AtomicU64::new(1),
            writer: Mutex::new(()),
            capacity: capacity.max(1),
            next_sweep: AtomicI64::new(0),
            full: AtomicBool::new(false),
            refused: AtomicU64::new(0),
            episodes: AtomicU64::new(0),
        }
    }

    /// The epoch: bumped by every change that covers more tokens.
    pub(crate) fn epoch(&self) -> u64 {
        self.epoch.load(Ordering::Acquire)
    }

    /// Whether `token` is covered by a live rule at `now`, for a token whose verification is
    /// cached with `stamp`: two atomic loads while no rule has changed since the stamp was
    /// last marked, and a lookup otherwise.
    pub(crate) fn check(&self, stamp: &RuleStamp, token: &TokenIds<'_>, now: i64) -> bool {
        // The epoch is read before the snapshot: a writer swaps the snapshot in, then bumps
        // (Release). A reader that sees the new epoch (Acquire) sees the new snapshot; one
        // that sees the old epoch may see either, and marks the old epoch, which the next
        // check finds outdated. A stamp can therefore never vouch for a snapshot it did not
        // see.
        let epoch = self.epoch.load(Ordering::Acquire);
        if stamp.is(epoch) {
            return false;
        }
        if self.covers(token, now) {
            return true;
        }
        stamp.mark(epoch);
        false
    }

    /// Whether `token` is covered by a live rule at `now` (a lookup, without a stamp).
    pub(crate) fn covers(&self, token: &TokenIds<'_>, now: i64) -> bool {
        let snapshot = self.current.load();
        if snapshot.len == 0 {
            return false;
        }
        self.maybe_sweep(&snapshot, now);
        let Some(rules) = snapshot.issuers.get(token.issuer) else {
            return false;
        };
        let values = [token.jti, token.subject, token.client_id, token.session];
        values.iter().zip(&rules.by_kind).any(|(value, map)| {
            value
                .and_then(|value| map.get(value))
                .is_some_and(|entry| entry.covers(token.issued_at, now))
        })
    }

    /// Holds `rule` (merged with its target's rule, if any). At the bound, expired rules are
    /// swept first; then a new target is refused (module docs).
    pub(crate) fn add(&self, rule: &RevocationRule, now: i64) -> Result<Applied, RuleError> {
        let mut report = self.add_all(std::slice::from_ref(rule), now);
        if let Some((_, error)) = report.refused.pop() {
            return Err(error);
        }
        Ok(if report.added > 0 {
            Applied::Added
        } else if report.widened > 0 {
            Applied::Widened
        } else if report.expired > 0 {
            Applied::Expired
        } else {
            Applied::Unchanged
        })
    }

    /// Holds every rule of `rules` it can, in one new snapshot (a load from the shared store
    /// applies thousands at once), and says what it did with each.
    pub(crate) fn add_all(&self, rules: &[RevocationRule], now: i64) -> ApplyReport {
        let mut report = ApplyReport::default();
        let guard = self.lock_writer();
        let mut next = Snapshot::clone(&self.current.load());
        let mut swept = false;
        let mut widened_any = false;
        for rule in rules {
            if let Err(error) = validate(rule) {
                report.refused.push((rule.clone(), error));
                continue;
            }
            if rule.until <= now {
                report.count(Applied::Expired);
                continue;
            }
            let (kind, value) = kind_of(&rule.target);
            let existing = next
                .issuers
                .get(rule.issuer.as_str())
                .and_then(|rules| rules.by_kind[kind].get(value).copied());
            if existing.is_none() && next.len >= self.capacity && !swept {
                // Expired rules make room before a live one is refused.
                next = sweep(next, now);
                swept = true;
            }
            if existing.is_none() && next.len >= self.capacity {
                self.at_bound();
                report
                    .refused
                    .push((rule.clone(), RuleError::full(self.capacity)));
                continue;
            }
            // What has expired in the target's entry covers nothing: it must not widen the
            // merge either.
            let before = existing
                .and_then(|entry| entry.live(now))
                .unwrap_or_default();
            let merged = before.merge(rule);
            if existing.is_some() && merged == before {
                report.count(Applied::Unchanged);
                continue;
            }
            let issuer_rules = next
                .issuers
                .entry(Arc::from(rule.issuer.as_str()))
                .or_default();
            Arc::make_mut(issuer_rules).by_kind[kind].insert(Arc::from(value), merged);
            if existing.is_none() {
                next.len += 1;
                report.count(Applied::Added);
            } else {
                report.count(Applied::Widened);
            }
            widened_any = true;
            next.next_expiry = min_expiry(next.next_expiry, merged.first_expiry());
        }
        if widened_any || swept {
            self.current.store(Arc::new(next));
            if widened_any {
                // After the store: see `check`.
                self.epoch.fetch_add(1, Ordering::Release);
            }
        }
        self.end_episode_if_room();
        drop(guard);
        report
    }

    /// Removes every rule that has expired at `now`. Readers go on with the snapshot they
    /// hold; the epoch does not move (removing rules covers no more tokens). The engine
    /// sweeps on its own as rules are read and added; tests call this.
    #[cfg_attr(not(test), allow(dead_code))]
    pub(crate) fn sweep(&self, now: i64) {
        let guard = self.lock_writer();
        self.sweep_locked(&guard, now);
    }

    /// Every live rule, one per target and kind ("every token" and "before T" apart), for
    /// publishing again: after a reconnect, to a store that lost them.
    pub(crate) fn rules(&self, now: i64) -> Vec<RevocationRule> {
        let snapshot = self.current.load();
        let mut out = Vec::with_capacity(snapshot.len);
        for (issuer, rules) in &snapshot.issuers {
            for (kind, map) in rules.by_kind.iter().enumerate() {
                for (value, entry) in map {
                    let Some(entry) = entry.live(now) else {
                        continue;
                    };
                    let rule = |issued_before, until| RevocationRule {
                        issuer: issuer.to_string(),
                        target: target_of(kind, value),
                        issued_before,
                        until,
                    };
                    if let Some(until) = entry.always {
                        out.push(rule(None, until));
                    }
                    if let Some((before, until)) = entry.before {
                        out.push(rule(Some(before), until));
                    }
                }
            }
        }
        out
    }

    /// Counts for `Diagnostics`.
    pub(crate) fn stats(&self) -> RuleStats {
        RuleStats {
            rules: self.current.load().len,
            capacity: self.capacity,
            refused: self.refused.load(Ordering::Relaxed),
            full_episodes: self.episodes.load(Ordering::Relaxed),
            epoch: self.epoch(),
        }
    }

    /// A reader that finds an expired rule due sweeps, at most once per interval, and only if
    /// no writer is busy: it never waits.
    fn maybe_sweep(&self, snapshot: &Snapshot, now: i64) {
        if snapshot.next_expiry.is_none_or(|expiry| now < expiry)
            || now < self.next_sweep.load(Ordering::Relaxed)
        {
            return;
        }
        if let Ok(guard) = self.writer.try_lock() {
            self.sweep_locked(&guard, now);
        }
    }

    fn sweep_locked(&self, _writer: &MutexGuard<'_, ()>, now: i64) {
        self.next_sweep
            .store(now.saturating_add(SWEEP_INTERVAL), Ordering::Relaxed);
        let current = self.current.load();
        if current.next_expiry.is_none_or(|expiry| now < expiry) {
            return;
        }
        self.current
            .store(Arc::new(sweep(Snapshot::clone(&current), now)));
        self.end_episode_if_room();
    }

    fn at_bound(&self) {
        self.refused.fetch_add(1, Ordering::Relaxed);
        if !self.full.swap(true, Ordering::Relaxed) {
            self.episodes.fetch_add(1, Ordering::Relaxed);
            warn!(
                "the revocation-rule memory is full ({} live rules): new rules are refused until \
                 old ones expire (pushed security events are answered 503 and delivered again); \
                 raise the rule capacity",
                self.capacity
            );
        }
    }

    /// The episode ends with room to spare, so a memory hovering at its bound warns once.
    fn end_episode_if_room(&self) {
        if self.current.load().len < self.capacity - self.capacity / 10 {
            self.full.store(false, Ordering::Relaxed);
        }
    }

    fn lock_writer(&self) -> MutexGuard<'_, ()> {
        // The guarded data is `()`: a panic elsewhere cannot leave it inconsistent (snapshots
        // are swapped whole).
        self.writer.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

/// `snapshot` without what has expired at `now`.
fn sweep(mut snapshot: Snapshot, now: i64) -> Snapshot {
    let mut len = 0;
    let mut next_expiry = None;
    snapshot.issuers.retain(|_, rules| {
        let rules = Arc::make_mut(rules);
        for map in &mut rules.by_kind {
            map.retain(|_, entry| match entry.live(now) {
                Some(live) => {
                    *entry = live;
                    next_expiry = min_expiry(next_expiry, live.first_expiry());
                    true
                }
                None => false,
            });
            if map.is_empty() {
                // A burst of rules long gone should not pin its memory.
                map.shrink_to_fit();
            }
            len += map.len();
        }
        rules.by_kind.iter().any(|map| !map.is_empty())
    });
    snapshot.len = len;
    snapshot.next_expiry = next_expiry;
    snapshot
}

fn min_expiry(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (Some(a), Some(b)) => Some(a.min(b)),
        (a, b) => a.or(b),
    }
}

impl std::fmt::Debug for RuleMemory {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The rules name subjects and sessions: counts only.
        f.debug_struct("RuleMemory")
            .field("stats", &self.stats())
            .finish()
    }
}
