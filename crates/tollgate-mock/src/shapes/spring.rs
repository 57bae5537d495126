//! Spring Authorization Server, self-contained (JWT) access tokens. Facts from
//! spring-projects/spring-authorization-server: `token/JwtGenerator.java` (header with `alg`
//! only, `aud` = the client, `scope` list, no client-id claim in access tokens, `azp` in ID
//! tokens), `AuthorizationServerSettings` (endpoint paths), the getting-started sample (RSA
//! JWKs with a UUID `kid` and neither `alg` nor `use`),
//! `OAuth2TokenIntrospectionAuthenticationProvider.java` and the introspection message
//! converter (the answer; no `token_type` for refresh tokens).

use serde_json::{Map, Value, json};

use super::keys::{KeyStyle, KidSpelling};
use super::{
    Document, IntrospectionRules, Layout, Purpose, Server, Shape, client, ids, inserted, openid,
    put, refresh_claim, scope_array, scope_string, stamp,
};
use crate::state::Config;
use crate::store::{TokenKind, TokenRecord};
use crate::tokens::ClaimSet;

#[derive(Debug)]
pub(super) struct Spring;

const AUTH_METHODS: [&str; 6] = [
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
    "private_key_jwt",
    "tls_client_auth",
    "self_signed_tls_client_auth",
];

impl Server for Spring {
    fn default_path(&self, _shape: &Shape) -> String {
        String::new()
    }

    fn layout(&self, base: &str, _shape: &Shape) -> Layout {
        Layout {
            jwks: format!("{base}/oauth2/jwks"),
            token: format!("{base}/oauth2/token"),
            introspection: Some(format!("{base}/oauth2/introspect")),
            revocation: Some(format!("{base}/oauth2/revoke")),
            documents: vec![
                (inserted(base), Document::OAuth),
                (openid(base), Document::OpenId),
            ],
            more_jwks: Vec::new(),
        }
    }

    fn key_style(&self) -> KeyStyle {
        KeyStyle {
            kid: KidSpelling::Uuid,
            certificate: None,
            alg: false,
            use_: false,
            x5c: false,
            x5t: false,
            x5t_s256: false,
        }
    }

    fn jwks_cache_control(&self) -> Option<&'static str> {
        // Spring Security's default header writer (unconfirmed for this endpoint).
        Some("no-cache, no-store, max-age=0, must-revalidate")
    }

    fn typ(&self, _purpose: Purpose) -> Option<&'static str> {
        // JwtGenerator sets `alg` only; the encoder adds `kid`.
        None
    }

    fn access(&self, config: &Config, c: &mut ClaimSet) {
        c.set("sub", "alice");
        // `[client_id]`, which Nimbus writes as a plain string (unconfirmed).
        c.set("aud", client(config));
        let iat = stamp(config, c);
        c.set("nbf", iat);
        c.set("scope", scope_array("read"));
        c.set("iss", config.issuer.clone());
        c.set("jti", ids::uuid());
    }

    fn id(&self, config: &Config, c: &mut ClaimSet) {
        c.set("sub", "alice");
        c.set("aud", client(config));
        c.set("azp", client(config));
        let iat = stamp(config, c);
        c.set("auth_time", iat);
        c.set("iss", config.issuer.clone());
        c.set("nonce", ids::nonce());
        c.set("sid", ids::base64url(32));
        c.set("jti", ids::uuid());
    }

    fn client_id(&self, c: &mut ClaimSet, id: &str) {
        // No client-id claim: the audience is the client.
        c.set("aud", id);
        if c.purpose() == Purpose::Id {
            c.set("azp", id);
        }
    }

    fn scope(&self, c: &mut ClaimSet, scope: &str) {
        c.set("scope", scope_array(scope));
    }

    fn document(&self, config: &Config, document: Document) -> Value {
        let p = &config.paths;
        let mut doc = json!({
            "issuer": config.issuer,
            "token_endpoint": config.url(&p.token),
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "jwks_uri": config.url(&p.jwks),
            "response_types_supported": ["code"],
            "grant_types_supported": [
                "authorization_code", "client_credentials", "refresh_token",
                "urn:ietf:params:oauth:grant-type:device_code",
                "urn:ietf:params:oauth:grant-type:token-exchange"
            ],
            "revocation_endpoint": config.url(&p.revocation),
            "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
            "introspection_endpoint": config.url(&p.introspection),
            "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
            "code_challenge_methods_supported": ["S256"],
            "tls_client_certificate_bound_access_tokens": true,
        });
        if document == Document::OpenId {
            doc["subject_types_supported"] = json!(["public"]);
            doc["id_token_signing_alg_values_supported"] = json!(["RS256"]);
            doc["scopes_supported"] = json!(["openid"]);
        }
        doc
    }

    fn introspection(&self) -> Option<IntrospectionRules> {
        // Any authenticated client may introspect any token.
        Some(IntrospectionRules::client_auth())
    }

    fn introspect(
        &self,
        _config: &Config,
        record: &TokenRecord,
        _caller: Option<&str>,
    ) -> Option<Map<String, Value>> {
        let mut answer = Map::new();
        answer.insert("active".into(), true.into());
        match record.kind {
            TokenKind::Access => {
                answer.extend(record.claims.clone());
                // `scope` goes on the wire as a string, `aud` as a list.
                let scope = scope_string(record.claims.get("scope"));
                put(&mut answer, "scope", scope.map_or(Value::Null, Value::from));
                let aud = match record.claims.get("aud") {
                    Some(Value::String(a)) => json!([a]),
                    Some(other) => other.clone(),
                    None => Value::Null,
                };
                let client_id = aud.get(0).cloned().unwrap_or(Value::Null);
                put(&mut answer, "aud", aud);
                put(&mut answer, "client_id", client_id);
                // Spring Authorization Server 1.5 names a DPoP-bound token's type `DPoP`.
                let token_type = super::access_token_type(&record.claims, "Bearer");
                answer.insert("token_type".into(), token_type.into());
            }
            // Only these: the missing token_type is the only sign of a refresh token.
            TokenKind::Refresh => {
                for name in ["client_id", "iat", "exp"] {
                    put(&mut answer, name, refresh_claim(record, name));
                }
            }
        }
        Some(answer)
    }
}
