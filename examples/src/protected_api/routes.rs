//! The routes of `protected-api` and their handlers.

use std::time::Duration;

use axum::extract::Path;
use axum::http::StatusCode;
use axum::routing::{delete, get, post};
use axum::{Extension, Json, Router};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use tollgate::{Principal, Requirement, TokenFormat, Tollgate};

#[cfg(doc)]
use super::Decision;
use super::request_log::{self, Checked};

/// The API: `GET /health` (no token), `GET /.well-known/oauth-protected-resource` (the RFC
/// 9728 document, when the gate has one), `GET /me` (any valid token), `GET /photos` (scope
/// `read`), `GET /account/security` (a recent multi-factor authentication, RFC 9470: see
/// [`step_up`]), and the sensitive `POST /admin/users`, `DELETE /admin/users/{id}` (scope `admin`)
/// and `POST /payments` (scope `payments`), whose tokens the authorization server confirms by
/// introspection, reusing an answer for at most `freshness`.
///
/// Every route carries its own requirement (`route_layer`), so unknown paths stay 404 and
/// `/health` needs nothing. Every request is logged: a tower-http trace span, and one INFO
/// line (target `protected_api`) with method, path, status and the [`Decision`]; never a
/// token.
pub fn app(gate: &Tollgate, freshness: Duration) -> Router {
    let sensitive =
        |scope: &str| gate.require(Requirement::sensitive(freshness).all_scopes([scope]));
    let routes = Router::new()
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
        .route(
            "/account/security",
            get(account_security).route_layer(gate.require(step_up())),
        );
    // RFC 9728: how a client finds the authorization server, before it has a token.
    // At the well-known path and at its path-suffixed form (RFC 9728 §3.1).
    let mut routes = routes;
    if let Some(metadata) = gate.resource_metadata_service() {
        let paths: Vec<String> = metadata.paths().map(str::to_owned).collect();
        for path in paths {
            routes = routes.route_service(&path, metadata.clone());
        }
    }
    request_log::logged(routes)
}

/// The JSON body of `GET /me`: who the token speaks for, and how it was checked. The same
/// members whichever server issued the token: the profile says where each comes from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Me {
    /// `iss`.
    pub issuer: Option<String>,
    /// `sub`.
    pub subject: Option<String>,
    /// `client_id`, or the claim the profile reads it from (`azp`, `appid`, `cid`).
    pub client_id: Option<String>,
    /// The granted scopes (`scope`, or `scp` where the profile reads it).
    pub scopes: Vec<String>,
    /// The roles the profile reads (Keycloak's realm roles, Entra ID's app roles, ...).
    pub roles: Vec<String>,
    /// The permissions the profile reads (Auth0's).
    pub permissions: Vec<String>,
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
            issuer: principal.issuer().map(str::to_owned),
            subject: principal.subject().map(str::to_owned),
            client_id: principal.client_id().map(str::to_owned),
            scopes: principal.scopes().iter().map(str::to_owned).collect(),
            roles: principal.roles().to_vec(),
            permissions: principal.permissions().to_vec(),
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

/// The `acr` value `GET /account/security` asks for: a multi-factor authentication.
pub const STEP_UP_ACR: &str = "urn:tollgate:mfa";

/// How long ago the user may have authenticated for `GET /account/security`.
pub const STEP_UP_MAX_AGE: Duration = Duration::from_secs(300);

/// `GET /account/security`'s requirement: a multi-factor authentication (`acr`
/// [`STEP_UP_ACR`]) at most [`STEP_UP_MAX_AGE`] ago (`auth_time`), else 401
/// `insufficient_user_authentication` with `acr_values` and `max_age` (RFC 9470 §3), so the
/// client can send the user back to the authorization server to step up.
pub fn step_up() -> Requirement {
    Requirement::routine()
        .acr_values([STEP_UP_ACR])
        .max_auth_age(STEP_UP_MAX_AGE)
}

async fn account_security(principal: Principal) -> (Extension<Checked>, Json<Value>) {
    let body = json!({
        "subject": principal.subject(),
        "acr": principal.acr(),
        "auth_time": principal.auth_time(),
    });
    (checked(&principal), Json(body))
}

fn checked(principal: &Principal) -> Extension<Checked> {
    Extension(Checked::by(principal))
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
