//! Token builders: signed JWT access tokens, opaque access tokens and refresh tokens.
//!
//! Each builder starts from a valid token of the server (its issuer, audience, first client,
//! lifetime) and changes what the test asks for. Every token a builder issues is remembered by
//! the server, so introspection and revocation know it.

mod jwt;
mod opaque;

use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

pub use jwt::TokenBuilder;
pub use opaque::{OpaqueTokenBuilder, RefreshTokenBuilder};

use crate::keys::SigningKey;
use crate::shapes::{self, Purpose, Server};
use crate::state::Config;
use crate::util::{now, random_token};

/// How far in the past `expired()` puts `exp`, and in the future `not_yet_valid()` puts `nbf`:
/// far beyond any sane leeway.
const FAR: i64 = 600;

/// The claims of a token under construction, and where the server's shape puts what the
/// setters mean ("the client id", "the scope", "the audience", "the roles").
#[derive(Debug, Clone)]
pub(crate) struct ClaimSet {
    claims: Map<String, Value>,
    /// Known to the server, not carried by the token (see `TokenRecord::server_side`).
    server_side: Map<String, Value>,
    /// `None`: the strict shape.
    server: Option<&'static dyn Server>,
    purpose: Purpose,
}

impl ClaimSet {
    fn empty(server: Option<&'static dyn Server>, purpose: Purpose) -> ClaimSet {
        ClaimSet {
            claims: Map::new(),
            server_side: Map::new(),
            server,
            purpose,
        }
    }

    /// The default access token of the server's shape. Strict: `iss`, `sub`, `aud`,
    /// `client_id`, `iat`, `exp`, `jti`, `scope` (RFC 9068 §2.2).
    fn access(config: &Config) -> ClaimSet {
        if let Some(server) = shapes::server(&config.shape) {
            let mut claims = ClaimSet::empty(Some(server), Purpose::Access);
            server.access(config, &mut claims);
            return claims;
        }
        ClaimSet::strict_access(config)
    }

    fn strict_access(config: &Config) -> ClaimSet {
        let iat = now();
        let mut claims = ClaimSet::empty(None, Purpose::Access);
        claims.set("iss", config.issuer.clone());
        claims.set("sub", "alice");
        claims.set("aud", config.audience.clone());
        claims.set("client_id", config.clients[0].id.clone());
        claims.set("iat", iat);
        claims.set("exp", iat.saturating_add(config.lifetime_secs()));
        claims.set("jti", random_token(16));
        claims.set("scope", "read");
        claims
    }

    /// The default ID token of the server's shape (OpenID Connect Core 1.0 §2).
    fn id(config: &Config) -> ClaimSet {
        let server = shapes::server(&config.shape);
        let mut claims = ClaimSet::empty(server, Purpose::Id);
        match server {
            Some(server) => server.id(config, &mut claims),
            None => shapes::strict_id(config, &mut claims),
        }
        claims
    }

    /// What a refresh token records, whatever the shape: the strict access-token claims
    /// without `aud` and `exp`. Refresh tokens are for the server itself, which reads
    /// `client_id`, `scope` and `sub` from them.
    fn refresh(config: &Config) -> ClaimSet {
        let mut claims = ClaimSet::strict_access(config);
        claims.remove("aud");
        claims.remove("exp");
        claims
    }

    pub(crate) fn purpose(&self) -> Purpose {
        self.purpose
    }

    pub(crate) fn get(&self, name: &str) -> Option<&Value> {
        self.claims.get(name)
    }

    pub(crate) fn set(&mut self, name: &str, value: impl Into<Value>) {
        self.claims.insert(name.to_owned(), value.into());
    }

    pub(crate) fn remove(&mut self, name: &str) {
        self.claims.remove(name);
    }

    /// Records what the server knows but the token does not carry.
    pub(crate) fn set_server_side(&mut self, name: &str, value: impl Into<Value>) {
        self.server_side.insert(name.to_owned(), value.into());
    }

    /// "The client id": `client_id` (strict access tokens), `aud` and `azp` (strict ID
    /// tokens), or wherever the shape puts it.
    fn client_id(&mut self, id: String) {
        match self.server {
            Some(server) => server.client_id(self, &id),
            None if self.purpose == Purpose::Id => {
                self.set("aud", id.clone());
                self.set("azp", id);
            }
            None => self.set("client_id", id),
        }
    }

    /// "The scope", space-separated: the `scope` string (strict) or the shape's form.
    fn scope(&mut self, scope: String) {
        match self.server {
            Some(server) => server.scope(self, &scope),
            None => self.set("scope", scope),
        }
    }

    /// One audience: a string (strict) or the shape's form.
    fn audience(&mut self, audience: String) {
        match self.server {
            Some(server) => server.audience(self, &audience),
            None => self.set("aud", audience),
        }
    }

    /// The roles: `roles` (strict, RFC 9068 §2.2.3.1) or where the shape puts them.
    fn roles(&mut self, roles: Vec<String>) {
        match self.server {
            Some(server) => server.roles(self, roles),
            None => self.set("roles", roles),
        }
    }

    fn expires_in(&mut self, lifetime: Duration) {
        let secs = i64::try_from(lifetime.as_secs()).unwrap_or(i64::MAX);
        self.set("exp", now().saturating_add(secs));
    }

    /// `exp` [`FAR`] seconds ago, `iat` one lifetime before that.
    fn expired(&mut self, config: &Config) {
        let exp = now() - FAR;
        self.set("exp", exp);
        self.set("iat", exp.saturating_sub(config.lifetime_secs()));
    }

    fn audiences<I, S>(&mut self, audiences: I)
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let list: Vec<Value> = audiences
            .into_iter()
            .map(|a| Value::String(a.into()))
            .collect();
        self.set("aud", list);
    }

    /// Adds a confirmation method to `cnf` (RFC 7800 §3.1), keeping the others; a `cnf` that
    /// is not an object is replaced.
    fn bind(&mut self, method: &str, value: String) {
        let cnf = self
            .claims
            .entry("cnf")
            .or_insert_with(|| Value::Object(Map::new()));
        if !cnf.is_object() {
            *cnf = Value::Object(Map::new());
        }
        if let Value::Object(cnf) = cnf {
            cnf.insert(method.to_owned(), value.into());
        }
    }

    fn to_value(&self) -> Value {
        Value::Object(self.claims.clone())
    }

    fn into_map(self) -> Map<String, Value> {
        self.claims
    }

    /// The token's claims and what the server knows beside them.
    fn into_parts(self) -> (Map<String, Value>, Map<String, Value>) {
        (self.claims, self.server_side)
    }
}

/// `base64url(header) . base64url(payload) . base64url(signature)` (RFC 7515 §7.1), the
/// signature made by `key` with `alg`.
pub(crate) fn compact(header: &[u8], payload: &[u8], key: &SigningKey, alg: Algorithm) -> String {
    let mut token = URL_SAFE_NO_PAD.encode(header);
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(payload));
    let signature = key.sign_with(alg, token.as_bytes());
    token.push('.');
    token.push_str(&URL_SAFE_NO_PAD.encode(signature));
    token
}
