//! The metadata documents (RFC 8414, OpenID Connect Discovery 1.0) and the JWKS (RFC 7517 §5).

use std::sync::Arc;

use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderValue, header};
use serde_json::{Value, json};

use crate::state::Shared;

const AUTH_METHODS: [&str; 2] = ["client_secret_basic", "client_secret_post"];
const SIGNING_ALGS: [&str; 9] = [
    "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "EdDSA",
];

/// The RFC 8414 §2 document; the OpenID one adds the fields OpenID Discovery §3 requires.
fn document(shared: &Shared, openid: bool) -> Value {
    let config = &shared.config;
    let mut doc = json!({
        "issuer": config.issuer,
        "jwks_uri": config.url(&config.paths.jwks),
        "token_endpoint": config.url(&config.paths.token),
        "introspection_endpoint": config.url(&config.paths.introspection),
        "revocation_endpoint": config.url(&config.paths.revocation),
        "grant_types_supported": ["client_credentials", "refresh_token"],
        // Required by RFC 8414 §2, but the mock has no authorization endpoint at all.
        "response_types_supported": [],
        "token_endpoint_auth_methods_supported": AUTH_METHODS,
        "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
        "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
        "scopes_supported": ["read", "write", "admin", "offline_access"],
        // RFC 9449 §5.1: the token endpoint takes DPoP proofs signed with these.
        "dpop_signing_alg_values_supported": SIGNING_ALGS,
    });
    if openid {
        doc["subject_types_supported"] = json!(["public"]);
        doc["id_token_signing_alg_values_supported"] = json!(SIGNING_ALGS);
    }
    doc
}

pub(crate) async fn oauth_metadata(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(document(&shared, false))
}

pub(crate) async fn openid_metadata(State(shared): State<Arc<Shared>>) -> Json<Value> {
    Json(document(&shared, true))
}

pub(crate) async fn jwks(State(shared): State<Arc<Shared>>) -> Response {
    let keys = shared.keys().jwks();
    let mut response = Json(keys).into_response();
    let cache_control = shared.jwks_cache_control();
    if !cache_control.is_empty()
        && let Ok(value) = HeaderValue::from_str(&cache_control)
    {
        response.headers_mut().insert(header::CACHE_CONTROL, value);
    }
    response
}
