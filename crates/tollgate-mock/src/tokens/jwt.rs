//! `TokenBuilder`: JWT access tokens (RFC 9068), and ID tokens (OpenID Connect Core 1.0 §2).

use std::sync::Arc;
use std::time::Duration;

use jsonwebtoken::Algorithm;
use serde_json::{Map, Value};

use super::{ClaimSet, FAR, compact};
use crate::dpop::{DpopKey, certificate_thumbprint};
use crate::keys::SigningKey;
use crate::shapes::{self, Purpose};
use crate::state::Shared;
use crate::store::{TokenKind, TokenRecord};
use crate::util::{now, random_token};

/// Which key signs.
#[derive(Debug, Clone)]
enum KeyChoice {
    /// The server's current signing key.
    Signing,
    /// A published key of this algorithm, made and published if there is none.
    Algorithm(Algorithm),
    /// The key with this `kid`, published or retired.
    Kid(String),
}

/// A forgery: material that no JWKS ever published.
#[derive(Debug, Clone, Copy)]
enum Impostor {
    /// Under the `kid` of the key it imitates.
    SameKid,
    /// Under a `kid` that was never published.
    UnknownKid,
}

/// Builds a signed JWT access token (RFC 9068) of a [`MockAuthServer`](crate::MockAuthServer).
///
/// The defaults make a token that a correctly configured resource server accepts:
///
/// - header `{"alg": <the signing key's>, "typ": "at+jwt", "kid": <the signing key's>}`;
/// - claims `iss` (the server's issuer), `sub` (`"alice"`), `aud` (the server's audience, a
///   string), `client_id` (the first registered client), `iat` (now), `exp` (now plus the
///   server's token lifetime), `jti` (random, unique) and `scope` (`"read"`).
///
/// Under a [`Shape`](crate::Shape) the defaults are that server's access token instead (see the
/// shape's documentation), and [`client_id`](Self::client_id), [`scope`](Self::scope),
/// [`audience`](Self::audience) and [`roles`](Self::roles) write where that server puts them.
///
/// [`MockAuthServer::id_token`](crate::MockAuthServer::id_token) gives a builder of the
/// server's ID token for its first client instead: every setter works the same, ID tokens are
/// signed with the key the server signs ID tokens with, and they are not remembered
/// (introspection calls them inactive).
///
/// Setters change claims and header fields freely, including into invalid tokens. Header
/// changes touch the header only: the signature is always made with the chosen key's own
/// algorithm. Tokens are remembered by the server (introspection reports them active while they
/// are live), except those signed with [`unpublished_key`](Self::unpublished_key) or
/// [`unpublished_kid`](Self::unpublished_kid): the server never issued those forgeries.
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use tollgate_mock::MockAuthServer;
///
/// let server = MockAuthServer::start().await;
/// let token = server.token().subject("bob").scope("read write").claim("acr", "mfa").sign();
/// assert_eq!(token.split('.').count(), 3);
/// # });
/// ```
#[must_use = "a TokenBuilder does nothing until `sign` is called"]
pub struct TokenBuilder {
    shared: Arc<Shared>,
    claims: ClaimSet,
    /// Header changes in call order: `Some` sets a field, `None` removes it.
    header: Vec<(String, Option<Value>)>,
    key: KeyChoice,
    impostor: Option<Impostor>,
    refresh_token: Option<String>,
    introspection_overrides: Map<String, Value>,
    dpop: bool,
}

impl std::fmt::Debug for TokenBuilder {
    // The linked refresh token stays out of Debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TokenBuilder")
            .field("claims", &self.claims)
            .field("header", &self.header)
            .field("key", &self.key)
            .field("impostor", &self.impostor)
            .finish_non_exhaustive()
    }
}

impl TokenBuilder {
    pub(crate) fn new(shared: Arc<Shared>) -> TokenBuilder {
        let claims = ClaimSet::access(&shared.config);
        TokenBuilder::with_claims(shared, claims)
    }

    /// An ID token of the server's shape, for its first client.
    pub(crate) fn id(shared: Arc<Shared>) -> TokenBuilder {
        let claims = ClaimSet::id(&shared.config);
        TokenBuilder::with_claims(shared, claims)
    }

    fn with_claims(shared: Arc<Shared>, claims: ClaimSet) -> TokenBuilder {
        TokenBuilder {
            shared,
            claims,
            header: Vec::new(),
            key: KeyChoice::Signing,
            impostor: None,
            refresh_token: None,
            introspection_overrides: Map::new(),
            dpop: false,
        }
    }

    /// Sets `sub`. Defaults to `"alice"`.
    pub fn subject(mut self, subject: impl Into<String>) -> Self {
        self.claims.set("sub", subject.into());
        self
    }

