//! The reference for the miss path under load: the smallest honest JWT middleware on
//! `jsonwebtoken` (the library every peer builds on), with no cache, no introspection and none
//! of tollgate's extra checks.
//!
//! Per request: take the bearer token, read its header for the `kid`, find that key among the
//! published ones, `jsonwebtoken::decode` it with a `Validation` as close to tollgate's as
//! jsonwebtoken allows (the algorithm, `iss`, `aud`, `exp`, `nbf`, 60 s leeway, `exp`/`iss`/
//! `aud`/`sub` required), and put the claims into the request extensions. A refusal is a bare
//! 401. Written as a tower service with an `Either` future, as a hand-made middleware would be:
//! nothing boxed.

use std::collections::HashMap;
use std::convert::Infallible;
use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::Body;
use axum::http::{Request, Response, StatusCode, header::AUTHORIZATION};
use jsonwebtoken::jwk::JwkSet;
use jsonwebtoken::{DecodingKey, Validation};
use serde_json::Value;
use tollgate_mock::MockAuthServer;
use pin_project_lite::pin_project;
use tower::{Layer, Service};

/// Keys by `kid` and the validation rules, shared by every request.
struct Keys {
    by_kid: HashMap<String, (DecodingKey, Validation)>,
}

/// The layer: the mock's published keys, loaded once.
#[derive(Clone)]
pub struct BareLayer {
    keys: Arc<Keys>,
}

impl BareLayer {
    /// Loads the keys the mock publishes (its JWKS, as a middleware would fetch it at start).
    pub async fn discover(mock: &MockAuthServer) -> Self {
        let jwks: JwkSet = serde_json::from_value(mock.jwks()).expect("the mock's JWKS parses");
        let by_kid = jwks
            .keys
            .iter()
            .filter_map(|jwk| {
                let kid = jwk.common.key_id.clone()?;
                let alg = algorithm(jwk.common.key_algorithm?)?;
                let key = DecodingKey::from_jwk(jwk).ok()?;
                let mut validation = Validation::new(alg);
                validation.leeway = 60;
                validation.validate_nbf = true;
                validation.set_issuer(&[mock.issuer()]);
                validation.set_audience(&[mock.audience()]);
                validation.set_required_spec_claims(&["exp", "iss", "aud", "sub"]);
                Some((kid, (key, validation)))
            })
            .collect();
        Self {
            keys: Arc::new(Keys { by_kid }),
        }
    }
}

/// The algorithm a JWK names, for the `Validation` of its key.
fn algorithm(alg: jsonwebtoken::jwk::KeyAlgorithm) -> Option<jsonwebtoken::Algorithm> {
    use jsonwebtoken::Algorithm as A;
    use jsonwebtoken::jwk::KeyAlgorithm as K;
    Some(match alg {
        K::RS256 => A::RS256,
        K::ES256 => A::ES256,
        K::EdDSA => A::EdDSA,
        _ => return None,
    })
}

impl<S> Layer<S> for BareLayer {
    type Service = Bare<S>;

    fn layer(&self, inner: S) -> Bare<S> {
        Bare {
            inner,
            keys: Arc::clone(&self.keys),
        }
    }
}

/// The service of [`BareLayer`].
#[derive(Clone)]
pub struct Bare<S> {
    inner: S,
    keys: Arc<Keys>,
}

impl<S> Bare<S> {
    fn claims(&self, request: &Request<Body>) -> Option<Value> {
        let token = request
            .headers()
            .get(AUTHORIZATION)?
            .to_str()
            .ok()?
            .strip_prefix("Bearer ")?;
        let header = jsonwebtoken::decode_header(token).ok()?;
        let (key, validation) = self.keys.by_kid.get(header.kid.as_deref()?)?;
        jsonwebtoken::decode::<Value>(token, key, validation)
            .ok()
            .map(|data| data.claims)
    }
}

impl<S> Service<Request<Body>> for Bare<S>
where
    S: Service<Request<Body>, Response = Response<Body>, Error = Infallible>,
{
    type Response = Response<Body>;
    type Error = Infallible;
    type Future = BareFuture<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut request: Request<Body>) -> Self::Future {
        match self.claims(&request) {
            Some(claims) => {
                request.extensions_mut().insert(Arc::new(claims));
                BareFuture::Inner {
                    future: self.inner.call(request),
                }
            }
            None => {
                let mut response = Response::new(Body::empty());
                *response.status_mut() = StatusCode::UNAUTHORIZED;
                BareFuture::Refused {
                    response: Some(response),
                }
            }
        }
    }
}

pin_project! {
    /// The inner service's future, or a refusal.
    #[project = BareProj]
    pub enum BareFuture<F> {
        Inner { #[pin] future: F },
        Refused { response: Option<Response<Body>> },
    }
}

impl<F> Future for BareFuture<F>
where
    F: Future<Output = Result<Response<Body>, Infallible>>,
{
    type Output = Result<Response<Body>, Infallible>;

    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        match self.project() {
            BareProj::Inner { future } => future.poll(cx),
            BareProj::Refused { response } => {
                Poll::Ready(Ok(response.take().unwrap_or_default()))
            }
        }
    }
}
