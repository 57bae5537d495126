//! Route annotations: a [`Requirement`] attached to one route.
//!
//! With axum, put the annotation on the route with `route_layer`, so unknown paths stay 404.
//! The annotation validates the token itself (so it works with or without a
//! [`TollgateLayer`](crate::TollgateLayer) around the router; behind one, the repeated local
//! check is a verified-token cache hit) and then applies its requirement: scopes, and for a
//! sensitive route, live introspection.
//!
//! # Example
//!
//! ```
//! use axum::{Router, routing::{delete, get}};
//! use http::{Request, StatusCode};
//! use tollgate::{Introspection, Principal, Requirement, Tollgate};
//! use tollgate_mock::MockAuthServer;
//! use tower::ServiceExt;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let auth_server = MockAuthServer::start().await;
//! let gate = Tollgate::builder()
//!     .issuer(auth_server.issuer())
//!     .audience(auth_server.audience())
//!     .introspection(Introspection::client_secret_basic(auth_server.client_id(), auth_server.client_secret()))
//!     .build()
//!     .unwrap();
//! assert!(gate.ready(std::time::Duration::from_secs(10)).await);
//!
//! async fn photos(principal: Principal) -> String {
//!     format!("photos of {}", principal.subject().unwrap_or("nobody"))
//! }
//! async fn ban_user() -> StatusCode {
//!     StatusCode::NO_CONTENT
//! }
//!
//! let app = Router::new()
//!     .route("/photos", get(photos).route_layer(gate.require(Requirement::routine().all_scopes(["read"]))))
//!     // Sensitive: the authorization server confirms the token on every request.
//!     .route("/admin/users/{id}", delete(ban_user).route_layer(gate.sensitive()));
//!
//! let token = auth_server.token().scope("read").sign();
//! let request = |method: &str, path: &str| {
//!     Request::builder()
//!         .method(method)
//!         .uri(path)
//!         .header("authorization", format!("Bearer {token}"))
//!         .body(axum::body::Body::empty())
//!         .unwrap()
//! };
//! assert_eq!(app.clone().oneshot(request("GET", "/photos")).await.unwrap().status(), StatusCode::OK);
//! assert_eq!(app.clone().oneshot(request("DELETE", "/admin/users/7")).await.unwrap().status(), StatusCode::NO_CONTENT);
//!
//! // Revoked at the authorization server: the sensitive route sees it at once.
//! auth_server.revoke(&token);
//! assert_eq!(app.clone().oneshot(request("DELETE", "/admin/users/7")).await.unwrap().status(), StatusCode::UNAUTHORIZED);
//! // ... and from then on every route refuses the token (revocation memory).
//! assert_eq!(app.oneshot(request("GET", "/photos")).await.unwrap().status(), StatusCode::UNAUTHORIZED);
//! # }
//! ```

use std::sync::Arc;
use std::task::{Context, Poll};

use http::{Request, Response};
use tower_layer::Layer;
use tower_service::Service;

use crate::Tollgate;
use crate::body::ResponseBody;
use crate::layer::{ResponseFuture, authorize};
use crate::requirement::Requirement;

/// Applies [`RequireService`]: one requirement for the wrapped route. Made by
/// [`Tollgate::require`] and [`Tollgate::sensitive`].
#[derive(Clone)]
pub struct RequireLayer {
    gate: Tollgate,
    requirement: Arc<Requirement>,
}

impl RequireLayer {
    pub(crate) fn new(gate: Tollgate, requirement: Requirement) -> Self {
        Self {
            gate,
            requirement: Arc::new(requirement),
        }
    }
}

impl std::fmt::Debug for RequireLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireLayer")
            .field("requirement", &self.requirement)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for RequireLayer {
    type Service = RequireService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RequireService {
            inner,
            gate: self.gate.clone(),
            requirement: Arc::clone(&self.requirement),
        }
    }
}

/// Validates the bearer token against one [`Requirement`]; see the [module docs](crate::require).
#[derive(Clone)]
pub struct RequireService<S> {
    inner: S,
    gate: Tollgate,
    requirement: Arc<Requirement>,
}

impl<S> std::fmt::Debug for RequireService<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RequireService")
            .field("requirement", &self.requirement)
            .finish_non_exhaustive()
    }
}

impl<S, ReqB, ResB> Service<Request<ReqB>> for RequireService<S>
where
    S: Service<Request<ReqB>, Response = Response<ResB>> + Clone + Send + 'static,
    ReqB: Send + 'static,
{
    type Response = Response<ResponseBody<ResB>>;
    type Error = S::Error;
    type Future = ResponseFuture<S::Future, S, ReqB>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: Request<ReqB>) -> Self::Future {
        authorize(
            &self.gate,
            &mut self.inner,
            request,
            Arc::clone(&self.requirement),
        )
    }
}
