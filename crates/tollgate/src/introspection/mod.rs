//! RFC 7662 token introspection: the live check that a token has not been revoked.
//!
//! Routes marked sensitive ask the authorization server (AS) whether the token is still active;
//! opaque tokens, which cannot be validated locally, are introspected on every route with a
//! short routine cache TTL (DESIGN §5).
//!
//! Caveats, in plain words:
//!
//! - Only a JSON boolean `"active": true` is a pass. `"active": "true"`, `1`, `null` or a missing
//!   member are not inactive either: they are a broken answer, so the AS counts as unavailable and
//!   nothing is cached.
//! - An inactive answer is final: it is remembered until the token's `exp` (or for
//!   [`inactive_ttl`](Introspection::inactive_ttl) when the expiry is unknown) and the token is
//!   then rejected on every route, sensitive or not. Revocation memory is bounded by
//!   [`cache_capacity`](Introspection::cache_capacity); a token evicted from a full cache is
//!   simply asked about again.
//! - Failures (timeout, refused connection, non-200 status, unparsable body) are never cached:
//!   the next request asks again. Concurrent identical asks share one call, and at most
//!   [`max_concurrent`](Introspection::max_concurrent) calls run at once.
//! - RFC 7662 §4 requires TLS for the introspection endpoint: the token travels in the request
//!   body. Under an `https://` issuer a plain `http://` endpoint, configured or discovered, is
//!   refused unless its host is loopback or
//!   [`allow_insecure_endpoints`](crate::TollgateBuilder::allow_insecure_endpoints) is on.
//! - The HTTP client should not follow redirects: a `307`/`308` would resend the token (and,
//!   with `client_secret_post`, the secret) to wherever the redirect points.
//!
//! # Example
//!
//! ```
//! use std::time::Duration;
//! use tollgate::introspection::Introspection;
//!
//! let introspection = Introspection::client_secret_basic("my-api", "s3cret")
//!     .endpoint("https://as.example.com/oauth2/introspect")
//!     .timeout(Duration::from_secs(1))
//!     .routine_ttl(Duration::from_secs(10));
//!
//! // The secret never shows in `Debug` output.
//! assert!(!format!("{introspection:?}").contains("s3cret"));
//! ```

use std::fmt;
use std::time::Duration;

use crate::error::{ConfigError, ConfigErrorKind};
use crate::keys::KeySet;
use crate::url_rules::{UrlRole, UrlRules};

mod cache;
mod client;
mod introspector;
mod parse;

#[cfg(test)]
mod tests;

pub(crate) use introspector::Introspector;

/// Default for [`Introspection::timeout`].
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default for [`Introspection::max_concurrent`].
const DEFAULT_MAX_CONCURRENT: usize = 64;
/// Default for [`Introspection::cache_capacity`].
const DEFAULT_CACHE_CAPACITY: u64 = 10_000;
/// Default for [`Introspection::routine_ttl`].
const DEFAULT_ROUTINE_TTL: Duration = Duration::from_secs(30);
/// Default for [`Introspection::max_cache_ttl`].
const DEFAULT_MAX_CACHE_TTL: Duration = Duration::from_secs(5 * 60);
/// Default for [`Introspection::inactive_ttl`].
const DEFAULT_INACTIVE_TTL: Duration = Duration::from_secs(60 * 60);
/// Default for [`Introspection::max_body_bytes`].
const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// Default clock-skew leeway for `exp`/`nbf` in answers; the engine passes its own (DESIGN §4).
const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// How tollgate authenticates itself to the introspection endpoint (RFC 7662 §2.1 requires the
/// protected resource to be authorized to call it).
#[derive(Clone)]
enum ClientAuth {
    /// RFC 6749 §2.3.1: HTTP Basic with the form-urlencoded id and secret.
    Basic {
        client_id: String,
        client_secret: String,
    },
    /// RFC 6749 §2.3.1: `client_id` and `client_secret` in the request body.
    Post {
        client_id: String,
        client_secret: String,
    },
    /// RFC 7662 §2.1 allows "a separate OAuth 2.0 access token": `Authorization: Bearer`.
    Bearer { credential: String },
}

