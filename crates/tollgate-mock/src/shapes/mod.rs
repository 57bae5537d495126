//! Server shapes: the mock imitates a real authorization server product.
//!
//! A [`Shape`] changes what a resource server can tell about its authorization server: the
//! issuer's form, which metadata documents are served and what they say, the JWKS (members,
//! `kid` spellings, extra keys, `Cache-Control`), how access and ID tokens are shaped, and how
//! introspection answers. What a shape does not change: the mock's token endpoint grants and its
//! fault, counter and life-cycle machinery, which work the same under every shape.
//!
//! One file per server family holds everything about that family, each fact with its source:
//! `keycloak.rs`, `entra.rs`, `auth0.rs`, `okta.rs`, `cognito.rs`, `hydra.rs`, `zitadel.rs`,
//! `authentik.rs`, `curity.rs`, `spring.rs`, `oidc_provider.rs`. `Shape::Strict` has no file:
//! it is the mock's own RFC 9068 / RFC 7662 behaviour, in the code outside this module.

mod auth0;
mod authentik;
mod cognito;
mod curity;
mod entra;
mod hydra;
mod ids;
mod introspection;
mod keycloak;
pub(crate) mod keys;
mod oidc_provider;
mod okta;
mod spring;
mod x509;
mod zitadel;

use serde_json::{Map, Value};

use crate::faults::Endpoint;
use crate::keys::SigningKey;
use crate::state::{Config, Paths};
use crate::store::TokenRecord;
use crate::tokens::ClaimSet;

pub(crate) use entra::tenant_issuer;
pub(crate) use introspection::{IntrospectionAuth, IntrospectionRules, introspect};
pub(crate) use keys::{KeyStyle, jwks};

