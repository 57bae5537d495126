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
//! - [`Tollgate`] is the engine, configured once with [`Tollgate::builder`].
//! - [`Tollgate::layer`] / [`Tollgate::layer_with_policy`] authenticate every request of a
//!   service ([`layer`] module); [`Tollgate::require`] and [`Tollgate::sensitive`] annotate
//!   single routes (with axum, through `route_layer`).
//! - Handlers get the [`Principal`] (and, with the `axum` feature, typed [`Claims`]).
//! - Refusals are RFC 6750 responses ([`Rejection`]); when the authorization server is needed
//!   and cannot be reached, the answer is 503 with `Retry-After`, never a silent pass.
//! - [`Tollgate::validate`] checks a token outside HTTP.
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
//! assert!(gate.ready(std::time::Duration::from_secs(10)).await);
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

mod body;
mod builder;
mod claims;
mod engine;
mod error;
#[cfg(feature = "axum")]
mod extract;
#[cfg(feature = "fuzzing")]
#[doc(hidden)]
pub mod fuzzing;
mod hash;
pub mod introspection;
mod keys;
pub mod layer;
mod policy;
mod principal;
mod rejection;
mod requirement;
mod status;
pub mod store;
mod token;
mod url_rules;

pub use body::ResponseBody;
pub use builder::TollgateBuilder;
pub use engine::Tollgate;
pub use error::{ConfigError, ConfigErrorKind};
#[cfg(feature = "axum")]
pub use extract::{Claims, ClaimsShapeError, ExtractRejection};
pub use introspection::Introspection;
pub use jsonwebtoken::Algorithm;
pub use layer::{TollgateLayer, TollgateService};
pub use policy::{PolicyTable, PolicyTableBuilder};
pub use principal::{Principal, Scopes, TokenFormat};
pub use rejection::{InvalidToken, Rejection, RejectionBody, Unavailable};
pub use requirement::Requirement;
pub use status::Status;
