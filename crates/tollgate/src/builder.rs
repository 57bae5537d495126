//! Building a [`Tollgate`]: every setting, its default, and the checks made at build time.

use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::time::Duration;

use jsonwebtoken::Algorithm;

use crate::claims::ClaimRules;
use crate::engine::{Inner, Tollgate};
use crate::error::{ConfigError, ConfigErrorKind};
use crate::introspection::{EndpointSource, Introspection, Introspector};
use crate::keys::{KeySet, KeySetConfig, KeySource};
use crate::principal::TokenInfo;
use crate::rejection::{Rejection, RejectionBody, Responder};
use crate::url_rules::{UrlRole, UrlRules};

/// The asymmetric algorithms accepted by default (DESIGN §4).
pub(crate) const DEFAULT_ALGORITHMS: [Algorithm; 9] = [
    Algorithm::RS256,
    Algorithm::RS384,
    Algorithm::RS512,
    Algorithm::PS256,
    Algorithm::PS384,
    Algorithm::PS512,
    Algorithm::ES256,
    Algorithm::ES384,
    Algorithm::EdDSA,
];

/// Default for [`TollgateBuilder::verified_cache_capacity`].
const DEFAULT_VERIFIED_CACHE_ENTRIES: u64 = 10_000;
/// Default for [`TollgateBuilder::verified_cache_max_bytes`]: 32 MiB, room for the default
/// 10 000 entries at about 3 KiB each (a typical access token's claims, parsed, take 1 to
/// 2 KiB).
const DEFAULT_VERIFIED_CACHE_BYTES: u64 = 32 << 20;

const HMAC: [Algorithm; 3] = [Algorithm::HS256, Algorithm::HS384, Algorithm::HS512];

/// Configures a [`Tollgate`]. Made by [`Tollgate::builder`].
///
/// Only the issuer and the audience are required; every other setting has a documented default.
#[must_use]
pub struct TollgateBuilder {
    issuer: Option<String>,
    jwks_uri: Option<String>,
    hmac_secret: Option<Vec<u8>>,
    audiences: Vec<String>,
    algorithms: Option<Vec<Algorithm>>,
    leeway: Duration,
    allow_untyped: bool,
    accept_scp: bool,
    http_client: Option<reqwest::Client>,
    allow_insecure_endpoints: bool,
    realm: Option<String>,
    max_token_bytes: usize,
    verified_cache_capacity: u64,
    verified_cache_max_bytes: u64,
    jwks_refresh: Duration,
    jwks_refresh_bounds: (Duration, Duration),
    unknown_kid_cooldown: Duration,
    max_stale: Duration,
    fetch_timeout: Duration,
    introspection: Option<Introspection>,
    accept_opaque: bool,
    introspect_encrypted: bool,
    sensitive_freshness: Duration,
    body_hook: Option<crate::rejection::BodyHook>,
}

impl std::fmt::Debug for TollgateBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TollgateBuilder")
            .field("issuer", &self.issuer)
            .field("jwks_uri", &self.jwks_uri)
            .field("audiences", &self.audiences)
            .field("algorithms", &self.algorithms)
            .field("introspection", &self.introspection)
            .finish_non_exhaustive()
    }
}

impl Tollgate {
    /// Starts configuring a tollgate.
    ///
    /// ```
    /// use std::time::Duration;
    /// use tollgate::{Introspection, Tollgate};
    ///
    /// let gate = Tollgate::builder()
    ///     .issuer("https://auth.example.com")
    ///     .audience("https://api.example.com")
    ///     .introspection(Introspection::client_secret_basic("my-api", "s3cret"))
    ///     .build()
    ///     .expect("valid configuration");
    /// # drop(gate);
    /// ```
    pub fn builder() -> TollgateBuilder {
        TollgateBuilder {
            issuer: None,
            jwks_uri: None,
            hmac_secret: None,
            audiences: Vec::new(),
            algorithms: None,
            leeway: Duration::from_secs(60),
            allow_untyped: false,
            accept_scp: false,
            http_client: None,
            allow_insecure_endpoints: false,
            realm: None,
            max_token_bytes: 8 * 1024,
            verified_cache_capacity: DEFAULT_VERIFIED_CACHE_ENTRIES,
            verified_cache_max_bytes: DEFAULT_VERIFIED_CACHE_BYTES,
            jwks_refresh: Duration::from_secs(300),
            jwks_refresh_bounds: (Duration::from_secs(30), Duration::from_secs(24 * 3600)),
            unknown_kid_cooldown: Duration::from_secs(15),
            max_stale: Duration::from_secs(24 * 3600),
            fetch_timeout: Duration::from_secs(5),
            introspection: None,
            accept_opaque: true,
            introspect_encrypted: false,
            sensitive_freshness: Duration::ZERO,
            body_hook: None,
        }
    }
}

