//! tower-http integration (feature `tower-http`): [`Authorize`] plugs the engine into
//! `tower_http::auth::AsyncRequireAuthorizationLayer`, for stacks that already compose with it.
//!
//! [`Tollgate::layer`](crate::Tollgate::layer) does the same job and is the better fit when you
//! have the choice: it keeps the service `poll_ready` prepared for a request that waits, and
//! its response body is its own type, so the inner service's body needs no conversion. Here the
//! refusal's body is built with `From<Bytes>` into the inner service's body type (axum's
//! `Body`, `Full<Bytes>`, ...), and a decision that waits for the network holds the request in
//! a boxed future, so the request body must be `Send + 'static`.
//!
//! Refusals are rendered by the engine ([`Tollgate::render`](crate::Tollgate::render)): its
//! realm, its body hook, the [`Rejection`] in the response extensions.
//!
//! # Example
//!
//! ```
//! use std::convert::Infallible;
//! use bytes::Bytes;
//! use http::{Request, Response, StatusCode};
//! use http_body_util::Full;
//! use tollgate::{Principal, PolicyTable, Requirement, Tollgate};
//! use tollgate::tower_http::Authorize;
//! use tollgate_mock::MockAuthServer;
//! use tower::{ServiceBuilder, ServiceExt};
//! use tower_http::auth::AsyncRequireAuthorizationLayer;
//!
//! # #[tokio::main(flavor = "current_thread")]
//! # async fn main() {
//! let auth_server = MockAuthServer::start().await;
//! let gate = Tollgate::builder()
//!     .issuer(auth_server.issuer())
//!     .audience(auth_server.audience())
//!     .build()
//!     .unwrap();
//! assert!(gate.wait_for_keys(std::time::Duration::from_secs(10)).await);
//!
//! let service = ServiceBuilder::new()
//!     .layer(AsyncRequireAuthorizationLayer::new(Authorize::new(gate.clone(), PolicyTable::uniform(Requirement::routine()))))
//!     .service_fn(|request: Request<Full<Bytes>>| async move {
//!         let who = request.extensions().get::<Principal>().and_then(|p| p.subject().map(str::to_owned));
//!         Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(who.unwrap_or_default()))))
//!     });
//!
//! let token = auth_server.token().subject("alice").sign();
//! let request = Request::get("/").header("authorization", format!("Bearer {token}")).body(Full::default()).unwrap();
//! assert_eq!(service.clone().oneshot(request).await.unwrap().status(), StatusCode::OK);
//! let anonymous = Request::get("/").body(Full::default()).unwrap();
//! assert_eq!(service.oneshot(anonymous).await.unwrap().status(), StatusCode::UNAUTHORIZED);
//! # }
//! ```

use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use ::tower_http::auth::AsyncAuthorizeRequest;
use bytes::Bytes;
use http::{Request, Response, StatusCode};

use crate::Tollgate;
use crate::policy::PolicyTable;
use crate::rejection::Rejection;
use crate::request::{Decision, RequestView};

/// The nonce a DPoP request's answer should carry in `DPoP-Nonce` (RFC 9449 §8.2), left in the
/// request extensions by [`Authorize`] when the proof carried the previous nonce: the adapter
/// cannot add it to the inner service's answer itself, so a handler or an outer layer may.
/// The layer of [`Tollgate::layer`] adds it by itself.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DpopNonce(pub http::HeaderValue);

/// The engine as a `tower_http::auth::AsyncAuthorizeRequest`: each request is judged by the
/// requirement its [`PolicyTable`] row gives, and gets its [`Principal`](crate::Principal) in
/// the request extensions when accepted. `ResB` is the inner service's response body type.
pub struct Authorize<ResB> {
    gate: Tollgate,
    policy: Arc<PolicyTable>,
    body: PhantomData<fn() -> ResB>,
}

impl<ResB> Authorize<ResB> {
    /// Authorizes with `gate`, by the requirements of `policy`
    /// ([`PolicyTable::uniform`] for one requirement everywhere).
    ///
    /// # Panics
    ///
    /// If a requirement of `policy` accepts DPoP and `gate` has no DPoP settings, as
    /// [`Tollgate::layer_with_policy`] does; [`try_new`](Self::try_new) returns the error.
    #[track_caller]
    pub fn new(gate: Tollgate, policy: PolicyTable) -> Self {
        Self::try_new(gate, policy).unwrap_or_else(|error| crate::requirement::refuse(&error))
    }

