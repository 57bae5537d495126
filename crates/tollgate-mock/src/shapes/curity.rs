//! Curity Identity Server. Curity's docs were not readable in full: the facts come from JWTs
//! printed in curityio example READMEs (the negative integer `kid`, `x5t` in the header,
//! `purpose: access_token`, `delegationId`, `client_id` in recent tokens, the
//! `/oauth/v2/oauth-anonymous` issuer) and from the phantom-token articles
//! (<https://curity.io/resources/learn/introspect-with-phantom-token>: the introspection
//! endpoint and its lower-case `token_type`). Much of it is unconfirmed; see `Shape::Curity`.

use serde_json::{Map, Value, json};

use super::keys::{KeyStyle, KidSpelling};
use super::{
    Document, IntrospectionRules, Layout, Purpose, Server, Shape, client, ids, openid, put,
    refresh_claim, stamp,
};
use crate::state::Config;
use crate::store::{TokenKind, TokenRecord};
use crate::tokens::ClaimSet;

#[derive(Debug)]
pub(super) struct Curity;

impl Server for Curity {
    fn default_path(&self, _shape: &Shape) -> String {
        "/oauth/v2/oauth-anonymous".into()
    }

    fn layout(&self, base: &str, _shape: &Shape) -> Layout {
        Layout {
            // Unconfirmed.
            jwks: format!("{base}/jwks"),
            token: "/oauth/v2/oauth-token".into(),
            introspection: Some("/oauth/v2/oauth-introspect".into()),
            revocation: Some("/oauth/v2/oauth-revoke".into()),
            // Unconfirmed.
            documents: vec![(openid(base), Document::OpenId)],
            more_jwks: Vec::new(),
        }
    }

    fn key_style(&self) -> KeyStyle {
        KeyStyle {
            kid: KidSpelling::NegativeDecimal,
            certificate: Some("tollgate-signing"),
            alg: true,
            use_: true,
            x5c: false,
            // Unconfirmed in the JWKS; the tokens' headers carry it.
            x5t: true,
            x5t_s256: false,
        }
    }

    fn jwks_cache_control(&self) -> Option<&'static str> {
        // Unconfirmed.
        None
    }

    fn typ(&self, _purpose: Purpose) -> Option<&'static str> {
        // Unconfirmed: the headers seen start with kid and x5t, then alg.
        None
    }

    fn header_x5t(&self) -> bool {
        true
    }

    fn access(&self, config: &Config, c: &mut ClaimSet) {
        c.set("jti", ids::uuid());
        c.set("delegationId", ids::uuid());
        let iat = stamp(config, c);
        c.set("nbf", iat);
        c.set("scope", "read");
        c.set("iss", config.issuer.clone());
        c.set("sub", "alice");
        c.set("aud", config.audience.clone());
        // The discriminator.
        c.set("purpose", "access_token");
        c.set("client_id", client(config));
    }

    fn id(&self, config: &Config, c: &mut ClaimSet) {
        c.set("jti", ids::uuid());
        c.set("delegationId", ids::uuid());
        let iat = stamp(config, c);
        c.set("nbf", iat);
        c.set("auth_time", iat);
        c.set("iss", config.issuer.clone());
        c.set("sub", "alice");
        c.set("aud", client(config));
        // Unconfirmed.
        c.set("purpose", "id");
        c.set("at_hash", ids::at_hash());
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

    fn document(&self, config: &Config, _document: Document) -> Value {
        let p = &config.paths;
        json!({
            "issuer": config.issuer,
            "token_endpoint": config.url(&p.token),
            "introspection_endpoint": config.url(&p.introspection),
            "revocation_endpoint": config.url(&p.revocation),
            "jwks_uri": config.url(&p.jwks),
            "response_types_supported": ["code", "id_token", "code id_token", "token"],
            "grant_types_supported": [
                "authorization_code", "client_credentials", "refresh_token", "implicit",
                "urn:ietf:params:oauth:grant-type:token-exchange"
            ],
            "subject_types_supported": ["public"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "private_key_jwt"
            ],
            "scopes_supported": ["openid"],
        })
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
        let mut answer = match record.kind {
            TokenKind::Access => record.claims.clone(),
            // Unconfirmed.
            TokenKind::Refresh => {
                let mut answer = Map::new();
                for name in ["iss", "sub", "iat", "exp", "scope", "client_id", "jti"] {
                    put(&mut answer, name, refresh_claim(record, name));
                }
                answer.insert("purpose".into(), "refresh_token".into());
                answer
            }
        };
        answer.insert("active".into(), true.into());
        // Lower case.
        answer.insert("token_type".into(), "bearer".into());
        Some(answer)
    }
}
