//! [`Profile`]: the narrow switches each common authorization server needs, named after it.

use crate::claims::{
    AudiencePolicy, ClaimPath, ClientIdClaim, JtiPolicy, ScopeSource, ScopeSources, Switches,
};

/// What an issuer's servers do that affects how its keys are found, beside its tokens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Quirks {
    /// Try OpenID discovery before RFC 8414 metadata: the server serves no RFC 8414 document
    /// at the inserted path, and trying it first costs a 404 at every discovery.
    pub(crate) openid_first: bool,
    /// Ignore the JWKS `Cache-Control` and refresh on `jwks_refresh_interval`: the server's
    /// header says nothing about its keys.
    pub(crate) ignore_jwks_cache_control: bool,
}

/// A preset of the narrow switches of a [`TrustedIssuer`](crate::TrustedIssuer) for one
/// authorization server product, plus what is known of how it publishes its keys.
///
/// Apply one with [`TrustedIssuer::profile`](crate::TrustedIssuer::profile); the switches set
/// after it refine it. Each profile relaxes only what that server's access tokens need, and its
/// documentation says what, why, and where the fact comes from; the README has the same as one
/// table. What every profile keeps:
///
/// - the signature, with the issuer's own keys and algorithm allowlist (asymmetric only: no
///   profile enables HMAC);
/// - the issuer (`iss` equal to the configured one, or a template with an allowed tenant);
/// - the expiry, and the other time checks;
/// - the audience, or, where the server's tokens have none (Cognito, Hydra), an allowlist of
///   clients standing in for it ([`allowed_clients`](crate::TrustedIssuer::allowed_clients),
///   which `build()` then requires);
/// - a way to tell an access token from the same server's ID tokens and refresh tokens: with a
///   relaxed `typ`, tokens with `nonce` or `at_hash` are refused, and where the server's ID
///   tokens can carry the same audience, the profile requires its access-token discriminator.
///
/// ```
/// use tollgate::{Profile, Tollgate, TrustedIssuer};
///
/// let gate = Tollgate::builder()
///     .trust(
///         TrustedIssuer::new("https://sso.example.com/realms/shop")
///             .profile(Profile::keycloak())
///             .audience("shop-api"),
///     )
///     .build()
///     .expect("valid configuration");
/// # drop(gate);
/// assert_eq!(Profile::named("entra-v2").map(|p| p.name()), Some("entra-v2"));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Profile {
    name: &'static str,
    pub(crate) switches: Switches,
    pub(crate) quirks: Quirks,
}

impl Default for Profile {
    /// [`Profile::strict`].
    fn default() -> Self {
        Self::strict()
    }
}

/// The switches as strict RFC 9068 has them, and the name to give them.
fn base(name: &'static str) -> Profile {
    Profile {
        name,
        switches: Switches::default(),
        quirks: Quirks::default(),
    }
}

fn paths(names: &[&str]) -> Vec<ClaimPath> {
    names.iter().map(|name| ClaimPath::new(*name)).collect()
}

impl Profile {
    /// The names of every profile, as [`name`](Self::name) spells them and
    /// [`named`](Self::named) takes them.
    pub const NAMES: [&'static str; 13] = [
        "strict",
        "keycloak",
        "entra-v1",
        "entra-v2",
        "auth0",
        "okta",
        "cognito",
        "hydra",
        "zitadel",
        "authentik",
        "curity",
        "spring-authorization-server",
        "oidc-provider",
    ];

    /// The profile called `name` (one of [`NAMES`](Self::NAMES)), if there is one.
    pub fn named(name: &str) -> Option<Self> {
        Some(match name {
            "strict" => Self::strict(),
            "keycloak" => Self::keycloak(),
            "entra-v1" => Self::entra_v1(),
            "entra-v2" => Self::entra_v2(),
            "auth0" => Self::auth0(),
            "okta" => Self::okta(),
            "cognito" => Self::cognito(),
            "hydra" => Self::hydra(),
            "zitadel" => Self::zitadel(),
            "authentik" => Self::authentik(),
            "curity" => Self::curity(),
            "spring-authorization-server" => Self::spring_authorization_server(),
            "oidc-provider" => Self::oidc_provider(),
            _ => return None,
        })
    }