/// The authorization server product a [`MockAuthServer`](crate::MockAuthServer) imitates.
///
/// Set with [`MockAuthServerBuilder::shape`](crate::MockAuthServerBuilder::shape). Under a
/// shape the server behaves like that product wherever a resource server can tell: the issuer's
/// form, the metadata documents and their members, the JWKS (members, `kid` spellings, extra
/// keys, `Cache-Control`), the access tokens [`MockAuthServer::token`](crate::MockAuthServer::token)
/// makes, the ID tokens [`MockAuthServer::id_token`](crate::MockAuthServer::id_token) makes, and
/// the introspection answers. Every [`TokenBuilder`](crate::TokenBuilder) setter still works on
/// top, so a test can still break any claim; the setters that mean "the client id", "the scope",
/// "the audience" and "the roles" write where the shape puts them.
///
/// What stays the mock's own under every shape: the token endpoint's grants (its path moves to
/// the product's), client registration, faults, counters, and going down and coming back. The
/// subject stays `"alice"` and the client `tollgate-rs` unless configured, where the products
/// would use UUIDs or their own id formats; a resource server cannot tell the difference.
///
/// Every server runs on `http://127.0.0.1:PORT`: issuer paths are the product's, hosts are not
/// (Entra's `sts.windows.net` and `login.microsoftonline.com` both become the mock's address).
///
/// Facts the sources did not settle are marked **unconfirmed** on the variant: the shape then
/// does what seemed most plausible.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use tollgate_mock::{MockAuthServer, Shape};
///
/// let server = MockAuthServer::builder().shape(Shape::Keycloak).start().await;
/// assert!(server.issuer().ends_with("/realms/tollgate"));
/// let claims = server.token().scope("orders:read").claims();
/// assert_eq!(claims["typ"], "Bearer");
/// assert_eq!(claims["azp"], server.client_id());
/// assert_eq!(claims["scope"], "orders:read");
/// let id = server.id_token().claims();
/// assert_eq!(id["typ"], "ID");
/// assert_eq!(id["aud"], server.client_id());
/// # });
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum Shape {
    /// The mock's own behaviour (the default): RFC 9068 access tokens (`typ: at+jwt`,
    /// `client_id`, `scope` string, `jti`), RFC 8414 metadata inserted before the issuer path
    /// and OpenID metadata appended to it, a JWKS at `{issuer}/jwks` with
    /// `Cache-Control: max-age=300`, and RFC 7662 introspection answering the token's claims
    /// plus `active` and `token_type` (`Bearer`, `refresh_token` for refresh tokens).
    ///
    /// ID tokens ([`MockAuthServer::id_token`](crate::MockAuthServer::id_token)): a plain
    /// OpenID Connect Core §2 ID token, `typ: JWT`, `aud` and `azp` the client, with `nonce`,
    /// `at_hash` and `auth_time`.
    #[default]
    Strict,

    /// Keycloak: issuer `{base}/realms/tollgate` (the realm is the last segment of
    /// [`issuer_path`](crate::MockAuthServerBuilder::issuer_path), which may replace it).
    ///
    /// - Documents: OpenID at `{issuer}/.well-known/openid-configuration` and the OAuth 2.0
    ///   metadata *appended*, `{issuer}/.well-known/oauth-authorization-server`; the RFC 8414
    ///   inserted form is not served (unconfirmed that Keycloak never serves it).
    /// - JWKS at `{issuer}/protocol/openid-connect/certs`, `Cache-Control: no-cache`. Every key
    ///   has `alg`, `use`, `x5c` (a self-signed certificate), `x5t` and `x5t#S256`; `kid`s are
    ///   43-character base64url strings. Beside the signing key sits an RSA-OAEP key with
    ///   `use: enc` ([`MockAuthServer::encryption_kid`](crate::MockAuthServer::encryption_kid)).
    /// - Access token: header `typ: JWT`; claims `typ: "Bearer"` (the discriminator), `azp` (the
    ///   client), `scope` string, `realm_access.roles` (default roles `default-roles-{realm}`,
    ///   `offline_access`, `uma_authorization`; [`roles`](crate::TokenBuilder::roles) replaces
    ///   them), `resource_access.account.roles`, `sid`, `acr`, `preferred_username`, a UUID
    ///   `jti`. `aud` is the configured audience, as an Audience mapper puts it.
    /// - ID token: claim `typ: "ID"`, `aud` = `azp` = the client, `nonce`, `at_hash`, `sid`.
    /// - Introspection at `{issuer}/protocol/openid-connect/token/introspect`: the claims plus
    ///   `client_id` (= `azp`), `username`, and `token_type` = the `typ` claim; a refresh token
    ///   answers `active: true` with `typ` and `token_type` `"Refresh"`. A `token_type_hint`
    ///   other than `access_token` / `refresh_token` is a 400 `invalid_request`.
    ///
    /// Not imitated: the odd spacing of Keycloak's JOSE header, HS512 refresh-token JWTs (the
    /// mock's refresh tokens stay opaque), `jti` prefixes of recent versions (unconfirmed).
    ///
    /// Sources: keycloak/keycloak `TokenManager.java` (`initToken`, `generateIDToken`),
    /// `DefaultTokenManager.java`, `JWKSServerUtils.java`, `AccessTokenIntrospectionProvider.java`,
    /// `TokenIntrospectionEndpoint.java` (<https://github.com/keycloak/keycloak>); the
    /// `no-cache` answer: <https://github.com/keycloak/keycloak/issues/15216>.
    Keycloak,

    /// Microsoft Entra ID, v1.0 access tokens of tenant `tenant` (a GUID): issuer
    /// `{base}/{tenant}/` (with the trailing slash of `https://sts.windows.net/{tid}/`).
    ///
    /// - Documents: OpenID only, at `/{tenant}/.well-known/openid-configuration`; plus the
    ///   multi-tenant document at `/common/.well-known/openid-configuration` whose `issuer` is
    ///   the literal template `{base}/{tenantid}/`
    ///   ([`multi_tenant_metadata_url`](crate::MockAuthServer::multi_tenant_metadata_url)).
    /// - JWKS at `/{tenant}/discovery/keys` (and `/common/discovery/keys`): no `alg`, `use: sig`,
    ///   `x5c`, `x5t`, and `kid` = `x5t` (the certificate's 27-character SHA-1 thumbprint). No
    ///   per-key `issuer` on the v1 keys (unconfirmed). `Cache-Control: max-age=86400, private`
    ///   (unconfirmed).
    /// - Access token: header `typ: JWT` with `x5t` beside `kid`; claims `appid` (the client),
    ///   `appidacr`, `scp` string, `roles` array (with [`roles`](crate::TokenBuilder::roles)),
    ///   `uti` instead of `jti`, `ver: "1.0"`, `tid`, `oid`, `acr`, `amr`, `aio`, `rh`,
    ///   `unique_name`, `upn`, `nbf`. [`tenant`](crate::TokenBuilder::tenant) makes it a token
    ///   of another tenant (`tid` and `iss`).
    /// - ID token: `aud` = the client, `nonce`, `ver: "1.0"`, no `scp`.
    /// - No introspection: no endpoint in the document, and `/introspect` answers 404.
    ///
    /// Sources: <https://learn.microsoft.com/entra/identity-platform/access-tokens>,
    /// <https://learn.microsoft.com/entra/identity-platform/access-token-claims-reference>.
    EntraV1 {
        /// The tenant id (`tid`), a GUID.
        tenant: String,
    },

    /// Microsoft Entra ID, v2.0 access tokens of tenant `tenant` (a GUID): issuer
    /// `{base}/{tenant}/v2.0`, no trailing slash.
    ///
    /// - Documents: OpenID only, at `/{tenant}/v2.0/.well-known/openid-configuration`; plus the
    ///   multi-tenant document at `/common/v2.0/.well-known/openid-configuration` whose
    ///   `issuer` is the literal template `{base}/{tenantid}/v2.0`
    ///   ([`multi_tenant_metadata_url`](crate::MockAuthServer::multi_tenant_metadata_url)).
    /// - JWKS at `/{tenant}/discovery/v2.0/keys` (and `/common/discovery/v2.0/keys`): no `alg`,
    ///   `use: sig`, `x5c`, `x5t`, `kid` = `x5t`, and a per-key `issuer`, the template
    ///   `{base}/{tenantid}/v2.0`. `Cache-Control: max-age=86400, private` (unconfirmed).
    /// - Access token: header `typ: JWT`, `kid` only; claims `azp` (the client), `azpacr`,
    ///   `scp` string, `roles` array (with [`roles`](crate::TokenBuilder::roles)), `uti`
    ///   instead of `jti`, `ver: "2.0"`, `tid`, `oid`, `aio`, `rh`, `preferred_username`,
    ///   `nbf`. [`tenant`](crate::TokenBuilder::tenant) makes it a token of another tenant.
    /// - ID token: `aud` = the client, `nonce`, `ver: "2.0"`, no `scp`.
    /// - No introspection: no endpoint in the document, and `/introspect` answers 404.
    ///
    /// Sources: as [`EntraV1`](Self::EntraV1); the per-key issuer: "Validate the signing key
    /// issuer" in <https://learn.microsoft.com/entra/identity-platform/access-tokens>.
    EntraV2 {
        /// The tenant id (`tid`), a GUID.
        tenant: String,
    },

    /// Auth0, default ("Auth0") access token profile: issuer `{base}/` (trailing slash).
    ///
    /// - Documents: OpenID at `/.well-known/openid-configuration` and RFC 8414 at
    ///   `/.well-known/oauth-authorization-server` (unconfirmed).
    /// - JWKS at `/.well-known/jwks.json`: `alg`, `use`, `x5c`, `x5t` (unconfirmed), 22-character
    ///   `kid`s; `Cache-Control: public, max-age=15, stale-while-revalidate=15,
    ///   stale-if-error=86400` (unconfirmed).
    /// - Access token: header `typ: JWT`; `azp` (the client), `scope` string, `aud` an array of
    ///   the audience and `{issuer}userinfo` (as when `openid` was asked for), no `jti`.
    ///   [`permissions`](crate::TokenBuilder::permissions) adds the `permissions` array of the
    ///   RBAC ("authz") dialects.
    /// - ID token: `aud` = the client (a string), `nonce`, `sid`, `nickname`, `name`.
    /// - No introspection (unconfirmed as a documented statement): not in the documents, 404.
    ///
    /// Source: <https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles>,
    /// <https://auth0.com/docs/secure/tokens/id-tokens/id-token-structure>.
    Auth0,

    /// Okta, custom authorization server `default`: issuer `{base}/oauth2/default`.
    ///
    /// - Documents: both appended, `{issuer}/.well-known/openid-configuration` and
    ///   `{issuer}/.well-known/oauth-authorization-server`.
    /// - JWKS at `{issuer}/v1/keys`: `alg`, `use`, 43-character `kid`s (unconfirmed detail);
    ///   `Cache-Control: max-age=86400, must-revalidate` (unconfirmed; Okta answers `no-cache`
    ///   near a rotation: [`jwks_cache_control`](crate::MockAuthServerBuilder::jwks_cache_control)).
    /// - Access token: no `typ`; `cid` (the client), `scp` array, `jti` starting with `AT.`,
    ///   `uid`, `ver: 1`, `auth_time`. [`roles`](crate::TokenBuilder::roles) writes a `groups`
    ///   claim, as Okta's usual custom claim.
    /// - ID token: no `typ`, `jti` starting with `ID.`, `aud` = the client, no `cid`/`scp`,
    ///   `nonce`, `at_hash`, `amr`, `idp`.
    /// - Introspection at `{issuer}/v1/introspect`: `active`, `token_type: "Bearer"` (also for
    ///   refresh tokens), `scope` string, `client_id`, `username`, `sub`, `aud`, `iss`, `jti`,
    ///   `exp`, `iat`, `uid`; a refresh token's answer lacks `jti`, `iat`, `aud` and `iss`.
    ///
    /// Sources: <https://developer.okta.com/docs/reference/api/oidc/> (okta-developer-docs),
    /// decoded tokens in <https://groups.google.com/g/rabbitmq-users/c/O3GdCKf8soM/m/ZsjMcizrAgAJ>.
    Okta,

    /// Amazon Cognito user pool `us-east-1_tollgate`: issuer `{base}/us-east-1_tollgate`.
    ///
    /// - Documents: OpenID only, at `{issuer}/.well-known/openid-configuration`.
    /// - JWKS at `{issuer}/.well-known/jwks.json` with two keys: the access-token key and the
    ///   ID-token key ([`MockAuthServer::id_token_kid`](crate::MockAuthServer::id_token_kid)).
    ///   `kid`s are standard base64 with `+`, `/` and `=`. No `Cache-Control` (unconfirmed).
    /// - Access token: no `typ`; no `aud`; `client_id`, `token_use: "access"` (the
    ///   discriminator), `scope` string, `username`, `origin_jti`, `event_id`, `version: 2`,
    ///   `auth_time`, UUID `jti`. [`roles`](crate::TokenBuilder::roles) writes `cognito:groups`.
    /// - ID token: signed with the other key; `token_use: "id"`, `aud` = the client,
    ///   `cognito:username`, `at_hash`, `nonce`.
    /// - No introspection (unconfirmed as a documented statement): not in the document, 404.
    ///
    /// Source: <https://docs.aws.amazon.com/cognito/latest/developerguide/amazon-cognito-user-pools-using-the-access-token.html>
    /// and the ID-token page beside it.
    Cognito,

    /// Ory Hydra with the `jwt` access-token strategy: issuer `{base}/` (the trailing slash of
    /// Hydra's default issuer).
    ///
    /// - Documents: `/.well-known/openid-configuration` and
    ///   `/.well-known/oauth-authorization-server`, the same document; no
    ///   `introspection_endpoint` in it (introspection is on Hydra's admin port).
    /// - JWKS at `/.well-known/jwks.json` with the access-token key and the separate ID-token
    ///   key; UUID `kid`s, `alg`, `use`; no `Cache-Control`.
    /// - Access token: header `typ: JWT`; `client_id`, `scp` array, `aud: []` (no audience
    ///   granted; [`audience`](crate::TokenBuilder::audience) makes it `[aud]`), `nbf`, UUID
    ///   `jti`.
    /// - ID token: signed with the ID-token key; `aud: [client]`, `at_hash`, `rat`, `sid`,
    ///   `nonce`, `auth_time`.
    /// - Introspection at `/admin/oauth2/introspect` with **no client authentication** (as on
    ///   Hydra's admin port; credentials sent are ignored): `client_id`, `scope` string, `aud`
    ///   array, `token_type: "Bearer"`, and `token_use` `"access_token"` or `"refresh_token"`.
    ///   Hydra's keys are 4096-bit RSA; the mock's stay 2048-bit.
    ///
    /// Sources: ory/hydra `oauth2/session.go`, `oauth2/handler.go`, `jwk/handler.go`,
    /// `fosite/token/jwt/claims_jwt.go` (<https://github.com/ory/hydra>).
    Hydra,

    /// ZITADEL with JWT access tokens: issuer `{base}` (the instance's URL).
    ///
    /// - Documents: OpenID only (unconfirmed that no RFC 8414 document is served).
    /// - JWKS at `/oauth/v2/keys`: `alg`, `use`, numeric-string `kid`s (unconfirmed); no
    ///   `Cache-Control`.
    /// - Access token: header `typ: JWT`; `client_id`, no scope claim (ZITADEL puts none in the
    ///   JWT; the scope is in the introspection answer), `aud` = `[audience, client]` (the
    ///   project id, then the client), `nbf`, `jti`. [`roles`](crate::TokenBuilder::roles)
    ///   writes `urn:zitadel:iam:org:project:roles` as `{role: {org id: org domain}}` (the claim
    ///   name is unconfirmed).
    /// - ID token: the same `aud`, plus `azp` and `client_id`, `at_hash`, `sid`, `amr`, `nonce`.
    /// - Introspection at `/oauth/v2/introspect`: the answer is `active: false` unless the
    ///   token's `aud` contains the caller's client id; refresh tokens are always
    ///   `active: false`; an active answer has `scope`, `client_id`, `token_type: "Bearer"`.
    ///
    /// Sources: zitadel/zitadel `internal/api/oidc/token.go`, `introspect.go`
    /// (<https://github.com/zitadel/zitadel>); zitadel/oidc `pkg/oidc/token.go`
    /// (<https://github.com/zitadel/oidc>).
    Zitadel,

    /// authentik, OAuth2 provider of the application `tollgate`: issuer
    /// `{base}/application/o/tollgate/` (trailing slash).
    ///
    /// - Documents: OpenID only, at `{issuer}.well-known/openid-configuration`.
    /// - JWKS at `{issuer}jwks/`: one key with `alg`, `use`, a 32-hex-digit `kid` (unconfirmed);
    ///   no `Cache-Control`.
    /// - Access token: header `typ: JWT`; the ID token's claims plus `azp` and a random `uid`
    ///   (no `jti`), `aud` = the client (not the configured audience), no scope claim (the scope
    ///   is in the introspection answer; newer versions may add one, unconfirmed), `acr`,
    ///   `amr`. [`roles`](crate::TokenBuilder::roles) writes `groups`.
    /// - ID token: the same without `azp` and `uid`, with `nonce` and `at_hash`.
    /// - Introspection at `/application/o/introspect/`: the claims plus `active`, `scope`, and
    ///   `client_id` = the *caller's* client; refresh tokens answer the same shape; a failed
    ///   client authentication answers 200 `{"active": false}`.
    ///
    /// The stored authentik sources were from 2022-2023; newer releases may differ.
    /// Sources: goauthentik/authentik `authentik/providers/oauth2/id_token.py`, `models.py`,
    /// `views/jwks.py`, `views/introspection.py` (<https://github.com/goauthentik/authentik>).
    Authentik,

    /// Curity Identity Server: issuer `{base}/oauth/v2/oauth-anonymous`.
    ///
    /// - Documents: OpenID at `{issuer}/.well-known/openid-configuration` (unconfirmed).
    /// - JWKS at `{issuer}/jwks` (unconfirmed): `alg`, `use`, `x5t` (unconfirmed), `kid`s that
    ///   are negative decimal integers such as `"-1725417167"`; no `Cache-Control`
    ///   (unconfirmed).
    /// - Access token: no `typ` (unconfirmed), `x5t` in the header; `client_id`,
    ///   `purpose: "access_token"` (the discriminator), `scope` string, `delegationId`, `nbf`,
    ///   UUID `jti`.
    /// - ID token: `purpose: "id"` (unconfirmed), `aud` = the client, `at_hash`, `nonce`.
    /// - Introspection at `/oauth/v2/oauth-introspect`: the claims plus `active` and
    ///   `token_type: "bearer"` (lower case); a refresh token answers
    ///   `purpose: "refresh_token"` (unconfirmed).
    ///
    /// Sources: tokens printed in curityio examples;
    /// <https://curity.io/resources/learn/introspect-with-phantom-token>.
    Curity,

    /// Spring Authorization Server, self-contained tokens: issuer `{base}` (as configured).
    ///
    /// - Documents: `/.well-known/oauth-authorization-server` and
    ///   `/.well-known/openid-configuration`.
    /// - JWKS at `/oauth2/jwks`: keys with no `alg` and no `use`, UUID `kid`s (as the reference
    ///   samples make them); `Cache-Control: no-cache, no-store, max-age=0, must-revalidate`
    ///   (Spring Security's default headers; unconfirmed for this endpoint).
    /// - Access token: no `typ`; no client-id claim; `aud` = the client (a string: Nimbus writes
    ///   a one-element audience so; unconfirmed), `scope` array, `nbf`, UUID `jti`.
    ///   [`client_id`](crate::TokenBuilder::client_id) writes `aud`.
    /// - ID token: the same header and `aud`, plus `azp`, `nonce`, `sid`, `auth_time`, no
    ///   `scope`.
    /// - Introspection at `/oauth2/introspect`: the claims with `scope` as a string and `aud`
    ///   as a list, plus `client_id` and `token_type: "Bearer"`; a refresh token answers only
    ///   `active`, `client_id`, `iat` (and `exp`), **without** `token_type`.
    ///
    /// Sources: spring-projects/spring-authorization-server `JwtGenerator.java`,
    /// `OAuth2TokenIntrospectionAuthenticationProvider.java`
    /// (<https://github.com/spring-projects/spring-authorization-server>).
    SpringAuthorizationServer,

    /// panva/node-oidc-provider with JWT access tokens for a resource indicator and the
    /// `introspection` feature turned on: issuer `{base}`.
    ///
    /// - Documents: `/.well-known/oauth-authorization-server` and
    ///   `/.well-known/openid-configuration`.
    /// - JWKS at `/jwks` with `Content-Type: application/jwk-set+json` and no `Cache-Control`;
    ///   keys without `alg` and `use` (as a key set configured without them), `kid`s spelled
    ///   like RFC 7638 thumbprints.
    /// - Access token: `typ: at+jwt`, `client_id`, `scope` string, a nanoid `jti`: RFC 9068.
    /// - ID token: **no `typ`** header; `aud` = the client, `nonce`, `at_hash`.
    /// - Introspection at `/token/introspection`: a JWT-shaped `token` is a 400
    ///   `unsupported_token_type`; an opaque token answers `client_id`, `scope`, `token_type`,
    ///   and a refresh token the same **without** `token_type`.
    ///
    /// Sources: panva/node-oidc-provider `lib/models/formats/jwt.js`, `lib/actions/introspection.js`,
    /// `lib/shared/reject_structured_tokens.js` (<https://github.com/panva/node-oidc-provider>).
    OidcProvider,
}

