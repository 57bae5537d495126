//! The authorization server's signing keys: discovery, JWKS fetching, refresh, rotation.
//!
//! A [`KeySet`] belongs to one issuer (docs/ARCHITECTURE.md, "Key sets"). Its keys come from the JWKS named in the
//! issuer's metadata (RFC 8414, or OpenID Connect Discovery), from a JWKS URI configured
//! directly, or from an HMAC secret configured explicitly.
//!
//! - Keys load in the background: a service starts while the authorization server is down and
//!   answers 503 with `Retry-After` until the first key set arrives ([`KeySet::snapshot`] is
//!   `None`); [`KeySet::wait_ready`] waits for it at start.
//! - The task refreshes on an interval that honours `Cache-Control: max-age` within bounds. A
//!   failed refresh keeps the last good key set for at most `max_stale`.
//! - An unknown `kid` triggers at most one refetch per cooldown, shared by every request that
//!   waits for it ([`KeySet::refetch_unknown_kid`]).
//! - Reading keys takes no lock; no lock is held across network I/O.
//! - Every key is bound to its key type and one algorithm, and the algorithm must be allowed.
//!   Symmetric JWKs, encryption keys and keys with private parts are never used. Header
//!   parameters that point at keys (`jku`, `x5u`, `jwk`, `x5c`) play no part here at all.
//!
//! Files: `jwk` parses key sets, `fetch` does bounded GETs, `discovery` finds the metadata,
//! `loader` is the background task with the single-flight refetch, `snapshot` holds the keys.

mod discovery;
mod fetch;
mod jwk;
mod loader;
mod snapshot;
#[cfg(test)]
mod tests;

use std::sync::Arc;
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use crate::alg::Algorithm;

pub(crate) use self::jwk::{PublicJwkMembers, single_public_key};
use self::loader::Shared;
pub(crate) use self::snapshot::{KeySnapshot, VerifyKey};
use crate::url_rules::UrlRules;

/// Where the keys come from.
#[derive(Clone)]
pub(crate) enum KeySource {
    /// RFC 8414 metadata first, then OpenID discovery; the metadata `issuer` must equal this.
    Discovery { issuer: String },
    /// A JWKS URI configured directly (no discovery).
    JwksUri(String),
    /// An HMAC secret configured explicitly (HS256/384/512 only); no fetching at all.
    Secret(Vec<u8>),
}

impl std::fmt::Debug for KeySource {
    // Hand-written so that the secret never reaches Debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Discovery { issuer } => {
                f.debug_struct("Discovery").field("issuer", issuer).finish()
            }
            Self::JwksUri(uri) => f.debug_tuple("JwksUri").field(uri).finish(),
            Self::Secret(_) => f.write_str("Secret(..)"),
        }
    }
}

/// Which metadata documents discovery fetches, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum MetadataUrls {
    /// RFC 8414 §3.1 (inserted before the issuer's path), then OpenID Connect Discovery §4
    /// (appended): the default.
    Rfc8414First,
    /// The same two, OpenID first: for servers known to serve no RFC 8414 document there.
    OpenIdFirst,
    /// This document only (`TrustedIssuer::discovery_url`).
    Only(String),
}

/// Settings of a [`KeySet`]; defaults documented on the public builder.
#[derive(Debug, Clone)]
pub(crate) struct KeySetConfig {
    /// Where the keys come from.
    pub(crate) source: KeySource,
    /// With [`KeySource::Discovery`]: which metadata documents, in which order.
    pub(crate) metadata: MetadataUrls,
    /// Whether the JWKS `Cache-Control` sets the refresh delay; when false,
    /// `refresh_interval` always does (servers whose header says nothing about their keys).
    pub(crate) honor_cache_control: bool,
    /// Algorithms the deployment accepts; keys for others are ignored.
    pub(crate) algorithms: Vec<Algorithm>,
    /// Refresh interval when the JWKS answer carries no usable `Cache-Control: max-age`.
    pub(crate) refresh_interval: Duration,
    /// `max-age` is clamped into `[min_refresh, max_refresh]`; `no-cache`/`no-store` mean
    /// `min_refresh`.
    pub(crate) min_refresh: Duration,
    /// Upper bound of the refresh delay taken from `max-age`.
    pub(crate) max_refresh: Duration,
    /// At most one refetch for unknown `kid`s per this period.
    pub(crate) unknown_kid_cooldown: Duration,
    /// How long the last good key set is still used while refreshes fail.
    pub(crate) max_stale: Duration,
    /// Upper bound on the size of a JWKS or metadata body.
    pub(crate) max_body_bytes: usize,
    /// Timeout of one fetch.
    pub(crate) fetch_timeout: Duration,
    /// The rules discovered endpoints are held to, the same as configured ones.
    pub(crate) url_rules: UrlRules,
    /// Whether introspection uses the discovered `introspection_endpoint`: a refused one is then
    /// worth an ERROR, since sensitive routes answer 503 until the metadata is fixed.
    pub(crate) introspection_discovered: bool,
}

