//! ZITADEL with JWT access tokens. Facts from zitadel/zitadel `internal/api/oidc/token.go`
//! (`createJWT` sets no scope, `typ: JWT`, the session audience) and
//! `internal/api/oidc/introspect.go` (client authentication, the audience check, access tokens
//! only, the answer); zitadel/oidc `pkg/oidc/token.go` (`NewAccessTokenClaims`: `client_id`,
//! the client added to an empty audience; `NewIDTokenClaims`: `azp` *and* `client_id`, the
//! client appended to the audience) and `pkg/op/keys.go` (no `Cache-Control`).

use serde_json::{Map, Value, json};

use super::keys::{KeyStyle, KidSpelling};
use super::{
    Document, IntrospectionRules, Layout, Purpose, Server, Shape, client, ids, openid, put, stamp,
};
use crate::state::Config;
use crate::store::{TokenKind, TokenRecord};
use crate::tokens::ClaimSet;

#[derive(Debug)]
pub(super) struct Zitadel;

/// The claim "assert roles on access token" adds (name from the ZITADEL docs; unconfirmed).
const ROLES: &str = "urn:zitadel:iam:org:project:roles";
/// The organization the default user belongs to.
const ORG_ID: &str = "281947163852134401";

impl Server for Zitadel {
    fn default_path(&self, _shape: &Shape) -> String {
        String::new()
    }

    fn layout(&self, base: &str, _shape: &Shape) -> Layout {
        Layout {
            jwks: format!("{base}/oauth/v2/keys"),
            token: format!("{base}/oauth/v2/token"),
            introspection: Some(format!("{base}/oauth/v2/introspect")),
            revocation: Some(format!("{base}/oauth/v2/revoke")),
            // zitadel/oidc serves the OpenID document only; no RFC 8414 one (unconfirmed for
            // ZITADEL itself).
            documents: vec![(openid(base), Document::OpenId)],
            more_jwks: Vec::new(),
        }
    }

    fn key_style(&self) -> KeyStyle {
        // Numeric ids (unconfirmed).
        KeyStyle::plain(KidSpelling::Numeric)
    }

    fn jwks_cache_control(&self) -> Option<&'static str> {
        None
    }

    fn typ(&self, _purpose: Purpose) -> Option<&'static str> {
        Some("JWT")
    }

    fn access(&self, config: &Config, c: &mut ClaimSet) {
        c.set("iss", config.issuer.clone());
        c.set("sub", "alice");
        // The session audience: the project id (here the configured audience) and the client.
        c.set("aud", json!([config.audience, client(config)]));
        c.set("client_id", client(config));
        let iat = stamp(config, c);
        c.set("nbf", iat);
        c.set("jti", ids::digits(18));
        // The JWT carries no scope; introspection reports it.
        c.set_server_side("scope", "read");
    }

    fn id(&self, config: &Config, c: &mut ClaimSet) {
        c.set("iss", config.issuer.clone());
        c.set("sub", "alice");
        // The same audience as the access token's.
        c.set("aud", json!([config.audience, client(config)]));
        let iat = stamp(config, c);
        c.set("auth_time", iat);
        c.set("amr", json!(["pwd"]));
        c.set("azp", client(config));
        c.set("client_id", client(config));
        c.set("at_hash", ids::at_hash());
        c.set("sid", ids::digits(18));
        c.set("nonce", ids::nonce());
    }

    fn client_id(&self, c: &mut ClaimSet, id: &str) {
        // The client is also in the audience: follow it there.
        let old = c.get("client_id").cloned();
        if let (Some(old), Some(Value::Array(aud))) = (old, c.get("aud").cloned()) {
            let aud: Vec<Value> = aud
                .into_iter()
                .map(|a| if a == old { Value::from(id) } else { a })
                .collect();
            c.set("aud", aud);
        }
        c.set("client_id", id);
        if c.purpose() == Purpose::Id {
            c.set("azp", id);
        }
    }

    fn scope(&self, c: &mut ClaimSet, scope: &str) {
        c.set_server_side("scope", scope);
    }

    fn audience(&self, c: &mut ClaimSet, audience: &str) {
        c.set("aud", json!([audience]));
    }

    fn roles(&self, c: &mut ClaimSet, roles: Vec<String>) {
        let map: Map<String, Value> = roles
            .into_iter()
            .map(|role| (role, json!({ ORG_ID: "tollgate.test" })))
            .collect();
        c.set(ROLES, map);
    }

    fn document(&self, config: &Config, _document: Document) -> Value {
        let p = &config.paths;
        json!({
            "issuer": config.issuer,
            "token_endpoint": config.url(&p.token),
            "introspection_endpoint": config.url(&p.introspection),
            "revocation_endpoint": config.url(&p.revocation),
            "jwks_uri": config.url(&p.jwks),
            "scopes_supported": ["openid", "profile", "email", "phone", "address", "offline_access"],
            "response_types_supported": ["code", "id_token", "id_token token"],
            "grant_types_supported": [
                "authorization_code", "implicit", "refresh_token", "client_credentials",
                "urn:ietf:params:oauth:grant-type:jwt-bearer"
            ],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": [
                "none", "client_secret_basic", "client_secret_post", "private_key_jwt"
            ],
            "introspection_endpoint_auth_methods_supported": ["client_secret_basic", "private_key_jwt"],
            "revocation_endpoint_auth_methods_supported": [
                "none", "client_secret_basic", "client_secret_post", "private_key_jwt"
            ],
            "code_challenge_methods_supported": ["S256"],
        })
    }

    fn introspection(&self) -> Option<IntrospectionRules> {
        Some(IntrospectionRules::client_auth())
    }

    fn introspect(
        &self,
        _config: &Config,
        record: &TokenRecord,
        caller: Option<&str>,
    ) -> Option<Map<String, Value>> {
        // Only access tokens are introspected; refresh tokens are inactive.
        if record.kind == TokenKind::Refresh {
            return None;
        }
        let claim = |name: &str| record.claims.get(name).cloned().unwrap_or(Value::Null);
        // The token must be meant for the caller. (The mock's bearer credential, which ZITADEL
        // does not have, passes.)
        if let Some(caller) = caller {
            let aud = record.claims.get("aud");
            let for_caller = match aud {
                Some(Value::String(a)) => a == caller,
                Some(Value::Array(items)) => items.iter().any(|a| a == caller),
                _ => false,
            };
            if !for_caller {
                return None;
            }
        }
        let mut answer = Map::new();
        answer.insert("active".into(), true.into());
        let scope = record
            .server_side
            .get("scope")
            .or(record.claims.get("scope"));
        put(&mut answer, "scope", scope.cloned().unwrap_or(Value::Null));
        put(&mut answer, "client_id", claim("client_id"));
        answer.insert("token_type".into(), "Bearer".into());
        for name in ["exp", "iat", "nbf", "aud", "iss", "jti", "sub", ROLES] {
            put(&mut answer, name, claim(name));
        }
        put(&mut answer, "username", claim("sub"));
        Some(answer)
    }
}
