//! `protected-api`: a small API protected by tollgate, configured by flags and environment.
//!
//! The binary (`cargo run -p tollgate-examples --bin protected-api -- --help`) reads a
//! [`Config`] from its command line and environment (clap), calls [`start`] and prints the
//! [banner](Server::write_banner). Tests call the
//! same functions with `--listen 127.0.0.1:0`.
//!
//! Without an issuer, [`start`] runs an embedded tollgate-mock and configures tollgate for it,
//! so the API works with zero configuration; the banner then holds a fresh token and a `curl`
//! line to try it.
//!
//! # Example
//!
//! ```
//! use tollgate_examples::protected_api::{self, Config};
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let config = Config { listen: "127.0.0.1:0".parse().unwrap(), ..Config::default() };
//! let server = protected_api::start(config).await.unwrap();
//! let mock = server.embedded_mock().unwrap();
//! assert!(server.ready(std::time::Duration::from_secs(10)).await);
//! let token = mock.token().scope("read").sign();
//! # drop(token);
//! server.shutdown().await.unwrap();
//! # }
//! ```

mod config;
mod request_log;
mod routes;

use std::fmt;
use std::io::{self, Write};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use tokio::net::TcpListener;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;
use tollgate::{
    AudiencePolicy, ConfigError, Dpop, Introspection, ResourceMetadata, SenderConstraint, Tollgate,
    TrustedIssuer,
};
use tollgate_mock::{MockAuthServer, Shape};

pub use config::{
    Compatibility, Config, DEFAULT_LISTEN, IntrospectionConfig, ScaleOut, SenderConfig, Trust,
};
pub use request_log::Decision;
pub use routes::{Me, STEP_UP_ACR, STEP_UP_MAX_AGE, app, step_up};

/// The realm of the API's `WWW-Authenticate` challenges.
pub const REALM: &str = "protected-api";

/// The scopes of the token the banner hands out: enough for every route.
pub const ALL_SCOPES: &str = "read admin payments";

/// Lifetime of the embedded mock's tokens: long enough to try things by hand.
const EMBEDDED_TOKEN_LIFETIME: Duration = Duration::from_secs(3600);

/// The Entra tenant of an embedded mock under `--profile entra-v1` or `entra-v2`.
const EMBEDDED_TENANT: &str = "9188040d-6c67-4c5b-b112-36a304b66dad";

/// The embedded mock's imitation of the server a profile is for.
fn shape_of(profile: &str) -> Shape {
    let tenant = || EMBEDDED_TENANT.to_owned();
    match profile {
        "keycloak" => Shape::Keycloak,
        "entra-v1" => Shape::EntraV1 { tenant: tenant() },
        "entra-v2" => Shape::EntraV2 { tenant: tenant() },
        "auth0" => Shape::Auth0,
        "okta" => Shape::Okta,
        "cognito" => Shape::Cognito,
        "hydra" => Shape::Hydra,
        "zitadel" => Shape::Zitadel,
        "authentik" => Shape::Authentik,
        "curity" => Shape::Curity,
        "spring-authorization-server" => Shape::SpringAuthorizationServer,
        "oidc-provider" => Shape::OidcProvider,
        _ => Shape::Strict,
    }
}

/// What a user of the embedded mock's server would configure as this API's audience: for
/// authentik and Spring Authorization Server, whose tokens carry the client as `aud`, the
/// client id; for the others, the audience.
fn embedded_audience(profile: &str, mock: &MockAuthServer) -> String {
    match profile {
        "authentik" | "spring-authorization-server" | "cognito" => mock.client_id(),
        _ => mock.audience(),
    }
}

/// Why the server could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// tollgate refused the configuration.
    Config(ConfigError),
    /// The listen address could not be bound.
    Bind(SocketAddr, io::Error),
    /// The Redis URL given with `--redis` is unusable, or Redis refused the credentials.
    Store(tollgate::store::StoreError),
}

impl fmt::Display for StartError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Config(e) => write!(f, "invalid configuration: {e}"),
            Self::Bind(addr, e) => write!(f, "cannot listen on {addr}: {e}"),
            Self::Store(e) => write!(f, "the shared store: {e}"),
        }
    }
}

impl std::error::Error for StartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            Self::Config(e) => Some(e),
            Self::Bind(_, e) => Some(e),
            Self::Store(e) => Some(e),
        }
    }
}