/// Metadata of the authorization server (RFC 8414 §2), as discovered.
#[derive(Debug, Clone, Default)]
pub(crate) struct AuthServerMetadata {
    /// Where the JWKS is (RFC 8414 §2 `jwks_uri`); always present once discovered.
    pub(crate) jwks_uri: Option<String>,
    /// RFC 7662 introspection endpoint (RFC 8414 §2), as published, if it passed the URL rules.
    pub(crate) introspection_endpoint: Option<String>,
    /// Why the published `introspection_endpoint` was refused, if it was.
    pub(crate) refused_introspection_endpoint: Option<String>,
}

/// Why a key lookup found nothing usable.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum KeyLookupError {
    /// No key with this `kid` (or, without `kid`, no key for the algorithm).
    UnknownKey,
    /// The key exists but is bound to another algorithm or key type than the header's `alg`.
    AlgorithmMismatch,
    /// No `kid` in the header and more than one candidate key: refuse rather than guess.
    Ambiguous,
}

/// What a key set is doing, for diagnostics (health endpoints, metrics, logs).
#[derive(Debug, Clone)]
pub(crate) struct KeySetStatus {
    /// A key set with at least one usable key is loaded and not older than `max_stale`:
    /// requests can be validated.
    pub(crate) loaded: bool,
    /// Usable keys in the current key set (also when it is stale).
    pub(crate) key_count: usize,
    /// When a JWKS was last fetched and accepted (`None` for a secret, or never).
    pub(crate) last_success: Option<Instant>,
    /// Why the last attempt failed; `None` after a success. Never contains a token.
    pub(crate) last_error: Option<String>,
    /// Failed attempts since the last success.
    pub(crate) consecutive_failures: u32,
    /// JWKS GETs sent so far (successful or not; discovery requests not counted).
    pub(crate) fetch_count: u64,
    /// When the background task tries next, if it runs.
    pub(crate) next_attempt: Option<Instant>,
}

/// The key set of one issuer. Cheap to clone.
#[derive(Clone)]
pub(crate) struct KeySet {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("KeySet")
            .field("source", &self.shared.config.source)
            .field("loaded", &self.snapshot().is_some())
            .finish_non_exhaustive()
    }
}

impl KeySet {
    /// Builds the key set and, inside a tokio runtime, starts loading it.
    ///
    /// With [`KeySource::Secret`] the keys are ready at once (one per allowed HS algorithm) and
    /// nothing is ever fetched.
    pub(crate) fn new(config: KeySetConfig, client: reqwest::Client) -> Self {
        let initial = match &config.source {
            KeySource::Secret(secret) => {
                let keys = config
                    .algorithms
                    .iter()
                    .filter_map(|&alg| VerifyKey::hmac(alg, secret))
                    .map(Arc::new)
                    .collect();
                // A configured secret has no `kid`: the header's `kid` does not select it.
                Some(KeySnapshot::new(keys, Instant::now(), true))
            }
            KeySource::Discovery { .. } | KeySource::JwksUri(_) => None,
        };
        let set = Self {
            shared: Arc::new(Shared::new(config, client, initial)),
        };
        set.ensure_started();
        set
    }

    /// Starts the background loader if it is not running and a tokio runtime is available.
    ///
    /// Cheap when it runs (one atomic load): call it freely. Without a runtime it does
    /// nothing, and a later call from inside one starts the loader.
    pub(crate) fn ensure_started(&self) {
        self.shared.ensure_started();
    }

    /// The current keys without locking; `None` until the first key set has loaded (or when the
    /// last good one is older than `max_stale`).
    pub(crate) fn snapshot(&self) -> Option<Arc<KeySnapshot>> {
        self.shared.fresh()
    }

