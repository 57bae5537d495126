//! axum integration: the [`Principal`] and typed claims ([`Claims`]) of a request as
//! extractors, and [`Rejection`] as a response.
//!
//! Both read what a [`TollgateLayer`](crate::TollgateLayer) or a route annotation put into the
//! request extensions; without one of them in front of the handler, extraction fails with a
//! 500 that says which layer is missing.
//!
//! # Example
//!
//! ```
//! use axum::{Router, routing::get};
//! use http::{Request, StatusCode};
//! use serde::Deserialize;
//! use tollgate::{Claims, Principal, Tollgate};
//! use tollgate_mock::MockAuthServer;
//! use tower::ServiceExt;
//!
//! #[derive(Deserialize)]
//! struct TenantClaims {
//!     tenant: String,
//! }
//!
//! async fn whoami(principal: Principal, Claims(claims): Claims<TenantClaims>) -> String {
//!     format!("{} of {}", principal.subject().unwrap_or("?"), claims.tenant)
//! }
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
//! let app = Router::new().route("/whoami", get(whoami)).layer(gate.layer());
//!
//! let token = auth_server.token().subject("alice").claim("tenant", "acme").sign();
//! let request = Request::get("/whoami")
//!     .header("authorization", format!("Bearer {token}"))
//!     .body(axum::body::Body::empty())
//!     .unwrap();
//! let response = app.oneshot(request).await.unwrap();
//! assert_eq!(response.status(), StatusCode::OK);
//! # }
//! ```

use std::sync::Arc;

use axum_core::extract::{FromRequestParts, OptionalFromRequestParts};
use axum_core::response::{IntoResponse, Response};
use http::StatusCode;
use http::request::Parts;
use serde::de::DeserializeOwned;

use crate::principal::Principal;
use crate::rejection::{InvalidToken, Rejection, Responder};

/// Rejection of the [`Principal`] and [`Claims`] extractors.
#[derive(Debug)]
#[non_exhaustive]
pub enum ExtractRejection {
    /// No principal in the request extensions: no tollgate layer ran for this route.
    MissingLayer,
    /// The token's claims do not fit the type the handler asked for.
    ClaimsShape(ClaimsShapeError),
}

/// The claims of an accepted token do not fit the type a handler asked for.
pub struct ClaimsShapeError {
    error: serde_json::Error,
    /// How the engine that accepted the request answers, so the refusal carries its realm and
    /// body hook.
    responder: Option<Arc<Responder>>,
}

impl ClaimsShapeError {
    /// What serde found wrong, for logs (never sent to the client).
    pub fn serde_error(&self) -> &serde_json::Error {
        &self.error
    }
}

impl std::fmt::Debug for ClaimsShapeError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimsShapeError")
            .field("error", &self.error)
            .finish_non_exhaustive()
    }
}

impl std::fmt::Display for ExtractRejection {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::MissingLayer => f.write_str(
                "tollgate::Principal was not found in the request extensions. Did you forget to add \
                 the tollgate layer (`Tollgate::layer`) or a route annotation (`Tollgate::require`)?",
            ),
            Self::ClaimsShape(e) => write!(f, "the token's claims do not have the expected form: {}", e.error),
        }
    }
}

impl std::error::Error for ExtractRejection {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::MissingLayer => None,
            Self::ClaimsShape(e) => Some(&e.error),
        }
    }
}

impl IntoResponse for ExtractRejection {
    fn into_response(self) -> Response {
        match self {
            // A server mistake: the route is unprotected. Say so to the developer (the text
            // names no secret), and never let the handler run.
            Self::MissingLayer => {
                (StatusCode::INTERNAL_SERVER_ERROR, self.to_string()).into_response()
            }
            // The token is valid but not the kind this handler serves: an invalid token for
            // this resource (RFC 6750 §3.1). The serde detail stays out of the response.
            Self::ClaimsShape(shape) => {
                let rejection = Rejection::InvalidToken(InvalidToken::ClaimsShape);
                let response = match &shape.responder {
                    Some(responder) => responder.respond(&rejection),
                    None => rejection.to_response(None, None),
                };
                response.map(axum_core::body::Body::from)
            }
        }
    }
}

/// The response of a rejection, as [`Tollgate::render`](crate::Tollgate::render) gives it but
/// without an engine: no `realm` in the challenge and the default JSON body, whatever the
/// engine that refused was configured with. Handlers that call
/// [`Tollgate::validate`](crate::Tollgate::validate) and hold the engine should answer with
/// `gate.render(&rejection)` instead.
///
/// ```
/// use axum::response::IntoResponse;
/// use http::StatusCode;
/// use tollgate::Rejection;
///
/// let response = Rejection::MissingToken.into_response();
/// assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
/// assert_eq!(response.headers()["www-authenticate"], "Bearer");
/// ```
impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        self.to_response(None, None)
            .map(axum_core::body::Body::from)
    }
}

impl<S: Send + Sync> FromRequestParts<S> for Principal {
    type Rejection = ExtractRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        parts
            .extensions
            .get::<Principal>()
            .cloned()
            .ok_or(ExtractRejection::MissingLayer)
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Principal {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Principal>().cloned())
    }
}

/// The token's claims deserialized into `T` (custom claims included).
///
/// `Option<Claims<T>>` is `None` when no tollgate layer ran (a public route); claims that do
/// not fit `T` are still a rejection (401 `invalid_token`).
#[derive(Debug, Clone)]
pub struct Claims<T>(pub T);

impl<S: Send + Sync, T: DeserializeOwned> FromRequestParts<S> for Claims<T> {
    type Rejection = ExtractRejection;

    async fn from_request_parts(parts: &mut Parts, _state: &S) -> Result<Self, Self::Rejection> {
        let principal = parts
            .extensions
            .get::<Principal>()
            .ok_or(ExtractRejection::MissingLayer)?;
        principal
            .claims_as()
            .map(Claims)
            .map_err(|error| shape_error(principal, error))
    }
}

impl<S: Send + Sync, T: DeserializeOwned> OptionalFromRequestParts<S> for Claims<T> {
    type Rejection = ExtractRejection;

    async fn from_request_parts(
        parts: &mut Parts,
        _state: &S,
    ) -> Result<Option<Self>, Self::Rejection> {
        match parts.extensions.get::<Principal>() {
            None => Ok(None),
            Some(principal) => principal
                .claims_as()
                .map(|c| Some(Claims(c)))
                .map_err(|error| shape_error(principal, error)),
        }
    }
}

fn shape_error(principal: &Principal, error: serde_json::Error) -> ExtractRejection {
    ExtractRejection::ClaimsShape(ClaimsShapeError {
        error,
        responder: Some(Arc::clone(&principal.info().responder)),
    })
}
