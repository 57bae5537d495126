//! What the server remembers about every token it issued: enough to answer introspection
//! (RFC 7662) and to revoke (RFC 7009).

use std::collections::HashMap;

use serde_json::{Map, Value, json};

/// Access tokens are what resource servers see; refresh tokens only go to the token endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum TokenKind {
    Access,
    Refresh,
}

/// One issued token.
#[derive(Debug, Clone)]
pub(crate) struct TokenRecord {
    pub(crate) kind: TokenKind,
    /// The token's claims: the JWT payload, or the attributes of an opaque token.
    pub(crate) claims: Map<String, Value>,
    /// What the server knows about the token that the token does not carry: under a server
    /// shape whose JWT has no scope claim (ZITADEL, authentik), the scope introspection
    /// reports.
    pub(crate) server_side: Map<String, Value>,
    /// Fields laid over the introspection answer only (`Null` removes a field).
    pub(crate) introspection_overrides: Map<String, Value>,
    /// The refresh token this access token was issued from; revoking that one revokes this one.
    pub(crate) parent: Option<String>,
    pub(crate) revoked: bool,
    /// Bound to a DPoP key: introspection says `token_type: DPoP` (RFC 9449 §6.2).
    pub(crate) dpop: bool,
}

impl TokenRecord {
    pub(crate) fn new(kind: TokenKind, claims: Map<String, Value>) -> TokenRecord {
        TokenRecord {
            kind,
            claims,
            server_side: Map::new(),
            introspection_overrides: Map::new(),
            parent: None,
            revoked: false,
            dpop: false,
        }
    }

    /// The time checks of RFC 7519 §4.1.4/§4.1.5: `exp` is the first second the token is dead.
    fn is_current(&self, now: i64) -> bool {
        let expired = self
            .claims
            .get("exp")
            .and_then(Value::as_i64)
            .is_some_and(|exp| now >= exp);
        let early = self
            .claims
            .get("nbf")
            .and_then(Value::as_i64)
            .is_some_and(|nbf| nbf > now);
        !expired && !early
    }

    /// Lays the test's overrides over an introspection answer: `Null` removes a field.
    pub(crate) fn apply_overrides(&self, answer: &mut Map<String, Value>) {
        for (name, value) in &self.introspection_overrides {
            if value.is_null() {
                answer.remove(name);
            } else {
                answer.insert(name.clone(), value.clone());
            }
        }
    }
}

/// All tokens the server issued, keyed by the token string.
#[derive(Default)]
pub(crate) struct TokenStore {
    tokens: HashMap<String, TokenRecord>,
}

impl std::fmt::Debug for TokenStore {
    // The tokens themselves stay out of Debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenStore")
            .field("len", &self.tokens.len())
            .finish()
    }
}

impl TokenStore {
    pub(crate) fn insert(&mut self, token: String, record: TokenRecord) {
        self.tokens.insert(token, record);
    }

    /// The record of a token that is known, not revoked (nor its parent) and within its times.
    pub(crate) fn live(&self, token: &str, now: i64) -> Option<&TokenRecord> {
        let record = self.tokens.get(token)?;
        let parent_revoked = record
            .parent
            .as_deref()
            .and_then(|p| self.tokens.get(p))
            .is_some_and(|p| p.revoked);
        (!record.revoked && !parent_revoked && record.is_current(now)).then_some(record)
    }

    /// Revokes a token; a refresh token takes its access tokens with it (RFC 7009 §2.1).
    /// Unknown tokens are ignored, as the RFC asks.
    pub(crate) fn revoke(&mut self, token: &str) {
        let Some(record) = self.tokens.get_mut(token) else {
            return;
        };
        record.revoked = true;
        if record.kind == TokenKind::Refresh {
            for child in self.tokens.values_mut() {
                if child.parent.as_deref() == Some(token) {
                    child.revoked = true;
                }
            }
        }
    }

    /// The RFC 7662 §2.2 answer: the token's claims (`cnf` included, RFC 9449 §6.2, RFC 8705
    /// §3.2) plus `active` and `token_type` (`DPoP` for a DPoP-bound token) for a live token,
    /// exactly `{"active":false}` for anything else.
    pub(crate) fn introspect(&self, token: &str, now: i64) -> Value {
        let Some(record) = self.live(token, now) else {
            return json!({ "active": false });
        };
        let mut answer = record.claims.clone();
        answer.insert("active".into(), true.into());
        let token_type = match record.kind {
            TokenKind::Access if record.dpop => "DPoP",
            TokenKind::Access => "Bearer",
            TokenKind::Refresh => "refresh_token",
        };
        answer.insert("token_type".into(), token_type.into());
        record.apply_overrides(&mut answer);
        Value::Object(answer)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn claims(exp: i64) -> Map<String, Value> {
        json!({ "sub": "alice", "exp": exp })
            .as_object()
            .unwrap()
            .clone()
    }

    #[test]
    fn refresh_revocation_cascades() {
        let mut store = TokenStore::default();
        store.insert(
            "rt".into(),
            TokenRecord::new(TokenKind::Refresh, Map::new()),
        );
        let mut child = TokenRecord::new(TokenKind::Access, claims(2000));
        child.parent = Some("rt".into());
        store.insert("at".into(), child);
        store.insert(
            "other".into(),
            TokenRecord::new(TokenKind::Access, claims(2000)),
        );
        assert_eq!(store.introspect("at", 1000)["active"], true);
        store.revoke("rt");
        assert_eq!(store.introspect("at", 1000), json!({ "active": false }));
        assert_eq!(store.introspect("other", 1000)["active"], true);
    }

    #[test]
    fn expiry_is_exclusive() {
        let mut store = TokenStore::default();
        store.insert(
            "at".into(),
            TokenRecord::new(TokenKind::Access, claims(1000)),
        );
        assert_eq!(store.introspect("at", 999)["active"], true);
        assert_eq!(store.introspect("at", 1000), json!({ "active": false }));
        store.revoke("unknown");
    }

    #[test]
    fn overrides_apply_to_the_answer_only() {
        let mut store = TokenStore::default();
        let mut record = TokenRecord::new(TokenKind::Access, claims(2000));
        record
            .introspection_overrides
            .insert("sub".into(), "mallory".into());
        record
            .introspection_overrides
            .insert("exp".into(), Value::Null);
        store.insert("at".into(), record);
        let answer = store.introspect("at", 1000);
        assert_eq!(answer["sub"], "mallory");
        assert!(answer.get("exp").is_none());
    }
}