    /// The profile's name, in kebab case (`entra-v2`): one of [`NAMES`](Self::NAMES).
    pub fn name(&self) -> &'static str {
        self.name
    }

    /// The audience policy the profile sets: [`AudiencePolicy::Contains`] but for Cognito's
    /// (no `aud`) and Hydra's (`aud: []`), which need
    /// [`allowed_clients`](crate::TrustedIssuer::allowed_clients).
    pub fn audience_policy(&self) -> AudiencePolicy {
        self.switches.audience_policy
    }

    /// Strict RFC 9068, the default: `typ: at+jwt`; `sub`, `client_id`, `iat`, `jti` and `exp`
    /// required; `scope` a space-delimited string; `aud` containing a configured audience.
    /// Relaxes nothing.
    pub fn strict() -> Self {
        base("strict")
    }

    /// Keycloak (realm issuer `https://host/realms/{realm}`, or `.../auth/realms/{realm}` on
    /// legacy distributions).
    ///
    /// - Accepts `typ: JWT`: Keycloak types every token `JWT`; `at+jwt` only with the per-client
    ///   option "Use at+jwt as access token header type" (26.2 and later), which passes
    ///   anyway.
    /// - Client id from `azp`, then `client_id` (service-account tokens carry both).
    /// - Roles from `realm_access.roles`; add `resource_access.{client}.roles` with
    ///   [`roles_claim`](crate::TrustedIssuer::roles_claim).
    /// - Requires the `typ` **claim** to be `Bearer` (or `bearer`, or `DPoP`): Keycloak's ID
    ///   tokens say `ID`, and its refresh tokens, JWTs too, say `Refresh` or `Offline`, so
    ///   neither passes a route, even with the same audience.
    /// - Audience: Keycloak adds this API only through an "Audience" protocol mapper
    ///   (otherwise `aud` is absent or `account`): configure one, and its value is this API's
    ///   audience.
    /// - Discovery tries OpenID first (Keycloak serves its OAuth metadata appended to the
    ///   realm, not at the RFC 8414 path); the JWKS `Cache-Control: no-cache` it answers is
    ///   ignored, in favour of the refresh interval.
    ///
    /// Sources: keycloak/keycloak `TokenManager.java` (`initToken`, `formatTokenType`,
    /// `generateIDToken`), `DefaultTokenManager.java`, `JWKSServerUtils.java`; issues
    /// keycloak/keycloak#36696 (at+jwt), #15216 (`no-cache`). Unconfirmed: with "lightweight
    /// access tokens", or without the `basic` client scope, `sub` is missing (then
    /// [`require_subject(false)`](crate::TrustedIssuer::require_subject)).
    pub fn keycloak() -> Self {
        let mut p = base("keycloak");
        let s = &mut p.switches;
        s.accept_typ_jwt = true;
        s.client_id = vec![ClientIdClaim::Azp, ClientIdClaim::ClientId];
        s.roles = paths(&["realm_access.roles"]);
        for value in ["Bearer", "bearer", "DPoP"] {
            s.require_value("typ".into(), value.into());
        }
        p.quirks = Quirks {
            openid_first: true,
            ignore_jwks_cache_control: true,
        };
        p
    }

    /// Microsoft Entra ID, v1.0 access tokens (the API's manifest has
    /// `accessTokenAcceptedVersion` `null` or `1`). Issuer `https://sts.windows.net/{tid}/`,
    /// with the trailing slash; for a multi-tenant API, the template
    /// `https://sts.windows.net/{tenantid}/` with [`tenants`](crate::TrustedIssuer::tenants).
    ///
    /// - Accepts `typ: JWT` (always sent).
    /// - Client id from `appid`.
    /// - Scopes from `scp`, a space-delimited string; roles from `roles` (app roles, and the
    ///   application permissions of client-credentials tokens, which have no `scp`).
    /// - `uti` stands in for `jti` (documented as equivalent).
    /// - Requires `ver` to be `1.0`.
    /// - Audience: `aud` is the API's App ID URI (`api://...`) or its client id GUID, depending
    ///   on how the client asked: configure both. ID tokens have the client's id as `aud` and
    ///   carry `nonce`, so they are refused.
    /// - Discovery: OpenID only; a key whose JWK names an `issuer` verifies only that issuer's
    ///   tokens (its `{tenantid}` replaced by the token's `tid`).
    ///
    /// Sources: MicrosoftDocs/entra-docs `docs/identity-platform/access-tokens.md` and
    /// `access-token-claims-reference.md`. Unconfirmed: the issuer of the multi-tenant v1.0
    /// metadata document.
    pub fn entra_v1() -> Self {
        let mut p = entra("entra-v1", ClientIdClaim::Appid);
        p.switches.require_value("ver".into(), "1.0".into());
        p
    }

    /// Microsoft Entra ID, v2.0 access tokens (`accessTokenAcceptedVersion: 2`). Issuer
    /// `https://login.microsoftonline.com/{tid}/v2.0`; for a multi-tenant API, the template
    /// `https://login.microsoftonline.com/{tenantid}/v2.0` with
    /// [`tenants`](crate::TrustedIssuer::tenants) (or, weakening,
    /// [`any_tenant`](crate::TrustedIssuer::any_tenant)) and the multi-tenant metadata
    /// `https://login.microsoftonline.com/common/v2.0/.well-known/openid-configuration` as
    /// [`discovery_url`](crate::TrustedIssuer::discovery_url), whose `issuer` is that template.
    ///
    /// - As [`entra_v1`](Self::entra_v1), except: client id from `azp`; requires `ver` to be
    ///   `2.0`; `aud` is always the API's client id GUID.
    ///
    /// Sources: as [`entra_v1`](Self::entra_v1); the per-key `issuer`: "Validate the signing
    /// key issuer" in `access-tokens.md`.
    pub fn entra_v2() -> Self {
        let mut p = entra("entra-v2", ClientIdClaim::Azp);
        p.switches.require_value("ver".into(), "2.0".into());
        p
    }

    /// Auth0, either access token profile. Issuer `https://{tenant}.auth0.com/` (or the custom
    /// domain), with the trailing slash.
    ///
    /// - Accepts `typ: JWT`: the default "Auth0" token profile; the "RFC 9068" profile sends
    ///   `at+jwt`, which passes anyway.
    /// - Client id from `azp` (Auth0 profile), then `client_id` (RFC 9068 profile).
    /// - Permissions from `permissions` (the RBAC dialects add it), apart from the scopes.
    /// - `jti` may be absent: the Auth0 profile has none. **Weakens security** (see
    ///   [`JtiPolicy::Optional`]); choose the RFC 9068 profile at Auth0 to keep it.
    /// - Audience: the API's Identifier. `aud` may also list `https://{tenant}/userinfo`. ID
    ///   tokens have the client's id as `aud` and carry `nonce`, so they are refused.
    ///
    /// Source: <https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles>.
    pub fn auth0() -> Self {
        let mut p = base("auth0");
        let s = &mut p.switches;
        s.accept_typ_jwt = true;
        s.client_id = vec![ClientIdClaim::Azp, ClientIdClaim::ClientId];
        s.permissions = paths(&["permissions"]);
        s.jti = JtiPolicy::Optional;
        p
    }

    /// Okta, custom authorization server: issuer `https://{domain}/oauth2/{authServerId}`
    /// (`.../oauth2/default` for the built-in one).
    ///
    /// - Accepts a header without `typ` (Okta sends `{"kid", "alg"}` only).
    /// - Client id from `cid`; ID tokens have none, so they are refused.
    /// - Scopes from `scp`, a JSON array; roles from `groups`, the name Okta's "groups claim"
    ///   is usually given (a claim the administrator adds: unconfirmed as a default).
    /// - Audience: the authorization server's "Audience" setting (`api://default`).
    /// - Discovery tries OpenID first.
    ///
    /// The org authorization server (issuer `https://{domain}`) issues tokens for Okta's own
    /// APIs, which Okta says are not to be validated locally: use a custom authorization
    /// server for your API, or introspection.
    ///
    /// Sources: okta/okta-developer-docs `docs/reference/api/oidc/index.md`; decoded tokens in
    /// <https://groups.google.com/g/rabbitmq-users/c/O3GdCKf8soM/m/ZsjMcizrAgAJ>;
    /// <https://www.npmjs.com/package/@okta/jwt-verifier> (org server).
    pub fn okta() -> Self {
        let mut p = base("okta");
        let s = &mut p.switches;
        s.accept_missing_typ = true;
        s.client_id = vec![ClientIdClaim::Cid];
        s.scopes = ScopeSources::of([ScopeSource::ScopeString, ScopeSource::ScpArray]);
        s.roles = paths(&["groups"]);
        p.quirks.openid_first = true;
        p
    }

    /// Amazon Cognito user pools: issuer
    /// `https://cognito-idp.{region}.amazonaws.com/{userPoolId}`.
    ///
    /// - Accepts a header without `typ` (Cognito sends `{"kid", "alg"}`).
    /// - Roles from `cognito:groups`.
    /// - **No `aud`** in access tokens: the audience policy is
    ///   [`AudiencePolicy::AbsentWithClientAllowlist`], so set the app client ids your API
    ///   accepts with [`allowed_clients`](crate::TrustedIssuer::allowed_clients) (`build()`
    ///   refuses the profile without them). **Weakens security**: see that policy.
    /// - Requires `token_use` to be `access`: Cognito's ID tokens say `id` (and have the
    ///   client as `aud`).
    /// - Discovery tries OpenID first. `kid`s are standard base64 (`+`, `/`, `=`): compared as
    ///   strings, as every `kid` is.
    ///
    /// Source: <https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html>.
    /// Unconfirmed: newer Cognito may add `aud` to machine-to-machine tokens (then it must
    /// name a configured audience).
    pub fn cognito() -> Self {
        let mut p = base("cognito");
        let s = &mut p.switches;
        s.accept_missing_typ = true;
        s.roles = paths(&["cognito:groups"]);
        s.audience_policy = AudiencePolicy::AbsentWithClientAllowlist;
        s.require_value("token_use".into(), "access".into());
        p.quirks.openid_first = true;
        p
    }

    /// Ory Hydra with the `jwt` access-token strategy (its default is opaque tokens: for those,
    /// configure introspection). Issuer exactly `urls.self.issuer` (by default the public URL
    /// with a trailing slash).
    ///
    /// - Accepts `typ: JWT` (fosite sets it on every token).
    /// - Scopes from `scp`, a JSON array (the default `scope_claim: list`), or `scope`, a string
    ///   (`scope_claim: string`).
    /// - Audience: when the client asked for an audience it was allowed, `aud` holds it, and
    ///   it must be a configured audience. Otherwise `aud` is `[]`: the policy is
    ///   [`AudiencePolicy::EmptyWithClientAllowlist`], so set the client ids your API accepts
    ///   with [`allowed_clients`](crate::TrustedIssuer::allowed_clients) (required by
    ///   `build()`). **Weakens security**: see that policy.
    /// - Refuses tokens with `rat`: Hydra's ID tokens carry it (with `at_hash`, refused too).
    ///
    /// Sources: ory/hydra `fosite/token/jwt/token.go`, `fosite/token/jwt/claims_jwt.go`,
    /// `oauth2/session.go`, `.schema/config.schema.json`.
    pub fn hydra() -> Self {
        let mut p = base("hydra");
        let s = &mut p.switches;
        s.accept_typ_jwt = true;
        s.scopes = ScopeSources::of([ScopeSource::ScopeString, ScopeSource::ScpArray]);
        s.audience_policy = AudiencePolicy::EmptyWithClientAllowlist;
        s.forbidden = vec!["rat".into()];
        p
    }

    /// ZITADEL, for applications whose "Auth Token Type" is JWT. Issuer: the instance's URL.
    ///
    /// - Accepts `typ: JWT`.
    /// - Roles from `urn:zitadel:iam:org:project:roles` (the role names are its members; with
    ///   "assert roles on access token"). The JWT has no scopes.
    /// - Audience: the API's project id (or its application's client id).
    /// - Refuses tokens with `azp`: ZITADEL's ID tokens have the same `aud` as its access
    ///   tokens, and only the ID tokens carry `azp` (and `at_hash`, refused too).
    /// - Discovery tries OpenID first.
    ///
    /// Sources: zitadel/zitadel `internal/api/oidc/token.go`; zitadel/oidc
    /// `pkg/oidc/token.go`. Unconfirmed: the roles claim name (from ZITADEL's docs).
    pub fn zitadel() -> Self {
        let mut p = base("zitadel");
        let s = &mut p.switches;
        s.accept_typ_jwt = true;
        s.roles = paths(&["urn:zitadel:iam:org:project:roles"]);
        s.forbidden = vec!["azp".into()];
        p.quirks.openid_first = true;
        p
    }

    /// authentik, OAuth2/OpenID provider. Issuer `https://{host}/application/o/{slug}/`, with
    /// the trailing slash (or `https://{host}/` in global issuer mode).
    ///
    /// - Accepts `typ: JWT`.
    /// - Client id from `azp`; the audience is the provider's client id, as in its ID tokens.
    /// - `jti` may be absent: authentik sends a `uid` instead. **Weakens security** (see
    ///   [`JtiPolicy::Optional`]).
    /// - Requires `uid`: the access token is the ID token plus `azp` and `uid`, and `uid` is
    ///   the only claim that tells them apart.
    /// - Discovery tries OpenID first.
    ///
    /// A provider without a signing key signs with HS256 keyed by the client secret and
    /// publishes an empty JWKS: no profile enables HMAC, so configure a signing key (RS256 or
    /// ES256) for the provider.
    ///
    /// Sources: goauthentik/authentik `authentik/providers/oauth2/models.py`,
    /// `id_token.py`, `views/jwks.py` (versions from 2022 to 2023). Unconfirmed: newer
    /// versions may add `scope` and change the access token; whether its access tokens can
    /// inherit `nonce` from the ID token (they would then be refused).
    pub fn authentik() -> Self {
        let mut p = base("authentik");
        let s = &mut p.switches;
        s.accept_typ_jwt = true;
        s.client_id = vec![ClientIdClaim::Azp];
        s.jti = JtiPolicy::Optional;
        s.required_present = vec!["uid".into()];
        p.quirks.openid_first = true;
        p
    }

    /// Curity Identity Server. Issuer: the token service's anonymous endpoint,
    /// `https://{host}/oauth/v2/oauth-anonymous`.
    ///
    /// - Accepts `typ: JWT` and a header without `typ` (unconfirmed which Curity sends).
    /// - Requires `purpose` to be `access_token`.
    /// - Client id from `client_id` (recent versions); older ones send none, which then needs
    ///   [`ClientIdClaim::None`].
    /// - Discovery tries OpenID first.
    ///
    /// Source: JWTs printed in curityio's tutorials (observed, not documented);
    /// <https://curity.io/resources/learn/introspect-with-phantom-token>. Unconfirmed: the
    /// `typ` header, the ID token's `purpose` (`id`).
    pub fn curity() -> Self {
        let mut p = base("curity");
        let s = &mut p.switches;
        s.accept_typ_jwt = true;
        s.accept_missing_typ = true;
        s.require_value("purpose".into(), "access_token".into());
        p.quirks.openid_first = true;
        p
    }

    /// Spring Authorization Server, self-contained (JWT) access tokens. Issuer: as configured
    /// in `AuthorizationServerSettings` (set it: otherwise it follows each request's host).
    ///
    /// - Accepts a header without `typ` (`JwtGenerator` sets only `alg`), and `typ: JWT`
    ///   (spring-projects/spring-security#18270).
    /// - No client id: the access token has none ([`ClientIdClaim::None`], **weakens
    ///   security**). `aud` is the requesting client's id, unless a token customizer sets
    ///   one: configure that client id (or the customizer's audience) as this API's audience.
    /// - Scopes from `scope`, a JSON array.
    /// - Refuses tokens with `azp`: the ID tokens have the same `aud`, and only they carry
    ///   `azp` (and `nonce`, refused too).
    /// - The JWKS `Cache-Control` is ignored (Spring Security's default headers send
    ///   `no-store`; unconfirmed for this endpoint).
    ///
    /// Sources: spring-projects/spring-authorization-server `JwtGenerator.java`,
    /// `AuthorizationServerSettings.java`, `AuthorizationServerContextFilter.java`.
    pub fn spring_authorization_server() -> Self {
        let mut p = base("spring-authorization-server");
        let s = &mut p.switches;
        s.accept_typ_jwt = true;
        s.accept_missing_typ = true;
        s.client_id = vec![ClientIdClaim::None];
        s.scopes = ScopeSources::of([ScopeSource::ScopeString, ScopeSource::ScopeArray]);
        s.forbidden = vec!["azp".into()];
        p.quirks.ignore_jwks_cache_control = true;
        p
    }

    /// panva's node-oidc-provider, JWT access tokens (resource indicators with
    /// `accessTokenFormat: 'jwt'`). It follows RFC 9068: nothing is relaxed. Its metadata is
    /// appended to the issuer's path, so discovery tries OpenID first.
    ///
    /// Source: panva/node-oidc-provider `lib/models/formats/jwt.js`,
    /// `lib/helpers/initialize_app.js`.
    pub fn oidc_provider() -> Self {
        let mut p = base("oidc-provider");
        p.quirks.openid_first = true;
        p
    }
}

