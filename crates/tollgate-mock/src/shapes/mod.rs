//! Server shapes: the mock imitates a real authorization server product.
//!
//! A [`Shape`] changes what a resource server can tell about its authorization server: the
//! issuer's form, which metadata documents are served and what they say, the JWKS (members,
//! `kid` spellings, extra keys, `Cache-Control`), how access and ID tokens are shaped, and how
//! introspection answers. What a shape does not change: the mock's token endpoint grants and its
//! fault, counter and life-cycle machinery, which work the same under every shape.
//!
//! One file per server family holds everything about that family, each fact with its source:
//! `keycloak.rs`, `entra.rs`, `auth0.rs`, `okta.rs`, `cognito.rs`, `hydra.rs`, `zitadel.rs`,
//! `authentik.rs`, `curity.rs`, `spring.rs`, `oidc_provider.rs`. `Shape::Strict` has no file:
//! it is the mock's own RFC 9068 / RFC 7662 behaviour, in the code outside this module.

mod auth0;
mod authentik;
mod cognito;
mod curity;
mod entra;
mod hydra;
mod ids;
mod introspection;
mod keycloak;
pub(crate) mod keys;
mod oidc_provider;
mod okta;
mod shape;
mod spring;
mod x509;
mod zitadel;

use serde_json::{Map, Value};

use crate::faults::Endpoint;
use crate::keys::SigningKey;
use crate::state::{Config, Paths};
use crate::store::TokenRecord;
use crate::tokens::ClaimSet;

pub(crate) use entra::tenant_issuer;
pub(crate) use introspection::{IntrospectionAuth, IntrospectionRules, introspect};
pub(crate) use keys::{KeyStyle, jwks};
pub use shape::Shape;

/// What a token is for: the shapes make access tokens and ID tokens differently.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Purpose {
    Access,
    Id,
}

/// A metadata document a shape serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Document {
    /// RFC 8414 authorization server metadata.
    OAuth,
    /// OpenID Connect Discovery 1.0.
    OpenId,
    /// Entra's tenant-independent OpenID document (`/common/...`), whose `issuer` is a
    /// template with the literal `{tenantid}`.
    MultiTenant,
}

/// What answers at one path of a shaped server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Serves {
    Document(Document),
    Jwks,
    Token,
    Introspection,
    Revocation,
}

impl Serves {
    pub(crate) fn endpoint(self) -> Endpoint {
        match self {
            Serves::Document(_) => Endpoint::Discovery,
            Serves::Jwks => Endpoint::Jwks,
            Serves::Token => Endpoint::Token,
            Serves::Introspection => Endpoint::Introspection,
            Serves::Revocation => Endpoint::Revocation,
        }
    }
}

/// One route of a shaped server.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Route {
    pub(crate) path: String,
    pub(crate) serves: Serves,
}

/// Where a family puts its endpoints, for one issuer path.
#[derive(Debug, Default)]
pub(crate) struct Layout {
    pub(crate) jwks: String,
    pub(crate) token: String,
    pub(crate) introspection: Option<String>,
    pub(crate) revocation: Option<String>,
    pub(crate) documents: Vec<(String, Document)>,
    /// More paths serving the same JWKS (Entra's `/common/...`).
    pub(crate) more_jwks: Vec<String>,
}

/// RFC 8414 §3.1: the well-known suffix goes between host and issuer path.
pub(crate) fn inserted(base: &str) -> String {
    format!("/.well-known/oauth-authorization-server{base}")
}

/// The OAuth metadata appended to the issuer path, as Keycloak and Okta serve it.
pub(crate) fn appended(base: &str) -> String {
    format!("{base}/.well-known/oauth-authorization-server")
}

/// OpenID Connect Discovery 1.0 §4: appended to the issuer path.
pub(crate) fn openid(base: &str) -> String {
    format!("{base}/.well-known/openid-configuration")
}

/// What one server family does; one implementation per file. The strict shape has none: its
/// behaviour is the code outside this module.
pub(crate) trait Server: Sync + std::fmt::Debug {
    /// The issuer path when the builder names none: `""` or `/segment(/segment)*`.
    fn default_path(&self, shape: &Shape) -> String;

    /// Whether the issuer ends with `/` after that path.
    fn trailing_slash(&self) -> bool {
        false
    }

    /// Where the endpoints live for the issuer path `base` (no trailing slash).
    fn layout(&self, base: &str, shape: &Shape) -> Layout;

    /// How `kid`s are spelled and which members the JWKS keys carry.
    fn key_style(&self) -> KeyStyle;

    /// The JWKS `Cache-Control` header; `None` sends none.
    fn jwks_cache_control(&self) -> Option<&'static str>;