impl TollgateBuilder {
    /// The authorization server's issuer identifier. Required: every token's `iss` must equal
    /// it exactly, and unless [`jwks_uri`](Self::jwks_uri) is set, the keys are found through
    /// its metadata (RFC 8414 first, then OpenID discovery; the metadata's `issuer` must equal
    /// this value exactly).
    ///
    /// An absolute `https` (or `http`) URL with a host, without user info, query or fragment
    /// (RFC 8414 §2); `build()` refuses anything else. With an
    /// [`hmac_secret`](Self::hmac_secret) it is only compared with `iss` and may be any string.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.issuer = Some(issuer.into());
        self
    }

    /// Fetch the keys from this JWKS URI instead of discovering it. Introspection then needs an
    /// explicit [`Introspection::endpoint`].
    ///
    /// An absolute URL with a host and without user info; `https` unless the issuer is plain
    /// http, the host is loopback, or [`allow_insecure_endpoints`](Self::allow_insecure_endpoints)
    /// is on.
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(uri.into());
        self
    }

    /// Verify HS256/384/512 tokens with this shared secret instead of fetching keys.
    ///
    /// **Weakens security** compared to asymmetric keys: anyone holding the secret can mint
    /// tokens. Only HMAC algorithms are then accepted.
    pub fn hmac_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.hmac_secret = Some(secret.into());
        self
    }

    /// An audience this API answers to (`aud` must contain one of them). Required; may be
    /// called more than once.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audiences.push(audience.into());
        self
    }

    /// Several audiences at once.
    pub fn audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.audiences.extend(audiences.into_iter().map(Into::into));
        self
    }

    /// The accepted signing algorithms. Defaults to RS256/384/512, PS256/384/512, ES256/384
    /// and EdDSA; HMAC algorithms only with [`hmac_secret`](Self::hmac_secret). `none` can
    /// never be accepted.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// Clock-skew allowance for `exp`, `nbf` and `iat`. Defaults to 60 seconds.
    pub fn leeway(mut self, leeway: Duration) -> Self {
        self.leeway = leeway;
        self
    }

    /// Compatibility switch: accept tokens with `typ: JWT` or no `typ`, and relax the RFC 9068
    /// required claims (`sub`, `client_id`, `iat`, `jti`; `azp` stands in for `client_id`).
    ///
    /// Most deployed servers need this (Keycloak, Entra ID, Okta, Cognito, Auth0 by default).
    /// **Weakens security**: without `typ`, an ID token could pass for an access token; tollgate
    /// still refuses tokens carrying `nonce` or `at_hash` and requires this API's audience.
    /// Defaults to off (strict RFC 9068).
    pub fn allow_untyped_tokens(mut self, allow: bool) -> Self {
        self.allow_untyped = allow;
        self
    }

    /// Compatibility switch: read scopes from a `scp` claim (array or string) when `scope` is
    /// absent, and accept `scope` as an array. Defaults to off (RFC 9068 §2.2.3).
    pub fn accept_scp_claim(mut self, accept: bool) -> Self {
        self.accept_scp = accept;
        self
    }

    /// The HTTP client for discovery, JWKS and introspection (custom roots, proxy, timeouts).
    ///
    /// Defaults to a rustls client that does not follow redirects, with a 5 s connect timeout.
    ///
    /// Build yours with `.redirect(reqwest::redirect::Policy::none())` too: reqwest follows
    /// redirects by default, and a `307`/`308` from the introspection endpoint would resend the
    /// token (and, with `client_secret_post`, the secret) wherever it points. tollgate refuses
    /// keys and introspection answers that come from another origin, but cannot unsend them.
    pub fn http_client(mut self, client: reqwest::Client) -> Self {
        self.http_client = Some(client);
        self
    }

    /// Accept plain `http://` JWKS and introspection endpoints, configured or discovered, under
    /// an `https://` issuer, on any host.
    ///
    /// Defaults to false: under an issuer that is not plain http, these endpoints must use
    /// `https`, except on loopback hosts (`localhost`, `127.0.0.0/8`, `::1`), and `build()`
    /// refuses others (a discovered one is not used, and an ERROR says why).
    ///
    /// **Weakens security**: over plain http anyone on the network path can replace the signing
    /// keys (and so mint tokens tollgate accepts), and read every token, and the client secret,
    /// sent to introspection (RFC 7662 §4 requires TLS). For a TLS-terminating sidecar on a
    /// private network at most.
    pub fn allow_insecure_endpoints(mut self, allow: bool) -> Self {
        self.allow_insecure_endpoints = allow;
        self
    }

    /// The `realm` of `WWW-Authenticate` challenges. Defaults to none (the parameter is
    /// omitted).
    pub fn realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// Tokens longer than this are refused before any decoding. Defaults to 8 KiB.
    pub fn max_token_bytes(mut self, bytes: usize) -> Self {
        self.max_token_bytes = bytes;
        self
    }

    /// At most this many tokens in the verified-token cache, which lets a repeated token skip
    /// signature and parsing until it expires. Defaults to 10 000; zero caches nothing.
    ///
    /// The cache is also bounded in bytes by
    /// [`verified_cache_max_bytes`](Self::verified_cache_max_bytes), whichever bound is met
    /// first: each entry is weighed at least `max_bytes / capacity`.
    pub fn verified_cache_capacity(mut self, entries: u64) -> Self {
        self.verified_cache_capacity = entries;
        self
    }

    /// At most this many bytes in the verified-token cache, by an estimate of each entry: the
    /// parsed claims (every string, array and member), the fields taken from them, and the
    /// cache's own bookkeeping. Defaults to 32 MiB; zero caches nothing.
    ///
    /// Bounds the memory a flood of large distinct tokens can take: with 8 KiB tokens
    /// ([`max_token_bytes`](Self::max_token_bytes)), 10 000 entries could otherwise hold
    /// hundreds of MiB of claims.
    pub fn verified_cache_max_bytes(mut self, bytes: u64) -> Self {
        self.verified_cache_max_bytes = bytes;
        self
    }

    /// How often the JWKS is refreshed when its response has no `Cache-Control: max-age`.
    /// Defaults to 5 minutes.
    pub fn jwks_refresh_interval(mut self, interval: Duration) -> Self {
        self.jwks_refresh = interval;
        self
    }

    /// Bounds for a JWKS `Cache-Control: max-age`. Defaults to 30 seconds and 24 hours.
    pub fn jwks_refresh_bounds(mut self, min: Duration, max: Duration) -> Self {
        self.jwks_refresh_bounds = (min, max);
        self
    }

    /// At most one JWKS refetch per this period is caused by tokens with unknown `kid`s.
    /// Defaults to 15 seconds; at least 1 second, or a flood of made-up `kid`s would cost the
    /// authorization server one JWKS request per fetch time.
    pub fn unknown_kid_cooldown(mut self, cooldown: Duration) -> Self {
        self.unknown_kid_cooldown = cooldown;
        self
    }

    /// How long the last good key set is used while refreshes fail; after that, 503.
    /// Defaults to 24 hours.
    pub fn max_stale_keys(mut self, max_stale: Duration) -> Self {
        self.max_stale = max_stale;
        self
    }

    /// Timeout of one discovery or JWKS fetch. Defaults to 5 seconds.
    pub fn fetch_timeout(mut self, timeout: Duration) -> Self {
        self.fetch_timeout = timeout;
        self
    }

    /// Enables introspection (RFC 7662) for sensitive routes and opaque tokens.
    pub fn introspection(mut self, introspection: Introspection) -> Self {
        self.introspection = Some(introspection);
        self
    }

    /// Whether tokens that are not JWTs are checked by introspection (when it is configured).
    /// Defaults to true; when false they are refused with 401.
    pub fn accept_opaque_tokens(mut self, accept: bool) -> Self {
        self.accept_opaque = accept;
        self
    }

    /// Whether encrypted tokens (compact JWE, RFC 7516 §7.1: five segments) are sent to
    /// introspection, where they are handled as opaque tokens.
    ///
    /// Defaults to false: a JWE is refused with 401 `invalid_token` ("encrypted tokens are not
    /// accepted here") before any introspection call, at no cost to the authorization server.
    /// tollgate cannot decrypt a JWE, and many servers cannot introspect one either (they answer
    /// `unsupported_token_type`). Turn it on for an AS that issues encrypted access tokens and
    /// introspects them; it needs [`introspection`](Self::introspection), and applies whatever
    /// [`accept_opaque_tokens`](Self::accept_opaque_tokens) says. The answer is then held to
    /// the rules for opaque tokens (an access token, this API's audience).
    pub fn introspect_encrypted_tokens(mut self, introspect: bool) -> Self {
        self.introspect_encrypted = introspect;
        self
    }

    /// The freshness budget of [`Tollgate::sensitive`] route annotations. Defaults to zero:
    /// every request asks the authorization server.
    pub fn sensitive_freshness(mut self, freshness: Duration) -> Self {
        self.sensitive_freshness = freshness;
        self
    }

    /// Replaces the body of rejection responses. Status, `WWW-Authenticate` and `Retry-After`
    /// stay tollgate's; the [`Rejection`] says why.
    pub fn rejection_body<F>(mut self, hook: F) -> Self
    where
        F: Fn(&Rejection) -> RejectionBody + Send + Sync + 'static,
    {
        self.body_hook = Some(Arc::new(hook));
        self
    }

    /// Checks the configuration and builds the engine. Key loading starts in the background
    /// at once when called inside a tokio runtime, otherwise on first use.
    ///
    /// # Errors
    /// A [`ConfigError`] naming the first problem found.
    pub fn build(self) -> Result<Tollgate, ConfigError> {
        let issuer = self
            .issuer
            .ok_or_else(|| ConfigError::new(ConfigErrorKind::Missing, "an issuer is required"))?;
        let url_rules = UrlRules::new(&issuer, self.allow_insecure_endpoints);
        // With a secret the issuer is only compared with `iss`: nothing is fetched from it.
        if self.hmac_secret.is_none() {
            url_rules
                .check(&issuer, UrlRole::Issuer)
                .map_err(|e| e.config_error())?;
        }
        if let Some(uri) = &self.jwks_uri {
            url_rules
                .check(uri, UrlRole::JwksUri)
                .map_err(|e| e.config_error())?;
        }
        if let Some(introspection) = &self.introspection {
            introspection.validate(&url_rules)?;
            // Only discovery finds an endpoint that is not configured. Without one, sensitive
            // routes would answer 503 for good.
            if introspection.configured_endpoint().is_none()
                && (self.hmac_secret.is_some() || self.jwks_uri.is_some())
            {
                return Err(ConfigError::new(
                    ConfigErrorKind::Missing,
                    "introspection needs Introspection::endpoint when the keys come from a \
                     jwks_uri or an hmac_secret: no metadata is discovered to find it in",
                ));
            }
        }
        if self.audiences.is_empty() || self.audiences.iter().any(String::is_empty) {
            return Err(ConfigError::new(
                ConfigErrorKind::Audience,
                "at least one non-empty audience is required",
            ));
        }
        if let Some(realm) = &self.realm
            && realm.bytes().any(|b| !(0x20..0x7f).contains(&b))
        {
            return Err(ConfigError::new(
                ConfigErrorKind::Realm,
                "the realm must be printable ASCII",
            ));
        }
        let algorithms = match (&self.algorithms, &self.hmac_secret) {
            (Some(algs), _) => algs.clone(),
            // The HMAC algorithms this secret is long enough for.
            (None, Some(secret)) => HMAC
                .into_iter()
                .filter(|alg| secret.len() >= hmac_min_len(*alg))
                .collect(),
            (None, None) => DEFAULT_ALGORITHMS.to_vec(),
        };
        if algorithms.is_empty() {
            return Err(ConfigError::new(
                ConfigErrorKind::Algorithms,
                "the algorithm allowlist is empty",
            ));
        }
        let has_hmac = algorithms.iter().any(|a| HMAC.contains(a));
        match (&self.hmac_secret, has_hmac) {
            (None, true) => {
                return Err(ConfigError::new(
                    ConfigErrorKind::Algorithms,
                    "HMAC algorithms need an explicit hmac_secret",
                ));
            }
            (Some(_), _) if algorithms.iter().any(|a| !HMAC.contains(a)) => {
                return Err(ConfigError::new(
                    ConfigErrorKind::Algorithms,
                    "with an hmac_secret only HS256/HS384/HS512 can be accepted",
                ));
            }
            (Some(secret), _) if algorithms.iter().any(|a| secret.len() < hmac_min_len(*a)) => {
                return Err(ConfigError::new(
                    ConfigErrorKind::Algorithms,
                    "an HMAC secret must be at least as long as the hash output: 32 bytes for \
                     HS256, 48 for HS384, 64 for HS512 (RFC 7518 §3.2)",
                ));
            }
            _ => {}
        }
        let (min_refresh, max_refresh) = self.jwks_refresh_bounds;
        if min_refresh.is_zero()
            || min_refresh > max_refresh
            || self.fetch_timeout.is_zero()
            || self.max_token_bytes == 0
        {
            return Err(ConfigError::new(
                ConfigErrorKind::Bounds,
                "refresh bounds must satisfy 0 < min <= max, and timeouts and sizes must be non-zero",
            ));
        }
        // A zero cooldown would turn every made-up `kid` into a JWKS request.
        if self.unknown_kid_cooldown < Duration::from_secs(1) {
            return Err(ConfigError::new(
                ConfigErrorKind::Bounds,
                "the unknown-kid cooldown must be at least 1 second",
            ));
        }
        let leeway = i64::try_from(self.leeway.as_secs())
            .ok()
            .filter(|l| *l <= 3600)
            .ok_or_else(|| {
                ConfigError::new(
                    ConfigErrorKind::Bounds,
                    "the leeway must be at most one hour",
                )
            })?;

        let client = match self.http_client {
            Some(client) => client,
            None => default_client()?,
        };
        let source = match (self.hmac_secret, self.jwks_uri) {
            (Some(secret), _) => KeySource::Secret(secret),
            (None, Some(uri)) => KeySource::JwksUri(uri),
            (None, None) => KeySource::Discovery {
                issuer: issuer.clone(),
            },
        };
        let keys = KeySet::new(
            KeySetConfig {
                source,
                algorithms: algorithms.clone(),
                refresh_interval: self.jwks_refresh,
                min_refresh,
                max_refresh,
                unknown_kid_cooldown: self.unknown_kid_cooldown,
                max_stale: self.max_stale,
                max_body_bytes: 256 * 1024,
                fetch_timeout: self.fetch_timeout,
                url_rules,
                introspection_discovered: self
                    .introspection
                    .as_ref()
                    .is_some_and(|i| i.configured_endpoint().is_none()),
            },
            client.clone(),
        );
        let introspector = match self.introspection {
            None => None,
            Some(config) => {
                let endpoint = match config.configured_endpoint() {
                    Some(url) => EndpointSource::Fixed(url.to_owned()),
                    None => EndpointSource::Discovered(keys.clone()),
                };
                Some(Introspector::new(
                    config.leeway(self.leeway),
                    client,
                    endpoint,
                ))
            }
        };
        let verified = verified_cache(
            self.verified_cache_capacity,
            self.verified_cache_max_bytes,
            self.leeway,
        );
        keys.ensure_started();
        Ok(Tollgate {
            inner: Arc::new(Inner {
                rules: ClaimRules {
                    issuer,
                    audiences: self.audiences,
                    leeway,
                    allow_untyped: self.allow_untyped,
                    accept_scp: self.accept_scp,
                },
                algorithms,
                keys,
                verified,
                introspector,
                accept_opaque: self.accept_opaque,
                introspect_encrypted: self.introspect_encrypted,
                max_token_bytes: self.max_token_bytes,
                responder: Arc::new(Responder {
                    realm: self.realm,
                    body_hook: self.body_hook,
                }),
                sensitive_freshness: self.sensitive_freshness,
                typ_warned: AtomicBool::new(false),
                no_introspection_warned: AtomicBool::new(false),
            }),
        })
    }
}