impl Shape {
    /// The shape's name, as the library's profiles spell it: `"strict"`, `"keycloak"`,
    /// `"entra_v1"`, `"entra_v2"`, `"auth0"`, `"okta"`, `"cognito"`, `"hydra"`, `"zitadel"`,
    /// `"authentik"`, `"curity"`, `"spring_authorization_server"`, `"oidc_provider"`.
    #[must_use]
    pub fn name(&self) -> &'static str {
        match self {
            Shape::Strict => "strict",
            Shape::Keycloak => "keycloak",
            Shape::EntraV1 { .. } => "entra_v1",
            Shape::EntraV2 { .. } => "entra_v2",
            Shape::Auth0 => "auth0",
            Shape::Okta => "okta",
            Shape::Cognito => "cognito",
            Shape::Hydra => "hydra",
            Shape::Zitadel => "zitadel",
            Shape::Authentik => "authentik",
            Shape::Curity => "curity",
            Shape::SpringAuthorizationServer => "spring_authorization_server",
            Shape::OidcProvider => "oidc_provider",
        }
    }

    /// Every shape, the Entra ones with the tenant `tenant`: for tests that go through all.
    #[must_use]
    pub fn all(tenant: &str) -> Vec<Shape> {
        vec![
            Shape::Strict,
            Shape::Keycloak,
            Shape::EntraV1 {
                tenant: tenant.to_owned(),
            },
            Shape::EntraV2 {
                tenant: tenant.to_owned(),
            },
            Shape::Auth0,
            Shape::Okta,
            Shape::Cognito,
            Shape::Hydra,
            Shape::Zitadel,
            Shape::Authentik,
            Shape::Curity,
            Shape::SpringAuthorizationServer,
            Shape::OidcProvider,
        ]
    }

    /// The Entra tenant, for the Entra shapes.
    pub(crate) fn tenant(&self) -> Option<&str> {
        match self {
            Shape::EntraV1 { tenant } | Shape::EntraV2 { tenant } => Some(tenant),
            _ => None,
        }
    }
}