    /// The JWKS `Content-Type`.
    fn jwks_content_type(&self) -> &'static str {
        "application/json"
    }

    /// A per-key `issuer` member in the JWKS (Entra v2).
    fn key_issuer(&self, _config: &Config) -> Option<String> {
        None
    }

    /// Whether ID tokens are signed by a key of their own, published beside the access-token
    /// key (Cognito, Hydra).
    fn id_token_key(&self) -> bool {
        false
    }

    /// Whether an encryption key (`use: enc`) is published beside the signing keys (Keycloak).
    fn encryption_key(&self) -> bool {
        false
    }

    /// The JOSE header `typ` of an access or ID token; `None` leaves it out.
    fn typ(&self, purpose: Purpose) -> Option<&'static str>;

    /// Whether the JOSE header carries `x5t` (the signing certificate's SHA-1 thumbprint)
    /// beside `kid`.
    fn header_x5t(&self) -> bool {
        false
    }

    /// The claims of a default access token.
    fn access(&self, config: &Config, claims: &mut ClaimSet);

    /// The claims of a default ID token.
    fn id(&self, config: &Config, claims: &mut ClaimSet);

    /// Writes "the client id" where the shape puts it (for ID tokens: the audience).
    fn client_id(&self, claims: &mut ClaimSet, id: &str);

    /// Writes "the scope" (space-separated) in the shape's form.
    fn scope(&self, claims: &mut ClaimSet, scope: &str);

    /// Writes one audience in the shape's form. Defaults to a string.
    fn audience(&self, claims: &mut ClaimSet, audience: &str) {
        claims.set("aud", audience);
    }

    /// Writes the roles where the shape puts them. Defaults to `roles`, the claim RFC 9068
    /// §2.2.3.1 takes from SCIM.
    fn roles(&self, claims: &mut ClaimSet, roles: Vec<String>) {
        claims.set("roles", roles);
    }

    /// A metadata document.
    fn document(&self, config: &Config, document: Document) -> Value;

    /// How introspection is asked; `None`: the server does not introspect.
    fn introspection(&self) -> Option<IntrospectionRules> {
        None
    }

    /// The answer for a live token, before the test's overrides; `None` answers
    /// `{"active": false}`. `caller` is the authenticated client, if any.
    fn introspect(
        &self,
        _config: &Config,
        _record: &TokenRecord,
        _caller: Option<&str>,
    ) -> Option<Map<String, Value>> {
        None
    }
}

/// The family of a shape; `None` for the strict shape.
pub(crate) fn server(shape: &Shape) -> Option<&'static dyn Server> {
    Some(match shape {
        Shape::Strict => return None,
        Shape::Keycloak => &keycloak::Keycloak,
        Shape::EntraV1 { .. } => &entra::V1,
        Shape::EntraV2 { .. } => &entra::V2,
        Shape::Auth0 => &auth0::Auth0,
        Shape::Okta => &okta::Okta,
        Shape::Cognito => &cognito::Cognito,
        Shape::Hydra => &hydra::Hydra,
        Shape::Zitadel => &zitadel::Zitadel,
        Shape::Authentik => &authentik::Authentik,
        Shape::Curity => &curity::Curity,
        Shape::SpringAuthorizationServer => &spring::Spring,
        Shape::OidcProvider => &oidc_provider::OidcProvider,
    })
}

/// A shape's server settled for one issuer path: what the builder needs to start it.
#[derive(Debug)]
pub(crate) struct Resolved {
    /// The issuer's path, with the trailing `/` the shape wants.
    pub(crate) issuer_path: String,
    pub(crate) paths: Paths,
    pub(crate) jwks_cache_control: Option<&'static str>,
    pub(crate) key_style: Option<KeyStyle>,
    pub(crate) id_token_key: bool,
    pub(crate) encryption_key: bool,
}

/// Settles where a shaped server lives. `base` is the normalized issuer path: the builder's, or
/// the shape's default (`""` or `/segment...`, no trailing slash).
pub(crate) fn resolve(shape: &Shape, base: &str) -> Resolved {
    let Some(server) = server(shape) else {
        return Resolved {
            issuer_path: base.to_owned(),
            paths: Paths::new(base),
            jwks_cache_control: Some("max-age=300"),
            key_style: None,
            id_token_key: false,
            encryption_key: false,
        };
    };
    let layout = server.layout(base, shape);
    let mut routes = Vec::new();
    let find = |kind: Document| {
        layout
            .documents
            .iter()
            .find(|(_, d)| *d == kind)
            .map(|(path, _)| path.clone())
    };
    let paths = Paths {
        // Where the document would be, when the shape serves none there: it answers 404.
        oauth_metadata: find(Document::OAuth).unwrap_or_else(|| inserted(base)),
        openid_metadata: find(Document::OpenId).unwrap_or_else(|| openid(base)),
        jwks: layout.jwks.clone(),
        token: layout.token.clone(),
        introspection: layout
            .introspection
            .clone()
            .unwrap_or_else(|| format!("{base}/introspect")),
        revocation: layout
            .revocation
            .clone()
            .unwrap_or_else(|| format!("{base}/revoke")),
        routes: Vec::new(),
    };
    for (path, document) in &layout.documents {
        routes.push(Route {
            path: path.clone(),
            serves: Serves::Document(*document),
        });
    }
    for path in std::iter::once(&layout.jwks).chain(&layout.more_jwks) {
        routes.push(Route {
            path: path.clone(),
            serves: Serves::Jwks,
        });
    }
    routes.push(Route {
        path: layout.token.clone(),
        serves: Serves::Token,
    });
    if let Some(path) = &layout.introspection {
        routes.push(Route {
            path: path.clone(),
            serves: Serves::Introspection,
        });
    }
    if let Some(path) = &layout.revocation {
        routes.push(Route {
            path: path.clone(),
            serves: Serves::Revocation,
        });
    }
    let slash = if server.trailing_slash() { "/" } else { "" };
    Resolved {
        issuer_path: format!("{base}{slash}"),
        paths: Paths { routes, ..paths },
        jwks_cache_control: server.jwks_cache_control(),
        key_style: Some(server.key_style()),
        id_token_key: server.id_token_key(),
        encryption_key: server.encryption_key(),
    }
}

