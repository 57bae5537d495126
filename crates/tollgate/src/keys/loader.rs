//! The state shared by the clones of a [`KeySet`](super::KeySet), and the background task that
//! discovers, fetches and refreshes the keys.
//!
//! Longer than 400 lines for a reason: the loader's states (first load, refresh, backoff,
//! staleness, the single-flight refetch) share one lock-free handoff, and splitting them would
//! spread its invariants over files.
//!
//! The task is the only writer: it fetches, then swaps a whole new snapshot in. Readers load
//! the current snapshot without locking. A request that meets an unknown `kid` does not fetch
//! itself; it wakes the task and waits for the attempt that starts after it asked, so every
//! fetch, periodic or on demand, goes through one place and no lock is ever held across I/O.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};
use std::time::{Duration, Instant};

use arc_swap::ArcSwapOption;
use aws_lc_rs::digest;
use futures_util::FutureExt as _;
use reqwest::Url;
use tokio::sync::{Notify, watch};

use super::discovery::{RefusalsLogged, discover};
use super::fetch::{Freshness, get_bounded};
use super::jwk::parse_jwks;
use super::snapshot::KeySnapshot;
use super::{AuthServerMetadata, KeySetConfig, KeySource};
use crate::log::{debug, error, warn};

/// First retry delay after a failure; doubled per failure up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(500);
const MAX_BACKOFF: Duration = Duration::from_secs(30);
/// After this many failed JWKS fetches in a row, discovery is run again in case the
/// `jwks_uri` moved.
const REDISCOVER_AFTER: u32 = 3;

/// Everything the clones of a `KeySet` share.
pub(super) struct Shared {
    pub(super) config: KeySetConfig,
    client: reqwest::Client,
    /// The last good key set. Kept even when older than `max_stale`: readers check the age.
    pub(super) current: ArcSwapOption<KeySnapshot>,
    pub(super) metadata: ArcSwapOption<AuthServerMetadata>,
    /// True while a loader task exists (reset by the task's guard when its runtime ends it).
    running: AtomicBool,
    /// Wakes the loader before its timer: an unknown-`kid` refetch, or the last `KeySet` gone.
    /// The loader holds a clone, so tests can tell from its count that the task has ended.
    pub(super) wake: Arc<Notify>,
    /// Number of the last attempt the loader started.
    attempts_started: AtomicU64,
    /// Number of the last attempt the loader finished (successful or not).
    attempts_done: watch::Sender<u64>,
    refetch: Mutex<RefetchState>,
    status: Mutex<LoaderStatus>,
    /// JWKS GETs sent, for diagnostics.
    pub(super) fetches: AtomicU64,
}

/// The single-flight state of unknown-`kid` refetches.
#[derive(Default)]
struct RefetchState {
    /// When the last unknown-`kid` refetch was asked for; the cooldown runs from here.
    last: Option<Instant>,
    /// The attempt number that answers it.
    target: u64,
}

/// What the loader last did, for diagnostics and `Retry-After`.
#[derive(Default, Clone)]
pub(super) struct LoaderStatus {
    pub(super) last_success: Option<Instant>,
    pub(super) last_error: Option<String>,
    pub(super) consecutive_failures: u32,
    pub(super) next_attempt: Option<Instant>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    // The critical sections only assign plain values; a poisoned lock holds consistent data.
    mutex.lock().unwrap_or_else(PoisonError::into_inner)
}

impl Shared {
    pub(super) fn new(
        config: KeySetConfig,
        client: reqwest::Client,
        initial: Option<KeySnapshot>,
    ) -> Self {
        Self {
            config,
            client,
            current: ArcSwapOption::new(initial.map(Arc::new)),
            metadata: ArcSwapOption::empty(),
            running: AtomicBool::new(false),
            wake: Arc::new(Notify::new()),
            attempts_started: AtomicU64::new(0),
            attempts_done: watch::Sender::new(0),
            refetch: Mutex::new(RefetchState::default()),
            status: Mutex::new(LoaderStatus::default()),
            fetches: AtomicU64::new(0),
        }
    }

    pub(super) fn status(&self) -> LoaderStatus {
        lock(&self.status).clone()
    }

