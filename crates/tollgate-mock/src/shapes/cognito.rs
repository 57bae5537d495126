//! Amazon Cognito user pools. Facts from the Amazon Cognito developer guide
//! (awsdocs/amazon-cognito-developer-guide, "Understanding the access token" and "the ID
//! token": no `typ`, base64 `kid`s, different keys for access and ID tokens, no `aud`,
//! `token_use`, the sample payloads). The JWKS members and `Cache-Control` are unconfirmed.

use serde_json::{Value, json};

use super::keys::{KeyStyle, KidSpelling};
use super::{Document, Layout, Purpose, Server, Shape, client, ids, openid, stamp};
use crate::state::Config;
use crate::tokens::ClaimSet;

#[derive(Debug)]
pub(super) struct Cognito;

impl Server for Cognito {
    fn default_path(&self, _shape: &Shape) -> String {
        // `https://cognito-idp.{region}.amazonaws.com/{userPoolId}`.
        "/us-east-1_tollgate".into()
    }

    fn layout(&self, base: &str, _shape: &Shape) -> Layout {
        Layout {
            jwks: format!("{base}/.well-known/jwks.json"),
            // On the pool's own domain at Cognito; here on the same host, at its path.
            token: "/oauth2/token".into(),
            // Revocation but no RFC 7662 endpoint (unconfirmed as a documented statement).
            introspection: None,
            revocation: Some("/oauth2/revoke".into()),
            // No RFC 8414 document (unconfirmed).
            documents: vec![(openid(base), Document::OpenId)],
            more_jwks: Vec::new(),
        }
    }

    fn key_style(&self) -> KeyStyle {
        KeyStyle::plain(KidSpelling::Base64Padded)
    }

    fn jwks_cache_control(&self) -> Option<&'static str> {
        // Unconfirmed.
        None
    }

    fn id_token_key(&self) -> bool {
        true
    }

    fn typ(&self, _purpose: Purpose) -> Option<&'static str> {
        None
    }

    fn access(&self, config: &Config, c: &mut ClaimSet) {
        c.set("sub", "alice");
        c.set("iss", config.issuer.clone());
        c.set("version", 2);
        c.set("client_id", client(config));
        c.set("origin_jti", ids::uuid());
        c.set("event_id", ids::uuid());
        // No `aud` at all: this is what tells an access token from an ID token.
        c.set("token_use", "access");
        c.set("scope", "read");
        let iat = stamp(config, c);
        c.set("auth_time", iat);
        c.set("jti", ids::uuid());
        c.set("username", "alice");
    }

    fn id(&self, config: &Config, c: &mut ClaimSet) {
        c.set("at_hash", ids::at_hash());
        c.set("sub", "alice");
        c.set("email_verified", true);
        c.set("iss", config.issuer.clone());
        c.set("cognito:username", "alice");
        c.set("origin_jti", ids::uuid());
        c.set("aud", client(config));
        c.set("event_id", ids::uuid());
        c.set("token_use", "id");
        let iat = stamp(config, c);
        c.set("auth_time", iat);
        c.set("jti", ids::uuid());
        c.set("email", "alice@tollgate.test");
        c.set("nonce", ids::nonce());
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

    fn roles(&self, c: &mut ClaimSet, roles: Vec<String>) {
        c.set("cognito:groups", roles);
    }

    fn document(&self, config: &Config, _document: Document) -> Value {
        let p = &config.paths;
        json!({
            "id_token_signing_alg_values_supported": ["RS256"],
            "issuer": config.issuer,
            "jwks_uri": config.url(&p.jwks),
            "response_types_supported": ["code", "token"],
            "revocation_endpoint": config.url(&p.revocation),
            "scopes_supported": ["openid", "email", "phone", "profile"],
            "subject_types_supported": ["public"],
            "token_endpoint": config.url(&p.token),
            "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        })
    }
}
