//! Keycloak. Facts from keycloak/keycloak: `TokenManager.java` (`initToken`,
//! `generateIDToken`, `formatTokenType`), `DefaultTokenManager.java` (header `typ: JWT`),
//! `JWKSServerUtils.getRealmJwks` (every enabled key with a public key, `use: enc` ones
//! included, `x5c` when a certificate exists), `AccessTokenIntrospectionProvider` and
//! `TokenIntrospectionEndpoint` (the answer, the hint check); the JWKS `no-cache` answer from
//! keycloak/keycloak#15216 and #11320.

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
pub(super) struct Keycloak;

/// The realm: the issuer's last path segment (`{base}/realms/{realm}`).
fn realm(config: &Config) -> String {
    config
        .issuer
        .rsplit('/')
        .next()
        .unwrap_or_default()
        .to_owned()
}

/// The roles every user of a new realm has.
fn default_roles(config: &Config) -> Vec<String> {
    vec![
        format!("default-roles-{}", realm(config)),
        "offline_access".into(),
        "uma_authorization".into(),
    ]
}

const AUTH_METHODS: [&str; 5] = [
    "private_key_jwt",
    "client_secret_basic",
    "client_secret_post",
    "tls_client_auth",
    "client_secret_jwt",
];

impl Server for Keycloak {
    fn default_path(&self, _shape: &Shape) -> String {
        "/realms/tollgate".into()
    }

    fn layout(&self, base: &str, _shape: &Shape) -> Layout {
        let oidc = format!("{base}/protocol/openid-connect");
        Layout {
            jwks: format!("{oidc}/certs"),
            token: format!("{oidc}/token"),
            introspection: Some(format!("{oidc}/token/introspect")),
            revocation: Some(format!("{oidc}/revoke")),
            // The OAuth 2.0 metadata provider is served under the realm, appended; the RFC 8414
            // inserted form is assumed absent (unconfirmed).
            documents: vec![
                (openid(base), Document::OpenId),
                (appended(base), Document::OAuth),
            ],
            more_jwks: Vec::new(),
        }
    }

    fn key_style(&self) -> KeyStyle {
        KeyStyle {
            kid: KidSpelling::Base64Url43,
            certificate: Some("tollgate"),
            alg: true,
            use_: true,
            x5c: true,
            x5t: true,
            x5t_s256: true,
        }
    }

