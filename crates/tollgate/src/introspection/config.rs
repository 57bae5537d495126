//! [`Introspection`]: how tollgate calls the introspection endpoint, every setting with its
//! default, and the checks made when the engine is built.
//!
//! Longer than 400 lines for a reason: most of it is documentation, since every setting says its
//! default and what it weakens, and the checks sit beside the settings they check.

use std::fmt;
use std::time::Duration;

use super::OpaqueShape;
use super::client;
use crate::error::{ConfigError, ConfigErrorKind};
use crate::url_rules::{UrlRole, UrlRules};

/// Default for [`Introspection::timeout`].
const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// Default for [`Introspection::max_concurrent`].
const DEFAULT_MAX_CONCURRENT: usize = 64;
/// Default for [`Introspection::max_concurrent_opaque`].
const DEFAULT_MAX_CONCURRENT_OPAQUE: usize = 32;
/// Default for [`Introspection::max_pending`].
const DEFAULT_MAX_PENDING: usize = 1_024;
/// Default for [`Introspection::opaque_lookup_rate`]: per second, burst.
const DEFAULT_OPAQUE_LOOKUP_RATE: (u32, u32) = (100, 200);
/// Default for [`Introspection::cache_capacity`].
const DEFAULT_CACHE_CAPACITY: u64 = 10_000;
/// Default for [`Introspection::cache_max_bytes`].
const DEFAULT_CACHE_MAX_BYTES: u64 = 16 * 1024 * 1024;
/// Default for [`Introspection::revocation_capacity`].
pub(crate) const DEFAULT_REVOCATION_CAPACITY: usize = 100_000;
/// Default for [`Introspection::routine_ttl`].
const DEFAULT_ROUTINE_TTL: Duration = Duration::from_secs(30);
/// Default for [`Introspection::max_cache_ttl`].
const DEFAULT_MAX_CACHE_TTL: Duration = Duration::from_secs(5 * 60);
/// Default for [`Introspection::inactive_ttl`].
const DEFAULT_INACTIVE_TTL: Duration = Duration::from_secs(60 * 60);
/// Default for [`Introspection::max_body_bytes`].
const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;
/// Default clock-skew leeway for `exp`/`nbf` in answers; the engine passes its own (docs/ARCHITECTURE.md, "Time").
const DEFAULT_LEEWAY: Duration = Duration::from_secs(60);

