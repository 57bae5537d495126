//! [`TrustedIssuer`]: one authorization server whose tokens an engine accepts, with its own
//! keys, audiences, algorithms, narrow switches and introspection client.

use crate::alg::Algorithm;
use crate::claims::{
    AudiencePolicy, ClaimPath, ClientIdClaim, JtiPolicy, ScopeSource, ScopeSources, Switches,
};
use crate::dpop::SenderConstraint;
use crate::introspection::config::Introspection;

use super::profile::{Profile, Quirks};

/// One authorization server an engine trusts, added with
/// [`TollgateBuilder::trust`](crate::TollgateBuilder::trust).
///
/// An engine may trust several: a token's unverified `iss` chooses which one's rules and keys
/// apply (RFC 8725 §3.8), and it is then verified with that issuer's keys only. A token whose
/// `iss` names none of them, or that has no `iss`, is refused with 401 `invalid_token` before
/// any key is fetched.
///
/// Each issuer has its own key source (discovery, a discovery URL, or a JWKS URI), audiences,
/// algorithm allowlist, introspection client and key set, and its own narrow switches: the
/// relaxations of RFC 9068 its tokens need, one by one or through a [`Profile`]. The defaults
/// are strict RFC 9068, as for the builder's own issuer. Every switch that weakens security
/// says so, and what it weakens.
///
/// ```
/// use tollgate::{Introspection, Profile, Tollgate, TrustedIssuer};
///
/// let gate = Tollgate::builder()
///     // A Keycloak realm, with introspection for sensitive routes.
///     .trust(
///         TrustedIssuer::new("https://sso.example.com/realms/shop")
///             .profile(Profile::keycloak())
///             .audience("shop-api")
///             .introspection(Introspection::client_secret_basic("shop-api", "s3cret")),
///     )
///     // A partner's Entra ID tenants, multi-tenant metadata.
///     .trust(
///         TrustedIssuer::new("https://login.microsoftonline.com/{tenantid}/v2.0")
///             .profile(Profile::entra_v2())
///             .discovery_url(
///                 "https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration",
///             )
///             .tenants(["9188040d-6c67-4c5b-b112-36a304b66dad"])
///             .audience("6e74172b-be56-4843-9ff4-e66a39bb12e3"),
///     )
///     .build()
///     .expect("valid configuration");
/// # drop(gate);
/// ```
#[must_use]
#[derive(Clone)]
pub struct TrustedIssuer {
    pub(crate) issuer: String,
    pub(crate) discovery_url: Option<String>,
    pub(crate) jwks_uri: Option<String>,
    pub(crate) hmac_secret: Option<Vec<u8>>,
    pub(crate) audiences: Vec<String>,
    pub(crate) algorithms: Option<Vec<Algorithm>>,
    pub(crate) introspection: Option<Introspection>,
    pub(crate) opaque_tokens: bool,
    pub(crate) tenants: Vec<String>,
    pub(crate) any_tenant: bool,
    pub(crate) switches: Switches,
    pub(crate) quirks: Quirks,
    pub(crate) profile: &'static str,
    pub(crate) sender: Option<SenderConstraint>,
}

impl std::fmt::Debug for TrustedIssuer {
    // Hand-written: an HMAC secret never reaches Debug output (the introspection client's own
    // Debug hides its secret).
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TrustedIssuer")
            .field("issuer", &self.issuer)
            .field("profile", &self.profile)
            .field("audiences", &self.audiences)
            .field("discovery_url", &self.discovery_url)
            .field("jwks_uri", &self.jwks_uri)
            .field(
                "hmac_secret",
                &self.hmac_secret.as_ref().map(|_| "<redacted>"),
            )
            .field("algorithms", &self.algorithms)
            .field("introspection", &self.introspection)
            .field("opaque_tokens", &self.opaque_tokens)
            .field("tenants", &self.tenants)
            .field("any_tenant", &self.any_tenant)
            .field("sender", &self.sender)
            .finish_non_exhaustive()
    }
}

