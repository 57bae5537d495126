//! The token endpoint (RFC 6749 §3.2): `client_credentials` (§4.4) and `refresh_token` (§6).
//!
//! Mock extension: the form parameter `token_format=opaque` asks for an opaque access token
//! instead of a JWT (`token_format=jwt` is the default). A `client_credentials` request whose
//! `scope` contains `offline_access` also gets a refresh token; the `refresh_token` grant returns
//! the same refresh token again (no rotation).
//!
//! A request with a `DPoP` proof (RFC 9449 §5) gets a DPoP-bound access token: `cnf.jkt` in
//! the token and in its introspection answer, `token_type: "DPoP"` in the answer. A proof that
//! does not verify is `invalid_dpop_proof`.

use std::sync::Arc;

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use http::HeaderMap;
use serde_json::{Value, json};

use super::client_auth::{Caller, authenticate};
use super::error::{OAuthError, no_store};
use super::form::Form;
use crate::dpop::verify::token_request_proof;
use crate::state::Shared;
use crate::store::TokenKind;
use crate::tokens::{OpaqueTokenBuilder, RefreshTokenBuilder, TokenBuilder};
use crate::util::now;

/// The scope a `client_credentials` request without `scope` gets.
const DEFAULT_SCOPE: &str = "read";

pub(crate) async fn token(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Body,
) -> Response {
    match handle(&shared, &headers, body).await {
        Ok(answer) => (no_store(), Json(answer)).into_response(),
        Err(error) => error.into_response(),
    }
}

/// What to issue.
struct Grant {
    subject: String,
    client_id: String,
    scope: String,
    refresh_token: Option<String>,
}

async fn handle(
    shared: &Arc<Shared>,
    headers: &HeaderMap,
    body: Body,
) -> Result<Value, OAuthError> {
    let form = Form::read(headers, body).await?;
    let client_id = match authenticate(&shared.config, headers, &form, false)? {
        Caller::Client(id) => id,
        Caller::Bearer => {
            return Err(OAuthError::invalid_client(
                "bearer credentials not accepted",
            ));
        }
    };
    // RFC 9449 §5: the proof is for this endpoint, by POST.
    let jkt = token_request_proof(headers, &shared.config.url(&shared.config.paths.token))
        .map_err(OAuthError::invalid_dpop_proof)?;
    let opaque = match form.get("token_format") {
        None | Some("jwt") => false,
        Some("opaque") => true,
        Some(_) => return Err(OAuthError::invalid_request("token_format is jwt or opaque")),
    };
    let grant = match form.get("grant_type") {
        None => return Err(OAuthError::invalid_request("grant_type is missing")),
        Some("client_credentials") => client_credentials(shared, &form, client_id),
        Some("refresh_token") => refresh(shared, &form, client_id)?,
        Some(_) => {
            return Err(OAuthError::unsupported_grant_type(
                "supported: client_credentials, refresh_token",
            ));
        }
    };
    Ok(issue(shared, grant, opaque, jkt.as_deref()))
}

fn client_credentials(shared: &Arc<Shared>, form: &Form, client_id: String) -> Grant {
    // Any scope is granted: the mock has no per-client scope policy.
    let scope = form.get("scope").unwrap_or(DEFAULT_SCOPE).to_owned();
    let refresh_token = scope.split(' ').any(|s| s == "offline_access").then(|| {
        RefreshTokenBuilder::new(shared.clone())
            .subject(client_id.clone())
            .client_id(client_id.clone())
            .scope(scope.clone())
            .issue()
    });
    // RFC 6749 §4.4: the client acts on its own behalf, so it is the subject.
    Grant {
        subject: client_id.clone(),
        client_id,
        scope,
        refresh_token,
    }
}

fn refresh(shared: &Arc<Shared>, form: &Form, client_id: String) -> Result<Grant, OAuthError> {
    let refresh_token = form
        .get("refresh_token")
        .ok_or_else(|| OAuthError::invalid_request("refresh_token is missing"))?;
    let tokens = shared.tokens();
    let record = tokens
        .live(refresh_token, now())
        .filter(|r| r.kind == TokenKind::Refresh)
        .ok_or_else(|| OAuthError::invalid_grant("unknown, expired or revoked refresh token"))?;
    let claim = |name: &str| {
        record
            .claims
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
    };
    // RFC 6749 §6: the refresh token must have been issued to the authenticated client.
    if claim("client_id") != client_id {
        return Err(OAuthError::invalid_grant(
            "the refresh token belongs to another client",
        ));
    }
    let granted = claim("scope");
    let scope = match form.get("scope") {
        None => granted.to_owned(),
        Some(asked) => {
            // RFC 6749 §6: no scope beyond what the refresh token grants.
            if !asked.split(' ').all(|s| granted.split(' ').any(|g| g == s)) {
                return Err(OAuthError::invalid_scope(
                    "beyond the scope of the refresh token",
                ));
            }
            asked.to_owned()
        }
    };
    Ok(Grant {
        subject: claim("sub").to_owned(),
        client_id,
        scope,
        refresh_token: Some(refresh_token.to_owned()),
    })
}

/// The RFC 6749 §5.1 answer; bound to the DPoP key with thumbprint `jkt`, if any.
fn issue(shared: &Arc<Shared>, grant: Grant, opaque: bool, jkt: Option<&str>) -> Value {
    let parent = grant.refresh_token.as_deref();
    let access_token = if opaque {
        let mut builder = OpaqueTokenBuilder::new(shared.clone())
            .subject(grant.subject)
            .client_id(grant.client_id)
            .scope(grant.scope.clone());
        if let Some(parent) = parent {
            builder = builder.refresh_token(parent);
        }
        if let Some(jkt) = jkt {
            builder = builder.dpop_bound_to(jkt);
        }
        builder.issue()
    } else {
        let mut builder = TokenBuilder::new(shared.clone())
            .subject(grant.subject)
            .client_id(grant.client_id)
            .scope(grant.scope.clone());
        if let Some(parent) = parent {
            builder = builder.refresh_token(parent);
        }
        if let Some(jkt) = jkt {
            builder = builder.dpop_bound_to(jkt);
        }
        builder.sign()
    };
    let mut answer = json!({
        "access_token": access_token,
        // RFC 9449 §5: a DPoP-bound token is of type DPoP.
        "token_type": if jkt.is_some() { "DPoP" } else { "Bearer" },
        "expires_in": shared.config.lifetime_secs(),
        "scope": grant.scope,
    });
    if let Some(refresh_token) = grant.refresh_token {
        answer["refresh_token"] = refresh_token.into();
    }
    answer
}