impl std::fmt::Display for Shape {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// What a token is for: the shapes make access tokens and ID tokens differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Access,
    Id,
}

/// A metadata document a shape serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Document {
    /// RFC 8414 authorization server metadata.
    OAuth,
    /// OpenID Connect Discovery 1.0.
    OpenId,
    /// Entra's tenant-independent OpenID document (`/common/...`), whose `issuer` is a
    /// template with the literal `{tenantid}`.
    MultiTenant,
}

/// What answers at one path of a shaped server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Serves {
    Document(Document),
    Jwks,
    Token,
    Introspection,
    Revocation,
}

impl Serves {
    pub(crate) fn endpoint(self) -> Endpoint {
        match self {
            Serves::Document(_) => Endpoint::Discovery,
            Serves::Jwks => Endpoint::Jwks,
            Serves::Token => Endpoint::Token,
            Serves::Introspection => Endpoint::Introspection,
            Serves::Revocation => Endpoint::Revocation,
        }
    }
}

/// One route of a shaped server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) path: String,
    pub(crate) serves: Serves,
}

/// Where a family puts its endpoints, for one issuer path.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    pub(crate) jwks: String,
    pub(crate) token: String,
    pub(crate) introspection: Option<String>,
    pub(crate) revocation: Option<String>,
    pub(crate) documents: Vec<(String, Document)>,
    /// More paths serving the same JWKS (Entra's `/common/...`).
    pub(crate) more_jwks: Vec<String>,
}

