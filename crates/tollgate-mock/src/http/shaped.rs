//! The routes of a server under a [`Shape`](crate::Shape) other than strict: the documents,
//! JWKS and introspection as that product serves them. The token and revocation handlers are
//! the strict ones, at the product's paths.

use std::sync::Arc;

use axum::Json;
use axum::Router;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use http::{HeaderMap, HeaderValue, header};
use serde_json::json;

use super::client_auth::{Caller, authenticate};
use super::error::{OAuthError, no_store};
use super::form::Form;
use super::{introspect, token};
use crate::shapes::{self, Document, IntrospectionAuth, Serves};
use crate::state::Shared;
use crate::util::now;

/// Every route the shape serves.
pub(super) fn routes(shared: &Shared) -> Router<Arc<Shared>> {
    let mut router = Router::new();
    for route in &shared.config.paths.routes {
        router =
            match route.serves {
                Serves::Document(document) => router.route(
                    &route.path,
                    get(move |State(shared): State<Arc<Shared>>| async move {
                        metadata(&shared, document)
                    }),
                ),
                Serves::Jwks => router.route(&route.path, get(jwks)),
                Serves::Token => router.route(&route.path, post(token::token)),
                Serves::Introspection => router.route(&route.path, post(introspection)),
                Serves::Revocation => router.route(&route.path, post(introspect::revoke)),
            };
    }
    router
}

fn metadata(shared: &Shared, document: Document) -> Response {
    match shapes::server(&shared.config.shape) {
        Some(server) => Json(server.document(&shared.config, document)).into_response(),
        None => http::StatusCode::NOT_FOUND.into_response(),
    }
}

async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    let keys = shapes::jwks(&shared);
    let mut response = Json(keys).into_response();
    let Some(server) = shapes::server(&shared.config.shape) else {
        return response;
    };
    let headers = response.headers_mut();
    headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(server.jwks_content_type()),
    );
    // The builder's `jwks_cache_control` if set, else the product's; empty sends none.
    let cache_control = shared.jwks_cache_control();
    if !cache_control.is_empty()
        && let Ok(value) = HeaderValue::from_str(&cache_control)
    {
        headers.insert(header::CACHE_CONTROL, value);
    }
    response
}

/// RFC 7662 §2, with the product's rules on who may ask, which hints it takes, and what it
/// refuses to introspect.
async fn introspection(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let inactive = || (no_store(), Json(json!({ "active": false }))).into_response();
    let Some(rules) = shapes::server(&shared.config.shape).and_then(|s| s.introspection()) else {
        return http::StatusCode::NOT_FOUND.into_response();
    };
    let form = match Form::read(&headers, body).await {
        Ok(form) => form,
        Err(error) => return error.into_response(),
    };
    let caller = match (
        rules.auth,
        authenticate(&shared.config, &headers, &form, true),
    ) {
        (_, Ok(Caller::Client(id))) => Some(id),
        (_, Ok(Caller::Bearer)) | (IntrospectionAuth::None, Err(_)) => None,
        (IntrospectionAuth::Required, Err(error)) => return error.into_response(),
        // authentik answers a failed client authentication as it answers an unknown token.
        (IntrospectionAuth::FailureIsInactive, Err(_)) => return inactive(),
    };
    let Some(token) = form.get("token") else {
        return OAuthError::invalid_request("token is missing").into_response();
    };
    if let (Some(hints), Some(hint)) = (rules.hints, form.get("token_type_hint"))
        && !hints.contains(&hint)
    {
        return OAuthError::invalid_request(format!("Unsupported token type [{hint}]."))
            .into_response();
    }
    if rules.refuse_jwt && token.split('.').count() == 3 {
        return OAuthError::unsupported_token_type(
            "Structured JWT Tokens cannot be introspected via the introspection_endpoint",
        )
        .into_response();
    }
    let answer = shapes::introspect(&shared, token, caller.as_deref(), now());
    (no_store(), Json(answer)).into_response()
}