    /// [`new`](Self::new), returning the error instead of panicking.
    ///
    /// # Errors
    /// A [`ConfigError`](crate::ConfigError) of kind
    /// [`Requirement`](crate::ConfigErrorKind::Requirement).
    pub fn try_new(gate: Tollgate, policy: PolicyTable) -> Result<Self, crate::ConfigError> {
        for requirement in policy.requirements() {
            gate.check_attached(requirement)?;
        }
        Ok(Self {
            gate,
            policy: Arc::new(policy),
            body: PhantomData,
        })
    }
}

impl<ResB> Clone for Authorize<ResB> {
    fn clone(&self) -> Self {
        Self {
            gate: self.gate.clone(),
            policy: Arc::clone(&self.policy),
            body: PhantomData,
        }
    }
}

impl<ResB> fmt::Debug for Authorize<ResB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Authorize")
            .field("gate", &self.gate)
            .field("policy", &self.policy)
            .finish()
    }
}

/// The future of [`Authorize`]: decided at once in the common case, boxed only while a key
/// refetch or an introspection call is awaited.
pub struct AuthorizeFuture<B, ResB> {
    state: State<B, ResB>,
}

type Outcome<B, ResB> = Result<Request<B>, Response<ResB>>;

#[allow(
    clippy::large_enum_variant,
    reason = "the decided outcome is the common case: boxing it would allocate for every request"
)]
enum State<B, ResB> {
    /// Decided without waiting; `None` once answered.
    Decided(Option<Outcome<B, ResB>>),
    Waiting(Pin<Box<dyn Future<Output = Outcome<B, ResB>> + Send>>),
}

impl<B, ResB> fmt::Debug for AuthorizeFuture<B, ResB> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Decided(_) => "Decided",
            State::Waiting(_) => "Waiting",
        };
        f.debug_struct("AuthorizeFuture")
            .field("state", &state)
            .finish()
    }
}

// Nothing in the future is pinned in place: the waiting part is boxed, and the decided outcome
// is only moved out.
impl<B, ResB> Unpin for AuthorizeFuture<B, ResB> {}

impl<B, ResB: From<Bytes>> Future for AuthorizeFuture<B, ResB> {
    type Output = Outcome<B, ResB>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        match &mut this.state {
            State::Waiting(check) => check.as_mut().poll(cx),
            State::Decided(outcome) => Poll::Ready(outcome.take().unwrap_or_else(|| {
                // Polled after it completed, which the `Future` contract forbids; answer
                // rather than panic.
                let mut response = Response::new(ResB::from(Bytes::new()));
                *response.status_mut() = StatusCode::INTERNAL_SERVER_ERROR;
                Err(response)
            })),
        }
    }
}