    /// Sets the client id: `client_id` (RFC 9068 §2.2), or where the server's shape puts it
    /// (`azp`, `appid`, `cid`, ... ; `aud` for Spring Authorization Server). On an ID token,
    /// the audience (`aud`) and `azp`. Defaults to the server's first client.
    pub fn client_id(mut self, client_id: impl Into<String>) -> Self {
        self.claims.client_id(client_id.into());
        self
    }

    /// Sets the scope, a space-separated list: `scope` (RFC 9068 §2.2.3), or the shape's form
    /// (`scp` string for Entra, `scp` array for Okta and Ory Hydra, a `scope` array for Spring
    /// Authorization Server; for ZITADEL and authentik, whose JWTs carry none, the scope the
    /// introspection answer reports). Defaults to `"read"`.
    pub fn scope(mut self, scope: impl Into<String>) -> Self {
        self.claims.scope(scope.into());
        self
    }

    /// Sets `aud` to one audience: a string, or a one-element array where the shape writes
    /// arrays (Ory Hydra, ZITADEL). Defaults to the server's audience (see the shape for the
    /// exceptions).
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.claims.audience(audience.into());
        self
    }

    /// Sets the roles: `roles` (RFC 9068 §2.2.3.1), or where the shape puts them
    /// (`realm_access.roles` for Keycloak, `cognito:groups` for Cognito, `groups` for Okta and
    /// authentik, ZITADEL's project-roles claim). Defaults to none, except Keycloak's default
    /// realm roles.
    pub fn roles<I, S>(mut self, roles: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.claims
            .roles(roles.into_iter().map(Into::into).collect());
        self
    }

    /// Sets `permissions`, an array (Auth0's RBAC claim; a plain claim under other shapes).
    /// Defaults to none.
    pub fn permissions<I, S>(mut self, permissions: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        let list: Vec<String> = permissions.into_iter().map(Into::into).collect();
        self.claims.set("permissions", list);
        self
    }

    /// Makes the token one of another Entra tenant of the same server: sets `tid` and the
    /// `iss` of that tenant (`{base}/{tenant}/` for v1, `{base}/{tenant}/v2.0` for v2), as a
    /// multi-tenant application receives them. The keys stay the server's (Entra signs every
    /// tenant's tokens with the same keys).
    ///
    /// # Panics
    ///
    /// Under a shape other than [`Shape::EntraV1`](crate::Shape::EntraV1) and
    /// [`Shape::EntraV2`](crate::Shape::EntraV2).
    pub fn tenant(mut self, tenant: &str) -> Self {
        let issuer = shapes::tenant_issuer(&self.shared.config, tenant).unwrap_or_else(|| {
            panic!(
                "tollgate-mock: tenant() needs an Entra shape, not {}",
                self.shared.config.shape
            )
        });
        self.claims.set("tid", tenant);
        self.claims.set("iss", issuer);
        self
    }

    /// Sets `aud` to an array of audiences (an array even with one element).
    pub fn audiences<I, S>(mut self, audiences: I) -> Self
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        self.claims.audiences(audiences);
        self
    }

    /// Sets `iss`. Defaults to the server's issuer.
    pub fn issuer(mut self, issuer: impl Into<String>) -> Self {
        self.claims.set("iss", issuer.into());
        self
    }

    /// Sets `exp` to now plus `lifetime`.
    pub fn expires_in(mut self, lifetime: Duration) -> Self {
        self.claims.expires_in(lifetime);
        self
    }

    /// Makes the token expired: `exp` 10 minutes ago (beyond any sane leeway), `iat` one token
    /// lifetime before that.
    pub fn expired(mut self) -> Self {
        self.claims.expired(&self.shared.config);
        self
    }

    /// Makes the token not valid yet: `nbf` 10 minutes from now.
    pub fn not_yet_valid(mut self) -> Self {
        self.claims.set("nbf", now() + FAR);
        self
    }

    /// Sets `iat` (seconds since the epoch).
    pub fn issued_at(mut self, iat: i64) -> Self {
        self.claims.set("iat", iat);
        self
    }

    /// Sets `nbf` (seconds since the epoch).
    pub fn not_before(mut self, nbf: i64) -> Self {
        self.claims.set("nbf", nbf);
        self
    }

    /// Sets `exp` (seconds since the epoch).
    pub fn expires_at(mut self, exp: i64) -> Self {
        self.claims.set("exp", exp);
        self
    }

    /// Adds or replaces any claim, with any JSON value (`acr`, `amr`, `auth_time`, `nonce`,
    /// a `scope` that is an array, an `exp` that is a string...).
    pub fn claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.claims.set(name, value);
        self
    }

    /// Removes a claim, default or not.
    pub fn remove_claim(mut self, name: &str) -> Self {
        self.claims.remove(name);
        self
    }

    /// Adds or replaces a header field (`alg`, `typ`, `kid`, `crit`, `jku`, ...). Changing
    /// `alg` or `kid` here changes the header only, not the key that signs.
    pub fn header(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.header.push((name.to_owned(), Some(value.into())));
        self
    }

    /// Removes a header field, default or not.
    pub fn remove_header(mut self, name: &str) -> Self {
        self.header.push((name.to_owned(), None));
        self
    }

    /// Signs with a published key of this algorithm: the signing key if it fits, else the
    /// newest published key of that algorithm, else a new key, generated and published now.
    ///
    /// # Panics
    ///
    /// At [`sign`](Self::sign), for a symmetric algorithm (HS256/384/512).
    pub fn algorithm(mut self, alg: Algorithm) -> Self {
        self.key = KeyChoice::Algorithm(alg);
        self
    }

    /// Signs with the key that has this `kid`, published or retired.
    ///
    /// # Panics
    ///
    /// At [`sign`](Self::sign), if the server never had such a key.
    pub fn kid(mut self, kid: &str) -> Self {
        self.key = KeyChoice::Kid(kid.to_owned());
        self
    }

    /// Signs with a key of the same algorithm that is never published, under the `kid` of the
    /// published key it imitates: the signature cannot verify.
    pub fn unpublished_key(mut self) -> Self {
        self.impostor = Some(Impostor::SameKid);
        self
    }

    /// Signs with a key that is never published, under a new random `kid` that no JWKS ever
    /// had (`unpublished-...`): a resource server looking the key up finds nothing.
    pub fn unpublished_kid(mut self) -> Self {
        self.impostor = Some(Impostor::UnknownKid);
        self
    }

    /// Records this token as issued from `refresh_token` (see
    /// [`MockAuthServer::refresh_token`](crate::MockAuthServer::refresh_token)): revoking the
    /// refresh token revokes this token too (RFC 7009 §2.1).
    pub fn refresh_token(mut self, refresh_token: &str) -> Self {
        self.refresh_token = Some(refresh_token.to_owned());
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

    /// Makes the introspection answer for this token differ from its claims: sets `name` to
    /// `value` in the answer, or removes it for `Value::Null`. Any field may be changed,
    /// `active` included (e.g. `"true"` as a string). The JWT itself is unchanged.
    pub fn introspection_claim(mut self, name: &str, value: impl Into<Value>) -> Self {
        self.introspection_overrides
            .insert(name.to_owned(), value.into());
        self
    }

    /// The claims the token will carry, as they stand.
    #[must_use]
    pub fn claims(&self) -> Value {
        self.claims.to_value()
    }

    fn choose_key(&self) -> SigningKey {
        let alg = match &self.key {
            KeyChoice::Signing => {
                let keys = self.shared.keys();
                // Cognito and Ory Hydra sign ID tokens with a key of their own.
                return match (&self.shared.config.id_token_kid, self.claims.purpose()) {
                    (Some(kid), Purpose::Id) => keys.expect(kid).clone(),
                    _ => keys.signing().clone(),
                };
            }
            KeyChoice::Kid(kid) => return self.shared.keys().expect(kid).clone(),
            KeyChoice::Algorithm(alg) => *alg,
        };
        if let Some(key) = self.shared.keys().published_for(alg) {
            return key.clone();
        }
        // Generated outside the lock: an RSA key takes a while. Published under the kid the
        // shape spells.
        let key = SigningKey::generate(alg);
        let mut keys = self.shared.keys();
        let kid = keys.publish(key);
        keys.expect(&kid).clone()
    }

    /// Signs the token and remembers it (unless it is a forgery or an ID token, see the type
    /// docs).
    #[must_use]
    pub fn sign(self) -> String {
        let mut key = self.choose_key();
        key = match self.impostor {
            None => key,
            Some(Impostor::SameKid) => key.impostor(key.kid().to_owned()),
            Some(Impostor::UnknownKid) => key.impostor(format!("unpublished-{}", random_token(6))),
        };

        let purpose = self.claims.purpose();
        let mut header = shapes::header(&self.shared.config, purpose, &key);
        for (name, value) in self.header {
            match value {
                Some(value) => header.insert(name, value),
                None => header.remove(&name),
            };
        }

        let (claims, server_side) = self.claims.into_parts();
        let header_json = serde_json::to_vec(&header).expect("JSON values serialize");
        let claims_json = serde_json::to_vec(&claims).expect("JSON values serialize");
        let token = compact(&header_json, &claims_json, &key, key.alg());

        if self.impostor.is_none() && purpose == Purpose::Access {
            let mut record = TokenRecord::new(TokenKind::Access, claims);
            record.server_side = server_side;
            record.parent = self.refresh_token;
            record.introspection_overrides = self.introspection_overrides;
            record.dpop = self.dpop;
            self.shared.tokens().insert(token.clone(), record);
        }
        token
    }
}