/// RFC 8414 §3.1: the well-known suffix goes between host and issuer path.
pub(crate) fn inserted(base: &str) -> String {
    format!("/.well-known/oauth-authorization-server{base}")
}

/// The OAuth metadata appended to the issuer path, as Keycloak and Okta serve it.
pub(crate) fn appended(base: &str) -> String {
    format!("{base}/.well-known/oauth-authorization-server")
}

/// OpenID Connect Discovery 1.0 §4: appended to the issuer path.
pub(crate) fn openid(base: &str) -> String {
    format!("{base}/.well-known/openid-configuration")
}

/// What one server family does; one implementation per file. The strict shape has none: its
/// behaviour is the code outside this module.
pub(crate) trait Server: Sync + std::fmt::Debug {
    /// The issuer path when the builder names none: `""` or `/segment(/segment)*`.
    fn default_path(&self, shape: &Shape) -> String;

    /// Whether the issuer ends with `/` after that path.
    fn trailing_slash(&self) -> bool {
        false
    }

    /// Where the endpoints live for the issuer path `base` (no trailing slash).
    fn layout(&self, base: &str, shape: &Shape) -> Layout;

    /// How `kid`s are spelled and which members the JWKS keys carry.
    fn key_style(&self) -> KeyStyle;

    /// The JWKS `Cache-Control` header; `None` sends none.
    fn jwks_cache_control(&self) -> Option<&'static str>;

