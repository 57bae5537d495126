//! `Shape`: the products the mock imitates, each variant documented with what it changes, the
//! sources, and what could not be confirmed. The documentation is most of this file.

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
