//! Hybrid OAuth 2.0 access-token validation for tower and axum.
//!
//! An API that receives access tokens can check them in two ways. **Locally**: a JWT access
//! token (RFC 9068) is verified against the authorization server's published keys and its
//! claims are checked, with no network call — fast, but a snapshot that cannot see a
//! revocation. **Remotely**: RFC 7662 introspection asks the authorization server whether the
//! token is active right now — live, but a network round trip. tollgate does each where it
//! belongs: every request is validated locally, and the routes that matter (admin, payments)
//! are marked sensitive and also ask the authorization server.
//!
//! - [`Tollgate`] is the engine, configured once with [`Tollgate::builder`]. It trusts one
//!   issuer or several ([`TrustedIssuer`]), each strict RFC 9068 unless narrow switches or a
//!   [`Profile`] (Keycloak, Entra ID, Auth0, Okta, Cognito, ...) relax what its tokens need.
//! - [`Tollgate::layer`] / [`Tollgate::layer_with_policy`] authenticate every request of a
//!   service ([`layer`] module); [`Tollgate::require`] and [`Tollgate::sensitive`] annotate
//!   single routes (with axum, through `route_layer`).
//! - Handlers get the [`Principal`] (and, with the `axum` feature, typed [`Claims`]).
//! - Refusals are RFC 6750 responses ([`Rejection`]); when the authorization server is needed
//!   and cannot be reached, the answer is 503 with `Retry-After`, never a silent pass.
//! - [`Tollgate::validate`] checks a token outside HTTP; [`bearer::extract`] takes it from HTTP
//!   headers as the layer does, and [`Tollgate::render`] answers a [`Rejection`] as the layer
//!   would.
//! - [`Tollgate::diagnostics`] reports the key set, the caches and the introspection counters.
//! - Sender-constrained tokens: DPoP (RFC 9449, [`Dpop`], [`TollgateBuilder::dpop`]) and
//!   certificate-bound tokens (RFC 8705, [`ClientCertificate`]), required or allowed per issuer
//!   and per route ([`SenderConstraint`]); [`Tollgate::validate_request`] checks a whole
//!   request. [`metadata`] serves the RFC 9728 protected resource metadata.
//!
//! # How a request flows
//!
//! Each step is one module; a step that refuses ends the request with its [`Rejection`]'s
//! response, and the inner service is not called. docs/ARCHITECTURE.md in the repository says
//! why each step is as it is.
//!
//! | step | what it decides | module |
//! |---|---|---|
//! | policy | the route's [`Requirement`]; paths that servers read differently are refused | `policy` ([`PolicyTable`]) |
//! | bearer | the token in `Authorization: Bearer` (RFC 6750 §2.1), or `DPoP` and its proof (RFC 9449 §4.3) | [`bearer`], `request`, `dpop` |
//! | revocation memory | a token introspection, the revocation API, a pushed event or another instance ([`store`]) called revoked is refused on every route | [`introspection`], `revoke` |
//! | verified-token cache | a repeated JWT skips the issuer, header, key, signature and claims steps | `verified` |
//! | revocation rules | every token of a subject, client or session issued before T, or with a `jti`: refused on every route; on a cache hit, two atomic loads while no rule changed | `rules`, `revoke` ([`Tollgate::revoke_subject`], [`events`]) |
//! | issuer | the unverified `iss` picks one [`TrustedIssuer`] (RFC 8725 §3.8); none: 401, no fetch | `jws`, `issuer` |
//! | JOSE header | member cap and unique names, `crit`, that issuer's [`Algorithm`] allowlist and `typ` rule | `jws`, `alg` |
//! | key and signature | the key the header names in that issuer's key set, bound to one algorithm | `keys`, `issuer` |
//! | claims | issuer, audience, times (a lifetime of at most `longest_token_lifetime`), RFC 9068 claims and the issuer's narrow switches, into the [`Principal`]'s data; a SET (`events` claim) is not an access token | `claims` |
//! | requirement | scopes, token age, `acr`, authentication age | `requirement` ([`Requirement`]) |
//! | introspection | sensitive routes and opaque tokens: the live answer, its cache and limits; for a JWT it must agree with the token | [`introspection`] |
//! | binding | `cnf.jkt` against the proof's key, `cnf.x5t#S256` against the [`ClientCertificate`], the [`SenderConstraint`]s; the proof's first use | `request`, `dpop` |
//! | answer | the [`Principal`] in the request extensions, or the RFC 6750 response | [`layer`] |
//!
//! The engine (`engine`) only orders these steps: everything that can be decided without
//! waiting is, and only a key refetch or an introspection call is awaited.
//!
//! # Features
//!
//! - `axum` (default): the [`Principal`] and [`Claims`] extractors, and `IntoResponse` for
//!   [`Rejection`].
//! - `tracing` (default): logs through `tracing` (target `tollgate`).
//! - `tower-http`: `tollgate::tower_http::Authorize`, for
//!   `tower_http::auth::AsyncRequireAuthorizationLayer`.
//!
//! # Algorithms
//!
//! [`Algorithm`] is tollgate's own type, not jsonwebtoken's. tollgate verifies with aws-lc-rs
//! directly and does not depend on jsonwebtoken, so its API does not change with jsonwebtoken's
//! releases, and only the algorithms tollgate verifies can be named (`none` cannot).
//!
//! # Example
//!
//! ```
//! use axum::{Router, routing::{get, post}};
//! use http::{Request, StatusCode};
//! use tollgate::{Introspection, Principal, Requirement, Tollgate};
//! use tollgate_mock::MockAuthServer;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! // A mock authorization server on 127.0.0.1 stands in for a real one.
//! let auth_server = MockAuthServer::start().await;
//!
//! let gate = Tollgate::builder()
//!     .issuer(auth_server.issuer())
//!     .audience(auth_server.audience())
//!     .introspection(Introspection::client_secret_basic(auth_server.client_id(), auth_server.client_secret()))
//!     .build()
//!     .unwrap();
//! // Optional: wait for the signing keys (until then, requests get 503 + Retry-After).
//! assert!(gate.wait_for_keys(std::time::Duration::from_secs(10)).await);
//!
//! async fn hello(principal: Principal) -> String {
//!     format!("hello {}", principal.subject().unwrap_or("stranger"))
//! }
//!
//! let app = Router::new()
//!     .route("/hello", get(hello))
//!     .route("/payments", post(|| async { "paid" }).route_layer(gate.sensitive()))
//!     .layer(gate.layer());
//!
//! let token = auth_server.token().subject("alice").sign();
//! let response = app
//!     .oneshot(Request::get("/hello").header("authorization", format!("Bearer {token}")).body(axum::body::Body::empty()).unwrap())
//!     .await
//!     .unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//! # }
//! ```
#![cfg_attr(
    not(test),
    deny(clippy::unwrap_used, clippy::expect_used, clippy::panic)
)]
#![cfg_attr(docsrs, feature(doc_cfg))]