/// How tollgate calls the authorization server's introspection endpoint (RFC 7662).
///
/// Built with one of the client-authentication constructors
/// ([`client_secret_basic`](Self::client_secret_basic), the usual choice,
/// [`client_secret_post`](Self::client_secret_post) or [`bearer`](Self::bearer)), then refined
/// with the setters. The values are checked when the engine is built, so a misconfiguration
/// fails at start, not at the first request.
///
/// `Debug` output never contains the client secret or the bearer credential.
#[derive(Clone)]
#[must_use]
pub struct Introspection {
    auth: ClientAuth,
    endpoint: Option<String>,
    timeout: Duration,
    max_concurrent: usize,
    cache_capacity: u64,
    routine_ttl: Duration,
    max_cache_ttl: Duration,
    inactive_ttl: Duration,
    max_body_bytes: usize,
    leeway: Duration,
}

impl Introspection {
    fn with_auth(auth: ClientAuth) -> Self {
        Self {
            auth,
            endpoint: None,
            timeout: DEFAULT_TIMEOUT,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            routine_ttl: DEFAULT_ROUTINE_TTL,
            max_cache_ttl: DEFAULT_MAX_CACHE_TTL,
            inactive_ttl: DEFAULT_INACTIVE_TTL,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            leeway: DEFAULT_LEEWAY,
        }
    }

    /// Authenticate with HTTP Basic (`client_secret_basic`, RFC 6749 §2.3.1). The default method,
    /// and the one every authorization server must support.
    ///
    /// As the RFC requires, the client id and secret are each form-urlencoded before they are
    /// joined with `:` and base64-encoded, so a secret containing `:`, `+` or `%` arrives intact.
    pub fn client_secret_basic(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self::with_auth(ClientAuth::Basic {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        })
    }

    /// Authenticate with `client_id` and `client_secret` in the form body (`client_secret_post`,
    /// RFC 6749 §2.3.1). The RFC discourages it in favour of
    /// [`client_secret_basic`](Self::client_secret_basic); use it when the authorization server
    /// accepts nothing else.
    pub fn client_secret_post(
        client_id: impl Into<String>,
        client_secret: impl Into<String>,
    ) -> Self {
        Self::with_auth(ClientAuth::Post {
            client_id: client_id.into(),
            client_secret: client_secret.into(),
        })
    }

    /// Authenticate with `Authorization: Bearer <credential>`: an access token issued to this
    /// resource server for introspection (RFC 7662 §2.1). tollgate does not refresh it; it must
    /// stay valid for the lifetime of the service.
    pub fn bearer(credential: impl Into<String>) -> Self {
        Self::with_auth(ClientAuth::Bearer {
            credential: credential.into(),
        })
    }

    /// The introspection endpoint, an absolute URL with a host and without user info.
    ///
    /// Defaults to none: the `introspection_endpoint` of the discovered authorization server
    /// metadata (RFC 8414 §2) is used, held to the same rules. A configured endpoint wins over
    /// the discovered one. Without discovery (a
    /// [`jwks_uri`](crate::TollgateBuilder::jwks_uri) or an
    /// [`hmac_secret`](crate::TollgateBuilder::hmac_secret)), it is required.
    ///
    /// The token travels in the request body, so RFC 7662 §4 requires TLS: under an `https://`
    /// issuer, `http://` is refused unless the host is loopback or
    /// [`allow_insecure_endpoints`](crate::TollgateBuilder::allow_insecure_endpoints) is on.
    pub fn endpoint(mut self, url: impl Into<String>) -> Self {
        self.endpoint = Some(url.into());
        self
    }

    /// Upper bound on one introspection call: waiting for a free slot
    /// ([`max_concurrent`](Self::max_concurrent)), connecting, sending and reading the whole
    /// answer. A call that takes longer counts as a failure (the AS is unavailable).
    ///
    /// Defaults to 2 seconds. Must not be zero.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many introspection calls may be in flight at once, protecting the authorization
    /// server from a burst of distinct tokens. Calls over the bound wait for a slot, and the wait
    /// counts against the [`timeout`](Self::timeout).
    ///
    /// Defaults to 64. Must not be zero.
    pub fn max_concurrent(mut self, max: usize) -> Self {
        self.max_concurrent = max;
        self
    }

