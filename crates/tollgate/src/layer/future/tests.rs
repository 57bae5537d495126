//! The state machine of the response future, state by state, and the service's promise that
//! the instance `poll_ready` prepared is the one that serves the request.

use std::convert::Infallible;
use std::future::{Ready, ready};
use std::pin::pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::task::{Context, Poll, Waker};

use http_body_util::BodyExt as _;

use super::*;
use crate::principal::{Principal, StandardClaims, TokenFormat, TokenInfo};
use crate::rejection::{InvalidToken, Rejection, Schemes};
use crate::request::{Accepted, Refusal};

/// An inner service that counts its calls and answers whether the request carried a principal.
#[derive(Clone, Default)]
struct Inner {
    calls: Arc<AtomicUsize>,
}

impl Service<Request<()>> for Inner {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: Request<()>) -> Self::Future {
        self.calls.fetch_add(1, Ordering::SeqCst);
        let subject = request
            .extensions()
            .get::<Principal>()
            .and_then(|p| p.subject().map(str::to_owned));
        ready(Ok(Response::new(subject.unwrap_or_default())))
    }
}

type Future = ResponseFuture<Ready<Result<Response<String>, Infallible>>, Inner, ()>;

fn gate() -> Tollgate {
    Tollgate::builder()
        .issuer("https://as.test")
        .audience("api")
        .hmac_secret(vec![7u8; 32])
        .realm("test")
        .build()
        .unwrap()
}

fn principal(gate: &Tollgate) -> Principal {
    let standard = StandardClaims {
        subject: Some("alice".into()),
        ..StandardClaims::default()
    };
    let info = TokenInfo::new(
        TokenFormat::Jwt,
        standard,
        serde_json::Map::new(),
        None,
        &gate.inner.responder,
    );
    Principal::new(Arc::new(info), false)
}

/// Polls once.
fn poll(future: Pin<&mut Future>) -> Poll<Response<ResponseBody<String>>> {
    let mut cx = Context::from_waker(Waker::noop());
    future.poll(&mut cx).map(|result| match result {
        Ok(response) => response,
    })
}

/// The status and body of a finished poll.
async fn answer(poll: Poll<Response<ResponseBody<String>>>) -> (StatusCode, String) {
    let Poll::Ready(response) = poll else {
        panic!("expected an answer, the future is pending");
    };
    let status = response.status();
    let body = response.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8(body.to_vec()).unwrap())
}

fn inner_future(body: &str) -> Ready<Result<Response<String>, Infallible>> {
    ready(Ok(Response::new(body.to_owned())))
}

#[tokio::test]
async fn a_rejection_is_answered_at_the_first_poll_then_500() {
    let gate = gate();
    let rejection = Rejection::InvalidToken(InvalidToken::Expired);
    let mut future = pin!(Future::rejected(gate.render(&rejection)));
    let (status, body) = answer(poll(future.as_mut())).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    assert!(body.contains("the token has expired"), "{body}");
    // Polled again after completion: an answer, not a panic.
    let (status, body) = answer(poll(future.as_mut())).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::INTERNAL_SERVER_ERROR, "")
    );
}

