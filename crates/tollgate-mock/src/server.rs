//! `MockAuthServer`: the handle, and the accept loop behind it.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioIo, TokioTimer};
use hyper_util::service::TowerToHyperService;
use jsonwebtoken::Algorithm;
use serde_json::Value;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::{Mutex, oneshot};
use tokio::task::{JoinHandle, JoinSet};

use crate::builder::MockAuthServerBuilder;
use crate::faults::{Endpoint, Fault};
use crate::keys::SigningKey;
use crate::shapes::{self, Document, Serves, Shape};
use crate::state::Shared;
use crate::tokens::{OpaqueTokenBuilder, RefreshTokenBuilder, TokenBuilder, compact};

/// A mock OAuth 2.0 authorization server listening on loopback.
///
/// Cheap to clone: clones are handles to the same server. The server stops when
/// [`shutdown`](Self::shutdown) is called or the last handle is dropped. See the
/// [crate documentation](crate) for what it serves.
///
/// The server runs as tasks of the Tokio runtime that started it, and stops with that runtime:
/// each `#[tokio::test]` has its own runtime, so start one server per test rather than sharing
/// one in a `static`.
#[derive(Clone)]
pub struct MockAuthServer {
    inner: Arc<Inner>,
}

struct Inner {
    shared: Arc<Shared>,
    addr: SocketAddr,
    router: Router,
    /// `None` while down. An async mutex: `go_down` and `come_back` hold it across the wait for
    /// the listener to close or open, so they never overlap.
    running: Mutex<Option<Running>>,
}

/// A live accept loop.
struct Running {
    /// Sending, or dropping, stops the loop.
    stop: oneshot::Sender<()>,
    task: JoinHandle<()>,
}

impl Drop for Inner {
    fn drop(&mut self) {
        // Dropping the sender stops the loop, which closes the listener and its connections.
        self.running.get_mut().take();
    }
}

impl std::fmt::Debug for MockAuthServer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockAuthServer")
            .field("issuer", &self.issuer())
            .finish_non_exhaustive()
    }
}

impl MockAuthServer {
    /// Starts a server with the defaults on `127.0.0.1` and a free port: issuer
    /// `http://127.0.0.1:PORT`, one RS256 key, audience `https://api.tollgate.test`, client
    /// `tollgate-rs` / `tollgate-secret`.
    ///
    /// # Panics
    ///
    /// If no port can be bound.
    pub async fn start() -> MockAuthServer {
        MockAuthServer::builder().start().await
    }

    /// A builder for a server with another configuration.
    pub fn builder() -> MockAuthServerBuilder {
        MockAuthServerBuilder::default()
    }

    pub(crate) fn serve(shared: Shared, listener: TcpListener, addr: SocketAddr) -> MockAuthServer {
        let shared = Arc::new(shared);
        let router = crate::http::router(shared.clone());
        let running = spawn(listener, router.clone());
        MockAuthServer {
            inner: Arc::new(Inner {
                shared,
                addr,
                router,
                running: Mutex::new(Some(running)),
            }),
        }
    }

    pub(crate) fn shared(&self) -> &Arc<Shared> {
        &self.inner.shared
    }

    // ---- where it is -------------------------------------------------------------------

    /// The issuer identifier: `http://127.0.0.1:PORT` plus the issuer path, if configured; no
    /// trailing slash, unless the [`Shape`]'s issuer has one (Entra v1, Auth0, Ory Hydra,
    /// authentik).
    pub fn issuer(&self) -> String {
        self.shared().config.issuer.clone()
    }

    /// The [`Shape`] the server imitates.
    pub fn shape(&self) -> Shape {
        self.shared().config.shape.clone()
    }

    /// Under an Entra shape, the issuer of another tenant's tokens on this server (see
    /// [`TokenBuilder::tenant`]); `tenant_issuer("{tenantid}")` is the template of the
    /// multi-tenant document. `None` under other shapes.
    pub fn tenant_issuer(&self, tenant: &str) -> Option<String> {
        shapes::tenant_issuer(&self.shared().config, tenant)
    }

    /// Under an Entra shape, the URL of the multi-tenant OpenID document
    /// (`/common/v2.0/.well-known/openid-configuration`, or `/common/...` for v1), whose
    /// `issuer` is the literal `{tenantid}` template. `None` under other shapes.
    pub fn multi_tenant_metadata_url(&self) -> Option<String> {
        let config = &self.shared().config;
        config
            .paths
            .routes
            .iter()
            .find(|r| r.serves == Serves::Document(Document::MultiTenant))
            .map(|r| config.url(&r.path))
    }