/// RFC 7518 §3.2: a key of the same size as the hash output or larger.
fn hmac_min_len(alg: Algorithm) -> usize {
    match alg {
        Algorithm::HS384 => 48,
        Algorithm::HS512 => 64,
        _ => 32,
    }
}

fn default_client() -> Result<reqwest::Client, ConfigError> {
    reqwest::Client::builder()
        // Keys and answers come from the configured host only; a redirect elsewhere is not
        // followed (DESIGN §3).
        .redirect(reqwest::redirect::Policy::none())
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(http_client_error)
}

fn http_client_error(err: reqwest::Error) -> ConfigError {
    ConfigError::new(
        ConfigErrorKind::HttpClient,
        "the default HTTP client could not be built",
    )
    .with_source(err)
}

/// The verified-token cache, bounded by `max_entries` and by `max_bytes` of estimated size.
///
/// moka bounds one total weight: an entry weighs its estimated bytes, but at least
/// `max_bytes / max_entries`, so that the weight bound also keeps the entry count within
/// `max_entries`. The weigher runs once per insert (a newly verified token, after a signature
/// check that costs far more); hits do not weigh anything.
fn verified_cache(
    max_entries: u64,
    max_bytes: u64,
    leeway: Duration,
) -> moka::sync::Cache<crate::hash::TokenHash, Arc<TokenInfo>> {
    let builder = moka::sync::Cache::builder().expire_after(UntilExpiry { leeway });
    if max_entries == 0 || max_bytes == 0 {
        return builder.max_capacity(0).build();
    }
    let floor = u32::try_from(max_bytes / max_entries).unwrap_or(u32::MAX);
    builder
        .max_capacity(max_bytes)
        .weigher(move |_, info: &Arc<TokenInfo>| {
            u32::try_from(entry_bytes(info))
                .unwrap_or(u32::MAX)
                .max(floor)
        })
        .build()
}

