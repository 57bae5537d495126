//! Configuring a [`Tollgate`]: every setting and its default. `build.rs` checks them and builds
//! the engine, `issuer.rs` each trusted issuer.

mod build;
mod issuer;
mod revocation;
mod sender;

use std::sync::Arc;
use std::time::Duration;

use crate::alg::Algorithm;
use crate::engine::Tollgate;
use crate::introspection::config::Introspection;
use crate::issuer::TrustedIssuer;
use crate::rejection::{Rejection, RejectionBody};

/// Default for [`TollgateBuilder::verified_cache_capacity`].
const DEFAULT_VERIFIED_CACHE_ENTRIES: u64 = 10_000;
/// Default for [`TollgateBuilder::verified_cache_max_bytes`]: 32 MiB, room for the default
/// 10 000 entries at about 3 KiB each (a typical access token's claims, parsed, take 1 to
/// 2 KiB).
const DEFAULT_VERIFIED_CACHE_BYTES: u64 = 32 << 20;

/// Configures a [`Tollgate`]. Made by [`Tollgate::builder`].
///
/// Only the issuer and the audience are required; every other setting has a documented default.
///
/// The builder describes one issuer of its own ([`issuer`](Self::issuer),
/// [`audience`](Self::audience), [`jwks_uri`](Self::jwks_uri),
/// [`introspection`](Self::introspection), ...), and [`trust`](Self::trust) adds more, each
/// with its own keys, audiences and narrow switches. The other settings (caches, key refresh,
/// timeouts, the HTTP client, the realm) are the engine's, for every issuer.
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
    trusted: Vec<TrustedIssuer>,
    sender: sender::SenderSettings,
    shared_store: Option<Arc<dyn crate::store::SharedStore>>,
    share_answers: bool,
    longest_token_lifetime: Duration,
    revocation_rule_capacity: usize,
}

impl std::fmt::Debug for TollgateBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TollgateBuilder")
            .field("issuer", &self.issuer)
            .field("jwks_uri", &self.jwks_uri)
            .field("audiences", &self.audiences)
            .field("algorithms", &self.algorithms)
            .field("introspection", &self.introspection)
            .field("trusted", &self.trusted)
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
            trusted: Vec::new(),
            sender: sender::SenderSettings::default(),
            shared_store: None,
            share_answers: true,
            longest_token_lifetime: crate::rules::Lifetimes::default().longest,
            revocation_rule_capacity: crate::rules::DEFAULT_CAPACITY,
        }
    }
}

impl TollgateBuilder {
    /// Trusts one more authorization server, with its own key source, audiences, algorithms,
    /// introspection client and narrow switches (see [`TrustedIssuer`]). May be called more
    /// than once; the builder's own [`issuer`](Self::issuer), when set, comes first.
    ///
    /// A token's unverified `iss` chooses the issuer whose rules and keys apply (RFC 8725
    /// §3.8): exact names first, then templates in the order trusted. A token naming no trusted
    /// issuer is refused (401) without any key fetch or introspection call, and a key of one
    /// issuer never verifies a token that names another.
    pub fn trust(mut self, issuer: TrustedIssuer) -> Self {
        self.trusted.push(issuer);
        self
    }

    /// The authorization server's issuer identifier. Required unless [`trust`](Self::trust)
    /// adds an issuer: every token of it must carry it in `iss`, exactly, and unless
    /// [`jwks_uri`](Self::jwks_uri) is set, the keys are found through its metadata (RFC 8414
    /// first, then OpenID discovery; the metadata's `issuer` must equal this value exactly).
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

    /// Compatibility switch for the builder's own issuer: accept tokens with `typ: JWT` or no
    /// `typ`, and relax the RFC 9068 required claims (`sub`, `client_id`, `iat`, `jti`; `azp`
    /// stands in for `client_id`).
    ///
    /// A shorthand for these narrow switches of a [`TrustedIssuer`], which say more precisely
    /// what a server needs (its [`Profile`](crate::Profile) sets exactly those):
    /// [`accept_typ_jwt(true)`](TrustedIssuer::accept_typ_jwt),
    /// [`accept_missing_typ(true)`](TrustedIssuer::accept_missing_typ),
    /// [`client_id_claims([ClientId, Azp, None])`](TrustedIssuer::client_id_claims),
    /// [`jti(JtiPolicy::Optional)`](TrustedIssuer::jti),
    /// [`require_subject(false)`](TrustedIssuer::require_subject) and
    /// [`require_issued_at(false)`](TrustedIssuer::require_issued_at).
    ///
    /// **Weakens security**: without `typ`, an ID token could pass for an access token; tollgate
    /// still refuses tokens carrying `nonce` or `at_hash` and requires this API's audience. It
    /// also accepts tokens without a client id, subject, `iat` or `jti`.
    /// Defaults to off (strict RFC 9068).
    pub fn allow_untyped_tokens(mut self, allow: bool) -> Self {
        self.allow_untyped = allow;
        self
    }

    /// Compatibility switch for the builder's own issuer: read scopes from a `scp` claim (array
    /// or string) when `scope` is absent, and accept `scope` as an array. Defaults to off
    /// (RFC 9068 §2.2.3).
    ///
    /// A shorthand for [`TrustedIssuer::scope_sources`] with all four
    /// [`ScopeSource`](crate::ScopeSource)s.
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
}

#[cfg(test)]
mod tests;
