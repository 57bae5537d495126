//! The validated caller: who the token speaks for and what it grants.

use std::sync::Arc;

use serde::de::DeserializeOwned;
use serde_json::{Map, Value};

use crate::dpop::binding::{BindingError, Confirmation};
use crate::keys::VerifyKey;
use crate::rejection::Responder;
use crate::rules::RuleStamp;

/// How the token was checked.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum TokenFormat {
    /// A JWT access token verified locally against the issuer's keys (RFC 9068).
    Jwt,
    /// An opaque (reference) token, known only through introspection (RFC 7662).
    Opaque,
}

/// The scopes a token grants (RFC 6749 §3.3), in the order the token lists them.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Scopes(Vec<String>);

impl Scopes {
    /// Parses a space-delimited `scope` value; repeated spaces are tolerated, duplicates kept once.
    pub fn parse(value: &str) -> Self {
        let mut out: Vec<String> = Vec::new();
        for s in value.split(' ').filter(|s| !s.is_empty()) {
            if !out.iter().any(|o| o == s) {
                out.push(s.to_owned());
            }
        }
        Self(out)
    }

    pub(crate) fn from_vec(mut scopes: Vec<String>) -> Self {
        scopes.retain(|s| !s.is_empty());
        let mut out: Vec<String> = Vec::with_capacity(scopes.len());
        for s in scopes {
            if !out.contains(&s) {
                out.push(s);
            }
        }
        Self(out)
    }

    /// Whether the token grants `scope` (exact, case-sensitive match as RFC 6749 §3.3 says).
    pub fn contains(&self, scope: &str) -> bool {
        self.0.iter().any(|s| s == scope)
    }

    /// The scopes as strings.
    pub fn iter(&self) -> impl Iterator<Item = &str> {
        self.0.iter().map(String::as_str)
    }

    /// Number of scopes.
    pub fn len(&self) -> usize {
        self.0.len()
    }

    /// True when the token grants no scope.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl std::fmt::Display for Scopes {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0.join(" "))
    }
}

/// What a validated token says, shared by every request that presents the same token.
///
/// Made only by [`TokenInfo::new`]: from a verified JWT's claims (`claims/`) or from an opaque
/// token's introspection answer (`introspection/principal.rs`).
pub(crate) struct TokenInfo {
    pub(crate) format: TokenFormat,
    /// The standard members, as read from the claims or the answer.
    pub(crate) standard: StandardClaims,
    /// Always a JSON object.
    pub(crate) claims: Value,
    /// The key that verified a JWT; a cached verification is valid only while it is current.
    pub(crate) key: Option<Arc<VerifyKey>>,
    /// How the engine that validated the token answers refusals (for extractors that refuse
    /// later); set once per token, so a request pays nothing for it.
    pub(crate) responder: Arc<Responder>,
    /// The trusted issuer that vouches for the token: its place in the engine's list. A cached
    /// verification is checked against that issuer's key set, a sensitive route asks that
    /// issuer's introspection.
    pub(crate) issuer_index: usize,
    /// What the token is bound to (`cnf`, RFC 9449 §6, RFC 8705 §3), read once when the token
    /// info is made; an error when its `cnf` cannot be honoured, which refuses the token on
    /// every presentation.
    pub(crate) binding: Result<Confirmation, BindingError>,
    /// Whether `binding` is anything but "bound to nothing": the one test a bearer request
    /// pays for sender constraints.
    pub(crate) sender_bound: bool,
    /// The revocation-rule epoch at which this token was last found uncovered: a cache hit
    /// looks the rules up only when they changed since (`rules` module docs).
    pub(crate) rule_stamp: RuleStamp,
}

/// The standard members of a token, read from its claims or its introspection answer.
#[derive(Debug, Default)]
pub(crate) struct StandardClaims {
    pub(crate) issuer: Option<String>,
    pub(crate) subject: Option<String>,
    pub(crate) client_id: Option<String>,
    pub(crate) scopes: Scopes,
    /// Read from the issuer's roles claims; apart from the scopes.
    pub(crate) roles: Vec<String>,
    /// Read from the issuer's permissions claims; apart from the scopes.
    pub(crate) permissions: Vec<String>,
    pub(crate) audiences: Vec<String>,
    pub(crate) issued_at: Option<i64>,
    pub(crate) expires_at: Option<i64>,
    pub(crate) not_before: Option<i64>,
    pub(crate) auth_time: Option<i64>,
    pub(crate) acr: Option<String>,
    pub(crate) amr: Vec<String>,
    pub(crate) jti: Option<String>,
    /// `sid` (OpenID Connect Front-Channel Logout §3): the session a revocation rule may name.
    pub(crate) session: Option<String>,
}

