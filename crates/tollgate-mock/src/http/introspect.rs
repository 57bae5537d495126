//! Introspection (RFC 7662) and revocation (RFC 7009).

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::{HeaderMap, StatusCode};

use super::client_auth::authenticate;
use super::error::{OAuthError, no_store};
use super::form::Form;
use crate::state::Shared;
use crate::util::now;

/// RFC 7662 §2: `token` (required), `token_type_hint` (ignored: every token is found anyway).
/// Any registered client, or the configured bearer credential, may introspect any token.
pub(crate) async fn introspect(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = token_param(&shared, &headers, body, true)
        .await
        .map(|token| shared.tokens().introspect(&token, now()));
    match result {
        Ok(answer) => (no_store(), Json(answer)).into_response(),
        Err(error) => error.into_response(),
    }
}

/// RFC 7009 §2: `token` (required), `token_type_hint` (ignored). 200 with an empty body, also
/// for unknown tokens (§2.2). Any registered client may revoke any token: the mock does not
/// check that the token was issued to the caller.
pub(crate) async fn revoke(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    let result = token_param(&shared, &headers, body, false)
        .await
        .map(|token| shared.tokens().revoke(&token));
    match result {
        Ok(()) => StatusCode::OK.into_response(),
        Err(error) => error.into_response(),
    }
}

/// The `token` parameter of an authenticated form request, as both endpoints take it.
/// `allow_bearer`: the caller may also authenticate with the introspection bearer credential.
async fn token_param(
    shared: &Shared,
    headers: &HeaderMap,
    body: Body,
    allow_bearer: bool,
) -> Result<String, OAuthError> {
    let form = Form::read(headers, body).await?;
    authenticate(&shared.config, headers, &form, allow_bearer)?;
    form.get("token")
        .map(str::to_owned)
        .ok_or_else(|| OAuthError::invalid_request("token is missing"))
}