impl TrustedIssuer {
    /// The issuer identifier its tokens carry in `iss`, compared exactly (RFC 9068 §4 step 3).
    ///
    /// An absolute `https` (or `http`) URL with a host, without user info, query or fragment
    /// (RFC 8414 §2); with an [`hmac_secret`](Self::hmac_secret), any string. Unless
    /// [`discovery_url`](Self::discovery_url) or [`jwks_uri`](Self::jwks_uri) is set, its keys
    /// are found through its metadata (RFC 8414, then OpenID discovery, or the order its
    /// profile says), whose `issuer` must equal it.
    ///
    /// A template: an issuer holding `{tenantid}` once, such as Entra ID's
    /// `https://login.microsoftonline.com/{tenantid}/v2.0`, names one issuer per tenant; a
    /// token's `iss` matches it with a tenant of [`tenants`](Self::tenants) (or any, with
    /// [`any_tenant`](Self::any_tenant)) in place of the placeholder, a tenant being one path
    /// segment of letters, digits, `-`, `_` and `.`. A template needs `tenants` or
    /// `any_tenant`, and a [`discovery_url`](Self::discovery_url) or a
    /// [`jwks_uri`](Self::jwks_uri): no metadata URL can be derived from it.
    pub fn new(issuer: impl Into<String>) -> Self {
        Self {
            issuer: issuer.into(),
            discovery_url: None,
            jwks_uri: None,
            hmac_secret: None,
            audiences: Vec::new(),
            algorithms: None,
            introspection: None,
            opaque_tokens: false,
            tenants: Vec::new(),
            any_tenant: false,
            switches: Switches::default(),
            quirks: Quirks::default(),
            profile: "strict",
            sender: None,
        }
    }

    /// Applies a [`Profile`]: its narrow switches replace every one set before, except
    /// [`allowed_clients`](Self::allowed_clients), which no profile sets; switches set after
    /// it refine it. Defaults to [`Profile::strict`].
    pub fn profile(mut self, profile: Profile) -> Self {
        let allowed = std::mem::take(&mut self.switches.allowed_clients);
        self.profile = profile.name();
        self.switches = profile.switches;
        self.switches.allowed_clients = allowed;
        self.quirks = profile.quirks;
        self
    }

    /// Fetch the metadata from this URL, and only from it, instead of the URLs derived from
    /// the issuer. Its `issuer` must still equal the configured issuer exactly (a template's
    /// metadata holds the template itself: Entra ID's multi-tenant documents do).
    ///
    /// Same URL rules as [`jwks_uri`](Self::jwks_uri).
    pub fn discovery_url(mut self, url: impl Into<String>) -> Self {
        self.discovery_url = Some(url.into());
        self
    }

    /// Fetch the keys from this JWKS URI instead of discovering it. Introspection then needs
    /// an explicit [`Introspection::endpoint`].
    ///
    /// An absolute URL with a host and without user info; `https` unless the issuer is plain
    /// http, the host is loopback, or
    /// [`allow_insecure_endpoints`](crate::TollgateBuilder::allow_insecure_endpoints) is on.
    pub fn jwks_uri(mut self, uri: impl Into<String>) -> Self {
        self.jwks_uri = Some(uri.into());
        self
    }

    /// Verify HS256/384/512 tokens of this issuer with a shared secret instead of fetching
    /// keys. No profile sets it.
    ///
    /// **Weakens security** compared to asymmetric keys: anyone holding the secret can mint
    /// tokens. Only HMAC algorithms are then accepted.
    pub fn hmac_secret(mut self, secret: impl Into<Vec<u8>>) -> Self {
        self.hmac_secret = Some(secret.into());
        self
    }

    /// An audience this API answers to at this issuer: `aud` must contain one of them. Required
    /// (may be called more than once), unless the [`audience_policy`](Self::audience_policy)
    /// lets an allowed client stand in for it.
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

    /// The accepted signing algorithms of this issuer. Defaults to RS256/384/512,
    /// PS256/384/512, ES256/384 and EdDSA; HMAC algorithms only with
    /// [`hmac_secret`](Self::hmac_secret). `none` can never be accepted.
    pub fn algorithms(mut self, algorithms: impl IntoIterator<Item = Algorithm>) -> Self {
        self.algorithms = Some(algorithms.into_iter().collect());
        self
    }

