//! Auth0, default ("Auth0") access token profile. Facts from the Auth0 docs: "Access Token
//! Profiles" (<https://auth0.com/docs/secure/tokens/access-tokens/access-token-profiles>: header
//! `typ`, `azp` vs `client_id`, the `userinfo` audience, no `jti` in the Auth0 profile) and "ID
//! Token Structure" (<https://auth0.com/docs/secure/tokens/id-tokens/id-token-structure>).
//! The JWKS members, its `Cache-Control` and the RFC 8414 document are unconfirmed.

use serde_json::{Value, json};

use super::keys::{KeyStyle, KidSpelling};
use super::{Document, Layout, Purpose, Server, Shape, client, ids, inserted, openid, stamp};
use crate::state::Config;
use crate::tokens::ClaimSet;

#[derive(Debug)]
pub(super) struct Auth0;

impl Server for Auth0 {
    fn default_path(&self, _shape: &Shape) -> String {
        String::new()
    }

    fn trailing_slash(&self) -> bool {
        // `https://{tenant}.auth0.com/`.
        true
    }

    fn layout(&self, base: &str, _shape: &Shape) -> Layout {
        Layout {
            jwks: format!("{base}/.well-known/jwks.json"),
            token: format!("{base}/oauth/token"),
            // No RFC 7662 endpoint (unconfirmed as a documented statement).
            introspection: None,
            revocation: Some(format!("{base}/oauth/revoke")),
            documents: vec![
                (openid(base), Document::OpenId),
                // Unconfirmed.
                (inserted(base), Document::OAuth),
            ],
            more_jwks: Vec::new(),
        }
    }

    fn key_style(&self) -> KeyStyle {
        // All unconfirmed: alg, use, x5c and x5t as tenants' key sets usually show them.
        KeyStyle {
            kid: KidSpelling::Base64Url22,
            certificate: Some("tollgate.auth0.com"),
            alg: true,
            use_: true,
            x5c: true,
            x5t: true,
            x5t_s256: false,
        }
    }

    fn jwks_cache_control(&self) -> Option<&'static str> {
        // Unconfirmed.
        Some("public, max-age=15, stale-while-revalidate=15, stale-if-error=86400")
    }

    fn typ(&self, _purpose: Purpose) -> Option<&'static str> {
        // `at+jwt` only with the RFC 9068 profile, which is not the default.
        Some("JWT")
    }

    fn access(&self, config: &Config, c: &mut ClaimSet) {
        c.set("iss", config.issuer.clone());
        c.set("sub", "alice");
        // The API identifier, and the userinfo audience a token asked for with `openid` gets.
        c.set(
            "aud",
            json!([config.audience, format!("{}userinfo", config.issuer)]),
        );
        stamp(config, c);
        c.set("azp", client(config));
        c.set("scope", "read");
    }

    fn id(&self, config: &Config, c: &mut ClaimSet) {
        c.set("nickname", "alice");
        c.set("name", "alice@tollgate.test");
        c.set("iss", config.issuer.clone());
        c.set("aud", client(config));
        stamp(config, c);
        c.set("sub", "alice");
        c.set("sid", ids::base64url(24));
        c.set("nonce", ids::nonce());
    }

    fn client_id(&self, c: &mut ClaimSet, id: &str) {
        match c.purpose() {
            Purpose::Access => c.set("azp", id),
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
            "jwks_uri": config.url(&p.jwks),
            "revocation_endpoint": config.url(&p.revocation),
            "scopes_supported": [
                "openid", "profile", "offline_access", "name", "given_name", "family_name",
                "nickname", "email", "email_verified", "picture", "created_at", "identities",
                "phone", "address"
            ],
            "response_types_supported": [
                "code", "token", "id_token", "code token", "code id_token", "token id_token",
                "code token id_token"
            ],
            "code_challenge_methods_supported": ["S256", "plain"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["public"],
            "token_endpoint_auth_methods_supported": [
                "client_secret_basic", "client_secret_post", "private_key_jwt"
            ],
            "id_token_signing_alg_values_supported": ["HS256", "RS256", "PS256"],
            "request_uri_parameter_supported": false,
            "request_parameter_supported": false,
        })
    }
}