    /// The JWKS `Content-Type`.
    fn jwks_content_type(&self) -> &'static str {
        "application/json"
    }

    /// A per-key `issuer` member in the JWKS (Entra v2).
    fn key_issuer(&self, _config: &Config) -> Option<String> {
        None
    }

    /// Whether ID tokens are signed by a key of their own, published beside the access-token
    /// key (Cognito, Hydra).
    fn id_token_key(&self) -> bool {
        false
    }

    /// Whether an encryption key (`use: enc`) is published beside the signing keys (Keycloak).
    fn encryption_key(&self) -> bool {
        false
    }

    /// The JOSE header `typ` of an access or ID token; `None` leaves it out.
    fn typ(&self, purpose: Purpose) -> Option<&'static str>;

    /// Whether the JOSE header carries `x5t` (the signing certificate's SHA-1 thumbprint)
    /// beside `kid`.
    fn header_x5t(&self) -> bool {
        false
    }

    /// The claims of a default access token.
    fn access(&self, config: &Config, claims: &mut ClaimSet);

    /// The claims of a default ID token.
    fn id(&self, config: &Config, claims: &mut ClaimSet);

    /// Writes "the client id" where the shape puts it (for ID tokens: the audience).
    fn client_id(&self, claims: &mut ClaimSet, id: &str);

    /// Writes "the scope" (space-separated) in the shape's form.
    fn scope(&self, claims: &mut ClaimSet, scope: &str);

    /// Writes one audience in the shape's form. Defaults to a string.
    fn audience(&self, claims: &mut ClaimSet, audience: &str) {
        claims.set("aud", audience);
    }

    /// Writes the roles where the shape puts them. Defaults to `roles`, the claim RFC 9068
    /// §2.2.3.1 takes from SCIM.
    fn roles(&self, claims: &mut ClaimSet, roles: Vec<String>) {
        claims.set("roles", roles);
    }

    /// A metadata document.
    fn document(&self, config: &Config, document: Document) -> Value;

    /// How introspection is asked; `None`: the server does not introspect.
    fn introspection(&self) -> Option<IntrospectionRules> {
        None
    }

    /// The answer for a live token, before the test's overrides; `None` answers
    /// `{"active": false}`. `caller` is the authenticated client, if any.
    fn introspect(
        &self,
        _config: &Config,
        _record: &TokenRecord,
        _caller: Option<&str>,
    ) -> Option<Map<String, Value>> {
        None
    }
}