    /// Enables introspection (RFC 7662) at this issuer, for its tokens on sensitive routes (and
    /// for opaque tokens, when they go to it: [`opaque_tokens`](Self::opaque_tokens)).
    pub fn introspection(mut self, introspection: Introspection) -> Self {
        self.introspection = Some(introspection);
        self
    }

    /// Opaque (non-JWT) tokens go to this issuer's introspection: they carry no `iss`, so one
    /// issuer is designated for them. At most one issuer may be; it needs
    /// [`introspection`](Self::introspection).
    ///
    /// Without a designation, opaque tokens go to the only issuer with introspection, when
    /// exactly one has it, and are refused (401) otherwise.
    pub fn opaque_tokens(mut self) -> Self {
        self.opaque_tokens = true;
        self
    }

    /// The tenants a template issuer accepts (exact, case-sensitive), added to those given
    /// before. Only for a template issuer (see [`new`](Self::new)).
    pub fn tenants<I, S>(mut self, tenants: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.tenants.extend(tenants.into_iter().map(Into::into));
        self
    }

    /// A template issuer accepts every tenant. Only for a template issuer.
    ///
    /// **Weakens security**: anyone can create a tenant at a multi-tenant provider, so any
    /// tenant's users and applications can obtain tokens this API accepts; the audience then
    /// is the only thing that keeps them out, and your code must decide which tenants (`tid`)
    /// it serves.
    pub fn any_tenant(mut self) -> Self {
        self.any_tenant = true;
        self
    }

    /// Accept `typ: JWT` in the JOSE header besides `at+jwt` (RFC 9068 §2.1). Defaults to
    /// false.
    ///
    /// **Weakens security**: `typ` is what tells an access token from the issuer's other JWTs
    /// (ID tokens, logout tokens). While it is relaxed, tokens carrying `nonce` or `at_hash`
    /// are refused as ID tokens; where the issuer's ID tokens can lack both and have this API
    /// as audience, add a discriminator ([`require_claim`](Self::require_claim),
    /// [`forbid_claim`](Self::forbid_claim)), as the profiles do.
    pub fn accept_typ_jwt(mut self, accept: bool) -> Self {
        self.switches.accept_typ_jwt = accept;
        self
    }

    /// Accept a JOSE header without `typ` (RFC 9068 §2.1 requires `at+jwt`). Defaults to
    /// false.
    ///
    /// **Weakens security** as [`accept_typ_jwt`](Self::accept_typ_jwt) does, with the same
    /// refusal of ID-token markers.
    pub fn accept_missing_typ(mut self, accept: bool) -> Self {
        self.switches.accept_missing_typ = accept;
        self
    }

    /// Where the client id is read, in order: the first of these claims that is present is
    /// [`Principal::client_id`](crate::Principal::client_id). Defaults to
    /// `[ClientIdClaim::ClientId]` (RFC 9068 §2.2); a token with none of them is refused
    /// unless the list holds [`ClientIdClaim::None`] (which **weakens security**, see there).
    /// Reading another claim weakens nothing by itself.
    pub fn client_id_claims(mut self, claims: impl IntoIterator<Item = ClientIdClaim>) -> Self {
        self.switches.client_id = claims.into_iter().collect();
        self
    }

    /// The forms the granted scopes may take (see [`ScopeSource`]). Defaults to
    /// `[ScopeSource::ScopeString]` (RFC 9068 §2.2.3). Weakens nothing: the strings are the
    /// same; roles and permissions are never scopes.
    pub fn scope_sources(mut self, sources: impl IntoIterator<Item = ScopeSource>) -> Self {
        self.switches.scopes = ScopeSources::of(sources);
        self
    }

    /// Read roles from this claim, added to those named before:
    /// [`Principal::roles`](crate::Principal::roles). A top-level name (`roles`,
    /// `cognito:groups`, `https://example.com/roles`) or, when no claim has that whole name, a
    /// dotted path into nested objects (`realm_access.roles`). The value may be an array of
    /// strings, a space-delimited string, or an object whose member names are the roles; any
    /// other value refuses the token. Defaults to none. Roles never grant a scope.
    pub fn roles_claim(mut self, path: impl Into<String>) -> Self {
        self.switches.roles.push(ClaimPath::new(path));
        self
    }