/// How tollgate authenticates itself to the introspection endpoint (RFC 7662 §2.1 requires the
/// protected resource to be authorized to call it).
#[derive(Clone)]
pub(super) enum ClientAuth {
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
///
/// # Which answers describe an access token
///
/// RFC 7662 §2.2 lets an answer say what kind of token it is about, and real servers say it in
/// different words. An active answer is refused (401 `invalid_token`, "the token is not an
/// access token") when one of these marks it as something else:
///
/// | member | accepted | refused | who sends it |
/// |---|---|---|---|
/// | `token_type` (RFC 7662 §2.2) | `Bearer`, `access_token`, `urn:ietf:params:oauth:token-type:access_token`, compared case-insensitively | anything else: `refresh_token`, `Refresh`, `Offline`, `id_token`, `N_A`, `DPoP`, ... | Keycloak (`Bearer`, or the token's own `typ` such as `Refresh`), Ory Hydra (`Bearer`; older versions `access_token` / `refresh_token`), Duende IdentityServer (`access_token` / `refresh_token`), WSO2 (`Bearer` / `refresh_token`), node-oidc-provider and Spring Authorization Server (`Bearer` or `DPoP`, none for refresh tokens) |
/// | `token_use` | `access_token` | anything else, `refresh_token` in particular | Ory Hydra |
/// | `typ` | anything else | `Refresh`, `Offline`, `ID`, `Serialized-ID`, `Logout`, `DPoP` (case-insensitive) | Keycloak, which copies its tokens' `typ` claim into the answer |
/// | `cnf` with `jkt` (RFC 9449 §6.2) | | always: the token is bound to a DPoP key | node-oidc-provider, Keycloak, any RFC 9449 server |
///
/// An answer without any of these members is not refused for it. tollgate supports only the
/// `Bearer` scheme so far: a DPoP-bound token must be presented with its proof under the `DPoP`
/// scheme (RFC 9449 §7), never as a bearer token, so it is refused until DPoP support comes.
///
/// For a JWT, the answer must also agree with the token: `iss`, `sub`, `client_id`, `aud`,
/// `exp`, `scope`, `jti` (exactly) and, when both carry one, `token_type` (case-insensitively).
///
/// An opaque token is known only through its answer, so the answer's `aud` must name one of
/// the configured audiences (unless
/// [`accept_answers_without_audience`](Self::accept_answers_without_audience)), and its `iss`,
/// when present, must equal the configured issuer. `iss` is not required: the answer comes
/// from the configured endpoint over an authenticated call, and many servers omit it.
#[derive(Clone)]
#[must_use]
pub struct Introspection {
    pub(super) auth: ClientAuth,
    pub(super) endpoint: Option<String>,
    pub(super) timeout: Duration,
    pub(super) max_concurrent: usize,
    pub(super) max_concurrent_opaque: usize,
    pub(super) max_pending: usize,
    pub(super) opaque_lookup_rate: (u32, u32),
    pub(super) opaque_shape: OpaqueShape,
    pub(super) cache_capacity: u64,
    pub(super) cache_max_bytes: u64,
    pub(super) revocation_capacity: usize,
    pub(super) routine_ttl: Duration,
    pub(super) max_cache_ttl: Duration,
    pub(super) inactive_ttl: Duration,
    pub(super) max_body_bytes: usize,
    pub(super) accept_answers_without_audience: bool,
    pub(super) leeway: Duration,
}

impl Introspection {
    fn with_auth(auth: ClientAuth) -> Self {
        Self {
            auth,
            endpoint: None,
            timeout: DEFAULT_TIMEOUT,
            max_concurrent: DEFAULT_MAX_CONCURRENT,
            max_concurrent_opaque: DEFAULT_MAX_CONCURRENT_OPAQUE,
            max_pending: DEFAULT_MAX_PENDING,
            opaque_lookup_rate: DEFAULT_OPAQUE_LOOKUP_RATE,
            opaque_shape: OpaqueShape::new(),
            cache_capacity: DEFAULT_CACHE_CAPACITY,
            cache_max_bytes: DEFAULT_CACHE_MAX_BYTES,
            revocation_capacity: DEFAULT_REVOCATION_CAPACITY,
            routine_ttl: DEFAULT_ROUTINE_TTL,
            max_cache_ttl: DEFAULT_MAX_CACHE_TTL,
            inactive_ttl: DEFAULT_INACTIVE_TTL,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            accept_answers_without_audience: false,
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
    /// ([`max_concurrent`](Self::max_concurrent),
    /// [`max_concurrent_opaque`](Self::max_concurrent_opaque)), connecting, sending and reading
    /// the whole answer. A call that takes longer counts as a failure: the AS is unreachable
    /// when the exchange itself took too long, tollgate is saturated when no slot came free
    /// (503 either way; only the first lets a fail-open route through).
    ///
    /// Defaults to 2 seconds. Must not be zero.
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout;
        self
    }

    /// How many introspection calls for sensitive-route JWT checks may be in flight at once,
    /// protecting the authorization server from a burst of distinct tokens. Calls over the
    /// bound wait for a slot, and the wait counts against the [`timeout`](Self::timeout); a
    /// call that gets no slot in time is refused (503 with `Retry-After`). Opaque-token lookups
    /// have a budget of their own ([`max_concurrent_opaque`](Self::max_concurrent_opaque)) and
    /// never take one of these slots.
    ///
    /// Defaults to 64. Must not be zero.
    pub fn max_concurrent(mut self, max: usize) -> Self {
        self.max_concurrent = max;
        self
    }

    /// How many introspection calls for opaque tokens may be in flight at once, on any route.
    /// Separate from [`max_concurrent`](Self::max_concurrent), so that a flood of made-up
    /// opaque tokens, which anyone can send, never delays a sensitive-route JWT check. Calls
    /// over the bound wait for a slot within the [`timeout`](Self::timeout), as there.
    ///
    /// Defaults to 32: at the default [`opaque_lookup_rate`](Self::opaque_lookup_rate) of 100
    /// unknown tokens per second, enough while the AS answers within about 300 ms, with the
    /// refreshes of known tokens on top. Must not be zero.
    pub fn max_concurrent_opaque(mut self, max: usize) -> Self {
        self.max_concurrent_opaque = max;
        self
    }

    /// How many introspection calls of one kind (sensitive-route JWT checks; opaque-token
    /// lookups) may be pending at once: waiting for a slot or in progress. Beyond it a request
    /// that needs a new call is refused at once (503 with `Retry-After`) instead of joining a
    /// queue without end. Requests for a token whose call is already pending share that call
    /// and are never refused by this bound.
    ///
    /// Defaults to 1,024 per kind (each pending call holds a copy of its token and a task, a
    /// few KiB at most). Must not be zero.
    pub fn max_pending(mut self, calls: usize) -> Self {
        self.max_pending = calls;
        self
    }

    /// The rate limit on introspection calls for opaque tokens nothing is cached about: a
    /// token bucket of `burst` calls, refilled at `per_second`. Anyone can make up an opaque
    /// token, and each new one would be a question for the AS; beyond the bucket such a token
    /// gets 503 with `Retry-After` instead. Tokens with a cached answer (active or inactive),
    /// refreshes of an active answer and sensitive-route JWT checks never take from it.
    ///
    /// Defaults to 100 per second with a burst of 200: 360,000 tokens an hour that tollgate
    /// has not seen before (or not within [`max_cache_ttl`](Self::max_cache_ttl)), far above
    /// the rate at which real clients show up with new tokens, and a load any AS can carry.
    /// During a flood, genuine new opaque tokens compete with the junk for this budget: an
    /// [`opaque_token_shape`](Self::opaque_token_shape) keeps the junk out of it. Neither
    /// value may be zero.
    pub fn opaque_lookup_rate(mut self, per_second: u32, burst: u32) -> Self {
        self.opaque_lookup_rate = (per_second, burst);
        self
    }

    /// The shape of the AS's opaque tokens (length bounds, a prefix): opaque tokens outside
    /// it are refused with 401 `invalid_token` without an introspection call.
    ///
    /// Defaults to [`OpaqueShape::new`], which admits every token (the builder's
    /// `max_token_bytes` bounds the length). Checked when the engine is built.
    pub fn opaque_token_shape(mut self, shape: OpaqueShape) -> Self {
        self.opaque_shape = shape;
        self
    }

    /// How many answers the cache holds: active answers, and inactive ones for tokens never
    /// verified (strings the AS does not know, which anyone can send). The cache is
    /// evictable; revoked tokens are remembered apart
    /// ([`revocation_capacity`](Self::revocation_capacity)).
    ///
    /// Defaults to 10,000 entries. Must not be zero. See also
    /// [`cache_max_bytes`](Self::cache_max_bytes): both bounds hold.
    pub fn cache_capacity(mut self, entries: u64) -> Self {
        self.cache_capacity = entries;
        self
    }

    /// How many bytes the answer cache holds at most, by an estimate of each entry's real
    /// size (the parsed answer with all its members, and the cache's own bookkeeping). An
    /// answer of up to [`max_body_bytes`](Self::max_body_bytes) costs its size, not one entry,
    /// so large answers cannot multiply the memory that
    /// [`cache_capacity`](Self::cache_capacity) allows. Each entry is charged at least
    /// `cache_max_bytes / cache_capacity`, which is how the entry bound is kept.
    ///
    /// Defaults to 16 MiB (10,000 answers of about 1.6 KiB). Must not be zero.
    pub fn cache_max_bytes(mut self, bytes: u64) -> Self {
        self.cache_max_bytes = bytes;
        self
    }

    /// How many revoked tokens are remembered: tokens introspection called inactive after
    /// they were verified (a JWT with a good signature, an opaque token that was active
    /// before). Each is refused on every route until its `exp` plus the leeway (or for
    /// [`inactive_ttl`](Self::inactive_ttl) when the expiry is unknown), then forgotten. Only
    /// verified tokens enter, so an unauthenticated client cannot fill it.
    ///
    /// Defaults to 100,000 tokens, about 6 MiB when full. Revocations stay until their tokens
    /// expire, so this covers a sustained 27 revocations per second with 1-hour access tokens,
    /// or 270 per second with 5-minute ones: far above real revocation rates. Must not be zero.
    ///
    /// At the bound, the revocation that expires first is given up (if it is the new one, the
    /// new one), a WARN is logged once per episode, and `Diagnostics` counts it. A given-up JWT is
    /// accepted again on routine routes until its `exp`: they never ask the AS. Sensitive
    /// routes ask and refuse it again; a given-up opaque token is asked about again.
    ///
    /// The memory is the engine's, one for every trusted issuer (a revoked token is refused
    /// whoever issued it): with several issuers that introspect, its bound is the sum of their
    /// `revocation_capacity`.
    pub fn revocation_capacity(mut self, tokens: usize) -> Self {
        self.revocation_capacity = tokens;
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
    /// opaque token whose answer carries no `exp`), in the revocation memory or the answer
    /// cache. When the expiry is known, the answer is remembered until then, and the token is
    /// rejected on every route meanwhile.
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

    /// Whether an opaque token's active answer may lack `aud` (or carry an empty list).
    ///
    /// Defaults to false: an opaque token is accepted only when its answer names one of the
    /// configured audiences, as a JWT must (RFC 9068 §4). An answer that names only other
    /// audiences is refused whatever this says.
    ///
    /// **Weakens security**: with `true`, any active token the authorization server knows that
    /// has no audience is accepted, including tokens issued for other resource servers of the
    /// same AS, and refresh tokens from servers that mark them only by leaving `aud` and
    /// `token_type` out (node-oidc-provider, Spring Authorization Server). Turn it on only for
    /// an AS that cannot put an audience into its access tokens, and restrict what the tokens
    /// can do with scopes.
    pub fn accept_answers_without_audience(mut self, accept: bool) -> Self {
        self.accept_answers_without_audience = accept;
        self
    }

    /// The clock-skew leeway for `exp` and `nbf` in answers; set by the engine from its one
    /// leeway for all time checks (docs/ARCHITECTURE.md, "Time"). Defaults to 60 seconds.
    pub(crate) fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// How many revocations this configuration asks the engine's memory to hold.
    pub(crate) fn revocation_bound(&self) -> usize {
        self.revocation_capacity
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
        if self.max_concurrent_opaque == 0 {
            return bounds("introspection max_concurrent_opaque must not be zero");
        }
        if self.max_concurrent_opaque > tokio::sync::Semaphore::MAX_PERMITS {
            return bounds("introspection max_concurrent_opaque is too large");
        }
        if self.max_pending == 0 {
            return bounds("introspection max_pending must not be zero");
        }
        if self.opaque_lookup_rate.0 == 0 || self.opaque_lookup_rate.1 == 0 {
            return bounds("introspection opaque_lookup_rate: neither value may be zero");
        }
        self.opaque_shape.validate()?;
        if self.cache_capacity == 0 {
            return bounds("introspection cache_capacity must not be zero");
        }
        if self.cache_max_bytes == 0 {
            return bounds("introspection cache_max_bytes must not be zero");
        }
        if self.revocation_capacity == 0 {
            return bounds("introspection revocation_capacity must not be zero");
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
            .field("max_concurrent_opaque", &self.max_concurrent_opaque)
            .field("max_pending", &self.max_pending)
            .field("opaque_lookup_rate", &self.opaque_lookup_rate)
            .field("opaque_shape", &self.opaque_shape)
            .field("cache_capacity", &self.cache_capacity)
            .field("cache_max_bytes", &self.cache_max_bytes)
            .field("revocation_capacity", &self.revocation_capacity)
            .field("routine_ttl", &self.routine_ttl)
            .field("max_cache_ttl", &self.max_cache_ttl)
            .field("inactive_ttl", &self.inactive_ttl)
            .field("max_body_bytes", &self.max_body_bytes)
            .field(
                "accept_answers_without_audience",
                &self.accept_answers_without_audience,
            )
            .finish_non_exhaustive()
    }
}
