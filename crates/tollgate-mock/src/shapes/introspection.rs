//! Introspection (RFC 7662) as each product answers it.

use serde_json::{Value, json};

use super::server;
use crate::state::Shared;

/// Who may ask.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum IntrospectionAuth {
    /// A registered client (or the bearer credential) must authenticate; failures are
    /// `invalid_client` errors (RFC 7662 §2.1).
    Required,
    /// Nobody authenticates (Ory Hydra's admin port); credentials sent are ignored.
    None,
    /// A client must authenticate, but a failure answers 200 `{"active": false}` (authentik).
    FailureIsInactive,
}

/// How a product's introspection endpoint takes a request.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IntrospectionRules {
    pub(crate) auth: IntrospectionAuth,
    /// The `token_type_hint` values accepted; any other is a 400 `invalid_request` (Keycloak).
    /// `None`: every hint is ignored, as RFC 7662 §2.1 allows.
    pub(crate) hints: Option<&'static [&'static str]>,
    /// A JWT-shaped token is a 400 `unsupported_token_type` (node-oidc-provider).
    pub(crate) refuse_jwt: bool,
}

impl IntrospectionRules {
    pub(crate) const fn client_auth() -> IntrospectionRules {
        IntrospectionRules {
            auth: IntrospectionAuth::Required,
            hints: None,
            refuse_jwt: false,
        }
    }
}

/// The answer about `token` for the authenticated client `caller`: the shape's answer for a
/// live token, with the test's overrides laid over it, or exactly `{"active": false}`.
pub(crate) fn introspect(shared: &Shared, token: &str, caller: Option<&str>, now: i64) -> Value {
    let inactive = json!({ "active": false });
    let Some(server) = server(&shared.config.shape) else {
        return shared.tokens().introspect(token, now);
    };
    let tokens = shared.tokens();
    let Some(record) = tokens.live(token, now) else {
        return inactive;
    };
    match server.introspect(&shared.config, record, caller) {
        Some(mut answer) => {
            record.apply_overrides(&mut answer);
            Value::Object(answer)
        }
        None => inactive,
    }
}