/// The family of a shape; `None` for the strict shape.
pub(crate) fn server(shape: &Shape) -> Option<&'static dyn Server> {
    Some(match shape {
        Shape::Strict => return None,
        Shape::Keycloak => &keycloak::Keycloak,
        Shape::EntraV1 { .. } => &entra::V1,
        Shape::EntraV2 { .. } => &entra::V2,
        Shape::Auth0 => &auth0::Auth0,
        Shape::Okta => &okta::Okta,
        Shape::Cognito => &cognito::Cognito,
        Shape::Hydra => &hydra::Hydra,
        Shape::Zitadel => &zitadel::Zitadel,
        Shape::Authentik => &authentik::Authentik,
        Shape::Curity => &curity::Curity,
        Shape::SpringAuthorizationServer => &spring::Spring,
        Shape::OidcProvider => &oidc_provider::OidcProvider,
    })
}

/// A shape's server settled for one issuer path: what the builder needs to start it.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// The issuer's path, with the trailing `/` the shape wants.
    pub(crate) issuer_path: String,
    pub(crate) paths: Paths,
    pub(crate) jwks_cache_control: Option<&'static str>,
    pub(crate) key_style: Option<KeyStyle>,
    pub(crate) id_token_key: bool,
    pub(crate) encryption_key: bool,
}