impl TokenInfo {
    /// The one constructor: the standard members, every claim (or answer member), the key that
    /// verified a JWT, and the engine's responder. Vouched for by the engine's first issuer
    /// until [`issued_by`](Self::issued_by) says otherwise.
    pub(crate) fn new(
        format: TokenFormat,
        standard: StandardClaims,
        claims: Map<String, Value>,
        key: Option<Arc<VerifyKey>>,
        responder: &Arc<Responder>,
    ) -> Self {
        // RFC 9449 §6.1 and §6.2, RFC 8705 §3.1 and §3.2: `cnf` in the claims or the answer.
        let binding = match format {
            TokenFormat::Jwt => Confirmation::from_claims(&claims),
            TokenFormat::Opaque => Confirmation::from_introspection(&claims),
        };
        let sender_bound = binding != Ok(Confirmation::default());
        Self {
            format,
            standard,
            binding,
            sender_bound,
            claims: Value::Object(claims),
            key,
            responder: Arc::clone(responder),
            issuer_index: 0,
            rule_stamp: RuleStamp::new(),
        }
    }

    /// The same, vouched for by the issuer at `index` in the engine's list.
    pub(crate) fn issued_by(mut self, index: usize) -> Self {
        self.issuer_index = index;
        self
    }
}

/// The caller of a request, as established by tollgate.
///
/// Put into the request extensions by the layer; axum handlers take it as an extractor. Cheap
/// to clone. Its `Debug` output shows the subject and client, never the token.
#[derive(Clone)]
pub struct Principal {
    info: Arc<TokenInfo>,
    introspected: bool,
}

impl Principal {
    pub(crate) fn new(info: Arc<TokenInfo>, introspected: bool) -> Self {
        Self { info, introspected }
    }

    #[cfg(feature = "axum")]
    pub(crate) fn info(&self) -> &TokenInfo {
        &self.info
    }

    /// The `sub` claim: the resource owner, or the client itself for `client_credentials`.
    pub fn subject(&self) -> Option<&str> {
        self.info.standard.subject.as_deref()
    }

    /// The OAuth client the token was issued to: RFC 9068's `client_id`, or the claim the
    /// issuer's [`ClientIdClaim`](crate::ClientIdClaim)s name (`azp`, `appid`, `cid`); for an
    /// opaque token, the introspection answer's `client_id`. `None` only where the issuer is
    /// configured to accept tokens without one.
    pub fn client_id(&self) -> Option<&str> {
        self.info.standard.client_id.as_deref()
    }

    /// The `iss` claim.
    pub fn issuer(&self) -> Option<&str> {
        self.info.standard.issuer.as_deref()
    }

    /// The granted scopes, from whichever claim the issuer's
    /// [`ScopeSource`](crate::ScopeSource)s read (`scope`, `scp`). Roles and permissions are
    /// not scopes: see [`roles`](Self::roles) and [`permissions`](Self::permissions).
    pub fn scopes(&self) -> &Scopes {
        &self.info.standard.scopes
    }

    /// Whether the token grants `scope`.
    pub fn has_scope(&self, scope: &str) -> bool {
        self.info.standard.scopes.contains(scope)
    }

    /// The roles, from the claims the issuer's
    /// [`roles_claim`](crate::TrustedIssuer::roles_claim)s name (Keycloak's
    /// `realm_access.roles`, Entra ID's `roles`, Cognito's `cognito:groups`, ...), each once, in
    /// the order found. Empty when the issuer names no roles claim. Kept apart from the
    /// scopes: a role says who the caller is, a scope what the client was granted, and a route
    /// requirement checks scopes only.
    pub fn roles(&self) -> &[String] {
        &self.info.standard.roles
    }

