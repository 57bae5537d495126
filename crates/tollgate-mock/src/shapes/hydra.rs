//! Ory Hydra with the `jwt` access-token strategy. Facts from ory/hydra: `oauth2/session.go`
//! (`GetJWTClaims`: `client_id`), `fosite/token/jwt/claims_jwt.go` (`aud: []`, `scp` list,
//! random `jti`), `fosite/token/jwt/token.go` (`typ: JWT`), `fosite/token/jwt/claims_id_token.go`,
//! `jwk/generate.go` and `jwk/handler.go` (UUID `kid`s, both key sets in one JWKS, no
//! `Cache-Control`), `oauth2/handler.go` (both metadata documents from one handler, without
//! `introspection_endpoint`; the admin introspection answer with `token_use`),
//! `driver/config/provider.go` (the issuer, `/` by default).

use serde_json::{Map, Value, json};

use super::keys::{KeyStyle, KidSpelling};
use super::{
    Document, IntrospectionAuth, IntrospectionRules, Layout, Purpose, Server, Shape, client, ids,
    inserted, openid, put, refresh_claim, scope_array, scope_string, stamp,
};
use crate::state::Config;
use crate::store::{TokenKind, TokenRecord};
use crate::tokens::ClaimSet;

#[derive(Debug)]
pub(super) struct Hydra;

/// An `aud` claim as the array Hydra always answers.
fn audience_array(value: Option<&Value>) -> Value {
    match value {
        Some(Value::Array(items)) => Value::Array(items.clone()),
        Some(Value::String(s)) => json!([s]),
        _ => json!([]),
    }
}

impl Server for Hydra {
    fn default_path(&self, _shape: &Shape) -> String {
        String::new()
    }

    fn trailing_slash(&self) -> bool {
        // Without `urls.self.issuer`, the public URL's root: `http://127.0.0.1:4444/`.
        true
    }

    fn layout(&self, base: &str, _shape: &Shape) -> Layout {
        Layout {
            jwks: format!("{base}/.well-known/jwks.json"),
            token: format!("{base}/oauth2/token"),
            // Hydra's admin port, here on the same port under its admin prefix.
            introspection: Some(format!("{base}/admin/oauth2/introspect")),
            revocation: Some(format!("{base}/oauth2/revoke")),
            documents: vec![
                (openid(base), Document::OpenId),
                (inserted(base), Document::OAuth),
            ],
            more_jwks: Vec::new(),
        }
    }

    fn key_style(&self) -> KeyStyle {
        KeyStyle::plain(KidSpelling::Uuid)
    }

    fn jwks_cache_control(&self) -> Option<&'static str> {
        None
    }

    fn id_token_key(&self) -> bool {
        // The `hydra.openid.id-token` key set, published beside `hydra.jwt.access-token`.
        true
    }

    fn typ(&self, _purpose: Purpose) -> Option<&'static str> {
        Some("JWT")
    }

    fn access(&self, config: &Config, c: &mut ClaimSet) {
        // No audience granted: an empty array, not an absent claim.
        c.set("aud", json!([]));
        c.set("client_id", client(config));
        let iat = stamp(config, c);
        c.set("iss", config.issuer.clone());
        c.set("jti", ids::uuid());
        c.set("nbf", iat);
        c.set("scp", scope_array("read"));
        c.set("sub", "alice");
    }

    fn id(&self, config: &Config, c: &mut ClaimSet) {
        c.set("aud", json!([client(config)]));
        c.set("at_hash", ids::at_hash());
        let iat = stamp(config, c);
        c.set("auth_time", iat);
        c.set("iss", config.issuer.clone());
        c.set("jti", ids::uuid());
        c.set("nonce", ids::nonce());
        c.set("rat", iat);
        c.set("sid", ids::uuid());
        c.set("sub", "alice");
    }

    fn client_id(&self, c: &mut ClaimSet, id: &str) {
        match c.purpose() {
            Purpose::Access => c.set("client_id", id),
            Purpose::Id => c.set("aud", json!([id])),
        }
    }

    fn scope(&self, c: &mut ClaimSet, scope: &str) {
        // `strategies.jwt.scope_claim: list`, the default.
        c.set("scp", scope_array(scope));
    }

    fn audience(&self, c: &mut ClaimSet, audience: &str) {
        c.set("aud", json!([audience]));
    }

    fn document(&self, config: &Config, _document: Document) -> Value {
        let p = &config.paths;
        json!({
            "issuer": config.issuer,
            "token_endpoint": config.url(&p.token),
            "jwks_uri": config.url(&p.jwks),
            "revocation_endpoint": config.url(&p.revocation),
            "subject_types_supported": ["public"],
            "response_types_supported": [
                "code", "code id_token", "id_token", "token id_token", "token",
                "token id_token code"
            ],
            "claims_supported": ["sub"],
            "scopes_supported": ["offline_access", "offline", "openid"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_post", "client_secret_basic", "private_key_jwt", "none"
            ],
            "id_token_signing_alg_values_supported": ["RS256"],
            "grant_types_supported": [
                "authorization_code", "implicit", "client_credentials", "refresh_token",
                "urn:ietf:params:oauth:grant-type:device_code"
            ],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "request_parameter_supported": true,
            "code_challenge_methods_supported": ["plain", "S256"],
        })
    }

    fn introspection(&self) -> Option<IntrospectionRules> {
        Some(IntrospectionRules {
            // Protected by the network, not by OAuth client authentication.
            auth: IntrospectionAuth::None,
            hints: None,
            refuse_jwt: false,
        })
    }

    fn introspect(
        &self,
        _config: &Config,
        record: &TokenRecord,
        _caller: Option<&str>,
    ) -> Option<Map<String, Value>> {
        let claim = |name: &str| record.claims.get(name).cloned().unwrap_or(Value::Null);
        let mut answer = Map::new();
        answer.insert("active".into(), true.into());
        let use_ = match record.kind {
            TokenKind::Access => {
                let scope = scope_string(record.claims.get("scp").or(record.claims.get("scope")));
                put(&mut answer, "client_id", claim("client_id"));
                put(&mut answer, "scope", scope.map_or(Value::Null, Value::from));
                for name in ["exp", "iat", "nbf", "sub", "iss"] {
                    put(&mut answer, name, claim(name));
                }
                answer.insert("aud".into(), audience_array(record.claims.get("aud")));
                "access_token"
            }
            TokenKind::Refresh => {
                for name in ["client_id", "scope", "exp", "iat", "sub", "iss"] {
                    put(&mut answer, name, refresh_claim(record, name));
                }
                answer.insert("aud".into(), json!([]));
                "refresh_token"
            }
        };
        // Hard-coded; the kind of token is in token_use.
        answer.insert("token_type".into(), "Bearer".into());
        answer.insert("token_use".into(), use_.into());
        Some(answer)
    }
}