/// The cache's own share of an entry: moka's entry and its bookkeeping (deque nodes, frequency
/// sketch, expiry timer wheel), the key (a 32-byte hash), and the `Arc`'s counts. An estimate
/// from moka's layout; the claims dominate for every real token.
const CACHE_ENTRY_OVERHEAD: usize = 256;

/// A `serde_json::Map` member beyond its key and value: the ordered map's node share.
const MAP_MEMBER_OVERHEAD: usize = 16;

/// The estimated heap and inline size of a cached verification.
fn entry_bytes(info: &TokenInfo) -> usize {
    use std::mem::size_of;
    let string = |s: &String| s.capacity();
    let optional = |s: &Option<String>| s.as_ref().map_or(0, string);
    let strings =
        |v: &Vec<String>| v.capacity() * size_of::<String>() + v.iter().map(string).sum::<usize>();
    CACHE_ENTRY_OVERHEAD
        + size_of::<TokenInfo>()
        + optional(&info.issuer)
        + optional(&info.subject)
        + optional(&info.client_id)
        + optional(&info.acr)
        + optional(&info.jti)
        + strings(&info.audiences)
        + strings(&info.amr)
        + info
            .scopes
            .iter()
            .map(|s| size_of::<String>() + s.len())
            .sum::<usize>()
        // The claims `Value` itself sits inside `TokenInfo`.
        + json_bytes(&info.claims)
        - size_of::<serde_json::Value>()
}

