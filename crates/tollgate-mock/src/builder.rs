//! `MockAuthServerBuilder`: configuration settled before the server starts.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use jsonwebtoken::Algorithm;
use tokio::net::TcpListener;

use crate::keys::{KeyStore, SigningKey};
use crate::server::MockAuthServer;
use crate::state::{Client, Config, Paths, Shared};

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
    issuer_path: String,
    audience: String,
    clients: Vec<Client>,
    introspection_bearer: Option<String>,
    jwks_cache_control: String,
    signing_algorithm: Algorithm,
    token_lifetime: Duration,
    fresh_key: bool,
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
            .finish_non_exhaustive()
    }
}

impl Default for MockAuthServerBuilder {
    fn default() -> Self {
        MockAuthServerBuilder {
            host: IpAddr::V4(Ipv4Addr::LOCALHOST),
            port: 0,
            issuer_path: String::new(),
            audience: DEFAULT_AUDIENCE.to_owned(),
            clients: Vec::new(),
            introspection_bearer: None,
            jwks_cache_control: "max-age=300".to_owned(),
            signing_algorithm: Algorithm::RS256,
            token_lifetime: Duration::from_secs(300),
            fresh_key: false,
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
    /// # Panics
    ///
    /// At [`start`](Self::start), if the path holds anything but letters, digits, `-._~` and
    /// single `/` separators, or has a `.` or `..` segment.
    pub fn issuer_path(mut self, path: impl Into<String>) -> Self {
        self.issuer_path = path.into();
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

    /// The `Cache-Control` header of the JWKS. Defaults to `max-age=300`; an empty string sends
    /// no `Cache-Control` header at all.
    pub fn jwks_cache_control(mut self, value: impl Into<String>) -> Self {
        self.jwks_cache_control = value.into();
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
        let issuer_path = normalize_issuer_path(&self.issuer_path);
        let initial = if self.fresh_key {
            SigningKey::generate(self.signing_algorithm)
        } else {
            SigningKey::shared(self.signing_algorithm)
        };

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
        let config = Config {
            issuer: format!("{base_url}{issuer_path}"),
            base_url,
            audience: self.audience,
            clients,
            introspection_bearer: self.introspection_bearer,
            jwks_cache_control: self.jwks_cache_control,
            token_lifetime: self.token_lifetime,
            paths: Paths::new(&issuer_path),
        };
        let shared = Shared::new(config, KeyStore::new(initial));
        MockAuthServer::serve(shared, listener, addr)
    }
}

/// `""` or `/segment(/segment)*`.
fn normalize_issuer_path(path: &str) -> String {
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