impl<B, ResB> AsyncAuthorizeRequest<B> for Authorize<ResB>
where
    B: Send + 'static,
    ResB: From<Bytes> + Send + 'static,
{
    type RequestBody = B;
    type ResponseBody = ResB;
    type Future = AuthorizeFuture<B, ResB>;

    fn authorize(&mut self, mut request: Request<B>) -> Self::Future {
        let gate = &self.gate;
        let refuse = |rejection: &Rejection| Err(gate.render(rejection).map(ResB::from));
        let decided = |outcome| AuthorizeFuture {
            state: State::Decided(Some(outcome)),
        };
        let requirement = match self
            .policy
            .requirement_for(request.method(), request.uri().path())
        {
            Ok(requirement) => requirement,
            Err(rejection) => return decided(refuse(&rejection)),
        };
        if requirement.public {
            return decided(Ok(request));
        }
        match gate.decide(&RequestView::of(&request), requirement) {
            Decision::Done(Ok(accepted)) => {
                let nonce = gate.accept_with_nonce(&mut request, accepted);
                // The adapter cannot touch the inner service's answer: a nonce to hand out
                // on success (RFC 9449 §8.2) is left in the request extensions instead.
                if let Some(nonce) = nonce {
                    request.extensions_mut().insert(DpopNonce(nonce));
                }
                decided(Ok(request))
            }
            Decision::Done(Err(refusal)) => {
                decided(Err(gate.render_refusal(&refusal).map(ResB::from)))
            }
            Decision::Wait(check) => {
                let gate = gate.clone();
                AuthorizeFuture {
                    state: State::Waiting(Box::pin(async move {
                        match check.await {
                            Ok(accepted) => {
                                if let Some(nonce) = gate.accept_with_nonce(&mut request, accepted)
                                {
                                    request.extensions_mut().insert(DpopNonce(nonce));
                                }
                                Ok(request)
                            }
                            Err(refusal) => Err(gate.render_refusal(&refusal).map(ResB::from)),
                        }
                    })),
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::convert::Infallible;
    use std::time::Duration;

    use ::tower_http::auth::AsyncRequireAuthorizationLayer;
    use http_body_util::{BodyExt as _, Full};
    use tollgate_mock::MockAuthServer;
    use tower::{ServiceBuilder, ServiceExt as _};

    use super::*;
    use crate::{Introspection, Principal, Requirement};

    #[tokio::test]
    async fn the_adapter_decides_as_the_layer_does() {
        let auth_server = MockAuthServer::start().await;
        let gate = Tollgate::builder()
            .issuer(auth_server.issuer())
            .audience(auth_server.audience())
            .introspection(Introspection::client_secret_basic(
                auth_server.client_id(),
                auth_server.client_secret(),
            ))
            .realm("api")
            .build()
            .unwrap();
        assert!(gate.wait_for_keys(Duration::from_secs(10)).await);
        let policy = PolicyTable::builder()
            .rule("GET", "/health", Requirement::public())
            .rule("POST", "/pay", Requirement::sensitive(Duration::ZERO))
            .rule(
                "GET",
                "/admin",
                Requirement::routine().all_scopes(["admin"]),
            )
            .build()
            .unwrap();
        let service = ServiceBuilder::new()
            .layer(AsyncRequireAuthorizationLayer::new(Authorize::new(
                gate.clone(),
                policy,
            )))
            .service_fn(|request: Request<Full<Bytes>>| async move {
                let who = request
                    .extensions()
                    .get::<Principal>()
                    .map(|p| format!("{}:{}", p.subject().unwrap_or(""), p.introspected()));
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(
                    who.unwrap_or_default(),
                ))))
            });
        let token = auth_server.token().subject("alice").scope("read").sign();
        let send = |method: &str, path: &str, token: Option<&str>| {
            let mut request = Request::builder().method(method).uri(path);
            if let Some(token) = token {
                request = request.header("authorization", format!("Bearer {token}"));
            }
            let request = request.body(Full::default()).unwrap();
            let service = service.clone();
            async move {
                let response = service.oneshot(request).await.unwrap();
                let status = response.status();
                let challenge = response
                    .headers()
                    .get("www-authenticate")
                    .map(|v| v.to_str().unwrap().to_owned());
                let rejection = response.extensions().get::<Rejection>().cloned();
                let body = response.into_body().collect().await.unwrap().to_bytes();
                (
                    status,
                    challenge,
                    rejection,
                    String::from_utf8(body.to_vec()).unwrap(),
                )
            }
        };
        // Decided at once: accepted with the principal, refused with the engine's challenge.
        let (status, _, _, body) = send("GET", "/photos", Some(&token)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "alice:false"));
        let (status, challenge, rejection, _) = send("GET", "/photos", None).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(challenge.as_deref(), Some(r#"Bearer realm="api""#));
        assert_eq!(rejection, Some(Rejection::MissingToken));
        let (status, _, rejection, _) = send("GET", "/admin", Some(&token)).await;
        assert_eq!(status, StatusCode::FORBIDDEN);
        assert!(matches!(
            rejection,
            Some(Rejection::InsufficientScope { .. })
        ));
        let (status, _, _, body) = send("GET", "/health", None).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, ""));
        // Waiting for introspection: the request comes back with a live principal.
        let (status, _, _, body) = send("POST", "/pay", Some(&token)).await;
        assert_eq!((status, body.as_str()), (StatusCode::OK, "alice:true"));
        assert_eq!(auth_server.introspection_count(), 1);
        auth_server.revoke(&token);
        let (status, _, rejection, _) = send("POST", "/pay", Some(&token)).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
        assert_eq!(
            rejection,
            Some(Rejection::InvalidToken(crate::InvalidToken::Inactive))
        );
    }

    #[tokio::test]
    async fn the_adapter_checks_dpop_proofs_and_leaves_the_nonce_to_hand_out() {
        use tollgate_mock::dpop::DpopKey;

        let auth_server = MockAuthServer::start().await;
        let gate = Tollgate::builder()
            .issuer(auth_server.issuer())
            .audience(auth_server.audience())
            .public_url("https://api.example")
            .dpop(crate::Dpop::new().nonce_secret([3u8; 32]))
            .build()
            .unwrap();
        assert!(gate.wait_for_keys(Duration::from_secs(10)).await);
        let service = ServiceBuilder::new()
            .layer(AsyncRequireAuthorizationLayer::new(Authorize::new(
                gate.clone(),
                PolicyTable::uniform(Requirement::routine()),
            )))
            .service_fn(|request: Request<Full<Bytes>>| async move {
                let nonce = request.extensions().get::<DpopNonce>().is_some();
                let who = request
                    .extensions()
                    .get::<Principal>()
                    .map(|p| format!("{}:{nonce}", p.subject().unwrap_or("")));
                Ok::<_, Infallible>(Response::new(Full::new(Bytes::from(
                    who.unwrap_or_default(),
                ))))
            });
        let key = DpopKey::generate();
        let token = auth_server.token().subject("alice").dpop_bound(&key).sign();
        let url = "https://api.example/items";
        let call = |headers: http::HeaderMap| {
            let mut request = Request::get("/items").body(Full::default()).unwrap();
            *request.headers_mut() = headers;
            service.clone().oneshot(request)
        };
        // No nonce yet: use_dpop_nonce with a fresh one.
        let first = call(key.request_headers("GET", url, &token)).await.unwrap();
        assert_eq!(first.status(), StatusCode::UNAUTHORIZED);
        assert_eq!(
            first.extensions().get::<Rejection>(),
            Some(&Rejection::UseDpopNonce)
        );
        let nonce = first.headers()["dpop-nonce"].to_str().unwrap().to_owned();
        // With it: accepted; the current nonce needs no new one.
        let proof = key
            .proof("GET", url)
            .access_token(&token)
            .nonce(nonce)
            .sign();
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", format!("DPoP {token}").parse().unwrap());
        headers.insert("dpop", proof.parse().unwrap());
        let accepted = call(headers).await.unwrap();
        assert_eq!(accepted.status(), StatusCode::OK);
        let body = accepted.into_body().collect().await.unwrap().to_bytes();
        assert_eq!(&body[..], b"alice:false");
        // The bound token as a bearer token.
        let mut headers = http::HeaderMap::new();
        headers.insert("authorization", format!("Bearer {token}").parse().unwrap());
        let refused = call(headers).await.unwrap();
        assert_eq!(
            refused.extensions().get::<Rejection>(),
            Some(&Rejection::InvalidToken(
                crate::InvalidToken::DpopBoundAsBearer
            ))
        );
    }

    #[test]
    fn a_dpop_route_needs_an_engine_with_dpop() {
        let gate = Tollgate::builder()
            .issuer("https://as.example")
            .audience("api")
            .build()
            .unwrap();
        let policy = PolicyTable::uniform(Requirement::routine().dpop_required());
        let error = Authorize::<Full<Bytes>>::try_new(gate, policy)
            .map(|_| ())
            .unwrap_err();
        assert_eq!(error.kind(), crate::ConfigErrorKind::Requirement);
    }

    #[test]
    fn a_poll_after_completion_answers_500() {
        let mut future: AuthorizeFuture<(), Full<Bytes>> = AuthorizeFuture {
            state: State::Decided(Some(Ok(Request::new(())))),
        };
        let mut cx = Context::from_waker(std::task::Waker::noop());
        assert!(matches!(
            Pin::new(&mut future).poll(&mut cx),
            Poll::Ready(Ok(_))
        ));
        match Pin::new(&mut future).poll(&mut cx) {
            Poll::Ready(Err(response)) => {
                assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
            }
            _ => panic!("expected a 500"),
        }
    }
}