/// The estimated size of a JSON value: its own slot and everything it owns. Claims come from
/// serde_json, whose recursion limit (128) bounds the depth.
fn json_bytes(value: &serde_json::Value) -> usize {
    use serde_json::Value;
    use std::mem::size_of;
    size_of::<Value>()
        + match value {
            Value::String(s) => s.capacity(),
            Value::Array(items) => {
                (items.capacity() - items.len()) * size_of::<Value>()
                    + items.iter().map(json_bytes).sum::<usize>()
            }
            Value::Object(members) => members
                .iter()
                .map(|(name, value)| {
                    MAP_MEMBER_OVERHEAD + size_of::<String>() + name.capacity() + json_bytes(value)
                })
                .sum(),
            Value::Null | Value::Bool(_) | Value::Number(_) => 0,
        }
}

/// A verified token stays cached until it expires (plus leeway, so that an expired hit still
/// reaches the time check and gets the right answer).
struct UntilExpiry {
    leeway: Duration,
}

impl moka::Expiry<crate::hash::TokenHash, Arc<TokenInfo>> for UntilExpiry {
    fn expire_after_create(
        &self,
        _key: &crate::hash::TokenHash,
        value: &Arc<TokenInfo>,
        _created_at: std::time::Instant,
    ) -> Option<Duration> {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_secs());
        let exp = value
            .expires_at
            .and_then(|e| u64::try_from(e).ok())
            .unwrap_or(0);
        Some(Duration::from_secs(exp.saturating_sub(now)) + self.leeway)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kind(builder: TollgateBuilder) -> ConfigErrorKind {
        match builder.build() {
            Ok(_) => panic!("configuration should be refused"),
            Err(e) => {
                assert!(!e.to_string().is_empty());
                e.kind()
            }
        }
    }