    /// `http://127.0.0.1:PORT`, no trailing slash.
    pub fn base_url(&self) -> String {
        self.shared().config.base_url.clone()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.inner.addr
    }

    /// The JWKS URL (`{issuer}/jwks`, or where the [`Shape`]'s product serves it).
    pub fn jwks_uri(&self) -> String {
        let config = &self.shared().config;
        config.url(&config.paths.jwks)
    }

    /// The token endpoint URL (`{issuer}/token`, or the [`Shape`]'s path).
    pub fn token_endpoint(&self) -> String {
        let config = &self.shared().config;
        config.url(&config.paths.token)
    }

    /// The introspection endpoint URL (`{issuer}/introspect`, or the [`Shape`]'s path). Under a
    /// shape whose product does not introspect (Entra, Auth0, Cognito) it is
    /// `{issuer}/introspect`, which answers 404.
    pub fn introspection_endpoint(&self) -> String {
        let config = &self.shared().config;
        config.url(&config.paths.introspection)
    }

    /// The revocation endpoint URL (`{issuer}/revoke`, or the [`Shape`]'s path; 404 under Entra).
    pub fn revocation_endpoint(&self) -> String {
        let config = &self.shared().config;
        config.url(&config.paths.revocation)
    }

    /// The RFC 8414 metadata URL (`/.well-known/oauth-authorization-server` plus issuer path,
    /// or where the [`Shape`]'s product serves its OAuth metadata: appended to the issuer for
    /// Keycloak, Okta and node-oidc-provider). Under a shape that serves none (Entra, Cognito,
    /// ZITADEL, authentik, Curity) it answers 404.
    pub fn oauth_metadata_url(&self) -> String {
        let config = &self.shared().config;
        config.url(&config.paths.oauth_metadata)
    }

    /// The OpenID Connect discovery URL (`{issuer}/.well-known/openid-configuration`).
    pub fn openid_configuration_url(&self) -> String {
        let config = &self.shared().config;
        config.url(&config.paths.openid_metadata)
    }

    // ---- who it knows ------------------------------------------------------------------

    /// The default audience of issued tokens.
    pub fn audience(&self) -> String {
        self.shared().config.audience.clone()
    }

    /// The id of the first registered client (the resource server's credentials for
    /// introspection, and the default `client_id` claim).
    pub fn client_id(&self) -> String {
        self.shared().config.clients[0].id.clone()
    }

    /// The secret of the first registered client.
    pub fn client_secret(&self) -> String {
        self.shared().config.clients[0].secret.clone()
    }

    /// The bearer credential the introspection endpoint accepts, if one was configured.
    pub fn introspection_bearer(&self) -> Option<String> {
        self.shared().config.introspection_bearer.clone()
    }

    // ---- tokens ------------------------------------------------------------------------

    /// Builds a signed JWT access token (RFC 9068, or as the [`Shape`]'s product makes them).
    pub fn token(&self) -> TokenBuilder {
        TokenBuilder::new(self.shared().clone())
    }

    /// Builds a signed ID token (OpenID Connect Core 1.0 §2) for the first client, as the
    /// [`Shape`]'s product makes them: what a resource server must refuse as an access token.
    /// It is signed with [`id_token_kid`](Self::id_token_kid) and not remembered (introspection
    /// calls it inactive).
    pub fn id_token(&self) -> TokenBuilder {
        TokenBuilder::id(self.shared().clone())
    }

    /// Builds an opaque access token, known to introspection only.
    pub fn opaque_token(&self) -> OpaqueTokenBuilder {
        OpaqueTokenBuilder::new(self.shared().clone())
    }

    /// Builds a refresh token, for the `refresh_token` grant and for revocation cascades.
    pub fn refresh_token(&self) -> RefreshTokenBuilder {
        RefreshTokenBuilder::new(self.shared().clone())
    }

    /// Revokes a token, as the revocation endpoint would: introspection then calls it inactive,
    /// and a refresh token takes the access tokens issued from it along. Unknown tokens are
    /// ignored.
    pub fn revoke(&self, token: &str) {
        self.shared().tokens().revoke(token);
    }