/// Settles where a shaped server lives. `base` is the normalized issuer path: the builder's, or
/// the shape's default (`""` or `/segment...`, no trailing slash).
pub(crate) fn resolve(shape: &Shape, base: &str) -> Resolved {
    let Some(server) = server(shape) else {
        return Resolved {
            issuer_path: base.to_owned(),
            paths: Paths::new(base),
            jwks_cache_control: Some("max-age=300"),
            key_style: None,
            id_token_key: false,
            encryption_key: false,
        };
    };
    let layout = server.layout(base, shape);
    let mut routes = Vec::new();
    let find = |kind: Document| {
        layout
            .documents
            .iter()
            .find(|(_, d)| *d == kind)
            .map(|(path, _)| path.clone())
    };
    let paths = Paths {
        // Where the document would be, when the shape serves none there: it answers 404.
        oauth_metadata: find(Document::OAuth).unwrap_or_else(|| inserted(base)),
        openid_metadata: find(Document::OpenId).unwrap_or_else(|| openid(base)),
        jwks: layout.jwks.clone(),
        token: layout.token.clone(),
        introspection: layout
            .introspection
            .clone()
            .unwrap_or_else(|| format!("{base}/introspect")),
        revocation: layout
            .revocation
            .clone()
            .unwrap_or_else(|| format!("{base}/revoke")),
        routes: Vec::new(),
    };
    for (path, document) in &layout.documents {
        routes.push(Route {
            path: path.clone(),
            serves: Serves::Document(*document),
        });
    }
    for path in std::iter::once(&layout.jwks).chain(&layout.more_jwks) {
        routes.push(Route {
            path: path.clone(),
            serves: Serves::Jwks,
        });
    }
    routes.push(Route {
        path: layout.token.clone(),
        serves: Serves::Token,
    });
    if let Some(path) = &layout.introspection {
        routes.push(Route {
            path: path.clone(),
            serves: Serves::Introspection,
        });
    }
    if let Some(path) = &layout.revocation {
        routes.push(Route {
            path: path.clone(),
            serves: Serves::Revocation,
        });
    }
    let slash = if server.trailing_slash() { "/" } else { "" };
    Resolved {
        issuer_path: format!("{base}{slash}"),
        paths: Paths { routes, ..paths },
        jwks_cache_control: server.jwks_cache_control(),
        key_style: Some(server.key_style()),
        id_token_key: server.id_token_key(),
        encryption_key: server.encryption_key(),
    }
}

/// The JOSE header of a token signed by `key`.
pub(crate) fn header(config: &Config, purpose: Purpose, key: &SigningKey) -> Map<String, Value> {
    let mut header = Map::new();
    header.insert("alg".into(), crate::keys::alg_name(key.alg()).into());
    let typ = match server(&config.shape) {
        // RFC 9068 §2.1 for access tokens; ID tokens are plain JWTs (RFC 7519 §5.1).
        None => Some(match purpose {
            Purpose::Access => "at+jwt",
            Purpose::Id => "JWT",
        }),
        Some(server) => {
            if server.header_x5t()
                && let Some(x5t) = keys::x5t(key)
            {
                header.insert("x5t".into(), x5t.into());
            }
            server.typ(purpose)
        }
    };
    if let Some(typ) = typ {
        header.insert("typ".into(), typ.into());
    }
    header.insert("kid".into(), key.kid().into());
    header
}

/// A space-separated scope as a JSON array (the `scp` / `scope` arrays of Okta, Hydra, Spring).
pub(crate) fn scope_array(scope: &str) -> Vec<Value> {
    scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| Value::String(s.to_owned()))
        .collect()
}

/// A scope claim in either form (string, or array of strings) as a space-separated string, as
/// introspection answers carry it (RFC 7662 §2.2).
pub(crate) fn scope_string(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    }
}

/// The claims a strict-shape ID token gets (OpenID Connect Core 1.0 §2).
pub(crate) fn strict_id(config: &Config, claims: &mut ClaimSet) {
    let client = config.clients[0].id.clone();
    let iat = crate::util::now();
    claims.set("iss", config.issuer.clone());
    claims.set("sub", "alice");
    claims.set("aud", client.clone());
    claims.set("azp", client);
    claims.set("iat", iat);
    claims.set("exp", iat.saturating_add(config.lifetime_secs()));
    claims.set("auth_time", iat);
    claims.set("nonce", ids::nonce());
    claims.set("at_hash", ids::at_hash());
}

/// Sets `iat` to now and `exp` one token lifetime later; returns `iat`.
pub(crate) fn stamp(config: &Config, claims: &mut ClaimSet) -> i64 {
    let iat = crate::util::now();
    claims.set("iat", iat);
    claims.set("exp", iat.saturating_add(config.lifetime_secs()));
    iat
}

/// The server's first client: the default client of tokens.
pub(crate) fn client(config: &Config) -> String {
    config.clients[0].id.clone()
}

/// The refresh token's recorded claim `name` (refresh tokens keep the strict claims).
pub(crate) fn refresh_claim(record: &TokenRecord, name: &str) -> Value {
    record.claims.get(name).cloned().unwrap_or(Value::Null)
}

/// `answer` with `name` set to `value` unless `value` is `null`.
pub(crate) fn put(answer: &mut Map<String, Value>, name: &str, value: Value) {
    if !value.is_null() {
        answer.insert(name.to_owned(), value);
    }
}
