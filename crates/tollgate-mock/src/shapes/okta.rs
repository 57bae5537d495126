//! Okta, custom authorization server. Facts from okta/okta-developer-docs (the OpenID Connect
//! & OAuth 2.0 API reference, `docs/reference/api/oidc/index.md`: metadata, `claims_supported`,
//! `/introspect`; the key-rotation page: `Cache-Control` and `no-cache` near a rotation) and
//! decoded Okta tokens (rabbitmq-users thread: no `typ`, `cid`, `scp` array, `jti` prefixes).

use serde_json::{Map, Value, json};

use super::keys::{KeyStyle, KidSpelling};
use super::{
    Document, IntrospectionRules, Layout, Purpose, Server, Shape, appended, client, ids, openid,
    put, refresh_claim, scope_array, scope_string, stamp,
};
use crate::state::Config;
use crate::store::{TokenKind, TokenRecord};
use crate::tokens::ClaimSet;

#[derive(Debug)]
pub(super) struct Okta;

/// The default user's Okta id (`uid`): `00u` and 17 characters.
const UID: &str = "00uA11ce0000T0llgate";

const AUTH_METHODS: [&str; 5] = [
    "client_secret_basic",
    "client_secret_post",
    "client_secret_jwt",
    "private_key_jwt",
    "none",
];

impl Server for Okta {
    fn default_path(&self, _shape: &Shape) -> String {
        // The built-in custom authorization server.
        "/oauth2/default".into()
    }

    fn layout(&self, base: &str, _shape: &Shape) -> Layout {
        Layout {
            jwks: format!("{base}/v1/keys"),
            token: format!("{base}/v1/token"),
            introspection: Some(format!("{base}/v1/introspect")),
            revocation: Some(format!("{base}/v1/revoke")),
            // Both appended to the custom authorization server's path.
            documents: vec![
                (openid(base), Document::OpenId),
                (appended(base), Document::OAuth),
            ],
            more_jwks: Vec::new(),
        }
    }

    fn key_style(&self) -> KeyStyle {
        KeyStyle::plain(KidSpelling::Base64Url43)
    }

    fn jwks_cache_control(&self) -> Option<&'static str> {
        // Unconfirmed value; Okta asks clients to honour it.
        Some("max-age=86400, must-revalidate")
    }

    fn typ(&self, _purpose: Purpose) -> Option<&'static str> {
        // The header is `{"kid", "alg"}` for both access and ID tokens.
        None
    }

    fn access(&self, config: &Config, c: &mut ClaimSet) {
        c.set("ver", 1);
        c.set("jti", format!("AT.{}", ids::base64url(32)));
        c.set("iss", config.issuer.clone());
        c.set("aud", config.audience.clone());
        let iat = stamp(config, c);
        c.set("cid", client(config));
        c.set("uid", UID);
        c.set("scp", scope_array("read"));
        c.set("auth_time", iat);
        c.set("sub", "alice");
    }

    fn id(&self, config: &Config, c: &mut ClaimSet) {
        c.set("sub", "alice");
        c.set("name", "Alice");
        c.set("ver", 1);
        c.set("iss", config.issuer.clone());
        c.set("aud", client(config));
        let iat = stamp(config, c);
        c.set("jti", format!("ID.{}", ids::base64url(32)));
        c.set("amr", json!(["pwd"]));
        c.set("idp", "00oA11ce0000T0llgate");
        c.set("nonce", ids::nonce());
        c.set("preferred_username", "alice@tollgate.test");
        c.set("auth_time", iat);
        c.set("at_hash", ids::at_hash());
    }

    fn client_id(&self, c: &mut ClaimSet, id: &str) {
        match c.purpose() {
            Purpose::Access => c.set("cid", id),
            Purpose::Id => c.set("aud", id),
        }
    }

    fn scope(&self, c: &mut ClaimSet, scope: &str) {
        c.set("scp", scope_array(scope));
    }

    fn roles(&self, c: &mut ClaimSet, roles: Vec<String>) {
        // Okta has no roles claim; a `groups` claim is the usual custom one.
        c.set("groups", roles);
    }

    fn document(&self, config: &Config, document: Document) -> Value {
        let p = &config.paths;
        let mut doc = json!({
            "issuer": config.issuer,
            "token_endpoint": config.url(&p.token),
            "jwks_uri": config.url(&p.jwks),
            "introspection_endpoint": config.url(&p.introspection),
            "revocation_endpoint": config.url(&p.revocation),
            "response_types_supported": [
                "code", "token", "id_token", "code id_token", "code token", "id_token token",
                "code id_token token"
            ],
            "response_modes_supported": [
                "query", "fragment", "form_post", "okta_post_message"
            ],
            "grant_types_supported": [
                "authorization_code", "implicit", "refresh_token", "password",
                "client_credentials"
            ],
            "scopes_supported": [
                "openid", "profile", "email", "address", "phone", "offline_access"
            ],
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
            "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
            "claims_supported": [
                "ver", "jti", "iss", "aud", "iat", "exp", "cid", "uid", "scp", "sub"
            ],
            "code_challenge_methods_supported": ["S256"],
            "request_parameter_supported": true,
        });
        if document == Document::OpenId {
            doc["subject_types_supported"] = json!(["public"]);
            doc["id_token_signing_alg_values_supported"] = json!(["RS256"]);
        }
        doc
    }

    fn introspection(&self) -> Option<IntrospectionRules> {
        Some(IntrospectionRules::client_auth())
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
        // "always Bearer", refresh tokens included: they carry no marker.
        answer.insert("token_type".into(), "Bearer".into());
        match record.kind {
            TokenKind::Access => {
                put(
                    &mut answer,
                    "scope",
                    scope_string(record.claims.get("scp")).map_or(Value::Null, Value::from),
                );
                put(&mut answer, "client_id", claim("cid"));
                put(&mut answer, "username", claim("sub"));
                for name in ["exp", "iat", "nbf", "sub", "aud", "iss", "jti", "uid"] {
                    put(&mut answer, name, claim(name));
                }
            }
            // No jti, iat, aud or iss in a refresh token's answer.
            TokenKind::Refresh => {
                put(&mut answer, "scope", refresh_claim(record, "scope"));
                put(&mut answer, "client_id", refresh_claim(record, "client_id"));
                put(&mut answer, "username", refresh_claim(record, "sub"));
                put(&mut answer, "exp", refresh_claim(record, "exp"));
                put(&mut answer, "sub", refresh_claim(record, "sub"));
            }
        }
        Some(answer)
    }
}