    fn base() -> TollgateBuilder {
        Tollgate::builder()
            .issuer("https://as.test")
            .audience("api")
    }

    #[test]
    fn bad_configuration_fails_at_build_time() {
        assert_eq!(
            kind(Tollgate::builder().audience("api")),
            ConfigErrorKind::Missing
        );
        assert_eq!(
            kind(Tollgate::builder().issuer("as.test").audience("api")),
            ConfigErrorKind::InvalidUrl
        );
        assert_eq!(
            kind(Tollgate::builder().issuer("ftp://as.test").audience("api")),
            ConfigErrorKind::InvalidUrl
        );
        assert_eq!(
            kind(base().jwks_uri("not a url")),
            ConfigErrorKind::InvalidUrl
        );
        assert_eq!(
            kind(Tollgate::builder().issuer("https://as.test")),
            ConfigErrorKind::Audience
        );
        assert_eq!(kind(base().audience("")), ConfigErrorKind::Audience);
        assert_eq!(kind(base().algorithms([])), ConfigErrorKind::Algorithms);
        assert_eq!(
            kind(base().algorithms([Algorithm::HS256])),
            ConfigErrorKind::Algorithms
        );
        assert_eq!(
            kind(base().hmac_secret(vec![7u8; 16])),
            ConfigErrorKind::Algorithms
        );
        assert_eq!(
            kind(
                base()
                    .hmac_secret(vec![7u8; 32])
                    .algorithms([Algorithm::RS256])
            ),
            ConfigErrorKind::Algorithms
        );
        assert_eq!(
            kind(base().leeway(Duration::from_secs(7200))),
            ConfigErrorKind::Bounds
        );
        assert_eq!(
            kind(base().jwks_refresh_bounds(Duration::from_secs(60), Duration::from_secs(30))),
            ConfigErrorKind::Bounds
        );
        assert_eq!(kind(base().max_token_bytes(0)), ConfigErrorKind::Bounds);
    }

    #[test]
    fn an_issuer_with_a_query_or_fragment_fails_at_build_time() {
        // RFC 8414 §2: no query, no fragment. Discovery could never find its metadata, so
        // such an issuer used to build and answer 503 forever.
        for issuer in [
            "https://as.test/?tenant=1",
            "https://as.test/realms/x?x=1",
            "https://as.test/#f",
            "https://user:pw@as.test",
        ] {
            assert_eq!(
                kind(Tollgate::builder().issuer(issuer).audience("api")),
                ConfigErrorKind::InvalidUrl,
                "{issuer}"
            );
        }
        // The same with a JWKS URI: the issuer is still an RFC 8414 issuer identifier.
        assert_eq!(
            kind(
                Tollgate::builder()
                    .issuer("https://as.test?x=1")
                    .audience("api")
                    .jwks_uri("https://as.test/jwks")
            ),
            ConfigErrorKind::InvalidUrl
        );
    }