    /// The current snapshot unless it is older than `max_stale` (never for a secret).
    pub(super) fn fresh(&self) -> Option<Arc<KeySnapshot>> {
        let snapshot = self.current.load_full()?;
        self.is_fresh(&snapshot).then_some(snapshot)
    }

    pub(super) fn is_fresh(&self, snapshot: &KeySnapshot) -> bool {
        matches!(self.config.source, KeySource::Secret(_))
            || snapshot.fetched_at.elapsed() <= self.config.max_stale
    }

    /// The same, for a caller that has read the wall clock already (`now`, Unix seconds): a
    /// snapshot younger than `max_stale` by more than a second on that reading is fresh
    /// without another clock read; only near the limit is the monotonic clock asked. A wall
    /// clock set back can make a snapshot look younger here, as it makes tokens look younger
    /// to every `exp` check.
    pub(super) fn is_fresh_at(&self, snapshot: &KeySnapshot, now: i64) -> bool {
        let limit = i64::try_from(self.config.max_stale.as_secs()).unwrap_or(i64::MAX);
        // Whole seconds on both readings: the true age is under `age + 1`.
        let age = now.saturating_sub(snapshot.fetched_at_unix);
        (age >= 0 && age.saturating_add(1) <= limit) || self.is_fresh(snapshot)
    }

