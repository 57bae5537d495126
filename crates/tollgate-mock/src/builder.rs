//! `MockAuthServerBuilder`: configuration settled before the server starts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use jsonwebtoken::Algorithm;
use tokio::net::TcpListener;

use crate::keys::{KeyStore, SigningKey};
use crate::server::MockAuthServer;
use crate::shapes::{self, Shape};
use crate::state::{Client, Config, Shared};

/// The audience put in tokens unless configured otherwise.
pub(crate) const DEFAULT_AUDIENCE: &str = "https://api.tollgate.test";
/// The registered client unless configured otherwise.
pub(crate) const DEFAULT_CLIENT_ID: &str = "tollgate-rs";
/// Its secret.
pub(crate) const DEFAULT_CLIENT_SECRET: &str = "tollgate-secret";

/// Configures and starts a [`MockAuthServer`].
///
/// ```
/// # tokio::runtime::Runtime::new().unwrap().block_on(async {
/// use std::time::Duration;
/// use tollgate_mock::{Algorithm, MockAuthServer};
///
/// let server = MockAuthServer::builder()
///     .issuer_path("/realms/test")
///     .audience("https://orders.example")
///     .client("orders-api", "orders-secret")
///     .signing_algorithm(Algorithm::ES256)
///     .token_lifetime(Duration::from_secs(60))
///     .start()
///     .await;
/// assert!(server.issuer().ends_with("/realms/test"));
/// assert_eq!(server.client_id(), "orders-api");
/// # });
/// ```
#[must_use = "a builder does nothing until `start` is called"]
pub struct MockAuthServerBuilder {
    host: IpAddr,
    port: u16,
    /// `None`: the shape's (none for the strict shape).
    issuer_path: Option<String>,
    audience: String,
    clients: Vec<Client>,
    introspection_bearer: Option<String>,
    /// `None`: the shape's.
    jwks_cache_control: Option<String>,
    signing_algorithm: Algorithm,
    token_lifetime: Duration,
    fresh_key: bool,
    shape: Shape,
}

impl std::fmt::Debug for MockAuthServerBuilder {
    // Secrets stay out of Debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockAuthServerBuilder")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("issuer_path", &self.issuer_path)
            .field("audience", &self.audience)
            .field("clients", &self.clients)
            .field("signing_algorithm", &self.signing_algorithm)
            .field("shape", &self.shape)
            .finish_non_exhaustive()
    }
}

impl Default for MockAuthServerBuilder {
    fn default() -> Self {
        MockAuthServerBuilder {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            issuer_path: None,
            audience: DEFAULT_AUDIENCE.to_owned(),
            clients: Vec::new(),
            introspection_bearer: None,
            jwks_cache_control: None,
            signing_algorithm: Algorithm::RS256,
            token_lifetime: Duration::from_secs(300),
            fresh_key: false,
            shape: Shape::Strict,
        }
    }
}

impl MockAuthServerBuilder {
    /// The address to listen on. Defaults to `127.0.0.1`.
    ///
    /// Anything but a loopback address exposes the mock, which hands out tokens to anyone who
    /// knows the client secret, to the network. With an unspecified address (`0.0.0.0`, `::`)
    /// the URLs the server publishes still name the loopback address.
    pub fn host(mut self, host: IpAddr) -> Self {
        self.host = host;
        self
    }

    /// The port to listen on. Defaults to 0: a free port chosen by the OS.
    pub fn port(mut self, port: u16) -> Self {
        self.port = port;
        self
    }

    /// Puts the issuer at a path, like `/realms/test` (Keycloak style). The issuer is then
    /// `http://127.0.0.1:PORT/realms/test`; the endpoints live under that path; the RFC 8414
    /// metadata is at `/.well-known/oauth-authorization-server/realms/test` and the OpenID
    /// metadata at `/realms/test/.well-known/openid-configuration`. Defaults to none.
    ///
    /// A missing leading `/` is added and a trailing `/` removed.
    ///
    /// With a [`shape`](Self::shape), replaces the shape's own path (Keycloak's
    /// `/realms/tollgate`, Okta's `/oauth2/default`, Cognito's pool, authentik's application,
    /// ...): the endpoints the product puts under its issuer move along, and a shape whose
    /// issuer ends with `/` keeps it.
    ///
    /// # Panics
    ///
    /// At [`start`](Self::start), if the path holds anything but letters, digits, `-._~` and
    /// single `/` separators, or has a `.` or `..` segment; or under an Entra shape, whose path
    /// is its tenant's.
    pub fn issuer_path(mut self, path: impl Into<String>) -> Self {
        self.issuer_path = Some(path.into());
        self
    }

