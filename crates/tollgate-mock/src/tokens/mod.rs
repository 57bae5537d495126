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
use crate::state::Config;
use crate::util::{now, random_token};

/// How far in the past `expired()` puts `exp`, and in the future `not_yet_valid()` puts `nbf`:
/// far beyond any sane leeway.
const FAR: i64 = 600;

/// The claims of a token under construction.
#[derive(Debug, Clone)]
pub(crate) struct ClaimSet(Map<String, Value>);

impl ClaimSet {
    /// `iss`, `sub`, `aud`, `client_id`, `iat`, `exp`, `jti`, `scope`: RFC 9068 §2.2.
    fn access(config: &Config) -> ClaimSet {
        let iat = now();
        let mut claims = ClaimSet(Map::new());
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

    fn set(&mut self, name: &str, value: impl Into<Value>) {
        self.0.insert(name.to_owned(), value.into());
    }

    fn remove(&mut self, name: &str) {
        self.0.remove(name);
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
            .0
            .entry("cnf")
            .or_insert_with(|| Value::Object(Map::new()));
        if !cnf.is_object() {
            *cnf = Value::Object(Map::new());
        }
        if let Value::Object(cnf) = cnf {
            cnf.insert(method.to_owned(), value.into());
        }
    }

    fn into_map(self) -> Map<String, Value> {
        self.0
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