    /// Signs exactly these JSON values with the key `kid` and that key's algorithm. The header
    /// is used verbatim: nothing is added. The token is not remembered (introspection calls it
    /// inactive): it is for crafting attacks, not for issuing.
    ///
    /// # Panics
    ///
    /// If the server never had a key `kid`.
    pub fn sign_raw(&self, header: &Value, payload: &Value, kid: &str) -> String {
        let key = self.key(kid);
        let header = serde_json::to_vec(header).expect("JSON values serialize");
        let payload = serde_json::to_vec(payload).expect("JSON values serialize");
        compact(&header, &payload, &key, key.alg())
    }

    /// Signs these exact bytes (base64url-encoded as they are: duplicate keys, odd whitespace,
    /// invalid JSON) with the key `kid` and the algorithm `alg`. `alg` may differ from the key's
    /// own where the key allows it (an RSA key signs RS* and PS*). HS256/384/512 use the key's
    /// [`public_key_pem`](Self::public_key_pem) text as the HMAC secret: the
    /// algorithm-confusion attack (RFC 8725 §2.1). Not remembered, like [`sign_raw`](Self::sign_raw).
    ///
    /// # Panics
    ///
    /// If the server never had a key `kid`, or the key cannot sign `alg`.
    pub fn sign_raw_bytes(
        &self,
        header: &[u8],
        payload: &[u8],
        kid: &str,
        alg: Algorithm,
    ) -> String {
        compact(header, payload, &self.key(kid), alg)
    }

    // ---- keys --------------------------------------------------------------------------

    fn key(&self, kid: &str) -> SigningKey {
        self.shared().keys().expect(kid).clone()
    }

    /// Generates a key for `alg` (always new material), publishes it in the JWKS and returns
    /// its `kid`. The signing key stays as it was: see [`set_signing_key`](Self::set_signing_key).
    ///
    /// # Panics
    ///
    /// For a symmetric algorithm (HS256/384/512).
    pub fn add_key(&self, alg: Algorithm) -> String {
        let key = SigningKey::generate(alg);
        self.shared().keys().publish(key)
    }

    /// Makes `kid` the key new tokens are signed with by default.
    ///
    /// # Panics
    ///
    /// If the server never had a key `kid`.
    pub fn set_signing_key(&self, kid: &str) {
        self.shared().keys().set_signing(kid);
    }

    /// Removes `kid` from the JWKS. The key still signs when asked for by
    /// [`TokenBuilder::kid`], and stays the signing key if it was one: tokens signed with it
    /// then fail verification, as after a real rotation gone wrong.
    ///
    /// # Panics
    ///
    /// If the server never had a key `kid`.
    pub fn retire_key(&self, kid: &str) {
        self.shared().keys().retire(kid);
    }

    /// The `kid` of the current signing key.
    pub fn signing_kid(&self) -> String {
        self.shared().keys().signing().kid().to_owned()
    }

    /// The `kid` ID tokens are signed with: a key of their own under the shapes whose products
    /// keep one (Cognito, Ory Hydra), published beside the signing key; else the current
    /// signing key.
    pub fn id_token_kid(&self) -> String {
        match &self.shared().config.id_token_kid {
            Some(kid) => kid.clone(),
            None => self.signing_kid(),
        }
    }

    /// The `kid` of the published encryption key (`use: enc`, RSA-OAEP) under
    /// [`Shape::Keycloak`]; `None` elsewhere. [`TokenBuilder::kid`] can sign with it, to test
    /// that a resource server never verifies with an encryption key.
    pub fn encryption_kid(&self) -> Option<String> {
        self.shared().config.encryption_kid.clone()
    }

    /// Changes the `Cache-Control` header of the JWKS from the next answer on; an empty string
    /// sends none. Starts as [`MockAuthServerBuilder::jwks_cache_control`] says.
    pub fn set_jwks_cache_control(&self, value: impl Into<String>) {
        self.shared().set_jwks_cache_control(value.into());
    }

    /// The JWKS the server serves right now: `{"keys":[...]}`.
    pub fn jwks(&self) -> Value {
        shapes::jwks(self.shared())
    }

    /// The public key `kid` as a PEM `PUBLIC KEY` block (SPKI, RFC 5280), e.g. for
    /// `jsonwebtoken::DecodingKey::from_rsa_pem` (jsonwebtoken's `use_pem` feature) or an HMAC
    /// key-confusion attack.
    ///
    /// # Panics
    ///
    /// If the server never had a key `kid`.
    pub fn public_key_pem(&self, kid: &str) -> String {
        self.key(kid).public_key_pem()
    }

