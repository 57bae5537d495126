//! The HTTP surface: routes, the counting and fault layer, and the 404 fallback.

mod client_auth;
mod error;
mod form;
mod introspect;
mod metadata;
mod shaped;
mod token;

use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::StatusCode;
use serde_json::json;

use crate::faults::{self, Endpoint};
use crate::observed::SeenRequest;
use crate::state::Shared;

/// All routes of one server, under its issuer path.
pub(crate) fn router(shared: Arc<Shared>) -> Router {
    let paths = &shared.config.paths;
    let routes = if paths.routes.is_empty() {
        Router::new()
            .route(&paths.oauth_metadata, get(metadata::oauth_metadata))
            .route(&paths.openid_metadata, get(metadata::openid_metadata))
            .route(&paths.jwks, get(metadata::jwks))
            .route(&paths.token, post(token::token))
            .route(&paths.introspection, post(introspect::introspect))
            .route(&paths.revocation, post(introspect::revoke))
    } else {
        // A server shape: the product's routes.
        shaped::routes(&shared)
    };
    routes
        .fallback(not_found)
        // `layer`, not `route_layer`: unknown paths are counted too.
        .layer(middleware::from_fn_with_state(shared.clone(), observe))
        .with_state(shared)
}

async fn not_found() -> Response {
    (
        StatusCode::NOT_FOUND,
        axum::Json(json!({ "error": "not_found" })),
    )
        .into_response()
}

/// Counts and records the request, then applies its path's or its endpoint's fault, if any,
/// with the request counted in flight until the answer is ready.
async fn observe(State(shared): State<Arc<Shared>>, request: Request, next: Next) -> Response {
    let path = request.uri().path().to_owned();
    shared.counters.count_path(&path);
    let Some(endpoint) = shared.config.paths.endpoint(&path) else {
        return match shared.path_fault(&path) {
            Some(fault) => faults::apply(fault, request, next).await,
            None => next.run(request).await,
        };
    };
    shared.counters.count_endpoint(endpoint);

    // The whole body, read before anything else, faults included: recorded, and for
    // introspection counted per token, so that a test sees what was sent whatever the server
    // answered.
    let (parts, body) = request.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, form::BODY_LIMIT).await else {
        return error::OAuthError::invalid_request("the body is unreadable or too large")
            .into_response();
    };
    if endpoint == Endpoint::Introspection
        && let Some(token) = form::Form::parse(&bytes)
            .ok()
            .and_then(|f| f.get("token").map(str::to_owned))
    {
        shared.counters.count_introspected(&token);
    }
    shared
        .records
        .record(endpoint, SeenRequest::new(&parts, bytes.clone()));
    let request = Request::from_parts(parts, Body::from(bytes));

    let _in_flight = shared.counters.enter(endpoint);
    match shared.path_fault(&path).or_else(|| shared.fault(endpoint)) {
        Some(fault) => faults::apply(fault, request, next).await,
        None => next.run(request).await,
    }
}