/// The JOSE header of a token signed by `key`.
pub(crate) fn header(config: &Config, purpose: Purpose, key: &SigningKey) -> Map<String, Value> {
    let mut header = Map::new();
    header.insert("alg".into(), crate::keys::alg_name(key.alg()).into());
    let typ = match server(&config.shape) {
        // RFC 9068 §2.1 for access tokens; ID tokens are plain JWTs (RFC 7519 §5.1).
        None => Some(match purpose {
            Purpose::Access => "at+jwt",
            Purpose::Id => "JWT",
        }),
        Some(server) => {
            if server.header_x5t()
                && let Some(x5t) = keys::x5t(key)
            {
                header.insert("x5t".into(), x5t.into());
            }
            server.typ(purpose)
        }
    };
    if let Some(typ) = typ {
        header.insert("typ".into(), typ.into());
    }
    header.insert("kid".into(), key.kid().into());
    header
}

/// A space-separated scope as a JSON array (the `scp` / `scope` arrays of Okta, Hydra, Spring).
pub(crate) fn scope_array(scope: &str) -> Vec<Value> {
    scope
        .split(' ')
        .filter(|s| !s.is_empty())
        .map(|s| Value::String(s.to_owned()))
        .collect()
}

/// A scope claim in either form (string, or array of strings) as a space-separated string, as
/// introspection answers carry it (RFC 7662 §2.2).
pub(crate) fn scope_string(value: Option<&Value>) -> Option<String> {
    match value? {
        Value::String(s) => Some(s.clone()),
        Value::Array(items) => Some(
            items
                .iter()
                .filter_map(Value::as_str)
                .collect::<Vec<_>>()
                .join(" "),
        ),
        _ => None,
    }
}

/// The claims a strict-shape ID token gets (OpenID Connect Core 1.0 §2).
pub(crate) fn strict_id(config: &Config, claims: &mut ClaimSet) {
    let client = config.clients[0].id.clone();
    let iat = crate::util::now();
    claims.set("iss", config.issuer.clone());
    claims.set("sub", "alice");
    claims.set("aud", client.clone());
    claims.set("azp", client);
    claims.set("iat", iat);
    claims.set("exp", iat.saturating_add(config.lifetime_secs()));
    claims.set("auth_time", iat);
    claims.set("nonce", ids::nonce());
    claims.set("at_hash", ids::at_hash());
}

/// Sets `iat` to now and `exp` one token lifetime later; returns `iat`.
pub(crate) fn stamp(config: &Config, claims: &mut ClaimSet) -> i64 {
    let iat = crate::util::now();
    claims.set("iat", iat);
    claims.set("exp", iat.saturating_add(config.lifetime_secs()));
    iat
}

/// The server's first client: the default client of tokens.
pub(crate) fn client(config: &Config) -> String {
    config.clients[0].id.clone()
}

/// The refresh token's recorded claim `name` (refresh tokens keep the strict claims).
pub(crate) fn refresh_claim(record: &TokenRecord, name: &str) -> Value {
    record.claims.get(name).cloned().unwrap_or(Value::Null)
}

/// `answer` with `name` set to `value` unless `value` is `null`.
/// The RFC 6749 §7.1 type of an access token with these claims, as servers that support DPoP
/// name it in introspection answers (RFC 9449 §6.2): `DPoP` for a token bound to a DPoP key
/// (`cnf.jkt`), else `bearer`.
pub(crate) fn access_token_type(claims: &Map<String, Value>, bearer: &'static str) -> &'static str {
    let dpop_bound = claims
        .get("cnf")
        .and_then(Value::as_object)
        .is_some_and(|cnf| cnf.contains_key("jkt"));
    if dpop_bound { "DPoP" } else { bearer }
}

pub(crate) fn put(answer: &mut Map<String, Value>, name: &str, value: Value) {
    if !value.is_null() {
        answer.insert(name.to_owned(), value);
    }
}
