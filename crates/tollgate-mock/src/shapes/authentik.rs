//! authentik, OAuth2 provider. Facts from goauthentik/authentik as stored (2022-2023 versions;
//! newer releases reworked tokens): `authentik/providers/oauth2/models.py` (`encode`: PyJWT,
//! so `typ: JWT`; `get_issuer`: per provider, trailing `/`), `id_token.py` (`to_access_token`:
//! the ID token plus `azp` and a random `uid`, no `jti`, no scope), `views/jwks.py` (one key,
//! no `Cache-Control`), `views/introspection.py` and `tests/test_introspect.py` (the answer,
//! the caller's `client_id`, 200 `{"active": false}` on failed client authentication).

use serde_json::{Map, Value, json};

use super::keys::{KeyStyle, KidSpelling};
use super::{
    Document, IntrospectionAuth, IntrospectionRules, Layout, Purpose, Server, Shape, client, ids,
    openid, put, refresh_claim, stamp,
};
use crate::state::Config;
use crate::store::{TokenKind, TokenRecord};
use crate::tokens::ClaimSet;

#[derive(Debug)]
pub(super) struct Authentik;

const ACR: &str = "goauthentik.io/providers/oauth2/default";

/// The claims access and ID tokens share: the ID token's.
fn common(config: &Config, c: &mut ClaimSet) {
    c.set("iss", config.issuer.clone());
    c.set("sub", "alice");
    // The provider's client id, not an API identifier.
    c.set("aud", client(config));
    let iat = stamp(config, c);
    c.set("auth_time", iat);
    c.set("acr", ACR);
    c.set("amr", json!(["pwd"]));
    c.set("email", "alice@tollgate.test");
    c.set("email_verified", true);
    c.set("name", "Alice");
    c.set("given_name", "Alice");
    c.set("preferred_username", "alice");
    c.set("nickname", "alice");
}

impl Server for Authentik {
    fn default_path(&self, _shape: &Shape) -> String {
        "/application/o/tollgate".into()
    }

    fn trailing_slash(&self) -> bool {
        true
    }

    fn layout(&self, base: &str, _shape: &Shape) -> Layout {
        Layout {
            jwks: format!("{base}/jwks/"),
            // Shared by every provider, outside the application's path (path unconfirmed for
            // introspection).
            token: "/application/o/token/".into(),
            introspection: Some("/application/o/introspect/".into()),
            revocation: Some("/application/o/revoke/".into()),
            documents: vec![(openid(base), Document::OpenId)],
            more_jwks: Vec::new(),
        }
    }

    fn key_style(&self) -> KeyStyle {
        // The kid of the provider's certificate-key pair (32 hex digits; unconfirmed).
        KeyStyle::plain(KidSpelling::Hex32)
    }

    fn jwks_cache_control(&self) -> Option<&'static str> {
        None
    }

    fn typ(&self, _purpose: Purpose) -> Option<&'static str> {
        Some("JWT")
    }

    fn access(&self, config: &Config, c: &mut ClaimSet) {
        common(config, c);
        // What tells the access token from the ID token: `azp` and `uid`.
        c.set("azp", client(config));
        c.set("uid", ids::alphanumeric(40));
        c.set_server_side("scope", "read");
    }

    fn id(&self, config: &Config, c: &mut ClaimSet) {
        common(config, c);
        c.set("nonce", ids::nonce());
        c.set("at_hash", ids::at_hash());
    }

    fn client_id(&self, c: &mut ClaimSet, id: &str) {
        c.set("aud", id);
        if c.purpose() == Purpose::Access {
            c.set("azp", id);
        }
    }

    fn scope(&self, c: &mut ClaimSet, scope: &str) {
        c.set_server_side("scope", scope);
    }

    fn roles(&self, c: &mut ClaimSet, roles: Vec<String>) {
        // The default `profile` scope mapping's claim.
        c.set("groups", roles);
    }

    fn document(&self, config: &Config, _document: Document) -> Value {
        let p = &config.paths;
        json!({
            "issuer": config.issuer,
            "token_endpoint": config.url(&p.token),
            "introspection_endpoint": config.url(&p.introspection),
            "revocation_endpoint": config.url(&p.revocation),
            "jwks_uri": config.url(&p.jwks),
            "response_types_supported": [
                "code", "id_token", "id_token token", "code token", "code id_token",
                "code id_token token"
            ],
            "id_token_signing_alg_values_supported": ["RS256"],
            "subject_types_supported": ["public"],
            "token_endpoint_auth_methods_supported": ["client_secret_post", "client_secret_basic"],
            "grant_types_supported": [
                "authorization_code", "refresh_token", "implicit", "client_credentials",
                "password", "urn:ietf:params:oauth:grant-type:device_code"
            ],
            "scopes_supported": ["openid", "email", "profile"],
            "claims_supported": [
                "sub", "iss", "aud", "exp", "iat", "auth_time", "acr", "amr", "nonce", "email",
                "email_verified", "name", "given_name", "preferred_username", "nickname", "groups"
            ],
            "code_challenge_methods_supported": ["plain", "S256"],
        })
    }

    fn introspection(&self) -> Option<IntrospectionRules> {
        Some(IntrospectionRules {
            auth: IntrospectionAuth::FailureIsInactive,
            hints: None,
            refuse_jwt: false,
        })
    }

    fn introspect(
        &self,
        _config: &Config,
        record: &TokenRecord,
        caller: Option<&str>,
    ) -> Option<Map<String, Value>> {
        let mut answer = match record.kind {
            TokenKind::Access => record.claims.clone(),
            // The same shape as an access token's: nothing marks a refresh token.
            TokenKind::Refresh => {
                let mut answer = Map::new();
                for name in ["iss", "sub", "iat", "exp"] {
                    put(&mut answer, name, refresh_claim(record, name));
                }
                let client_id = refresh_claim(record, "client_id");
                put(&mut answer, "aud", client_id.clone());
                put(&mut answer, "azp", client_id);
                answer
            }
        };
        let scope = record
            .server_side
            .get("scope")
            .or(record.claims.get("scope"))
            .cloned()
            .unwrap_or(Value::Null);
        put(&mut answer, "scope", scope);
        // The caller's client id, not the token's.
        put(
            &mut answer,
            "client_id",
            caller.map_or(Value::Null, Value::from),
        );
        answer.insert("active".into(), true.into());
        Some(answer)
    }
}