/// A running `protected-api`, serving until [`shutdown`](Self::shutdown) or until dropped.
pub struct Server {
    addr: SocketAddr,
    public_url: String,
    gate: Tollgate,
    config: Config,
    issuer: String,
    audiences: Vec<String>,
    introspection_client: Option<String>,
    mock: Option<MockAuthServer>,
    stop: Option<oneshot::Sender<()>>,
    task: JoinHandle<io::Result<()>>,
}

impl fmt::Debug for Server {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        // `Tollgate` has no Debug of its own; the config's Debug hides the secret.
        f.debug_struct("Server")
            .field("addr", &self.addr)
            .field("issuer", &self.issuer)
            .field("config", &self.config)
            .field("embedded_mock", &self.mock.is_some())
            .finish_non_exhaustive()
    }
}

/// Starts the API as `config` says: an embedded tollgate-mock when no issuer is configured,
/// the engine, and the HTTP server on `config.listen`. Returns once the server listens; the
/// signing keys load in the background (see [`Server::ready`]).
///
/// # Errors
/// A [`StartError`] when tollgate refuses the configuration or the address cannot be bound.
pub async fn start(config: Config) -> Result<Server, StartError> {
    let compatibility = &config.compatibility;
    let mut audiences = config.trust.audiences.clone();
    let mut allowed_clients = Vec::new();
    let mut client = config
        .introspection
        .client_id
        .clone()
        .zip(config.introspection.client_secret.clone());
    let (issuer, mock) = match &config.trust.issuer {
        Some(issuer) => (issuer.clone(), None),
        None => {
            let mut builder = MockAuthServer::builder()
                .token_lifetime(EMBEDDED_TOKEN_LIFETIME)
                .shape(shape_of(&compatibility.profile));
            if let Some(audience) = audiences.first() {
                builder = builder.audience(audience.clone());
            }
            if let Some((id, secret)) = &client {
                builder = builder.client(id.clone(), secret.clone());
            }
            let mock = builder.start().await;
            if audiences.is_empty() {
                audiences.push(embedded_audience(&compatibility.profile, &mock));
            }
            // Hydra's tokens have `aud: []` unless an audience was granted: its client stands
            // in, as a user of Hydra would configure with --allowed-client.
            if compatibility.audience_policy() == AudiencePolicy::EmptyWithClientAllowlist
                && compatibility.allowed_clients.is_empty()
            {
                allowed_clients.push(mock.client_id());
            }
            client = Some((mock.client_id(), mock.client_secret()));
            (mock.issuer(), Some(mock))
        }
    };

    // Where the server's tokens carry no `aud` (Cognito), "this API's audience" is the client
    // id its users configure: it is the allowlist.
    if compatibility.audience_policy() == AudiencePolicy::AbsentWithClientAllowlist
        && compatibility.allowed_clients.is_empty()
    {
        allowed_clients.extend(audiences.iter().cloned());
    }
    let mut trusted = compatibility
        .apply(TrustedIssuer::new(issuer.clone()))
        .audiences(audiences.iter().cloned())
        .allowed_clients(allowed_clients);
    if let Some(uri) = &config.trust.jwks_uri {
        trusted = trusted.jwks_uri(uri.clone());
    }
    if let Some(url) = &config.trust.discovery_url {
        trusted = trusted.discovery_url(url.clone());
    }
    if !config.trust.tenants.is_empty() {
        trusted = trusted.tenants(config.trust.tenants.iter().cloned());
    }
    if config.trust.any_tenant {
        trusted = trusted.any_tenant();
    }
    if let Some((id, secret)) = &client {
        let mut introspection = Introspection::client_secret_basic(id.clone(), secret.clone());
        if let Some(endpoint) = &config.introspection.endpoint {
            introspection = introspection.endpoint(endpoint.clone());
        }
        trusted = trusted.introspection(introspection);
    }
    // Bound first: the public URL defaults to the address actually bound.
    let listener = TcpListener::bind(config.listen)
        .await
        .map_err(|e| StartError::Bind(config.listen, e))?;
    let addr = listener
        .local_addr()
        .map_err(|e| StartError::Bind(config.listen, e))?;
    let public_url = config
        .sender
        .public_url
        .clone()
        .unwrap_or_else(|| client_url(addr));
    let constraint = config.sender.constraint();
    trusted = trusted.sender_constraint(constraint);
    let mut builder = Tollgate::builder()
        .trust(trusted)
        .realm(REALM)
        .sensitive_freshness(config.introspection.freshness)
        .public_url(public_url.clone())
        .resource_metadata(
            ResourceMetadata::new()
                .scopes_supported(ALL_SCOPES.split(' '))
                .resource_name("protected-api"),
        );
    if constraint != SenderConstraint::BearerOnly {
        builder = builder.dpop(Dpop::new());
    }
    if let Some(url) = &config.scale_out.redis {
        // Lazy: the API starts while Redis is down, serves from its own memory, and shares
        // once Redis answers. A malformed URL is refused here.
        let store = tollgate_redis::RedisStore::builder()
            .connect_lazy(url)
            .map_err(StartError::Store)?;
        builder = builder.shared_store(std::sync::Arc::new(store));
    }
    let gate = builder.build().map_err(StartError::Config)?;
    let mut router = app(&gate, config.introspection.freshness);
    if let Some(path) = &config.scale_out.security_events {
        // The receiver's audience is its own URL (SSF 1.0 §4.1.8), as clients reach it.
        let audience = format!("{}{path}", public_url.trim_end_matches('/'));
        let receiver = gate
            .security_event_receiver(tollgate::events::SecurityEventReceiver::builder(audience))
            .map_err(StartError::Config)?;
        router = router.route_service(path, receiver);
    }
    let (stop, stopped) = oneshot::channel::<()>();
    let task = tokio::spawn(async move {
        axum::serve(listener, router)
            // A send or a dropped `Server` both end the wait.
            .with_graceful_shutdown(async move {
                let _ = stopped.await;
            })
            .await
    });

    Ok(Server {
        addr,
        public_url,
        gate,
        issuer,
        audiences,
        introspection_client: client.map(|(id, _)| id),
        mock,
        config,
        stop: Some(stop),
        task,
    })
}