    /// Read permissions from this claim (`permissions` for Auth0), added to those named
    /// before: [`Principal::permissions`](crate::Principal::permissions). Named and read as
    /// [`roles_claim`](Self::roles_claim). Defaults to none.
    pub fn permissions_claim(mut self, path: impl Into<String>) -> Self {
        self.switches.permissions.push(ClaimPath::new(path));
        self
    }

    /// Whether `jti` is required, and where else it may be (see [`JtiPolicy`]). Defaults to
    /// [`JtiPolicy::Required`] (RFC 9068 §2.2); [`JtiPolicy::Optional`] **weakens security**.
    pub fn jti(mut self, policy: JtiPolicy) -> Self {
        self.switches.jti = policy;
        self
    }

    /// Whether `sub` is required (RFC 9068 §2.2). Defaults to true.
    ///
    /// **Weakens security** when false: a token without a subject says nobody in particular,
    /// and code that takes [`Principal::subject`](crate::Principal::subject) for the user
    /// must then handle `None`.
    pub fn require_subject(mut self, require: bool) -> Self {
        self.switches.require_subject = require;
        self
    }

    /// Whether `iat` is required (RFC 9068 §2.2). Defaults to true.
    ///
    /// **Weakens security** when false: a token without `iat` has no age, so
    /// [`Requirement::max_token_age`](crate::Requirement::max_token_age) refuses it rather than
    /// judging it.
    pub fn require_issued_at(mut self, require: bool) -> Self {
        self.switches.require_issued_at = require;
        self
    }

    /// What the audience check asks of `aud` (see [`AudiencePolicy`]). Defaults to
    /// [`AudiencePolicy::Contains`]; the others **weaken security** and need
    /// [`allowed_clients`](Self::allowed_clients).
    pub fn audience_policy(mut self, policy: AudiencePolicy) -> Self {
        self.switches.audience_policy = policy;
        self
    }

    /// Only tokens of these clients pass (their client id read as
    /// [`client_id_claims`](Self::client_id_claims) says), added to those given before,
    /// whatever their audience. Required by the relaxed audience policies, where the client
    /// stands in for an absent or empty `aud`. Defaults to none: any client.
    pub fn allowed_clients<I, S>(mut self, clients: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.switches
            .allowed_clients
            .extend(clients.into_iter().map(Into::into));
        self
    }

    /// A discriminator: the claim `name` must be a string equal to `value`, or the token is
    /// refused as not an access token (Cognito's `token_use: access`, Curity's
    /// `purpose: access_token`). Called again with the same `name`, it adds another accepted
    /// value (Keycloak's `typ` claim: `Bearer` or `DPoP`). Exact, case-sensitive comparison.
    pub fn require_claim(mut self, name: impl Into<String>, value: impl Into<String>) -> Self {
        self.switches.require_value(name.into(), value.into());
        self
    }

    /// A discriminator: the claim `name` must be present, whatever its value, or the token is
    /// refused as not an access token (authentik's `uid`).
    pub fn require_claim_present(mut self, name: impl Into<String>) -> Self {
        self.switches.required_present.push(name.into());
        self
    }

    /// A discriminator: a token carrying the claim `name` is refused as not an access token
    /// (ZITADEL's and Spring Authorization Server's ID tokens carry `azp`, their access tokens
    /// do not).
    pub fn forbid_claim(mut self, name: impl Into<String>) -> Self {
        self.switches.forbidden.push(name.into());
        self
    }

    /// How this issuer's tokens may be presented: [`SenderConstraint::BearerOnly`],
    /// [`SenderConstraint::DpopRequired`] or [`SenderConstraint::BearerOrDpop`]. A route's
    /// own constraint ([`Requirement::sender_constraint`](crate::Requirement::sender_constraint))
    /// applies too. Certificate-bound tokens always need their certificate, and DPoP-bound
    /// ones their proof, whatever this says.
    ///
    /// Defaults to `BearerOrDpop` when the engine has [`Dpop`](crate::Dpop) settings
    /// ([`TollgateBuilder::dpop`](crate::TollgateBuilder::dpop)), else `BearerOnly`; accepting
    /// DPoP without them is refused at build time.
    pub fn sender_constraint(mut self, constraint: SenderConstraint) -> Self {
        self.sender = Some(constraint);
        self
    }
}