    #[test]
    fn plain_http_endpoints_under_an_https_issuer_fail_at_build_time() {
        let introspection =
            |url: &str| Introspection::client_secret_basic("api", "secret").endpoint(url);
        assert_eq!(
            kind(base().jwks_uri("http://as.test/jwks")),
            ConfigErrorKind::InvalidUrl
        );
        assert_eq!(
            kind(base().introspection(introspection("http://as.test/introspect"))),
            ConfigErrorKind::InvalidUrl
        );
        assert_eq!(
            kind(base().jwks_uri("https://user@as.test/jwks")),
            ConfigErrorKind::InvalidUrl
        );
        // Loopback is the same machine: nobody on a path can rewrite it.
        for url in [
            "http://127.0.0.1:8080/jwks",
            "http://127.1.2.3/jwks",
            "http://[::1]:9000/jwks",
            "http://localhost/jwks",
        ] {
            assert!(base().jwks_uri(url).build().is_ok(), "{url}");
        }
        assert!(
            base()
                .jwks_uri("https://as.test/jwks")
                .introspection(introspection("http://localhost:8081/introspect"))
                .build()
                .is_ok()
        );
        // The switch accepts plain http anywhere (and says it weakens security).
        assert!(
            base()
                .allow_insecure_endpoints(true)
                .jwks_uri("http://as.test/jwks")
                .introspection(introspection("http://as.test/introspect"))
                .build()
                .is_ok()
        );
        // It does not relax the other rules.
        assert_eq!(
            kind(
                base()
                    .allow_insecure_endpoints(true)
                    .jwks_uri("http://user:pw@as.test/jwks")
            ),
            ConfigErrorKind::InvalidUrl
        );
        // A plain-http issuer chose plain http for everything.
        assert!(
            Tollgate::builder()
                .issuer("http://as.test")
                .audience("api")
                .jwks_uri("http://as.test/jwks")
                .introspection(introspection("http://as.test/introspect"))
                .build()
                .is_ok()
        );
    }

    #[test]
    fn a_zero_unknown_kid_cooldown_fails_at_build_time() {
        for cooldown in [Duration::ZERO, Duration::from_millis(999)] {
            assert_eq!(
                kind(base().unknown_kid_cooldown(cooldown)),
                ConfigErrorKind::Bounds,
                "{cooldown:?}"
            );
        }
        assert!(
            base()
                .unknown_kid_cooldown(Duration::from_secs(1))
                .build()
                .is_ok()
        );
    }

    #[test]
    fn introspection_without_an_endpoint_needs_discovery() {
        // With a JWKS URI or a secret nothing is discovered: the endpoint could never be
        // found, sensitive routes would answer 503 forever, and fail-open ones stay open.
        let introspection = || Introspection::client_secret_basic("api", "secret");
        assert_eq!(
            kind(
                base()
                    .jwks_uri("https://as.test/jwks")
                    .introspection(introspection())
            ),
            ConfigErrorKind::Missing
        );
        assert_eq!(
            kind(
                base()
                    .hmac_secret(vec![7u8; 32])
                    .introspection(introspection())
            ),
            ConfigErrorKind::Missing
        );
        assert!(base().introspection(introspection()).build().is_ok());
    }

    #[test]
    fn error_kinds_name_the_mistake() {
        assert_eq!(kind(base().realm("bad\nrealm")), ConfigErrorKind::Realm);
        assert_eq!(kind(base().realm("tab\there")), ConfigErrorKind::Realm);
        assert_eq!(kind(base().realm("caf\u{e9}")), ConfigErrorKind::Realm);
        for introspection in [
            Introspection::client_secret_basic("", "secret"),
            Introspection::client_secret_post("api", ""),
            Introspection::bearer(""),
            Introspection::bearer("bad\ncredential"),
        ] {
            assert_eq!(
                kind(base().introspection(introspection)),
                ConfigErrorKind::Credentials
            );
        }
    }

    #[test]
    fn the_http_client_error_keeps_its_source() {
        use std::error::Error as _;
        // Any reqwest error will do: a request to a URL that does not parse.
        let cause = reqwest::Client::new().get("not a url").build().unwrap_err();
        let text = cause.to_string();
        let error = http_client_error(cause);
        assert_eq!(error.kind(), ConfigErrorKind::HttpClient);
        let source = error.source().expect("the cause is kept");
        assert_eq!(source.to_string(), text);
        assert!(source.downcast_ref::<reqwest::Error>().is_some());
        // Still `Clone`, and the clone keeps it too.
        assert!(error.clone().source().is_some());
    }

    /// An HS256 token of `base()`'s issuer and audience, with `filler` bytes of extra claims.
    fn hs256(secret: &[u8], jti: &str, filler: usize) -> String {
        use aws_lc_rs::hmac;
        use base64::Engine as _;
        use base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        let claims = serde_json::json!({
            "iss": "https://as.test", "aud": "api", "sub": "s", "client_id": "c", "jti": jti,
            "iat": now, "exp": now + 600, "filler": "f".repeat(filler),
        });
        let mut token = URL_SAFE_NO_PAD.encode(br#"{"alg":"HS256","typ":"at+jwt"}"#);
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(claims.to_string()));
        let tag = hmac::sign(&hmac::Key::new(hmac::HMAC_SHA256, secret), token.as_bytes());
        token.push('.');
        token.push_str(&URL_SAFE_NO_PAD.encode(tag.as_ref()));
        token
    }