impl Server {
    /// The address the server listens on (the real port when `--listen` asked for port 0).
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// `http://ADDR`, with a loopback address in place of an unspecified one, for clients.
    pub fn url(&self) -> String {
        client_url(self.addr)
    }

    /// The URL clients are told the API is at (`--public-url`, else [`url`](Self::url)):
    /// DPoP proofs name it in `htu`, and the RFC 9728 metadata gives it as `resource`.
    pub fn public_url(&self) -> &str {
        &self.public_url
    }

    /// The URL of the security-event receiver, when `--security-events` mounted one: the
    /// `aud` its SETs must carry.
    pub fn security_events_url(&self) -> Option<String> {
        let path = self.config.scale_out.security_events.as_ref()?;
        Some(format!("{}{path}", self.public_url.trim_end_matches('/')))
    }

    /// The issuer the API trusts (the embedded mock's, when there is one).
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The engine the API uses.
    pub fn gate(&self) -> &Tollgate {
        &self.gate
    }

    /// The embedded tollgate-mock, when no issuer was configured.
    pub fn embedded_mock(&self) -> Option<&MockAuthServer> {
        self.mock.as_ref()
    }

    /// Waits until the signing keys are loaded, at most `timeout`; true when they are. Until
    /// then, requests with a token are answered 503 with `Retry-After`.
    pub async fn ready(&self, timeout: Duration) -> bool {
        self.gate.wait_for_keys(timeout).await
    }

