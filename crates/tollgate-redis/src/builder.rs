//! Configuration of a [`RedisStore`]: timeouts, TLS roots, and how to connect.

use std::time::Duration;

use redis::aio::{ConnectionManager, ConnectionManagerConfig};
use redis::cluster::ClusterClientBuilder;
use redis::{
    AsyncConnectionConfig, Client, ConnectionAddr, ConnectionInfo, IntoConnectionInfo,
    ProtocolVersion, TlsCertificates,
};
use tokio::sync::mpsc::unbounded_channel;
use tollgate::store::{StoreError, StoreErrorKind};

use crate::connection::Connection;
use crate::error::from_redis;
use crate::store::{RedisStore, Settings};

/// Default for [`RedisStoreBuilder::request_timeout`].
const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_millis(50);
/// Default for [`RedisStoreBuilder::command_timeout`].
const DEFAULT_COMMAND_TIMEOUT: Duration = Duration::from_secs(1);
/// Default for [`RedisStoreBuilder::load_timeout`].
const DEFAULT_LOAD_TIMEOUT: Duration = Duration::from_secs(5);
/// Default for [`RedisStoreBuilder::connect_timeout`].
const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(1);
/// Default for [`RedisStoreBuilder::heartbeat`].
const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(1);
/// Default for [`RedisStoreBuilder::channel_capacity`].
const DEFAULT_CHANNEL_CAPACITY: usize = 1024;

/// The longest pause between two reconnection attempts. The connection manager retries
/// without end (its default gives up after six tries, about six seconds, after which a
/// subscription would stay dead until the next command); this bounds how long a recovered
/// Redis waits to be noticed.
const RECONNECT_MAX_DELAY: Duration = Duration::from_secs(1);

/// Configures and connects a [`RedisStore`].
#[derive(Clone)]
#[must_use]
pub struct RedisStoreBuilder {
    settings: Settings,
    root_certificates: Option<Vec<u8>>,
}

impl std::fmt::Debug for RedisStoreBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisStoreBuilder")
            .field("settings", &self.settings)
            .field("root_certificates", &self.root_certificates.is_some())
            .finish()
    }
}

impl Default for RedisStoreBuilder {
    fn default() -> Self {
        Self {
            settings: Settings {
                request_timeout: DEFAULT_REQUEST_TIMEOUT,
                command_timeout: DEFAULT_COMMAND_TIMEOUT,
                load_timeout: DEFAULT_LOAD_TIMEOUT,
                heartbeat: DEFAULT_HEARTBEAT,
                channel_capacity: DEFAULT_CHANNEL_CAPACITY,
                connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            },
            root_certificates: None,
        }
    }
}

impl RedisStoreBuilder {
    /// The time a call that a request may wait for is given:
    /// [`get_answer`](tollgate::store::SharedStore::get_answer) and
    /// [`first_use`](tollgate::store::SharedStore::first_use). Past it the call fails with
    /// [`StoreErrorKind::Timeout`] and the request goes on without the store.
    ///
    /// Defaults to 50 ms: a loopback or same-zone round trip is well under 1 ms.
    pub fn request_timeout(mut self, timeout: Duration) -> Self {
        self.settings.request_timeout = timeout;
        self
    }

    /// The time background calls are given:
    /// [`publish`](tollgate::store::SharedStore::publish),
    /// [`put_answer`](tollgate::store::SharedStore::put_answer), and the subscriber's
    /// `SUBSCRIBE` and health-check `PING`.
    ///
    /// Defaults to 1 second.
    pub fn command_timeout(mut self, timeout: Duration) -> Self {
        self.settings.command_timeout = timeout;
        self
    }

    /// The time a whole [`load`](tollgate::store::SharedStore::load) is given.
    ///
    /// Defaults to 5 seconds.
    pub fn load_timeout(mut self, timeout: Duration) -> Self {
        self.settings.load_timeout = timeout;
        self
    }

