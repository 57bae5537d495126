//! panva/node-oidc-provider, JWT access tokens for a resource indicator. Facts from
//! `lib/models/formats/jwt.js` (`typ: at+jwt`, `client_id`, `scope` string, `aud` required),
//! `lib/helpers/jwt.js` and `lib/models/id_token.js` (ID tokens without `typ`),
//! `lib/helpers/initialize_keystore.js` (thumbprint `kid`s, members as configured),
//! `lib/actions/jwks.js` (`application/jwk-set+json`, no `Cache-Control`),
//! `lib/helpers/initialize_app.js` (both documents, relative to the provider),
//! `lib/actions/introspection.js` and `lib/shared/reject_structured_tokens.js` (the answer, no
//! `token_type` for refresh tokens, 400 for JWTs).

use serde_json::{Map, Value, json};

use super::keys::{KeyStyle, KidSpelling};
use super::{
    Document, IntrospectionAuth, IntrospectionRules, Layout, Purpose, Server, Shape, appended,
    client, ids, openid, put, refresh_claim, stamp,
};
use crate::state::Config;
use crate::store::{TokenKind, TokenRecord};
use crate::tokens::ClaimSet;

#[derive(Debug)]
pub(super) struct OidcProvider;

const AUTH_METHODS: [&str; 5] = [
    "client_secret_basic",
    "client_secret_jwt",
    "client_secret_post",
    "private_key_jwt",
    "none",
];

impl Server for OidcProvider {
    fn default_path(&self, _shape: &Shape) -> String {
        String::new()
    }

    fn layout(&self, base: &str, _shape: &Shape) -> Layout {
        Layout {
            jwks: format!("{base}/jwks"),
            token: format!("{base}/token"),
            // `features.introspection` is off by default; this shape has it on.
            introspection: Some(format!("{base}/token/introspection")),
            revocation: Some(format!("{base}/token/revocation")),
            // Mounted relative to the provider: appended to the issuer's path.
            documents: vec![
                (appended(base), Document::OAuth),
                (openid(base), Document::OpenId),
            ],
            more_jwks: Vec::new(),
        }
    }

    fn key_style(&self) -> KeyStyle {
        KeyStyle {
            kid: KidSpelling::Base64Url43,
            certificate: None,
            // A key set configured without them, as generated JWKs usually are.
            alg: false,
            use_: false,
            x5c: false,
            x5t: false,
            x5t_s256: false,
        }
    }

    fn jwks_cache_control(&self) -> Option<&'static str> {
        None
    }

    fn jwks_content_type(&self) -> &'static str {
        "application/jwk-set+json"
    }

    fn typ(&self, purpose: Purpose) -> Option<&'static str> {
        match purpose {
            Purpose::Access => Some("at+jwt"),
            // `JWT.sign` passes `options.typ`, which the ID token does not set.
            Purpose::Id => None,
        }
    }

    fn access(&self, config: &Config, c: &mut ClaimSet) {
        c.set("jti", ids::nanoid());
        c.set("sub", "alice");
        stamp(config, c);
        c.set("scope", "read");
        c.set("client_id", client(config));
        c.set("iss", config.issuer.clone());
        c.set("aud", config.audience.clone());
    }

    fn id(&self, config: &Config, c: &mut ClaimSet) {
        c.set("sub", "alice");
        c.set("nonce", ids::nonce());
        c.set("at_hash", ids::at_hash());
        c.set("aud", client(config));
        let iat = stamp(config, c);
        c.set("auth_time", iat);
        c.set("iss", config.issuer.clone());
        c.set("sid", ids::uuid());
    }

    fn client_id(&self, c: &mut ClaimSet, id: &str) {
        match c.purpose() {
            Purpose::Access => c.set("client_id", id),
            Purpose::Id => c.set("aud", id),
        }
    }

    fn scope(&self, c: &mut ClaimSet, scope: &str) {
        c.set("scope", scope);
    }

    fn document(&self, config: &Config, _document: Document) -> Value {
        let p = &config.paths;
        json!({
            "issuer": config.issuer,
            "jwks_uri": config.url(&p.jwks),
            "token_endpoint": config.url(&p.token),
            "introspection_endpoint": config.url(&p.introspection),
            "revocation_endpoint": config.url(&p.revocation),
            "authorization_response_iss_parameter_supported": true,
            "claims_parameter_supported": false,
            "claims_supported": ["sub", "sid", "auth_time", "iss"],
            "code_challenge_methods_supported": ["S256"],
            "grant_types_supported": [
                "implicit", "authorization_code", "refresh_token", "client_credentials"
            ],
            "id_token_signing_alg_values_supported": ["RS256"],
            "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
            "request_parameter_supported": false,
            "response_modes_supported": ["form_post", "fragment", "query"],
            "response_types_supported": ["code id_token", "code", "id_token", "none"],
            "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
            "scopes_supported": ["openid", "offline_access"],
            "subject_types_supported": ["public"],
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
        })
    }

    fn introspection(&self) -> Option<IntrospectionRules> {
        Some(IntrospectionRules {
            auth: IntrospectionAuth::Required,
            hints: None,
            // "Structured JWT Tokens cannot be introspected via the introspection_endpoint".
            refuse_jwt: true,
        })
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
                for name in [
                    "client_id",
                    "exp",
                    "iat",
                    "iss",
                    "jti",
                    "aud",
                    "scope",
                    "sub",
                    "cnf",
                ] {
                    put(
                        &mut answer,
                        name,
                        record.claims.get(name).cloned().unwrap_or(Value::Null),
                    );
                }
                // node-oidc-provider says `DPoP` for a token bound to a DPoP key.
                let token_type = super::access_token_type(&record.claims, "Bearer");
                answer.insert("token_type".into(), token_type.into());
            }
            // The same members, without token_type.
            TokenKind::Refresh => {
                for name in ["client_id", "exp", "iat", "iss", "jti", "scope", "sub"] {
                    put(&mut answer, name, refresh_claim(record, name));
                }
            }
        }
        Some(answer)
    }
}