    /// Spawns the loader unless one runs or no tokio runtime is at hand (then a later call
    /// tries again).
    pub(super) fn ensure_started(self: &Arc<Self>) {
        if matches!(self.config.source, KeySource::Secret(_))
            || self.running.load(Ordering::Acquire)
        {
            return;
        }
        let Ok(handle) = tokio::runtime::Handle::try_current() else {
            return;
        };
        if self
            .running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return;
        }
        let guard = RunningGuard(Arc::downgrade(self));
        handle.spawn(run(Arc::downgrade(self), Arc::clone(&self.wake), guard));
    }

    /// Asks for a fetch after an unknown `kid` and waits for it; see `KeySet::refetch_unknown_kid`.
    pub(super) async fn refetch_unknown_kid(self: &Arc<Self>) -> Option<Arc<KeySnapshot>> {
        if matches!(self.config.source, KeySource::Secret(_))
            || tokio::runtime::Handle::try_current().is_err()
        {
            return self.fresh();
        }
        self.ensure_started();
        let target = {
            let mut state = lock(&self.refetch);
            let now = Instant::now();
            let in_cooldown = state
                .last
                .is_some_and(|last| now.duration_since(last) < self.config.unknown_kid_cooldown);
            if in_cooldown {
                if *self.attempts_done.borrow() >= state.target {
                    // The refetch of this cooldown is over: answer with what it brought.
                    return self.fresh();
                }
                // It is still running: share it.
                state.target
            } else {
                state.last = Some(now);
                // The next attempt to start is the first one that can see a key published
                // after this request arrived.
                state.target = self.attempts_started.load(Ordering::Acquire) + 1;
                self.wake.notify_one();
                state.target
            }
        };
        // Waiting is bounded: an attempt already running may finish first (up to one fetch
        // timeout), then ours. Before the first key set there is nothing to wait through.
        let bound = if self.current.load().is_some() {
            self.config.fetch_timeout.saturating_mul(2)
        } else {
            self.config.fetch_timeout
        };
        let mut done = self.attempts_done.subscribe();
        let _ = tokio::time::timeout(bound, done.wait_for(|&finished| finished >= target)).await;
        self.fresh()
    }

    /// Waits until a fresh key set with at least one usable key is there, or `timeout`.
    pub(super) async fn wait_ready(self: &Arc<Self>, timeout: Duration) -> bool {
        // Ready means a token can be validated: an empty key set (fetched, but without a usable
        // key) is not ready.
        let ready = || self.fresh().is_some_and(|snapshot| snapshot.len() > 0);
        if ready() {
            return true;
        }
        self.ensure_started();
        if tokio::runtime::Handle::try_current().is_err() {
            return false;
        }
        let mut done = self.attempts_done.subscribe();
        tokio::time::timeout(timeout, done.wait_for(|_| ready()))
            .await
            .is_ok_and(|waited| waited.is_ok())
    }

    /// One attempt: discovery if needed, then the JWKS. Returns the delay until the next one.
    async fn attempt(&self, local: &mut LoaderLocal) -> Duration {
        let number = self.attempts_started.fetch_add(1, Ordering::AcqRel) + 1;
        let outcome = self.load(local).await;
        let now = Instant::now();
        let delay = match outcome {
            Ok(next_refresh) => {
                let mut status = lock(&self.status);
                if status.consecutive_failures > 0 {
                    warn!(
                        "key set refreshed again after {} failed attempts",
                        status.consecutive_failures
                    );
                }
                status.last_success = Some(now);
                // A key set without usable keys was fetched all right, but is still trouble.
                status.last_error.clone_from(&local.no_usable_key);
                status.consecutive_failures = 0;
                local.backoff = MIN_BACKOFF;
                local.stale_warned = false;
                next_refresh
            }
            Err(why) => {
                let delay = local.backoff;
                local.backoff = local.backoff.saturating_mul(2).min(MAX_BACKOFF);
                let mut status = lock(&self.status);
                let loaded = self
                    .current
                    .load()
                    .as_deref()
                    .is_some_and(|snapshot| snapshot.len() > 0);
                // One warning per failure streak; the rest at DEBUG with the same text.
                if status.consecutive_failures == 0 {
                    if loaded {
                        warn!("key set refresh failed, keeping the last good keys: {why}");
                    } else {
                        warn!("key set not loaded yet, retrying: {why}");
                    }
                } else {
                    debug!("key set attempt failed again: {why}");
                }
                if loaded && !local.stale_warned && self.fresh().is_none() {
                    local.stale_warned = true;
                    warn!(
                        "the last good key set is older than max_stale ({:?}); requests are \
                         refused (503) until a refresh succeeds",
                        self.config.max_stale
                    );
                }
                status.consecutive_failures = status.consecutive_failures.saturating_add(1);
                status.last_error = Some(why);
                delay
            }
        };
        // `checked_add`: a refresh interval configured as "forever" must not overflow the clock.
        lock(&self.status).next_attempt = now.checked_add(delay);
        self.attempts_done.send_replace(number);
        delay
    }

    /// Finds the JWKS URL, fetches it and swaps the new snapshot in; returns the refresh delay.
    async fn load(&self, local: &mut LoaderLocal) -> Result<Duration, String> {
        let config = &self.config;
        let jwks_url = match (&config.source, &local.jwks_url) {
            (KeySource::Secret(_), _) => return Err("a secret is not fetched".to_owned()),
            (KeySource::JwksUri(uri), None) => {
                let url = Url::parse(uri).map_err(|err| format!("JWKS URI {uri:?}: {err}"))?;
                local.jwks_url = Some(url.clone());
                url
            }
            (KeySource::JwksUri(_), Some(url)) => url.clone(),
            (KeySource::Discovery { issuer }, known) => {
                if known.is_none() || local.rediscover {
                    match discover(&self.client, issuer, config, &mut local.refusals).await {
                        Ok((metadata, url)) => {
                            self.metadata.store(Some(Arc::new(metadata)));
                            local.jwks_url = Some(url);
                            local.rediscover = false;
                        }
                        // Rediscovery is a hunch; with a known URL, carry on with it.
                        Err(why) if known.is_some() => debug!("rediscovery failed: {why}"),
                        Err(why) => return Err(why),
                    }
                }
                local
                    .jwks_url
                    .clone()
                    .ok_or_else(|| "no JWKS URL".to_owned())?
            }
        };
        let result = self.fetch_jwks(&jwks_url, local).await;
        match &result {
            Ok(_) => local.jwks_failures = 0,
            Err(_) => {
                local.jwks_failures = local.jwks_failures.saturating_add(1);
                if local.jwks_failures >= REDISCOVER_AFTER
                    && matches!(config.source, KeySource::Discovery { .. })
                {
                    local.jwks_failures = 0;
                    local.rediscover = true;
                }
            }
        }
        result
    }

    async fn fetch_jwks(&self, url: &Url, local: &mut LoaderLocal) -> Result<Duration, String> {
        let config = &self.config;
        self.fetches.fetch_add(1, Ordering::Relaxed);
        let fetched = get_bounded(
            &self.client,
            url,
            config.fetch_timeout,
            config.max_body_bytes,
        )
        .await
        .map_err(|err| format!("JWKS {url}: {err}"))?;
        let digest = digest::digest(&digest::SHA256, &fetched.body);
        let now = Instant::now();
        let previous = self.current.load_full();
        let snapshot = match &previous {
            // The same document as last time: same keys, confirmed again. No parsing, and no
            // second round of warnings about the keys it skips.
            Some(previous) if local.last_digest.as_deref() == Some(digest.as_ref()) => {
                previous.reconfirmed(now)
            }
            _ => {
                let parsed = parse_jwks(&fetched.body, &config.algorithms, previous.as_deref())
                    .map_err(|err| format!("JWKS {url}: {err}"))?;
                if parsed.keys.is_empty() {
                    // A fetched, parsable key set is the authorization server's word on its
                    // keys (RFC 7517 §5), even when none of them is usable here: the old keys
                    // are gone, and keeping them would keep accepting what the AS retired.
                    // Tokens are then refused as signed by an unknown key; refetches for their
                    // `kid`s stay bounded by the cooldown.
                    let why = format!("JWKS {url} has {}", parsed.why_no_usable_key());
                    error!(
                        "{why}; the key set is now empty and every token is refused until the \
                         authorization server publishes a usable key"
                    );
                    local.no_usable_key = Some(why);
                } else {
                    if local.no_usable_key.take().is_some() {
                        warn!("the key set has usable keys again ({})", parsed.keys.len());
                    }
                    debug!(
                        "loaded {} keys from {url} ({} entries skipped)",
                        parsed.keys.len(),
                        parsed.skipped
                    );
                }
                KeySnapshot::new(parsed.keys, now, false)
            }
        };
        self.current.store(Some(Arc::new(snapshot)));
        local.last_digest = Some(digest.as_ref().to_vec());
        // Some servers answer `no-cache` on a JWKS whose keys change once a month: their header
        // would mean a fetch per `min_refresh`, so for them the interval decides.
        let freshness = if config.honor_cache_control {
            fetched.freshness
        } else {
            Freshness::Unspecified
        };
        Ok(freshness.next_refresh(
            config.refresh_interval,
            config.min_refresh,
            config.max_refresh,
        ))
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The loader sleeps on its timer or this `Notify`; wake it so it sees that the key set
        // is gone and ends now rather than at its next refresh.
        self.wake.notify_one();
    }
}