    /// Whether the token carries `role` (exact, case-sensitive).
    pub fn has_role(&self, role: &str) -> bool {
        self.info.standard.roles.iter().any(|r| r == role)
    }

    /// The permissions, from the claims the issuer's
    /// [`permissions_claim`](crate::TrustedIssuer::permissions_claim)s name (Auth0's
    /// `permissions`), each once, in the order found. Empty when the issuer names none. Kept
    /// apart from the scopes, as [`roles`](Self::roles) are.
    pub fn permissions(&self) -> &[String] {
        &self.info.standard.permissions
    }

    /// Whether the token carries `permission` (exact, case-sensitive).
    pub fn has_permission(&self, permission: &str) -> bool {
        self.info
            .standard
            .permissions
            .iter()
            .any(|p| p == permission)
    }

    /// The audiences (`aud`), always as a list.
    pub fn audiences(&self) -> &[String] {
        &self.info.standard.audiences
    }

    /// `iat`, seconds since the Unix epoch.
    pub fn issued_at(&self) -> Option<i64> {
        self.info.standard.issued_at
    }

    /// `exp`, seconds since the Unix epoch.
    pub fn expires_at(&self) -> Option<i64> {
        self.info.standard.expires_at
    }

    /// `nbf`, seconds since the Unix epoch.
    pub fn not_before(&self) -> Option<i64> {
        self.info.standard.not_before
    }

    /// `auth_time`: when the user authenticated (RFC 9068 §2.2.1).
    pub fn auth_time(&self) -> Option<i64> {
        self.info.standard.auth_time
    }

    /// `acr`: the authentication context class.
    pub fn acr(&self) -> Option<&str> {
        self.info.standard.acr.as_deref()
    }

    /// `amr`: the authentication methods used.
    pub fn amr(&self) -> &[String] {
        &self.info.standard.amr
    }

    /// `jti`: the token's unique identifier (or the claim the issuer's
    /// [`JtiPolicy::Alias`](crate::JtiPolicy::Alias) names, such as Entra ID's `uti`).
    pub fn jti(&self) -> Option<&str> {
        self.info.standard.jti.as_deref()
    }

    /// Whether the token is sender-constrained: bound to a DPoP key (`cnf.jkt`, RFC 9449 §6)
    /// or to a TLS client certificate (`cnf.x5t#S256`, RFC 8705 §3). A request reaches the
    /// handler with such a token only once the binding held: the proof of that key, or that
    /// certificate on the connection.
    pub fn is_sender_constrained(&self) -> bool {
        self.info.sender_bound
    }

    /// The RFC 7638 thumbprint of the DPoP key the token is bound to (`cnf.jkt`), base64url.
    pub fn dpop_thumbprint(&self) -> Option<String> {
        match &self.info.binding {
            Ok(confirmation) => confirmation.jkt.map(|jkt| jkt.to_b64()),
            Err(_) => None,
        }
    }

    /// Whether the token was a JWT or an opaque token.
    pub fn format(&self) -> TokenFormat {
        self.info.format
    }

    /// Whether the authorization server was asked about this token for this request (or a
    /// cached answer within the route's freshness budget was used).
    pub fn introspected(&self) -> bool {
        self.introspected
    }

    /// Every claim of the token (for an opaque token: every member of the introspection answer).
    pub fn claims(&self) -> &Map<String, Value> {
        static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
        match &self.info.claims {
            Value::Object(map) => map,
            _ => EMPTY.get_or_init(Map::new),
        }
    }

    /// One claim by name.
    pub fn claim(&self, name: &str) -> Option<&Value> {
        self.claims().get(name)
    }

    /// The claims deserialized into a type of yours (custom claims included).
    ///
    /// # Errors
    /// When the claims do not fit `T`.
    pub fn claims_as<T: DeserializeOwned>(&self) -> Result<T, serde_json::Error> {
        T::deserialize(&self.info.claims)
    }
}

impl std::fmt::Debug for Principal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Principal")
            .field("format", &self.info.format)
            .field("subject", &self.info.standard.subject)
            .field("client_id", &self.info.standard.client_id)
            .field("scopes", &self.info.standard.scopes)
            .field("expires_at", &self.info.standard.expires_at)
            .field("introspected", &self.introspected)
            .finish_non_exhaustive()
    }
}
