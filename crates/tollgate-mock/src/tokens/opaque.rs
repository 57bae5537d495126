//! `OpaqueTokenBuilder` and `RefreshTokenBuilder`: reference tokens the server alone can read.

use std::sync::Arc;
use std::time::Duration;

use serde_json::{Map, Value};

use super::ClaimSet;
use crate::dpop::{DpopKey, certificate_thumbprint};
use crate::state::Shared;
use crate::store::{TokenKind, TokenRecord};
use crate::util::{now, random_token};

/// Random bytes in an opaque token: 256 bits, base64url (43 characters, no dots).
const TOKEN_BYTES: usize = 32;

/// Builds an opaque (reference) access token of a [`MockAuthServer`](crate::MockAuthServer).
///
/// The token is a random base64url string with no dots, so it never looks like a JWT; only
/// introspection tells what it means. Its attributes default to those of
/// [`TokenBuilder`](crate::TokenBuilder) (`iss`, `sub` `"alice"`, `aud`, `client_id`, `iat`,
/// `exp`, `jti`, `scope` `"read"`) and are what introspection answers while the token lives.
/// Under a [`Shape`](crate::Shape) they are that server's access-token claims, and the answer
/// is shaped as that server shapes it.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// let server = tollgate_mock::MockAuthServer::start().await;
/// let token = server.opaque_token().subject("bob").scope("admin").issue();
/// assert!(!token.contains('.'));
/// # });
/// ```
#[must_use = "an OpaqueTokenBuilder does nothing until `issue` is called"]
pub struct OpaqueTokenBuilder {
    shared: Arc<Shared>,
    claims: ClaimSet,
    introspection_overrides: Map<String, Value>,
    refresh_token: Option<String>,
    dpop: bool,
}

impl std::fmt::Debug for OpaqueTokenBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OpaqueTokenBuilder")
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl OpaqueTokenBuilder {
    pub(crate) fn new(shared: Arc<Shared>) -> OpaqueTokenBuilder {
        let claims = ClaimSet::access(&shared.config);
        OpaqueTokenBuilder {
            shared,
            claims,
            introspection_overrides: Map::new(),
            refresh_token: None,
            dpop: false,
        }
    }

    /// Sets `sub`. Defaults to `"alice"`.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.claims.set("sub", subject.into());
        self
    }

    /// Sets the client id (`client_id`, or where the server's shape puts it, as for
    /// [`TokenBuilder::client_id`](crate::TokenBuilder::client_id)). Defaults to the server's
    /// first client.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.claims.client_id(client_id.into());
        self
    }

    /// Sets the scope, space-separated (`scope`, or the shape's form, as for
    /// [`TokenBuilder::scope`](crate::TokenBuilder::scope)). Defaults to `"read"`.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.claims.scope(scope.into());
        self
    }

    /// Sets `aud` to one audience (a string, or the shape's form). Defaults to the server's
    /// audience.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.claims.audience(audience.into());
        self
    }

    /// Sets `aud` to an array of audiences.
    pub fn audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.claims.audiences(audiences);
        self
    }

    /// Sets `exp` to now plus `lifetime`.
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.claims.expires_in(lifetime);
        self
    }

    /// Makes the token expired (`exp` 10 minutes ago): introspection answers `{"active":false}`.
    pub fn expired(mut self) -> Self {
        self.claims.expired(&self.shared.config);
        self
    }

    /// Adds or replaces any field of the introspection answer; `Value::Null` removes one.
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        let value = value.into();
        if value.is_null() {
            self.claims.remove(name);
        } else {
            self.claims.set(name, value);
        }
        self
    }

    /// Binds the token to a DPoP key (RFC 9449 §6): `cnf.jkt` is the key's thumbprint, and
    /// introspection answers `token_type: "DPoP"`. A resource server must then refuse it
    /// without a proof signed by that key, and refuse it as a bearer token (§7.2).
    pub fn dpop_bound(self, key: &DpopKey) -> Self {
        self.dpop_bound_to(&key.thumbprint())
    }

    /// Binds the token to the DPoP key with this RFC 7638 thumbprint (`cnf.jkt`), as
    /// [`dpop_bound`](Self::dpop_bound) does; any string is taken, a malformed one too.
    pub fn dpop_bound_to(mut self, jkt: &str) -> Self {
        self.claims.bind("jkt", jkt.to_owned());
        self.dpop = true;
        self
    }

    /// Binds the token to a TLS client certificate (RFC 8705 §3): `cnf.x5t#S256` is the
    /// SHA-256 of `der`, the certificate's DER encoding. Introspection still says
    /// `token_type: "Bearer"`; the binding is in `cnf`.
    pub fn certificate_bound(mut self, der: &[u8]) -> Self {
        self.claims.bind("x5t#S256", certificate_thumbprint(der));
        self
    }

    /// Lays `value` over the introspection answer's field `name`, after the server has added
    /// `active` and `token_type`; `Value::Null` removes the field. This is how a test makes the
    /// answer look like another server's (Keycloak's `typ`, Ory Hydra's `token_use`) or drops
    /// `token_type`, which [`claim`](Self::claim) cannot do.
    pub fn introspection_claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.introspection_overrides
            .insert(name.to_owned(), value.into());
        self
    }

    /// Records this token as issued from `refresh_token`: revoking that one revokes this one.
    pub fn refresh_token(mut self, refresh_token: &str) -> Self {
        self.refresh_token = Some(refresh_token.to_owned());
        self
    }

    /// Issues the token: remembers it and returns it.
    #[must_use]
    pub fn issue(self) -> String {
        let token = random_token(TOKEN_BYTES);
        let (claims, server_side) = self.claims.into_parts();
        let mut record = TokenRecord::new(TokenKind::Access, claims);
        record.server_side = server_side;
        record.parent = self.refresh_token;
        record.introspection_overrides = self.introspection_overrides;
        record.dpop = self.dpop;
        self.shared.tokens().insert(token.clone(), record);
        token
    }
}