mod log;

mod alg;
pub mod bearer;
mod builder;
mod claims;
mod diagnostics;
// Sender-constrained tokens (RFC 9449, RFC 8705): proofs, bindings, replay, nonces; called
// for each request by `request`.
pub(crate) mod dpop;
mod engine;
mod error;
pub mod events;
#[cfg(feature = "axum")]
mod extract;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod hash;
pub mod introspection;
mod issuer;
mod json;
mod jws;
mod keys;
pub mod layer;
pub mod metadata;
mod policy;
mod principal;
mod rejection;
mod request;
mod requirement;
mod revoke;
mod rules;
pub mod store;
#[cfg(feature = "tower-http")]
pub mod tower_http;
mod url_rules;
mod verified;

pub use alg::{Algorithm, UnknownAlgorithm};
pub use builder::TollgateBuilder;
pub use claims::{AudiencePolicy, ClientIdClaim, JtiPolicy, ScopeSource};
pub use diagnostics::{Diagnostics, IssuerDiagnostics, SharedStoreDiagnostics};
pub use dpop::{ClientCertificate, Dpop, SenderConstraint};
pub use engine::Tollgate;
pub use error::{ConfigError, ConfigErrorKind};
#[cfg(feature = "axum")]
pub use extract::{Claims, ClaimsShapeError, ExtractRejection};
pub use introspection::config::Introspection;
pub use issuer::{Profile, TrustedIssuer};
pub use layer::make::TollgateLayer;
pub use layer::service::TollgateService;
pub use metadata::{ResourceMetadata, ResourceMetadataService};
pub use policy::{PolicyTable, PolicyTableBuilder};
pub use principal::{Principal, Scopes, TokenFormat};
pub use rejection::{InvalidToken, Rejection, RejectionBody, Unavailable};
pub use requirement::Requirement;
pub use revoke::{RevokeError, RevokeErrorKind};