/// The loader's own state, touched by no one else.
struct LoaderLocal {
    jwks_url: Option<Url>,
    rediscover: bool,
    jwks_failures: u32,
    backoff: Duration,
    stale_warned: bool,
    /// SHA-256 of the last JWKS body that was turned into a snapshot.
    last_digest: Option<Vec<u8>>,
    /// Discovered endpoints refused so far, logged once each.
    refusals: RefusalsLogged,
    /// Why the current key set is empty, when the last JWKS had no usable key.
    no_usable_key: Option<String>,
}

/// Marks the loader as gone when its future is dropped, including when its runtime shuts
/// down, so that `ensure_started` on another runtime starts a new one.
struct RunningGuard(Weak<Shared>);

impl Drop for RunningGuard {
    fn drop(&mut self) {
        if let Some(shared) = self.0.upgrade() {
            shared.running.store(false, Ordering::Release);
        }
    }
}

/// The loader task. It holds the shared state only weakly, except during an attempt, so the
/// last `KeySet` dropped ends it.
async fn run(shared: Weak<Shared>, wake: Arc<Notify>, _guard: RunningGuard) {
    let mut local = LoaderLocal {
        jwks_url: None,
        rediscover: false,
        jwks_failures: 0,
        backoff: MIN_BACKOFF,
        stale_warned: false,
        last_digest: None,
        refusals: RefusalsLogged::default(),
        no_usable_key: None,
    };
    loop {
        let Some(strong) = shared.upgrade() else {
            return;
        };
        // A wake-up asked for before this attempt starts is answered by it: drop its permit, or
        // it would cause a second fetch right after this one.
        let _ = wake.notified().now_or_never();
        let delay = strong.attempt(&mut local).await;
        drop(strong);
        tokio::select! {
            () = tokio::time::sleep(delay) => {}
            () = wake.notified() => {}
        }
    }
}