    /// The audience (`aud`) of the tokens the server issues. Defaults to
    /// `"https://api.tollgate.test"`.
    pub fn audience(mut self, audience: impl Into<String>) -> Self {
        self.audience = audience.into();
        self
    }

    /// Registers a confidential client. May be called more than once; the first client is the
    /// one [`MockAuthServer::client_id`] names and the default `client_id` of tokens. Without
    /// any call, one client `tollgate-rs` / `tollgate-secret` is registered.
    pub fn client(mut self, id: impl Into<String>, secret: impl Into<String>) -> Self {
        self.clients.push(Client {
            id: id.into(),
            secret: secret.into(),
        });
        self
    }

    /// Also accepts `Authorization: Bearer <credential>` at the introspection endpoint (a
    /// method RFC 7662 §2.1 allows). Defaults to none: only client authentication.
    pub fn introspection_bearer(mut self, credential: impl Into<String>) -> Self {
        self.introspection_bearer = Some(credential.into());
        self
    }

    /// The `Cache-Control` header of the JWKS. Defaults to `max-age=300`, or under a
    /// [`shape`](Self::shape) to what that product sends; an empty string sends no
    /// `Cache-Control` header at all.
    pub fn jwks_cache_control(mut self, value: impl Into<String>) -> Self {
        self.jwks_cache_control = Some(value.into());
        self
    }

    /// Makes the server imitate a real authorization server product: its issuer form,
    /// metadata documents, JWKS, token shapes and introspection answers (see [`Shape`] for what
    /// each one changes). Defaults to [`Shape::Strict`], the mock's own RFC 9068 behaviour.
    ///
    /// The other settings apply on top: [`audience`](Self::audience),
    /// [`client`](Self::client), [`signing_algorithm`](Self::signing_algorithm) (the products'
    /// defaults are RS256), [`jwks_cache_control`](Self::jwks_cache_control),
    /// [`issuer_path`](Self::issuer_path).
    ///
    /// ```
    /// # tokio::runtime::Runtime::new().unwrap().block_on(async {
    /// use tollgate_mock::{MockAuthServer, Shape};
    ///
    /// let tenant = "9122040d-6c67-4c5b-b112-36a304b66dad";
    /// let server = MockAuthServer::builder()
    ///     .shape(Shape::EntraV2 { tenant: tenant.into() })
    ///     .start()
    ///     .await;
    /// assert_eq!(server.issuer(), format!("{}/{tenant}/v2.0", server.base_url()));
    /// assert_eq!(server.token().claims()["ver"], "2.0");
    /// # });
    /// ```
    pub fn shape(mut self, shape: Shape) -> Self {
        self.shape = shape;
        self
    }

    /// The algorithm of the initial signing key. Defaults to RS256. RS256/384/512,
    /// PS256/384/512, ES256/384 and EdDSA (Ed25519) are supported.
    ///
    /// # Panics
    ///
    /// At [`start`](Self::start), for a symmetric algorithm (HS256/384/512).
    pub fn signing_algorithm(mut self, alg: Algorithm) -> Self {
        self.signing_algorithm = alg;
        self
    }

    /// The lifetime of issued access tokens (`exp - iat`, and `expires_in` of the token
    /// endpoint). Defaults to 300 seconds.
    pub fn token_lifetime(mut self, lifetime: Duration) -> Self {
        self.token_lifetime = lifetime;
        self
    }

    /// Generates new key material for the initial key instead of reusing the process-wide key
    /// that other mock servers in this process also start with. Use it when two servers must
    /// not verify each other's tokens (several trusted issuers). Costs an RSA key generation
    /// (tens of milliseconds) for RSA algorithms.
    pub fn fresh_key(mut self) -> Self {
        self.fresh_key = true;
        self
    }