    /// The time one connection attempt (TCP, TLS, `HELLO`/`AUTH`) is given.
    ///
    /// Defaults to 1 second.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.settings.connect_timeout = timeout;
        self
    }

    /// How often the store checks the connection while all is well: `EXISTS` on the index of
    /// each subscribed namespace (`PING` when there is none). A dropped TCP connection is
    /// noticed at once; this catches a silent one (a host gone without a reset), a cluster
    /// node that no longer serves a namespace's slot, and drives reconnection. While Redis is
    /// unreachable, the check runs four times as often.
    ///
    /// Defaults to 1 second.
    pub fn heartbeat(mut self, every: Duration) -> Self {
        self.settings.heartbeat = every.max(Duration::from_millis(10));
        self
    }

    /// How many notices a subscriber of a namespace may fall behind before it is told to
    /// reload ([`Notice::Reconnected`](tollgate::store::Notice::Reconnected)) instead.
    /// At least one.
    ///
    /// Defaults to 1024.
    pub fn channel_capacity(mut self, capacity: usize) -> Self {
        self.settings.channel_capacity = capacity.max(1);
        self
    }

    /// Trusts these root certificates (PEM, one or more) for `rediss://` instead of the
    /// webpki roots (Mozilla's): for a private CA, or a test's self-signed one. The server's
    /// certificate must still be valid for the URL's host.
    ///
    /// Defaults to the webpki roots.
    pub fn root_certificates_pem(mut self, pem: impl Into<Vec<u8>>) -> Self {
        self.root_certificates = Some(pem.into());
        self
    }

    /// Connects to one Redis (or a replica set's primary behind one address), and fails if
    /// it cannot: a bad URL, wrong credentials, a refused TLS handshake or an unreachable
    /// server are reported here, at start, with a [`StoreError`] that says which.
    ///
    /// `url` is `redis://[[user]:password@]host[:port][/db]` or `rediss://...` for TLS;
    /// `redis+unix:///path` for a Unix socket. The `#insecure` fragment (TLS without
    /// certificate checks) is refused. Must be called inside a Tokio runtime, which runs the
    /// store's background task.
    pub async fn connect(self, url: &str) -> Result<RedisStore, StoreError> {
        let client = self.client(url)?;
        let describe = describe(client.get_connection_info());
        // One plain attempt first: the connection manager retries refused credentials and
        // unreachable hosts without end, which is right after a start, not for it.
        let check = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(self.settings.connect_timeout))
            .set_response_timeout(Some(self.settings.command_timeout));
        let attempt = async {
            let mut connection = client
                .get_multiplexed_async_connection_with_config(&check)
                .await?;
            redis::cmd("PING")
                .query_async::<String>(&mut connection)
                .await
        };
        let limit = self.settings.connect_timeout + self.settings.command_timeout;
        match tokio::time::timeout(limit, attempt).await {
            Ok(Ok(_)) => {}
            Ok(Err(error)) => return Err(from_redis("connect", &describe, error)),
            Err(_) => return Err(crate::error::timeout("connect", &describe, limit)),
        }
        self.single(client, describe)
    }

    /// Like [`connect`](Self::connect), without waiting: the store connects in the
    /// background, and until it does every call fails at once or within its timeout, as in
    /// an outage (logged at WARN once). For an API that must start while Redis is down.
    /// Only a URL that cannot work is refused here.
    pub fn connect_lazy(self, url: &str) -> Result<RedisStore, StoreError> {
        let client = self.client(url)?;
        let describe = describe(client.get_connection_info());
        self.single(client, describe)
    }

    /// Connects to a Redis Cluster through one or more of its nodes (the rest are
    /// discovered), and fails if none answers. URLs as for [`connect`](Self::connect); all
    /// of them carry the same credentials and scheme.
    pub async fn cluster<I, S>(self, urls: I) -> Result<RedisStore, StoreError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let infos = urls
            .into_iter()
            .map(|url| self.connection_info(url.as_ref()))
            .collect::<Result<Vec<_>, _>>()?;
        if infos.is_empty() {
            return Err(StoreError::new(
                StoreErrorKind::Config,
                "connect to a Redis Cluster: no node URL given",
            ));
        }
        let describe = format!(
            "redis cluster ({})",
            infos
                .iter()
                .map(|info| info.addr().to_string())
                .collect::<Vec<_>>()
                .join(", ")
        );
        let tls = infos
            .iter()
            .any(|info| matches!(info.addr(), ConnectionAddr::TcpTls { .. }));
        if tls {
            ensure_crypto_provider();
        }
        let (push_sender, pushes) = unbounded_channel();
        let mut builder = ClusterClientBuilder::new(infos)
            .use_protocol(ProtocolVersion::RESP3)
            .push_sender(push_sender)
            .connection_timeout(self.settings.connect_timeout)
            .response_timeout(self.settings.load_timeout);
        if let Some(pem) = &self.root_certificates {
            builder = builder.certs(TlsCertificates {
                client_tls: None,
                root_cert: Some(pem.clone()),
            });
        }
        let client = builder
            .build()
            .map_err(|error| from_redis("connect", &describe, error))?;
        let limit = self.settings.connect_timeout + self.settings.command_timeout;
        let connection = match tokio::time::timeout(limit, client.get_async_connection()).await {
            Ok(Ok(connection)) => connection,
            Ok(Err(error)) => return Err(from_redis("connect", &describe, error)),
            Err(_) => return Err(crate::error::timeout("connect", &describe, limit)),
        };
        RedisStore::start(
            Connection::Cluster(connection),
            pushes,
            describe,
            self.settings,
        )
    }

    fn single(self, client: Client, describe: String) -> Result<RedisStore, StoreError> {
        let (push_sender, pushes) = unbounded_channel();
        let config = ConnectionManagerConfig::new()
            .set_push_sender(push_sender)
            .set_automatic_resubscription()
            .set_connection_timeout(Some(self.settings.connect_timeout))
            .set_response_timeout(Some(self.settings.load_timeout))
            .set_number_of_retries(usize::MAX)
            .set_max_delay(RECONNECT_MAX_DELAY);
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(StoreError::new(
                StoreErrorKind::Config,
                format!("connect to {describe}: not inside a Tokio runtime"),
            ));
        }
        let manager = ConnectionManager::new_lazy_with_config(client, config)
            .map_err(|error| from_redis("connect", &describe, error))?;
        RedisStore::start(Connection::Single(manager), pushes, describe, self.settings)
    }

    fn client(&self, url: &str) -> Result<Client, StoreError> {
        let info = self.connection_info(url)?;
        let tls = matches!(info.addr(), ConnectionAddr::TcpTls { .. });
        if tls {
            ensure_crypto_provider();
        }
        let describe = describe(&info);
        let result = match (&self.root_certificates, tls) {
            (Some(pem), true) => Client::build_with_tls(
                info,
                TlsCertificates {
                    client_tls: None,
                    root_cert: Some(pem.clone()),
                },
            ),
            (Some(_), false) => {
                return Err(StoreError::new(
                    StoreErrorKind::Config,
                    format!(
                        "connect to {describe}: root certificates are given for a URL without TLS (use rediss://)"
                    ),
                ));
            }
            (None, _) => Client::open(info),
        };
        result.map_err(|error| from_redis("connect", &describe, error))
    }

    /// Parses a URL, refuses what tollgate does not offer, and asks for RESP3 (push messages
    /// on the same connection as commands; Redis 6 or later).
    fn connection_info(&self, url: &str) -> Result<ConnectionInfo, StoreError> {
        let shown = redact(url);
        let info = url.into_connection_info().map_err(|error| {
            // The parser's text may quote the URL, password and all: it is not passed on.
            StoreError::new(
                StoreErrorKind::Config,
                format!(
                    "connect to {shown}: not a usable Redis URL ({:?})",
                    error.kind()
                ),
            )
        })?;
        if let ConnectionAddr::TcpTls { insecure: true, .. } = info.addr() {
            return Err(StoreError::new(
                StoreErrorKind::Config,
                format!(
                    "connect to {shown}: `#insecure` turns off certificate verification, which \
                     tollgate-redis does not offer; trust a private CA with root_certificates_pem"
                ),
            ));
        }
        let redis = info
            .redis_settings()
            .clone()
            .set_protocol(ProtocolVersion::RESP3);
        Ok(info.set_redis_settings(redis))
    }

    /// The settings, for tests of the defaults.
    #[cfg(test)]
    pub(crate) fn settings(&self) -> &Settings {
        &self.settings
    }
}