#[tokio::test]
async fn calling_answers_with_the_inner_response_then_500() {
    let mut future = pin!(Future::calling(
        inner_future("from the inner service"),
        None
    ));
    let (status, body) = answer(poll(future.as_mut())).await;
    assert_eq!(
        (status, body.as_str()),
        (StatusCode::OK, "from the inner service")
    );
    // A nonce to hand out goes on the inner service's answer.
    let nonce = HeaderValue::from_static("a-nonce");
    let mut future = pin!(Future::calling(inner_future("x"), Some(nonce)));
    let Poll::Ready(response) = poll(future.as_mut()) else {
        panic!("the inner future was ready");
    };
    assert_eq!(response.headers()["dpop-nonce"], "a-nonce");
    // The inner future is not polled again after it completed.
    let (status, _) = answer(poll(future.as_mut())).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

#[tokio::test]
async fn checking_waits_then_an_accepted_request_reaches_the_service_with_its_principal() {
    let gate = gate();
    let service = Inner::default();
    let calls = Arc::clone(&service.calls);
    let (send, receive) = tokio::sync::oneshot::channel::<Principal>();
    let check: Check = Box::pin(async move {
        Ok(Accepted {
            principal: receive.await.unwrap(),
            nonce: None,
            proof: None,
        })
    });
    let mut future = pin!(Future::checking(
        check,
        service,
        Request::new(()),
        gate.clone()
    ));
    assert!(
        poll(future.as_mut()).is_pending(),
        "the check has not answered"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    send.send(principal(&gate)).unwrap();
    let (status, body) = answer(poll(future.as_mut())).await;
    assert_eq!((status, body.as_str()), (StatusCode::OK, "alice"));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let (status, _) = answer(poll(future.as_mut())).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    assert_eq!(calls.load(Ordering::SeqCst), 1, "never called twice");
}

#[tokio::test]
async fn checking_that_refuses_answers_with_the_engines_response_and_never_calls() {
    let gate = gate();
    let service = Inner::default();
    let calls = Arc::clone(&service.calls);
    let check: Check = Box::pin(async {
        Err(Refusal {
            rejection: Rejection::MissingToken,
            schemes: Schemes::BEARER,
        })
    });
    let mut future = pin!(Future::checking(check, service, Request::new(()), gate));
    let Poll::Ready(response) = poll(future.as_mut()) else {
        panic!("the check was ready");
    };
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    // The engine's realm: the response is the engine's rendering.
    assert_eq!(
        response.headers()["www-authenticate"],
        r#"Bearer realm="test""#
    );
    assert_eq!(
        response.extensions().get::<Rejection>(),
        Some(&Rejection::MissingToken)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    let (status, _) = answer(poll(future.as_mut())).await;
    assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
}

/// An inner service whose clones are told apart: `poll_ready` readies one instance, and only a
/// ready instance may be called.
#[derive(Default)]
struct Picky {
    ready: bool,
    called_unready: Arc<AtomicUsize>,
}

impl Clone for Picky {
    fn clone(&self) -> Self {
        // A clone is a new instance, not ready yet (as a buffer's or a pool's would be).
        Self {
            ready: false,
            called_unready: Arc::clone(&self.called_unready),
        }
    }
}

impl Service<Request<String>> for Picky {
    type Response = Response<String>;
    type Error = Infallible;
    type Future = Ready<Result<Response<String>, Infallible>>;

    fn poll_ready(&mut self, _: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.ready = true;
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<String>) -> Self::Future {
        if !std::mem::replace(&mut self.ready, false) {
            self.called_unready.fetch_add(1, Ordering::SeqCst);
        }
        ready(Ok(Response::new(String::new())))
    }
}

#[tokio::test]
async fn the_instance_poll_ready_prepared_serves_a_request_that_waited() {
    use tollgate_mock::MockAuthServer;
    use tower::ServiceExt as _;

    let auth_server = MockAuthServer::start().await;
    let gate = Tollgate::builder()
        .issuer(auth_server.issuer())
        .audience(auth_server.audience())
        .introspection(crate::Introspection::client_secret_basic(
            auth_server.client_id(),
            auth_server.client_secret(),
        ))
        .build()
        .unwrap();
    assert!(gate.wait_for_keys(std::time::Duration::from_secs(10)).await);
    let picky = Picky::default();
    let called_unready = Arc::clone(&picky.called_unready);
    // Sensitive: every request waits for introspection, so the future holds the service.
    let mut service = tower_layer::Layer::layer(&gate.sensitive(), picky);
    let token = auth_server.token().sign();
    for _ in 0..3 {
        let request = Request::get("/")
            .header("authorization", format!("Bearer {token}"))
            .body(String::new())
            .unwrap();
        let response = service.ready().await.unwrap().call(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::OK);
    }
    assert_eq!(called_unready.load(Ordering::SeqCst), 0);
    assert_eq!(
        auth_server.introspection_count(),
        3,
        "each request waited for an answer"
    );
}