    /// Binds the listener and starts serving on the current Tokio runtime.
    ///
    /// # Panics
    ///
    /// If the address cannot be bound, or on the configuration errors documented on the
    /// setters. This is a test helper: a panic is the clearest failure.
    pub async fn start(self) -> MockAuthServer {
        let base_path = match (&self.issuer_path, shapes::server(&self.shape)) {
            (Some(path), _) => {
                assert!(
                    self.shape.tenant().is_none(),
                    "tollgate-mock: an Entra shape's issuer path is its tenant's; \
                     set the tenant in the Shape instead of issuer_path"
                );
                normalize_issuer_path(path)
            }
            (None, Some(server)) => server.default_path(&self.shape),
            (None, None) => String::new(),
        };
        let resolved = shapes::resolve(&self.shape, &base_path);
        let generate = |secondary: bool| match (self.fresh_key, secondary) {
            (true, _) => SigningKey::generate(self.signing_algorithm),
            (false, false) => SigningKey::shared(self.signing_algorithm),
            (false, true) => SigningKey::shared_secondary(self.signing_algorithm),
        };
        let mut keys = KeyStore::with_style(generate(false), resolved.key_style.clone());
        let id_token_kid = resolved.id_token_key.then(|| keys.publish(generate(true)));
        // Keycloak's generated realm keys: an RSA-OAEP key beside the signing key.
        let encryption_kid = resolved.encryption_key.then(|| {
            let key = if self.fresh_key {
                SigningKey::generate(Algorithm::RS256)
            } else {
                SigningKey::shared_secondary(Algorithm::RS256)
            };
            keys.publish_encryption(key)
        });

        let listener = TcpListener::bind(SocketAddr::new(self.host, self.port))
            .await
            .unwrap_or_else(|e| {
                panic!(
                    "tollgate-mock: cannot bind {}:{}: {e}",
                    self.host, self.port
                )
            });
        let addr = listener
            .local_addr()
            .expect("a bound listener has an address");
        let url_host = match addr.ip() {
            IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
            IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
            ip => ip,
        };
        let base_url = format!("http://{}", SocketAddr::new(url_host, addr.port()));

        let mut clients = self.clients;
        if clients.is_empty() {
            clients.push(Client {
                id: DEFAULT_CLIENT_ID.into(),
                secret: DEFAULT_CLIENT_SECRET.into(),
            });
        }
        let jwks_cache_control = self
            .jwks_cache_control
            .unwrap_or_else(|| resolved.jwks_cache_control.unwrap_or_default().to_owned());
        let config = Config {
            issuer: format!("{base_url}{}", resolved.issuer_path),
            base_url,
            audience: self.audience,
            clients,
            introspection_bearer: self.introspection_bearer,
            token_lifetime: self.token_lifetime,
            paths: resolved.paths,
            shape: self.shape,
            id_token_kid,
            encryption_kid,
        };
        let shared = Shared::new(config, keys, jwks_cache_control);
        MockAuthServer::serve(shared, listener, addr)
    }
}

/// `""` or `/segment(/segment)*`.
pub(crate) fn normalize_issuer_path(path: &str) -> String {
    let trimmed = path.trim_matches('/');
    if trimmed.is_empty() {
        return String::new();
    }
    let valid = trimmed.split('/').all(|segment| {
        !segment.is_empty()
            && segment != "."
            && segment != ".."
            && segment
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || "-._~".contains(c))
    });
    assert!(valid, "tollgate-mock: invalid issuer path {path:?}");
    format!("/{trimmed}")
}

#[cfg(test)]
mod tests {
    use super::normalize_issuer_path;

    #[test]
    fn issuer_paths() {
        assert_eq!(normalize_issuer_path(""), "");
        assert_eq!(normalize_issuer_path("/"), "");
        assert_eq!(normalize_issuer_path("realms/test/"), "/realms/test");
        assert!(std::panic::catch_unwind(|| normalize_issuer_path("/a//b")).is_err());
        assert!(std::panic::catch_unwind(|| normalize_issuer_path("/{id}")).is_err());
    }
}
