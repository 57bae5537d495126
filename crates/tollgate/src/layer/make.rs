//! [`TollgateLayer`], and the [`Tollgate`] methods that make one.

use std::sync::Arc;
use std::time::Duration;

use tower_layer::Layer;

use super::service::TollgateService;
use crate::Tollgate;
use crate::error::ConfigError;
use crate::policy::PolicyTable;
use crate::requirement::Requirement;

/// Applies [`TollgateService`] to a service. Made by [`Tollgate::layer`],
/// [`Tollgate::layer_with_policy`], [`Tollgate::require`] and [`Tollgate::sensitive`].
#[derive(Clone)]
pub struct TollgateLayer {
    gate: Tollgate,
    policy: Arc<PolicyTable>,
}

impl TollgateLayer {
    pub(crate) fn new(gate: Tollgate, policy: PolicyTable) -> Self {
        Self {
            gate,
            policy: Arc::new(policy),
        }
    }
}

impl std::fmt::Debug for TollgateLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TollgateLayer")
            .field("policy", &self.policy)
            .finish_non_exhaustive()
    }
}

impl<S> Layer<S> for TollgateLayer {
    type Service = TollgateService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        TollgateService::new(inner, self.gate.clone(), Arc::clone(&self.policy))
    }
}

impl Tollgate {
    /// A layer that authenticates every request with routine requirements (any valid token).
    pub fn layer(&self) -> TollgateLayer {
        TollgateLayer::new(self.clone(), PolicyTable::uniform(Requirement::routine()))
    }

    /// A layer that authenticates every request with the requirement its
    /// [`PolicyTable`](crate::PolicyTable) row gives.
    ///
    /// # Panics
    ///
    /// If a requirement of the table accepts DPoP and the engine has no DPoP settings
    /// ([`TollgateBuilder::dpop`](crate::TollgateBuilder::dpop)): such a route could refuse
    /// every request. [`try_layer_with_policy`](Self::try_layer_with_policy) returns the error.
    #[track_caller]
    pub fn layer_with_policy(&self, policy: PolicyTable) -> TollgateLayer {
        self.try_layer_with_policy(policy)
            .unwrap_or_else(|error| crate::requirement::refuse(&error))
    }

    /// [`layer_with_policy`](Self::layer_with_policy), returning the error instead of
    /// panicking.
    ///
    /// # Errors
    /// A [`ConfigError`] of kind [`Requirement`](crate::ConfigErrorKind::Requirement).
    pub fn try_layer_with_policy(&self, policy: PolicyTable) -> Result<TollgateLayer, ConfigError> {
        for requirement in policy.requirements() {
            self.check_attached(requirement)?;
        }
        Ok(TollgateLayer::new(self.clone(), policy))
    }