/// Builds a refresh token of a [`MockAuthServer`](crate::MockAuthServer).
///
/// Refresh tokens are opaque strings. Use one with the `refresh_token` grant of the token
/// endpoint (only the client it belongs to may), or link access tokens to it with
/// [`TokenBuilder::refresh_token`](crate::TokenBuilder::refresh_token); revoking it then revokes
/// them (RFC 7009 §2.1). It does not expire unless asked to. The token endpoint also issues
/// one for a `client_credentials` request whose `scope` contains `offline_access`.
#[must_use = "a RefreshTokenBuilder does nothing until `issue` is called"]
pub struct RefreshTokenBuilder {
    shared: Arc<Shared>,
    claims: ClaimSet,
}

impl std::fmt::Debug for RefreshTokenBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RefreshTokenBuilder")
            .field("claims", &self.claims)
            .finish_non_exhaustive()
    }
}

impl RefreshTokenBuilder {
    pub(crate) fn new(shared: Arc<Shared>) -> RefreshTokenBuilder {
        // Refresh tokens are for the AS itself: no audience, no expiry by default, and the
        // strict claims whatever the shape (the token endpoint reads them).
        let claims = ClaimSet::refresh(&shared.config);
        RefreshTokenBuilder { shared, claims }
    }

    /// Sets the subject that access tokens refreshed with it get. Defaults to `"alice"`.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.claims.set("sub", subject.into());
        self
    }

    /// Sets the client it belongs to. Defaults to the server's first client.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.claims.set("client_id", client_id.into());
        self
    }

    /// Sets the scope it grants; a refresh request may ask for less, never more. Defaults to
    /// `"read"`.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.claims.set("scope", scope.into());
        self
    }

    /// Makes it expire `lifetime` from now.
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.claims.expires_in(lifetime);
        self
    }

    /// Makes it expired already: the `refresh_token` grant answers `invalid_grant`.
    pub fn expired(mut self) -> Self {
        self.claims.set("exp", now() - super::FAR);
        self
    }

    /// Issues the refresh token: remembers it and returns it.
    #[must_use]
    pub fn issue(self) -> String {
        let token = random_token(TOKEN_BYTES);
        let record = TokenRecord::new(TokenKind::Refresh, self.claims.into_map());
        self.shared.tokens().insert(token.clone(), record);
        token
    }
}