    /// How many answers (active and inactive) the cache holds, one per token.
    ///
    /// Defaults to 10,000 entries. Must not be zero: the cache is also the memory of revoked
    /// tokens.
    pub fn cache_capacity(mut self, entries: u64) -> Self {
        self.cache_capacity = entries;
        self
    }

    /// How long an active answer is reused on routine routes, which is every route for an
    /// opaque token (JWTs are validated locally there and not introspected). Within this time a
    /// revoked opaque token is still accepted on routine routes.
    ///
    /// Defaults to 30 seconds. Zero asks the authorization server on every request with an
    /// opaque token (concurrent identical asks still share one call).
    pub fn routine_ttl(mut self, ttl: Duration) -> Self {
        self.routine_ttl = ttl;
        self
    }

    /// How long an active answer is kept at most, whatever the freshness budget of the route
    /// that asks. The answer is also never kept past the token's `exp`. The effective bound is
    /// the larger of this and [`routine_ttl`](Self::routine_ttl).
    ///
    /// Defaults to 5 minutes.
    pub fn max_cache_ttl(mut self, ttl: Duration) -> Self {
        self.max_cache_ttl = ttl;
        self
    }

    /// How long an inactive answer is remembered when the token's expiry is not known (an
    /// opaque token whose answer carries no `exp`). When the expiry is known, the answer is
    /// remembered until then, and the token is rejected on every route meanwhile.
    ///
    /// Defaults to 1 hour. A short value weakens revocation for opaque tokens: once forgotten,
    /// the token is asked about again, so a revoked token is only accepted again if the
    /// authorization server changes its mind.
    pub fn inactive_ttl(mut self, ttl: Duration) -> Self {
        self.inactive_ttl = ttl;
        self
    }

    /// The largest introspection answer read, in bytes; a larger one is a failure.
    ///
    /// Defaults to 64 KiB. Must not be zero.
    pub fn max_body_bytes(mut self, bytes: usize) -> Self {
        self.max_body_bytes = bytes;
        self
    }

    /// The clock-skew leeway for `exp` and `nbf` in answers; set by the engine from its one
    /// leeway for all time checks (DESIGN §4). Defaults to 60 seconds.
    pub(crate) fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// The configured endpoint, if any (the engine uses discovery otherwise).
    pub(crate) fn configured_endpoint(&self) -> Option<&str> {
        self.endpoint.as_deref()
    }

    /// Checks the configuration; called by the engine's builder, with the URL rules of its
    /// issuer.
    pub(crate) fn validate(&self, url_rules: &UrlRules) -> Result<(), ConfigError> {
        let credentials = |msg: &str| Err(ConfigError::new(ConfigErrorKind::Credentials, msg));
        let bounds = |msg: &str| Err(ConfigError::new(ConfigErrorKind::Bounds, msg));
        match &self.auth {
            ClientAuth::Basic {
                client_id,
                client_secret,
            }
            | ClientAuth::Post {
                client_id,
                client_secret,
            } => {
                if client_id.is_empty() {
                    return credentials("introspection client id is empty");
                }
                if client_secret.is_empty() {
                    return credentials("introspection client secret is empty");
                }
            }
            ClientAuth::Bearer { credential } => {
                if credential.is_empty() {
                    return credentials("introspection bearer credential is empty");
                }
                // The message must not echo the credential.
                if client::bearer_header(credential).is_none() {
                    return credentials(
                        "introspection bearer credential contains characters not allowed in \
                         an HTTP header",
                    );
                }
            }
        }
        if let Some(url) = &self.endpoint {
            url_rules
                .check(url, UrlRole::IntrospectionEndpoint)
                .map_err(|e| e.config_error())?;
        }
        if self.timeout.is_zero() {
            return bounds("introspection timeout must not be zero");
        }
        if self.max_concurrent == 0 {
            return bounds("introspection max_concurrent must not be zero");
        }
        if self.max_concurrent > tokio::sync::Semaphore::MAX_PERMITS {
            return bounds("introspection max_concurrent is too large");
        }
        if self.cache_capacity == 0 {
            return bounds("introspection cache_capacity must not be zero");
        }
        if self.max_body_bytes == 0 {
            return bounds("introspection max_body_bytes must not be zero");
        }
        Ok(())
    }
}