/// `rediss://host:port/db`, without credentials: the form used in logs and errors.
fn describe(info: &ConnectionInfo) -> String {
    let db = info.redis_settings().db();
    match info.addr() {
        ConnectionAddr::Tcp(host, port) => format!("redis://{host}:{port}/{db}"),
        ConnectionAddr::TcpTls { host, port, .. } => format!("rediss://{host}:{port}/{db}"),
        ConnectionAddr::Unix(path) => format!("redis+unix://{}", path.display()),
        // The enum is `non_exhaustive`.
        #[allow(unreachable_patterns)]
        _ => "redis".to_owned(),
    }
}

/// A URL with its user information removed, for a message about a URL that did not parse.
pub(crate) fn redact(url: &str) -> String {
    let Some((scheme, rest)) = url.split_once("://") else {
        return "a Redis URL".to_owned();
    };
    let authority_end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, path) = rest.split_at(authority_end);
    let host = authority
        .rsplit_once('@')
        .map_or(authority, |(_, host)| host);
    format!("{scheme}://{host}{path}")
}

/// rustls needs a process-wide crypto provider; install aws-lc-rs (the one the rest of
/// tollgate uses) unless the application installed one already.
fn ensure_crypto_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: some provider is installed.
        let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redacting_removes_user_and_password_only() {
        assert_eq!(
            redact("redis://alice:s3cret@cache.internal:6380/2"),
            "redis://cache.internal:6380/2"
        );
        assert_eq!(redact("rediss://:p%40ss@h/"), "rediss://h/");
        assert_eq!(redact("redis://:a@b@h:1"), "redis://h:1");
        assert_eq!(redact("redis://h:1/0?x=1"), "redis://h:1/0?x=1");
        assert_eq!(redact("no scheme:secret@h"), "a Redis URL");
    }

    #[test]
    fn urls_are_described_without_credentials() {
        let builder = RedisStoreBuilder::default();
        let info = builder
            .connection_info("redis://alice:s3cret@cache.internal:6380/2")
            .unwrap();
        assert_eq!(describe(&info), "redis://cache.internal:6380/2");
        assert_eq!(info.redis_settings().protocol(), ProtocolVersion::RESP3);
        let info = builder.connection_info("rediss://:pw@h/").unwrap();
        assert_eq!(describe(&info), "rediss://h:6379/0");
    }

    #[test]
    fn insecure_tls_and_bad_urls_are_refused_without_echoing_secrets() {
        let builder = RedisStoreBuilder::default();
        let error = builder
            .connection_info("rediss://:s3cret@h:6379/#insecure")
            .unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Config);
        assert!(error.to_string().contains("#insecure"), "{error}");
        for url in [
            "http://:s3cret@h:6379/",
            "redis://:s3cret@h:notaport/",
            "redis://:s3cret@h/notadb",
        ] {
            let error = builder.connection_info(url).unwrap_err();
            assert_eq!(error.kind(), StoreErrorKind::Config, "{url}");
            assert!(!error.to_string().contains("s3cret"), "{url}: {error}");
        }
    }

    #[test]
    fn root_certificates_need_tls() {
        let error = RedisStoreBuilder::default()
            .root_certificates_pem("-----BEGIN CERTIFICATE-----")
            .client("redis://:s3cret@h/")
            .unwrap_err();
        assert_eq!(error.kind(), StoreErrorKind::Config);
        assert!(!error.to_string().contains("s3cret"), "{error}");
    }

    #[test]
    fn defaults_are_the_documented_ones() {
        let builder = RedisStoreBuilder::default();
        let settings = builder.settings();
        assert_eq!(settings.request_timeout, Duration::from_millis(50));
        assert_eq!(settings.command_timeout, Duration::from_secs(1));
        assert_eq!(settings.load_timeout, Duration::from_secs(5));
        assert_eq!(settings.connect_timeout, Duration::from_secs(1));
        assert_eq!(settings.heartbeat, Duration::from_secs(1));
        assert_eq!(settings.channel_capacity, 1024);
    }
}