    /// Prints where the API listens, what it trusts and its routes; with the embedded mock
    /// also a fresh token for alice (scopes `read admin payments`) and `curl` lines to use,
    /// get and revoke tokens. A configured introspection secret is never printed.
    ///
    /// # Errors
    /// When `out` cannot be written.
    pub fn write_banner(&self, out: &mut impl Write) -> io::Result<()> {
        let url = self.url();
        writeln!(out, "protected-api listening on {url}")?;
        match &self.mock {
            Some(_) => writeln!(
                out,
                "issuer:        {} (embedded tollgate-mock)",
                self.issuer
            )?,
            None => writeln!(out, "issuer:        {}", self.issuer)?,
        }
        writeln!(out, "audience:      {}", self.audiences.join(", "))?;
        match &self.introspection_client {
            Some(id) => writeln!(out, "introspection: as client {id}")?,
            None => writeln!(
                out,
                "introspection: not configured; sensitive routes answer 503 \
                 (set --introspection-client-id and --introspection-client-secret)"
            )?,
        }
        let freshness = self.config.introspection.freshness;
        writeln!(
            out,
            "freshness:     {} s on sensitive routes{}",
            freshness.as_secs(),
            if freshness.is_zero() {
                " (every request asks)"
            } else {
                ""
            }
        )?;
        let compatibility = &self.config.compatibility;
        writeln!(
            out,
            "profile:       {}{}",
            compatibility.profile,
            if compatibility.refines_the_profile() {
                ", refined by the switches given"
            } else {
                ""
            }
        )?;
        if compatibility.allow_untyped_tokens || compatibility.accept_scp_claim {
            writeln!(
                out,
                "compatibility: untyped tokens {}, scp claim {}",
                on_off(compatibility.allow_untyped_tokens),
                on_off(compatibility.accept_scp_claim)
            )?;
        }
        writeln!(
            out,
            "dpop:          {} (public URL {})",
            self.config.sender.constraint().name(),
            self.public_url
        )?;
        // The store describes itself without credentials (never the URL as given).
        if let Some(store) = self.gate.diagnostics().shared_store {
            writeln!(
                out,
                "shared store:  {} (revocations and introspection answers)",
                store.store
            )?;
        }
        if let Some(events) = self.security_events_url() {
            writeln!(out, "security events: POST {events} (RFC 8935)")?;
        }
        writeln!(out)?;
        writeln!(out, "routes:")?;
        writeln!(out, "  GET    /health             no token needed")?;
        writeln!(out, "  GET    /me                 any valid token")?;
        writeln!(out, "  GET    /photos             scope read")?;
        writeln!(out, "  POST   /admin/users        scope admin, sensitive")?;
        writeln!(out, "  DELETE /admin/users/{{id}}   scope admin, sensitive")?;
        writeln!(
            out,
            "  POST   /payments           scope payments, sensitive"
        )?;
        writeln!(
            out,
            "  GET    /account/security   acr {STEP_UP_ACR} within {} s (step-up, RFC 9470)",
            STEP_UP_MAX_AGE.as_secs()
        )?;
        writeln!(
            out,
            "  GET    /.well-known/oauth-protected-resource   RFC 9728 metadata"
        )?;
        if let Some(mock) = &self.mock {
            let token = mock.token().subject("alice").scope(ALL_SCOPES).sign();
            let credentials = format!("{}:{}", mock.client_id(), mock.client_secret());
            writeln!(out)?;
            writeln!(
                out,
                "Try it (a token for alice, scopes \"{ALL_SCOPES}\", valid {} min):",
                EMBEDDED_TOKEN_LIFETIME.as_secs() / 60
            )?;
            writeln!(out, "  curl -i -H 'Authorization: Bearer {token}' {url}/me")?;
            writeln!(
                out,
                "Another token from the embedded mock (client credentials grant):"
            )?;
            writeln!(
                out,
                "  curl -s -u {credentials} -d grant_type=client_credentials -d 'scope={ALL_SCOPES}' {}",
                mock.token_endpoint()
            )?;
            writeln!(
                out,
                "Revoke a token, then watch POST /payments refuse it (RFC 7009):"
            )?;
            writeln!(
                out,
                "  curl -i -u {credentials} -d token=TOKEN {}",
                mock.revocation_endpoint()
            )?;
        }
        Ok(())
    }

    /// Stops accepting connections, lets open requests finish, and stops the embedded mock.
    ///
    /// # Errors
    /// The I/O error that ended the server early, if any.
    pub async fn shutdown(mut self) -> io::Result<()> {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        let result = match (&mut self.task).await {
            Ok(result) => result,
            Err(e) => Err(io::Error::other(e)),
        };
        if let Some(mock) = self.mock.take() {
            mock.shutdown().await;
        }
        result
    }
}

/// `http://ADDR`, with a loopback address in place of an unspecified one.
fn client_url(addr: SocketAddr) -> String {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    format!("http://{}", SocketAddr::new(ip, addr.port()))
}

fn on_off(on: bool) -> &'static str {
    if on { "on" } else { "off" }
}