    /// A route annotation: the wrapped route requires `requirement`.
    ///
    /// With axum, apply it with `route_layer`, so that unknown paths stay 404. The annotation
    /// validates the token itself, so it works with or without [`Tollgate::layer`] around the
    /// router (behind one, the repeated local check is a verified-token cache hit), then
    /// applies its requirement: scopes, and for a sensitive route, live introspection. It is
    /// the layer of [`layer_with_policy`](Self::layer_with_policy) with a one-requirement table.
    ///
    /// # Panics
    ///
    /// If `requirement` is invalid (see [`Requirement`] for the rules): a bad scope name, or a
    /// contradiction such as a public route with scopes. Like axum's router on an invalid
    /// route, this stops the service at construction, never at a request.
    /// [`try_require`](Self::try_require) returns the error instead.
    ///
    /// # Example
    ///
    /// ```
    /// use axum::{Router, routing::{delete, get}};
    /// use http::{Request, StatusCode};
    /// use tollgate::{Introspection, Principal, Requirement, Tollgate};
    /// use tollgate_mock::MockAuthServer;
    /// use tower::ServiceExt;
    ///
    /// # #[tokio::main(flavor = "current_thread")]
    /// # async fn main() {
    /// let auth_server = MockAuthServer::start().await;
    /// let gate = Tollgate::builder()
    ///     .issuer(auth_server.issuer())
    ///     .audience(auth_server.audience())
    ///     .introspection(Introspection::client_secret_basic(auth_server.client_id(), auth_server.client_secret()))
    ///     .build()
    ///     .unwrap();
    /// assert!(gate.wait_for_keys(std::time::Duration::from_secs(10)).await);
    ///
    /// async fn photos(principal: Principal) -> String {
    ///     format!("photos of {}", principal.subject().unwrap_or("nobody"))
    /// }
    /// async fn ban_user() -> StatusCode {
    ///     StatusCode::NO_CONTENT
    /// }
    ///
    /// let app = Router::new()
    ///     .route("/photos", get(photos).route_layer(gate.require(Requirement::routine().all_scopes(["read"]))))
    ///     // Sensitive: the authorization server confirms the token on every request.
    ///     .route("/admin/users/{id}", delete(ban_user).route_layer(gate.sensitive()));
    ///
    /// let token = auth_server.token().scope("read").sign();
    /// let request = |method: &str, path: &str| {
    ///     Request::builder()
    ///         .method(method)
    ///         .uri(path)
    ///         .header("authorization", format!("Bearer {token}"))
    ///         .body(axum::body::Body::empty())
    ///         .unwrap()
    /// };
    /// assert_eq!(app.clone().oneshot(request("GET", "/photos")).await.unwrap().status(), StatusCode::OK);
    /// assert_eq!(app.clone().oneshot(request("DELETE", "/admin/users/7")).await.unwrap().status(), StatusCode::NO_CONTENT);
    ///
    /// // Revoked at the authorization server: the sensitive route sees it at once.
    /// auth_server.revoke(&token);
    /// assert_eq!(app.clone().oneshot(request("DELETE", "/admin/users/7")).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    /// // ... and from then on every route refuses the token (revocation memory).
    /// assert_eq!(app.oneshot(request("GET", "/photos")).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    /// # }
    /// ```
    #[track_caller]
    pub fn require(&self, requirement: Requirement) -> TollgateLayer {
        self.try_require(requirement)
            .unwrap_or_else(|error| crate::requirement::refuse(&error))
    }

    /// [`require`](Self::require), returning an invalid requirement's error instead of
    /// panicking: for requirements that come from configuration files.
    ///
    /// # Errors
    /// A [`ConfigError`](crate::ConfigError) of kind
    /// [`Requirement`](crate::ConfigErrorKind::Requirement) naming the problem.
    pub fn try_require(&self, requirement: Requirement) -> Result<TollgateLayer, ConfigError> {
        self.check_attached(&requirement)?;
        Ok(TollgateLayer::new(
            self.clone(),
            PolicyTable::try_uniform(requirement)?,
        ))
    }

    /// What only the engine can say about a requirement: a route that accepts DPoP needs an
    /// engine with DPoP settings.
    pub(crate) fn check_attached(&self, requirement: &Requirement) -> Result<(), ConfigError> {
        if requirement.sender.is_some_and(|c| c.allows_dpop()) && self.inner.dpop.is_none() {
            return Err(ConfigError::new(
                crate::ConfigErrorKind::Requirement,
                "the requirement accepts DPoP, but the engine has no DPoP settings: set \
                 TollgateBuilder::dpop(..) and public_url(..)",
            ));
        }
        Ok(())
    }

    /// A route annotation for a sensitive route: live introspection with the freshness budget
    /// set by [`TollgateBuilder::sensitive_freshness`](crate::TollgateBuilder::sensitive_freshness)
    /// (zero unless changed). Add scopes with [`require`](Self::require) and
    /// [`Requirement::sensitive`] instead when the route needs them.
    pub fn sensitive(&self) -> TollgateLayer {
        self.require(Requirement::sensitive(self.inner.sensitive_freshness))
    }

    /// The freshness budget of [`Tollgate::sensitive`] annotations.
    pub fn sensitive_freshness(&self) -> Duration {
        self.inner.sensitive_freshness
    }

    /// Hands an accepted request its principal (and the proof it was accepted with); the
    /// nonce its answer should carry.
    pub(crate) fn accept_with_nonce<B>(
        &self,
        request: &mut http::Request<B>,
        accepted: crate::request::Accepted,
    ) -> Option<http::HeaderValue> {
        let extensions = request.extensions_mut();
        extensions.insert(accepted.principal);
        if let Some(proof) = accepted.proof {
            extensions.insert(proof);
        }
        accepted.nonce
    }
}