impl fmt::Debug for Introspection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // The secret and the bearer credential are never printed (STYLE: no secret in Debug).
        let (method, client_id) = match &self.auth {
            ClientAuth::Basic { client_id, .. } => ("client_secret_basic", Some(client_id)),
            ClientAuth::Post { client_id, .. } => ("client_secret_post", Some(client_id)),
            ClientAuth::Bearer { .. } => ("bearer", None),
        };
        f.debug_struct("Introspection")
            .field("method", &method)
            .field("client_id", &client_id)
            .field("endpoint", &self.endpoint)
            .field("timeout", &self.timeout)
            .field("max_concurrent", &self.max_concurrent)
            .field("cache_capacity", &self.cache_capacity)
            .field("routine_ttl", &self.routine_ttl)
            .field("max_cache_ttl", &self.max_cache_ttl)
            .field("inactive_ttl", &self.inactive_ttl)
            .field("max_body_bytes", &self.max_body_bytes)
            .finish_non_exhaustive()
    }
}

/// Where the endpoint comes from.
#[derive(Clone)]
pub(crate) enum EndpointSource {
    /// Configured explicitly.
    Fixed(String),
    /// From the discovered metadata of this key set.
    Discovered(KeySet),
}

/// A parsed, active introspection answer (RFC 7662 §2.2).
#[derive(Debug, Clone, Default)]
pub(crate) struct IntrospectionAnswer {
    pub(crate) scope: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) sub: Option<String>,
    /// `aud` as a string is one audience, as an array several (RFC 7662 §2.2).
    pub(crate) aud: Vec<String>,
    pub(crate) iss: Option<String>,
    pub(crate) exp: Option<i64>,
    pub(crate) iat: Option<i64>,
    pub(crate) nbf: Option<i64>,
    pub(crate) jti: Option<String>,
    /// Every member of the answer, for `Principal::claims`.
    pub(crate) raw: serde_json::Map<String, serde_json::Value>,
}

/// The kind of token being introspected.
///
/// Both kinds are sent with `token_type_hint=access_token` (RFC 7662 §2.1, RFC 7009 §2.1): the
/// hint names what the token is for, not its format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Jwt,
    Opaque,
}

/// Why introspection gave no active answer, classified by whose fault it is: the answer decides
/// between 401 (about the token), 503 that fail-open may pass (the AS cannot be reached), and
/// 503 that always stays closed (the AS answers but unusably, or tollgate's own limits).
#[derive(Debug, Clone, PartialEq, Eq)]
// `Unconfirmable`, `Broken` and `Saturated` are being wired into the client and the limits.
#[allow(dead_code)]
pub(crate) enum IntrospectionError {
    /// The AS said the token is not active, or its active answer is expired or not yet valid.
    Inactive,
    /// The AS answered about the token without confirming it (HTTP 400 with an OAuth error such
    /// as `invalid_request` or `unsupported_token_type`): 401, never cached as a revocation.
    Unconfirmable(&'static str),
    /// No introspection endpoint is known (none configured, none in the metadata).
    NoEndpoint,
    /// The AS cannot be reached: connection refused or reset, timeout, 5xx. The only failure
    /// that `fail_open_when_unreachable` lets through. Never cached.
    Unreachable(&'static str),
    /// The AS answered, but not usably: it rejected tollgate's client credentials (401/403,
    /// `invalid_client`), sent a malformed answer, or redirected. Always 503; never cached.
    Broken(&'static str),
    /// tollgate's own limits refused the call (rate limit, concurrency budget, in-flight
    /// bound). Always 503 with `Retry-After`; never cached.
    Saturated(&'static str),
}

/// Parses an introspection answer as the client does, for the fuzz targets
/// (`crate::fuzzing`): `Ok(true)` when active, `Ok(false)` when inactive, expired or not yet
/// valid, `Err` when the answer is unusable.
#[cfg(feature = "fuzzing")]
pub(crate) fn parse_answer_for_fuzzing(
    body: &[u8],
    now: i64,
    leeway_secs: i64,
) -> Result<bool, &'static str> {
    parse::parse(body, now, leeway_secs).map(|verdict| matches!(verdict, parse::Verdict::Active(_)))
}