    /// The public key `kid` as DER `SubjectPublicKeyInfo` (RFC 5280): the bytes inside
    /// [`public_key_pem`](Self::public_key_pem). With jsonwebtoken's aws-lc-rs backend,
    /// `DecodingKey::from_rsa_der` accepts it for RSA keys.
    ///
    /// # Panics
    ///
    /// If the server never had a key `kid`.
    pub fn public_key_der(&self, kid: &str) -> Vec<u8> {
        self.key(kid).public_key_der()
    }

    // ---- what it was asked: counters, in-flight gauges, request records (observed.rs) ---

    // ---- faults ------------------------------------------------------------------------

    /// Makes `endpoint` misbehave as `fault` says, replacing its previous fault.
    pub fn set_fault(&self, endpoint: Endpoint, fault: Fault) {
        self.shared().set_fault(endpoint, Some(fault));
    }

    /// Lets `endpoint` answer normally again.
    pub fn clear_fault(&self, endpoint: Endpoint) {
        self.shared().set_fault(endpoint, None);
    }

    /// Makes requests to this exact `path` (no query string, any method) misbehave as `fault`
    /// says, replacing its previous path fault. It wins over the fault of the endpoint the
    /// path belongs to, so one of the two metadata documents (both [`Endpoint::Discovery`])
    /// can lie while the other tells the truth; on a path the server does not serve, it
    /// answers instead of the 404.
    pub fn set_fault_at(&self, path: &str, fault: Fault) {
        self.shared().set_path_fault(path, Some(fault));
    }

    /// Lets `path` answer as its endpoint does again (or 404).
    pub fn clear_fault_at(&self, path: &str) {
        self.shared().set_path_fault(path, None);
    }

    /// Lets every endpoint and every path answer normally again.
    pub fn clear_faults(&self) {
        self.shared().clear_faults();
    }

    // ---- life cycle --------------------------------------------------------------------

    /// Stops listening: when this returns, the listener is closed (new connections are
    /// refused) and every open connection, idle keep-alive or mid-request, is dropped.
    /// Tokens, keys and counters are kept. Does nothing if already down.
    pub async fn go_down(&self) {
        let mut running = self.inner.running.lock().await;
        if let Some(Running { stop, task }) = running.take() {
            let _ = stop.send(());
            let _ = task.await;
        }
    }

    /// Listens again, on the same address and port. Does nothing if already up.
    ///
    /// # Panics
    ///
    /// If the port was taken by someone else in the meantime.
    pub async fn come_back(&self) {
        let mut running = self.inner.running.lock().await;
        if running.is_some() {
            return;
        }
        let listener = rebind(self.inner.addr).await;
        *running = Some(spawn(listener, self.inner.router.clone()));
    }

    /// Stops the server for good (for every handle), closing all connections.
    pub async fn shutdown(self) {
        self.go_down().await;
    }
}

/// Binds `addr` again, retrying briefly in case the previous socket is still being released.
async fn rebind(addr: SocketAddr) -> TcpListener {
    let mut attempts = 0;
    loop {
        match TcpListener::bind(addr).await {
            Ok(listener) => return listener,
            Err(_) if attempts < 50 => {
                attempts += 1;
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
            Err(e) => panic!("tollgate-mock: cannot listen on {addr} again: {e}"),
        }
    }
}

fn spawn(listener: TcpListener, router: Router) -> Running {
    let (stop, stopped) = oneshot::channel();
    let task = tokio::spawn(accept_loop(listener, router, stopped));
    Running { stop, task }
}

async fn accept_loop(listener: TcpListener, router: Router, mut stopped: oneshot::Receiver<()>) {
    // Connections are tasks of this set, so that stopping can drop them all at once.
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            biased;
            _ = &mut stopped => break,
            accepted = listener.accept() => match accepted {
                Ok((stream, _)) => {
                    connections.spawn(serve_connection(stream, router.clone()));
                }
                // Out of file descriptors and the like: wait instead of spinning.
                Err(_) => tokio::time::sleep(Duration::from_millis(10)).await,
            },
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
    drop(listener);
    connections.shutdown().await;
}

async fn serve_connection(stream: TcpStream, router: Router) {
    let _ = stream.set_nodelay(true);
    let _ = hyper::server::conn::http1::Builder::new()
        .timer(TokioTimer::new())
        .serve_connection(TokioIo::new(stream), TowerToHyperService::new(router))
        .await;
}
