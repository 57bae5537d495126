//! The routes of `protected-api`, their handlers, and the request log.

use std::fmt;
use std::time::Duration;

use axum::extract::{Path, Request};
use axum::http::{Response, StatusCode};
use axum::middleware::{self, Next};
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tollgate::{Principal, Rejection, Requirement, TokenFormat, Tollgate};

/// The API: `GET /health` (no token), `GET /me` (any valid token), `GET /photos` (scope
/// `read`), and the sensitive `POST /admin/users`, `DELETE /admin/users/{id}` (scope `admin`)
/// and `POST /payments` (scope `payments`), whose tokens the authorization server confirms by
/// introspection, reusing an answer for at most `freshness`.
///
/// Every route carries its own requirement (`route_layer`), so unknown paths stay 404 and
/// `/health` needs nothing. One log line per request (target `protected_api`, level INFO).
pub fn app(gate: &Tollgate, freshness: Duration) -> Router {
    let sensitive =
        |scope: &str| gate.require(Requirement::sensitive(freshness).all_scopes([scope]));
    Router::new()
        .route("/health", get(health))
        .route(
            "/me",
            get(me).route_layer(gate.require(Requirement::routine())),
        )
        .route(
            "/photos",
            get(photos).route_layer(gate.require(Requirement::routine().all_scopes(["read"]))),
        )
        .route(
            "/admin/users",
            post(create_user).route_layer(sensitive("admin")),
        )
        .route(
            "/admin/users/{id}",
            delete(delete_user).route_layer(sensitive("admin")),
        )
        .route("/payments", post(pay).route_layer(sensitive("payments")))
        .layer(middleware::from_fn(log_request))
}

/// The JSON body of `GET /me`: who the token speaks for, and how it was checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// `sub`.
    pub subject: Option<String>,
    /// `client_id` (or `azp` with untyped tokens).
    pub client_id: Option<String>,
    /// The granted scopes.
    pub scopes: Vec<String>,
    /// `aud`, always a list.
    pub audiences: Vec<String>,
    /// `exp`, seconds since the Unix epoch.
    pub expires_at: Option<i64>,
    /// `"jwt"` or `"opaque"`.
    pub token_format: String,
    /// Whether the authorization server was asked about the token for this request (or a
    /// cached answer was used): always for an opaque token, never for a JWT on `/me`.
    pub introspected: bool,
}

impl Me {
    /// The answer for `principal`.
    pub fn of(principal: &Principal) -> Self {
        Self {
            subject: principal.subject().map(str::to_owned),
            client_id: principal.client_id().map(str::to_owned),
            scopes: principal.scopes().iter().map(str::to_owned).collect(),
            audiences: principal.audiences().to_vec(),
            expires_at: principal.expires_at(),
            token_format: match principal.format() {
                TokenFormat::Jwt => "jwt",
                TokenFormat::Opaque => "opaque",
                _ => "other",
            }
            .to_owned(),
            introspected: principal.introspected(),
        }
    }
}

/// Put into the response extensions by the handlers of protected routes, so the request log
/// can tell how the token was checked.
#[derive(Debug, Clone, Copy)]
struct Checked {
    introspected: bool,
}

fn checked(principal: &Principal) -> Extension<Checked> {
    Extension(Checked {
        introspected: principal.introspected(),
    })
}

async fn health() -> Json<Value> {
    Json(json!({ "status": "ok" }))
}

async fn me(principal: Principal) -> (Extension<Checked>, Json<Me>) {
    (checked(&principal), Json(Me::of(&principal)))
}

async fn photos(principal: Principal) -> (Extension<Checked>, Json<Value>) {
    let body = json!({
        "owner": principal.subject(),
        "photos": ["harbour.jpg", "lighthouse.jpg", "tollgate.jpg"],
    });
    (checked(&principal), Json(body))
}

async fn create_user(principal: Principal) -> (StatusCode, Extension<Checked>, Json<Value>) {
    let body = json!({ "status": "created", "by": principal.subject() });
    (StatusCode::CREATED, checked(&principal), Json(body))
}

async fn delete_user(
    principal: Principal,
    Path(id): Path<String>,
) -> (Extension<Checked>, Json<Value>) {
    let body = json!({ "deleted": id, "by": principal.subject() });
    (checked(&principal), Json(body))
}

async fn pay(principal: Principal) -> (StatusCode, Extension<Checked>, Json<Value>) {
    let body = json!({ "status": "accepted", "by": principal.subject() });
    (StatusCode::CREATED, checked(&principal), Json(body))
}

/// What happened to a request, as the request log tells it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Decision {
    /// No token was checked: a public route (`/health`), or no route at all (404, 405).
    Unchecked,
    /// tollgate let the request through.
    Allowed {
        /// Whether the authorization server confirmed the token (sensitive route, opaque
        /// token).
        introspected: bool,
    },
    /// tollgate refused the request, for this reason.
    Refused(Rejection),
}

impl Decision {
    /// Reads the decision from a response: tollgate puts its [`Rejection`] into the response
    /// extensions of every refusal.
    pub fn of<B>(response: &Response<B>) -> Self {
        if let Some(rejection) = response.extensions().get::<Rejection>() {
            return Self::Refused(rejection.clone());
        }
        match response.extensions().get::<Checked>() {
            Some(checked) => Self::Allowed {
                introspected: checked.introspected,
            },
            None => Self::Unchecked,
        }
    }
}

impl fmt::Display for Decision {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Unchecked => f.write_str("no token checked"),
            Self::Allowed {
                introspected: false,
            } => f.write_str("allowed (validated locally)"),
            Self::Allowed { introspected: true } => {
                f.write_str("allowed (confirmed by introspection)")
            }
            // `Rejection`'s Display is "code: description", fixed texts that never hold the token.
            Self::Refused(rejection) => write!(f, "refused: {rejection}"),
        }
    }
}

/// One line per request: method, path, status, decision.
async fn log_request(request: Request, next: Next) -> axum::response::Response {
    let method = request.method().clone();
    // The path only: a query string could carry a token (`?access_token=`), which must never
    // reach a log.
    let path = request.uri().path().to_owned();
    let response = next.run(request).await;
    let decision = Decision::of(&response);
    tracing::info!(target: "protected_api", "{method} {path} {} {decision}", response.status().as_u16());
    response
}