    #[tokio::test]
    async fn the_verified_cache_is_bounded_by_bytes_not_only_by_entries() {
        // 12 000 distinct tokens with 4 KiB of claims each, through the default cache: bounded
        // by entries alone it would keep 10 000 of them, over 40 MiB of claims, though a
        // typical entry is a tenth of that.
        const FILLER: usize = 4096;
        let secret = [7u8; 32];
        let gate = base().hmac_secret(secret.to_vec()).build().unwrap();
        for i in 0..12_000 {
            let token = hs256(&secret, &format!("flood-{i}"), FILLER);
            assert!(gate.validate(&token).await.is_ok(), "token {i}");
        }
        let cache = &gate.inner.verified;
        cache.run_pending_tasks();
        let (entries, weight) = (cache.entry_count(), cache.weighted_size());
        assert!(entries > 0);
        assert!(
            weight <= 32 << 20,
            "{weight} bytes weighed in a cache of 32 MiB"
        );
        assert!(
            entries * FILLER as u64 <= 32 << 20,
            "{entries} entries of over {FILLER} bytes each in a cache of 32 MiB"
        );
    }

    #[tokio::test]
    async fn both_cache_bounds_hold_and_entries_are_weighed_by_their_claims() {
        let secret = [7u8; 32];
        let cached = |gate: &Tollgate| {
            gate.inner.verified.run_pending_tasks();
            (
                gate.inner.verified.entry_count(),
                gate.inner.verified.weighted_size(),
            )
        };
        // The byte bound: 1 MiB holds at most 256 entries of 4 KiB of claims.
        let gate = base()
            .hmac_secret(secret.to_vec())
            .verified_cache_max_bytes(1 << 20)
            .build()
            .unwrap();
        for i in 0..1_000 {
            assert!(
                gate.validate(&hs256(&secret, &format!("b{i}"), 4096))
                    .await
                    .is_ok()
            );
        }
        let (entries, weight) = cached(&gate);
        assert!(entries > 0 && entries <= 256, "{entries}");
        assert!(weight <= 1 << 20, "{weight}");
        // The entry bound, for small tokens: at most 100 of them, whatever their size.
        let gate = base()
            .hmac_secret(secret.to_vec())
            .verified_cache_capacity(100)
            .build()
            .unwrap();
        for i in 0..1_000 {
            assert!(
                gate.validate(&hs256(&secret, &format!("e{i}"), 0))
                    .await
                    .is_ok()
            );
        }
        let (entries, _) = cached(&gate);
        assert!(entries > 0 && entries <= 100, "{entries}");
        // Zero of either caches nothing.
        for gate in [
            base()
                .hmac_secret(secret.to_vec())
                .verified_cache_capacity(0),
            base()
                .hmac_secret(secret.to_vec())
                .verified_cache_max_bytes(0),
        ] {
            let gate = gate.build().unwrap();
            assert!(gate.validate(&hs256(&secret, "z", 0)).await.is_ok());
            assert_eq!(cached(&gate).0, 0);
        }
        // The estimate follows the claims: a small token weighs about a kilobyte, 4 KiB more
        // of claims about 4 KiB more.
        let mut weights = Vec::new();
        for filler in [0, 4096] {
            let gate = base().hmac_secret(secret.to_vec()).build().unwrap();
            assert!(gate.validate(&hs256(&secret, "w", filler)).await.is_ok());
            let (_, info) = gate.inner.verified.iter().next().expect("one entry");
            weights.push(entry_bytes(&info));
        }
        let (small, large) = (weights[0], weights[1]);
        assert!((512..=2048).contains(&small), "{small}");
        assert!(
            (4096..=4096 + 512).contains(&(large - small)),
            "{small} {large}"
        );
    }

    #[test]
    fn good_configurations_build_without_a_runtime() {
        assert!(base().build().is_ok());
        assert!(base().jwks_uri("https://as.test/jwks").build().is_ok());
        assert!(base().hmac_secret(vec![7u8; 32]).build().is_ok());
        assert_eq!(
            kind(
                base()
                    .hmac_secret(vec![7u8; 32])
                    .algorithms([Algorithm::HS512])
            ),
            ConfigErrorKind::Algorithms
        );
        assert!(
            base()
                .hmac_secret(vec![7u8; 64])
                .algorithms([Algorithm::HS512])
                .build()
                .is_ok()
        );
        assert!(
            base()
                .introspection(
                    Introspection::client_secret_post("api", "secret")
                        .endpoint("https://as.test/introspect")
                )
                .build()
                .is_ok()
        );
    }
}