/// What both Entra ID versions share.
fn entra(name: &'static str, client_id: ClientIdClaim) -> Profile {
    let mut p = base(name);
    let s = &mut p.switches;
    s.accept_typ_jwt = true;
    s.client_id = vec![client_id];
    s.scopes = ScopeSources::of([ScopeSource::ScopeString, ScopeSource::ScpString]);
    s.roles = paths(&["roles"]);
    s.jti = JtiPolicy::alias("uti");
    p.quirks.openid_first = true;
    p
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_name_names_its_profile() {
        for name in Profile::NAMES {
            assert_eq!(Profile::named(name).map(|p| p.name()), Some(name));
        }
        assert_eq!(Profile::named("Keycloak"), None);
        assert_eq!(Profile::named("entra_v2"), None);
    }

    #[test]
    fn no_profile_drops_a_check_every_profile_keeps() {
        for name in Profile::NAMES {
            let s = Profile::named(name).unwrap().switches;
            // Expiry, signature and issuer have no switch at all; the audience is relaxed only
            // together with a client allowlist, which no profile fills (`build()` demands it).
            assert!(s.allowed_clients.is_empty(), "{name}");
            assert!(s.require_issued_at && s.require_subject, "{name}");
            // A relaxed `typ` needs something that tells ID tokens apart: the markers are
            // always refused then; the profiles whose ID tokens share `aud` add their own.
            if matches!(name, "zitadel" | "spring-authorization-server") {
                assert!(s.forbidden.contains(&"azp".to_owned()), "{name}");
            }
        }
        assert_eq!(Profile::strict().switches, Switches::default());
        assert_eq!(Profile::oidc_provider().switches, Switches::default());
    }
}