    fn jwks_cache_control(&self) -> Option<&'static str> {
        // The certs endpoint is annotated @NoCache: what deployments answer.
        Some("no-cache")
    }

    fn encryption_key(&self) -> bool {
        true
    }

    fn typ(&self, _purpose: Purpose) -> Option<&'static str> {
        // `at+jwt` only with the per-client opt-in of Keycloak 26.2+, off by default.
        Some("JWT")
    }

    fn access(&self, config: &Config, c: &mut ClaimSet) {
        stamp(config, c);
        c.set("jti", ids::uuid());
        c.set("iss", config.issuer.clone());
        // As an Audience protocol mapper puts the API's client id in.
        c.set("aud", config.audience.clone());
        c.set("sub", "alice");
        // The typ *claim* tells access tokens from ID and refresh tokens.
        c.set("typ", "Bearer");
        c.set("azp", client(config));
        c.set("sid", ids::uuid());
        c.set("acr", "1");
        c.set("realm_access", json!({ "roles": default_roles(config) }));
        c.set(
            "resource_access",
            json!({ "account": { "roles": ["manage-account", "view-profile"] } }),
        );
        c.set("scope", "read");
        c.set("email_verified", false);
        c.set("preferred_username", "alice");
    }

    fn id(&self, config: &Config, c: &mut ClaimSet) {
        let iat = stamp(config, c);
        c.set("auth_time", iat);
        c.set("jti", ids::uuid());
        c.set("iss", config.issuer.clone());
        c.set("aud", client(config));
        c.set("sub", "alice");
        c.set("typ", "ID");
        c.set("azp", client(config));
        c.set("nonce", ids::nonce());
        c.set("sid", ids::uuid());
        c.set("at_hash", ids::at_hash());
        c.set("acr", "1");
        c.set("email_verified", false);
        c.set("preferred_username", "alice");
    }

    fn client_id(&self, c: &mut ClaimSet, id: &str) {
        if c.purpose() == Purpose::Id {
            c.set("aud", id);
        }
        c.set("azp", id);
    }

    fn scope(&self, c: &mut ClaimSet, scope: &str) {
        c.set("scope", scope);
    }

    fn roles(&self, c: &mut ClaimSet, roles: Vec<String>) {
        c.set("realm_access", json!({ "roles": roles }));
    }

    fn document(&self, config: &Config, _document: Document) -> Value {
        let p = &config.paths;
        // Keycloak's OAuth 2.0 metadata provider serves its OpenID document, for the same realm.
        json!({
            "issuer": config.issuer,
            "token_endpoint": config.url(&p.token),
            "introspection_endpoint": config.url(&p.introspection),
            "revocation_endpoint": config.url(&p.revocation),
            "jwks_uri": config.url(&p.jwks),
            "grant_types_supported": [
                "authorization_code", "implicit", "refresh_token", "password",
                "client_credentials", "urn:ietf:params:oauth:grant-type:device_code",
                "urn:openid:params:grant-type:ciba"
            ],
            "response_types_supported": [
                "code", "none", "id_token", "token", "id_token token", "code id_token",
                "code token", "code id_token token"
            ],
            "subject_types_supported": ["public", "pairwise"],
            "id_token_signing_alg_values_supported": [
                "PS384", "RS384", "EdDSA", "ES384", "HS256", "HS512", "ES256", "RS256",
                "HS384", "ES512", "PS256", "PS512", "RS512"
            ],
            "token_endpoint_auth_methods_supported": AUTH_METHODS,
            "introspection_endpoint_auth_methods_supported": AUTH_METHODS,
            "revocation_endpoint_auth_methods_supported": AUTH_METHODS,
            "scopes_supported": [
                "openid", "profile", "email", "roles", "web-origins", "offline_access", "acr",
                "basic", "address", "phone", "microprofile-jwt"
            ],
            "tls_client_certificate_bound_access_tokens": true,
            "claims_parameter_supported": true,
        })
    }

    fn introspection(&self) -> Option<IntrospectionRules> {
        Some(IntrospectionRules {
            auth: IntrospectionAuth::Required,
            // Any other hint: 400 "Unsupported token type [x]."
            hints: Some(&["access_token", "refresh_token"]),
            refuse_jwt: false,
        })
    }

    fn introspect(
        &self,
        _config: &Config,
        record: &TokenRecord,
        _caller: Option<&str>,
    ) -> Option<Map<String, Value>> {
        let mut answer = match record.kind {
            TokenKind::Access => {
                let mut answer = record.claims.clone();
                let claim = |name: &str| record.claims.get(name).cloned().unwrap_or(Value::Null);
                put(&mut answer, "client_id", claim("azp"));
                put(&mut answer, "username", claim("preferred_username"));
                // token_type is the typ claim: Bearer, DPoP, Refresh, Offline. Keycloak types
                // a DPoP-bound access token `DPoP`, in the claim and in the answer.
                let token_type = match super::access_token_type(&record.claims, "Bearer") {
                    "DPoP" => Value::from("DPoP"),
                    _ => claim("typ"),
                };
                if token_type == "DPoP" {
                    answer.insert("typ".into(), "DPoP".into());
                }
                put(&mut answer, "token_type", token_type);
                answer
            }
            // A refresh token is introspected like an access token and comes back active,
            // marked only by its typ.
            TokenKind::Refresh => {
                let mut answer = Map::new();
                for name in ["iss", "sub", "iat", "jti", "scope", "exp"] {
                    put(&mut answer, name, refresh_claim(record, name));
                }
                let client_id = refresh_claim(record, "client_id");
                put(&mut answer, "azp", client_id.clone());
                put(&mut answer, "client_id", client_id);
                answer.insert("typ".into(), "Refresh".into());
                answer.insert("token_type".into(), "Refresh".into());
                answer
            }
        };
        answer.insert("active".into(), true.into());
        Some(answer)
    }
}
