//! A mock OAuth 2.0 authorization server, for testing tollgate and the services it protects.
//!
//! [`MockAuthServer::start`] listens on `127.0.0.1` and a free port, in the current Tokio
//! runtime, and serves over real HTTP what a resource server needs from an authorization server
//! (at these paths by default; a [`Shape`] moves them where its product has them):
//!
//! | path (issuer path prepended, if any) | what |
//! |---|---|
//! | `GET /.well-known/oauth-authorization-server` | RFC 8414 metadata (issuer path appended instead) |
//! | `GET /.well-known/openid-configuration` | OpenID Connect discovery |
//! | `GET /jwks` | the published keys, with `Cache-Control: max-age=300` |
//! | `POST /token` | `client_credentials` and `refresh_token` grants (RFC 6749); DPoP-bound tokens for a request with a `DPoP` proof (RFC 9449 §5) |
//! | `POST /introspect` | RFC 7662 introspection, client authentication required |
//! | `POST /revoke` | RFC 7009 revocation, client authentication required |
//!
//! Tests mint tokens directly ([`MockAuthServer::token`], [`MockAuthServer::opaque_token`],
//! [`MockAuthServer::refresh_token`]) with any claim or header changed, bound to a DPoP key or a
//! client certificate if they like; make DPoP proofs, right or wrong, with the [`dpop`] module's
//! client helper; rotate keys while the server runs; read counters of what the server was asked,
//! the requests themselves ([`MockAuthServer::requests`]: headers and body as they arrived) and
//! how many were answered at once ([`MockAuthServer::max_in_flight`]); inject [`Fault`]s per
//! [`Endpoint`] or per path, down to an answer of any status, headers and body ([`Canned`]);
//! and take the server down and back up on the same port.
//!
//! Caveats, in plain words:
//!
//! - It is a test tool. Any registered client may introspect and revoke any token, every
//!   requested scope is granted, and nothing is persisted. The request records keep
//!   credentials and tokens as they were sent (not in their `Debug` output).
//! - The initial key's material is shared by all servers in one process, so that starting one
//!   takes well under a millisecond once the first RSA key exists; each server still has its
//!   own `kid`s. [`MockAuthServerBuilder::fresh_key`] opts out (for several trusted issuers).
//! - Counters and request records see requests as they arrive, before faults and
//!   authentication: a refused or faulted request counts too. The records keep the last 100
//!   requests per endpoint; a request body over 64 KiB is refused (400) unread.
//!
//! # Example
//!
//! ```
//! use jsonwebtoken::{DecodingKey, Validation, decode, jwk::JwkSet};
//! use tollgate_mock::{Algorithm, MockAuthServer};
//!
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! let server = MockAuthServer::start().await;
//! let token = server.token().subject("alice").scope("orders:read").sign();
//! // Loopback only: no proxy from the environment.
//! let http = reqwest::Client::builder().no_proxy().build().unwrap();
//!
//! // The token verifies against the JWKS the server serves.
//! let jwks: JwkSet = http.get(server.jwks_uri()).send().await.unwrap().json().await.unwrap();
//! let key = DecodingKey::from_jwk(jwks.find(&server.signing_kid()).unwrap()).unwrap();
//! let mut validation = Validation::new(Algorithm::RS256);
//! validation.set_issuer(&[server.issuer()]);
//! validation.set_audience(&[server.audience()]);
//! let claims = decode::<serde_json::Value>(&token, &key, &validation).unwrap().claims;
//! assert_eq!(claims["sub"], "alice");
//!
//! // Introspection knows it, until it is revoked.
//! let introspect = |token: String| {
//!     http.post(server.introspection_endpoint())
//!         .basic_auth(server.client_id(), Some(server.client_secret()))
//!         .form(&[("token", token)])
//!         .send()
//! };
//! let answer: serde_json::Value = introspect(token.clone()).await.unwrap().json().await.unwrap();
//! assert_eq!(answer["active"], true);
//! server.revoke(&token);
//! let answer: serde_json::Value = introspect(token.clone()).await.unwrap().json().await.unwrap();
//! assert_eq!(answer, serde_json::json!({ "active": false }));
//! assert_eq!(server.introspection_count_for(&token), 2);
//! # });
//! ```
//!
//! # The token endpoint
//!
//! - `grant_type=client_credentials`, with `client_secret_basic` or `client_secret_post`. The
//!   token's subject is the client. `scope` is optional (default `read`) and always granted.
//!   A `scope` containing `offline_access` also gets a refresh token.
//! - `grant_type=refresh_token`: only the client the refresh token belongs to may use it; a
//!   `scope` beyond the refresh token's is `invalid_scope`. The same refresh token comes back
//!   (no rotation), and the new access token is linked to it: revoking the refresh token
//!   revokes it.
//! - Mock extension: `token_format=opaque` issues an opaque access token instead of a JWT.
//! - A `DPoP` header (RFC 9449 §5) makes the access token DPoP-bound: `cnf.jkt` is the proof
//!   key's thumbprint, and the answer says `"token_type": "DPoP"`. The proof must be signed by
//!   its `jwk` (public, asymmetric), for `POST` to this endpoint, with a recent `iat` and a `jti`;
//!   anything else is a 400 `invalid_dpop_proof`. The mock keeps no replay cache and sends no
//!   nonces.
//!
//! Errors follow RFC 6749 §5.2: `invalid_client` is a 401 with `WWW-Authenticate: Basic`, the
//! others are 400 (`invalid_request` for any body that is not a proper form).
//!
//! # Introspection and revocation
//!
//! Both need client authentication (`client_secret_basic` or `client_secret_post`; for
//! introspection also `Authorization: Bearer` with the credential set by
//! [`MockAuthServerBuilder::introspection_bearer`]). A live token's answer is its claims plus
//! `"active": true` and `"token_type": "Bearer"` (`"DPoP"` for a DPoP-bound token,
//! `"refresh_token"` for a refresh token); a bound token's `cnf` is part of its claims, so the
//! answer carries it at the top level (RFC 9449 §6.2, RFC 8705 §3.2);
//! an unknown, expired, not-yet-valid or revoked token gets exactly `{"active":false}`.
//! Revocation answers 200 for any token, known or not.
//!
//! # Test support
//!
//! With the `testing` feature, the `testing` module holds what the tests of a protected service need
//! beside the server: answers read as a client sees them, loopback and in-process requests,
//! raw request targets, log capture and JWT segment helpers.
//!
//! # Sender-constrained tokens
//!
//! [`TokenBuilder::dpop_bound`] and [`OpaqueTokenBuilder::dpop_bound`] bind a token to a
//! [`dpop::DpopKey`] (`cnf.jkt`, RFC 9449 §6); `certificate_bound` binds it to a TLS client
//! certificate's DER (`cnf.x5t#S256`, RFC 8705 §3.1). [`dpop::DpopKey::proof`] makes the proofs
//! a client sends with such a token, and every wrong proof a resource server must refuse.
//!
//! # Security events
//!
//! [`MockAuthServer::security_event`] makes the Security Event Tokens (RFC 8417) a Shared
//! Signals transmitter sends (CAEP `session-revoked` and `credential-change`, the RISC account
//! events, the OAuth draft's `token-revoked`, ...), signed with the server's keys, with every
//! member overridable into the SETs a receiver must refuse; `events::push` (feature
//! `testing`) delivers one as RFC 8935 §2.1 says. See the [`events`] module.
//!
//! # Server shapes
//!
//! [`MockAuthServerBuilder::shape`] makes the server imitate a real authorization server
//! product wherever a resource server can tell, so that a validator's per-product relaxations
//! are tested against real HTTP and discovery like everything else. [`Shape::Strict`] (the
//! default) is everything above; every other [`Shape`] changes:
//!
//! - the issuer's form: path and trailing slash (`/realms/tollgate`, `/{tenant}/v2.0`, `/`...);
//! - which metadata documents are served, where (RFC 8414 inserted or appended, OpenID) and
//!   what they say (an `introspection_endpoint` only where the product has one);
//! - the JWKS: its path, `kid` spellings (UUIDs, Cognito's `+/=`, Curity's negative numbers),
//!   keys without `alg` or `use`, `x5c`/`x5t` from a self-signed certificate, Keycloak's
//!   `use: enc` key, Entra's per-key `issuer`, a separate ID-token key (Cognito, Ory Hydra),
//!   and its `Cache-Control`;
//! - the access tokens [`MockAuthServer::token`] makes: header `typ`, the client-id claim, the
//!   scope claim and form, roles and permissions, `jti` or `uti`, the `aud` shape (absent for
//!   Cognito, `[]` for Hydra, the client for Spring and authentik), discriminators
//!   (`token_use`, Keycloak's `typ` claim, `ver`, `purpose`, Okta's `AT.` prefix);
//! - the ID tokens [`MockAuthServer::id_token`] makes, for "an ID token is not an access token";
//! - the introspection answers, where the product introspects (Keycloak's `token_type`
//!   `Refresh`, Hydra's `token_use`, no `token_type` for Spring's and node-oidc-provider's
//!   refresh tokens...), and a 404 where it does not (Entra, Auth0, Cognito).
//!
//! | shape | issuer | access token | introspection |
//! |---|---|---|---|
//! | `Strict` | `{base}` | `at+jwt`, `client_id`, `scope` | `/introspect` |
//! | `Keycloak` | `{base}/realms/tollgate` | `JWT`, `azp`, `typ: Bearer` | `.../token/introspect` |
//! | `EntraV1` | `{base}/{tenant}/` | `JWT` + `x5t`, `appid`, `scp`, `uti`, `ver: 1.0` | none |
//! | `EntraV2` | `{base}/{tenant}/v2.0` | `JWT`, `azp`, `scp`, `uti`, `ver: 2.0` | none |
//! | `Auth0` | `{base}/` | `JWT`, `azp`, `aud` array, no `jti` | none |
//! | `Okta` | `{base}/oauth2/default` | no `typ`, `cid`, `scp` array, `jti: AT.…` | `/v1/introspect` |
//! | `Cognito` | `{base}/us-east-1_tollgate` | no `typ`, no `aud`, `token_use: access` | none |
//! | `Hydra` | `{base}/` | `JWT`, `client_id`, `scp` array, `aud: []` | `/admin/oauth2/introspect` |
//! | `Zitadel` | `{base}` | `JWT`, `client_id`, no scope, `aud` array | `/oauth/v2/introspect` |
//! | `Authentik` | `{base}/application/o/tollgate/` | `JWT`, `azp`, `uid`, `aud` = client | `/application/o/introspect/` |
//! | `Curity` | `{base}/oauth/v2/oauth-anonymous` | no `typ`, `client_id`, `purpose` | `/oauth/v2/oauth-introspect` |
//! | `SpringAuthorizationServer` | `{base}` | no `typ`, no client id, `scope` array | `/oauth2/introspect` |
//! | `OidcProvider` | `{base}` | `at+jwt`, `client_id`, `scope` | `/token/introspection` (no JWTs) |
//!
//! Each variant's documentation says what it changes, where the facts come from, and which of
//! them could not be confirmed. Every [`TokenBuilder`] setter still works on top of a shape;
//! the ones that mean "the client id", "the scope", "the audience" and "the roles" write where
//! the shape puts them.
//!
//! ```
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! use tollgate_mock::{MockAuthServer, Shape};
//!
//! let server = MockAuthServer::builder().shape(Shape::Cognito).start().await;
//! let access = server.token().scope("orders/read").claims();
//! assert_eq!(access["token_use"], "access");
//! assert!(access.get("aud").is_none());
//! assert_eq!(server.id_token().claims()["token_use"], "id");
//! // Cognito signs ID tokens with another key of its JWKS.
//! assert_ne!(server.id_token_kid(), server.signing_kid());
//! # });
//! ```
//!

mod builder;
pub mod challenge;
mod counters;
pub mod dpop;
pub mod events;
mod faults;
mod http;
mod keys;
mod observed;
mod server;
mod shapes;
mod state;
mod store;
#[cfg(feature = "testing")]
pub mod testing;
mod tokens;
mod util;

pub use builder::MockAuthServerBuilder;
pub use faults::{Canned, Endpoint, Fault};
/// The JWS algorithms, as `jsonwebtoken` names them.
pub use jsonwebtoken::Algorithm;
pub use observed::SeenRequest;
pub use server::MockAuthServer;
pub use shapes::Shape;
pub use tokens::{OpaqueTokenBuilder, RefreshTokenBuilder, TokenBuilder};
