//! The state one mock server shares between its handle, its builders and its HTTP handlers.

use std::collections::HashMap;
use std::sync::{Mutex, MutexGuard};
use std::time::Duration;

use crate::counters::Counters;
use crate::faults::{Endpoint, Fault};
use crate::keys::KeyStore;
use crate::observed::Records;
use crate::shapes::{Route, Shape};
use crate::store::TokenStore;

/// A registered confidential client (RFC 6749 §2.1).
#[derive(Clone)]
pub(crate) struct Client {
    pub(crate) id: String,
    pub(crate) secret: String,
}

impl std::fmt::Debug for Client {
    // The secret stays out of Debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Client")
            .field("id", &self.id)
            .finish_non_exhaustive()
    }
}

/// Where each endpoint lives, relative to the server root.
#[derive(Debug, Clone)]
pub(crate) struct Paths {
    /// RFC 8414 §3: the well-known suffix goes between host and issuer path.
    pub(crate) oauth_metadata: String,
    /// OpenID Connect Discovery 1.0 §4: the suffix goes after the issuer path.
    pub(crate) openid_metadata: String,
    pub(crate) jwks: String,
    pub(crate) token: String,
    pub(crate) introspection: String,
    pub(crate) revocation: String,
    /// Under a server shape: every route it serves, these six where the shape has them and
    /// more (Entra's multi-tenant documents). Empty for the strict shape, which serves the six.
    pub(crate) routes: Vec<Route>,
}

impl Paths {
    /// `issuer_path` is empty or starts with `/` and has no trailing `/`.
    pub(crate) fn new(issuer_path: &str) -> Paths {
        Paths {
            oauth_metadata: format!("/.well-known/oauth-authorization-server{issuer_path}"),
            openid_metadata: format!("{issuer_path}/.well-known/openid-configuration"),
            jwks: format!("{issuer_path}/jwks"),
            token: format!("{issuer_path}/token"),
            introspection: format!("{issuer_path}/introspect"),
            revocation: format!("{issuer_path}/revoke"),
            routes: Vec::new(),
        }
    }

    pub(crate) fn endpoint(&self, path: &str) -> Option<Endpoint> {
        if !self.routes.is_empty() {
            return self
                .routes
                .iter()
                .find(|route| route.path == path)
                .map(|route| route.serves.endpoint());
        }
        if path == self.oauth_metadata || path == self.openid_metadata {
            Some(Endpoint::Discovery)
        } else if path == self.jwks {
            Some(Endpoint::Jwks)
        } else if path == self.token {
            Some(Endpoint::Token)
        } else if path == self.introspection {
            Some(Endpoint::Introspection)
        } else if path == self.revocation {
            Some(Endpoint::Revocation)
        } else {
            None
        }
    }
}

/// Fixed configuration, settled when the server starts.
#[derive(Debug)]
pub(crate) struct Config {
    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub(crate) base_url: String,
    /// `base_url` plus the issuer path.
    pub(crate) issuer: String,
    pub(crate) audience: String,
    /// Never empty; the first one is "the" client.
    pub(crate) clients: Vec<Client>,
    pub(crate) introspection_bearer: Option<String>,
    pub(crate) token_lifetime: Duration,
    pub(crate) paths: Paths,
    /// The server product the mock imitates; `Shape::Strict` by default.
    pub(crate) shape: Shape,
    /// The key ID tokens are signed with when it is not the access-token signing key
    /// (Cognito, Ory Hydra).
    pub(crate) id_token_kid: Option<String>,
    /// The published encryption key (`use: enc`) beside the signing keys (Keycloak).
    pub(crate) encryption_kid: Option<String>,
}

impl Config {
    pub(crate) fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base_url)
    }

    pub(crate) fn lifetime_secs(&self) -> i64 {
        i64::try_from(self.token_lifetime.as_secs()).unwrap_or(i64::MAX)
    }
}

/// Everything behind the server's `Arc`.
pub(crate) struct Shared {
    pub(crate) config: Config,
    keys: Mutex<KeyStore>,
    tokens: Mutex<TokenStore>,
    pub(crate) counters: Counters,
    pub(crate) records: Records,
    faults: Mutex<[Option<Fault>; Endpoint::ALL.len()]>,
    /// Faults for one exact path, which win over their endpoint's.
    path_faults: Mutex<HashMap<String, Fault>>,
    /// Empty: no `Cache-Control` header on the JWKS.
    jwks_cache_control: Mutex<String>,
}

impl std::fmt::Debug for Shared {
    // Tokens and secrets stay out of Debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Shared")
            .field("issuer", &self.config.issuer)
            .finish_non_exhaustive()
    }
}

/// Locks, shrugging off poisoning: a panicking test thread must not take the server down.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex.lock().unwrap_or_else(|e| e.into_inner())
}

impl Shared {
    pub(crate) fn new(config: Config, keys: KeyStore, jwks_cache_control: String) -> Shared {
        Shared {
            config,
            keys: Mutex::new(keys),
            tokens: Mutex::new(TokenStore::default()),
            counters: Counters::default(),
            records: Records::default(),
            faults: Mutex::new(Default::default()),
            path_faults: Mutex::new(HashMap::new()),
            jwks_cache_control: Mutex::new(jwks_cache_control),
        }
    }

    pub(crate) fn keys(&self) -> MutexGuard<'_, KeyStore> {
        lock(&self.keys)
    }

    pub(crate) fn tokens(&self) -> MutexGuard<'_, TokenStore> {
        lock(&self.tokens)
    }

    pub(crate) fn fault(&self, endpoint: Endpoint) -> Option<Fault> {
        lock(&self.faults)[endpoint.index()].clone()
    }

    pub(crate) fn set_fault(&self, endpoint: Endpoint, fault: Option<Fault>) {
        lock(&self.faults)[endpoint.index()] = fault;
    }

    pub(crate) fn path_fault(&self, path: &str) -> Option<Fault> {
        lock(&self.path_faults).get(path).cloned()
    }

    pub(crate) fn set_path_fault(&self, path: &str, fault: Option<Fault>) {
        let mut faults = lock(&self.path_faults);
        match fault {
            Some(fault) => faults.insert(path.to_owned(), fault),
            None => faults.remove(path),
        };
    }

    pub(crate) fn clear_faults(&self) {
        *lock(&self.faults) = Default::default();
        lock(&self.path_faults).clear();
    }

    pub(crate) fn jwks_cache_control(&self) -> String {
        lock(&self.jwks_cache_control).clone()
    }

    pub(crate) fn set_jwks_cache_control(&self, value: String) {
        *lock(&self.jwks_cache_control) = value;
    }
}
