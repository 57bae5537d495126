//! Bearer-token authentication for every request of a service, with per-route requirements
//! from a [`PolicyTable`](crate::PolicyTable): [`TollgateLayer`](crate::TollgateLayer) makes a
//! [`TollgateService`](crate::TollgateService), whose [`ResponseFuture`] answers with a
//! [`ResponseBody`].
//!
//! The layer takes the bearer token from the `Authorization` header, validates it (locally for
//! a JWT; by introspection for an opaque token or on a sensitive route), and puts the
//! [`Principal`](crate::Principal) into the request extensions before calling the inner
//! service. A refused request never reaches the inner service: it is answered with the RFC 6750
//! response of its [`Rejection`](crate::Rejection).
//!
//! Caveats: tokens in the URI query are refused (they leak into logs), and tokens in a form
//! body are not read. With axum, a layer on the whole `Router` also answers unknown paths with
//! 401; use route annotations ([`Tollgate::require`](crate::Tollgate::require)) to keep them 404.
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use http::{Request, Response, StatusCode};
//! use tollgate::{Principal, PolicyTable, Requirement, Tollgate};
//! use tollgate_mock::MockAuthServer;
//! use tower::{ServiceBuilder, ServiceExt};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let auth_server = MockAuthServer::start().await;
//! let gate = Tollgate::builder()
//!     .issuer(auth_server.issuer())
//!     .audience(auth_server.audience())
//!     .build()
//!     .unwrap();
//! assert!(gate.wait_for_keys(std::time::Duration::from_secs(10)).await);
//!
//! let policy = PolicyTable::builder()
//!     .rule("GET", "/health", Requirement::public())
//!     .rule("*", "/photos/{*rest}", Requirement::routine().all_scopes(["read"]))
//!     .build()
//!     .unwrap();
//!
//! let service = ServiceBuilder::new()
//!     .layer(gate.layer_with_policy(policy))
//!     .service_fn(|request: Request<String>| async move {
//!         let who = request.extensions().get::<Principal>().and_then(|p| p.subject().map(str::to_owned));
//!         Ok::<_, Infallible>(Response::new(who.unwrap_or_default()))
//!     });
//!
//! let token = auth_server.token().subject("alice").scope("read").sign();
//! let request = Request::get("/photos/1")
//!     .header("authorization", format!("Bearer {token}"))
//!     .body(String::new())
//!     .unwrap();
//! let response = service.clone().oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//!
//! let anonymous = Request::get("/photos/1").body(String::new()).unwrap();
//! let response = service.oneshot(anonymous).await.unwrap();
//! assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
//! # }
//! ```

mod body;
mod future;
pub(crate) mod make;
pub(crate) mod service;

pub use body::ResponseBody;
pub use future::ResponseFuture;