    /// Single-flight refetch after an unknown `kid`, at most once per cooldown.
    ///
    /// The first caller of a cooldown period wakes the loader and waits for a fetch that
    /// started after it asked; callers arriving while that fetch runs wait for the same one;
    /// later callers in the period get the current keys at once, without any fetch. So a flood
    /// of made-up `kid`s costs the authorization server one JWKS request per cooldown. The
    /// wait is bounded by twice the fetch timeout (an attempt already running may finish
    /// first), or by one fetch timeout while no key set was ever loaded. Returns the keys as
    /// they are afterwards (`None` when there are none, as [`snapshot`](Self::snapshot)).
    pub(crate) async fn refetch_unknown_kid(&self) -> Option<Arc<KeySnapshot>> {
        self.shared.refetch_unknown_kid().await
    }

    /// Waits until keys are loaded (at least one usable), or `timeout`; true when ready.
    pub(crate) async fn wait_ready(&self, timeout: Duration) -> bool {
        self.shared.wait_ready(timeout).await
    }

    /// The JWKS URI when it is configured rather than discovered.
    pub(crate) fn configured_jwks_uri(&self) -> Option<&str> {
        match &self.shared.config.source {
            KeySource::JwksUri(uri) => Some(uri),
            KeySource::Discovery { .. } | KeySource::Secret(_) => None,
        }
    }

    /// The discovered metadata, once discovery has succeeded.
    pub(crate) fn metadata(&self) -> Option<Arc<AuthServerMetadata>> {
        self.shared.metadata.load_full()
    }

    /// Suggested `Retry-After` while keys are unavailable: the time until the loader's next
    /// attempt, in whole seconds, at least 1 s and at most 60 s.
    pub(crate) fn retry_after(&self) -> Duration {
        let next = self.shared.status().next_attempt;
        let wait = next.map_or(Duration::ZERO, |at| {
            at.saturating_duration_since(Instant::now())
        });
        let seconds = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
        Duration::from_secs(seconds.clamp(1, 60))
    }

    /// [`key_is_current_at`](Self::key_is_current_at) now (tests).
    #[cfg(test)]
    pub(crate) fn key_is_current(&self, key: &Arc<VerifyKey>) -> bool {
        self.key_is_current_at(key, crate::engine::now())
    }

    /// True while this exact key (the same `Arc`) is in the current, fresh key set, at `now`
    /// (Unix seconds, the clock reading the request took already: a key set far from
    /// `max_stale` is judged fresh without another clock read).
    ///
    /// The verified-token cache asks this on every hit: a key removed by a refresh, or a key
    /// set gone stale, invalidates what was verified with it. Unchanged keys keep their `Arc`
    /// across refreshes. Lock free and allocation free.
    pub(crate) fn key_is_current_at(&self, key: &Arc<VerifyKey>, now: i64) -> bool {
        let guard = self.shared.current.load();
        guard.as_deref().is_some_and(|snapshot| {
            self.shared.is_fresh_at(snapshot, now) && snapshot.contains(key)
        })
    }

    /// What the key set is doing, for diagnostics.
    pub(crate) fn status(&self) -> KeySetStatus {
        let loader = self.shared.status();
        let current = self.shared.current.load();
        KeySetStatus {
            // An empty key set (fetched, but without a usable key) validates nothing.
            loaded: current
                .as_deref()
                .is_some_and(|snapshot| self.shared.is_fresh(snapshot) && snapshot.len() > 0),
            key_count: current.as_deref().map_or(0, KeySnapshot::len),
            last_success: loader.last_success,
            last_error: loader.last_error,
            consecutive_failures: loader.consecutive_failures,
            fetch_count: self.shared.fetches.load(Ordering::Relaxed),
            next_attempt: loader.next_attempt,
        }
    }
}

/// Parses a JWKS body as a refresh does, for the fuzz targets (`crate::fuzzing`): the number of
/// usable keys for the `allowed` algorithms, or why the document is unusable.
#[cfg(feature = "fuzzing")]
pub(crate) fn parse_jwks_for_fuzzing(body: &[u8], allowed: &[Algorithm]) -> Result<usize, String> {
    jwk::parse_jwks(body, allowed, None)
        .map(|parsed| parsed.keys.len())
        .map_err(|err| err.to_string())
}
